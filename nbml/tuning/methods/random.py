"""Random search: seeded draws from the space, without repeats while a finite space has
unseen configurations; a resumed study continues the same sequence."""
from __future__ import annotations

import numpy as np

from nbml.tuning.methods.base import Method, key, sample


def random_candidates(dims, seed, n, skip=0) -> list:
    """The ``n`` configurations random search draws with ``seed`` (after the first ``skip``);
    without repeats while a finite space has unseen configurations."""
    rng = np.random.default_rng(seed)
    finite = all(d.is_categorical for d in dims.values())
    size = int(np.prod([len(d.values) for d in dims.values()])) if finite else None
    seen, out = set(), []
    for i in range(skip + n):
        params = sample(dims, rng)
        if finite and size is not None and len(seen) < size:
            tries = 0
            while key(params) in seen and tries < 50:
                params, tries = sample(dims, rng), tries + 1
        seen.add(key(params))
        if i >= skip:
            out.append(params)
    return out


class Random(Method):
    name = "random"
    default_trials = 20

    def run(self, search) -> None:
        candidates = random_candidates(self.dims, search.search_seed, self.total, skip=len(search.previous))
        search.evaluate([(params, {}) for params in candidates])
