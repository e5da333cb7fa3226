"""%threshold / nbml.threshold: a binary classifier's decision threshold, chosen out-of-fold on the
training rows by scikit-learn's TunedThresholdClassifierCV, kept as a FixedThresholdClassifier that
predict, %evaluate, %deploy and the service all use."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score, make_scorer
from sklearn.model_selection import FixedThresholdClassifier, TunedThresholdClassifierCV

import nbml
from helpers import refused as one_line
from nbml.errors import NbmlError

ROOT = Path(__file__).resolve().parent.parent
POSITIVE = "malignant"  # the second of the sorted classes ("benign", "malignant")


@pytest.fixture(scope="module")
def cancer_named(cancer):
    frame = cancer.copy()
    frame["diagnosis"] = frame.pop("target").map({0: "malignant", 1: "benign"})
    return frame


@pytest.fixture(scope="module")
def cancer_split(cancer_named):
    return nbml.split(cancer_named, target="diagnosis", seed=0, activate=False)


@pytest.fixture(scope="module")
def logit(cancer_split):
    return nbml.train(LogisticRegression(max_iter=1000), split=cancer_split)


@pytest.fixture(scope="module")
def by_f1(logit):
    return nbml.threshold(logit, metric="f1")


def test_the_threshold_is_scikit_learns_chosen_on_the_training_rows_only(logit, by_f1, cancer_split):
    s = cancer_split
    oracle = TunedThresholdClassifierCV(clone(logit.pipeline), scoring=make_scorer(f1_score, pos_label=POSITIVE),
                                        cv=5, store_cv_results=True).fit(s.X_train, s.y_train)
    assert by_f1.threshold == pytest.approx(oracle.best_threshold_)
    assert by_f1.threshold_curve["f1"].max() == pytest.approx(oracle.best_score_)
    np.testing.assert_allclose(by_f1.threshold_curve["threshold"], oracle.cv_results_["thresholds"])
    # the result's model: the pipeline at that threshold, fit on the training rows, scored on validation
    assert isinstance(by_f1, nbml.TrainResult) and by_f1.fitted_on == "train"
    assert isinstance(by_f1.model, FixedThresholdClassifier) and by_f1.model.threshold == by_f1.threshold
    fixed = FixedThresholdClassifier(clone(logit.pipeline), threshold=oracle.best_threshold_).fit(s.X_train, s.y_train)
    assert by_f1.metrics["f1"] == pytest.approx(f1_score(s.y_val, fixed.predict(s.X_val), pos_label=POSITIVE))
    proba = by_f1.predict_proba(s.X_test)[:, 1]
    expected = np.where(proba >= by_f1.threshold, POSITIVE, "benign")
    assert (by_f1.predict(s.X_test) == expected).all()
    assert "validation rows, which did not choose it" in by_f1.note and "training rows" in by_f1.note
    assert logit.fitted_on == "train" and not isinstance(logit.model, FixedThresholdClassifier)  # input unchanged


@pytest.mark.parametrize("metric, score", [
    ("balanced_accuracy", balanced_accuracy_score),
    ("youden", lambda y, p: 2 * balanced_accuracy_score(y, p) - 1),  # J = TPR - FPR = 2·balanced accuracy - 1
])
def test_balanced_accuracy_and_youden_choose_by_their_own_score(logit, cancer_split, metric, score):
    s = cancer_split
    result = nbml.threshold(logit, metric=metric, cv=3)
    oracle = TunedThresholdClassifierCV(clone(logit.pipeline), scoring=make_scorer(score), cv=3).fit(s.X_train, s.y_train)
    assert result.threshold == pytest.approx(oracle.best_threshold_)
    assert result.threshold_metric == metric


def test_cost_is_the_mean_cost_per_row_of_false_positives_and_negatives(logit, cancer_split):
    s = cancer_split
    result = nbml.threshold(logit, metric="cost:1,5")

    def cost(y, pred):
        tn, fp, fn, tp = confusion_matrix(y, pred, labels=["benign", POSITIVE]).ravel()
        return (1 * fp + 5 * fn) / len(y)
    oracle = TunedThresholdClassifierCV(clone(logit.pipeline), scoring=make_scorer(cost, greater_is_better=False),
                                        cv=5).fit(s.X_train, s.y_train)
    assert result.threshold == pytest.approx(oracle.best_threshold_)
    curve = result.threshold_curve
    assert curve.columns[1] == "cost (FP 1, FN 5) per row" and curve.iloc[:, 1].min() == pytest.approx(-oracle.best_score_)
    assert result.threshold <= 0.5  # a missed malignant tumour costs 5 times a false alarm: flag more


def test_magic_threshold_then_evaluate_keep_a_value_and_finalize(ip, run, cancer_named):
    ip.user_ns["cancer_named"] = cancer_named
    run("%split cancer_named --target diagnosis")
    run("from sklearn.linear_model import LogisticRegression")
    assert run("%train LogisticRegression(max_iter=1000) -o logit").error is None
    cell = run("%threshold logit --metric youden -o logit_t")
    assert cell.error is None, cell.err
    chosen = ip.user_ns["logit_t"]
    assert isinstance(chosen, nbml.TrainResult) and chosen.threshold_metric == "youden"
    X, y = chosen.split.X_test, chosen.split.y_test
    evaluation = run("%evaluate logit_t --on test").value
    assert evaluation.metrics["recall"] == pytest.approx(np.mean(chosen.predict(X)[np.asarray(y) == POSITIVE] == POSITIVE))
    # a given threshold replaces the chosen one (the panel's slider keeps one this way)
    assert run("%threshold logit_t --value 0.9 -o strict").error is None
    strict = ip.user_ns["strict"]
    assert strict.threshold == 0.9 and strict.threshold_curve is None and "given" in strict.note
    assert not isinstance(strict.model.estimator, FixedThresholdClassifier)  # not a threshold over a threshold
    assert chosen.threshold < 0.9 and (strict.predict(X) == POSITIVE).sum() < (chosen.predict(X) == POSITIVE).sum()
    assert run("%finalize logit_t -o final").error is None
    final = ip.user_ns["final"]
    assert final.fitted_on == "all" and final.model.threshold == chosen.threshold


def test_the_threshold_travels_into_the_package_and_the_service(by_f1, cancer_split, tmp_path):
    s = cancer_split
    nbml.deploy(by_f1, tmp_path / "pkg")
    package = nbml.load(tmp_path / "pkg")
    assert package.model.threshold == by_f1.threshold
    X = s.X_test
    assert list(package.predict(X)) == list(by_f1.predict(X))
    proc = subprocess.Popen([sys.executable, "-m", "nbml", "serve", str(tmp_path / "pkg"), "--port", "0", "--no-log"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().split(" at ")[1].split(" ")[0]
        body = httpx.post(f"{url}/predict", json=json.loads(X.to_json(orient="records")), timeout=20).json()
    finally:
        proc.terminate()
        proc.wait(20)
    at_threshold = np.where(np.asarray(body["probabilities"])[:, 1] >= by_f1.threshold, POSITIVE, "benign")
    assert body["predictions"] == list(by_f1.predict(X)) == list(at_threshold)


def test_the_curve_is_drawn_in_its_html_and_on_demand(by_f1, logit):
    page = by_f1._repr_html_()
    assert page.count("<img") == 2 and "Decision threshold" in page  # the usual plots, then the curve
    figure = by_f1.plot_threshold()
    ax = figure.axes[0]
    assert ax.get_xlabel() == "decision threshold" and ax.get_ylabel() == "f1"
    given = nbml.threshold(logit, value=0.4)
    assert given.threshold == 0.4 and given._repr_html_().count("<img") == 1
    with pytest.raises(NbmlError, match="given threshold"):
        given.plot_threshold()


def test_a_model_without_probabilities_moves_its_decision_score(cancer_split):
    from sklearn.svm import LinearSVC

    svm = nbml.train(LinearSVC(), split=cancer_split)
    result = nbml.threshold(svm, metric="balanced_accuracy", cv=3)
    X = cancer_split.X_test
    expected = np.where(result.model.decision_function(X) >= result.threshold, POSITIVE, "benign")
    assert (result.predict(X) == expected).all() and "the default is 0" in result.note


def test_leak_audit_coin_flips_and_a_memorizing_model_stay_at_chance():
    """Chosen on out-of-fold predictions of the training rows: with coin-flip labels and a
    forest that memorizes, the validation and test scores stay at chance."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(800, 5)), columns=[f"x{i}" for i in range(5)])
    frame["y"] = rng.integers(0, 2, size=len(frame))
    split = nbml.split(frame, target="y", seed=0, activate=False)
    forest = nbml.train(RandomForestClassifier(n_estimators=30, random_state=0), split=split)
    result = nbml.threshold(forest, metric="balanced_accuracy", cv=3)
    assert result.metrics["accuracy"] < 0.6
    assert nbml.evaluate(result, on="test").metrics["accuracy"] < 0.6
    assert nbml.evaluate(result, on="train").metrics["accuracy"] > 0.9  # it did memorize the training rows


