"""The embedded store: every ``train`` and ``tune`` run and every tuning trial.

By default one SQLite file, ``.nbml/nbml.db`` under the working folder, holds nbml's tables
(``nbml_runs``, ``nbml_trials``, ``nbml_label_decisions``) and Optuna's studies side by side. Each write is its own
short transaction and is committed at once, so a kernel crash loses no finished trial. SQLite
runs in WAL mode with a busy timeout: two notebooks (processes) can write at the same time.

Any SQLAlchemy URL can replace the file (``storage="postgresql://..."``), and the
environment variable ``NBML_STORE`` sets the default (a URL, a file path, or ``off``).

A search writes its run when it starts (state ``running``) and marks it ``finished`` or
``interrupted``; a trial is claimed (a row in state ``running`` with the next number of its
study) before it is fit and completed after, so two processes sharing a study never fit one
configuration twice nor share a number, and a process killed mid-search leaves rows that say
so. A store that cannot be opened or read raises :class:`StoreError`: one line naming the
file (or URL) and the fixes.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import math
import os
import socket
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
_active_claims: set = set()  # (url, row id) of the trials this process is fitting now

# trial states: a claim is "running" until its fit ends; "interrupted" when the process
# stopped (Ctrl-C, kill, crash) before it did. Only finished trials count as a study's trials.
FINISHED = ("complete", "fail", "pruned")
TAKEN = ("running", "complete", "fail")  # a configuration in one of these is not fit again


class StoreError(NbmlError):
    """The store cannot be opened, read or written: the message names it and the fixes."""

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS nbml_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created TEXT NOT NULL, kind TEXT NOT NULL, model TEXT, task TEXT, metric TEXT, score REAL,
        metrics TEXT, params TEXT, duration REAL, fingerprint TEXT, cv INTEGER, study TEXT, note TEXT,
        state TEXT, owner TEXT)""",
    """CREATE TABLE IF NOT EXISTS nbml_trials (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        study TEXT NOT NULL, number INTEGER NOT NULL, created TEXT NOT NULL, method TEXT, model TEXT,
        params TEXT, metric TEXT, score REAL, score_std REAL, metrics TEXT, state TEXT, error TEXT,
        duration REAL, fingerprint TEXT, extra TEXT, owner TEXT)""",
    "CREATE INDEX IF NOT EXISTS nbml_trials_study ON nbml_trials (study, number)",
    """CREATE TABLE IF NOT EXISTS nbml_label_decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created TEXT NOT NULL, review TEXT NOT NULL, fingerprint TEXT, row_id TEXT NOT NULL,
        action TEXT NOT NULL, label TEXT)""",
    "CREATE INDEX IF NOT EXISTS nbml_label_decisions_review ON nbml_label_decisions (review, fingerprint)",
]
# columns added since the first version: a store written by an older nbml gets them on open
_ADDED_COLUMNS = {"nbml_runs": ("state", "owner"), "nbml_trials": ("owner",)}


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


def label(url: str) -> str:
    """The store as a person names it: a file path (relative to the working folder when inside
    it), or the URL without its password."""
    path = sqlite_path(url or "")
    if path:
        relative = os.path.relpath(path)
        return path if relative.startswith("..") else relative
    try:
        import sqlalchemy as sa

        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot parse is shown as given
        return str(url)


OFF_HINT = "or turn it off (NBML_STORE=off)"
_DAMAGED = ("malformed", "not a database", "file is encrypted", "corrupt")


def store_error(url: str, exc: BaseException) -> StoreError:
    """``exc`` (opening, reading or writing the store) as one line naming the store and the fix."""
    import sqlalchemy as sa

    if isinstance(exc, StoreError):
        return exc
    message = str(getattr(exc, "orig", None) or exc).strip()
    text = message.splitlines()[0] if message else type(exc).__name__
    name = label(url)
    if any(word in text.lower() for word in _DAMAGED):
        _forget(url)  # the next call opens the file afresh (after it was moved aside)
        return StoreError(f"the nbml store {name} is damaged ({text}): move it aside (mv {name} {name}.broken) "
                          f"{OFF_HINT}")
    if isinstance(exc, (sa.exc.NoSuchModuleError, sa.exc.ArgumentError)):
        return StoreError(f"storage {url!r} is not a database nbml can open ({text}): give a file path (runs.db) "
                          f"or a SQLAlchemy URL (sqlite:///runs.db, postgresql://host/db)")
    if isinstance(exc, ImportError):
        return StoreError(f"storage {name} needs a database driver that is not installed ({text}): install it "
                          f"{OFF_HINT}")
    _forget(url)
    return StoreError(f"the nbml store {name} cannot be opened ({text}): use a file in a folder you can write "
                      f"to {OFF_HINT}")


