"""Sensitivity sampling for logistic regression and other linear models.

Following Munteanu, Schwiegelshohn, Sohler and Woodruff (2018), "On Coresets for Logistic
Regression": a row's sensitivity (its largest possible share of the loss) is bounded by the
square root of its leverage score in the data matrix plus a uniform term. Leverage is taken
per class, in the matrix ``[features, 1]`` (an intercept column); with the intercept the scores
do not depend on the units or offsets of the features.

For a regression target the rows are scored by the (squared-loss) leverage of
``[features, target, 1]`` plus the same uniform term.

Weighted input (the nodes of a merge-and-reduce tree) is handled as if every row were
``w_i`` identical copies: copy leverage is ``h_i = a_i^T (A^T W A)^{-1} a_i``, so the row's
total bound is ``w_i * (sqrt(h_i) + u)`` for classification, ``w_i * (h_i + u)`` for regression.

Computation: with the intercept, ``h_i = (x_i - mean)^T S^{-1} (x_i - mean) + 1 / W`` where
``S`` is the weighted scatter matrix of the class (the intercept block decouples once the
columns are centred). ``S`` is accumulated and the scores evaluated block by block, so the only
temporaries are a few blocks of rows — no standardised copy of the data is ever made.

Classification (``classification_sample``) goes two steps further; the bound above is loose — it
holds for any coefficients — and at 0.1 % of the rows it leaves a coreset well short of the full fit.

1. Sampling. A pilot logistic regression, fit on the rows (or, past ``PILOT_ROWS``, on a sample
   of them drawn by the bound), says which rows the fit near the optimum depends on: a row's
   score is its residual ``1 - p(y_i | x_i)`` times the length of ``H^{-1} [z_i, 1]`` (``H`` the
   pilot's Hessian, ``z`` the standardised features) — the A-optimal subsampling probabilities
   for logistic regression of Wang, Zhu and Ma (2018), the loss-based sensitivity near the
   optimum of Munteanu et al. (2018). ``MIX`` of the score stays the bound, so no row's chance
   falls to zero and a poor pilot cannot push the sample off the data. Rare classes get about as
   many rows as common ones (their rows carry the residuals): local case-control sampling
   (Fithian and Hastie 2014), with proper weights.
2. Weights. The Horvitz-Thompson weights are calibrated by raking (Deville and Särndal 1992:
   the weights closest to them in Kullback-Leibler divergence) so that the coreset's weighted
   class counts and its weighted log-loss gradient at the pilot equal those of all the rows it
   is drawn from. A weighted fit on the coreset then starts where the full fit would: its
   first-order error around the pilot is gone, the variance that remains is second order.
   Rows drawn with certainty keep their weights; where no calibration exists (too few rows for
   the constraints, or one needing a weight raised more than ``RAKE_RATIO`` times) the weights
   stay as drawn.

With one class, or more than ``PILOT_MAX_FEATURES`` features, rows are drawn by the bound alone.
Nothing of the pilot leaves this module: a coreset is still a weighted subset of the rows it is
drawn from, and any model fits it (only the sampling and weights are tuned to log-loss).
"""
from __future__ import annotations

import warnings

import numpy as np

_BLOCK = 32_768  # rows per block (bounds temporary memory)
PILOT_ROWS = 20_000  # rows the pilot fit sees: past this, more rows only slow it down
PILOT_MAX_FEATURES = 1_000  # past this, a pilot (fit, Hessian inverse) costs more than it saves
MIX = 0.1  # share of the (worst-case) bound in a classification score; the rest is the pilot's
# calibration may raise a weight at most this many times (lowering one only trims that row's say)
RAKE_RATIO = 20.0


def _blocks(n):
    return ((s, min(s + _BLOCK, n)) for s in range(0, n, _BLOCK))


def leverage(X, w, codes=None):
    """Per-copy leverage of every row of ``[X, 1]`` within its stratum (``codes``)."""
    from threadpoolctl import threadpool_limits

    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    w = np.asarray(w, dtype=np.float64)
    n = len(X)
    if codes is None:
        codes = np.zeros(n, dtype=np.int64)
    unit = bool(np.all(w == 1.0))
    h = np.empty(n)
    # blocks of 30-odd columns gain nothing from BLAS threads; on a shared machine
    # oversubscribed threads made this 2x slower
    with threadpool_limits(limits=1, user_api="blas"):
        for c in np.unique(codes):
            rows = np.flatnonzero(codes == c)
            h[rows] = _stratum_leverage(X, w, rows, unit)
    return h


