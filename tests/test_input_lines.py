"""What a magic's line says is read the same way by every magic (issue 15, items 6, 7, 8, 10):
quoted values are the text inside the quotes, integer column names work, -o and --cv are checked
before any work, a bad %config value is one line, and ambiguous shares are refused with a hint."""
import numpy as np
import pandas as pd
import pytest

import nbml
from helpers import refused


@pytest.fixture
def session(ip, run, cancer):
    ip.user_ns.update(cancer=cancer.copy(), keep=123)
    run("from sklearn.linear_model import LogisticRegression, LinearRegression")
    run("%split cancer --target target")
    run("%train LogisticRegression(max_iter=300) -o earlier")
    return ip


def stored_runs(run) -> int:
    return len(run("%runs").value)


# -- item 6: -o NAME is checked before any work ------------------------------------------------

@pytest.mark.parametrize("name", ["class", "lambda", "None", "1bad", "my-model", "Out"])
def test_out_name_is_refused_before_the_cell_runs(session, run, name):
    before = stored_runs(run)
    cell = run(f"%%train -o {name}\nran_the_cell = True\nLogisticRegression(max_iter=300)")
    refused(cell, f"-o {name}")
    assert "ran_the_cell" not in session.user_ns  # nothing ran: the cell body is work too
    assert stored_runs(run) == before  # nothing recorded
    assert session.user_ns["earlier"] is not None and nbml.active_split() is not None


def test_out_keyword_names_the_fix(session, run):
    message = refused(run("%train LogisticRegression(max_iter=300) -o class"), "keyword", "class_")
    assert "'class'" in message


@pytest.mark.parametrize("line", ["%tune earlier --trials 2 -o lambda", "%split cancer --target target -o for",
                                  "%evaluate earlier -o 2x", "%compare earlier -o while", "%runs -o if"])
def test_every_magic_with_o_checks_it_first(session, run, line):
    before_split, before = nbml.active_split(), stored_runs(run)
    refused(run(line), "-o")
    assert nbml.active_split() is before_split and stored_runs(run) == before


# -- item 7 (config): a value an option cannot take is one line ------------------------------

@pytest.mark.parametrize("statement, phrases", [
    ("Nbml.cv = None", ["Nbml.cv = None", "integer", "stays 0"]),
    ("Nbml.cv = 1", ["Nbml.cv = 1", "at least 2", "stays 0"]),
    ("Nbml.preprocess = 'maybe'", ["'auto', 'none'", "stays 'auto'"]),
    ("Nbml.test = 20", ["fraction below 1", "stays 0.2"]),
    ("Nbml.plots = 'yes'", ["True or False"]),
])
def test_config_refusal_is_one_line(session, run, statement, phrases):
    name = statement.split("=")[0].strip().split(".")[1]
    before = getattr(session.run_line_magic("config", f"Nbml.{name}"), "real", None)
    cell = run(f"%config {statement}")
    lines = [ln for ln in cell.err.splitlines() if ln.strip()]
    assert len(lines) == 1, cell.err
    assert "trait of a Nbml instance" not in cell.err
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    assert getattr(session.run_line_magic("config", f"Nbml.{name}"), "real", None) == before
    # IPython keeps %config statements in the shell's config too; a later %load_ext must not meet the bad value
    session.run_line_magic("unload_ext", "nbml")
    session.run_line_magic("load_ext", "nbml")
    assert session.find_cell_magic("train") is not None


def test_config_accepts_good_values(session, run):
    cell = run("%config Nbml.cv = 3")
    assert cell.err.strip() == "" and session.run_line_magic("config", "Nbml.cv") == 3


# -- item 8: quoted values, integer column names ---------------------------------------------

@pytest.fixture
def named(session):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"surface": rng.normal(50, 10, 80), "my target": rng.normal(size=80)})
    df["prix (€)"] = 3 * df["surface"] + rng.normal(size=80)
    session.user_ns["homes"] = df
    return df


@pytest.mark.parametrize("option", ["--target 'prix (€)'", '--target "prix (€)"', "--target='prix (€)'",
                                    '-t "prix (€)"'])
def test_quoted_target_is_the_text_inside(named, run, option):
    cell = run(f"%split homes {option}")
    assert cell.error is None, cell.err
    assert nbml.active_split().target == "prix (€)" and nbml.active_split().task == "regression"


