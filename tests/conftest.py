"""Shared fixtures: a real IPython shell with nbml loaded, and small bundled datasets."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True, scope="session")
def _store_outside_the_repo(tmp_path_factory):
    """Runs recorded by the tests go to a temporary store, not the checkout's .nbml/."""
    if "NBML_STORE" not in os.environ:
        os.environ["NBML_STORE"] = str(tmp_path_factory.mktemp("store") / "nbml.db")


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Small networks train faster on one thread on a 2-core machine shared with the kernel."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbml")
    return ip


@pytest.fixture
def ip(shell):
    """The shell, with nbml's active dataset and %config reset after each test."""
    import nbml.data

    yield shell
    nbml.data.set_active(None)
    for name in ("seed", "cv", "plots"):
        shell.run_line_magic("config", f"Nbml.{name} = {dict(seed=0, cv=0, plots=True)[name]}")


class Cell:
    """What running one cell gave: its exception (if any), stdout and stderr."""

    def __init__(self, result, out, err):
        self.result, self.out, self.err = result, out, err
        self.error = result.error_in_exec or result.error_before_exec

    @property
    def value(self):
        return self.result.result


@pytest.fixture
def run(ip):
    from IPython.utils.capture import capture_output

    def _run(source: str) -> Cell:
        with capture_output() as captured:
            result = ip.run_cell(source, store_history=True)
        return Cell(result, captured.stdout, captured.stderr)

    return _run


@pytest.fixture(scope="session")
def cancer():
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame


@pytest.fixture(scope="session")
def diabetes():
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True).frame


@pytest.fixture(scope="session")
def iris_named():
    """iris with string class labels."""
    from sklearn.datasets import load_iris

    df = load_iris(as_frame=True).frame
    df["species"] = df.pop("target").map({0: "setosa", 1: "versicolor", 2: "virginica"})
    return df


@pytest.fixture(scope="module")
def iris_cat():
    """iris with a categorical feature and string class labels (deployment and serving tests)."""
    import numpy as np
    from sklearn.datasets import load_iris

    df = load_iris(as_frame=True).frame
    df["size"] = np.where(df["sepal length (cm)"] > 5.8, "big", "small")
    df["species"] = df.pop("target").map({0: "setosa", 1: "versicolor", 2: "virginica"})
    return df


@pytest.fixture(scope="module")
def iris_result(iris_cat):
    """A logistic regression trained on ``iris_cat`` (without touching the active split)."""
    import nbml
    from sklearn.linear_model import LogisticRegression

    split = nbml.split(iris_cat, target="species", seed=0, activate=False)
    return nbml.train(LogisticRegression(max_iter=1000), split=split)
