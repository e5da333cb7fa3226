"""Coresets never hold a split's held-out rows.

A model fit on a coreset is scored on the active split's validation (and later test) rows, so a
coreset that holds some of those rows would be scored on rows it was fit on. Two guards:

- ``training_rows``: ``nbml.coreset`` of the split's own frame samples only its training rows
  (train + validation for routes that cross-validate) and records where it came from;
- ``held_out_rows`` / ``check_held_out``: any coreset (built from a frame, arrays or a file) is
  checked against a split before training or tuning; a row counts as held out when its label
  is a validation/test label with the same values, or when its values are those of a
  validation/test row and of no training row (arrays and files have no row labels of their own).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

try:  # the error family is nbml.errors.NbmlError (a ValueError) where it exists
    from nbml.errors import NbmlError as _BadInput
except ImportError:  # pragma: no cover - older trees without nbml/errors.py
    _BadInput = ValueError

ROWS = ("train", "train+val", "all")


class HeldOutRowsError(_BadInput):
    """A coreset holds validation or test rows of the split it would be trained and scored on."""


def check_rows(rows):
    if rows not in ROWS:
        raise _BadInput(f"rows={rows!r} is not a choice: use 'train' (the split's training rows), "
                        f"'train+val' (for cross-validation) or 'all' (every row given)")


def training_rows(data, target, rows, split):
    """Restrict ``data`` to the split's training rows when it is that split's frame.

    Returns ``(data, positions, source)``: the rows to sample from, their positions in ``data``
    and a dict describing the choice (None when ``data`` is not the split's frame).
    """
    if split is None or not _is_split_frame(data, target, split):
        return data, None, None
    if not data.index.is_unique:
        raise _BadInput("the frame's row labels are not unique, so its training rows cannot be told from its "
                        "validation and test rows: build the coreset from split.X_train, split.y_train (or "
                        "reset the frame's index before %split)")
    in_val = data.index.isin(split.X_val.index)
    in_test = data.index.isin(split.X_test.index)
    keep = {"train": data.index.isin(split.X_train.index),
            "train+val": data.index.isin(split.X_train.index) | in_val,
            "all": np.ones(len(data), dtype=bool)}[rows]
    positions = np.flatnonzero(keep)
    if len(positions) == 0:
        raise _BadInput(f"none of the frame's rows are {'training' if rows == 'train' else 'training or validation'} "
                        f"rows of the split, so there is nothing to draw a coreset from: pass rows='all' to use "
                        f"them anyway, or split this frame first")
    left_out = {"validation": int((in_val & ~keep).sum()), "test": int((in_test & ~keep).sum()),
                "outside the split": int((~keep & ~in_val & ~in_test).sum())}
    from nbml.data import active_split

    source = {"drawn_from": rows, "split_fingerprint": split.fingerprint, "n_rows": len(positions),
              "left_out": {k: v for k, v in left_out.items() if v},
              "included": {"validation": int((in_val & keep).sum()), "test": int((in_test & keep).sum())},
              "split_label": "the active split" if split is active_split() else "the split"}
    return data.iloc[positions], positions, source


def _is_split_frame(data, target, split):
    """Same target and feature columns as the split, and row labels among its rows."""
    if not isinstance(data, pd.DataFrame) or (target is not None and not isinstance(target, str)):
        return False
    if (None if target is None else str(target)) != (None if split.target is None else str(split.target)):
        return False
    features = {str(c) for c in data.columns if c != target} - {str(c) for c in split.dropped_columns}
    if features != set(split.feature_names):
        return False
    labels = split.X_train.index.append([split.X_val.index, split.X_test.index])
    return bool(data.index.isin(labels).any())


def describe_source(source):
    """One sentence: which rows of which split a coreset was drawn from, and what was left out."""
    n, who = source["n_rows"], source["split_label"]
    if source["drawn_from"] == "all":
        held = source["included"]
        return (f"drawn from all {n:,} rows given, {who}'s {held['validation']:,} validation and "
                f"{held['test']:,} test rows included: training on it against that split is refused")
    rows = "training rows" if source["drawn_from"] == "train" else "training and validation rows"
    text = f"drawn from the {n:,} {rows} of {who}"
    left = [f"{count:,} {part}" for part, count in source["left_out"].items() if part != "outside the split"]
    if left:
        text += f"; its {' and '.join(left)} rows left out"
    outside = source["left_out"].get("outside the split", 0)
    if outside:
        text += f"; {outside:,} rows not in the split left out"
    return text


# ---------------------------------------------------------------------------- checking
def held_out_rows(coreset, split, cv=False) -> pd.Index:
    """Row labels of the coreset's rows that are validation or test rows of ``split``.

    With ``cv=True`` only test rows count (cross-validation uses train + validation). Labels
    are the coreset's own (positions in the data it was built from, for coresets of arrays).
    An empty Index when the coreset's columns are not the split's (it cannot hold its rows).
    """
    val, test = _held_out(coreset, split)
    return test if cv else val.append(test)


def check_held_out(coreset, split=None, cv=False):
    """Raise ``HeldOutRowsError`` (a ValueError) in one line if the coreset holds rows that a
    model trained on it would be scored on: validation and test rows of ``split`` (the active
    split by default), or with ``cv=True`` (folds cut from train + validation) test rows only."""
    from nbml.data import active_split

    if split is None:
        split = active_split()
        if split is None:
            return
    val, test = _held_out(coreset, split)
    n_val = 0 if cv else len(val)
    if not (n_val or len(test)):
        return
    who = "the active split" if split is active_split() else "the split"
    if cv:
        raise HeldOutRowsError(
            f"the coreset holds {len(test):,} test rows of {who}, which cross-validation must not see: build it "
            f"from the training and validation rows (%coreset DF --target COL --rows train+val with the "
            f"split's frame does this) or from split.X_trainval, split.y_trainval")
    raise HeldOutRowsError(
        f"the coreset holds {n_val:,} validation and {len(test):,} test rows of {who}, so it would be scored "
        f"on rows it was fit on: build it from the training rows (%coreset DF --target COL with the split's "
        f"frame does this) or from split.X_train, split.y_train")


def _held_out(coreset, split):
    """(coreset labels of validation rows, of test rows) of ``split``."""
    empty = pd.Index([])
    columns = split.feature_names
    X = _aligned(coreset.X, columns)
    if X is None or len(X) == 0:
        return empty, empty
    labels = X.index if isinstance(coreset.X, pd.DataFrame) else pd.Index(np.asarray(coreset.indices))
    with_target = coreset.y is not None and split.y_train is not None  # compare targets where both have one
    keys = _row_keys(X, np.asarray(coreset.y) if with_target else None)
    train_keys = _row_keys(split.X_train[columns], split.y_train if with_target else None)
    found = []
    for X_part, y_part in ((split.X_val, split.y_val), (split.X_test, split.y_test)):
        part_keys = _row_keys(X_part[columns], y_part if with_target else None)
        # the same label with the same values; or, wherever labels say nothing, the same values
        # as a held-out row and as no training row (a training row may have a held-out twin)
        by_label = pd.MultiIndex.from_arrays([X.index, keys]).isin(
            pd.MultiIndex.from_arrays([X_part.index, part_keys])) if isinstance(coreset.X, pd.DataFrame) \
            else np.zeros(len(keys), dtype=bool)
        by_value = np.isin(keys, part_keys) & ~np.isin(keys, train_keys)
        found.append(labels[by_label | by_value])
    return found[0], found[1]


def _aligned(X, columns):
    """The coreset's features under the split's column names (None when they differ)."""
    if isinstance(X, pd.DataFrame):
        by_name = {str(c): c for c in X.columns}
        if len(by_name) != len(columns) or any(c not in by_name for c in columns):
            return None
        return X[[by_name[c] for c in columns]].set_axis(columns, axis=1)
    values = np.asarray(X)
    if values.ndim != 2 or values.shape[1] != len(columns):
        return None
    return pd.DataFrame(values, columns=columns)


def _row_keys(X, y):
    """One hash per row of features (and target): numbers compared as float64, others as text."""
    columns = {f"x{i}": _comparable(X.iloc[:, i].to_numpy()) for i in range(X.shape[1])}
    if y is not None:
        columns["target"] = _comparable(y)
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(X)))
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _comparable(values):
    values = np.asarray(values)
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    try:  # numbers held as objects (nullable integers, mixed columns) compare as numbers too
        return pd.to_numeric(pd.Series(values, dtype=object)).to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        return values.astype(str).astype(object)
