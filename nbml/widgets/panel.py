"""``nbml.panel``: sliders that refit a model and redraw its metrics and plots in place.

Every change of a control asks for one refit on the training rows, scored on the validation
rows. Refits run in a background thread and coalesce: while one runs, further changes only
mark the panel dirty, and the next refit uses the controls' values at that moment, so
dragging a slider never builds a backlog and the kernel keeps answering the browser. A refit
that fails shows its error and leaves the last good state on screen.

The binary threshold slider re-labels the stored validation scores (no refit) and moves
the confusion matrix's cells and the ROC curve's threshold marker only.

Plots change in place (``nbml.plots.artists``): each figure keeps its artists and gets new
data after a refit; a figure whose axes did not change redraws only those artists over a
cached picture of the rest, then encodes one PNG. When every control belongs to the final
estimator, the preprocessing is fit once on the training rows and each refit fits only the
model on the prepared rows (what ``%%tune`` does), with one BLAS thread for small data.
"""
from __future__ import annotations

import atexit
import html
import logging
import math
import threading
import time
import warnings
import weakref
from dataclasses import dataclass, field

import numpy as np

from nbml.errors import NbmlError
from nbml.widgets.live import LiveFigure, status_html

FIGSIZE = (3.8, 3.2)
DPI = 72


@dataclass
class Fit:
    """One setting tried: its parameters and what the refit gave (or its error)."""

    params: dict
    model: object = None
    pipeline: object = None
    val_pred: object = None
    val: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    fit_time: float = math.nan
    error: str | None = None
    warning: str | None = None


