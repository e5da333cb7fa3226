"""LightGBM, XGBoost and CatBoost as nbml models: the small fixes their scikit-learn APIs need,
native categorical columns, and per-round reports to a pruner through each library's own
callback API.

``nbml.boost.XGBClassifier``, ``CatBoostClassifier`` and ``CatBoostRegressor`` are the
libraries' own classes with three fixes: XGBoost wants labels 0..k-1 (strings work here: they
are label-encoded, and ``classes_`` and ``predict`` speak the original labels), CatBoost's
multiclass ``predict`` returns a column (here: 1-D labels, as every scikit-learn classifier),
and CatBoost reads categorical columns only as integers or text (here the ordinal codes
nbml's preprocessing gives are turned into integers). The classes are built on first use
(``__getattr__`` below), so importing this module imports none of the libraries; pickle and
skops find them by name like any class.
"""
from __future__ import annotations

import numpy as np

from nbml.errors import NbmlError

LIBRARIES = ("lightgbm", "xgboost", "catboost")


def library_of(estimator) -> str | None:
    """'lightgbm', 'xgboost' or 'catboost' when ``estimator`` is (a subclass of) one of their models."""
    for cls in type(estimator).__mro__:
        root = cls.__module__.split(".")[0]
        if root in LIBRARIES:
            return root
    return None


# -- the classes -------------------------------------------------------------------------------

def _xgb_classifier():
    import xgboost
    from sklearn.preprocessing import LabelEncoder

    class XGBClassifier(xgboost.XGBClassifier):
        """``xgboost.XGBClassifier`` for any labels: they are encoded as 0..k-1 for XGBoost and
        decoded in ``predict``; ``classes_`` are the labels as given."""

        def fit(self, X, y, **fit_params):
            encoder = LabelEncoder().fit(np.asarray(y))
            if fit_params.get("eval_set"):
                fit_params["eval_set"] = [(rows, encoder.transform(np.asarray(labels)))
                                          for rows, labels in fit_params["eval_set"]]
            # while XGBoost fits, classes_ are its codes 0..k-1 (it checks them); a round's report
            # reads the labels from fit_labels_
            self.__dict__.pop("labels_", None)
            self.fit_labels_ = encoder.classes_
            super().fit(X, encoder.transform(np.asarray(y)), **fit_params)
            self.labels_ = encoder.classes_
            return self

        @property
        def classes_(self):
            labels = self.__dict__.get("labels_")
            return np.arange(self.n_classes_) if labels is None else labels

        def predict(self, X, **kwargs):
            return self.labels_.take(np.asarray(super().predict(X, **kwargs), dtype=int))

    return XGBClassifier


def _int_codes(X, columns):
    """``X`` with the categorical ``columns`` (positions) as integers (CatBoost refuses floats
    there): a DataFrame of the same shape. Unknown categories (code -1) stay -1."""
    import pandas as pd

    if not columns:
        return X
    frame = pd.DataFrame(X) if not isinstance(X, pd.DataFrame) else X.copy()
    for i in columns:
        col = frame.columns[i]
        frame[col] = frame[col].fillna(-1).astype(np.int64)
    return frame


def _catboost(kind: str):
    import inspect

    import catboost

    base = catboost.CatBoostClassifier if kind == "classifier" else catboost.CatBoostRegressor

    class Fixed(base):
        def get_params(self, deep=True):
            # every constructor parameter, as scikit-learn lists them (CatBoost lists only those set),
            # so that a search space can name any of them; random_state is left to its alias random_seed
            names = [n for n in inspect.signature(base.__init__).parameters if n not in ("self", "random_state")]
            return {**dict.fromkeys(names), **super().get_params(deep=deep)}

        def _cats(self, X, codes=None):
            codes = list(self.get_cat_feature_indices() if codes is None else codes)
            return _int_codes(X, codes) if codes and not isinstance(X, catboost.Pool) else X

        def fit(self, X, y=None, **fit_params):
            codes = fit_params.get("cat_features")
            if codes is None:
                codes = self.get_params().get("cat_features") or []
            if fit_params.get("eval_set") is not None:
                rows, labels = fit_params["eval_set"]
                fit_params["eval_set"] = (self._cats(rows, codes), labels)
            return super().fit(self._cats(X, codes), y, **fit_params)

        def predict(self, X, *args, **kwargs):
            out = super().predict(self._cats(X), *args, **kwargs)
            return np.ravel(out) if np.ndim(out) == 2 and np.shape(out)[1] == 1 else out

        if kind == "classifier":
            def predict_proba(self, X, *args, **kwargs):
                return super().predict_proba(self._cats(X), *args, **kwargs)

            def staged_predict_proba(self, X, *args, **kwargs):
                return super().staged_predict_proba(self._cats(X), *args, **kwargs)
        else:
            def staged_predict(self, X, *args, **kwargs):
                return super().staged_predict(self._cats(X), *args, **kwargs)

    Fixed.__doc__ = (f"``catboost.{base.__name__}`` whose categorical columns may be ordinal codes (floats) "
                     f"and whose ``predict`` returns 1-D values")
    return Fixed


