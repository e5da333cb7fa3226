"""A damaged or unreachable store never blocks work: %runs says in one line which file and
what to do; %tune (also --resume) and %%train run with the store off and say so; a --storage
that cannot be opened is one line (issue 15, items 2 and 7)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

# a notebook session that leaves a store behind: a %%train run and a %tune study
SESSION = textwrap.dedent("""
    import os, sys
    from IPython.core.interactiveshell import InteractiveShell
    from sklearn.datasets import load_breast_cancer
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbml")
    ip.user_ns["df"] = load_breast_cancer(as_frame=True).frame
    for cell in ["%split df --target target",
                 "%%train -o lr\\nfrom sklearn.linear_model import LogisticRegression\\nLogisticRegression(max_iter=300)",
                 "%tune lr --trials 3 --study " + sys.argv[1]]:
        assert ip.run_cell(cell).error_in_exec is None, cell
    if sys.argv[2] == "crash":
        os._exit(0)  # like a killed kernel: the write-ahead log stays beside the file
""")


def _session(folder, study, end="exit"):
    env = {k: v for k, v in os.environ.items() if k != "NBML_STORE"}  # the default store, .nbml/nbml.db
    proc = subprocess.run([sys.executable, "-c", SESSION, study, end], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.fixture(params=["without its WAL file", "with its WAL file"])
def damaged(request, tmp_path, monkeypatch):
    """``.nbml/nbml.db`` cut to a third of its size by a crash or a full disk, in the working folder."""
    _session(tmp_path, "first")
    if request.param == "with its WAL file":
        _session(tmp_path, "second", end="crash")
        assert (tmp_path / ".nbml" / "nbml.db-wal").stat().st_size > 0
    else:
        assert not (tmp_path / ".nbml" / "nbml.db-wal").exists()
    path = tmp_path / ".nbml" / "nbml.db"
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 3)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NBML_STORE", raising=False)
    return path


@pytest.fixture
def trained(run, ip, cancer):
    ip.user_ns["cancer"] = cancer
    assert run("%split cancer --target target").error is None
    cell = run("%%train -o lr\nfrom sklearn.linear_model import LogisticRegression\nLogisticRegression(max_iter=300)")
    assert cell.error is None, cell.err
    return cell


def _one_line(cell):
    assert type(cell.error).__name__ == "UsageError", cell.error
    message = str(cell.error)
    assert "\n" not in message and "Traceback" not in cell.out + cell.err
    return message


def test_a_damaged_store_is_one_line_and_work_goes_on_with_it_off(damaged, run, ip, trained):
    fixes = ("the nbml store .nbml/nbml.db is damaged", "move it aside (mv .nbml/nbml.db .nbml/nbml.db.broken)",
             "NBML_STORE=off")

    message = _one_line(run("%runs"))
    assert all(fix in message for fix in fixes), message

    # %%train still trains, and says the run was not recorded (one line)
    said = [line for line in trained.err.splitlines() if "nbml.db" in line]
    assert len(said) == 1 and "could not record this run" in said[0] and "is damaged" in said[0]

    for line, trials in [("%tune lr --trials 2 -o t", 2), ("%tune lr --trials 2 --resume -o t", 2),
                         ("%tune lr --trials 2 --study first -o t", 2)]:
        cell = run(line)
        assert cell.error is None, (line, cell.error)
        result = ip.user_ns.pop("t")
        assert len(result.trials) == trials and result.storage is None and result.best_params
        said = [w for w in cell.err.splitlines() if "nbml.db" in w]
        assert len(said) == 1 and all(fix in said[0] for fix in fixes) and "store off" in said[0], cell.err

    # the fix it names works in the same kernel: a new store is made beside the moved one
    os.replace(damaged, str(damaged) + ".broken")
    if os.path.exists(str(damaged) + "-wal"):
        os.replace(str(damaged) + "-wal", str(damaged) + ".broken-wal")
    cell = run("%tune lr --trials 2 --study after")
    assert cell.error is None and "nbml.db" not in cell.err, cell.err
    frame = run("%runs").value
    assert list(frame["kind"]) == ["tune"] and list(frame["state"]) == ["finished"]


def test_a_store_that_cannot_be_opened_is_one_line(run, ip, trained, tmp_path):
    # an explicit --storage is what the user asked for: an error, with the short errors off too
    cases = [("--storage nosuch://x", ["storage 'nosuch://x' is not a database nbml can open", "sqlite:///"]),
             ("--storage /proc/nbml.db", ["the nbml store /proc/nbml.db cannot be opened", "NBML_STORE=off"])]
    for short in (True, False):
        run(f"%config Nbml.short_errors = {short}")
        try:
            for storage, parts in cases:
                for line in (f"%tune lr --trials 2 {storage}", f"%runs {storage}"):
                    message = _one_line(run(line))
                    assert all(p in message for p in parts) and "%tb" not in message, (line, message)
        finally:
            run("%config Nbml.short_errors = True")


def test_the_default_store_unreachable_leaves_searches_unrecorded(run, ip, trained, tmp_path, monkeypatch):
    (tmp_path / "folder.db").mkdir()  # a path that is a folder: SQLite cannot open it
    monkeypatch.setenv("NBML_STORE", str(tmp_path / "folder.db"))
    cell = run("%tune lr --trials 2 -o t")
    assert cell.error is None, cell.error
    assert len(ip.user_ns["t"].trials) == 2 and ip.user_ns["t"].storage is None
    said = [line for line in cell.err.splitlines() if "folder.db" in line]
    assert len(said) == 1 and "cannot be opened" in said[0] and "store off" in said[0]
    assert "folder.db cannot be opened" in _one_line(run("%runs"))
