"""Leak audit: no route scores a model on rows it was fit on.

The labels are coin flips, so nothing about a row's features says anything about its label:
a model can only beat chance on rows it has seen. A memorizing model (1-nearest-neighbour, an
unpruned decision tree) scores 1.0 on its own training rows, so every held-out score any
route reports — validation, CV folds, out-of-fold, test, tuning scores, refits, ensembles,
panels, label-cleaning retrains, coresets, torch — must be chance. A route may instead refuse,
in one line.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError

N_ROWS, N_FEATURES = 2000, 6
CHANCE = 0.6  # coin flips: held-out accuracy is 0.5 ± ~0.025 on 400 rows; 0.6 is four standard errors

# UsageErrors that mean the test (not the route) went wrong — argparse, a name or expression the
# magic could not look up, a cell that raised: these are never a refusal
NOT_A_REFUSAL = re.compile(r"unrecognized arguments|invalid choice|expected one argument|is not defined in the "
                           r"notebook|^could not evaluate|^the cell raised|^syntax error in the cell|^missing \w+$")


# -- the helper ----------------------------------------------------------------------------

def assert_chance_or_refused(run):
    """``run()`` takes one route end to end and returns every accuracy it reports on held-out
    rows: a number, or ``{where: accuracy}`` where an accuracy may also be a zero-argument
    callable (a follow-up such as ``%evaluate``, which may refuse on its own without hiding the
    others). Each accuracy must be chance (< 0.6) — or the route refuses: it raises a
    ``UsageError`` whose message is a single line. Returns the scores (None when refused)."""
    try:
        reported = run()
    except UsageError as exc:
        _check_refusal(exc)
        print(f"refused: {exc}")
        return None
    if not isinstance(reported, dict):
        reported = {"score": reported}
    scores, refused = {}, {}
    for where, value in reported.items():
        if callable(value):
            try:
                value = value()
            except UsageError as exc:
                _check_refusal(exc)
                refused[where] = str(exc)
                continue
        assert isinstance(value, (int, float, np.floating)) and math.isfinite(value), (where, value)
        scores[where] = round(float(value), 4)
    print(f"reported: {scores}" + (f"; refused: {refused}" if refused else ""))
    assert scores or refused, "the route reported no held-out score"
    leaks = {where: v for where, v in scores.items() if not v < CHANCE}
    assert not leaks, (f"held-out accuracy above chance on coin-flip labels (the model was scored on rows "
                       f"it was fit on): {leaks}; all reported: {scores}"
                       + (f"; refused: {refused}" if refused else ""))
    return scores


def _check_refusal(exc):
    message = str(exc).strip()
    assert not NOT_A_REFUSAL.search(message), \
        f"the route failed for an unrelated reason, it did not refuse: {message}"
    assert message and len(message.splitlines()) == 1, f"a refusal must be one line; got {message!r}"


def cell(run, source):
    """Run a cell through the shell; its error is raised (a refusal reaches the helper)."""
    result = run(source)
    if result.error is not None:
        raise result.error
    return result.value


def setup(run, source):
    """A step that prepares a route (not part of it): it must simply work."""
    result = run(source)
    assert result.error is None, (source, result.error, result.err)
    return result.value


def evaluated(run, name, on):
    """``%evaluate NAME --on ON``'s accuracy, as a follow-up the helper runs (and lets refuse) on its own."""
    return lambda: cell(run, f"%evaluate {name} --on {on}").metrics["accuracy"]


def evaluations(run, name) -> dict:
    return {f"%evaluate {name} --on {on}": evaluated(run, name, on) for on in ("val", "test")}


def accuracy(predictions) -> float:
    return float(np.mean(np.asarray(predictions.y_pred) == np.asarray(predictions.y_true)))


def table_accuracy(value) -> float:
    """A comparison table's cell: a number, or ``"0.5012 ± 0.0321"``."""
    if isinstance(value, str):
        return float(re.match(r"\s*([-+0-9.eE]+)", value).group(1))
    return float(value)


