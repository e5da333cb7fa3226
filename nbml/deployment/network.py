"""Torch networks in a package: ``module.pt`` (a ``state_dict`` of tensors, read with
``torch.load(weights_only=True)``) and ``architecture.json`` (an ``nn.Sequential`` of standard
layers, written as JSON and rebuilt from it; no code is stored).

Loading checks the architecture against the weights before building anything: every layer's
arguments are checked, the shapes each layer would allocate are computed from them and must
equal the tensors in ``module.pt``, so a spec naming ``Linear(10**6, 10**6)`` is refused
instead of asking torch for 4 TB.
"""
from __future__ import annotations

import io
import json
import math
from pathlib import Path

from nbml.deployment.trust import UntrustedPackageError

WEIGHTS_FILE = "module.pt"
ARCH_FILE = "architecture.json"
MAX_DEPTH = 8  # nested Sequentials


# layer type -> the constructor arguments read back from its attributes
LAYERS = {
    "Linear": ("in_features", "out_features", ("bias", lambda m: m.bias is not None)),
    "BatchNorm1d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "LayerNorm": (("normalized_shape", lambda m: list(m.normalized_shape)), "eps", "elementwise_affine"),
    "Dropout": ("p",), "ReLU": (), "Tanh": (), "Sigmoid": (), "SiLU": (), "SELU": (), "Identity": (),
    "GELU": ("approximate",), "ELU": ("alpha",), "LeakyReLU": ("negative_slope",), "Softplus": ("beta", "threshold"),
    "Flatten": ("start_dim", "end_dim"), "Softmax": ("dim",), "LogSoftmax": ("dim",),
}
# argument -> (check, what it must be)
_SIZE = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0, "a positive integer")
_DIM = (lambda v: isinstance(v, int) and not isinstance(v, bool) and abs(v) < 64, "an integer dimension")
_FLAG = (lambda v: isinstance(v, bool), "true or false")
_NUMBER = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v), "a finite number")
ARGUMENTS = {
    "in_features": _SIZE, "out_features": _SIZE, "num_features": _SIZE,
    "normalized_shape": (lambda v: isinstance(v, list) and 0 < len(v) <= 4 and all(_SIZE[0](x) for x in v),
                         "a list of positive integers"),
    "bias": _FLAG, "affine": _FLAG, "track_running_stats": _FLAG, "elementwise_affine": _FLAG,
    "eps": _NUMBER, "p": _NUMBER, "alpha": _NUMBER, "negative_slope": _NUMBER, "beta": _NUMBER,
    "threshold": _NUMBER, "momentum": (lambda v: v is None or _NUMBER[0](v), "a number or null"),
    "approximate": (lambda v: v in ("none", "tanh"), "'none' or 'tanh'"),
    "start_dim": _DIM, "end_dim": _DIM, "dim": _DIM,
}


def architecture(module) -> dict:
    """A JSON spec of an ``nn.Sequential`` of standard ``torch.nn`` layers."""
    from torch import nn

    from nbml.deployment.package import _plain

    if isinstance(module, nn.Sequential):
        return {"type": "Sequential", "layers": [architecture(m) for m in module]}
    kind = type(module).__name__
    if type(module).__module__.startswith("torch.nn.modules") and kind in LAYERS:
        args = {}
        for spec in LAYERS[kind]:
            key, read = spec if isinstance(spec, tuple) else (spec, lambda m, s=spec: getattr(m, s))
            args[key] = _plain(read(module))
        return {"type": kind, "args": args}
    raise TypeError(f"the network contains a {type(module).__module__}.{type(module).__qualname__}, which cannot "
                    f"be packaged safely (its code would have to run at load); deploy an nn.Sequential of "
                    f"standard torch.nn layers, e.g. nbml.mlp(...). Supported layers: {', '.join(sorted(LAYERS))}")


def weights_bytes(module) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, buffer)
    return buffer.getvalue()


# -- reading -------------------------------------------------------------------------------

