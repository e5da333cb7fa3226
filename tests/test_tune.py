"""nbml.tune: grid, random, Bayesian and halving search, pruning, failures, interrupts, resume."""
from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier

import nbml
from nbml.space import loguniform, randint


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "nbml.db"
    monkeypatch.setenv("NBML_STORE", str(path))
    return path


@pytest.fixture
def cancer_split(cancer):
    yield nbml.split(cancer, target="target", seed=0)
    nbml.data.set_active(None)


def test_grid_matches_gridsearchcv_on_the_same_folds(store, cancer_split):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    base = nbml.train(LogisticRegression(max_iter=500), cv=4)
    result = nbml.tune(base, {"C": [0.003, 0.03, 0.3, 3.0]}, method="grid")
    folds = StratifiedKFold(4, shuffle=True, random_state=0)
    ref = GridSearchCV(base._pipeline, {"model__C": [0.003, 0.03, 0.3, 3.0]}, cv=folds, scoring="accuracy")
    ref.fit(cancer_split.X_trainval, cancer_split.y_trainval)
    assert result.best_params == {"C": ref.best_params_["model__C"]}
    assert result.best_score == pytest.approx(ref.best_score_, abs=1e-12)
    assert len(result.trials) == 4 and result.cv == 4
    scores = result.trials["score"].to_numpy()
    assert (np.diff(scores) <= 0).all()  # best first
    means = dict(zip(ref.cv_results_["param_model__C"], ref.cv_results_["mean_test_score"]))
    for c, score in zip(result.trials["C"], result.trials["score"]):
        assert score == pytest.approx(means[c], abs=1e-12)
    # the best configuration refit, and the untuned model's CV metrics (same folds) beside it
    assert isinstance(result.best, nbml.TrainResult) and result.best.params["C"] == result.best_params["C"]
    assert result.best.metrics["accuracy"] == pytest.approx(result.best_score)
    assert result.untuned == base.metrics
    assert list(result.comparison().columns) == ["untuned", "tuned"]
    assert len(result.best.model.predict(cancer_split.X_test)) == len(cancer_split.X_test)
    assert "best parameters: C=" in repr(result) and "untuned" in result._repr_html_()


def test_random_search_is_seeded(store, cancer_split):
    space = {"C": loguniform(1e-3, 1e2), "fit_intercept": [True, False]}
    a = nbml.tune(LogisticRegression(max_iter=300), space, method="random", trials=5, seed=3)
    b = nbml.tune(LogisticRegression(max_iter=300), space, method="random", trials=5, seed=3)
    c = nbml.tune(LogisticRegression(max_iter=300), space, method="random", trials=5, seed=4)
    assert a.trials.sort_index()["C"].tolist() == b.trials.sort_index()["C"].tolist()
    assert a.trials.sort_index()["C"].tolist() != c.trials.sort_index()["C"].tolist()
    assert a.trials["C"].between(1e-3, 1e2).all()
    assert a.best_score == b.best_score
    # search_seed changes the draws, not the folds: a configuration drawn by both scores the same
    grid = {"max_depth": [1, 2, 3, 4], "min_samples_leaf": [1, 10]}
    x = nbml.tune(DecisionTreeClassifier(), grid, method="random", trials=5, cv=3, search_seed=1)
    y = nbml.tune(DecisionTreeClassifier(), grid, method="random", trials=5, cv=3, search_seed=4)
    key = ["max_depth", "min_samples_leaf"]
    sx, sy = x.trials.set_index(key)["score"], y.trials.set_index(key)["score"]
    common = sx.index.intersection(sy.index)
    assert len(common) >= 2 and set(sx.index) != set(sy.index)
    assert (sx[common] == sy[common]).all()


