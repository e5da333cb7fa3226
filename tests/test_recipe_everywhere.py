"""One recipe on every route, and views that never fit.

After ``%split df --target y --scale robust --impute knn`` the split's preprocessing is the
recipe of every model trained on it, whichever route trains it: ``%%train``, ``nbml.tune``,
``nbml.ensemble`` (each member), ``nbml.panel``, ``nbml.label_issues``, ``%compare --models``.
The fitted object of each route must hold a ``RobustScaler`` and a ``KNNImputer``.

Showing a result (``repr``, ``_repr_html_``) draws what was computed; it never fits a model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import KNNImputer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import RobustScaler
from sklearn.tree import DecisionTreeClassifier

import nbml

RECIPE = (RobustScaler, KNNImputer)

# where meta-estimators keep what they are made of (fitted attributes first)
INNER = ("steps", "transformers_", "transformers", "transformer_list", "estimators_", "named_estimators_",
         "estimators", "estimator_", "estimator", "base_estimator_", "base_estimator", "final_estimator_",
         "final_estimator", "calibrated_classifiers_")


def parts(model):
    """Every estimator inside ``model``, itself included: pipeline steps, column transformers'
    transformers, feature unions, ensembles' (fitted) members, wrapped estimators."""
    found, seen, todo = [], set(), [model]
    while todo:
        obj = todo.pop()
        if isinstance(obj, (tuple, list)):
            todo.extend(obj)
            continue
        if isinstance(obj, dict):
            todo.extend(obj.values())
            continue
        if not (hasattr(obj, "fit") or hasattr(obj, "transform")) or isinstance(obj, type) or id(obj) in seen:
            continue
        seen.add(id(obj))
        found.append(obj)
        for name in INNER:
            try:
                inner = getattr(obj, name, None)
            except Exception:  # noqa: BLE001 - a property that needs fitting first
                inner = None
            if inner is not None and not isinstance(inner, str):
                todo.append(inner)
    return found


def missing_steps(model) -> list:
    """The recipe's step types that ``model`` does not contain."""
    inside = parts(model)
    return [kind.__name__ for kind in RECIPE if not any(isinstance(p, kind) for p in inside)]


def assert_recipe(model, where):
    missing = missing_steps(model)
    kinds = sorted({type(p).__name__ for p in parts(model)})
    assert not missing, f"{where} lacks the split's {', '.join(missing)} (--scale robust --impute knn); it holds {kinds}"


