"""The embedded store: runs and trials in SQLite, safe with two writers, never breaks training."""
from __future__ import annotations

import multiprocessing
import sqlite3

import pytest
from sklearn.linear_model import LogisticRegression

import nbml
from nbml import store


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "nbml.db"
    monkeypatch.setenv("NBML_STORE", str(path))
    return path


def test_train_runs_are_recorded(db, cancer):
    nbml.split(cancer, target="target", seed=0)
    try:
        a = nbml.train(LogisticRegression(max_iter=300, C=0.5))
        nbml.train(LogisticRegression(max_iter=300), cv=3)
    finally:
        nbml.data.set_active(None)
    frame = nbml.runs()
    assert len(frame) == 2 and list(frame["kind"]) == ["train", "train"]
    first = frame.iloc[0]
    assert first["model"] == "LogisticRegression" and first["params"]["C"] == 0.5
    assert first["accuracy"] == pytest.approx(a.metrics["accuracy"]) and first["score"] == first["accuracy"]
    assert first["fingerprint"] == a.split.fingerprint and first["duration"] > 0
    assert frame.iloc[1]["cv"] == 3 and len(nbml.runs(last=1)) == 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_off_and_broken_store(tmp_path, monkeypatch, cancer):
    monkeypatch.setenv("NBML_STORE", "off")
    nbml.split(cancer, target="target", seed=0)
    try:
        nbml.train(LogisticRegression(max_iter=300))
        with pytest.raises(ValueError, match="store is off"):
            nbml.runs()
        # a store that cannot be written (its path is a folder) warns and training goes on
        (tmp_path / "folder.db").mkdir()
        monkeypatch.setenv("NBML_STORE", str(tmp_path / "folder.db"))
        with pytest.warns(UserWarning, match="could not record"):
            result = nbml.train(LogisticRegression(max_iter=300))
        assert result.metrics["accuracy"] > 0.9
    finally:
        nbml.data.set_active(None)


def test_bad_arguments(db):
    with pytest.raises(ValueError, match="kind='deploy'"):
        nbml.runs(kind="deploy")
    with pytest.raises(ValueError, match="last=0 must be a positive integer"):
        nbml.runs(last=0)


def _writer(path, tag, n):
    import optuna

    store.set_default(path)
    url = store.to_url(path)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="shared", storage=store.optuna_storage(url), load_if_exists=True)
    for i in range(n):
        store.record_trial(url, f"study-{tag}", {"number": i, "params": {"i": i}, "score": i / n, "state": "complete"})
        trial = study.ask()
        study.tell(trial, trial.suggest_float("x", 0, 1))


def test_two_processes_write_the_same_store_at_once(db):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(db), tag, 25)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    frame = store.trials()
    assert len(frame) == 50 and sorted(frame["study"].unique()) == ["study-a", "study-b"]
    assert sorted(frame[frame["study"] == "study-a"]["number"]) == list(range(25))
    import optuna

    study = optuna.load_study(study_name="shared", storage=store.optuna_storage(store.to_url(str(db))))
    assert len([t for t in study.trials if t.state.name == "COMPLETE"]) == 50
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
