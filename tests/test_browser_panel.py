"""A real browser moves the panel's sliders: JupyterLab 4 on 127.0.0.1, Debian's chromium
driven by Playwright. Moving the C slider changes the metric text and both plot images;
moving the threshold slider changes the confusion matrix and precision/recall but not the
ROC curve (no refit). Screenshots go to test-artifacts/ as evidence a person can look at.

One JupyterLab server and one browser for the whole module.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
ROOT = Path(__file__).parent.parent

if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright pip package is not installed")
pytest.importorskip("jupyterlab", reason="jupyterlab is not installed")

CELL = """import os
os.environ["NBML_STORE"] = "off"
%load_ext nbml
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
cancer = load_breast_cancer(as_frame=True).frame
%split cancer --target target --seed 0;
%train LogisticRegression(max_iter=2000) -o lr;
%panel lr --params C"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nbformat.write(nb, root / "panel.ipynb")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               JUPYTER_CONFIG_DIR=str(root / ".jupyter"), JUPYTER_RUNTIME_DIR=str(root / ".runtime"))
    log = open(root / "lab.log", "wb")  # noqa: SIM115 - open while the server runs, closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
         "--allow-root", f"--ServerApp.root_dir={root}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/lab", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(root / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
        if os.environ.get("NBML_KEEP_LAB_LOG"):
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copy(root / "lab.log", ARTIFACTS / "lab.log")


@pytest.fixture(scope="module")
def page(lab):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(f"{lab}/lab/tree/panel.ipynb")
            page.wait_for_selector(".jp-Notebook")
            page.wait_for_selector("[data-status='idle']", timeout=60_000)
            yield page
        finally:
            browser.close()


def text(page, selector) -> str:
    return page.inner_text(selector).strip()


def image_srcs(page) -> list:
    return page.eval_on_selector_all(".nbml-panel img", "els => els.map(e => e.src)")


def wait_for_change(page, selector, old, timeout=20_000):
    page.wait_for_function("([sel, old]) => { const e = document.querySelector(sel); "
                           "return e && e.innerText.trim() && e.innerText.trim() !== old; }",
                           arg=[selector, old], timeout=timeout)


def accept_dialog(page):
    """JupyterLab asks for a kernel when the notebook's did not start in time: take the default."""
    button = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    if button.count():
        button.first.click()
        page.wait_for_selector("[data-status='idle']", timeout=60_000)


def run_cell(page):
    """Run the notebook's cell; run it again if the first Shift+Enter reached no kernel."""
    for attempt in range(2):
        accept_dialog(page)
        page.click(".jp-Cell .cm-content")
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_selector(".nbml-panel .nbml-panel-summary", timeout=45_000 if attempt else 30_000)
            return
        except sync_api.TimeoutError:
            prompt = page.inner_text(".jp-Cell .jp-InputPrompt").strip()
            if attempt or prompt == "[*]:":  # still running: not the flake, a real failure
                raise
            page.click(".jp-Cell >> nth=0")  # back to the panel's cell


def test_moving_sliders_in_jupyterlab_updates_metrics_and_plots(page):
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        run_cell(page)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "panel_failed_to_open.png"), full_page=True)
        raise
    page.wait_for_function("() => [...document.querySelectorAll('.nbml-panel img')]"
                           ".filter(i => i.naturalWidth > 0).length >= 2")
    summary, threshold_text = text(page, ".nbml-panel-summary"), text(page, ".nbml-panel-threshold")
    roc, cm = image_srcs(page)
    assert "validation accuracy" in summary
    page.screenshot(path=str(ARTIFACTS / "panel_before.png"), full_page=True)

    # the C slider: its handle takes the keyboard, as a user's drag would send values
    handles = page.locator(".nbml-panel .widget-slider .noUi-handle")
    handles.nth(0).focus()
    start = time.perf_counter()
    for _ in range(40):  # C from 1 down to ~0.004: forty value changes, coalesced by the panel
        page.keyboard.press("ArrowLeft")
    # the last value wins: the panel settles on C = 10**(-40 * 0.06) ≈ 0.00398
    page.wait_for_function("() => { const e = document.querySelector('.nbml-panel-status .nbml-ok'); "
                           "return e && e.innerText.includes('C=0.00398'); }")
    page.wait_for_function("([roc, cm]) => { const s = [...document.querySelectorAll('.nbml-panel img')]"
                           ".map(e => e.src); return s[0] !== roc && s[1] !== cm; }", arg=[roc, cm])
    took = time.perf_counter() - start
    new_summary = text(page, ".nbml-panel-summary")
    assert new_summary != summary
    history = text(page, ".nbml-panel-history")
    assert "setting(s) tried" in history
    page.screenshot(path=str(ARTIFACTS / "panel_after_C.png"), full_page=True)
    print(f"40 key presses to updated metrics and plots: {took:.2f} s")

    # the threshold slider: confusion matrix and precision/recall change, the ROC curve does not
    roc2, cm2 = image_srcs(page)
    threshold_text = text(page, ".nbml-panel-threshold")
    handles.nth(1).focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('.nbml-panel-threshold').innerText.includes('at 0.7:')")
    page.wait_for_function("(cm) => document.querySelectorAll('.nbml-panel img')[1].src !== cm", arg=cm2)
    assert text(page, ".nbml-panel-threshold") != threshold_text
    assert image_srcs(page)[0] == roc2
    assert text(page, ".nbml-panel-summary") == new_summary  # no refit
    page.screenshot(path=str(ARTIFACTS / "panel_after_threshold.png"), full_page=True)