def trial_scores(tuned) -> dict:
    done = tuned.trials[tuned.trials["state"] == "complete"]
    return {f"trial {n}": float(s) for n, s in done["score"].items()}


# -- data ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def coin_flips():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.standard_normal((N_ROWS, N_FEATURES)), columns=[f"x{i}" for i in range(N_FEATURES)])
    df["y"] = rng.integers(0, 2, N_ROWS)
    return df


@pytest.fixture
def audit(ip, run, coin_flips, tmp_path, monkeypatch):
    """The active split of the coin flips, the memorizers imported, a fresh store."""
    monkeypatch.setenv("NBML_STORE", str(tmp_path / "nbml.db"))
    ip.user_ns["df"] = coin_flips
    setup(run, "import nbml\nfrom sklearn.neighbors import KNeighborsClassifier\n"
               "from sklearn.tree import DecisionTreeClassifier")
    setup(run, "%split df --target y --seed 0")
    return run


@pytest.fixture
def knn(audit, ip):
    """A trained 1-nearest-neighbour result named ``knn`` (validation split)."""
    setup(audit, "%%train -o knn\nKNeighborsClassifier(n_neighbors=1)")
    return ip.user_ns["knn"]


@pytest.fixture
def tree(audit, ip):
    """A trained unpruned decision tree named ``tree`` (validation split)."""
    setup(audit, "%%train -o tree\nDecisionTreeClassifier(random_state=0)")
    return ip.user_ns["tree"]


# -- the audit is meaningful -----------------------------------------------------------------

def test_the_memorizers_memorize_and_the_labels_are_coin_flips(coin_flips):
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    X, y = coin_flips.drop(columns="y"), coin_flips["y"]
    seen, unseen = slice(0, 1000), slice(1000, None)
    for model in (KNeighborsClassifier(n_neighbors=1), DecisionTreeClassifier(random_state=0)):
        model.fit(X[seen], y[seen])
        assert model.score(X[seen], y[seen]) == 1.0  # on rows it was fit on: perfect
        assert abs(model.score(X[unseen], y[unseen]) - 0.5) < 0.05  # on other rows: chance


def test_helper_accepts_chance_and_one_line_refusals_and_nothing_else():
    assert assert_chance_or_refused(lambda: {"val": 0.51}) == {"val": 0.51}

    def refuses():
        raise UsageError("coreset rows overlap the validation rows: build the coreset from split.X_train")

    assert assert_chance_or_refused(refuses) is None
    with pytest.raises(AssertionError, match="above chance"):
        assert_chance_or_refused(lambda: {"val": 1.0})

    def two_lines():
        raise UsageError("first\nsecond")

    with pytest.raises(AssertionError, match="one line"):
        assert_chance_or_refused(two_lines)

    def typo():
        raise UsageError("unrecognized arguments: --prun median")

    with pytest.raises(AssertionError, match="unrelated reason"):
        assert_chance_or_refused(typo)


# -- %%train -------------------------------------------------------------------------------

def test_train_holdout(audit, ip):
    def route():
        r = cell(audit, "%%train -o knn\nKNeighborsClassifier(n_neighbors=1)")
        assert r.train_metrics["accuracy"] == 1.0  # it memorized its training rows
        return {"validation": r.metrics["accuracy"], "validation predictions": accuracy(r.predictions)}

    assert_chance_or_refused(route)


def test_train_cv_folds_and_out_of_fold(audit, ip):
    def route():
        r = cell(audit, "%%train -o knn_cv --cv 5\nKNeighborsClassifier(n_neighbors=1)")
        assert len(r.cv) == 5
        return {"cv mean": r.metrics["accuracy"], "out-of-fold": accuracy(r.predictions),
                **{f"fold {i}": float(v) for i, v in r.cv["accuracy"].items()}}

    assert_chance_or_refused(route)


# -- %evaluate -----------------------------------------------------------------------------

