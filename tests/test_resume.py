"""A search killed (kill -9) or interrupted (Ctrl-C) in a real kernel: %runs lists it, nothing
is left running, and --resume continues it; --trials N --resume means N in all (issue 15, item 3)."""
from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest
from jupyter_client.manager import start_new_kernel

SLEEP = 1.0  # seconds each fit of SlowTree takes: a kill lands inside a fit

SETUP = f"""
%load_ext nbml
import time
from sklearn.datasets import load_breast_cancer
from sklearn.tree import DecisionTreeClassifier

class SlowTree(DecisionTreeClassifier):
    def fit(self, X, y, **kwargs):
        time.sleep({SLEEP})
        return super().fit(X, y, **kwargs)

df = load_breast_cancer(as_frame=True).frame
%split df --target target
"""
SEARCH = "%%tune SlowTree() --study {study} --trials 30 --seed 0 --no-live\nmax_depth = randint(1, 30)\n" \
         "min_samples_leaf = [1, 2, 4, 8]"


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "nbml.db"
    monkeypatch.setenv("NBML_STORE", str(path))
    return path


@pytest.fixture
def kernel(tmp_path, db):
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env={**os.environ, "NBML_STORE": str(db)})
    try:
        reply = kc.execute_interactive(SETUP, timeout=180)
        assert reply["content"]["status"] == "ok", reply["content"]
        yield km, kc
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)


