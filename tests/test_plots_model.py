"""The plots that ask the model itself (issue 19, item 4): boundary, tree, vc, rfe, cooks and the
shap summary — computed once by evaluate, refits on the training rows only (CV within them),
each checked against a hand computation, and drawn through %evaluate in a real shell."""
import numpy as np
import pytest
from helpers import refused
from matplotlib.figure import Figure

import nbml
from nbml import NbmlError
from nbml.plots.model import BoundaryDisplay, FeatureCountDisplay, TreeDisplay, cooks_distance


@pytest.fixture(scope="module")
def iris_split(iris_named):
    return nbml.split(iris_named, target="species", seed=0, activate=False)


@pytest.fixture(scope="module")
def lr(iris_split):
    from sklearn.linear_model import LogisticRegression

    return nbml.train(LogisticRegression(max_iter=1000), split=iris_split)


@pytest.fixture(scope="module")
def ridge(diabetes):
    from sklearn.linear_model import Ridge

    return nbml.train(Ridge(), split=nbml.split(diabetes, target="target", seed=0, activate=False))


def _features(result, X):
    from nbml.training import transformed

    return np.asarray(transformed(result.model, X), dtype=float)


def test_cooks_distance_is_the_leave_one_out_shift_of_the_fit():
    """Cook's definition, by refitting without each row: D_i = Σ_j (ŷ_j − ŷ_j(i))² / (p s²)."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(40, 3))
    y = A @ [1.0, -2.0, 0.5] + rng.normal(size=40)
    y[7] += 8  # one row that pulls the fit
    X1 = np.column_stack([np.ones(40), A])
    fitted = X1 @ np.linalg.lstsq(X1, y, rcond=None)[0]
    p, s2 = 4, ((y - fitted) ** 2).sum() / (40 - 4)
    by_hand = []
    for i in range(40):
        keep = np.arange(40) != i
        without = X1 @ np.linalg.lstsq(X1[keep], y[keep], rcond=None)[0]
        by_hand.append(((fitted - without) ** 2).sum() / (p * s2))
    distance, leverage, rank = cooks_distance(A, y)
    assert rank == 4 and np.allclose(distance, by_hand, rtol=1e-9)
    assert np.allclose(leverage, np.diag(X1 @ np.linalg.inv(X1.T @ X1) @ X1.T))
    assert distance.argmax() == 7


def test_cooks_on_the_training_rows_of_a_regression(ip, run, ridge):
    ip.user_ns["ridge"] = ridge
    cell = run("%evaluate ridge --plots residuals,cooks -o ev")
    assert cell.error is None, cell.err
    shown = ip.user_ns["ev"].displays["cooks"]
    split = ridge.split
    assert list(shown.rows) == list(split.X_train.index)  # training rows, never validation rows
    assert np.allclose(shown.distance, cooks_distance(_features(ridge, split.X_train), split.y_train)[0])
    assert shown.table.index.isin(split.X_train.index).all() and (shown.table["cooks_distance"] > 4 / len(shown.rows)).all()
    fig = ip.user_ns["ev"].figure()
    assert [ax.get_title().split(" (")[0] for ax in fig.axes[:2]] == ["Residuals", "Cook's distance"]
    refused(run("%evaluate ridge --plots cooks,gain"), "plot 'gain' needs a classification task")


def test_boundary_refits_on_the_two_strongest_features_of_the_training_rows(lr):
    from sklearn.base import clone

    ev = nbml.evaluate(lr, plots="boundary")
    shown = ev.displays["boundary"]
    split = lr.split
    coef = np.abs(lr.estimator.coef_).max(axis=0)
    top = list(np.argsort(-coef, kind="stable")[:2])
    names = nbml.evaluation.transformed_feature_names(lr.model, 4)
    assert shown.axes_names == [names[i] for i in top] and "largest |coefficient|" in shown.how
    assert shown.n_fit == len(split.X_train) and len(shown.points) == len(split.X_val)
    Z = _features(lr, split.X_train)[:, top]
    by_hand = clone(lr.estimator).fit(Z, split.y_train)
    grid = np.column_stack([shown.display.xx0.ravel(), shown.display.xx1.ravel()])
    classes = list(by_hand.classes_)
    assert (shown.display.response.ravel() == [classes.index(c) for c in by_hand.predict(grid)]).all()
    assert np.allclose(shown.points, _features(lr, split.X_val)[:, top])
    assert isinstance(shown.plot().figure_, Figure) and "training rows" in shown.ax_.get_title()


def test_boundary_of_a_model_without_importances_is_on_principal_components(iris_split):
    from sklearn.svm import SVC

    result = nbml.train(SVC(), split=iris_split)
    shown = BoundaryDisplay.from_result(result, iris_split.X_val, iris_split.y_val)
    assert shown.how == "the first two principal components" and shown.axes_names[0].startswith("PC1")
    assert "principal components" in shown.plot().ax_.get_title()


def test_tree_of_a_tree_a_forest_member_and_a_boosting_stage(iris_split):
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier

    forest = nbml.train(RandomForestClassifier(n_estimators=5, random_state=0), split=iris_split)
    shown = TreeDisplay.from_result(forest, member=2)
    assert shown.tree is forest.estimator.estimators_[2] and shown.class_names == ["setosa", "versicolor", "virginica"]
    assert shown.plot().ax_.get_title().startswith("Tree 2 of 5") and shown.ax_.texts
    boosting = nbml.train(GradientBoostingClassifier(n_estimators=5, random_state=0), split=iris_split)
    assert TreeDisplay.from_result(boosting).tree is boosting.estimator.estimators_[0, 0]
    hist = nbml.train(HistGradientBoostingClassifier(max_iter=5), split=iris_split)
    with pytest.raises(NbmlError, match="HistGradientBoosting keeps its trees in its own format"):
        TreeDisplay.from_result(hist)


def test_vc_is_cross_validated_within_the_training_rows(iris_split):
    """The oracle: scikit-learn's validation_curve of the same pipeline on the training rows, same folds."""
    from sklearn.model_selection import validation_curve
    from sklearn.tree import DecisionTreeClassifier

    from nbml.folds import make_folds
    from nbml.plots.model import main_parameter

    result = nbml.train(DecisionTreeClassifier(random_state=0), split=iris_split)
    assert main_parameter(result.estimator) == "max_depth"
    ev = nbml.evaluate(result, plots="vc:min_samples_leaf")
    shown = ev.displays["vc"]
    values = list(shown.param_range)
    folds = make_folds("classification", 5, result.seed)
    train, test = validation_curve(result.pipeline, iris_split.X_train, iris_split.y_train,
                                   param_name="model__min_samples_leaf", param_range=[int(v) for v in values],
                                   cv=folds, scoring="accuracy")
    assert shown.param_name == "min_samples_leaf" and np.allclose(shown.test_scores, test)
    assert np.allclose(shown.train_scores, train)
    assert f"within {len(iris_split.X_train)} training rows" in shown.title
    ax = ev.figure().axes[0]
    assert "Validation" in [t.get_text() for t in ax.get_legend().get_texts()]
    with pytest.raises(NbmlError, match="has no parameter 'depth': did you mean 'max_depth'"):
        nbml.plots.model.validation_curve(result, "depth", values=[1, 2])


