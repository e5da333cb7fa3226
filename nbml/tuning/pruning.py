"""Pruning: Optuna pruners by name, and the reporters that feed them intermediate scores.

Iterative models report per epoch (nbml's torch estimators, through their ``callbacks``
parameter); every other model reports the running mean score after each CV fold. A pruner
then stops trials whose intermediate scores trail the others'.
"""
from __future__ import annotations

import math

PRUNERS = ("median", "halving", "hyperband")


def check_prune(prune) -> str | None:
    if prune in (None, False, "none", ""):
        return None
    if prune is True:
        return "median"
    if prune not in PRUNERS:
        raise ValueError(f"prune={prune!r} is not a pruner; use one of {', '.join(PRUNERS)} (or None)")
    return prune


def make_pruner(prune: str | None, max_resource: int | None = None):
    import optuna

    if prune is None:
        return optuna.pruners.NopPruner()
    if prune == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if prune == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_resource or "auto", reduction_factor=3)


def is_epoch_model(estimator) -> bool:
    """Models that train in epochs and call ``callbacks`` after each (nbml's torch estimators)."""
    try:
        params = estimator.get_params(deep=False)
    except Exception:
        return False
    return "callbacks" in params and "epochs" in params


class EpochReporter:
    """Torch-estimator callback: counts epochs and, on the first fold, reports the epoch's
    validation score to ``report(step, value)`` (which raises ``optuna.TrialPruned`` to stop)."""

    def __init__(self, report=None, metric: str = "accuracy", greater: bool = True):
        self.report = report
        self.metric = metric
        self.greater = greater
        self.epochs = 0
        self.active = True

    def on_epoch_end(self, estimator, history):
        self.epochs += 1
        if self.report is None or not self.active or history is None or len(history) == 0:
            return
        last = history.iloc[-1]
        column = f"val_{self.metric}"
        if self.greater:
            if column not in history.columns or not _finite(last.get(column)):
                column = next((c for c in history.columns if c.startswith("val_") and c != "val_loss"
                               and _finite(last.get(c))), None)
            value = last.get(column) if column else None
            if value is None:
                loss = last.get("val_loss")
                value = -loss if _finite(loss) else None
        else:
            value = last.get(column) if column in history.columns else last.get("val_loss")
        if not _finite(value):  # no validation rows: the training loss is the signal left
            loss = last.get("train_loss")
            value = (-loss if self.greater else loss) if _finite(loss) else None
        if _finite(value):
            self.report(int(last["epoch"]), float(value))

    def __deepcopy__(self, memo):  # clone() must not copy the trial behind ``report``
        return self


def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