_BUILDERS = {"XGBClassifier": _xgb_classifier, "CatBoostClassifier": lambda: _catboost("classifier"),
             "CatBoostRegressor": lambda: _catboost("regressor")}


def __getattr__(name):
    builder = _BUILDERS.get(name)
    if builder is None:
        raise AttributeError(f"module 'nbml.boost' has no attribute {name!r}")
    cls = builder()
    cls.__name__ = cls.__qualname__ = name
    cls.__module__ = __name__
    globals()[name] = cls  # pickle and skops find the class by its name here
    return cls


# -- native categorical columns -----------------------------------------------------------------

# HistGradientBoosting takes at most this many categories per column (its max_bins)
HGB_MAX_CATEGORIES = 255


def native_categoricals(estimator, X, options):
    """For a model that splits categorical columns itself (HistGradientBoosting, LightGBM,
    XGBoost, nbml's CatBoost classifier): ``(options, params, fit_params)`` that encode those columns as ordinal
    codes and tell the model which output columns they are (``params`` and ``fit_params`` are
    the model's own). ``(options, {}, {})`` for other models, when another encoding was chosen
    (one-hot is the default), or when feature selection, interactions or polynomials move the
    columns."""
    from dataclasses import replace

    from nbml.preprocess import columns_by_kind

    kind = _native_kind(estimator)
    if kind is None or options is None or options.encode != "onehot" or options.select or options.poly \
            or options.interactions:
        return options, {}, {}
    kinds = columns_by_kind(X)
    numeric = kinds["numeric"] + kinds["timedelta"]
    # an all-missing column is dropped by imputation: positions (and XGBoost's column count) would move
    looked_at = list(X.columns) if kind == "xgboost" else numeric + kinds["categorical"]
    if not kinds["categorical"] or X[looked_at].isna().all().any():
        return options, {}, {}
    positions = [len(numeric) + i for i, col in enumerate(kinds["categorical"])
                 if kind != "hgb" or X[col].nunique() < HGB_MAX_CATEGORIES]
    if not positions:
        return options, {}, {}
    native = replace(options, encode="ordinal")
    if kind == "hgb":
        return native, {"categorical_features": positions}, {}
    if kind == "catboost":
        return native, {}, {"cat_features": positions}
    if kind == "xgboost":  # a type per output column: numbers, categories, booleans, datetime parts
        from nbml.preprocess import DATETIME_PARTS

        width = len(numeric) + len(kinds["categorical"]) + len(kinds["boolean"]) + \
            len(DATETIME_PARTS) * len(kinds["datetime"])
        types = ["c" if i in positions else "q" for i in range(width)]
        return native, {"enable_categorical": True, "feature_types": types}, {}
    return native, {}, {"categorical_feature": positions}  # LightGBM takes them at fit time


def _native_kind(estimator) -> str | None:
    name = type(estimator).__name__
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    if name.startswith("HistGradientBoosting") and type(estimator).__module__.startswith("sklearn") \
            and params.get("categorical_features") in (None, "from_dtype"):
        return "hgb"
    library = library_of(estimator)
    if library == "lightgbm":
        return "lightgbm"
    if library == "xgboost" and not params.get("feature_types"):
        return "xgboost"
    # CatBoost's target statistics for regression (over target quantile borders) scored below one-hot
    # in nbml's generated benchmark (R2 0.848 vs 0.869, median of 3 seeds): regression keeps one-hot
    if library == "catboost" and type(estimator).__module__ == __name__ and not params.get("cat_features") \
            and hasattr(estimator, "predict_proba"):
        return "catboost"
    return None


# -- per-round reports ---------------------------------------------------------------------------