def test_quoted_values_for_other_options_and_positionals(named, run):
    cell = run("%split 'homes' --target \"my target\" --test '0.25' --seed '3' -o 'homes_split'")
    assert cell.error is None, cell.err
    s = nbml.active_split()
    assert s.target == "my target" and s.seed == 3 and len(s.X_test) == 20
    assert run("homes_split").value is s
    cell = run("%%train --data homes --target 'prix (€)' --cv '3' -o q\nLinearRegression()")
    assert cell.error is None, cell.err
    assert run("q").value.split.target == "prix (€)"


def test_an_unclosed_quote_is_one_line(named, run):
    refused(run("%split homes --target 'prix (€)"), "quote")


def test_python_in_a_model_expression_keeps_its_quotes(session, run):
    cell = run("%train LogisticRegression(solver='liblinear', max_iter=300) -o lib")
    assert cell.error is None, cell.err
    assert run("lib").value.model.steps[-1][1].solver == "liblinear"


def test_integer_column_names(session, run):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 3))
    session.user_ns["ints"] = pd.DataFrame(np.column_stack([X, (X[:, 0] > 0).astype(int)]))  # columns 0..3
    cell = run("%split ints --target 3")
    assert cell.error is None, cell.err
    s = nbml.active_split()
    assert s.target == 3 and s.task == "classification" and list(s.X_train.columns) == ["0", "1", "2"]
    cell = run("%%train --data ints --target 3 -o on_ints\nLogisticRegression()")
    assert cell.error is None, cell.err
    refused(run("%split ints --target 7"), "7", "not in the data")


def test_empty_quoted_study_is_refused_and_a_quoted_study_is_its_text(session, run):
    before = stored_runs(run)
    refused(run("%tune earlier --study '' --trials 2"), "study=''", "non-empty")
    assert stored_runs(run) == before
    cell = run("%tune earlier --study 'my study' --trials 2 --no-live -o tuned")
    assert cell.error is None, cell.err
    assert run("tuned").value.study == "my study"


# -- item 10: --cv 0, ambiguous shares, small parts -------------------------------------------

@pytest.mark.parametrize("line", ["%train LogisticRegression(max_iter=300) --cv 0",
                                  "%train LogisticRegression(max_iter=300) --cv -2",
                                  "%compare earlier --models lr --cv 0", "%ensemble earlier earlier --cv 0"])
def test_cv_zero_is_refused_like_cv_one(session, run, line):
    before = stored_runs(run)
    refused(run(line), "--cv", "at least 2")
    assert stored_runs(run) == before


@pytest.mark.parametrize("options, phrases", [
    ("--test 1.5", ["test=1.5", "ambiguous", "below 1", "0.015"]),
    ("--val 1", ["val=1", "ambiguous"]),
    ("--test 150", ["test=150", "out of range"]),
    ("--ratio 50-50-50", ["adds up to 150", "must add up to 100"]),
    ("--ratio 70-20-20", ["adds up to 110", "must add up to 100"]),
    ("--ratio 70-15-15 --test 0.1", ["ratio='70-15-15'", "test=0.1", "not both"]),
    ("--ratio 70-15-15 --val 10", ["val=10", "not both"]),
])
def test_ambiguous_shares_are_refused_with_a_hint(session, run, options, phrases):
    before = nbml.active_split()
    refused(run(f"%split cancer --target target {options}"), *phrases)
    assert nbml.active_split() is before


def test_shares_that_are_clear_still_work_and_percentages_are_named(session, run, cancer):
    n = len(cancer)
    cell = run("%split cancer --target target --ratio 70-15-15")
    assert cell.error is None and len(nbml.active_split().X_test) == round(0.15 * n)
    cell = run("%split cancer --target target --ratio 0.6-0.2-0.2")
    assert cell.error is None and len(nbml.active_split().X_test) == round(0.2 * n)
    cell = run("%split cancer --target target --test 15 --val 0.1")
    assert cell.error is None and len(nbml.active_split().X_test) == round(0.15 * n)
    assert "test=15 read as 15 %" in cell.out  # the summary says how a percentage was read


def test_a_tiny_frame_warns_below_the_minimum_rows_per_part(session, run):
    session.user_ns["tiny"] = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.5, 2.5, 3.1]})
    cell = run("%split tiny --target y")
    assert cell.error is None
    assert "only 1 training row" in cell.err and f"fewer than {nbml.data.MIN_ROWS_PER_PART}" in cell.err
    cell = run("%split cancer --target target")
    assert "fewer than" not in cell.err
