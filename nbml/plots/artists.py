"""Plots that change in place: artists made once, whose data is replaced on every update.

A view that redraws the same plot again and again (the panel after each refit, the loss
curve, the live search history) pays mostly for building artists, ticks and legends and for
rendering them, not for the numbers. An ``InPlacePlot`` builds its artists on the first
``update`` and afterwards only sets their data (``Line2D.set_data``, ``AxesImage.set_data``,
``Text.set_text``, axis limits). Its ``update`` says how much changed — ``FULL`` (axes,
limits, labels), ``DATA`` (its ``animated`` artists), ``OVERLAY`` (only its ``overlay``
artists, e.g. a threshold marker) or ``NOTHING`` — and ``nbml.widgets.live.LiveFigure.update`` redraws only
that much over cached pictures of the rest (blitting): a few milliseconds instead of a full
render.

A plot shows what it cannot update in place (a multi-class ROC, a model without scores) with
the ordinary ``nbml.plots`` drawing functions, redrawn from scratch each time.
"""
from __future__ import annotations

import math

import numpy as np

# how much of a figure an update changed (LiveFigure redraws that much)
NOTHING, OVERLAY, DATA, FULL = -1, 0, 1, 2


def wipe(ax):
    """Remove what was drawn on ``ax`` but keep the axes and their ticks: clearing an axes
    rebuilds every tick, which costs more than drawing a small plot."""
    for artist in [*ax.lines, *ax.images, *ax.texts, *ax.collections, *ax.patches, *ax.artists]:
        artist.remove()
    legend = ax.get_legend()
    if legend is not None:
        legend.remove()
    ax.set_title("")
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.relim()
    ax.set_autoscale_on(True)
    ax.set_prop_cycle(None)  # the same colours on every redraw


def _reset(ax):
    wipe(ax)
    ax.set_axis_on()
    ax.set_aspect("auto")
    ax.set_xscale("linear")
    ax.set_yscale("linear")


class InPlacePlot:
    """One plot on one axes. ``update(*data)`` shows ``data`` and returns how much of the
    figure changed: ``FULL`` (first update, limits or labels changed, a fallback drawing),
    ``DATA`` (only ``animated`` and ``overlay`` artists), ``OVERLAY`` (only ``overlay``) or
    ``NOTHING``."""

    def __init__(self, ax):
        self.ax = ax
        self.animated: list = []  # artists drawn over the cached background
        self.overlay: list = []  # drawn over those: what changes most often
        self.ready = False  # artists built (False after a fallback drawing)

    def update(self, *data) -> int:
        if not self.supports(*data):
            self.ready, self.animated, self.overlay = False, [], []
            _reset(self.ax)
            self.fallback(*data)
            return FULL
        first = not self.ready
        if first:
            _reset(self.ax)
            self.animated, self.overlay = [], []
            self.setup(*data)
            for artist in self.animated + self.overlay:
                artist.set_animated(True)  # left out of the cached background
            self.ready = True
        level = self.set(*data)
        return FULL if first else level

    # -- what subclasses give
    def supports(self, *data) -> bool:
        return True

    def setup(self, *data):
        raise NotImplementedError

    def set(self, *data) -> int:
        """Put ``data`` into the artists; return what changed (``FULL`` ... ``NOTHING``)."""
        raise NotImplementedError

    def fallback(self, *data):
        raise NotImplementedError


def binary_score(pred):
    """The positive class's score column of binary predictions (None: no scores)."""
    if pred is None or pred.classes is None or len(pred.classes) != 2:
        return None
    if pred.proba is not None:
        return np.asarray(pred.proba)[:, 1]
    if pred.scores is not None:
        return np.asarray(pred.scores).reshape(len(pred.y_pred), -1)[:, -1]
    return None


def confusion_counts(y_true, y_pred, classes) -> np.ndarray:
    """The confusion matrix (rows: true, columns: predicted) over ``classes``, counted with one
    ``np.unique`` pass: scikit-learn's validation costs more than counting 100 rows. A label
    outside ``classes`` goes to scikit-learn, which names it."""
    classes = np.asarray(classes)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    try:
        order = np.argsort(classes, kind="stable")
        ranked = classes[order]
        t, p = np.searchsorted(ranked, y_true), np.searchsorted(ranked, y_pred)
        n = len(classes)
        if t.max(initial=0) < n and p.max(initial=0) < n and (ranked[t] == y_true).all() \
                and (ranked[p] == y_pred).all():
            where = np.empty(n, dtype=np.intp)
            where[order] = np.arange(n)
            return np.bincount(where[t] * n + where[p], minlength=n * n).reshape(n, n)
    except TypeError:  # labels that do not sort together (mixed types)
        pass
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=classes)


