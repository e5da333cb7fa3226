"""A newcomer's first notebook (issue 16, items 1, 5, 8): a comment after a magic's arguments is a
comment, a target held in a variable is used as the target, and the splits textbook examples use
(unstratified 80/20 with random_state=42, a 70-15-15 ratio) give scikit-learn's rows."""
import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

import nbml
from nbml.magics.common import NbmlMagicsBase, parse_line

COMMENT = "   # 60/20/20, stratified; the active dataset --cv 'oops"


def ok(cell):
    assert cell.error is None, f"{cell.error!r}\n{cell.err}"
    return cell


# -- item 1: a comment after a line magic's arguments --------------------------------------------

def test_the_readme_line_with_its_comment_splits(ip, run, cancer):
    ip.user_ns["cancer"] = cancer.copy()
    cell = ok(run("%split cancer --target target            # 60/20/20, stratified; the active dataset"))
    split = nbml.active_split()
    assert split.target == "target" and cell.value is split and "rows" in cell.out


def test_a_comment_after_the_arguments_of_every_common_magic(ip, run, cancer):
    ip.user_ns["cancer"] = cancer.copy()
    run("from sklearn.linear_model import LogisticRegression")
    ok(run(f"%split cancer --target target --seed 3{COMMENT}"))
    assert nbml.active_split().seed == 3
    ok(run(f"%%train -o lr --cv 3{COMMENT}\nLogisticRegression(max_iter=300)   # the model"))
    assert len(ip.user_ns["lr"].cv) == 3
    ok(run(f"%train LogisticRegression(C=0.5, max_iter=300) -o line{COMMENT}"))
    assert ip.user_ns["line"].params["C"] == 0.5
    assert ok(run(f"%evaluate line --on test{COMMENT}")).value.on == "test"
    assert len(ok(run(f"%compare lr line{COMMENT}")).value) == 2
    ok(run(f"%eda cancer --target target -o report{COMMENT}"))
    ok(run(f"%coreset cancer --target target --size 50 -o cs{COMMENT}"))
    assert len(ip.user_ns["cs"]) == 50
    ok(run(f"%runs{COMMENT}"))


def test_a_comment_keeps_quotes_and_hashes_that_are_values(ip, run):
    ip.user_ns["homes"] = pd.DataFrame({"# rooms": np.arange(40.0) % 7, "size": np.arange(40.0),
                                        "prix (€)": np.arange(40.0) * 3 + 1})
    ok(run("%split homes --target 'prix (€)'   # the price, in euros"))
    assert nbml.active_split().target == "prix (€)"
    ok(run("%split homes --target '# rooms'  # a column whose name starts with #"))
    assert nbml.active_split().target == "# rooms"


def test_a_semicolon_before_the_comment_still_silences(ip, run, cancer):
    ip.user_ns["cancer"] = cancer.copy()
    cell = ok(run("%split cancer --target target;   # quiet"))
    assert cell.value is None and "rows" not in cell.out and ip.user_ns["_"] is nbml.active_split()
    run("from sklearn.linear_model import LogisticRegression")
    cell = ok(run("%%train -o quiet\nLogisticRegression(max_iter=300);  # no table"))
    assert cell.value is None and "validation" not in cell.out


def nbml_magics(shell):
    """(kind, name, parser) of every magic nbml registers."""
    return [(kind, name, func.parser) for kind, table in shell.magics_manager.magics.items()
            for name, func in table.items() if isinstance(getattr(func, "__self__", None), NbmlMagicsBase)]


def minimal_line(parser) -> str:
    """The shortest line the parser accepts: one word per required positional, a value per required option."""
    words = ["x" for a in parser._actions if not a.option_strings and a.nargs in (None, 1, "+")]
    words += [f"{a.option_strings[-1]} 1" for a in parser._actions if a.option_strings and a.required]
    return " ".join(words)


def test_every_nbml_magic_reads_a_trailing_comment_as_a_comment(ip):
    magics = nbml_magics(ip)
    assert {"split", "coreset", "train", "evaluate", "tune", "eda", "labels", "deploy"} <= {m[1] for m in magics}
    for kind, name, parser in magics:
        line = minimal_line(parser)
        plain = parse_line(parser, line)
        commented = parse_line(parser, f"{line}  # --no-such-option 'an open quote")
        assert vars(commented) == vars(plain), (kind, name)
        assert vars(parse_line(parser, f"{line};  # quiet")) == vars(plain), (kind, name)


# -- item 5: arrays through the magic ----------------------------------------------------------

@pytest.fixture
def arrays(ip):
    X, y = load_iris(return_X_y=True)
    ip.user_ns.update(X=X, y=y, y_series=pd.Series(y), y_named=pd.Series(y, name="species"), y_list=list(y))
    return X, y


@pytest.mark.parametrize("variable, name", [("y", "y"), ("y_series", "y_series"), ("y_named", "species"),
                                            ("y_list", "y_list")])
def test_split_X_with_a_target_held_in_a_variable(ip, run, arrays, variable, name):
    X, y = arrays
    cell = ok(run(f"%split X --target {variable}"))
    split = nbml.active_split()
    assert split.task == "classification" and split.target == name and split.X_train.shape[1] == 4
    rows = split.X_train.index
    np.testing.assert_array_equal(split.y_train.to_numpy(), y[rows])  # each row keeps its own label
    assert f"the {type(ip.user_ns[variable]).__name__} variable {variable}" in cell.out


