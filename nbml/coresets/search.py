"""Hyperparameter search on a coreset with weighted CV: weighted fits *and* weighted scores.

A coreset only stands for the full data when its weights are used everywhere: in every fold's
``fit`` and in the validation score of every fold. scikit-learn's metadata routing does both;
``weighted_search`` switches it on for the duration of the search.
"""
from __future__ import annotations

from nbml.coresets.base import sample_weight_keys
from nbml.errors import NbmlError


def _request_weights(estimator):
    """Ask every step that can take ``sample_weight`` for it (pipelines included)."""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and hasattr(estimator, "named_steps"):
        for _, step in steps:
            if step is not None and not isinstance(step, str):
                _request_weights(step)
        return
    if sample_weight_keys(estimator) and hasattr(estimator, "set_fit_request"):
        estimator.set_fit_request(sample_weight=True)
    if hasattr(estimator, "set_score_request"):
        estimator.set_score_request(sample_weight=False)


def weighted_search(search, coreset):
    """Fit a scikit-learn search (GridSearchCV, RandomizedSearchCV, ...) on ``coreset``.

    ``search`` is left untouched; a fitted clone is returned. Its scoring must be a single
    metric (a name or a scorer). Fold fits get ``sample_weight`` and fold scores are weighted.
    """
    import sklearn
    from sklearn.base import clone, is_classifier
    from sklearn.metrics import get_scorer

    if not sample_weight_keys(search.estimator):
        raise NbmlError(f"estimator {type(search.estimator).__name__} does not accept "
                         f"sample_weight, so a weighted search is impossible; build the "
                         f"coreset with method=\"uniform\" and search it without weights")
    scoring = search.scoring
    if scoring is None:
        scoring = "accuracy" if is_classifier(search.estimator) else "r2"
    if isinstance(scoring, str):
        scoring = get_scorer(scoring)
    if not hasattr(scoring, "set_score_request"):
        raise NbmlError(f"scoring={search.scoring!r}: use one metric name or a scorer from "
                         f"sklearn.metrics.make_scorer so that it can be weighted")
    with sklearn.config_context(enable_metadata_routing=True):
        search = clone(search)
        estimator = clone(search.estimator)
        _request_weights(estimator)
        search.set_params(estimator=estimator,
                          scoring=scoring.set_score_request(sample_weight=True))
        args = (coreset.X,) if coreset.y is None else (coreset.X, coreset.y)
        search.fit(*args, sample_weight=coreset.weights)
    return search
