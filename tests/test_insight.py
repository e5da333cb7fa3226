"""Insight: %evaluate --plots importance,pdp — permutation importance on held-out rows, the
model's own coefficients or impurity importances, partial dependence of the top columns."""
import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from sklearn.linear_model import LogisticRegression, Ridge

import nbml
from nbml.evaluation import N_DEPENDENCE


@pytest.fixture(scope="module")
def signal_and_noise():
    """3 informative columns, 5 pure-noise columns (make_classification with shuffle=False
    puts the informative ones first)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=400, n_features=8, n_informative=3, n_redundant=0, n_repeated=0,
                               shuffle=False, class_sep=1.5, random_state=0)
    names = [f"signal_{i}" for i in range(3)] + [f"noise_{i}" for i in range(5)]
    return pd.DataFrame(X, columns=names).assign(label=np.where(y == 1, "yes", "no"))


@pytest.fixture(scope="module")
def colors():
    """A categorical column ("color", a few missing) that decides most of the class, plus
    numbers (some missing), a flag and dates."""
    rng = np.random.default_rng(0)
    n = 300
    color = rng.choice(["red", "green", "blue"], n).astype(object)
    x = rng.normal(size=n)
    y = np.where((color == "red") | ((color == "green") & (x > 0.5)), "a", "b")
    flip = rng.random(n) < 0.05
    y = np.where(flip, np.where(y == "a", "b", "a"), y)
    color[:10], x[10:20] = None, np.nan
    return pd.DataFrame({"color": color, "x": x, "flag": rng.random(n) < 0.5,
                         "when": pd.date_range("2024-01-01", periods=n, freq="D"), "label": y})


@pytest.fixture
def cancer_lr(run, ip, cancer):
    """A shell session with breast_cancer split and a logistic regression trained as ``lr``."""
    ip.user_ns["cancer"] = cancer
    run("%split cancer --target target\nfrom sklearn.linear_model import LogisticRegression")
    run("%train LogisticRegression(max_iter=300) -o lr")
    return ip


def test_informative_columns_rank_above_noise_through_the_magic(run, ip, signal_and_noise):
    ip.user_ns["df"] = signal_and_noise
    run("%split df --target label\nfrom sklearn.linear_model import LogisticRegression")
    run("%train LogisticRegression(max_iter=500) -o lr")
    cell = run("%evaluate lr --plots importance,pdp -o ev")
    assert cell.error is None, cell.err
    ev = ip.user_ns["ev"]
    table = ev.importance
    assert list(table.columns[:3]) == ["feature", "mean", "std"]
    assert sorted(table["feature"][:3]) == ["signal_0", "signal_1", "signal_2"]
    signal = table[table["feature"].str.startswith("signal")]
    noise = table[table["feature"].str.startswith("noise")]
    assert signal["mean"].min() > noise["mean"].max()
    assert (table["std"] >= 0).all() and table["std"].max() > 0  # a spread over the shuffles
    n_val = len(nbml.active_split().X_val)
    title = f"permutation importance on the validation rows (n={n_val})"
    assert ev.permutation.title.lower() == title
    assert title in ev._repr_html_().lower() and title in repr(ev).lower()
    # one box per column, the most important drawn on top
    box_fig = ev.insight_figure("importance")
    boxes = box_fig.axes[0]
    assert [t.get_text() for t in boxes.get_yticklabels()][::-1][:3] == list(table["feature"][:3])
    # partial dependence of the 3 most important columns
    pdp = ev.insight_figure("pdp")
    assert len(pdp.axes) == N_DEPENDENCE
    assert [ax.get_xlabel() for ax in pdp.axes] == list(table["feature"][:N_DEPENDENCE])


def test_coefficients_match_the_fitted_model(signal_and_noise):
    split = nbml.split(signal_and_noise, target="label", seed=1, activate=False)
    result = nbml.train(LogisticRegression(max_iter=500), split=split)
    ev = nbml.evaluate(result, plots="importance")
    own = ev.model_importance
    coef = result.estimator.coef_[0]
    assert list(own.columns) == ["coef"] and len(own) == len(coef)
    np.testing.assert_allclose(own["coef"].to_numpy(), coef)
    names = list(result.model[:-1].get_feature_names_out())
    assert list(own.index) == names
    # signed, and in the importance table next to the permutation numbers
    by_name = dict(zip(names, coef))
    for _, row in ev.importance.iterrows():
        assert row["coef"] == pytest.approx(by_name[row["feature"]])
    assert (own["coef"] < 0).any() or (own["coef"] > 0).all()
    assert "coefficients" in ev.own.title and "after preprocessing" in ev.own.title
    assert ev.dependence is None and ev.plot("own") is not None
    with pytest.raises(ValueError, match="pdp"):
        ev.plot("pdp")


def test_multiclass_coefficients_one_column_per_class_and_impurity(iris_named):
    from sklearn.ensemble import RandomForestClassifier

    split = nbml.split(iris_named, target="species", seed=0, activate=False)
    linear = nbml.train(LogisticRegression(max_iter=1000), split=split)
    ev = nbml.evaluate(linear, plots="importance,pdp")
    assert list(ev.model_importance.columns) == [f"coef[{c}]" for c in linear.estimator.classes_]
    np.testing.assert_allclose(ev.model_importance.to_numpy(), linear.estimator.coef_.T)
    # partial dependence of every class's probability on each of the top columns
    pdp = ev.insight_figure("pdp")
    assert len(pdp.axes) == N_DEPENDENCE
    assert [t.get_text() for t in pdp.axes[0].get_legend().get_texts()] == list(linear.estimator.classes_)
    forest = nbml.train(RandomForestClassifier(n_estimators=20), split=split)
    ev = nbml.evaluate(forest, plots="importance")
    assert list(ev.model_importance.columns) == ["impurity"]
    np.testing.assert_allclose(ev.model_importance["impurity"], forest.estimator.feature_importances_)
    assert "impurity" in ev.importance.columns


def test_torch_classifier(cancer):
    split = nbml.split(cancer, target="target", seed=0, activate=False)
    result = nbml.train(nbml.TorchClassifier(hidden=(8,), epochs=5), split=split)
    ev = nbml.evaluate(result, plots="importance,pdp")
    assert len(ev.importance) == cancer.shape[1] - 1 and ev.importance["mean"].notna().all()
    assert ev.model_importance is None  # a network has no coef_ / feature_importances_
    assert len(ev.dependence.results) == N_DEPENDENCE
    for found in ev.dependence.results:  # probabilities of the positive class
        assert found.average.shape[0] == 1 and 0 <= found.average.min() <= found.average.max() <= 1
    assert ev.dependence.ylabel == "P(1)"
    assert len(ev.insight_figure("pdp").axes) == N_DEPENDENCE


def test_regression_on_test_says_test(diabetes):
    split = nbml.split(diabetes, target="target", seed=0, activate=False)
    result = nbml.train(Ridge(), split=split)
    ev = nbml.evaluate(result, on="test", plots="importance,pdp", n_repeats=3)
    assert ev.permutation.n_repeats == 3 and ev.permutation.importances.shape == (10, 3)
    assert ev.permutation.title == f"Permutation importance on the test rows (n={len(split.X_test)})"
    assert "validation" not in ev._repr_html_()
    assert {"bmi", "s5"} <= set(ev.importance["feature"][:3])
    assert ev.permutation.scoring == "r2"
    np.testing.assert_allclose(ev.model_importance["coef"], result.estimator.coef_)
    assert ev.dependence.title == f"Partial dependence on the test rows (n={len(split.X_test)})"
    assert ev.dependence.ylabel == "predicted target"
    # the same seed gives the same shuffles
    again = nbml.evaluate(result, on="test", plots="importance", n_repeats=3)
    np.testing.assert_array_equal(again.permutation.importances, ev.permutation.importances)


def test_categorical_column(colors):
    from sklearn.ensemble import RandomForestClassifier

    split = nbml.split(colors, target="label", seed=0, activate=False)
    result = nbml.train(RandomForestClassifier(n_estimators=30, max_depth=4), split=split)
    ev = nbml.evaluate(result, plots="importance,pdp")
    assert ev.importance["feature"].iloc[0] == "color"  # the user's column, not its one-hot parts
    assert set(ev.importance["feature"]) == {"color", "x", "flag", "when"}
    assert np.isnan(ev.importance.set_index("feature").loc["color", "impurity"])  # one-hot: no single value
    assert any(name.startswith("color_") for name in ev.model_importance.index)
    # dates are not varied; categories and flags are drawn as bars of their values
    by_name = dict(zip(ev.dependence.feature_names, ev.dependence.categorical))
    assert by_name == {"color": True, "x": False, "flag": True}
    axes = ev.insight_figure("pdp").axes
    ticks = {name: [t.get_text() for t in axes[i].get_xticklabels()]
             for i, name in enumerate(ev.dependence.feature_names)}
    assert ticks["color"] == ["blue", "green", "red"] and ticks["flag"] == ["False", "True"]
    # red → class a for sure, blue → never: the dependence shows it
    color = ev.dependence.results[ev.dependence.feature_names.index("color")].average[0]
    assert color[2] < color[0]  # P(b) when red < P(b) when blue


def test_interactive_offers_importance_and_pdp(run, cancer_lr):
    cell = run("%evaluate lr --interactive --plots roc,importance,pdp -o ev")
    assert cell.error is None, cell.err
    view = cell.value.evaluation
    assert view.kinds[-2:] == ["importance", "pdp"]
    for kind in ("pdp", "importance", "roc"):
        view.buttons.value = kind
        assert view.cache[kind].startswith(b"\x89PNG")
    assert len(set(view.cache.values())) == 3
    # not asked for: not offered (they are costly)
    plain = run("%evaluate lr --interactive").value.evaluation
    assert "importance" not in plain.kinds and "pdp" not in plain.kinds


def test_interactive_offers_the_curves_and_model_plots_asked_for(run, cancer_lr):
    cell = run("%evaluate lr --interactive --plots roc,lift,ks,boundary,tree -o ev2")
    assert cell.error is not None  # a logistic regression has no tree: refused in one line
    cell = run("%evaluate lr --interactive --plots roc,lift,ks,boundary,vc -o ev2")
    assert cell.error is None, cell.err
    view = cell.value.evaluation
    asked = ["roc", "lift", "ks", "boundary", "vc"]
    assert set(asked) <= set(view.kinds) and "tree" not in view.kinds
    for kind in asked:
        view.buttons.value = kind
        assert view.cache[kind].startswith(b"\x89PNG")
    assert len({view.cache[k] for k in asked}) == len(asked)  # each kind its own picture


def test_bad_input_is_one_clear_line(run, cancer_lr):
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(120, centers=3, random_state=0)
    cell = run("%evaluate lr --plots importance,lime")
    assert isinstance(cell.error, UsageError) and "\n" not in str(cell.error)
    assert "'lime'" in str(cell.error) and "importance" in str(cell.error) and "pdp" in str(cell.error)
    with pytest.raises(ValueError, match="n_repeats=0"):
        nbml.evaluate(cancer_lr.user_ns["lr"], plots="importance", n_repeats=0)
    cancer_lr.user_ns["blobs"] = pd.DataFrame(X, columns=["a", "b"])
    run("%split blobs\nfrom sklearn.cluster import KMeans")
    run("%train KMeans(3, n_init=3) -o km")
    cell = run("%evaluate km --plots pdp")
    assert isinstance(cell.error, UsageError) and "\n" not in str(cell.error)
    assert "'pdp'" in str(cell.error) and "clustering" in str(cell.error)


def test_help_lists_the_insight_plots():
    from nbml.magics.train import TrainMagics

    doc = TrainMagics.evaluate_magic.__doc__
    assert "importance" in doc and "pdp" in doc
