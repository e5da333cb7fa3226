"""LightGBM, XGBoost and CatBoost as standard families (issue 17, part 1): they train through
%train and %compare on string labels, report each few boosting rounds to the pruner, give their
importances to %evaluate, send categorical columns to the library's own categorical splits, and
are left out in one line where their package is missing. Small data, few rounds."""
from __future__ import annotations

import importlib.util
import math
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import nbml
from helpers import refused as one_line
from nbml.errors import NbmlError
from nbml.space import loguniform
from nbml.standard import families, missing_families, skipped

PACKAGES = {"lgbm": "lightgbm", "xgb": "xgboost", "catboost": "catboost"}
BOOST = list(PACKAGES)
FOLDS = 3


def small(short, task, rounds=20):
    """The standard family with fewer boosting rounds (same defaults otherwise)."""
    pytest.importorskip(PACKAGES[short])
    model = nbml.standard_model(short, task)
    return model.set_params(**{"iterations" if short == "catboost" else "n_estimators": rounds})


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("NBML_STORE", str(tmp_path / "nbml.db"))


@pytest.fixture(scope="module")
def mixed():
    """A frame with a 30-level category whose levels carry the signal, a small one and numbers."""
    rng = np.random.default_rng(0)
    n = 900
    city = rng.integers(0, 30, n)
    effect = np.random.default_rng(1).normal(0, 1.5, 30)
    x = rng.normal(size=(n, 2))
    frame = pd.DataFrame(x, columns=["x0", "x1"])
    frame["city"] = [f"c{c}" for c in city]
    frame["shop"] = rng.choice(["a", "b", "c"], n)
    value = effect[city] * (1 + 0.5 * x[:, 0]) + x[:, 1] + rng.normal(0, 0.5, n)
    frame["value"] = value
    frame["level"] = np.select([value < -0.7, value < 0.7], ["low", "mid"], "high")
    return frame


@pytest.mark.parametrize("short", BOOST)
def test_multiclass_string_labels_train_evaluate_and_pickle(short, iris_cat, ip, run):
    model = small(short, "classification")
    ip.user_ns.update(iris=iris_cat, boost_model=model)
    run("%split iris --target species --seed 0")
    cell = run("%train boost_model -o boosted")
    assert cell.error is None, cell.err
    result = ip.user_ns["boosted"]
    X = result.split.X_test
    labels = result.predict(X)
    assert labels.ndim == 1 and set(labels) <= {"setosa", "versicolor", "virginica"}
    assert list(result.estimator.classes_) == ["setosa", "versicolor", "virginica"]
    assert result.predict_proba(X).shape == (len(X), 3)
    assert result.metrics["accuracy"] > 0.8
    cell = run("%evaluate boosted --plots importance -o ev")
    assert cell.error is None, cell.err
    own = ip.user_ns["ev"].model_importance
    assert own is not None and len(own) == len(result.model[:-1].get_feature_names_out())
    again = pickle.loads(pickle.dumps(result.model))
    assert np.array_equal(again.predict(X), labels)


@pytest.mark.parametrize("short", BOOST)
def test_regression_is_seeded_by_the_split(short, diabetes):
    split = nbml.split(diabetes, target="target", seed=3, activate=False)
    one = nbml.train(small(short, "regression"), split=split)
    two = nbml.train(small(short, "regression"), split=split)
    assert one.predict(split.X_test).ndim == 1
    assert np.array_equal(one.predict(split.X_test), two.predict(split.X_test))
    params = one.estimator.get_params()
    assert 3 in (params.get("random_state"), params.get("random_seed"))


def test_compare_all_includes_the_installed_families(mixed, ip, run):
    for package in PACKAGES.values():
        pytest.importorskip(package)
    ip.user_ns["mixed"] = mixed.drop(columns="value")
    run("%split mixed --target level --seed 0")
    cell = run("%compare --models lgbm,xgb,catboost,hgb --cv 3")
    assert cell.error is None, cell.err
    table = cell.value
    assert set(table.index) == {"LGBMClassifier", "XGBClassifier", "CatBoostClassifier",
                                "HistGradientBoostingClassifier"}
    assert table["accuracy"].notna().all() and (table["probabilities"] == "yes").all()
    assert set(BOOST) <= set(families("classification")) and skipped() == []


