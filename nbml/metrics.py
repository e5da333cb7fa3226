"""Metric sets per task, computed together from one set of predictions — the one table of
the metrics nbml takes.

The classification metrics share one confusion matrix and one label encoding instead of
re-validating the inputs per metric, which is where most of the time of scoring goes on
small data. Each agrees with its scikit-learn counterpart (tests check it):
precision/recall/F1 are binary for two classes (positive = the second class) and macro
averages otherwise; ROC AUC is one-vs-rest macro for more than two classes.

Beyond the set a table shows (``METRICS``), every scikit-learn scorer name of the task
(``SCORER_NAMES``: ``f1_macro``, ``balanced_accuracy``, ``neg_log_loss``,
``neg_root_mean_squared_error``, …) is a metric too: ``compute`` returns a ``Metrics`` dict that
computes such a name from the same predictions the first time it is asked for, with
scikit-learn's own scorer (its value, its sign: a ``neg_`` loss is negated, so greater is
better). For those, the positive class of a binary task is the second class, as for nbml's.
"""
from __future__ import annotations

import functools
import math
import os
import sys
import types
from dataclasses import dataclass

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


# scikit-learn's scorer names a task takes besides nbml's own (multilabel ``*_samples`` and the
# clustering scores that need true labels are left out); those this scikit-learn lacks are dropped
_CLASSIFICATION_SCORERS = (
    "balanced_accuracy", "f1_macro", "f1_weighted", "f1_micro", "precision_macro", "precision_weighted",
    "precision_micro", "recall_macro", "recall_weighted", "recall_micro", "roc_auc_ovr", "roc_auc_ovo",
    "roc_auc_ovr_weighted", "roc_auc_ovo_weighted", "average_precision", "neg_log_loss", "neg_brier_score",
    "matthews_corrcoef", "jaccard", "jaccard_macro", "jaccard_weighted", "jaccard_micro", "top_k_accuracy",
    "d2_log_loss_score", "d2_brier_score", "positive_likelihood_ratio", "neg_negative_likelihood_ratio")
_REGRESSION_SCORERS = (
    "neg_mean_squared_error", "neg_root_mean_squared_error", "neg_mean_absolute_error",
    "neg_median_absolute_error", "neg_mean_absolute_percentage_error", "neg_max_error", "explained_variance",
    "neg_mean_squared_log_error", "neg_root_mean_squared_log_error", "neg_mean_poisson_deviance",
    "neg_mean_gamma_deviance", "d2_absolute_error_score")
# scorers of one positive class: defined for two classes only
BINARY_ONLY = {"jaccard", "positive_likelihood_ratio", "neg_negative_likelihood_ratio"}


def _scorer_names(task: str) -> tuple:
    from sklearn.metrics import get_scorer_names

    known = set(get_scorer_names())
    wanted = {"classification": _CLASSIFICATION_SCORERS, "regression": _REGRESSION_SCORERS}.get(task, ())
    return tuple(name for name in wanted if name in known and name not in METRICS[task])


def greater_is_better(metric: str) -> bool:
    """nbml's losses are lower-is-better; every other name (scikit-learn's scorers, whose losses
    are negated ``neg_…``) is higher-is-better; an added metric says itself."""
    if metric in _ADDED:
        return _ADDED[metric].greater_is_better
    return metric not in LOWER_IS_BETTER


def metric_names(task: str) -> tuple:
    """Every metric name ``task`` takes: nbml's own (``METRICS``, the set tables show) first,
    then those added with ``add_metric`` (tables show them too), then scikit-learn's scorer names."""
    try:
        own = METRICS[task]
    except KeyError:
        raise NbmlError(f"task={task!r} has no metrics; use one of {', '.join(METRICS)}") from None
    return own + tuple(added_names(task)) + _scorer_names(task)


def check_metric(metric, task: str) -> str:
    """``metric`` when ``task`` takes it (None: the task's primary metric); otherwise one line
    naming the close names, or the task it belongs to."""
    import difflib

    if metric is None:
        return PRIMARY[task]
    names = metric_names(task)
    if isinstance(metric, str) and metric in names:
        return metric
    other = next((t for t in METRICS if t != task and isinstance(metric, str) and metric in metric_names(t)), None)
    if other:
        why = f"is a {other} metric but the task is {task}"
    else:
        close = difflib.get_close_matches(str(metric), names, n=3)
        why = "is not a metric nbml knows" + (f" (did you mean {' or '.join(map(repr, close))}?)" if close else "")
    raise NbmlError(f"metric={metric!r} {why}; use one of {', '.join(METRICS[task] + added_names(task))}, or a "
                    f"scikit-learn scorer name such as {', '.join(_scorer_names(task)[:4])}")