def test_bayes_is_seeded_and_beats_the_untuned_tree(store, cancer_split):
    space = "max_depth = randint(1, 12)\nmin_samples_leaf = logint(1, 40)\ncriterion = ['gini', 'entropy']"
    a = nbml.tune(DecisionTreeClassifier(), space, method="bayes", trials=12, seed=1)
    b = nbml.tune(DecisionTreeClassifier(), space, method="bayes", trials=12, seed=1)
    assert a.trials.sort_index()["max_depth"].tolist() == b.trials.sort_index()["max_depth"].tolist()
    assert a.best_score >= a.untuned["accuracy"]
    fits = [t for t in a.optuna_study.trials if not t.user_attrs.get("nbml_repeat")]
    assert a.optuna_study is not None and len(fits) == 12
    assert set(a.trials["criterion"]) <= {"gini", "entropy"}


def test_bayes_fits_each_configuration_once_and_searches_number_lists_in_order(store, cancer_split):
    import optuna

    space = {"max_depth": [1, 2, 3, 8], "min_samples_leaf": [1, 50], "criterion": ["gini", "entropy"]}
    result = nbml.tune(DecisionTreeClassifier(), space, method="bayes", trials=40, seed=0)
    # 16 configurations: all fit once, then the search stops; repeats proposed by the sampler
    # were answered from the finished trial (no fit, not in the trials table)
    key = list(space)
    assert len(result.trials) == 16 and not result.trials.duplicated(key).any()
    repeats = [t for t in result.optuna_study.trials if t.user_attrs.get("nbml_repeat")]
    assert repeats and all(t.state == optuna.trial.TrialState.COMPLETE for t in repeats)
    # the user's own values in the table and the best parameters; order-aware distributions
    assert set(result.trials["max_depth"]) == {1, 2, 3, 8} and result.best_params["max_depth"] in (1, 2, 3, 8)
    assert result.trials["max_depth"].map(type).eq(int).all()
    dists = result.optuna_study.trials[0].distributions
    assert isinstance(dists["model__max_depth"], optuna.distributions.IntDistribution)
    assert isinstance(dists["model__criterion"], optuna.distributions.CategoricalDistribution)
    # a resumed study does not fit again what it already has
    again = nbml.tune(DecisionTreeClassifier(), space, method="bayes", trials=5, study=result.study, seed=0)
    assert len(again.trials) == 16
    rates = nbml.tune(LogisticRegression(max_iter=300), {"C": [0.3, 0.01, 3.0]}, method="bayes", trials=3)
    assert sorted(rates.trials["C"]) == [0.01, 0.3, 3.0] and rates.best_params["C"] in (0.01, 0.3, 3.0)


def test_gp_sampler_and_unknown_sampler(store, cancer_split):
    result = nbml.tune(LogisticRegression(max_iter=300), {"C": loguniform(1e-2, 10)}, method="bayes",
                       trials=4, sampler="gp")
    assert len(result.trials) == 4
    with pytest.raises(ValueError, match="sampler='nope'.*tpe, gp, cmaes"):
        nbml.tune(LogisticRegression(), {"C": [1]}, sampler="nope")


def test_halving_gives_more_rows_to_fewer_candidates(store, cancer_split):
    result = nbml.tune(DecisionTreeClassifier(), {"max_depth": randint(1, 10), "min_samples_leaf": randint(1, 30)},
                       method="halving", trials=12, cv=3, seed=0)  # trials: fits of all rounds (issue 16)
    rounds = result.trials.groupby("round").agg(n=("score", "size"), rows=("rows", "first"))
    assert list(rounds["n"]) == [9, 3] and rounds["rows"].iloc[0] < rounds["rows"].iloc[1]
    last = result.trials[result.trials["round"] == rounds.index.max()]
    assert result.best_score == last["score"].max()
    assert result.trials.iloc[0]["round"] == rounds.index.max()


def test_median_pruning_stops_trials_early(store, cancer_split):
    result = nbml.tune(DecisionTreeClassifier(), {"max_depth": randint(1, 8), "min_samples_leaf": logint_(1, 100)},
                       method="bayes", trials=20, cv=4, prune="median", seed=0)
    assert result.n_pruned > 0
    pruned = result.trials[result.trials["state"] == "pruned"]
    assert pruned["score"].notna().all() and result.best_params
    assert "pruned" in repr(result)


