"""``nbml.coreset``: one call from data (or a file) to a weighted ``Coreset``."""
from __future__ import annotations

import numpy as np
import pandas as pd

from nbml.coresets.base import (
    Coreset,
    check_method,
    check_task,
    infer_task,
    missing_column_error,
    reduce,
    resolve_method,
)
from nbml.coresets.heldout import check_rows, describe_source, training_rows
from nbml.coresets.measure import check_preprocess, measured, options_for
from nbml.coresets.io import count_rows, read_columns
from nbml.coresets.tree import (
    CoresetTree,
    _check_positive_int,
    _check_seed,
    check_classes,
    resolve_size,
)
from nbml.errors import NbmlError


def coreset(data=None, target=None, size=None, method="auto", seed=0, file=None,
            chunksize=100_000, *, task=None, model=None, preprocess="auto", node_size=None,
            rows="train", split=None, **options):
    """Build a small weighted subset that trains like the whole data.

    Parameters
    ----------
    data : DataFrame or array-like, optional
        A DataFrame holding the target column (``target`` is its name), or the features ``X``
        with ``target`` given as an array. Omit it and pass ``file`` for data on disk.
    target : str, array-like or None
        Target column name, or the target values; None for unsupervised data.
    size : int or float
        Rows in the coreset (int) or a fraction in (0, 1) of the rows it is drawn from.
    method : {"auto", "sensitivity", "lightweight", "uniform"}
        ``sensitivity``: for classification, rows drawn by a pilot logistic regression's
        residuals (A-optimal subsampling, mixed with per-class square-root leverage plus a
        uniform term, Munteanu et al. 2018) and weights calibrated so the coreset's class counts
        and log-loss gradient at the pilot match the data's; for regression, squared-loss
        leverage plus a uniform term; for logistic regression and linear models. ``lightweight``:
        half uniform, half by squared distance to the mean (Bachem, Lucic, Krause 2018), for
        k-means and as the general fallback. ``uniform``: a simple random sample, weights n/m.
        ``auto``: sensitivity for classification (and for regression when ``model`` is a
        linear model), lightweight otherwise. Every method except ``uniform`` keeps every
        class, with at least one row (two when size allows) per class.
    seed : int
        The same seed gives the same coreset.
    file : str or path, optional
        A CSV or Parquet file, read ``chunksize`` rows at a time into a merge-and-reduce
        ``CoresetTree`` (memory stays bounded whatever the file size).
    chunksize : int
        Rows read at a time from ``file``.
    task : {"classification", "regression", "clustering"} or None
        Inferred from the target when None.
    model : estimator, optional
        Lets ``method="auto"`` pick sensitivity sampling for linear regressors.
    preprocess : {"auto", "none"} or callable
        What rows are measured by. ``"auto"`` (the default; None means the same): the features
        nbml's preprocessing makes — the split's choices (``%split … --scale robust``) when the
        data has the split's features, with ``options`` over them — so text, category and date
        columns and missing values are fine, as in ``%%train``; the coreset holds the raw rows.
        ``"none"``: the columns as they are (they must be finite numbers). A callable turns the
        feature DataFrame into numbers (the coreset holds its output). For ``file``, only a
        callable changes anything: a file's columns must otherwise be numbers.
    **options
        Preprocessing choices for ``"auto"``, as ``nbml.train`` takes them: impute, scale,
        encode, outliers, interactions, poly, select (``balance`` is about fitting, not
        measuring, and is refused).
    node_size : int, optional
        Rows per tree node when reading ``file`` (default ``max(4 * size, 20_000)``).
    rows : {"train", "train+val", "all"}
        When ``data`` is the split's frame (a DataFrame with the split's target and feature
        columns whose row labels are among the split's rows), the rows drawn from: the
        split's training rows (default; a model fit on the coreset is scored on the
        validation rows), training and validation rows (for cross-validation), or every row
        (training on it against that split is then refused). ``drawn_from``,
        ``split_fingerprint`` and ``source`` on the result say which.
    split : Split, optional
        The split whose held-out rows are left out (default: the active split).

    Returns
    -------
    Coreset
    """
    check_method(method)
    check_task(task)
    check_rows(rows)
    _check_seed(seed)
    options = _checked_options(options)
    check_preprocess(preprocess, options, from_file=file is not None)
    if file is not None:
        if data is not None:
            raise NbmlError("pass either data= or file=, not both")
        if target is not None and not isinstance(target, str):
            raise NbmlError(f"with file=, target must be a column name, got "
                             f"{type(target).__name__}")
        return _from_file(file, target, size, method, seed, chunksize, task, model,
                          preprocess if callable(preprocess) else None, node_size)
    if data is None:
        raise NbmlError("pass the data (a DataFrame or X) as data=, or a CSV/Parquet path "
                         "as file=")
    if split is None:
        from nbml.data import active_split

        split = active_split()
    data, positions, source = training_rows(data, target, rows, split)
    X, y, target_name = _split_target(data, target)
    n = len(X)
    if n == 0:
        raise NbmlError("data has no rows")
    m = resolve_size(size, n)
    if y is not None and (y if isinstance(y, pd.Series) else pd.Series(y)).isna().any():
        what = f"target {target_name!r}" if target_name is not None else "the target"
        raise NbmlError(f"{what} has missing values ({int(pd.Series(y).isna().sum())} rows); "
                         f"drop those rows first")
    task_ = task or (split.task if source is not None else infer_task(y))
    if task_ != "clustering" and y is None:
        raise NbmlError(f"task={task_!r} needs a target")
    chosen = options_for(X, split, source is not None, options)
    matrix, X = measured(X, y, task_, preprocess, chosen, seed)
    y_values = None if y is None else np.asarray(y)
    if task_ == "regression":
        y_values = y_values.astype(float)
    if task_ == "classification":
        labels, counts = np.unique(y_values, return_counts=True)
        check_classes(dict(zip(labels.tolist(), counts.tolist())), m, target_name)
    method_ = resolve_method(method, task_, model)
    if m == n:
        pos, weights = np.arange(n), np.ones(n)
    else:
        rng = np.random.default_rng(int(seed))
        pos, weights = reduce(matrix, y_values, np.ones(n), m, method_, task_, rng)
    X_rows = X.iloc[pos] if isinstance(X, pd.DataFrame) else np.asarray(X)[pos]
    if y is None:
        y_rows = None
    elif isinstance(y, pd.Series):
        y_rows = y.iloc[pos]
    else:
        y_rows = np.asarray(y)[pos]
    if source is not None:
        return _recorded(X_rows, y_rows, weights, positions[pos], n, method_, target_name, task_, seed, source)
    return Coreset(X_rows, y_rows, weights, pos, n, method_, target=target_name, task=task_,
                   seed=seed)


