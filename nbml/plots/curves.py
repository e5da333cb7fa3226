"""Plots of predictions that scikit-learn has no Display for: lift, cumulative gains, the
Kolmogorov-Smirnov curve, precision/recall/F1 against the threshold, a heatmap of the
classification report and the per-class prediction error.

Each is a Display-style class: ``from_predictions(pred)`` computes the numbers once from a
``nbml.training.Predictions``; ``plot(ax=None)`` only draws and returns self with ``ax_`` and
``figure_``. The four score-ranking kinds (lift, gain, ks, threshold) rank one class against
the rest: by default the last class (the positive class of a binary result, scikit-learn's
convention); ``pos_label=`` picks another, which is how a multiclass result gets them.
"""
from __future__ import annotations

import numpy as np

from nbml.errors import NbmlError

# the kinds that rank rows by one class's score, and the ones that read predicted labels only
RANKED = ("lift", "gain", "ks", "threshold")
LABELLED = ("class_report", "error")
KINDS = RANKED + LABELLED


def _axes(ax):
    if ax is not None:
        return ax.figure, ax
    from nbml.plots import new_figure

    fig, (ax,) = new_figure(1)
    return fig, ax


def _positive(pred, pos_label, what: str):
    """(is the row of ``pos_label``, that class's score, the class's name) of ``pred``."""
    from nbml.plots import _binary_score, _class_name, _class_scores

    classes = list(pred.classes)
    if pos_label is None:
        pos_label = classes[-1]
    if pos_label not in classes:
        raise NbmlError(f"pos_label={pos_label!r} is not a class of this result; choose from "
                        f"{', '.join(_class_name(c) for c in classes)}")
    j = classes.index(pos_label)
    if pred.proba is not None:
        score = pred.proba[:, j]
    elif len(classes) == 2:
        score = _binary_score(pred)
        score = None if score is None else (score if j == 1 else -score)
    else:
        scores = _class_scores(pred)
        score = None if scores is None else scores[:, j]
    if score is None:
        raise NbmlError(f"no {what}: the model gives neither probabilities nor decision scores")
    positive = np.asarray(pred.y_true) == pos_label
    if positive.all() or not positive.any():
        raise NbmlError(f"no {what}: the {pred.label} rows need both {_class_name(pos_label)!r} and other classes")
    return positive, np.asarray(score, dtype=float), _class_name(pos_label), len(classes)


def _vs(name: str, n_classes: int) -> str:
    return name if n_classes == 2 else f"{name} vs rest"


class GainDisplay:
    """Cumulative gains: rows ranked by the positive class's score, highest first;
    ``fraction`` of rows taken (0…1) against ``gain``, the share of all positives found."""

    title = "Cumulative gains"
    at_zero = True  # the curve starts at (0, 0)

    def __init__(self, *, fraction, gain, positive_name: str, label: str = "validation", n_classes: int = 2):
        self.fraction, self.gain = np.asarray(fraction, float), np.asarray(gain, float)
        self.positive_name, self.label, self.n_classes = positive_name, label, n_classes

    @classmethod
    def from_predictions(cls, pred, pos_label=None):
        positive, score, name, n_classes = _positive(pred, pos_label, cls.title.lower())
        ranked = positive[np.argsort(-score, kind="stable")]
        fraction = np.arange(len(ranked) + 1) / len(ranked)
        gain = np.concatenate([[0.0], np.cumsum(ranked) / ranked.sum()])
        start = 0 if cls.at_zero else 1
        return cls(fraction=fraction[start:], gain=gain[start:], positive_name=name, label=pred.label,
                   n_classes=n_classes)

    def _draw(self, ax):
        ax.plot(self.fraction, self.gain, label=_vs(self.positive_name, self.n_classes))
        ax.plot([0, 1], [0, 1], "k--", linewidth=0.8, label="random")
        ax.set_ylabel(f"share of {_vs(self.positive_name, self.n_classes)} found")

    def plot(self, ax=None):
        self.figure_, self.ax_ = _axes(ax)
        self._draw(self.ax_)
        self.ax_.set_xlabel("share of rows, highest score first")
        self.ax_.legend(loc="lower right", fontsize=8)
        self.ax_.set_title(f"{self.title} ({self.label})")
        return self


