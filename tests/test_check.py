"""nbml.check: a right student answer passes, a wrong one fails with a useful hint (no raise),
and unusable arguments raise TypeError/ValueError."""
import numpy as np
import pytest

import nbml
import nbml.check as check
from nbml.scratch import DecisionTreeClassifier, LinearRegression, LogisticRegression, Ridge


# ---------------------------------------------------------------------------- gradient

@pytest.fixture(scope="module")
def regression_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.1, size=30)


def mse_loss(w, X, y):
    return np.mean((X @ w - y) ** 2)


def test_gradient_passes_for_the_right_gradient(regression_data):
    X, y = regression_data
    res = check.gradient(lambda w, X, y: 2 * X.T @ (X @ w - y) / len(y), mse_loss,
                         np.zeros(3), args=(X, y))
    assert res.passed and bool(res) and "matches finite differences at 3 point" in res.message
    assert str(res).startswith("PASS")


def test_gradient_hint_spots_a_missing_factor_and_a_flipped_sign(regression_data):
    X, y = regression_data
    half = check.gradient(lambda w, X, y: X.T @ (X @ w - y) / len(y), mse_loss, shape=3,
                          args=(X, y))
    assert not half.passed and "0.5 times the right one" in half.message
    assert "first difference at index 0: expected" in half.message
    assert half.details["relative_error"] > 0.3
    flipped = check.gradient(lambda w, X, y: 2 * X.T @ (y - X @ w) / len(y), mse_loss,
                             shape=(3,), args=(X, y))
    assert not flipped.passed and "wrong sign" in flipped.message


def test_gradient_reports_one_wrong_coordinate_and_student_errors(regression_data):
    X, y = regression_data

    def one_wrong(w, X, y):
        g = 2 * X.T @ (X @ w - y) / len(y)
        g[2] += 1.0
        return g

    res = check.gradient(one_wrong, mse_loss, np.ones(3), args=(X, y))
    assert not res.passed and "index 2" in res.message and res.details["index"] == (2,)
    shape = check.gradient(lambda w, X, y: np.zeros((3, 1)), mse_loss, np.zeros(3),
                           args=(X, y))
    assert not shape.passed and "shape (3, 1), expected (3,)" in shape.message
    boom = check.gradient(lambda w, X, y: X @ np.ones(4), mse_loss, np.zeros(3), args=(X, y))
    assert not boom.passed and "grad_fn raised" in boom.message and "ValueError" in boom.message
    # without w0 the default shape (5,) does not fit: the hint says how to fix that
    default = check.gradient(lambda w, X, y: 2 * X.T @ (X @ w - y) / len(y), mse_loss,
                             args=(X, y))
    assert not default.passed and "pass w0=... or shape=..." in default.message


def test_gradient_of_the_scratch_logistic_loss_matrix_shaped():
    # a matrix-shaped parameter (softmax weights), checked at a random point of that shape
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 4, 20)
    Y = np.eye(4)[y]

    def loss(W):
        Z = X @ W
        return np.mean(np.log(np.exp(Z).sum(1)) - (Y * Z).sum(1))

    def grad(W):
        P = np.exp(X @ W)
        P /= P.sum(1, keepdims=True)
        return X.T @ (P - Y) / len(X)

    assert check.gradient(grad, loss, shape=(3, 4)).passed
    assert not check.gradient(lambda W: X.T @ (np.exp(X @ W) - Y) / len(X), loss,
                              shape=(3, 4)).passed


def test_gradient_rejects_unusable_arguments():
    with pytest.raises(TypeError, match="grad_fn must be a function"):
        check.gradient("grad", mse_loss)
    with pytest.raises(TypeError, match="loss_fn must be a function"):
        check.gradient(mse_loss, None)
    with pytest.raises(ValueError, match="w0 contains NaN"):
        check.gradient(np.sin, np.sum, [1.0, np.nan])
    with pytest.raises(ValueError, match="shape must be positive ints"):
        check.gradient(np.sin, np.sum, shape=(0,))
    with pytest.raises(ValueError, match="eps must be > 0"):
        check.gradient(np.sin, np.sum, eps=0)


# ------------------------------------------------------------------------------ metric

def f1_right(y_true, y_pred):
    tp = np.sum((y_true == 1) & (y_pred == 1))
    fp = np.sum((y_true == 0) & (y_pred == 1))
    fn = np.sum((y_true == 1) & (y_pred == 0))
    return 0.0 if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)


