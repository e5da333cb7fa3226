"""Pruning per iteration: SGD-based models, MLP, gradient boosting, AdaBoost and
HistGradientBoosting report their held-out score as they train, and Optuna's pruners stop
hopeless trials; a trial that is not pruned scores exactly what a plain fit scores."""
from __future__ import annotations

import math

import pytest
from sklearn.ensemble import (
    AdaBoostClassifier,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
)
from sklearn.linear_model import LogisticRegression, SGDClassifier, SGDRegressor
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import nbml
from nbml.space import loguniform
from nbml.tuning.pruning import budgets, iteration_mode

FOLDS = 3


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("NBML_STORE", str(tmp_path / "nbml.db"))


@pytest.fixture
def cancer_split(cancer):
    yield nbml.split(cancer, target="target", seed=0)
    nbml.data.set_active(None)


# each space spans good and clearly bad configurations (a learning rate near 0, a huge penalty)
MODELS = [
    (SGDClassifier(random_state=0), {"alpha": loguniform(1e-5, 30.0)}, "max_iter"),
    (MLPClassifier(hidden_layer_sizes=(16,), max_iter=40, random_state=0),
     {"learning_rate_init": loguniform(1e-6, 1e-1)}, "max_iter"),
    (GradientBoostingClassifier(n_estimators=40, random_state=0), {"learning_rate": loguniform(1e-5, 1.0)},
     "n_estimators"),
    (AdaBoostClassifier(n_estimators=30, random_state=0), {"learning_rate": loguniform(1e-5, 1.0)},
     "n_estimators"),
    (HistGradientBoostingClassifier(max_iter=40, random_state=0), {"learning_rate": loguniform(1e-5, 1.0)},
     "max_iter"),
]


@pytest.mark.parametrize("model, space, size", MODELS, ids=[type(m).__name__ for m, _, _ in MODELS])
def test_iterative_models_report_per_iteration_and_get_pruned(store, cancer_split, model, space, size):
    import optuna

    result = nbml.tune(model, space, method="bayes", trials=12, cv=FOLDS, prune="hyperband", seed=0, live=False)
    steps = [len(t.intermediate_values) for t in result.optuna_study.trials]
    # per fold there would be at most FOLDS - 1 intermediate scores
    assert max(steps) > FOLDS, steps
    assert result.n_pruned >= 1
    pruned = result.trials[result.trials["state"] == "pruned"]
    assert len(pruned) == sum(t.state == optuna.trial.TrialState.PRUNED for t in result.optuna_study.trials)
    assert pruned["score"].notna().all()  # the last intermediate score
    full = model.get_params()[size]
    # a pruned trial stopped before training its first fold in full (AdaBoost has no hook
    # into its fit: it is fit once, then its staged predictions spare the other folds)
    if not isinstance(model, AdaBoostClassifier):
        assert (pruned["iterations"] < full).any(), pruned["iterations"]
    assert result.best_params and math.isfinite(result.best_score)

    # a trial that ran to the end scored what the same configuration scores without pruning
    complete = result.trials[result.trials["state"] == "complete"]
    best = complete.iloc[0]
    plain = nbml.tune(model, {k: [best[k]] for k in space}, method="grid", cv=FOLDS, seed=0, live=False)
    assert best["score"] == plain.best_score
    assert "iterations" not in plain.trials  # without pruning nothing is trained stepwise
    assert result.best.metrics["accuracy"] == pytest.approx(result.best_metrics["accuracy"], abs=1e-12)


def test_regression_minimizes_and_prunes_on_the_validation_split(store, diabetes):
    nbml.split(diabetes, target="target", seed=0)
    try:
        for model, space in [(SGDRegressor(random_state=0), {"alpha": loguniform(1e-5, 100.0)}),
                             (GradientBoostingRegressor(n_estimators=30, random_state=0),
                              {"learning_rate": loguniform(1e-5, 1.0)})]:
            result = nbml.tune(model, space, method="bayes", trials=10, metric="mse", prune="median", seed=0,
                               live=False)
            steps = [len(t.intermediate_values) for t in result.optuna_study.trials]
            assert max(steps) > 1 and result.n_pruned >= 1, (type(model).__name__, steps)
            assert result.best_score == result.trials.loc[result.trials["state"] == "complete", "score"].min()
    finally:
        nbml.data.set_active(None)


def test_pipelines_and_preprocessing_keep_per_iteration_reports(store, cancer_split):
    # a user's pipeline: the tuned model sits two levels deep, its held-out rows are scaled first
    model = make_pipeline(StandardScaler(), GradientBoostingClassifier(n_estimators=20, random_state=0))
    result = nbml.tune(model, {"learning_rate": loguniform(1e-5, 1.0)}, method="bayes", trials=8, prune="median",
                       seed=0, live=False)
    steps = [len(t.intermediate_values) for t in result.optuna_study.trials]
    assert max(steps) == 10  # every 2 of 20 stages
    complete = result.trials[result.trials["state"] == "complete"].iloc[0]
    plain = nbml.tune(model, {"learning_rate": [complete["learning_rate"]]}, method="grid", seed=0, live=False)
    assert complete["score"] == plain.best_score


def test_which_models_report_per_iteration():
    assert iteration_mode(GradientBoostingClassifier(), "classification") == ("monitor", "monitor")
    assert iteration_mode(AdaBoostClassifier(), "classification") == ("staged", "n_estimators")
    for model in (SGDClassifier(), MLPClassifier(), HistGradientBoostingClassifier()):
        assert iteration_mode(model, "classification") == ("budget", "max_iter")
    # lbfgs iterations are not a resource to prune on; other models report per fold
    assert iteration_mode(LogisticRegression(), "classification") is None
    assert budgets(100) == [1, 3, 9, 27, 100] and budgets(1) == [1] and budgets(3) == [1, 3]
    assert budgets(81) == [1, 3, 9, 27, 81]
