"""The scratch models work in nbml's own workflow (train, cross-validation, tune) like any
scikit-learn model."""
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

import nbml
from nbml import scratch


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NBML_STORE", "off")


def test_train_and_cross_validate_scratch_models():
    cancer = nbml.split(load_breast_cancer(as_frame=True).frame, target="target", seed=0)
    logistic = nbml.train(scratch.LogisticRegression(alpha=1e-2, learning_rate=0.5,
                                                     max_iter=3000), split=cancer)
    assert logistic.metrics["accuracy"] > 0.93
    tree = nbml.train(scratch.DecisionTreeClassifier(max_depth=4), split=cancer, cv=3)
    assert tree.cv is not None and len(tree.cv) == 3 and tree.metrics["accuracy"] > 0.85

    diabetes = nbml.split(load_diabetes(as_frame=True).frame, target="target", seed=0)
    ridge = nbml.train(scratch.Ridge(alpha=1.0), split=diabetes)
    assert ridge.metrics["r2"] > 0.3


def test_tune_a_scratch_model_with_a_grid():
    diabetes = nbml.split(load_diabetes(as_frame=True).frame, target="target", seed=0)
    result = nbml.tune(scratch.Lasso(), {"alpha": [0.01, 1.0, 100.0]}, method="grid",
                       split=diabetes)
    assert result.best_params["alpha"] in (0.01, 1.0)
    assert len(result.trials) == 3


def test_scratch_models_in_an_ensemble_and_a_panel():
    cancer = nbml.split(load_breast_cancer(as_frame=True).frame, target="target", seed=0)
    logistic = nbml.train(scratch.LogisticRegression(alpha=1e-2, learning_rate=0.5, max_iter=500), cv=3)
    tree = nbml.train(scratch.DecisionTreeClassifier(max_depth=3), cv=3)
    vote = nbml.ensemble([logistic, tree], method="soft", cv=3)
    assert list(vote.comparison.index[:2]) == ["LogisticRegression", "DecisionTreeClassifier"]
    assert vote.metrics["accuracy"] > 0.9
    box = nbml.panel(nbml.train(scratch.DecisionTreeClassifier(max_depth=2), split=cancer),
                     params="max_depth", background=False)
    panel = box.panel
    before = panel.table().shape[0]
    control = next(c for c in panel.controls if c.name == "max_depth")
    control.widget.value = 4
    panel.wait()
    assert panel.table().shape[0] == before + 1
    assert panel.table()["max_depth"].iloc[-1] == 4