@pytest.mark.parametrize("cv", ["", " --cv 5"], ids=["holdout", "cv"])
def test_evaluate_a_trained_result(audit, ip, cv):
    def route():
        setup(audit, f"%%train -o knn{cv}\nKNeighborsClassifier(n_neighbors=1)")
        return evaluations(audit, "knn")

    assert_chance_or_refused(route)


def test_evaluate_a_tuned_best(audit, knn):
    def route():
        tn = cell(audit, "%%tune knn -o tn --method grid --cv 5\nn_neighbors = [1]")
        return {"best_score": tn.best_score, "best.metrics": tn.best.metrics["accuracy"],
                **evaluations(audit, "tn.best")}

    assert_chance_or_refused(route)


# -- %tune ---------------------------------------------------------------------------------

# every configuration memorizes (k=1): the best of them must still be chance
MEMORIZING_SPACE = "n_neighbors = [1]\nweights = ['uniform', 'distance']\np = [1, 2]"


@pytest.mark.parametrize("cv", ["", " --cv 3"], ids=["validation", "cv"])
@pytest.mark.parametrize("method", ["grid", "random", "bayes", "halving"])
def test_tune_each_method(audit, knn, method, cv):
    trials = "" if method in ("grid", "halving") else " --trials 4"
    seed = "" if method == "grid" else " --seed 0"

    def route():
        tn = cell(audit, f"%%tune knn -o tn --method {method}{cv}{trials}{seed}\n{MEMORIZING_SPACE}")
        assert len(tn.trials) >= 1
        return {"best_score": tn.best_score, "best.metrics": tn.best.metrics["accuracy"], **trial_scores(tn)}

    assert_chance_or_refused(route)


def test_tune_bayes_with_median_pruning(audit, knn):
    def route():
        tn = cell(audit, f"%%tune knn -o tn --method bayes --prune median --cv 3 --trials 4 --seed 0\n"
                         f"{MEMORIZING_SPACE}")
        return {"best_score": tn.best_score, "best.metrics": tn.best.metrics["accuracy"], **trial_scores(tn)}

    assert_chance_or_refused(route)


# -- %compare ------------------------------------------------------------------------------

def test_compare_standard_models(audit, ip):
    def route():
        table = cell(audit, "%compare --models knn,tree --cv 5")
        scores = {f"{name} (table)": float(v) for name, v in table["accuracy"].items()}
        for name, r in table.attrs["results"].items():
            scores[f"{name} (result)"] = r.metrics["accuracy"]
        return scores

    assert_chance_or_refused(route)


def test_compare_trained_results(audit, knn, tree):
    def route():
        table = cell(audit, "%compare knn tree")
        return {name: float(v) for name, v in table["accuracy"].items()}

    assert_chance_or_refused(route)


# -- %%ensemble ----------------------------------------------------------------------------

ENSEMBLE_MEMBERS = {
    "hard": "knn\nDecisionTreeClassifier(random_state=0)",
    "soft": "knn\nDecisionTreeClassifier(random_state=0)",
    "stacking": "knn\nDecisionTreeClassifier(random_state=0)",
    "bagging": "KNeighborsClassifier(n_neighbors=1)",
    "boosting": "DecisionTreeClassifier(random_state=0)",  # AdaBoost needs sample weights: not k-NN
}


@pytest.mark.parametrize("method", list(ENSEMBLE_MEMBERS))
def test_ensemble_each_method(audit, knn, method):
    def route():
        ens = cell(audit, f"%%ensemble --method {method} --cv 5 -o ens\n{ENSEMBLE_MEMBERS[method]}")
        scores = {"ensemble": ens.metrics["accuracy"],
                  **{f"fold {i}": float(v) for i, v in ens.cv["accuracy"].items()},
                  **{f"comparison: {name}": table_accuracy(v) for name, v in ens.comparison["accuracy"].items()}}
        return {**scores, **evaluations(audit, "ens")}

    assert_chance_or_refused(route)


# -- %panel --------------------------------------------------------------------------------