def test_rfe_matches_rfecv_on_the_training_rows(lr):
    from sklearn.base import clone
    from sklearn.feature_selection import RFECV

    from nbml.folds import make_folds

    shown = FeatureCountDisplay.from_result(lr, seed=lr.seed)
    split = lr.split
    by_hand = RFECV(clone(lr.estimator), step=1, cv=make_folds("classification", 5, lr.seed), scoring="accuracy",
                    min_features_to_select=1).fit(_features(lr, split.X_train), split.y_train)
    assert np.allclose(shown.mean, by_hand.cv_results_["mean_test_score"]) and shown.best == by_hand.n_features_
    assert shown.n_rows == len(split.X_train) and list(shown.n_features) == [1, 2, 3, 4]
    assert shown.plot().ax_.get_title().startswith("Recursive feature elimination")


def test_the_new_kinds_through_evaluate_in_a_shell(ip, run, lr, iris_split):
    from sklearn.ensemble import RandomForestClassifier

    ip.user_ns["lr"] = lr
    ip.user_ns["rf"] = nbml.train(RandomForestClassifier(n_estimators=10, random_state=0), split=iris_split)
    cell = run("%evaluate rf --plots boundary,tree,shap -o ev")
    assert cell.error is None, cell.err
    ev = ip.user_ns["ev"]
    assert set(ev.displays) == {"boundary", "tree", "shap"}
    titles = [ax.get_title() for ax in ev.figure().axes]
    assert titles[0].startswith("Decision boundary") and titles[1].startswith("Tree 0 of 10")
    assert any("SHAP values on 30 validation rows" in t and "TreeExplainer" in t for t in titles)
    assert ev.plot("tree").axes[0].get_title().startswith("Tree 0")
    assert "<img" in ev._repr_html_()
    refused(run("%evaluate lr --plots tree"), "plot 'tree' draws scikit-learn trees", "LogisticRegression")
    refused(run("%evaluate lr --plots cooks"), "plot 'cooks' needs a regression task")
    message = refused(run("%evaluate lr --plots boundery"), "'boundery' is not a plot")
    assert "boundary, tree, vc, rfe, cooks, shap" in message
    with pytest.raises(NbmlError, match="plot 'vc' is computed from the model: nbml.evaluate"):
        lr.plot("vc")


def test_shap_missing_is_one_line_naming_the_extra(ip, run, lr, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "shap", None)
    ip.user_ns["lr"] = lr
    refused(run("%evaluate lr --plots shap"), "pip install nbml[explain]")


def test_vc_leaves_out_a_value_that_cannot_be_fit_and_sets_what_a_parameter_needs(iris_split):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.tree import DecisionTreeClassifier

    from nbml.plots.model import validation_curve

    tree = nbml.train(DecisionTreeClassifier(random_state=0), split=iris_split)
    shown = validation_curve(tree, "max_depth", values=[0, 2, 3])
    assert np.isnan(shown.test_scores[0]).all() and not np.isnan(shown.test_scores[1:]).any()
    assert "left out 0: it fails" in shown.title
    with pytest.raises(NbmlError, match="could not be fit with any value of max_depth"):
        validation_curve(tree, "max_depth", values=[0, -1])
    lda = nbml.train(LinearDiscriminantAnalysis(), split=iris_split)  # shrinkage needs solver='lsqr'
    shown = nbml.evaluate(lda, plots="vc").displays["vc"]
    assert shown.param_name == "shrinkage" and "solver='lsqr'" in shown.title and not np.isnan(shown.test_scores).any()
