"""Search methods as strategies: one small class per method, each with ``run(search)`` over
the search's ``evaluate(candidates)`` (scikit-learn's ``BaseSearchCV._run_search``). Adding a
method is one file here and one line in ``METHODS``."""
from __future__ import annotations

import json

from nbml.tuning.methods.base import Method, key
from nbml.tuning.methods.bayes import Bayes
from nbml.tuning.methods.grid import Grid
from nbml.tuning.methods.halving import Halving
from nbml.tuning.methods.random import Random, random_candidates

METHODS = {"grid": Grid, "random": Random, "bayes": Bayes, "halving": Halving}

__all__ = ["METHODS", "Method", "Bayes", "Grid", "Halving", "Random", "key", "random_candidates", "json"]