def test_panel_refits(audit, knn, ip):
    pytest.importorskip("ipywidgets")

    def route():
        widget = cell(audit, "%panel knn --params n_neighbors -o p")
        panel = widget.panel
        scores = {"opened": panel.current.val["accuracy"]}
        slider = next(c for c in panel.controls if c.name == "n_neighbors").widget
        for value in (2, 1):  # change a value, then back to the memorizer
            slider.value = value
            assert panel.wait(60), "the panel did not finish refitting"
            assert panel.last_error is None, panel.last_error
            assert panel.current.params["n_neighbors"] == value
            scores[f"n_neighbors={value}"] = panel.current.val["accuracy"]
            scores[f"n_neighbors={value} (kept result)"] = panel.result().metrics["accuracy"]
        return scores

    assert_chance_or_refused(route)


# -- %labels and retrain -------------------------------------------------------------------

@pytest.mark.parametrize("accept", ["", " --accept"], ids=["no-decisions", "accepted"])
def test_labels_then_retrain(audit, knn, ip, accept):
    """``%labels`` looks at train+val rows; ``--accept`` relabels or drops the flagged ones, then
    ``issues.retrain()`` trains on the cleaned split and reports its validation score."""
    pytest.importorskip("cleanlab")

    def route():
        issues = cell(audit, f"%labels knn --cv 5{accept} -o issues")
        assert len(issues) > 0  # coin flips: plenty of labels look wrong to any model
        retrained = cell(audit, "retrained = issues.retrain()\nretrained")
        return {"retrained validation": retrained.metrics["accuracy"], **evaluations(audit, "retrained")}

    assert_chance_or_refused(route)


# -- coresets ------------------------------------------------------------------------------

@pytest.fixture
def coreset(audit, ip):
    setup(audit, "%coreset df --target y --size 0.5 --method uniform -o cs")
    return ip.user_ns["cs"]


@pytest.mark.parametrize("cv", ["", " --cv 3"], ids=["holdout", "cv"])
def test_coreset_train(audit, coreset, cv):
    def route():
        r = cell(audit, f"%%train --data cs{cv} -o cst\nDecisionTreeClassifier(random_state=0)")
        scores = {"reported": r.metrics["accuracy"]}
        if r.cv is not None:
            scores.update({f"fold {i}": float(v) for i, v in r.cv["accuracy"].items()})
        return {**scores, **evaluations(audit, "cst")}

    assert_chance_or_refused(route)


@pytest.mark.parametrize("cv", ["", " --cv 3"], ids=["validation", "cv"])
def test_coreset_tune(audit, coreset, tree, cv):
    def route():
        tn = cell(audit, f"%%tune tree --coreset cs --method grid{cv} -o ct\nmin_samples_leaf = [1]")
        return {"best_score": tn.best_score, **trial_scores(tn), "best.metrics": tn.best.metrics["accuracy"],
                **evaluations(audit, "ct.best")}

    assert_chance_or_refused(route)


# -- torch ---------------------------------------------------------------------------------

TORCH = "--epochs 30 --lr 0.01 --batch-size 64 --no-live"


@pytest.mark.parametrize("cv", ["", " --cv 3"], ids=["holdout", "cv"])
def test_torch_train_and_evaluate(audit, cv):
    pytest.importorskip("torch")

    def route():
        r = cell(audit, f"%%train -o net {TORCH}{cv}\nnbml.mlp({N_FEATURES}, hidden=(128,), n_out=2)")
        scores = {"reported": r.metrics["accuracy"]}
        if r.cv is not None:
            scores["out-of-fold"] = accuracy(r.predictions)
        return {**scores, **evaluations(audit, "net")}

    assert_chance_or_refused(route)


def test_torch_estimator_tuned(audit, ip):
    pytest.importorskip("torch")
    setup(audit, "tc = nbml.TorchClassifier(hidden=(128,), epochs=30, lr=0.01, batch_size=64)")

    def route():
        tn = cell(audit, "%%tune tc -o tt --method grid --cv 3\nweight_decay = [0.0]")
        return {"best_score": tn.best_score, "best.metrics": tn.best.metrics["accuracy"],
                **evaluations(audit, "tt.best")}

    assert_chance_or_refused(route)
