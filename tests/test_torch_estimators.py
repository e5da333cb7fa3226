"""TorchClassifier / TorchRegressor as scikit-learn estimators, nbml.mlp, and bad input."""
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_iris, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import nbml  # noqa: E402
from nbml.torch.estimators import TorchClassifier, TorchRegressor, from_module  # noqa: E402
from nbml.torch.mlp import MLPSpec, mlp  # noqa: E402

SGD_WEIGHTS_REASON = (
    "mini-batch training: an integer sample_weight scales a row's loss inside its batch, while "
    "repeating the row changes how many batches there are and which rows share them, so the "
    "two fits follow different optimization paths (they agree only approximately; see "
    "test_zero_sample_weight_is_like_dropping_rows)"
)


def _expected_failures(estimator):
    return {"check_sample_weight_equivalence_on_dense_data": SGD_WEIGHTS_REASON}


@parametrize_with_checks(
    [
        TorchClassifier(hidden=(16,), epochs=20, lr=1e-2, batch_size=32),
        TorchRegressor(hidden=(16,), epochs=30, lr=1e-2, batch_size=32),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Small networks train fastest on one thread, and CI machines are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_public_names_are_the_torch_estimators():
    assert nbml.TorchClassifier is TorchClassifier
    assert nbml.TorchRegressor is TorchRegressor
    assert nbml.mlp is mlp


def test_classifier_learns_iris_with_string_labels(iris):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = TorchClassifier(hidden=(32,), lr=1e-2, epochs=30, batch_size=16).fit(X, labels)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert clf.n_features_in_ == 4
    assert clf.score(X, labels) > 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(X)) <= set(labels)
    assert list(clf.history_.columns) == [
        "epoch", "train_loss", "val_loss", "val_accuracy", "lr", "time"
    ]
    assert len(clf.history_) == 30 and clf.history_["val_loss"].isna().all()


def test_regressor_multioutput_and_r2_history():
    X, y = make_regression(n_samples=300, n_features=5, n_targets=2, noise=1, random_state=0)
    y = y / y.std(axis=0)
    reg = TorchRegressor(hidden=(32,), lr=1e-2, epochs=40, batch_size=32)
    reg.fit(X[:240], y[:240], X_val=X[240:], y_val=y[240:])
    assert reg.predict(X).shape == (300, 2)
    assert reg.score(X[240:], y[240:]) > 0.9
    assert "val_r2" in reg.history_.columns
    # the history's last r2 is the module's r2 on the validation rows (sklearn's definition)
    from sklearn.metrics import r2_score

    last = reg.history_["val_r2"].iloc[-1]
    assert last == pytest.approx(r2_score(y[240:], reg.predict(X[240:])), abs=1e-4)


def test_works_in_pipeline_grid_search_and_cross_validation(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), TorchClassifier(epochs=5, lr=1e-2, batch_size=32))
    search = GridSearchCV(pipe, {"torchclassifier__hidden": [(8,), (16, 8)],
                                 "torchclassifier__dropout": [0.0, 0.2]}, cv=2)
    search.fit(X, y)
    assert set(search.best_params_) == {"torchclassifier__hidden", "torchclassifier__dropout"}
    scores = cross_val_score(TorchClassifier(hidden=(8,), epochs=5, lr=1e-2), X, y, cv=3)
    assert scores.shape == (3,)


