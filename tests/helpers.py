"""Assertions the tests share (imported as ``from helpers import …``; pytest puts tests/ on the path)."""
from IPython.core.error import UsageError


def refused(cell, *phrases) -> str:
    """The cell failed with one line (a UsageError) that holds every phrase; returns the line."""
    assert isinstance(cell.error, UsageError), f"expected a UsageError, got {cell.error!r}\n{cell.err}"
    message = str(cell.error)
    assert "\n" not in message.strip() and "Traceback" not in cell.err, cell.err
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in {message!r}"
    return message
