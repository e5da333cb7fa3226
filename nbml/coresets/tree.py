"""Merge-and-reduce coreset tree: builds a coreset of data that never has to fit in memory.

Data arrives in chunks (rows of a DataFrame, or a CSV/Parquet file read ``chunksize`` rows at a
time). Each chunk is reduced to at most ``node_size`` weighted rows: a leaf. Nodes are kept in
buckets by height, like a binary counter: when two nodes of the same height exist they are
merged (their weighted rows concatenated) and reduced again to ``node_size`` rows, one height
up. After ``N`` chunks at most ``log2(N) + 1`` nodes are held, so memory is bounded by
``O(chunksize + levels * node_size)`` rows whatever the size of the file.

``levels`` lists the tree from the root down: ``levels[0]`` is the root (all buckets merged and
reduced to ``node_size``), then every bucket from the highest (most rows represented) to the
lowest. ``add`` feeds more data into the same buckets without rebuilding; ``save``/``load``
store the buckets in one ``.npz`` file (numeric arrays plus a JSON header, no pickle).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nbml.coresets.base import (
    Coreset,
    check_method,
    check_task,
    infer_task,
    missing_column_error,
    numeric_matrix,
    reduce,
    resolve_method,
)
from nbml.coresets.io import iter_chunks, read_columns
from nbml.errors import NbmlError

_FORMAT = "nbml.CoresetTree"
_VERSION = 1


@dataclass
class _Node:
    X: np.ndarray
    y: np.ndarray | None
    w: np.ndarray
    idx: np.ndarray

    def __len__(self):
        return len(self.w)

    def take(self, pos, w):
        return _Node(self.X[pos], None if self.y is None else self.y[pos], w, self.idx[pos])

    @staticmethod
    def merge(nodes):
        ys = [n.y for n in nodes]
        return _Node(np.concatenate([n.X for n in nodes]),
                     None if ys[0] is None else np.concatenate(ys),
                     np.concatenate([n.w for n in nodes]),
                     np.concatenate([n.idx for n in nodes]))


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise NbmlError(f"{name} must be a positive integer, got {value!r}")


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise NbmlError(f"seed must be a non-negative integer, got {seed!r}")


def resolve_size(size, n):
    """Rows wanted from ``size`` (an int row count or a fraction in (0, 1)) out of ``n``."""
    if size is None:
        raise NbmlError("size is required: a number of rows (int) or a fraction in (0, 1)")
    if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)):
        raise TypeError(f"size must be an int row count or a float fraction in (0, 1), "
                         f"got {size!r}")
    if size <= 0:
        raise NbmlError(f"size={size!r} must be positive: a number of rows >= 1 or a "
                         f"fraction in (0, 1)")
    if isinstance(size, (float, np.floating)):
        if size < 1:
            return max(1, round(float(size) * n))
        if not float(size).is_integer():
            raise NbmlError(f"size={size!r}: use an int row count or a fraction in (0, 1)")
        size = int(size)
    size = int(size)
    if size > n:
        raise NbmlError(f"size={size} is larger than the data ({n:,} rows); use at most "
                         f"{n:,} rows or a fraction in (0, 1)")
    return size


def check_classes(counts, size, target):
    """Every class must have 2+ rows, and ``size`` must leave room for one row per class."""
    single = [label for label, count in counts.items() if count == 1]
    if single:
        shown = ", ".join(repr(s) for s in single[:5])
        raise NbmlError(
            f"target {target!r} has class(es) with a single row: {shown}. A coreset keeps "
            f"every class, but one row cannot be weighted as a sample of its class, nor split "
            f"between training and validation folds in a (stratified) search; drop or merge "
            f"that class, or collect more rows of it")
    if size is not None and size < len(counts):
        raise NbmlError(f"size={size} is smaller than the number of classes ({len(counts)}); "
                         f"a coreset keeps every class, so size must be at least {len(counts)}")


class CoresetTree:
    """Merge-and-reduce coreset tree over a DataFrame or a CSV/Parquet file read in chunks.

    Parameters
    ----------
    target : str or None
        Name of the target column (None for unsupervised data).
    node_size : int
        Rows kept in every node; ``coreset(size)`` can return at most as many rows as all
        buckets together hold (at least ``node_size`` once data was reduced).
    method : {"auto", "sensitivity", "lightweight", "uniform"}
        Reduction used at every node (see ``nbml.coreset``).
    seed : int
        Seeds every reduction; the same data, chunking and seed give the same tree.
    chunksize : int
        Rows read (or sliced) at a time.
    task : {"classification", "regression", "clustering"} or None
        Inferred from the first chunk's target when None.
    model : estimator or None
        Only used by ``method="auto"`` to pick sensitivity sampling for linear regressors.
    preprocess : callable or None
        Applied to every chunk's feature DataFrame; must return numeric features and be the
        same function for every chunk (fit any encoder beforehand).
    """

    def __init__(self, target=None, node_size=10_000, method="auto", seed=0,
                 chunksize=100_000, task=None, model=None, preprocess=None):
        self.target = target
        self.node_size = node_size
        self.method = method
        self.seed = seed
        self.chunksize = chunksize
        self.task = task
        self.model = model
        self.preprocess = preprocess
        self._buckets = {}
        self.n_represented_ = 0
        self.n_chunks_ = 0
        self.feature_names_ = None
        self.n_features_ = None
        self.task_ = None
        self.method_ = None
        self.class_counts_ = {}
        self._reductions = 0
        self._root = None
        self._validate_params()

    def _validate_params(self):
        _check_positive_int("node_size", self.node_size)
        _check_positive_int("chunksize", self.chunksize)
        _check_seed(self.seed)
        check_method(self.method)
        check_task(self.task)
        if self.target is not None and not isinstance(self.target, str):
            raise NbmlError(f"target must be a column name (str) or None, got {self.target!r}")

    # ---------------------------------------------------------------- building
    @classmethod
    def from_file(cls, path, target=None, **params):
        """Build a tree from a CSV or Parquet file, read ``chunksize`` rows at a time."""
        return cls(target=target, **params).add(path)

    @classmethod
    def from_frame(cls, frame, target=None, **params):
        """Build a tree from an in-memory DataFrame, ``chunksize`` rows at a time."""
        return cls(target=target, **params).add(frame)

    def add(self, data, y=None):
        """Feed more rows (a DataFrame, a CSV/Parquet path, or X with ``y``); returns self.

        New rows are numbered after the ones already added (``Coreset.indices`` count rows
        across all ``add`` calls in order).
        """
        if isinstance(data, (str, os.PathLike)):
            if y is not None:
                raise NbmlError("y must be None when adding a file; the target is a column")
            columns = read_columns(data)
            if self.target is not None and self.target not in columns:
                raise missing_column_error(self.target, columns, f"file {str(data)!r}")
            for chunk in iter_chunks(data, self.chunksize):
                self._add_frame(chunk)
            return self
        if isinstance(data, pd.DataFrame) and y is None:
            if self.target is not None and self.target not in data.columns:
                raise missing_column_error(self.target, data.columns, "the DataFrame")
            for start in range(0, len(data), self.chunksize):
                self._add_frame(data.iloc[start:start + self.chunksize])
            return self
        if y is None and self.target is not None:
            raise NbmlError(f"data must be a DataFrame holding column {self.target!r} or a "
                             f"file path; got {type(data).__name__} without y")
        X = data if isinstance(data, pd.DataFrame) else np.asarray(data)
        if y is not None and len(y) != len(X):
            raise NbmlError(f"y has {len(y)} rows but data has {len(X)}")
        for start in range(0, len(X), self.chunksize):
            stop = start + self.chunksize
            part = X.iloc[start:stop] if isinstance(X, pd.DataFrame) else X[start:stop]
            self._add_part(part, None if y is None else np.asarray(y)[start:stop])
        return self

    def _add_frame(self, chunk):
        if self.target is None:
            self._add_part(chunk, None)
        else:
            self._add_part(chunk.drop(columns=[self.target]), chunk[self.target].to_numpy())

    def _add_part(self, X, y):
        if len(X) == 0:
            return
        matrix, names = numeric_matrix(X, self.preprocess)
        if self.n_features_ is None:
            self.n_features_ = matrix.shape[1]
            self.feature_names_ = names
            self.task_ = self.task or infer_task(y)
            if self.task_ != "clustering" and y is None:
                raise NbmlError(f"task={self.task_!r} needs a target")
            self.method_ = resolve_method(self.method, self.task_, self.model)
        elif matrix.shape[1] != self.n_features_ or (names and self.feature_names_
                                                     and names != self.feature_names_):
            raise NbmlError(f"new data has columns {names or matrix.shape[1]} but the tree "
                             f"was built on {self.feature_names_ or self.n_features_}")
        if y is not None:
            if pd.isna(y).any():
                raise NbmlError(f"target {self.target!r} has missing values; drop those rows")
            if self.task_ == "regression":
                y = y.astype(float)
            if self.task_ == "classification":
                labels, counts = np.unique(y, return_counts=True)
                for label, count in zip(labels.tolist(), counts.tolist()):
                    self.class_counts_[label] = self.class_counts_.get(label, 0) + count
        idx = np.arange(self.n_represented_, self.n_represented_ + len(matrix), dtype=np.int64)
        self.n_represented_ += len(matrix)
        self.n_chunks_ += 1
        node = self._reduce(_Node(matrix, y, np.ones(len(matrix)), idx), self.node_size)
        height = 0
        while height in self._buckets:
            node = self._reduce(_Node.merge([self._buckets.pop(height), node]), self.node_size)
            height += 1
        self._buckets[height] = node
        self._root = None

    def _reduce(self, node, m, seed=None):
        if len(node) <= m:
            return node
        if seed is None:
            rng = np.random.default_rng([int(self.seed), self._reductions])
            self._reductions += 1
        else:
            rng = np.random.default_rng([int(seed), 2**31 - 1])
        pos, w = reduce(node.X, node.y, node.w, m, self.method_, self.task_, rng)
        return node.take(pos, w)

    # ---------------------------------------------------------------- reading
    def _require_data(self):
        if not self._buckets:
            raise NbmlError("the tree is empty; add data first (CoresetTree.add)")

    def _union(self):
        return _Node.merge([self._buckets[h] for h in sorted(self._buckets, reverse=True)])

    def _as_coreset(self, node, seed=None):
        X = node.X
        if self.feature_names_:  # row labels are row numbers in the data added (as for a frame read whole)
            X = pd.DataFrame(X, columns=self.feature_names_, index=pd.Index(node.idx.copy()))
        y = node.y
        if y is not None and self.target is not None:
            y = pd.Series(y, name=self.target, index=None if X is node.X else X.index)
        return Coreset(X, y, node.w.copy(), node.idx.copy(), self.n_represented_, self.method_,
                       target=self.target, task=self.task_,
                       seed=self.seed if seed is None else seed)

    @property
    def root(self):
        """The root: every bucket merged and reduced to ``node_size`` rows, as a Coreset."""
        self._require_data()
        if self._root is None:
            union = self._union()
            self._root = union if len(self._buckets) == 1 else self._reduce(
                union, self.node_size, seed=self.seed)
        return self._as_coreset(self._root)

    @property
    def levels(self):
        """Coresets from the root (smallest, level 0) down to the lowest bucket."""
        self._require_data()
        return [self.root] + [self._as_coreset(self._buckets[h])
                              for h in sorted(self._buckets, reverse=True)]

    @property
    def n_rows_held_(self):
        """Weighted rows currently held in the buckets (what memory scales with)."""
        return sum(len(n) for n in self._buckets.values())

    def coreset(self, size=None, seed=None):
        """A ``Coreset`` of ``size`` rows (int, or a fraction in (0, 1) of the rows added)."""
        self._require_data()
        n = self.n_represented_
        size = self.node_size if size is None else size
        m = resolve_size(size, n)
        if self.task_ == "classification":
            check_classes(self.class_counts_, m, self.target)
        union = self._union()
        if m >= len(union):
            if len(union) == n and m == n:  # nothing was ever reduced: the data itself
                return self._as_coreset(union, seed)
            raise NbmlError(
                f"size={size} needs {m:,} rows but the tree holds only {len(union):,} "
                f"(node_size={self.node_size}); rebuild it with node_size >= {m}")
        seed = self.seed if seed is None else seed
        _check_seed(seed)
        return self._as_coreset(self._reduce(union, m, seed=seed), seed)

    def __repr__(self):
        return (f"CoresetTree(target={self.target!r}, method={self.method_ or self.method!r}, "
                f"rows_added={self.n_represented_:,}, chunks={self.n_chunks_}, "
                f"levels={len(self._buckets) + 1 if self._buckets else 0}, "
                f"node_size={self.node_size})")

    # ---------------------------------------------------------------- storage
    def save(self, path):
        """Write the tree to ``path`` (.npz: arrays plus a JSON header; no pickle)."""
        self._require_data()
        path = Path(path)
        heights = sorted(self._buckets)
        arrays = {}
        y_kind = None
        for h in heights:
            node = self._buckets[h]
            arrays[f"h{h}_X"] = node.X
            arrays[f"h{h}_w"] = node.w
            arrays[f"h{h}_idx"] = node.idx
            if node.y is not None:
                if node.y.dtype == object or node.y.dtype.kind in "US":
                    arrays[f"h{h}_y"] = node.y.astype(str)
                    y_kind = "str"
                else:
                    arrays[f"h{h}_y"] = node.y
                    y_kind = y_kind or "numeric"
        meta = {
            "format": _FORMAT, "version": _VERSION,
            "params": {"target": self.target, "node_size": int(self.node_size),
                       "method": self.method, "seed": int(self.seed),
                       "chunksize": int(self.chunksize), "task": self.task},
            "state": {"n_represented": int(self.n_represented_), "n_chunks": self.n_chunks_,
                      "feature_names": self.feature_names_, "n_features": self.n_features_,
                      "task": self.task_, "method": self.method_,
                      "reductions": self._reductions, "heights": heights, "y_kind": y_kind,
                      "class_counts": [[_jsonable(k), int(v)]
                                       for k, v in self.class_counts_.items()]},
        }
        arrays["__meta__"] = np.array(json.dumps(meta))
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path, preprocess=None, model=None):
        """Read a tree written by ``save``; pass ``preprocess`` again if ``add`` needs it."""
        with np.load(path, allow_pickle=False) as archive:
            if "__meta__" not in archive.files:
                raise NbmlError(f"{str(path)!r} is not a saved CoresetTree")
            meta = json.loads(str(archive["__meta__"]))
            if meta.get("format") != _FORMAT:
                raise NbmlError(f"{str(path)!r} is not a saved CoresetTree")
            tree = cls(**meta["params"], model=model, preprocess=preprocess)
            state = meta["state"]
            for h in state["heights"]:
                y = archive[f"h{h}_y"] if f"h{h}_y" in archive.files else None
                if y is not None and state["y_kind"] == "str":
                    y = y.astype(object)
                tree._buckets[h] = _Node(archive[f"h{h}_X"], y, archive[f"h{h}_w"],
                                         archive[f"h{h}_idx"])
        tree.n_represented_ = state["n_represented"]
        tree.n_chunks_ = state["n_chunks"]
        tree.feature_names_ = state["feature_names"]
        tree.n_features_ = state["n_features"]
        tree.task_ = state["task"]
        tree.method_ = state["method"]
        tree._reductions = state["reductions"]
        tree.class_counts_ = {k: v for k, v in state["class_counts"]}
        return tree


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


__all__ = ["CoresetTree", "resolve_size"]
