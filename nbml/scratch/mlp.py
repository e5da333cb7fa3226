"""A multi-layer perceptron classifier with backpropagation written out by hand.

Network (one or two hidden layers):

    A0 = X
    Z1 = A0 W1 + b1,  A1 = act(Z1) * mask1 / (1 - p)      (inverted dropout while training)
    Z2 = A1 W2 + b2,  A2 = act(Z2) * mask2 / (1 - p)      (only with two hidden layers)
    Zout = A_last Wout + bout,   P = softmax(Zout)

Loss: mean cross-entropy (log-sum-exp form) + alpha/2 * sum of squared weights (not biases).

Backpropagation, from the output down:

    dZout = (P - Y) / n                     gradient of the mean cross-entropy w.r.t. logits
    dW    = A_prev^T dZ + alpha W,   db = sum_rows dZ
    dA    = dZ W^T                          push the error one layer down
    dZ    = dA * mask / (1 - p) * act'(Z)   through dropout and the activation
"""
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from nbml.errors import NbmlError
from nbml.scratch._base import descend, logsumexp, softmax, warn_not_converged
from nbml.scratch.linear import _seed
from nbml.scratch.logistic import check_two_classes

# activation -> (function, derivative written in terms of Z)
ACTIVATIONS = {
    "relu": (lambda Z: np.maximum(Z, 0.0), lambda Z: (Z > 0).astype(Z.dtype)),
    "sigmoid": (lambda Z: 0.5 * (1.0 + np.tanh(0.5 * Z)),            # stable sigmoid
                lambda Z: 0.25 * (1.0 - np.tanh(0.5 * Z) ** 2)),     # s (1 - s)
    "tanh": (np.tanh, lambda Z: 1.0 - np.tanh(Z) ** 2),
}


def init_params(layer_sizes, init, rng):
    """Weights W_l of shape (fan_in, fan_out) and zero biases.

    Xavier/Glorot: uniform in +-sqrt(6 / (fan_in + fan_out)) (keeps variance for tanh/sigmoid);
    He: normal with std sqrt(2 / fan_in) (compensates ReLU zeroing half its inputs).
    """
    params = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        if init == "he":
            W = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        else:
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-limit, limit, size=(fan_in, fan_out))
        params += [W, np.zeros(fan_out)]
    return params


def forward(params, X, activation="relu", dropout=0.0, rng=None):
    """Logits and, per hidden layer, (Z, dropout mask, output A) for backprop.

    Dropout applies only when ``rng`` is given (training)."""
    act = ACTIVATIONS[activation][0]
    A, cache = X, []
    n_layers = len(params) // 2
    for layer in range(n_layers - 1):                   # hidden layers
        Z = A @ params[2 * layer] + params[2 * layer + 1]
        A = act(Z)
        mask = None
        if dropout > 0 and rng is not None:
            mask = (rng.random(Z.shape) >= dropout) / (1.0 - dropout)
            A = A * mask
        cache.append((Z, mask, A))
    return A @ params[-2] + params[-1], cache           # output layer: logits


