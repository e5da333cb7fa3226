"""Metrics of one's own (issue 19, item 5): ``nbml.add_metric`` puts a function or a scikit-learn
scorer into every table (train, compare, tune, evaluate), ``--metric`` and ``--sort-by``, parallel
workers included; ``nbml.metrics()`` lists them beside the built-in ones. scikit-learn computing
the same metric on the same folds is the oracle."""
import math

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.model_selection import cross_val_score

import nbml
from helpers import refused

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

F2 = "def f2(y, p):\n    from sklearn.metrics import fbeta_score\n    return fbeta_score(y, p, beta=2, pos_label='malignant')\n"


@pytest.fixture(autouse=True)
def _no_added_metrics_left():
    yield
    from nbml.metrics import _ADDED

    _ADDED.clear()


@pytest.fixture
def cancer_split(ip, run, cancer):
    df = cancer.iloc[::2].copy()  # 285 rows: quick
    df["target"] = np.where(df["target"] == 1, "benign", "malignant")
    ip.user_ns["cancer_named"] = df
    cell = run("%split cancer_named --target target --seed 0\nfrom sklearn.linear_model import LogisticRegression")
    assert cell.error is None, cell.err
    return ip


def _by_hand(ip, model, scoring):
    """The metric on the same folds, by scikit-learn."""
    from nbml.folds import make_folds

    recipe = nbml.prepare(model)
    s = recipe.split
    return cross_val_score(recipe.pipeline, s.X_trainval, s.y_trainval, scoring=scoring,
                           cv=make_folds("classification", 3, recipe.seed)).mean()


def test_an_added_function_is_a_column_of_train_compare_tune_and_evaluate(cancer_split, run):
    ip = cancer_split
    cell = run(F2 + "import nbml\nnbml.add_metric('f2', f2)\n%train LogisticRegression(max_iter=2000) --cv 3 -o lr")
    assert cell.error is None, cell.err
    lr = ip.user_ns["lr"]
    from sklearn.linear_model import LogisticRegression

    want = _by_hand(ip, LogisticRegression(max_iter=2000), skm.make_scorer(ip.user_ns["f2"]))
    assert lr.metrics["f2"] == pytest.approx(want)
    assert "f2" in cell.out and "train_f2" in lr.cv  # the train column too (the %%train table)

    cell = run("%compare --models lr,nb,tree --cv 3 --sort-by f2 --n-jobs 2 -o board")
    assert cell.error is None, cell.err
    board = ip.user_ns["board"]
    assert list(board["f2"]) == sorted(board["f2"], reverse=True)  # workers computed it: no NaN, sorted
    assert board.loc["LogisticRegression", "f2"] == pytest.approx(want)

    cell = run("%tune lr --metric f2 --method random --trials 3 --n-jobs 2 -o tuned")
    assert cell.error is None, cell.err
    tuned = ip.user_ns["tuned"]
    assert "best f2" in cell.out and tuned.trials["score"].notna().all()

    cell = run("ev = %evaluate lr")
    assert cell.error is None, cell.err
    pred = ip.user_ns["ev"].predictions
    assert ip.user_ns["ev"].metrics["f2"] == pytest.approx(ip.user_ns["f2"](pred.y_true, pred.y_pred))


def test_lower_is_better_and_probabilities(cancer_split, run):
    ip = cancer_split
    nbml.add_metric("brier", skm.brier_score_loss, greater_is_better=False, needs="proba", pos_label="malignant")
    cell = run("%compare --models lr,nb,svm --cv 3 --sort-by brier -o board")
    assert cell.error is None, cell.err
    board = ip.user_ns["board"]
    assert list(board["brier"].iloc[:2]) == sorted(board["brier"].iloc[:2])  # lower first, NaN last
    assert math.isnan(board.loc["SVC", "brier"])  # SVC gives no probabilities: no value, no error
    from sklearn.naive_bayes import GaussianNB

    want = _by_hand(ip, GaussianNB(), skm.make_scorer(skm.brier_score_loss, response_method="predict_proba",
                                                        pos_label="malignant"))
    assert board.loc["GaussianNB", "brier"] == pytest.approx(want)


