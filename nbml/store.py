"""The embedded store: every ``train`` and ``tune`` run and every tuning trial.

By default one SQLite file, ``.nbml/nbml.db`` under the working folder, holds nbml's tables
(``nbml_runs``, ``nbml_trials``, ``nbml_label_decisions``) and Optuna's studies side by side. Each write is its own
short transaction and is committed at once, so a kernel crash loses no finished trial. SQLite
runs in WAL mode with a busy timeout: two notebooks (processes) can write at the same time.

Any SQLAlchemy URL can replace the file (``storage="postgresql://..."``), and the
environment variable ``NBML_STORE`` sets the default (a URL, a file path, or ``off``).
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import math
import os
import threading
import time
import warnings
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from nbml.errors import NbmlError

DEFAULT_PATH = os.path.join(".nbml", "nbml.db")
BUSY_TIMEOUT_S = 60

_default: str | None = None  # set_default() wins over the environment
_engines: dict = {}
_lock = threading.Lock()
_paused = contextvars.ContextVar("nbml_store_paused", default=False)

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS nbml_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created TEXT NOT NULL, kind TEXT NOT NULL, model TEXT, task TEXT, metric TEXT, score REAL,
        metrics TEXT, params TEXT, duration REAL, fingerprint TEXT, cv INTEGER, study TEXT, note TEXT)""",
    """CREATE TABLE IF NOT EXISTS nbml_trials (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        study TEXT NOT NULL, number INTEGER NOT NULL, created TEXT NOT NULL, method TEXT, model TEXT,
        params TEXT, metric TEXT, score REAL, score_std REAL, metrics TEXT, state TEXT, error TEXT,
        duration REAL, fingerprint TEXT, extra TEXT)""",
    "CREATE INDEX IF NOT EXISTS nbml_trials_study ON nbml_trials (study, number)",
    """CREATE TABLE IF NOT EXISTS nbml_label_decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created TEXT NOT NULL, review TEXT NOT NULL, fingerprint TEXT, row_id TEXT NOT NULL,
        action TEXT NOT NULL, label TEXT)""",
    "CREATE INDEX IF NOT EXISTS nbml_label_decisions_review ON nbml_label_decisions (review, fingerprint)",
]


def set_default(url_or_path: str | None) -> None:
    """Make ``url_or_path`` the default store of this process (``None``: back to the default;
    ``"off"``: record nothing)."""
    global _default
    _default = url_or_path


def default_url() -> str | None:
    """The store URL in use: ``set_default``, else ``$NBML_STORE``, else ``.nbml/nbml.db``;
    ``None`` when recording is off."""
    value = _default if _default is not None else os.environ.get("NBML_STORE", "")
    return to_url(value or DEFAULT_PATH)


def to_url(value: str | None) -> str | None:
    if value is None:
        return default_url()
    value = str(value)
    if value.lower() in ("off", "none", "false", "0"):
        return None
    if "://" in value:
        return value
    return "sqlite:///" + os.path.abspath(value)


def sqlite_path(url: str) -> str | None:
    if url and url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return url[len("sqlite:///"):]
    return None


def engine(url: str):
    """One SQLAlchemy engine per URL and process; SQLite gets WAL and a busy timeout."""
    key = (url, os.getpid())
    with _lock:
        eng = _engines.get(key)
        if eng is not None:
            return eng
        import sqlalchemy as sa

        path = sqlite_path(url)
        if path:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            eng = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

            @sa.event.listens_for(eng, "connect")
            def _pragmas(dbapi_conn, _record):
                cur = dbapi_conn.cursor()
                cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
                cur.execute("PRAGMA journal_mode = WAL")
                cur.execute("PRAGMA synchronous = NORMAL")
                cur.close()
        else:
            eng = sa.create_engine(url)
        _create_schema(eng)
        _engines[key] = eng
        return eng


def _create_schema(eng):
    import sqlalchemy as sa

    for attempt in range(20):
        try:
            with eng.begin() as conn:
                for statement in _SCHEMA:
                    sql = statement
                    if eng.dialect.name != "sqlite":
                        sql = sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "SERIAL PRIMARY KEY") \
                            if eng.dialect.name == "postgresql" else sql
                    conn.execute(sa.text(sql))
            return
        except sa.exc.OperationalError as exc:
            if attempt == 19 or "locked" not in str(exc):
                raise
            time.sleep(0.05 * (attempt + 1))


