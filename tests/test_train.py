"""nbml.train: preprocessing, metrics, CV without leakage, results, evaluate."""
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline

import nbml
from nbml.metrics import sklearn_scoring


def mixed_frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "num": rng.normal(size=n),
        "cat": rng.choice(["red", "green", "blue"], n),
        "flag": rng.random(n) > 0.5,
        "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
        + pd.to_timedelta(rng.integers(0, 24, n), unit="h"),
    })
    df.loc[rng.choice(n, 20, replace=False), "num"] = np.nan
    df.loc[rng.choice(n, 20, replace=False), "cat"] = None
    logit = 1.5 * df["num"].fillna(0) + (df["cat"] == "red") * 2 - 1 + df["flag"]
    df["label"] = np.where(logit + rng.normal(size=n) > 0, "yes", "no")
    return df


def test_auto_preprocessing_handles_every_column_kind():
    df = mixed_frame()
    s = nbml.split(df, target="label")
    r = nbml.train(LogisticRegression())
    pre = r.model.named_steps["preprocess"]
    names = list(pre.get_feature_names_out())
    assert "num" in names and "flag" in names
    assert {"cat_red", "cat_green", "cat_blue"} <= set(names)
    assert {f"when_{p}" for p in ("year", "month", "day", "weekday", "hour")} <= set(names)
    # string labels in, string labels out
    assert set(r.predict(s.X_test)) <= {"yes", "no"}
    assert r.predict_proba(s.X_test).shape == (len(s.X_test), 2)
    # unknown categories at predict time are ignored, not an error
    new = s.X_test.copy()
    new["cat"] = "purple"
    assert len(r.predict(new)) == len(new)
    assert r.metrics["accuracy"] > 0.7


def test_validation_metrics_equal_sklearn_on_the_same_fit(cancer):
    from sklearn import metrics as skm

    s = nbml.split(cancer, target="target")
    r = nbml.train(LogisticRegression(max_iter=500))
    proba = r.model.predict_proba(s.X_val)[:, 1]
    assert r.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(s.y_val, proba))
    assert r.metrics["accuracy"] == pytest.approx(skm.accuracy_score(s.y_val, r.model.predict(s.X_val)))
    assert r.train_metrics["accuracy"] == pytest.approx(skm.accuracy_score(s.y_train, r.model.predict(s.X_train)))
    assert r.cv is None and r.history is None
    assert set(r.table().columns) == {"train", "validation"}


def test_cv_matches_sklearn_cross_validate(cancer):
    s = nbml.split(cancer, target="target")
    r = nbml.train(LogisticRegression(max_iter=500), cv=5, seed=3)
    assert len(r.cv) == 5
    folds = StratifiedKFold(5, shuffle=True, random_state=3)
    sk = cross_validate(r._pipeline, s.X_trainval, s.y_trainval, cv=folds, scoring=sklearn_scoring("classification"),
                        return_train_score=True)
    for m in ("accuracy", "f1", "roc_auc"):
        np.testing.assert_allclose(r.cv[m].to_numpy(), sk[f"test_{m}"], rtol=1e-9)
        np.testing.assert_allclose(r.cv[f"train_{m}"].to_numpy(), sk[f"train_{m}"], rtol=1e-9)
    np.testing.assert_allclose(r.cv["log_loss"].to_numpy(), -sk["test_log_loss"], rtol=1e-9)
    summary = r.cv_summary
    assert summary.loc["accuracy", "validation"] == pytest.approx(sk["test_accuracy"].mean())
    assert summary.loc["accuracy", "validation ±"] == pytest.approx(2 * sk["test_accuracy"].std())
    # the out-of-fold predictions cover every train+val row once
    assert len(r.predictions.y_pred) == len(s.X_trainval)
    # the model is fitted on the training rows when first used
    assert r._model is None
    assert r.model.predict(s.X_test).shape == (len(s.X_test),)


def test_preprocessing_is_fit_inside_each_fold(diabetes):
    """No leakage: each fold's scaler has the statistics of its own training rows."""
    s = nbml.split(diabetes, target="target")
    X = s.X_trainval
    from nbml.training import make_folds

    captured = []

    class Spy(LinearRegression):  # records what the model sees after preprocessing
        def fit(self, X_, y_, sample_weight=None):
            captured.append(np.asarray(X_).mean(axis=0))
            return super().fit(X_, y_, sample_weight)

    nbml.train(Spy(), cv=4, seed=1)
    for (train_idx, _), means in zip(make_folds("regression", 4, 1).split(X), captured):
        # standardized with the fold's own mean -> exactly zero mean on the fold's training rows
        np.testing.assert_allclose(means, 0, atol=1e-9)
        whole = (X.iloc[train_idx] - X.mean()) / X.std(ddof=0)
        assert np.abs(whole.mean().to_numpy()).max() > 1e-6  # the whole-data scaler would not give 0


