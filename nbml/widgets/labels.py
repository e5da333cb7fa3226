"""``review_labels``: the label review panel — one flagged row at a time, Keep / Relabel / Drop.

It shows a ``LabelIssues``' flagged rows (undecided ones first, most likely wrong first): the
row's features (a compact table; for image-like data — numeric features whose count is a perfect
square ≥ 16, such as digits' 8×8 pixels — the image, drawn once per row into one
``ipywidgets.Image``), the given and the suggested label with the model's confidence, and where
the review stands. Every decision goes through the ``LabelIssues`` methods (which record it in
the store); the panel computes nothing itself. "Retrain on cleaned data" is ``issues.retrain()``.

Keyboard: ipywidgets has no key events, so the shortcuts go through a text box. With
``continuous_update`` every key typed there reaches the kernel as the box's new value; the panel
acts on it and empties the box. After a click the panel hands the focus back to the box
(``DOMWidget.focus``), so a review can go on with keys alone.
"""
from __future__ import annotations

import html
import logging
import math

import numpy as np
import pandas as pd

from nbml.errors import NbmlError, describe_error
from nbml.widgets.live import LiveFigure, status_html
from nbml.widgets.panel import _fmt, _num

SHORTCUTS = {"k": "keep", "r": "relabel", "d": "drop", "u": "undo", "n": "next", "p": "prev"}
SHORTCUT_HELP = "k keep · r relabel · d drop · u undo · n next · p previous"
MIN_IMAGE_PIXELS = 16
IMAGE_SIZE = (2.3, 2.5)  # inches at 72 dpi: about 170 × 180 pixels
DPI = 72
TOP_CLASSES = 3  # classes shown with their out-of-fold probability


def image_side(X: pd.DataFrame) -> int | None:
    """The side of the square image the rows of ``X`` are, or None: every feature numeric
    (not boolean) and their count a perfect square of at least 16 (digits: 64 → 8)."""
    n = X.shape[1]
    side = math.isqrt(n)
    if n < MIN_IMAGE_PIXELS or side * side != n:
        return None
    numeric = all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in X.dtypes)
    return side if numeric else None


def new_keys(seen: str, value: str) -> str:
    """The keys typed into the shortcut box that were not acted on yet.

    The box sends its whole value on every key, and the kernel empties it after each one. A key
    typed before the emptied box reached the browser arrives on top of the key already acted on
    (``seen`` = "k", ``value`` = "kd"): only the new tail counts (before anything was seen, the
    whole value). Otherwise the value's last key is the one just typed. A key may be lost when
    the browser merges fast keys; none is acted on twice."""
    if value.startswith(seen) and len(value) > len(seen):
        return value[len(seen):]
    return value[-1:]


