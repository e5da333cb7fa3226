"""What a coreset measures rows by: the features a model trained on them sees.

A coreset method scores rows by their geometry (leverage, distance to the mean), so it needs
numbers. ``preprocess="auto"`` (the default) measures rows after nbml's own preprocessing — the
split's choices (``%split … --scale robust``) with any options given over them — so every frame
``%%train`` accepts (text and category columns, missing values, dates) gives a coreset; the
coreset still holds the raw rows, which ``%%train --data CS`` preprocesses like any others.
``"none"`` measures the columns as they are; a callable turns the features into numbers (and the
coreset holds its output).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from nbml.coresets.base import numeric_matrix
from nbml.data import as_frame
from nbml.errors import NbmlError

PREPROCESS = ("auto", "none")
# measuring rows: the coreset's own fix when its columns are not numbers (it is drawn from a frame in memory)
FRAME_FIX = ("measure rows after nbml's preprocessing instead, which imputes and encodes (preprocess='auto', the "
             "default; %coreset --preprocess auto), or turn them into numbers first")


def check_preprocess(preprocess, options: dict, from_file: bool):
    """``preprocess`` is "auto", "none", None (auto) or a callable; options need "auto" and data in memory."""
    if preprocess is not None and not callable(preprocess) and preprocess not in PREPROCESS:
        raise NbmlError(f"preprocess={preprocess!r} is not one of auto, none (or a callable that turns the feature "
                        f"DataFrame into numbers)")
    if not options:
        return
    given = ", ".join(f"{k}={v!r}" for k, v in options.items())
    if "balance" in options:
        raise NbmlError(f"balance={options['balance']!r} changes which rows a model is fit on, not how rows are "
                        f"measured: give it to %%train (or nbml.train) with the coreset")
    if from_file:
        raise NbmlError(f"{given}: preprocessing options apply to data in memory; for a file pass "
                        f"preprocess=<callable that turns a chunk into numbers>, or read it into a DataFrame first")
    if callable(preprocess) or preprocess == "none":
        shown = "a callable" if callable(preprocess) else "'none'"
        raise NbmlError(f"{given} cannot apply with preprocess={shown}; use preprocess='auto' (the default)")


def measured(X, y, task, preprocess, options, seed):
    """``(matrix, X)``: the float matrix rows are measured by, and the features the coreset keeps
    (the raw ``X``, except with a callable ``preprocess``, whose output is kept)."""
    if callable(preprocess):
        X = preprocess(X)
        return numeric_matrix(X)[0], X
    if preprocess == "none":
        return numeric_matrix(X, fix=FRAME_FIX)[0], X
    frame = X if isinstance(X, pd.DataFrame) else as_frame(X, "X")
    if _plain_numbers(frame) and _keeps_geometry(options):
        # every coreset method is blind to a column's offset and scale (leverage is taken with an
        # intercept; distances on standardised columns), so imputing nothing and scaling change
        # nothing: measure the numbers as they are (exactly, and without a copy)
        return numeric_matrix(X)[0], X
    _refuse_infinite(frame)
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    numbers = _pipeline(frame, options, task, seed).fit(frame, None if y is None else np.asarray(y)).transform(frame)
    if hasattr(numbers, "toarray"):
        numbers = numbers.toarray()
    return numeric_matrix(np.asarray(numbers, dtype=np.float64))[0], X


def _pipeline(frame, options, task, seed):
    """The split's feature steps (nbml.preprocess.feature_steps: what a model trained on the rows
    sees), without the rows they drop or rebalance."""
    from sklearn.pipeline import Pipeline

    from nbml.preprocess import feature_steps

    return Pipeline(feature_steps(frame, options, task, seed))


def _plain_numbers(frame) -> bool:
    """Numeric or boolean columns, every value finite."""
    if not all(pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t) for t in frame.dtypes):
        return False
    return all(np.isfinite(frame[c].to_numpy(dtype=np.float64, na_value=np.nan)).all() for c in frame.columns)


def _keeps_geometry(options) -> bool:
    """Options that only impute and rescale columns (no clipping, new or selected features)."""
    return (options.outliers != "clip" and not (options.poly and options.poly > 1) and not options.interactions
            and not options.select)


def _refuse_infinite(frame):
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
               and np.isinf(frame[c].to_numpy(dtype=np.float64, na_value=np.nan)).any()]
    if numeric:
        raise NbmlError(f"column(s) {', '.join(map(repr, numeric))} contain infinite values; replace them first, "
                        f"e.g. df.replace([np.inf, -np.inf], np.nan) (missing values are imputed)")


def options_for(X, split, from_split_frame: bool, given: dict):
    """The preprocessing choices rows are measured with: the split's (when ``X`` has its features),
    with ``given`` over them; balancing is about fitting, not measuring, and is left out."""
    from dataclasses import replace

    from nbml.preprocess import Options

    base = None
    if split is not None and split.options is not None and (
            from_split_frame or (isinstance(X, pd.DataFrame) and [str(c) for c in X.columns] == split.feature_names)):
        base = replace(split.options, balance=None)
    return Options.merge(base, **given)
