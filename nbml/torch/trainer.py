"""The training loop behind ``TorchClassifier``, ``TorchRegressor`` and ``%%train`` on a module.

Speed: the data lives in tensors on the training device (moved once); each epoch gathers one
permuted copy and the batches are contiguous slices of it (no per-item ``Dataset`` loop); the
running loss is summed on the device, so the host waits on the device once per epoch; evaluation
runs under ``torch.inference_mode()``.

``Trainer.fit`` is forward, backward and step; everything else -- the NaN check, the learning-rate
schedule, gradient clipping, the best-weights checkpoint, early stopping, pruning reports and
progress views -- is a callback (see :mod:`nbml.torch.callbacks` for the hooks). An exception
raised by a callback propagates (e.g. ``optuna.TrialPruned``), except ``KeyboardInterrupt``, which
stops training like Ctrl-C does.

This module imports neither IPython nor any view.
"""
from __future__ import annotations

import contextlib
import copy
import math
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

from nbml.torch.callbacks import (
    HOOKS,
    Checkpoint,
    EarlyStopping,
    GradientClipping,
    LRScheduler,
    NaNCheck,
    NaNLossError,  # noqa: F401 - public here since before the callbacks held the NaN check
    as_callback,
    overrides,
)
from nbml.errors import NbmlError

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
INITS = ("default", "xavier", "he", "normal")
DEVICES = ("auto", "cpu", "cuda")
SCHEDULER_FORMS = (
    "step:STEP:GAMMA",
    "cosine",
    "onecycle",
    "plateau:PATIENCE:FACTOR",
    "exponential:GAMMA",
)
LOSSES = ("cross_entropy", "bce", "mse")
_EVAL_CHUNK = 16384


class TrainingInterrupted(UserWarning):
    """Training was stopped by Ctrl-C / KeyboardInterrupt; the model and history so far are kept."""


# ----------------------------------------------------------------------------- option checks
def _bad(name, value, allowed):
    return ValueError(f"{name}={value!r} is not allowed: {allowed}")


def parse_scheduler(spec):
    """``'step:10:0.5'`` -> ``('step', (10, 0.5))``; None -> None. Raises ValueError if unknown."""
    if spec is None:
        return None
    allowed = "use one of " + ", ".join(SCHEDULER_FORMS) + " (or None)"
    if not isinstance(spec, str):
        raise _bad("scheduler", spec, allowed)
    text = spec.strip().lower()
    if text in ("", "none"):
        return None
    kind, *args = text.split(":")
    defaults = {
        "step": (10, 0.1),
        "cosine": (),
        "onecycle": (),
        "plateau": (5, 0.1),
        "exponential": (0.95,),
    }
    if kind not in defaults or len(args) > len(defaults[kind]):
        raise _bad("scheduler", spec, allowed)
    values = list(defaults[kind])
    try:
        for i, arg in enumerate(args):
            values[i] = int(arg) if isinstance(defaults[kind][i], int) else float(arg)
    except ValueError:
        raise _bad("scheduler", spec, allowed) from None
    if kind in ("step", "plateau") and values[0] < 1:
        raise _bad("scheduler", spec, f"the {kind} size must be a positive int")
    if kind in ("step", "exponential") and not 0 < values[-1] <= 1:
        raise _bad("scheduler", spec, "GAMMA must be in (0, 1]")
    if kind == "plateau" and not 0 < values[1] < 1:
        raise _bad("scheduler", spec, "FACTOR must be in (0, 1)")
    return kind, tuple(values)


def _positive(name, value, integer=False, allow_none=False):
    if value is None and allow_none:
        return
    kind = Integral if integer else Real
    if isinstance(value, bool) or not isinstance(value, kind) or not value > 0:
        what = "a positive int" if integer else "a positive number"
        raise _bad(name, value, f"use {what}" + (" or None" if allow_none else ""))


