"""Bad input: one clear line (UsageError in magics, ValueError/TypeError in the API), no
traceback, and nothing the user had is lost or changed."""
import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError

import nbml


@pytest.fixture
def prepared(ip, run, cancer):
    """A session with data, an active split and an earlier result."""
    ip.user_ns.update(cancer=cancer.copy(), keep=123)
    run("%split cancer --target target")
    run("from sklearn.linear_model import LogisticRegression, LinearRegression")
    run("%train LogisticRegression(max_iter=300) -o earlier")
    return ip


def fails(run, ip, source, *phrases):
    """Run a cell that must fail with one clear line; check nothing was lost."""
    before_split = nbml.active_split()
    before = {k: ip.user_ns.get(k) for k in ("cancer", "keep", "earlier")}
    snapshot = before["cancer"].copy() if isinstance(before["cancer"], pd.DataFrame) else None
    cell = run(source)
    assert isinstance(cell.error, UsageError), f"expected a UsageError, got {cell.error!r}\n{cell.err}"
    message = str(cell.error)
    assert "\n" not in message.strip() and "Traceback" not in cell.err, cell.err
    assert cell.err.strip().startswith("UsageError:"), cell.err
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in {message!r}"
    assert nbml.active_split() is before_split
    for k, v in before.items():
        assert ip.user_ns.get(k) is v
    if snapshot is not None:
        pd.testing.assert_frame_equal(ip.user_ns["cancer"], snapshot)
    return message


def test_unknown_variable(prepared, run):
    fails(run, prepared, "%split nosuch --target target", "'nosuch' is not defined")
    fails(run, prepared, "%evaluate nosuch", "'nosuch' is not defined")


def test_missing_target_column_lists_close_matches(prepared, run):
    fails(run, prepared, "%split cancer --target targte", "'targte' is not in the data", "did you mean 'target'")


def test_single_class_target(prepared, run):
    prepared.user_ns["one"] = pd.DataFrame({"x": range(20), "y": ["a"] * 20})
    fails(run, prepared, "%split one --target y", "single class")


def test_nan_in_target(prepared, run):
    df = pd.DataFrame({"x": np.arange(30.0), "y": [0, 1, 2] * 10}, dtype=float)
    df.loc[[3, 7], "y"] = np.nan
    prepared.user_ns["holes"] = df
    fails(run, prepared, "%split holes --target y", "2 missing value(s)", "dropna")


def test_inf_in_features(prepared, run):
    df = pd.DataFrame({"x": np.arange(30.0), "z": 1.0, "y": [0, 1] * 15})
    df.loc[4, "z"] = np.inf
    prepared.user_ns["infs"] = df
    fails(run, prepared, "%split infs --target y", "'z'", "infinite")


def test_fewer_rows_than_folds_or_classes_times_folds(prepared, run):
    fails(run, prepared, "%train LogisticRegression() --cv 1", "at least 2")
    tiny = pd.DataFrame({"x": np.arange(12.0), "y": [0, 1] * 6})
    prepared.user_ns["tiny"] = tiny
    before = nbml.active_split()
    run("%split tiny --target y --test 0.25 --val 0.25")
    assert nbml.active_split() is not before
    fails(run, prepared, "%train LogisticRegression() --cv 5", "fewer than cv=5", "classes × folds")
    fails(run, prepared, "%train LogisticRegression() --cv 20", "needs at least 20 rows")


def test_last_expression_not_a_model(prepared, run):
    fails(run, prepared, "%%train\nx = 1\n'not a model'", "str, not a scikit-learn estimator")
    fails(run, prepared, "%%train\nmodel = LogisticRegression()", "must end with an expression")
    fails(run, prepared, "%train LogisticRegression", "the class LogisticRegression", "LogisticRegression()")