def averaging(task: str, classes) -> str:
    """How the classification metrics of a table average over classes, in words ('' otherwise)."""
    if task != "classification" or classes is None:
        return ""
    classes = [c.item() if isinstance(c, np.generic) else c for c in classes]
    if len(classes) == 2:
        return f"precision, recall and f1 of the positive class {classes[1]!r}; roc_auc of its scores"
    return (f"precision, recall and f1: macro averages over the {len(classes)} classes; roc_auc: one-vs-rest, "
            f"macro average")


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
    elif scores is not None:  # no probabilities: ROC AUC from the decision scores (log loss needs probabilities)
        scores = np.asarray(scores, dtype=float).reshape(len(t), -1)
        if k == 2:
            out["roc_auc"] = _binary_auc(t[keep] == 1, scores[keep, -1])
        elif scores.shape[1] == k:  # one column per class (one-vs-rest): macro average as with probabilities
            aucs = [_binary_auc(t[keep] == j, scores[keep, j]) for j in range(k) if 0 < actual[j] < keep.sum()]
            out["roc_auc"] = float(np.mean(aucs)) if aucs else math.nan
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
    elif scores is not None:
        s = np.asarray(scores, dtype=float).reshape(len(t), -1)
        if k == 2:
            out["roc_auc"] = auc(t[keep] == 1, s[keep, -1], w[keep])
        elif s.shape[1] == k:
            aucs = [auc(t[keep] == j, s[keep, j], w[keep]) for j in range(k) if actual[j] > 0]
            out["roc_auc"] = float(np.nanmean(aucs)) if aucs else math.nan
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


class Metrics(dict):
    """The metric set of a task as name → float; any other name the task takes (a scikit-learn
    scorer name, see ``metric_names``) is computed from the same predictions when first asked
    for (``m["f1_macro"]``, ``m.get("balanced_accuracy")``) and kept. An unknown name is a
    KeyError (``get``: the default), as in a dict."""

    def __init__(self, values, task, y_true, y_pred, classes=None, proba=None, scores=None, sample_weight=None):
        super().__init__(values)
        self._source = (task, y_true, y_pred, classes, proba, scores, sample_weight)

    def __missing__(self, name):
        task = self._source[0]
        if isinstance(name, str) and name in added_names(task):  # added after these values were computed
            value = added_values(*self._source)[name]
        elif not isinstance(name, str) or name not in _scorer_names(task):
            raise KeyError(name)
        else:
            value = scorer_value(name, *self._source)
        self[name] = value
        return value

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def __reduce__(self):  # a copy or a pickle keeps the values computed so far
        return (dict, (dict(self),))


def scorer_value(name, task, y_true, y_pred, classes=None, proba=None, scores=None, sample_weight=None) -> float:
    """scikit-learn's scorer ``name`` on these predictions (its own value and sign); NaN where
    the model gives no probabilities or scores the scorer needs. A model that gives
    probabilities is scored on them (scikit-learn's scorer may prefer a ``decision_function``
    for ranking scores such as ``average_precision``, so the value can differ there)."""
    import warnings

    from sklearn.metrics import get_scorer

    weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if task == "classification":
        if len(classes) > 2 and name in BINARY_ONLY:
            instead = f"{name}_macro" if f"{name}_macro" in _scorer_names(task) else "f1_macro"
            raise NbmlError(f"metric {name!r} is defined for two classes but this target has {len(classes)}: "
                            f"use {instead}")
        t = encode(y_true, classes)
        keep = t >= 0  # (labels the model never saw: left out, as nbml's own metrics do)
        replay = _replay("classifier", classes_=np.arange(len(classes)), labels=encode(y_pred, classes)[keep],
                         proba=None if proba is None else np.asarray(proba, dtype=float)[keep],
                         scores=None if scores is None else np.asarray(scores, dtype=float)[keep])
        y, weight = t[keep], None if weight is None else weight[keep]
    else:
        replay, y = _replay("regressor", labels=np.asarray(y_pred, dtype=float)), np.asarray(y_true, dtype=float)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # undefined precision and the like: the value says it
            return float(get_scorer(name)(replay, np.arange(len(y)), y, sample_weight=weight))
    except AttributeError:  # no probabilities (or decision scores) that the scorer needs
        return math.nan
    except ValueError as exc:
        raise NbmlError(f"metric {name!r} cannot be computed here: {str(exc).splitlines()[0]}") from None


