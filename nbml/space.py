"""Search spaces for ``nbml.tune`` and the ``%%tune`` cell body.

A space maps a parameter name to its values:

- a list (or ``choice(*values)``): categorical values, and the grid of ``method="grid"``;
- a tuple of two numbers ``(low, high)``, as tutorials write ranges: integers ``low..high``
  (both included) when both are integers, else floats in ``[low, high]``; a tuple of more numbers
  is refused (a list says "these values");
- ``uniform(a, b)``, ``loguniform(a, b)``: floats in ``[a, b]`` (log-scaled for the second);
- ``randint(a, b)``, ``logint(a, b)``: integers ``a..b``, both ends included (unlike
  ``scipy.stats.randint``, whose ``b`` is left out);
- a frozen ``scipy.stats`` distribution (random search samples it; Bayesian search
  understands uniform, loguniform and randint).

Names are the model's own parameters (``C``, ``max_depth``, ``lr``); ``resolve`` maps them to
the pipeline's prefixed names (``model__C``).
"""
from __future__ import annotations

import ast
import difflib
import math
import numbers

import numpy as np

from nbml.errors import NbmlError

__all__ = ["Dimension", "choice", "logint", "loguniform", "parse", "randint", "resolve", "uniform"]


class Dimension:
    """One parameter's values. ``kind`` is 'float', 'int', 'categorical' or 'scipy'."""

    kind = "?"

    def sample(self, rng: np.random.Generator):
        raise NotImplementedError

    def grid(self, n: int = 5) -> list:
        """``n`` evenly spread values (log-spaced for log dimensions)."""
        raise NotImplementedError

    @property
    def is_categorical(self) -> bool:
        return self.kind == "categorical"


def _plain(value):
    """numpy scalars as the Python numbers they hold, so messages show ``2.0``, not ``np.float64(2.0)``."""
    return value.item() if isinstance(value, np.generic) else value


class Float(Dimension):
    kind = "float"

    def __init__(self, low, high, log=False, name="uniform"):
        low, high = _plain(low), _plain(high)
        self.low, self.high, self.log, self.name = low, high, log, name
        for label, v in (("low", low), ("high", high)):
            if not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(v):
                raise NbmlError(f"{name}({low!r}, {high!r}): {label} must be a finite number")
        if low > high:
            raise NbmlError(f"{name}({low!r}, {high!r}): low must not exceed high; write {name}({high!r}, {low!r})")
        if log and low <= 0:
            raise NbmlError(f"{name}({low!r}, {high!r}): a log scale needs low > 0; use uniform() for ranges "
                            f"that include 0")
        self.low, self.high = float(low), float(high)

    def sample(self, rng):
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def grid(self, n=5):
        if self.low == self.high:
            return [self.low]
        values = np.geomspace(self.low, self.high, n) if self.log else np.linspace(self.low, self.high, n)
        return [float(f"{v:.4g}") for v in values]

    def __repr__(self):
        return f"{self.name}({self.low:g}, {self.high:g})"


class Int(Dimension):
    kind = "int"

    def __init__(self, low, high, log=False, name="randint"):
        low, high = _plain(low), _plain(high)
        self.low, self.high, self.log, self.name = low, high, log, name
        for label, v in (("low", low), ("high", high)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool):
                raise NbmlError(f"{name}({low!r}, {high!r}): {label} must be an integer")
        if low > high:
            raise NbmlError(f"{name}({low!r}, {high!r}): low must not exceed high; write {name}({high!r}, {low!r})")
        if log and low < 1:
            raise NbmlError(f"{name}({low!r}, {high!r}): a log scale needs low ≥ 1; use randint() instead")
        self.low, self.high = int(low), int(high)

    def sample(self, rng):
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high + 1)))
            return int(min(self.high, max(self.low, math.floor(value))))
        return int(rng.integers(self.low, self.high + 1))

    def grid(self, n=5):
        if self.high - self.low + 1 <= n:
            return list(range(self.low, self.high + 1))
        values = np.geomspace(self.low, self.high, n) if self.log else np.linspace(self.low, self.high, n)
        return sorted({int(round(v)) for v in values})

    def __repr__(self):
        return f"{self.name}({self.low}, {self.high})"


class Categorical(Dimension):
    kind = "categorical"

    def __init__(self, values, name="choice"):
        values = list(values)
        if not values:
            raise NbmlError(f"{name}() is empty: give at least one value")
        self.values, self.name = values, name

    def sample(self, rng):
        return self.values[int(rng.integers(len(self.values)))]

    def grid(self, n=5):
        return list(self.values)

    @property
    def labels(self) -> list:
        """Values as Optuna can store them (None, bool, int, float, str); others by repr."""
        return [v if v is None or isinstance(v, (bool, int, float, str)) else repr(v) for v in self.values]

    def __repr__(self):
        return repr(self.values)