class ReviewPanel:
    """The review of one ``LabelIssues``; ``widget`` is what is displayed.

    Public methods do what the buttons do (``keep``, ``relabel``, ``drop``, ``undo``, ``next``,
    ``prev``, ``retrain``, ``press(key)``) and raise on errors; the buttons and the shortcut box
    show errors in the status line instead.
    """

    def __init__(self, issues, result=None):
        import ipywidgets as widgets

        from nbml.labels import LabelIssues
        from nbml.training import TrainResult

        if not isinstance(issues, LabelIssues):
            raise TypeError(f"review_labels needs a LabelIssues (from nbml.label_issues / %labels); got "
                            f"{type(issues).__name__}")
        if result is not None and not isinstance(result, TrainResult):
            raise TypeError(f"result must be the TrainResult the issues were found with (or None); got "
                            f"{type(result).__name__}")
        self.issues, self.result = issues, result
        self.rows = list(issues.table.index)  # the table's order: most likely wrong first
        self.retrained = None  # the TrainResult of the last "Retrain on cleaned data"
        self.position = 0
        self.side = image_side(issues.split.X_train)
        self._seen = ""  # the shortcut box's last value from the browser
        self._png: dict = {}  # row -> its image, drawn once

        # -- widgets
        self.title = widgets.HTML(self._title_html())
        self.position_view = widgets.HTML("")
        self.position_view.add_class("nbml-review-position")
        self.labels_view = widgets.HTML("")
        self.labels_view.add_class("nbml-review-labels")
        self.features_view = widgets.HTML("")
        self.features_view.add_class("nbml-review-features")
        self.figure = None
        if self.side is not None:
            self.figure = LiveFigure(1, figsize=IMAGE_SIZE, dpi=DPI,
                                     margins={"left": 0.03, "right": 0.97, "bottom": 0.03, "top": 0.88})
            self.figure.widget().add_class("nbml-review-image")

        def button(description, icon, tooltip, style=""):
            b = widgets.Button(description=description, icon=icon, tooltip=tooltip, button_style=style,
                               layout=widgets.Layout(width="auto"))
            b.add_class(f"nbml-review-{description.split()[0].lower()}")
            return b

        self.keep_button = button("Keep", "check", "the given label is right (k)", "success")
        self.relabel_button = button("Relabel", "pencil", "give the row the label chosen beside (r)", "warning")
        self.drop_button = button("Drop", "trash", "leave the row out of the cleaned data (d)", "danger")
        self.undo_button = button("Undo", "undo", "take the last decision back (u)")
        self.prev_button = button("Prev", "arrow-left", "the previous flagged row (p)")
        self.next_button = button("Next", "arrow-right", "the next flagged row (n)")
        self.retrain_button = button("Retrain on cleaned data", "refresh",
                                     "train the same model on the data with the decisions applied")
        self.label_choice = widgets.Dropdown(options=[(str(c), i) for i, c in enumerate(issues.classes)],
                                             layout=widgets.Layout(width="140px"))
        self.label_choice.add_class("nbml-review-choice")
        self.shortcuts = widgets.Text(value="", placeholder=f"click here, then type: {SHORTCUT_HELP}",
                                      continuous_update=True, description="keys",
                                      layout=widgets.Layout(width="460px"))
        self.shortcuts.add_class("nbml-review-keys")
        self.status = widgets.HTML("")
        self.status.add_class("nbml-review-status")
        self.retrain_view = widgets.HTML("")
        self.retrain_view.add_class("nbml-review-comparison")

        for b, action in ((self.keep_button, self.keep), (self.relabel_button, self.relabel),
                          (self.drop_button, self.drop), (self.undo_button, self.undo),
                          (self.prev_button, self.prev), (self.next_button, self.next),
                          (self.retrain_button, self.retrain)):
            b.on_click(lambda _, action=action: self._clicked(action))
        self.shortcuts.observe(self._typed, names="value")

        decide = widgets.HBox([self.keep_button, self.relabel_button, self.label_choice, self.drop_button])
        move = widgets.HBox([self.undo_button, self.prev_button, self.next_button])
        row = [widgets.VBox([self.labels_view, self.features_view])]
        if self.figure is not None:
            row.insert(0, self.figure.widget())
        self.widget = widgets.VBox([self.title, self.position_view, widgets.HBox(row), decide, move,
                                    self.shortcuts, self.status, widgets.HBox([self.retrain_button]),
                                    self.retrain_view])
        self.widget.add_class("nbml-review")
        self.widget.review = self  # reachable from the displayed widget (tests, notebooks)

        if not self.rows:
            for b in (self.keep_button, self.relabel_button, self.drop_button, self.prev_button,
                      self.next_button):
                b.disabled = True
            self.label_choice.disabled = True
            self.position_view.value = "no flagged rows to review"
            self._set_status("ok", "nothing looks mislabeled to the model")
            return
        pending = set(issues.pending)
        first = next((i for i, r in enumerate(self.rows) if r in pending), 0)
        self.show(first)
        self._set_status("ok", f"{len(pending)} flagged row(s) to review · shortcut keys: {SHORTCUT_HELP}")

    # -- where the review stands --------------------------------------------------------
    @property
    def current(self):
        """The row label of the flagged row on screen (None when nothing is flagged)."""
        return self.rows[self.position] if self.rows else None

    def _decided(self) -> dict:
        frame = self.issues.decisions
        return {row: (action, label) for row, action, label in
                zip(frame.index, frame["action"], frame["label"])}

    def show(self, position: int):
        """Show the flagged row at ``position`` (0-based, in the table's order)."""
        if not self.rows:
            return
        if not 0 <= position < len(self.rows):
            raise NbmlError(f"position={position!r} is outside the flagged rows (0 to {len(self.rows) - 1})")
        changed = position != self.position or not self.labels_view.value
        self.position = position
        row = self.current
        if changed:
            self.label_choice.value = self._class_index(self.issues.suggestion(row))
            self.features_view.value = self._features_html(row)
            if self.figure is not None:
                self._draw(row)
        self._refresh()

    def _refresh(self):
        """The texts that decisions change: position, this row's decision, the buttons' states."""
        row = self.current
        decided = self._decided()
        flagged_decided = sum(r in decided for r in self.rows)
        tail = " · all decided" if flagged_decided == len(self.rows) else ""
        self.position_view.value = (f"<b>row {self.position + 1} of {len(self.rows)}</b> · {flagged_decided} "
                                    f"decided{tail}")
        self.labels_view.value = self._labels_html(row, decided.get(row))
        self.prev_button.disabled = self.position == 0
        self.next_button.disabled = self.position == len(self.rows) - 1

    def _class_index(self, label) -> int:
        classes = list(self.issues.classes)
        for i, c in enumerate(classes):
            if label == c or str(label) == str(c):
                return i
        return 0

    # -- deciding (all through LabelIssues) ------------------------------------------------
    def keep(self):
        """The given label of the row on screen is right; go to the next undecided row."""
        self._decide("keep")

    def relabel(self, label=None):
        """Give the row on screen ``label`` (default: the dropdown's choice); go on."""
        if label is None:
            label = self.issues.classes[self.label_choice.value]
        self._decide("relabel", label)

    def drop(self):
        """Leave the row on screen out of the cleaned data; go on."""
        self._decide("drop")

    def _decide(self, action, label=None):
        if not self.rows:
            raise NbmlError("there is no flagged row to decide on")
        row = self.current
        if action == "relabel":
            self.issues.relabel(row, label)
            done = f"relabeled row {_fmt(row)}: {_fmt(self.issues.given(row))} → {_fmt(label)}"
        else:
            getattr(self.issues, action)(row)
            done = f"{'kept' if action == 'keep' else 'dropped'} row {_fmt(row)}"
        pending = set(self.issues.pending)
        after = [i for i in range(self.position + 1, len(self.rows)) if self.rows[i] in pending]
        before = [i for i in range(self.position) if self.rows[i] in pending]
        if after or before:
            self.show((after or before)[0])
            self._set_status("ok", f"{done} · {len(pending)} to go")
        else:
            self._refresh()
            self._set_status("ok", f"{done} · every flagged row is decided: retrain on the cleaned data")

    def undo(self):
        """Take the last decision back and show its row."""
        last = self.issues.undo()
        if last is None:
            self._set_status("ok", "nothing to undo")
            return None
        row, action, label = last
        if row in self.rows:
            self.show(self.rows.index(row))
        else:
            self._refresh()
        what = f"relabel → {_fmt(label)}" if action == "relabel" else action
        self._set_status("ok", f"undid {what} of row {_fmt(row)}")
        return last

    def next(self):
        if self.position < len(self.rows) - 1:
            self.show(self.position + 1)

    def prev(self):
        if self.position > 0:
            self.show(self.position - 1)

    def retrain(self):
        """Train the same model on the cleaned data (``issues.retrain()``) and show its metrics
        beside the noisy-label model's."""
        self._set_status("busy", "retraining on the cleaned data…")
        self.retrained = self.issues.retrain()
        self.retrain_view.value = self._comparison_html(self.retrained)
        self._set_status("ok", f"retrained {self.retrained.name} on the cleaned data")
        return self.retrained

    # -- keys --------------------------------------------------------------------------
    def press(self, key: str):
        """Act on one shortcut key (see ``SHORTCUTS``); returns the action's name."""
        action = SHORTCUTS.get(key.lower())
        if action is None:
            raise NbmlError(f"key {key!r} is not a shortcut; the keys are {SHORTCUT_HELP}")
        getattr(self, action)()
        return action

    def _typed(self, change):
        value = change["new"]
        if not value:  # the panel emptying the box
            return
        keys = new_keys(self._seen, value)
        self._seen = value
        self.shortcuts.value = ""
        for key in keys:
            if key.strip():
                self._guarded(self.press, key)

    def _clicked(self, action):
        self._guarded(action)
        try:
            self.shortcuts.focus()  # the keys work again right away
        except AttributeError:  # ipywidgets 7 has no focus(): the keys need a click
            pass

    def _guarded(self, fn, *args):
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - shown in the panel; the review goes on
            self._set_status("error", describe_error(exc))
            if not isinstance(exc, NbmlError):  # a bug, not a mistake: keep its traceback in the log
                logging.getLogger(__name__).warning("the label review: %s", describe_error(exc), exc_info=exc)

    # -- drawing -----------------------------------------------------------------------
    def _draw(self, row):
        png = self._png.get(row)
        if png is None:
            pixels = np.asarray(self.issues.row(row), dtype=float)
            self.figure.draw(_draw_image, pixels, self.side, f"row {_fmt(row)}", force=True)
            self._png[row] = self.figure.png
        else:
            self.figure.image.value = png

    def _title_html(self):
        i = self.issues
        return (f"<b>Label review · {html.escape(str(i.name))}</b>: {len(i)} of {i.n_rows} training rows look "
                f"mislabeled to {html.escape(i.model_name)} ({i.cv}-fold out-of-fold probabilities). Decisions "
                f"build a cleaned copy; your DataFrame is not changed.")

    def _labels_html(self, row, decision):
        i = self.issues
        entry = i.table.loc[row]
        position = i.split.X_train.index.get_loc(row)
        proba = i.proba[position]
        top = np.argsort(-proba, kind="stable")[:TOP_CLASSES]
        others = " · ".join(f"{html.escape(_fmt(i.classes[k]))} {proba[k]:.2f}" for k in top)
        if decision is None:
            state = "<span style='color:#8a6d00'>pending</span>"
        else:
            action, label = decision
            words = {"keep": "kept", "drop": "dropped", "relabel": f"relabeled → {html.escape(_fmt(label))}"}
            state = f"<span style='color:#2e7d32'><b>{words.get(action, action)}</b></span>"
        return (f"<div>row <code>{html.escape(_fmt(row))}</code> · decision: {state}</div>"
                f"<div style='font-size:1.25em'>given <b class='nbml-review-given'>{html.escape(_fmt(entry['given']))}"
                f"</b> → suggested <b class='nbml-review-suggested'>{html.escape(_fmt(entry['suggested']))}</b></div>"
                f"<div>confidence {entry['confidence']:.2f} · label quality {entry['quality']:.3g}</div>"
                f"<div style='color:#555'>model's classes: {others}</div>")

    def _features_html(self, row):
        values = self.issues.row(row)
        cells = "".join(f"<tr><td>{html.escape(str(name))}</td><td>{html.escape(_fmt(v))}</td></tr>"
                        for name, v in values.items())
        table = (f"<div style='max-height:220px;overflow:auto'><table class='nbml-review-table'>"
                 f"<tr><th>feature</th><th>value</th></tr>{cells}</table></div>")
        if self.side is not None:  # the image says it; the numbers on request
            return f"<details><summary>{len(values)} feature values</summary>{table}</details>"
        return table

    def _comparison_html(self, new):
        metrics = list(new.metrics)
        old = self.issues.baseline.metrics if self.issues.baseline is not None else None  # same model, rows and protocol
        head = "<th>metric</th>" + ("<th>labels as given</th>" if old else "") + "<th>cleaned labels</th>"
        rows = []
        for m in metrics:
            before = f"<td>{_num(old.get(m, math.nan))}</td>" if old else ""
            rows.append(f"<tr><td>{html.escape(m)}</td>{before}<td><b>{_num(new.metrics[m])}</b></td></tr>")
        decided = self.issues.decisions
        counts = decided["action"].value_counts()
        what = new.predictions.label if new.predictions is not None else "validation"
        return (f"<div><b>Retrained on the cleaned data</b> ({counts.get('relabel', 0)} relabeled, "
                f"{counts.get('drop', 0)} dropped, {len(new.split.X_train)} training rows) · {html.escape(what)} "
                f"metrics, both scored on the same rows with their labels as given</div>"
                f"<table class='nbml-review-metrics'><tr>{head}</tr>{''.join(rows)}</table>")

    def _set_status(self, state, text):
        self.state = state
        self.status.value = status_html(state, text)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def _draw_image(axes, pixels, side, title):
    ax = axes[0]
    ax.imshow(pixels.reshape(side, side), cmap="gray_r", interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)


def review_panel(issues, result=None):
    """The label review panel of ``issues`` (a ``LabelIssues``): one flagged row at a time with
    its features (or image), given and suggested label, and Keep / Relabel / Drop, Undo,
    Prev / Next and "Retrain on cleaned data" (metrics beside ``result``'s, the noisy-label
    model, when given). Shortcut keys in the "keys" box: k keep, r relabel (to the dropdown's
    label), d drop, u undo, n next, p previous. Returns the ``ipywidgets`` widget; its
    ``.review`` is the ``ReviewPanel``.
    """
    return ReviewPanel(issues, result=result).widget
