"""The prediction log: every served request, in the embedded store (table ``nbml_predictions``).

Requests are queued and written by one background thread in small batches, so logging
never slows a request down. The log stays bounded: ``sample`` logs that fraction of
requests (seeded), ``max_rows`` keeps only the newest rows of each model (older ones are
deleted as new ones arrive), and ``max_input_rows`` caps the input rows kept per request.
"""
from __future__ import annotations

import json
import queue
import random
import threading
import time
import warnings
from datetime import datetime, timezone

import pandas as pd

from nbml.errors import NbmlError

TABLE = "nbml_predictions"
# settings of the log; %config Nbml.log_* can change them (the lead wires these names)
LOG_SETTINGS = {
    "sample": 1.0,         # fraction of requests logged
    "max_rows": 100_000,   # newest rows kept per model; older ones are deleted
    "max_input_rows": 100,  # input rows kept per request (the rest are counted, not stored)
    "seed": 0,             # seed of the sampling
}
_SCHEMA = [
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, model TEXT NOT NULL,
        n_rows INTEGER, inputs TEXT, outputs TEXT, latency_ms REAL, status INTEGER, error TEXT)""",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_model ON {TABLE} (model, id)",
]


def _check_settings(settings: dict) -> dict:
    merged = dict(LOG_SETTINGS)
    unknown = sorted(set(settings) - set(LOG_SETTINGS))
    if unknown:
        raise NbmlError(f"unknown log setting(s) {', '.join(unknown)}; valid: {', '.join(LOG_SETTINGS)}")
    merged.update(settings)
    sample = merged["sample"]
    if isinstance(sample, bool) or not isinstance(sample, (int, float)) or not 0 <= sample <= 1:
        raise NbmlError(f"sample={sample!r} must be a fraction between 0 and 1")
    for key in ("max_rows", "max_input_rows"):
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise NbmlError(f"{key}={value!r} must be a positive integer")
    return merged


def _engine(url):
    import sqlalchemy as sa

    from nbml import store

    eng = store.engine(url)
    with eng.begin() as conn:
        for statement in _SCHEMA:
            sql = statement
            if eng.dialect.name == "postgresql":
                sql = sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "SERIAL PRIMARY KEY")
            conn.execute(sa.text(sql))
    return eng


class PredictionLog:
    """Queue of prediction records and the thread that writes them (``close()`` flushes)."""

    def __init__(self, model: str, storage: str | None = None, **settings):
        from nbml import store

        self.settings = _check_settings(settings)
        self.model = model
        self.url = store.to_url(storage) if storage else store.default_url()
        self.logged = 0
        self.skipped = 0
        self.dropped = 0
        self._rng = random.Random(self.settings["seed"])
        self._rng_lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue(maxsize=10_000)
        self._thread = None
        self._error = None
        if self.url is not None:
            _engine(self.url)
            self._thread = threading.Thread(target=self._writer, name="nbml-prediction-log", daemon=True)
            self._thread.start()

    @property
    def enabled(self) -> bool:
        return self._thread is not None

    def record(self, inputs: pd.DataFrame | None, outputs, latency_ms: float, status: int = 200,
               error: str | None = None, n_rows: int | None = None):
        if not self.enabled:
            return
        with self._rng_lock:
            keep = self._rng.random() < self.settings["sample"]
        if not keep:
            self.skipped += 1
            return
        cap = self.settings["max_input_rows"]
        row = {
            "created": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "model": self.model,
            "n_rows": int(n_rows if n_rows is not None else (0 if inputs is None else len(inputs))),
            "inputs": None if inputs is None else inputs.head(cap).to_json(orient="split", index=False,
                                                                           date_format="iso"),
            "outputs": None if outputs is None else json.dumps(outputs[:cap] if isinstance(outputs, list)
                                                               else outputs, default=str),
            "latency_ms": float(latency_ms), "status": int(status), "error": error,
        }
        try:
            self._queue.put_nowait(row)
        except queue.Full:  # the writer is behind: drop the record, never the request
            self.dropped += 1

    def _writer(self):
        import sqlalchemy as sa

        cols = ["created", "model", "n_rows", "inputs", "outputs", "latency_ms", "status", "error"]
        insert = sa.text(f"INSERT INTO {TABLE} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})")
        trim = sa.text(f"DELETE FROM {TABLE} WHERE model = :model AND id <= "
                       f"(SELECT id FROM {TABLE} WHERE model = :model ORDER BY id DESC LIMIT 1 OFFSET :keep)")
        eng = _engine(self.url)
        stop = False
        while not stop:
            batch = [self._queue.get()]
            while len(batch) < 500:
                try:
                    batch.append(self._queue.get(timeout=0.05))
                except queue.Empty:
                    break
            rows = [b for b in batch if b is not None]
            stop = len(rows) < len(batch)
            if rows:
                try:
                    with eng.begin() as conn:
                        conn.execute(insert, rows)
                        conn.execute(trim, {"model": self.model, "keep": self.settings["max_rows"]})
                    self.logged += len(rows)
                except Exception as exc:  # noqa: BLE001 - the log must never take the service down
                    self.dropped += len(rows)
                    self._error = f"{type(exc).__name__}: {exc}"
            for _ in batch:
                self._queue.task_done()

    def flush(self, timeout: float = 10.0):
        """Wait until every queued record is written (at most ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while self.enabled and self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self):
        if self._thread is not None:
            self.flush()
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None
            if self._error:
                warnings.warn(f"nbml could not write part of the prediction log: {self._error}", stacklevel=2)


def prediction_log(model: str | None = None, last: int | None = None, storage: str | None = None,
                   inputs: bool = False) -> pd.DataFrame:
    """The logged predictions (of one model, or all), oldest first.

    ``inputs=True`` returns the logged input rows instead, one row per input row, with
    ``_id`` (the request) and ``_created`` columns -- what ``drift(..., log=True)`` compares.
    """
    import sqlalchemy as sa

    from nbml import store

    url = store.to_url(storage) if storage else store.default_url()
    if url is None:
        raise NbmlError("the nbml store is off (NBML_STORE=off): no predictions are logged")
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
        raise NbmlError(f"last={last!r} must be a positive integer")
    eng = _engine(url)
    where = "WHERE model = :model" if model else ""
    limit = f"LIMIT {int(last)}" if last else ""
    sql = f"SELECT * FROM (SELECT * FROM {TABLE} {where} ORDER BY id DESC {limit}) AS t ORDER BY id"
    with eng.connect() as conn:
        result = conn.execute(sa.text(sql), {"model": model})
        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    if not inputs:
        if len(frame):
            frame["created"] = pd.to_datetime(frame["created"], utc=True)
            frame["outputs"] = frame["outputs"].map(lambda s: json.loads(s) if isinstance(s, str) else None)
        return frame.set_index("id")
    from io import StringIO

    parts = []
    for rid, created, text in zip(frame["id"], frame["created"], frame["inputs"]):
        if not isinstance(text, str) or not text:
            continue
        part = pd.read_json(StringIO(text), orient="split", dtype=False)
        part.insert(0, "_created", created)
        part.insert(0, "_id", rid)
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
