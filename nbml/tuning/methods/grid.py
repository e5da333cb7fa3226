"""Grid search: every combination (continuous ranges discretized), skipping those a resumed
study already evaluated."""
from __future__ import annotations

import numpy as np

from nbml import space as _space
from nbml.tuning.methods.base import Method, key


class Grid(Method):
    name = "grid"

    def __init__(self, dims, trials=None, discretize=None, **options):
        super().__init__(dims, trials, discretize, **options)
        self.grid = _space.grid_values(dims, "grid", discretize)

    @property
    def total(self) -> int:
        size = int(np.prod([len(v) for v in self.grid.values()]))
        return size if self.trials is None else min(size, self.trials)

    def run(self, search) -> None:
        from sklearn.model_selection import ParameterGrid

        done = {key(r["params"]) for r in search.previous if r["state"] in ("complete", "fail")}
        candidates = []
        for params in ParameterGrid(self.grid):
            if key(search.short(params)) in done:
                continue
            candidates.append((params, {}))
            if self.trials is not None and len(candidates) >= self.trials:
                break
        search.evaluate(candidates)