def test_a_scikit_learn_scorer_object_is_taken_as_it_is(cancer_split, run):
    ip = cancer_split
    scorer = skm.make_scorer(skm.average_precision_score, response_method="predict_proba", pos_label="malignant")
    nbml.add_metric("ap_malignant", scorer)
    row = nbml.metrics("classification").loc[("classification", "ap_malignant")]
    assert row["needs"] == "proba" and row["source"] == "added" and row["greater_is_better"]
    cell = run("%train LogisticRegression(max_iter=2000) --cv 3 -o lr")
    assert cell.error is None, cell.err
    from sklearn.linear_model import LogisticRegression

    assert ip.user_ns["lr"].metrics["ap_malignant"] == pytest.approx(_by_hand(ip, LogisticRegression(max_iter=2000),
                                                                              scorer))


def test_metrics_lists_built_in_and_added_and_models_lists_families():
    nbml.add_metric("max_err", skm.max_error, greater_is_better=False)
    table = nbml.metrics()
    assert list(table.columns) == ["greater_is_better", "needs", "source", "in_tables"]
    assert table.loc[("classification", "accuracy"), "source"] == "nbml"
    assert table.loc[("classification", "f1_macro"), "source"] == "scikit-learn scorer"
    assert not table.loc[("regression", "mae"), "greater_is_better"]
    assert table.loc[("regression", "max_err"), "source"] == "added"
    assert ("classification", "max_err") in table.index  # needs='pred' and no task: both tasks
    assert set(nbml.metrics("regression").index.get_level_values("task")) == {"regression"}
    families = nbml.models()
    assert {"lr", "rf", "hgb", "et", "ada"} <= set(families.loc["classification"].index)
    assert families.loc[("regression", "lasso"), "estimator"] == "sklearn.linear_model.Lasso"
    nbml.remove_metric("max_err")
    assert "max_err" not in nbml.metrics("regression").index.get_level_values("name")


def test_a_regression_metric_is_not_offered_to_classification(ip, run, diabetes):
    ip.user_ns["diabetes"] = diabetes
    nbml.add_metric("medae", skm.median_absolute_error, greater_is_better=False, task="regression")
    cell = run("%split diabetes --target target --seed 0\n%compare --models lr,ridge --cv 3 --sort-by medae -o board")
    assert cell.error is None, cell.err
    assert list(ip.user_ns["board"]["medae"]) == sorted(ip.user_ns["board"]["medae"])
    assert "medae" not in nbml.metrics("classification").index.get_level_values("name")


def test_a_metric_that_raises_is_one_line_and_earlier_results_stay(cancer_split, run):
    ip = cancer_split
    cell = run("%train LogisticRegression(max_iter=2000) --cv 3 -o lr")
    assert cell.error is None, cell.err
    before = dict(ip.user_ns["lr"].metrics)
    ip.user_ns.pop("board", None)
    cell = run("def broken(y, p):\n    raise RuntimeError('no labels here')\nnbml.add_metric('broken', broken)")
    assert cell.error is None, cell.err
    for line in ("%train LogisticRegression(max_iter=2000) --cv 3 -o lr", "%compare --models lr,nb --cv 3 -o board",
                 "%compare --models lr,nb --cv 3 --n-jobs 2 -o board"):
        refused(run(line), "'broken'", "RuntimeError: no labels here")
    assert ip.user_ns["lr"].metrics == before and "board" not in ip.user_ns


@pytest.mark.parametrize("call, phrase", [
    ("nbml.add_metric('accuracy', f)", "'accuracy' is built in"),
    ("nbml.add_metric('f1_macro', f)", "'f1_macro' is built in"),
    ("nbml.add_metric('m', f, needs='probs')", "needs='probs' is not one of 'pred', 'proba', 'decision'"),
    ("nbml.add_metric('m', f, needs='proba', task='regression')", "regression models give values only"),
    ("nbml.add_metric('m', f, task='clustering')", "task='clustering'"),
    ("nbml.add_metric('m', 3)", "func must be a function"),
    ("nbml.remove_metric('nope')", "'nope' was not added"),
])
def test_bad_input_is_one_line(call, phrase):
    from nbml.errors import NbmlError

    with pytest.raises(NbmlError, match=phrase.replace("(", r"\(")) as caught:
        eval(call, {"nbml": nbml, "f": skm.accuracy_score})
    assert "\n" not in str(caught.value)


def test_the_panel_shows_an_added_metric(cancer_split):
    from sklearn.linear_model import LogisticRegression

    from nbml.widgets.panel import Panel

    nbml.add_metric("f2", lambda y, p: skm.fbeta_score(y, p, beta=2, pos_label="malignant"))
    p = Panel(LogisticRegression(max_iter=2000), background=False)
    assert "<td>f2</td>" in p.metrics_view.value
