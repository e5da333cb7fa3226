"""nbml.scratch decision trees against scikit-learn's trees.

Where no two splits tie, our trees are scikit-learn's trees: same predictions (exactly),
same number of leaves and depth, same feature importances (1e-12). On iris the root has a
tie (petal length vs petal width separate setosa equally well), and scikit-learn breaks it
by a random feature order, so there we compare structure and accuracy, not features.
"""
import numpy as np
import pytest
import sklearn.tree as skt
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import InvalidParameterError

from nbml.scratch import DecisionTreeClassifier, DecisionTreeRegressor


@pytest.mark.parametrize("criterion", ["gini", "entropy", "log_loss"])
@pytest.mark.parametrize("max_depth,min_samples_leaf", [(None, 1), (2, 1), (3, 5), (5, 1)])
@pytest.mark.parametrize("loader", [load_iris, load_breast_cancer])
def test_classifier_has_sklearns_structure(loader, criterion, max_depth, min_samples_leaf):
    X, y = loader(return_X_y=True)
    kw = dict(criterion=criterion, max_depth=max_depth, min_samples_leaf=min_samples_leaf)
    ours = DecisionTreeClassifier(**kw).fit(X, y)
    ref = skt.DecisionTreeClassifier(random_state=0, **kw).fit(X, y)
    assert ours.get_n_leaves() == ref.get_n_leaves()
    assert ours.get_depth() == ref.get_depth()
    assert ours.score(X, y) == ref.score(X, y)
    assert np.mean(ours.predict(X) == ref.predict(X)) >= 0.99
    np.testing.assert_allclose(ours.predict_proba(X).sum(axis=1), 1.0)
    if max_depth is None and min_samples_leaf == 1:
        assert ours.score(X, y) == 1.0                   # grown until pure


def test_classifier_generalises_like_sklearn():
    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    ours = DecisionTreeClassifier(max_depth=4).fit(X_tr, y_tr).score(X_te, y_te)
    ref = skt.DecisionTreeClassifier(max_depth=4, random_state=0).fit(X_tr, y_tr)
    assert abs(ours - ref.score(X_te, y_te)) <= 0.02 and ours > 0.9


@pytest.mark.parametrize("max_depth,min_samples_leaf,min_samples_split",
                         [(3, 1, 2), (5, 5, 2), (None, 5, 2), (6, 5, 20)])
def test_regressor_is_sklearns_tree(max_depth, min_samples_leaf, min_samples_split):
    X, y = load_diabetes(return_X_y=True)
    kw = dict(max_depth=max_depth, min_samples_leaf=min_samples_leaf,
              min_samples_split=min_samples_split)
    ours = DecisionTreeRegressor(**kw).fit(X, y)
    ref = skt.DecisionTreeRegressor(random_state=0, **kw).fit(X, y)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    assert ours.get_n_leaves() == ref.get_n_leaves()
    assert ours.get_depth() == ref.get_depth()
    np.testing.assert_allclose(ours.feature_importances_, ref.feature_importances_, atol=1e-12)
    # the thresholds are scikit-learn's too (midpoints)
    ours_t = np.sort(ours.threshold_[ours.feature_ >= 0])
    ref_t = np.sort(ref.tree_.threshold[ref.tree_.feature >= 0])
    # (scikit-learn compares in float32, so its midpoints differ in the 9th digit)
    np.testing.assert_allclose(ours_t, ref_t, rtol=1e-6)


def test_regressor_sample_weight_matches_sklearn():
    X, y = load_diabetes(return_X_y=True)
    sw = np.random.default_rng(0).integers(1, 5, len(y)).astype(float)
    ours = DecisionTreeRegressor(max_depth=4).fit(X, y, sample_weight=sw)
    ref = skt.DecisionTreeRegressor(max_depth=4, random_state=0).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X))


def test_loss_history_is_the_impurity_decrease_of_each_split():
    X, y = load_diabetes(return_X_y=True)
    tree = DecisionTreeRegressor(max_depth=4).fit(X, y)
    n = tree.n_node_samples_
    leaves = tree.feature_ < 0
    # root impurity minus the weighted impurity of the leaves = sum of all decreases
    total = tree.impurity_[0] - np.sum(n[leaves] * tree.impurity_[leaves]) / n[0]
    assert len(tree.loss_history_) == np.sum(~leaves)
    assert np.all(np.asarray(tree.loss_history_) > 0)
    np.testing.assert_allclose(np.sum(tree.loss_history_), total)
    np.testing.assert_allclose(tree.impurity_[0], y.var())


def test_max_features_is_seeded():
    X, y = load_breast_cancer(return_X_y=True)
    a = DecisionTreeClassifier(max_features=3, random_state=0).fit(X, y)
    b = DecisionTreeClassifier(max_features=3, random_state=0).fit(X, y)
    c = DecisionTreeClassifier(max_features=3, random_state=1).fit(X, y)
    np.testing.assert_array_equal(a.feature_, b.feature_)
    assert not np.array_equal(a.feature_, c.feature_)


def test_export_text_reads_like_code():
    X, y = load_iris(return_X_y=True)
    text = DecisionTreeClassifier(max_depth=1).fit(X, y).export_text(
        ["sepal length", "sepal width", "petal length", "petal width"])
    assert text.splitlines()[0].startswith("if petal")
    assert "leaf: class 0" in text and "else:" in text


@pytest.mark.parametrize("cls,ref", [(DecisionTreeClassifier, skt.DecisionTreeClassifier),
                                     (DecisionTreeRegressor, skt.DecisionTreeRegressor)])
def test_bad_input_gives_sklearns_errors(cls, ref):
    X, y = load_iris(return_X_y=True)
    X_nan = X.copy()
    X_nan[2, 3] = np.nan
    # scikit-learn's trees accept NaN (missing-value support); ours, like most models, refuse
    with pytest.raises(ValueError, match="Input X contains NaN"):
        cls().fit(X_nan, y)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[150, 149\]"):
        cls().fit(X, y[:-1])
    with pytest.raises(ValueError, match="does not match number of samples"):
        ref().fit(X, y[:-1])
    for model in (cls(), ref()):
        with pytest.raises(ValueError, match="'max_depth' parameter"):
            model.set_params(max_depth=0).fit(X, y)
        with pytest.raises(InvalidParameterError, match="'min_samples_leaf' parameter"):
            model.set_params(max_depth=None, min_samples_leaf=0).fit(X, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        DecisionTreeClassifier().fit(X, y + 0.5)
    # one class is allowed (as in scikit-learn): a single leaf predicting it
    one = DecisionTreeClassifier().fit(X, np.zeros(len(X)))
    assert one.get_n_leaves() == 1 and np.all(one.predict(X) == 0)
