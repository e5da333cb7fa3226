"""``threshold()``: the decision threshold of a binary classifier, chosen out-of-fold.

scikit-learn's ``TunedThresholdClassifierCV`` picks the threshold that maximizes a metric on
out-of-fold predictions of the **training rows only** (its own folds cut inside them). The
result's model is then ``FixedThresholdClassifier(pipeline, threshold=chosen)`` — a plain,
deployable scikit-learn estimator that the fold engine fits on the training rows and scores
on the validation rows, which never helped to choose the threshold. ``value=`` fixes a
threshold instead (the panel's slider keeps one that way). Binary classification only.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from nbml.errors import FitError, NbmlError, describe_error
from nbml.training import TrainResult

METRICS = ("f1", "balanced_accuracy", "youden", "cost:FP,FN")
FOLDS = 5  # TunedThresholdClassifierCV's own folds, all inside the training rows


@dataclass(kw_only=True, repr=False, eq=False)
class ThresholdResult(TrainResult):
    """A ``TrainResult`` whose model predicts the positive class at ``threshold`` (of its
    probabilities, or of its decision scores when it has none). ``threshold_curve``: the
    metric at each threshold tried, out-of-fold on the training rows (None for a given value)."""

    threshold: float = 0.5
    threshold_metric: str | None = None
    threshold_curve: pd.DataFrame | None = None

    def plot_threshold(self, ax=None):
        """The metric against the threshold, the chosen one marked; returns the Figure."""
        return draw_threshold_curve(self, ax)

    def _repr_html_(self) -> str:
        from nbml.calibration import with_figure

        return with_figure(super()._repr_html_(), self, draw_threshold_curve if self.threshold_curve is not None else None)


def threshold(result, metric: str = "f1", value=None, cv: int = FOLDS) -> ThresholdResult:
    """A result of ``result``'s binary classifier predicting at a chosen decision threshold.

    ``metric``: ``f1`` (of the positive class, the second of the sorted classes),
    ``balanced_accuracy``, ``youden`` (TPR − FPR) or ``cost:FP,FN`` (the cost of one false
    positive and of one false negative; the mean cost per row is minimized); the threshold is
    chosen by ``TunedThresholdClassifierCV`` on ``cv``-fold out-of-fold predictions of the
    training rows. ``value``: use this threshold instead (no search). Scored on the
    validation rows; ``predict``, ``evaluate``, ``deploy`` and the service all use it."""
    from sklearn.model_selection import FixedThresholdClassifier

    from nbml.training import _recorded, fit_recipe

    source, recipe = _binary(result)
    base = _unwrapped(recipe.pipeline)
    proba = hasattr(base, "predict_proba")
    if value is None:
        chosen, curve, label, words = _tuned(replace(recipe, pipeline=base), metric, cv, proba)
    else:
        chosen, curve, label, words = _given(value, proba), None, None, "given"
    fixed = replace(recipe, pipeline=FixedThresholdClassifier(base, threshold=chosen),
                    name=f"{_base_name(source)} (threshold {chosen:.3g})")
    scored = fit_recipe(fixed)  # holdout: fit on the training rows, scored on the validation rows
    default = 0.5 if proba else 0.0
    scored.note = (f"Decision threshold {chosen:.4g} ({words}; the default is {default:g}); scored on the "
                   f"{len(recipe.split.X_val)} validation rows, which did not choose it.")
    made = ThresholdResult(**{f.name: getattr(scored, f.name) for f in fields(TrainResult)},
                           threshold=chosen, threshold_metric=label, threshold_curve=curve)
    return _recorded(made)


def _binary(result):
    """The TrainResult and recipe behind ``result``, checked: a binary classifier on a split's
    training rows, with validation rows to score on."""
    from nbml.calibration import _trained

    source = _trained(result, "choose a threshold for")
    recipe = source.recipe
    if recipe.task != "classification":
        raise NbmlError(f"{source.name} is a {recipe.task} model: a decision threshold needs a binary classifier")
    classes = recipe.split.classes_
    if classes is None or len(classes) != 2:
        raise NbmlError(f"{source.name} has {0 if classes is None else len(classes)} classes: a decision threshold "
                        f"is for binary classification only (two classes)")
    if recipe.weights is not None:
        raise NbmlError(f"{source.name} was fit on a coreset; the threshold is chosen on the split's training rows: "
                        f"train the model on the split, then choose its threshold")
    if source.fitted_on == "all":
        raise NbmlError(f"{source.name} is a final model (fit on every labelled row): choose the threshold of the "
                        f"result before finalizing, then finalize that one")
    if len(recipe.split.X_val) == 0:
        raise NbmlError("the split has no validation rows to score the threshold on: split with val > 0")
    base = _unwrapped(recipe.pipeline)
    if not (hasattr(base, "predict_proba") or hasattr(base, "decision_function")):
        raise NbmlError(f"{source.name} gives neither probabilities nor decision scores, so it has no threshold "
                        f"to move")
    return source, recipe


def _unwrapped(pipeline):
    """The pipeline without a threshold an earlier ``threshold()`` put around it."""
    from sklearn.model_selection import FixedThresholdClassifier

    return pipeline.estimator if isinstance(pipeline, FixedThresholdClassifier) else pipeline


def _base_name(result) -> str:
    return result.name.split(" (threshold ")[0]


def _given(value, proba: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise NbmlError(f"value={value!r} is not a threshold: give a finite number")
    if proba and not 0 <= value <= 1:
        raise NbmlError(f"value={value!r} is outside [0, 1], the range of the model's probabilities")
    return float(value)


# -- choosing it out-of-fold ------------------------------------------------------------

def _tuned(recipe, metric, cv, proba):
    """(threshold, curve, metric label, words) from TunedThresholdClassifierCV fit on the
    training rows only."""
    from sklearn.model_selection import TunedThresholdClassifierCV

    from nbml.folds import fit_model

    split = recipe.split
    if isinstance(cv, bool) or not isinstance(cv, numbers.Integral) or cv < 2:
        raise NbmlError(f"cv={cv!r} is not a fold count; use an integer of at least 2, e.g. cv=5")
    fewest = split.y_train.value_counts().min()
    if fewest < cv:
        raise NbmlError(f"cv={cv} needs {cv} training rows of each class but one class has {fewest}: use "
                        f"cv={max(2, fewest)} or fewer")
    scorer, label, sign = scorer_for(metric, split.classes_[1])
    tuner = TunedThresholdClassifierCV(recipe.pipeline, scoring=scorer, cv=int(cv), store_cv_results=True,
                                       random_state=recipe.seed)
    try:
        fit_model(tuner, split.X_train, split.y_train, recipe.task, recipe.fit_params_for(split.X_train.index))
    except (ValueError, TypeError, ArithmeticError, IndexError) as exc:
        if isinstance(exc, NbmlError):
            raise
        raise FitError(f"choosing the threshold of {recipe.name} failed: {describe_error(exc)}") from exc
    results = tuner.cv_results_
    curve = pd.DataFrame({"threshold": np.asarray(results["thresholds"], dtype=float),
                          label: sign * np.asarray(results["scores"], dtype=float)})
    best = sign * float(tuner.best_score_)
    words = (f"chosen by {label} on out-of-fold predictions of the {len(split.X_train)} training rows, {int(cv)} "
             f"folds: {label} {best:.4f}")
    return float(tuner.best_threshold_), curve, label, words


def scorer_for(metric: str, positive):
    """(scorer, label, sign) of a threshold metric: the scorer TunedThresholdClassifierCV
    maximizes, the name shown, and the sign that turns its scores into that metric."""
    from sklearn.metrics import balanced_accuracy_score, f1_score, make_scorer

    if not isinstance(metric, str):
        raise NbmlError(f"metric={metric!r} is not a threshold metric; use one of {', '.join(METRICS)}")
    name = metric.strip()
    if name == "f1":
        return make_scorer(f1_score, pos_label=positive), "f1", 1
    if name == "balanced_accuracy":
        return make_scorer(balanced_accuracy_score), "balanced_accuracy", 1
    if name == "youden":
        return make_scorer(youden, pos_label=positive), "youden", 1
    if name.startswith("cost"):
        fp, fn = parse_cost(name)
        return make_scorer(cost, greater_is_better=False, fp=fp, fn=fn, pos_label=positive), \
            f"cost (FP {fp:g}, FN {fn:g}) per row", -1
    raise NbmlError(f"metric={metric!r} is not a threshold metric; use one of {', '.join(METRICS)}")


def parse_cost(text: str) -> tuple:
    """``"cost:1,5"`` -> (1.0, 5.0): the cost of one false positive, of one false negative."""
    head, _, body = text.partition(":")
    parts = [p.strip() for p in body.split(",")]
    try:
        fp, fn = (float(p) for p in parts) if head.strip() == "cost" and len(parts) == 2 else (None, None)
    except ValueError:
        fp = fn = None
    if fp is None or not all(math.isfinite(c) and c >= 0 for c in (fp, fn)) or fp + fn == 0:
        raise NbmlError(f"metric={text!r} is not a cost: write cost:FP,FN with the cost of one false positive and "
                        f"of one false negative, two numbers >= 0, not both 0 (e.g. cost:1,5)")
    return fp, fn


def youden(y_true, y_pred, pos_label) -> float:
    """Youden's J: true positive rate − false positive rate."""
    y_true, positive = np.asarray(y_true), np.asarray(y_pred) == pos_label
    actual = y_true == pos_label
    tpr = positive[actual].mean() if actual.any() else 0.0
    fpr = positive[~actual].mean() if (~actual).any() else 0.0
    return float(tpr - fpr)


