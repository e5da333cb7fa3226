"""``calibrate()``: a classifier whose probabilities mean what they say.

scikit-learn's ``CalibratedClassifierCV`` is wrapped around the result's whole pipeline
(preprocessing included) and becomes the new recipe's pipeline, so the fold engine fits it
like any other model: on the training rows only (its own 5 folds cut inside them), scored on
the validation rows. Multiclass is calibrated one-vs-rest, as scikit-learn does it.
"""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from nbml.errors import NbmlError
from nbml.training import Predictions, TrainResult

METHODS = ("sigmoid", "isotonic")
FOLDS = 5  # CalibratedClassifierCV's own folds, all inside the training rows


@dataclass(kw_only=True, repr=False, eq=False)
class CalibratedResult(TrainResult):
    """A ``TrainResult`` of a calibrated classifier. ``before``: the uncalibrated model's
    predictions of the same validation rows; ``calibration``: Brier score and log loss of
    both (``reliability(before, after)``), shown with the reliability curves."""

    before: Predictions | None = None
    calibration: pd.DataFrame | None = None

    def plot_reliability(self, ax=None):
        """Reliability curves before and after on the validation rows (one-vs-rest per class
        beyond two); returns the Figure."""
        return draw_reliability(self, ax)

    def __repr__(self) -> str:
        return super().__repr__() + "\n" + _shown(self.calibration).to_string()

    def _repr_html_(self) -> str:
        table = f'<div class="nbml">{_shown(self.calibration).to_html(border=0)}</div>'
        return with_figure(super()._repr_html_() + table, self, draw_reliability)


def calibrate(result, method: str = "sigmoid"):
    """A ``CalibratedResult`` (a ``TrainResult``) of ``result``'s model inside
    ``CalibratedClassifierCV(method=method, cv=5)``, fit on the training rows and scored on the
    validation rows; its ``note`` and ``calibration`` table give the Brier score and log loss on
    the validation rows before and after (``reliability(...)``), drawn as reliability curves."""
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
    before = _before(source)
    table = reliability(before, after.predictions)
    after.note = (f"Calibrated ({method}, {FOLDS} folds inside the {len(recipe.split.X_train)} training rows); "
                  f"on the {len(recipe.split.X_val)} validation rows: " + _in_words(table))
    made = CalibratedResult(**{f.name: getattr(after, f.name) for f in fields(TrainResult)},
                            before=before, calibration=table)
    return _recorded(made)


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


# -- views (they draw what calibrate() computed; nothing is fit here) -------------------------

def _shown(table: pd.DataFrame) -> pd.DataFrame:
    shown = table.rename(index={"brier": "Brier score", "log_loss": "log loss"}).round(4)
    shown.index.name = "validation rows (lower is better)"
    return shown


def draw_reliability(result, ax=None):
    """Binary: the positive class's reliability curve before and after on one axis; more
    classes: one axis per class (one-vs-rest, the first 6)."""
    from nbml.plots import new_figure

    after = result.predictions
    classes = list(after.classes)
    shown = [1] if len(classes) == 2 else list(range(min(len(classes), 6)))
    if ax is None:
        fig, axes = new_figure(len(shown), width=3.8)
    else:
        fig, axes = ax.figure, [ax] * len(shown)
    for j, axis in zip(shown, axes):
        axis.plot([0, 1], [0, 1], "k:", label="perfectly calibrated")
        for pred, name in ((result.before, "before"), (after, "after")):
            _reliability_curve(pred, j, axis, name)
        what = classes[j] if len(classes) == 2 else f"{classes[j]} vs rest"
        axis.set(title=f"Reliability: {what} ({after.label})", xlabel="mean predicted probability",
                 ylabel=f"fraction of {classes[j]}")
        axis.legend(loc="upper left", fontsize="small")
    return fig


def _reliability_curve(pred, j: int, ax, name: str):
    from sklearn.calibration import CalibrationDisplay

    if pred is None or pred.proba is None:
        ax.plot([], [], " ", label=f"{name}: no probabilities")
        return
    y = np.asarray(pred.y_true) == pred.classes[j]
    CalibrationDisplay.from_predictions(y, np.asarray(pred.proba)[:, j], pos_label=True, n_bins=10, ax=ax,
                                        name=name, ref_line=False)


_FIGURES = weakref.WeakKeyDictionary()  # result -> its figure's HTML: the cache lives here, not on the result


def with_figure(page: str, result, draw) -> str:
    """``page`` (a result's HTML) with ``draw(result)``'s figure after it, drawn once per result."""
    from nbml import options
    from nbml.plots import png_base64

    if draw is None or not options.plots:
        return page
    if result not in _FIGURES:
        _FIGURES[result] = f'<img src="data:image/png;base64,{png_base64(draw(result))}"/>'
    return page + f'<div class="nbml">{_FIGURES[result]}</div>'
