"""The training loop behind ``TorchClassifier``, ``TorchRegressor`` and ``%%train`` on a module.

Speed: the data lives in tensors on the training device (moved once); each epoch gathers one
permuted copy and the batches are contiguous slices of it (no per-item ``Dataset`` loop); the
running loss is summed on the device, so the host waits on the device once per epoch; evaluation
runs under ``torch.inference_mode()``.

Progress is reported to callbacks (see :mod:`nbml.torch.callbacks`): objects with any of
``on_train_begin(estimator)``, ``on_epoch_end(estimator, history)``, ``on_train_end(estimator)``.
An exception raised by a callback propagates (e.g. ``optuna.TrialPruned``), except
``KeyboardInterrupt``, which stops training like Ctrl-C does.

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
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

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


class NaNLossError(ValueError):
    """The training loss became NaN or infinite (nearly always: the learning rate is too high)."""


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
        raise ValueError(f"device={device!r} is not available here: no CUDA GPU; use 'auto' or 'cpu'")
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
        raise ValueError(
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


def _call(callbacks, method, *args):
    for callback in callbacks:
        hook = getattr(callback, method, None)
        if hook is not None:
            hook(*args)


# ----------------------------------------------------------------------------- the loop
@dataclass
class TrainOutcome:
    history: object  # pandas.DataFrame
    best_epoch: int | None
    interrupted: bool
    stopped_early: bool
    device: str


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
        ``on_outcome(outcome)`` is called before the callbacks' ``on_train_end`` (the estimators
        store their fitted attributes there, so views can read them).
        """
        import pandas as pd
        import torch

        if loss not in LOSSES:
            raise _bad("loss", loss, "use one of " + ", ".join(LOSSES))
        device = resolve_device(self.device)
        owner = self if owner is None else owner
        callbacks = list(callbacks or ())
        module.to(device)

        y_dtype = torch.long if loss == "cross_entropy" else torch.float32
        X_t = X if isinstance(X, torch.Tensor) else to_tensor(X, torch.float32, device)
        y_t = y if isinstance(y, torch.Tensor) else to_tensor(y, y_dtype, device)
        X_t, y_t = X_t.to(device), y_t.to(device)
        if loss == "mse" and y_t.dim() == 1:
            y_t = y_t.reshape(-1, 1)
        n = len(X_t)
        w_t = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            mean = w.mean()
            if not (mean > 0):
                raise ValueError("sample_weight must have a positive sum")
            if not np.all(w == mean):
                w_t = to_tensor(w / mean, torch.float32, device)
        has_val = X_val is not None and y_val is not None and len(X_val) > 0
        if has_val:
            Xv = X_val if isinstance(X_val, torch.Tensor) else to_tensor(X_val, torch.float32, device)
            yv = y_val if isinstance(y_val, torch.Tensor) else to_tensor(y_val, y_dtype, device)
            Xv, yv = Xv.to(device), yv.to(device)
            if loss == "mse" and yv.dim() == 1:
                yv = yv.reshape(-1, 1)
        metric_name = metric_name or ("r2" if loss == "mse" else "accuracy")

        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise ValueError("the module has no trainable parameters")
        optimizer = make_optimizer(self.optimizer, params, self.lr, self.momentum, self.weight_decay)
        bounds = batch_bounds(n, int(self.batch_size))
        scheduler, per_batch = make_scheduler(self.scheduler, optimizer, self.epochs, len(bounds))
        plateau = scheduler is not None and type(scheduler).__name__ == "ReduceLROnPlateau"
        batch_loss = _batch_loss(loss)
        clip = self.clip
        patience = self.patience

        rows = []
        history = None
        best_loss, best_epoch, best_state, waited = math.inf, None, None, 0
        interrupted = stopped_early = False
        columns = ["epoch", "train_loss", "val_loss", f"val_{metric_name}", "lr", "time"]

        with _InterruptGuard() as guard:
            try:
                _call(callbacks, "on_train_begin", owner)
                for epoch in range(1, int(self.epochs) + 1):
                    started = time.perf_counter()
                    lr_now = optimizer.param_groups[0]["lr"]
                    module.train()
                    order = torch.randperm(n, device=device)
                    Xp, yp = X_t[order], y_t[order]
                    wp = w_t[order] if w_t is not None else None
                    total = torch.zeros((), device=device)
                    for start, stop in bounds:
                        out = module(Xp[start:stop])
                        value = batch_loss(
                            out, yp[start:stop], wp[start:stop] if wp is not None else None
                        )
                        optimizer.zero_grad(set_to_none=True)
                        value.backward()
                        if clip is not None:
                            torch.nn.utils.clip_grad_norm_(params, clip)
                        optimizer.step()
                        if per_batch:
                            scheduler.step()
                        total.add_(value.detach(), alpha=stop - start)
                        if guard.requested:
                            raise KeyboardInterrupt
                    train_loss = float(total) / n
                    if not math.isfinite(train_loss):
                        raise NaNLossError(
                            f"the training loss became {train_loss} at epoch {epoch} with "
                            f"lr={lr_now:g}: the learning rate is probably too high (try "
                            f"lr={lr_now / 10:g} or clip=1.0), or X/y hold huge values "
                            "(scale the features)"
                        )
                    val_loss = val_metric = math.nan
                    if has_val:
                        val_loss, val_metric = _val_scores(loss, predict_raw(module, Xv), yv)
                    if scheduler is not None and not per_batch:
                        if plateau:
                            scheduler.step(val_loss if has_val else train_loss)
                        else:
                            scheduler.step()
                    rows.append(
                        (epoch, train_loss, val_loss, val_metric, lr_now,
                         time.perf_counter() - started)
                    )
                    monitored = val_loss if has_val else train_loss
                    if monitored < best_loss:
                        best_loss, best_epoch, waited = monitored, epoch, 0
                        if has_val:
                            best_state = {
                                k: v.detach().clone() for k, v in module.state_dict().items()
                            }
                    else:
                        waited += 1
                    if callbacks:
                        history = pd.DataFrame(rows, columns=columns)
                        _call(callbacks, "on_epoch_end", owner, history)
                    if guard.requested:
                        raise KeyboardInterrupt
                    if patience is not None and has_val and waited >= patience:
                        stopped_early = True
                        break
            except KeyboardInterrupt:
                interrupted = True
                kept = f"the weights of epoch {best_epoch}" if best_state is not None else (
                    "the current weights"
                )
                warnings.warn(
                    f"training interrupted after {len(rows)} complete epoch(s); keeping "
                    f"{kept} and the history so far",
                    TrainingInterrupted,
                    stacklevel=3,
                )

        if best_state is not None and (patience is not None or interrupted):
            module.load_state_dict(best_state)
        module.eval()
        history = pd.DataFrame(rows, columns=columns)
        outcome = TrainOutcome(history, best_epoch, interrupted, stopped_early, str(device))
        if on_outcome is not None:
            on_outcome(outcome)
        _call(callbacks, "on_train_end", owner)
        return outcome


def copy_module(module):
    """A deep copy of ``module`` (the user's object is never trained in place)."""
    return copy.deepcopy(module)
