"""The torch training loop: determinism, early stopping, schedulers, interrupts, weights."""
import os
import signal
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.datasets import load_breast_cancer, make_classification, make_regression  # noqa: E402
from sklearn.metrics import recall_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from nbml.torch.estimators import TorchClassifier, TorchRegressor  # noqa: E402
from nbml.torch.mlp import mlp  # noqa: E402
from nbml.torch.trainer import (  # noqa: E402
    NaNLossError,
    Trainer,
    TrainingInterrupted,
    batch_bounds,
    init_weights,
)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Small networks train fastest on one thread, and CI machines are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X[:400], y[:400], X[400:], y[400:]


def _val_loss(clf, X, y):
    proba = clf.predict_proba(X)
    return float(-np.mean(np.log(proba[np.arange(len(y)), y])))


def test_same_seed_same_history_and_predictions(cancer):
    X, y, Xv, yv = cancer
    params = dict(hidden=(16,), dropout=0.2, epochs=4, lr=1e-2, batch_size=32, init="he")
    a = TorchClassifier(seed=3, **params).fit(X, y, X_val=Xv, y_val=yv)
    b = TorchClassifier(seed=3, **params).fit(X, y, X_val=Xv, y_val=yv)
    c = TorchClassifier(seed=4, **params).fit(X, y, X_val=Xv, y_val=yv)
    columns = ["epoch", "train_loss", "val_loss", "val_accuracy", "lr"]
    assert a.history_[columns].equals(b.history_[columns])
    np.testing.assert_array_equal(a.predict_proba(Xv), b.predict_proba(Xv))
    assert not a.history_["train_loss"].equals(c.history_["train_loss"])


def test_seeding_leaves_the_global_torch_rng_alone(cancer):
    X, y, _, _ = cancer
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    TorchClassifier(hidden=(4,), epochs=1, seed=0).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_early_stopping_restores_the_best_weights(cancer):
    X, y, Xv, yv = cancer
    # a big network with a high learning rate overfits 400 rows quickly
    clf = TorchClassifier(hidden=(256, 256), lr=3e-2, epochs=60, batch_size=16, patience=3)
    clf.fit(X, y, X_val=Xv, y_val=yv)
    history = clf.history_
    assert clf.stopped_early_ and clf.n_epochs_ < 60
    assert clf.n_epochs_ == clf.best_epoch_ + 3
    best = history.loc[history["epoch"] == clf.best_epoch_, "val_loss"].item()
    assert best == history["val_loss"].min()
    assert history["val_loss"].iloc[-1] > best
    # the fitted module is the best epoch's, not the last one's
    assert _val_loss(clf, Xv, yv) == pytest.approx(best, rel=1e-4)


def test_patience_without_validation_data_holds_out_a_stratified_fraction(cancer):
    X, y, _, _ = cancer
    seen = {}

    class Spy:
        def on_epoch_end(self, estimator, history):
            seen["rows"] = len(history)

    clf = TorchClassifier(hidden=(8,), epochs=3, patience=5, validation_fraction=0.25,
                          callbacks=[Spy()]).fit(X, y)
    assert clf.history_["val_loss"].notna().all() and seen["rows"] == 3
    assert clf.history_["val_accuracy"].between(0, 1).all()


@pytest.mark.parametrize(
    "scheduler, expected",
    [
        ("step:2:0.5", [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]),
        ("exponential:0.5", [0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125]),
        (None, [0.1] * 6),
    ],
)
def test_epoch_schedulers_change_lr_as_expected(cancer, scheduler, expected):
    X, y, _, _ = cancer
    clf = TorchClassifier(hidden=(4,), optimizer="sgd", lr=0.1, epochs=6, scheduler=scheduler)
    clf.fit(X, y)
    np.testing.assert_allclose(clf.history_["lr"], expected, rtol=1e-6)


