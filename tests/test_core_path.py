"""The one core path (issue 14): ``nbml.prepare`` makes every route's recipe, the fold engine fits
and scores it, results say which rows their model saw, methods are strategies, and Optuna's own
sampler and pruner objects are taken where a name is."""
import dataclasses

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import RobustScaler
from sklearn.tree import DecisionTreeClassifier

import nbml
from nbml.errors import NbmlError


@pytest.fixture
def cancer_split(cancer, store):
    return nbml.split(cancer, target="target", seed=0, scale="robust")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("NBML_STORE", str(tmp_path / "nbml.db"))
    return tmp_path


def steps_of(pipeline):
    return [type(t).__name__ for t in pipeline.named_steps["preprocess"].transformers[0][1].named_steps.values()]


def test_prepare_gives_a_keyword_only_recipe_with_the_splits_choices(cancer_split):
    recipe = nbml.prepare(LogisticRegression(max_iter=1000))
    assert isinstance(recipe, nbml.Recipe)
    assert recipe.split is cancer_split and recipe.seed == 0 and recipe.name == "LogisticRegression"
    assert recipe.options.scale == "robust" and "RobustScaler" in steps_of(recipe.pipeline)
    assert nbml.prepare(LogisticRegression(), scale="minmax").options.scale == "minmax"
    with pytest.raises(TypeError):
        nbml.Recipe(recipe.pipeline, recipe.split, 0)  # keyword-only
    with pytest.raises(TypeError, match="unknown option"):
        nbml.prepare(LogisticRegression(), scaling="robust")


def test_a_result_and_a_tuned_result_give_back_their_own_recipe(cancer_split):
    trained = nbml.train(LogisticRegression(max_iter=1000), cv=3)
    assert nbml.prepare(trained) is trained.recipe
    with pytest.raises(NbmlError, match="keeps its own preprocessing"):
        nbml.prepare(trained, scale="minmax")
    tuned = nbml.tune(trained, {"C": [0.1, 1.0]}, method="grid", live=False)
    recipe = nbml.prepare(tuned)
    assert recipe.pipeline.get_params()["model__C"] == tuned.best_params["C"]
    assert isinstance(recipe.pipeline.named_steps["preprocess"].transformers[0][1][-1], RobustScaler)


def test_the_fold_engine_matches_train(cancer_split):
    recipe = nbml.prepare(LogisticRegression(max_iter=1000))
    scores = nbml.folds.score(recipe, 5)
    trained = nbml.train(LogisticRegression(max_iter=1000), cv=5)
    assert scores.mean() == trained.metrics
    assert len(scores.table) == 5 and scores.predictions.label == "out-of-fold"
    holdout = nbml.folds.score(recipe)
    assert holdout.predictions.label == "validation" and len(holdout.predictions.y_pred) == len(cancer_split.X_val)


def test_every_result_says_which_rows_its_model_saw(cancer_split):
    trained = nbml.train(LogisticRegression(max_iter=1000), cv=3)
    assert trained.fitted_on == "train" and trained.held_out_parts() == ("val", "test")
    assert "model fit on the training rows; validation and test rows never seen by it" in repr(trained)
    tuned = nbml.tune(trained, {"C": [0.1, 1.0]}, method="grid", live=False)
    assert tuned.best.fitted_on == "train"
    # the same hyperparameters give the same model on both routes (one stated rule)
    again = nbml.train(LogisticRegression(max_iter=1000, C=tuned.best_params["C"]), cv=3)
    X = cancer_split.X_test
    assert np.array_equal(tuned.best.model.predict_proba(X), again.model.predict_proba(X))


def test_evaluate_refuses_a_part_the_model_was_fit_on(cancer_split):
    trained = nbml.train(LogisticRegression(max_iter=1000))
    seen_val = dataclasses.replace(trained, fitted_on="train+val")
    with pytest.raises(NbmlError, match=r"validation rows included.*use on='test'") as error:
        nbml.evaluate(seen_val, on="val")
    assert "\n" not in str(error.value)
    assert nbml.evaluate(seen_val, on="test").n_rows == len(cancer_split.X_test)
    every_row = dataclasses.replace(trained, fitted_on="all")
    with pytest.raises(NbmlError, match="held-out scores are the ones measured before"):
        nbml.evaluate(every_row, on="test")


def test_evaluate_magic_refuses_in_one_line(cancer_split, ip, run):
    ip.user_ns["seen"] = dataclasses.replace(nbml.train(LogisticRegression(max_iter=1000)), fitted_on="train+val")
    cell = run("%evaluate seen --on val")
    assert cell.error is not None and "would not be held out" in str(cell.error)
    assert len(str(cell.error).splitlines()) == 1


