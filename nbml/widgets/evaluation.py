"""``interactive_evaluation``: toggle buttons that switch between plots of one result.

The predictions are computed once (by ``nbml.evaluate`` or training); a toggle only draws
another plot of them into the same figure, and each plot's PNG is kept, so switching back
is instant. The learning curve is the one plot that fits models: it is computed on first
use, once.
"""
from __future__ import annotations

from nbml.errors import NbmlError
from nbml.widgets.live import LiveFigure

KINDS = {"classification": ("roc", "pr", "cm", "calibration", "learning"),
         "regression": ("residuals", "actual", "learning"), "clustering": ()}
LABELS = {"roc": "ROC", "pr": "precision-recall", "cm": "confusion matrix", "calibration": "calibration",
          "learning": "learning curve", "residuals": "residuals", "actual": "predicted vs actual",
          "importance": "importance", "pdp": "partial dependence", "lift": "lift", "gain": "cumulative gain",
          "ks": "KS", "threshold": "threshold", "class_report": "class report", "error": "prediction error",
          "boundary": "decision boundary", "tree": "tree", "vc": "validation curve", "rfe": "feature elimination",
          "cooks": "Cook's distance", "shap": "SHAP"}
# costly (many predictions): offered when the Evaluation computed them, i.e. when asked for
INSIGHT_KINDS = ("importance", "pdp")


class InteractiveEvaluation:
    def __init__(self, target, result=None, kinds=None):
        import ipywidgets as widgets

        from nbml.evaluation import Evaluation
        from nbml.training import TrainResult

        self.evaluation = None
        if isinstance(target, Evaluation):
            self.predictions, self.learning, self.result = target.predictions, target.learning, result
            self.evaluation = target
            title = f"{target.name} on {target.on} ({target.n_rows} rows)"
        elif isinstance(target, TrainResult):
            if target.predictions is None:
                raise NbmlError(f"{target.name} has no stored predictions to plot")
            self.predictions, self.learning, self.result = target.predictions, None, target
            title = f"{target.name} ({target.predictions.label})"
        else:
            raise TypeError(f"interactive_evaluation takes a TrainResult or an Evaluation (from nbml.evaluate); "
                            f"got {type(target).__name__}")
        task = self.predictions.task
        available = [k for k in KINDS[task] if k != "learning" or self.learning is not None or
                     self.result is not None]
        if self.evaluation is not None:
            from nbml.plots import CURVES

            available += [k for k in INSIGHT_KINDS if getattr(self.evaluation, _INSIGHT[k]) is not None]
            # the curves asked for, and the model plots the Evaluation computed (boundary, tree, vc, …)
            available += [k for k in self.evaluation.plots if k in CURVES and k not in available]
            available += [k for k in self.evaluation.displays if k not in available]
        if kinds is not None:
            from nbml.plots import parse_plots

            wanted = parse_plots(kinds, task)
            available = [k for k in wanted if k in available] or available
        if not available:
            raise NbmlError(f"no plots for a {task} result")
        self.kinds = available
        # different plots take turns on these axes: clear them fully between kinds
        self.figure = LiveFigure(1, figsize=(4.8, 3.8), dpi=72, reuse_axes=False)
        self.cache: dict[str, bytes] = {}
        self.buttons = widgets.ToggleButtons(options=[(LABELS.get(k, k), k) for k in available], value=available[0])
        self.buttons.observe(lambda change: self.show(change["new"]), names="value")
        self.show(available[0])
        self.widget = widgets.VBox([widgets.HTML(f"<b>{title}</b>"), self.buttons, self.figure.widget()])
        self.widget.add_class("nbml-evaluation")
        self.widget.evaluation = self

    def show(self, kind: str):
        """Draw ``kind`` (cached after the first time)."""
        if kind in self.cache:
            self.figure.png = self.cache[kind]
            self.figure._publish(self.cache[kind])
            return
        if kind == "learning" and self.learning is None:
            from nbml.evaluation import learning_curve

            self.learning = learning_curve(self.result, seed=self.result.seed)
        if kind in INSIGHT_KINDS:
            self.figure.draw(_draw_insight, getattr(self.evaluation, _INSIGHT[kind]), force=True)
        elif self.evaluation is not None and kind in self.evaluation.displays:
            self.figure.draw(_draw_model_plot, self.evaluation, kind, force=True)
        else:
            self.figure.draw(_draw, self.predictions, kind, self.learning, force=True)
        self.cache[kind] = self.figure.png


_INSIGHT = {"importance": "permutation", "pdp": "dependence"}


def _draw(axes, pred, kind, learning):
    from nbml.plots import plot_predictions

    plot_predictions(pred, kind, ax=axes[0], learning=learning)


def _draw_model_plot(axes, evaluation, kind):
    evaluation.plot(kind, ax=axes[0])


def _draw_insight(axes, display):
    """Partial dependence splits the axes into one per feature; importance gets an axes of
    its own (removed on the next draw) with room on the left for the column names."""
    from nbml.plots.insight import PermutationImportanceDisplay

    ax = axes[0]
    if isinstance(display, PermutationImportanceDisplay):
        longest = max((len(name) for name in display.feature_names), default=1)
        left = min(0.5, 0.1 + 0.014 * longest)
        ax.set_axis_off()
        ax = ax.figure.add_axes((left, 0.18, 0.96 - left, 0.7))
    display.plot(ax=ax)


def interactive_evaluation(result_or_evaluation, result=None, plots=None):
    """Toggle buttons between the plots of one ``TrainResult`` or ``Evaluation`` (ROC,
    precision-recall, confusion matrix, calibration, learning curve; residuals and predicted
    vs actual for regression; importance and partial dependence when the Evaluation was made
    with ``plots="importance,pdp"``) without recomputing the model's predictions. ``result``: the
    TrainResult behind an Evaluation (for the learning curve). Returns the widget."""
    return InteractiveEvaluation(result_or_evaluation, result=result, kinds=plots).widget
