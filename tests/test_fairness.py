"""Fairness (issue 19, item 7): ``%fairness NAME --by COL[,COL]`` / ``nbml.fairness(result, by=…)``
— metrics per group on held-out rows only through fairlearn's MetricFrame, the largest gaps
(demographic parity and equalized odds differences), checked against a pandas groupby."""
import numpy as np
import pandas as pd
import pytest
from helpers import refused

import nbml
from nbml import NbmlError


@pytest.fixture(scope="module")
def people():
    """300 rows; the model sees 'group' and 'age' (a number with many values)."""
    rng = np.random.default_rng(0)
    n = 300
    group = rng.choice(["a", "b", "c"], n)
    age = rng.integers(18, 80, n)
    score = rng.normal(size=n) + (group == "a") * 0.8 + (age - 50) / 30
    label = np.where(score + rng.normal(scale=0.7, size=n) > 0.3, "yes", "no")
    return pd.DataFrame({"group": group, "age": age, "score": score, "label": label})


@pytest.fixture(scope="module")
def result(people):
    from sklearn.linear_model import LogisticRegression

    split = nbml.split(people, target="label", seed=0, activate=False)
    return nbml.train(LogisticRegression(max_iter=1000), split=split)


def test_per_group_rates_and_gaps_match_a_groupby(result):
    report = nbml.fairness(result, by="group")
    X, y = result.split.X_val, result.split.y_val
    frame = pd.DataFrame({"group": X["group"], "true": y == "yes", "called": result.model.predict(X) == "yes"})
    frame["right"] = frame["true"] == frame["called"]
    by_hand = frame.groupby("group").apply(lambda g: pd.Series({
        "rows": len(g), "accuracy": g["right"].mean(), "selection rate": g["called"].mean(),
        "true positive rate": g.loc[g["true"], "called"].mean(),
        "false positive rate": g.loc[~g["true"], "called"].mean()}), include_groups=False)
    table = report.by_group
    assert list(table.index) == ["a", "b", "c"] and table["rows"].sum() == len(X)  # validation rows only
    for column in by_hand.columns:
        assert np.allclose(table[column], by_hand[column]), column
    spread = by_hand.max() - by_hand.min()
    assert report.gaps["demographic parity difference"] == pytest.approx(spread["selection rate"])
    assert report.gaps["equalized odds difference"] == pytest.approx(
        max(spread["true positive rate"], spread["false positive rate"]))
    assert report.overall["accuracy"] == pytest.approx(frame["right"].mean())
    assert "positive class 'yes'" in repr(report) and "demographic parity difference" in report._repr_html_()


def test_numbers_are_grouped_at_training_quartiles_and_columns_combine(result):
    report = nbml.fairness(result, by=["group", "age"], on="test")
    assert report.by_group["rows"].sum() == len(result.split.X_test)
    assert report.by_group.index.nlevels == 2 and report.by_group.index.get_level_values("age").nunique() == 4
    assert any("age: a number column, grouped in 4 bins" in note for note in report.notes)


def test_regression_groups(diabetes):
    from sklearn.linear_model import Ridge

    split = nbml.split(diabetes, target="target", seed=0, activate=False)
    ridge = nbml.train(Ridge(), split=split)
    report = nbml.fairness(ridge, by="sex")
    error = (pd.Series(ridge.model.predict(split.X_val), index=split.X_val.index) - split.y_val).abs()
    by_hand = error.groupby(split.X_val["sex"]).mean()
    assert np.allclose(report.by_group["mae"], by_hand.to_numpy())
    assert report.gaps["mae difference"] == pytest.approx(by_hand.max() - by_hand.min())
    assert list(report.gaps.index) == ["mae difference", "r2 difference"]


def test_fairness_magic_in_a_shell(ip, run, result, monkeypatch):
    import sys

    ip.user_ns["model"] = result
    cell = run("%fairness model --by group -o fair")
    assert cell.error is None, cell.err
    assert ip.user_ns["fair"].by_group["rows"].sum() == len(result.split.X_val)
    cell = run("%fairness model --by group --on test --pos-label no")
    assert cell.error is None and cell.value.pos_label == "no", cell.err
    refused(run("%fairness model --by colour"), "column 'colour' is not in the split", "its columns are group, age, score")
    refused(run("%fairness model --by group --on train"), "train")
    monkeypatch.setitem(sys.modules, "fairlearn.metrics", None)
    refused(run("%fairness model --by group"), "pip install nbml[fairness]")


def test_refusals(result):
    final = nbml.finalize(result)
    with pytest.raises(NbmlError, match="so a score there would not be held out"):
        nbml.fairness(final, by="group")
    with pytest.raises(NbmlError, match="pos_label='maybe' is not a class"):
        nbml.fairness(result, by="group", pos_label="maybe")
    with pytest.raises(NbmlError, match="fairness is measured on held-out rows"):
        nbml.fairness(result, by="group", on="train")
