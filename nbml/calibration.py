"""``calibrate()``: a classifier whose probabilities mean what they say.

scikit-learn's ``CalibratedClassifierCV`` is wrapped around the result's whole pipeline
(preprocessing included) and becomes the new recipe's pipeline, so the fold engine fits it
like any other model: on the training rows only (its own 5 folds cut inside them), scored on
the validation rows. Multiclass is calibrated one-vs-rest, as scikit-learn does it.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from nbml.errors import NbmlError

METHODS = ("sigmoid", "isotonic")
FOLDS = 5  # CalibratedClassifierCV's own folds, all inside the training rows


def calibrate(result, method: str = "sigmoid"):
    """A ``TrainResult`` of ``result``'s model inside ``CalibratedClassifierCV(method=method,
    cv=5)``, fit on the training rows and scored on the validation rows; its ``note`` gives the
    Brier score and log loss on the validation rows before and after (``reliability(...)``)."""
    from sklearn.calibration import CalibratedClassifierCV

    from nbml.training import _recorded, fit_recipe

    source = _trained(result, "calibrate")
    if method not in METHODS:
        raise NbmlError(f"method={method!r} is not a calibration method; use {' or '.join(METHODS)}")
    recipe = source.recipe
    if recipe.task != "classification":
        raise NbmlError(f"{source.name} is a {recipe.task} model: only a classifier's probabilities can be calibrated")
    if recipe.weights is not None:
        raise NbmlError(f"{source.name} was fit on a coreset; calibration fits on the split's training rows: "
                        f"train the model on the split, then calibrate it")
    if len(recipe.split.X_val) == 0:
        raise NbmlError("the split has no validation rows to measure the calibration on: split with val > 0")
    pipeline = CalibratedClassifierCV(recipe.pipeline, method=method, cv=FOLDS)
    calibrated = replace(recipe, pipeline=pipeline, name=f"{recipe.name} calibrated ({method})")
    after = fit_recipe(calibrated)  # holdout: fit on train, scored on validation
    table = reliability(_before(source), after.predictions)
    after.note = (f"Calibrated ({method}, {FOLDS} folds inside the {len(recipe.split.X_train)} training rows); "
                  f"on the {len(recipe.split.X_val)} validation rows: " + _in_words(table))
    return _recorded(after)


def _trained(result, verb: str):
    """The TrainResult behind ``result`` (a TuneResult's best)."""
    from nbml.training import TrainResult

    if type(result).__name__ == "TuneResult" and hasattr(result, "best"):
        if result.best is None:
            raise NbmlError("the search has no finished trial, so there is no best model to " + verb)
        result = result.best
    if not isinstance(result, TrainResult):
        raise NbmlError(f"{verb} needs a trained result (from nbml.train / %%train -o NAME); got {type(result).__name__}")
    return result


def _before(result):
    """The uncalibrated model's validation predictions (those of the result when it was
    scored on the validation rows, else one holdout fit of its recipe)."""
    from nbml.training import fit_recipe

    shown = result.predictions
    if shown is not None and result.cv is None and shown.label == "validation":
        return shown
    return fit_recipe(result.recipe).predictions


def reliability(before, after) -> pd.DataFrame:
    """Brier score and log loss of two sets of predictions of the same rows (NaN where a model
    gives no probabilities): rows ``brier``, ``log_loss``; columns ``before``, ``after``."""
    return pd.DataFrame({"before": _scores(before), "after": _scores(after)})


def _scores(pred) -> pd.Series:
    from sklearn.metrics import brier_score_loss, log_loss

    if pred is None or pred.proba is None:
        return pd.Series({"brier": math.nan, "log_loss": math.nan})
    classes, proba, y = np.asarray(pred.classes), np.asarray(pred.proba), np.asarray(pred.y_true)
    if len(classes) == 2:
        brier = brier_score_loss(y, proba[:, 1], pos_label=classes[1])
    else:
        brier = brier_score_loss(y, proba, labels=classes)
    return pd.Series({"brier": float(brier), "log_loss": float(log_loss(y, proba, labels=classes))})


def _in_words(table: pd.DataFrame) -> str:
    def shown(v):
        return "no probabilities" if math.isnan(v) else f"{v:.4f}"

    return ", ".join(f"{name.replace('_', ' ')} {shown(row['before'])} → {shown(row['after'])}"
                     for name, row in table.iterrows()) + " (lower is better)"
