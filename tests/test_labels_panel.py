"""The label review panel without a browser: real LabelIssues (digits with 5% of the labels
flipped, cross-validated logistic regression, cleanlab), buttons clicked with ``click()`` and
shortcut keys typed by setting the shortcut box's value, as the browser does."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import nbml
from nbml.labels import LabelIssues
from nbml.training import TrainResult
from nbml.widgets import review_labels
from nbml.widgets.labels import image_side, new_keys

pytest.importorskip("cleanlab", reason="finding label issues needs cleanlab")
pytest.importorskip("ipywidgets", reason="the review panel is an ipywidgets widget")


def flipped(frame, target, share, seed):
    """``frame`` with ``share`` of its labels changed to another class (seeded)."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    classes = np.sort(frame[target].unique())
    rows = rng.choice(len(frame), int(round(share * len(frame))), replace=False)
    for r in rows:
        given = frame[target].iloc[r]
        frame.iloc[r, frame.columns.get_loc(target)] = rng.choice(classes[classes != given])
    return frame, frame.index[rows]


@pytest.fixture(scope="module")
def digits_result():
    from sklearn.datasets import load_digits

    frame, _ = flipped(load_digits(as_frame=True).frame.iloc[:300], "target", 0.05, seed=0)
    split = nbml.split(frame, target="target", seed=0, activate=False)
    return nbml.train(LogisticRegression(max_iter=500), split=split)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh store per test: decisions of one test are not replayed in the next."""
    monkeypatch.setenv("NBML_STORE", str(tmp_path / "s.db"))
    return str(tmp_path / "s.db")


@pytest.fixture
def issues(digits_result, store):
    found = nbml.label_issues(digits_result, cv=3)
    assert len(found) >= 5, "the case needs a few flagged rows to move between"
    return found


def position(panel) -> str:
    return panel.position_view.value


def test_panel_shows_the_first_pending_row_as_an_image_with_its_labels(issues, digits_result):
    widget = review_labels(issues, result=digits_result)
    panel = widget.review
    first = issues.table.index[0]
    assert panel.current == first
    assert position(panel) == f"<b>row 1 of {len(issues)}</b> · 0 decided"
    given, suggested = issues.table.loc[first, ["given", "suggested"]]
    assert f"nbml-review-given'>{given}<" in panel.labels_view.value
    assert f"nbml-review-suggested'>{suggested}<" in panel.labels_view.value
    assert f"confidence {issues.table.loc[first, 'confidence']:.2f}" in panel.labels_view.value
    assert "pending" in panel.labels_view.value
    # digits: 64 pixel columns -> an 8x8 image, the numbers folded away
    assert panel.side == 8
    assert bytes(panel.figure.image.value).startswith(b"\x89PNG")
    assert "<summary>64 feature values</summary>" in panel.features_view.value
    assert panel.features_view.value.count("<tr>") == 65
    # the dropdown starts at the suggestion
    assert issues.classes[panel.label_choice.value] == suggested
    assert panel.prev_button.disabled and not panel.next_button.disabled
    assert "nbml-review" in widget._dom_classes


def test_buttons_decide_advance_and_undo(issues, digits_result):
    panel = review_labels(issues, result=digits_result).review
    rows = list(issues.table.index)
    first_image = panel.figure.image.value

    panel.keep_button.click()
    assert issues.decisions.loc[rows[0], "action"] == "keep"
    assert panel.current == rows[1]
    assert position(panel) == f"<b>row 2 of {len(rows)}</b> · 1 decided"
    assert panel.figure.image.value != first_image  # another row, another image
    assert f"kept row {rows[0]}" in panel.status.value

    other = next(i for i, c in enumerate(issues.classes) if c != issues.suggestion(rows[1]))
    panel.label_choice.value = other
    panel.relabel_button.click()
    assert tuple(issues.decisions.loc[rows[1]]) == ("relabel", issues.classes[other])
    assert panel.current == rows[2]
    assert issues.classes[panel.label_choice.value] == issues.suggestion(rows[2])  # back to the suggestion

    panel.drop_button.click()
    assert issues.decisions.loc[rows[2], "action"] == "drop"
    assert position(panel) == f"<b>row 4 of {len(rows)}</b> · 3 decided"

    panel.undo_button.click()  # the drop is taken back and its row shown again
    assert rows[2] not in issues.decisions.index and rows[2] in issues.pending
    assert panel.current == rows[2]
    assert position(panel) == f"<b>row 3 of {len(rows)}</b> · 2 decided"
    assert "undid drop of row" in panel.status.value

    # Prev / Next walk the table's order, decided rows included, and show their decision
    panel.prev_button.click()
    assert panel.current == rows[1]
    assert f"relabeled → {issues.classes[other]}" in panel.labels_view.value
    panel.prev_button.click()
    assert panel.current == rows[0] and panel.prev_button.disabled
    assert panel.figure.image.value == first_image  # drawn once per row, shown again from memory
    panel.next_button.click()
    assert panel.current == rows[1]
    # a decision on a decided row moves on to the next pending one, not the next row
    panel.prev_button.click()
    panel.keep_button.click()
    assert panel.current == rows[2]

    # the decisions went to the store through LabelIssues, the undo too
    from nbml.store import label_decisions

    log = label_decisions(issues.name, issues.split.fingerprint)
    assert list(log["action"]) == ["keep", "relabel", "drop", "undo", "keep"]


def test_shortcut_keys_act_and_the_box_is_emptied(issues):
    panel = review_labels(issues).review
    rows = list(issues.table.index)
    keys = panel.shortcuts
    assert keys.continuous_update

    keys.value = "k"
    assert keys.value == ""
    assert issues.decisions.loc[rows[0], "action"] == "keep"
    assert panel.current == rows[1]

    keys.value = "r"  # relabel to the dropdown's label: the suggestion
    assert tuple(issues.decisions.loc[rows[1]]) == ("relabel", issues.suggestion(rows[1]))

    # "d" typed before the emptied box reached the browser arrives as "rd": one drop, no second relabel
    keys.value = "rd"
    assert keys.value == ""
    assert list(issues.decisions["action"]) == ["keep", "relabel", "drop"]
    assert panel.current == rows[3]

    keys.value = "U"  # upper case works too
    assert rows[2] in issues.pending and panel.current == rows[2]
    keys.value = "n"
    assert panel.current == rows[3]
    keys.value = "p"
    keys.value = "p"
    assert panel.current == rows[1]

    keys.value = "x"  # not a shortcut: said in the status line, nothing decided
    assert "key &#x27;x&#x27; is not a shortcut" in panel.status.value
    assert len(issues.decisions) == 2 and keys.value == ""

    with pytest.raises(ValueError, match="not a shortcut"):
        panel.press("z")


def test_new_keys_never_acts_on_a_key_twice():
    assert new_keys("", "k") == "k"
    assert new_keys("k", "k") == "k"      # the emptied box reached the browser; the same key again
    assert new_keys("k", "kd") == "d"     # it had not: only the new key
    assert new_keys("kd", "r") == "r"
    assert new_keys("", "kd") == "kd"     # two keys merged by the browser, none seen before


def test_retrain_shows_the_cleaned_models_metrics_beside_the_noisy_ones(issues, digits_result):
    panel = review_labels(issues, result=digits_result).review
    rows = list(issues.table.index)
    for _ in range(3):
        panel.relabel_button.click()
    panel.drop_button.click()
    panel.retrain_button.click()

    retrained = panel.retrained
    assert isinstance(retrained, TrainResult)
    assert retrained is not digits_result
    cleaned = retrained.split
    assert rows[3] not in cleaned.X_train.index and rows[3] not in cleaned.X_val.index
    for row in rows[:3]:
        part = cleaned.y_train if row in cleaned.y_train.index else cleaned.y_val
        assert part.loc[row] == issues.suggestion(row)
    view = panel.retrain_view.value
    # beside the cleaned model: the same model on the labels as given, scored on the same rows (issue 16)
    assert "labels as given" in view and "cleaned labels" in view
    assert "3 relabeled, 1 dropped" in view
    assert f"<td>accuracy</td><td>{digits_result.metrics['accuracy']:.4f}</td>" in view
    assert f"<b>{retrained.metrics['accuracy']:.4f}</b>" in view
    assert "retrained LogisticRegression" in panel.status.value
    # the user's data is untouched
    assert digits_result.split.y_trainval.loc[rows[0]] == issues.given(rows[0])

    alone = review_labels(issues).review  # without the noisy result: retrain() scores the labels as given too
    alone.retrain_button.click()
    assert "labels as given" in alone.retrain_view.value and "cleaned labels" in alone.retrain_view.value


def test_a_reopened_review_starts_at_the_first_undecided_row(issues):
    rows = list(issues.table.index)
    issues.keep(rows[0])
    issues.drop(rows[2])
    panel = review_labels(issues).review
    assert panel.current == rows[1]
    assert position(panel) == f"<b>row 2 of {len(rows)}</b> · 2 decided"

    issues.accept()  # every row decided: the panel says so and stays put
    panel.keep_button.click()
    assert "all decided" in position(panel)
    assert "every flagged row is decided" in panel.status.value


def test_tabular_rows_show_a_feature_table_not_an_image(iris_named, store):
    frame, _ = flipped(iris_named, "species", 0.08, seed=1)
    split = nbml.split(frame, target="species", seed=0, activate=False)
    result = nbml.train(LogisticRegression(max_iter=500), split=split)
    found = nbml.label_issues(result, cv=3)
    assert len(found)
    panel = review_labels(found, result=result).review
    assert panel.figure is None and panel.side is None
    features = panel.features_view.value
    assert "<details>" not in features
    row = found.table.index[0]
    for name, value in found.row(row).items():
        assert f"<td>{name}</td><td>{value:.4g}</td>" in features
    assert [label for label, _ in panel.label_choice.options] == ["setosa", "versicolor", "virginica"]
    panel.shortcuts.value = "r"
    assert found.decisions.loc[row, "label"] == found.suggestion(row)


def test_no_flagged_rows_and_bad_input(issues, digits_result):
    empty = dataclasses.replace(issues, table=issues.table.iloc[:0], _log=[])
    panel = review_labels(empty).review
    assert panel.current is None and panel.keep_button.disabled
    assert "no flagged rows" in position(panel)
    panel.shortcuts.value = "k"
    assert "no flagged row to decide on" in panel.status.value

    with pytest.raises(TypeError, match="needs a LabelIssues .* got DataFrame"):
        review_labels(issues.table)
    with pytest.raises(TypeError, match="result must be the TrainResult .* got LabelIssues"):
        review_labels(issues, result=issues)
    with pytest.raises(ValueError, match="position=99 is outside"):
        review_labels(issues).review.show(99)
    assert isinstance(issues, LabelIssues)


def test_image_side():
    pixels = pd.DataFrame(np.zeros((2, 64)))
    assert image_side(pixels) == 8
    assert image_side(pd.DataFrame(np.zeros((2, 9)))) is None       # a square, but too small
    assert image_side(pd.DataFrame(np.zeros((2, 30)))) is None      # not a square
    assert image_side(pixels.assign(**{"0": "a"}).iloc[:, 1:]) is None  # a text column
    assert image_side(pd.DataFrame(np.zeros((2, 16), dtype=bool))) is None
