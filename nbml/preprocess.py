"""The preprocessing pipeline: imputation, scaling, encoding, outliers, class balance,
feature engineering and feature selection — every step inside the scikit-learn pipeline
that ``train()`` fits, so each is fit on the training rows (or training folds) only and
nothing leaks from the rows a model is scored on.

Row-level steps (dropping rows with missing values or outliers, under/oversampling) change
only what the model is *fit* on; predictions are made for every row.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

from nbml.data import column_kinds, is_timedelta
from nbml.errors import NbmlError

PREPROCESS = ("auto", "none")
DATETIME_PARTS = ("year", "month", "day", "weekday", "hour")
CHOICES = {
    "impute": ("median", "mean", "most_frequent", "knn", "drop"),
    "scale": ("standard", "minmax", "robust", "none"),
    "encode": ("onehot", "ordinal", "target"),
    "outliers": ("none", "clip", "drop"),
    "balance": (None, "class_weight", "undersample", "oversample"),
}
SELECTORS = ("rfe", "mi", "corr", "variance", "l1")
IQR_FENCE = 1.5  # Tukey's fences: outside [Q1 - 1.5 IQR, Q3 + 1.5 IQR]


@dataclass(frozen=True)
class Options:
    """How ``preprocess="auto"`` prepares the data (defaults: the documented auto pipeline)."""

    impute: str = "median"
    scale: str = "standard"
    encode: str = "onehot"
    outliers: str = "none"
    balance: str | None = None
    interactions: bool = False
    poly: int | None = None
    select: str | None = None

    def __post_init__(self):
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                shown = ", ".join(str(a) for a in allowed if a is not None)
                raise NbmlError(f"{name}={value!r} is not one of {shown}")
        if self.poly is not None and (not isinstance(self.poly, (int, np.integer)) or not 1 <= self.poly <= 4):
            raise NbmlError(f"poly={self.poly!r} is not a degree; use an integer from 1 to 4")
        if self.select is not None:
            parse_select(self.select)

    def changed(self) -> dict:
        """The options that differ from the defaults."""
        default = Options()
        return {k: v for k, v in asdict(self).items() if getattr(default, k) != v}

    @classmethod
    def merge(cls, base: "Options | None", **overrides) -> "Options":
        values = asdict(base) if base is not None else {}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


OPTION_NAMES = tuple(f.name for f in fields(Options))


def parse_select(spec: str):
    """``"rfe:10"`` → ("rfe", 10); ``"corr:0.9"`` → ("corr", 0.9); ``"l1"`` → ("l1", None)."""
    kind, _, arg = str(spec).partition(":")
    if kind not in SELECTORS:
        raise NbmlError(f"select={spec!r} is not a selector; use rfe:K, mi:K, corr:THRESHOLD, "
                        f"variance:THRESHOLD or l1")
    if kind == "l1":
        return kind, None
    try:
        value = int(arg) if kind in ("rfe", "mi") else float(arg)
    except ValueError:
        what = "a feature count K" if kind in ("rfe", "mi") else "a threshold"
        raise NbmlError(f"select={spec!r} needs {what} after the colon, e.g. {kind}:"
                        f"{'10' if kind in ('rfe', 'mi') else '0.9'}") from None
    if kind in ("rfe", "mi") and value < 1:
        raise NbmlError(f"select={spec!r}: K must be at least 1")
    if kind == "corr" and not 0 < value <= 1:
        raise NbmlError(f"select={spec!r}: the correlation threshold must be in (0, 1]")
    if kind == "variance" and value < 0:
        raise NbmlError(f"select={spec!r}: the variance threshold must be >= 0")
    return kind, value


# -- transformers ------------------------------------------------------------------------

class DatetimeFeatures(TransformerMixin, BaseEstimator):
    """Expand datetime columns into year, month, day, weekday and hour (as floats)."""

    def fit(self, X, y=None):
        X = pd.DataFrame(X)
        self.columns_ = list(X.columns)
        self.n_features_in_ = len(self.columns_)
        return self

    def transform(self, X):
        X = pd.DataFrame(X, columns=self.columns_) if not isinstance(X, pd.DataFrame) else X
        parts = []
        for col in self.columns_:
            s = pd.to_datetime(X[col], errors="coerce")
            for part in DATETIME_PARTS:
                values = s.dt.day_of_week if part == "weekday" else getattr(s.dt, part)
                parts.append(values.to_numpy(dtype=float, na_value=np.nan))
        return np.column_stack(parts) if parts else np.empty((len(X), 0))

    def get_feature_names_out(self, input_features=None):
        return np.array([f"{c}_{p}" for c in self.columns_ for p in DATETIME_PARTS], dtype=object)


def iqr_fences(X):
    q1, q3 = np.nanpercentile(X, 25, axis=0), np.nanpercentile(X, 75, axis=0)
    iqr = q3 - q1
    return q1 - IQR_FENCE * iqr, q3 + IQR_FENCE * iqr


class OutlierClipper(TransformerMixin, BaseEstimator):
    """Clip each numeric feature to its IQR fences, learned on the training rows."""

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        self.lower_, self.upper_ = iqr_fences(X)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return np.clip(np.asarray(X, dtype=float), self.lower_, self.upper_)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


class CorrelationFilter(TransformerMixin, BaseEstimator):
    """Drop a feature whose |correlation| with an earlier kept feature exceeds ``threshold``."""

    def __init__(self, threshold=0.9):
        self.threshold = threshold

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        self.n_features_in_ = X.shape[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.abs(np.nan_to_num(np.corrcoef(X, rowvar=False))) if X.shape[1] > 1 else np.zeros((1, 1))
        # greedy, in column order; closest[i]: the largest |corr[i, k]| over the kept columns k, updated by one
        # vectorized maximum per kept column (not a Python max over every kept column for each column)
        closest = np.zeros(X.shape[1])
        self.max_corr_ = np.zeros(X.shape[1])
        self.support_ = np.zeros(X.shape[1], dtype=bool)
        for j in range(X.shape[1]):
            self.max_corr_[j] = closest[j]
            if closest[j] <= self.threshold:
                self.support_[j] = True
                np.maximum(closest, corr[:, j], out=closest)  # corr[i, j] for every i, as the loop read it
        return self

    def get_support(self, indices=False):
        return np.flatnonzero(self.support_) if indices else self.support_

    def transform(self, X):
        return np.asarray(X)[:, self.support_]

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)[self.support_]


def _to_float(X):
    """Booleans as 0/1 and durations (timedelta columns) as seconds, all as float64."""
    frame = pd.DataFrame(X)
    durations = [c for c, t in zip(frame.columns.tolist(), frame.dtypes.tolist()) if is_timedelta(t)]
    if durations:
        frame = frame.copy()
        for c in durations:
            frame[c] = frame[c].dt.total_seconds()
    return np.asarray(frame.astype("float64"))


def _to_object(X):
    """One representation for str/category/object columns: every value as text, so that a
    column mixing numbers and text (1, 'x') is encoded like any other; missing values become
    np.nan."""
    frame = pd.DataFrame(X).astype(object)
    present = pd.notna(frame)
    return frame.where(~present, frame.astype(str)).where(present, np.nan)


# -- the pipeline with fit-time row steps ---------------------------------------------------

class NbmlPipeline(Pipeline):
    """A ``Pipeline`` that can also choose the rows the model is fit on: drop rows with
    missing values or IQR outliers, and under- or oversample classes — at fit time only,
    so validation rows and predictions are never dropped or duplicated."""

    def __init__(self, steps, *, drop_missing=False, drop_outliers=False, balance=None, random_state=None,
                 memory=None, verbose=False):
        super().__init__(steps, memory=memory, verbose=verbose)
        self.drop_missing = drop_missing
        self.drop_outliers = drop_outliers
        self.balance = balance
        self.random_state = random_state

    def fit(self, X, y=None, **params):
        X, y, params = self._fit_rows(X, y, params)
        return super().fit(X, y, **params)

    def _fit_rows(self, X, y, params):
        keep = np.ones(len(X), dtype=bool)
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        if self.drop_missing:
            keep &= ~frame.isna().any(axis=1).to_numpy()
        if self.drop_outliers:
            numeric = frame.select_dtypes(include="number").to_numpy(dtype=float)
            if numeric.shape[1]:
                lower, upper = iqr_fences(numeric)
                with np.errstate(invalid="ignore"):
                    inside = (numeric >= lower) & (numeric <= upper) | np.isnan(numeric)
                keep &= inside.all(axis=1)
        rows = np.flatnonzero(keep)
        if self.balance in ("undersample", "oversample") and y is not None:
            rows = resample_rows(np.asarray(y)[rows], rows, self.balance, self.random_state)
        if len(rows) == len(X) and np.array_equal(rows, np.arange(len(X))):
            return X, y, params
        if len(rows) == 0:
            raise NbmlError("dropping rows with missing values/outliers left no training rows; use "
                            "impute='median' or outliers='clip' instead")
        take = (lambda a: a.iloc[rows]) if hasattr(X, "iloc") else (lambda a: np.asarray(a)[rows])
        X = take(X)
        y = None if y is None else (y.iloc[rows] if hasattr(y, "iloc") else np.asarray(y)[rows])
        params = {k: (np.asarray(v)[rows] if k.endswith("sample_weight") and v is not None else v)
                  for k, v in params.items()}
        return X, y, params


def resample_rows(y, rows, how: str, seed) -> np.ndarray:
    """Row indices with every class cut to the smallest (undersample) or repeated up to the
    largest (oversample) class count, randomly and seeded; sorted."""
    rng = np.random.default_rng(seed)
    labels, counts = np.unique(y, return_counts=True)
    target = counts.min() if how == "undersample" else counts.max()
    chosen = []
    for label, count in zip(labels, counts):
        members = rows[y == label]
        if how == "undersample":
            chosen.append(rng.choice(members, target, replace=False))
        else:
            extra = rng.choice(members, target - count, replace=True) if target > count else members[:0]
            chosen.append(np.concatenate([members, extra]))
    return np.sort(np.concatenate(chosen))


# -- building ------------------------------------------------------------------------

def columns_by_kind(X: pd.DataFrame) -> dict:
    """Column names by how they are preprocessed; durations (``timedelta``) are numbers of seconds.
    Kinds come from the dtypes (``column_kinds``): no column is taken out of a wide frame."""
    kinds = {"numeric": [], "categorical": [], "boolean": [], "datetime": [], "timedelta": []}
    for col, kind in zip(X.columns.tolist(), column_kinds(X)):
        kinds[kind].append(col)
    return kinds


def _scaler(scale: str):
    from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

    return {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}[scale]()


def _numeric_steps(options: Options) -> list:
    from sklearn.impute import KNNImputer, SimpleImputer
    from sklearn.preprocessing import PolynomialFeatures

    strategy = {"knn": None, "drop": "median", "most_frequent": "most_frequent"}.get(options.impute, options.impute)
    steps = [("impute", KNNImputer() if options.impute == "knn" else SimpleImputer(strategy=strategy))]
    if options.outliers == "clip":
        steps.append(("clip", OutlierClipper()))
    if options.scale != "none":
        steps.append(("scale", _scaler(options.scale)))
    if options.poly and options.poly > 1:
        steps.append(("poly", PolynomialFeatures(options.poly, include_bias=False)))
    elif options.interactions:
        steps.append(("interactions", PolynomialFeatures(2, interaction_only=True, include_bias=False)))
    return steps


def _encoder(encode: str, task: str | None, seed: int):
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, TargetEncoder

    if encode == "ordinal":
        return OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    if encode == "target":
        if task not in ("classification", "regression"):
            raise NbmlError("encode='target' needs a target; use onehot or ordinal for clustering")
        target_type = "continuous" if task == "regression" else "auto"
        if TargetEncoder().get_params().get("shuffle") != "deprecated":  # scikit-learn before 1.9
            return TargetEncoder(target_type=target_type, random_state=seed)
        # 1.9 takes the shuffled folds as a splitter (the same folds its deprecated random_state made)
        from sklearn.model_selection import KFold, StratifiedKFold

        folds = (KFold if task == "regression" else StratifiedKFold)(5, shuffle=True, random_state=seed)
        return TargetEncoder(target_type=target_type, cv=folds)
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


def build_preprocessor(X: pd.DataFrame, options: Options | None = None, task: str | None = None, seed: int = 0):
    """A ``ColumnTransformer`` for the columns of ``X``.

    Default (``Options()``): numeric → median impute + standard scaling; categorical/string →
    most-frequent impute + one-hot (unknown categories ignored), every value as text; boolean →
    0/1; datetime → year, month, day, weekday, hour, then as numeric; timedelta → seconds, then
    as numeric. Columns not seen here are dropped at
    predict time.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import FunctionTransformer

    options = options or Options()
    kinds = columns_by_kind(X)
    steps = []
    if kinds["numeric"] or kinds["timedelta"]:
        numeric_steps = _numeric_steps(options)
        if kinds["timedelta"]:  # durations as seconds, then like any number (not one-hot categories)
            numeric_steps.insert(0, ("seconds", FunctionTransformer(_to_float, feature_names_out="one-to-one")))
        steps.append(("num", Pipeline(numeric_steps), kinds["numeric"] + kinds["timedelta"]))
    if kinds["categorical"]:
        steps.append(("cat", Pipeline([
            ("to_object", FunctionTransformer(_to_object, feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("encode", _encoder(options.encode, task, seed)),
        ]), kinds["categorical"]))
    if kinds["boolean"]:
        steps.append(("bool", Pipeline([
            ("to_float", FunctionTransformer(_to_float, feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="most_frequent")),
        ]), kinds["boolean"]))
    if kinds["datetime"]:
        date_steps = [("expand", DatetimeFeatures()), ("impute", SimpleImputer(strategy="median"))]
        if options.scale != "none":
            date_steps.append(("scale", _scaler(options.scale)))
        steps.append(("date", Pipeline(date_steps), kinds["datetime"]))
    return ColumnTransformer(steps, remainder="drop", verbose_feature_names_out=False)


def build_selector(spec: str, task: str, seed: int, n_features: int | None = None):
    """The feature-selection step for ``spec`` (see ``parse_select``)."""
    from functools import partial

    from sklearn.feature_selection import (RFE, SelectFromModel, SelectKBest, VarianceThreshold,
                                           mutual_info_classif, mutual_info_regression)
    from sklearn.linear_model import LassoCV, LogisticRegression, Ridge

    kind, value = parse_select(spec)
    if task not in ("classification", "regression") and kind in ("rfe", "mi", "l1"):
        raise NbmlError(f"select={spec!r} needs a target; use variance or corr for clustering")
    if kind in ("rfe", "mi") and n_features is not None and value > n_features:
        raise NbmlError(f"select={spec!r} keeps K={value} features but the data has only {n_features} after "
                        f"preprocessing; use K ≤ {n_features}")
    classify = task == "classification"
    if kind == "rfe":
        base = LogisticRegression(max_iter=1000) if classify else Ridge()
        return RFE(base, n_features_to_select=value)
    if kind == "mi":
        score = partial(mutual_info_classif if classify else mutual_info_regression, random_state=seed)
        return SelectKBest(score, k=value)
    if kind == "variance":
        return VarianceThreshold(value)
    if kind == "corr":
        return CorrelationFilter(value)
    base = (LogisticRegression(penalty="l1", solver="liblinear", C=1.0, random_state=seed) if classify
            else LassoCV(cv=3))
    return SelectFromModel(base)


def apply_balance(model, options: Options, task: str):
    """``balance="class_weight"`` sets the model's own ``class_weight``."""
    if options.balance is None:
        return model
    if task != "classification":
        raise NbmlError(f"balance={options.balance!r} needs a classification task; this one is {task}")
    if options.balance == "class_weight":
        names = model.get_params(deep=True) if hasattr(model, "get_params") else {}
        keys = [k for k in names if k.split("__")[-1] == "class_weight"]
        if not keys:
            raise NbmlError(f"{type(model).__name__} has no class_weight parameter; use balance='oversample' "
                            f"or 'undersample' instead")
        model.set_params(**{k: "balanced" for k in keys})
    return model


def feature_steps(X: pd.DataFrame, options: Options, task: str | None = None, seed: int = 0,
                  n_features: int | None = None) -> list:
    """The steps that turn the rows into the features a model sees (imputation, clipping, scaling,
    encoding, dates, interactions or polynomial features, selection), without the model and without
    the row steps that drop or rebalance rows."""
    steps = [("preprocess", build_preprocessor(X, options, task, seed))]
    if options.select:
        steps.append(("select", build_selector(options.select, task, seed, n_features)))
    return steps


def make_pipeline(model, X: pd.DataFrame, preprocess: str = "auto", options: Options | None = None,
                  task: str | None = None, seed: int = 0, n_features: int | None = None):
    """The model (an unfitted clone) behind the preprocessing steps ``options`` asks for,
    or the model itself for ``preprocess="none"`` with default options."""
    if preprocess not in PREPROCESS:
        raise NbmlError(f"preprocess={preprocess!r} is not one of {', '.join(PREPROCESS)}")
    options = options or Options()
    model = apply_balance(model, options, task)
    if preprocess == "none" and options.changed():
        raise NbmlError(f"preprocess='none' cannot apply {', '.join(options.changed())}; use preprocess='auto'")
    if preprocess == "none":
        return model
    steps = feature_steps(X, options, task, seed, n_features) + [("model", model)]
    row_steps = dict(drop_missing=options.impute == "drop", drop_outliers=options.outliers == "drop",
                     balance=options.balance if options.balance in ("undersample", "oversample") else None)
    if any(row_steps.values()):
        return NbmlPipeline(steps, random_state=seed, **row_steps)
    return Pipeline(steps)


def feature_report(model) -> pd.DataFrame | None:
    """Which features a fitted pipeline kept and why: one row per feature after
    preprocessing, with ``kept`` and the selector's score or ranking."""
    steps = dict(getattr(model, "steps", []))
    if "preprocess" not in steps:
        return None
    names = np.asarray(steps["preprocess"].get_feature_names_out(), dtype=object)
    table = pd.DataFrame(index=pd.Index(names, name="feature"))
    selector = steps.get("select")
    if selector is None:
        table["kept"] = True
        return table
    table["kept"] = selector.get_support()
    for attr, column in (("ranking_", "rank"), ("scores_", "score"), ("variances_", "variance"),
                         ("max_corr_", "max |corr| with a kept feature")):
        if hasattr(selector, attr):
            table[column] = getattr(selector, attr)
    if hasattr(selector, "estimator_") and hasattr(selector.estimator_, "coef_"):
        coef = np.abs(np.atleast_2d(selector.estimator_.coef_)).max(axis=0)
        if len(coef) == len(table):  # SelectFromModel: one coefficient per candidate feature
            table["|coef|"] = coef
    sort = "rank" if "rank" in table else next((c for c in ("score", "|coef|", "variance") if c in table), None)
    if sort:
        table = table.sort_values(sort, ascending=sort == "rank")
    return table