def test_metric_passes_a_correct_f1_and_fails_an_unguarded_one():
    assert check.metric(f1_right, "f1").passed

    def f1_unguarded(y_true, y_pred):
        tp = np.sum((y_true == 1) & (y_pred == 1))
        with np.errstate(all="ignore"):
            return 2 * tp / (2 * tp + np.sum(y_true != y_pred))

    res = check.metric(f1_unguarded, "f1")
    assert not res.passed
    assert "no positives anywhere (0/0)" in res.message and "zero_division=0" in res.message
    assert res.details["expected"] == 0.0 and np.isnan(res.details["got"])


def test_metric_catches_swapped_precision_and_recall():
    def precision_is_recall(y_true, y_pred):
        tp = np.sum((y_true == 1) & (y_pred == 1))
        positives = np.sum(y_true == 1)
        return tp / positives if positives else 0.0

    res = check.metric(precision_is_recall, "precision")
    assert not res.passed and "expected" in res.message and "y_true = [" in res.message


@pytest.mark.filterwarnings("ignore::UserWarning")  # the references' own ill-defined cases
@pytest.mark.parametrize("name", check.METRICS)
def test_every_metric_name_accepts_its_reference(name):
    from sklearn import metrics as m

    right = {
        "accuracy": m.accuracy_score, "balanced_accuracy": m.balanced_accuracy_score,
        "precision": lambda t, p: m.precision_score(t, p, zero_division=0),
        "recall": lambda t, p: m.recall_score(t, p, zero_division=0),
        "f1": lambda t, p: m.f1_score(t, p, zero_division=0),
        "roc_auc": m.roc_auc_score, "log_loss": m.log_loss,
        "mse": lambda t, p: np.mean((t - p) ** 2), "rmse": lambda t, p: np.sqrt(np.mean(
            (t - p) ** 2)), "mae": lambda t, p: np.mean(np.abs(t - p)), "r2": m.r2_score,
    }[name]
    with np.errstate(all="ignore"):
        assert check.metric(right, name).passed


def test_metric_hints_for_regression_mistakes():
    rmse_as_mse = check.metric(lambda t, p: np.mean((t - p) ** 2), "rmse")
    assert not rmse_as_mse.passed and "square root" in rmse_as_mse.message
    summed = check.metric(lambda t, p: np.sum((t - p) ** 2), "mse")
    assert not summed.passed and "sum over samples" in summed.message
    none = check.metric(lambda t, p: None, "mae")
    assert not none.passed and "forget to `return`" in none.message


def test_metric_macro_average():
    from sklearn.metrics import f1_score

    res = check.metric(lambda t, p: f1_score(t, p, average="macro", zero_division=0), "f1",
                       average="macro")
    assert res.passed and "average='macro'" in res.name
    # a binary f1 is not a macro f1 on three classes
    assert not check.metric(f1_right, "f1", average="macro").passed


def test_metric_rejects_unusable_arguments():
    with pytest.raises(ValueError, match="name must be one of accuracy"):
        check.metric(f1_right, "f2")
    with pytest.raises(TypeError, match="fn must be a function"):
        check.metric(0.5, "f1")
    with pytest.raises(ValueError, match="average must be"):
        check.metric(f1_right, "f1", average="samples")


# -------------------------------------------------------------------------------- loss

def test_loss_log_loss_and_cross_entropy():
    assert check.loss(lambda y, p: -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)),
                      "log_loss").passed
    assert check.loss(lambda y, P: -np.mean(np.log(P[np.arange(len(y)), y])),
                      "cross_entropy").passed
    assert check.loss(lambda Y, P: -np.mean(np.sum(Y * np.log(P), axis=1)), "cross_entropy",
                      one_hot=True).passed
    summed = check.loss(lambda y, P: -np.sum(np.log(P[np.arange(len(y)), y])),
                        "cross_entropy")
    assert not summed.passed and "sum over samples" in summed.message


def test_loss_flags_a_clipping_bug_and_a_crash():
    clipped_too_hard = check.loss(
        lambda y, p: -np.mean(y * np.log(np.clip(p, 0.01, 0.99))
                              + (1 - y) * np.log(1 - np.clip(p, 0.01, 0.99))), "log_loss")
    assert not clipped_too_hard.passed and "case 'confident and" in clipped_too_hard.message
    crash = check.loss(lambda y, p: y @ np.ones(3), "mse")
    assert not crash.passed and "raised ValueError" in crash.message
    assert check.loss(lambda y, p: np.mean(np.abs(y - p)), "mae").passed
    with pytest.raises(ValueError, match="name must be one of"):
        check.loss(np.mean, "hinge")


