"""Safe model packages: ``deploy(result, path)`` writes one, ``load(path)`` reads it back.

A package is a folder:

- ``model.skops``: the fitted pipeline (preprocessing + model) in skops' format, whose loading
  builds objects from an allow-list of types and never runs pickled code;
- ``module.pt`` + ``architecture.json`` (torch models only): the network's ``state_dict``,
  loaded with ``torch.load(weights_only=True)``, and a layer-by-layer spec it is rebuilt from;
- ``card.json``: the model card (task, metrics, parameters, training-data schema, data
  fingerprint, library versions, created-at);
- ``reference.json``: a seeded sample of the training rows, the baseline of drift reports;
- ``manifest.json``: the SHA-256 of every file above; a package whose files do not match it
  (edited, truncated, swapped) is refused before anything in it is read.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from nbml.errors import NbmlError

FORMAT = "nbml-package/1"
MODEL_FILE = "model.skops"
CARD_FILE = "card.json"
REFERENCE_FILE = "reference.json"
WEIGHTS_FILE = "module.pt"
ARCH_FILE = "architecture.json"
MANIFEST_FILE = "manifest.json"
# rows of training data kept in the package as the drift baseline (0: none)
REFERENCE_ROWS = 5000
# categories listed per column in the schema (more: the most frequent ones)
MAX_CATEGORIES = 100

# Types a package may contain beyond skops' own defaults (which cover scikit-learn and numpy).
# Exact names only: a prefix such as "nbml." would also admit modules reachable as attributes.
_NBML_TRUSTED = [
    "numpy.dtype",
    "nbml.preprocess._to_object",
    "nbml.preprocess._to_float",
    "nbml.preprocess.DatetimeFeatures",
    "nbml.torch.estimators.TorchClassifier",
    "nbml.torch.estimators.TorchRegressor",
]
_SCRATCH = ["LinearRegression", "Ridge", "Lasso", "LogisticRegression", "SoftmaxRegression", "MLPClassifier",
            "DecisionTreeClassifier", "DecisionTreeRegressor"]


class UntrustedPackageError(NbmlError):
    """A package that was tampered with or holds types outside the allow-list."""


def trusted_types() -> list:
    """Every type name nbml lets a package contain (besides skops' defaults)."""
    names = list(_NBML_TRUSTED)
    try:
        from nbml import scratch

        for name in _SCRATCH:
            cls = getattr(scratch, name, None)
            if cls is not None:
                names.append(f"{cls.__module__}.{cls.__qualname__}")
    except ImportError:  # scratch estimators are optional for loading
        pass
    return names


# -- the package object -------------------------------------------------------------------

class Package:
    """A deployable model: the fitted pipeline, its model card and a reference sample.

    ``predict``/``predict_proba`` give exactly what the trained model gave.
    """

    def __init__(self, model, card: dict, reference: pd.DataFrame | None = None, path=None):
        self.model = model
        self.card = card
        self.reference = reference
        self.path = None if path is None else Path(path)

    @property
    def name(self) -> str:
        return self.card.get("name", "model")

    @property
    def task(self) -> str:
        return self.card["task"]

    @property
    def schema(self) -> dict:
        return self.card["schema"]

    @property
    def features(self) -> list:
        return [c["name"] for c in self.card["schema"]["columns"]]

    @property
    def classes_(self):
        classes = self.card.get("classes")
        return None if classes is None else np.asarray(classes)

    @property
    def metrics(self) -> dict:
        return self.card.get("metrics", {})

    def predict(self, X):
        return self.model.predict(X)

    def predict_proba(self, X):
        if not hasattr(self.model, "predict_proba"):
            raise AttributeError(f"{self.name} gives no probabilities")
        return self.model.predict_proba(X)

    def __repr__(self) -> str:
        where = f" from {self.path}" if self.path else ""
        metrics = ", ".join(f"{k}={v:.3f}" for k, v in self.metrics.items() if isinstance(v, (int, float)))
        return f"<nbml Package {self.name} ({self.task}){where}: {metrics}>"

    @classmethod
    def from_result(cls, result, name: str | None = None, reference_rows: int = REFERENCE_ROWS) -> Package:
        """A package (in memory) of a ``TrainResult``, or of a ``Package`` (returned as is)."""
        if isinstance(result, Package):
            return result
        from nbml.training import TrainResult

        if not isinstance(result, TrainResult):
            raise TypeError(f"result must be a TrainResult (from nbml.train) or a Package; got "
                            f"{type(result).__name__}")
        split = result.split
        card = model_card(result, name=name)
        return cls(result.model, card, reference_sample(split.X_train, reference_rows, result.seed))


# -- the model card ------------------------------------------------------------------------

def _finite(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return repr(value)


def column_schema(name, s: pd.Series) -> dict:
    from nbml.data import column_kind

    kind = column_kind(s)
    entry = {"name": str(name), "dtype": str(s.dtype), "kind": kind, "missing": int(s.isna().sum())}
    present = s.dropna()
    if kind == "numeric" and len(present):
        entry.update(min=_finite(present.min()), max=_finite(present.max()), mean=_finite(present.mean()),
                     std=_finite(present.std(ddof=0)), integer=bool(pd.api.types.is_integer_dtype(s)))
    elif kind == "categorical":
        counts = present.astype(str).value_counts()
        entry["categories"] = [str(c) for c in counts.index[:MAX_CATEGORIES]]
        entry["n_categories"] = len(counts)
    elif kind == "datetime" and len(present):
        entry.update(min=str(present.min()), max=str(present.max()))
    return entry


def data_schema(X: pd.DataFrame) -> dict:
    return {"columns": [column_schema(c, X[c]) for c in X.columns], "rows": len(X)}


def library_versions(torch_used: bool = False) -> dict:
    import sklearn
    import skops

    import nbml

    versions = {"python": platform.python_version(), "nbml": nbml.__version__, "scikit-learn": sklearn.__version__,
                "numpy": np.__version__, "pandas": pd.__version__, "skops": skops.__version__}
    if torch_used:
        import torch

        versions["torch"] = torch.__version__
    return versions


def model_card(result, name: str | None = None) -> dict:
    from nbml.training import final_estimator

    split = result.split
    est = final_estimator(result.model)
    return {
        "format": FORMAT,
        "name": name or result.name,
        "model": result.name,
        "estimator": f"{type(est).__module__}.{type(est).__qualname__}",
        "task": result.task,
        "target": split.target,
        "classes": None if split.classes_ is None else _plain(list(np.asarray(split.classes_))),
        "metrics": _plain(dict(result.metrics)),
        "train_metrics": _plain(dict(result.train_metrics)),
        "params": _plain(dict(result.params)),
        "schema": data_schema(split.X_train),
        "fingerprint": split.fingerprint,
        "seed": int(result.seed),
        "versions": library_versions(_torch_estimator(result.model) is not None),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def reference_sample(X: pd.DataFrame, rows: int = REFERENCE_ROWS, seed: int = 0) -> pd.DataFrame | None:
    if not rows:
        return None
    if len(X) > rows:
        X = X.sample(n=rows, random_state=seed)
    return X


# -- torch networks: state_dict + a layer spec ---------------------------------------------

def _torch_estimator(model):
    from nbml.training import final_estimator

    est = final_estimator(model)
    return est if hasattr(est, "module_") and type(est).__module__ == "nbml.torch.estimators" else None


# layer type -> the constructor arguments read back from its attributes
_LAYERS = {
    "Linear": ("in_features", "out_features", ("bias", lambda m: m.bias is not None)),
    "BatchNorm1d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "LayerNorm": (("normalized_shape", lambda m: list(m.normalized_shape)), "eps", "elementwise_affine"),
    "Dropout": ("p",), "ReLU": (), "Tanh": (), "Sigmoid": (), "SiLU": (), "SELU": (), "Identity": (),
    "GELU": ("approximate",), "ELU": ("alpha",), "LeakyReLU": ("negative_slope",), "Softplus": ("beta", "threshold"),
    "Flatten": ("start_dim", "end_dim"), "Softmax": ("dim",), "LogSoftmax": ("dim",),
}


def architecture(module) -> dict:
    """A JSON spec of an ``nn.Sequential`` of standard ``torch.nn`` layers."""
    from torch import nn

    if isinstance(module, nn.Sequential):
        return {"type": "Sequential", "layers": [architecture(m) for m in module]}
    kind = type(module).__name__
    if type(module).__module__.startswith("torch.nn.modules") and kind in _LAYERS:
        args = {}
        for spec in _LAYERS[kind]:
            key, read = spec if isinstance(spec, tuple) else (spec, lambda m, s=spec: getattr(m, s))
            args[key] = _plain(read(module))
        return {"type": kind, "args": args}
    raise TypeError(f"the network contains a {type(module).__module__}.{type(module).__qualname__}, which cannot "
                    f"be packaged safely (its code would have to run at load); deploy an nn.Sequential of "
                    f"standard torch.nn layers, e.g. nbml.mlp(...). Supported layers: {', '.join(sorted(_LAYERS))}")


def build_architecture(spec: dict):
    from torch import nn

    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == "Sequential":
        return nn.Sequential(*[build_architecture(s) for s in spec.get("layers", [])])
    if kind not in _LAYERS:
        raise UntrustedPackageError(f"the package's architecture names layer type {kind!r}, which is not one of "
                                    f"the allowed torch.nn layers ({', '.join(sorted(_LAYERS))})")
    args = dict(spec.get("args", {}))
    if kind == "LayerNorm":
        args["normalized_shape"] = tuple(args["normalized_shape"])
    return getattr(nn, kind)(**args)


# -- writing --------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_path(path, name="path") -> Path:
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise TypeError(f"{name}={path!r} is not a folder path: give a string such as 'models/iris'")
    return Path(path)


def deploy(result, path, name: str | None = None, overwrite: bool = True,
           reference_rows: int = REFERENCE_ROWS) -> Package:
    """Write ``result`` (a ``TrainResult``) as a safe, self-contained package in folder ``path``.

    The pipeline goes to skops (no pickle), a torch network to ``state_dict`` + layer spec;
    ``card.json`` describes it. Returns the :class:`Package` (``nbml.load(path)`` reads it back).
    """
    import skops.io as sio

    from nbml.training import TrainResult

    if not isinstance(result, (TrainResult, Package)):
        raise TypeError(f"result must be a TrainResult (from nbml.train / %%train -o NAME); got {type(result).__name__}")
    path = _check_path(path)
    if isinstance(reference_rows, bool) or not isinstance(reference_rows, (int, np.integer)) or reference_rows < 0:
        raise NbmlError(f"reference_rows={reference_rows!r} must be a non-negative integer (0: keep no sample)")
    if path.exists() and not path.is_dir():
        raise NbmlError(f"path={str(path)!r} is a file; give a folder for the package")
    if path.exists() and any(path.iterdir()):
        if not (path / MANIFEST_FILE).exists():
            raise NbmlError(f"path={str(path)!r} is a folder with other files in it; give a new or empty "
                            f"folder (or an existing package to replace)")
        if not overwrite:
            raise NbmlError(f"path={str(path)!r} already holds a package; pass overwrite=True to replace it")
    package = Package.from_result(result, name=name, reference_rows=reference_rows)
    model = package.model
    torch_est = _torch_estimator(model)
    files = {}
    path.mkdir(parents=True, exist_ok=True)
    for stale in (WEIGHTS_FILE, ARCH_FILE, REFERENCE_FILE, MANIFEST_FILE):
        (path / stale).unlink(missing_ok=True)
    if torch_est is not None:
        import torch

        arch = architecture(torch_est.module_)
        (path / ARCH_FILE).write_text(json.dumps(arch, indent=1))
        torch.save({k: v.detach().cpu() for k, v in torch_est.module_.state_dict().items()}, path / WEIGHTS_FILE)
        files.update({ARCH_FILE: None, WEIGHTS_FILE: None})
        model = _without_network(model, torch_est)
    data = sio.dumps(model)
    untrusted = _untrusted(sio.get_untrusted_types(data=data))
    if untrusted:
        raise TypeError(f"the model contains types nbml does not trust to load safely: {', '.join(untrusted)}; "
                        f"use scikit-learn, nbml or torch.nn.Sequential parts")
    (path / MODEL_FILE).write_bytes(data)
    files[MODEL_FILE] = None
    card = dict(package.card)
    card["files"] = sorted(files) + [CARD_FILE] + ([REFERENCE_FILE] if package.reference is not None else [])
    (path / CARD_FILE).write_text(json.dumps(card, indent=1, sort_keys=False))
    files[CARD_FILE] = None
    if package.reference is not None:
        (path / REFERENCE_FILE).write_text(package.reference.to_json(orient="split", index=False,
                                                                     date_format="iso"))
        files[REFERENCE_FILE] = None
    manifest = {"format": FORMAT, "sha256": {f: _sha256(path / f) for f in sorted(files)}}
    (path / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1))
    package.path = path
    return package


def _without_network(model, torch_est):
    """A copy of the pipeline whose torch estimator holds no nn.Module (that goes to module.pt)."""
    from sklearn.pipeline import Pipeline

    light = copy.copy(torch_est)
    light.module_ = None
    light.module = None  # a user module or MLPSpec: the architecture spec replaces it
    light.callbacks = None
    light.history_ = None
    if isinstance(model, Pipeline):
        steps = list(model.steps)
        steps[-1] = (steps[-1][0], light)
        clone = copy.copy(model)
        clone.steps = steps
        return clone
    return light


def _untrusted(names) -> list:
    allowed = set(trusted_types())
    return sorted(n for n in names if n not in allowed)


# -- reading --------------------------------------------------------------------------------

def verify(path) -> dict:
    """Check the package's files against its manifest; return the manifest. Raises
    ``UntrustedPackageError`` naming each file that does not match."""
    path = _check_path(path)
    if not path.exists():
        raise NbmlError(f"path={str(path)!r} does not exist")
    if not path.is_dir() or not (path / MANIFEST_FILE).exists():
        raise NbmlError(f"path={str(path)!r} is not an nbml package (no {MANIFEST_FILE}); create one with "
                        f"nbml.deploy(result, path)")
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text())
        hashes = dict(manifest["sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UntrustedPackageError(f"refusing to load {path}: its manifest is unreadable ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise UntrustedPackageError(f"refusing to load {path}: format {manifest.get('format')!r} is not {FORMAT!r}")
    if MODEL_FILE not in hashes or CARD_FILE not in hashes:
        raise UntrustedPackageError(f"refusing to load {path}: the manifest does not cover {MODEL_FILE} and "
                                    f"{CARD_FILE}")
    bad = []
    for name, digest in sorted(hashes.items()):
        if "/" in name or "\\" in name or name.startswith("."):
            raise UntrustedPackageError(f"refusing to load {path}: the manifest names {name!r}, not a package file")
        file = path / name
        if not file.exists():
            bad.append(f"{name} (missing)")
        elif _sha256(file) != digest:
            bad.append(f"{name} (changed)")
    if bad:
        raise UntrustedPackageError(f"refusing to load {path}: it was modified after nbml.deploy wrote it: "
                                    f"{', '.join(bad)}")
    return manifest


def load(path, trusted=None) -> Package:
    """Read a package written by ``deploy``; predictions equal the trained model's.

    Refused with ``UntrustedPackageError`` when a file changed since it was written, or when
    the model holds types outside nbml's allow-list (they are listed; pass ``trusted=[names]``
    to accept them if you trust the package's source).
    """
    import skops.io as sio

    if trusted is not None and (isinstance(trusted, str) or not all(isinstance(t, str) for t in trusted)):
        raise TypeError(f"trusted={trusted!r} must be a list of type names such as ['mypackage.MyScaler']")
    manifest = verify(path)
    path = Path(path)
    data = (path / MODEL_FILE).read_bytes()
    try:
        found = sio.get_untrusted_types(data=data)
    except Exception as exc:  # noqa: BLE001 - any parse failure means: not a package we can read
        raise UntrustedPackageError(f"refusing to load {path}: {MODEL_FILE} is not a valid skops file "
                                    f"({type(exc).__name__}: {exc})") from None
    untrusted = [t for t in _untrusted(found) if t not in set(trusted or [])]
    if untrusted:
        raise UntrustedPackageError(f"refusing to load {path}: it contains untrusted types: {', '.join(untrusted)} "
                                    f"(pass trusted=[...] only if you trust where the package came from)")
    model = sio.loads(data, trusted=sorted(set(found)))
    card = json.loads((path / CARD_FILE).read_text())
    if WEIGHTS_FILE in manifest["sha256"]:
        model = _attach_network(model, path)
    reference = None
    if REFERENCE_FILE in manifest["sha256"]:
        reference = _read_reference(path / REFERENCE_FILE, card["schema"])
    return Package(model, card, reference, path)


def _attach_network(model, path: Path):
    import torch

    est = _torch_estimator_unfitted(model)
    if est is None:
        raise UntrustedPackageError(f"refusing to load {path}: it has {WEIGHTS_FILE} but no nbml torch estimator")
    module = build_architecture(json.loads((path / ARCH_FILE).read_text()))
    try:
        state = torch.load(path / WEIGHTS_FILE, weights_only=True, map_location="cpu")
        module.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - unpickling refused, wrong shapes, truncated file: all refused
        raise UntrustedPackageError(f"refusing to load {path}: {WEIGHTS_FILE} does not fit the architecture "
                                    f"({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    est.module_ = module.eval()
    return model


def _torch_estimator_unfitted(model):
    from nbml.training import final_estimator

    est = final_estimator(model)
    return est if type(est).__module__ == "nbml.torch.estimators" else None


def _read_reference(file: Path, schema: dict) -> pd.DataFrame:
    from io import StringIO

    frame = pd.read_json(StringIO(file.read_text()), orient="split", dtype=False)
    for col in schema["columns"]:
        name = col["name"]
        if name not in frame.columns:
            continue
        try:
            if col["kind"] == "datetime":
                frame[name] = pd.to_datetime(frame[name])
            elif col["dtype"] == "category":
                frame[name] = frame[name].astype("category")
            else:
                frame[name] = frame[name].astype(col["dtype"])
        except (TypeError, ValueError):
            pass
    return frame