def test_bad_input_is_one_line(ip, run, diabetes, iris_named, cancer_named):
    ip.user_ns.update(diabetes=diabetes, iris_named=iris_named, cancer_named=cancer_named)
    run("from sklearn.linear_model import LinearRegression, LogisticRegression")
    run("%split diabetes --target target")
    run("%train LinearRegression() -o linear")
    one_line(run("%threshold linear"), "regression", "binary classifier")
    run("%split iris_named --target species")
    run("%train LogisticRegression(max_iter=500) -o three")
    one_line(run("%threshold three"), "3 classes", "binary classification only")
    run("%split cancer_named --target diagnosis")
    run("%train LogisticRegression(max_iter=1000) -o two")
    one_line(run("%threshold two --metric precision"), "'precision'", "f1, balanced_accuracy, youden, cost:FP,FN")
    for bad in ("cost:1", "cost:a,b", "cost:0,0", "cost:-1,2", "cost:1,2,3", "costly:1,2"):
        one_line(run(f"%threshold two --metric {bad}"), "cost:FP,FN")
    one_line(run("%threshold two --value 1.5"), "outside [0, 1]")
    one_line(run("%threshold two --cv 1"), "--cv 1")
    one_line(run("%threshold nothing_here"), "not defined")
    ip.user_ns["not_a_result"] = 3
    one_line(run("%threshold not_a_result"), "trained result")
    run("%finalize two -o two_final")
    one_line(run("%threshold two_final"), "final model", "before finalizing")


