"""%automl / nbml.automl: families under a time budget, ending in an ensemble; honest scores."""
from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest
from helpers import refused

import nbml
from nbml.errors import NbmlError


@pytest.fixture
def cancer_split(cancer):
    split = nbml.split(cancer, target="target", seed=0, activate=False)
    yield split


def _noisy_frame(rows, features, informative, seed):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=features, n_informative=informative, flip_y=0.1,
                               random_state=seed)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(features)])
    df["y"] = y
    return df


@pytest.fixture(scope="module")
def noisy():
    return _noisy_frame(600, 12, 6, 3)


def test_a_short_budget_is_kept_and_gives_an_out_of_fold_result(cancer_split):
    start = time.perf_counter()
    result = nbml.automl(cancer_split, budget=10, live=False, storage=None)
    took = time.perf_counter() - start
    assert took < 11, f"a 10 s budget took {took:.1f} s"
    assert isinstance(result, nbml.AutoMLResult) and isinstance(result, nbml.TrainResult)
    assert result.metric == "roc_auc" and result.fitted_on == "train+val"
    assert result.predictions.label == "out-of-fold"
    assert len(result.predictions.y_true) == len(cancer_split.X_trainval)
    assert "lr" in result.leaderboard.index and len(result.leaderboard) >= 5  # cheapest first
    assert result.leaderboard["trials"].sum() + sum("skipped" in s for s in result.skipped) >= len(result.history)
    assert result.best.metrics["roc_auc"] > 0.98
    # the test rows are untouched: the model predicts them for the first time here
    assert nbml.evaluate(result, on="test").metrics["roc_auc"] > 0.97


def test_the_ensemble_never_scores_below_its_best_member_out_of_fold(noisy):
    split = nbml.split(noisy, target="y", seed=1, activate=False)
    for metric in ("roc_auc", "accuracy", "log_loss"):
        result = nbml.automl(split, budget=6, models="lr,nb,knn,tree", metric=metric, live=False, storage=None)
        greater = metric != "log_loss"
        assert len(result.history) > len(result.leaderboard)  # the promising families were tuned
        best = result.best.metrics[metric]
        if result.ensemble is not None:
            ens = result.ensemble.metrics[metric]
            assert (ens > best) if greater else (ens < best), (metric, ens, best)
            members = result.ensemble.comparison[metric].iloc[:-1]
            assert (ens >= members.max()) if greater else (ens <= members.min())
            assert result.name == result.ensemble.name
        else:
            assert result.name == result.best.name
        final = result.metrics[metric]
        assert (final >= best) if greater else (final <= best)


def test_regression_and_a_scorer_name(diabetes):
    split = nbml.split(diabetes, target="target", seed=0, activate=False)
    result = nbml.automl(split, budget=4, models="ridge,lasso,hgb", metric="neg_mean_absolute_error", live=False,
                         storage=None)
    assert result.task == "regression" and result.metric == "neg_mean_absolute_error"
    assert result.metrics["neg_mean_absolute_error"] < 0
    assert set(result.leaderboard.index) == {"ridge", "lasso", "hgb"}


