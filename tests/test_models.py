"""The standard families (issue 17, item 1): every one trains through %compare on mixed data with
a string target, has a default search space, and nbml.models() lists them."""
import numpy as np
import pandas as pd
import pytest

import nbml
from nbml.errors import NbmlError
from nbml.standard import families


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(0)
    n = 240
    x = rng.normal(size=(n, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["colour"] = rng.choice(["red", "green", "blue"], n)
    frame.loc[rng.random(n) < 0.05, "a"] = np.nan
    frame["label"] = np.where(x[:, 0] + (frame["colour"] == "red") + rng.normal(0, 0.5, n) > 0.5, "yes", "no")
    frame["amount"] = 3 * x[:, 1] + rng.normal(0, 0.3, n)
    return frame


@pytest.mark.parametrize("task,target,drop", [("classification", "label", "amount"),
                                              ("regression", "amount", "label")])
def test_every_family_trains_and_has_a_default_space(mixed, task, target, drop):
    from nbml.tuning.defaults import default_space

    split = nbml.split(mixed.drop(columns=drop), target=target, seed=0, activate=False)
    names = list(families(task))
    table = nbml.compare(models=names, cv=3, split=split)
    assert set(table.index) == {nbml.standard_model(n, task).__class__.__name__ for n in names}
    primary = "accuracy" if task == "classification" else "r2"
    assert table[primary].notna().all()
    for name in names:
        assert default_space(nbml.standard_model(name, task)), name


def test_models_lists_the_families_and_bad_names_are_one_line():
    listed = nbml.models()
    for short in ("hgb", "et", "ada", "lda", "qda"):
        assert short in listed.loc["classification"].index
    assert "lda" not in listed.loc["regression"].index
    with pytest.raises(NbmlError, match="not a standard classification model; choose from lr, ridge"):
        nbml.standard_model("xgboost", "classification")


def test_compare_in_parallel_gives_the_same_table(mixed):
    split = nbml.split(mixed.drop(columns="amount"), target="label", seed=0, activate=False)
    one = nbml.compare(models="lr,tree,hgb", cv=3, split=split)
    two = nbml.compare(models="lr,tree,hgb", cv=3, split=split, n_jobs=2)
    columns = [c for c in one.columns if c not in ("fit_time", "scored_by")]
    pd.testing.assert_frame_equal(one[columns], two[columns])


def test_compare_sorts_by_a_scorer_name_and_says_which_models_give_no_probabilities(mixed, ip, run):
    ip.user_ns["mixed"] = mixed.drop(columns="amount")
    run("%split mixed --target label --seed 0")
    cell = run("%compare --models lr,svm,ridge --cv 3 --sort-by f1_macro --n-jobs 2")
    assert cell.error is None, cell.err
    table = cell.value
    assert table["f1_macro"].is_monotonic_decreasing and table["f1_macro"].notna().all()
    assert dict(table["probabilities"]) == {"LogisticRegression": "yes", "SVC": "no", "RidgeClassifier": "no"}
    assert table.loc["SVC", "roc_auc"] > 0.5  # from its decision function
    bad = run("%compare --models lr --sort-by f1_macr")
    assert "did you mean 'f1_macro'" in str(bad.error)


def test_compare_scores_training_rows_only_when_asked(mixed, ip, run):
    ip.user_ns["mixed"] = mixed.drop(columns="amount")
    run("%split mixed --target label --seed 0")
    plain = run("%compare --models lr,tree --cv 3 -o board")
    assert plain.error is None, plain.err
    assert all(not r.train_metrics for r in ip.user_ns["board"].attrs["results"].values())
    cell = run("%compare --models lr,tree --cv 3 --train-scores -o board2")
    assert cell.error is None, cell.err
    trained = ip.user_ns["board2"].attrs["results"]
    assert all(r.train_metrics for r in trained.values())
    assert trained["tree"].train_metrics["accuracy"] == 1.0  # a full tree memorizes its rows
