"""``deploy(..., docker=True)``: a package that is also a container's build context.

Three files join the package (and its manifest, so they are hash-checked like the rest):

- ``Dockerfile``: ``python:X.Y-slim`` (this Python's version), the requirements, nbml, the
  package copied to ``/srv/model``, and ``CMD python -m nbml serve /srv/model --host 0.0.0.0``;
- ``requirements.txt``: ``name==version`` of every distribution serving needs, as installed
  now — nbml's serving stack (scikit-learn, pandas, skops, fastapi, uvicorn, SQLAlchemy for the
  prediction log) and the libraries the model's own objects come from (torch, lightgbm, …),
  with everything they require, transitively;
- ``nbml-VERSION-py3-none-any.whl``: the nbml that wrote the package, as a wheel (nbml is
  installed from it, so the image serves with the same code that was tested).

``docker build -t NAME PATH && docker run -p 8000:8000 NAME`` then serves it.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import sys
import zipfile
from pathlib import Path

DOCKERFILE = "Dockerfile"
REQUIREMENTS = "requirements.txt"
MODEL_DIR = "/srv/model"  # where the image holds the package
PORT = 8000
# what ``python -m nbml serve`` imports, whatever the model
SERVING = ("numpy", "pandas", "scipy", "scikit-learn", "joblib", "threadpoolctl", "skops", "fastapi", "uvicorn",
           "SQLAlchemy")


def container_files(package) -> dict:
    """File name -> bytes: the Dockerfile, the pinned requirements and nbml's wheel."""
    wheel_name, wheel = nbml_wheel()
    pins = pinned(SERVING + tuple(model_libraries(package.model)))
    return {DOCKERFILE: dockerfile(package.name, wheel_name).encode(), REQUIREMENTS: requirements_text(pins).encode(),
            wheel_name: wheel}


def server_command(port: int = PORT) -> list:
    """The service's command line in the image (the Dockerfile's CMD)."""
    return ["python", "-m", "nbml", "serve", MODEL_DIR, "--host", "0.0.0.0", "--port", str(port)]


def dockerfile(name: str, wheel_name: str) -> str:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return "\n".join([
        f"# The nbml package {name!r} as a service: docker build -t IMAGE . && docker run -p {PORT}:{PORT} IMAGE",
        f"FROM python:{python}-slim",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 NBML_STORE=/srv/log/nbml.db",
        "WORKDIR /srv",
        f"COPY {REQUIREMENTS} {wheel_name} /srv/",
        f"RUN pip install --no-cache-dir -r {REQUIREMENTS} && pip install --no-cache-dir --no-deps /srv/{wheel_name}",
        f"COPY . {MODEL_DIR}",
        f"EXPOSE {PORT}",
        "# requests must name a localhost Host; add \"--allowed-hosts\", \"models.example.com\" for other names",
        f"CMD {json.dumps(server_command())}",
        "",
    ])


def requirements_text(pins: dict) -> str:
    lines = ["# pinned by nbml.deploy(..., docker=True): the versions installed when the package was written"]
    local = {name: v.split("+", 1)[1] for name, v in pins.items() if name == "torch" and "+" in v}
    if local:  # a local torch build (2.3.0+cpu) comes from PyTorch's own index
        lines.append(f"--extra-index-url https://download.pytorch.org/whl/{local['torch']}")
    return "\n".join(lines + [f"{name}=={version}" for name, version in sorted(pins.items(), key=lambda p: p[0].lower())]) + "\n"


# -- what to pin ---------------------------------------------------------------------------

def model_libraries(model) -> list:
    """Distributions the model's objects come from (nbml and the standard library aside);
    a torch estimator also needs torch, which rebuilds its network."""
    objects = list(_objects(model))
    tops = {type(obj).__module__.split(".")[0] for obj in objects} - set(sys.stdlib_module_names) - {"nbml", "builtins"}
    found = {dist for top in tops for dist in _distributions(top)}
    if any(type(obj).__module__ == "nbml.torch.estimators" for obj in objects):
        found.add("torch")
    return sorted(found)


def _distributions(module: str) -> list:
    """The distributions that install top-level ``module`` (looked up by name first: scanning
    every installed distribution takes a second)."""
    from importlib.metadata import PackageNotFoundError, distribution, packages_distributions

    name = {"sklearn": "scikit-learn"}.get(module, module)
    try:
        distribution(name)
        return [name]
    except PackageNotFoundError:
        return packages_distributions().get(module, [])


def _objects(model):
    """Every object reachable from ``model`` through attributes, lists and dicts."""
    import numpy as np

    seen, stack = set(), [model]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, (str, bytes, int, float, bool, type, np.ndarray)):
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif hasattr(obj, "__dict__") and hasattr(obj, "get_params"):
            stack.extend(vars(obj).values())


def pinned(names) -> dict:
    """Distribution name -> installed version of ``names`` and, transitively, what they
    require in this environment (extras not asked for are left out)."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    pins, todo = {}, list(names)
    while todo:
        try:
            dist = distribution(todo.pop())
        except PackageNotFoundError:  # an optional dependency that is not installed
            continue
        name = dist.metadata["Name"]
        if _key(name) in {_key(n) for n in pins}:
            continue
        pins[name] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return pins


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# -- nbml as a wheel -----------------------------------------------------------------------

def nbml_wheel() -> tuple:
    """(file name, bytes) of a wheel of the running nbml: its package files, metadata and RECORD."""
    import nbml

    version = nbml.__version__
    root = Path(nbml.__file__).resolve().parent
    info = f"nbml-{version}.dist-info"
    files = {f"nbml/{p.relative_to(root).as_posix()}": p.read_bytes() for p in sorted(root.rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: nbml\nVersion: {version}\n".encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: nbml\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16  # rw-r--r--
            wheel.writestr(entry, data, zipfile.ZIP_DEFLATED)
    return f"nbml-{version}-py3-none-any.whl", buffer.getvalue()


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