def _forget(url):
    with _lock:
        eng = _engines.pop((url, os.getpid()), None)
    if eng is not None:
        eng.dispose()


@contextlib.contextmanager
def _guarded(url):
    """Errors of the database (damage, a file that cannot be opened, a bad URL, a missing
    driver) as a ``StoreError``."""
    import sqlalchemy as sa

    try:
        yield
    except StoreError:
        raise
    except (sa.exc.DBAPIError, sa.exc.ArgumentError, ImportError, OSError) as exc:
        raise store_error(url, exc) from exc


def engine(url: str):
    """One SQLAlchemy engine per URL and process; SQLite gets WAL and a busy timeout. A store
    that cannot be opened raises ``StoreError``."""
    key = (url, os.getpid())
    with _lock:
        eng = _engines.get(key)
        if eng is not None:
            return eng
    with _guarded(url):
        eng = _new_engine(url)
        try:
            _create_schema(eng)
        except BaseException:
            eng.dispose()
            raise
    with _lock:
        return _engines.setdefault(key, eng)


def _new_engine(url):
    import sqlalchemy as sa

    path = sqlite_path(url)
    if not path:
        return sa.create_engine(url)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    eng = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @sa.event.listens_for(eng, "connect")
    def _pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()
    return eng


def _create_schema(eng):
    import sqlalchemy as sa

    for attempt in range(20):
        try:
            with eng.begin() as conn:
                for statement in _SCHEMA:
                    sql = statement
                    if eng.dialect.name == "postgresql":
                        sql = sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "SERIAL PRIMARY KEY")
                    conn.execute(sa.text(sql))
            _add_columns(eng)
            return
        except sa.exc.OperationalError as exc:
            if attempt == 19 or "locked" not in str(exc):
                raise
            time.sleep(0.05 * (attempt + 1))


def _add_columns(eng):
    """Columns a store written by an older nbml lacks (two processes may add one at once)."""
    import sqlalchemy as sa

    for table, columns in _ADDED_COLUMNS.items():
        with eng.connect() as conn:
            have = {c["name"] for c in sa.inspect(conn).get_columns(table)}
        for column in columns:
            if column in have:
                continue
            try:
                with eng.begin() as conn:
                    conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} TEXT"))
            except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
                if "duplicate column" not in str(exc).lower() and "already exists" not in str(exc).lower():
                    raise


def check(url: str) -> None:
    """Open the store and, for a SQLite file, check its pages (``PRAGMA quick_check``): a
    damaged or unreachable store raises ``StoreError`` before any work is done."""
    import sqlalchemy as sa

    eng = engine(url)
    if not sqlite_path(url):
        return
    with _guarded(url), eng.connect() as conn:
        verdict = conn.execute(sa.text("PRAGMA quick_check(1)")).scalar()
    if verdict != "ok":
        raise store_error(url, RuntimeError(f"database disk image is malformed: {verdict}"))


def optuna_storage(url: str):
    """An Optuna ``RDBStorage`` on the same database (SQLite: with the busy timeout)."""
    import optuna
    import sqlalchemy as sa

    kwargs = {"connect_args": {"timeout": BUSY_TIMEOUT_S}} if sqlite_path(url) else {}
    engine(url)  # turns on WAL before Optuna connects; a store that cannot be opened says so
    for attempt in range(20):
        try:
            with _guarded(url):
                return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except StoreError as exc:
            # another process is creating Optuna's tables in the same new file: use them once made
            if attempt == 19 or not isinstance(exc.__cause__, (sa.exc.IntegrityError, sa.exc.OperationalError)):
                raise
        time.sleep(0.1 * (attempt + 1))


# -- who runs a trial -----------------------------------------------------------------

def _start_time(pid) -> str:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


_OWNER: list = []  # [(pid, owner)]


