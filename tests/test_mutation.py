"""A model that edits its input in place (its own business) changes nothing nbml keeps: not the
active split, not a fold other trials reuse, not an earlier result (issue 15, item 5)."""
import pandas as pd
import pytest

MEDDLER = '''
from sklearn.linear_model import LogisticRegression

class Meddler(LogisticRegression):
    """Zeroes its input's first column, in place, when it fits and when it predicts."""
    def fit(self, X, y):
        X.iloc[:, 0] = 0.0
        return super().fit(X, y)

    def predict_proba(self, X):
        X.iloc[:, 0] = 0.0
        return super().predict_proba(X)
'''


@pytest.fixture
def meddling(ip, run, cancer):
    ip.user_ns["cancer"] = cancer
    assert run(f"import nbml\n%split cancer --target target --seed 0\n{MEDDLER}").error is None
    split = ip.user_ns["nbml"].active_split()
    return split, {part: getattr(split, f"X_{part}").copy() for part in ("train", "val", "test")}


@pytest.mark.parametrize("options", ["", " --cv 3"], ids=["holdout", "cv"])
def test_a_model_editing_its_input_changes_nothing_nbml_keeps(meddling, ip, run, options):
    split, before = meddling
    assert run("%%train -o first --preprocess none\nLogisticRegression(max_iter=5000)").error is None
    first = ip.user_ns["first"]
    kept = dict(first.metrics)
    cell = run(f"%%train -o meddled --preprocess none{options}\nMeddler(max_iter=5000)")
    assert cell.error is None, cell.err
    _ = ip.user_ns["meddled"].model
    assert run("%evaluate meddled --on test").error is None
    for part, frame in before.items():
        pd.testing.assert_frame_equal(getattr(split, f"X_{part}"), frame)
    assert run("%evaluate first").value.metrics == kept


def test_tuning_trials_do_not_see_an_earlier_trials_edits(meddling, ip, run):
    split, before = meddling
    cell = run("t = nbml.tune(Meddler(max_iter=5000), {'C': [0.1, 0.1]}, method='grid', cv=3, preprocess='none', "
               "live=False)")
    assert cell.error is None, cell.err
    scores = ip.user_ns["t"].trials["score"]
    assert scores.nunique() == 1  # the same configuration twice: the same rows twice
    pd.testing.assert_frame_equal(split.X_train, before["train"])
