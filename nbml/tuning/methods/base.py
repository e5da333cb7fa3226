"""What every search method shares."""
from __future__ import annotations

import json


def key(params: dict) -> str:
    """A configuration as text: equal parameters, equal keys."""
    return json.dumps({k: repr(v) for k, v in sorted(params.items())})


def sample(dims, rng) -> dict:
    return {name: dim.sample(rng) for name, dim in dims.items()}


class Method:
    """A search method: ``total`` (trials it plans, None when it decides as it goes) and
    ``run(search)``, which proposes candidates to ``search.evaluate([(params, extra), ...])``
    until done, out of time or interrupted. ``options``: the method's own (sampler, pruner)."""

    name = ""
    default_trials: int | None = None
    options: tuple = ()  # keyword arguments of tune() only this method takes

    def __init__(self, dims, trials=None, discretize=None, **options):
        self.dims, self.trials = dims, trials
        unknown = sorted(k for k, v in options.items() if v is not None and k not in self.options)
        if unknown:
            from nbml.errors import NbmlError

            what = ", ".join(f"{k}=" for k in unknown)
            raise NbmlError(f"{what} works with method='bayes' (got method={self.name!r}); for random search "
                            f"with pruning use method='bayes', sampler='random'")
        self.__dict__.update({k: options.get(k) for k in self.options})

    @property
    def total(self) -> int | None:
        return self.trials or self.default_trials

    def check(self, search) -> None:
        """Fail before any trial where the method cannot search this space."""

    def run(self, search) -> None:
        raise NotImplementedError
