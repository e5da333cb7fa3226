"""A real browser reviews labels: JupyterLab 4 and Debian's chromium driven by Playwright (the
server, the browser and the skip conditions are test_browser_panel's). A cell builds the review
panel of digits with 5% of the labels flipped; clicking Keep and typing shortcut keys into the
shortcut box change the position text and the row's image; Retrain shows the cleaned model's
metrics. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import json
import time
import urllib.request

import nbformat

# one JupyterLab server and one chromium for the module, set up (or skipped) as for the tuning panel
from test_browser_panel import ARTIFACTS, accept_dialog, browser, lab, open_notebook, run_first_cell, sync_api  # noqa: F401

CELL = """import os
os.environ["NBML_STORE"] = "off"
import numpy as np
import nbml
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
digits = load_digits(as_frame=True).frame.iloc[:300].copy()
rng = np.random.default_rng(0)
flipped = rng.choice(len(digits), 15, replace=False)
digits.loc[digits.index[flipped], "target"] = (digits["target"].iloc[flipped] + rng.integers(1, 10, 15)) % 10
result = nbml.train(LogisticRegression(max_iter=500), split=nbml.split(digits, target="target", seed=0,
                                                                       activate=False))
issues = nbml.label_issues(result, cv=3)
nbml.widgets.review_labels(issues, result=result)"""

POSITION = ".nbml-review .nbml-review-position"


def put_notebook(url, name, source):
    """Write a one-cell notebook into the running server (its contents API)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    body = json.dumps({"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(nb))})
    request = urllib.request.Request(f"{url}/api/contents/{name}", data=body.encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


def state(page):
    """The position text and the image's src."""
    return (page.inner_text(POSITION).strip(),
            page.eval_on_selector(".nbml-review .nbml-review-image", "e => (e.tagName === 'IMG' ? e : "
                                                                     "e.querySelector('img')).src"))


def wait_for(page, position, old_src, name):
    """Wait until the position text reads ``position`` and the image is another one."""
    try:
        page.wait_for_function("([sel, text]) => document.querySelector(sel).innerText.trim() === text",
                               arg=[POSITION, position], timeout=20_000)
        page.wait_for_function("(old) => { const e = document.querySelector('.nbml-review .nbml-review-image'); "
                               "const img = e.tagName === 'IMG' ? e : e.querySelector('img'); "
                               "return img.src !== old && img.naturalWidth > 0; }", arg=old_src, timeout=20_000)
    except sync_api.TimeoutError:
        page.screenshot(path=str(ARTIFACTS / f"labels_review_{name}_failed.png"), full_page=True)
        raise


def test_review_panel_buttons_and_shortcut_keys_in_jupyterlab(lab, browser):  # noqa: F811 - the imported fixtures
    ARTIFACTS.mkdir(exist_ok=True)
    put_notebook(lab, "review.ipynb", CELL)
    page = open_notebook(browser, f"{lab}/lab/tree/review.ipynb")
    try:
        start = time.perf_counter()
        run_first_cell(page)
        try:
            page.wait_for_selector(POSITION, timeout=90_000)
            page.wait_for_function("() => { const e = document.querySelector('.nbml-review .nbml-review-image'); "
                                   "const img = e && (e.tagName === 'IMG' ? e : e.querySelector('img')); "
                                   "return img && img.naturalWidth > 0; }")
        except sync_api.TimeoutError:
            page.screenshot(path=str(ARTIFACTS / "labels_review_failed_to_open.png"), full_page=True)
            raise
        print(f"the cell ran and the review panel showed in {time.perf_counter() - start:.1f} s")
        position, src = state(page)
        total = position.split(" of ")[1].split(" ")[0]
        assert position == f"row 1 of {total} · 0 decided"
        page.screenshot(path=str(ARTIFACTS / "labels_review_before.png"), full_page=True)

        # Keep: the next row, its image
        page.click(".nbml-review button.nbml-review-keep")
        wait_for(page, f"row 2 of {total} · 1 decided", src, "keep")
        _, src = state(page)

        # the click handed the focus to the shortcut box: a key press alone drops this row
        box = ".nbml-review .nbml-review-keys input"
        page.wait_for_function("(sel) => document.activeElement === document.querySelector(sel)", arg=box,
                               timeout=10_000)
        page.keyboard.press("d")
        wait_for(page, f"row 3 of {total} · 2 decided", src, "key_d")
        page.wait_for_function("(sel) => document.querySelector(sel).value === ''", arg=box)  # emptied
        _, src = state(page)
        assert "dropped row" in page.inner_text(".nbml-review .nbml-review-status")

        # u: the drop is undone and its row shown again
        page.keyboard.press("u")
        wait_for(page, f"row 2 of {total} · 1 decided", src, "key_u")
        assert "undid drop" in page.inner_text(".nbml-review .nbml-review-status")
        page.screenshot(path=str(ARTIFACTS / "labels_review_after_keys.png"), full_page=True)

        # retrain on the cleaned data: the metrics beside the noisy model's
        page.click(".nbml-review button.nbml-review-retrain")
        try:
            page.wait_for_function("() => document.querySelector('.nbml-review .nbml-review-comparison')"
                                   ".innerText.includes('cleaned labels')", timeout=30_000)
        except sync_api.TimeoutError:
            page.screenshot(path=str(ARTIFACTS / "labels_review_retrain_failed.png"), full_page=True)
            raise
        assert "labels as given" in page.inner_text(".nbml-review .nbml-review-comparison")
        page.screenshot(path=str(ARTIFACTS / "labels_review_retrained.png"), full_page=True)
    finally:
        page.close()