def check_options(
    *,
    lr,
    epochs,
    batch_size,
    optimizer,
    momentum,
    weight_decay,
    scheduler,
    patience,
    validation_fraction,
    init,
    clip,
    device,
    seed,
):
    """Validate the training options; one clear ValueError naming the parameter otherwise."""
    _positive("lr", lr)
    if not math.isfinite(lr):
        raise _bad("lr", lr, "use a positive finite number such as 1e-3")
    _positive("epochs", epochs, integer=True)
    _positive("batch_size", batch_size, integer=True)
    if not isinstance(optimizer, str) or optimizer.lower() not in OPTIMIZERS:
        raise _bad("optimizer", optimizer, "use one of " + ", ".join(OPTIMIZERS))
    if isinstance(momentum, bool) or not isinstance(momentum, Real) or not 0 <= momentum < 1:
        raise _bad("momentum", momentum, "use a number in [0, 1)")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, Real) or weight_decay < 0:
        raise _bad("weight_decay", weight_decay, "use a number >= 0")
    parse_scheduler(scheduler)
    _positive("patience", patience, integer=True, allow_none=True)
    if (
        isinstance(validation_fraction, bool)
        or not isinstance(validation_fraction, Real)
        or not 0 < validation_fraction < 1
    ):
        raise _bad("validation_fraction", validation_fraction, "use a number in (0, 1)")
    if not isinstance(init, str) or init.lower() not in INITS:
        raise _bad("init", init, "use one of " + ", ".join(INITS))
    _positive("clip", clip, allow_none=True)
    if not isinstance(device, str) or not (
        device in DEVICES or device.startswith("cuda:") or device == "mps"
    ):
        raise _bad("device", device, "use one of auto, cpu, cuda (or cuda:N)")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, Integral)):
        raise _bad("seed", seed, "use an int or None")


# ----------------------------------------------------------------------------- building blocks
def resolve_device(device):
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise NbmlError(f"device={device!r} is not available here: no CUDA GPU; use 'auto' or 'cpu'")
    return dev


@contextlib.contextmanager
def seeded(seed, device=None):
    """Seed torch inside the block and restore the global RNG state afterwards."""
    import torch

    if seed is None:
        yield
        return
    devices = []
    if device is not None and getattr(device, "type", None) == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


def init_weights(module, init="default"):
    """Re-initialize every weight matrix/kernel (dim >= 2) of ``module``; biases become 0."""
    import torch
    from torch import nn

    init = init.lower()
    if init == "default":
        return module
    with torch.no_grad():
        for layer in module.modules():
            weight = getattr(layer, "weight", None)
            if not isinstance(weight, nn.Parameter) or weight.dim() < 2:
                continue
            if init == "xavier":
                nn.init.xavier_uniform_(weight)
            elif init == "he":
                nn.init.kaiming_normal_(weight, nonlinearity="relu")
            else:  # normal
                nn.init.normal_(weight, mean=0.0, std=0.01)
            bias = getattr(layer, "bias", None)
            if isinstance(bias, nn.Parameter):
                bias.zero_()
    return module


def make_optimizer(name, params, lr, momentum=0.9, weight_decay=0.0):
    import torch

    name = name.lower()
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise _bad("optimizer", name, "use one of " + ", ".join(OPTIMIZERS))


def make_scheduler(spec, optimizer, epochs, steps_per_epoch):
    """Returns ``(scheduler, per_batch)``; ``(None, False)`` for no scheduler."""
    from torch.optim import lr_scheduler as S

    parsed = parse_scheduler(spec)
    if parsed is None:
        return None, False
    kind, args = parsed
    if kind == "step":
        return S.StepLR(optimizer, step_size=args[0], gamma=args[1]), False
    if kind == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=epochs), False
    if kind == "exponential":
        return S.ExponentialLR(optimizer, gamma=args[0]), False
    if kind == "plateau":
        return S.ReduceLROnPlateau(optimizer, mode="min", patience=args[0], factor=args[1]), False
    group = optimizer.param_groups[0]
    cycle_momentum = "betas" in group or group.get("momentum", 0) > 0
    scheduler = S.OneCycleLR(
        optimizer,
        max_lr=group["lr"],
        total_steps=epochs * steps_per_epoch,
        cycle_momentum=cycle_momentum,
    )
    return scheduler, True


def batch_bounds(n, batch_size):
    """Contiguous ``(start, stop)`` pairs; a trailing batch of one row joins the previous one
    (BatchNorm cannot train on a single row)."""
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    stops = starts[1:] + [n]
    return list(zip(starts, stops))


