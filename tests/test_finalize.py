"""%finalize / nbml.finalize: the same recipe refit on every labelled row, keeping its held-out scores."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import nbml
from helpers import refused as one_line
from nbml.errors import NbmlError


@pytest.fixture(scope="module")
def logistic(cancer):
    split = nbml.split(cancer, target="target", seed=0, activate=False)
    return nbml.train(LogisticRegression(max_iter=500), split=split)


def test_final_model_is_the_recipe_fit_on_every_labelled_row(logistic):
    final = nbml.finalize(logistic)
    assert final.fitted_on == "all" and logistic.fitted_on == "train"
    s = logistic.split
    X, y = pd.concat([s.X_train, s.X_val, s.X_test]), pd.concat([s.y_train, s.y_val, s.y_test])
    oracle = logistic.recipe.model().fit(X, y)
    assert np.allclose(final.estimator.coef_, oracle[-1].coef_)
    assert not np.allclose(final.estimator.coef_, logistic.estimator.coef_)
    assert final.metrics == logistic.metrics and final.metrics is not None
    assert "held-out" in final.note and f"all {len(X)} labelled rows" in final.note
    assert "every labelled row" in repr(final)
    for part in ("val", "test"):
        with pytest.raises(NbmlError, match="every labelled row"):
            nbml.evaluate(final, on=part)
    with pytest.raises(NbmlError, match="already"):
        nbml.finalize(final)


def test_finalize_magic_and_evaluate_refused_in_one_line(ip, run, cancer):
    ip.user_ns["cancer"] = cancer
    run("%split cancer --target target")
    run("from sklearn.tree import DecisionTreeClassifier")
    assert run("%train DecisionTreeClassifier(max_depth=3) --cv 3 -o tree").error is None
    cell = run("%finalize tree -o final")
    assert cell.error is None, cell.err
    final = ip.user_ns["final"]
    assert final.fitted_on == "all" and "3-fold CV" in final.note
    one_line(run("%evaluate final --on test"), "every labelled row", "result.metrics")
    one_line(run("%evaluate final --on val"), "every labelled row")
    assert run("%evaluate final --on train").error is None
    one_line(run("%finalize no_such_result"))
    ip.user_ns["number"] = 1
    one_line(run("%finalize number"), "trained result")


def test_final_model_deploys(logistic, tmp_path):
    final = nbml.finalize(logistic)
    nbml.deploy(final, tmp_path / "final")
    loaded = nbml.load(tmp_path / "final")
    X = logistic.split.X_test
    assert (loaded.predict(X) == final.predict(X)).all()
    assert np.allclose(loaded.predict_proba(X), final.predict_proba(X))


def test_the_final_result_says_it_was_fit_on_every_row(cancer):
    from sklearn.linear_model import LogisticRegression

    split = nbml.split(cancer, target="target", seed=0, activate=False)
    final = nbml.finalize(nbml.train(LogisticRegression(max_iter=1000), split=split))
    head = repr(final).splitlines()[0]
    assert "fit on all 569 labelled rows; scores measured before" in head and "validated on" not in head