@functools.lru_cache(maxsize=None)
def _replay_classes() -> dict:
    """Estimators that replay a fitted model's predictions to a scikit-learn scorer (made on
    first use: scikit-learn's base classes give them their type). A classifier has
    ``predict_proba`` / ``decision_function`` only where the model gave them, as the model has."""
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

    class Replay(BaseEstimator):
        def predict(self, X):
            return self.labels

    class Proba:
        def predict_proba(self, X):
            return self.proba

    class Scores:
        def decision_function(self, X):
            scores = self.scores
            return scores if scores.ndim == 1 or scores.shape[1] > 1 else scores[:, -1]

    classes = {"regressor": type("ReplayRegressor", (RegressorMixin, Replay), {})}
    for proba in (False, True):
        for scores in (False, True):
            bases = (ClassifierMixin,) + ((Proba,) if proba else ()) + ((Scores,) if scores else ()) + (Replay,)
            classes["classifier", proba, scores] = type("ReplayClassifier", bases, {})
    return classes


def _replay(kind, **arrays):
    if kind == "classifier":
        kind = (kind, arrays.get("proba") is not None, arrays.get("scores") is not None)
    replay = _replay_classes()[kind]()
    replay.__dict__.update(arrays)
    return replay


def compute(task: str, y_true=None, y_pred=None, classes=None, proba=None, scores=None,
            X=None, seed: int = 0, sample_weight=None) -> dict:
    """The metric set of ``task`` (see ``METRICS``) as a dict name → float; ``sample_weight``
    weighs rows (classification and regression). For classification and regression a
    ``Metrics`` dict: scikit-learn's scorer names are computed from the same predictions on
    first ask."""
    if task == "classification":
        values = classification_metrics(y_true, y_pred, classes, proba=proba, scores=scores,
                                        sample_weight=sample_weight)
        values.update(added_values(task, y_true, y_pred, classes, proba, scores, sample_weight))
        return Metrics(values, task, y_true, y_pred, classes, proba, scores, sample_weight)
    if task == "regression":
        values = regression_metrics(y_true, y_pred, sample_weight=sample_weight)
        values.update(added_values(task, y_true, y_pred, sample_weight=sample_weight))
        return Metrics(values, task, y_true, y_pred, sample_weight=sample_weight)
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


# -- metrics of one's own: nbml.add_metric ---------------------------------------------------------

# what an added metric is computed from -> scikit-learn's response_method ("decision": ranking
# scores, the decision function where the model has one, else its probabilities)
NEEDS = {"pred": "predict", "proba": "predict_proba", "decision": ("decision_function", "predict_proba")}


@dataclass(frozen=True)
class AddedMetric:
    """A metric added with ``add_metric``: a scikit-learn scorer (``scorer(estimator, X, y)``)
    and how to read it. ``task`` None: every task its ``needs`` allows."""

    name: str
    scorer: object
    greater_is_better: bool
    needs: str
    task: str | None

    def applies(self, task) -> bool:
        if task not in ("classification", "regression"):
            return False
        return self.task == task or (self.task is None and (task == "classification" or self.needs == "pred"))


_ADDED: dict = {}  # name -> AddedMetric, in the order added


def added_names(task) -> tuple:
    return tuple(name for name, m in _ADDED.items() if m.applies(task))


def _builtin_names() -> set:
    from sklearn.metrics import get_scorer_names

    return set(get_scorer_names()).union(*METRICS.values())


def add_metric(name, func, greater_is_better=True, needs="pred", task=None, **kwargs):
    """Add a metric of your own (PyCaret's ``add_metric``): ``func(y_true, y, **kwargs) -> float``
    where ``y`` is what ``needs`` says — ``"pred"`` labels or values, ``"proba"`` probabilities
    (two classes: of the positive, second class; more: one column per class), ``"decision"``
    ranking scores (the decision function, else probabilities) — or any scikit-learn scorer
    object (``make_scorer(…)``; its value and sign are the scorer's, so greater is better).
    From then on it is a column of every table (train, compare, tune, evaluate, the panel), a
    ``--metric`` and ``--sort-by`` choice, and listed by ``nbml.metrics()``; it travels by value
    to parallel workers. ``task``: "classification" or "regression" (None: both where ``needs``
    allows). Adding a name again replaces it; ``remove_metric(name)`` takes it away."""
    if not isinstance(name, str) or not name.strip():
        raise NbmlError(f"add_metric needs a name (a non-empty string); got {name!r}")
    if name in _builtin_names():
        raise NbmlError(f"metric name {name!r} is built in (nbml or scikit-learn); give yours another name, "
                        f"e.g. 'my_{name}'")
    if task not in (None, "classification", "regression"):
        raise NbmlError(f"task={task!r} is not a task an added metric can have; use 'classification', "
                        f"'regression' or None (both)")
    from sklearn.metrics import make_scorer
    from sklearn.metrics._scorer import _BaseScorer

    if isinstance(func, _BaseScorer):
        method = getattr(func, "_response_method", "predict")
        needs = "pred" if method == "predict" else "proba" if method == "predict_proba" else "decision"
        scorer, greater_is_better = func, True
    elif callable(func):
        if needs not in NEEDS:
            raise NbmlError(f"needs={needs!r} is not one of {', '.join(map(repr, NEEDS))}: say what {name!r} is "
                            f"computed from (labels, probabilities or decision scores)")
        scorer = make_scorer(func, response_method=NEEDS[needs], **kwargs)
    else:
        raise NbmlError(f"metric {name!r}: func must be a function (y_true, y) -> float or a scikit-learn scorer; "
                        f"got {type(func).__name__}")
    if task == "regression" and needs != "pred":
        raise NbmlError(f"metric {name!r} needs {needs} but regression models give values only; use needs='pred'")
    _ADDED[name] = AddedMetric(name=name, scorer=scorer, greater_is_better=bool(greater_is_better),
                               needs=needs, task=task)
    return table().loc[lambda t: t.index.get_level_values("name") == name]