def test_ctrl_c_keeps_the_best_so_far(cancer_split):
    timer = threading.Timer(2.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        start = time.perf_counter()
        result = nbml.automl(cancer_split, budget=60, models="lr,svm,knn,rf", live=False, storage=None)
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 30
    assert result.interrupted
    assert result.best is not None and result.best.metrics["roc_auc"] > 0.95
    assert "interrupted" in repr(result)


def test_resume_continues_the_study(cancer_split, tmp_path):
    from nbml.store import trials

    store = str(tmp_path / "automl.db")
    first = nbml.automl(cancer_split, budget=3, models="lr,knn", study="auto-1", storage=store, live=False)
    stored = trials("auto-1", storage=store)
    assert len(stored) == len(first.history) and set(stored["model"]) <= {"lr", "knn"}
    second = nbml.automl(cancer_split, budget=3, models="lr,knn", storage=store, resume=True, live=False)
    assert second.study == "auto-1"
    assert second.history.index.min() > first.history.index.max()  # numbers go on
    assert len(trials("auto-1", storage=store)) == len(first.history) + len(second.history)
    # each family starts from its best earlier configuration
    assert second.best.metrics["roc_auc"] >= first.best.metrics["roc_auc"] - 1e-9


def test_trials_run_in_parallel(cancer_split):
    result = nbml.automl(cancer_split, budget=6, models="lr,knn,tree", n_jobs=2, live=False, storage=None)
    assert len(result.history) >= 3 and result.best is not None


def test_coin_flip_labels_score_chance_with_memorizing_families():
    """The leak audit: random labels, a model that memorizes (a full tree, 1-NN): every score automl
    reports is out-of-fold, and the test rows score chance too."""
    rng = np.random.default_rng(7)
    df = pd.DataFrame(rng.normal(size=(500, 6)), columns=[f"x{i}" for i in range(6)])
    df["y"] = rng.integers(0, 2, size=500)
    split = nbml.split(df, target="y", seed=0, activate=False)
    result = nbml.automl(split, budget=4, models="tree,knn", metric="accuracy", live=False, storage=None)
    first = result.history.groupby("family").head(1)  # each family's defaults: chosen by nothing
    assert (abs(first["score"] - 0.5) < 0.08).all(), first
    # defaults and TPE's random start-up draws: chosen by nothing (later trials are steered by these
    # very folds, so they drift above chance by selection, which the next lines bound)
    unsteered = result.history.groupby("family").head(6)
    assert abs(unsteered["score"].median() - 0.5) < 0.05
    # the best of many trials, chosen on these very scores, is optimistic, and the result says so
    assert result.metrics["accuracy"] < 0.66 and result.best.metrics["accuracy"] < 0.66
    assert "optimistic" in result.summary()
    assert abs(nbml.evaluate(result, on="test").metrics["accuracy"] - 0.5) < 0.12
    with pytest.raises(NbmlError, match="test"):
        nbml.evaluate(result, on="val")  # fit on train+val: only the test rows are held out


@pytest.fixture(scope="module")
def coin_flips():
    rng = np.random.default_rng(11)
    df = pd.DataFrame(rng.normal(size=(2500, 6)), columns=[f"x{i}" for i in range(6)])
    df["y"] = rng.integers(0, 2, size=2500)
    return df


def test_families_sharing_preprocessed_folds_keep_their_own_fit_parameters():
    """hgb and LightGBM both take a categorical column natively (the same ordinal preprocessing, so
    they share the preprocessed folds) but are told about it differently: LightGBM at fit time,
    hgb in its constructor. hgb failed every trial with LightGBM's fit parameter."""
    pytest.importorskip("lightgbm")
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600),
                       "town": pd.Categorical(rng.choice(list("pqrstu"), size=600))})
    df["y"] = (df["a"] + (df["town"].isin(list("pqr"))) + rng.normal(scale=0.5, size=600) > 0.5).astype(int)
    split = nbml.split(df, target="y", seed=0, activate=False)
    result = nbml.automl(split, budget=5, models="lgbm,hgb", live=False, storage=None)
    assert (result.history["state"] != "fail").all(), result.history["error"].dropna().tolist()
    assert set(result.leaderboard.index) == {"lgbm", "hgb"}


def test_large_data_for_the_budget_is_scored_on_a_holdout_fifth(noisy):
    from nbml.auto import HOLDOUT_ROWS_PER_SECOND

    split = nbml.split(noisy, target="y", seed=0, activate=False)
    n = len(split.X_trainval)
    budget = 0.9 * n / HOLDOUT_ROWS_PER_SECOND  # a few more rows than the budget's line: the holdout
    assert budget < 3
    result = nbml.automl(split, budget=4, models="lr,nb,tree", cv="holdout", live=False, storage=None)
    assert "holdout" in result.scored_on and "holdout" in result.summary()
    held = len(result.predictions.y_true)
    assert abs(held - n / 5) <= 1 and len(result.best.cv) == 1  # one fold: fit on 4/5, scored on 1/5
    assert result.predictions.label == result.best.predictions.label == "holdout"
    assert result.fitted_on == "train+val"
    # chosen by the size: the same run without cv, on a budget too short for 5-fold CV of these rows
    auto = nbml.automl(split, budget=budget, models="lr,nb", live=False, storage=None)
    assert "holdout" in auto.scored_on
    # and K-fold CV while the rows are few for the budget
    cv = nbml.automl(split, budget=4, models="lr,nb", live=False, storage=None)
    assert "5-fold" in cv.scored_on and len(cv.predictions.y_true) == n


def test_coin_flip_labels_score_chance_on_the_holdout_too(coin_flips):
    """The leak audit on the holdout route: memorizing families score chance on the held-out fifth."""
    split = nbml.split(coin_flips, target="y", seed=0, activate=False)
    result = nbml.automl(split, budget=4, models="tree,knn", metric="accuracy", cv="holdout", live=False,
                         storage=None)
    assert "holdout" in result.scored_on
    unsteered = result.history.groupby("family").head(6)
    assert abs(unsteered["score"].median() - 0.5) < 0.05, unsteered
    assert result.metrics["accuracy"] < 0.62 and result.best.metrics["accuracy"] < 0.62
    assert abs(nbml.evaluate(result, on="test").metrics["accuracy"] - 0.5) < 0.08


