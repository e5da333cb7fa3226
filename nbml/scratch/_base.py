"""Pieces shared by the from-scratch models: stable math and one gradient-descent loop.

Everything here is plain numpy so that it can be read next to the lecture notes.
"""
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

# ----------------------------------------------------------------------------------------
# Numerically stable building blocks
# ----------------------------------------------------------------------------------------


def sigmoid(z):
    """1 / (1 + e^-z), with z clipped so that e^-z never overflows."""
    z = np.clip(z, -500.0, 500.0)
    return 1.0 / (1.0 + np.exp(-z))


def logsumexp(Z, axis=-1):
    """log(sum(exp(Z))) computed as m + log(sum(exp(Z - m))) with m = max(Z).

    Subtracting the max keeps every exponent <= 0, so nothing overflows.
    """
    m = np.max(Z, axis=axis, keepdims=True)
    return (m + np.log(np.sum(np.exp(Z - m), axis=axis, keepdims=True))).squeeze(axis)


def softmax(Z):
    """Row-wise softmax, shifted by the row max for stability."""
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def binary_log_loss(y, z):
    """Per-sample log loss of a sigmoid model from its *logits* z.

    -[y log s(z) + (1-y) log(1-s(z))] simplifies to log(1 + e^z) - y z, and
    np.logaddexp(0, z) computes log(1 + e^z) without overflow.
    """
    return np.logaddexp(0.0, z) - y * z


def soft_threshold(w, t):
    """Proximal operator of t*|w|: shrink towards 0 by t, and stop at 0."""
    return np.sign(w) * np.maximum(np.abs(w) - t, 0.0)


def warn_not_converged(estimator, status):
    """Warn unless ``status`` (from ``descend``) is "converged"."""
    name = type(estimator).__name__
    if status == "diverged":
        msg = (f"{name} diverged: the loss blew up (inf/NaN). The learning_rate="
               f"{estimator.learning_rate} is too large for this data (or the features are "
               "not standardised); try a smaller one.")
    elif status == "max_iter":
        msg = (f"{name} did not converge in max_iter={estimator.max_iter} iterations; "
               "increase max_iter, tune learning_rate, or loosen tol.")
    else:
        return
    warnings.warn(msg, ConvergenceWarning, stacklevel=3)


# ----------------------------------------------------------------------------------------
# Optimizers: each one turns a gradient into an update of the parameters (in place)
# ----------------------------------------------------------------------------------------

OPTIMIZERS = ("gd", "sgd", "minibatch", "momentum", "adam")


class Optimizer:
    """Plain, momentum and Adam updates for a list of parameter arrays."""

    def __init__(self, name, learning_rate, momentum=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.name, self.lr = name, learning_rate
        self.momentum, self.beta1, self.beta2, self.epsilon = momentum, beta1, beta2, epsilon
        self.t = 0
        self.state = None

    def step(self, params, grads):
        self.t += 1
        if self.state is None:
            self.state = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
        for p, g, (m, v) in zip(params, grads, self.state):
            if self.name == "momentum":
                # velocity: v <- mu v - lr g ;  p <- p + v
                m *= self.momentum
                m -= self.lr * g
                p += m
            elif self.name == "adam":
                # running means of g and g^2, bias-corrected, then a per-coordinate step
                m[...] = self.beta1 * m + (1 - self.beta1) * g
                v[...] = self.beta2 * v + (1 - self.beta2) * g * g
                m_hat = m / (1 - self.beta1**self.t)
                v_hat = v / (1 - self.beta2**self.t)
                p -= self.lr * m_hat / (np.sqrt(v_hat) + self.epsilon)
            else:  # gd, sgd, minibatch: p <- p - lr g
                p -= self.lr * g


def effective_batch_size(optimizer, batch_size, n_samples):
    """gd: all rows; sgd: 1 row; minibatch: batch_size (32 if None);
    momentum/adam: batch_size rows, or all rows when batch_size is None."""
    if optimizer == "gd":
        return n_samples
    if optimizer == "sgd":
        return 1
    if optimizer == "minibatch":
        return min(batch_size or 32, n_samples)
    return n_samples if batch_size is None else min(batch_size, n_samples)


def descend(objective, params, n_samples, *, optimizer, learning_rate, batch_size, max_iter,
            tol, n_iter_no_change, rng, momentum=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8,
            prox=None, nonsmooth=None):
    """Minimise ``objective`` by (stochastic) gradient descent. Updates ``params`` in place.

    objective(params, rows, train) -> (loss, grads): the smooth loss on ``rows`` (None = all rows)
        and its gradient, one array per parameter.
    prox(params, step): optional proximal step for a non-smooth penalty (e.g. L1), applied
        after each update; nonsmooth(params) gives that penalty's value for the history.

    One iteration is one epoch (a pass over the data). Stopping rule:
      * full batch: stop when the gradient (for L1: the proximal gradient mapping) has a
        Euclidean norm below ``tol``;
      * mini-batches: stop when the epoch loss has not improved by at least ``tol`` for
        ``n_iter_no_change`` epochs in a row.
    Returns (n_iter, loss_history, status) with status "converged", "max_iter" or "diverged".
    """
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
        return _descend(objective, params, n_samples, optimizer, learning_rate, batch_size,
                        max_iter, tol, n_iter_no_change, rng, momentum, beta1, beta2, epsilon,
                        prox, nonsmooth)


def _blew_up(history):
    """Diverging: the loss is inf/NaN or a million times its starting value."""
    return not np.isfinite(history[-1]) or history[-1] > 1e6 * (abs(history[0]) + 1.0)


def _descend(objective, params, n_samples, optimizer, learning_rate, batch_size, max_iter,
             tol, n_iter_no_change, rng, momentum, beta1, beta2, epsilon, prox, nonsmooth):
    opt = Optimizer(optimizer, learning_rate, momentum, beta1, beta2, epsilon)
    bs = effective_batch_size(optimizer, batch_size, n_samples)
    extra = nonsmooth or (lambda p: 0.0)
    history, best, stale = [], np.inf, 0
    for epoch in range(1, max_iter + 1):
        if bs >= n_samples:
            loss, grads = objective(params, None, True)
            history.append(loss + extra(params))              # loss at the current point
            # stationarity measure at the current point
            if prox is None:
                crit = np.sqrt(sum(float(np.sum(g * g)) for g in grads))
            else:
                trial = [p - learning_rate * g for p, g in zip(params, grads)]
                prox(trial, learning_rate)
                crit = np.sqrt(sum(float(np.sum((p - t) ** 2)) for p, t in zip(params, trial)))
                crit /= learning_rate
            if _blew_up(history):
                return epoch, history, "diverged"
            if crit < tol:
                return epoch, history, "converged"
            opt.step(params, grads)
            if prox is not None:
                prox(params, learning_rate)
        else:
            order = rng.permutation(n_samples)                # reshuffle every epoch
            for start in range(0, n_samples, bs):
                rows = order[start:start + bs]
                _, grads = objective(params, rows, True)
                opt.step(params, grads)
                if prox is not None:
                    prox(params, learning_rate)
            loss = objective(params, None, False)[0] + extra(params)
            history.append(loss)
            if _blew_up(history):
                return epoch, history, "diverged"
            stale = stale + 1 if loss > best - tol else 0
            best = min(best, loss)
            if stale >= n_iter_no_change:
                return epoch, history, "converged"
    return max_iter, history, "max_iter"