def check_spec(spec, where: str = ARCH_FILE, depth: int = 0) -> None:
    """Refuse a spec with an unknown layer, an unknown argument or a value of the wrong kind."""
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == "Sequential":
        layers = spec.get("layers")
        if not isinstance(layers, list) or depth >= MAX_DEPTH:
            raise UntrustedPackageError(f"{where}: a Sequential must hold a list of layers (nested at most "
                                        f"{MAX_DEPTH} deep)")
        for layer in layers:
            check_spec(layer, where, depth + 1)
        return
    if kind not in LAYERS:
        raise UntrustedPackageError(f"{where} names layer type {kind!r}, which is not one of the allowed torch.nn "
                                    f"layers ({', '.join(sorted(LAYERS))})")
    args = spec.get("args", {})
    allowed = [a[0] if isinstance(a, tuple) else a for a in LAYERS[kind]]
    if not isinstance(args, dict) or set(args) - set(allowed):
        raise UntrustedPackageError(f"{where}: {kind} takes only {', '.join(allowed) or 'no arguments'}")
    for name, value in args.items():
        ok, what = ARGUMENTS[name]
        if not ok(value):
            raise UntrustedPackageError(f"{where}: {kind} {name}={json.dumps(value)[:40]} must be {what}")


def expected_state(spec, prefix: str = "") -> dict:
    """``state_dict`` key -> shape the spec's network would have (computed, nothing built)."""
    kind, args = spec["type"], spec.get("args", {})
    if kind == "Sequential":
        shapes = {}
        for i, layer in enumerate(spec["layers"]):
            shapes.update(expected_state(layer, f"{prefix}{i}."))
        return shapes
    if kind == "Linear":
        out = {f"{prefix}weight": (args["out_features"], args["in_features"])}
        if args.get("bias", True):
            out[f"{prefix}bias"] = (args["out_features"],)
        return out
    if kind == "BatchNorm1d":
        n, out = args["num_features"], {}
        if args.get("affine", True):
            out.update({f"{prefix}weight": (n,), f"{prefix}bias": (n,)})
        if args.get("track_running_stats", True):
            out.update({f"{prefix}running_mean": (n,), f"{prefix}running_var": (n,),
                        f"{prefix}num_batches_tracked": ()})
        return out
    if kind == "LayerNorm" and args.get("elementwise_affine", True):
        shape = tuple(args["normalized_shape"])
        return {f"{prefix}weight": shape, f"{prefix}bias": shape}
    return {}


def build_architecture(spec: dict):
    from torch import nn

    check_spec(spec)
    if spec["type"] == "Sequential":
        return nn.Sequential(*[build_architecture(s) for s in spec["layers"]])
    args = dict(spec.get("args", {}))
    if spec["type"] == "LayerNorm":
        args["normalized_shape"] = tuple(args["normalized_shape"])
    return getattr(nn, spec["type"])(**args)


def load_network(path: Path):
    """The ``nn.Module`` of a package folder, in eval mode; refused (``UntrustedPackageError``)
    when the spec or the weights are not what they claim, before anything is allocated."""
    from nbml.deployment.extras import require

    torch = require("torch", "torch", "loading a package with a torch network")
    try:
        spec = json.loads((path / ARCH_FILE).read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise UntrustedPackageError(f"refusing to load {path}: {path / ARCH_FILE} is not valid JSON ({exc})") from None
    check_spec(spec, str(path / ARCH_FILE))
    try:
        state = torch.load(path / WEIGHTS_FILE, weights_only=True, map_location="cpu", mmap=True)
    except Exception as exc:  # noqa: BLE001 - unpickling refused, truncated file: all refused
        raise UntrustedPackageError(f"refusing to load {path}: {WEIGHTS_FILE} does not fit the architecture: it is "
                                    f"not a file of tensors ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
                                    ) from None
    expected = expected_state(spec)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UntrustedPackageError(f"refusing to load {path}: {WEIGHTS_FILE} does not fit the architecture "
                                    f"(it is not a dictionary of tensors)")
    held = {k: tuple(v.shape) for k, v in state.items()}
    if held != expected:
        need, have = sum(math.prod(s) for s in expected.values()), sum(math.prod(s) for s in held.values())
        wrong = sorted(set(expected) ^ set(held)) or sorted(k for k in expected if expected[k] != held[k])
        raise UntrustedPackageError(f"refusing to load {path}: {WEIGHTS_FILE} does not fit the architecture in "
                                    f"{ARCH_FILE}: it needs {need:,} numbers, {WEIGHTS_FILE} holds {have:,} "
                                    f"(first difference: {wrong[0]!r}); nothing was built")
    module = build_architecture(spec)
    module.load_state_dict(state)
    return module.eval()