def remove_metric(name) -> None:
    """Take away a metric added with ``add_metric``."""
    if name not in _ADDED:
        added = ", ".join(_ADDED) or "none so far"
        raise NbmlError(f"metric {name!r} was not added with add_metric (added: {added})")
    del _ADDED[name]


def added() -> tuple:
    """The added metrics as they travel to worker processes: (this process's id, name -> metric)."""
    return os.getpid(), dict(_ADDED)


def carry_in(snapshot) -> None:
    """In a worker process: the parent's added metrics, by value (in the parent: nothing)."""
    if snapshot and snapshot[0] != os.getpid():
        _ADDED.clear()
        _ADDED.update(snapshot[1])


def added_values(task, y_true, y_pred, classes=None, proba=None, scores=None, sample_weight=None) -> dict:
    """The added metrics of ``task`` on these predictions; NaN where the model gives no
    probabilities or scores a metric needs. A metric that raises is one line naming it."""
    import warnings

    wanted = [m for m in _ADDED.values() if m.applies(task)]
    if not wanted or y_true is None:
        return {}
    weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if task == "classification":  # the labels as given (a metric may name them), without rows of unseen labels
        keep = encode(y_true, classes) >= 0
        replay = _replay("classifier", classes_=np.asarray(classes), labels=np.asarray(y_pred)[keep],
                         proba=None if proba is None else np.asarray(proba, dtype=float)[keep],
                         scores=None if scores is None else np.asarray(scores, dtype=float)[keep])
        y, weight = np.asarray(y_true)[keep], None if weight is None else weight[keep]
    else:
        replay, y = _replay("regressor", labels=np.asarray(y_pred, dtype=float)), np.asarray(y_true, dtype=float)
    extra = {} if weight is None else {"sample_weight": weight}
    out = {}
    for m in wanted:
        methods = NEEDS["decision"] if m.needs == "decision" else (NEEDS[m.needs],)
        if not any(hasattr(replay, method) for method in methods):
            out[m.name] = math.nan
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[m.name] = float(m.scorer(replay, np.arange(len(y)), y, **extra))
        except Exception as exc:  # noqa: BLE001 - the user's function: one line naming it and its error
            first = (str(exc).splitlines() or [""])[0]
            raise NbmlError(f"metric {m.name!r} (added with add_metric) failed: {type(exc).__name__}: {first}") \
                from exc
    return out


def _needs_of(name) -> str:
    if name in ("roc_auc",):
        return "decision"
    if name in ("log_loss",):
        return "proba"
    if name in LOWER_IS_BETTER or name in REGRESSION + CLASSIFICATION:
        return "pred"
    from sklearn.metrics import get_scorer

    method = getattr(get_scorer(name), "_response_method", "predict")
    return "pred" if method == "predict" else "proba" if method == "predict_proba" else "decision"


def table(task=None):
    """Every metric nbml takes (PyCaret's ``get_metrics``): per task and name, whether greater
    is better, what it is computed from (``needs``), where it comes from and whether result tables
    show it (``in_tables``; the others are computed when asked for, as ``--metric`` or ``--sort-by``)."""
    import pandas as pd

    tasks = list(METRICS) if task is None else [task]
    rows = []
    for t in tasks:
        if t not in METRICS:
            raise NbmlError(f"task={t!r} has no metrics; use one of {', '.join(METRICS)}")
        for name in metric_names(t):
            source = "added" if name in _ADDED else "nbml" if name in METRICS[t] else "scikit-learn scorer"
            needs = _ADDED[name].needs if name in _ADDED else "clusters" if t == "clustering" else _needs_of(name)
            rows.append({"task": t, "name": name, "greater_is_better": greater_is_better(name), "needs": needs,
                         "source": source, "in_tables": source != "scikit-learn scorer"})
    return pd.DataFrame(rows).set_index(["task", "name"])


class _CallableModule(types.ModuleType):
    """``nbml.metrics`` is this module and, called, its table: ``nbml.metrics(task=None)``."""

    def __call__(self, task=None):
        return table(task)


sys.modules[__name__].__class__ = _CallableModule