class RocPlot(InPlacePlot):
    """Binary ROC curve with its AUC in the legend and, optionally, a marker at the point a
    decision threshold gives (``update(pred, at=thresholded_predictions)``). The curve is
    recomputed only when the scores changed: moving the marker redraws one artist."""

    def __init__(self, ax):
        super().__init__(ax)
        self._pred = None
        self._scores = None

    def supports(self, pred, at=None):
        return binary_score(pred) is not None

    def fallback(self, pred, at=None):
        from nbml.plots import DRAW

        self._pred = self._scores = None
        DRAW["roc"](pred, self.ax)

    def setup(self, pred, at=None):
        ax, positive = self.ax, pred.classes[1]
        self.chance, = ax.plot((0, 1), (0, 1), color="k", linestyle="--", label="Chance level (AUC = 0.5)")
        self.curve, = ax.plot([], [], color="C0", label=pred.label)
        self.marker, = ax.plot([], [], marker="o", color="C3", markersize=7, linestyle="none")
        ax.set(xlabel=f"False Positive Rate (Positive label: {positive})", xlim=(-0.01, 1.01),
               ylabel=f"True Positive Rate (Positive label: {positive})", ylim=(-0.01, 1.01), aspect="equal")
        ax.set_title(f"ROC ({pred.label})")
        self.legend = ax.legend(handles=[self.curve, self.chance], loc="lower right")
        self.animated, self.overlay = [self.curve, self.legend], [self.marker]
        self._pred = self._scores = None

    def set(self, pred, at=None):
        from sklearn.metrics import auc, roc_curve

        level, scores = OVERLAY, binary_score(pred)
        if pred is not self._pred and not (self._scores is not None and np.array_equal(scores, self._scores)
                                           and np.array_equal(pred.y_true, self._pred.y_true)):
            level, self._scores = DATA, scores
            fpr, tpr, _ = roc_curve(pred.y_true, scores, pos_label=pred.classes[1])
            self.curve.set_data(fpr, tpr)
            self.auc = float(auc(fpr, tpr))
            self.legend.get_texts()[0].set_text(f"{pred.label} (AUC = {self.auc:.2f})")
            self._pred = pred
        point = ([], [])
        if at is not None:
            counts = confusion_counts(at.y_true, at.y_pred, at.classes)
            negatives, positives = counts[0].sum(), counts[1].sum()
            point = ([counts[0, 1] / negatives if negatives else math.nan],
                     [counts[1, 1] / positives if positives else math.nan])
        if level == OVERLAY and np.array_equal(self.marker.get_xydata(), np.column_stack(point), equal_nan=True):
            return NOTHING
        self.marker.set_data(*point)
        return level


# more classes than this: scikit-learn's drawing (rotated labels, no per-cell artists kept)
MAX_CM_CLASSES = 12


class ConfusionPlot(InPlacePlot):
    """Confusion matrix as scikit-learn's ``ConfusionMatrixDisplay`` draws it (counts, viridis,
    text colour by cell brightness), with the image's cells and the texts replaced in place."""

    def supports(self, pred):
        return pred.classes is not None and len(pred.classes) <= MAX_CM_CLASSES

    def fallback(self, pred):
        from nbml.plots import DRAW

        DRAW["cm"](pred, self.ax)

    def setup(self, pred):
        from nbml.plots import _class_name

        ax, n = self.ax, len(pred.classes)
        self.image = ax.imshow(np.zeros((n, n)), interpolation="nearest", cmap="viridis")
        self.cells = [[ax.text(j, i, "", ha="center", va="center") for j in range(n)] for i in range(n)]
        names = [_class_name(c) for c in pred.classes]
        ax.set(xticks=np.arange(n), yticks=np.arange(n), xticklabels=names, yticklabels=names,
               ylabel="True label", xlabel="Predicted label", ylim=(n - 0.5, -0.5))
        if n > 4:
            for label in ax.get_xticklabels():
                label.set_rotation(45)
        ax.set_title(f"Confusion matrix ({pred.label})")
        self.animated = [self.image] + [text for row in self.cells for text in row]
        self.counts = None

    def set(self, pred):
        counts = confusion_counts(pred.y_true, pred.y_pred, pred.classes)
        if getattr(self, "counts", None) is not None and np.array_equal(counts, self.counts):
            return NOTHING  # the same cells: nothing to redraw
        self.counts = counts
        self.image.set_data(counts)
        low, high = counts.min(), counts.max()
        self.image.set_clim(low, high)
        cmap = self.image.cmap
        dark, light = cmap(0.0), cmap(1.0)  # scikit-learn: light text on dark cells and the reverse
        middle = (high + low) / 2.0
        for i, row in enumerate(self.cells):
            for j, text in enumerate(row):
                text.set_text(f"{counts[i, j]:d}")
                text.set_color(light if counts[i, j] < middle else dark)
        return DATA