def optuna_storage(url: str):
    """An Optuna ``RDBStorage`` on the same database (SQLite: with the busy timeout)."""
    import optuna

    path = sqlite_path(url)
    kwargs = {"connect_args": {"timeout": BUSY_TIMEOUT_S}} if path else {}
    if path:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        engine(url)  # turns on WAL before Optuna connects
    import sqlalchemy as sa

    for attempt in range(20):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except (sa.exc.IntegrityError, sa.exc.OperationalError):
            # another process is creating Optuna's tables in the same new file: use them once made
            if attempt == 19:
                raise
            time.sleep(0.1 * (attempt + 1))


# -- writing ---------------------------------------------------------------------------

def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _json(value) -> str:
    return json.dumps(value, default=_plain, sort_keys=True)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return repr(value)


def _clean_float(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _insert(url, table, row: dict):
    import sqlalchemy as sa

    cols = ", ".join(row)
    marks = ", ".join(f":{c}" for c in row)
    eng = engine(url)
    for attempt in range(40):
        try:
            with eng.begin() as conn:
                conn.execute(sa.text(f"INSERT INTO {table} ({cols}) VALUES ({marks})"), row)
            return
        except sa.exc.OperationalError as exc:  # "database is locked" past the busy timeout
            if attempt == 39 or "locked" not in str(exc):
                raise
            time.sleep(0.05 * (attempt + 1))


@contextlib.contextmanager
def paused():
    """Record nothing inside this block (tune's own refits are not separate runs)."""
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def record_run(result, kind: str = "train", url: str | None = None, study: str | None = None,
               note: str | None = None) -> None:
    """Record a ``TrainResult`` (a ``train()`` run). A store error becomes a warning."""
    if _paused.get():
        return
    try:
        url = to_url(url) if url else default_url()
        if url is None:
            return
        from nbml.metrics import PRIMARY

        metric = PRIMARY.get(result.task)
        split = getattr(result, "split", None)
        cv = getattr(result, "cv", None)
        _insert(url, "nbml_runs", {
            "created": _now(), "kind": kind, "model": result.name, "task": result.task, "metric": metric,
            "score": _clean_float(result.metrics.get(metric)), "metrics": _json(result.metrics),
            "params": _json(result.params), "duration": _clean_float(result.fit_time),
            "fingerprint": getattr(split, "fingerprint", None), "cv": None if cv is None else len(cv),
            "study": study, "note": note})
    except Exception as exc:  # recording must never break training
        warnings.warn(f"nbml could not record the run in the store: {type(exc).__name__}: {exc}", stacklevel=2)


def record_tune(tune_result, url: str | None = None) -> None:
    """Record a finished search as one run of kind 'tune'."""
    if _paused.get():
        return
    try:
        url = to_url(url) if url else default_url()
        if url is None:
            return
        _insert(url, "nbml_runs", {
            "created": _now(), "kind": "tune", "model": tune_result.model_name, "task": tune_result.task,
            "metric": tune_result.metric, "score": _clean_float(tune_result.best_score),
            "metrics": _json(tune_result.best_metrics), "params": _json(tune_result.best_params),
            "duration": _clean_float(tune_result.duration), "fingerprint": tune_result.fingerprint,
            "cv": tune_result.cv, "study": tune_result.study,
            "note": f"{tune_result.method}, {len(tune_result.trials)} trials"})
    except Exception as exc:
        warnings.warn(f"nbml could not record the search in the store: {type(exc).__name__}: {exc}", stacklevel=2)


def record_trial(url: str, study: str, record: dict) -> None:
    """Write one finished trial (committed at once)."""
    extra = {k: record[k] for k in ("rows", "round", "epochs", "iterations", "worker") if record.get(k) is not None}
    _insert(url, "nbml_trials", {
        "study": study, "number": int(record["number"]), "created": _now(), "method": record.get("method"),
        "model": record.get("model"), "params": _json(record.get("params", {})), "metric": record.get("metric"),
        "score": _clean_float(record.get("score")), "score_std": _clean_float(record.get("score_std")),
        "metrics": _json(record.get("metrics") or {}), "state": record.get("state"), "error": record.get("error"),
        "duration": _clean_float(record.get("duration")), "fingerprint": record.get("fingerprint"),
        "extra": _json(extra)})


# -- reading ---------------------------------------------------------------------------

def record_label_decision(url: str, review: str, fingerprint: str, row_id, action: str, label=None) -> None:
    """Append one review decision (keep / relabel / drop / undo) to the label-review log.
    The log is append-only: an undo is a row of its own, so replaying it gives the state."""
    _insert(url, "nbml_label_decisions", {
        "created": _now(), "review": review, "fingerprint": fingerprint, "row_id": _json(row_id),
        "action": action, "label": None if label is None else _json(label)})


def label_decisions(review: str, fingerprint: str | None = None, storage: str | None = None) -> pd.DataFrame:
    """The decision log of one label review, oldest first (row ids and labels as JSON)."""
    url = to_url(storage) if storage else default_url()
    if url is None:
        return pd.DataFrame(columns=["created", "row_id", "action", "label"])
    sql = "SELECT created, row_id, action, label FROM nbml_label_decisions WHERE review = :review"
    params = {"review": review}
    if fingerprint is not None:
        sql += " AND fingerprint = :fingerprint"
        params["fingerprint"] = fingerprint
    return _read(url, sql + " ORDER BY id", params)


def _read(url, sql, params=None) -> pd.DataFrame:
    import sqlalchemy as sa

    with engine(url).connect() as conn:
        result = conn.execute(sa.text(sql), params or {})
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def runs(last: int | None = None, kind: str | None = None, storage: str | None = None) -> pd.DataFrame:
    """Every recorded ``train`` and ``tune`` run, newest last, one row each: time, kind,
    model, primary metric and score, every metric as a column, parameters, duration, data
    fingerprint. ``last=N`` keeps the newest N; ``kind='train'|'tune'`` filters."""
    url = to_url(storage) if storage else default_url()
    if url is None:
        raise NbmlError("the nbml store is off (NBML_STORE=off): no runs are recorded")
    if kind not in (None, "train", "tune"):
        raise NbmlError(f"kind={kind!r} is not 'train' or 'tune'")
    if last is not None and (not isinstance(last, (int, np.integer)) or last < 1):
        raise NbmlError(f"last={last!r} must be a positive integer")
    where = "WHERE kind = :kind" if kind else ""
    frame = _read(url, f"SELECT * FROM nbml_runs {where} ORDER BY id", {"kind": kind})
    if last is not None:
        frame = frame.tail(int(last))
    return _expand(frame, "metrics").set_index("id")


def trials(study: str | None = None, storage: str | None = None) -> pd.DataFrame:
    """Recorded tuning trials (of one study, or all), in the order they finished."""
    url = to_url(storage) if storage else default_url()
    if url is None:
        raise NbmlError("the nbml store is off (NBML_STORE=off): no trials are recorded")
    where = "WHERE study = :study" if study else ""
    frame = _read(url, f"SELECT * FROM nbml_trials {where} ORDER BY id", {"study": study})
    return frame.set_index("id")


def studies(storage: str | None = None) -> pd.DataFrame:
    """One row per study in the store: trials, best score, last update."""
    url = to_url(storage) if storage else default_url()
    return _read(url, "SELECT study, model, method, metric, COUNT(*) AS trials, MAX(score) AS best_score, "
                      "MIN(score) AS worst_score, MAX(created) AS updated FROM nbml_trials GROUP BY study, model, "
                      "method, metric ORDER BY updated")


def _expand(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    if frame.empty:
        return frame
    parsed = frame[column].map(lambda s: json.loads(s) if s else {})
    wide = pd.DataFrame(list(parsed), index=frame.index)
    frame = frame.drop(columns=[column])
    frame["params"] = frame["params"].map(lambda s: json.loads(s) if s else {})
    frame["created"] = pd.to_datetime(frame["created"], utc=True)
    return pd.concat([frame, wide], axis=1)
