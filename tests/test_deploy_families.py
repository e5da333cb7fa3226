"""Every model family nbml offers goes %deploy -> nbml.load -> %serve with identical predictions
(issue 15, item 1): the standard families of ``%compare --models all`` (and the ones SURFACE.md
adds), each ``%ensemble`` method, torch estimators and ``nbml.scratch`` models. Small data,
small ensembles: each family takes a second or two."""
import httpx
import numpy as np
import pytest
from sklearn import discriminant_analysis, ensemble, neighbors, tree
from sklearn.linear_model import LogisticRegression, Ridge

import nbml
from nbml import scratch
from nbml.deployment import load
from nbml.deployment.trust import trusted_types
from nbml.ensembling import METHODS
from nbml.standard import families
from nbml.training import STANDARD_MODELS, standard_model

# families SURFACE.md adds to the standard table; built here until the table has them
EXTRA = {
    "classification": {"hgb": lambda: ensemble.HistGradientBoostingClassifier(max_iter=15, random_state=0),
                       "et": lambda: ensemble.ExtraTreesClassifier(n_estimators=10, random_state=0),
                       "ada": lambda: ensemble.AdaBoostClassifier(n_estimators=10, random_state=0),
                       "lda": discriminant_analysis.LinearDiscriminantAnalysis,
                       "qda": lambda: discriminant_analysis.QuadraticDiscriminantAnalysis(reg_param=0.1),
                       "knn-ball": lambda: neighbors.KNeighborsClassifier(algorithm="ball_tree"),
                       "knn-manhattan": lambda: neighbors.KNeighborsClassifier(metric="manhattan")},
    "regression": {"hgb": lambda: ensemble.HistGradientBoostingRegressor(max_iter=15, random_state=0),
                   "et": lambda: ensemble.ExtraTreesRegressor(n_estimators=10, random_state=0),
                   "ada": lambda: ensemble.AdaBoostRegressor(n_estimators=10, random_state=0),
                   "knn-minkowski": lambda: neighbors.KNeighborsRegressor(p=3)},
}
BOOST = {"lgbm": "lightgbm", "xgb": "xgboost", "catboost": "catboost"}


def standard(task, short):
    if short in BOOST:
        pytest.importorskip(BOOST[short])
    if short in STANDARD_MODELS[task] or short in BOOST:
        model = standard_model(short, task)
    else:
        model = EXTRA[task][short]()
    if (model.get_params().get("n_estimators") or 0) > 10:  # same family, fewer trees: faster
        model.set_params(n_estimators=10)
    if short == "catboost":
        model.set_params(iterations=10)
    return model


# every family %compare --models all has, and the boosting ones (skipped where not installed)
FAMILIES = [(task, short) for task in ("classification", "regression")
            for short in dict.fromkeys(list(families(task)) + list(EXTRA[task]) + list(BOOST))]
SCRATCH_CLASSIFIERS = ["LogisticRegression", "SoftmaxRegression", "MLPClassifier", "DecisionTreeClassifier"]


@pytest.fixture(scope="module")
def splits(iris_cat, diabetes):
    regression = diabetes.head(160).copy()
    regression["group"] = np.where(regression["bmi"] > 0, "high", "low")
    return {"classification": nbml.split(iris_cat, target="species", seed=0, activate=False),
            "regression": nbml.split(regression, target="target", seed=0, activate=False)}


def records(X):
    """Rows as JSON records with every float exact (``DataFrame.to_json`` rounds to 10 digits)."""
    def plain(v):
        return v.isoformat() if hasattr(v, "isoformat") else v.item() if isinstance(v, np.generic) else v

    return [{k: plain(v) for k, v in row.items()} for row in X.to_dict(orient="records")]


def deploy_load_serve(result, run, ip, tmp_path):
    """%deploy, nbml.load and %serve the result; each must give the result's own predictions."""
    ip.user_ns["family_result"] = result
    cell = run(f"%deploy family_result {tmp_path / 'pkg'}")
    assert cell.error is None, str(cell.error)
    X = result.split.X_test
    loaded = load(tmp_path / "pkg")
    expected = result.predict(X)
    assert np.array_equal(loaded.predict(X), expected)
    if result.task == "classification" and hasattr(result.model, "predict_proba"):
        assert np.array_equal(loaded.predict_proba(X), result.predict_proba(X))
    cell = run(f"%serve {tmp_path / 'pkg'} --no-log -o family_service")
    assert cell.error is None, str(cell.error)
    try:
        response = httpx.post(f"{cell.value.url}/predict", json=records(X), timeout=30)
    finally:
        run("%serve family_service --stop")
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == expected.tolist()
    return loaded