def holdout(n, fraction, seed, stratify=None):
    """Indices ``(train, val)`` holding out ``fraction`` of ``n`` rows (stratified when it can)."""
    from sklearn.model_selection import train_test_split

    if n < 2:
        raise NbmlError(
            f"cannot hold out a validation set from {n} row(s); pass X_val/y_val or patience=None"
        )
    n_val = min(max(1, int(round(fraction * n))), n - 1)
    index = np.arange(n)
    if stratify is not None:
        _, counts = np.unique(stratify, return_counts=True)
        if counts.min() >= 2 and n_val >= len(counts) and n - n_val >= len(counts):
            return train_test_split(
                index, test_size=n_val, random_state=seed, stratify=stratify, shuffle=True
            )
    return train_test_split(index, test_size=n_val, random_state=seed, shuffle=True)


def to_tensor(array, dtype, device):
    import torch

    np_dtype = {torch.float32: np.float32, torch.long: np.int64}[dtype]
    # writable + contiguous (copies read-only or memmapped input); torch shares the memory
    tensor = torch.from_numpy(np.require(array, dtype=np_dtype, requirements=["C", "W", "E"]))
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


# ----------------------------------------------------------------------------- losses & metrics
def _batch_loss(kind):
    """``loss(output, target, weight_or_None)`` -> scalar tensor (weights pre-normalized to mean 1)."""
    import torch.nn.functional as F

    if kind == "cross_entropy":

        def loss(out, y, w):
            if w is None:
                return F.cross_entropy(out, y)
            return (F.cross_entropy(out, y, reduction="none") * w).mean()

    elif kind == "bce":

        def loss(out, y, w):
            out = out.reshape(-1)
            if w is None:
                return F.binary_cross_entropy_with_logits(out, y)
            return (F.binary_cross_entropy_with_logits(out, y, reduction="none") * w).mean()

    else:

        def loss(out, y, w):
            out = out.reshape(y.shape)
            if w is None:
                return F.mse_loss(out, y)
            return (((out - y) ** 2).mean(dim=1) * w).mean()

    return loss


def predict_raw(module, X, device=None, chunk=_EVAL_CHUNK):
    """Module outputs for tensor ``X`` in eval mode under ``inference_mode`` (chunked)."""
    import torch

    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            outs = [module(X[i : i + chunk]) for i in range(0, len(X), chunk)]
            return torch.cat(outs) if len(outs) != 1 else outs[0]
    finally:
        module.train(was_training)


def _val_scores(kind, out, y):
    """(mean loss, metric) on validation outputs; metric is accuracy or r2."""
    import torch.nn.functional as F

    if kind == "cross_entropy":
        loss = F.cross_entropy(out, y)
        metric = (out.argmax(dim=1) == y).float().mean()
    elif kind == "bce":
        out = out.reshape(-1)
        loss = F.binary_cross_entropy_with_logits(out, y)
        metric = ((out > 0).float() == y).float().mean()
    else:
        out = out.reshape(y.shape)
        loss = F.mse_loss(out, y)
        ss_res = ((y - out) ** 2).sum(dim=0)
        ss_tot = ((y - y.mean(dim=0)) ** 2).sum(dim=0)
        # constant target: r2 is 1 for a perfect fit, 0 otherwise (sklearn's convention)
        r2 = 1 - ss_res / ss_tot.clamp_min(1e-30)
        r2 = r2.where(ss_tot > 0, (ss_res == 0).to(r2.dtype))
        metric = r2.mean()
    return float(loss), float(metric)


