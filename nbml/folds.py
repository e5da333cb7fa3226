"""The fold engine: the one loop that fits a recipe on some rows and scores it on others.

Every route that reports a score — ``train`` (holdout and CV), ``compare``, ``tune``'s
trials, ``ensemble``, the panel's refits, ``label_issues`` — fits and scores through
``score()`` (or one ``Fold`` of it), so the rows a model is scored on are never rows it was
fit on, and weights, seeds and fit parameters travel the same way on every route.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nbml import metrics as _metrics
from nbml.errors import NbmlError


def fit_model(model, X, y, task, fit_params=None):
    X = guarded(model, X)
    if task == "clustering":
        model.fit(X, **(fit_params or {}))
    else:
        model.fit(X, y, **(fit_params or {}))
    return model


def guarded(model, X):
    """The rows a model may not change: a model that edits ``X`` in place (its own business)
    must not change the split, a fold other trials reuse or an earlier result's rows. nbml's
    preprocessing never edits its input, so only a model without it gets a copy (a DataFrame)
    or a read-only view (an array, which costs nothing)."""
    steps = getattr(model, "steps", None)
    if steps and steps[0][0] == "preprocess":
        return X
    if isinstance(X, np.ndarray):
        view = X.view()
        view.flags.writeable = False
        return view
    return X.copy() if isinstance(X, pd.DataFrame) else X


class Fold:
    """One fit-and-score unit: ``fit(model)`` fits on the training rows, ``held_out(model)``
    predicts the held-out rows (weighted by a coreset's weights), ``score(predictions)`` is the
    metric of ``metric``, ``rows(model)`` the held-out rows as the final estimator sees them.
    ``prepared``: the rows are already preprocessed (only the final estimator is fit)."""

    def __init__(self, X_train, y_train, X_test, y_test, *, task, seed=0, fit_params=None, weights=None,
                 metric=None, prepared=False, label="validation"):
        self.X_train, self.y_train, self.X_test, self.y_true = X_train, y_train, X_test, y_test
        self.task, self.seed, self.fit_params, self.weights = task, seed, fit_params or {}, weights
        self.metric, self.prepared, self.label = metric, prepared, label
        self.added_metrics = _metrics.added()  # nbml.add_metric's, by value: workers score them too

    def __setstate__(self, state):  # unpickled in a worker process (joblib, Dask): take the added metrics along
        self.__dict__.update(state)
        _metrics.carry_in(state.get("added_metrics"))

    def fit(self, model, **extra):
        return fit_model(model, self.X_train, self.y_train, self.task, dict(self.fit_params, **extra))

    def held_out(self, model):
        out = predict_once(model, self.X_test, self.task, self.y_true, self.label)
        if self.weights is not None:  # a coreset's rows stand for many: weigh their scores
            out.weights = self.weights
        return out

    def train_predictions(self, model):
        return predict_once(model, self.X_train, self.task, self.y_train, "train")

    def score(self, predictions) -> float:
        if self.weights is not None:
            predictions.weights = self.weights
        return float(predictions.metrics(self.seed).get(self.metric, math.nan))

    def rows(self, model):
        """The held-out rows as the final estimator sees them."""
        if self.prepared:
            return self.X_test
        steps = getattr(model, "steps", None)
        return model[:-1].transform(self.X_test) if steps and len(steps) > 1 else self.X_test


def predict_once(model, X, task, y, label="validation"):
    """``predict`` with the preprocessing applied once (not once for labels, again for probabilities)."""
    from nbml.training import predict

    steps = getattr(model, "steps", None)
    if task != "clustering" and steps and len(steps) > 1 and not hasattr(model, "drop_missing"):
        return predict(steps[-1][1], model[:-1].transform(X), task, label=label, y=y)
    return predict(model, X, task, label=label, y=y)


# -- which rows ----------------------------------------------------------------------------

def make_folds(task: str, k: int, seed: int):
    from sklearn.model_selection import KFold, StratifiedKFold

    cls = StratifiedKFold if task == "classification" else KFold
    return cls(n_splits=k, shuffle=True, random_state=seed)


def check_folds(k, X, y, task):
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
        raise NbmlError(f"cv={k!r} is not a fold count; use an integer of at least 2, e.g. cv=5")
    if len(X) < k:
        raise NbmlError(f"cv={k} needs at least {k} rows but train+val has {len(X)}; use fewer folds")
    if task == "classification":
        counts = y.value_counts()
        if counts.min() < k:
            raise NbmlError(f"class {counts.idxmin()!r} has {counts.min()} row(s) in train+val, fewer than "
                            f"cv={k} folds (stratified CV needs classes × folds = {len(counts)} × {k} at "
                            f"least, one per class per fold): use cv={max(2, counts.min())} or fewer")


@dataclass(kw_only=True)
class Rows:
    """Rows ``X``/``y`` and the ``(train, held-out)`` position pairs cut from them;
    ``label`` names the held-out part ('validation' or 'out-of-fold'). ``y_scored``: the labels
    held-out rows are scored against when they differ from those fit on (cleaned labels are
    fit on; a score stays against the labels as given)."""

    X: pd.DataFrame
    y: pd.Series | None
    pairs: list
    label: str
    y_scored: pd.Series | None = None

    @property
    def truth(self) -> pd.Series | None:
        return self.y if self.y_scored is None else self.y_scored

    @property
    def is_cv(self) -> bool:
        return self.label == "out-of-fold"


def rows_of(recipe, cv=None, within_train=False) -> Rows:
    """Holdout (fit on train, score on validation) or ``cv``-fold CV on train+val — on a
    coreset, or ``within_train``, CV over the training rows alone. A fit row that is also a
    scored row is refused."""
    split, task = recipe.split, recipe.task
    if cv is not None:
        train_only = within_train or recipe.weights is not None
        X, y = (split.X_train, split.y_train) if train_only else (split.X_trainval, split.y_trainval)
        check_folds(cv, X, y, task)
        pairs = list(make_folds(task, cv, recipe.seed).split(X, y if task == "classification" else None))
        return Rows(X=X, y=y, pairs=pairs, label="out-of-fold")
    if len(split.X_val) == 0:
        raise NbmlError("the split has no validation rows: use cv=K, or split with val > 0")
    if recipe.weights is not None:
        _refuse_overlap(split.X_train.index, split.X_val.index, "validation")
    X, y = split.X_trainval, split.y_trainval
    n = len(split.X_train)
    return Rows(X=X, y=y, pairs=[(np.arange(n), np.arange(n, len(X)))], label="validation")


def _refuse_overlap(fit_rows, scored_rows, part):
    both = fit_rows.intersection(scored_rows)
    if len(both):
        raise NbmlError(f"the coreset holds {len(both)} {part} row(s) of the active split, so scores on them would "
                        f"not be held out: build the coreset from the training rows (%coreset of the active "
                        f"split's frame does) or use cv=K")


def folds_of(recipe, rows: Rows, metric=None, pairs=None) -> list:
    """One ``Fold`` per pair of ``rows`` (the recipe's fit parameters and weights sliced to it)."""
    out = []
    for train_idx, test_idx in (rows.pairs if pairs is None else pairs):
        X_tr, X_te = rows.X.iloc[train_idx], rows.X.iloc[test_idx]
        y_tr = None if rows.y is None else rows.y.iloc[train_idx]
        y_te = None if rows.truth is None else rows.truth.iloc[test_idx]
        weights = None
        if recipe.weights is not None and rows.is_cv:  # weighted CV on a coreset: weighted scores too
            weights = recipe.weights.loc[X_te.index].to_numpy()
        out.append(Fold(X_tr, y_tr, X_te, y_te, task=recipe.task, seed=recipe.seed, metric=metric,
                        fit_params=recipe.fit_params_for(X_tr.index), weights=weights, label=rows.label))
    return out


# -- fitting and scoring -------------------------------------------------------------------

PROGRESS_AFTER = 5.0  # seconds: work that takes longer shows a progress bar (with its estimate)


def progress(items, desc: str):
    """``items``, behind one tqdm.auto bar (a widget in a notebook, text elsewhere) that appears only
    once the work has taken ``PROGRESS_AFTER`` seconds, with tqdm's estimate of the rest."""
    if len(items) < 2:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="fit", delay=PROGRESS_AFTER, leave=False)


@dataclass(kw_only=True)
class FoldOutcome:
    model: object
    held_out: object  # Predictions
    metrics: dict
    train_metrics: dict
    fit_time: float
    score_time: float


def run_fold(pipeline, fold: Fold, train_scores: bool = True, fit=None) -> FoldOutcome:
    """Fit a fresh copy of ``pipeline`` on the fold's training rows and score its held-out rows
    (and its training rows, for the over/underfitting words). ``fit(model, fold)``: another
    way to fit (the torch estimators' loss curve with a validation side)."""
    from sklearn.base import clone

    model = clone(pipeline)
    start = time.perf_counter()
    if fit is None:
        fold.fit(model)
    else:
        fit(model, fold)
    fit_time = time.perf_counter() - start
    start = time.perf_counter()
    held_out = fold.held_out(model)
    metrics = held_out.metrics(fold.seed)
    train = fold.train_predictions(model).metrics(fold.seed) if train_scores else {}
    if fold.metric is not None:  # a scorer name asked for is computed now, so that it becomes a column
        for values in (metrics, train):
            if hasattr(values, "get"):
                values.get(fold.metric)
    return FoldOutcome(model=model, held_out=held_out, metrics=metrics, train_metrics=train, fit_time=fit_time,
                       score_time=time.perf_counter() - start)


@dataclass(kw_only=True)
class Scores:
    """What ``score`` returns: ``table`` (one row per fold: metrics, ``train_*``, times),
    ``predictions`` (of the held-out rows: out-of-fold for CV), ``models`` (fitted per fold)."""

    table: pd.DataFrame
    predictions: object
    models: list

    def mean(self, prefix: str = "") -> dict:
        names = [c for c in self.table.columns if not c.startswith("train_") and not c.endswith("_time")]
        return {m: float(self.table[f"{prefix}{m}"].mean()) for m in names if f"{prefix}{m}" in self.table}


def score(recipe, rows_or_folds=None, params=None, n_jobs=None, train_scores=True, fit=None, metric=None) -> Scores:
    """Fit ``recipe`` (with ``params`` set) on each fold's training rows and score its held-out
    rows. ``rows_or_folds``: None (holdout: train → validation), an int K (K-fold CV on
    train+val) or ``Rows``. ``metric``: a scorer name to compute beside the task's own metrics."""
    return score_many([recipe], rows_or_folds, params, n_jobs, train_scores, fit, metric)[0]


def score_many(recipes, rows_or_folds=None, params=None, n_jobs=None, train_scores=True, fit=None,
               metric=None) -> list:
    """``score`` of several recipes, every (recipe, fold) pair one task: with ``n_jobs``, folds
    and models run in parallel together."""
    plans = []
    for recipe in recipes:
        rows = rows_or_folds if isinstance(rows_or_folds, Rows) else rows_of(recipe, rows_or_folds)
        plans.append((recipe, rows, recipe.model(params), folds_of(recipe, rows, metric)))
    tasks = [(pipeline, fold) for _, _, pipeline, folds in plans for fold in folds]
    if n_jobs in (None, 1) or len(tasks) == 1:
        names = ", ".join(dict.fromkeys(r.name for r in recipes))
        outcomes = [run_fold(pipeline, fold, train_scores, fit)
                    for pipeline, fold in progress(tasks, f"fitting {names}: {len(tasks)} folds")]
    else:
        from joblib import Parallel, delayed

        outcomes = Parallel(n_jobs=n_jobs)(delayed(run_fold)(pipeline, fold, train_scores, fit)
                                           for pipeline, fold in tasks)
    out, start = [], 0
    for recipe, rows, _, folds in plans:
        mine, start = outcomes[start:start + len(folds)], start + len(folds)
        out.append(_scores(recipe, rows, mine))
    return out


def _scores(recipe, rows, outcomes) -> Scores:
    return scored(recipe.task, rows, outcomes)


def scored(task, rows, outcomes) -> Scores:
    """The ``Scores`` of fold outcomes of ``rows`` (``run_fold``'s, in the order of ``rows.pairs``)."""
    table = pd.DataFrame([pd.Series({**o.metrics, **{f"train_{m}": v for m, v in o.train_metrics.items()},
                                     "fit_time": o.fit_time, "score_time": o.score_time}, name=i)
                          for i, o in enumerate(outcomes, 1)])
    table.index.name = "fold"
    predictions = outcomes[0].held_out if len(outcomes) == 1 else _out_of_fold(rows, outcomes, task)
    return Scores(table=table, predictions=predictions, models=[o.model for o in outcomes])


def _out_of_fold(rows: Rows, outcomes, task):
    from nbml.training import Predictions

    if task == "clustering":
        return None  # cluster ids of different folds are not comparable
    order = np.argsort(np.concatenate([te for _, te in rows.pairs]))
    preds = [o.held_out for o in outcomes]

    def stack(attr):
        parts = [getattr(p, attr) for p in preds]
        if any(part is None for part in parts) or len({np.shape(part)[1:] for part in parts}) != 1:
            return None
        return np.concatenate(parts)[order]

    return Predictions(task, np.asarray(rows.truth), np.concatenate([p.y_pred for p in preds])[order], preds[0].classes,
                       stack("proba"), stack("scores"), label="out-of-fold", weights=stack("weights"))
