"""nbml's metric set agrees with scikit-learn's metric functions."""
import numpy as np
import pytest
from sklearn import metrics as skm

from nbml.metrics import classification_metrics, regression_metrics


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("labels", ["int", "str"])
def test_classification_metrics_match_sklearn(k, labels):
    rng = np.random.default_rng(k)
    n = 300
    proba = rng.dirichlet(np.ones(k), size=n)
    t = rng.integers(0, k, n)
    p = proba.argmax(1)
    proba[np.arange(n), t] += 0.3  # some signal
    proba /= proba.sum(1, keepdims=True)
    classes = np.arange(k) if labels == "int" else np.array([f"c{i}" for i in range(k)])
    y_true, y_pred = classes[t], classes[p]
    got = classification_metrics(y_true, y_pred, classes, proba=proba)
    avg = "binary" if k == 2 else "macro"
    extra = {"pos_label": classes[1]} if k == 2 else {}
    want = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred, average=avg, zero_division=0, **extra),
        "recall": skm.recall_score(y_true, y_pred, average=avg, zero_division=0, **extra),
        "f1": skm.f1_score(y_true, y_pred, average=avg, zero_division=0, **extra),
        "roc_auc": skm.roc_auc_score(y_true == classes[1], proba[:, 1]) if k == 2
        else skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes),
        "log_loss": skm.log_loss(y_true, proba, labels=classes),
    }
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_auc_with_ties_and_decision_scores():
    y = np.array([0, 0, 1, 1, 1, 0, 1, 0])
    s = np.array([0.1, 0.4, 0.4, 0.8, 0.8, 0.8, 0.3, 0.2])
    got = classification_metrics(y, (s > 0.5).astype(int), np.array([0, 1]), scores=s)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert "log_loss" not in got


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    p = y + rng.normal(scale=0.5, size=200)
    got = regression_metrics(y, p)
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, p))
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, p))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert got["r2"] == pytest.approx(skm.r2_score(y, p))


@pytest.mark.parametrize("k", [2, 3])
def test_weighted_metrics_match_sklearn(k):
    rng = np.random.default_rng(k)
    n = 200
    proba = rng.dirichlet(np.ones(k), size=n)
    t = rng.integers(0, k, n)
    proba[np.arange(n), t] += 0.3
    proba /= proba.sum(1, keepdims=True)
    p, w = proba.argmax(1), rng.uniform(0.1, 5, n)
    got = classification_metrics(t, p, np.arange(k), proba=proba, sample_weight=w)
    avg = "binary" if k == 2 else "macro"
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(t, p, sample_weight=w))
    assert got["f1"] == pytest.approx(skm.f1_score(t, p, average=avg, sample_weight=w))
    assert got["precision"] == pytest.approx(skm.precision_score(t, p, average=avg, sample_weight=w))
    assert got["log_loss"] == pytest.approx(skm.log_loss(t, proba, sample_weight=w))
    want_auc = skm.roc_auc_score(t, proba[:, 1], sample_weight=w) if k == 2 else \
        skm.roc_auc_score(t, proba, multi_class="ovr", sample_weight=w)
    assert got["roc_auc"] == pytest.approx(want_auc)
    y, q = rng.normal(size=n), rng.normal(size=n)
    reg = regression_metrics(y, q, sample_weight=w)
    assert reg["r2"] == pytest.approx(skm.r2_score(y, q, sample_weight=w))
    assert reg["mae"] == pytest.approx(skm.mean_absolute_error(y, q, sample_weight=w))
