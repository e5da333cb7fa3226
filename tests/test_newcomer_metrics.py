"""Metrics users type (issue 16, item 6): scikit-learn's scorer names are metrics wherever nbml
takes one, with scikit-learn's scorers as the oracle; result tables say how multiclass metrics
average; a model without probabilities still gets its ROC AUC from decision scores."""
import numpy as np
import pytest
from IPython.core.error import UsageError
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge, RidgeClassifier
from sklearn.svm import SVC

from nbml.metrics import compute, metric_names

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning",
                                        "ignore::sklearn.exceptions.UndefinedMetricWarning")

CLASSIFIERS = [LogisticRegression(max_iter=2000), SVC(), RidgeClassifier()]


def _data(kind, labels):
    if kind == "regression":
        X, y = load_diabetes(return_X_y=True)
        return X[::2], y[::2], X[1::2], y[1::2]
    X, y = (load_iris if kind == "multiclass" else load_breast_cancer)(return_X_y=True)
    if labels == "str":
        y = np.array(["setosa", "versicolor", "virginica"] if kind == "multiclass" else ["benign", "malignant"])[y]
    return X[::2], y[::2], X[1::2], y[1::2]


def _predictions(model, X, y, Xt):
    model.fit(X, y)
    proba = model.predict_proba(Xt) if hasattr(model, "predict_proba") else None
    scores = model.decision_function(Xt) if proba is None else None
    return model.predict(Xt), proba, scores


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
@pytest.mark.parametrize("model", CLASSIFIERS, ids=lambda m: type(m).__name__)
def test_every_scorer_name_is_scikit_learns_scorer(kind, model):
    X, y, Xt, yt = _data(kind, "int")
    y_pred, proba, scores = _predictions(model, X, y, Xt)
    got = compute("classification", yt, y_pred, model.classes_, proba=proba, scores=scores)
    assert list(got) == ["accuracy", "precision", "recall", "f1", "roc_auc"] + (["log_loss"] if proba is not None
                                                                                   else [])
    for name in metric_names("classification")[6:]:
        try:
            want = skm.get_scorer(name)(model, Xt, yt)
        except (AttributeError, ValueError):  # no probabilities, or a binary-only scorer on 3 classes
            continue
        if name == "average_precision" and kind == "multiclass" and proba is not None:
            continue  # nbml ranks by the probabilities; scikit-learn's scorer prefers decision_function here
        assert got[name] == pytest.approx(want, rel=1e-9, abs=1e-12), name
    for name in ("balanced_accuracy", "f1_macro", "f1_weighted", "matthews_corrcoef"):
        assert name in got  # computed on first ask and kept


def test_string_classes_use_the_second_class_as_positive():
    X, y, Xt, yt = _data("binary", "str")
    model = LogisticRegression(max_iter=2000)
    y_pred, proba, _ = _predictions(model, X, y, Xt)
    got = compute("classification", yt, y_pred, model.classes_, proba=proba)
    assert got["average_precision"] == pytest.approx(
        skm.average_precision_score(yt == "malignant", proba[:, 1]))
    assert got["neg_log_loss"] == pytest.approx(-skm.log_loss(yt, proba))
    weights = np.linspace(0.5, 2, len(yt))
    weighted = compute("classification", yt, y_pred, model.classes_, proba=proba, sample_weight=weights)
    assert weighted["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(yt, y_pred,
                                                                                     sample_weight=weights))


def test_regression_scorer_names():
    X, y, Xt, yt = _data("regression", None)
    model = Ridge().fit(X, y)
    got = compute("regression", yt, model.predict(Xt))
    for name in metric_names("regression")[4:]:
        try:
            want = skm.get_scorer(name)(model, Xt, yt)
        except ValueError:  # e.g. the log errors of a negative prediction
            continue
        assert got[name] == pytest.approx(want, rel=1e-9), name
    assert got.get("no_such_metric") is None and got.get("f1_macro") is None


@pytest.mark.parametrize("model", [SVC(), RidgeClassifier()], ids=lambda m: type(m).__name__)
def test_roc_auc_from_decision_scores_for_every_class_count(model):
    for kind in ("binary", "multiclass"):
        X, y, Xt, yt = _data(kind, "str")
        y_pred, _, scores = _predictions(model, X, y, Xt)
        got = compute("classification", yt, y_pred, model.classes_, scores=scores)
        if kind == "binary":
            want = skm.roc_auc_score(yt == model.classes_[1], scores)
        else:  # one-vs-rest on each class's decision score, macro average
            want = np.mean([skm.roc_auc_score(yt == c, scores[:, j]) for j, c in enumerate(model.classes_)])
        assert got["roc_auc"] == pytest.approx(want), kind


@pytest.fixture
def iris_lr(ip, run, iris_named):
    ip.user_ns["iris"] = iris_named
    cell = run("%split iris --target species --seed 0\n"
               "from sklearn.linear_model import LogisticRegression\n"
               "%train LogisticRegression(max_iter=1000) -o lr")
    assert cell.error is None, cell.err
    return ip


def test_tune_takes_scikit_learn_scorer_names(iris_lr, run):
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    import nbml
    from nbml.folds import make_folds

    cell = run("%%tune lr --metric f1_macro --method random --trials 2 --cv 3 -o tuned\nC = loguniform(1e-2, 1e2)")
    assert cell.error is None, cell.err
    tuned = iris_lr.user_ns["tuned"]
    assert "best f1_macro" in cell.out
    recipe = nbml.prepare(iris_lr.user_ns["lr"])
    s = recipe.split
    for _, trial in tuned.trials.iterrows():
        model = clone(recipe.pipeline).set_params(**{k: trial["C"] for k in recipe.pipeline.get_params()
                                                     if k.endswith("__C")})
        want = cross_val_score(model, s.X_trainval, s.y_trainval, scoring="f1_macro",
                               cv=make_folds("classification", 3, recipe.seed)).mean()
        assert trial["score"] == pytest.approx(want)
    for line, phrase in [("%tune lr --metric f1_macr --trials 2", "'f1_macr' is not a metric nbml knows"),
                         ("%tune lr --metric neg_root_mean_squared_error --trials 2", "metric='neg_root_mean_squared_error'")]:
        cell = run(line)
        assert isinstance(cell.error, UsageError) and phrase in str(cell.error), (line, str(cell.error))


def test_check_metric_names_the_close_ones():
    from nbml.metrics import check_metric

    assert check_metric("f1_macro", "classification") == "f1_macro"
    assert check_metric(None, "regression") == "r2"
    assert check_metric("neg_root_mean_squared_error", "regression") == "neg_root_mean_squared_error"
    with pytest.raises(ValueError, match=r"'f1_macr' is not a metric nbml knows \(did you mean 'f1_macro'"):
        check_metric("f1_macr", "classification")
    with pytest.raises(ValueError, match="'r2' is a regression metric but the task is classification"):
        check_metric("r2", "classification")


def test_result_tables_say_how_metrics_average(iris_lr, run, cancer):
    shown = repr(iris_lr.user_ns["lr"])
    assert "precision, recall and f1: macro averages over the 3 classes; roc_auc: one-vs-rest" in shown
    assert "macro averages over the 3 classes" in iris_lr.user_ns["lr"]._repr_html_()
    cell = run("%evaluate lr")
    assert "macro averages over the 3 classes" in cell.out
    iris_lr.user_ns["cancer"] = cancer
    cell = run("%split cancer --target target\n%train LogisticRegression(max_iter=3000)")
    assert "precision, recall and f1 of the positive class 1" in cell.out, cell.out
