"""Lightweight coresets (Bachem, Lucic and Krause, 2018, "Scalable k-Means Clustering via
Lightweight Coresets"): half of the sampling mass is uniform, half proportional to the squared
distance from the mean. Used for k-means and as the general fallback.

Distances are measured on standardised columns so that no feature dominates by its unit; for a
classification target each class is measured from its own mean (and sampled as its own stratum,
so every class is kept); for a regression target the standardised target is one more column.
"""
from __future__ import annotations

import numpy as np

from nbml.coresets.base import standardize


def lightweight_scores(X, y, w, task, codes=None):
    """q_i = 1/2 * w_i / W + 1/2 * w_i d_i^2 / sum_j w_j d_j^2 for every weighted row."""
    X = np.asarray(X, dtype=float)
    w = np.asarray(w, dtype=float)
    if task == "regression":
        X = np.column_stack([X, np.asarray(y, dtype=float)])
    Z = standardize(X, w)
    if task == "classification" and codes is not None:
        dist2 = np.empty(len(Z))
        for c in range(int(codes.max()) + 1):
            rows = np.flatnonzero(codes == c)
            wc = w[rows]
            centre = (wc @ Z[rows]) / wc.sum()
            diff = Z[rows] - centre
            dist2[rows] = np.einsum("ij,ij->i", diff, diff)
    else:
        diff = Z - (w @ Z) / w.sum()
        dist2 = np.einsum("ij,ij->i", diff, diff)
    spread = w @ dist2
    q = 0.5 * w / w.sum()
    if spread > 0:
        q = q + 0.5 * w * dist2 / spread
    else:
        q = q * 2.0
    return q