def test_cosine_onecycle_and_plateau_schedules(cancer):
    X, y, Xv, yv = cancer
    base = dict(hidden=(4,), optimizer="sgd", lr=0.1, epochs=8, batch_size=64)
    cosine = TorchClassifier(scheduler="cosine", **base).fit(X, y).history_["lr"].to_numpy()
    np.testing.assert_allclose(cosine, 0.05 * (1 + np.cos(np.pi * np.arange(8) / 8)), rtol=1e-6)
    onecycle = TorchClassifier(scheduler="onecycle", **base).fit(X, y).history_["lr"].to_numpy()
    peak = int(np.argmax(onecycle))
    assert 0 < peak < 7 and onecycle[0] < 0.1 / 10 and onecycle.max() <= 0.1 + 1e-9
    assert np.all(np.diff(onecycle[: peak + 1]) > 0) and np.all(np.diff(onecycle[peak:]) < 0)
    # plateau: a learning rate far too small stalls the validation loss -> lr cut by FACTOR
    plateau = TorchClassifier(
        hidden=(4,), optimizer="sgd", momentum=0.0, lr=1e-7, epochs=6, scheduler="plateau:1:0.5"
    ).fit(X, y, X_val=Xv, y_val=yv).history_["lr"].to_numpy()
    assert plateau[0] == pytest.approx(1e-7)
    assert np.all(np.diff(plateau) <= 0) and plateau[-1] < 1e-7


def test_keyboard_interrupt_from_a_callback_keeps_best_weights_and_history(cancer):
    X, y, Xv, yv = cancer

    class StopAt:
        def on_epoch_end(self, estimator, history):
            if len(history) == 6:
                raise KeyboardInterrupt

    clf = TorchClassifier(hidden=(256, 256), lr=3e-2, epochs=50, batch_size=16,
                          callbacks=[StopAt()])
    with pytest.warns(TrainingInterrupted, match="interrupted after 6 complete epoch"):
        clf.fit(X, y, X_val=Xv, y_val=yv)
    assert clf.interrupted_ and len(clf.history_) == 6
    best = clf.history_["val_loss"].min()
    assert clf.best_epoch_ == int(clf.history_["val_loss"].idxmin()) + 1
    assert _val_loss(clf, Xv, yv) == pytest.approx(best, rel=1e-4)
    assert clf.predict(Xv).shape == yv.shape


def test_ctrl_c_stops_after_the_current_batch(cancer):
    """A real SIGINT: the trainer's handler only sets a flag; the loop stops at a batch end."""
    X, y, _, _ = cancer

    class CtrlC:
        def on_epoch_end(self, estimator, history):
            if len(history) == 2:
                os.kill(os.getpid(), signal.SIGINT)

    clf = TorchClassifier(hidden=(8,), epochs=20, callbacks=[CtrlC()])
    with pytest.warns(TrainingInterrupted):
        clf.fit(X, y)
    assert clf.interrupted_ and len(clf.history_) == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_other_callback_errors_propagate(cancer):
    X, y, _, _ = cancer

    class Pruned(Exception):
        pass

    class Prune:
        def on_epoch_end(self, estimator, history):
            raise Pruned("pruned at epoch 1")

    with pytest.raises(Pruned):
        TorchClassifier(hidden=(4,), epochs=3, callbacks=[Prune()]).fit(X, y)


def test_nan_loss_names_the_learning_rate():
    X, y = make_regression(n_samples=200, n_features=5, noise=5, random_state=0)
    reg = TorchRegressor(hidden=(32,), optimizer="sgd", lr=10.0, epochs=5)
    with pytest.raises(NaNLossError, match=r"training loss became (nan|inf) at epoch \d+ with lr=10: "
                                           r"the learning rate is probably too high") as info:
        reg.fit(X, y)
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)


def test_zero_sample_weight_is_like_dropping_rows(cancer):
    X, y, Xv, yv = cancer
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(400, X.shape[1])) * 3
    X_all = np.vstack([X, noise])
    y_all = np.concatenate([y, 1 - (noise[:, 0] > 0)])  # rows that teach the wrong thing
    params = dict(hidden=(), lr=1e-2, epochs=20, batch_size=32)
    clean = TorchClassifier(**params).fit(X, y)
    zero = TorchClassifier(**params).fit(
        X_all, y_all, sample_weight=np.r_[np.ones(400), np.zeros(400)]
    )
    unweighted = TorchClassifier(**params).fit(X_all, y_all)
    agree = np.mean(clean.predict(Xv) == zero.predict(Xv))
    assert agree >= 0.97
    np.testing.assert_allclose(zero.predict_proba(Xv), clean.predict_proba(Xv), atol=0.1)
    # the weights matter: with weight 1 the noise rows pull the model away
    assert np.abs(unweighted.predict_proba(Xv) - clean.predict_proba(Xv)).max() > 0.1