# ----------------------------------------------------------------------------- interrupts
class _InterruptGuard:
    """While active (main thread only), the first Ctrl-C only sets ``requested`` so the loop can
    stop after the current batch; a second Ctrl-C interrupts at once."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                current = signal.getsignal(signal.SIGINT)
                if current is signal.default_int_handler:
                    self._previous = current
                    signal.signal(signal.SIGINT, self._handler)
            except (ValueError, OSError):  # pragma: no cover - exotic embedders
                self._previous = None
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


# ----------------------------------------------------------------------------- the loop
@dataclass
class TrainOutcome:
    history: object  # pandas.DataFrame
    best_epoch: int | None
    interrupted: bool
    stopped_early: bool
    device: str


@dataclass(eq=False)
class TrainingRun:
    """One ``Trainer.fit`` as its callbacks see it (the ``run`` keyword of every hook).

    A callback reads ``module``, ``optimizer``, ``params`` (the trainable ones), ``bounds`` (the
    batches' ``(start, stop)`` rows), ``epochs``, ``has_val`` and ``history()``, and sets
    ``stop = True`` to end training after the current epoch.
    """

    module: object
    optimizer: object
    params: list
    bounds: list
    epochs: int
    has_val: bool
    columns: list
    rows: list = field(default_factory=list)
    stop: bool = False
    interrupted: bool = False

    def history(self):
        """The epochs so far as a DataFrame (columns ``epoch, train_loss, val_loss, val_<metric>,
        lr, time``)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)


class _Hooks:
    """Calls a hook on every callback that overrides it, in order, as ``hook(owner, run=run,
    **kwargs)``. The overriding methods are looked up once per fit, so a hook nobody uses costs
    nothing inside the batch loop."""

    def __init__(self, callbacks, owner, run):
        self.owner, self.run = owner, run
        self.methods = {
            hook: [getattr(c, hook) for c in callbacks if overrides(c, hook)] for hook in HOOKS
        }
        self.need_history = any(c.needs_history for c in callbacks if overrides(c, "on_epoch_end"))

    def __call__(self, hook, **kwargs):
        for method in self.methods[hook]:
            method(self.owner, run=self.run, **kwargs)


def _as_tensors(X, y, loss, device):
    import torch

    y_dtype = torch.long if loss == "cross_entropy" else torch.float32
    X_t = X if isinstance(X, torch.Tensor) else to_tensor(X, torch.float32, device)
    y_t = y if isinstance(y, torch.Tensor) else to_tensor(y, y_dtype, device)
    X_t, y_t = X_t.to(device), y_t.to(device)
    if loss == "mse" and y_t.dim() == 1:
        y_t = y_t.reshape(-1, 1)
    return X_t, y_t


def _row_weights(sample_weight, device):
    """Weights scaled to mean 1; None when all are equal (then the plain mean loss is the same)."""
    import torch

    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    mean = w.mean()
    if not (mean > 0):
        raise NbmlError("sample_weight must have a positive sum")
    return None if np.all(w == mean) else to_tensor(w / mean, torch.float32, device)


