"""Deployment: safe packages (``deploy``/``load``), an HTTP service (``serve``), a
prediction log, and drift reports and monitors (``drift``/``Monitor``).

Modules are named apart from the functions (``service.serve``, ``monitoring.drift``) so that
importing a submodule never replaces a function of this package. fastapi, uvicorn and
skops (the ``serve`` extra) are imported only when used.
"""
from nbml.deployment.package import Package, UntrustedPackageError, deploy, load

_LAZY = {"serve": "nbml.deployment.service", "ServiceHandle": "nbml.deployment.service",
         "drift": "nbml.deployment.monitoring", "Monitor": "nbml.deployment.monitoring",
         "DriftReport": "nbml.deployment.monitoring", "THRESHOLDS": "nbml.deployment.monitoring",
         "prediction_log": "nbml.deployment.log", "LOG_SETTINGS": "nbml.deployment.log"}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nbml.deployment' has no attribute {name!r}")


__all__ = [
    "LOG_SETTINGS",
    "THRESHOLDS",
    "DriftReport",
    "Monitor",
    "Package",
    "UntrustedPackageError",
    "deploy",
    "drift",
    "load",
    "prediction_log",
    "serve",
]
