"""Logistic and softmax regression from scratch, trained by (stochastic) gradient descent.

Objective (s = sample_weight, l_i = log loss of row i):

    J(W, b) = sum_i s_i l_i / sum_i s_i  +  alpha/2 ||W||^2      (penalty="l2")
                                         +  alpha   ||W||_1      (penalty="l1")

The intercept is not penalised. To compare with scikit-learn's ``LogisticRegression(C=...)``,
which minimises C sum_i s_i l_i + 1/2 ||W||^2 (or + ||W||_1), use

    C = 1 / (alpha * sum_i s_i)        (= 1 / (alpha * n_samples) without weights).

Losses are computed from logits with log-sum-exp (``np.logaddexp``), never as log(sigmoid),
so they stay finite for any logit.
"""
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from nbml.errors import NbmlError
from nbml.scratch._base import (OPTIMIZERS, binary_log_loss, descend, logsumexp, sigmoid,
                                soft_threshold, softmax, warn_not_converged)
from nbml.scratch.linear import _seed


def check_two_classes(y, sample_weight=None):
    """Encode labels as 0..K-1; refuse one class the way scikit-learn does."""
    check_classification_targets(y)
    classes, y_idx = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise NbmlError(
            "This solver needs samples of at least 2 classes in the data, but the data "
            f"contains only one class: {classes[0]!r}"
        )
    if sample_weight is not None and len(np.unique(y_idx[sample_weight > 0])) < 2:
        raise NbmlError(
            "The sample weights leave only one class with non-zero weight: at least 2 "
            "classes are needed."
        )
    return classes, y_idx


