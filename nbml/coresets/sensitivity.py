"""Sensitivity sampling for logistic regression and other linear models.

Following Munteanu, Schwiegelshohn, Sohler and Woodruff (2018), "On Coresets for Logistic
Regression": a row's sensitivity (its largest possible share of the loss) is bounded by the
square root of its leverage score in the data matrix plus a uniform term. Leverage is taken
per class, on the standardised features with an intercept column; because an intercept is
included, the scores do not depend on the units of the features (standardising only keeps the
linear algebra well conditioned).

For a regression target the rows are scored by the (squared-loss) leverage of
``[features, 1, target]`` plus the same uniform term.

Weighted input (the nodes of a merge-and-reduce tree) is handled as if every row were
``w_i`` identical copies: copy leverage is ``h_i = a_i^T (A^T W A)^{-1} a_i``, so the row's
total bound is ``w_i * (sqrt(h_i) + u)`` for classification, ``w_i * (h_i + u)`` for regression.
"""
from __future__ import annotations

import numpy as np

from nbml.coresets.base import standardize

_BLOCK = 65_536  # rows per block when forming leverage scores (bounds temporary memory)


def leverage(A, w):
    """Per-copy leverage h_i = a_i^T (A^T W A)^+ a_i of the rows of A under weights w."""
    gram = (A * w[:, None]).T @ A
    evals, evecs = np.linalg.eigh(gram)
    floor = max(evals.max(), 1e-300) * 1e-10
    inv_sqrt = evecs / np.sqrt(np.maximum(evals, floor))
    h = np.empty(len(A))
    for start in range(0, len(A), _BLOCK):
        block = A[start:start + _BLOCK] @ inv_sqrt
        h[start:start + _BLOCK] = np.einsum("ij,ij->i", block, block)
    return h


def _with_intercept(Z):
    return np.column_stack([Z, np.ones(len(Z))])


def sensitivity_scores(X, y, w, task, codes=None):
    """Upper-bound sensitivity (importance) of every weighted row; larger = keep more likely."""
    X = np.asarray(X, dtype=float)
    w = np.asarray(w, dtype=float)
    scores = np.empty(len(X))
    if task == "classification":
        for c in range(int(codes.max()) + 1):
            rows = np.flatnonzero(codes == c)
            wc = w[rows]
            A = _with_intercept(standardize(X[rows], wc))
            root = np.sqrt(leverage(A, wc))
            uniform = (wc @ root) / wc.sum()
            scores[rows] = wc * (root + uniform)
        return scores
    # regression: squared-loss leverage of [X, 1, y]
    target = np.asarray(y, dtype=float).reshape(-1, 1)
    A = _with_intercept(standardize(np.column_stack([X, target]), w))
    h = leverage(A, w)
    uniform = (w @ h) / w.sum()
    return w * (h + uniform)