class ScipyDist(Dimension):
    kind = "scipy"

    def __init__(self, dist):
        self.dist = dist
        self.name = getattr(getattr(dist, "dist", None), "name", "distribution")

    def sample(self, rng):
        value = self.dist.rvs(random_state=rng)
        value = value.item() if hasattr(value, "item") else value
        return value

    def as_native(self) -> Dimension | None:
        """The equivalent nbml dimension for uniform, loguniform and randint (else None)."""
        a, b = self.dist.support()
        if self.name == "uniform":
            return Float(float(a), float(b))
        if self.name in ("loguniform", "reciprocal"):
            return Float(float(a), float(b), log=True, name="loguniform")
        if self.name == "randint":
            return Int(int(a), int(b))
        return None

    def grid(self, n=5):
        native = self.as_native()
        if native is None:
            return [float(v) for v in self.dist.ppf(np.linspace(0.05, 0.95, n))]
        return native.grid(n)

    def __repr__(self):
        return f"scipy.stats.{self.name}(...)"


def uniform(low, high) -> Float:
    """Floats spread evenly over ``[low, high]``."""
    return Float(low, high)


def loguniform(low, high) -> Float:
    """Floats over ``[low, high]`` spread evenly on a log scale (learning rates, ``C``, ``alpha``)."""
    return Float(low, high, log=True, name="loguniform")


def randint(low, high) -> Int:
    """Integers ``low..high``, both included: ``randint(1, 10)`` can give 10 (unlike
    ``scipy.stats.randint(1, 10)``, which stops at 9)."""
    return Int(low, high)


def logint(low, high) -> Int:
    """Integers ``low..high`` (both included) spread on a log scale (tree counts, neighbours)."""
    return Int(low, high, log=True, name="logint")


def choice(*values) -> Categorical:
    """One of ``values``."""
    if len(values) == 1 and isinstance(values[0], (list, tuple)):
        values = tuple(values[0])
    return Categorical(values)


HELPERS = {"uniform": uniform, "loguniform": loguniform, "randint": randint, "logint": logint, "choice": choice}


def dimension(name, value) -> Dimension:
    """The ``Dimension`` that a space entry describes."""
    if isinstance(value, Dimension):
        return value
    if isinstance(value, tuple) and value and all(_is_number(v) for v in value):
        return _range_of(name, value)
    if isinstance(value, (list, tuple, range, np.ndarray)):
        values = list(value)
        if not values:
            raise NbmlError(f"{name} = [] is empty: give at least one value")
        return Categorical(values, name="list")
    if hasattr(value, "rvs") and hasattr(value, "support"):
        return ScipyDist(value)
    if hasattr(value, "rvs"):
        raise NbmlError(f"{name}: give a frozen scipy.stats distribution, e.g. stats.uniform(0, 1), not the "
                        f"distribution class")
    if callable(value):
        raise NbmlError(f"{name} = {value!r} is not a set of values: call it, e.g. loguniform(1e-3, 1)")
    value = _plain(value)
    raise NbmlError(f"{name} = {value!r} is not a set of values; use a list such as [{value!r}], or "
                    f"uniform/loguniform/randint/logint/choice")


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _range_of(name, value: tuple) -> Dimension:
    """``(10, 100)`` -> integers 10..100; ``(0.1, 1.0)`` -> floats in [0.1, 1]."""
    low_high = tuple(_plain(v) for v in value)
    shown = "(" + ", ".join(map(repr, low_high)) + (",)" if len(low_high) == 1 else ")")
    as_list = "[" + ", ".join(map(repr, low_high)) + "]"
    if len(low_high) != 2:
        raise NbmlError(f"{name} = {shown}: a tuple of numbers is a range (low, high) and needs two; for these "
                        f"values as choices use a list: {name} = {as_list}")
    low, high = low_high
    if low > high:
        raise NbmlError(f"{name} = {shown}: a tuple of numbers is a range (low, high), and low exceeds high; "
                        f"write ({high!r}, {low!r}), or {name} = [{shown}] for that one tuple as the value")
    if all(isinstance(v, numbers.Integral) for v in low_high):
        return Int(low, high)
    return Float(low, high)