def owner() -> str:
    """This process, as ``host:pid:start`` (written beside what it is running)."""
    if not _OWNER or _OWNER[0][0] != os.getpid():
        _OWNER[:] = [(os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}")]
    return _OWNER[0][1]


def is_gone(who: str | None) -> bool:
    """True when ``who`` (an ``owner()``) is a process of this machine that has ended (none
    recorded: an older nbml's, counted as ended). Another machine's process cannot be checked
    and counts as running."""
    if not isinstance(who, str) or not who:  # NULL (NaN in a frame)
        return True
    host, pid, start = (who.rsplit(":", 2) + ["", ""])[:3]
    if host != socket.gethostname():
        return False
    if who == owner():
        return False
    try:
        pid = int(pid)
    except ValueError:
        return True
    if os.path.isdir("/proc"):
        now = _start_time(pid)
        return now == "" or (start != "" and now != start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


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


def _write(url, work):
    """Run ``work(conn)`` in one transaction and return its value, retried while another
    process holds the lock past the busy timeout; other database errors as ``StoreError``."""
    import sqlalchemy as sa

    eng = engine(url)
    for attempt in range(40):
        try:
            with _guarded(url), eng.begin() as conn:
                return work(conn)
        except StoreError as exc:  # "database is locked" past the busy timeout: once more
            cause = exc.__cause__
            if attempt == 39 or not isinstance(cause, sa.exc.OperationalError) or "locked" not in str(cause):
                raise
            time.sleep(0.05 * (attempt + 1))


def _insert(url, table, row: dict):
    import sqlalchemy as sa

    cols = ", ".join(row)
    marks = ", ".join(f":{c}" for c in row)
    _write(url, lambda conn: conn.execute(sa.text(f"INSERT INTO {table} ({cols}) VALUES ({marks})"), row))


def _update(url, table, row_id, values: dict):
    import sqlalchemy as sa

    sets = ", ".join(f"{c} = :{c}" for c in values)
    _write(url, lambda conn: conn.execute(sa.text(f"UPDATE {table} SET {sets} WHERE id = :_id"),
                                          {**values, "_id": row_id}))


@contextlib.contextmanager
def paused():
    """Record nothing inside this block (tune's own refits are not separate runs)."""
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def is_paused() -> bool:
    """True inside ``paused()``: runs are not recorded."""
    return _paused.get()


def _not_recorded(what: str, exc: BaseException, stacklevel=3):
    """Recording must never break training: say in one line what the store missed and why."""
    reason = str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
    warnings.warn(f"nbml could not record {what}: {reason}", stacklevel=stacklevel)


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
            "study": study, "note": note, "state": "finished", "owner": owner()})
    except Exception as exc:  # noqa: BLE001 - recording must never break training
        _not_recorded("this run", exc)


def start_search(url: str, *, study, model, method, task, metric, fingerprint, cv) -> int:
    """Record a search as a run of kind 'tune' when it starts (state ``running``); returns
    the run's id for ``end_search``. A process killed mid-search leaves it ``running``, and
    ``runs()`` shows it as ``interrupted`` once that process is gone."""
    import sqlalchemy as sa

    row = {"created": _now(), "kind": "tune", "model": model, "task": task, "metric": metric, "metrics": "{}",
           "params": "{}", "fingerprint": fingerprint, "cv": cv, "study": study, "note": method,
           "state": "running", "owner": owner()}
    cols, marks = ", ".join(row), ", ".join(f":{c}" for c in row)

    def work(conn):
        conn.execute(sa.text(f"INSERT INTO nbml_runs ({cols}) VALUES ({marks})"), row)
        return int(conn.execute(sa.text("SELECT MAX(id) FROM nbml_runs WHERE owner = :owner AND study = :study"),
                                row).scalar())
    return _write(url, work)


def end_search(url: str, run_id: int, tune_result, state: str = "finished") -> None:
    """Complete the search's run: best score, metrics and parameters, duration, trials
    (``tune_result`` None: the search stopped on an error; only its state is written)."""
    if tune_result is None:
        _update(url, "nbml_runs", run_id, {"state": state})
        return
    finished = tune_result.trials["state"].isin(FINISHED).sum() if len(tune_result.trials) else 0
    _update(url, "nbml_runs", run_id, {
        "score": _clean_float(tune_result.best_score), "metrics": _json(tune_result.best_metrics),
        "params": _json(tune_result.best_params), "duration": _clean_float(tune_result.duration),
        "note": f"{tune_result.method}, {finished} trials", "state": state})