@pytest.mark.parametrize("kwargs, phrase", [
    ({"budget": 0}, "budget=0"),
    ({"budget": 5, "cv": "fold"}, "cv='fold'"),
    ({"budget": -5}, "budget=-5"),
    ({"budget": "soon"}, "budget='soon'"),
    ({"budget": 5, "models": "lr,forest"}, "forest"),
    ({"budget": 5, "metric": "r2"}, "r2"),
    ({"budget": 5, "cv": 1}, "cv=1"),
])
def test_bad_input_is_one_line(cancer_split, kwargs, phrase):
    with pytest.raises(NbmlError) as info:
        nbml.automl(cancer_split, live=False, storage=None, **kwargs)
    assert phrase in str(info.value) and "\n" not in str(info.value)


def test_the_magic_runs_on_the_active_split_and_evaluates_on_test(run, cancer):
    assert run("import nbml; nbml.split(__import__('sklearn.datasets', fromlist=['x']).load_breast_cancer("
               "as_frame=True).frame, target='target', seed=0);").error is None
    cell = run("%automl --budget 3 --models lr,nb,tree --no-live -o auto")
    assert cell.error is None, cell.err
    assert run("isinstance(auto, nbml.AutoMLResult) and auto.fitted_on == 'train+val'").value is True
    evaluated = run("%evaluate auto --on test")
    assert evaluated.error is None and evaluated.value.metrics["roc_auc"] > 0.9
    refused(run("%evaluate auto --on val"), "train+val", "test")
    assert run("%evaluate auto.best --on test").error is None


def test_the_magic_splits_a_frame_given(run, cancer):
    run("import sklearn.datasets as _d; frame = _d.load_breast_cancer(as_frame=True).frame")
    cell = run("%automl frame --target target --budget 2 --models lr --no-live -o auto2")
    assert cell.error is None, cell.err
    assert run("auto2.best.name").value == "lr (automl)"


@pytest.mark.parametrize("line, phrases", [
    ("%automl --budget 0 --models lr", ("budget=0",)),
    ("%automl --budget 3 --models lr,forest", ("forest", "choose from")),
    ("%automl --budget 3 --metric r2", ("r2",)),
    ("%automl --budget 3 --cv fold", ("fold", "holdout")),
])
def test_bad_magic_input_is_one_line(run, cancer, line, phrases):
    run("import nbml; nbml.split(__import__('sklearn.datasets', fromlist=['x']).load_breast_cancer(as_frame=True).frame, "
        "target='target', seed=0);")
    before = run("sorted(k for k in globals() if not k.startswith('_'))").value
    refused(run(line + " --no-live -o lost"), *phrases)
    assert run("'lost' in globals()").value is False
    assert run("sorted(k for k in globals() if not k.startswith('_'))").value == before


def test_a_family_whose_package_is_missing_is_skipped_with_one_line(cancer_split, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "catboost", None)  # as if catboost were not installed
    with pytest.warns(UserWarning, match=r"skipped catboost: pip install 'nbml\[boost\]'"):
        result = nbml.automl(cancer_split, budget=2, models="lr,catboost", live=False, storage=None)
    assert list(result.leaderboard.index) == ["lr"]
    assert any("skipped catboost" in line for line in result.skipped)
    with pytest.raises(NbmlError, match="none of the families asked for can run here") as info:
        nbml.automl(cancer_split, budget=2, models="catboost", live=False, storage=None)
    assert "\n" not in str(info.value)


def test_an_ensemble_of_hgb_lgbm_and_lr_deploys_and_serves(noisy, run, ip, tmp_path):
    pytest.importorskip("lightgbm")
    from test_deploy_families import deploy_load_serve

    split = nbml.split(noisy, target="y", seed=0, activate=False)
    result = nbml.automl(split, budget=8, models="hgb,lgbm,lr", live=False, storage=None)
    assert result.ensemble is not None, result.leaderboard
    assert len(result.ensemble.params["members"]) >= 2
    deploy_load_serve(result, run, ip, tmp_path)  # the final model: the ensemble


def test_trials_run_on_a_dask_cluster(cancer_split):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = nbml.automl(cancer_split, budget=8, models="lr,knn,tree", scheduler=cluster.scheduler_address,
                             live=False, storage=None)
    assert len(result.history) >= 3 and result.best.metrics["roc_auc"] > 0.9


def test_labels_and_panel_take_the_result(run, cancer):
    run("import nbml; nbml.split(__import__('sklearn.datasets', fromlist=['x']).load_breast_cancer(as_frame=True).frame, "
        "target='target', seed=0);")
    assert run("%automl --budget 2 --models lr,nb --no-live -o auto3").error is None
    labels = run("%labels auto3 -o found")
    assert labels.error is None, labels.err
    panel = run("%panel auto3.best")
    assert panel.error is None, panel.err


