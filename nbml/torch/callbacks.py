"""Training callbacks: the behaviours of the torch training loop, and its views.

Every behaviour beyond forward, backward and step is a :class:`Callback` (as in skorch): the NaN
check, the learning-rate schedule, gradient clipping, the best-weights checkpoint, early stopping,
the per-epoch report a pruner reads, and the progress views. ``Trainer.fit`` calls each hook on
every callback in order, as ``hook(estimator, run=run, **kwargs)``:

- ``on_train_begin(estimator, run)``
- ``on_epoch_begin(estimator, run, epoch)``
- ``on_grad_computed(estimator, run)`` -- after ``backward``, before the optimizer's step
- ``on_batch_end(estimator, run)`` -- after the optimizer's step
- ``on_epoch_end(estimator, history, run, epoch, train_loss, val_loss, val_metric, lr)`` --
  ``history`` is the DataFrame of the epochs so far (columns ``epoch, train_loss, val_loss,
  val_<metric>, lr, time``). Raising stops training and the exception propagates (e.g.
  ``optuna.TrialPruned``); ``KeyboardInterrupt`` stops training like Ctrl-C and keeps the best
  weights and the history.
- ``on_train_end(estimator, run, outcome)``

``estimator`` is the TorchClassifier / TorchRegressor being fit (the ``Trainer`` for a plain
module); ``run`` is the :class:`nbml.torch.trainer.TrainingRun` (module, optimizer, ``stop``...).
Any other object with some of ``on_train_begin(estimator)``, ``on_epoch_end(estimator,
history)``, ``on_train_end(estimator)`` works too: it is called with those arguments only.

``TextProgress`` prints plain text (terminal); ``LiveLossPlot`` is the notebook view: one PNG
displayed once and updated in place. torch, IPython and matplotlib are imported inside methods.
"""
from __future__ import annotations

import math
import sys
import time
from nbml.errors import NbmlError

HOOKS = ("on_train_begin", "on_epoch_begin", "on_grad_computed", "on_batch_end", "on_epoch_end",
         "on_train_end")


class NaNLossError(NbmlError):
    """The training loss became NaN or infinite (nearly always: the learning rate is too high)."""


class Callback:
    """Base class of the training callbacks: every hook does nothing and takes ``**kwargs``, so
    a subclass overrides the hooks it needs and names only the keywords it reads."""

    # False spares the loop building the history DataFrame each epoch for this callback
    needs_history = True

    def on_train_begin(self, estimator, **kwargs):
        pass

    def on_epoch_begin(self, estimator, **kwargs):
        pass

    def on_grad_computed(self, estimator, **kwargs):
        pass

    def on_batch_end(self, estimator, **kwargs):
        pass

    def on_epoch_end(self, estimator, history=None, **kwargs):
        pass

    def on_train_end(self, estimator, **kwargs):
        pass


def overrides(callback, hook) -> bool:
    """Whether ``callback`` does something in ``hook`` (the loop calls only those)."""
    return getattr(type(callback), hook) is not getattr(Callback, hook)


class _Positional(Callback):
    """A callback written before :class:`Callback`: an object with some of
    ``on_train_begin(estimator)``, ``on_epoch_end(estimator, history)``,
    ``on_train_end(estimator)``, called with exactly those arguments."""

    def __init__(self, callback):
        self.callback = callback

    def _call(self, hook, *args):
        method = getattr(self.callback, hook, None)
        if method is not None:
            method(*args)

    def on_train_begin(self, estimator, **kwargs):
        self._call("on_train_begin", estimator)

    def on_epoch_end(self, estimator, history=None, **kwargs):
        self._call("on_epoch_end", estimator, history)

    def on_train_end(self, estimator, **kwargs):
        self._call("on_train_end", estimator)


def as_callback(callback) -> Callback:
    return callback if isinstance(callback, Callback) else _Positional(callback)