@pytest.mark.parametrize("short", BOOST)
def test_pruning_reports_each_few_rounds_and_an_unpruned_trial_is_a_plain_fit(short, store, cancer):
    split = nbml.split(cancer, target="target", seed=0, activate=False)
    model = small(short, "classification", rounds=30)
    result = nbml.tune(model, {"learning_rate": loguniform(1e-5, 1.0)}, method="bayes", trials=10, cv=FOLDS,
                       prune="hyperband", seed=0, live=False, split=split)
    steps = [len(t.intermediate_values) for t in result.optuna_study.trials]
    assert max(steps) > FOLDS, steps  # per fold there would be at most FOLDS - 1 reports
    assert result.n_pruned >= 1
    pruned = result.trials[result.trials["state"] == "pruned"]
    assert (pruned["iterations"] < 30).all() and pruned["score"].notna().all()
    complete = result.trials[result.trials["state"] == "complete"].iloc[0]
    plain = nbml.tune(model, {"learning_rate": [complete["learning_rate"]]}, method="grid", cv=FOLDS, seed=0,
                      live=False, split=split)
    assert complete["score"] == plain.best_score
    assert math.isfinite(result.best_score)


def test_catboost_without_its_own_eval_metric_reports_staged_outputs(store, cancer):
    split = nbml.split(cancer, target="target", seed=0, activate=False)
    model = small("catboost", "classification", rounds=30)
    result = nbml.tune(model, {"learning_rate": loguniform(1e-5, 1.0)}, method="bayes", trials=6, cv=FOLDS,
                       prune="median", metric="f1", seed=0, live=False, split=split)
    steps = [len(t.intermediate_values) for t in result.optuna_study.trials]
    assert max(steps) == 10, steps  # every 3 of 30 rounds


NATIVE = [("lgbm", "regression"), ("hgb", "regression"), ("lgbm", "classification"),
          ("catboost", "classification"), ("xgb", "regression"), ("xgb", "classification")]


@pytest.mark.parametrize("short, task", NATIVE, ids=[f"{s}-{t[:5]}" for s, t in NATIVE])
def test_categorical_columns_go_to_the_library_natively(short, task, mixed):
    target, drop, metric = ("value", "level", "r2") if task == "regression" else ("level", "value", "accuracy")
    split = nbml.split(mixed.drop(columns=drop), target=target, seed=0, activate=False)
    model = nbml.standard_model(short, task) if short == "hgb" else small(short, task, rounds=200)
    native = nbml.train(model, split=split)
    onehot = nbml.train(model, split=split, encode="onehot")  # an encoding asked for is kept
    assert native.recipe.options.encode == "ordinal" and onehot.recipe.options.encode == "onehot"
    positions = [2, 3]  # after the two numbers: city, shop
    chosen = {**native.recipe.fit_params, **native.model[-1].get_params()}
    if short == "xgb":
        assert chosen["enable_categorical"] and chosen["feature_types"] == ["q", "q", "c", "c"]
    else:
        assert positions in [chosen.get(k) for k in ("model__categorical_feature", "model__cat_features",
                                                     "categorical_features")]
    score = {name: nbml.evaluate(r, on="test").metrics[metric] for name, r in (("native", native), ("onehot", onehot))}
    assert score["native"] >= score["onehot"] - 0.01, score


def test_catboost_regression_keeps_one_hot(mixed):
    split = nbml.split(mixed.drop(columns="level"), target="value", seed=0, activate=False)
    assert nbml.train(small("catboost", "regression"), split=split).recipe.options.encode == "onehot"


def test_unknown_and_missing_families_are_one_line(monkeypatch, run, ip, iris_cat):
    with pytest.raises(NbmlError, match="not a standard classification model; choose from lr"):
        nbml.standard_model("lightgbm", "classification")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "xgboost" else real(name, *a))
    assert "xgb" not in families("classification") and "lgbm" in families("classification")
    assert missing_families() == {"xgb": "pip install 'nbml[boost]' (or pip install xgboost)"}
    assert skipped() == ["skipped: xgb (pip install 'nbml[boost]' (or pip install xgboost))"]
    assert not nbml.models().loc[("classification", "xgb"), "available"]
    with pytest.raises(NbmlError, match=r"needs the xgboost package, which is not installed: pip install 'nbml\[boost\]'"):
        nbml.standard_model("xgb", "regression")
    ip.user_ns["iris"] = iris_cat
    run("%split iris --target species --seed 0")
    one_line(run("%compare --models lr,xgb --cv 2"), "xgboost", "nbml[boost]")
    cell = run("%compare --models all --cv 2")
    assert cell.error is None, cell.err
    assert "skipped: xgb (pip install 'nbml[boost]'" in cell.out and "XGBClassifier" not in cell.value.index


def test_importing_nbml_imports_no_boosting_library():
    code = ("import sys, nbml, nbml.standard, nbml.boost; nbml.models(); nbml.standard.families('regression'); "
            "print(sorted(m for m in ('lightgbm', 'xgboost', 'catboost') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