def logint_(a, b):
    from nbml.space import logint

    return logint(a, b)


def test_regression_minimizes_lower_is_better_metrics(store, diabetes):
    nbml.split(diabetes, target="target", seed=0)
    try:
        result = nbml.tune(Ridge(), {"alpha": [0.01, 1.0, 100.0, 1e4]}, method="grid", metric="mse")
    finally:
        nbml.data.set_active(None)
    assert result.best_score == result.trials["score"].min()
    assert result.best_params["alpha"] != 1e4


def test_failed_configurations_are_recorded_and_summarized(store, cancer_split):
    space = {"max_depth": [2, 4], "min_samples_leaf": [1, -1]}  # min_samples_leaf=-1 fails
    result = nbml.tune(DecisionTreeClassifier(), space, method="grid")
    assert result.n_failed == 2 and len(result.trials) == 4
    assert result.best_params["min_samples_leaf"] == 1
    assert result.failures.iloc[0] == 2 and "min_samples_leaf" in result.failures.index[0]
    assert "failures: 2×" in repr(result)
    failed = result.trials[result.trials["state"] == "fail"]
    assert failed["score"].isna().all() and failed["error"].str.contains("Error").all()


def test_every_configuration_failing_leaves_no_best(store, cancer_split):
    result = nbml.tune(DecisionTreeClassifier(), {"min_samples_leaf": [-1]}, method="grid")
    assert result.best is None and math.isnan(result.best_score) and result.n_failed == 1
    assert "no trial finished" in repr(result)


@pytest.mark.parametrize("kwargs, message", [
    (dict(space={"max_iters": [1, 2]}), r"LogisticRegression has no parameter 'max_iters': did you mean "
                                       r"'max_iter'\?.*its parameters are C, class_weight"),
    (dict(space={"Cee": [1, 2]}), r"has no parameter 'Cee': its parameters are C, class_weight, dual"),
    (dict(space={}), "the search space is empty"),
    (dict(space={"C": []}), r"C = \[\] is empty"),
    (dict(space={"C": 3}), "C = 3 is not a set of values"),
    (dict(space={"C": loguniform}), "call it"),
    (dict(space="C = uniform(5, 1)"), r"uniform\(5, 1\): low must not exceed high"),
    (dict(space="C = loguniform(0, 1)"), "log scale needs low > 0"),
    (dict(space={"C": loguniform(1e-3, 1)}, method="grid"), r"method='grid' needs lists.*C = \[0.001"),
    (dict(space="C = [1, 2]\nprint('x')"), "line 2 of the search space is not `name = values`"),
    (dict(space="C = [1,\n"), "syntax error"),
    (dict(space="C = [1]\nC = [2]"), "C is given twice"),
    (dict(space="C = undefined_name"), r"line 1 of the search space \(C\) raised NameError"),
    (dict(space={"C": [1]}, metric="r2"), "metric='r2' is a regression metric but the task is classification"),
    (dict(space={"C": [1]}, metric="auc"),
     "metric='auc' is not a metric nbml knows \\(did you mean 'roc_auc'\\?\\); use one of accuracy"),
    (dict(space={"C": [1]}, method="annealing"), "method='annealing' is not a search method"),
    (dict(space={"C": [1]}, trials=0), "trials=0 must be a positive integer"),
    (dict(space={"C": [1]}, n_jobs=0), "n_jobs=0 must be"),
    (dict(space={"C": [1]}, method="grid", prune="median"), "prune= works with method='bayes'"),
    (dict(space={"C": [1]}, prune="sometimes"), "prune='sometimes' is not a pruner"),
    (dict(space={"C": [1]}, cv=1), "cv=1 is not a fold count"),
    (dict(space={"C": [1]}, timeout=-1), "timeout=-1 must be a positive number"),
])
def test_bad_input_is_one_clear_error(store, cancer_split, kwargs, message):
    with pytest.raises(ValueError, match=message):
        nbml.tune(LogisticRegression(), **kwargs)


