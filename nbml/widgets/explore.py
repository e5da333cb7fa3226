"""``nbml.explore``: the gradient-descent explorer.

Two small problems with two parameters each, so that the whole loss surface fits in one
contour plot:

- ``"linear"``: 1-D linear regression ``y ≈ w·x + b`` (parameters ``w``, ``b``), loss
  ``½·mean((w·x + b − y)²) + ½·reg·w²``;
- ``"logistic"``: 2-D logistic regression through the origin ``P(y=1) = σ(w1·x1 + w2·x2)``,
  loss ``mean(log-loss) + ½·reg·|w|²``.

:func:`descend` is the math alone (no widgets): it runs gradient descent with heavy-ball
momentum and mini-batches and returns the path and the full-data loss after every step.
:class:`Explorer` puts sliders on it and redraws the loss curve, the loss surface with the
path and the fitted line / decision boundary in one :class:`~nbml.widgets.live.LiveFigure`.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np

from nbml.errors import NbmlError

PROBLEMS = ("gd",)
MODELS = ("linear", "logistic")
DIVERGED_GROWTH = 1000.0  # the loss grew by this factor: the run diverged
_CAP = 1e12  # stop once the loss passes this: the numbers would only overflow


# -- the data -------------------------------------------------------------------------------

def make_data(model: str = "linear", n: int = 60, seed: int = 0):
    """Small seeded data for ``model``: ``X`` of shape (n, 1) or (n, 2) and ``y``."""
    _check_model(model)
    rng = np.random.default_rng(seed)
    if model == "linear":
        x = rng.uniform(-1.0, 3.0, size=n)
        y = 1.5 * x - 1.0 + rng.normal(0.0, 0.5, size=n)
        return x[:, None], y
    half = n // 2
    centres = np.array([[1.0, 0.6], [-1.0, -0.6]])
    X = np.vstack([rng.normal(centres[0], 0.9, size=(n - half, 2)), rng.normal(centres[1], 0.9, size=(half, 2))])
    y = np.r_[np.ones(n - half), np.zeros(half)]
    return X, y


# -- losses and gradients (vectorised over many parameter vectors for the contour plot) ------

def loss(model: str, W, X, y, reg: float = 0.0):
    """The loss at parameters ``W`` (shape (2,) or (k, 2)) on all of ``X, y``."""
    W = np.asarray(W, dtype=float)
    single = W.ndim == 1
    W = np.atleast_2d(W)
    if model == "linear":
        residual = W[:, :1] * X[:, 0] + W[:, 1:2] - y          # (k, n)
        value = 0.5 * np.mean(residual ** 2, axis=1) + 0.5 * reg * W[:, 0] ** 2
    else:
        z = W @ X.T                                             # (k, n)
        # log(1 + e^z) − y·z written stably: logaddexp(0, z)
        value = np.mean(np.logaddexp(0.0, z) - y * z, axis=1) + 0.5 * reg * np.sum(W ** 2, axis=1)
    return value[0] if single else value


def gradient(model: str, w, X, y, reg: float = 0.0):
    """The gradient of :func:`loss` at one parameter vector ``w`` on the rows ``X, y``."""
    if model == "linear":
        residual = w[0] * X[:, 0] + w[1] - y
        return np.array([np.mean(residual * X[:, 0]) + reg * w[0], np.mean(residual)])
    z = np.clip(X @ w, -500, 500)
    p = 1.0 / (1.0 + np.exp(-z))
    return X.T @ (p - y) / len(y) + reg * w


def optimum(model: str, X, y, reg: float = 0.0):
    """The exact minimiser: the normal equation for ``linear``, Newton's method for
    ``logistic`` (the loss is strictly convex on the generated data)."""
    if model == "linear":
        A = np.column_stack([X[:, 0], np.ones(len(y))])
        H = A.T @ A / len(y) + np.diag([reg, 0.0])
        return np.linalg.solve(H, A.T @ y / len(y))
    w = np.zeros(2)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(X @ w)))
        H = (X * (p * (1 - p))[:, None]).T @ X / len(y) + reg * np.eye(2)
        step = np.linalg.solve(H, gradient(model, w, X, y, reg))
        w = w - step
        if np.max(np.abs(step)) < 1e-12:
            break
    return w


def smoothness(model: str, X, y, reg: float = 0.0) -> float:
    """``L``, the largest eigenvalue of the Hessian (an upper bound of it for ``logistic``):
    full-batch gradient descent converges for learning rates below ``2/L``."""
    if model == "linear":
        A = np.column_stack([X[:, 0], np.ones(len(y))])
        H = A.T @ A / len(y) + np.diag([reg, 0.0])
    else:
        H = 0.25 * X.T @ X / len(y) + reg * np.eye(2)
    return float(np.linalg.eigvalsh(H)[-1])


# -- the descent ----------------------------------------------------------------------------

@dataclass
class Descent:
    """One run of :func:`descend`."""

    model: str
    path: np.ndarray      # (steps + 1, 2): the parameters before the first and after each step
    losses: np.ndarray    # (steps + 1,): the loss on all the data at each point of the path
    X: np.ndarray
    y: np.ndarray
    optimum: np.ndarray   # the exact minimiser
    best_loss: float      # the loss at the optimum
    lr: float
    batch_size: int
    momentum: float
    reg: float
    L: float              # smoothness constant: full-batch GD diverges above 2/L

    @property
    def growth(self) -> float:
        """How many times the loss grew from the start (its largest value / its first)."""
        finite = self.losses[np.isfinite(self.losses)]
        top = np.inf if len(finite) < len(self.losses) else finite.max()
        return float(top / self.losses[0]) if self.losses[0] > 0 else math.nan

    @property
    def diverged(self) -> bool:
        return bool(not np.isfinite(self.losses[-1]) or self.losses[-1] > DIVERGED_GROWTH * self.losses[0])

    @property
    def note(self) -> str:
        """One sentence about the run for the panel."""
        if self.diverged:
            return (f"loss grew ×{DIVERGED_GROWTH:g} — the learning rate is too high "
                    f"(lr = {self.lr:.3g}; full-batch GD needs lr < 2/L = {2 / self.L:.3g})")
        gap = self.losses[-1] - self.best_loss
        if gap < 1e-4 * max(1.0, self.best_loss):
            return f"converged: loss {self.losses[-1]:.4g}, the optimum is {self.best_loss:.4g}"
        if np.max(self.losses[1:], initial=-np.inf) > self.losses[0]:
            return ("the loss rose above where it started — the steps overshoot: lower the learning rate "
                    "or the momentum")
        where = f"not there yet: loss {self.losses[-1]:.4g} vs the optimum {self.best_loss:.4g} — "
        ups = np.mean(np.diff(self.losses) > 0) if len(self.losses) > 1 else 0.0
        if self.batch_size < len(self.y) and ups > 0.2:
            return where + "mini-batch noise keeps it bouncing: a larger batch or a smaller learning rate settles it"
        if self.momentum > 0 and ups > 0.2:
            return where + "momentum makes it swing around the minimum: more iterations or less momentum"
        return where + "more iterations or a larger learning rate"


def descend(model: str = "linear", lr: float = 0.1, batch_size: int | None = None, iterations: int = 100,
            momentum: float = 0.0, reg: float = 0.0, seed: int = 0, start=None, n: int = 60,
            data=None) -> Descent:
    """Gradient descent on one of the explorer's problems.

    Each step takes a mini-batch of ``batch_size`` rows (``None`` or ≥ n: all rows; batches
    are drawn by reshuffling the rows every epoch with ``seed``), computes the gradient of
    the loss on it and updates with heavy-ball momentum::

        v ← momentum·v − lr·∇loss_batch(w)
        w ← w + v

    The run stops early once the loss passes 1e12 (it has diverged); the returned path then
    has fewer than ``iterations`` steps.
    """
    _check_model(model)
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise NbmlError(f"lr={lr!r} must be a positive number")
    if not (isinstance(iterations, (int, np.integer)) and iterations >= 1):
        raise NbmlError(f"iterations={iterations!r} must be a positive integer")
    if not (isinstance(momentum, (int, float)) and 0 <= momentum < 1):
        raise NbmlError(f"momentum={momentum!r} must be in [0, 1)")
    if not (isinstance(reg, (int, float)) and reg >= 0):
        raise NbmlError(f"reg={reg!r} must be >= 0")
    X, y = make_data(model, n=n, seed=seed) if data is None else data
    n = len(y)
    if batch_size is None or batch_size >= n:
        batch_size = n
    elif not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise NbmlError(f"batch_size={batch_size!r} must be a positive integer or None (all rows)")
    rng = np.random.default_rng(seed)
    w = np.array(start if start is not None else ((-2.0, 2.5) if model == "linear" else (-2.5, 3.0)), float)
    v = np.zeros(2)
    path, losses = [w.copy()], [loss(model, w, X, y, reg)]
    order, at = rng.permutation(n), 0
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(iterations):
            if at + batch_size > n:  # a new epoch: reshuffle
                order, at = rng.permutation(n), 0
            rows = order[at:at + batch_size]
            at += batch_size
            v = momentum * v - lr * gradient(model, w, X[rows], y[rows], reg)
            w = w + v
            path.append(w.copy())
            losses.append(loss(model, w, X, y, reg))
            if not np.isfinite(losses[-1]) or losses[-1] > _CAP:
                break
    best = optimum(model, X, y, reg)
    return Descent(model=model, path=np.array(path), losses=np.array(losses), X=X, y=y, optimum=best,
                   best_loss=float(loss(model, best, X, y, reg)), lr=float(lr), batch_size=int(batch_size),
                   momentum=float(momentum), reg=float(reg), L=smoothness(model, X, y, reg))


def _check_model(model):
    if model not in MODELS:
        raise NbmlError(f"model={model!r} is not allowed: use one of {', '.join(map(repr, MODELS))}")


# -- drawing --------------------------------------------------------------------------------

def _view(run: Descent):
    """The parameter box shown in the contour plot: around the optimum and the start, but
    not following a diverging path to infinity."""
    centre = run.optimum
    span = max(2.0, 1.3 * float(np.max(np.abs(run.path[0] - centre))))
    return (centre[0] - span, centre[0] + span), (centre[1] - span, centre[1] + span)


def draw(axes, run: Descent):
    """Draw ``run`` on three axes: loss curve, loss surface with the path, the fit."""
    ax_loss, ax_surface, ax_fit = axes
    steps = np.arange(len(run.losses))
    shown = np.where(np.isfinite(run.losses), run.losses, np.nan)
    ax_loss.semilogy(steps, shown, color="C0", lw=1.5, label="loss")
    ax_loss.axhline(run.best_loss, color="C2", ls="--", lw=1, label="optimum")
    ax_loss.set_xlabel("step")
    ax_loss.set_title("loss (log scale)", color="C3" if run.diverged else "black")
    ax_loss.legend(loc="upper right", fontsize=8)

    (x0, x1), (y0, y1) = _view(run)
    g1, g2 = np.meshgrid(np.linspace(x0, x1, 60), np.linspace(y0, y1, 60))
    Z = loss(run.model, np.column_stack([g1.ravel(), g2.ravel()]), run.X, run.y, run.reg).reshape(g1.shape)
    levels = np.quantile(Z, np.linspace(0.0, 0.95, 14) ** 2)
    ax_surface.contour(g1, g2, Z, levels=np.unique(levels), cmap="viridis", linewidths=0.8)
    path = run.path[np.all(np.isfinite(run.path), axis=1)]
    ax_surface.plot(path[:, 0], path[:, 1], ".-", color="C3", lw=1, ms=3)
    ax_surface.plot(*path[0], "o", color="black", ms=5)
    ax_surface.plot(*run.optimum, "*", color="C2", ms=11)
    ax_surface.set_xlim(x0, x1)
    ax_surface.set_ylim(y0, y1)
    names = ("w", "b") if run.model == "linear" else ("w1", "w2")
    ax_surface.set_xlabel(names[0])
    ax_surface.set_ylabel(names[1])
    ax_surface.set_title("loss surface and path")

    w = path[-1]
    if run.model == "linear":
        ax_fit.scatter(run.X[:, 0], run.y, s=10, color="C0", alpha=0.7)
        xs = np.array([run.X[:, 0].min(), run.X[:, 0].max()])
        ax_fit.plot(xs, run.optimum[0] * xs + run.optimum[1], "--", color="C2", lw=1, label="least squares")
        ax_fit.plot(xs, w[0] * xs + w[1], color="C3", lw=2, label="gradient descent")
        pad = np.ptp(run.y) * 0.3
        ax_fit.set_ylim(run.y.min() - pad, run.y.max() + pad)
        ax_fit.set_title("fitted line")
    else:
        ax_fit.scatter(run.X[:, 0], run.X[:, 1], c=run.y, cmap="coolwarm", s=10, alpha=0.8)
        lim = np.abs(run.X).max() * 1.05
        xs = np.array([-lim, lim])
        for ww, style, label in ((run.optimum, "--", "optimum"), (w, "-", "gradient descent")):
            if abs(ww[1]) > 1e-12:
                ax_fit.plot(xs, -ww[0] * xs / ww[1], style, color="C2" if style == "--" else "C3", lw=1 + (style == "-"),
                            label=label)
        ax_fit.set_xlim(-lim, lim)
        ax_fit.set_ylim(-lim, lim)
        ax_fit.set_title("decision boundary")
    ax_fit.legend(loc="upper left", fontsize=8)


# -- the widget -----------------------------------------------------------------------------

class Explorer:
    """Sliders over :func:`descend`; ``widget`` is what is displayed.

    Every slider change recomputes the descent (milliseconds) and redraws the three plots in
    place; changes made while a redraw runs are coalesced into one redraw.
    """

    def __init__(self, model="linear", lr=0.1, batch_size=None, iterations=60, momentum=0.0, reg=0.0,
                 seed=0, n=60, background=True):
        import ipywidgets as widgets

        from nbml.widgets.live import LiveFigure
        from nbml.widgets.panel import Coalescer

        descend(model, lr=lr, batch_size=batch_size, iterations=iterations, momentum=momentum, reg=reg,
                seed=seed, n=n)  # validates every argument before building widgets
        self.seed, self.n = seed, n
        self.run: Descent | None = None
        style = {"description_width": "initial"}
        layout = widgets.Layout(width="360px")
        self.model = widgets.ToggleButtons(options=list(MODELS), value=model, description="problem", style=style)
        self.lr = widgets.FloatLogSlider(value=lr, base=10, min=-3, max=1, step=0.05, description="learning rate",
                                         readout_format=".3g", style=style, layout=layout)
        self.batch_size = widgets.IntSlider(value=n if batch_size is None else min(batch_size, n), min=1, max=n,
                                            description="batch size", style=style, layout=layout)
        self.iterations = widgets.IntSlider(value=iterations, min=1, max=max(300, iterations),
                                            description="iterations", style=style, layout=layout)
        self.momentum = widgets.FloatSlider(value=momentum, min=0.0, max=0.99, step=0.01, description="momentum",
                                            style=style, layout=layout)
        self.reg = widgets.FloatSlider(value=reg, min=0.0, max=2.0, step=0.01, description="regularization",
                                       style=style, layout=layout)
        self.controls = [self.model, self.lr, self.batch_size, self.iterations, self.momentum, self.reg]
        self.note = widgets.HTML(value="")
        self.note.add_class("nbml-explore-note")
        self.figure = LiveFigure(3, figsize=(11.0, 3.4), dpi=72,
                                 margins={"left": 0.08, "right": 0.98, "bottom": 0.16, "wspace": 0.3})
        self._coalescer = Coalescer(self._redraw, background=background)
        self._redraw()
        for control in self.controls:
            control.observe(lambda _: self._coalescer.request(), names="value")
        self.widget = widgets.VBox([
            widgets.HTML("<b>gradient descent explorer</b> · ½·MSE (linear) or log-loss (logistic) "
                         "+ ½·reg·|w|², on {} generated rows (seed {})".format(n, seed)),
            widgets.HBox([widgets.VBox(self.controls[:3]), widgets.VBox(self.controls[3:])]),
            self.note,
            self.figure.widget(),
        ])
        self.widget.add_class("nbml-explore")
        self.widget.explorer = self

    def values(self) -> dict:
        return {"model": self.model.value, "lr": float(self.lr.value), "batch_size": int(self.batch_size.value),
                "iterations": int(self.iterations.value), "momentum": float(self.momentum.value),
                "reg": float(self.reg.value)}

    def _redraw(self):
        run = descend(**self.values(), seed=self.seed, n=self.n)
        self.run = run
        colour = "#b00020" if run.diverged else "#1b5e20" if "converged" in run.note else "#555"
        self.note.value = f'<span style="color:{colour}">{html.escape(run.note)}</span>'
        self.figure.draw(draw, run, force=True)

    def wait(self, timeout: float | None = 30) -> bool:
        """Wait until pending redraws are done (True) or ``timeout`` seconds passed."""
        return self._coalescer.wait(timeout)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def explore(problem: str = "gd", model: str = "linear", lr: float = 0.1, batch_size: int | None = None,
            iterations: int = 60, momentum: float = 0.0, reg: float = 0.0, seed: int = 0, n: int = 60,
            background: bool = True):
    """Open an interactive explorer; ``problem="gd"`` (gradient descent) is the one there is.

    Returns the ``ipywidgets`` widget; its ``.explorer`` attribute is the :class:`Explorer`
    (current :class:`Descent` in ``.explorer.run``).
    """
    if problem not in PROBLEMS:
        raise NbmlError(f"problem={problem!r} is not allowed: use one of {', '.join(map(repr, PROBLEMS))}")
    return Explorer(model=model, lr=lr, batch_size=batch_size, iterations=iterations, momentum=momentum,
                    reg=reg, seed=seed, n=n, background=background).widget
