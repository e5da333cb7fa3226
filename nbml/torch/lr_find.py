"""The learning-rate range test (Smith 2015, "Cyclical Learning Rates for Training Neural
Networks"): train for a few steps while the learning rate grows geometrically from ``start`` to
``end``, record the (smoothed) loss, and suggest a rate where the loss falls fast (see
:func:`suggest_lr`).

Nothing is trained for good: a module passed in gets its weights (and train/eval mode) back, and
an estimator is never fitted by it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nbml.errors import NbmlError


@dataclass
class LRFinderResult:
    """``lrs`` and smoothed ``losses`` of the range test, and the ``suggestion`` (a float)."""

    lrs: np.ndarray
    losses: np.ndarray
    suggestion: float
    raw_losses: np.ndarray | None = None

    def plot(self, ax=None):
        """Loss against learning rate (log scale) with the suggestion marked; returns the axes."""
        if ax is None:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            figure = Figure(figsize=(6, 3.5), layout="constrained")
            FigureCanvasAgg(figure)
            ax = figure.subplots()
        ax.plot(self.lrs, self.losses, color="C0", label="smoothed loss")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.axvline(self.suggestion, color="C3", linestyle="--", label=f"suggested lr {self.suggestion:.2g}")
        finite = self.losses[np.isfinite(self.losses)]
        if len(finite):
            low, high = finite.min(), min(finite.max(), 4 * finite[: max(1, len(finite) // 10)].mean())
            if high > low:
                ax.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))
        ax.legend(loc="upper left", fontsize="small")
        ax.set_title("learning-rate range test")
        return ax

    def _repr_png_(self):
        import io

        ax = self.plot()
        buffer = io.BytesIO()
        ax.figure.savefig(buffer, format="png", dpi=80)
        return buffer.getvalue()

    def __repr__(self):
        return f"LRFinderResult(suggestion={self.suggestion:.3g}, steps={len(self.lrs)})"


def suggest_lr(lrs, losses):
    """The rate with the steepest fall of the smoothed loss before its minimum, capped at a
    tenth of the rate at the minimum (the two usual rules of thumb; the smaller is safer: the
    steepest fall can sit right before the loss explodes, e.g. with SGD + momentum)."""
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    finite = np.isfinite(losses)
    lrs, losses = lrs[finite], losses[finite]
    if len(lrs) < 3:
        return float(lrs[0] if len(lrs) else np.nan)
    skip = max(1, len(lrs) // 10)  # the first steps are noise around the starting loss
    stop = int(np.argmin(losses)) + 1
    if stop - skip < 3:
        return float(lrs[max(stop - 1, 0)] / 10)
    slope = np.gradient(losses[skip:stop], np.log(lrs[skip:stop]))
    return float(min(lrs[skip + int(np.argmin(slope))], lrs[stop - 1] / 10))


def _prepare(estimator_or_module, X, y, task):
    """(module, X tensor, y tensor, loss kind, options) ready for the range test."""
    import torch
    from sklearn.base import clone
    from torch import nn

    from nbml.torch import trainer as T
    from nbml.torch.estimators import TorchClassifier, TorchRegressor, from_module

    if isinstance(estimator_or_module, nn.Module):
        module = estimator_or_module
        if task is None:
            from sklearn.utils.multiclass import type_of_target

            task = "regression" if type_of_target(y).startswith("continuous") else "classification"
        estimator = from_module(module, task)
        own_module = False
    elif isinstance(estimator_or_module, (TorchClassifier, TorchRegressor)):
        estimator = clone(estimator_or_module)
        module = None
        own_module = True
    else:
        raise TypeError(
            f"lr_find needs a torch.nn.Module, TorchClassifier or TorchRegressor, not "
            f"{type(estimator_or_module).__name__}"
        )
    estimator._check_params()
    X, y = estimator._validate_xy(X, y)
    y_enc = estimator._encode_target(y)
    if own_module:
        module = estimator._build_module(X.shape[1], estimator._n_outputs)
    probe = torch.from_numpy(np.array(X[:2], dtype=np.float32))
    loss = estimator._loss_for(estimator._output_size(module, probe))
    if own_module:
        T.init_weights(module, estimator.init)
    return module, X, y_enc, loss, estimator


def lr_find(estimator_or_module, X, y, start=1e-7, end=10.0, steps=100, task=None,
            batch_size=None, smoothing=None, diverge=4.0):
    """Run the learning-rate range test; returns an :class:`LRFinderResult`.

    ``estimator_or_module``: a ``TorchClassifier``/``TorchRegressor`` (its module, optimizer,
    batch size and seed are used) or an ``nn.Module`` (``task`` inferred from ``y`` unless
    given). ``smoothing`` is the loss's exponential-average factor (default
    ``1 - 5 / steps``, so about 0.95 for 100 steps). The test stops early once the smoothed loss
    exceeds ``diverge`` times its best.
    """
    import torch

    from nbml.torch import trainer as T

    if not (0 < start < end):
        raise NbmlError(f"start={start!r}, end={end!r} are not allowed: need 0 < start < end")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 3:
        raise NbmlError(f"steps={steps!r} is not allowed: use an int >= 3")
    module, X, y_enc, loss_kind, est = _prepare(estimator_or_module, X, y, task)
    device = T.resolve_device(est.device)
    batch_size = int(batch_size or est.batch_size)
    saved = {k: v.detach().clone() for k, v in module.state_dict().items()}
    was_training = module.training
    original_device = next(iter(saved.values())).device if saved else torch.device("cpu")
    lrs = np.geomspace(start, end, steps)
    if smoothing is None:
        smoothing = 1 - 5 / max(steps, 10)
    raw, smooth = [], []
    try:
        with T.seeded(est.seed, device):
            module.to(device)
            module.train()
            y_dtype = torch.long if loss_kind == "cross_entropy" else torch.float32
            X_t = T.to_tensor(X, torch.float32, device)
            y_t = T.to_tensor(y_enc, y_dtype, device)
            if loss_kind == "mse" and y_t.dim() == 1:
                y_t = y_t.reshape(-1, 1)
            params = [p for p in module.parameters() if p.requires_grad]
            optimizer = T.make_optimizer(est.optimizer, params, lrs[0], est.momentum, est.weight_decay)
            batch_loss = T._batch_loss(loss_kind)
            n = len(X_t)
            order = torch.randperm(n, device=device)
            position, average, best = 0, 0.0, np.inf
            for i, lr in enumerate(lrs):
                for group in optimizer.param_groups:
                    group["lr"] = float(lr)
                if position + min(batch_size, n) > n:
                    order, position = torch.randperm(n, device=device), 0
                index = order[position : position + batch_size]
                position += batch_size
                value = batch_loss(module(X_t[index]), y_t[index], None)
                optimizer.zero_grad(set_to_none=True)
                value.backward()
                optimizer.step()
                current = float(value.detach())
                raw.append(current)
                if not np.isfinite(current):
                    smooth.append(np.nan)
                    break
                average = smoothing * average + (1 - smoothing) * current
                smoothed = average / (1 - smoothing ** (i + 1))
                smooth.append(smoothed)
                best = min(best, smoothed)
                if smoothed > diverge * best:
                    break
    finally:
        module.load_state_dict(saved)
        module.to(original_device)
        module.train(was_training)
    count = len(smooth)
    suggestion = suggest_lr(lrs[:count], smooth)
    return LRFinderResult(lrs[:count], np.asarray(smooth), suggestion, np.asarray(raw))
