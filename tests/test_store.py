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


def _claimer(path, go, out):
    import os
    import time

    url = store.to_url(path)
    store.engine(url)
    while not os.path.exists(go):
        time.sleep(0.001)
    got = []
    for i in range(30):  # both processes propose the same configurations in the same order
        claim = store.claim_trial(url, "race", {"i": i}, method="random")
        if "number" in claim:
            store.complete_trial(url, claim["id"], {"score": i / 30, "state": "complete"})
            got.append((i, claim["number"]))
    with open(out, "w") as f:
        f.write(repr(got))


def test_two_processes_claiming_the_same_configurations_fit_each_once(db, tmp_path):
    import ast

    store.engine(store.to_url(str(db)))  # the tables exist before the race
    ctx = multiprocessing.get_context("spawn")
    go, outs = tmp_path / "go", [tmp_path / f"{tag}.txt" for tag in "ab"]
    procs = [ctx.Process(target=_claimer, args=(str(db), str(go), str(out))) for out in outs]
    for p in procs:
        p.start()
    go.touch()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    claimed = [ast.literal_eval(out.read_text()) for out in outs]
    configs = sorted(i for got in claimed for i, _ in got)
    numbers = sorted(n for got in claimed for _, n in got)
    assert configs == list(range(30)) and numbers == list(range(30))  # each once, numbered once
    frame = store.trials("race")
    assert len(frame) == 30 and set(frame["state"]) == {"complete"}


OLD_SCHEMA = [  # the tables as nbml 0.x wrote them, before runs had a state and trials an owner
    """CREATE TABLE nbml_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, kind TEXT NOT NULL,
        model TEXT, task TEXT, metric TEXT, score REAL, metrics TEXT, params TEXT, duration REAL, fingerprint TEXT,
        cv INTEGER, study TEXT, note TEXT)""",
    """CREATE TABLE nbml_trials (id INTEGER PRIMARY KEY AUTOINCREMENT, study TEXT NOT NULL, number INTEGER NOT NULL,
        created TEXT NOT NULL, method TEXT, model TEXT, params TEXT, metric TEXT, score REAL, score_std REAL,
        metrics TEXT, state TEXT, error TEXT, duration REAL, fingerprint TEXT, extra TEXT)""",
    """INSERT INTO nbml_runs (created, kind, model, metric, score, metrics, params, study, note) VALUES
        ('2026-01-01T00:00:00.000+00:00', 'tune', 'DecisionTreeClassifier', 'accuracy', 0.9, '{}', '{}', 'old',
        'grid, 2 trials')""",
    """INSERT INTO nbml_trials (study, number, created, method, model, params, metric, score, metrics, state, extra)
        VALUES ('old', 0, '2026-01-01T00:00:00.000+00:00', 'grid', 'DecisionTreeClassifier', '{"max_depth": 1}', 'accuracy',
        0.9, '{}', 'complete', '{}'), ('old', 1, '2026-01-01T00:00:01.000+00:00', 'grid', 'DecisionTreeClassifier',
        '{"max_depth": 2}', 'accuracy', 0.92, '{}', 'complete', '{}')""",
]


def test_a_store_written_by_an_older_nbml_is_read_and_continued(db, cancer):
    from sklearn.tree import DecisionTreeClassifier

    with sqlite3.connect(db) as conn:
        for statement in OLD_SCHEMA:
            conn.execute(statement)
    frame = nbml.runs()
    assert list(frame["state"]) == ["finished"] and frame["note"].iloc[0] == "grid, 2 trials"
    nbml.split(cancer, target="target", seed=0)
    try:
        result = nbml.tune(DecisionTreeClassifier(), {"max_depth": [1, 2, 3, 4]}, method="grid", study="old")
    finally:
        nbml.data.set_active(None)
    assert sorted(result.trials.index) == [0, 1, 2, 3] and sorted(result.trials["max_depth"]) == [1, 2, 3, 4]
    assert list(nbml.runs()["state"]) == ["finished", "finished"]
