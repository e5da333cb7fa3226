"""Torch training for nbml: ``mlp``, ``TorchClassifier``/``TorchRegressor``, ``lr_find`` and
training callbacks. torch itself is imported only when a model is built or trained."""
from importlib import import_module

_LAZY = {
    "mlp": "nbml.torch.mlp",
    "MLPSpec": "nbml.torch.mlp",
    "TorchClassifier": "nbml.torch.estimators",
    "TorchRegressor": "nbml.torch.estimators",
    "from_module": "nbml.torch.estimators",
    "Trainer": "nbml.torch.trainer",
    "NaNLossError": "nbml.torch.trainer",
    "TrainingInterrupted": "nbml.torch.trainer",
    "lr_find": "nbml.torch.lr_find",
    "LRFinderResult": "nbml.torch.lr_find",
    "TextProgress": "nbml.torch.callbacks",
    "LiveLossPlot": "nbml.torch.callbacks",
    "OptunaPruning": "nbml.torch.callbacks",
}
__all__ = [
    "LRFinderResult", "LiveLossPlot", "MLPSpec", "NaNLossError", "OptunaPruning", "TextProgress",
    "TorchClassifier", "TorchRegressor", "Trainer", "TrainingInterrupted", "from_module", "lr_find",
    "mlp",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nbml.torch' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