def test_module_instance_is_copied_not_trained(cancer):
    X, y = cancer
    net = torch.nn.Sequential(torch.nn.Linear(30, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    clf = TorchClassifier(module=net, epochs=5, lr=1e-2).fit(X, y)
    assert clf.module_ is not net
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert clf.score(X, y) > 0.8


def test_callable_module_and_mlp_spec(cancer):
    X, y = cancer
    spec = mlp(hidden=(16,), dropout=0.1, batchnorm=True)
    assert isinstance(spec, MLPSpec)
    assert pickle.loads(pickle.dumps(spec)) == spec
    clf = TorchClassifier(module=spec, epochs=3).fit(X, y)
    layers = [type(layer).__name__ for layer in clf.module_]
    assert layers == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert clf.module_[0].in_features == 30 and clf.module_[-1].out_features == 2
    factory = lambda n_in, n_out: torch.nn.Linear(n_in, n_out)  # noqa: E731
    assert TorchClassifier(module=factory, epochs=2).fit(X, y).module_.out_features == 2


def test_mlp_layers():
    net = mlp(10, hidden=(32, 16), n_out=3, dropout=0.5, activation="tanh")
    assert [type(m).__name__ for m in net] == [
        "Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"
    ]
    assert net(torch.zeros(4, 10)).shape == (4, 3)
    assert [type(m).__name__ for m in mlp(10, hidden=(), n_out=1)] == ["Linear"]
    assert mlp(4, hidden=8, n_out=2)[0].out_features == 8


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(activation="swish"), "activation='swish' is not allowed: use one of relu"),
        (dict(dropout=1.0), r"dropout=1.0 is not allowed: use a float in \[0, 1\)"),
        (dict(hidden=(8, 0)), "every layer size must be a positive int"),
        (dict(hidden="wide"), "hidden='wide' is not allowed"),
    ],
)
def test_mlp_bad_options(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        mlp(4, n_out=2, **kwargs)


def test_binary_module_with_one_output_uses_sigmoid(cancer):
    X, y = cancer
    net = torch.nn.Sequential(torch.nn.Linear(30, 1))
    clf = from_module(net, "classification", epochs=5, lr=1e-2).fit(X, y)
    assert clf.loss_ == "bce"
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert clf.score(X, y) > 0.9


def test_from_module_picks_the_estimator_and_checks_options():
    net = torch.nn.Linear(4, 3)
    assert isinstance(from_module(net, "classification"), TorchClassifier)
    assert isinstance(from_module(net, "regression", epochs=2), TorchRegressor)
    with pytest.raises(ValueError, match="task='clustering' is not allowed"):
        from_module(net, "clustering")
    with pytest.raises(ValueError, match="unknown option.*epoch.*valid:.*epochs"):
        from_module(net, "classification", epoch=3)
    with pytest.raises(TypeError, match="module=3 is not allowed"):
        from_module(3, "regression")


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "params, match",
    [
        (dict(optimizer="adagrad"), "optimizer='adagrad' is not allowed: use one of sgd, adam, adamw, rmsprop"),
        (dict(scheduler="linear"), "scheduler='linear' is not allowed: use one of step:STEP:GAMMA, cosine, "
                                   "onecycle, plateau:PATIENCE:FACTOR, exponential:GAMMA"),
        (dict(scheduler="step:x"), "scheduler='step:x' is not allowed"),
        (dict(scheduler="exponential:2"), r"GAMMA must be in \(0, 1\]"),
        (dict(lr=0), "lr=0 is not allowed: use a positive number"),
        (dict(lr=-0.1), "lr=-0.1 is not allowed"),
        (dict(epochs=0), "epochs=0 is not allowed: use a positive int"),
        (dict(batch_size=2.5), "batch_size=2.5 is not allowed"),
        (dict(init="glorot"), "init='glorot' is not allowed: use one of default, xavier, he, normal"),
        (dict(device="tpu"), "device='tpu' is not allowed: use one of auto, cpu, cuda"),
        (dict(patience=0), "patience=0 is not allowed: use a positive int or None"),
        (dict(validation_fraction=1.5), r"validation_fraction=1.5 is not allowed: use a number in \(0, 1\)"),
        (dict(momentum=1.0), "momentum=1.0 is not allowed"),
        (dict(weight_decay=-1), "weight_decay=-1 is not allowed"),
        (dict(clip=0), "clip=0 is not allowed"),
        (dict(class_weight="even"), "class_weight='even' is not allowed: use None, 'balanced' or a dict"),
        (dict(activation="nope"), "activation='nope' is not allowed"),
        (dict(module="resnet"), "module='resnet' is not allowed"),
    ],
)
def test_bad_options_give_one_clear_line(iris, params, match):
    X, y = iris
    with pytest.raises((ValueError, TypeError), match=match) as info:
        TorchClassifier(**{"epochs": 1, **params}).fit(X, y)
    assert "\n" not in str(info.value)


def test_output_size_mismatch(iris, cancer):
    X, y = iris
    with pytest.raises(ValueError, match=r"outputs 2 value\(s\) per row but y has 3 classes .*out_features=3"):
        TorchClassifier(module=torch.nn.Linear(4, 2), epochs=1).fit(X, y)
    Xc, yc = cancer
    with pytest.raises(ValueError, match=r"out_features=2 \(or 1 for binary\)"):
        TorchClassifier(module=torch.nn.Linear(30, 5), epochs=1).fit(Xc, yc)
    with pytest.raises(ValueError, match=r"y has 1 target column\(s\): the last layer must have out_features=1"):
        TorchRegressor(module=torch.nn.Linear(4, 3), epochs=1).fit(X, X[:, 0])
    with pytest.raises(ValueError, match=r"gives 4 features but the module's first layer takes 7: make it Linear\(4, "):
        TorchClassifier(module=torch.nn.Linear(7, 3), epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="could not process X with 4 features: RuntimeError"):  # not a size mix-up
        TorchClassifier(module=torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(5, 3)), epochs=1).fit(X, y)