@pytest.mark.parametrize("task, short", FAMILIES, ids=[f"{t[:5]}-{s}" for t, s in FAMILIES])
def test_standard_family(task, short, splits, run, ip, tmp_path):
    result = nbml.train(standard(task, short), split=splits[task])
    deploy_load_serve(result, run, ip, tmp_path)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("method", METHODS)
def test_ensemble_method(method, task, splits, run, ip, tmp_path):
    split = splits[task]
    linear = LogisticRegression(max_iter=500) if task == "classification" else Ridge()
    cart = tree.DecisionTreeClassifier(max_depth=4, random_state=0) if task == "classification" else \
        tree.DecisionTreeRegressor(max_depth=4, random_state=0)
    members = [nbml.train(linear, split=split), nbml.train(cart, split=split)]
    if method in ("bagging", "boosting"):
        members = members[1:]
    result = nbml.ensemble(members, method=method, cv=2, split=split, n_estimators=3)
    deploy_load_serve(result, run, ip, tmp_path)


def test_gradient_boosting_without_members(iris_named, run, ip, tmp_path):
    # numeric columns only: the member-less ensemble has no preprocessing in front of it
    split = nbml.split(iris_named, target="species", seed=0, activate=False)
    result = nbml.ensemble([], method="boosting", cv=2, split=split)
    deploy_load_serve(result, run, ip, tmp_path)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_torch_estimator(task, splits, run, ip, tmp_path):
    pytest.importorskip("torch")
    cls = nbml.TorchClassifier if task == "classification" else nbml.TorchRegressor
    result = nbml.train(cls(hidden=(8,), epochs=3, seed=0), split=splits[task])
    loaded = deploy_load_serve(result, run, ip, tmp_path)
    assert (tmp_path / "pkg" / "module.pt").exists() and "torch" in loaded.card["versions"]


@pytest.mark.parametrize("name", scratch.__all__)
def test_scratch_model(name, splits, run, ip, tmp_path):
    task = "classification" if name in SCRATCH_CLASSIFIERS else "regression"
    result = nbml.train(getattr(scratch, name)(), split=splits[task])
    deploy_load_serve(result, run, ip, tmp_path)


def test_allow_list_names_exact_types_only():
    names = trusted_types()
    assert all(not n.endswith((".", "*")) and n.count(".") >= 1 for n in names)
    assert "sklearn.tree._tree.Tree" in names
    assert not any(n.startswith(("builtins.", "os.", "subprocess.", "torch.")) for n in names)


def test_a_family_outside_the_allow_list_is_refused_and_leaves_nothing(splits, run, ip, tmp_path):
    """A distance nbml does not load (a callable metric) is refused at deploy, before any file."""
    model = neighbors.KNeighborsClassifier(metric="pyfunc", metric_params={"func": lambda a, b: float(abs(a - b).sum())},
                                           algorithm="ball_tree")
    result = nbml.train(model, split=splits["classification"])
    ip.user_ns["odd_knn"] = result
    cell = run(f"%deploy odd_knn {tmp_path / 'deep' / 'pkg'}")
    assert cell.error is not None and "PyFuncDistance64" in str(cell.error)
    assert "euclidean, manhattan, chebyshev or minkowski" in str(cell.error)
    assert not (tmp_path / "deep").exists()
    assert list(tmp_path.iterdir()) == []


def test_lightgbm_before_4_6_is_not_trusted(splits, run, ip, tmp_path, monkeypatch):
    """LightGBM's model parser before 4.6 had CVE-2024-43598: its boosters are refused, naming the fix."""
    pytest.importorskip("lightgbm")
    import importlib.metadata

    result = nbml.train(standard("classification", "lgbm"), split=splits["classification"])
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "4.5.0" if name == "lightgbm" else real(name))
    assert "lightgbm.basic.Booster" not in trusted_types()
    ip.user_ns["old_lgbm"] = result
    cell = run(f"%deploy old_lgbm {tmp_path / 'pkg'}")
    assert cell.error is not None and "CVE-2024-43598" in str(cell.error) and "lightgbm>=4.6" in str(cell.error)
    assert not (tmp_path / "pkg").exists()