def test_regressor_on_string_labels_and_classifier_on_continuous_target(prepared, run, iris_named, diabetes):
    prepared.user_ns["iris"] = iris_named
    run("%split iris --target species")
    fails(run, prepared, "%train LinearRegression()", "regressor", "categorical", "classifier")
    prepared.user_ns["diabetes"] = diabetes
    run("%split diabetes --target target")
    fails(run, prepared, "%train LogisticRegression()", "classifier", "continuous", "regressor")


def test_empty_dataframe(prepared, run):
    prepared.user_ns["empty"] = pd.DataFrame({"x": [], "y": []})
    fails(run, prepared, "%split empty --target y", "empty")


def test_all_nan_column_is_dropped_with_a_warning(ip, run):
    df = pd.DataFrame({"x": np.arange(40.0), "gone": np.nan, "y": [0, 1] * 20})
    ip.user_ns["df"] = df
    with pytest.warns(UserWarning, match="gone"):
        s = nbml.split(df, target="y")
    assert "gone" not in s.X_train.columns and s.dropped_columns == ["gone"]
    assert "gone" in df.columns  # the user's frame is untouched
    cell = run("%split df --target y")
    assert cell.error is None and "dropped" in cell.out


def test_cell_whose_own_code_raises_shows_the_users_error(prepared, run):
    msg = fails(run, prepared, "%%train\na = 1\nb = undefined_name + 1\nLogisticRegression()",
                "NameError", "line 2", "undefined_name")
    assert "nbml" not in msg
    fails(run, prepared, "%%train\nLogisticRegression(C=1/0)", "ZeroDivisionError")
    fails(run, prepared, "%%train\ndef f(:\n  pass\nLogisticRegression()", "syntax error", "line 1")


def test_model_whose_fit_fails_gets_its_error_in_one_line(prepared, run):
    fails(run, prepared, "%train LogisticRegression(solver='nonsense')", "LogisticRegression failed", "solver")


def test_non_dataframe_input(prepared, run):
    prepared.user_ns["lst"] = "just a string"
    fails(run, prepared, "%split lst --target y", "DataFrame")
    X = np.random.default_rng(0).normal(size=(60, 2))
    prepared.user_ns["arr"] = np.column_stack([X, (X[:, 0] > 0).astype(int)])
    cell = run("%split arr --target x2")
    assert cell.error is None and nbml.active_split().task == "classification"
    prepared.user_ns["ser"] = pd.Series(np.arange(50.0), name="v")
    assert run("%split ser").error is None and nbml.active_split().task == "clustering"


def test_train_before_any_split(ip, run):
    import nbml.data

    nbml.data.set_active(None)
    ip.user_ns["keep"] = 123
    cell = run("%train LogisticRegression()")
    assert isinstance(cell.error, UsageError) and "run %split" in str(cell.error)
    assert ip.user_ns["keep"] == 123


def test_bad_options(prepared, run):
    fails(run, prepared, "%split cancer --target target --test 0.6 --val 0.5", "test + val below 1")
    fails(run, prepared, "%split cancer --target target --ratio 70-30", "train-val-test")
    fails(run, prepared, "%evaluate earlier --plots roc,banana", "'banana'", "roc")
    fails(run, prepared, "%evaluate keep", "TrainResult")
    fails(run, prepared, "%train LogisticRegression() -o 1bad", "not a valid variable name")


def test_api_errors_name_the_parameter(cancer):
    with pytest.raises(ValueError, match="task='banana'"):
        nbml.split(cancer, target="target", task="banana")
    with pytest.raises(ValueError, match="test=2"):
        nbml.split(cancer, target="target", test=2.0 * 100)
    with pytest.raises(TypeError, match="DataFrame"):
        nbml.split(42)
    nbml.split(cancer, target="target")
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ValueError, match="cv=1"):
        nbml.train(LogisticRegression(), cv=1)
    with pytest.raises(ValueError, match="preprocess='maybe'"):
        nbml.train(LogisticRegression(), preprocess="maybe")
    with pytest.raises(ValueError, match="on='banana'"):
        nbml.evaluate(nbml.train(LogisticRegression(max_iter=300)), on="banana")
