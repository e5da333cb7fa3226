"""nbml.scratch.MLPClassifier: hand-written backprop against finite differences and torch.

Tolerances: central differences (eps=1e-6, float64) agree with backprop to 1e-6 relative;
torch autograd on the same float64 weights agrees to 1e-10.
"""
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from nbml.scratch import MLPClassifier
from nbml.scratch.mlp import forward, init_params, loss_and_grads


def small_problem(hidden, seed=0, n=12, d=4, k=3, init="xavier"):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = np.eye(k)[rng.integers(0, k, n)]
    params = init_params((d, *hidden, k), init, rng)
    for b in params[1::2]:
        b[:] = rng.normal(scale=0.1, size=b.shape)      # non-zero biases exercise db too
    return X, Y, params


def numeric_grads(params, f, eps=1e-6):
    grads = []
    for p in params:
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            up = f()
            p[i] = old - eps
            down = f()
            p[i] = old
            g[i] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


CASES = [((5,), "relu", 0.0), ((5,), "sigmoid", 0.1), ((5,), "tanh", 0.0),
         ((6, 4), "relu", 0.0), ((6, 4), "tanh", 0.01), ((6, 4), "sigmoid", 0.0)]


@pytest.mark.parametrize("hidden,activation,alpha", CASES)
def test_backprop_matches_finite_differences(hidden, activation, alpha):
    X, Y, params = small_problem(hidden)
    _, grads = loss_and_grads(params, X, Y, activation, alpha)
    numeric = numeric_grads(params, lambda: loss_and_grads(params, X, Y, activation, alpha)[0])
    for g, gn in zip(grads, numeric):
        np.testing.assert_allclose(g, gn, rtol=1e-6, atol=1e-8)


def test_backprop_with_dropout_matches_finite_differences_for_a_fixed_mask():
    X, Y, params = small_problem((6, 4), init="he")

    def at(params):   # the same seed draws the same dropout masks every call
        return loss_and_grads(params, X, Y, "relu", 0.0, dropout=0.3,
                              rng=np.random.default_rng(7))

    _, grads = at(params)
    numeric = numeric_grads(params, lambda: at(params)[0])
    for g, gn in zip(grads, numeric):
        np.testing.assert_allclose(g, gn, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("hidden,activation,alpha", CASES)
@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_backprop_matches_torch_autograd(hidden, activation, alpha, dropout):
    torch = pytest.importorskip("torch")
    X, Y, params = small_problem(hidden, seed=1)
    _, grads = loss_and_grads(params, X, Y, activation, alpha, dropout,
                              rng=np.random.default_rng(3))
    masks = [m for _, m, _ in forward(params, X, activation, dropout,
                                      np.random.default_rng(3))[1]]

    act = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[activation]
    tparams = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    A = torch.tensor(X)
    for layer in range(len(params) // 2 - 1):
        A = act(A @ tparams[2 * layer] + tparams[2 * layer + 1])
        if masks[layer] is not None:
            A = A * torch.tensor(masks[layer])
    logits = A @ tparams[-2] + tparams[-1]
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(Y.argmax(1)))
    loss = loss + 0.5 * alpha * sum((W ** 2).sum() for W in tparams[0::2])
    loss.backward()
    for g, tp in zip(grads, tparams):
        np.testing.assert_allclose(g, tp.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_init_schemes_have_the_right_scale():
    rng = np.random.default_rng(0)
    W_he = init_params((400, 300), "he", rng)[0]
    W_xavier = init_params((400, 300), "xavier", rng)[0]
    assert abs(W_he.std() - np.sqrt(2 / 400)) < 0.002
    assert abs(W_xavier.std() - np.sqrt(2 / 700)) < 0.002          # uniform: var = limit^2/3
    assert np.abs(W_xavier).max() <= np.sqrt(6 / 700)


@pytest.fixture(scope="module")
def cancer_split():
    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    sc = StandardScaler().fit(X_tr)
    return sc.transform(X_tr), sc.transform(X_te), y_tr, y_te


@pytest.mark.parametrize("kw", [
    {}, {"hidden_layer_sizes": (32, 16), "activation": "tanh", "dropout": 0.2},
    {"activation": "sigmoid", "optimizer": "momentum", "learning_rate": 0.05},
])
def test_learns_breast_cancer(cancer_split, kw):
    X_tr, X_te, y_tr, y_te = cancer_split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = MLPClassifier(random_state=0, max_iter=60, **kw).fit(X_tr, y_tr)
    assert m.score(X_te, y_te) > 0.94
    assert m.loss_history_[-1] < 0.5 * m.loss_history_[0]
    assert len(m.coefs_) == len(m.hidden_layer_sizes) + 1


def test_same_seed_same_network_and_dropout_off_at_prediction():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(8,), dropout=0.5, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a, b = MLPClassifier(**kw).fit(X, y), MLPClassifier(**kw).fit(X, y)
        c = MLPClassifier(**{**kw, "random_state": 1}).fit(X, y)
    for wa, wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])
    np.testing.assert_array_equal(a.predict_proba(X), a.predict_proba(X))  # no dropout noise
    np.testing.assert_allclose(a.predict_proba(X).sum(axis=1), 1.0)


def test_not_converging_warns():
    X, y = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="did not converge in max_iter=2"):
        MLPClassifier(max_iter=2, random_state=0).fit(X, y)


def test_bad_input():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be one or two"):
        MLPClassifier(hidden_layer_sizes=(4, 4, 4)).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'learning_rate' parameter"):
        MLPClassifier(learning_rate=0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'dropout' parameter"):
        MLPClassifier(dropout=1.0).fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        MLPClassifier().fit(X, np.zeros(len(X)))
    X_nan = X.copy()
    X_nan[1, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MLPClassifier().fit(X_nan, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MLPClassifier().fit(X, y[:-1])


@pytest.mark.parametrize("name,torch_opt,kw", [
    ("gd", "SGD", {}),
    ("momentum", "SGD", {"momentum": 0.9}),
    ("adam", "Adam", {"betas": (0.9, 0.999), "eps": 1e-8}),
])
def test_update_rules_match_torch_optimizers(name, torch_opt, kw):
    """Five full-batch steps of our Optimizer equal torch.optim's on the same network."""
    torch = pytest.importorskip("torch")
    from nbml.scratch._base import Optimizer

    X, Y, params = small_problem((6,), seed=2)
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt = Optimizer(name, 0.05)
    topt = getattr(torch.optim, torch_opt)(tparams, lr=0.05, **kw)
    for _ in range(5):
        _, grads = loss_and_grads(params, X, Y, "tanh")
        opt.step(params, grads)
        topt.zero_grad()
        A = torch.tanh(torch.tensor(X) @ tparams[0] + tparams[1])
        loss = torch.nn.functional.cross_entropy(A @ tparams[2] + tparams[3],
                                                 torch.tensor(Y.argmax(1)))
        loss.backward()
        topt.step()
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-9, atol=1e-12)