def record_tune(tune_result, url: str | None = None) -> None:
    """Record a finished search as one run of kind 'tune' (``tune()`` itself records its run
    when it starts and completes it at the end)."""
    if _paused.get():
        return
    try:
        url = to_url(url) if url else default_url()
        if url is None:
            return
        run_id = start_search(url, study=tune_result.study, model=tune_result.model_name, method=tune_result.method,
                              task=tune_result.task, metric=tune_result.metric, fingerprint=tune_result.fingerprint,
                              cv=tune_result.cv)
        end_search(url, run_id, tune_result, "interrupted" if tune_result.interrupted else "finished")
    except Exception as exc:  # noqa: BLE001 - recording must never break a search
        _not_recorded("the search", exc)


def _trial_values(record: dict) -> dict:
    extra = {k: record[k] for k in ("rows", "round", "epochs", "iterations", "worker") if record.get(k) is not None}
    return {"score": _clean_float(record.get("score")), "score_std": _clean_float(record.get("score_std")),
            "metrics": _json(record.get("metrics") or {}), "state": record.get("state"), "error": record.get("error"),
            "duration": _clean_float(record.get("duration")), "extra": _json(extra)}


def record_trial(url: str, study: str, record: dict) -> None:
    """Write one finished trial under the number it carries (committed at once)."""
    _insert(url, "nbml_trials", {
        "study": study, "number": int(record["number"]), "created": _now(), "method": record.get("method"),
        "model": record.get("model"), "params": _json(record.get("params", {})), "metric": record.get("metric"),
        "fingerprint": record.get("fingerprint"), "owner": owner(), **_trial_values(record)})


def claim_trial(url: str, study: str, params: dict, unique: bool = True, **fields) -> dict:
    """Reserve the study's next trial number for ``params`` before they are fit.

    One statement checks the study's stored trials and inserts a ``running`` row, so two
    processes sharing a study never both fit one configuration nor get one number (SQLite runs
    one writer at a time). Returns ``{"id": ..., "number": ...}``, or ``{"taken": row}`` when
    the study already has these parameters finished (complete or failed) or running elsewhere.
    ``unique=False`` always claims (successive halving fits a configuration again on more rows).
    ``fields``: method, model, metric, fingerprint."""
    import sqlalchemy as sa

    row = {"study": study, "created": _now(), "params": _json(params), "state": "running", "owner": owner(),
           "metrics": "{}", "extra": "{}", **{k: fields.get(k) for k in ("method", "model", "metric", "fingerprint")}}
    cols, marks = ", ".join(row), ", ".join(f":{c}" for c in row)
    taken = "study = :study AND params = :params AND state IN ('running', 'complete', 'fail')"
    sql = (f"INSERT INTO nbml_trials ({cols}, number) SELECT {marks}, "
           f"(SELECT COALESCE(MAX(number), -1) + 1 FROM nbml_trials WHERE study = :study)")
    if unique:
        sql += f" WHERE NOT EXISTS (SELECT 1 FROM nbml_trials WHERE {taken})"

    def work(conn):
        if conn.execute(sa.text(sql), row).rowcount == 1:
            got = conn.execute(sa.text("SELECT id, number FROM nbml_trials WHERE study = :study AND owner = :owner "
                                       "AND state = 'running' ORDER BY id DESC LIMIT 1"), row).one()
            return {"id": int(got[0]), "number": int(got[1])}
        found = conn.execute(sa.text(f"SELECT * FROM nbml_trials WHERE {taken} ORDER BY "
                                     f"CASE WHEN state = 'running' THEN 1 ELSE 0 END, id LIMIT 1"), row)
        return {"taken": dict(found.one()._mapping)}
    claim = _write(url, work)
    if "id" in claim:
        _active_claims.add((url, claim["id"]))
    return claim


def complete_trial(url: str, claim_id: int, record: dict) -> None:
    """Write the outcome of a claimed trial (committed at once)."""
    try:
        _update(url, "nbml_trials", claim_id, {"created": _now(), **_trial_values(record)})
    finally:
        _active_claims.discard((url, claim_id))


def release_trials(url: str, claim_ids, why: str = "interrupted before it finished") -> None:
    """Mark claimed trials that will not finish (Ctrl-C, a timeout) as ``interrupted``."""
    import sqlalchemy as sa

    ids = [int(i) for i in claim_ids]
    for i in ids:
        _active_claims.discard((url, i))
    if ids:
        marks = ", ".join(str(i) for i in ids)
        _write(url, lambda conn: conn.execute(sa.text(
            f"UPDATE nbml_trials SET state = 'interrupted', error = :why WHERE id IN ({marks}) AND state = 'running'"),
            {"why": why}))