def test_a_search_method_is_one_small_class(cancer_split):
    from nbml.tuning.methods import METHODS, Method

    class FirstTwo(Method):
        """Evaluates the first two values of each list, in order."""

        name = "first_two"

        def run(self, search):
            search.evaluate([({k: d.values[i] for k, d in self.dims.items()}, {}) for i in range(2)])

    METHODS["first_two"] = FirstTwo
    try:
        result = nbml.tune(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3]}, method="first_two",
                           live=False)
    finally:
        del METHODS["first_two"]
    assert sorted(result.trials["max_depth"]) == [1, 2]


def test_optuna_sampler_and_pruner_objects_are_taken_where_a_name_is(cancer_split):
    import optuna

    space = {"max_depth": nbml.space.randint(1, 8)}
    by_object = nbml.tune(DecisionTreeClassifier(random_state=0), space, method="bayes", trials=6, cv=3,
                          sampler=optuna.samplers.RandomSampler(seed=3), prune=optuna.pruners.NopPruner(),
                          live=False)
    by_name = nbml.tune(DecisionTreeClassifier(random_state=0), space, method="bayes", trials=6, cv=3,
                        sampler="random", search_seed=3, live=False)
    assert list(by_object.trials.sort_index()["max_depth"]) == list(by_name.trials.sort_index()["max_depth"])
    assert isinstance(by_object.optuna_study.pruner, optuna.pruners.NopPruner)
    with pytest.raises(NbmlError, match="sampler="):
        nbml.tune(DecisionTreeClassifier(), space, method="bayes", sampler=object(), live=False)


def test_tune_scores_the_untuned_model_itself_unless_told_not_to(cancer_split):
    result = nbml.tune(DecisionTreeClassifier(random_state=0), {"max_depth": [2, 3]}, method="grid", live=False,
                       untuned=False)
    def table_shown(r):
        return any(line.split() == ["untuned", "tuned"] for line in repr(r).splitlines())

    assert result.untuned == {} and not table_shown(result)
    scored = nbml.tune(DecisionTreeClassifier(random_state=0), {"max_depth": [2, 3]}, method="grid", live=False)
    assert set(scored.untuned) >= {"accuracy"} and table_shown(scored)


def test_features_of_a_cv_result_says_it_fits_the_model(cancer_split):
    trained = nbml.train(LogisticRegression(max_iter=1000), cv=3, select="variance:0.0")
    with pytest.warns(UserWarning, match="fitting LogisticRegression on the .* training rows to list its features"):
        assert trained.features is not None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert trained.features is not None  # fit once: the second look is free and silent


def test_a_cell_without_a_model_says_model(ip, run, cancer):
    ip.user_ns["cancer"] = cancer
    run("%split cancer --target target --seed 0")
    cell = run("%%train\nx = 1")
    assert "the cell must end with an expression that is the model" in str(cell.error)


def test_tuning_that_ends_worse_than_untuned_says_so(cancer_split):
    """A search over worse settings only ends below the untuned model, and says so in words (issue 16)."""
    result = nbml.tune(LogisticRegression(max_iter=1000), {"C": [1e-4, 1e-3]}, method="grid", cv=3, live=False)
    assert result.best_score < result.untuned["accuracy"]
    assert "The tuned model is worse than the untuned one (accuracy" in repr(result)
    assert "worse than the untuned one" in result._repr_html_()


def test_halving_trials_is_the_number_of_fits_and_the_bar_counts_them(cancer_split):
    """--method halving --trials 8 ran 11 fits under a bar reading '0trial' (issue 16)."""
    seen = []

    class Totals:
        def on_start(self, search, total):
            seen.append(total)

    result = nbml.tune(DecisionTreeClassifier(random_state=0), {"max_depth": nbml.space.randint(1, 10)},
                       method="halving", trials=8, callbacks=[Totals()], live=False)
    assert len(result.trials) <= 8 and seen == [len(result.trials)]


def test_untuned_beside_tuned_for_a_scorer_name(cancer_split):
    base = nbml.train(LogisticRegression(max_iter=1000), cv=3)
    result = nbml.tune(base, {"C": [0.1, 1.0]}, method="grid", metric="f1_macro", live=False)
    table = result.comparison()
    assert "f1_macro" in table.index and table.loc["f1_macro"].notna().all()


SLOW = '''
import time
from sklearn.linear_model import LogisticRegression

class Slow(LogisticRegression):
    def fit(self, X, y):
        time.sleep(0.3)
        return super().fit(X, y)
'''


def test_slow_cross_validation_shows_one_progress_bar(cancer_split, ip, run, monkeypatch):
    """Work that takes a while shows one progress bar with an estimate; quick work shows none (issue 16)."""
    import nbml.folds

    run(SLOW)
    quick = run("%%train --cv 3\nLogisticRegression(max_iter=1000)")
    assert "folds" not in quick.err
    monkeypatch.setattr(nbml.folds, "PROGRESS_AFTER", 0.2)  # "a while", made short for the test
    slow = run("%%train --cv 3 -o slow\nSlow(max_iter=1000)")
    assert slow.error is None and "fitting Slow: 3 folds" in slow.err
    assert "fit/s" in slow.err or "s/fit" in slow.err  # tqdm's rate: what the estimate comes from