# ----------------------------------------------------------------------------- training behaviours
class NaNCheck(Callback):
    """Raises :class:`NaNLossError` when an epoch's training loss is not finite: every later
    step would only spread the NaN, so the error names the likely fix instead."""

    needs_history = False

    def on_epoch_end(self, estimator, history=None, *, epoch, train_loss, lr, **kwargs):
        if not math.isfinite(train_loss):
            raise NaNLossError(
                f"the training loss became {train_loss} at epoch {epoch} with lr={lr:g}: the "
                f"learning rate is probably too high (try lr={lr / 10:g} or clip=1.0), or X/y "
                "hold huge values (scale the features)"
            )


class LRScheduler(Callback):
    """Steps the learning-rate schedule ``spec`` (``step:S:G``, ``cosine``, ``onecycle``,
    ``plateau:P:F``, ``exponential:G``): one-cycle after every batch (its cycle is counted in
    steps), the others after every epoch; ``plateau`` watches the validation loss, or the
    training loss without validation rows."""

    needs_history = False

    def __init__(self, spec):
        self.spec = spec

    def on_train_begin(self, estimator, *, run, **kwargs):
        from nbml.torch.trainer import make_scheduler

        self.scheduler, self.per_batch = make_scheduler(
            self.spec, run.optimizer, run.epochs, len(run.bounds)
        )
        self.plateau = type(self.scheduler).__name__ == "ReduceLROnPlateau"

    def on_batch_end(self, estimator, **kwargs):
        if self.per_batch:
            self.scheduler.step()

    def on_epoch_end(self, estimator, history=None, *, run, train_loss, val_loss, **kwargs):
        if self.per_batch:
            return
        if self.plateau:
            self.scheduler.step(val_loss if run.has_val else train_loss)
        else:
            self.scheduler.step()


class GradientClipping(Callback):
    """Scales the gradients down to a total norm of at most ``max_norm`` before each step."""

    needs_history = False

    def __init__(self, max_norm):
        self.max_norm = max_norm

    def on_train_begin(self, estimator, **kwargs):
        from torch.nn.utils import clip_grad_norm_

        self._clip = clip_grad_norm_  # looked up once: it runs every batch

    def on_grad_computed(self, estimator, *, run, **kwargs):
        self._clip(run.params, self.max_norm)


class Checkpoint(Callback):
    """Tracks the best epoch -- lowest validation loss, or training loss without validation
    rows -- and keeps a copy of its weights when there are validation rows (without them the
    last weights are as good a guess, and copying would cost every improving epoch). At the
    end the copy is put back when ``restore`` (early stopping) or when training was
    interrupted, so Ctrl-C never leaves a worse model than the best one seen."""

    needs_history = False

    def __init__(self, restore=False):
        self.restore = restore
        # the trainer reads best_epoch even when training ends before it began (Ctrl-C twice)
        self.on_train_begin(None)

    def on_train_begin(self, estimator, **kwargs):
        self.best_loss, self.best_epoch, self.state = math.inf, None, None

    def on_epoch_end(self, estimator, history=None, *, run, epoch, train_loss, val_loss, **kwargs):
        loss = val_loss if run.has_val else train_loss
        if loss < self.best_loss:
            self.best_loss, self.best_epoch = loss, epoch
            if run.has_val:
                self.state = {k: v.detach().clone() for k, v in run.module.state_dict().items()}

    def on_train_end(self, estimator, *, run, **kwargs):
        if self.state is not None and (self.restore or run.interrupted):
            run.module.load_state_dict(self.state)

    def kept(self) -> str:
        """What the end of training leaves in the module, in words."""
        if self.state is None:
            return "the current weights"
        return f"the weights of epoch {self.best_epoch}"


class EarlyStopping(Callback):
    """Ends training after ``patience`` epochs without a lower validation loss (never without
    validation rows: the training loss keeps falling as the model overfits)."""

    needs_history = False

    def __init__(self, patience):
        self.patience = patience

    def on_train_begin(self, estimator, **kwargs):
        self.best_loss, self.waited = math.inf, 0

    def on_epoch_end(self, estimator, history=None, *, run, val_loss, **kwargs):
        if not run.has_val:
            return
        if val_loss < self.best_loss:
            self.best_loss, self.waited = val_loss, 0
        else:
            self.waited += 1
        if self.waited >= self.patience:
            run.stop = True


