"""README.md's examples run as pasted (issue 16, item 1): every ```python block, in order, as the cells
of one notebook in a fresh kernel, with no error."""
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

README = Path(__file__).parent.parent / "README.md"
# a block that needs an optional extra or a server: a phrase of the block -> why it is not run here
SKIPPED = {}


def python_blocks(text: str) -> list:
    return [m.group(1) for m in re.finditer(r"^```python[^\n]*\n(.*?)^```", text, flags=re.M | re.S)]


def test_the_readme_has_python_examples():
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 3 and blocks[0].lstrip().startswith("%load_ext nbml")


def cells_to_run(blocks):
    run, skipped = [], []
    for block in blocks:
        reason = next((why for phrase, why in SKIPPED.items() if phrase in block), None)
        (skipped if reason else run).append((block, reason))
    return [b for b, _ in run], skipped


def test_every_readme_python_block_runs_in_a_fresh_kernel(tmp_path):
    blocks, skipped = cells_to_run(python_blocks(README.read_text()))
    for block, reason in skipped:
        print(f"not run ({reason}):\n{block}")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(b.rstrip("\n")) for b in blocks])
    try:  # a magic's one-line error is a stderr stream and an error reply: nbclient raises for either kind
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    except CellExecutionError as error:
        pytest.fail(f"a README python block failed in a fresh kernel:\n{error}")
    for number, cell in enumerate(nb.cells, 1):
        assert cell.execution_count, f"README python block {number} did not run"
        assert not [o for o in cell.outputs if o.output_type == "error"], f"README python block {number} failed"


@pytest.mark.parametrize("text, expected", [
    ("```python\na = 1\n```\n```bash\nls\n```\n```python\nb = 2\n```\n", ["a = 1\n", "b = 2\n"]),
    ("```python title\n%split df --target y   # c\n```", ["%split df --target y   # c\n"]),
])
def test_python_blocks_are_found(text, expected):
    assert python_blocks(text) == expected
