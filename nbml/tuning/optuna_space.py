"""The search space as Optuna's samplers see it, and the samplers by name (or as objects)."""
from __future__ import annotations

import math
import warnings

import numpy as np

from nbml import space as _space
from nbml.errors import NbmlError

SAMPLERS = ("tpe", "gp", "cmaes", "random")


def _optuna_distributions(dims, ordinal=False) -> dict:
    """Optuna distributions for nbml dimensions. ``ordinal``: a list of numbers becomes the
    index into its sorted values (``OptunaSpace``), so a sampler can use their order."""
    import optuna.distributions as od

    out = {}
    for name, dim in dims.items():
        if isinstance(dim, _space.ScipyDist):
            native = dim.as_native()
            if native is None:
                raise NbmlError(f"method='bayes' cannot search scipy.stats.{dim.name} for {name}: use uniform, "
                                 f"loguniform, randint, logint, a list, or method='random'")
            dim = native
        if isinstance(dim, _space.Float):
            out[name] = od.FloatDistribution(dim.low, dim.high, log=dim.log)
        elif isinstance(dim, _space.Int):
            out[name] = od.IntDistribution(dim.low, dim.high, log=dim.log)
        elif ordinal and _ordered(dim) is not None:
            out[name] = od.IntDistribution(0, len(_ordered(dim)) - 1)
        else:
            out[name] = od.CategoricalDistribution(dim.labels)
    return out


def _ordered(dim) -> list | None:
    """A list of two or more distinct numbers, sorted (None for other lists)."""
    if not isinstance(dim, _space.Categorical):
        return None
    values = dim.values
    if not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
               and math.isfinite(v) for v in values):
        return None
    ordered = sorted(set(values))
    return ordered if len(ordered) > 1 else None


class OptunaSpace:
    """The space as Optuna's samplers see it. A list of numbers (``learning_rate = [0.03,
    0.1, 0.3]``) is searched as an ordered index into its sorted values, not as unordered
    labels: TPE and GP then learn that neighbouring values score alike, and CMA-ES can search
    it at all. Other lists stay categorical. ``decode`` turns a trial's parameters back into
    the user's own values (what the trials DataFrame and ``best_params`` show)."""

    def __init__(self, dims):
        self.dims = dims
        self.distributions = _optuna_distributions(dims, ordinal=True)
        self.ordered = {name: _ordered(dim) for name, dim in dims.items()}

    def decode(self, params: dict) -> dict:
        out = {}
        for name, value in params.items():
            dim, ordered = self.dims[name], self.ordered[name]
            if ordered is not None:
                out[name] = ordered[int(value)]
            elif isinstance(dim, _space.Categorical):
                out[name] = dim.values[dim.labels.index(value)]
            else:
                out[name] = value
        return out

    @property
    def size(self) -> int | None:
        """How many configurations there are (None when a dimension is continuous)."""
        n = 1
        for dim in self.dims.values():
            if isinstance(dim, _space.Categorical):
                n *= len(dim.values)
            elif isinstance(dim, _space.Int):
                n *= dim.high - dim.low + 1
            else:
                return None
        return n

    def categorical(self) -> list:
        """Names that stay unordered labels."""
        import optuna.distributions as od

        return [n for n, d in self.distributions.items() if isinstance(d, od.CategoricalDistribution)]


def make_sampler(sampler, seed, space=None):
    """The Optuna sampler by name; ``space`` (an ``OptunaSpace``) checks that it can search it."""
    import optuna

    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler  # the user's own sampler object, as it is
    if sampler in (None, "tpe"):
        return optuna.samplers.TPESampler(seed=seed)
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if sampler == "gp":
        try:
            return optuna.samplers.GPSampler(seed=seed)
        except ImportError as exc:
            raise NbmlError(f"sampler='gp' needs {exc.name or 'torch and scipy'}: pip install torch scipy") from None
    labels = check_sampler(sampler, space)
    if labels:
        # CMA-ES leaves labels to Optuna's independent (random) sampler, and Optuna would
        # say so at every trial: say it once, in nbml's words
        warnings.warn(f"sampler='cmaes' searches the numeric parameters; {', '.join(_space_names(labels))} "
                      f"(a list of labels) is drawn at random in every trial (sampler='tpe' or 'gp' models it)",
                      stacklevel=4)
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


def check_sampler(sampler, space) -> list:
    """Fail early (before any trial) where ``sampler`` cannot search ``space``; for
    'cmaes', the names it leaves to random draws (lists of labels)."""
    if sampler != "cmaes":
        return []
    labels = space.categorical() if space is not None else []
    if space is not None and len(labels) == len(space.distributions):
        raise NbmlError(f"sampler='cmaes' searches numbers, and every parameter here is a list of labels "
                         f"({', '.join(_space_names(labels))}): use sampler='tpe' (the default) or 'gp'")
    try:
        import cmaes  # noqa: F401
    except ImportError:
        raise NbmlError("sampler='cmaes' needs the cmaes package: pip install cmaes") from None
    return labels


def _space_names(names):
    return [n.rsplit("__", 1)[-1] for n in names]




def check_sampler_name(sampler):
    """A sampler is one of ``SAMPLERS`` or an ``optuna.samplers.BaseSampler`` object."""
    if sampler is None or (isinstance(sampler, str) and sampler in SAMPLERS):
        return
    if not isinstance(sampler, str):
        import optuna

        if isinstance(sampler, optuna.samplers.BaseSampler):
            return
    raise NbmlError(f"sampler={sampler!r} is not an Optuna sampler nbml knows; use one of {', '.join(SAMPLERS)} "
                    f"or an optuna.samplers.BaseSampler object")
