"""Hyperparameter search: ``tune()`` and ``TuneResult`` (see ``nbml.tuning.search``)."""
from nbml.tuning.search import METHODS, TuneResult, evaluate_config, tune

__all__ = ["METHODS", "TuneResult", "evaluate_config", "tune"]
