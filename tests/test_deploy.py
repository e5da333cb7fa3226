"""Packages: deploy -> load gives identical predictions; tampered or untrusted packages are refused."""
import json

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

import nbml
from nbml.deployment import Package, UntrustedPackageError, deploy, load
from nbml.deployment import package as package_module


class Doubler(TransformerMixin, BaseEstimator):
    """A user-defined transformer: its code is not on nbml's allow-list."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float) * 2




def test_roundtrip_classifier_identical_predictions_and_card(iris_result, tmp_path):
    deployed = deploy(iris_result, tmp_path / "iris")
    assert sorted(p.name for p in (tmp_path / "iris").iterdir()) == [
        "card.json", "manifest.json", "model.skops", "reference.json"]
    loaded = load(tmp_path / "iris")
    X = iris_result.split.X_test
    assert (loaded.predict(X) == iris_result.predict(X)).all()
    assert np.array_equal(loaded.predict_proba(X), iris_result.predict_proba(X))
    card = loaded.card
    assert card["task"] == "classification" and card["target"] == "species"
    assert card["classes"] == ["setosa", "versicolor", "virginica"]
    assert card["metrics"]["accuracy"] == pytest.approx(iris_result.metrics["accuracy"])
    assert card["params"]["max_iter"] == 1000
    assert card["fingerprint"] == iris_result.split.fingerprint
    assert {"python", "scikit-learn", "numpy", "pandas", "skops", "nbml"} <= set(card["versions"])
    assert card["created"].endswith("+00:00")
    columns = {c["name"]: c for c in card["schema"]["columns"]}
    petal = columns["petal length (cm)"]
    assert petal["kind"] == "numeric" and petal["dtype"] == "float64"
    assert petal["min"] == iris_result.split.X_train["petal length (cm)"].min()
    assert petal["max"] == iris_result.split.X_train["petal length (cm)"].max()
    assert columns["size"]["kind"] == "categorical" and sorted(columns["size"]["categories"]) == ["big", "small"]
    assert len(loaded.reference) == len(iris_result.split.X_train)
    assert deployed.card["fingerprint"] == card["fingerprint"]


def test_roundtrip_regressor(diabetes, tmp_path):
    split = nbml.split(diabetes, target="target", seed=1)
    nbml.data.set_active(None)
    result = nbml.train(Ridge(alpha=0.5), split=split)
    deploy(result, tmp_path / "ridge", reference_rows=50)
    loaded = load(tmp_path / "ridge")
    assert np.array_equal(loaded.predict(split.X_test), result.predict(split.X_test))
    assert loaded.task == "regression" and len(loaded.reference) == 50


def test_roundtrip_torch_network_weights_only(iris_result, tmp_path):
    split = iris_result.split
    result = nbml.train(nbml.TorchClassifier(hidden=(8,), epochs=5, seed=0), split=split)
    deploy(result, tmp_path / "net")
    arch = json.loads((tmp_path / "net" / "architecture.json").read_text())
    assert [layer["type"] for layer in arch["layers"]] == ["Linear", "ReLU", "Linear"]
    loaded = load(tmp_path / "net")
    assert np.array_equal(loaded.predict_proba(split.X_test), result.predict_proba(split.X_test))
    assert "torch" in loaded.card["versions"]
    # the weights file holds tensors only: loadable with weights_only=True
    import torch

    state = torch.load(tmp_path / "net" / "module.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_custom_torch_module_is_refused_at_deploy(iris_result, tmp_path):
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(6, 3)

        def forward(self, x):
            return self.layer(x)

    result = nbml.train(nbml.TorchClassifier(module=Net(), epochs=2, seed=0), split=iris_result.split)
    with pytest.raises(TypeError, match="cannot be packaged safely"):
        deploy(result, tmp_path / "custom")


def test_changed_file_is_refused(iris_result, tmp_path):
    deploy(iris_result, tmp_path / "p")
    card = json.loads((tmp_path / "p" / "card.json").read_text())
    card["metrics"]["accuracy"] = 1.0
    (tmp_path / "p" / "card.json").write_text(json.dumps(card))
    with pytest.raises(UntrustedPackageError, match=r"modified after nbml.deploy wrote it: card.json \(changed\)"):
        load(tmp_path / "p")
    (tmp_path / "p" / "model.skops").unlink()
    with pytest.raises(UntrustedPackageError, match=r"model.skops \(missing\)"):
        load(tmp_path / "p")


def test_untrusted_types_are_listed_and_refused(iris_result, tmp_path):
    import skops.io as sio

    deploy(iris_result, tmp_path / "p")
    # a package from elsewhere: consistent hashes, but a type nbml does not trust
    evil = Pipeline([("double", Doubler()), ("model", LogisticRegression(max_iter=1000))]).fit(
        iris_result.split.X_train.select_dtypes("number"), iris_result.split.y_train)
    (tmp_path / "p" / "model.skops").write_bytes(sio.dumps(evil))
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    manifest["sha256"]["model.skops"] = package_module._sha256(tmp_path / "p" / "model.skops")
    (tmp_path / "p" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UntrustedPackageError, match=r"untrusted types: .*test_deploy\.Doubler"):
        load(tmp_path / "p")
    name = f"{Doubler.__module__}.Doubler"
    assert isinstance(load(tmp_path / "p", trusted=[name]).model, Pipeline)


def test_untrusted_model_is_refused_at_deploy(iris_result, tmp_path):
    from nbml.training import TrainResult

    split = iris_result.split
    X = split.X_train.select_dtypes("number")
    model = Pipeline([("double", Doubler()), ("model", LogisticRegression(max_iter=1000))]).fit(X, split.y_train)
    fake = TrainResult(task="classification", metrics={}, train_metrics={}, cv=None, split=split, name="Doubled",
                       recipe=iris_result.recipe, params={}, predictions=None, fit_time=0.0, fitted_model=model)
    with pytest.raises(TypeError, match=r"does not trust.*Doubler"):
        deploy(fake, tmp_path / "d")


def test_tampered_architecture_is_refused(iris_result, tmp_path):
    result = nbml.train(nbml.TorchClassifier(hidden=(4,), epochs=2, seed=0), split=iris_result.split)
    deploy(result, tmp_path / "net")
    arch = tmp_path / "net" / "architecture.json"
    spec = json.loads(arch.read_text())
    spec["layers"][1] = {"type": "Evil", "args": {}}
    arch.write_text(json.dumps(spec))
    with pytest.raises(UntrustedPackageError, match="architecture.json"):
        load(tmp_path / "net")


class Payload:
    """Stands for code an attacker would have run on unpickling."""


def test_weights_file_with_objects_is_refused(iris_result, tmp_path):
    import torch

    result = nbml.train(nbml.TorchClassifier(hidden=(4,), epochs=2, seed=0), split=iris_result.split)
    deploy(result, tmp_path / "net")
    weights = tmp_path / "net" / "module.pt"
    torch.save({"0.weight": Payload()}, weights)  # a pickle with an arbitrary object inside
    manifest = json.loads((tmp_path / "net" / "manifest.json").read_text())
    manifest["sha256"]["module.pt"] = package_module._sha256(weights)
    (tmp_path / "net" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UntrustedPackageError, match="module.pt does not fit the architecture"):
        load(tmp_path / "net")


@pytest.mark.parametrize("call, error, message", [
    (lambda r, p: deploy(42, p), TypeError, "result must be a TrainResult"),
    (lambda r, p: deploy(r, 3), TypeError, "is not a folder path"),
    (lambda r, p: deploy(r, p, reference_rows=-1), ValueError, "reference_rows=-1"),
    (lambda r, p: load(p / "nothing"), ValueError, "does not exist"),
    (lambda r, p: load(p), ValueError, "is not an nbml package"),
    (lambda r, p: load(p, trusted="x.Y"), TypeError, "trusted='x.Y' must be a list"),
])
def test_bad_input_one_clear_error(iris_result, tmp_path, call, error, message):
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(error, match=message):
        call(iris_result, tmp_path)


def test_deploy_refuses_a_file_or_a_foreign_folder(iris_result, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        deploy(iris_result, tmp_path / "file")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="folder with other files"):
        deploy(iris_result, tmp_path / "folder")
    deploy(iris_result, tmp_path / "pkg")
    with pytest.raises(ValueError, match="already holds a package"):
        deploy(iris_result, tmp_path / "pkg", overwrite=False)
    assert isinstance(deploy(iris_result, tmp_path / "pkg"), Package)  # replacing is the default


def test_deploy_magic(run, iris_result, tmp_path):
    from IPython import get_ipython

    get_ipython().user_ns["model_r"] = iris_result
    cell = run(f"%deploy model_r {tmp_path / 'm'} -o pkg")
    assert cell.error is None, cell.err
    assert f"deployed model_r to {tmp_path / 'm'}" in cell.out
    assert get_ipython().user_ns["pkg"].name == "model_r"
    assert (load(tmp_path / "m").predict(iris_result.split.X_test) == iris_result.predict(iris_result.split.X_test)).all()
    cell = run(f"%deploy undefined_r {tmp_path / 'x'}")
    assert cell.error is not None and "not defined" in str(cell.error)
    cell = run(f"%deploy model_r {tmp_path / 'm' / 'model.skops'}")
    assert cell.error is not None and "is a file" in str(cell.error)
