"""SHAP reasons for single predictions (issue 19, item 6): ``nbml.explain(result, rows)`` through the
result's preprocessing; for trees the base value plus the SHAP values is the model's own output
(probability for a forest, log-odds for boosting, the prediction for regression) within 1e-6."""
import numpy as np
import pandas as pd
import pytest

import nbml
from nbml import NbmlError
from nbml.evaluation import transformed_feature_names
from nbml.training import transformed


@pytest.fixture(scope="module")
def cat_split(iris_cat):
    """iris with a categorical column (one-hot encoded by the pipeline) and string classes."""
    frame = iris_cat.copy()
    frame["species"] = np.where(frame["species"] == "virginica", "virginica", "other")  # binary
    return nbml.split(frame, target="species", seed=0, activate=False)


def _names(result):
    return transformed_feature_names(result.model, transformed(result.model, result.split.X_val.head(1)).shape[1])


def test_forest_values_add_up_to_its_probability(cat_split):
    from sklearn.ensemble import RandomForestClassifier

    result = nbml.train(RandomForestClassifier(n_estimators=20, random_state=0), split=cat_split)
    rows = cat_split.X_val.index[:5]
    reasons = nbml.explain(result, rows)
    table = reasons.table
    names = _names(result)
    assert list(table.columns[:len(names)]) == names and any("size" in name for name in names)
    proba = result.model.predict_proba(cat_split.X_val.loc[rows])[:, 1]
    assert np.allclose(table[names].sum(axis=1) + table["base value"], proba, atol=1e-6, rtol=0)
    assert np.allclose(table["probability"], proba, atol=1e-6) and (table["class"] == "virginica").all()
    assert "TreeExplainer" in repr(reasons) and "probability of virginica" in repr(reasons)


def test_boosting_values_add_up_to_its_log_odds(cat_split):
    from sklearn.ensemble import GradientBoostingClassifier

    result = nbml.train(GradientBoostingClassifier(n_estimators=10, random_state=0), split=cat_split)
    sv = nbml.explain(result, cat_split.X_val.index[:6]).shap_values
    margin = result.model.decision_function(cat_split.X_val.iloc[:6])
    assert sv.tree and sv.output == "log-odds" and sv.values.ndim == 2
    assert np.abs(sv.values.sum(axis=1) + sv.base - margin).max() < 1e-6


def test_multiclass_values_add_up_per_class_and_rows_are_explained_for_their_class(iris_named):
    from sklearn.ensemble import RandomForestClassifier

    split = nbml.split(iris_named, target="species", seed=0, activate=False)
    result = nbml.train(RandomForestClassifier(n_estimators=10, random_state=0), split=split)
    reasons = nbml.explain(result, split.X_val.index[:6])
    sv = reasons.shap_values
    assert sv.values.shape == (6, 4, 3)
    assert np.abs(sv.values.sum(axis=1) + sv.base - result.model.predict_proba(split.X_val.iloc[:6])).max() < 1e-6
    assert list(reasons.table["class"]) == list(result.model.predict(split.X_val.iloc[:6]))


def test_regression_values_add_up_to_the_prediction(diabetes):
    from sklearn.ensemble import HistGradientBoostingRegressor

    split = nbml.split(diabetes, target="target", seed=0, activate=False)
    result = nbml.train(HistGradientBoostingRegressor(max_iter=20), split=split)
    rows = split.X_test.head(4)  # a DataFrame of rows works too
    table = nbml.explain(result, rows).table
    names = _names(result)
    assert np.abs(table[names].sum(axis=1) + table["base value"] - result.model.predict(rows)).max() < 1e-6
    assert list(table.index) == list(rows.index)


def test_other_models_get_a_sampled_explainer_with_its_background_stated(cancer):
    from sklearn.linear_model import LogisticRegression

    split = nbml.split(cancer, target="target", seed=0, activate=False)
    result = nbml.train(LogisticRegression(max_iter=3000), split=split)
    reasons = nbml.explain(result, split.X_val.index[:2])
    sv = reasons.shap_values
    assert not sv.tree and "with 100 background training rows (seed 0)" in sv.explainer
    proba = result.model.predict_proba(split.X_val.iloc[:2])
    assert np.allclose(sv.values.sum(axis=1) + sv.base, proba, atol=1e-6)  # efficiency holds for any explainer


def test_a_waterfall_per_row_kept_out_of_pyplot(cat_split):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    from sklearn.tree import DecisionTreeClassifier

    result = nbml.train(DecisionTreeClassifier(max_depth=3, random_state=0), split=cat_split)
    reasons = nbml.explain(result, list(cat_split.X_val.index[:2]))
    before = plt.get_fignums()
    figures = reasons.figures()
    assert len(figures) == 2 and all(isinstance(f, Figure) for f in figures) and plt.get_fignums() == before
    assert f"row {cat_split.X_val.index[0]!r}" in figures[0].texts[0].get_text()
    assert reasons._repr_html_().count("<img") == 2


def test_bad_rows_and_missing_shap(cat_split, monkeypatch):
    import sys

    from sklearn.tree import DecisionTreeClassifier

    result = nbml.train(DecisionTreeClassifier(random_state=0), split=cat_split)
    with pytest.raises(NbmlError, match="row label\\(s\\) 'nope' are not in the split"):
        nbml.explain(result, ["nope"])
    with pytest.raises(NbmlError, match="rows lack the column\\(s\\) size"):
        nbml.explain(result, cat_split.X_val.drop(columns="size"))
    with pytest.raises(NbmlError, match="explain needs a TrainResult"):
        nbml.explain(pd.DataFrame(), [0])
    monkeypatch.setitem(sys.modules, "shap", None)
    with pytest.raises(NbmlError, match=r"pip install nbml\[explain\]"):
        nbml.explain(result, cat_split.X_val.index[:1])