_COMMON_CONSTRAINTS = {
    "optimizer": [StrOptions(set(OPTIMIZERS))],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "penalty": [StrOptions({"l2", "l1"}), None],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left"), None],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "beta1": [Interval(Real, 0, 1, closed="left")],
    "beta2": [Interval(Real, 0, 1, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "fit_intercept": ["boolean"],
    "random_state": ["random_state"],
}


class _LogisticBase(ClassifierMixin, BaseEstimator):
    """Shared fit/predict; subclasses say whether to use softmax or one-vs-rest sigmoids."""

    def _uses_softmax(self, n_classes):
        raise NotImplementedError

    def fit(self, X, y, sample_weight=None):
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        s = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        self.classes_, y_idx = check_two_classes(y, s)
        n, d = X.shape
        K = len(self.classes_)
        use_softmax = self._uses_softmax(K)
        # columns of W: one per class (softmax, or one-vs-rest), one in total for binary
        k_out = K if (use_softmax or K > 2) else 1
        Y = np.zeros((n, k_out))
        if k_out == 1:
            Y[:, 0] = y_idx
        else:
            Y[np.arange(n), y_idx] = 1.0                   # one-hot targets
        total = s.sum()
        alpha, l1 = float(self.alpha), self.penalty == "l1"
        l2 = alpha if self.penalty == "l2" else 0.0
        fit_b = self.fit_intercept

        def objective(params, rows, train):
            W, b = params
            Xr, Yr, sr = (X, Y, s) if rows is None else (X[rows], Y[rows], s[rows])
            scale = 1.0 / total if rows is None else n / (len(rows) * total)
            Z = Xr @ W + b                                 # logits
            if use_softmax:
                # cross-entropy: log sum_k e^{z_k} - z_y
                per_row = logsumexp(Z, axis=1) - np.sum(Yr * Z, axis=1)
            else:
                per_row = binary_log_loss(Yr, Z).sum(axis=1)
            loss = scale * (sr @ per_row) + 0.5 * l2 * np.sum(W * W)
            if not train:
                return loss, None
            P = softmax(Z) if use_softmax else sigmoid(Z)  # predicted probabilities
            E = scale * sr[:, None] * (P - Yr)             # d loss / d logits
            grad_W = Xr.T @ E + l2 * W
            if l1 and self.optimizer == "adam":
                grad_W = grad_W + alpha * np.sign(W)       # subgradient of alpha |W|
            grad_b = E.sum(axis=0) if fit_b else np.zeros(k_out)
            return loss, [grad_W, grad_b]

        prox = nonsmooth = None
        if l1:
            nonsmooth = lambda params: alpha * np.abs(params[0]).sum()  # noqa: E731
            if self.optimizer != "adam":
                # proximal step: shrink W by lr * alpha after each gradient step
                def prox(params, step):
                    params[0][...] = soft_threshold(params[0], step * alpha)

        W, b = np.zeros((d, k_out)), np.zeros(k_out)
        self.n_iter_, self.loss_history_, status = descend(
            objective, [W, b], n, optimizer=self.optimizer, learning_rate=self.learning_rate,
            batch_size=self.batch_size, max_iter=self.max_iter, tol=self.tol,
            n_iter_no_change=self.n_iter_no_change, momentum=self.momentum, beta1=self.beta1,
            beta2=self.beta2, rng=np.random.default_rng(_seed(self.random_state)),
            prox=prox, nonsmooth=nonsmooth,
        )
        warn_not_converged(self, status)
        self.coef_, self.intercept_ = W.T.copy(), b  # scikit-learn's shape: (k_out, d)
        self._use_softmax = use_softmax
        return self

    def decision_function(self, X):
        """Logits: shape (n,) for two classes (positive = second class), else (n, K)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Z = X @ self.coef_.T + self.intercept_
        if len(self.classes_) == 2:
            return Z[:, 1] - Z[:, 0] if Z.shape[1] == 2 else Z[:, 0]
        return Z

    def predict_proba(self, X):
        Z = self.decision_function(X)
        if Z.ndim == 1:                                    # binary: sigmoid of the margin
            p = sigmoid(Z)
            return np.column_stack([1 - p, p])
        if self._use_softmax:
            return softmax(Z)
        P = sigmoid(Z)                                     # one-vs-rest: normalise
        return P / P.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        return np.log(np.clip(self.predict_proba(X), 1e-300, None))

    def predict(self, X):
        Z = self.decision_function(X)
        idx = (Z > 0).astype(int) if Z.ndim == 1 else Z.argmax(axis=1)
        return self.classes_[idx]


_DOC_PARAMS = """
    optimizer : {"gd", "sgd", "minibatch", "momentum", "adam"}
        "gd": full-batch gradient descent; "sgd": one row a step; "minibatch": ``batch_size``
        rows a step (32 when None); "momentum" (heavy ball, ``momentum``) and "adam"
        (``beta1``, ``beta2``) use ``batch_size`` rows a step, or all rows when it is None.
    learning_rate : float > 0
    penalty : {"l2", "l1", None}
        "l1" is handled by a proximal step (soft thresholding after each update) for
        gd/sgd/minibatch/momentum and by its subgradient alpha*sign(w) for adam.
    alpha : float >= 0
        Penalty strength on the mean loss; scikit-learn's C = 1 / (alpha * sum(sample_weight)).
    max_iter : int
        Epochs (passes over the data).
    tol : float
        Full batch: stop when the gradient norm (L1: proximal gradient mapping) < tol.
        Mini-batch: stop when the epoch loss improved by less than tol ``n_iter_no_change``
        epochs in a row. Not converging raises a ``ConvergenceWarning``.
    random_state : int, RandomState or None
        Seeds the row shuffling of the stochastic optimizers.

    Attributes
    ----------
    classes_, coef_ (k, n_features), intercept_ (k,), n_iter_,
    loss_history_ : list of the full objective (mean loss + penalty) after each epoch.
"""


class LogisticRegression(_LogisticBase):
    __doc__ = """Logistic regression: sigmoid of a linear score, log loss, gradient descent.

    Two classes: one weight vector, P(y=1|x) = sigmoid(x.w + b). More classes:
    ``multiclass="ovr"`` trains one sigmoid per class against the rest (the probabilities are
    normalised to sum to 1); ``multiclass="softmax"`` trains the softmax model
    (same as ``SoftmaxRegression``).

    Parameters
    ----------
    multiclass : {"ovr", "softmax"}""" + _DOC_PARAMS

    _parameter_constraints = {
        **_COMMON_CONSTRAINTS, "multiclass": [StrOptions({"ovr", "softmax"})],
    }

    def __init__(self, optimizer="gd", learning_rate=0.1, penalty="l2", alpha=1e-4,
                 multiclass="ovr", batch_size=None, momentum=0.9, beta1=0.9, beta2=0.999,
                 max_iter=1000, tol=1e-4, n_iter_no_change=5, fit_intercept=True,
                 random_state=None):
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.penalty = penalty
        self.alpha = alpha
        self.multiclass = multiclass
        self.batch_size = batch_size
        self.momentum = momentum
        self.beta1 = beta1
        self.beta2 = beta2
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.fit_intercept = fit_intercept
        self.random_state = random_state

    def _uses_softmax(self, n_classes):
        return self.multiclass == "softmax" and n_classes > 2


class SoftmaxRegression(_LogisticBase):
    __doc__ = """Multinomial logistic (softmax) regression.

    P(y=k|x) = exp(z_k) / sum_j exp(z_j), z = x W + b, trained on the cross-entropy
    log sum_j exp(z_j) - z_y (computed with log-sum-exp). It keeps one weight column per class
    even for two classes. Compare with scikit-learn's ``LogisticRegression`` (multinomial)
    using C = 1/(alpha * n).

    Parameters
    ----------""" + _DOC_PARAMS

    _parameter_constraints = dict(_COMMON_CONSTRAINTS)

    def __init__(self, optimizer="gd", learning_rate=0.1, penalty="l2", alpha=1e-4,
                 batch_size=None, momentum=0.9, beta1=0.9, beta2=0.999, max_iter=1000,
                 tol=1e-4, n_iter_no_change=5, fit_intercept=True, random_state=None):
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.penalty = penalty
        self.alpha = alpha
        self.batch_size = batch_size
        self.momentum = momentum
        self.beta1 = beta1
        self.beta2 = beta2
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.fit_intercept = fit_intercept
        self.random_state = random_state

    def _uses_softmax(self, n_classes):
        return True
