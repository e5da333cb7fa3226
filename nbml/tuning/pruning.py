"""Pruning: Optuna pruners by name, and the reporters that feed them intermediate scores.

Iterative models report as they train, on the first fold's held-out rows: nbml's torch
estimators per epoch (through their ``callbacks`` parameter), gradient boosting every few
stages (through ``fit(monitor=...)``), LightGBM, XGBoost and CatBoost every few boosting rounds
through their own callback APIs (``nbml.boost.RoundFit``), AdaBoost every few stages of its
staged predictions,
and models whose ``max_iter`` bounds a loop of epochs or boosting iterations (SGD-based
models, Perceptron, passive-aggressive, MLP, HistGradientBoosting) after 1, 3, 9, 27, ...
iterations. Every other model reports the running mean score after each CV fold. A pruner
then stops trials whose intermediate scores trail the others'.

A trial that is not pruned ends with exactly the model a plain ``fit`` gives: the monitor
and the staged predictions only watch the one fit, and a fit with ``max_iter=k`` is the
first k iterations of the full fit (same seed, same shuffles), so the last budget is the
full fit itself (or an earlier one that already converged).
"""
from __future__ import annotations

import math

import numpy as np

from nbml.errors import NbmlError

# the torch estimators' per-epoch report is a training callback, the same class users pass as
# ``OptunaPruning``; nbml.torch.callbacks imports no torch
from nbml.torch.callbacks import EpochReporter  # noqa: F401

PRUNERS = ("median", "halving", "hyperband")


def check_prune(prune) -> str | None:
    if prune in (None, False, "none", ""):
        return None
    if prune is True:
        return "median"
    if not isinstance(prune, str) and _is_optuna_pruner(prune):
        return prune  # the user's own pruner object, as it is
    if prune not in PRUNERS:
        raise NbmlError(f"prune={prune!r} is not a pruner; use one of {', '.join(PRUNERS)} (or None)")
    return prune


def _is_optuna_pruner(obj) -> bool:
    import optuna

    return isinstance(obj, optuna.pruners.BasePruner)


def make_pruner(prune, max_resource: int | None = None):
    import optuna

    if isinstance(prune, optuna.pruners.BasePruner):
        return prune
    if prune is None:
        return optuna.pruners.NopPruner()
    if prune == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if prune == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_resource or "auto", reduction_factor=3)


def is_epoch_model(estimator) -> bool:
    """Models that train in epochs and call ``callbacks`` after each (nbml's torch estimators)."""
    if not hasattr(estimator, "get_params"):
        return False
    params = estimator.get_params(deep=False)
    return "callbacks" in params and "epochs" in params


# -- models that train in iterations (not nbml's torch estimators) ---------------------------

# at most about this many intermediate scores per trial from a staged model
STAGE_REPORTS = 10
# iteration budgets grow by this factor: 1, 3, 9, 27, ... (the rungs of the halving and
# hyperband pruners, whose reduction factor is 3), so a trial that survives costs its first
# fold about 1.5x a plain fit
BUDGET_FACTOR = 3


def iteration_mode(estimator, task: str) -> tuple | None:
    """How ``estimator`` can report while it trains: ``("monitor", "monitor")`` (gradient
    boosting calls a monitor after each stage), ``("staged", "n_estimators")`` (AdaBoost:
    staged predictions of the fitted model), ``("budget", "max_iter")`` (a loop of epochs or
    iterations bounded by ``max_iter``), or None."""
    if task == "clustering":
        return None
    if not hasattr(estimator, "get_params"):
        return None
    from nbml.boost import library_of

    library = library_of(estimator)
    if library is not None:  # the library calls back after each boosting round
        return ("rounds", "iterations" if library == "catboost" else "n_estimators")
    params = estimator.get_params(deep=False)
    staged = hasattr(estimator, "staged_predict") and "n_estimators" in params
    if staged and _takes_monitor(estimator):
        return ("monitor", "monitor")
    if staged:
        return ("staged", "n_estimators")
    iterative = hasattr(estimator, "partial_fit") or type(estimator).__name__.startswith("HistGradientBoosting")
    if iterative and isinstance(params.get("max_iter"), (int, np.integer)) and params["max_iter"] >= 1:
        return ("budget", "max_iter")
    return None


def _takes_monitor(estimator) -> bool:
    import inspect

    try:
        return "monitor" in inspect.signature(estimator.fit).parameters
    except (TypeError, ValueError):
        return False


def budgets(final: int) -> list:
    """Iteration budgets up to ``final``: 1, 3, 9, ... while a third of ``final`` is not
    passed, then ``final`` itself (``final=100``: 1, 3, 9, 27, 100)."""
    out, budget = [], 1
    while budget * BUDGET_FACTOR <= final:
        out.append(budget)
        budget *= BUDGET_FACTOR
    return out + [final]