def test_bayes_rejects_scipy_distributions_it_cannot_search(store, cancer_split):
    from scipy import stats

    with pytest.raises(ValueError, match="cannot search scipy.stats.norm"):
        nbml.tune(LogisticRegression(), {"C": stats.norm(1, 0.1)}, method="bayes")
    result = nbml.tune(LogisticRegression(max_iter=300), {"C": stats.loguniform(1e-2, 10)}, method="bayes", trials=3)
    assert result.trials["C"].between(1e-2, 10).all()
    result = nbml.tune(LogisticRegression(max_iter=300), {"C": stats.expon(scale=2)}, method="random", trials=3)
    assert (result.trials["C"] > 0).all()


def test_space_body_names_map_into_pipelines():
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from nbml import space

    dims = space.parse("# a comment\nC = loguniform(1e-3, 1)\nsolver = choice('lbfgs', 'saga')\n"
                       "scale = stats.uniform(0, 2)\nsizes = [(8,), (8, 4)]", {})
    assert {k: d.kind for k, d in dims.items()} == {"C": "float", "solver": "categorical", "scale": "scipy",
                                                     "sizes": "categorical"}
    inner = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    outer = Pipeline([("preprocess", StandardScaler()), ("model", inner)])
    mapped = space.resolve({"C": dims["C"]}, outer)
    assert "model__clf__C" in mapped
    with pytest.raises(ValueError, match="with_mean is ambiguous"):
        space.resolve({"with_mean": space.choice(True, False)}, outer)
    assert "preprocess__with_mean" in space.resolve({"preprocess__with_mean": [True]}, outer)
    assert space.randint(2, 4).grid() == [2, 3, 4] and space.loguniform(1, 100).grid(3) == [1.0, 10.0, 100.0]
    rng = np.random.default_rng(0)
    assert all(1 <= space.logint(1, 5).sample(rng) <= 5 for _ in range(200))


def test_default_spaces_cover_common_models(store, cancer_split):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    from nbml.tuning.defaults import default_space

    for model, names in [(LogisticRegression(), {"C"}), (SVC(), {"C", "gamma"}),
                         (KNeighborsClassifier(), {"n_neighbors", "weights"}),
                         (RandomForestClassifier(), {"n_estimators", "max_depth", "max_features", "min_samples_leaf"}),
                         (HistGradientBoostingClassifier(), {"learning_rate", "max_iter", "max_leaf_nodes",
                                                             "min_samples_leaf", "l2_regularization"})]:
        assert set(default_space(model)) == names
    result = nbml.tune(KNeighborsClassifier(), method="grid")  # the default space, discretized for a grid
    assert len(result.trials) == 8 and set(result.trials["weights"]) == {"uniform", "distance"}
    from sklearn.neighbors import NearestCentroid  # every standard family has a space now (issue 17)

    with pytest.raises(ValueError, match="no default search space for NearestCentroid.*shrink_threshold"):
        nbml.tune(NearestCentroid())


def test_interrupt_keeps_finished_trials(store, cancer_split):
    def stop_after_three(record, best):
        if record["number"] == 2:
            raise KeyboardInterrupt

    result = nbml.tune(LogisticRegression(max_iter=300), {"C": loguniform(1e-3, 10)}, method="random", trials=10,
                       callbacks=stop_after_three)
    assert result.interrupted and len(result.trials) == 3 and result.best is not None
    assert "interrupted" in repr(result)


def test_timeout_stops_starting_trials(store, cancer_split):
    result = nbml.tune(DecisionTreeClassifier(), {"max_depth": randint(1, 20)}, method="random", trials=10_000,
                       timeout=1.0)
    assert 0 < len(result.trials) < 10_000


