"""Live views of a running search: a notebook view and a plain-text one.

A view is any object with some of ``on_start(search, total)``, ``on_trial_end(record, best,
search)`` and ``on_end(search)``. ``NotebookView`` shows a tqdm progress bar with the best
score so far and an optimization-history plot displayed once and updated in place (one
display handle, at most once a second). ``TextProgress`` prints one line per trial
(throttled) for terminals. IPython is imported only by the notebook view.
"""
from __future__ import annotations

import math
import sys
import time

from nbml.errors import NbmlError


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython with a kernel attached)."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


class _FunctionCallback:
    def __init__(self, fn):
        self.fn = fn

    def on_trial_end(self, record, best, search):
        self.fn(record, best)


def make_callbacks(callbacks, live) -> list:
    """User callbacks (objects with ``on_trial_end`` or functions ``fn(record, best)``) plus
    the live view: ``live=None`` shows the notebook view inside a kernel and nothing
    elsewhere; ``True`` the notebook view (text in a terminal); ``"text"`` text; ``False`` none."""
    if callbacks is None:
        out = []
    elif isinstance(callbacks, (list, tuple)):
        out = list(callbacks)
    else:
        out = [callbacks]
    out = [cb if hasattr(cb, "on_trial_end") or hasattr(cb, "on_start") else _checked(cb) for cb in out]
    if live == "text":
        out.append(TextProgress())
    elif live is True:
        out.append(NotebookView() if in_notebook() else TextProgress())
    elif live is None and in_notebook():
        out.append(NotebookView())
    elif live not in (None, False):
        raise NbmlError(f"live={live!r} is not True, False, None or 'text'")
    return out


def _checked(cb):
    if not callable(cb):
        raise TypeError(f"callbacks must be objects with on_trial_end(record, best, search) or functions "
                        f"fn(record, best); got {type(cb).__name__}")
    return _FunctionCallback(cb)


def _score(value) -> str:
    return f"{value:.4f}" if value is not None and math.isfinite(value) else "—"


class TextProgress:
    """``trial 7/20 · accuracy 0.9312 · best 0.9410 (C=1.3)`` lines, at most one per ``every`` s."""

    def __init__(self, every: float = 0.5, file=None):
        self.every = every
        self.file = file
        self._last = 0.0
        self.total = None

    def on_start(self, search, total):
        self.total = total
        self.metric = search.metric

    def on_trial_end(self, record, best, search):
        now = time.perf_counter()
        if now - self._last < self.every:
            return
        self._last = now
        print(self.line(record, best, search), file=self.file or sys.stdout, flush=True)

    def line(self, record, best, search):
        n = len(search.records)
        head = f"trial {n}/{self.total}" if self.total else f"trial {n}"
        state = "" if record["state"] == "complete" else f" ({record['state']})"
        text = f"{head} · {self.metric} {_score(record['score'])}{state}"
        if best is not None:
            params = ", ".join(f"{k}={_short(v)}" for k, v in best["params"].items())
            text += f" · best {_score(best['score'])} ({params})"
        return text

    def on_end(self, search):
        best = search.best_record()
        n = len(search.records)
        word = "interrupted" if search.interrupted else "done"
        print(f"{word}: {n} trials, best {self.metric} {_score(best['score'] if best else None)}",
              file=self.file or sys.stdout, flush=True)


def _short(v):
    return f"{v:.3g}" if isinstance(v, float) else repr(v) if isinstance(v, str) else str(v)


# the notebook view redraws its plot at most this often (seconds)
REFRESH_SECONDS = 1.0


class NotebookView:
    """tqdm progress bar with best-so-far + one history plot updated in place (an
    ``nbml.widgets.live.LiveFigure`` shown once with a display id; the trials' points and the
    best-so-far line are moved, not redrawn — ``nbml.plots.artists.HistoryPlot`` — at most
    every ``every`` seconds; the last state is always drawn)."""

    def __init__(self, every: float | None = None):
        self.every = REFRESH_SECONDS if every is None else every
        self.bar = None
        self.live = None
        self.plot = None
        self.handle = None

    def on_start(self, search, total):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=f"tune {search.model_name}", unit="trial")

    def on_trial_end(self, record, best, search):
        if self.bar is not None:
            self.bar.update(1)
            if best is not None:
                self.bar.set_postfix_str(f"best {search.metric} {_score(best['score'])}", refresh=True)
        self._draw(search)

    def _draw(self, search, force=False):
        from nbml.plots.artists import HistoryPlot
        from nbml.widgets.live import LiveFigure

        if not search.records:
            return
        if self.live is None:
            # fixed margins: a layout engine on every redraw would cost more than the plot
            self.live = LiveFigure(1, figsize=(5.5, 3), dpi=80, min_interval=self.every,
                                   margins={"left": 0.13, "right": 0.97, "bottom": 0.16, "top": 0.9})
            self.plot = HistoryPlot(self.live.axes[0], search.metric, search.greater)
        scores = [r["score"] if r["state"] == "complete" else math.nan for r in search.records]
        best = search.best_record()
        title = f"optimization history — best {search.metric} {best['score']:.4f}" if best is not None else None
        drawn = self.live.update(self.plot, range(len(scores)), scores, title, force=force)
        if drawn and self.handle is None:
            self.handle = self.live.show()

    def on_end(self, search):
        if self.bar is not None:
            self.bar.close()
        self._draw(search, force=True)
