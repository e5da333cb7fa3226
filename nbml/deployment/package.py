"""Safe model packages: ``deploy(result, path)`` writes one, ``load(path)`` reads it back.

A package is a folder:

- ``model.skops``: the fitted pipeline (preprocessing + model) in skops' format, whose loading
  builds objects from an allow-list of types and never runs pickled code (``trust.py``: the
  allow-list, and the checks of trees and neighbour indices that make trusting them safe);
- ``module.pt`` + ``architecture.json`` (torch models only, ``network.py``): the network's
  ``state_dict``, loaded with ``torch.load(weights_only=True)``, and a layer-by-layer spec it is
  rebuilt from once its shapes match the weights;
- ``card.json``: the model card (task, metrics, parameters, training-data schema, data
  fingerprint, library versions, created-at);
- ``reference.json``: a seeded sample of the training rows, the baseline of drift reports;
- ``manifest.json``: the SHA-256 of every file above; a package whose files do not match it
  (edited, truncated, swapped) is refused before anything in it is read;
- ``signature.json`` (with a key: ``key=`` or ``$NBML_SIGNING_KEY``, ``signing.py``): an
  HMAC-SHA256 of the manifest, which only the key's holder can make.

A package is written to a temporary folder beside ``path`` and moved into place when
complete: a failed deploy leaves nothing behind.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import platform
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from nbml.deployment import signing
from nbml.deployment.extras import require
from nbml.deployment.network import ARCH_FILE, WEIGHTS_FILE, architecture, build_architecture  # noqa: F401
from nbml.deployment.trust import DamagedModelError, UntrustedPackageError, check_contents, refusal, trusted_types  # noqa: F401,E501
from nbml.deployment.trust import untrusted as _untrusted
from nbml.errors import NbmlError

FORMAT = "nbml-package/1"
MODEL_FILE = "model.skops"
CARD_FILE = "card.json"
REFERENCE_FILE = "reference.json"
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = signing.SIGNATURE_FILE
# rows of training data kept in the package as the drift baseline (0: none)
REFERENCE_ROWS = 5000
# categories listed per column in the schema (more: the most frequent ones)
MAX_CATEGORIES = 100
COLUMN_KINDS = ("numeric", "categorical", "boolean", "datetime")


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
        self.signed = False  # written with a key's signature, or loaded with that signature checked

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
        signed = ", signed" if self.signed else ""
        return f"<nbml Package {self.name} ({self.task}{signed}){where}: {metrics}>"

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
    from importlib.metadata import PackageNotFoundError, version

    import sklearn

    import nbml

    versions = {"python": platform.python_version(), "nbml": nbml.__version__, "scikit-learn": sklearn.__version__,
                "numpy": np.__version__, "pandas": pd.__version__}
    for name in ("skops",) + (("torch",) if torch_used else ()):
        try:  # without importing it: a card is also made for serving a result from memory
            versions[name] = version(name)
        except PackageNotFoundError:
            pass
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


# -- torch networks: state_dict + a layer spec (network.py) -------------------------------

def _torch_estimator(model):
    from nbml.training import final_estimator

    est = final_estimator(model)
    return est if hasattr(est, "module_") and type(est).__module__ == "nbml.torch.estimators" else None


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


def _nested_networks(model) -> list:
    """Names of nbml torch estimators anywhere in ``model`` but its final step."""
    from nbml.training import final_estimator

    final, found, seen, stack = final_estimator(model), [], set(), [model]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, bool, type, np.ndarray)) or obj is None:
            continue
        seen.add(id(obj))
        if type(obj).__module__ == "nbml.torch.estimators" and obj is not final:
            found.append(type(obj).__name__)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif hasattr(obj, "get_params") and hasattr(obj, "__dict__"):
            stack.extend(obj.__dict__.values())
    return found


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
    return Path(os.path.expanduser(str(path)))


def _check_target(path: Path, overwrite: bool) -> None:
    if path.exists() and not path.is_dir():
        raise NbmlError(f"path={str(path)!r} is a file; give a folder for the package")
    if path.is_dir() and any(path.iterdir()):
        if not (path / MANIFEST_FILE).exists():
            raise NbmlError(f"path={str(path)!r} is a folder with other files in it; give a new or empty "
                            f"folder (or an existing package to replace)")
        if not overwrite:
            raise NbmlError(f"path={str(path)!r} already holds a package; pass overwrite=True to replace it")


def deploy(result, path, name: str | None = None, overwrite: bool = True,
           reference_rows: int = REFERENCE_ROWS, key=None, docker: bool = False) -> Package:
    """Write ``result`` (a ``TrainResult``) as a safe, self-contained package in folder ``path``.

    The pipeline goes to skops (no pickle), a torch network to ``state_dict`` + layer spec;
    ``card.json`` describes it, ``manifest.json`` hashes every file. With ``key`` (or
    ``$NBML_SIGNING_KEY``) the manifest is signed (``signature.json``, HMAC-SHA256), and
    ``nbml.load(path, key=...)`` refuses the package unless it still carries that signature.
    ``docker=True`` also writes a ``Dockerfile``, a pinned ``requirements.txt`` and nbml's
    wheel, so that ``docker build`` on the folder makes an image running ``python -m nbml
    serve`` on it (``nbml.deployment.container``).
    Returns the :class:`Package` (``nbml.load(path)`` reads it back).
    """
    from nbml.training import TrainResult

    if not isinstance(result, (TrainResult, Package)):
        raise TypeError(f"result must be a TrainResult (from nbml.train / %%train -o NAME); got {type(result).__name__}")
    path = _check_path(path)
    if isinstance(reference_rows, bool) or not isinstance(reference_rows, (int, np.integer)) or reference_rows < 0:
        raise NbmlError(f"reference_rows={reference_rows!r} must be a non-negative integer (0: keep no sample)")
    secret = signing.resolve_key(key)
    _check_target(path, overwrite)
    if not isinstance(docker, bool):
        raise NbmlError(f"docker={docker!r} must be True or False")
    package = Package.from_result(result, name=name, reference_rows=reference_rows)
    files = package_files(package)
    if docker:
        from nbml.deployment.container import container_files

        files.update(container_files(package))
    manifest = json.dumps({"format": FORMAT, "sha256": {f: hashlib.sha256(files[f]).hexdigest() for f in sorted(files)}},
                          indent=1).encode()
    files[MANIFEST_FILE] = manifest
    if secret is not None:
        files[SIGNATURE_FILE] = signing.signature_file(manifest, secret)
    write_folder(path, files)
    package.path = path
    package.signed = secret is not None
    return package


def package_files(package: Package) -> dict:
    """File name -> bytes of a package, all made in memory (nothing is written yet)."""
    sio = require("skops.io", what="deploying a package")
    model = package.model
    torch_est = _torch_estimator(model)
    nested = _nested_networks(model)
    if nested:
        raise NbmlError(f"the model holds a torch network ({nested[0]}) inside another model; nbml packages hold a "
                        f"torch network only as the pipeline's final model: deploy that model on its own")
    files = {}
    if torch_est is not None:
        from nbml.deployment.network import weights_bytes

        files[ARCH_FILE] = json.dumps(architecture(torch_est.module_), indent=1).encode()
        files[WEIGHTS_FILE] = weights_bytes(torch_est.module_)
        model = _without_network(model, torch_est)
    data = sio.dumps(model)
    refused = _untrusted(sio.get_untrusted_types(data=data))
    if refused:
        raise TypeError(refusal(refused))
    files[MODEL_FILE] = data
    card = dict(package.card)
    card["files"] = sorted(files) + [CARD_FILE] + ([REFERENCE_FILE] if package.reference is not None else [])
    files[CARD_FILE] = json.dumps(card, indent=1, sort_keys=False).encode()
    if package.reference is not None:
        files[REFERENCE_FILE] = package.reference.to_json(orient="split", index=False, date_format="iso").encode()
    return files


def write_folder(path: Path, files: dict) -> None:
    """Write ``files`` as folder ``path``: into a temporary folder beside it, then moved into
    place (an existing package is replaced only once the new one is complete). On failure,
    nothing is left behind, folders this call created included."""
    path = Path(os.path.abspath(path))
    created = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
    partial = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.partial"
    old = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.replaced"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.mkdir()
        for file, data in files.items():
            with open(partial / file, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        if path.exists():
            os.replace(path, old)
            try:
                os.replace(partial, path)
            except OSError:
                os.replace(old, path)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(partial, path)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        for folder in sorted(created, key=lambda p: len(p.parts), reverse=True):
            try:
                folder.rmdir()
            except OSError:
                pass
        raise NbmlError(f"cannot write the package to {str(path)!r}: {exc.strerror or exc}; give a folder you can "
                        f"write to") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


# -- reading --------------------------------------------------------------------------------

def _read_manifest(path: Path) -> tuple:
    file = path / MANIFEST_FILE
    raw = file.read_bytes()
    try:
        manifest = json.loads(raw)
        hashes = dict(manifest["sha256"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise UntrustedPackageError(f"refusing to load {path}: {file} is not an nbml manifest ({type(exc).__name__}: "
                                    f"{exc})") from None
    return raw, manifest, hashes


def verify(path, key=None) -> dict:
    """Check the package's files against its manifest (and, with a key, the manifest against
    its signature); return the manifest. Raises ``UntrustedPackageError`` naming each file
    that does not match."""
    path = _check_path(path)
    secret = signing.resolve_key(key)
    if not path.exists():
        raise NbmlError(f"path={str(path)!r} does not exist")
    if not path.is_dir() or not (path / MANIFEST_FILE).exists():
        raise NbmlError(f"path={str(path)!r} is not an nbml package (no {MANIFEST_FILE}); create one with "
                        f"nbml.deploy(result, path)")
    raw, manifest, hashes = _read_manifest(path)
    if secret is not None:
        sig = path / SIGNATURE_FILE
        signing.check(raw, sig.read_bytes() if sig.is_file() else None, secret, str(path))
    if manifest.get("format") != FORMAT:
        raise UntrustedPackageError(f"refusing to load {path}: format {manifest.get('format')!r} is not {FORMAT!r}")
    if MODEL_FILE not in hashes or CARD_FILE not in hashes:
        raise UntrustedPackageError(f"refusing to load {path}: the manifest does not cover {MODEL_FILE} and "
                                    f"{CARD_FILE}")
    bad = []
    for name, digest in sorted(hashes.items()):
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
            raise UntrustedPackageError(f"refusing to load {path}: the manifest names {name!r}, not a package file")
        file = path / name
        if not file.is_file():
            bad.append(f"{name} (missing)")
        elif _sha256(file) != digest:
            bad.append(f"{name} (changed)")
    if bad:
        raise UntrustedPackageError(f"refusing to load {path}: it was modified after nbml.deploy wrote it: "
                                    f"{', '.join(bad)}")
    return manifest


def load(path, trusted=None, key=None) -> Package:
    """Read a package written by ``deploy``; predictions equal the trained model's.

    Refused with ``UntrustedPackageError`` when a file changed since it was written, when
    the model holds types outside nbml's allow-list (they are listed; pass ``trusted=[names]``
    to accept them if you trust the package's source), or when a key is set (``key=`` or
    ``$NBML_SIGNING_KEY``) and the package does not carry that key's signature.
    """
    sio = require("skops.io", what="loading a package")
    if trusted is not None and (isinstance(trusted, str) or not all(isinstance(t, str) for t in trusted)):
        raise TypeError(f"trusted={trusted!r} must be a list of type names such as ['mypackage.MyScaler']")
    secret = signing.resolve_key(key)
    manifest = verify(path, secret)
    path = _check_path(path)
    card = read_card(path / CARD_FILE)
    data = (path / MODEL_FILE).read_bytes()
    try:
        found = sio.get_untrusted_types(data=data)
    except Exception as exc:  # noqa: BLE001 - any parse failure means: not a package we can read
        raise UntrustedPackageError(f"refusing to load {path}: {MODEL_FILE} is not a valid skops file "
                                    f"({type(exc).__name__}: {exc})") from None
    refused = [t for t in _untrusted(found) if t not in set(trusted or [])]
    if refused:
        raise UntrustedPackageError(f"refusing to load {path}: it contains untrusted types: {', '.join(refused)} "
                                    f"(pass trusted=[...] only if you trust where the package came from)")
    try:
        model = sio.loads(data, trusted=sorted(set(found)))
        check_contents(model)
    except UntrustedPackageError as exc:
        raise UntrustedPackageError(f"refusing to load {path}: {MODEL_FILE} holds a damaged or crafted model: "
                                    f"{exc}") from None
    except Exception as exc:  # noqa: BLE001 - skops could not rebuild it: damaged
        raise UntrustedPackageError(f"refusing to load {path}: {MODEL_FILE} could not be rebuilt "
                                    f"({type(exc).__name__}: {str(exc)[:200]})") from None
    if WEIGHTS_FILE in manifest["sha256"]:
        model = _attach_network(model, path)
    reference = None
    if REFERENCE_FILE in manifest["sha256"]:
        reference = _read_reference(path / REFERENCE_FILE, card["schema"])
    package = Package(model, card, reference, path)
    package.signed = secret is not None  # its signature was checked
    return package


def _attach_network(model, path: Path):
    from nbml.deployment.network import load_network

    est = _torch_estimator_unfitted(model)
    if est is None:
        raise UntrustedPackageError(f"refusing to load {path}: it has {WEIGHTS_FILE} but no nbml torch estimator")
    est.module_ = load_network(path)
    return model


def _torch_estimator_unfitted(model):
    from nbml.training import final_estimator

    est = final_estimator(model)
    return est if type(est).__module__ == "nbml.torch.estimators" else None


def _damaged(file: Path, problem: str) -> UntrustedPackageError:
    return UntrustedPackageError(f"refusing to load {file.parent}: {file} {problem}; deploy the model again")


def read_card(file: Path) -> dict:
    """``card.json``, checked for what serving and drift reports read from it."""
    try:
        card = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _damaged(file, "is not UTF-8 text") from None
    except ValueError as exc:
        raise _damaged(file, f"is not valid JSON ({getattr(exc, 'msg', exc)} at line {getattr(exc, 'lineno', '?')} "
                             f"column {getattr(exc, 'colno', '?')})") from None
    if not isinstance(card, dict):
        raise _damaged(file, "is not a JSON object")
    if not isinstance(card.get("task"), str):
        raise _damaged(file, "has no 'task'")
    schema = card.get("schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("columns"), list) or not schema["columns"]:
        raise _damaged(file, "has no 'schema' with the training columns")
    for i, col in enumerate(schema["columns"]):
        problem = _column_problem(col)
        if problem:
            raise _damaged(file, f"has a bad schema column {i}: {problem}")
    names = [c["name"] for c in schema["columns"]]
    if len(set(names)) != len(names):
        raise _damaged(file, "names a schema column twice")
    for key, kind in (("name", str), ("metrics", dict), ("classes", list)):
        if card.get(key) is not None and not isinstance(card[key], kind):
            raise _damaged(file, f"has a '{key}' that is not a {kind.__name__}")
    return card


def _column_problem(col) -> str | None:
    if not isinstance(col, dict) or not isinstance(col.get("name"), str) or not isinstance(col.get("dtype"), str):
        return "it needs a 'name' and a 'dtype'"
    if col.get("kind") not in COLUMN_KINDS:
        return f"kind {col.get('kind')!r} is not one of {', '.join(COLUMN_KINDS)}"
    number = (int, float)
    if col["kind"] == "numeric":
        for key in ("min", "max", "mean", "std"):
            if col.get(key) is not None and (isinstance(col[key], bool) or not isinstance(col[key], number)):
                return f"{key!r} is not a number"
    if col["kind"] == "datetime":
        for key in ("min", "max"):
            if col.get(key) is not None:
                try:
                    pd.Timestamp(col[key])
                except (TypeError, ValueError):
                    return f"{key!r} is not a date"
    if col["kind"] == "categorical" and not all(isinstance(c, str) for c in col.get("categories", [])):
        return "'categories' are not strings"
    if not isinstance(col.get("missing", 0), int):
        return "'missing' is not a count"
    return None


def _read_reference(file: Path, schema: dict) -> pd.DataFrame:
    from io import StringIO

    try:
        frame = pd.read_json(StringIO(file.read_text(encoding="utf-8")), orient="split", dtype=False)
    except (ValueError, UnicodeDecodeError, TypeError) as exc:
        raise _damaged(file, f"is not a table of training rows ({type(exc).__name__})") from None
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