def _checked_options(options: dict) -> dict:
    """The preprocessing options given (None: not given); an unknown name is a TypeError, as in train()."""
    from nbml.preprocess import OPTION_NAMES

    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise TypeError(f"coreset() got unknown option(s) {', '.join(unknown)}; preprocessing options are "
                        f"{', '.join(OPTION_NAMES)}")
    return {k: v for k, v in options.items() if v is not None}


def _recorded(X_rows, y_rows, weights, indices, n, method, target, task, seed, source):
    """A coreset of a split's frame, saying which of its rows it was drawn from."""
    return Coreset(X_rows, y_rows, weights, indices, n, method, target=target, task=task, seed=seed,
                   drawn_from=source["drawn_from"], split_fingerprint=source["split_fingerprint"],
                   source=describe_source(source))


def _split_target(data, target):
    """(X, y, target name) from the accepted ways of passing data and target."""
    if isinstance(data, pd.DataFrame):
        if isinstance(target, str):
            if target not in data.columns:
                raise missing_column_error(target, data.columns, "the DataFrame")
            return data.drop(columns=[target]), data[target], target
        if target is None:
            return data, None, None
    elif isinstance(target, str):
        raise TypeError(f"target={target!r} is a column name, but data is a "
                         f"{type(data).__name__}, not a DataFrame; pass the target values as "
                         f"an array instead")
    if target is None:
        return data, None, None
    y = target
    if not isinstance(y, pd.Series):
        y = np.asarray(y)
        if y.ndim != 1:
            raise NbmlError(f"target must be 1-dimensional, got shape {y.shape}")
    if len(y) != len(data):
        raise NbmlError(f"target has {len(y)} values but data has {len(data)} rows")
    name = y.name if isinstance(y, pd.Series) else None
    return data, y, name


def _from_file(file, target, size, method, seed, chunksize, task, model, preprocess,
               node_size):
    _check_positive_int("chunksize", chunksize)
    columns = read_columns(file)
    if target is not None and target not in columns:
        raise missing_column_error(target, columns, f"file {str(file)!r}")
    # validate size before the (long) pass over the file
    approx_rows = count_rows(file)
    m = resolve_size(size, approx_rows)
    if node_size is None:
        node_size = max(4 * m, 20_000)
    tree = CoresetTree(target=target, node_size=node_size, method=method, seed=seed,
                       chunksize=chunksize, task=task, model=model, preprocess=preprocess)
    tree.add(file)
    if isinstance(size, (float, np.floating)) and size < 1:
        size = resolve_size(size, tree.n_represented_)
    result = tree.coreset(size)
    result.tree = tree  # so that more data can be added later (tree.add) without a rebuild
    return result
