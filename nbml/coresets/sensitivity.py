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
"""
from __future__ import annotations

import numpy as np

_BLOCK = 32_768  # rows per block (bounds temporary memory)


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
        root = np.sqrt(leverage(X, w, codes))
        k = int(codes.max()) + 1
        uniform = (np.bincount(codes, weights=w * root, minlength=k)
                   / np.bincount(codes, weights=w, minlength=k))
        return w * (root + uniform[codes])
    # regression: squared-loss leverage of [X, y, 1]
    h = leverage(np.column_stack([X, np.asarray(y, dtype=float)]), w)
    uniform = (w @ h) / w.sum()
    return w * (h + uniform)