def test_balanced_class_weight_raises_minority_recall():
    X, y = make_classification(n_samples=600, n_features=8, weights=[0.92, 0.08],
                               class_sep=0.5, random_state=1)
    params = dict(hidden=(16,), lr=1e-2, epochs=15, batch_size=32)
    plain = TorchClassifier(**params).fit(X, y)
    balanced = TorchClassifier(class_weight="balanced", **params).fit(X, y)
    assert recall_score(y, balanced.predict(X)) > recall_score(y, plain.predict(X)) + 0.1
    weighted = TorchClassifier(class_weight={0: 1, 1: 12}, **params).fit(X, y)
    assert recall_score(y, weighted.predict(X)) > recall_score(y, plain.predict(X)) + 0.1


@pytest.mark.parametrize("init", ["xavier", "he", "normal"])
def test_init_strategies(init):
    torch.manual_seed(0)
    net = init_weights(mlp(200, hidden=(300,), n_out=100), init)
    weight, bias = net[0].weight.detach(), net[0].bias.detach()
    expected_std = {
        "xavier": np.sqrt(2 / (200 + 300)),
        "he": np.sqrt(2 / 200),
        "normal": 0.01,
    }[init]
    assert float(weight.std()) == pytest.approx(expected_std, rel=0.05)
    assert torch.all(bias == 0)


def test_default_init_leaves_torch_defaults():
    torch.manual_seed(0)
    net = mlp(10, hidden=(5,), n_out=2)
    before = net[0].weight.clone()
    assert torch.equal(init_weights(net, "default")[0].weight, before)


def test_gradient_clipping_limits_the_first_step(cancer):
    X, y, _, _ = cancer
    moved = {}
    for clip in (None, 1e-4):
        torch.manual_seed(0)
        net = mlp(30, hidden=(), n_out=2)
        start = net[0].weight.detach().clone()
        Trainer(optimizer="sgd", momentum=0.0, lr=1.0, epochs=1, batch_size=400, clip=clip,
                device="cpu").fit(net, X, y)
        moved[clip] = float((net[0].weight.detach() - start).norm())
    assert moved[1e-4] == pytest.approx(1e-4, rel=1e-2)
    assert moved[None] > 100 * moved[1e-4]


def test_weight_decay_shrinks_weights(cancer):
    X, y, _, _ = cancer
    norms = []
    for decay in (0.0, 3.0):
        clf = TorchClassifier(hidden=(), optimizer="adamw", lr=1e-2, weight_decay=decay,
                              epochs=30).fit(X, y)
        norms.append(float(clf.module_[0].weight.detach().norm()))
    assert norms[1] < 0.6 * norms[0]


def test_optimizers_all_train(cancer):
    X, y, Xv, yv = cancer
    for name, lr in (("sgd", 0.05), ("adam", 1e-2), ("adamw", 1e-2), ("rmsprop", 1e-3)):
        clf = TorchClassifier(hidden=(8,), optimizer=name, lr=lr, epochs=5).fit(X, y)
        assert clf.score(Xv, yv) > 0.85, name


def test_batch_bounds_never_leave_one_row_alone():
    assert batch_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert batch_bounds(9, 4) == [(0, 4), (4, 9)]
    assert batch_bounds(1, 4) == [(0, 1)]


def test_batchnorm_trains_when_a_batch_would_have_one_row():
    X, y = make_classification(n_samples=129, random_state=0)
    clf = TorchClassifier(hidden=(8,), batchnorm=True, epochs=2, batch_size=32).fit(X, y)
    assert len(clf.history_) == 2


def test_trainer_on_a_plain_module_with_tensors():
    X, y = make_regression(n_samples=256, n_features=4, noise=0.1, random_state=0)
    net = torch.nn.Linear(4, 1)
    outcome = Trainer(lr=0.1, epochs=30, batch_size=32, device="cpu").fit(
        net, torch.tensor(X, dtype=torch.float32), torch.tensor(y / y.std(), dtype=torch.float32),
        loss="mse",
    )
    assert outcome.history["train_loss"].iloc[-1] < 0.01
    assert outcome.device == "cpu" and not outcome.interrupted
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warnings on the happy path
        Trainer(epochs=1, device="cpu").fit(net, X, y / y.std(), loss="mse")