# ----------------------------------------------------------------------------- pruning reports
class EpochReporter(Callback):
    """Reports one score per epoch to a pruner, which may stop the trial.

    ``report`` is an Optuna trial (``optuna.TrialPruned`` is raised when its pruner says so) or
    a function ``report(epoch, value)`` that raises to stop; None only counts epochs.
    ``monitor`` is a history column (``val_loss``) or a metric name (``accuracy`` reads
    ``val_accuracy``); ``greater`` says whether higher is better (default: not for a loss).
    An epoch without that value (no validation rows) reports the nearest signal, oriented the
    same way: another validation metric, then the validation loss, then the training loss,
    negated when higher is better.

    ``epochs`` counts the epochs seen; with ``active = False`` it only counts (the tuner
    reports the first cross-validation fold only).
    """

    def __init__(self, report=None, monitor="val_loss", greater=None):
        self.report = report
        self.monitor = monitor
        self.greater = greater
        self.epochs = 0
        self.active = True

    def on_epoch_end(self, estimator, history=None, **kwargs):
        self.epochs += 1
        if self.report is None or not self.active or history is None or len(history) == 0:
            return
        name, value = self.value(history)
        if value is not None:
            self._send(int(history["epoch"].iloc[-1]), name, value)

    def value(self, history):
        """``(column, value)`` reported for the last epoch of ``history`` (the column with a
        leading ``-`` when its value is negated); value None when there is none."""
        last = history.iloc[-1]
        column = self.monitor if self.monitor in history.columns else f"val_{self.monitor}"
        greater = not column.endswith("loss") if self.greater is None else self.greater
        if column not in history.columns and not greater:
            column = "val_loss"
        if greater and not _finite(last.get(column)):
            column = next((c for c in history.columns if c.startswith("val_") and c != "val_loss"
                           and _finite(last.get(c))), "-val_loss")
        if not _finite(last.get(column.lstrip("-"))):
            column = "-train_loss" if greater else "train_loss"
        value = last.get(column.lstrip("-"))
        if not _finite(value):
            return column, None
        return column, -float(value) if column.startswith("-") else float(value)

    def _send(self, epoch, name, value):
        if not hasattr(self.report, "should_prune"):
            self.report(epoch, value)
            return
        self.report.report(value, epoch)
        if self.report.should_prune():
            import optuna

            raise optuna.TrialPruned(f"pruned at epoch {epoch} ({name}={value:.4g})")

    def __deepcopy__(self, memo):  # clone() must not copy the trial behind ``report``
        return self


# the name this class had as the torch estimators' Optuna callback
OptunaPruning = EpochReporter


def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------- views

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


class _Claim:
    """Shared by a view and its copies (``clone()`` deep-copies an estimator's callbacks): the
    first run among the copies is drawn, the later ones are refits (CV folds, learning-curve
    sizes, label search) and draw nothing of their own."""

    def __init__(self, taken=False):
        self.taken = taken

    def __deepcopy__(self, memo):
        return self


class _View(Callback):
    """A progress view draws one run: every run of the object you made (you fit it yourself),
    and the first run among its copies — the fit ``%%train`` shows; refits of those copies
    inside learning curves, CV, tuning or label search stay silent. An unpickled copy (another
    process, a stored result) never draws."""

    _drawing = True

    def _start(self) -> bool:
        claim = self.__dict__.setdefault("_claim", _Claim())
        self._drawing = not (self.__dict__.get("_copy", False) and claim.taken)
        claim.taken = True
        return self._drawing

    def __deepcopy__(self, memo):
        import copy

        state = self.__getstate__() if hasattr(self, "__getstate__") else dict(self.__dict__)
        state = {k: v for k, v in state.items() if k != "_claim"}
        new = object.__new__(type(self))
        new.__dict__.update(copy.deepcopy(state, memo))
        new.__dict__.update(_claim=self.__dict__.setdefault("_claim", _Claim()), _copy=True, _drawing=False)
        return new

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.update(_claim=_Claim(taken=True), _copy=True, _drawing=False)


