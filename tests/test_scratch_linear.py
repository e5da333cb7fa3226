"""nbml.scratch linear models against scikit-learn on the bundled diabetes data.

Tolerances: the closed forms and coordinate descent agree with scikit-learn to ~1e-8 relative
(we assert 1e-6); full-batch gradient descent to 1e-4 relative after converging to a gradient
norm of 1e-8; the stochastic solvers only to within 0.01 of R^2 (constant step size).
"""
import numpy as np
import pytest
import sklearn.linear_model as sk
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from nbml.scratch import Lasso, LinearRegression, Ridge


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


@pytest.fixture(scope="module")
def diabetes_std(diabetes):
    X, y = diabetes
    return StandardScaler().fit_transform(X), y


def assert_same_fit(ours, ref, rtol):
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=rtol)


def test_normal_equation_matches_sklearn(diabetes):
    X, y = diabetes
    assert_same_fit(LinearRegression().fit(X, y), sk.LinearRegression().fit(X, y), 1e-6)
    ours = LinearRegression(fit_intercept=False).fit(X, y)
    assert_same_fit(ours, sk.LinearRegression(fit_intercept=False).fit(X, y), 1e-6)
    assert ours.intercept_ == 0.0


def test_collinear_columns_give_the_minimum_norm_solution(diabetes):
    X, y = diabetes
    X2 = np.hstack([X, X[:, :2]])                     # duplicated columns: X^T X is singular
    ours, ref = LinearRegression().fit(X2, y), sk.LinearRegression().fit(X2, y)
    np.testing.assert_allclose(ours.predict(X2), ref.predict(X2), rtol=1e-8)
    assert_same_fit(ours, ref, 1e-6)


@pytest.mark.parametrize("alpha", [0.01, 1.0, 10.0])
def test_ridge_uses_sklearns_alpha(diabetes, alpha):
    X, y = diabetes
    assert_same_fit(Ridge(alpha=alpha).fit(X, y), sk.Ridge(alpha=alpha).fit(X, y), 1e-6)


@pytest.mark.parametrize("alpha", [0.05, 0.5])
def test_lasso_coordinate_descent_matches_sklearn(diabetes, alpha):
    X, y = diabetes
    ours = Lasso(alpha=alpha, tol=1e-10, max_iter=100_000).fit(X, y)
    ref = sk.Lasso(alpha=alpha, tol=1e-12, max_iter=100_000).fit(X, y)
    assert_same_fit(ours, ref, 1e-6)
    assert np.array_equal(ours.coef_ == 0, ref.coef_ == 0)        # same sparsity pattern
    assert (ours.coef_ == 0).any()
    # the objective after each sweep never goes up
    assert np.all(np.diff(ours.loss_history_) <= 1e-9)


def test_sample_weight_matches_sklearn(diabetes):
    X, y = diabetes
    sw = np.random.default_rng(0).integers(0, 4, len(y)).astype(float)
    for ours, ref, rtol in [
        (LinearRegression(), sk.LinearRegression(), 1e-6),
        (Ridge(alpha=2.0), sk.Ridge(alpha=2.0), 1e-6),
        (Lasso(alpha=0.2, tol=1e-10, max_iter=100_000),
         sk.Lasso(alpha=0.2, tol=1e-12, max_iter=100_000), 1e-6),
    ]:
        assert_same_fit(ours.fit(X, y, sample_weight=sw), ref.fit(X, y, sample_weight=sw), rtol)


@pytest.mark.parametrize("cls,kw", [(LinearRegression, {}), (Ridge, {"alpha": 50.0})])
def test_batch_gradient_descent_reaches_the_closed_form(diabetes_std, cls, kw):
    X, y = diabetes_std
    gd = cls(solver="gd", learning_rate=0.2, max_iter=50_000, tol=1e-8, **kw).fit(X, y)
    exact = cls(**kw).fit(X, y)
    assert_same_fit(gd, exact, 1e-4)
    # with a step below 1/L the loss goes down at every epoch
    assert np.all(np.diff(gd.loss_history_) <= 1e-12)
    assert len(gd.loss_history_) == gd.n_iter_ < 50_000


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # noisy steps
@pytest.mark.parametrize("solver,lr", [("minibatch", 0.01), ("sgd", 0.001)])
def test_stochastic_solvers_get_close(diabetes_std, solver, lr):
    X, y = diabetes_std
    exact = LinearRegression().fit(X, y)
    ours = LinearRegression(solver=solver, learning_rate=lr, max_iter=60,
                            random_state=0).fit(X, y)
    assert abs(ours.score(X, y) - exact.score(X, y)) < 0.01
    again = LinearRegression(solver=solver, learning_rate=lr, max_iter=60,
                             random_state=0).fit(X, y)
    np.testing.assert_array_equal(ours.coef_, again.coef_)          # same seed, same numbers
    other = LinearRegression(solver=solver, learning_rate=lr, max_iter=60,
                             random_state=1).fit(X, y)
    assert not np.array_equal(ours.coef_, other.coef_)


def test_not_converging_warns(diabetes_std):
    X, y = diabetes_std
    with pytest.warns(ConvergenceWarning, match="did not converge in max_iter=5"):
        m = LinearRegression(solver="gd", max_iter=5).fit(X, y)
    assert m.n_iter_ == 5 and len(m.loss_history_) == 5
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        Lasso(alpha=0.01, max_iter=2, tol=1e-12).fit(X, y)


def test_too_large_learning_rate_is_reported_as_divergence(diabetes_std):
    X, y = diabetes_std
    with pytest.warns(ConvergenceWarning, match="diverged.*learning_rate=5.0 is too large"):
        m = LinearRegression(solver="gd", learning_rate=5.0).fit(X, y)
    assert m.n_iter_ < 100


@pytest.mark.parametrize("cls", [LinearRegression, Ridge, Lasso])
def test_bad_input_gives_sklearns_errors(diabetes, cls):
    X, y = diabetes
    ref = {LinearRegression: sk.LinearRegression, Ridge: sk.Ridge, Lasso: sk.Lasso}[cls]
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    for bad_X, bad_y, match in [(X_nan, y, "Input X contains NaN"),
                                (X[:-1], y, "inconsistent numbers of samples"),
                                (X, np.r_[y[:-1], np.nan], "Input y contains NaN"),
                                (X[:, 0], y, "Expected 2D array, got 1D array")]:
        for model in (cls(), ref()):
            with pytest.raises(ValueError, match=match):
                model.fit(bad_X, bad_y)
    fitted = cls().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 10"):
        fitted.predict(X[:, :3])


@pytest.mark.parametrize("lr", [0.0, -0.1])
def test_learning_rate_must_be_positive(diabetes, lr):
    X, y = diabetes
    with pytest.raises(InvalidParameterError,
                       match=r"'learning_rate' parameter of LinearRegression must be a float "
                             r"in the range \(0.0, inf\)"):
        LinearRegression(solver="gd", learning_rate=lr).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'solver' parameter"):
        LinearRegression(solver="newton").fit(X, y)
    with pytest.raises(ValueError, match="'alpha' parameter of Ridge"):
        Ridge(alpha=-1).fit(X, y)