class LiftDisplay(GainDisplay):
    """Lift: how many times the positive rate of the top ``fraction`` of rows (ranked by the
    positive class's score) beats the positive rate of all rows (``lift = gain / fraction``)."""

    title = "Lift"
    at_zero = False  # no lift with no rows taken

    @property
    def lift(self):
        return self.gain / self.fraction

    def _draw(self, ax):
        ax.plot(self.fraction, self.lift, label=_vs(self.positive_name, self.n_classes))
        ax.axhline(1.0, color="k", linestyle="--", linewidth=0.8, label="random")
        ax.set_ylabel(f"lift ({_vs(self.positive_name, self.n_classes)})")


class KSDisplay:
    """The Kolmogorov-Smirnov curve: the cumulative share of positive and of other rows whose
    score is at most each threshold; ``statistic`` is their largest gap (at ``at``), which is
    the two-sample KS statistic of the two groups' scores."""

    def __init__(self, *, thresholds, cdf_positive, cdf_negative, positive_name: str, label: str = "validation",
                 n_classes: int = 2):
        self.thresholds = np.asarray(thresholds, float)
        self.cdf_positive, self.cdf_negative = np.asarray(cdf_positive, float), np.asarray(cdf_negative, float)
        self.positive_name, self.label, self.n_classes = positive_name, label, n_classes
        gap = np.abs(self.cdf_negative - self.cdf_positive)
        self.statistic, self.at = float(gap.max()), float(self.thresholds[gap.argmax()])

    @classmethod
    def from_predictions(cls, pred, pos_label=None):
        positive, score, name, n_classes = _positive(pred, pos_label, "KS curve")
        thresholds = np.unique(score)
        cdf = [np.searchsorted(np.sort(score[rows]), thresholds, side="right") / rows.sum()
               for rows in (positive, ~positive)]
        return cls(thresholds=thresholds, cdf_positive=cdf[0], cdf_negative=cdf[1], positive_name=name,
                   label=pred.label, n_classes=n_classes)

    def plot(self, ax=None):
        self.figure_, self.ax_ = fig, ax = _axes(ax)
        name = _vs(self.positive_name, self.n_classes)
        ax.step(self.thresholds, self.cdf_positive, where="post", label=self.positive_name)
        ax.step(self.thresholds, self.cdf_negative, where="post", label="rest" if self.n_classes > 2 else "the other class")
        i = int(np.abs(self.cdf_negative - self.cdf_positive).argmax())
        ax.vlines(self.at, self.cdf_positive[i], self.cdf_negative[i], color="k", linestyle="--", linewidth=0.8,
                  label=f"KS = {self.statistic:.3f} at {self.at:.3g}")
        ax.set_xlabel(f"score of {name}")
        ax.set_ylabel("cumulative share of rows")
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title(f"KS statistic ({self.label})")
        return self


class ThresholdDisplay:
    """Precision, recall and F1 of the positive class when rows scoring at least each
    threshold are called positive (``precision_recall_curve``'s points); ``best`` is the
    threshold of the highest F1."""

    def __init__(self, *, thresholds, precision, recall, positive_name: str, label: str = "validation",
                 n_classes: int = 2):
        self.thresholds = np.asarray(thresholds, float)
        self.precision, self.recall = np.asarray(precision, float), np.asarray(recall, float)
        self.positive_name, self.label, self.n_classes = positive_name, label, n_classes
        total = self.precision + self.recall
        self.f1 = np.divide(2 * self.precision * self.recall, total, out=np.zeros_like(total), where=total > 0)
        self.best = float(self.thresholds[self.f1.argmax()])

    @classmethod
    def from_predictions(cls, pred, pos_label=None):
        from sklearn.metrics import precision_recall_curve

        positive, score, name, n_classes = _positive(pred, pos_label, "threshold curve")
        precision, recall, thresholds = precision_recall_curve(positive, score)
        # the last point (precision 1, recall 0) has no threshold
        return cls(thresholds=thresholds, precision=precision[:-1], recall=recall[:-1], positive_name=name,
                   label=pred.label, n_classes=n_classes)

    def plot(self, ax=None):
        self.figure_, self.ax_ = fig, ax = _axes(ax)
        for values, what in ((self.precision, "precision"), (self.recall, "recall"), (self.f1, "F1")):
            ax.plot(self.thresholds, values, label=what)
        ax.axvline(self.best, color="k", linestyle="--", linewidth=0.8, label=f"best F1 at {self.best:.3g}")
        ax.set_xlabel(f"threshold on the score of {_vs(self.positive_name, self.n_classes)}")
        ax.set_ylabel("score")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(loc="lower left", fontsize=8)
        ax.set_title(f"Precision, recall, F1 vs threshold ({self.label})", fontsize=10)
        return self


