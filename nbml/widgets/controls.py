"""Controls for hyperparameters, chosen from an estimator's parameters or a search space.

``control_spec(name, value, dim)`` decides (pure Python, no widgets): a log-scaled slider for
strengths and rates (``C``, ``alpha``, ``lr``), an integer slider for counts and depths, a
plain float slider for fractions, a dropdown for choices, a checkbox for booleans, each with a
sensible range around the current value. ``make_controls`` turns specs into ipywidgets.

A depth or size whose value is ``None`` (no limit) gets a slider whose top position means
``None``; ``Control.model_value`` maps it back.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

from nbml import space as _space
from nbml.errors import NbmlError

# name -> (low, high) of a log-scaled range (the current value widens it when outside)
LOG_RANGES = {
    "C": (1e-3, 1e3), "alpha": (1e-5, 1e2), "lr": (1e-5, 1.0), "learning_rate_init": (1e-5, 1.0),
    "learning_rate": (1e-3, 1.0), "weight_decay": (1e-6, 1e-1), "l2_regularization": (1e-6, 10.0),
    "gamma": (1e-4, 10.0), "epsilon": (1e-3, 1.0), "eta0": (1e-4, 1.0), "reg_alpha": (1e-4, 10.0),
    "reg_lambda": (1e-4, 10.0), "var_smoothing": (1e-12, 1e-3), "ccp_alpha": (1e-5, 0.1),
}
# name -> (low, high, step, None allowed)
INT_RANGES = {
    "max_depth": (1, 30, 1, True), "max_leaf_nodes": (2, 256, 1, True), "n_estimators": (10, 500, 10, False),
    "n_neighbors": (1, 50, 1, False), "min_samples_split": (2, 50, 1, False), "min_samples_leaf": (1, 50, 1, False),
    "max_iter": (10, 1000, 10, False), "epochs": (1, 200, 1, False), "n_clusters": (2, 20, 1, False),
    "degree": (1, 6, 1, False), "patience": (1, 50, 1, True), "n_components": (1, 50, 1, False),
}
# name -> (low, high) of a linear float range
UNIT_RANGES = {
    "l1_ratio": (0.0, 1.0), "dropout": (0.0, 0.9), "subsample": (0.1, 1.0), "max_features": (0.05, 1.0),
    "momentum": (0.0, 0.99), "validation_fraction": (0.05, 0.5), "max_samples": (0.1, 1.0),
    "min_weight_fraction_leaf": (0.0, 0.5), "power_t": (0.1, 1.0), "beta_1": (0.5, 0.999), "beta_2": (0.9, 0.9999),
}
# name -> choices (the current value is added when it is not among them)
CHOICES = {
    "penalty": ["l2", "l1", "elasticnet", None],
    "kernel": ["linear", "poly", "rbf", "sigmoid"],
    "weights": ["uniform", "distance"],
    "class_weight": [None, "balanced"],
    "optimizer": ["sgd", "adam", "adamw", "rmsprop"],
    "batch_size": [16, 32, 64, 128, 256, 512],
    "solver": ["lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"],
}
CRITERIA = {"gini": ["gini", "entropy", "log_loss"],
            "squared_error": ["squared_error", "friedman_mse", "absolute_error", "poisson"]}
ACTIVATIONS = {"relu", "tanh", "logistic", "identity"}
# parameters that are not hyperparameters (or cannot be tuned live)
SKIP = {"random_state", "seed", "verbose", "n_jobs", "warm_start", "copy_X", "copy", "callbacks", "device",
        "module", "memory", "steps", "transformers", "verbose_feature_names_out", "tol"}


@dataclass
class Spec:
    """What control a parameter gets: kind is 'log', 'float', 'int', 'choice' or 'bool'."""

    name: str
    kind: str
    value: object
    low: float | None = None
    high: float | None = None
    step: float | None = None
    options: list = field(default_factory=list)
    none_at_max: bool = False  # int slider whose top position means None


def _widen_log(low, high, value):
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and value > 0:
        low, high = min(low, value / 10), max(high, value * 10)
    return low, high


def _clip(value, low, high):
    return min(max(value, low), high)


def control_spec(name: str, value, dim=None, task: str | None = None) -> Spec | None:
    """The control for parameter ``name`` whose current value is ``value`` (``dim``: a
    ``nbml.space`` dimension that fixes the range). None when no control fits."""
    if dim is not None:
        return _spec_from_dimension(name, value, dim)
    if name in SKIP:
        return None
    if isinstance(value, bool):
        return Spec(name, "bool", value)
    if name in CHOICES or (name == "criterion" and any(value in opts for opts in CRITERIA.values())) or \
            (name == "activation" and value in ACTIVATIONS):
        if name == "criterion":
            options = next(opts for opts in CRITERIA.values() if value in opts)
        elif name == "activation":
            options = sorted(ACTIVATIONS)
        else:
            options = list(CHOICES[name])
        if value not in options:
            options.append(value)
        return Spec(name, "choice", value, options=options)
    if name in LOG_RANGES and (value is None or isinstance(value, numbers.Real)):
        low, high = _widen_log(*LOG_RANGES[name], value)
        current = value if isinstance(value, numbers.Real) and value > 0 else low
        return Spec(name, "log", float(_clip(current, low, high)), low, high)
    if name in INT_RANGES and (value is None or isinstance(value, numbers.Integral)):
        low, high, step, none_ok = INT_RANGES[name]
        if value is not None:
            low, high = min(low, int(value)), max(high, int(value))
        if value is None and not none_ok:
            return None
        none_at_max = none_ok and value is None
        current = high if value is None else int(value)
        return Spec(name, "int", current, low, high, step, none_at_max=none_at_max)
    if name in UNIT_RANGES and isinstance(value, numbers.Real):
        low, high = UNIT_RANGES[name]
        low, high = min(low, float(value)), max(high, float(value))
        return Spec(name, "float", float(value), low, high, round((high - low) / 100, 6))
    if isinstance(value, numbers.Integral) and value > 0:
        return Spec(name, "int", int(value), max(1, int(value) // 4), int(value) * 4, 1)
    if isinstance(value, numbers.Real) and math.isfinite(value):
        if 0 < value < 1:
            return Spec(name, "float", float(value), 0.0, 1.0, 0.01)
        if value > 0:
            return Spec(name, "log", float(value), value / 100, value * 100)
    return None


def _spec_from_dimension(name, value, dim) -> Spec:
    if dim.kind == "scipy":
        native = dim.as_native()
        if native is None:
            raise NbmlError(f"{name}: a panel needs a range or a list of values, not a {dim!r}; use "
                            f"uniform/loguniform/randint/logint or a list")
        dim = native
    if dim.kind == "categorical":
        options = list(dim.values)
        if set(map(repr, options)) <= {"True", "False"}:
            return Spec(name, "bool", bool(value) if isinstance(value, bool) else bool(options[0]))
        current = value if _contains(options, value) else options[0]
        return Spec(name, "choice", current, options=options)
    if dim.kind == "float":
        kind = "log" if dim.log else "float"
        current = value if isinstance(value, numbers.Real) and not isinstance(value, bool) else \
            (math.sqrt(dim.low * dim.high) if dim.log else (dim.low + dim.high) / 2)
        step = None if dim.log else ((dim.high - dim.low) / 100 or 0.01)
        return Spec(name, kind, float(_clip(current, dim.low, dim.high)), dim.low, dim.high, step)
    if dim.kind == "int":
        if value is None:
            return Spec(name, "int", dim.high, dim.low, dim.high, 1)
        current = int(value) if isinstance(value, numbers.Real) else dim.low
        return Spec(name, "int", int(_clip(current, dim.low, dim.high)), dim.low, dim.high, 1)
    raise NbmlError(f"{name}: no control for a {dim!r}")


def _contains(options, value) -> bool:
    try:
        return any(o == value and type(o) is type(value) for o in options)
    except (ValueError, TypeError, RuntimeError):  # values whose == is not a bool (arrays, frames, tensors)
        return False


def _label(value) -> str:
    return "None" if value is None else str(value)


@dataclass
class Control:
    """One parameter's widget; ``key`` is the pipeline's name for it (``model__C``)."""

    name: str
    key: str
    spec: Spec
    widget: object

    def model_value(self):
        value = self.widget.value
        if self.spec.none_at_max and value == self.spec.high:
            return None
        if self.spec.kind == "int":
            return int(value)
        if self.spec.kind in ("log", "float"):
            return float(value)
        return value


def make_widget(spec: Spec):
    import ipywidgets as widgets

    style = {"description_width": "initial"}
    common = {"description": spec.name, "style": style, "continuous_update": True,
              "layout": widgets.Layout(width="340px")}
    if spec.kind == "log":
        lo, hi = math.log10(spec.low), math.log10(spec.high)
        return widgets.FloatLogSlider(value=spec.value, base=10, min=lo, max=hi, step=(hi - lo) / 100,
                                      readout_format=".3g", **common)
    if spec.kind == "float":
        return widgets.FloatSlider(value=spec.value, min=spec.low, max=spec.high, step=spec.step or 0.01,
                                   readout_format=".3g", **common)
    if spec.kind == "int":
        slider = widgets.IntSlider(value=spec.value, min=spec.low, max=spec.high, step=spec.step or 1, **common)
        if spec.none_at_max:
            slider.description = f"{spec.name} (max = None)"
        return slider
    if spec.kind == "bool":
        return widgets.Checkbox(value=bool(spec.value), description=spec.name, indent=False)
    options = [(_label(o), o) for o in spec.options]
    index = next(i for i, o in enumerate(spec.options) if _contains([o], spec.value))
    return widgets.Dropdown(options=options, index=index, description=spec.name, style=style,
                            layout=widgets.Layout(width="340px"))


def choose_specs(pipeline, space=None, params=None, task=None) -> list:
    """``[(name, key, Spec)]`` for the panel of ``pipeline``.

    ``space`` (a dict or ``%%tune`` body) fixes names and ranges; else ``params`` (names or a
    comma-separated string) picks parameters with automatic ranges; else the model's default
    search space (``nbml.tuning.defaults``) names them, ranged by the tables above.
    """
    from nbml.training import final_estimator

    estimator = final_estimator(pipeline)
    own = estimator.get_params(deep=False)
    dims = {}
    if space is not None:
        if params is not None:
            raise NbmlError("give either space= or params=, not both")
        dims = _space.normalize(space)
        names = list(dims)
    elif params is not None:
        if isinstance(params, str):
            params = [p.strip() for p in params.split(",") if p.strip()]
        names = list(params)
        if not names:
            raise NbmlError("params= is empty; name at least one parameter, e.g. params='C'")
    else:
        names = _default_names(estimator, own)
        fallback = _default_dims(estimator)
        inner = own.get("estimator")
        if not names and hasattr(inner, "get_params"):  # a wrapper (calibrated, thresholded): its model's names
            inner = final_estimator(inner)
            names, fallback = _default_names(inner, inner.get_params(deep=False)), _default_dims(inner)
    keys = _space.resolve({n: None for n in names}, pipeline)
    every = pipeline.get_params(deep=True)
    out = []
    for name, key in zip(names, keys):
        value = every[key]
        short = key.rsplit("__", 1)[-1]
        spec = control_spec(short, value, dims.get(name), task)
        if spec is None and space is None and params is None and name in fallback:
            spec = _representable(control_spec(short, value, _with_value(fallback[name], value), task), value)
        if spec is None:
            if params is None and space is None:
                continue
            raise NbmlError(f"no automatic control for {name}={value!r}: give its values as a space, e.g. "
                            f"space={{{name!r}: [..]}} or {name} = loguniform(a, b) in the %%tune style")
        spec.name = name
        out.append((name, key, spec))
    if not out:
        raise NbmlError(f"no hyperparameters of {type(estimator).__name__} to control; name them with "
                        f"params=... (its parameters are {', '.join(sorted(own))})")
    return out


def _with_value(dim, value):
    """A categorical dimension that also offers the current value (e.g. hidden_layer_sizes)."""
    if dim.kind == "categorical" and not _contains(dim.values, value):
        return _space.Categorical([value, *dim.values])
    return dim


def _representable(spec, value):
    """``spec`` if its control starts at ``value`` (the panel must open on the model as
    given: gamma='scale' or max_features='sqrt' get no slider automatically), else None."""
    if spec is None:
        return None
    if spec.kind == "choice":
        return spec if _contains([spec.value], value) else None
    if spec.kind == "int":
        return spec if value is not None and isinstance(value, numbers.Integral) and spec.value == value else None
    same = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isclose(spec.value, value)
    return spec if same else None


def _default_dims(estimator) -> dict:
    try:
        from nbml.tuning.defaults import default_space

        return _space.normalize(default_space(estimator))
    except (ImportError, ValueError):
        return {}


def _default_names(estimator, own) -> list:
    try:
        from nbml.tuning.defaults import default_space

        names = list(default_space(estimator))
    except (ImportError, ValueError):
        names = []
    if not names:
        tables = set(LOG_RANGES) | set(INT_RANGES) | set(UNIT_RANGES) | set(CHOICES) | {"criterion"}
        names = [n for n in own if n in tables]
    return [n for n in names if n in own]


def make_controls(pipeline, space=None, params=None, task=None) -> list:
    """``[Control]`` with their widgets, in order."""
    return [Control(name, key, spec, make_widget(spec)) for name, key, spec in
            choose_specs(pipeline, space, params, task)]