def test_function_refusals(logit, diabetes, cancer_named):
    for kwargs, words in [({"metric": "accuracy"}, "not a threshold metric"), ({"metric": 3}, "not a threshold metric"),
                          ({"metric": "cost:1;5"}, "cost:FP,FN"), ({"value": True}, "not a threshold"),
                          ({"value": "0.5"}, "not a threshold"), ({"value": float("nan")}, "not a threshold"),
                          ({"value": -0.1}, "outside [0, 1]"), ({"cv": 1}, "fold count"), ({"cv": 2.5}, "fold count")]:
        with pytest.raises(NbmlError, match=words.replace("[", r"\[").replace("]", r"\]")):
            nbml.threshold(logit, **kwargs)
    split = nbml.split(diabetes, target="target", activate=False)
    with pytest.raises(NbmlError, match="regression"):
        nbml.threshold(nbml.train(LinearRegression(), split=split))
    no_val = nbml.split(cancer_named, target="diagnosis", val=0, activate=False)
    with pytest.raises(NbmlError, match="no validation rows"):
        nbml.threshold(nbml.train(LogisticRegression(max_iter=1000), split=no_val, cv=3))


@pytest.mark.parametrize("family", ["hgb", "svm"])
def test_families_threshold_calibrate_and_deploy(family, cancer_split, tmp_path):
    """Histogram trees (an unfitted template inside the wrapper) and decision scores (svm):
    thresholded and calibrated, each deploys with its predictions (every family of
    %compare --models all was checked so, lgbm, xgb and catboost included)."""
    base = nbml.train(nbml.standard_model(family, "classification"), split=cancer_split)
    X = cancer_split.X_test
    for made in (nbml.threshold(base, metric="balanced_accuracy", cv=3), nbml.calibrate(base)):
        nbml.deploy(made, tmp_path / "pkg")
        assert list(nbml.load(tmp_path / "pkg").predict(X)) == list(made.predict(X))


def test_nbml_threshold_stays_the_function_once_its_module_is_imported():
    import nbml.thresholding  # what %threshold imports

    assert callable(nbml.threshold) and nbml.threshold is nbml.thresholding.threshold
