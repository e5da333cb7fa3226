"""%calibrate / nbml.calibrate: CalibratedClassifierCV fit inside the training rows, scored on validation."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier

import nbml
from helpers import refused as one_line
from nbml.errors import NbmlError


@pytest.fixture(scope="module")
def cancer_split(cancer):
    return nbml.split(cancer, target="target", seed=0, activate=False)


@pytest.fixture(scope="module")
def naive_bayes(cancer_split):
    return nbml.train(GaussianNB(), split=cancer_split)


def test_calibrated_model_is_scikit_learns_fit_on_the_training_rows(naive_bayes, cancer_split):
    calibrated = nbml.calibrate(naive_bayes)
    assert isinstance(calibrated, nbml.TrainResult) and calibrated.fitted_on == "train"
    assert isinstance(calibrated.model, CalibratedClassifierCV) and calibrated.model.method == "sigmoid"
    s = cancer_split
    oracle = CalibratedClassifierCV(clone(naive_bayes.pipeline), method="sigmoid", cv=5).fit(s.X_train, s.y_train)
    proba = oracle.predict_proba(s.X_val)
    assert calibrated.metrics["accuracy"] == pytest.approx(accuracy_score(s.y_val, oracle.predict(s.X_val)))
    assert calibrated.metrics["log_loss"] == pytest.approx(log_loss(s.y_val, proba))
    # before and after on the validation rows, in the note and as a table
    before = naive_bayes.predictions.proba[:, 1]
    table = nbml.calibration.reliability(naive_bayes.predictions, calibrated.predictions)
    assert table.loc["brier", "before"] == pytest.approx(brier_score_loss(s.y_val, before))
    assert table.loc["brier", "after"] == pytest.approx(brier_score_loss(s.y_val, proba[:, 1]))
    assert table.loc["log_loss", "after"] < table.loc["log_loss", "before"]  # naive Bayes is overconfident
    assert "brier" in calibrated.note and "log loss" in calibrated.note and "→" in calibrated.note
    assert "validation rows" in calibrated.note and naive_bayes.fitted_on == "train"  # the input is unchanged


def test_calibrate_magic_multiclass_isotonic_then_evaluate_and_finalize(ip, run, iris_named):
    ip.user_ns["iris_named"] = iris_named
    run("%split iris_named --target species")
    run("from sklearn.svm import LinearSVC")
    assert run("%train LinearSVC() -o svm").error is None
    cell = run("%calibrate svm --method isotonic -o svm_cal")
    assert cell.error is None, cell.err
    calibrated = ip.user_ns["svm_cal"]
    assert calibrated.model.method == "isotonic"
    X = calibrated.split.X_test
    proba = calibrated.predict_proba(X)  # LinearSVC has none; the calibrated model has, one column per class
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(axis=1), 1)
    assert "no probabilities →" in calibrated.note  # before: decision scores only
    figure = calibrated.plot_reliability()  # one-vs-rest: one axis per class, "before" has nothing to draw
    assert [ax.get_title() for ax in figure.axes] == [f"Reliability: {c} vs rest (validation)"
                                                      for c in ("setosa", "versicolor", "virginica")]
    assert all("before: no probabilities" in [t.get_text() for t in ax.get_legend().get_texts()] for ax in figure.axes)
    evaluation = run("%evaluate svm_cal --on test").value
    assert evaluation.metrics["accuracy"] > 0.8
    assert run("%finalize svm_cal -o final").error is None
    assert ip.user_ns["final"].fitted_on == "all"


def test_calibrating_a_cross_validated_result_compares_on_validation(cancer_split):
    result = nbml.train(LogisticRegression(max_iter=500), split=cancer_split, cv=3)
    calibrated = nbml.calibrate(result, method="isotonic")
    assert calibrated.cv is None and calibrated.predictions.label == "validation"
    assert len(calibrated.predictions.y_true) == len(cancer_split.X_val)


def test_bad_input_is_one_line(ip, run, diabetes, cancer):
    ip.user_ns.update(diabetes=diabetes, cancer=cancer)
    run("%split diabetes --target target")
    run("from sklearn.linear_model import LinearRegression")
    run("%train LinearRegression() -o linear")
    one_line(run("%calibrate linear"), "regression", "classifier")
    one_line(run("%calibrate nothing_here"))
    one_line(run("%calibrate linear --method platt"))
    ip.user_ns["not_a_result"] = 3
    one_line(run("%calibrate not_a_result"), "trained result")
    run("%split cancer --target target --val 0")
    run("from sklearn.naive_bayes import GaussianNB")
    run("%train GaussianNB() --cv 3 -o nb_cv")
    one_line(run("%calibrate nb_cv"), "no validation rows")


def test_function_refusals(naive_bayes, diabetes):
    with pytest.raises(NbmlError, match="sigmoid or isotonic"):
        nbml.calibrate(naive_bayes, method="beta")
    split = nbml.split(diabetes, target="target", activate=False)
    with pytest.raises(NbmlError, match="regression"):
        nbml.calibrate(nbml.train(LinearRegression(), split=split))


def test_leak_audit_coin_flips_and_a_memorizing_model_stay_at_chance():
    """Calibration's own folds cut the training rows only: coin-flip labels and 1-NN give chance
    on the validation rows (and on the test rows)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(1000, 5)), columns=[f"x{i}" for i in range(5)])
    frame["y"] = rng.integers(0, 2, size=len(frame))
    split = nbml.split(frame, target="y", seed=0, activate=False)
    calibrated = nbml.calibrate(nbml.train(KNeighborsClassifier(n_neighbors=1), split=split))
    assert calibrated.metrics["accuracy"] < 0.6
    assert nbml.evaluate(calibrated, on="test").metrics["accuracy"] < 0.6
    assert nbml.evaluate(calibrated, on="train").metrics["accuracy"] > 0.6  # it did memorize something


