"""``train()``: fit a model on the active split, score it, cross-validate it.

The model is wrapped in the preprocessing pipeline (``nbml.preprocess``) and every fold
fits its own copy, so preprocessing never sees the rows it is scored on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nbml import metrics as _metrics
from nbml.data import Split
from nbml.errors import FitError, NbmlError, NoActiveSplit, describe_error  # noqa: F401

# words used when train and validation differ by more than this (primary metric)
GAP_WARNING = {"accuracy": 0.05, "r2": 0.10, "silhouette": 0.10}


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


# model inspection lives beside the recipe; these names stay importable from here
from nbml.recipe import (  # noqa: E402,F401
    check_model,
    coreset_split,
    final_estimator,
    is_coreset,
    is_torch_estimator,
    is_torch_module,
    make_model_pipeline,
    model_task,
    prepare,
    resolve_split,
    seed_model,
)
from nbml.folds import check_folds, fit_model as _fit, make_folds  # noqa: E402,F401


# -- fitting and scoring -----------------------------------------------------------------

def predict(model, X, task: str, label: str = "validation", y=None) -> Predictions:
    """Predictions (and probabilities or decision scores where the model has them)."""
    if task == "clustering":
        Xt = transformed(model, X)
        labels = final_estimator(model).predict(Xt) if hasattr(final_estimator(model), "predict") \
            else final_estimator(model).labels_
        return Predictions(task, None, np.asarray(labels), X=Xt, label=label)
    if isinstance(X, pd.DataFrame):  # a model's predict may not edit the split's rows either
        from nbml.folds import guarded

        X = guarded(model, X)
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


# -- the result ------------------------------------------------------------------------

# what ``fitted_on`` may say, and the parts of the split each one includes
FITTED_ON = {"train": ("train",), "train+val": ("train", "val"), "coreset": ("train",),
             "all": ("train", "val", "test")}


@dataclass(kw_only=True, repr=False, eq=False)
class TrainResult:
    """A trained model with its validation (or CV) metrics, the recipe it was fit with and
    ``fitted_on``: which rows its model was fit on ("train", "train+val", "coreset", "all").

    The rule, on every route: the metrics come from models that never saw the rows they
    score, and ``model`` is fit on the training rows (a coreset's rows for a coreset), so
    ``evaluate(result, on="val")`` is honest. With CV that fit happens when ``model`` is first
    used: models you only compare never cost it."""

    task: str
    metrics: dict
    train_metrics: dict
    split: Split
    name: str
    recipe: object  # nbml.recipe.Recipe
    predictions: Predictions | None = None  # validation (or out-of-fold) predictions behind the plots
    cv: pd.DataFrame | None = None
    params: dict = field(default_factory=dict)
    fit_time: float = 0.0
    fitted_model: object = None
    fitted_on: str = "train"
    comparison: pd.DataFrame | None = None  # ensembles: member vs ensemble on the same folds
    note: str = ""

    @property
    def model(self):
        """The fitted model (fit on ``fitted_on`` rows when first asked for)."""
        if self.fitted_model is None:
            rows = self.split.X_train
            self.fitted_model = _fit(self.recipe.model(), rows, self.split.y_train, self.task,
                                     self.recipe.fit_params_for(rows.index))
        return self.fitted_model

    # the recipe's parts, by the names results have always had
    pipeline = property(lambda self: self.recipe.pipeline, doc="The unfitted pipeline (preprocessing + model).")
    fit_params = property(lambda self: self.recipe.fit_params)
    seed = property(lambda self: self.recipe.seed)
    preprocess = property(lambda self: self.recipe.preprocess)
    options = property(lambda self: self.recipe.options)
    _pipeline = pipeline
    _fit_params = fit_params
    _model = property(lambda self: self.fitted_model)

    def held_out_parts(self) -> tuple:
        """The parts of the split this result's model never saw."""
        seen = FITTED_ON.get(self.fitted_on, ("train", "val", "test"))
        return tuple(p for p in ("val", "test") if p not in seen)

    @property
    def features(self) -> pd.DataFrame | None:
        """The features after preprocessing, which were kept and why (selector scores or
        ranking), from the fitted model (fitting it first when it was scored by CV, and saying so)."""
        from nbml.preprocess import feature_report

        if self.fitted_model is None:
            import warnings

            warnings.warn(f"fitting {self.name} on the {len(self.split.X_train)} training rows to list its features "
                          f"(a cross-validated result's model is fit when first used)", stacklevel=2)
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
            train = self.cv.get(f"train_{m}", pd.Series([math.nan]))  # compare skips training-row scores
            rows[m] = {"train": train.mean(), "train ±": 2 * train.std(ddof=0),
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
    recipe = prepare(model, split, seed, preprocess, data=data, target=target, fit_params=fit_params,
                     torch_options=torch_options, impute=impute, scale=scale, encode=encode, outliers=outliers,
                     balance=balance, interactions=interactions, poly=poly, select=select)
    return _recorded(fit_recipe(recipe, cv=cv, n_jobs=n_jobs))


def fit_recipe(recipe, cv=None, n_jobs=None, rows=None, metric=None) -> TrainResult:
    """Score ``recipe`` through the fold engine (holdout, or ``cv``-fold CV; ``rows``: other
    ``nbml.folds.Rows`` of the same kind) as a TrainResult; ``metric``: a scorer name to
    compute beside the task's own metrics."""
    return fit_recipes([recipe], cv, n_jobs, rows, metric)[0]


def fit_recipes(recipes, cv=None, n_jobs=None, rows=None, metric=None, train_scores=True) -> list:
    """``fit_recipe`` of several recipes, folds and models in parallel together with ``n_jobs``;
    ``train_scores=False`` skips scoring the training rows (no ``train_metrics``, no diagnosis)."""
    from nbml.folds import score_many

    fit = _holdout_fit(recipes[0]) if cv is None and len(recipes) == 1 else None
    try:
        scored = score_many(recipes, rows if rows is not None else cv, n_jobs=n_jobs, fit=fit, metric=metric,
                            train_scores=train_scores)
    except (ValueError, TypeError, ArithmeticError, IndexError, KeyError) as exc:
        if isinstance(exc, NbmlError):
            raise
        names = ", ".join(dict.fromkeys(r.name for r in recipes))
        raise FitError(f"{names} failed: {describe_error(exc)}") from exc
    return [TrainResult(task=recipe.task, metrics=scores.mean(), train_metrics=scores.mean("train_"),
                        cv=scores.table if cv is not None else None, split=recipe.split, name=recipe.name,
                        recipe=recipe, params=_own_params(recipe.pipeline), predictions=scores.predictions,
                        fit_time=float(scores.table["fit_time"].sum()),
                        fitted_model=scores.models[0] if cv is None else None,
                        fitted_on="coreset" if recipe.weights is not None else "train")
            for recipe, scores in zip(recipes, scored)]


def _own_params(pipeline) -> dict:
    estimator = final_estimator(pipeline)
    return estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}


def _holdout_fit(recipe):
    """Torch estimators fit with the validation rows beside them, for the loss curve's
    validation side — only where those rows steer nothing: with early stopping (``patience``,
    best weights kept) or a plateau scheduler they would pick the epoch the validation score is
    then reported for, so the estimator holds out its own slice of the training rows instead.
    None: a plain fit."""
    pipeline = recipe.pipeline
    if not is_torch_estimator(pipeline) or any(getattr(pipeline, a, None) for a in
                                               ("drop_missing", "drop_outliers", "balance")):
        return None
    estimator = final_estimator(pipeline)
    if estimator.patience is not None or str(estimator.scheduler or "").startswith("plateau"):
        return None
    from nbml.torch.estimators import fit_with_validation

    def fit(model, fold):
        fit_with_validation(model, fold.X_train, fold.y_train, fold.X_test, fold.y_true, **fold.fit_params)
    return fit


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

    if not (is_torch_module(model) or is_torch_estimator(model)):
        raise TypeError(f"the learning-rate finder needs a torch model; got {type(model).__name__}")
    recipe = prepare(model, split, seed, torch_options=torch_options)
    data_split, pipeline = recipe.split, recipe.pipeline
    X, y = data_split.X_train, data_split.y_train
    if getattr(pipeline, "steps", None):
        X = clone(pipeline[:-1]).fit(X, y).transform(X)
        estimator = pipeline.steps[-1][1]
    else:
        estimator = pipeline
    return lr_find(estimator, X, y, start=start, end=end, steps=steps, task=data_split.task)


# the families by short name: one table, in nbml.standard
from nbml.standard import STANDARD_MODELS, families, standard_model  # noqa: E402,F401


def compare(*results, models=None, cv=5, split=None, seed=None, sort_by=None, labels=None, n_jobs=None,
            train_scores=False) -> pd.DataFrame:
    """A leaderboard: validation (or CV) metrics and fit time of several results, best
    first (by the task's primary metric, or ``sort_by``). ``models="rf,lr,svm"`` (or
    ``"all"``) first trains those standard models with ``cv``-fold CV on the active split;
    their results are in ``table.attrs["results"]``. ``labels``: row names for ``results``
    (default: the model names). ``n_jobs``: folds and models fit in parallel together.
    ``train_scores=True`` also scores the models it trains on their training rows (for their
    over/underfitting words); a leaderboard ranks by held-out scores, so by default it does not."""
    results = list(results)
    trained = {}
    if models:
        data_split = resolve_split(split)
        names = list(families(data_split.task)) if models == "all" else \
            [m.strip() for m in (models.split(",") if isinstance(models, str) else models) if m.strip()]
        recipes = [prepare(standard_model(m, data_split.task), data_split, seed) for m in names]  # names checked first
        for short, result in zip(names, fit_recipes(recipes, cv=cv, n_jobs=n_jobs, train_scores=train_scores)):
            trained[short] = _recorded(result)
        results += list(trained.values())
    if not results:
        raise NbmlError("compare needs TrainResults or models='rf,lr,…'")
    for r in results:
        if not isinstance(r, TrainResult):
            raise TypeError(f"compare takes TrainResults; got {type(r).__name__}")
    tasks = {r.task for r in results}
    if len(tasks) > 1:
        raise NbmlError(f"results of different tasks ({', '.join(sorted(tasks))}) cannot be compared")
    task = tasks.pop()
    names = list(labels or []) + [r.name for r in results][len(labels or []):]
    table = pd.DataFrame([r.metrics for r in results], index=unique_names(names))
    table.index.name = "model"
    key = _metrics.check_metric(sort_by, task) if sort_by not in table.columns else sort_by
    if key not in table.columns:  # a scorer name: from the held-out (or out-of-fold) predictions
        table[key] = [r.predictions.metrics(r.seed).get(key) if r.predictions is not None else math.nan
                      for r in results]
    table["probabilities"] = ["yes" if r.predictions is None or r.predictions.proba is not None else "no"
                              for r in results]
    table["fit_time"] = [r.fit_time for r in results]
    table["scored_by"] = [f"{len(r.cv)}-fold CV" if r.cv is not None else "validation" for r in results]
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