def _stratum_leverage(X, w, rows, unit):
    d = X.shape[1]
    wc = w[rows]
    total = wc.sum()

    def block(s, e):  # gathered rows, in float64 whatever the storage type
        return X[rows[s:e]].astype(np.float64, copy=False)

    # one pass for mean and scatter: moments about a shift (the first block's mean) stay
    # accurate where raw moments would cancel catastrophically
    spans = list(_blocks(len(rows)))
    shift = block(*spans[0]).mean(axis=0)
    first, second = np.zeros(d), np.zeros((d, d))
    for s, e in spans:
        shifted = block(s, e) - shift
        weighted = shifted if unit else shifted * wc[s:e, None]
        first += weighted.sum(axis=0)
        second += shifted.T @ weighted
    delta = first / total
    mean = shift + delta
    scatter = second - total * np.outer(delta, delta)
    scale = np.sqrt(np.maximum(np.diag(scatter), 0.0))
    # constant columns (up to rounding) carry no leverage: leave them out entirely
    active = np.flatnonzero(scale / np.sqrt(total) > 1e-12 * (np.abs(mean) + 1.0))
    out = np.full(len(rows), 1.0 / total)
    if len(active) == 0:
        return out
    sa = scale[active]
    corr = scatter[np.ix_(active, active)] / np.outer(sa, sa)
    evals, evecs = np.linalg.eigh(corr)
    floor = max(evals.max(), 1e-300) * 1e-10
    whiten = (evecs / np.sqrt(np.maximum(evals, floor))) / sa[:, None]
    for s, e in spans:
        z = (block(s, e)[:, active] - mean[active]) @ whiten
        out[s:e] += np.einsum("ij,ij->i", z, z)
    return out


def sensitivity_scores(X, y, w, task, codes=None):
    """Upper-bound sensitivity (importance) of every weighted row; larger = keep more likely."""
    w = np.asarray(w, dtype=float)
    if task == "classification":
        return w * _classification_bound(X, w, codes)
    # regression: squared-loss leverage of [X, y, 1]
    h = leverage(np.column_stack([X, np.asarray(y, dtype=float)]), w)
    uniform = (w @ h) / w.sum()
    return w * (h + uniform)


def _classification_bound(X, w, codes):
    """Per-copy bound: square-root leverage within the class plus the class's weighted mean of it."""
    root = np.sqrt(leverage(X, w, codes))
    k = int(codes.max()) + 1
    uniform = (np.bincount(codes, weights=w * root, minlength=k)
               / np.bincount(codes, weights=w, minlength=k))
    return root + uniform[codes]


def classification_sample(X, w, m, rng, codes, minimum_per_class):
    """``(positions, weights)`` of ``m`` rows drawn by the pilot's scores, weights calibrated to
    the pilot's gradient (module docstring); the bound alone where no pilot can be fit."""
    from threadpoolctl import threadpool_limits

    from nbml.coresets.base import sample_with_certainty

    w = np.asarray(w, dtype=float)
    bound = _classification_bound(X, w, codes)
    n_classes = int(codes.max()) + 1
    # raking needs at least twice as many rows as constraints (class counts, gradient)
    calibrate = m > 2 * (n_classes + (n_classes - 1) * (X.shape[1] + 1))
    # blocks of 30-odd columns gain nothing from BLAS threads (see leverage)
    with threadpool_limits(limits=1, user_api="blas"):
        pilot = None
        if len(np.unique(codes)) > 1 and X.shape[1] <= PILOT_MAX_FEATURES:
            pilot = _pilot_fit(X, codes, w, bound, rng)
        scores, totals = _residual_scores(X, codes, w, pilot, calibrate) if pilot else (None, None)
        total = w.sum()
        if scores is None or not (w @ scores) > 0:
            return sample_with_certainty(w * bound, w, m, rng, codes, minimum_per_class)[:2]
        mixed = w * ((1 - MIX) * scores / ((w @ scores) / total) + MIX * bound / ((w @ bound) / total))
        idx, new_w, certain = sample_with_certainty(mixed, w, m, rng, codes, minimum_per_class)
        if totals is None:
            return idx, new_w
        aux = _balance_columns(X[idx], codes[idx], pilot)
        calibrated = rake(new_w[~certain], aux[~certain], totals - new_w[certain] @ aux[certain])
    if calibrated is not None:
        new_w = new_w.copy()
        new_w[~certain] = calibrated
    return idx, new_w


