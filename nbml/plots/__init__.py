"""Plots of predictions, drawn with scikit-learn's Display classes.

Views only draw: they take ``Predictions`` (or precomputed curves) that core made. Figures
are ``matplotlib.figure.Figure`` objects made without pyplot, so nothing piles up in a
global figure list and each can be rendered to PNG exactly once.
"""
from __future__ import annotations

import numpy as np

from nbml.errors import NbmlError
from nbml.plots.curves import KINDS as CURVES  # lift, gain, ks, threshold, class_report, error
from nbml.plots.model import KINDS as MODEL_PLOTS  # boundary, tree, vc, rfe, cooks, shap: computed from the model

PLOTS = ("roc", "pr", "cm", "residuals", "actual", "learning", "calibration", "importance", "pdp") + CURVES + MODEL_PLOTS
# what the model relies on: they refit nothing but predict many times, so never a default
INSIGHT = ("importance", "pdp")
DEFAULT_PLOTS = {"classification": ("roc", "cm"), "regression": ("residuals", "actual"), "clustering": ()}
_SUPERVISED = ("classification", "regression")
_NEEDS = {"roc": ("classification",), "pr": ("classification",), "cm": ("classification",),
          "calibration": ("classification",), "residuals": ("regression",), "actual": ("regression",),
          "learning": _SUPERVISED, "importance": _SUPERVISED, "pdp": _SUPERVISED,
          **{kind: ("classification",) for kind in CURVES},
          **{kind: _SUPERVISED for kind in MODEL_PLOTS}, "cooks": ("regression",)}
# plots that take one parameter after a colon: vc:NAME (the parameter the validation curve varies)
PARAMETERIZED = ("vc",)


def plot_parameters(plots) -> dict:
    """``{"vc": "max_depth"}`` for ``"roc,vc:max_depth"`` (the parameters written after a colon)."""
    if plots is None or plots == "auto":
        return {}
    if isinstance(plots, str):
        plots = plots.split(",")
    found = {}
    for entry in plots:
        kind, colon, param = str(entry).strip().partition(":")
        if colon and kind in PARAMETERIZED and param.strip():
            found[kind] = param.strip()
    return found


def parse_plots(plots, task: str) -> tuple:
    """``"roc,cm"`` / a list / None (the task's defaults) → a tuple of valid plot names."""
    if plots is None or plots == "auto":
        return DEFAULT_PLOTS[task]
    if isinstance(plots, str):
        plots = [p.strip() for p in plots.split(",") if p.strip()]
    kinds = tuple(p.partition(":")[0] if isinstance(p, str) and p.partition(":")[0] in PARAMETERIZED else p
                  for p in plots)
    allowed = [p for p in PLOTS if task in _NEEDS[p]]
    for kind in kinds:
        if kind not in PLOTS:
            raise NbmlError(f"plots={kind!r} is not a plot; choose from {', '.join(PLOTS)}")
        if task not in _NEEDS[kind]:
            raise NbmlError(f"plot {kind!r} needs a {' or '.join(_NEEDS[kind])} task but this one is {task}; "
                            + (f"choose from {', '.join(allowed)}" if allowed else
                               f"a {task} result has no evaluation plots (only metrics)"))
    return kinds


def new_figure(ncols: int = 1, width: float = 4.2, height: float = 3.6):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def plot_predictions(pred, kind: str = "auto", ax=None, learning=None, displays=None):
    """Draw ``kind`` for ``pred`` (a ``nbml.training.Predictions``) on ``ax`` (or a new
    figure); returns the Figure. ``displays``: the model plots core computed (``Evaluation.displays``)."""
    if kind == "auto":
        kind = DEFAULT_PLOTS[pred.task][0]
    parse_plots([kind], pred.task)
    if ax is None:
        fig, (ax,) = new_figure(1)
    else:
        fig = ax.figure
    if kind in INSIGHT:
        raise NbmlError(f"plot {kind!r} is drawn from an Evaluation: "
                        f"nbml.evaluate(result, plots={kind!r}).plot({kind!r})")
    if kind == "learning":
        if learning is None:
            raise NbmlError("the learning curve is computed by nbml.evaluate(result, plots='learning')")
        learning.plot(ax=ax)
        for text in ax.get_legend().get_texts() if ax.get_legend() else ():
            text.set_text({"Test": "Validation"}.get(text.get_text(), text.get_text()))
        ax.set_title("Learning curve (CV on train+val)")
    elif kind in MODEL_PLOTS:
        display = (displays or {}).get(kind)
        if display is None:
            raise NbmlError(f"plot {kind!r} is computed from the model: nbml.evaluate(result, plots={kind!r}) "
                            f"(%evaluate NAME --plots {kind})")
        from nbml.plots.model import draw_model_plot

        draw_model_plot(display, ax)
    else:
        DRAW[kind](pred, ax)
    return fig


def _binary_score(pred):
    if pred.proba is not None:
        return pred.proba[:, 1]
    if pred.scores is not None:
        return np.asarray(pred.scores).reshape(len(pred.y_pred), -1)[:, -1]
    return None


def _class_scores(pred):
    """One column per class: probabilities, else one-vs-rest decision scores (None: neither)."""
    if pred.proba is not None:
        return pred.proba
    if pred.scores is not None:
        scores = np.asarray(pred.scores).reshape(len(pred.y_pred), -1)
        return scores if scores.shape[1] == len(pred.classes) else None
    return None


