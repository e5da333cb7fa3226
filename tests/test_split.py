"""nbml.split: task inference, ratios, stratification, summary, active dataset."""
import numpy as np
import pandas as pd
import pytest

import nbml
from nbml.data import infer_task


def test_task_inference_by_target_dtype():
    assert infer_task(pd.Series(["a", "b", "a"])) == "classification"
    assert infer_task(pd.Series([True, False, True])) == "classification"
    assert infer_task(pd.Series(pd.Categorical(["x", "y", "x"]))) == "classification"
    assert infer_task(pd.Series(np.arange(100) % 3)) == "classification"  # few integers
    assert infer_task(pd.Series(np.arange(100))) == "regression"  # many integers
    assert infer_task(pd.Series(np.linspace(0, 1, 50))) == "regression"
    assert infer_task(None) == "clustering"


def test_default_split_is_60_20_20_and_stratified(cancer):
    s = nbml.split(cancer, target="target", seed=0)
    n = len(cancer)
    assert (len(s.X_train), len(s.X_val), len(s.X_test)) == (n - 2 * round(0.2 * n), round(0.2 * n), round(0.2 * n))
    assert s.task == "classification" and list(s.classes_) == [0, 1]
    overall = cancer.target.mean()
    for y in (s.y_train, s.y_val, s.y_test):
        assert abs(y.mean() - overall) < 0.02
    assert "target" not in s.X_train.columns
    assert nbml.active_split() is s
    # no row in two parts
    idx = [set(p.index) for p in (s.X_train, s.X_val, s.X_test)]
    assert not (idx[0] & idx[1]) and not (idx[0] & idx[2]) and not (idx[1] & idx[2])


@pytest.mark.parametrize("kwargs", [dict(ratio="70-15-15"), dict(test=15, val=15), dict(test=0.15, val=0.15)])
def test_usual_ratios(diabetes, kwargs):
    s = nbml.split(diabetes, target="target", **kwargs)
    n = len(diabetes)
    assert len(s.X_test) == round(0.15 * n) and len(s.X_val) == round(0.15 * n)
    assert s.task == "regression" and s.classes_ is None


def test_same_seed_same_split_other_seed_differs(cancer):
    a = nbml.split(cancer, target="target", seed=7)
    b = nbml.split(cancer, target="target", seed=7)
    c = nbml.split(cancer, target="target", seed=8)
    assert list(a.X_test.index) == list(b.X_test.index)
    assert list(a.X_test.index) != list(c.X_test.index)


def test_clustering_without_target():
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(200, centers=3, random_state=0)
    s = nbml.split(X)
    assert s.task == "clustering" and s.y_train is None and list(s.X_train.columns) == ["x0", "x1"]


def test_numpy_array_and_series_are_accepted():
    X = np.random.default_rng(0).normal(size=(100, 3))
    y = (X[:, 0] > 0).astype(int)
    s = nbml.split(X, target=y)
    assert s.task == "classification" and s.X_train.shape[1] == 3
    s2 = nbml.split(pd.Series(X[:, 0], name="f"), target=y)
    assert list(s2.X_train.columns) == ["f"]


def test_summary_shows_rows_and_class_balance(iris_named):
    s = nbml.split(iris_named, target="species")
    text = repr(s)
    assert "classification on target 'species'" in text and "species=setosa" in text
    assert "4 numeric" in text
    assert "train" in s.summary().index and s.summary().loc["test", "rows"] == 30
    assert "<table" in s._repr_html_()


def test_feature_types_reported():
    df = pd.DataFrame({"n": np.arange(50.0), "c": ["a", "b"] * 25, "b": [True, False] * 25,
                       "d": pd.date_range("2024-01-01", periods=50, freq="D"), "y": [0, 1] * 25})
    s = nbml.split(df, target="y")
    assert s.feature_types() == {"numeric": 1, "categorical": 1, "boolean": 1, "datetime": 1}