def test_panel_of_a_calibrated_result_refits_the_calibration(naive_bayes):
    pytest.importorskip("ipywidgets")
    from nbml.widgets import Panel

    calibrated = nbml.calibrate(naive_bayes)
    p = Panel(calibrated, space={"method": ["sigmoid", "isotonic"]}, background=False)
    assert [c.name for c in p.controls] == ["method"]
    assert p.current.val["accuracy"] == pytest.approx(calibrated.metrics["accuracy"])
    # the base model's own parameters are reached through the calibration by their short names
    p = Panel(calibrated, params="var_smoothing", background=False)
    assert [c.key for c in p.controls] == ["estimator__model__var_smoothing"]
    p.controls[0].widget.value = 1e-3
    kept = p.keep("smoother")
    assert isinstance(kept.model, CalibratedClassifierCV) and kept.model.estimator.get_params()["model__var_smoothing"] == 1e-3


def test_panel_magic_of_a_calibrated_result(ip, run, cancer):
    pytest.importorskip("ipywidgets")
    ip.user_ns["cancer"] = cancer
    run("%split cancer --target target")
    run("from sklearn.linear_model import LogisticRegression")
    run("%train LogisticRegression(max_iter=2000) -o lr")
    run("%calibrate lr -o lr_cal")
    cell = run("%panel lr_cal --params C -o w")
    assert cell.error is None, cell.err
    panel = ip.user_ns["w"].panel
    assert [c.key for c in panel.controls] == ["estimator__model__C"]
    assert panel.current.val["accuracy"] == pytest.approx(ip.user_ns["lr_cal"].metrics["accuracy"])
    # with no --params and no space, the calibrated model's own default controls (C for a logistic regression)
    cell = run("%panel lr_cal -o w2")
    assert cell.error is None, cell.err
    assert [c.key for c in ip.user_ns["w2"].panel.controls] == ["estimator__model__C"]
    cell = run("%threshold lr --value 0.4 -o lr_t")
    assert cell.error is None, cell.err
    assert run("%panel lr_t -o w3").error is None
    assert [c.key for c in ip.user_ns["w3"].panel.controls] == ["estimator__model__C"]


def test_reliability_curves_brier_and_log_loss_are_shown(naive_bayes, cancer_split):
    from sklearn.calibration import calibration_curve

    calibrated = nbml.calibrate(naive_bayes)
    table = calibrated.calibration
    assert table.equals(nbml.calibration.reliability(naive_bayes.predictions, calibrated.predictions))
    page = calibrated._repr_html_()
    assert page.count("<img") == 2 and "Brier score" in page and "log loss" in page  # the usual plots, then these
    assert "Brier score" in repr(calibrated) and f"{table.loc['log_loss', 'before']:.4f}" in repr(calibrated)
    figure = calibrated.plot_reliability()
    (ax,) = figure.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["perfectly calibrated", "before", "after"]
    after = ax.get_lines()[2]
    y_val = np.asarray(cancer_split.y_val) == 1
    fraction, mean = calibration_curve(y_val, calibrated.predictions.proba[:, 1], n_bins=10)
    np.testing.assert_allclose(after.get_xdata(), mean)
    np.testing.assert_allclose(after.get_ydata(), fraction)
    assert isinstance(calibrated, nbml.TrainResult)  # a normal result: finalized, it keeps the table
    final = nbml.finalize(calibrated)
    assert final.fitted_on == "all" and final.calibration.equals(table)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_a_calibrated_model_deploys_and_loads_with_the_same_probabilities(naive_bayes, cancer_split, tmp_path, method):
    calibrated = nbml.calibrate(naive_bayes, method=method)
    nbml.deploy(calibrated, tmp_path / "calibrated")
    package = nbml.load(tmp_path / "calibrated")
    X = cancer_split.X_test
    np.testing.assert_allclose(package.predict_proba(X), calibrated.predict_proba(X))