def test_no_public_function_is_shadowed_by_a_module_of_the_same_name():
    """``nbml.automl`` stays the function after its module is imported (by a magic, say)."""
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(nbml.__path__, "nbml."):
        if not info.name.startswith(("nbml.scratch", "nbml.torch")):
            try:
                importlib.import_module(info.name)
            except ImportError:
                pass
    for name in nbml._LAZY:
        assert not isinstance(getattr(nbml, name), type(nbml)), f"nbml.{name} is a module, not the function"


def test_the_ensemble_chosen_at_the_end_drops_its_dearest_members_until_its_refits_fit():
    from nbml.auto import affordable

    best, cheap, dear, dearer = ({"name": n} for n in ("best", "cheap", "dear", "dearer"))
    cost = {"best": 2.0, "cheap": 1.0, "dear": 4.0, "dearer": 8.0}
    chosen = []

    def choose(candidates):  # every candidate is a member, once
        chosen.append([c["name"] for c in candidates])
        return np.ones(len(candidates), dtype=int), float(len(candidates))

    members, counts, score = affordable([best, cheap, dear, dearer], choose, lambda r: cost[r["name"]], 7.5)
    assert [m["name"] for m in members] == ["best", "cheap", "dear"] and list(counts) == [1, 1, 1] and score == 3
    assert chosen == [["best", "cheap", "dear", "dearer"], ["best", "cheap", "dear"]]
    # the best is refit whatever it costs; with no time, it stands alone
    members, _, _ = affordable([best, cheap, dear], choose, lambda r: cost[r["name"]], 0.0)
    assert [m["name"] for m in members] == ["best"]
    # all fit: nothing dropped, chosen once
    chosen.clear()
    members, _, _ = affordable([best, cheap], choose, lambda r: cost[r["name"]], 100.0)
    assert len(members) == 2 and len(chosen) == 1


@pytest.fixture(scope="module")
def wide():
    return _noisy_frame(12_000, 20, 8, 5)


def test_a_family_whose_first_trial_would_take_over_a_tenth_of_the_budget_is_skipped(wide):
    # on HI's 13,000 fit rows at 30 s a default SVC took 5.5 s and scored below every boosted
    # family; once another family has a score, such a start is left out and its time is searched
    split = nbml.split(wide, target="y", seed=0, activate=False)
    result = nbml.automl(split, budget=20, models="hgb,svm", cv="holdout", live=False, storage=None)
    assert any(line.startswith("skipped svm: its first trial needs about") and "over 10% of the 20 s budget" in line
               for line in result.skipped), result.skipped
    assert list(result.leaderboard.index) == ["hgb"] and result.leaderboard.loc["hgb", "trials"] > 1


def test_a_trial_ends_early_enough_for_its_own_refit_to_fit_the_budget(noisy):
    # HI at 30 s: a CatBoost trial started at 13 s, took 8 s on the holdout fold, became the best,
    # and its refit on train+val ended the run at 38.6 s
    from nbml.auto import REFIT_MARGIN, AutoML

    split = nbml.split(noisy, target="y", seed=0, activate=False)
    for cv in (5, "holdout"):
        run = AutoML(split, ["lr"], "roc_auc", cv, 0, 30.0, 1, None, (None, None, 0), None)
        family = run.family("lr")
        now = time.time()
        end = run.trial_deadline(family)
        folds = 1 if cv == "holdout" else 5
        refit = REFIT_MARGIN * (end - now) / folds * len(split.X_trainval) / len(run.rows.pairs[0][0])
        assert end + refit == pytest.approx(run.deadline, abs=0.05), cv
        assert end < run.deadline - 1


def test_the_end_refits_the_best_trial_whose_refit_fits_the_time_left(noisy):
    # a better trial whose refit would end past the budget gives way to the next best
    from nbml.auto import AutoML, _finish

    split = nbml.split(noisy, target="y", seed=0, activate=False)
    run = AutoML(split, ["lr", "nb"], "roc_auc", 5, 0, 30.0, 1, None, (None, None, 0), None)
    run._first_round()
    dear, next_best = run.kept[:2]
    assert dear["family"] != next_best["family"]
    dear["table"] = dear["table"].assign(fit_time=1e6)  # its refit would take days
    best, ensemble = _finish(run, ensemble=True)
    assert best.name == f"{next_best['family']} (automl)" and f"trial {next_best['number']} " in best.note
    assert ensemble is None or dear["family"] not in ensemble.params["members"]
