"""Uniform sampling: the baseline every other coreset method must beat.

Each represented row is equally likely (a weighted row of weight ``w_i`` counts as ``w_i`` rows),
so on raw data the sample is a simple random sample and every weight is ``n / m``. No classes
are protected: a rare class can be missed, which is exactly what the other methods fix.
"""
from __future__ import annotations

import numpy as np


def uniform_scores(X, y, w, task=None, codes=None):
    """Every represented row equally likely: the score of a weighted row is its weight."""
    return np.asarray(w, dtype=float)
