"""``train()``: fit a model on the active split, score it, cross-validate it.

The model is wrapped in the preprocessing pipeline (``nbml.preprocess``) and every fold
fits its own copy, so preprocessing never sees the rows it is scored on.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nbml import metrics as _metrics
from nbml.data import Split, active_split, split as _split

# words used when train and validation differ by more than this (primary metric)
GAP_WARNING = {"accuracy": 0.05, "r2": 0.10, "silhouette": 0.10}


class NoActiveSplit(ValueError):
    pass


@dataclass
class Predictions:
    """What a model predicted on one set of rows: the input of metrics and plots."""

    task: str
    y_true: np.ndarray | None
    y_pred: np.ndarray
    classes: np.ndarray | None = None
    proba: np.ndarray | None = None
    scores: np.ndarray | None = None
    X: object = None  # clustering: the (transformed) features the labels refer to
    label: str = "validation"
    weights: np.ndarray | None = None  # row weights (a coreset's) for the metrics

    def metrics(self, seed: int = 0) -> dict:
        return _metrics.compute(self.task, self.y_true, self.y_pred, classes=self.classes,
                                proba=self.proba, scores=self.scores, X=self.X, seed=seed,
                                sample_weight=self.weights)


# -- model inspection ------------------------------------------------------------------

def final_estimator(model):
    """The last step of a Pipeline (or the model itself)."""
    steps = getattr(model, "steps", None)
    return final_estimator(steps[-1][1]) if steps else model


def model_task(model) -> str | None:
    """'classification', 'regression', 'clustering' or None (unknown) from the estimator type."""
    est = final_estimator(model)
    kind = getattr(est, "_estimator_type", None)
    if kind is None:
        try:
            kind = est.__sklearn_tags__().estimator_type
        except Exception:
            kind = None
    return {"classifier": "classification", "regressor": "regression", "clusterer": "clustering"}.get(kind)


def is_torch_module(obj) -> bool:
    cls = type(obj)
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in cls.__mro__)


def is_torch_estimator(model) -> bool:
    """nbml's TorchClassifier/TorchRegressor (alone or ending a Pipeline)."""
    return type(final_estimator(model)).__module__.startswith("nbml.torch")


def check_model(model, task: str):
    """Raise a clear error if ``model`` is not an estimator or does not fit ``task``."""
    if isinstance(model, type) and hasattr(model, "fit"):
        raise TypeError(f"got the class {model.__name__}, not a model: call it, e.g. {model.__name__}()")
    if not hasattr(model, "fit") or not hasattr(model, "get_params"):
        raise TypeError(f"the model is a {type(model).__name__}, not a scikit-learn estimator, Pipeline or "
                        f"torch.nn.Module: end the cell with a model such as LogisticRegression()")
    kind = model_task(model)
    name = type(final_estimator(model)).__name__
    if kind == "regression" and task == "classification":
        raise ValueError(f"{name} is a regressor but the target is categorical (classification): use a "
                         f"classifier such as LogisticRegression, or split with task='regression' on a "
                         f"numeric target")
    if kind == "classification" and task == "regression":
        raise ValueError(f"{name} is a classifier but the target is continuous (regression): use a "
                         f"regressor such as Ridge, or split with task='classification'")
    if kind == "clustering" and task != "clustering":
        raise ValueError(f"{name} is a clustering model but the split has a target ({task}): split "
                         f"without a target for clustering")
    if task == "clustering" and kind in ("classification", "regression"):
        raise ValueError(f"{name} needs a target but the split has none (clustering): split with "
                         f"target=COLUMN")


def seed_model(model, seed: int):
    """Give every ``random_state`` left as None the seed, so a run is repeatable."""
    try:
        params = model.get_params(deep=True)
    except Exception:
        return model
    fixes = {k: seed for k, v in params.items() if k.split("__")[-1] in ("random_state", "seed") and v is None}
    if fixes:
        model.set_params(**fixes)
    return model