def loss_and_grads(params, X, Y, activation="relu", alpha=0.0, dropout=0.0, rng=None,
                   weights=None):
    """Mean cross-entropy (+ L2) of the network and its gradient for every parameter.

    Y is one-hot (n, K). ``weights`` (optional, summing to 1) replaces the plain mean over
    rows. This is the function the tests compare with finite differences and torch autograd.
    """
    n = X.shape[0]
    w = np.full(n, 1.0 / n) if weights is None else weights
    Zout, cache = forward(params, X, activation, dropout, rng)
    loss = w @ (logsumexp(Zout, axis=1) - np.sum(Y * Zout, axis=1))
    loss += 0.5 * alpha * sum(np.sum(W * W) for W in params[0::2])
    d_act = ACTIVATIONS[activation][1]
    grads = [None] * len(params)
    dZ = w[:, None] * (softmax(Zout) - Y)               # d loss / d logits
    for layer in range(len(params) // 2 - 1, -1, -1):
        W = params[2 * layer]
        A_in = X if layer == 0 else cache[layer - 1][2]  # what this layer multiplied
        grads[2 * layer] = A_in.T @ dZ + alpha * W
        grads[2 * layer + 1] = dZ.sum(axis=0)
        if layer == 0:
            break
        Z_in, mask, _ = cache[layer - 1]
        dA = dZ @ W.T                                   # error on the layer below's output
        if mask is not None:
            dA = dA * mask                              # dropped units pass no gradient
        dZ = dA * d_act(Z_in)                           # through the activation
    return loss, grads


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """A 1- or 2-hidden-layer neural network for classification, trained with backprop.

    Parameters
    ----------
    hidden_layer_sizes : tuple of 1 or 2 ints, default (32,)
    activation : {"relu", "sigmoid", "tanh"}
    dropout : float in [0, 1)
        Probability of zeroing a hidden unit while training (inverted dropout: the kept units
        are scaled by 1/(1-p), so prediction needs no rescaling).
    init : {"auto", "xavier", "he"}
        "auto" uses He for relu and Xavier for sigmoid/tanh.
    optimizer : {"adam", "momentum", "sgd", "minibatch", "gd"}
        Update rule, as in ``nbml.scratch.LogisticRegression``; mini-batches of ``batch_size``.
    learning_rate : float > 0
    batch_size : int, default 64
    alpha : float >= 0
        L2 penalty alpha/2 * sum(W^2) added to the mean cross-entropy.
    max_iter : int
        Epochs.
    tol, n_iter_no_change :
        Stop when the epoch loss improved by less than tol that many epochs in a row
        (full batch: when the gradient norm < tol).
    random_state : int, RandomState or None
        Seeds the initial weights, the shuffling and the dropout masks.

    Attributes
    ----------
    classes_, coefs_ (list of weight matrices), intercepts_, n_iter_,
    loss_history_ : mean cross-entropy + penalty on the whole training set after each epoch
    (without dropout).
    """

    _parameter_constraints = {
        "hidden_layer_sizes": [tuple, list, Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "init": [StrOptions({"auto", "xavier", "he"})],
        "optimizer": [StrOptions({"adam", "momentum", "sgd", "minibatch", "gd"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, hidden_layer_sizes=(32,), activation="relu", dropout=0.0, init="auto",
                 optimizer="adam", learning_rate=0.01, batch_size=64, alpha=1e-4,
                 momentum=0.9, max_iter=200, tol=1e-4, n_iter_no_change=10,
                 random_state=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.init = init
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.alpha = alpha
        self.momentum = momentum
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state

    def _hidden(self):
        hidden = self.hidden_layer_sizes
        hidden = (hidden,) if isinstance(hidden, Integral) else tuple(hidden)
        if len(hidden) not in (1, 2) or not all(isinstance(h, Integral) and h > 0
                                                for h in hidden):
            raise NbmlError(
                "hidden_layer_sizes must be one or two positive ints, e.g. (32,) or (64, 32); "
                f"got {self.hidden_layer_sizes!r}."
            )
        return hidden

    def fit(self, X, y):
        self._validate_params()
        hidden = self._hidden()
        X, y = validate_data(self, X, y, dtype=np.float64)
        self.classes_, y_idx = check_two_classes(y)
        n, d = X.shape
        K = len(self.classes_)
        Y = np.zeros((n, K))
        Y[np.arange(n), y_idx] = 1.0
        rng = np.random.default_rng(_seed(self.random_state))
        init = self.init if self.init != "auto" else ("he" if self.activation == "relu"
                                                       else "xavier")
        params = init_params((d, *hidden, K), init, rng)

        def objective(params, rows, train):
            Xr, Yr = (X, Y) if rows is None else (X[rows], Y[rows])
            if not train:                                  # evaluation: no dropout
                Zout, _ = forward(params, Xr, self.activation)
                loss = np.mean(logsumexp(Zout, axis=1) - np.sum(Yr * Zout, axis=1))
                return loss + 0.5 * self.alpha * sum(np.sum(W * W) for W in params[0::2]), None
            return loss_and_grads(params, Xr, Yr, self.activation, self.alpha, self.dropout,
                                  rng if self.dropout > 0 else None)

        self.n_iter_, self.loss_history_, status = descend(
            objective, params, n, optimizer=self.optimizer, learning_rate=self.learning_rate,
            batch_size=self.batch_size, max_iter=self.max_iter, tol=self.tol,
            n_iter_no_change=self.n_iter_no_change, momentum=self.momentum, rng=rng,
        )
        warn_not_converged(self, status)
        self.coefs_, self.intercepts_ = params[0::2], params[1::2]
        return self

    def _logits(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        params = [p for pair in zip(self.coefs_, self.intercepts_) for p in pair]
        return forward(params, X, self.activation)[0]

    def predict_proba(self, X):
        return softmax(self._logits(X))

    def predict(self, X):
        idx = self._logits(X).argmax(axis=1)
        return self.classes_[idx]
