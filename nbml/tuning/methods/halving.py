"""Successive halving on rows: every candidate on few rows, the best third on 3× as many, …
until the last round fits on all of each fold's training rows."""
from __future__ import annotations

import math

import numpy as np

from nbml.tuning.methods.base import Method, sample

FACTOR = 3


class Halving(Method):
    """``trials`` is the number of fits in all rounds together (a first round of n candidates,
    then the best third, … costs n + n/3 + …); the progress bar counts the same fits."""

    name = "halving"
    default_trials = 27  # candidates in the first round when the space is not a finite grid
    _plan = None  # (candidates, rounds, fits), from check()

    @property
    def total(self) -> int | None:
        return None if self._plan is None else self._plan[2]

    def check(self, search) -> None:
        first = search.folds[0]
        n_classes = first.y_train.nunique() if first.task == "classification" else 1
        n_train = min(len(f.X_train) for f in search.folds)
        finite = all(d.is_categorical for d in self.dims.values())
        if self.trials is None:
            n = int(np.prod([len(d.values) for d in self.dims.values()])) if finite else self.default_trials
        else:  # the most candidates whose rounds fit in the budget
            n = max((k for k in range(1, self.trials + 1) if _fits(k, n_train, n_classes) <= self.trials), default=1)
        self._plan = (n, _rounds(n, n_train, n_classes), _fits(n, n_train, n_classes))

    def candidates(self, search, n) -> list:
        from sklearn.model_selection import ParameterGrid

        if all(d.is_categorical for d in self.dims.values()) and self.trials is None:
            return list(ParameterGrid({k: d.values for k, d in self.dims.items()}))
        rng = np.random.default_rng(search.search_seed)
        return [sample(self.dims, rng) for _ in range(n)]

    def run(self, search) -> None:
        if self._plan is None:
            self.check(search)
        n, rounds, _ = self._plan
        candidates = self.candidates(search, n)
        n_train = min(len(f.X_train) for f in search.folds)
        for r in range(rounds):
            rows = int(n_train / FACTOR ** (rounds - 1 - r))
            batch = [(params, {"rows": rows, "round": r, "_job": {"max_rows": rows if rows < n_train else None}})
                     for params in candidates]
            count = len(search.records)
            search.evaluate(batch)
            scored = [rec for rec in search.records[count:] if rec["state"] == "complete"]
            if search.out_of_time() or r == rounds - 1 or not scored:
                break
            scored.sort(key=lambda rec: rec["score"], reverse=search.greater)
            candidates = [rec["_full"] for rec in scored[:math.ceil(len(candidates) / FACTOR)]]
        # only the last round's scores count as "best" (earlier ones saw fewer rows)
        last_round = max((rec.get("round", 0) for rec in search.records), default=0)
        search.best_record = lambda: self.best(search, last_round)

    @staticmethod
    def best(search, last_round):
        done = [r for r in search.records if r["state"] == "complete" and r.get("round", 0) == last_round]
        return (max if search.greater else min)(done, key=lambda r: r["score"]) if done else None


def _rounds(n_candidates, n_train, n_classes) -> int:
    """Rounds of successive halving for ``n_candidates``: as many as it takes to keep one, while the
    first round still has enough rows (20, and 4 per class)."""
    rounds = max(1, math.ceil(math.log(max(n_candidates, 1), FACTOR)))
    while rounds > 1 and n_train / FACTOR ** (rounds - 1) < max(20, 4 * n_classes):
        rounds -= 1
    return rounds


def _fits(n_candidates, n_train, n_classes) -> int:
    """Fits of all rounds together: n, then ceil(n/3), …"""
    total, n = 0, n_candidates
    for _ in range(_rounds(n_candidates, n_train, n_classes)):
        total, n = total + n, math.ceil(n / FACTOR)
    return total
