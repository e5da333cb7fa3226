"""The one family of errors nbml raises for bad input.

Every mistake core recognizes (a misspelt column, NaN labels, too few rows for the folds, a
regressor on class labels, ...) raises an :class:`NbmlError` whose message names the problem and
the fix. It subclasses ``ValueError``, so ``except ValueError`` in callers and scikit-learn's
conventions keep working. The magics show an ``NbmlError`` as one line; any other exception is
a user model's failure or a bug in nbml, shown as one line that says how to see its traceback
(``%tb``, or ``%config Nbml.short_errors = False``).
"""
from __future__ import annotations


class NbmlError(ValueError):
    """Bad input: the message names the problem and the fix."""


class NoActiveSplit(NbmlError):
    """A function needs the active dataset and there is none: run ``%split`` (``nbml.split``) first."""


class FitError(NbmlError):
    """The model's own fit or predict raised: the message is the model's, shortened; the model's
    exception is the ``__cause__``."""


def describe_error(exc: BaseException) -> str:
    """``Type: first line of the message`` (just ``Type`` when the message is empty)."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
