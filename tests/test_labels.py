"""Label issues: confident learning on out-of-fold probabilities, decisions, the store, %labels."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, RidgeClassifier

import nbml
from nbml.labels import LabelIssues


def flip(df, target, share, seed, rows=None):
    """``df`` with ``share`` of the labels (of ``rows``, default all) moved to another class."""
    rng = np.random.default_rng(seed)
    rows = df.index if rows is None else rows
    flipped = rng.choice(rows, int(share * len(rows)), replace=False)
    classes = np.sort(df[target].unique())
    noisy = df.copy()
    for row in flipped:
        others = classes[classes != noisy.at[row, target]]
        noisy.at[row, target] = rng.choice(others)
    return noisy, set(flipped.tolist())


@pytest.fixture(scope="module")
def noisy_cancer(cancer):
    """Breast cancer with 5% of the train+val labels flipped; the test rows stay clean."""
    clean = nbml.split(cancer, target="target", seed=0, activate=False)
    noisy, flipped = flip(cancer, "target", 0.05, seed=1, rows=clean.X_trainval.index)
    return noisy, flipped


@pytest.fixture(scope="module")
def cancer_issues(noisy_cancer, tmp_path_factory):
    noisy, _ = noisy_cancer
    split = nbml.split(noisy, target="target", seed=0, activate=False)
    result = nbml.train(LogisticRegression(max_iter=1000), split=split)
    store = str(tmp_path_factory.mktemp("labels") / "store.db")
    return result, nbml.label_issues(result, name="cancer", storage=store), store


def test_flags_the_flipped_rows(noisy_cancer, cancer_issues):
    _, flipped = noisy_cancer
    result, issues, _ = cancer_issues
    # only the training rows are looked at (validation and test stay the honest checks a retrained
    # model is scored on; issue 14), so recall counts the flipped training rows
    flipped = flipped & set(result.split.X_train.index)
    found = set(issues.index)
    assert found <= set(result.split.X_train.index)
    precision, recall = len(found & flipped) / len(found), len(found & flipped) / len(flipped)
    assert precision >= 0.6 and recall >= 0.6, (precision, recall)  # the 0.7 bar: benchmarks/label_noise.py
    assert list(issues.table.columns[:4]) == ["given", "suggested", "confidence", "quality"]
    assert issues.table.index.name == "row"
    assert (issues["given"] != issues["suggested"]).all()
    assert issues["quality"].is_monotonic_increasing  # most likely wrong first
    assert issues.n_rows == len(issues.split.X_train)  # validation rows stay the honest check (issue 14)
    assert not set(issues.index) & set(issues.split.X_test.index)  # test rows stay the final check
    assert "look mislabeled to LogisticRegression" in repr(issues)
    assert "<table" in issues._repr_html_()


def test_decisions_build_a_cleaned_copy_and_never_touch_the_data(noisy_cancer, cancer_issues):
    noisy, _ = noisy_cancer
    before = noisy.copy()
    result, found, store = cancer_issues
    issues = nbml.label_issues(result, name="decisions", storage=store)
    first, second, third = issues.index[:3]
    issues.relabel(first)
    issues.drop(second)
    issues.keep(third)
    assert issues.decisions.loc[first, "label"] == issues.suggestion(first)
    assert issues.pending[0] == issues.index[3]
    cleaned = issues.cleaned()
    assert len(cleaned) == len(noisy) - 1 and second not in cleaned.index
    assert cleaned.at[first, "target"] == issues.suggestion(first) != noisy.at[first, "target"]
    pd.testing.assert_frame_equal(noisy, before)  # the user's DataFrame is as it was
    assert issues.undo() == (third, "keep", None)
    assert issues.undo() == (second, "drop", None)
    assert second in issues.cleaned().index
    split = issues.cleaned_split()
    assert len(split.X_test) == len(issues.split.X_test) and split.fingerprint != issues.split.fingerprint


def test_decisions_live_in_the_store(cancer_issues):
    result, _, store = cancer_issues
    issues = nbml.label_issues(result, name="resumed", storage=store)
    rows = list(issues.index[:3])
    issues.relabel(rows[0])
    issues.drop(rows[1])
    issues.undo()
    issues.keep(rows[2])
    again = nbml.label_issues(result, name="resumed", storage=store)  # e.g. after a kernel restart
    assert again.decisions.equals(issues.decisions)
    assert list(again.decisions.index) == [rows[0], rows[2]]
    log = nbml.store.label_decisions("resumed", storage=store)
    assert list(log["action"]) == ["relabel", "drop", "undo", "keep"]
    other = nbml.label_issues(result, name="another review", storage=store)
    assert other.decisions.empty


def test_accepting_and_retraining_recovers_accuracy(cancer, noisy_cancer, cancer_issues):
    result, _, store = cancer_issues
    issues = nbml.label_issues(result, name="accept", storage=store)
    assert issues.accept() == len(issues) and not issues.pending
    retrained = issues.retrain()
    assert isinstance(retrained, nbml.TrainResult)
    clean = nbml.train(LogisticRegression(max_iter=1000), split=nbml.split(cancer, target="target", seed=0,
                                                                            activate=False))
    noisy_test = (result.predict(result.split.X_test) == clean.split.y_test).mean()
    retrained_test = (retrained.predict(retrained.split.X_test) == clean.split.y_test).mean()
    assert retrained_test >= noisy_test


def test_string_labels_and_bad_decisions(tmp_path):
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    df = iris.frame.assign(target=iris.target_names[iris.target])
    noisy, _ = flip(df, "target", 0.05, seed=0)
    split = nbml.split(noisy, target="target", seed=0, activate=False)
    result = nbml.train(LogisticRegression(max_iter=1000), split=split)
    issues = nbml.label_issues(result, cv=3, storage=str(tmp_path / "s.db"))
    assert len(issues) > 0 and set(issues["suggested"]) <= set(iris.target_names)
    row = issues.index[0]
    issues.relabel(row, "virginica")
    assert issues.cleaned().at[row, "target"] == "virginica"
    with pytest.raises(ValueError, match="label='tulip' is not a class of 'target'; the classes are"):
        issues.relabel(row, "tulip")
    test_row = split.X_test.index[0]
    with pytest.raises(ValueError, match=f"row={test_row} is not a training row"):
        issues.drop(test_row)


def test_coreset_route_ranks_by_loss_share(tmp_path):
    from sklearn.datasets import make_classification

    X, y = make_classification(4000, 8, n_informative=5, class_sep=2.0, random_state=0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)]).assign(y=y)
    noisy, flipped = flip(df, "y", 0.05, seed=0)
    split = nbml.split(noisy, target="y", seed=0, activate=False)
    result = nbml.train(LogisticRegression(), split=split)
    issues = nbml.label_issues(result, coreset=400, storage=str(tmp_path / "s.db"))
    assert issues.route == "coreset" and "coresets" in issues.summary()
    assert issues["loss_share"].is_monotonic_decreasing
    in_trainval = flipped & set(split.X_train.index)  # only training rows are looked at (issue 14)
    found = set(issues.index)
    assert len(found & in_trainval) / len(in_trainval) >= 0.6
    assert len(found & in_trainval) / len(found) >= 0.6


def test_bad_input_in_the_api(diabetes, cancer):
    split = nbml.split(diabetes, target="target", seed=0, activate=False)
    from sklearn.linear_model import Ridge

    ridge = nbml.train(Ridge(), split=split)
    with pytest.raises(ValueError, match="needs class labels, but this split's task is regression"):
        nbml.label_issues(ridge)
    cancer_split = nbml.split(cancer, target="target", seed=0, activate=False)
    ridge_clf = nbml.train(RidgeClassifier(), split=cancer_split)
    with pytest.raises(TypeError, match="RidgeClassifier gives no predicted probabilities.*LogisticRegression"):
        nbml.label_issues(ridge_clf)
    lr = nbml.train(LogisticRegression(max_iter=1000), split=cancer_split)
    with pytest.raises(ValueError, match="filter_by='best' is not a cleanlab filter"):
        nbml.label_issues(lr, filter_by="best")
    with pytest.raises(ValueError, match="coreset=0 is not a size"):
        nbml.label_issues(lr, coreset=0)
    with pytest.raises(TypeError, match="needs a TrainResult or a classifier"):
        nbml.label_issues(cancer)


# -- the magic ------------------------------------------------------------------------------

def test_labels_magic(run, ip, noisy_cancer, tmp_path):
    noisy, flipped = noisy_cancer
    ip.user_ns["noisy"] = noisy
    ip.run_line_magic("config", f"Nbml.storage = {str(tmp_path / 'magic.db')!r}")
    try:
        assert run("%split noisy --target target --seed 0").error is None
        assert run("from sklearn.linear_model import LogisticRegression").error is None
        assert run("%train LogisticRegression(max_iter=1000) -o lr").error is None
        cell = run("%labels lr -o issues")
        assert cell.error is None, cell.err
        issues = ip.user_ns["issues"]
        assert isinstance(issues, LabelIssues) and issues.name == "lr"
        assert isinstance(cell.value, LabelIssues)
        assert len(set(issues.index) & flipped) >= 0.7 * len(issues)
        cell = run("%labels lr --accept -o accepted;")
        assert cell.error is None and cell.value is None
        assert not ip.user_ns["accepted"].pending
    finally:
        ip.run_line_magic("config", "Nbml.storage = ''")


@pytest.mark.parametrize("setup, line, message", [
    ("%split diabetes --target target\nfrom sklearn.linear_model import Ridge\n%train Ridge() -o reg",
     "%labels reg", "needs class labels, but this split's task is regression"),
    ("%split tiny --target target\nfrom sklearn.linear_model import LogisticRegression\n"
     "%train LogisticRegression() -o small", "%labels small", "fewer than cv=5 folds"),
    ("%split cancer --target target\nfrom sklearn.svm import SVC\n%train SVC() -o svc",
     "%labels svc", "SVC gives no predicted probabilities"),
    ("%split cancer --target target\nfrom sklearn.linear_model import LogisticRegression\n"
     "%train LogisticRegression(max_iter=1000) -o ok", "%labels ok --coreset lots", "--coreset 'lots' is not a size"),
    ("", "%labels nowhere", "name 'nowhere' is not defined"),
])
def test_labels_magic_bad_input(run, ip, cancer, diabetes, setup, line, message):
    tiny = pd.DataFrame({"a": range(24), "b": range(24, 0, -1), "target": [0] * 20 + [1] * 4})
    ip.user_ns.update(cancer=cancer, diabetes=diabetes, tiny=tiny)
    for statement in filter(None, setup.split("\n")):
        assert run(statement).error is None
    before = dict(ip.user_ns)
    cell = run(line)
    assert cell.error is not None
    assert message in str(cell.error)
    assert "Traceback" not in cell.out + cell.err
    assert all(ip.user_ns.get(k) is v for k, v in before.items() if not k.startswith("_"))


def test_without_cleanlab_one_line_says_how_to_install(run, ip, cancer, monkeypatch):
    import sys

    for name in ("cleanlab", "cleanlab.filter", "cleanlab.rank"):
        monkeypatch.setitem(sys.modules, name, None)  # as if the labels extra were not installed
    split = nbml.split(cancer, target="target", seed=0, activate=False)
    result = nbml.train(LogisticRegression(max_iter=1000), split=split)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'nbml\[labels\]'"):
        nbml.label_issues(result)
    ip.user_ns["lr_no_cleanlab"] = result
    cell = run("%labels lr_no_cleanlab")
    assert type(cell.error).__name__ == "UsageError" and "pip install 'nbml[labels]'" in str(cell.error)


def test_coreset_route_with_a_text_column_and_a_model_that_fails(tmp_path):
    from sklearn.datasets import make_classification

    from nbml.training import FitError

    X, y = make_classification(3000, 5, random_state=0)
    df = pd.DataFrame(X, columns=list("abcde")).assign(
        color=np.random.default_rng(0).choice(["red", "green", "blue"], 3000), y=y)
    split = nbml.split(df, target="y", seed=0, activate=False)
    # the coreset measures rows after the pipeline's own preprocessing (the text column one-hot)
    issues = nbml.label_issues(LogisticRegression(), split=split, coreset=300, storage=str(tmp_path / "s.db"))
    assert issues.route == "coreset" and 0 < len(issues) < 0.2 * issues.n_rows
    broken = LogisticRegression(penalty="elasticnet", solver="lbfgs")  # lbfgs cannot do elastic-net
    with pytest.raises(FitError, match="LogisticRegression failed on a fold: ValueError"):
        nbml.label_issues(broken, split=split, storage=str(tmp_path / "s.db"))


def test_same_seed_same_issues(cancer_issues):
    result, issues, store = cancer_issues
    again = nbml.label_issues(result, name="again", storage=store)
    pd.testing.assert_frame_equal(issues.table, again.table)
    other_seed = nbml.label_issues(result, seed=7, name="other", storage=store)
    assert not np.array_equal(other_seed.proba, issues.proba)  # the seed drives the folds


def test_retrain_after_a_cv_result_compares_with_the_same_protocol(noisy_cancer, tmp_path):
    """The retrained model and the same model on the labels as given are scored the same way, on
    the same rows (issue 16): not the cleaned holdout score against the original's CV score."""
    noisy, _ = noisy_cancer
    split = nbml.split(noisy, target="target", seed=0, activate=False)
    result = nbml.train(LogisticRegression(max_iter=1000), split=split, cv=5)
    issues = nbml.label_issues(result, storage=str(tmp_path / "store.db"))
    issues.accept()
    retrained = issues.retrain()
    assert issues.baseline.cv is None and retrained.cv is None
    assert len(issues.baseline.predictions.y_true) == len(retrained.predictions.y_true) == len(split.X_val)
    assert (issues.baseline.predictions.y_true == retrained.predictions.y_true).all()  # as given, both
    assert "vs" in retrained.note and f"{issues.baseline.metrics['accuracy']:.4f}" in retrained.note