def normalize(space) -> dict:
    """``{name: Dimension}`` from a dict of lists/helpers/distributions."""
    if space is None:
        return {}
    if isinstance(space, str):
        return parse(space)
    if not isinstance(space, dict):
        raise TypeError(f"space must be a dict name -> values (or a %%tune body as text); got "
                        f"{type(space).__name__}")
    out = {}
    for name, value in space.items():
        if not isinstance(name, str) or not name:
            raise NbmlError(f"space names must be parameter names (strings); got {name!r}")
        out[name] = dimension(name, value)
    return out


def parse(body: str, namespace: dict | None = None) -> dict:
    """Parse a ``%%tune`` body (``name = values`` a line) into ``{name: Dimension}``.

    The values are Python evaluated with ``namespace`` (the notebook's variables) plus the
    helpers ``uniform, loguniform, randint, logint, choice`` and ``stats`` (scipy.stats).
    """
    try:
        tree = ast.parse(body or "", filename="<%%tune body>")
    except SyntaxError as exc:
        raise NbmlError(f"the search space has a syntax error on line {exc.lineno}: {exc.msg}") from None
    scope = dict(namespace or {})
    scope.update(HELPERS)
    if "stats" not in scope:
        import scipy.stats

        scope["stats"] = scipy.stats
    out = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            text = ast.get_source_segment(body, node) or ""
            raise NbmlError(f"line {node.lineno} of the search space is not `name = values`: {text.strip()!r} "
                            f"(e.g. C = loguniform(1e-3, 10) or max_depth = [3, 5, None])")
        name = node.targets[0].id
        try:
            value = eval(compile(ast.Expression(node.value), "<%%tune body>", "eval"), scope)
        except ValueError:
            raise
        except Exception as exc:
            raise NbmlError(f"line {node.lineno} of the search space ({name}) raised "
                            f"{type(exc).__name__}: {exc}") from None
        if name in out:
            raise NbmlError(f"{name} is given twice in the search space (line {node.lineno})")
        out[name] = dimension(name, value)
    return out


def resolve(space: dict, pipeline) -> dict:
    """Map the model's own parameter names to the pipeline's (``C`` -> ``model__C``).

    Already-prefixed names pass through. A name the model does not have raises a
    ``ValueError`` listing the valid names.
    """
    params = pipeline.get_params(deep=True)
    from nbml.training import final_estimator

    final = final_estimator(pipeline)
    prefix = _final_prefix(pipeline)
    own = sorted(k for k in final.get_params(deep=True))
    out = {}
    for name, dim in space.items():
        if name in params and (name.count("__") or prefix == ""):
            key = name
        else:
            key = prefix + name
            if key not in params:
                matches = [k for k in params if k.endswith("__" + name)]
                if len(matches) == 1:
                    key = matches[0]
                elif len(matches) > 1:
                    raise NbmlError(f"{name} is ambiguous in the pipeline: it could be "
                                    f"{', '.join(sorted(matches))}; use one of these full names")
                else:
                    close = difflib.get_close_matches(name, own, n=3, cutoff=0.6)
                    hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
                    raise NbmlError(f"{type(final).__name__} has no parameter {name!r}: {hint}its parameters "
                                    f"are {', '.join(own)}")
        if key in out:
            raise NbmlError(f"{name} names the same parameter ({key}) as another entry of the space")
        out[key] = dim
    return out


def _final_prefix(pipeline) -> str:
    prefix = ""
    est = pipeline
    while getattr(est, "steps", None):
        name, est = est.steps[-1]
        prefix += name + "__"
    return prefix


def short_name(key: str, pipeline) -> str:
    """``model__C`` -> ``C`` (the name the user wrote)."""
    prefix = _final_prefix(pipeline)
    return key[len(prefix):] if prefix and key.startswith(prefix) else key


def grid_values(space: dict, method: str = "grid", discretize: int | None = None) -> dict:
    """``{name: [values]}`` for an exhaustive grid; continuous dimensions are an error
    unless ``discretize`` (points per dimension, used for default spaces) is given."""
    out = {}
    for name, dim in space.items():
        if dim.is_categorical:
            out[name] = dim.values
        elif discretize:
            out[name] = dim.grid(discretize)
        else:
            example = ", ".join(f"{v:g}" for v in dim.grid(4))
            raise NbmlError(f"method={method!r} needs lists of values, but {name} = {dim!r} is a distribution: "
                            f"give a list such as {name} = [{example}], or use method='random' or 'bayes'")
    return out


def describe(space: dict) -> str:
    return "\n".join(f"{name} = {dim!r}" for name, dim in space.items())