@dataclass
class Trainer:
    """Training options; ``fit`` runs the loop on a module (see the module docstring)."""

    lr: float = 1e-3
    epochs: int = 20
    batch_size: int = 128
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str | None = None
    patience: int | None = None
    clip: float | None = None
    device: str = "auto"

    def default_callbacks(self):
        """The behaviours these options ask for, in the order they see each epoch's end: the
        NaN check before anything uses the loss, then the schedule, then the checkpoint (the
        best epoch), then early stopping; the caller's callbacks come after all of them."""
        callbacks = [NaNCheck()]
        if parse_scheduler(self.scheduler) is not None:
            callbacks.append(LRScheduler(self.scheduler))
        if self.clip is not None:
            callbacks.append(GradientClipping(self.clip))
        callbacks.append(Checkpoint(restore=self.patience is not None))
        if self.patience is not None:
            callbacks.append(EarlyStopping(self.patience))
        return callbacks

    def fit(
        self,
        module,
        X,
        y,
        *,
        loss="cross_entropy",
        sample_weight=None,
        X_val=None,
        y_val=None,
        metric_name=None,
        callbacks=(),
        owner=None,
        on_outcome=None,
    ):
        """Train ``module`` in place on arrays/tensors ``X``, ``y`` and return a TrainOutcome.

        ``loss``: ``cross_entropy`` (y: class indices), ``bce`` (y: 0/1, one output) or ``mse``
        (y: ``(n,)`` or ``(n, k)`` floats). ``sample_weight`` scales each row's loss.
        With ``X_val``/``y_val`` the validation loss and metric are recorded each epoch, the best
        weights are kept, and with ``patience`` training stops early and restores them.
        ``callbacks`` run after :meth:`default_callbacks`, with ``owner`` (default: this
        trainer) as their first argument. ``on_outcome(outcome)`` is called before the
        callbacks' ``on_train_end`` (the estimators store their fitted attributes there, so
        views can read them).
        """
        if loss not in LOSSES:
            raise _bad("loss", loss, "use one of " + ", ".join(LOSSES))
        device = resolve_device(self.device)
        module.to(device)
        train = (*_as_tensors(X, y, loss, device), _row_weights(sample_weight, device))
        has_val = X_val is not None and y_val is not None and len(X_val) > 0
        val = _as_tensors(X_val, y_val, loss, device) if has_val else None
        metric_name = metric_name or ("r2" if loss == "mse" else "accuracy")
        run = self._start(module, len(train[0]), has_val, metric_name)
        own = self.default_callbacks()
        checkpoint = next(c for c in own if isinstance(c, Checkpoint))
        owner = self if owner is None else owner
        hooks = _Hooks(own + [as_callback(c) for c in callbacks or ()], owner, run)
        with _InterruptGuard() as guard:
            try:
                self._epochs(run, hooks, guard, train, val, loss)
            except KeyboardInterrupt:
                run.interrupted = True
                warnings.warn(
                    f"training interrupted after {len(run.rows)} complete epoch(s); keeping "
                    f"{checkpoint.kept()} and the history so far",
                    TrainingInterrupted,
                    stacklevel=3,
                )
        module.eval()
        outcome = TrainOutcome(run.history(), checkpoint.best_epoch, run.interrupted,
                               run.stop and not run.interrupted, str(device))
        if on_outcome is not None:
            on_outcome(outcome)
        hooks("on_train_end", outcome=outcome)
        return outcome

    def _start(self, module, n_rows, has_val, metric_name):
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise NbmlError("the module has no trainable parameters")
        optimizer = make_optimizer(self.optimizer, params, self.lr, self.momentum, self.weight_decay)
        columns = ["epoch", "train_loss", "val_loss", f"val_{metric_name}", "lr", "time"]
        return TrainingRun(module, optimizer, params, batch_bounds(n_rows, int(self.batch_size)),
                           int(self.epochs), has_val, columns)

    def _epochs(self, run, hooks, guard, train, val, loss):
        batch_loss = _batch_loss(loss)
        hooks("on_train_begin")
        for epoch in range(1, run.epochs + 1):
            started = time.perf_counter()
            lr = run.optimizer.param_groups[0]["lr"]
            hooks("on_epoch_begin", epoch=epoch)
            train_loss = _train_epoch(run, hooks, guard, train, batch_loss)
            val_loss = val_metric = math.nan
            if val is not None:
                val_loss, val_metric = _val_scores(loss, predict_raw(run.module, val[0]), val[1])
            run.rows.append((epoch, train_loss, val_loss, val_metric, lr, time.perf_counter() - started))
            hooks("on_epoch_end", history=run.history() if hooks.need_history else None, epoch=epoch,
                  train_loss=train_loss, val_loss=val_loss, val_metric=val_metric, lr=lr)
            if guard.requested:
                raise KeyboardInterrupt
            if run.stop:
                break


def _train_epoch(run, hooks, guard, train, batch_loss):
    """One pass over the rows in a new random order; returns the mean training loss."""
    import torch

    X, y, w = train
    order = torch.randperm(len(X), device=X.device)
    X, y, w = X[order], y[order], None if w is None else w[order]
    module, optimizer, owner = run.module, run.optimizer, hooks.owner
    on_grad, on_batch = hooks.methods["on_grad_computed"], hooks.methods["on_batch_end"]
    # summed on the device: the host waits for the device once per epoch, not per batch
    total = torch.zeros((), device=X.device)
    module.train()
    for start, stop in run.bounds:
        value = batch_loss(module(X[start:stop]), y[start:stop], None if w is None else w[start:stop])
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        for hook in on_grad:
            hook(owner, run=run)
        optimizer.step()
        for hook in on_batch:
            hook(owner, run=run)
        total.add_(value.detach(), alpha=stop - start)
        if guard.requested:  # the first Ctrl-C: stop between batches, never inside a step
            raise KeyboardInterrupt
    return float(total) / len(X)


def copy_module(module):
    """A deep copy of ``module`` (the user's object is never trained in place)."""
    return copy.deepcopy(module)
