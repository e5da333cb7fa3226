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


# -- issue 16 item 3: %coreset takes what %%train takes -------------------------------------------

@pytest.fixture
def wine(ip, run):
    """wine with a text column and missing values, as a newcomer's own data looks."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    rng = np.random.default_rng(0)
    frame["region"] = rng.choice(["north", "south", "east"], len(frame))
    frame.loc[rng.choice(len(frame), 20, replace=False), "alcohol"] = np.nan
    ip.user_ns["wine"] = frame
    run("from sklearn.linear_model import LogisticRegression")
    return frame


def measured_by_hand(frame, split, size, seed=0, **options):
    """The coreset of the split's training rows, measured by the split's own pipeline (nbml.prepare)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    import nbml

    rows = frame[frame.index.isin(split.X_train.index)]
    X, y = rows.drop(columns="target"), rows["target"]
    recipe = nbml.prepare(LogisticRegression(), split=split, **options)
    numbers = Pipeline(recipe.pipeline.steps[:-1]).fit(X, y).transform(X)
    by_hand = nbml.coreset(pd.DataFrame(numbers), y.to_numpy(), size=size, seed=seed, preprocess="none")
    return X.index[by_hand.indices], by_hand.weights


def test_coreset_of_a_frame_with_text_and_missing_values(wine, ip, run):
    import nbml

    run("%split wine --target target")
    assert run("%%train -o full\nLogisticRegression(max_iter=2000)").error is None  # what %%train accepts …
    cell = run("%coreset wine --target target --size 50 -o cs")  # … gives a coreset
    assert cell.error is None, cell.err
    cs = ip.user_ns["cs"]
    assert len(cs) == 50 and cs.drawn_from == "train" and cs.X["region"].isin(["north", "south", "east"]).all()
    rows, weights = measured_by_hand(wine, nbml.active_split(), 50)
    assert list(cs.X.index) == list(rows)
    np.testing.assert_allclose(cs.weights, weights)
    cell = run("%%train --data cs -o small\nLogisticRegression(max_iter=2000)")
    assert cell.error is None, cell.err
    assert ip.user_ns["small"].fitted_on == "coreset" and ip.user_ns["small"].metrics["accuracy"] > 0.7


def test_coreset_uses_the_splits_choices_and_the_options_on_its_line(wine, ip, run):
    import nbml

    run("%split wine --target target --scale robust --outliers clip")
    split = nbml.active_split()
    cs = run("%coreset wine --target target --size 40").value
    rows, _ = measured_by_hand(wine, split, 40)
    assert list(cs.X.index) == list(rows)
    cell = run("%coreset wine --target target --size 40 --interactions --encode ordinal")
    assert cell.error is None, cell.err
    rows, _ = measured_by_hand(wine, split, 40, interactions=True, encode="ordinal")
    assert list(cell.value.X.index) == list(rows) and list(rows) != list(cs.X.index)


@pytest.mark.parametrize("line, phrases", [
    ("--preprocess none", ["'region'", "--preprocess auto"]),
    ("--balance oversample", ["balance='oversample'", "%%train"]),
    ("--preprocess none --scale robust", ["preprocess='none'"]),
])
def test_coreset_options_that_cannot_apply_are_one_line(wine, ip, run, line, phrases):
    run("%split wine --target target")
    cell = run(f"%coreset wine --target target --size 40 {line} -o nope")
    assert isinstance(cell.error, UsageError) and "Traceback" not in cell.err
    assert all(p in str(cell.error) for p in phrases), str(cell.error)
    assert "nope" not in ip.user_ns
    assert "preprocess=<callable" not in str(cell.error)  # not an option of the magic


def test_coreset_help_lists_the_preprocessing_options(ip):
    doc = ip.find_line_magic("coreset").__doc__
    assert all(f"--{name}" in doc for name in ("preprocess", "impute", "scale", "encode", "outliers", "select"))
