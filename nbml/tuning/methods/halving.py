"""Successive halving on rows: every candidate on few rows, the best third on 3× as many, …
until the last round fits on all of each fold's training rows."""
from __future__ import annotations

import math

import numpy as np

from nbml.tuning.methods.base import Method, sample

FACTOR = 3


class Halving(Method):
    name = "halving"
    default_trials = 27

    @property
    def total(self) -> None:
        return None  # rounds decide as they go

    def candidates(self, search) -> list:
        from sklearn.model_selection import ParameterGrid

        if all(d.is_categorical for d in self.dims.values()) and self.trials is None:
            return list(ParameterGrid({k: d.values for k, d in self.dims.items()}))
        rng = np.random.default_rng(search.search_seed)
        return [sample(self.dims, rng) for _ in range(self.trials or self.default_trials)]

    def rounds(self, search, n_candidates) -> int:
        first = search.folds[0]
        n_classes = first.y_train.nunique() if first.task == "classification" else 1
        n_train = min(len(f.X_train) for f in search.folds)
        rounds = max(1, math.ceil(math.log(max(n_candidates, 1), FACTOR)))
        while rounds > 1 and n_train / FACTOR ** (rounds - 1) < max(20, 4 * n_classes):
            rounds -= 1
        return rounds

    def run(self, search) -> None:
        candidates = self.candidates(search)
        n_train = min(len(f.X_train) for f in search.folds)
        rounds = self.rounds(search, len(candidates))
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
            candidates = [rec["_full"] for rec in scored[:max(1, math.ceil(len(candidates) / FACTOR))]]
        # only the last round's scores count as "best" (earlier ones saw fewer rows)
        last_round = max((rec.get("round", 0) for rec in search.records), default=0)
        search.best_record = lambda: self.best(search, last_round)

    @staticmethod
    def best(search, last_round):
        done = [r for r in search.records if r["state"] == "complete" and r.get("round", 0) == last_round]
        return (max if search.greater else min)(done, key=lambda r: r["score"]) if done else None