def _no_scores(ax, what):
    ax.text(0.5, 0.5, f"no {what}:\nthe model gives no probabilities", ha="center", va="center")
    ax.set_axis_off()


def _class_name(label) -> str:
    return str(label.item() if isinstance(label, np.generic) else label)


def _one_vs_rest_axes(ax, x, y):
    """Axis labels of one-vs-rest curves (scikit-learn's would name a positive label True/1)."""
    ax.set_xlabel(f"{x} (each class vs the rest)")
    ax.set_ylabel(f"{y} (each class vs the rest)")


def draw_roc(pred, ax):
    from sklearn.metrics import RocCurveDisplay

    classes = pred.classes
    if len(classes) == 2:
        score = _binary_score(pred)
        if score is None:
            return _no_scores(ax, "ROC curve")
        RocCurveDisplay.from_predictions(pred.y_true, score, pos_label=classes[1], ax=ax,
                                         name=f"{pred.label}", plot_chance_level=True)
    else:
        scores = _class_scores(pred)
        if scores is None:
            return _no_scores(ax, "ROC curve")
        for j, label in enumerate(classes[:10]):
            RocCurveDisplay.from_predictions(pred.y_true == label, scores[:, j], pos_label=True, ax=ax,
                                             name=f"{_class_name(label)} vs rest", plot_chance_level=(j == 0))
        _one_vs_rest_axes(ax, "False Positive Rate", "True Positive Rate")
        if len(classes) > 10:
            ax.set_title(f"first 10 of {len(classes)} classes")
    ax.set_title(ax.get_title() or f"ROC ({pred.label})")


def draw_pr(pred, ax):
    from sklearn.metrics import PrecisionRecallDisplay

    classes = pred.classes
    if len(classes) == 2:
        score = _binary_score(pred)
        if score is None:
            return _no_scores(ax, "precision-recall curve")
        PrecisionRecallDisplay.from_predictions(pred.y_true, score, pos_label=classes[1], ax=ax,
                                                name=pred.label, plot_chance_level=True)
    else:
        scores = _class_scores(pred)
        if scores is None:
            return _no_scores(ax, "precision-recall curve")
        for j, label in enumerate(classes[:10]):
            PrecisionRecallDisplay.from_predictions(pred.y_true == label, scores[:, j], pos_label=True, ax=ax,
                                                    name=f"{_class_name(label)} vs rest")
        _one_vs_rest_axes(ax, "Recall", "Precision")
    ax.set_title(f"Precision-recall ({pred.label})")


def draw_cm(pred, ax):
    from sklearn.metrics import ConfusionMatrixDisplay

    ConfusionMatrixDisplay.from_predictions(pred.y_true, pred.y_pred, labels=pred.classes, ax=ax,
                                            colorbar=False, xticks_rotation=45 if len(pred.classes) > 4 else 0)
    ax.set_title(f"Confusion matrix ({pred.label})")


def draw_calibration(pred, ax):
    """Binary: the positive class's curve; more classes: one curve per class (one-vs-rest)."""
    from sklearn.calibration import CalibrationDisplay

    if pred.proba is None:
        ax.text(0.5, 0.5, "no calibration curve:\nthe model gives no probabilities", ha="center", va="center")
        ax.set_axis_off()
        return
    classes = pred.classes
    if len(classes) == 2:
        CalibrationDisplay.from_predictions(pred.y_true, pred.proba[:, 1], pos_label=classes[1], n_bins=10, ax=ax,
                                            name=pred.label)
    else:
        for j, label in enumerate(classes[:10]):
            CalibrationDisplay.from_predictions(pred.y_true == label, pred.proba[:, j], pos_label=True, n_bins=10,
                                                ax=ax, name=f"{_class_name(label)} vs rest", ref_line=(j == 0))
        _one_vs_rest_axes(ax, "Mean predicted probability", "Fraction of positives")
    ax.set_title(f"Calibration ({pred.label})" + (f", first 10 of {len(classes)} classes" if len(classes) > 10 else ""))


def draw_residuals(pred, ax):
    from sklearn.metrics import PredictionErrorDisplay

    PredictionErrorDisplay.from_predictions(pred.y_true, pred.y_pred, kind="residual_vs_predicted", ax=ax,
                                            subsample=2000, random_state=0)
    ax.set_title(f"Residuals ({pred.label})")


def draw_actual(pred, ax):
    from sklearn.metrics import PredictionErrorDisplay

    PredictionErrorDisplay.from_predictions(pred.y_true, pred.y_pred, kind="actual_vs_predicted", ax=ax,
                                            subsample=2000, random_state=0)
    ax.set_title(f"Predicted vs actual ({pred.label})")


def _draw_curve(kind: str):
    def draw(pred, ax):
        from nbml.plots.curves import draw_curve

        draw_curve(kind, pred, ax)
    return draw


DRAW = {"roc": draw_roc, "pr": draw_pr, "cm": draw_cm, "calibration": draw_calibration,
        "residuals": draw_residuals, "actual": draw_actual, **{kind: _draw_curve(kind) for kind in CURVES}}


def figure_of(pred, kinds, learning=None, displays=None):
    """One figure with ``kinds`` side by side (None when there is nothing to draw); ``displays``:
    the model plots core computed (boundary, tree, vc, rfe, cooks, shap), by kind."""
    if not kinds:
        return None
    fig, axes = new_figure(len(kinds))
    for kind, ax in zip(kinds, axes):
        plot_predictions(pred, kind, ax=ax, learning=learning, displays=displays)
    return fig


def png_base64(fig, dpi: int = 80) -> str:
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")