class TextProgress(_View):
    """Plain-text progress: one line per epoch, at most one every ``min_interval`` seconds
    (the last epoch is always printed). Refits of a copy after its first run print nothing."""

    def __init__(self, min_interval=0.0, file=None):
        self.min_interval = min_interval
        self.file = file

    def _print(self, text):
        print(text, file=self.file or sys.stdout, flush=True)

    def on_train_begin(self, estimator, **kwargs):
        self._last = -math.inf
        self._history = None
        self._printed_epoch = None
        self._epochs = getattr(estimator, "epochs", None)
        self._start()

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

    def on_epoch_end(self, estimator, history=None, **kwargs):
        if not self._drawing:
            return
        self._epochs = getattr(estimator, "epochs", None)
        self._history = history
        now = time.perf_counter()
        if now - self._last >= self.min_interval:
            self._last = now
            self._printed_epoch = int(history["epoch"].iloc[-1])
            self._print(self._line(history))

    def on_train_end(self, estimator, **kwargs):
        if not self._drawing:
            return
        history = _final_history(estimator, self._history)
        if history is None or len(history) == 0:
            return
        if self._printed_epoch != int(history["epoch"].iloc[-1]):
            self._print(self._line(history))
        self._print(progress_line(estimator, history, done=True))


class LiveLossPlot(_View):
    """Notebook view: loss, metric and learning-rate curves redrawn in place.

    The figure is a plain ``matplotlib.figure.Figure`` (no pyplot state), rendered to PNG and
    displayed once with a display id; later epochs update that same output. Redraws happen at
    most every ``min_interval`` seconds and take at most ~``max_share`` of the training time;
    the last epoch is always drawn, with a marker at the best epoch. Refits of a copy after its
    first run (CV folds, learning-curve sizes, label search) draw nothing.
    """

    def __init__(self, min_interval=0.5, figsize=(10, 3.2), dpi=80, max_share=0.1):
        self.min_interval = min_interval
        self.figsize = figsize
        self.dpi = dpi
        self.max_share = max_share
        self.handle = None
        self.figure = None
        self.live = None
        self.curves = None
        self.n_draws = 0

    def __getstate__(self):
        # the figure and the display handle belong to one run in one front end: never copied
        # (clone(), pickling a fitted estimator that holds this callback)
        state = dict(self.__dict__)
        state.update(handle=None, figure=None, live=None, _history=None, curves=None)
        return state

    # -- drawing
    def _new_live(self):
        from nbml.widgets.live import LiveFigure

        self.live = LiveFigure(3, figsize=self.figsize, dpi=self.dpi, min_interval=self.min_interval,
                               max_share=self.max_share, reuse_axes=False,
                               margins={"left": 0.06, "right": 0.985, "bottom": 0.16, "top": 0.83, "wspace": 0.28})
        self.figure = self.live.figure
        self.curves = _loss_curves(self)

    def draw(self, estimator, history, done=False):
        """Draw the figure from ``history`` now; returns the PNG bytes. The curves' lines are
        made once and get new data on each draw (``nbml.plots.artists``)."""
        if self.live is None:
            self._new_live()
        self._show(estimator, history, done, force=True)
        self.n_draws += 1
        return self.live.png

    def _show(self, estimator, history, done, force=False) -> bool:
        if history is None or not len(history):  # before the first epoch: empty axes and titles
            return self.live.draw(self._draw_axes, estimator, history, done, force=force)
        return self.live.update(self.curves, estimator, history, done, force=force)

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
    def on_train_begin(self, estimator, **kwargs):
        self.n_draws = 0
        self._history = None
        if not self._start():
            return
        self._new_live()
        self.draw(estimator, None)
        self.handle = self.live.show()

    def on_epoch_end(self, estimator, history=None, **kwargs):
        if not self._drawing:
            return
        self._history = history
        # throttled by the LiveFigure: at most every min_interval s and ~max_share of the run
        if self._show(estimator, history, False):
            self.n_draws += 1

    def on_train_end(self, estimator, **kwargs):
        if self.figure is None or not self._drawing:
            return
        self.draw(estimator, _final_history(estimator, self._history), done=True)