# CatBoost reports its own eval metrics per round: nbml's metric -> CatBoost's name for it
CATBOOST_METRICS = {"accuracy": "Accuracy", "r2": "R2", "rmse": "RMSE", "mae": "MAE"}


def total_rounds(estimator) -> int:
    """How many boosting rounds a fit of ``estimator`` runs."""
    params = estimator.get_params()
    if library_of(estimator) == "catboost":
        return int(params.get("iterations") or params.get("n_estimators") or params.get("num_boost_round") or 1000)
    return int(params.get("n_estimators") or 100)


class RoundFit:
    """Fits one boosting model while its held-out rows are scored every ``every`` rounds:
    ``on_round(step, output, classes)`` gets the round, the model's output on ``rows`` so far
    (probabilities, one column per class of ``classes``, or values) and may raise
    ``optuna.TrialPruned``.
    CatBoost reports its own eval metric (``on_metric(step, value)``) where it has nbml's."""

    def __init__(self, estimator, rows, y_rows, every, on_round, on_metric=None, metric=None):
        self.estimator, self.rows, self.y_rows, self.every = estimator, rows, y_rows, every
        self.on_round, self.on_metric, self.metric = on_round, on_metric, metric
        self.total = total_rounds(estimator)

    def fit(self, X, y, **fit_params):
        # the classes in the order of the libraries' probability columns (sorted, as LabelEncoder)
        self.classes = np.unique(np.asarray(y)) if hasattr(self.estimator, "predict_proba") else None
        library = library_of(self.estimator)
        if library == "lightgbm":
            return self.estimator.fit(X, y, **fit_params, callbacks=[*fit_params.pop("callbacks", []),
                                                                       self._lightgbm])
        if library == "xgboost":
            return self._xgboost(X, y, fit_params)
        return self._catboost(X, y, fit_params)

    def _due(self, step) -> bool:
        return step % self.every == 0 or step == self.total

    def _output(self, raw):
        raw = np.asarray(raw, dtype=float)
        if not hasattr(self.estimator, "predict_proba"):
            return raw
        return np.column_stack([1 - raw, raw]) if raw.ndim == 1 else raw

    def _lightgbm(self, env):
        step = env.iteration + 1
        if self._due(step):
            self.on_round(step, self._output(env.model.predict(self.rows)), self.classes)

    def _xgboost(self, X, y, fit_params):
        import xgboost

        outer = self

        class Rounds(xgboost.callback.TrainingCallback):
            def after_iteration(self, model, epoch, evals_log):
                if outer._due(epoch + 1):
                    outer.on_round(epoch + 1, outer._output(model.inplace_predict(outer.rows)), outer.classes)
                return False

        before = self.estimator.get_params()["callbacks"]
        self.estimator.set_params(callbacks=[*(before or []), Rounds()])
        try:
            return self.estimator.fit(X, y, **fit_params)
        finally:
            self.estimator.set_params(callbacks=before)

    def _catboost(self, X, y, fit_params):
        name = CATBOOST_METRICS.get(self.metric)
        if name is None or self.on_metric is None:  # no such eval metric: staged outputs once fit
            self.estimator.fit(X, y, **fit_params)
            staged = self.estimator.staged_predict_proba if hasattr(self.estimator, "predict_proba") \
                else self.estimator.staged_predict
            for step, output in enumerate(staged(self.rows, eval_period=self.every), start=1):
                self.on_round(min(step * self.every, self.total), self._output(output),
                              getattr(self.estimator, "classes_", None))
            return self.estimator
        outer, stopped = self, []

        class Rounds:
            def after_iteration(self, info):
                step = info.iteration
                try:
                    if outer._due(step):
                        outer.on_metric(step, float(info.metrics["validation"][name][-1]))
                except Exception as exc:  # noqa: BLE001 - CatBoost would wrap it: stop, then raise it as it is
                    stopped.append(exc)
                    return False
                return True

        # the eval set and metric only watch: use_best_model=False keeps the plain fit's trees (a
        # fitted CatBoost model's parameters cannot be set back; this copy only scores its fold)
        self.estimator.set_params(eval_metric=name)
        self.estimator.fit(X, y, **fit_params, eval_set=(self.rows, self.y_rows), use_best_model=False,
                           callbacks=[Rounds()])
        if stopped:
            raise stopped[0]
        return self.estimator


def missing_package(short: str, package: str) -> NbmlError:
    return NbmlError(f"model {short!r} needs the {package} package, which is not installed: "
                     f"pip install 'nbml[boost]' (or pip install {package})")