def describe_error(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


# -- fitting and scoring -----------------------------------------------------------------

def predict(model, X, task: str, label: str = "validation", y=None) -> Predictions:
    """Predictions (and probabilities or decision scores where the model has them)."""
    if task == "clustering":
        Xt = transformed(model, X)
        labels = final_estimator(model).predict(Xt) if hasattr(final_estimator(model), "predict") \
            else final_estimator(model).labels_
        return Predictions(task, None, np.asarray(labels), X=Xt, label=label)
    y_pred = np.asarray(model.predict(X))
    proba = scores = classes = None
    if task == "classification":
        classes = np.asarray(model.classes_)
        if hasattr(model, "predict_proba"):
            try:
                proba = np.asarray(model.predict_proba(X))
            except (AttributeError, NotImplementedError):
                proba = None
        if proba is None and hasattr(model, "decision_function"):
            scores = np.asarray(model.decision_function(X))
    return Predictions(task, None if y is None else np.asarray(y), y_pred, classes, proba, scores, label=label)


def transformed(model, X):
    steps = getattr(model, "steps", None)
    if steps and len(steps) > 1:
        from sklearn.pipeline import Pipeline

        return Pipeline(steps[:-1]).transform(X)
    return np.asarray(X)


def _fit(model, X, y, task, fit_params=None):
    if task == "clustering":
        model.fit(X, **(fit_params or {}))
    else:
        model.fit(X, y, **(fit_params or {}))
    return model


def _fold(pipeline, X, y, task, train_idx, test_idx, seed, fit_params):
    from sklearn.base import clone

    model = clone(pipeline)
    X_tr, X_te = X.iloc[train_idx], X.iloc[test_idx]
    y_tr = None if y is None else y.iloc[train_idx]
    y_te = None if y is None else y.iloc[test_idx]
    fit_params = {k: (np.asarray(v)[train_idx] if k.endswith("sample_weight") and np.ndim(v) == 1
                      and len(v) == len(X) else v) for k, v in (fit_params or {}).items()}
    start = time.perf_counter()
    _fit(model, X_tr, y_tr, task, fit_params)
    fit_time = time.perf_counter() - start
    start = time.perf_counter()
    held_out = predict(model, X_te, task, y=y_te)
    val = held_out.metrics(seed)
    train = predict(model, X_tr, task, y=y_tr).metrics(seed)
    score_time = time.perf_counter() - start
    return val, train, held_out, fit_time, score_time


def make_folds(task: str, k: int, seed: int):
    from sklearn.model_selection import KFold, StratifiedKFold

    cls = StratifiedKFold if task == "classification" else KFold
    return cls(n_splits=k, shuffle=True, random_state=seed)


def check_folds(k, X, y, task):
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
        raise ValueError(f"cv={k!r} is not a fold count; use an integer of at least 2, e.g. cv=5")
    if len(X) < k:
        raise ValueError(f"cv={k} needs at least {k} rows but train+val has {len(X)}; use fewer folds")
    if task == "classification":
        counts = y.value_counts()
        if counts.min() < k:
            raise ValueError(f"class {counts.idxmin()!r} has {counts.min()} row(s) in train+val, fewer than "
                             f"cv={k} folds (stratified CV needs classes × folds = {len(counts)} × {k} at "
                             f"least, one per class per fold): use cv={max(2, counts.min())} or fewer")


def cross_validate(pipeline, X, y, task, k=5, seed=0, n_jobs=None, fit_params=None):
    """K-fold CV (stratified for classification): per-fold metrics (validation and train)
    as a DataFrame, and the out-of-fold predictions of every row."""
    check_folds(k, X, y, task)
    folds = list(make_folds(task, k, seed).split(X, y if task == "classification" else None))
    args = [(pipeline, X, y, task, tr, te, seed, fit_params) for tr, te in folds]
    if n_jobs in (None, 1):
        outcomes = [_fold(*a) for a in args]
    else:
        from joblib import Parallel, delayed

        outcomes = Parallel(n_jobs=n_jobs)(delayed(_fold)(*a) for a in args)
    rows = []
    for i, (val, train, _, fit_time, score_time) in enumerate(outcomes, 1):
        row = dict(val)
        row.update({f"train_{m}": v for m, v in train.items()})
        row.update(fit_time=fit_time, score_time=score_time)
        rows.append(pd.Series(row, name=i))
    table = pd.DataFrame(rows)
    table.index.name = "fold"
    oof = _out_of_fold(folds, [o[2] for o in outcomes], len(X), task, y)
    return table, oof


def _out_of_fold(folds, preds, n, task, y):
    if task == "clustering":
        return None  # cluster ids of different folds are not comparable
    order = np.concatenate([te for _, te in folds])
    y_pred = np.concatenate([p.y_pred for p in preds])[np.argsort(order)]
    first = preds[0]

    def stack(attr):
        parts = [getattr(p, attr) for p in preds]
        if any(part is None for part in parts) or len({np.shape(part)[1:] for part in parts}) != 1:
            return None
        return np.concatenate(parts)[np.argsort(order)]

    return Predictions(task, np.asarray(y), y_pred, first.classes, stack("proba"), stack("scores"),
                       label="out-of-fold")


# -- the result ------------------------------------------------------------------------

@dataclass(repr=False)
class TrainResult:
    """A trained model with its validation metrics (and CV folds, history, plots)."""

    task: str
    metrics: dict
    train_metrics: dict
    cv: pd.DataFrame | None
    split: Split
    name: str
    params: dict
    predictions: Predictions | None  # validation (or out-of-fold) predictions behind the plots
    fit_time: float
    preprocess: str = "auto"
    seed: int = 0
    _model: object = None
    _pipeline: object = None
    options: object = None
    comparison: pd.DataFrame | None = None  # ensembles: member vs ensemble on the same folds
    note: str = ""
    _fit_params: dict = field(default_factory=dict)
    _figures: dict = field(default_factory=dict)

    # The fitted model. With cross-validation it is fit on the training rows when first
    # asked for: CV scores are what comparing models needs, and a model that is not picked
    # never costs a fit.
    @property
    def model(self):
        if self._model is None:
            from sklearn.base import clone

            self._model = _fit(clone(self._pipeline), self.split.X_train, self.split.y_train, self.task,
                               self._fit_params)
        return self._model

    @property
    def features(self) -> pd.DataFrame | None:
        """The features after preprocessing, which were kept and why (selector scores or
        ranking), from the fitted model."""
        from nbml.preprocess import feature_report

        return feature_report(self.model)

    @property
    def estimator(self):
        """The fitted model without its preprocessing."""
        return final_estimator(self.model)

    @property
    def history(self) -> pd.DataFrame | None:
        """Per-epoch history of iterative models (torch), else None."""
        return getattr(self.estimator, "history_", None)

    def predict(self, X):
        return self.model.predict(X)

    def predict_proba(self, X):
        if not hasattr(self.model, "predict_proba"):
            raise AttributeError(f"{self.name} has no predict_proba (it gives no probabilities)")
        return self.model.predict_proba(X)

    @property
    def cv_summary(self) -> pd.DataFrame | None:
        """Per metric: train and validation mean and 2·std over the folds."""
        if self.cv is None:
            return None
        names = [m for m in self.metrics]
        rows = {}
        for m in names:
            rows[m] = {"train": self.cv[f"train_{m}"].mean(), "train ±": 2 * self.cv[f"train_{m}"].std(ddof=0),
                       "validation": self.cv[m].mean(), "validation ±": 2 * self.cv[m].std(ddof=0)}
        return pd.DataFrame(rows).T

    def table(self) -> pd.DataFrame:
        """Train and validation metrics side by side (CV: mean and ± 2·std)."""
        if self.cv is not None:
            return self.cv_summary
        return pd.DataFrame({"train": pd.Series(self.train_metrics),
                             "validation": pd.Series(self.metrics)}).loc[list(self.metrics)]

    @property
    def diagnosis(self) -> str:
        """Over/underfitting in words, from the primary metric ('' when nothing stands out)."""
        return diagnose(self.task, self.train_metrics, self.metrics, self.split)

    def plot(self, kind: str = "auto", ax=None):
        """Draw one plot of the validation (or out-of-fold) predictions; returns the Figure."""
        from nbml.plots import plot_predictions

        return plot_predictions(self.predictions, kind, ax=ax)

    def __repr__(self) -> str:
        from nbml.plots.html import result_text

        return result_text(self)

    def _repr_html_(self) -> str:
        from nbml.plots.html import result_html

        return result_html(self)


def diagnose(task, train, val, split_) -> str:
    primary = _metrics.PRIMARY[task]
    if primary not in train or primary not in val or any(map(math.isnan, (train[primary], val[primary]))):
        return ""
    gap = round(train[primary] - val[primary], 9)
    if gap > GAP_WARNING[primary]:
        return (f"Overfitting: train {primary} {train[primary]:.3f} vs validation {val[primary]:.3f} "
                f"(gap {gap:.3f}). Try more regularization, a simpler model or more data.")
    if task == "classification" and split_ is not None and split_.y_train is not None:
        majority = split_.y_train.value_counts(normalize=True).iloc[0]
        if val[primary] <= majority + 0.01:
            return (f"Underfitting: validation accuracy {val[primary]:.3f} is no better than always "
                    f"predicting the majority class ({majority:.3f}). Try a more flexible model or better "
                    f"features.")
    if task == "regression" and val[primary] < 0.05:
        return (f"Underfitting: validation R² {val[primary]:.3f} — the model explains almost none of the "
                f"variance. Try a more flexible model or better features.")
    return ""


def is_coreset(obj) -> bool:
    return all(hasattr(obj, a) for a in ("weights", "X", "y", "n_represented"))


def coreset_split(cs, seed=0, cv=None):
    """A split whose training rows are the coreset's, with their weights (a Series by row).

    Validation and test rows are the active split's when it has the same features (the
    model is judged on real rows); otherwise the coreset's rows are split, seeded. With
    ``cv``, the folds are cut from the coreset's rows alone (weighted CV)."""
    import pandas as pd

    weights = pd.Series(np.asarray(cs.weights, dtype=float), index=cs.X.index)
    active = active_split()
    X = cs.X if isinstance(cs.X, pd.DataFrame) else pd.DataFrame(cs.X)
    y = pd.Series(np.asarray(cs.y), index=X.index, name=cs.target or "target")
    if active is not None and list(active.X_train.columns) == [str(c) for c in X.columns] and active.y_train is not None:
        X = X.copy()
        X.columns = active.X_train.columns
        X_val, y_val = (active.X_val, active.y_val) if cv is None else (active.X_val.iloc[:0], active.y_val.iloc[:0])
        made = Split(X, X_val, active.X_test, y.rename(active.target), y_val, active.y_test,
                     task=active.task, target=active.target, classes_=active.classes_, seed=active.seed,
                     fingerprint=f"coreset:{active.fingerprint}", options=active.options)
        return made, weights
    frame = X.assign(**{str(y.name): y.to_numpy()})
    return _split(frame, target=str(y.name), seed=seed, activate=False), weights


def resolve_split(split=None, data=None, target=None, seed=0) -> Split:
    if data is not None:
        return _split(data, target=target, seed=seed, activate=False)
    if split is not None:
        if not isinstance(split, Split):
            raise TypeError(f"split must be an nbml Split (from nbml.split); got {type(split).__name__}")
        return split
    current = active_split()
    if current is None:
        raise NoActiveSplit("no active dataset: run %split DF --target COL (nbml.split) first, or pass "
                            "data=DF, target=COL")
    return current


def train(model, split=None, cv=None, preprocess="auto", seed=None, n_jobs=None, data=None, target=None,
          fit_params=None, impute=None, scale=None, encode=None, outliers=None, balance=None,
          interactions=None, poly=None, select=None, **torch_options) -> TrainResult:
    """Fit ``model`` on the split's training rows and score it on the validation rows.

    With ``cv=K``, K-fold cross-validation (stratified for classification) on train+val
    gives the metrics (mean over folds, ± 2·std in ``cv_summary``) and the out-of-fold
    predictions behind the plots; ``result.model`` is then fit on the training rows when
    first used. A ``torch.nn.Module`` is trained through ``nbml.TorchClassifier`` /
    ``TorchRegressor`` (``torch_options``: epochs, lr, batch_size, ...).

    Preprocessing choices (default: the split's, else the auto pipeline), all fit inside the
    pipeline: ``impute`` median|mean|most_frequent|knn|drop, ``scale``
    standard|minmax|robust|none, ``encode`` onehot|ordinal|target, ``outliers``
    none|clip|drop (IQR), ``balance`` class_weight|undersample|oversample, ``interactions``
    (pairwise products of numeric features), ``poly`` DEGREE, ``select`` rfe:K | mi:K |
    corr:THRESHOLD | variance:THRESHOLD | l1 (``result.features`` says what was kept, why).
    """
    from sklearn.base import clone

    weights = None
    if is_coreset(data):
        data_split, weights = coreset_split(data, seed=0 if seed is None else seed, cv=cv)
    else:
        data_split = resolve_split(split, data, target, seed=0 if seed is None else seed)
    seed = data_split.seed if seed is None else int(seed)
    task = data_split.task
    if is_torch_module(model):
        from nbml.torch.estimators import from_module

        model = from_module(model, task, **{"seed": seed, **torch_options})
    elif torch_options and is_torch_estimator(model):
        from sklearn.base import clone as _clone

        steps = getattr(model, "steps", None)
        prefix = f"{steps[-1][0]}__" if steps else ""
        model = _clone(model).set_params(**{prefix + k: v for k, v in torch_options.items()})
    elif torch_options:
        raise TypeError(f"options {', '.join(sorted(torch_options))} apply to torch models only")
    check_model(model, task)
    name = type(final_estimator(model)).__name__
    try:
        params = final_estimator(model).get_params(deep=False)
    except Exception:
        params = {}
    from nbml.preprocess import Options

    # the split's choices are defaults for the auto pipeline; preprocess="none" takes only explicit ones
    base = data_split.options if preprocess == "auto" else None
    options = Options.merge(base, impute=impute, scale=scale, encode=encode, outliers=outliers,
                            balance=balance, interactions=interactions, poly=poly, select=select)
    pipeline = make_model_pipeline(model, data_split, preprocess, seed, options)
    fit_params = dict(fit_params or {})
    train_params = fit_params
    if weights is not None:
        from nbml.coresets.base import sample_weight_keys

        keys = sample_weight_keys(pipeline)
        if not keys:
            raise ValueError(f"{name} cannot take sample_weight, so it cannot use the coreset's weights: build "
                             f"the coreset with method='uniform' and fit it without weights, or pick a model "
                             f"that accepts sample_weight")
        rows = data_split.X_trainval if cv is not None else data_split.X_train
        fit_params = {**fit_params, **{k: weights.loc[rows.index].to_numpy() for k in keys}}
        train_params = {**train_params, **{k: weights.loc[data_split.X_train.index].to_numpy() for k in keys}}

    if cv is not None:
        check_folds(cv, data_split.X_trainval, data_split.y_trainval, task)
    elif len(data_split.X_val) == 0:
        raise ValueError("the split has no validation rows: use cv=K, or split with val > 0")
    try:
        if cv is not None:
            X, y = data_split.X_trainval, data_split.y_trainval
            folds, oof = cross_validate(pipeline, X, y, task, k=cv, seed=seed, n_jobs=n_jobs,
                                        fit_params=fit_params)
            names = [c for c in folds.columns if not c.startswith("train_") and not c.endswith("_time")]
            val = {m: float(folds[m].mean()) for m in names}
            trn = {m: float(folds[f"train_{m}"].mean()) for m in names}
            return _recorded(TrainResult(task, val, trn, folds, data_split, name, params, oof,
                                         float(folds["fit_time"].sum()), preprocess, seed, _pipeline=pipeline,
                                         _fit_params=train_params, options=options))
        fitted = clone(pipeline)
        start = time.perf_counter()
        if is_torch_estimator(fitted) and not getattr(fitted, "drop_missing", False) \
                and not getattr(fitted, "drop_outliers", False) and not getattr(fitted, "balance", None):
            # the validation rows give the loss curve (and early stopping) its validation side
            from nbml.torch.estimators import fit_with_validation

            fit_with_validation(fitted, data_split.X_train, data_split.y_train, data_split.X_val,
                                data_split.y_val, **fit_params)
        else:
            _fit(fitted, data_split.X_train, data_split.y_train, task, fit_params)
        fit_time = time.perf_counter() - start
        held_out = predict(fitted, data_split.X_val, task, y=data_split.y_val)
        val = held_out.metrics(seed)
        trn = predict(fitted, data_split.X_train, task, y=data_split.y_train).metrics(seed)
    except (ValueError, TypeError, ArithmeticError, IndexError, KeyError) as exc:
        if getattr(exc, "_nbml", False):
            raise
        raise FitError(f"{name} failed: {describe_error(exc)}") from exc
    return _recorded(TrainResult(task, val, trn, None, data_split, name, params, held_out, fit_time, preprocess,
                                 seed, _model=fitted, _pipeline=pipeline, _fit_params=fit_params, options=options))


def _recorded(result: TrainResult) -> TrainResult:
    """Record the run in the store (``nbml.store``); a store problem is a warning, never an error."""
    try:
        from nbml.store import record_run

        record_run(result)
    except Exception as exc:
        import warnings

        warnings.warn(f"nbml could not record the run: {exc}", stacklevel=3)
    return result


def find_lr(model, split=None, seed=None, start=1e-7, end=10.0, steps=100, **torch_options):
    """The learning-rate range test (Smith 2015) for a torch module or estimator on the
    split's training rows, preprocessed as ``train()`` would; returns the lr_find result
    (``lrs``, ``losses``, ``suggestion``, ``plot()``)."""
    from sklearn.base import clone

    from nbml.torch.lr_find import lr_find

    data_split = resolve_split(split)
    seed = data_split.seed if seed is None else int(seed)
    if is_torch_module(model):
        from nbml.torch.estimators import from_module

        model = from_module(model, data_split.task, **{"seed": seed, **torch_options})
    if not is_torch_estimator(model):
        raise TypeError(f"the learning-rate finder needs a torch model; got {type(model).__name__}")
    pipeline = make_model_pipeline(model, data_split, "auto", seed)
    X, y = data_split.X_train, data_split.y_train
    if getattr(pipeline, "steps", None):
        X = clone(pipeline[:-1]).fit(X, y).transform(X)
        estimator = pipeline.steps[-1][1]
    else:
        estimator = pipeline
    return lr_find(estimator, X, y, start=start, end=end, steps=steps, task=data_split.task)


class FitError(ValueError):
    """The model's own fit/predict raised: the message is the model's, shortened."""

    _nbml = True


def make_model_pipeline(model, data_split: Split, preprocess: str, seed: int, options=None):
    from sklearn.base import clone

    from nbml.preprocess import build_preprocessor, make_pipeline, parse_select

    n_features = None
    if options is not None and options.select and parse_select(options.select)[0] in ("rfe", "mi"):
        # K is checked against the features preprocessing makes (one-hot columns included)
        pre = build_preprocessor(data_split.X_train, options, data_split.task, seed)
        n_features = pre.fit(data_split.X_train, data_split.y_train).transform(data_split.X_train.head(1)).shape[1]
    return make_pipeline(seed_model(clone(model), seed), data_split.X_train, preprocess, options,
                         data_split.task, seed, n_features)


STANDARD_MODELS = {
    "classification": {
        "lr": ("sklearn.linear_model", "LogisticRegression", {"max_iter": 1000}),
        "ridge": ("sklearn.linear_model", "RidgeClassifier", {}),
        "svm": ("sklearn.svm", "SVC", {}),
        "knn": ("sklearn.neighbors", "KNeighborsClassifier", {}),
        "tree": ("sklearn.tree", "DecisionTreeClassifier", {}),
        "rf": ("sklearn.ensemble", "RandomForestClassifier", {"n_estimators": 100}),
        "gb": ("sklearn.ensemble", "GradientBoostingClassifier", {}),
        "nb": ("sklearn.naive_bayes", "GaussianNB", {}),
    },
    "regression": {
        "lr": ("sklearn.linear_model", "LinearRegression", {}),
        "ridge": ("sklearn.linear_model", "Ridge", {}),
        "lasso": ("sklearn.linear_model", "Lasso", {"alpha": 0.1}),
        "svm": ("sklearn.svm", "SVR", {}),
        "knn": ("sklearn.neighbors", "KNeighborsRegressor", {}),
        "tree": ("sklearn.tree", "DecisionTreeRegressor", {}),
        "rf": ("sklearn.ensemble", "RandomForestRegressor", {"n_estimators": 100}),
        "gb": ("sklearn.ensemble", "GradientBoostingRegressor", {}),
    },
}


def standard_model(short: str, task: str):
    from importlib import import_module

    table = STANDARD_MODELS.get(task, {})
    if short not in table:
        raise ValueError(f"model {short!r} is not a standard {task} model; choose from {', '.join(table)}")
    module, cls, params = table[short]
    return getattr(import_module(module), cls)(**params)


def compare(*results, models=None, cv=5, split=None, seed=None, sort_by=None, labels=None) -> pd.DataFrame:
    """A leaderboard: validation (or CV) metrics and fit time of several results, best
    first (by the task's primary metric, or ``sort_by``). ``models="rf,lr,svm"`` (or
    ``"all"``) first trains those standard models with ``cv``-fold CV on the active split;
    their results are in ``table.attrs["results"]``. ``labels``: row names for ``results``
    (default: the model names)."""
    results = list(results)
    trained = {}
    if models:
        data_split = resolve_split(split)
        names = list(STANDARD_MODELS.get(data_split.task, {})) if models == "all" else \
            [m.strip() for m in (models.split(",") if isinstance(models, str) else models) if m.strip()]
        estimators = [standard_model(m, data_split.task) for m in names]  # all names checked first
        for short, est in zip(names, estimators):
            trained[short] = train(est, split=data_split, cv=cv, seed=seed)
        results += list(trained.values())
    if not results:
        raise ValueError("compare needs TrainResults or models='rf,lr,…'")
    for r in results:
        if not isinstance(r, TrainResult):
            raise TypeError(f"compare takes TrainResults; got {type(r).__name__}")
    tasks = {r.task for r in results}
    if len(tasks) > 1:
        raise ValueError(f"results of different tasks ({', '.join(sorted(tasks))}) cannot be compared")
    task = tasks.pop()
    names = list(labels or []) + [r.name for r in results][len(labels or []):]
    table = pd.DataFrame([r.metrics for r in results], index=unique_names(names))
    table.index.name = "model"
    table["fit_time"] = [r.fit_time for r in results]
    table["scored_by"] = [f"{len(r.cv)}-fold CV" if r.cv is not None else "validation" for r in results]
    key = sort_by or _metrics.PRIMARY[task]
    if key not in table.columns:
        raise ValueError(f"sort_by={key!r} is not a column; use one of {', '.join(table.columns)}")
    table = table.sort_values(key, ascending=not _metrics.greater_is_better(key))
    table.attrs["results"] = trained
    return table


def unique_names(names, suffix="{name} ({n})"):
    """Names made distinct by numbering repeats: the second ``X`` becomes ``X (2)``."""
    seen, out = {}, []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else suffix.format(name=name, n=seen[name]))
    return out
