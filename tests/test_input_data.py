"""Data the magics must take or refuse clearly (issue 15, items 9 and 11): duplicated column
names, a duplicated target, columns mixing numbers and text, a categorical target with an unused
category, durations, numpy values in messages, and search spaces written as tuples."""
import numpy as np
import pandas as pd
import pytest

import nbml
from helpers import refused as one_line


@pytest.fixture
def session(ip, run):
    run("import numpy as np\nfrom sklearn.linear_model import LogisticRegression\n"
        "from sklearn.tree import DecisionTreeClassifier")
    return ip


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    x = rng.normal(size=90)
    return pd.DataFrame({"a": x, "b": rng.normal(size=90), "y": (x > 0).astype(int)})


def refused(cell, *phrases) -> str:
    message = one_line(cell, *phrases)
    assert "np." not in message, message  # numpy reprs stay out of messages
    return message


# -- item 9 ------------------------------------------------------------------------------------

def test_duplicated_column_names_are_named(session, run, frame):
    dup = frame.copy()
    dup.columns = ["a", "a", "y"]
    session.user_ns["dup"] = dup
    before = nbml.active_split()
    refused(run("%split dup --target y"), "duplicated column names", "'a' (2×)", "rename")
    assert nbml.active_split() is before  # nothing changed, whatever earlier tests left active


def test_a_duplicated_target_is_named(session, run, frame):
    dup = frame.copy()
    dup.columns = ["a", "y", "y"]
    session.user_ns["dup"] = dup
    refused(run("%split dup --target y"), "target 'y' names 2 columns", "duplicated")


def test_names_that_collide_once_read_as_text_are_refused(session, run, frame):
    clash = frame.copy()
    clash.columns = [1, "1", "y"]
    session.user_ns["clash"] = clash
    refused(run("%split clash --target y"), "'1'", "duplicated")


def test_a_column_mixing_numbers_and_text_trains_as_text(session, run, frame):
    mixed = frame.copy()
    mixed["code"] = [1, "x", 2] * 30
    session.user_ns["mixed"] = mixed
    cell = run("%split mixed --target y")
    assert cell.error is None, cell.err
    assert "'code' mix numbers and text: encoded as text" in cell.out
    cell = run("%train LogisticRegression() -o on_mixed")
    assert cell.error is None, cell.err
    names = list(session.user_ns["on_mixed"].model[0].get_feature_names_out())
    assert {"code_1", "code_2", "code_x"} <= set(names)


def test_a_target_mixing_numbers_and_text_is_refused(session, run, frame):
    mixed = frame.copy()
    mixed["y"] = [1, "yes"] * 45
    session.user_ns["mixed"] = mixed
    refused(run("%split mixed --target y"), "target 'y' mixes int and str", "astype(str)")


def test_a_categorical_target_drops_its_unused_categories(session, run, frame):
    cat = frame.copy()
    cat["y"] = pd.Categorical(np.where(frame.y == 1, "up", "down"), categories=["down", "up", "sideways"])
    session.user_ns["cat"] = cat
    cell = run("%split cat --target y")
    assert cell.error is None, cell.err
    assert "unused categories of target 'y' dropped: 'sideways'" in cell.out
    s = nbml.active_split()
    assert list(s.classes_) == ["down", "up"] and list(s.y_train.cat.categories) == ["down", "up"]
    assert list(cat["y"].cat.categories) == ["down", "up", "sideways"]  # the user's frame is untouched
    assert run("%train LogisticRegression()").error is None


def test_a_timedelta_column_is_used_as_seconds(session, run, frame):
    rng = np.random.default_rng(1)
    timed = frame.copy()
    timed["wait"] = pd.to_timedelta(rng.integers(0, 3600, 90), unit="s")
    session.user_ns["timed"] = timed
    cell = run("%split timed --target y")
    assert cell.error is None and "1 timedelta (as seconds)" in cell.out
    cell = run("%train LogisticRegression() -o on_timed")
    assert cell.error is None, cell.err
    model = session.user_ns["on_timed"].model
    assert "wait" in list(model[0].get_feature_names_out())  # one number, not one column per duration
    seconds = model[0].named_transformers_["num"][0].transform(timed[["a", "b", "wait"]].head(2))
    assert seconds[:, 2].tolist() == timed["wait"].head(2).dt.total_seconds().tolist()


def test_numpy_values_are_shown_as_python_values(session, run):
    session.user_ns["one"] = pd.DataFrame({"x": np.arange(20.0), "y": np.ones(20, dtype=np.int64)})
    refused(run("%split one --target y"), "single class (1)")
    session.user_ns["rare"] = pd.DataFrame({"x": np.arange(20.0), "y": np.array([0] * 19 + [7], dtype=np.int64)})
    refused(run("%split rare --target y"), "class 7 of 'y' has only 1 row")


# -- item 11: a tuple of two numbers is a range ------------------------------------------------

@pytest.fixture
def cancer_split(session, run, cancer):
    session.user_ns["cancer"] = cancer
    run("%split cancer --target target")


def test_a_tuple_of_two_integers_is_an_integer_range(cancer_split, run):
    cell = run("%%tune DecisionTreeClassifier() --method random --trials 8 --no-live -o t\n"
               "max_depth = (1, 12)\nmin_samples_split = (0.05, 0.5)")
    assert cell.error is None, cell.err
    tuned = run("t").value
    depths = tuned.trials["max_depth"]
    assert depths.between(1, 12).all() and depths.nunique() > 2  # not the two values 1 and 12
    assert all(float(v).is_integer() for v in depths)
    splits = tuned.trials["min_samples_split"]
    assert splits.between(0.05, 0.5).all() and not set(splits) <= {0.05, 0.5}
    assert repr(tuned.space["model__max_depth"]) == "randint(1, 12)"


def test_a_dict_space_with_tuples_as_tutorials_write_it(cancer_split, run):
    cell = run("import nbml\ntuned = nbml.tune(DecisionTreeClassifier(), {'max_leaf_nodes': (2, 40)}, "
               "method='random', trials=6, live=False)")
    assert cell.error is None, cell.err
    leaves = run("tuned").value.trials["max_leaf_nodes"]
    assert leaves.between(2, 40).all() and leaves.nunique() > 2


def test_numpy_bounds_in_a_space_are_shown_as_python_numbers(cancer_split, run):
    refused(run("%%tune LogisticRegression()\nC = uniform(np.float64(2), np.float64(1))"), "uniform(2.0, 1.0)")
    refused(run("%%tune DecisionTreeClassifier()\nmax_depth = (np.int64(5), np.int64(2))"), "(5, 2)")


@pytest.mark.parametrize("body, phrases", [
    ("max_depth = (1, 4, 8)", ["(1, 4, 8)", "needs two", "max_depth = [1, 4, 8]"]),
    ("max_depth = (8, 1)", ["(8, 1)", "low exceeds high", "(1, 8)"]),
])
def test_other_tuples_of_numbers_are_refused_in_one_line(cancer_split, run, body, phrases):
    refused(run(f"%%tune DecisionTreeClassifier() --trials 2 --no-live\n{body}"), *phrases)


def test_lists_and_tuples_of_text_stay_choices(cancer_split, run):
    cell = run("%%tune DecisionTreeClassifier() --method grid --no-live -o g\n"
               "criterion = ('gini', 'entropy')\nmax_depth = [2, 4]")
    assert cell.error is None, cell.err
    assert len(run("g").value.trials) == 4


def test_randint_says_it_includes_high():
    from nbml.space import randint

    assert "both included" in randint.__doc__ and "scipy" in randint.__doc__