class ClassReportDisplay:
    """A heatmap of precision, recall and F1 per class (``values``: classes × those three),
    with each class's support."""

    columns = ("precision", "recall", "f1-score")

    def __init__(self, *, classes, values, support, label: str = "validation"):
        from nbml.plots import _class_name

        self.classes = [_class_name(c) for c in classes]
        self.values, self.support, self.label = np.asarray(values, float), np.asarray(support, int), label

    @classmethod
    def from_predictions(cls, pred):
        from sklearn.metrics import precision_recall_fscore_support

        precision, recall, f1, support = precision_recall_fscore_support(pred.y_true, pred.y_pred, labels=pred.classes,
                                                                         zero_division=0)
        return cls(classes=pred.classes, values=np.column_stack([precision, recall, f1]), support=support,
                   label=pred.label)

    def plot(self, ax=None):
        self.figure_, self.ax_ = fig, ax = _axes(ax)
        image = ax.imshow(self.values, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        for (i, j), value in np.ndenumerate(self.values):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(3), ["precision", "recall", "F1"])
        ax.set_yticks(range(len(self.classes)), [f"{c} (n={n})" for c, n in zip(self.classes, self.support)])
        fig.colorbar(image, ax=ax, shrink=0.8)
        ax.set_title(f"Classification report ({self.label})")
        return self


class ErrorDisplay:
    """Per-class prediction error: for each true class a bar of its rows, stacked by the class
    they were predicted as (``counts``: true × predicted, the confusion matrix)."""

    def __init__(self, *, classes, counts, label: str = "validation"):
        from nbml.plots import _class_name

        self.classes = [_class_name(c) for c in classes]
        self.counts, self.label = np.asarray(counts, int), label

    @classmethod
    def from_predictions(cls, pred):
        from sklearn.metrics import confusion_matrix

        return cls(classes=pred.classes, counts=confusion_matrix(pred.y_true, pred.y_pred, labels=pred.classes),
                   label=pred.label)

    def plot(self, ax=None):
        self.figure_, self.ax_ = fig, ax = _axes(ax)
        bottom = np.zeros(len(self.classes))
        for j, name in enumerate(self.classes):
            ax.bar(range(len(self.classes)), self.counts[:, j], bottom=bottom, label=f"predicted {name}")
            bottom += self.counts[:, j]
        ax.set_xticks(range(len(self.classes)), self.classes, rotation=45 if len(self.classes) > 4 else 0)
        ax.set_xlabel("true class")
        ax.set_ylabel("rows")
        ax.legend(fontsize=8)
        ax.set_title(f"Prediction error per class ({self.label})")
        return self


DISPLAYS = {"lift": LiftDisplay, "gain": GainDisplay, "ks": KSDisplay, "threshold": ThresholdDisplay,
            "class_report": ClassReportDisplay, "error": ErrorDisplay}


def draw_curve(kind: str, pred, ax):
    """Draw ``kind`` for ``pred`` on ``ax``; a model without scores gets a panel saying so."""
    try:
        display = DISPLAYS[kind].from_predictions(pred)
    except NbmlError as error:
        if kind not in RANKED:
            raise
        ax.text(0.5, 0.5, str(error).replace(": ", ":\n", 1), ha="center", va="center", wrap=True)
        ax.set_axis_off()
        return None
    return display.plot(ax=ax)
