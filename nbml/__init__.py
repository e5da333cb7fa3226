"""nbml: train, tune, evaluate and deploy models inline in Jupyter.

``%load_ext nbml`` registers the magics. Every magic is a thin adapter over a plain
function importable from here (``nbml.split``, ``nbml.train``, ...), usable in scripts.

Public names are imported lazily so that ``import nbml`` and ``%load_ext nbml`` stay fast
and never pull in torch or optuna.
"""
from importlib import import_module

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access)
_LAZY = {
    "split": "nbml.data",
    "Split": "nbml.data",
    "active_split": "nbml.data",
    "train": "nbml.training",
    "TrainResult": "nbml.training",
    "compare": "nbml.training",
    "evaluate": "nbml.evaluation",
    "Evaluation": "nbml.evaluation",
    "TorchClassifier": "nbml.torch.estimators",
    "TorchRegressor": "nbml.torch.estimators",
    "mlp": "nbml.torch.mlp",
    "lr_find": "nbml.torch.lr_find",
    "tune": "nbml.tuning",
    "TuneResult": "nbml.tuning",
    "runs": "nbml.store",
    "coreset": "nbml.coresets",
    "Coreset": "nbml.coresets",
    "CoresetTree": "nbml.coresets",
    "ensemble": "nbml.ensembling",
    "standard_model": "nbml.standard",
    "models": "nbml.standard",
    "eda": "nbml.eda_report",
    "panel": "nbml.widgets",
    "explore": "nbml.widgets",
    "deploy": "nbml.deployment",
    "load": "nbml.deployment",
    "serve": "nbml.deployment",
    "drift": "nbml.deployment",
    "Monitor": "nbml.deployment",
    "prediction_log": "nbml.deployment",
    "EdaReport": "nbml.eda_report",
    "label_issues": "nbml.labels",
    "LabelIssues": "nbml.labels",
    "NbmlError": "nbml.errors",
    "prepare": "nbml.recipe",
    "Recipe": "nbml.recipe",
    "calibrate": "nbml.calibration",
    "finalize": "nbml.finalizing",
    "explain": "nbml.explaining",
    "fairness": "nbml.fairness_report",
    "add_metric": "nbml.metrics",
    "remove_metric": "nbml.metrics",
    "threshold": "nbml.thresholding",
    "automl": "nbml.auto",
    "AutoMLResult": "nbml.auto",
}
# subpackages/modules reachable as attributes: nbml.scratch, nbml.space, nbml.check, ...
_SUBMODULES = {"folds", "scratch", "space", "check", "metrics", "preprocess", "plots", "widgets", "errors"}

__all__ = sorted(_LAZY) + ["load_ipython_extension", "unload_ipython_extension"]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return import_module(f"nbml.{name}")
    raise AttributeError(f"module 'nbml' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


def load_ipython_extension(ipython):
    """Called by ``%load_ext nbml``: registers every nbml magic."""
    from nbml.magics import register

    register(ipython)


def unload_ipython_extension(ipython):
    """Called by ``%unload_ext nbml``: removes every nbml magic."""
    from nbml.magics import unregister

    unregister(ipython)
