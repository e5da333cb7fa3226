"""nbml.scratch logistic/softmax regression against scikit-learn's LogisticRegression.

Penalty conventions: ours is mean log loss + alpha/2 ||W||^2 (or alpha ||W||_1); scikit-learn's
is C * sum log loss + 1/2 ||W||^2 (or ||W||_1), so C = 1 / (alpha * n). Run to a gradient norm
of 1e-7..1e-8, the coefficients agree to 1e-4 absolute on standardised data (|coef| ~ 1).
"""
import warnings

import numpy as np
import pytest
import sklearn.linear_model as sk
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from nbml.scratch import LogisticRegression, SoftmaxRegression


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def sk_logistic(alpha, n, **kw):
    return sk.LogisticRegression(C=1.0 / (alpha * n), tol=1e-10, max_iter=10_000, **kw)


@pytest.mark.parametrize("optimizer,lr", [("gd", 0.5), ("momentum", 0.1), ("adam", 0.01)])
def test_binary_l2_matches_sklearn(cancer, optimizer, lr):
    X, y = cancer
    alpha = 1e-2
    ours = LogisticRegression(optimizer=optimizer, learning_rate=lr, alpha=alpha,
                              max_iter=20_000, tol=1e-7).fit(X, y)
    ref = sk_logistic(alpha, len(y)).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-4)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X), atol=1e-3)
    assert ours.n_iter_ == len(ours.loss_history_) < 20_000


def test_binary_l1_proximal_gradient_matches_sklearn(cancer):
    X, y = cancer
    alpha = 0.05
    ours = LogisticRegression(penalty="l1", alpha=alpha, learning_rate=0.5, max_iter=20_000,
                              tol=1e-6).fit(X, y)
    ref = sk.LogisticRegression(l1_ratio=1.0, solver="saga", C=1 / (alpha * len(y)),
                                tol=1e-8, max_iter=100_000).fit(X, y)
    # stopped at a proximal-gradient norm of 1e-6, so 5e-4 rather than 1e-4
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=5e-4)
    # soft thresholding puts exact zeros where scikit-learn has them
    assert np.array_equal(ours.coef_ == 0, np.abs(ref.coef_) < 1e-6)
    assert (ours.coef_ == 0).sum() >= 10


def test_l1_with_adam_uses_the_subgradient_and_still_shrinks(cancer):
    X, y = cancer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a subgradient never stops exactly
        ours = LogisticRegression(optimizer="adam", penalty="l1", alpha=0.05,
                                  learning_rate=0.01, max_iter=300).fit(X, y)
    l2 = LogisticRegression(alpha=0.05, learning_rate=0.5, max_iter=300).fit(X, y)
    assert np.abs(ours.coef_).sum() < np.abs(l2.coef_).sum()
    assert ours.score(X, y) > 0.95


def test_softmax_matches_sklearn_multinomial(iris):
    X, y = iris
    alpha = 1e-2
    ref = sk_logistic(alpha, len(y)).fit(X, y)
    for ours in (SoftmaxRegression(alpha=alpha, learning_rate=0.5, max_iter=50_000, tol=1e-8),
                 LogisticRegression(multiclass="softmax", alpha=alpha, learning_rate=0.5,
                                    max_iter=50_000, tol=1e-8)):
        ours.fit(X, y)
        np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
        np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)
        np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X),
                                   atol=1e-4)


def test_one_vs_rest_matches_sklearn(iris):
    X, y = iris
    alpha = 1e-2
    ours = LogisticRegression(alpha=alpha, learning_rate=0.5, max_iter=50_000,
                              tol=1e-8).fit(X, y)
    ref = OneVsRestClassifier(sk_logistic(alpha, len(y))).fit(X, y)
    np.testing.assert_allclose(ours.coef_, np.vstack([e.coef_ for e in ref.estimators_]),
                               atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)


def test_sample_weight_matches_sklearn(cancer):
    X, y = cancer
    sw = np.random.default_rng(0).integers(1, 4, len(y)).astype(float)
    alpha = 1e-2
    ours = LogisticRegression(alpha=alpha, learning_rate=0.5, max_iter=20_000,
                              tol=1e-7).fit(X, y, sample_weight=sw)
    ref = sk.LogisticRegression(C=1 / (alpha * sw.sum()), tol=1e-10,
                                max_iter=10_000).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)


@pytest.mark.parametrize("optimizer", ["sgd", "minibatch"])
def test_stochastic_optimizers_learn_and_are_seeded(cancer, optimizer):
    X, y = cancer
    kw = dict(optimizer=optimizer, learning_rate=0.01, max_iter=30, alpha=1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = LogisticRegression(random_state=0, **kw).fit(X, y)
        b = LogisticRegression(random_state=0, **kw).fit(X, y)
        c = LogisticRegression(random_state=1, **kw).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert not np.array_equal(a.coef_, c.coef_)
    ref = sk_logistic(1e-2, len(y)).fit(X, y)
    assert np.mean(a.predict(X) == ref.predict(X)) > 0.97


def test_losses_stay_finite_for_huge_logits():
    # separable data scaled by 1e6: logits of 1e8 would overflow a naive exp/log
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2)) * 1e6
    y = (X[:, 0] > 0).astype(int)
    y3 = np.digitize(X[:, 0], [-5e5, 5e5])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)        # no overflow / log(0)
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = LogisticRegression(learning_rate=1e-3, alpha=0.0, max_iter=20).fit(X, y)
        s = SoftmaxRegression(learning_rate=1e-3, alpha=0.0, max_iter=20).fit(X, y3)
    assert np.all(np.isfinite(m.loss_history_)) and np.all(np.isfinite(s.loss_history_))
    assert np.all(np.isfinite(m.predict_proba(X))) and np.all(np.isfinite(s.predict_proba(X)))


def test_not_converging_warns(cancer):
    X, y = cancer
    with pytest.warns(ConvergenceWarning, match="did not converge in max_iter=3"):
        LogisticRegression(max_iter=3).fit(X, y)


def test_string_labels_round_trip(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    m = SoftmaxRegression(alpha=1e-2, learning_rate=0.5, max_iter=5000).fit(X, names)
    assert set(m.predict(X)) <= set(names) and m.score(X, names) > 0.9


@pytest.mark.parametrize("cls", [LogisticRegression, SoftmaxRegression])
def test_bad_input_gives_sklearns_errors(cancer, cls):
    X, y = cancer
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    for bad_X, bad_y, match in [(X_nan, y, "Input X contains NaN"),
                                (X[:-2], y, "inconsistent numbers of samples"),
                                (X, y + 0.5, "Unknown label type"),
                                (X, np.zeros_like(y), "only one class")]:
        for model in (cls(), sk.LogisticRegression()):
            with pytest.raises(ValueError, match=match):
                model.fit(bad_X, bad_y)
    for lr in (0, -1.0):
        with pytest.raises(InvalidParameterError, match="'learning_rate' parameter"):
            cls(learning_rate=lr).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'optimizer' parameter"):
        cls(optimizer="lbfgs").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'penalty' parameter"):
        cls(penalty="elasticnet").fit(X, y)
