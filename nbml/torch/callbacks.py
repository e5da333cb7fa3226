"""Training callbacks: small strategy objects the trainer calls.

A callback is any object with some of these methods (all optional):

- ``on_train_begin(estimator)``
- ``on_epoch_end(estimator, history)`` -- ``history`` is the DataFrame of the epochs so far
  (columns ``epoch, train_loss, val_loss, val_<metric>, lr, time``). Raising stops training and
  the exception propagates (e.g. ``optuna.TrialPruned``); ``KeyboardInterrupt`` stops training
  like Ctrl-C and keeps the best weights and the history.
- ``on_train_end(estimator)``

``TextProgress`` prints plain text (terminal); ``LiveLossPlot`` is the notebook view: one PNG
displayed once and updated in place. IPython and matplotlib are imported inside the methods.
"""
from __future__ import annotations

import math
import sys
import time


def _best_epoch(history):
    """Epoch with the lowest validation loss (train loss when there is no validation)."""
    if history is None or len(history) == 0:
        return None
    column = "val_loss" if history["val_loss"].notna().any() else "train_loss"
    return int(history.loc[history[column].idxmin(), "epoch"])


def _final_history(estimator, seen):
    """The whole run's history at the end (the estimator's ``history_`` when it has one: a
    callback earlier in the list may have stopped the run before this one saw the last row)."""
    history = getattr(estimator, "history_", None)
    if history is not None and (seen is None or len(history) >= len(seen)):
        return history
    return seen


def _metric_column(history):
    return next((c for c in history.columns if c.startswith("val_") and c != "val_loss"), None)


def _fmt_seconds(seconds):
    if seconds is None or not math.isfinite(seconds):
        return "?"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def progress_line(estimator, history, done=False):
    """``epoch 3/20 · 0.2s/epoch · ETA 3.4s · best epoch 2 (val_loss 0.31)``."""
    epochs = getattr(estimator, "epochs", None)
    if history is None or len(history) == 0:
        return f"epoch 0/{epochs}" if epochs else "starting"
    last = history.iloc[-1]
    epoch = int(last["epoch"])
    per_epoch = float(history["time"].mean())
    parts = [f"epoch {epoch}/{epochs}" if epochs else f"epoch {epoch}"]
    parts.append(f"{per_epoch:.2g}s/epoch")
    if not done and epochs:
        parts.append(f"ETA {_fmt_seconds(per_epoch * (epochs - epoch))}")
    best = _best_epoch(history)
    if best is not None:
        column = "val_loss" if history["val_loss"].notna().any() else "train_loss"
        value = float(history.loc[history["epoch"] == best, column].iloc[0])
        parts.append(f"best epoch {best} ({column} {value:.4g})")
    if done:
        if getattr(estimator, "interrupted_", False):
            parts.append("interrupted")
        elif epochs and epoch < epochs:
            parts.append("stopped early")
        else:
            parts.append("done")
    return " · ".join(parts)


class TextProgress:
    """Plain-text progress: one line per epoch, at most one every ``min_interval`` seconds
    (the last epoch is always printed)."""

    def __init__(self, min_interval=0.0, file=None):
        self.min_interval = min_interval
        self.file = file

    def _print(self, text):
        print(text, file=self.file or sys.stdout, flush=True)

    def on_train_begin(self, estimator):
        self._last = -math.inf
        self._history = None
        self._printed_epoch = None
        self._epochs = getattr(estimator, "epochs", None)

    def _line(self, history):
        row = history.iloc[-1]
        epochs = self._epochs
        parts = [f"epoch {int(row['epoch']):>3}" + (f"/{epochs}" if epochs else "")]
        parts.append(f"train_loss {row['train_loss']:.4f}")
        if not math.isnan(row["val_loss"]):
            parts.append(f"val_loss {row['val_loss']:.4f}")
            metric = _metric_column(history)
            if metric is not None:
                parts.append(f"{metric} {row[metric]:.4f}")
        parts.append(f"lr {row['lr']:.3g}")
        parts.append(f"{row['time']:.2f}s")
        return "  ".join(parts)

    def on_epoch_end(self, estimator, history):
        self._epochs = getattr(estimator, "epochs", None)
        self._history = history
        now = time.perf_counter()
        if now - self._last >= self.min_interval:
            self._last = now
            self._printed_epoch = int(history["epoch"].iloc[-1])
            self._print(self._line(history))

    def on_train_end(self, estimator):
        history = _final_history(estimator, self._history)
        if history is None or len(history) == 0:
            return
        if self._printed_epoch != int(history["epoch"].iloc[-1]):
            self._print(self._line(history))
        self._print(progress_line(estimator, history, done=True))


