"""Trees, histogram trees and neighbour indices are trusted only with their indices checked:
a package whose tree points outside its arrays (crafted, hashes recomputed) is refused before
the model is used (issue 15, item 1: "trust exactly the types these need")."""
import json

import numpy as np
import pytest
import skops.io as sio
from sklearn import ensemble, neighbors, tree

import nbml
from nbml.deployment import UntrustedPackageError, deploy, load
from nbml.deployment import package as package_module
from nbml.deployment.trust import check_contents


@pytest.fixture(scope="module")
def split(iris_named):
    return nbml.split(iris_named, target="species", seed=0, activate=False)


def rewrite_model(path, mutate):
    """What an attacker can do without a signing key: change model.skops, fix its hash."""
    data = (path / "model.skops").read_bytes()
    model = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    mutate(model)
    (path / "model.skops").write_bytes(sio.dumps(model))
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["sha256"]["model.skops"] = package_module._sha256(path / "model.skops")
    (path / "manifest.json").write_text(json.dumps(manifest))


def set_tree_nodes(t, field, index, value):
    state = t.__getstate__()
    nodes = state["nodes"].copy()
    nodes[field][index] = value
    state["nodes"] = nodes
    t.__setstate__(state)


def deployed(model, split, tmp_path):
    result = nbml.train(model, split=split)
    deploy(result, tmp_path / "pkg")
    return tmp_path / "pkg"


def test_every_tree_of_a_forest_is_checked(split, tmp_path):
    path = deployed(ensemble.RandomForestClassifier(n_estimators=7, random_state=0), split, tmp_path)
    assert check_contents(load(path).model) == 7


@pytest.mark.parametrize("field, value, words", [
    ("left_child", 10**6, "points to nodes 1000000"),
    ("right_child", 0, "points to nodes"),  # a loop back to the root: predict would never end
    ("feature", 999, "splits on column 999"),
])
def test_a_crafted_decision_tree_is_refused(split, tmp_path, field, value, words):
    path = deployed(tree.DecisionTreeClassifier(random_state=0), split, tmp_path)
    rewrite_model(path, lambda m: set_tree_nodes(m[-1].tree_, field, 0, value))
    with pytest.raises(UntrustedPackageError, match=f"model.skops holds a damaged or crafted model: .*{words}"):
        load(path)


def test_a_forest_member_reading_other_columns_is_refused(split, tmp_path):
    path = deployed(ensemble.RandomForestClassifier(n_estimators=3, random_state=0), split, tmp_path)

    def widen(model):
        member = model[-1].estimators_[1]
        member.n_features_in_ = 40
        state = member.tree_.__getstate__()
        wide = tree._tree.Tree(40, member.tree_.n_classes, member.tree_.n_outputs)
        wide.__setstate__(state)
        member.tree_ = wide

    rewrite_model(path, widen)
    with pytest.raises(UntrustedPackageError, match="member of RandomForestClassifier reads 40 columns"):
        load(path)


def test_gradient_boosting_with_more_trees_per_stage_than_outputs_is_refused(iris_named, tmp_path):
    binary = iris_named[iris_named["species"] != "setosa"]
    split = nbml.split(binary, target="species", seed=0, activate=False)
    path = deployed(ensemble.GradientBoostingClassifier(n_estimators=3, random_state=0), split, tmp_path)

    def widen(model):
        gb = model[-1]
        gb.estimators_ = np.concatenate([gb.estimators_, gb.estimators_], axis=1)

    rewrite_model(path, widen)
    with pytest.raises(UntrustedPackageError, match="2 trees per stage for 1 outputs"):
        load(path)


def test_a_crafted_histogram_tree_is_refused(split, tmp_path):
    path = deployed(ensemble.HistGradientBoostingClassifier(max_iter=3, random_state=0), split, tmp_path)

    def jump(model):
        nodes = model[-1]._predictors[0][0].nodes
        nodes["left"][0] = 10**6

    rewrite_model(path, jump)
    with pytest.raises(UntrustedPackageError, match="histogram tree's node 0 points to nodes 1000000"):
        load(path)


@pytest.mark.parametrize("position, value, words", [
    (1, lambda a: np.full_like(a, 10**6), "row order is not a permutation"),
    (2, lambda a: _with(a, "idx_end", 10**6), "nodes point outside"),
    (3, lambda a: np.ascontiguousarray(a[:, :1]), "bounds do not match"),
])
def test_a_crafted_neighbour_index_is_refused(split, tmp_path, position, value, words):
    path = deployed(neighbors.KNeighborsClassifier(), split, tmp_path)

    def corrupt(model):
        index = model[-1]._tree
        state = list(index.__getstate__())
        state[position] = value(state[position])
        index.__setstate__(tuple(state))

    rewrite_model(path, corrupt)
    with pytest.raises(UntrustedPackageError, match=words):
        load(path)


def _with(array, field, value):
    array = array.copy()
    array[field][0] = value
    return array


def test_a_tree_outside_its_estimator_is_refused(split, tmp_path):
    path = deployed(tree.DecisionTreeClassifier(random_state=0), split, tmp_path)

    def hide(model):
        model[-1].spare_ = model[-1].tree_
        model[-1].tree_ = None

    rewrite_model(path, hide)
    with pytest.raises(UntrustedPackageError, match="Tree sits outside the estimator"):
        load(path)


def test_serving_a_crafted_package_is_one_line(split, tmp_path, run):
    path = deployed(tree.DecisionTreeClassifier(random_state=0), split, tmp_path)
    rewrite_model(path, lambda m: set_tree_nodes(m[-1].tree_, "left_child", 0, 10**6))
    cell = run(f"%serve {path} --no-log")
    assert cell.error is not None and "damaged or crafted" in str(cell.error)
    assert "\n" not in str(cell.error)