def _pilot_fit(X, codes, w, bound, rng):
    """A logistic regression on standardised features, fit on at most PILOT_ROWS weighted rows;
    returns ``(model, mean, scale, inverse Hessian)``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from nbml.coresets.base import weighted_sample

    if len(X) <= PILOT_ROWS:
        rows, rows_w = np.arange(len(X)), w
    else:  # a sample drawn by the bound, weighted to stand for all rows
        rows, rows_w = weighted_sample(w * bound, w, PILOT_ROWS, rng, codes=codes, minimum_per_class=2)
    Xp = X[rows].astype(np.float64)
    mean = np.average(Xp, axis=0, weights=rows_w)
    scale = np.sqrt(np.average((Xp - mean) ** 2, axis=0, weights=rows_w))
    scale[scale <= 1e-12 * (np.abs(mean) + 1.0)] = 1.0
    # weights scaled to mean 1, so C=1 regularises the pilot as it would an unweighted fit of these
    # rows: enough to keep a separable node's coefficients finite
    model = LogisticRegression(C=1.0, max_iter=300)
    z = (Xp - mean) / scale
    with warnings.catch_warnings():
        # a pilot only ranks rows and is calibrated against; a few digits short of converged is fine
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(z, codes[rows], sample_weight=rows_w * (len(rows_w) / rows_w.sum()))
    return model, mean, scale, _inverse_hessian(z, model.predict_proba(z), rows_w)


def _inverse_hessian(z, p, w):
    """Inverse of the pilot's log-loss Hessian per unit weight in ``[z, 1]``, from its own rows
    (a weighted sample of the data: an estimate of the full Hessian is all a score's scale needs)."""
    a = np.column_stack([z, np.ones(len(z))])
    # 1 - sum p_k^2: the logistic curvature p(1-p) (twice it) for two classes, its analogue for more
    curvature = 1.0 - np.einsum("ij,ij->i", p, p)
    hessian = a.T @ (a * (w * curvature)[:, None]) / w.sum()
    d = len(hessian)
    hessian[np.diag_indices(d)] += 1e-8 * np.trace(hessian) / d + 1e-300
    return np.linalg.inv(hessian)


def _residual_scores(X, codes, w, pilot, with_totals=True):
    """Per-copy ``(1 - p(y|x)) * |H^{-1} [z, 1]|`` of every row, and the weighted totals of the
    balance columns (None without ``with_totals``); one pass over blocks of rows."""
    model, _, _, inverse = pilot
    n_classes = len(model.classes_)
    out = np.empty(len(X))
    gradient = np.zeros((n_classes - 1, X.shape[1] + 1))
    for s, e in _blocks(len(X)):
        z = _standardised(X[s:e], pilot)
        p = model.predict_proba(z)
        residual = 1.0 - p[np.arange(e - s), codes[s:e]]
        g = z @ inverse[:-1] + inverse[-1]
        out[s:e] = residual * np.sqrt(np.einsum("ij,ij->i", g, g))
        if with_totals:  # sum of w (onehot - p) ⊗ [z, 1] without forming it row by row
            r = -p[:, 1:] * w[s:e, None]
            r[codes[s:e] > 0, codes[s:e][codes[s:e] > 0] - 1] += w[s:e][codes[s:e] > 0]
            gradient[:, :-1] += r.T @ z
            gradient[:, -1] += r.sum(axis=0)
    if not with_totals:
        return out, None
    counts = np.bincount(codes, weights=w, minlength=n_classes)
    return out, np.concatenate([counts, gradient.ravel()])


def _standardised(block, pilot):
    """A block of rows standardised as the pilot saw them, in float64."""
    return (block.astype(np.float64) - pilot[1]) / pilot[2]


def _balance_columns(block, codes, pilot):
    """What the calibrated weights must total to: one indicator per class (the rows each class
    stands for) and the log-loss gradient at the pilot, ``(onehot - p) ⊗ [z, 1]`` (one class
    left out: the classes' gradients sum to zero)."""
    z = _standardised(block, pilot)
    a = np.column_stack([z, np.ones(len(z))])
    p = pilot[0].predict_proba(z)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(codes)), codes] = 1.0
    gradient = ((onehot - p)[:, 1:, None] * a[:, None, :]).reshape(len(a), -1)
    return np.column_stack([onehot, gradient])


def rake(w, columns, target, iterations=50):
    """Weights ``w * exp(columns @ lam)`` — the closest to ``w`` in Kullback-Leibler divergence —
    whose weighted column totals equal ``target`` (raking, Deville and Särndal 1992); None when
    there are too few rows, the target is out of reach, or it would move a weight by more than
    ``RAKE_RATIO``."""
    if len(w) <= 2 * columns.shape[1]:
        return None
    norm = np.abs(columns).T @ w
    keep = norm > 0
    if np.any(np.abs(target[~keep]) > 1e-9 * (np.abs(target).max() + 1.0)):
        return None
    Z, t = columns[:, keep] / norm[keep], target[keep] / norm[keep]
    lam = np.zeros(Z.shape[1])

    def dual(lam):  # convex; its minimiser gives the calibrated weights
        new = w * np.exp(np.clip(Z @ lam, -50.0, 50.0))
        return new.sum() - t @ lam, new

    value, new = dual(lam)
    for _ in range(iterations):
        grad = Z.T @ new - t
        if np.abs(grad).max() < 1e-10:
            ratio = new / w
            return new if ratio.max() <= RAKE_RATIO else None
        step = np.linalg.lstsq((Z * new[:, None]).T @ Z, grad, rcond=None)[0]
        size = 1.0
        while size > 1e-6:  # backtracking: a Newton step can overshoot where exp is steep
            candidate, cand_new = dual(lam - size * step)
            if candidate <= value - 1e-4 * size * (grad @ step):
                break
            size /= 2
        else:
            return None
        lam, value, new = lam - size * step, candidate, cand_new
    return None
