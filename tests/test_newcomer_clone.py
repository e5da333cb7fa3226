"""A notebook started in the folder that holds a clone of the repository (``./nbml/``) imports the
clone's folder as ``nbml``; ``%load_ext nbml`` must work there, not say "The nbml module is not
an IPython extension" (issue 16, item 7)."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_load_ext_from_the_folder_above_a_clone(tmp_path):
    clone = tmp_path / "nbml"
    shutil.copytree(ROOT / "nbml", clone / "nbml", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "__init__.py", clone / "__init__.py")
    code = ("from IPython.core.interactiveshell import InteractiveShell\n"
            "ip = InteractiveShell.instance()\n"
            "ip.run_line_magic('load_ext', 'nbml')\n"
            "import nbml\n"
            "print(nbml.__file__)\n"
            "print('split' in ip.magics_manager.magics['line'])\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "not an IPython extension" not in done.stdout + done.stderr
    lines = done.stdout.split()
    assert lines[-2] == str(clone / "nbml" / "__init__.py") and lines[-1] == "True"