class LiveLossPlot:
    """Notebook view: loss, metric and learning-rate curves redrawn in place.

    The figure is a plain ``matplotlib.figure.Figure`` (no pyplot state), rendered to PNG and
    displayed once with a display id; later epochs update that same output. Redraws happen at
    most every ``min_interval`` seconds and take at most ~``max_share`` of the training time;
    the last epoch is always drawn, with a marker at the best epoch.
    """

    def __init__(self, min_interval=0.5, figsize=(10, 3.2), dpi=80, max_share=0.1):
        self.min_interval = min_interval
        self.figsize = figsize
        self.dpi = dpi
        self.max_share = max_share
        self.handle = None
        self.figure = None
        self.n_draws = 0

    def __getstate__(self):
        # the figure and the display handle belong to one run in one front end: never copied
        # (clone(), pickling a fitted estimator that holds this callback)
        state = dict(self.__dict__)
        state.update(handle=None, figure=None, live=None, _history=None)
        return state

    # -- drawing
    def _new_live(self):
        from nbml.widgets.live import LiveFigure

        self.live = LiveFigure(3, figsize=self.figsize, dpi=self.dpi, min_interval=self.min_interval,
                               max_share=self.max_share, layout="constrained", reuse_axes=False)
        self.figure = self.live.figure

    def draw(self, estimator, history, done=False):
        """Redraw the figure from ``history`` now; returns the PNG bytes."""
        if self.live is None:
            self._new_live()
        self.live.draw(self._draw_axes, estimator, history, done, force=True)
        self.n_draws += 1
        return self.live.png

    def _draw_axes(self, axes, estimator, history, done):
        figure = self.figure
        ax_loss, ax_metric, ax_lr = axes
        if history is not None and len(history):
            epochs = history["epoch"]
            ax_loss.plot(epochs, history["train_loss"], label="train", color="C0")
            has_val = history["val_loss"].notna().any()
            if has_val:
                ax_loss.plot(epochs, history["val_loss"], label="validation", color="C1")
            metric = _metric_column(history)
            if metric is not None and history[metric].notna().any():
                ax_metric.plot(epochs, history[metric], color="C2")
            ax_lr.plot(epochs, history["lr"], color="C3")
            best = _best_epoch(history)
            if best is not None:
                column = "val_loss" if has_val else "train_loss"
                value = history.loc[history["epoch"] == best, column].iloc[0]
                ax_loss.axvline(best, color="0.5", linestyle=":", linewidth=1)
                ax_loss.plot([best], [value], marker="o", color="C3", label=f"best (epoch {best})")
                if metric is not None and history[metric].notna().any():
                    ax_metric.axvline(best, color="0.5", linestyle=":", linewidth=1)
            ax_loss.legend(loc="upper right", fontsize="small")
            if len(history) > 1 and (history["lr"] > 0).all() and history["lr"].nunique() > 1:
                ax_lr.set_yscale("log")
            else:
                ax_lr.set_ylim(0, 1.2 * float(history["lr"].max()) or 1.0)
            epochs_total = getattr(estimator, "epochs", None)
            if epochs_total:
                for ax in (ax_loss, ax_metric, ax_lr):
                    ax.set_xlim(0.5, max(epochs_total, 1) + 0.5)
        metric_name = _metric_column(history) if history is not None else None
        ax_loss.set_title("loss")
        ax_metric.set_title((metric_name or "val_metric").replace("_", " "))
        ax_lr.set_title("learning rate")
        for ax in (ax_loss, ax_metric, ax_lr):
            ax.set_xlabel("epoch")
        figure.suptitle(progress_line(estimator, history, done=done), fontsize="medium")

    # -- callback protocol
    def on_train_begin(self, estimator):
        self._new_live()
        self.n_draws = 0
        self._history = None
        self.draw(estimator, None)
        self.handle = self.live.show()

    def on_epoch_end(self, estimator, history):
        self._history = history
        # throttled by the LiveFigure: at most every min_interval s and ~max_share of the run
        if self.live.draw(self._draw_axes, estimator, history, False):
            self.n_draws += 1

    def on_train_end(self, estimator):
        if self.figure is None:
            return
        self.draw(estimator, _final_history(estimator, self._history), done=True)


class OptunaPruning:
    """Reports ``monitor`` to an Optuna trial each epoch and raises ``optuna.TrialPruned`` when
    the trial's pruner says so. Lower is better for losses; the study's direction decides."""

    def __init__(self, trial, monitor="val_loss"):
        self.trial = trial
        self.monitor = monitor

    def on_epoch_end(self, estimator, history):
        import optuna

        value = float(history[self.monitor].iloc[-1])
        if math.isnan(value):
            value = float(history["train_loss"].iloc[-1])
        epoch = int(history["epoch"].iloc[-1])
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch} ({self.monitor}={value:.4g})")


def progress_view(kind="auto"):
    """The progress callback for where the code runs, or None.

    ``"auto"``: ``LiveLossPlot`` inside a Jupyter kernel, ``TextProgress`` (one line a second at
    most) elsewhere; ``"live"``, ``"text"``; ``"none"``/``None``/``False``: no view.
    """
    if kind in (None, False, "none"):
        return None
    if kind == "live":
        return LiveLossPlot()
    if kind == "text":
        return TextProgress(min_interval=1.0)
    if kind != "auto":
        raise ValueError(f"kind={kind!r} is not allowed: use auto, live, text or none")
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython is a dependency
        shell = None
    in_kernel = shell is not None and "IPKernelApp" in getattr(shell, "config", {})
    return LiveLossPlot() if in_kernel else TextProgress(min_interval=1.0)
