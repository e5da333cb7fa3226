"""The courseware notebook runs in a real kernel (nbclient) and its saved widget state holds
the panels as they were after the sliders moved: values, metric readouts and plot images."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("ipywidgets")
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "panels.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("panels")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def models(nb, name):
    state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    return [m for m in state.values() if m["model_name"] == name]


def test_notebook_runs_without_errors(executed):
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_saved_widget_state_holds_the_moved_panels(executed):
    # the C slider ended on the best C, and the readout shows that setting's validation accuracy
    (c_slider,) = models(executed, "FloatLogSliderModel")
    table = next(o["data"]["text/plain"] for c in executed.cells if "lr_ctl.table()" in c.source
                 for o in c.outputs if "data" in o)
    rows = [line.split() for line in table.splitlines()[2:]]
    best = max(rows, key=lambda r: float(r[3]))  # try, C, train, val, gap
    assert c_slider["state"]["value"] == pytest.approx(float(best[1]), rel=1e-3)
    summaries = [m["state"]["value"] for m in models(executed, "HTMLModel")
                 if "nbml-summary" in m["state"].get("value", "")]
    assert len(summaries) == 2
    assert f"<b>{float(best[3]):.4f}</b>" in summaries[1]
    # the tree panel ended at depth 30 (= no limit): train accuracy 1, overfitting visible
    depth = next(m for m in models(executed, "IntSliderModel") if "max_depth" in m["state"]["description"])
    assert depth["state"]["value"] == depth["state"]["max"] == 30
    assert "train 1.0000" in summaries[0]
    # the threshold moved to 0.9 without a refit; precision and recall at 0.9 are shown
    thresholds = [m["state"]["value"] for m in models(executed, "HTMLModel")
                  if "nbml-threshold" in m["state"].get("value", "")]
    assert any(re.search(r"at 0\.9: precision <b>[01]\.\d{3}</b> · recall <b>[01]\.\d{3}</b>", t) for t in thresholds)
    # four live images (ROC + confusion matrix per panel) with their PNG bytes saved
    images = models(executed, "ImageModel")
    assert len(images) == 4
    assert all(m.get("buffers") and m["buffers"][0]["data"].startswith("iVBORw0KGgo") for m in images)
    history = [m["state"]["value"] for m in models(executed, "HTMLModel")
               if "nbml-history" in m["state"].get("value", "")]
    assert any("7 setting(s) tried" in h and "nbml-best" in h for h in history)