def _limits(values, pad=0.05):
    """Data limits with a margin (matplotlib's default 5 %), finite values only."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return -0.05, 1.05
    low, high = float(values.min()), float(values.max())
    span = high - low or abs(high) or 1.0
    return low - pad * span, high + pad * span


class ResidualsPlot(InPlacePlot):
    """Residuals against predicted values (as ``PredictionErrorDisplay`` with at most 2,000
    points) with the points moved in place; the limits follow the data, so a full render."""

    SUBSAMPLE = 2000

    def supports(self, pred):
        return pred.task == "regression"

    def fallback(self, pred):
        from nbml.plots import DRAW

        DRAW["residuals"](pred, self.ax)

    def setup(self, pred):
        ax = self.ax
        self.points = ax.scatter([], [], alpha=0.5, color="C0")
        self.zero, = ax.plot([], [], color="black", linestyle="--", alpha=0.7)
        ax.set(xlabel="Predicted values", ylabel="Residuals (actual - predicted)")
        ax.set_title(f"Residuals ({pred.label})")
        self.animated = []

    def set(self, pred):
        y_true, y_pred = np.asarray(pred.y_true, dtype=float), np.asarray(pred.y_pred, dtype=float)
        if len(y_true) > self.SUBSAMPLE:  # the same rows every time, as scikit-learn's random_state=0
            rows = np.random.RandomState(0).choice(len(y_true), self.SUBSAMPLE, replace=False)
            y_true, y_pred = y_true[rows], y_pred[rows]
        residuals = y_true - y_pred
        self.points.set_offsets(np.column_stack([y_pred, residuals]))
        xlim = _limits(y_pred)
        self.zero.set_data(xlim, (0, 0))
        self.ax.set_xlim(xlim)
        self.ax.set_ylim(_limits(np.append(residuals, 0.0)))
        return FULL


class CurvesPlot(InPlacePlot):
    """Named lines over a shared x (a loss curve: ``update(x, {"train": y, "validation": y})``);
    lines are made once per name, their data replaced; limits follow the data."""

    def __init__(self, ax, title="", xlabel="", ylabel=""):
        super().__init__(ax)
        self.labels = (title, xlabel, ylabel)
        self.lines: dict = {}

    def setup(self, x, series):
        self.lines = {}
        title, xlabel, ylabel = self.labels
        self.ax.set(title=title, xlabel=xlabel, ylabel=ylabel)

    def set(self, x, series):
        shown = {name: y for name, y in series.items() if y is not None}
        for i, (name, y) in enumerate(shown.items()):
            if name not in self.lines:
                self.lines[name], = self.ax.plot([], [], color=f"C{i}", label=name)
            self.lines[name].set_data(x, y)
        for name, line in self.lines.items():
            line.set_visible(name in shown)
        legend = self.ax.get_legend()
        if legend is None or [t.get_text() for t in legend.get_texts()] != list(shown):
            self.ax.legend(handles=[self.lines[n] for n in shown], loc="upper right", fontsize="small")
        self.ax.set_xlim(_limits(x, 0.02))
        self.ax.set_ylim(_limits(np.concatenate([np.asarray(y, dtype=float).ravel() for y in shown.values()])
                                 if shown else []))
        return FULL


class HistoryPlot(InPlacePlot):
    """A search's optimization history: each trial's score and the best so far (a step line),
    as ``nbml.tuning.plots.draw_history`` draws it, with the points and the line moved in place."""

    def __init__(self, ax, metric: str, greater: bool):
        super().__init__(ax)
        self.metric, self.greater = metric, greater

    def setup(self, numbers, scores, title=None):
        ax = self.ax
        self.points = ax.scatter([], [], s=14, alpha=0.7, label="trial")
        self.best, = ax.step([], [], where="post", color="C3", label="best so far")
        ax.set(xlabel="trial", ylabel=self.metric)
        ax.legend(loc="best", fontsize=8)

    def set(self, numbers, scores, title=None):
        numbers, scores = np.asarray(numbers, dtype=float), np.asarray(scores, dtype=float)
        ok = np.isfinite(scores)
        self.points.set_offsets(np.column_stack([numbers[ok], scores[ok]]) if ok.any() else np.empty((0, 2)))
        if ok.any():
            best = (np.fmax.accumulate if self.greater else np.fmin.accumulate)(np.where(ok, scores, np.nan))
            self.best.set_data(numbers, best)
        else:
            self.best.set_data([], [])
        self.ax.set_title(title or "optimization history")
        self.ax.set_xlim(_limits(numbers if len(numbers) else [0, 1], 0.04))
        self.ax.set_ylim(_limits(scores[ok] if ok.any() else []))
        return FULL
