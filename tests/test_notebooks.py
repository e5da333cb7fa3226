"""Every notebook in notebooks/ runs top to bottom in a real kernel; same seed, same numbers."""
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

# executed by their own tests, which also check the saved widget state
OWN_TESTS = {"panels"}
NOTEBOOKS = sorted(p for p in (Path(__file__).parent.parent / "notebooks").rglob("*.ipynb")
                   if not p.name.endswith(".executed.ipynb") and ".ipynb_checkpoints" not in p.parts
                   and p.stem not in OWN_TESTS)


def execute(nb, cwd, timeout=900):
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def errors(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path):
    nb = execute(nbformat.read(path, as_version=4), tmp_path)
    assert not errors(nb)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code_cells)
    if path.stem == "quickstart":
        check_quickstart(nb)
    if path.stem == "10_tuning":
        check_tuning_course(nb)
    if path.stem == "from_pycaret":
        check_automl_board(nb)


def check_automl_board(nb):
    """%automl's leaderboard is one display, updated in place while it runs, then the result."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("%automl"))
    boards = [o for o in cell.outputs if o.output_type == "display_data"]
    assert len(boards) == 1 and "<b>automl</b>" in boards[0]["data"]["text/html"]
    assert "best roc_auc" in boards[0]["data"]["text/html"]  # the final state: the leaderboard
    result = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert result and "s budget" in result[0]["data"]["text/html"]


def check_tuning_course(nb):
    """The Bayesian row is Bayesian: more trials than TPE's 10 random startup draws (issue 16)."""
    import re

    cell = next(c for c in nb.cells if c.cell_type == "code" and "--method bayes" in c.source)
    assert int(re.search(r"--trials (\d+)", cell.source).group(1)) > 10
    assert "10 random draws" in "".join(c.source for c in nb.cells if c.cell_type == "markdown")


def check_quickstart(nb):
    """Two magics train and compare three models per dataset, with tables and plots."""
    html = "".join(o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    assert html.count("5-fold CV on train+val") == 6  # three models on each of two datasets
    assert html.count("data:image/png;base64,") >= 8  # plots under every result and evaluation
    assert "LogisticRegression on test" in html


def test_same_seed_same_metrics_in_two_fresh_kernels(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (
        "%load_ext nbml",
        "from sklearn.datasets import load_wine\nwine = load_wine(as_frame=True).frame\n"
        "%split wine --target target --seed 42",
        "%%train -o rf --cv 5\nfrom sklearn.ensemble import RandomForestClassifier\n"
        "RandomForestClassifier(n_estimators=30)",
        "%train RandomForestClassifier(n_estimators=30) -o rf2",
        "import json\nprint(json.dumps({'cv': rf.metrics, 'val': rf2.metrics, "
        "'test_rows': list(map(int, rf.split.X_test.index))}, sort_keys=True))",
    )]
    runs = []
    for _ in range(2):
        done = execute(nbformat.from_dict(json.loads(json.dumps(nb))), tmp_path)
        assert not errors(done)
        runs.append(json.loads(done.cells[-1].outputs[0]["text"]))
    assert runs[0] == runs[1]
    assert 0.8 < runs[0]["cv"]["accuracy"] <= 1
