"""Errors with one source: bad input is an ``NbmlError`` shown in one line; anything else (a
user model's own failure, a bug) is one line naming what failed, the exception and how to see
its traceback; ``%config Nbml.short_errors = False`` raises it with its traceback."""
import re

import pytest
from IPython.core.error import UsageError

import nbml

EXPLODING_MODEL = """%%train
from sklearn.linear_model import LogisticRegression

class Exploding(LogisticRegression):
    def fit(self, X, y):
        raise RuntimeError("boom")

Exploding()
"""


@pytest.fixture
def prepared(ip, run, cancer):
    ip.user_ns["cancer"] = cancer.copy()
    assert run("%split cancer --target target").error is None
    return ip


@pytest.fixture
def long_errors(run):
    """``%config Nbml.short_errors = False`` for one test."""
    run("%config Nbml.short_errors = False")
    yield
    run("%config Nbml.short_errors = True")


def plain(text: str) -> str:
    """Terminal text without its colours."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def one_line(cell) -> str:
    assert isinstance(cell.error, UsageError), f"expected a UsageError, got {cell.error!r}\n{cell.out}{cell.err}"
    message = str(cell.error)
    assert "\n" not in message.strip() and "Traceback" not in cell.out + cell.err, cell.out + cell.err
    assert cell.err.strip().startswith("UsageError:"), cell.err
    return message


def test_nbml_error_is_a_value_error():
    assert issubclass(nbml.NbmlError, ValueError) and nbml.NbmlError is nbml.errors.NbmlError
    assert issubclass(nbml.errors.NoActiveSplit, nbml.NbmlError)
    assert issubclass(nbml.errors.FitError, nbml.NbmlError)


def test_core_raises_nbml_errors_for_bad_input(cancer):
    with pytest.raises(nbml.NbmlError, match="not in the data"):
        nbml.split(cancer, target="tagret", activate=False)
    with pytest.raises(ValueError, match="not in the data"):  # what callers caught before still works
        nbml.split(cancer, target="tagret", activate=False)


def test_bad_input_is_one_line(prepared, run):
    message = one_line(run("%split cancer --target tagret"))
    assert "'tagret' is not in the data" in message and "%tb" not in message


def test_a_models_own_failure_is_one_line_naming_the_model_and_how_to_see_the_traceback(prepared, run):
    before = nbml.active_split()
    message = one_line(run(EXPLODING_MODEL))
    assert message.startswith("Exploding failed: RuntimeError: boom"), message
    assert "%tb" in message and "%config Nbml.short_errors = False" in message
    assert nbml.active_split() is before
    traceback = run("%tb")  # the model's traceback, not the UsageError's
    assert traceback.error is None
    shown = plain(traceback.out + traceback.err)
    assert "in fit" in shown and 'raise RuntimeError("boom")' in shown and "RuntimeError: boom" in shown, shown


def test_with_short_errors_off_the_models_exception_propagates(prepared, run, long_errors):
    cell = run(EXPLODING_MODEL)
    assert type(cell.error) is RuntimeError and str(cell.error) == "boom"
    assert 'raise RuntimeError("boom")' in plain(cell.out + cell.err)


def test_with_short_errors_off_bad_input_is_still_one_line(prepared, run, long_errors):
    assert "is not in the data" in one_line(run("%split cancer --target tagret"))


def test_a_cell_that_raises_says_where_and_how_to_see_the_traceback(prepared, run):
    message = one_line(run("%%train\nx = 1\n{}['missing']\nLogisticRegression()"))
    assert "the cell raised KeyError, line 2" in message and "%tb" in message
    assert "{}['missing']" in plain(run("%tb").out)


def test_with_short_errors_off_a_cell_that_raises_propagates(prepared, run, long_errors):
    assert type(run("%%train\nx = 1\n{}['missing']\nLogisticRegression()").error) is KeyError


def test_model_name_of_a_pipeline_is_its_last_step():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from nbml.magics.train import model_name

    assert model_name(make_pipeline(StandardScaler(), LogisticRegression())) == "LogisticRegression"
    assert model_name("not a model") == "str"