def reap_trials(url: str, study: str) -> int:
    """Mark the study's trials left ``running`` by a process that has ended (kill -9, a crash)
    or by this one outside a running search (Ctrl-C) as ``interrupted``; returns how many."""
    frame = _read(url, "SELECT id, owner FROM nbml_trials WHERE study = :study AND state = 'running'", {"study": study})
    stale = [int(i) for i, who in zip(frame["id"], frame["owner"])
             if is_gone(who) or (who == owner() and (url, int(i)) not in _active_claims)]
    release_trials(url, stale, "interrupted: the process running it stopped before it finished")
    return len(stale)


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

    eng = engine(url)
    with _guarded(url), eng.connect() as conn:
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
    return _expand(_with_states(url, frame), "metrics").set_index("id")


def _with_states(url, frame: pd.DataFrame) -> pd.DataFrame:
    """``state``: finished, running, or interrupted (Ctrl-C, or a process that ended while
    its search ran: kill -9, a crash); a search that did not finish shows its trials so far."""
    if frame.empty:
        return frame.drop(columns=["owner"], errors="ignore")
    from nbml.metrics import greater_is_better

    frame = frame.copy()
    frame["state"] = frame["state"].fillna("finished")
    running = frame["state"] == "running"  # never ended: running now, or its process is gone
    frame.loc[running & frame["owner"].map(is_gone), "state"] = "interrupted"
    for i in frame.index[(frame["kind"] == "tune") & running]:
        so_far = _read(url, "SELECT COUNT(*) AS n, MAX(CASE WHEN state = 'complete' THEN score END) AS hi, "
                            "MIN(CASE WHEN state = 'complete' THEN score END) AS lo FROM nbml_trials "
                            "WHERE study = :study AND state IN ('complete', 'fail', 'pruned')",
                       {"study": frame.at[i, "study"]}).iloc[0]
        metric = frame.at[i, "metric"]
        greater = greater_is_better(metric) if metric else True
        frame.at[i, "score"] = so_far["hi"] if greater else so_far["lo"]
        method = str(frame.at[i, "note"] or "").split(",")[0]
        frame.at[i, "note"] = f"{method}, {int(so_far['n'])} trials so far"
    return frame.drop(columns=["owner"])


def trials(study: str | None = None, storage: str | None = None) -> pd.DataFrame:
    """Recorded tuning trials (of one study, or all), in the order they started; ``state``
    is complete, fail, pruned, running (being fit now) or interrupted (its process stopped)."""
    url = to_url(storage) if storage else default_url()
    if url is None:
        raise NbmlError("the nbml store is off (NBML_STORE=off): no trials are recorded")
    where = "WHERE study = :study" if study else ""
    frame = _read(url, f"SELECT * FROM nbml_trials {where} ORDER BY id", {"study": study})
    if len(frame):  # a trial whose process has ended is not running any more
        gone = (frame["state"] == "running") & frame["owner"].map(is_gone)
        frame.loc[gone, "state"] = "interrupted"
    return frame.drop(columns=["owner"]).set_index("id")


def studies(storage: str | None = None) -> pd.DataFrame:
    """One row per study in the store: finished trials, best score, last update."""
    url = to_url(storage) if storage else default_url()
    if url is None:
        raise NbmlError("the nbml store is off (NBML_STORE=off): no studies are recorded")
    return _read(url, "SELECT study, model, method, metric, COUNT(*) AS trials, MAX(score) AS best_score, "
                      "MIN(score) AS worst_score, MAX(created) AS updated FROM nbml_trials "
                      "WHERE state IN ('complete', 'fail', 'pruned') GROUP BY study, model, method, metric "
                      "ORDER BY updated")


def _expand(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    if frame.empty:
        return frame
    parsed = frame[column].map(lambda s: json.loads(s) if s else {})
    wide = pd.DataFrame(list(parsed), index=frame.index)
    frame = frame.drop(columns=[column])
    frame["params"] = frame["params"].map(lambda s: json.loads(s) if s else {})
    frame["created"] = pd.to_datetime(frame["created"], utc=True, format="ISO8601")
    return pd.concat([frame, wide], axis=1)