@pytest.mark.parametrize("method", ["random", "bayes", "grid"])
def test_timeout_always_lets_the_first_trial_finish(store, cancer_split, method):
    # a slow start (a loaded machine, a live view drawing) must not leave a search with no trial at all
    class SlowStart:
        def on_start(self, search, total):
            time.sleep(0.4)

    result = nbml.tune(DecisionTreeClassifier(), {"max_depth": [2, 3, 4, 5]}, method=method, trials=4,
                       timeout=0.2, callbacks=SlowStart())
    assert len(result.trials) == 1 and result.best is not None


def test_a_crash_loses_no_finished_trial_and_resume_continues(store, cancer_split, tmp_path):
    # a separate process dies hard (os._exit, like a kernel crash) after its fourth trial
    script = textwrap.dedent(f"""
        import os
        from sklearn.datasets import load_breast_cancer
        from sklearn.tree import DecisionTreeClassifier
        import nbml
        nbml.split(load_breast_cancer(as_frame=True).frame, target="target", seed=0)
        def crash(record, best):
            if record["number"] == 3:
                os._exit(3)
        nbml.tune(DecisionTreeClassifier(), {{"max_depth": nbml.space.randint(1, 12)}}, method="bayes",
                  trials=20, study="crashy", storage={str(store)!r}, callbacks=crash, seed=0)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    from nbml import store as nbml_store

    assert len(nbml_store.trials("crashy")) == 4
    result = nbml.tune(DecisionTreeClassifier(), {"max_depth": randint(1, 12)}, method="bayes", trials=3,
                       study="crashy", seed=0)
    assert len(result.trials) == 7 and sorted(result.trials.index) == list(range(7))
    assert len([t for t in result.optuna_study.trials if t.state.name == "COMPLETE"
                and not t.user_attrs.get("nbml_repeat")]) == 7
    # with resume, trials counts the whole study: 7 done, trials=9 fits 2 more
    again = nbml.tune(DecisionTreeClassifier(), {"max_depth": randint(1, 12)}, method="bayes", trials=9, resume=True)
    assert again.study == "crashy" and len(again.trials) == 9


def test_grid_resume_skips_configurations_already_done(store, cancer_split):
    space = {"max_depth": [1, 2, 3, 4]}
    first = nbml.tune(DecisionTreeClassifier(), space, method="grid", trials=2, study="g")
    assert len(first.trials) == 2
    second = nbml.tune(DecisionTreeClassifier(), space, method="grid", study="g")
    assert len(second.trials) == 4 and sorted(second.trials["max_depth"]) == [1, 2, 3, 4]


def test_parallel_grid_gives_the_same_scores(store, cancer_split):
    space = {"max_depth": [2, 4, 8], "min_samples_leaf": [1, 5]}
    one = nbml.tune(DecisionTreeClassifier(), space, method="grid", cv=3)
    two = nbml.tune(DecisionTreeClassifier(), space, method="grid", cv=3, n_jobs=2)
    key = ["max_depth", "min_samples_leaf"]
    a = one.trials.set_index(key)["score"].sort_index()
    b = two.trials.set_index(key)["score"].sort_index()
    pd.testing.assert_series_equal(a, b)
    assert two.trials["worker"].nunique() >= 1


def test_plots(store, cancer_split):
    result = nbml.tune(DecisionTreeClassifier(), {"max_depth": randint(1, 10), "min_samples_leaf": randint(1, 30),
                                                  "criterion": ["gini", "entropy"]}, method="random", trials=12)
    from matplotlib.figure import Figure

    for kind in ("history", "importance", "parallel", "slice", "heatmap"):
        assert isinstance(result.plot(kind), Figure), kind
    assert isinstance(result.plot("heatmap", params=("max_depth", "criterion")), Figure)
    imp = nbml.tuning.plots.importances(result)
    assert set(imp.index) == {"max_depth", "min_samples_leaf", "criterion"}
    with pytest.raises(ValueError, match="kind='pie' is not a tuning plot"):
        result.plot("pie")
    with pytest.raises(ValueError, match="must name two parameters"):
        result.plot("heatmap", params=("max_depth", "nope"))


def test_text_progress_and_function_callbacks(store, cancer_split, capsys):
    seen = []
    nbml.tune(LogisticRegression(max_iter=300), {"C": [0.1, 1.0, 10.0]}, method="grid", live="text",
              callbacks=[lambda record, best: seen.append((record["number"], best["score"]))])
    out = capsys.readouterr().out
    assert out.startswith("trial 1/3 · accuracy ") and "done: 3 trials, best accuracy" in out
    assert [n for n, _ in seen] == [0, 1, 2]
    assert seen[-1][1] == max(s for _, s in seen)


def test_torch_pruning_reports_epochs(store, cancer_split):
    pytest.importorskip("torch")
    from nbml import TorchClassifier

    model = TorchClassifier(epochs=5, hidden=(8,), batch_size=128, seed=0)
    result = nbml.tune(model, {"lr": loguniform(1e-5, 1e-1)}, method="bayes", trials=9, prune="median", seed=0)
    assert result.n_pruned >= 1 and result.total_epochs < 9 * 5
    pruned = result.trials[result.trials["state"] == "pruned"]
    assert (pruned["epochs"] < 5).all() and (result.trials["epochs"] >= 1).all()
    unpruned = nbml.tune(model, {"lr": loguniform(1e-5, 1e-1)}, method="random", trials=2, seed=0)
    assert unpruned.total_epochs == 2 * 5  # epochs are counted without pruning too


def test_live_view_updates_one_plot_in_place_in_a_kernel(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import nbml\nfrom sklearn.datasets import load_breast_cancer\nfrom sklearn.tree import DecisionTreeClassifier\n"
        "import nbml.tuning.live as live\nlive.REFRESH_SECONDS = 0  # draw after every trial\n"
        "nbml.split(load_breast_cancer(as_frame=True).frame, target='target')"),
        nbformat.v4.new_code_cell("%load_ext nbml\n"),
        nbformat.v4.new_code_cell("%%tune DecisionTreeClassifier() --method random --trials 6 -o t\n"
                                  "max_depth = randint(1, 8)")]
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[2].outputs
    assert not [o for o in outputs if o.output_type == "error"], outputs
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) == 1  # six trials, one picture updated in place
    bars = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
            or "6/6" in str(o.get("data", {}).get("text/plain", "")) or "6/6" in str(o.get("text", ""))]
    assert bars, outputs
    assert "best parameters: max_depth=" in str(outputs[-1].get("data", {}).get("text/plain", ""))


def test_tuning_on_a_coreset_fits_with_its_weights(store, cancer_split):
    from sklearn.base import clone

    core = nbml.coreset(cancer_split.X_train, cancer_split.y_train, size=120, seed=0)
    base = nbml.train(LogisticRegression(max_iter=500))
    result = nbml.tune(base, {"C": [0.01, 1.0]}, method="grid", coreset=core)
    assert result.coreset == len(core.weights) and "coreset" in repr(result)
    for c, score in zip(result.trials["C"], result.trials["score"]):
        model = clone(base._pipeline).set_params(model__C=c)
        model.fit(core.X[cancer_split.feature_names], core.y, model__sample_weight=core.weights)
        assert score == pytest.approx((model.predict(cancer_split.X_val) == cancer_split.y_val).mean(), abs=1e-12)
    assert result.best.metrics["accuracy"] == result.comparison().loc["accuracy", "tuned"]
    with pytest.raises(TypeError, match="coreset must be an nbml Coreset"):
        nbml.tune(base, {"C": [1.0]}, coreset=10)
    weighted = nbml.tune(base, {"C": [0.01, 1.0]}, method="grid", coreset=core, cv=3)
    assert "weighted 3-fold CV" in repr(weighted) and weighted.best.cv is None  # refit on the full rows
    with pytest.raises(ValueError, match="cv=1"):
        nbml.tune(base, {"C": [1.0]}, coreset=core, cv=1)
