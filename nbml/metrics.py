"""Metric sets per task, computed together from one set of predictions.

The classification metrics share one confusion matrix and one label encoding instead of
re-validating the inputs per metric, which is where most of the time of scoring goes on
small data. Each agrees with its scikit-learn counterpart (tests check it):
precision/recall/F1 are binary for two classes (positive = the second class) and macro
averages otherwise; ROC AUC is one-vs-rest macro for more than two classes.
"""
from __future__ import annotations

import math

import numpy as np

from nbml.errors import NbmlError

CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION = ("mse", "rmse", "mae", "r2")
CLUSTERING = ("silhouette", "davies_bouldin")
METRICS = {"classification": CLASSIFICATION, "regression": REGRESSION, "clustering": CLUSTERING}
# lower is better for these; everything else is higher-is-better
LOWER_IS_BETTER = {"log_loss", "mse", "rmse", "mae", "davies_bouldin"}
# the metric that sums a model up, per task (used for gap warnings and as the default to tune)
PRIMARY = {"classification": "accuracy", "regression": "r2", "clustering": "silhouette"}


def greater_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def metric_names(task: str) -> tuple:
    try:
        return METRICS[task]
    except KeyError:
        raise NbmlError(f"task={task!r} has no metrics; use one of {', '.join(METRICS)}") from None


def encode(y, classes) -> np.ndarray:
    """Indices of ``y`` in ``classes``; -1 where a label is not among them."""
    classes = np.asarray(classes)
    y = np.asarray(y)
    try:
        order = np.argsort(classes)
        pos = np.searchsorted(classes, y, sorter=order)
        pos = np.clip(pos, 0, len(classes) - 1)
        codes = order[pos]
        codes = np.where(classes[codes] == y, codes, -1)
        return codes
    except TypeError:  # mixed types that do not sort: fall back to a dict
        lookup = {c: i for i, c in enumerate(classes.tolist())}
        return np.array([lookup.get(v, -1) for v in y.tolist()])


def classification_metrics(y_true, y_pred, classes, proba=None, scores=None, sample_weight=None) -> dict:
    """All classification metrics from labels, predicted labels and (optionally)
    probabilities ``proba`` (columns in ``classes`` order) or decision ``scores``.
    ``sample_weight`` weighs rows (a coreset's weights)."""
    k = len(classes)
    t = encode(y_true, classes)
    p = encode(y_pred, classes)
    keep = t >= 0
    t_k, p_k = t[keep], np.where(p[keep] >= 0, p[keep], k)  # unknown predictions: an extra column
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    n = len(t) if w is None else w.sum()
    cm = np.bincount(t_k * (k + 1) + p_k, weights=None if w is None else w[keep],
                     minlength=k * (k + 1)).reshape(k, k + 1)[:, :k]
    tp = np.diag(cm).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    actual = cm.sum(axis=1).astype(float)
    out = {"accuracy": float(tp.sum() / n) if n else math.nan}
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
    if k == 2:
        out.update(precision=float(precision[1]), recall=float(recall[1]), f1=float(f1[1]))
    else:
        present = (actual > 0) | (predicted > 0)  # sklearn's macro average covers seen labels
        out.update(precision=float(precision[present].mean()), recall=float(recall[present].mean()),
                   f1=float(f1[present].mean()))
    if w is not None:
        return _weighted_scores(out, t, keep, k, actual, proba, scores, w)
    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        if k == 2:
            out["roc_auc"] = _binary_auc(t[keep] == 1, proba[keep, 1])
        else:
            aucs = [_binary_auc(t[keep] == j, proba[keep, j]) for j in range(k) if 0 < actual[j] < keep.sum()]
            out["roc_auc"] = float(np.mean(aucs)) if aucs else math.nan
        out["log_loss"] = _log_loss(t, proba)
    elif scores is not None and k == 2:
        scores = np.asarray(scores, dtype=float).reshape(len(t), -1)[:, -1]
        out["roc_auc"] = _binary_auc(t[keep] == 1, scores[keep])
    return out