# -- data ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def with_gaps():
    """600 rows, 4 numeric features with ~5% missing each, a learnable 0/1 target."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + 0.5 * rng.standard_normal(600) > 0).astype(int)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    for column in df.columns:
        df.loc[rng.random(600) < 0.05, column] = np.nan
    return df.assign(y=y)


@pytest.fixture
def robust_knn(ip, run, with_gaps, tmp_path, monkeypatch):
    """The active split with --scale robust --impute knn (a fresh store for the runs)."""
    monkeypatch.setenv("NBML_STORE", str(tmp_path / "nbml.db"))
    ip.user_ns["df"] = with_gaps
    cell = run("from sklearn.linear_model import LogisticRegression\n"
               "from sklearn.tree import DecisionTreeClassifier\nimport nbml")
    assert cell.error is None, cell.err
    cell = run("%split df --target y --scale robust --impute knn")
    assert cell.error is None, cell.err
    return run


def check(run, source):
    cell = run(source)
    assert cell.error is None, (source, cell.error, cell.err)
    return cell.value


def test_the_walker_finds_steps_in_pipelines_column_transformers_and_ensembles():
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import VotingClassifier
    from sklearn.pipeline import make_pipeline

    member = make_pipeline(ColumnTransformer([("num", make_pipeline(KNNImputer(), RobustScaler()), [0, 1])]),
                           LogisticRegression())
    vote = VotingClassifier([("lr", member), ("tree", DecisionTreeClassifier())], voting="soft")
    X, y = np.random.default_rng(0).standard_normal((40, 2)), np.arange(40) % 2
    assert missing_steps(member) == [] and missing_steps(vote) == []
    vote.fit(X, y)
    assert missing_steps(vote.estimators_[0]) == [] and missing_steps(vote.estimators_[1]) == ["RobustScaler",
                                                                                                "KNNImputer"]
    assert missing_steps(LogisticRegression()) == ["RobustScaler", "KNNImputer"]


# -- every route ---------------------------------------------------------------------------

def test_train(robust_knn):
    result = check(robust_knn, "%%train -o lr\nLogisticRegression(max_iter=1000)")
    assert_recipe(result.model, "%%train's result.model")


def test_train_cv(robust_knn):
    result = check(robust_knn, "%%train -o lr_cv --cv 3\nLogisticRegression(max_iter=1000)")
    assert_recipe(result.model, "%%train --cv 3's result.model")


def test_tune_a_model(robust_knn):
    tuned = nbml.tune(LogisticRegression(max_iter=1000), {"C": [0.1, 1.0]}, method="grid", live=False)
    assert_recipe(tuned.best.model, "nbml.tune(model)'s best.model")


def test_tune_a_trained_result(robust_knn, ip):
    check(robust_knn, "%%train -o lr\nLogisticRegression(max_iter=1000)")
    tuned = check(robust_knn, "%%tune lr --method grid --cv 3 -o tuned\nC = [0.1, 1.0]")
    assert_recipe(tuned.best.model, "%%tune of a trained result: best.model")


def test_ensemble_members(robust_knn):
    result = nbml.ensemble([LogisticRegression(max_iter=1000), DecisionTreeClassifier(max_depth=3)],
                           method="soft", cv=3)
    votes = [p for p in parts(result.model) if hasattr(p, "estimators_") and hasattr(p, "voting")]
    assert len(votes) == 1, f"no fitted VotingClassifier in the ensemble's model: {result.model!r}"
    members = votes[0].estimators_
    assert len(members) == 2
    for name, member in zip(("LogisticRegression", "DecisionTreeClassifier"), members):
        assert_recipe(member, f"nbml.ensemble(..., method='soft'): member {name}")


def test_panel(robust_knn):
    pytest.importorskip("ipywidgets")
    widget = nbml.panel(LogisticRegression(max_iter=1000), background=False)
    assert_recipe(widget.panel.current.model, "nbml.panel(model)'s current fit")
    assert_recipe(widget.panel.result().model, "nbml.panel(model)'s kept result")


def test_label_issues(robust_knn, tmp_path):
    pytest.importorskip("cleanlab")
    issues = nbml.label_issues(LogisticRegression(max_iter=1000), storage=str(tmp_path / "labels.db"))
    # the model (with its preprocessing) that scores the rows and that retrain() fits again:
    # issues.recipe.pipeline (an nbml Recipe), else the pipeline itself
    recipe = vars(issues).get("recipe")
    pipeline = recipe.pipeline if recipe is not None else vars(issues).get("pipeline", vars(issues).get("_pipeline"))
    assert pipeline is not None, f"where does LabelIssues keep its pipeline? it has {sorted(vars(issues))}"
    assert_recipe(pipeline, "nbml.label_issues(model)'s pipeline")
    assert_recipe(issues.retrain().model, "nbml.label_issues(model).retrain()'s model")


def test_compare_standard_models(robust_knn):
    table = check(robust_knn, "%compare --models lr --cv 3")
    assert_recipe(table.attrs["results"]["lr"].model, "%compare --models lr: the lr result's model")


# -- a repr never fits ---------------------------------------------------------------------

FITS = 0


class CountingLogisticRegression(LogisticRegression):
    """A logistic regression that counts its fits (module-level ``FITS``)."""

    def fit(self, X, y, sample_weight=None):
        global FITS
        FITS += 1
        return super().fit(X, y, sample_weight=sample_weight)


# what is shown: (variable, the cell that makes it); ';' keeps the shell from showing it there
SHOWN = {
    "TrainResult": ("counted", "%%train -o counted;\nCountingLR(max_iter=1000)"),
    "TrainResult --cv": ("counted_cv", "%%train -o counted_cv --cv 3;\nCountingLR(max_iter=1000)"),
    "Evaluation": ("evaluation", "%evaluate counted --on val -o evaluation;"),
    "Evaluation of --cv": ("evaluation_cv", "%evaluate counted_cv --on test -o evaluation_cv;"),
    "TuneResult": ("tuned", "%%tune counted --method grid -o tuned;\nC = [0.1, 1.0]"),
    "TuneResult --cv": ("tuned_cv", "%%tune counted --method grid --cv 3 -o tuned_cv;\nC = [0.1, 1.0]"),
    "TuneResult of a model": ("tuned_model", "%%tune CountingLR(max_iter=1000) --method random --trials 2 "
                                             "--seed 0 -o tuned_model;\nC = [0.1, 1.0]"),
    "ensemble": ("ensembled", "%%ensemble --method soft --cv 3 -o ensembled;\n"
                              "counted\nCountingLR(C=0.5, max_iter=1000)"),
}


@pytest.mark.parametrize("show", ["repr", "_repr_html_"])
@pytest.mark.parametrize("what", list(SHOWN))
def test_showing_a_result_never_fits(robust_knn, ip, what, show):
    global FITS
    ip.user_ns["CountingLR"] = CountingLogisticRegression
    FITS = 0
    for needed in ("TrainResult", "TrainResult --cv", what):
        check(robust_knn, SHOWN[needed][1])
    assert FITS > 0  # the counter counts
    result = ip.user_ns[SHOWN[what][0]]
    FITS = 0
    shown = repr(result) if show == "repr" else result._repr_html_()
    assert isinstance(shown, str) and shown
    assert FITS == 0, f"{show}() of a {what} fitted {FITS} model(s)"
