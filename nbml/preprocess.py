"""The automatic preprocessing pipeline.

Every transform lives inside the scikit-learn ``Pipeline`` that ``train()`` fits, so it is
fit on the training rows (or training folds) only: nothing leaks from validation data.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from nbml.data import column_kind

PREPROCESS = ("auto", "none")
DATETIME_PARTS = ("year", "month", "day", "weekday", "hour")


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


def _to_float(X):
    return np.asarray(pd.DataFrame(X).astype("float64"))


def _to_object(X):
    # one representation for str/category/object columns; missing values become np.nan
    return pd.DataFrame(X).astype(object).where(pd.notna(X), np.nan)


def columns_by_kind(X: pd.DataFrame) -> dict:
    kinds = {"numeric": [], "categorical": [], "boolean": [], "datetime": []}
    for col in X.columns:
        kinds[column_kind(X[col])].append(col)
    return kinds


def build_preprocessor(X: pd.DataFrame):
    """A ``ColumnTransformer`` for the columns of ``X``.

    numeric → median impute + standard scaling; categorical/string → most-frequent impute +
    one-hot (unknown categories ignored); boolean → 0/1; datetime → year, month, day,
    weekday, hour, then as numeric. Columns not seen here are dropped at predict time.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    kinds = columns_by_kind(X)
    steps = []
    if kinds["numeric"]:
        steps.append(("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                                       ("scale", StandardScaler())]), kinds["numeric"]))
    if kinds["categorical"]:
        steps.append(("cat", Pipeline([
            ("to_object", FunctionTransformer(_to_object, feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]), kinds["categorical"]))
    if kinds["boolean"]:
        steps.append(("bool", Pipeline([
            ("to_float", FunctionTransformer(_to_float, feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="most_frequent")),
        ]), kinds["boolean"]))
    if kinds["datetime"]:
        steps.append(("date", Pipeline([("expand", DatetimeFeatures()),
                                        ("impute", SimpleImputer(strategy="median")),
                                        ("scale", StandardScaler())]), kinds["datetime"]))
    return ColumnTransformer(steps, remainder="drop", verbose_feature_names_out=False)


def make_pipeline(model, X: pd.DataFrame, preprocess: str = "auto"):
    """``Pipeline([("preprocess", ...), ("model", model)])``, or ``model`` itself for
    ``preprocess="none"``. ``model`` should be an unfitted clone."""
    if preprocess not in PREPROCESS:
        raise ValueError(f"preprocess={preprocess!r} is not one of {', '.join(PREPROCESS)}")
    if preprocess == "none":
        return model
    from sklearn.pipeline import Pipeline

    return Pipeline([("preprocess", build_preprocessor(X)), ("model", model)])