def _loss_curves(view):
    """The in-place plot of a ``LiveLossPlot``'s three axes: loss (train, validation, the best
    epoch), the validation metric and the learning rate, each a line made once whose data is
    replaced every epoch (no axes cleared, no artists rebuilt)."""
    import numpy as np

    from nbml.plots.artists import FULL, InPlacePlot, _limits, _reset

    class LossCurves(InPlacePlot):
        def setup(self, estimator, history, done):
            ax_loss, ax_metric, ax_lr = view.live.axes
            for ax in (ax_metric, ax_lr):
                _reset(ax)
            self.train, = ax_loss.plot([], [], label="train", color="C0")
            self.val, = ax_loss.plot([], [], label="validation", color="C1")
            self.best_at = ax_loss.axvline(1, color="0.5", linestyle=":", linewidth=1)
            self.best, = ax_loss.plot([], [], marker="o", color="C3", linestyle="none", label="best")
            self.metric, = ax_metric.plot([], [], color="C2")
            self.metric_best = ax_metric.axvline(1, color="0.5", linestyle=":", linewidth=1)
            self.lr, = ax_lr.plot([], [], color="C3")
            ax_loss.set_title("loss")
            ax_lr.set_title("learning rate")
            for ax in (ax_loss, ax_metric, ax_lr):
                ax.set_xlabel("epoch")
            self.legend, self.lr_scale = None, "linear"

        def set(self, estimator, history, done):
            ax_loss, ax_metric, ax_lr = view.live.axes
            epochs = history["epoch"].to_numpy(dtype=float)
            train = history["train_loss"].to_numpy(dtype=float)
            val = history["val_loss"].to_numpy(dtype=float)
            has_val = bool(np.isfinite(val).any())
            self.train.set_data(epochs, train)
            self.val.set_data(epochs, val)
            self.val.set_visible(has_val)
            name = _metric_column(history)
            shown = name is not None and history[name].notna().any()
            self.metric.set_data(*((epochs, history[name].to_numpy(dtype=float)) if shown else ([], [])))
            ax_metric.set_title((name or "val_metric").replace("_", " "))
            best = _best_epoch(history)
            for line in (self.best_at, self.best, self.metric_best):
                line.set_visible(best is not None)
            self.metric_best.set_visible(best is not None and shown)
            if best is not None:
                value = history.loc[history["epoch"] == best, "val_loss" if has_val else "train_loss"].iloc[0]
                self.best_at.set_xdata([best, best])
                self.metric_best.set_xdata([best, best])
                self.best.set_data([best], [value])
                self.best.set_label(f"best (epoch {best})")
            labels = [line.get_label() for line in (self.train, self.val, self.best) if line.get_visible()]
            if labels != self.legend:
                ax_loss.legend(handles=[line for line in (self.train, self.val, self.best) if line.get_visible()],
                               loc="upper right", fontsize="small")
                self.legend = labels
            lr = history["lr"].to_numpy(dtype=float)
            self.lr.set_data(epochs, lr)
            scale = "log" if len(lr) > 1 and (lr > 0).all() and len(np.unique(lr)) > 1 else "linear"
            if scale != self.lr_scale:
                ax_lr.set_yscale(scale)
                self.lr_scale = scale
            if scale == "log":
                ax_lr.set_ylim(lr.min() / 1.3, lr.max() * 1.3)
            else:
                ax_lr.set_ylim(0, 1.2 * float(lr.max()) or 1.0)
            total = getattr(estimator, "epochs", None)
            xlim = (0.5, max(total, 1) + 0.5) if total else _limits(epochs, 0.04)
            for ax in (ax_loss, ax_metric, ax_lr):
                ax.set_xlim(xlim)
            ax_loss.set_ylim(_limits(np.concatenate([train, val[np.isfinite(val)]])))
            if shown:
                ax_metric.set_ylim(_limits(history[name].dropna().to_numpy(dtype=float)))
            view.figure.suptitle(progress_line(estimator, history, done=done), fontsize="medium")
            return FULL

    return LossCurves(view.live.axes[0])


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
        raise NbmlError(f"kind={kind!r} is not allowed: use auto, live, text or none")
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython is a dependency
        shell = None
    in_kernel = shell is not None and "IPKernelApp" in getattr(shell, "config", {})
    return LiveLossPlot() if in_kernel else TextProgress(min_interval=1.0)