def test_target_dtype_must_fit_the_task(iris):
    X, y = iris
    with pytest.raises(ValueError, match="Unknown label type: 'continuous'.*use TorchRegressor"):
        TorchClassifier(epochs=1).fit(X, X[:, 0] * 1.37)
    with pytest.raises(ValueError, match="TorchRegressor needs a numeric target.*'setosa'.*use TorchClassifier"):
        TorchRegressor(epochs=1).fit(X, np.array(["setosa", "other"] * 75, dtype=object))
    with pytest.raises(ValueError, match="needs at least 2 classes"):
        TorchClassifier(epochs=1).fit(X, np.zeros(len(X)))


def test_validation_data_checks(iris):
    X, y = iris
    with pytest.raises(ValueError, match="pass both X_val and y_val"):
        TorchClassifier(epochs=1).fit(X, y, X_val=X)
    with pytest.raises(ValueError, match=r"y_val holds labels not seen in y: \[7\]"):
        TorchClassifier(epochs=1).fit(X, y, X_val=X[:3], y_val=[0, 1, 7])
    with pytest.raises(ValueError, match="X has 3 features, but TorchClassifier is expecting 4"):
        TorchClassifier(epochs=1).fit(X, y, X_val=X[:3, :3], y_val=[0, 1, 2])


def test_cuda_request_without_gpu_is_a_clear_error(iris):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present here")
    X, y = iris
    with pytest.raises(ValueError, match="device='cuda' is not available here: no CUDA GPU"):
        TorchClassifier(epochs=1, device="cuda").fit(X, y)


def test_clone_and_pickle_round_trip(cancer):
    X, y = cancer
    clf = TorchClassifier(hidden=(8,), epochs=2, module=None)
    assert clone(clf).get_params() == clf.get_params()
    clf.fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.history_.equals(clf.history_)


def test_magic_options_are_estimator_parameters():
    from nbml.torch.estimators import MAGIC_OPTIONS

    for task, cls in (("classification", TorchClassifier), ("regression", TorchRegressor)):
        names = set(cls._get_param_names())
        options = set(MAGIC_OPTIONS) - ({"class_weight"} if task == "regression" else set())
        assert options <= names
        from_module(torch.nn.Linear(2, 2), task, **{k: cls().get_params()[k] for k in options})


def test_fit_with_validation_through_a_pipeline(iris):
    import pandas as pd

    from nbml.torch.estimators import fit_with_validation

    X, y = iris
    frame = pd.DataFrame(X * 10 + 5, columns=list("abcd"))
    pipe = make_pipeline(StandardScaler(), TorchClassifier(hidden=(8,), epochs=4, lr=1e-2))
    fit_with_validation(pipe, frame.iloc[:120], y[:120], frame.iloc[120:], y[120:])
    history = pipe[-1].history_
    assert history["val_loss"].notna().all() and len(history) == 4
    # the validation rows were scaled like the training rows: same score as predicting them
    assert history["val_accuracy"].iloc[-1] == pytest.approx(pipe.score(frame.iloc[120:], y[120:]))
    bare = TorchClassifier(hidden=(8,), epochs=2)
    assert fit_with_validation(bare, X, y, X[:10], y[:10]) is bare and len(bare.history_) == 2


def test_a_rows_prediction_does_not_depend_on_its_batch():
    """The same row gets the same output alone, in a slice, or among all rows."""
    from sklearn.datasets import make_regression

    from nbml import TorchRegressor

    X, y = make_regression(300, 12, random_state=0)
    model = TorchRegressor(hidden=(64, 32), epochs=3, seed=0).fit(X, y)
    full = model.predict(X)
    alone = np.concatenate([model.predict(X[i:i + 1]) for i in range(0, 300, 37)])
    np.testing.assert_allclose(full[::37], alone, rtol=0, atol=1e-10)
    np.testing.assert_allclose(full[100:150], model.predict(X[100:150]), rtol=0, atol=1e-10)