def test_regression_and_clustering(diabetes):
    nbml.split(diabetes, target="target")
    r = nbml.train(Ridge())
    assert set(r.metrics) == {"mse", "rmse", "mae", "r2"}
    assert r.metrics["rmse"] == pytest.approx(np.sqrt(r.metrics["mse"]))
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(300, centers=3, random_state=0)
    nbml.split(X)
    c = nbml.train(KMeans(3, n_init=5))
    assert set(c.metrics) == {"silhouette", "davies_bouldin"} and c.metrics["silhouette"] > 0.4


def test_seed_fills_unset_random_state_for_repeatable_runs(cancer):
    nbml.split(cancer, target="target")
    a = nbml.train(RandomForestClassifier(n_estimators=20), cv=3)
    b = nbml.train(RandomForestClassifier(n_estimators=20), cv=3)
    c = nbml.train(RandomForestClassifier(n_estimators=20), cv=3, seed=5)
    assert a.metrics == b.metrics
    assert a.metrics != c.metrics
    assert a.model.named_steps["model"].random_state == 0


def test_overfitting_is_named_in_words(cancer):
    from sklearn.tree import DecisionTreeClassifier

    nbml.split(cancer, target="target")
    r = nbml.train(DecisionTreeClassifier())
    assert r.diagnosis.startswith("Overfitting")
    assert "Overfitting" in repr(r)


def test_underfitting_is_named_in_words(cancer):
    from sklearn.dummy import DummyClassifier

    nbml.split(cancer, target="target")
    assert nbml.train(DummyClassifier()).diagnosis.startswith("Underfitting")


def test_html_repr_has_table_and_plots(cancer):
    nbml.split(cancer, target="target")
    r = nbml.train(LogisticRegression(max_iter=500), cv=3)
    html = r._repr_html_()
    assert "<table" in html and "data:image/png;base64," in html and "3-fold CV" in html
    from nbml import options

    options.plots = False
    try:
        assert "data:image/png" not in nbml.train(LogisticRegression(max_iter=500))._repr_html_()
    finally:
        options.plots = True


def test_evaluate_on_test_with_every_plot(cancer):
    nbml.split(cancer, target="target")
    r = nbml.train(LogisticRegression(max_iter=500))
    ev = nbml.evaluate(r, on="test", plots="roc,pr,cm,learning,calibration")
    assert ev.n_rows == len(r.split.X_test) and 0.9 < ev.metrics["accuracy"] <= 1
    fig = ev.figure()
    assert len(fig.axes) == 5
    assert "data:image/png" in ev._repr_html_()
    for kind in ("roc", "pr", "cm", "calibration"):
        assert r.plot(kind).axes


def test_evaluate_regression_plots(diabetes):
    nbml.split(diabetes, target="target")
    r = nbml.train(Ridge(), cv=3)
    ev = nbml.evaluate(r, plots=["residuals", "actual", "learning"])
    assert set(ev.metrics) == {"mse", "rmse", "mae", "r2"}
    assert len(ev.figure().axes) == 3
    with pytest.raises(ValueError, match="needs a classification task"):
        nbml.evaluate(r, plots="roc")


def test_compare_orders_best_first(cancer):
    from sklearn.dummy import DummyClassifier

    nbml.split(cancer, target="target")
    a, b = nbml.train(DummyClassifier()), nbml.train(LogisticRegression(max_iter=500))
    table = nbml.compare(a, b)
    assert list(table.index) == ["LogisticRegression", "DummyClassifier"]


def test_pipeline_model_and_preprocess_none(cancer):
    from sklearn.preprocessing import StandardScaler

    nbml.split(cancer, target="target")
    pipe = Pipeline([("s", StandardScaler()), ("m", LogisticRegression())])
    r = nbml.train(pipe, preprocess="none")
    assert r.model.steps[0][0] == "s" and r.name == "LogisticRegression"


def test_train_on_data_without_touching_the_active_split(cancer, diabetes):
    active = nbml.split(cancer, target="target")
    r = nbml.train(Ridge(), data=diabetes, target="target")
    assert r.task == "regression" and nbml.active_split() is active