class IterationReporter:
    """Fits one fold of an iterative model while reporting its held-out score to
    ``report(step, value)`` (which raises ``optuna.TrialPruned`` to stop the trial).

    ``run(model, fold)`` with ``fold`` one fold's rows (``nbml.tuning.search._Fold``). Returns the fitted model and its
    held-out predictions. ``key`` is the model's parameter (pipeline prefix included).
    """

    def __init__(self, report, mode: str, key: str, task: str):
        self.report, self.mode, self.key, self.task = report, mode, key, task
        self.steps = 0  # iterations trained (all budgets together)

    def run(self, model, fold):
        if self.mode == "budget":
            return self._budgets(model, fold)
        if self.mode == "rounds":
            return self._rounds(model, fold)
        if self.mode == "monitor":
            return self._monitored(model, fold)
        fold.fit(model)
        predictions = fold.held_out(model)
        estimator = _final(model)
        total = len(estimator.estimators_)
        self.steps += total  # fit in full: the staged predictions only spare the other folds
        every = max(1, math.ceil(total / STAGE_REPORTS))
        for step, output in enumerate(_staged(estimator, fold.rows(model), self.task), start=1):
            if step % every == 0 or step == total:
                self.report(step, fold.score(self._predictions(estimator, output, fold.y_true)))
        return model, predictions

    def _budgets(self, model, fold):
        from sklearn.base import clone

        final = model.get_params()[self.key]
        for budget in budgets(int(final)):
            step_model = model if budget == final else clone(model).set_params(**{self.key: budget})
            fold.fit(step_model)
            predictions = fold.held_out(step_model)
            n_iter = getattr(_final(step_model), "n_iter_", None)
            self.steps += int(np.max(n_iter)) if n_iter is not None else budget
            # a fit that stopped before its budget (converged: tol, early stopping) is the
            # model every larger budget gives as well
            converged = n_iter is not None and np.max(n_iter) < budget
            self.report(budget, fold.score(predictions))
            if budget == final or converged:
                return step_model, predictions
        return model, predictions  # not reached: the last budget is ``final``

    def _monitored(self, model, fold):
        state = {"stages": None}
        total = int(model.get_params()[self.key.replace("monitor", "n_estimators")])
        every = max(1, math.ceil(total / STAGE_REPORTS))

        def monitor(i, estimator, _locals):
            if state["stages"] is None:  # lazy: each next() adds the stage just fit
                state["stages"] = _staged(estimator, fold.rows(model), self.task)
            output = next(state["stages"])
            self.steps += 1
            step = i + 1
            if step % every == 0 or step == total:
                self.report(step, fold.score(self._predictions(estimator, output, fold.y_true)))
            return False

        fold.fit(model, **{self.key: monitor})
        return model, fold.held_out(model)

    def _rounds(self, model, fold):
        """A LightGBM, XGBoost or CatBoost fit whose rounds report through the library's callbacks
        on the fold's held-out rows (as the model sees them: preprocessed by the pipeline's own,
        by then fitted, steps)."""
        from nbml.boost import RoundFit, total_rounds

        estimator = _final(model)
        every = max(1, math.ceil(total_rounds(estimator) / STAGE_REPORTS))

        def on_round(step, output, classes):
            self.steps = step
            self.report(step, fold.score(self._predictions(estimator, output, fold.y_true, classes)))

        def on_metric(step, value):
            self.steps = step
            self.report(step, value)

        def watched():
            return RoundFit(estimator, fold.rows(model), fold.y_true, every, on_round,
                            on_metric if fold.weights is None else None, fold.metric)

        steps = getattr(model, "steps", None)
        if not steps:
            fold.fit(_Watched(watched))
            return model, fold.held_out(model)
        name = steps[-1][0]
        steps[-1] = (name, _Watched(watched))
        try:
            fold.fit(model)
        finally:
            steps[-1] = (name, estimator)
        return model, fold.held_out(model)

    def _predictions(self, estimator, output, y_true, classes=None):
        from nbml.training import Predictions

        if self.task != "classification":
            return Predictions(self.task, y_true, np.asarray(output))
        classes = np.asarray(estimator.classes_ if classes is None else classes)
        return Predictions(self.task, y_true, classes.take(np.argmax(output, axis=1)), classes, np.asarray(output))

    def __deepcopy__(self, memo):  # clone() must not copy the trial behind ``report``
        return self


class _Watched:
    """A pipeline's last step while a boosting model fits: when the pipeline reaches it, the steps
    before it are fitted, so the held-out rows can be prepared for the model's round reports."""

    def __init__(self, make_fit):
        self.make_fit = make_fit

    def fit(self, X, y=None, **fit_params):
        self.make_fit().fit(X, y, **fit_params)
        return self


def _final(model):
    from nbml.training import final_estimator

    return final_estimator(model)


def _staged(estimator, rows, task):
    if task == "classification" and hasattr(estimator, "staged_predict_proba"):
        return estimator.staged_predict_proba(rows)
    return estimator.staged_predict(rows)