def _when_trials_finished(db, study, n, timeout=240):
    """Wait until ``n`` trials of ``study`` are stored as finished, then into the next fit."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with sqlite3.connect(db, timeout=30) as conn:
                done = conn.execute("SELECT COUNT(*) FROM nbml_trials WHERE study = ? AND state = 'complete'",
                                    (study,)).fetchone()[0]
        except sqlite3.OperationalError:  # the tables are not made yet
            done = 0
        if done >= n:
            time.sleep(SLEEP / 3)
            return
        time.sleep(0.05)
    raise AssertionError(f"{study}: {n} trials did not finish in {timeout}s")


def _optuna_states(db, study):
    import optuna

    from nbml import store

    trials = optuna.load_study(study_name=study, storage=store.optuna_storage(store.to_url(str(db)))).trials
    return sorted(t.state.name for t in trials if not t.user_attrs.get("nbml_repeat"))


def _slow_tree(ip):
    from sklearn.tree import DecisionTreeClassifier

    class SlowTree(DecisionTreeClassifier):  # same name as the kernel's: --resume finds its study
        pass

    ip.user_ns["SlowTree"] = SlowTree


def test_kill_9_mid_search_then_runs_lists_it_and_resume_continues(kernel, db, run, ip, cancer):
    km, kc = kernel
    kc.execute(SEARCH.format(study="killed"))
    _when_trials_finished(db, "killed", 3)
    os.kill(km.provisioner.pid, signal.SIGKILL)
    km.provisioner.process.wait(30)

    # another process (a new kernel) sees the search the dead one was running, with its trials so far
    runs = run("%runs --kind tune").value
    assert runs is not None and len(runs) == 1, runs
    row = runs.iloc[0]
    assert row["study"] == "killed" and row["state"] == "interrupted"
    assert row["note"] == "bayes, 3 trials so far" and 0.5 < row["score"] <= 1
    trials = run("%runs --trials killed").value
    assert sorted(trials["state"]) == ["complete"] * 3 + ["interrupted"] and sorted(trials["number"]) == [0, 1, 2, 3]
    assert _optuna_states(db, "killed") == ["COMPLETE"] * 3 + ["RUNNING"]  # the kill landed inside a fit

    # --resume: the trial the kill left running is failed, and --trials counts the whole study
    ip.user_ns["df"] = cancer
    run("%split df --target target")
    _slow_tree(ip)
    cell = run("%%tune SlowTree() --resume --trials 5 --seed 0 -o r\nmax_depth = randint(1, 30)\n"
               "min_samples_leaf = [1, 2, 4, 8]")
    assert cell.error is None, cell.err
    result = ip.user_ns["r"]
    assert result.study == "killed"
    assert list(result.trials["state"]).count("complete") == 5 and list(result.trials["state"])[-1] == "interrupted"
    assert sorted(result.trials.index) == [0, 1, 2, 3, 4, 5]  # numbers go on after the interrupted trial
    assert "5 trials (0 failed, 0 pruned; 1 interrupted)" in repr(result)
    assert _optuna_states(db, "killed") == ["COMPLETE"] * 5 + ["FAIL"]
    runs = run("%runs --kind tune").value
    assert list(runs["state"]) == ["interrupted", "finished"] and runs["note"].iloc[-1] == "bayes, 5 trials"


def test_ctrl_c_mid_search_marks_the_run_and_its_trial(kernel, db, run, ip, cancer):
    km, kc = kernel
    msg_id = kc.execute(SEARCH.format(study="stopped"))
    _when_trials_finished(db, "stopped", 2)
    km.interrupt_kernel()
    deadline = time.time() + 120
    while time.time() < deadline:  # the cell ends normally: Ctrl-C keeps what finished
        msg = kc.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") == msg_id:
            assert msg["msg_type"] != "error", msg["content"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break

    assert _optuna_states(db, "stopped") == ["COMPLETE"] * 2 + ["FAIL"]
    trials = run("%runs --trials stopped").value
    assert sorted(trials["state"]) == ["complete"] * 2 + ["interrupted"]
    runs = run("%runs --kind tune").value
    assert list(runs["state"]) == ["interrupted"] and runs["note"].iloc[0] == "bayes, 2 trials"

    ip.user_ns["df"] = cancer
    run("%split df --target target")
    _slow_tree(ip)
    cell = run("%%tune SlowTree() --study stopped --resume --trials 4 --seed 0 -o r\nmax_depth = randint(1, 30)\n"
               "min_samples_leaf = [1, 2, 4, 8]")
    assert cell.error is None, cell.err
    assert list(ip.user_ns["r"].trials["state"]).count("complete") == 4


@pytest.fixture
def lr(run, ip, cancer, db):
    ip.user_ns["cancer"] = cancer
    run("%split cancer --target target")
    cell = run("%%train -o lr\nfrom sklearn.linear_model import LogisticRegression\nLogisticRegression(max_iter=300)")
    assert cell.error is None, cell.err


def test_trials_with_resume_count_the_whole_study(run, ip, lr):
    assert run("%tune lr --method random --trials 6 --study six -o t").error is None
    assert len(ip.user_ns["t"].trials) == 6
    for method in ("random", "bayes"):  # 6 done + --trials 30 --resume ends at 30, whatever the method
        study = f"six-{method}"
        assert run(f"%tune lr --method {method} --trials 6 --study {study}").error is None
        cell = run(f"%tune lr --method {method} --trials 30 --resume --study {study} -o t")
        assert cell.error is None, cell.err
        t = ip.user_ns["t"]
        assert len(t.trials) == 30 and sorted(t.trials.index) == list(range(30)), method
        assert "30 trials" in repr(t)
    # already there: nothing is fit, and the line says why
    cell = run("%tune lr --method random --trials 20 --resume --study six-random -o t")
    assert cell.error is None and len(ip.user_ns["t"].trials) == 30
    assert "already has 30 trials" in cell.err and "counts the whole study" in cell.err
    # --resume alone finds the last study of this model, method and data
    cell = run("%tune lr --method random --trials 32 --resume -o t")
    assert ip.user_ns["t"].study == "six-random" and len(ip.user_ns["t"].trials) == 32
    # without --resume, a study's name continues it by --trials more
    cell = run("%tune lr --method random --trials 2 --study six -o t")
    assert len(ip.user_ns["t"].trials) == 8

    help_text = " ".join(ip.find_line_magic("tune").__doc__.split())
    assert "with --resume, the study's total: 6 done and --trials 30 --resume fit 24 more" in help_text