def _weighted_scores(out, t, keep, k, actual, proba, scores, w):
    """ROC AUC and log loss with row weights (scikit-learn's weighted definitions)."""
    from sklearn.metrics import roc_auc_score

    def auc(positive, score, weight):
        if positive.all() or not positive.any():
            return math.nan
        return float(roc_auc_score(positive, score, sample_weight=weight))

    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        if k == 2:
            out["roc_auc"] = auc(t[keep] == 1, proba[keep, 1], w[keep])
        else:
            aucs = [auc(t[keep] == j, proba[keep, j], w[keep]) for j in range(k) if actual[j] > 0]
            out["roc_auc"] = float(np.nanmean(aucs)) if aucs else math.nan
        p = proba / proba.sum(axis=1, keepdims=True)
        eps = np.finfo(p.dtype).eps
        picked = np.where(t >= 0, p[np.arange(len(t)), np.clip(t, 0, None)], eps)
        out["log_loss"] = float(-np.average(np.log(np.clip(picked, eps, 1 - eps)), weights=w))
    elif scores is not None and k == 2:
        s = np.asarray(scores, dtype=float).reshape(len(t), -1)[:, -1]
        out["roc_auc"] = auc(t[keep] == 1, s[keep], w[keep])
    return out


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann–Whitney statistic (ties count one half), as sklearn computes it."""
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _log_loss(t: np.ndarray, proba: np.ndarray) -> float:
    proba = proba / proba.sum(axis=1, keepdims=True)
    eps = np.finfo(proba.dtype).eps
    rows = np.arange(len(t))
    picked = np.where(t >= 0, proba[rows, np.clip(t, 0, None)], eps)
    return float(-np.mean(np.log(np.clip(picked, eps, 1 - eps))))


def regression_metrics(y_true, y_pred, sample_weight=None) -> dict:
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float).reshape(y_true.shape)
    w = np.ones(len(y_true)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    err = y_true - y_pred
    mse = float(np.average(err ** 2, weights=w))
    ss_tot = float(np.sum(w * (y_true - np.average(y_true, weights=w)) ** 2))
    r2 = 1 - float(np.sum(w * err ** 2)) / ss_tot if ss_tot > 0 else math.nan
    return {"mse": mse, "rmse": math.sqrt(mse), "mae": float(np.average(np.abs(err), weights=w)), "r2": r2}


def clustering_metrics(X, labels, seed: int = 0, max_rows: int = 5000) -> dict:
    """Silhouette (on at most ``max_rows`` sampled rows, seeded) and Davies–Bouldin."""
    from sklearn.metrics import davies_bouldin_score, silhouette_score

    labels = np.asarray(labels)
    n_labels = len(np.unique(labels))
    if n_labels < 2 or n_labels >= len(labels):
        return {"silhouette": math.nan, "davies_bouldin": math.nan}
    sample = min(len(labels), max_rows) if len(labels) > max_rows else None
    return {"silhouette": float(silhouette_score(X, labels, sample_size=sample, random_state=seed)),
            "davies_bouldin": float(davies_bouldin_score(X, labels))}


def compute(task: str, y_true=None, y_pred=None, classes=None, proba=None, scores=None,
            X=None, seed: int = 0, sample_weight=None) -> dict:
    """The metric set of ``task`` (see ``METRICS``) as a dict name → float; ``sample_weight``
    weighs rows (classification and regression)."""
    if task == "classification":
        return classification_metrics(y_true, y_pred, classes, proba=proba, scores=scores,
                                      sample_weight=sample_weight)
    if task == "regression":
        return regression_metrics(y_true, y_pred, sample_weight=sample_weight)
    if task == "clustering":
        return clustering_metrics(X, y_pred, seed=seed)
    raise NbmlError(f"task={task!r} has no metrics; use one of {', '.join(METRICS)}")


def sklearn_scoring(task: str, n_classes: int = 2) -> dict:
    """The scikit-learn scorer names equal to nbml's metrics (for baselines and search)."""
    if task == "classification":
        if n_classes == 2:
            return {"accuracy": "accuracy", "precision": "precision", "recall": "recall", "f1": "f1",
                    "roc_auc": "roc_auc", "log_loss": "neg_log_loss"}
        return {"accuracy": "accuracy", "precision": "precision_macro", "recall": "recall_macro",
                "f1": "f1_macro", "roc_auc": "roc_auc_ovr", "log_loss": "neg_log_loss"}
    if task == "regression":
        return {"mse": "neg_mean_squared_error", "rmse": "neg_root_mean_squared_error",
                "mae": "neg_mean_absolute_error", "r2": "r2"}
    raise NbmlError(f"no scikit-learn scoring for task={task!r}")