# ------------------------------------------------------------------------------- model

def test_model_accepts_the_scratch_models():
    assert check.model(LinearRegression, "linear_regression").passed
    assert check.model(Ridge(alpha=3.0), "ridge").passed       # same alpha in the reference
    assert check.model(LogisticRegression(alpha=0.0, max_iter=5000),
                       "logistic_regression").passed
    assert check.model(DecisionTreeClassifier, "decision_tree_classifier",
                       params={"max_depth": 3}).passed


def test_model_fails_with_hints():
    with pytest.warns(Warning):
        slow = check.model(LinearRegression(solver="gd", learning_rate=1e-3, max_iter=5),
                           "linear_regression")
    assert not slow.passed and "more iterations or a better learning rate" in slow.message

    class NoIntercept:
        def fit(self, X, y):
            self.w = np.linalg.lstsq(X, y, rcond=None)[0]

        def predict(self, X):
            return (X @ self.w)[:, None]

    res = check.model(NoIntercept, "linear_regression")
    assert not res.passed and "shape (80, 1), expected (80,)" in res.message
    assert "return self" in res.message

    class AlwaysZero:
        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.zeros(len(X), dtype=int)

    res = check.model(AlwaysZero(), "logistic_regression")
    assert not res.passed and "of predicted labels agree" in res.message
    assert res.details["agreement"] < 0.95

    class Broken:
        def fit(self, X, y):
            raise RuntimeError("not implemented yet")

        def predict(self, X):
            return X

    res = check.model(Broken, "ridge")
    assert not res.passed and "fit(X, y) raised RuntimeError: not implemented yet" in res.message
    assert not check.model(object(), "lasso").passed


def test_model_hint_explains_the_ridge_convention():
    class MeanRidge:          # penalises the *mean* squared error: a different alpha scale
        def __init__(self, alpha=1.0):
            self.alpha = alpha

        def fit(self, X, y):
            Xc, n = X - X.mean(0), len(y)
            A = Xc.T @ Xc / n + self.alpha * np.eye(X.shape[1])
            self.w = np.linalg.solve(A, Xc.T @ (y - y.mean()) / n)
            self.b = y.mean() - X.mean(0) @ self.w
            return self

        def predict(self, X):
            return X @ self.w + self.b

    res = check.model(MeanRidge, "ridge")
    assert not res.passed and "a sum, not a mean" in res.message


def test_model_rejects_unusable_arguments():
    with pytest.raises(ValueError, match="reference must be one of"):
        check.model(LinearRegression, "svm")
    with pytest.raises(TypeError, match="params must be a dict"):
        check.model(LinearRegression, "ridge", params=[1])


# -------------------------------------------------------------------- prediction / repr

def test_prediction_points_at_the_first_difference():
    assert check.prediction([1.0, 2.0, 3.0], np.array([1.0, 2.0, 3.0 + 1e-9])).passed
    res = check.prediction([[1, 2], [3, 5]], [[1, 2], [3, 4]])
    assert not res.passed and "index (1, 1): expected 4, got 5" in res.message
    assert res.details["relative_error"] == pytest.approx(0.25)
    text = check.prediction(["a", "b"], [1, 2])
    assert not text.passed and "could not be read as numbers" in text.message
    with pytest.raises(TypeError, match="expected must be an array of numbers"):
        check.prediction([1], ["x"])
    with pytest.raises(ValueError, match="rtol and atol must be >= 0"):
        check.prediction([1], [1], rtol=-1)


def test_result_renders_as_html_and_text():
    ok = check.prediction([1], [1])
    bad = check.prediction([2], [1], name="my <answer>")
    assert "PASS" in ok._repr_html_() and "#1a7f37" in ok._repr_html_()
    assert "FAIL" in bad._repr_html_() and "my &lt;answer&gt;" in bad._repr_html_()
    assert repr(bad).startswith("FAIL my <answer>: first difference")


def test_reachable_from_the_package():
    assert nbml.check.gradient is check.gradient
    assert nbml.scratch.LinearRegression is LinearRegression
