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


def _every_dtype(n=40, seed=0):
    """One column of each dtype split() meets, interleaved so that a dtype spans several blocks;
    floats hold NaN and -0.0 (pandas hashes them canonically)."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=n)
    f[:3] = [np.nan, -0.0, 0.0]
    df = pd.DataFrame({"f": f, "i": rng.integers(0, 5, n), "s": rng.choice(["a", "b", None], n),
                       "f32": f.astype("float32"), "b": rng.random(n) > 0.5,
                       "o": pd.Series(rng.choice(["a", 1, 2.5, None], n), dtype=object),
                       "cat": pd.Categorical(rng.choice(["x", "y"], n)), "flag": pd.Categorical([True, False] * (n // 2)),
                       "dt": pd.date_range("2020", periods=n), "tz": pd.date_range("2020", periods=n, tz="UTC"),
                       "td": pd.to_timedelta(np.arange(n), unit="s"), "I": pd.array(rng.integers(0, 3, n), dtype="Int64"),
                       "B": pd.array([True, None] * (n // 2), dtype="boolean"), "u8": rng.integers(0, 5, n).astype("uint8"),
                       "f2": rng.normal(size=n), "i2": rng.integers(0, 5, n),
                       "text": pd.Series(rng.choice(["a", "b", None], n), dtype="string[python]"),
                       "words": pd.Series(rng.choice(["c", "a", None], n), dtype=pd.StringDtype("pyarrow", na_value=np.nan))})
    return df


def test_fingerprint_keeps_its_values_on_wide_and_mixed_frames():
    """Stored runs and resumed searches find their data by fingerprint: the faster hashing of wide
    frames gives exactly pandas' row hashes and the fingerprint the original formula gave."""
    import hashlib

    from nbml.data import fingerprint, row_hashes

    def original(X, y):
        h = hashlib.sha256()
        h.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
        h.update(repr([(str(c), str(t)) for c, t in X.dtypes.items()]).encode())
        if y is not None:
            h.update(pd.util.hash_pandas_object(y, index=False).to_numpy().tobytes())
        return h.hexdigest()[:16]

    rng = np.random.default_rng(1)
    frames = [_every_dtype(), _every_dtype().iloc[::3], pd.DataFrame(rng.normal(size=(30, 700))),
              pd.DataFrame(index=range(4)), pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype=str)})]
    for X in frames:
        assert np.array_equal(row_hashes(X), pd.util.hash_pandas_object(X, index=False).to_numpy())
        y = pd.Series(np.arange(len(X)) % 2, index=X.index)
        assert fingerprint(X, y) == original(X, y) and fingerprint(X, None) == original(X, None)


def test_fingerprint_of_a_known_split_is_unchanged(cancer):
    assert nbml.split(cancer, target="target", seed=0).fingerprint == "14989c93ef52397c"


def test_feature_types_of_every_dtype_match_the_kind_of_each_column():
    from nbml.data import column_kind, column_kinds, is_timedelta

    X = _every_dtype()
    assert column_kinds(X) == ["timedelta" if is_timedelta(X[c]) else column_kind(X[c]) for c in X.columns]
    assert nbml.data.feature_types(X) == {"numeric": 7, "categorical": 5, "boolean": 3, "datetime": 2, "timedelta": 1}


def test_mixed_number_and_text_columns_are_noted_and_text_columns_are_not():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({f"x{i}": rng.normal(size=30) for i in range(50)})
    df["words"] = rng.choice(["a", "b"], 30)  # text
    df["codes"] = pd.Series(rng.choice(["a", "b", None], 30), dtype=object)  # text, as objects
    df["ids"] = pd.Series(rng.integers(0, 9, 30), dtype=object)  # numbers, as objects
    df["mixed"] = pd.Series(["a", 1, 2.5] * 10, dtype=object)
    df["y"] = [0, 1] * 15
    s = nbml.split(df, target="y")
    assert "column(s) 'mixed' mix numbers and text: encoded as text" in s.notes