class Coalescer:
    """Runs ``fn()`` once for any number of requests made while a run is going on.

    ``background=True``: requests return at once and a worker thread runs ``fn`` until no
    request is left. ``background=False``: each request runs ``fn`` now (scripts, tests).
    """

    def __init__(self, fn, background: bool = True):
        self.fn = fn
        self.background = background
        _WORKERS.add(self)
        self.requests = 0
        self.runs = 0
        self._lock = threading.Lock()
        self._dirty = False
        self._running = False
        self._idle = threading.Event()
        self._idle.set()

    def request(self):
        self.requests += 1
        if not self.background:
            self.runs += 1
            self.fn()
            return
        with self._lock:
            self._dirty = True
            if self._running:
                return
            self._running = True
            self._idle.clear()
        threading.Thread(target=self._loop, name="nbml-panel-refit", daemon=True).start()

    def _loop(self):
        while True:
            with self._lock:
                if not self._dirty:
                    self._running = False
                    self._idle.set()
                    return
                self._dirty = False
            self.runs += 1
            try:
                self.fn()
            except Exception:  # noqa: BLE001 - fn reports its own errors; the worker must survive, and logs it
                logging.getLogger(__name__).exception("panel refit failed")

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no refit is running or pending; False on timeout."""
        return self._idle.wait(timeout)

    def stop(self, timeout: float | None = None) -> bool:
        """Drop pending requests and let a running refit finish; False if it is still running."""
        with self._lock:
            self._dirty = False
        return self.wait(timeout)


# every coalescer, so that interpreter exit waits for a refit in flight: a daemon thread killed
# inside a fit (torch, OpenMP) can abort the process ("terminate called without an active exception")
_WORKERS: weakref.WeakSet = weakref.WeakSet()
EXIT_WAIT = 10.0  # seconds interpreter exit waits for each refit in flight


@atexit.register
def _stop_workers():
    for worker in list(_WORKERS):
        worker.stop(EXIT_WAIT)


def _num(value) -> str:
    """A metric: four decimals."""
    return "—" if value is None or not np.isfinite(value) else f"{value:.4f}"


def _fmt(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, (float, np.floating)):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


class Panel:
    """The live tuning panel of one model on one split; ``widget`` is what is displayed."""

    def __init__(self, target, space=None, params=None, split=None, namespace=None, background=True,
                 preprocess="auto", seed=None, name=None):
        import ipywidgets as widgets

        from nbml import metrics as _metrics
        from nbml.training import TrainResult
        from nbml.widgets.controls import make_controls

        self._resolve(target, split, preprocess, seed, name)
        self.namespace = namespace
        self.primary = _metrics.PRIMARY[self.task]
        self.greater = _metrics.greater_is_better(self.primary)
        self.controls = make_controls(self.pipeline, space=space, params=params, task=self.task)
        self.history: list[Fit] = []
        self.current: Fit | None = None  # the last good fit
        self.last_error: str | None = None
        self.kept: dict = {}
        self._lock = threading.RLock()
        self._coalescer = Coalescer(self._refit_now, background=background)
        # threshold moves need no refit but still a redraw: coalesced the same way
        self._threshold_coalescer = Coalescer(self._redraw_threshold, background=background)
        self._TrainResult = TrainResult

        # -- widgets
        self.status = widgets.HTML(value="")
        self.status.add_class("nbml-panel-status")
        self.summary = widgets.HTML(value="")  # one line: the primary metric, train/val/gap
        self.summary.add_class("nbml-panel-summary")
        self.metrics_view = widgets.HTML(value="")
        self.metrics_view.add_class("nbml-panel-metrics")
        self.history_view = widgets.HTML(value="")
        self.history_view.add_class("nbml-panel-history")
        self.keep_name = widgets.Text(value=self._next_keep_name(), description="keep as",
                                      layout=widgets.Layout(width="220px"))
        self.keep_button = widgets.Button(description="keep", icon="save", tooltip=
                                          "store the current setting as a TrainResult in the notebook")
        self.keep_button.on_click(lambda _: self.keep())

        self.figures: dict[str, LiveFigure] = {}
        self.plots: dict = {}  # kind -> the InPlacePlot on that figure's axes
        kinds = {"classification": ["roc", "cm"], "regression": ["residuals"], "clustering": []}[self.task]
        for kind in kinds:
            self._add_figure(kind)
        self.threshold = None

        # first fit: synchronous, so the panel opens with numbers and plots
        first = self._fit(self.values())
        if first.error is not None:
            raise NbmlError(f"the panel's first fit failed: {first.error}")
        self._accept(first)
        if self._binary_scores(first) is not None:
            low, high, value = self._threshold_range(first)
            self.threshold = widgets.FloatSlider(value=value, min=low, max=high, step=(high - low) / 100,
                                                 description="threshold", readout_format=".3g",
                                                 continuous_update=True,
                                                 style={"description_width": "initial"},
                                                 layout=widgets.Layout(width="340px"))
            self.threshold.observe(self._threshold_changed, names="value")
            self.threshold_view = widgets.HTML(value="")
            self.threshold_view.add_class("nbml-panel-threshold")
            self.keep_threshold = widgets.Checkbox(value=False, description="at this threshold", indent=False,
                                                   layout=widgets.Layout(width="140px"))
        if self._loss_curve(first.model) is not None:
            self._add_figure("loss")
        self._show(first)

        for control in self.controls:
            control.widget.observe(self._changed, names="value")
        left = [c.widget for c in self.controls]
        if self.threshold is not None:
            left += [widgets.HTML("<b>decision threshold</b> (no refit)"), self.threshold, self.threshold_view]
        keep_row = [self.keep_name, self.keep_button] + ([self.keep_threshold] if self.threshold is not None else [])
        left += [widgets.HBox(keep_row), self.status]
        plots = widgets.HBox([fig.widget() for fig in self.figures.values()])
        title = widgets.HTML(f"<b>{html.escape(self.name)}</b> · refit on {len(self.split.X_train)} train rows, "
                             f"scored on {len(self.split.X_val)} validation rows")
        self.widget = widgets.VBox([
            title,
            widgets.HBox([widgets.VBox(left, layout=widgets.Layout(min_width="360px")),
                          widgets.VBox([self.summary, self.metrics_view])]),
            plots,
            self.history_view,
        ])
        self.widget.add_class("nbml-panel")
        self.widget.panel = self  # reachable from the displayed widget (tests, notebooks)

    # -- what the panel works on ----------------------------------------------------------
    def _resolve(self, target, split, preprocess, seed, name):
        from nbml.recipe import is_torch_module, prepare
        from nbml.training import TrainResult

        if isinstance(target, TrainResult):
            if split is not None:
                raise NbmlError("a TrainResult carries its split; give split= only with a model")
            if target.fitted_on == "coreset":
                raise NbmlError(f"{target.name} was fit on a coreset; the panel refits on the training rows: give "
                                f"the model itself")
            self.recipe = prepare(target, seed=seed)
        elif hasattr(target, "fit") or is_torch_module(target):
            if isinstance(target, type):
                raise TypeError(f"got the class {target.__name__}, not a model: call it, e.g. {target.__name__}()")
            self.recipe = prepare(target, split, seed, preprocess)
        else:
            raise TypeError(f"panel needs a TrainResult (from nbml.train / %%train -o NAME) or a model; got "
                            f"{type(target).__name__}")
        self.name = name or (target.name if isinstance(target, TrainResult) else self.recipe.name)
        self.split, self.pipeline, self.seed = self.recipe.split, self.recipe.pipeline, self.recipe.seed
        self._fold = self._prepared = None
        self.task = self.split.task
        if self.split.X_val is None or len(self.split.X_val) == 0:
            raise NbmlError("the panel scores on validation rows but the split has none: split with val > 0")

    def values(self) -> dict:
        """The controls' current values, by the user's parameter names."""
        return {c.name: c.model_value() for c in self.controls}

    # -- refitting -------------------------------------------------------------------------
    def _changed(self, change):
        self._set_status("busy", "refitting…")
        self._coalescer.request()

    def _refit_now(self):
        fit = self._fit(self.values())
        with self._lock:
            self.history.append(fit)
            if fit.error is None:
                previous = self.current
                try:
                    self._accept(fit, record=False)
                    self._show(fit)
                except Exception as exc:  # noqa: BLE001 - a plot that cannot be drawn must not freeze the panel
                    from nbml.errors import describe_error

                    self.current = previous
                    fit.error = f"drawing failed: {describe_error(exc)}"
                    self._set_status("error", f"{fit.error} — still showing the last good setting")
            else:
                self.last_error = fit.error
                self._render_history()
                self._set_status("error", f"{fit.error} — still showing the last good setting "
                                          f"({self._params_text(self.current.params)})")

    def _fit(self, values: dict) -> Fit:
        from nbml.errors import describe_error
        from nbml.folds import folds_of, rows_of, run_fold
        from nbml.tuning.trial import blas_threads

        keys = {c.name: c.key for c in self.controls}
        fit = Fit(dict(values))
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                pipeline = self.recipe.model({keys[n]: v for n, v in values.items()})
                if self._fold is None:  # train -> validation, as %%train
                    self._fold = folds_of(self.recipe, rows_of(self.recipe))[0]
                    self._prepared = self._prepare(self._fold)
                with blas_threads(self._fold.X_train):
                    if self._prepared is None:
                        outcome = run_fold(pipeline, self._fold)
                        model = outcome.model
                    else:
                        preprocess, fold = self._prepared
                        outcome = run_fold(pipeline.steps[-1][1], fold)
                        model = _assembled(pipeline, preprocess, outcome.model)
            fit.fit_time, fit.val_pred, fit.val, fit.train = (outcome.fit_time, outcome.held_out, outcome.metrics,
                                                              outcome.train_metrics)
            fit.model, fit.pipeline = model, pipeline
            shown = [w for w in caught if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
            if shown:
                fit.warning = f"{shown[0].category.__name__}: {str(shown[0].message).splitlines()[0][:200]}"
        except Exception as exc:  # noqa: BLE001 - any failure of the model is shown in the panel
            fit.error = f"{self.name} failed: {describe_error(exc)}"
        return fit

    def _prepare(self, fold):
        """``(fitted preprocessing, fold of preprocessed rows)`` when every control and fit
        parameter belongs to the final estimator of a ``preprocess -> model`` Pipeline (the
        search's ``prepare_folds``: refitting the preprocessing on each change would only repeat
        the same work). None otherwise (each refit fits it all)."""
        from nbml.tuning.trial import prepare_folds

        if fold.weights is not None:
            return None
        prepared = prepare_folds(self.pipeline, [fold], [c.key for c in self.controls])
        return None if prepared is None else (prepared.preprocessors[0], prepared.folds[0])

    def _accept(self, fit: Fit, record: bool = True):
        self.current = fit
        self.last_error = None
        if record:
            self.history.append(fit)

    # -- drawing ---------------------------------------------------------------------------
    def _add_figure(self, kind):
        from nbml.plots.artists import ConfusionPlot, CurvesPlot, ResidualsPlot, RocPlot

        figure = self.figures[kind] = LiveFigure(1, figsize=FIGSIZE, dpi=DPI)
        ax = figure.axes[0]
        self.plots[kind] = {"roc": RocPlot, "cm": ConfusionPlot, "residuals": ResidualsPlot}[kind](ax) \
            if kind != "loss" else CurvesPlot(ax, "Loss curve", "epoch", "loss")

    def _show(self, fit: Fit):
        """New metrics and plots: each plot's artists get the new data, each figure renders once."""
        self.summary.value = self._summary_html(fit)
        self.metrics_view.value = self._metrics_html(fit)
        if "residuals" in self.figures:
            self.figures["residuals"].update(self.plots["residuals"], fit.val_pred)
        if "cm" in self.figures:
            self._draw_threshold(fit)  # the ROC curve and its threshold marker too
        if "loss" in self.figures:
            epochs, train, val = self._loss_curve(fit.model) or ([], None, None)  # e.g. a solver without one
            self.figures["loss"].update(self.plots["loss"], epochs, {"train": train, "validation": val})
        self._render_history()
        note = f" · {html.escape(fit.warning)}" if fit.warning else ""
        self._set_status("ok", f"{self._params_text(fit.params)} · fit {fit.fit_time * 1000:.0f} ms{note}")

    def _summary_html(self, fit):
        m = self.primary
        train, val = fit.train.get(m, math.nan), fit.val.get(m, math.nan)
        return (f"<span class='nbml-summary'>validation {m} <b>{_num(val)}</b> · train {_num(train)} · "
                f"gap {_num(train - val)}</span>")

    def _metrics_html(self, fit):
        from nbml.training import diagnose

        rows = []
        for m, val in fit.val.items():
            train = fit.train.get(m, math.nan)
            gap = train - val
            rows.append(f"<tr><td>{m}</td><td>{_num(train)}</td><td>{_num(val)}</td><td>{_num(gap)}</td></tr>")
        words = diagnose(self.task, fit.train, fit.val, self.split)
        note = f"<div style='color:#a15c00'>{html.escape(words)}</div>" if words else ""
        return ("<table class='nbml-metrics'><tr><th>metric</th><th>train</th><th>validation</th>"
                f"<th>gap</th></tr>{''.join(rows)}</table>{note}")

    def _render_history(self):
        m = self.primary
        good = [f for f in self.history if f.error is None and not math.isnan(f.val.get(m, math.nan))]
        best = None
        if good:
            best = (max if self.greater else min)(good, key=lambda f: f.val[m])
        names = [c.name for c in self.controls]
        head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
        rows = []
        for i, f in enumerate(self.history, 1):
            cells = "".join(f"<td>{html.escape(_fmt(f.params.get(n)))}</td>" for n in names)
            if f.error is not None:
                tail = f"<td colspan=3 style='color:#b00020'>{html.escape(f.error[:80])}</td>"
            else:
                tail = (f"<td>{_num(f.train.get(m))}</td><td>{_num(f.val.get(m))}</td>"
                        f"<td>{_num(f.train.get(m, math.nan) - f.val.get(m, math.nan))}</td>")
            style = " class='nbml-best' style='background:#d9f2d9;font-weight:bold'" if f is best else ""
            rows.append(f"<tr{style}><td>{i}{' ★' if f is best else ''}</td>{cells}{tail}</tr>")
        self.history_view.value = (
            f"<details open><summary>{len(self.history)} setting(s) tried; best by validation {m} "
            f"highlighted</summary><div style='max-height:180px;overflow:auto'><table class='nbml-history'>"
            f"<tr><th>#</th>{head}<th>train {m}</th><th>val {m}</th><th>gap</th></tr>"
            f"{''.join(reversed(rows))}</table></div></details>")

    def _set_status(self, state, text):
        self.state = state
        self.status.value = status_html(state, text, escape=state != "ok")  # ok lines carry markup

    @staticmethod
    def _params_text(params):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())

    # -- threshold -------------------------------------------------------------------------
    def _binary_scores(self, fit):
        from nbml.plots.artists import binary_score

        return binary_score(fit.val_pred)

    def _threshold_range(self, fit):
        if fit.val_pred.proba is not None:
            return 0.0, 1.0, 0.5
        scores = self._binary_scores(fit)
        span = float(np.max(np.abs(scores))) or 1.0
        return -span, span, 0.0

    def _threshold_changed(self, change):
        self._threshold_coalescer.request()

    def _redraw_threshold(self):
        with self._lock:
            self._draw_threshold(self.current)

    def thresholded(self, fit=None):
        """The validation predictions of ``fit`` (default: the current one) at the threshold."""
        from nbml.training import Predictions

        fit = fit or self.current
        scores = self._binary_scores(fit) if self.threshold is not None else None
        pred = fit.val_pred
        if scores is None:
            return pred
        y_pred = np.where(scores >= self.threshold.value, pred.classes[1], pred.classes[0])
        return Predictions(pred.task, pred.y_true, y_pred, pred.classes, pred.proba, pred.scores,
                           label=pred.label)

    def _draw_threshold(self, fit):
        """The confusion matrix at the threshold and the ROC curve with the threshold's point;
        the curve itself is recomputed only for a new fit."""
        from nbml.plots.artists import confusion_counts

        pred = self.thresholded(fit)
        self.figures["cm"].update(self.plots["cm"], pred)
        self.figures["roc"].update(self.plots["roc"], fit.val_pred, pred if self.threshold is not None else None)
        if self.threshold is not None:
            counts = confusion_counts(pred.y_true, pred.y_pred, pred.classes)
            (tn, fp), (fn, tp) = counts
            precision = tp / (tp + fp) if tp + fp else 0.0  # scikit-learn's zero_division: 0
            recall = tp / (tp + fn) if tp + fn else 0.0
            self.threshold_view.value = (
                f"<span class='nbml-threshold'>at {self.threshold.value:.3g}: precision <b>{precision:.3f}</b>"
                f" · recall <b>{recall:.3f}</b> · accuracy {(tp + tn) / counts.sum():.3f}</span>")

    # -- loss curve ------------------------------------------------------------------------
    @staticmethod
    def _loss_curve(model):
        from nbml.training import final_estimator

        est = final_estimator(model)
        history = getattr(est, "history_", None)
        if history is not None and len(history):
            val = history.get("val_loss")
            return (np.asarray(history["epoch"]), np.asarray(history["train_loss"]),
                    None if val is None or not val.notna().any() else np.asarray(val))
        curve = getattr(est, "loss_curve_", None)
        if curve is not None:
            return np.arange(1, len(curve) + 1), np.asarray(curve), None
        return None

    # -- public ----------------------------------------------------------------------------
    def wait(self, timeout: float | None = 60) -> bool:
        """Block until the refit asked for last has been drawn (True) or ``timeout`` passed."""
        start = time.perf_counter()
        done = self._coalescer.wait(timeout)
        left = None if timeout is None else max(0.0, timeout - (time.perf_counter() - start))
        return self._threshold_coalescer.wait(left) and done

    @property
    def busy(self) -> bool:
        return self._coalescer.busy or self._threshold_coalescer.busy

    @property
    def n_refits(self) -> int:
        return self._coalescer.runs

    def table(self):
        """Every setting tried as a DataFrame: parameters, train and validation primary
        metric, their gap, and the error of failed refits."""
        import pandas as pd

        m = self.primary
        rows = []
        for f in self.history:
            row = dict(f.params)
            row.update({f"train {m}": f.train.get(m, math.nan), f"val {m}": f.val.get(m, math.nan)})
            row["gap"] = row[f"train {m}"] - row[f"val {m}"]
            row["error"] = f.error or ""
            rows.append(row)
        frame = pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="try"))
        for name in (c.name for c in self.controls):
            values = [f.params.get(name) for f in self.history]
            if any(v is None for v in values):  # keep None visible (not NaN) for "no limit"
                frame[name] = pd.Series(values, index=frame.index, dtype=object)
        return frame

    def best(self) -> Fit | None:
        good = [f for f in self.history if f.error is None]
        if not good:
            return None
        return (max if self.greater else min)(good, key=lambda f: f.val.get(self.primary, -math.inf
                                                                          if self.greater else math.inf))

    def result(self, fit: Fit | None = None):
        """The current (or given) setting as a ``TrainResult``."""
        from dataclasses import replace

        from nbml.training import _own_params

        fit = fit or self.current
        return self._TrainResult(task=self.task, metrics=dict(fit.val), train_metrics=dict(fit.train),
                                 split=self.split, name=self.name, recipe=replace(self.recipe, pipeline=fit.pipeline),
                                 params=_own_params(fit.pipeline), predictions=fit.val_pred, fit_time=fit.fit_time,
                                 fitted_model=fit.model, fitted_on="train")

    def keep(self, name: str | None = None, threshold: bool | None = None):
        """Store the current setting as a TrainResult named ``name`` (default: the text box)
        in the namespace (the notebook's variables) and return it. ``threshold=True`` (default:
        the "at this threshold" box): keep the threshold slider's value with it —
        ``nbml.threshold(result, value=t)``, a model that predicts the positive class at ``t``."""
        name = (name or self.keep_name.value or "").strip()
        if not name.isidentifier():
            self._set_status("error", f"keep: {name!r} is not a valid variable name")
            raise NbmlError(f"keep name {name!r} is not a valid Python variable name")
        if threshold is None:
            threshold = self.threshold is not None and self.keep_threshold.value
        if threshold and self.threshold is None:
            raise NbmlError(f"keep(threshold=True) needs a binary classifier with scores; {self.name} has no "
                            f"threshold slider")
        with self._lock:
            result, at = self.result(), self.threshold.value if threshold else None
        if at is None:
            from nbml.training import _recorded

            result = _recorded(result)  # a store problem is a warning there
        else:
            import nbml

            result = nbml.threshold(result, value=float(at))  # refits with the threshold fixed, and records it
        self.kept[name] = result
        if self.namespace is not None:
            self.namespace[name] = result
        words = self._params_text(self.current.params) + ("" if at is None else f", threshold {at:.3g}")
        self._set_status("ok", f"kept {html.escape(words)} as <code>{html.escape(name)}</code>")
        self.keep_name.value = self._next_keep_name()
        return result

    def _next_keep_name(self):
        taken = set(self.namespace or ()) | set(getattr(self, "kept", {}))
        i = 1
        while f"panel_{i}" in taken:
            i += 1
        return f"panel_{i}"

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def _assembled(pipeline, preprocess, model):
    """``pipeline``'s settings with the fitted preprocessing and the fitted final estimator as
    its steps: what a whole-pipeline fit would have given."""
    from sklearn.pipeline import Pipeline

    steps = [(pipeline.steps[0][0], preprocess), (pipeline.steps[-1][0], model)]
    return Pipeline(**{**pipeline.get_params(deep=False), "steps": steps})


def panel(result_or_model, space=None, params=None, split=None, namespace=None, background=True, **options):
    """A live tuning panel: one control per hyperparameter; each change refits on the
    training rows, scores on the validation rows and redraws metrics and plots in place.

    ``result_or_model``: a ``TrainResult`` or a model (then the active split, or ``split=``).
    ``space``: a ``%%tune``-style space (dict or text) fixing the controls and their ranges;
    ``params``: parameter names (list or ``"C,penalty"``) with automatic ranges; neither: the
    model's usual hyperparameters. ``namespace``: where the keep button stores results (the
    magic passes the notebook's variables). Returns the ``ipywidgets`` widget; its ``.panel``
    is the ``Panel`` (``controls``, ``history``, ``keep()``, ``wait()``).
    """
    return Panel(result_or_model, space=space, params=params, split=split, namespace=namespace,
                 background=background, **options).widget