def test_a_target_variable_trains_and_a_column_of_that_name_wins(ip, run, arrays):
    X, y = arrays
    run("from sklearn.linear_model import LogisticRegression")
    ok(run("%split X --target y"))
    assert ok(run("%train LogisticRegression(max_iter=500) -o m")).value.metrics["accuracy"] > 0.8
    frame = pd.DataFrame(X, columns=list("abcd")).assign(y=(y == 2).astype(int))
    ip.user_ns["frame"] = frame
    ok(run("%split frame --target y"))  # the column y, not the variable y
    assert list(nbml.active_split().classes_) == [0, 1]


def test_a_target_variable_of_the_wrong_length_is_one_line(ip, run, arrays):
    before = nbml.active_split()
    ip.user_ns["short"] = arrays[1][:10]
    cell = run("%split X --target short")
    assert isinstance(cell.error, UsageError)
    assert "holds 10 values for 150 rows" in str(cell.error) and nbml.active_split() is before
    cell = run("%split X --target nothing_of_that_name")
    assert isinstance(cell.error, UsageError) and "'nothing_of_that_name' is not in the data" in str(cell.error)


def test_train_data_and_coreset_take_a_target_variable(ip, run, arrays):
    X, y = arrays
    run("from sklearn.linear_model import LogisticRegression")
    result = ok(run("%train LogisticRegression(max_iter=500) --data X --target y -o m")).value
    assert result.split.task == "classification" and len(result.split.X_train) + len(result.split.X_val) + len(
        result.split.X_test) == 150
    cs = ok(run("%coreset X --target y --size 30")).value
    assert len(cs) == 30 and set(np.asarray(cs.y)) == {0, 1, 2}
    assert ok(run("%eda X --target y")).error is None


# -- item 8: the splits textbook examples use ------------------------------------------------

def test_the_textbook_iris_split_row_for_row(ip, run, arrays):
    X, y = arrays
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    cell = ok(run("%split X --target y --test 0.2 --val 0 --seed 42 --no-stratify"))
    split = nbml.active_split()
    assert "not stratified" in cell.out and not split.stratified
    np.testing.assert_array_equal(split.X_test.to_numpy(), X_test)
    np.testing.assert_array_equal(split.X_train.to_numpy(), X_train)
    np.testing.assert_array_equal(split.y_test.to_numpy(), y_test)
    # the same through the function, and stratified by default (a different cut)
    same = nbml.split(X, target=y, test=0.2, val=0, seed=42, stratify=False, activate=False)
    np.testing.assert_array_equal(same.X_test.to_numpy(), X_test)
    stratified = nbml.split(X, target=y, test=0.2, val=0, seed=42, activate=False)
    assert stratified.stratified and not np.array_equal(stratified.X_test.to_numpy(), X_test)
    np.testing.assert_array_equal(stratified.X_test.to_numpy(),
                                  train_test_split(X, y, test_size=0.2, random_state=42, stratify=y)[1])


@pytest.mark.parametrize("n", [442, 569, 178, 101])
def test_two_parts_take_the_test_rows_train_test_split_takes(n):
    rng = np.random.default_rng(n)
    X, y = rng.normal(size=(n, 3)), rng.normal(size=n)
    split = nbml.split(X, target=y, test=0.2, val=0, seed=7, activate=False)
    expected = train_test_split(np.arange(n), test_size=0.2, random_state=7)[1]
    assert list(split.X_test.index) == list(expected)
    if 0.2 * n != int(0.2 * n):
        assert "rounded up, as train_test_split(test_size=0.2) does" in repr(split)


def two_step(X, y, n_test, n_val, seed, stratify):
    """The two train_test_split calls the summary names."""
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=n_test, random_state=seed,
                                                      stratify=y if stratify else None)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=n_val, random_state=seed + 1,
                                                      stratify=y_rest if stratify else None)
    return X_train, X_val, X_test


@pytest.mark.parametrize("stratify", ["", " --no-stratify"])
def test_ratio_70_15_15_names_the_two_steps_that_give_its_rows(ip, run, cancer, stratify):
    ip.user_ns["cancer"] = cancer.copy()
    cell = ok(run(f"%split cancer --target target --ratio 70-15-15 --seed 4{stratify}"))
    split = nbml.active_split()
    n = len(cancer)
    n_test, n_val = len(split.X_test), len(split.X_val)
    assert n_test == n_val == round(0.15 * n)
    # the summary says how 15 % of 569 rows (85.35) was rounded and which scikit-learn calls give the rows
    assert f"test 15% of {n} = 85.35 → {n_test}" in cell.out and "rounded to the nearest row" in cell.out
    strata = ", stratify=y" if not stratify else ""
    assert f"train_test_split(X, y, test_size={n_test}, random_state=4{strata})" in cell.out
    assert (f"then validation from the other {n - n_test}: train_test_split(X_rest, y_rest, test_size={n_val}, "
            f"random_state=5{strata and ', stratify=y_rest'})") in cell.out
    X = cancer.drop(columns="target")
    X_train, X_val, X_test = two_step(X, cancer["target"], n_test, n_val, 4, stratify == "")
    for ours, theirs in ((split.X_train, X_train), (split.X_val, X_val), (split.X_test, X_test)):
        assert list(ours.index) == list(theirs.index)


def test_an_unstratified_split_lets_rare_classes_fall_where_they_fall():
    frame = pd.DataFrame({"x": np.arange(60.0), "y": ["a"] * 30 + ["b"] * 29 + ["c"]})
    with pytest.raises(nbml.NbmlError, match="a stratified split needs at least"):
        nbml.split(frame, target="y", activate=False)
    split = nbml.split(frame, target="y", stratify=False, activate=False)
    assert len(split.X_train) + len(split.X_val) + len(split.X_test) == 60 and "not stratified" in repr(split)
