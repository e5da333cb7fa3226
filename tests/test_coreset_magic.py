"""%coreset and %%train --data CORESET through a real shell."""
import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError


@pytest.fixture
def big(ip, run, tmp_path):
    from sklearn.datasets import make_classification

    X, y = make_classification(6000, 8, weights=[0.9], random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]).assign(y=y)
    frame.to_csv(tmp_path / "big.csv", index=False)
    ip.user_ns.update(big=frame, path=str(tmp_path / "big.csv"))
    run("from sklearn.linear_model import LogisticRegression\n%split big --target y")
    return frame


def test_coreset_then_weighted_train_scored_on_real_validation_rows(big, ip, run):
    cell = run("%coreset big --target y --size 600 -o cs")
    assert cell.error is None, cell.err
    cs = ip.user_ns["cs"]
    import nbml

    active = nbml.active_split()
    # the active split's frame: drawn from its training rows, which the weights stand for
    assert len(cs.X) == 600 and cs.weights.sum() == pytest.approx(len(active.X_train))
    assert cs.X.index.isin(active.X_train.index).all() and cs.drawn_from == "train"
    cell = run("%train LogisticRegression() --data cs -o small")
    assert cell.error is None, cell.err
    small = ip.user_ns["small"]
    assert len(small.split.X_train) == 600 and small.split.X_val is active.X_val  # judged on real rows
    # the fit used the weights: it equals a hand-weighted fit of the same pipeline
    from sklearn.base import clone

    by_hand = clone(small._pipeline).fit(cs.X, cs.y, model__sample_weight=cs.weights)
    np.testing.assert_allclose(small.model.predict_proba(active.X_val), by_hand.predict_proba(active.X_val))
    cell = run("%train LogisticRegression() --data cs --cv 3 -o cv3")
    assert cell.error is None and len(ip.user_ns["cv3"].cv) == 3


def test_coreset_from_a_file(big, ip, run):
    cell = run("%coreset --file {path} --target y --size 0.1 --chunksize 1000 -o fcs")
    assert cell.error is None, cell.err
    assert len(ip.user_ns["fcs"].X) == 600


def test_coreset_bad_input(big, ip, run):
    run("from sklearn.neighbors import KNeighborsClassifier")
    run("%coreset big --target y --size 300 -o cs")
    for source, phrase in [("%coreset big --target y --size 0", "size=0"),
                           ("%coreset big --target yy --size 10", "did you mean 'y'"),
                           ("%coreset big --target y --size many", "not a row count"),
                           ("%coreset --target y --size 10", "one of them"),
                           ("%train KNeighborsClassifier() --data cs", "method='uniform'")]:
        cell = run(source)
        assert isinstance(cell.error, UsageError), (source, cell.err)
        assert phrase in str(cell.error), (source, str(cell.error))


def test_tune_on_a_coreset_with_weighted_cv_then_refit_on_full_rows(big, ip, run):
    import nbml

    run("%coreset big --target y --size 800 -o cs")
    run("%train LogisticRegression(max_iter=500) -o base")
    cell = run("%%tune base --method grid --coreset cs --cv 3 --metric roc_auc -o tuned\nC = [0.01, 1.0]")
    assert cell.error is None, cell.err
    tuned = ip.user_ns["tuned"]
    assert "weighted 3-fold CV on a 800-row coreset" in "\n".join(tuned.summary_lines())
    # the coreset score is a weighted CV score; the refit is judged on the full split's validation rows
    assert len(tuned.best.split.X_train) == len(nbml.active_split().X_train) and tuned.best.cv is None
    assert 0.5 < tuned.best_score <= 1 and "roc_auc" in tuned.comparison().index
