"""Linear regression from scratch: normal equation, gradient descent, Ridge and Lasso.

The loss conventions match scikit-learn exactly, so the coefficients can be compared:

* ``LinearRegression``: minimise  sum_i s_i (y_i - x_i.w - b)^2            (s = sample_weight)
* ``Ridge``:            minimise  sum_i s_i (y_i - x_i.w - b)^2 + alpha ||w||^2
* ``Lasso``:            minimise  1/(2 sum_i s_i) sum_i s_i (y_i - x_i.w - b)^2 + alpha ||w||_1

The intercept b is never penalised. Gradient descent works on the same objectives divided by
``2 sum_i s_i`` (a mean squared error), which has the same minimiser; ``loss_history_`` holds
that scaled value (half the weighted MSE, plus the penalty) once per epoch.
"""
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from nbml.scratch._base import descend, soft_threshold, warn_not_converged


class LinearRegression(RegressorMixin, BaseEstimator):
    """Ordinary least squares, solved four ways.

    Parameters
    ----------
    solver : {"normal", "gd", "minibatch", "sgd"}
        "normal" solves the normal equation X^T S X w = X^T S y in closed form (with
        least squares, so collinear columns get the minimum-norm answer, like scikit-learn);
        "gd" is batch gradient descent, "minibatch" uses ``batch_size`` rows a step and
        "sgd" one row a step. Gradient descent wants standardised features.
    learning_rate : float > 0
        Step size of the gradient solvers.
    batch_size : int, default 32
        Rows per step for "minibatch".
    max_iter : int
        Epochs (passes over the data) for the gradient solvers.
    tol : float
        "gd" stops when the gradient norm is below tol; "minibatch"/"sgd" stop when the epoch
        loss has not improved by tol for ``n_iter_no_change`` epochs.
    random_state : int, RandomState or None
        Seeds the row shuffling of "minibatch"/"sgd".

    Attributes
    ----------
    coef_, intercept_, n_iter_ (1 for the closed form), loss_history_ (empty for the closed
    form: there are no iterations).
    """

    _parameter_constraints = {
        "solver": [StrOptions({"normal", "gd", "minibatch", "sgd"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "fit_intercept": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, solver="normal", learning_rate=0.01, batch_size=32, max_iter=1000,
                 tol=1e-6, n_iter_no_change=5, fit_intercept=True, random_state=None):
        self.solver = solver
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.fit_intercept = fit_intercept
        self.random_state = random_state

    # Ridge overrides this; plain least squares has no penalty.
    def _l2(self):
        return 0.0

    def fit(self, X, y, sample_weight=None):
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        s = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if self.solver == "normal":
            self._fit_closed_form(X, y, s)
        else:
            self._fit_gradient(X, y, s)
        return self

    def _center(self, X, y, s):
        """Weighted means; fitting on centred data makes the intercept drop out."""
        if not self.fit_intercept:
            return X, y, np.zeros(X.shape[1]), 0.0
        x_mean = np.average(X, axis=0, weights=s)
        y_mean = np.average(y, weights=s)
        return X - x_mean, y - y_mean, x_mean, y_mean

    def _fit_closed_form(self, X, y, s):
        Xc, yc, x_mean, y_mean = self._center(X, y, s)
        alpha = self._l2()
        if alpha == 0:
            # least squares on rows scaled by sqrt(s): minimises sum s_i r_i^2
            r = np.sqrt(s)
            self.coef_ = np.linalg.lstsq(Xc * r[:, None], yc * r, rcond=None)[0]
        else:
            # (X^T S X + alpha I) w = X^T S y
            A = Xc.T @ (Xc * s[:, None]) + alpha * np.eye(X.shape[1])
            self.coef_ = np.linalg.solve(A, Xc.T @ (s * yc))
        self.intercept_ = float(y_mean - x_mean @ self.coef_)
        self.n_iter_, self.loss_history_ = 1, []

    def _fit_gradient(self, X, y, s):
        n, d = X.shape
        total = s.sum()
        alpha = self._l2() / total  # penalty on the mean-loss scale
        w, b = np.zeros(d), np.zeros(())
        fit_b = self.fit_intercept

        def objective(params, rows, train):
            w, b = params
            Xr, yr, sr = (X, y, s) if rows is None else (X[rows], y[rows], s[rows])
            # scale turns a batch sum into an unbiased estimate of the full weighted mean
            scale = 1.0 / total if rows is None else n / (len(rows) * total)
            r = Xr @ w + b - yr                                   # residuals
            loss = 0.5 * scale * np.sum(sr * r * r) + 0.5 * alpha * (w @ w)
            if not train:
                return loss, None
            grad_w = scale * (Xr.T @ (sr * r)) + alpha * w        # d loss / d w
            grad_b = scale * np.sum(sr * r) if fit_b else 0.0      # d loss / d b
            return loss, [grad_w, np.asarray(grad_b)]

        self.n_iter_, self.loss_history_, status = descend(
            objective, [w, b], n, optimizer=self.solver, learning_rate=self.learning_rate,
            batch_size=self.batch_size, max_iter=self.max_iter, tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            rng=np.random.default_rng(_seed(self.random_state)),
        )
        warn_not_converged(self, status)
        self.coef_, self.intercept_ = w, float(b)

    def predict(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_


class Ridge(LinearRegression):
    """Least squares with an L2 penalty: minimise sum_i s_i r_i^2 + alpha ||w||^2.

    ``alpha`` is exactly scikit-learn's ``Ridge(alpha=...)`` (the penalty is added to the
    *sum*, not the mean, of squared residuals). The closed form solves
    (X^T S X + alpha I) w = X^T S y on centred data; the other solvers descend the same
    objective divided by 2 sum(s).
    """

    _parameter_constraints = {
        **LinearRegression._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, alpha=1.0, solver="normal", learning_rate=0.01, batch_size=32,
                 max_iter=1000, tol=1e-6, n_iter_no_change=5, fit_intercept=True,
                 random_state=None):
        super().__init__(solver=solver, learning_rate=learning_rate, batch_size=batch_size,
                         max_iter=max_iter, tol=tol, n_iter_no_change=n_iter_no_change,
                         fit_intercept=fit_intercept, random_state=random_state)
        self.alpha = alpha

    def _l2(self):
        return float(self.alpha)


class Lasso(RegressorMixin, BaseEstimator):
    """L1-penalised least squares by cyclic coordinate descent.

    Minimises 1/(2 sum(s)) sum_i s_i r_i^2 + alpha ||w||_1, exactly scikit-learn's
    ``Lasso(alpha=...)`` (with sample weights scikit-learn rescales them to sum to n, which is
    the same objective).

    Each sweep updates one coefficient at a time with everything else fixed; for one
    coordinate the problem is a 1-D quadratic plus alpha|w_j|, solved by soft thresholding:

        w_j = S(rho_j, alpha) / z_j,   rho_j = mean_s(x_j * (r + x_j w_j)),  z_j = mean_s(x_j^2)

    Stops when the largest coefficient change in a sweep is below ``tol`` times the largest
    coefficient (relative change). ``loss_history_`` holds the objective after each sweep.
    """

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
    }

    def __init__(self, alpha=1.0, max_iter=1000, tol=1e-4, fit_intercept=True):
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept

    def fit(self, X, y, sample_weight=None):
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        s = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        s = s / s.sum()                                    # weights of a weighted mean
        if self.fit_intercept:
            x_mean, y_mean = s @ X, s @ y
        else:
            x_mean, y_mean = np.zeros(X.shape[1]), 0.0
        X, y = X - x_mean, y - y_mean
        d = X.shape[1]
        w = np.zeros(d)
        z = s @ (X * X)                                    # mean_s(x_j^2) per column
        r = y.copy()                                       # residual y - Xw (w = 0)
        self.loss_history_, converged = [], False
        for it in range(1, self.max_iter + 1):
            max_change = 0.0
            for j in range(d):
                if z[j] == 0.0:                            # constant column: stays 0
                    continue
                rho = s @ (X[:, j] * r) + z[j] * w[j]
                new = soft_threshold(rho, self.alpha) / z[j]
                if new != w[j]:
                    r -= X[:, j] * (new - w[j])            # keep the residual up to date
                    max_change = max(max_change, abs(new - w[j]))
                    w[j] = new
            self.loss_history_.append(0.5 * s @ (r * r) + self.alpha * np.abs(w).sum())
            if max_change <= self.tol * max(np.abs(w).max(), 1e-12) or max_change == 0.0:
                converged = True
                break
        self.n_iter_ = it
        warn_not_converged(self, "converged" if converged else "max_iter")
        self.coef_ = w
        self.intercept_ = float(y_mean - x_mean @ w)
        return self

    def predict(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_


def _seed(random_state):
    """Turn an int / RandomState / None into a seed for numpy's Generator."""
    if isinstance(random_state, np.random.RandomState):
        return random_state.randint(0, 2**31 - 1)
    return random_state