def cost(y_true, y_pred, fp: float, fn: float, pos_label) -> float:
    """Mean cost per row: ``fp`` per false positive, ``fn`` per false negative."""
    actual, predicted = np.asarray(y_true) == pos_label, np.asarray(y_pred) == pos_label
    return float((fp * np.sum(predicted & ~actual) + fn * np.sum(~predicted & actual)) / max(len(actual), 1))


# -- the view ---------------------------------------------------------------------------

def draw_threshold_curve(result, ax=None):
    """The out-of-fold metric against the threshold, with the chosen threshold marked."""
    from nbml.plots import new_figure

    curve = result.threshold_curve
    if curve is None:
        raise NbmlError(f"{result.name} has a given threshold ({result.threshold:.4g}), not one chosen on a curve")
    if ax is None:
        fig, (ax,) = new_figure(1, width=5.0)
    else:
        fig = ax.figure
    label = curve.columns[1]
    ax.plot(curve["threshold"], curve[label], color="C0", label=f"{label} (out-of-fold, training rows)")
    ax.axvline(result.threshold, color="C3", linestyle="--", label=f"chosen {result.threshold:.3g}")
    ax.set_xlabel("decision threshold")
    ax.set_ylabel(label)
    ax.set_title(f"{label} vs threshold")
    ax.legend(loc="best", fontsize="small")
    return fig
