"""The optional libraries deployment needs, and the one line that says how to install them."""
from __future__ import annotations

from importlib import import_module

from nbml.errors import NbmlError

# extra -> what needs it (the README lists the same)
EXTRAS = {
    "serve": "deploying, loading and serving packages (skops, fastapi, uvicorn, httpx)",
    "torch": "torch networks (torch)",
}


def require(module: str, extra: str = "serve", what: str | None = None):
    """``import module``, or an ``NbmlError`` naming the extra to install."""
    try:
        return import_module(module)
    except ImportError as exc:
        missing = (exc.name or module).split(".")[0]
        task = what or EXTRAS.get(extra, extra)
        raise NbmlError(f"{task} needs {missing}, which is not installed: pip install 'nbml[{extra}]'") from None
