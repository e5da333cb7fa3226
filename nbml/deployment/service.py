"""The inference service: FastAPI + uvicorn, in a background thread (``serve``) or in the
foreground (``python -m nbml serve PATH``).

Endpoints: ``POST /predict`` (JSON records ``[{...}, ...]``, ``{"records": [...]}`` or
``{"columns": {name: [...]}}``; predictions, and class probabilities for classifiers),
``GET /health``, ``GET /metadata`` (the model card). Every request is checked against the
training schema first; what does not fit is answered 4xx with the exact problem (400
malformed JSON, 413 body or batch too large, 422 missing/unknown columns, wrong types), and
no request can produce a 500. The service binds 127.0.0.1 unless told otherwise.
"""

import argparse
import atexit
import json
import logging
import math
import socket
import sys
import threading
import time
from datetime import datetime

import numpy as np
import pandas as pd

from nbml.deployment.extras import require
from nbml.deployment.package import Package, load
from nbml.errors import NbmlError

MAX_BODY_BYTES = 1_000_000
MAX_ROWS = 10_000
MAX_MESSAGES = 5  # problems listed in one error response
_RUNNING: dict = {}  # url -> ServiceHandle


class RequestError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# -- request validation (plain Python: testable without HTTP) ------------------------------

def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _json_type(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(v), type(v).__name__)


def _fmt(v) -> str:
    text = json.dumps(v) if not isinstance(v, float) or math.isfinite(v) else str(v)
    return text if len(text) <= 40 else text[:37] + "..."


def to_frame(payload, package: Package, max_rows: int = MAX_ROWS):
    """The request body as a DataFrame with the training columns and dtypes, and a list of
    warnings (values outside the training range, unseen categories). Raises ``RequestError``
    with every problem found (up to ``MAX_MESSAGES``)."""
    columns = package.schema["columns"]
    names = [c["name"] for c in columns]
    if isinstance(payload, list):
        records = payload
        data = None
    elif isinstance(payload, dict):
        keys = set(payload)
        if keys == {"records"}:
            records, data = payload["records"], None
        elif keys == {"columns"}:
            records, data = None, payload["columns"]
        elif keys & set(names) and not keys & {"records", "columns"}:
            records, data = [payload], None  # one record
        else:
            raise RequestError(422, 'the body must be a list of records, {"records": [...]} or '
                                    '{"columns": {"name": [...]}}; got an object with keys '
                                    f"{', '.join(sorted(map(str, keys)))[:200] or '(none)'}")
    else:
        raise RequestError(422, f"the body must be a JSON list or object, not {_json_type(payload)}")

    if records is not None:
        if not isinstance(records, list):
            raise RequestError(422, f"records must be a list of objects, not {_json_type(records)}")
        if not records:
            raise RequestError(422, "no records: send at least one row")
        if len(records) > max_rows:
            raise RequestError(413, f"{len(records)} rows is more than the limit of {max_rows} per request")
        problems = []
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                problems.append(f"record {i} is {_json_type(rec)}, not an object")
                continue
            missing = [n for n in names if n not in rec]
            unknown = [k for k in rec if k not in names]
            if missing:
                problems.append(f"record {i} is missing column(s) {', '.join(map(repr, missing))}")
            if unknown:
                problems.append(f"record {i} has unknown column(s) {', '.join(map(repr, unknown))}")
            if len(problems) >= MAX_MESSAGES:
                break
        if problems:
            raise RequestError(422, "; ".join(problems[:MAX_MESSAGES]))
        data = {n: [rec[n] for rec in records] for n in names}
    else:
        if not isinstance(data, dict):
            raise RequestError(422, f"columns must be an object of column name -> list, not {_json_type(data)}")
        missing = [n for n in names if n not in data]
        unknown = [k for k in data if k not in names]
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(map(repr, missing))}")
        if unknown:
            problems.append(f"unknown column(s) {', '.join(map(repr, unknown))}")
        bad = [n for n in names if n in data and not isinstance(data[n], list)]
        if bad:
            problems.append(f"column(s) {', '.join(map(repr, bad))} must be lists of values")
        if problems:
            raise RequestError(422, "; ".join(problems))
        lengths = {len(data[n]) for n in names}
        if len(lengths) > 1:
            raise RequestError(422, "columns have different lengths: " +
                               ", ".join(f"{n!r}: {len(data[n])}" for n in names))
        n_rows = lengths.pop() if lengths else 0
        if n_rows == 0:
            raise RequestError(422, "no rows: the columns are empty")
        if n_rows > max_rows:
            raise RequestError(413, f"{n_rows} rows is more than the limit of {max_rows} per request")

    problems, warnings_, frame = [], [], {}
    for col in columns:
        values = data[col["name"]]
        series, col_problems, col_warnings = _column(col, values)
        problems += col_problems
        warnings_ += col_warnings
        frame[col["name"]] = series
        if len(problems) >= MAX_MESSAGES:
            break
    if problems:
        raise RequestError(422, "; ".join(problems[:MAX_MESSAGES]))
    return pd.DataFrame(frame), warnings_[:MAX_MESSAGES]


def _column(col: dict, values: list):
    name, kind = col["name"], col["kind"]
    nullable = col.get("missing", 0) > 0
    problems, notes = [], []

    def bad(i, v, expected):
        problems.append(f"column {name!r} row {i}: {_fmt(v)} is not {expected}")

    for i, v in enumerate(values):
        if v is None:
            if not nullable:
                problems.append(f"column {name!r} row {i}: null, but the training data had no missing values here")
        elif kind == "numeric":
            if not _is_number(v):
                bad(i, v, "a number")
            elif not math.isfinite(v):
                bad(i, v, "a finite number")
        elif kind == "categorical":
            if not isinstance(v, str):
                bad(i, v, "a string (category)")
        elif kind == "boolean":
            if not isinstance(v, bool):
                bad(i, v, "true or false")
        elif kind == "datetime":
            if not isinstance(v, str):
                bad(i, v, "a date string")
            else:
                try:
                    pd.Timestamp(v)
                except (ValueError, TypeError, OverflowError):
                    bad(i, v, "a date (ISO 8601, e.g. 2024-01-31)")
        if len(problems) >= 2:  # the first two bad values of a column say enough
            break
    if problems:
        return None, problems, notes
    dtype = col["dtype"]
    if kind == "numeric":
        series, notes = _numeric(col, values)
    elif kind == "categorical":
        series = pd.Series(values, dtype=object)
        if col.get("n_categories", 0) <= len(col.get("categories", [])):
            unseen = sorted({v for v in values if v is not None} - set(col.get("categories", [])))
            if unseen:
                notes.append(f"column {name!r}: categories not seen in training: "
                             f"{', '.join(map(repr, unseen[:5]))}")
        try:
            if dtype == "category":
                series = series.astype("category")
            elif dtype not in ("object",):
                series = series.astype(dtype)
        except (TypeError, ValueError):
            pass
    elif kind == "boolean":
        series = pd.Series(values, dtype="boolean" if any(v is None for v in values) else bool)
    else:
        series, problems, notes = _dates(col, values)
    return series, problems, notes


def _numeric(col: dict, values: list):
    """A numeric column as the training dtype, and its warnings: values outside the training
    range, fractions in a column of integers."""
    name, dtype, notes = col["name"], col["dtype"], []
    arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    series = pd.Series(arr)
    finite = arr[~np.isnan(arr)]
    if dtype.startswith(("int", "uint")) or col.get("integer"):
        fractions = [v for v in values if v is not None and v != math.floor(v)]
        if fractions:
            notes.append(f"column {name!r}: {_fmt(fractions[0])} is not a whole number, but the training values "
                         f"were integers")
        elif dtype.startswith(("int", "uint")) and not np.isnan(arr).any() and len(finite):
            info = np.iinfo(dtype)
            if info.min <= finite.min() and finite.max() <= info.max:
                series = series.astype(dtype)
    low, high = col.get("min"), col.get("max")
    if low is not None and high is not None and len(finite) and (finite.min() < low or finite.max() > high):
        notes.append(f"column {name!r}: values outside the training range [{low:g}, {high:g}]")
    return series, notes


def _dates(col: dict, values: list):
    """A datetime column in the training time zone (or none), and its warnings: dates outside
    the training range. Dates mixing zones, or with a zone where training had none (or the
    reverse), are problems (422)."""
    name, dtype = col["name"], col["dtype"]
    try:
        series = pd.to_datetime(pd.Series(values, dtype=object), format="mixed")
    except (ValueError, TypeError, OverflowError) as exc:
        reason = "they mix time zones" if "zone" in str(exc).lower() else str(exc).splitlines()[0][:120]
        return None, [f"column {name!r}: the dates cannot be read together ({reason}); send ISO 8601 dates "
                      f"(2024-01-31 or 2024-01-31T12:00:00) in one time zone"], []
    trained_zone = dtype.split(",", 1)[1].rstrip("]").strip() if "," in dtype else None
    zone = getattr(series.dt, "tz", None)
    if trained_zone is None and zone is not None:
        return None, [f"column {name!r}: the dates have a time zone ({zone}) but the training dates had none; "
                      f"send them without one"], []
    if trained_zone is not None and zone is None:
        return None, [f"column {name!r}: the dates have no time zone but the training dates were in "
                      f"{trained_zone}; send them with one (e.g. 2024-01-31T12:00:00+00:00)"], []
    notes = []
    try:
        if zone is not None:
            series = series.dt.tz_convert(trained_zone)
        low, high = (pd.Timestamp(col[k]) if col.get(k) else None for k in ("min", "max"))
        present = series.dropna()
        if low is not None and high is not None and len(present) and (present.min() < low or present.max() > high):
            notes.append(f"column {name!r}: dates outside the training range [{col['min']}, {col['max']}]")
    except (ValueError, TypeError, OverflowError) as exc:
        return None, [f"column {name!r}: the dates cannot be compared with the training dates "
                      f"({str(exc).splitlines()[0][:120]})"], []
    return series, [], notes


def predict_payload(package: Package, X: pd.DataFrame) -> dict:
    """The response body of ``/predict`` for rows ``X``."""
    out = {"model": package.name}
    final, Xt = _preprocessed(package, X)
    y = np.asarray(final.predict(Xt))
    out["predictions"] = _jsonable(y)
    if package.task == "classification" and hasattr(package.model, "predict_proba"):
        try:
            proba = np.asarray(final.predict_proba(Xt), dtype=float)
        except (AttributeError, NotImplementedError):
            proba = None
        if proba is not None:
            classes = getattr(package.model, "classes_", package.classes_)
            out["classes"] = _jsonable(np.asarray(classes))
            out["probabilities"] = np.round(proba, 6).tolist()
    return out


def _preprocessed(package, X):
    """(final estimator, X through the preprocessing steps): what ``Pipeline.predict`` and
    ``predict_proba`` each compute, done once for both."""
    steps = getattr(package.model, "steps", None)
    if not steps or len(steps) < 2:
        return package.model, X
    head = getattr(package, "_head", None)
    if head is None:
        head = package._head = package.model[:-1]
    return steps[-1][1], head.transform(X)


def _jsonable(arr: np.ndarray) -> list:
    if arr.dtype.kind == "f":
        return [None if not math.isfinite(v) else v for v in arr.tolist()] if arr.ndim == 1 else arr.tolist()
    if arr.dtype.kind in "iub":
        return arr.tolist()
    return [v if isinstance(v, (str, int, float, bool)) or v is None else str(v) for v in arr.tolist()]


# -- the app --------------------------------------------------------------------------------

# Host names a browser resolves to this machine without asking DNS: a page elsewhere cannot
# rebind them to the service (DNS rebinding), so they are allowed by default
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def check_allowed_hosts(allowed_hosts, host: str = "127.0.0.1") -> tuple:
    """The Host names the service answers: ``allowed_hosts`` (a list or "H1,H2"; "*": any),
    by default the localhost names plus the bound address when it is a specific one."""
    if allowed_hosts is None:
        names = list(LOCAL_HOSTS)
        bound = host.strip("[]").lower()
        if bound not in ("0.0.0.0", "::", ""):
            names.append(bound)
        return tuple(dict.fromkeys(names))
    if isinstance(allowed_hosts, str):
        allowed_hosts = allowed_hosts.split(",")
    if not isinstance(allowed_hosts, (list, tuple, set)) or not all(isinstance(h, str) for h in allowed_hosts):
        raise TypeError(f"allowed_hosts={allowed_hosts!r} must be host names, e.g. ['localhost', 'models.internal'] "
                        f"or 'localhost,models.internal'")
    names = [h.strip().strip("[]").lower().rstrip(".") for h in allowed_hosts if h.strip()]
    bad = [h for h in names if h != "*" and (any(c in h for c in " /@?#") or h.startswith("*"))]
    if not names or bad:
        raise NbmlError(f"allowed_hosts={allowed_hosts!r}: {bad[0]!r} is not a host name" if bad else
                        "allowed_hosts is empty: give host names, e.g. 'localhost,models.internal' ('*': any)")
    return tuple(dict.fromkeys(names))


def host_name(header: str | None) -> str | None:
    """The name in a Host header, without the port (``[::1]:8000`` -> ``::1``)."""
    if not header:
        return None
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[1:end] if end > 0 else None
    name, _, port = header.rpartition(":")
    if name and port.isdigit():
        header = name
    return header.rstrip(".")


def host_allowed(header: str | None, allowed: tuple) -> bool:
    if "*" in allowed:
        return True
    name = host_name(header)
    if name is None:
        return False
    return name in allowed or ("localhost" in allowed and name.endswith(".localhost"))


class HostGuard:
    """ASGI middleware: answers 400 to a request whose Host header is not allowed (a page
    that rebinds its own domain to 127.0.0.1 sends its domain as Host)."""

    def __init__(self, app, allowed: tuple, on_refused=None):
        self.app, self.allowed, self.on_refused = app, allowed, on_refused

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        header = headers.get(b"host", b"").decode("latin-1")
        if host_allowed(header, self.allowed):
            return await self.app(scope, receive, send)
        from starlette.responses import JSONResponse

        if self.on_refused is not None:
            self.on_refused()
        shown = header[:100] or "(none)"
        response = JSONResponse({"detail": f"Host {shown!r} is not allowed: this service answers "
                                           f"{', '.join(self.allowed)} (start it with --allowed-hosts to add names)"},
                                status_code=400)
        await response(scope, receive, send)


def _parse_int(text: str):
    """JSON integers: a long one becomes a float (infinite past 1e308), never a 4,300-digit int."""
    return int(text) if len(text) <= 300 else float(text)


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def _is_json(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def make_app(package: Package, max_body: int = MAX_BODY_BYTES, max_rows: int = MAX_ROWS, log=None,
             allowed_hosts: tuple = LOCAL_HOSTS):
    """The FastAPI application serving ``package`` (``log``: a ``PredictionLog`` or None;
    ``allowed_hosts``: the Host names it answers, from ``check_allowed_hosts``)."""
    require("fastapi", what="serving a model")
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    app = FastAPI(title=f"nbml: {package.name}", docs_url=None, redoc_url=None, openapi_url=None)
    state = {"started": time.time(), "requests": 0, "errors": 0}
    card = json.loads(json.dumps(package.card, default=str))

    def error(status, message):
        state["errors"] += 1
        return JSONResponse({"detail": message}, status_code=status)

    async def read_body(request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise RequestError(400, f"Content-Length {length!r} is not a number")
            if int(length) > max_body:
                raise RequestError(413, f"the body has {int(length)} bytes, more than the limit of {max_body}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise RequestError(413, f"the body is larger than the limit of {max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    @app.post("/predict")
    async def predict(request: Request):
        start = time.perf_counter()
        state["requests"] += 1
        X = None
        try:
            media = _media_type(request.headers.get("content-type"))
            if not _is_json(media):
                raise RequestError(415, f"send the body as JSON with the header Content-Type: application/json "
                                        f"(got {media[:60] or 'no Content-Type'})")
            body = await read_body(request)
            if not body.strip():
                raise RequestError(400, "empty body: send JSON records, e.g. [{\"x\": 1.0}]")
            try:
                payload = json.loads(body, parse_int=_parse_int)
            except (ValueError, UnicodeDecodeError) as exc:
                raise RequestError(400, f"the body is not valid JSON: {exc}") from None
            X, notes = to_frame(payload, package, max_rows)
            try:
                out = await run_in_threadpool(predict_payload, package, X)
            except Exception as exc:  # noqa: BLE001 - the rows passed the schema but the model refused them
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise RequestError(422, f"the model could not predict these rows: {type(exc).__name__}: "
                                        f"{message[:300]}") from None
            if notes:
                out["warnings"] = notes
            latency = (time.perf_counter() - start) * 1000
            if log is not None:
                log.record(X, out["predictions"], latency, 200)
            return JSONResponse(out)
        except RequestError as exc:
            if log is not None:
                log.record(None, None, (time.perf_counter() - start) * 1000, exc.status, exc.message[:500],
                           n_rows=0 if X is None else len(X))
            return error(exc.status, exc.message)
        except Exception as exc:  # noqa: BLE001 - never a 500: an unexpected failure is reported as 400
            logging.getLogger(__name__).warning("unexpected failure handling /predict", exc_info=exc)  # its traceback
            return error(400, f"the request could not be handled: {type(exc).__name__}: {str(exc)[:300]}")

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": package.name, "task": package.task,
                "uptime_s": round(time.time() - state["started"], 3), "requests": state["requests"],
                "errors": state["errors"]}

    @app.get("/metadata")
    async def metadata():
        return card

    app.state.nbml = state
    app.add_middleware(HostGuard, allowed=tuple(allowed_hosts), on_refused=lambda: state.update(
        errors=state["errors"] + 1))
    return app


# -- running it -----------------------------------------------------------------------------

class ServiceHandle:
    """A running service: ``url``, ``stop()``; a context manager that stops on exit."""

    def __init__(self, server, thread, sock, package, log):
        self._server, self._thread, self._sock = server, thread, sock
        self.package = package
        self.source = package
        self.log = log
        self.allowed_hosts = LOCAL_HOSTS
        host, port = sock.getsockname()[:2]
        self.host, self.port = host, port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"
        self.started = datetime.now()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (finishes requests in flight) and flush the prediction log."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        try:
            self._sock.close()
        except OSError:
            pass
        if self.log is not None:
            self.log.close()
        _RUNNING.pop(self.url, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<nbml service {self.package.name} at {self.url} ({state})>"

    def _repr_html_(self) -> str:
        state = "running" if self.running else "stopped"
        return (f"<b>nbml service</b> <code>{self.package.name}</code> at "
                f"<a href='{self.url}/metadata' target='_blank'>{self.url}</a> ({state}): "
                f"<code>POST {self.url}/predict</code>")


def _package(source, trusted=None, key=None) -> Package:
    from nbml.training import TrainResult

    if isinstance(source, Package):
        return source
    if isinstance(source, TrainResult):
        return Package.from_result(source)
    if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        return load(source, trusted=trusted, key=key)
    raise TypeError(f"serve() needs a TrainResult, a Package or a package folder path; got {type(source).__name__}")


def _check_options(port, host, max_body, max_rows):
    if port is not None and (isinstance(port, bool) or not isinstance(port, (int, np.integer)) or
                             not 0 <= port <= 65535):
        raise NbmlError(f"port={port!r} must be an integer from 0 to 65535 (None or 0: a free port)")
    if not isinstance(host, str) or not host.strip():
        raise TypeError(f"host={host!r} must be an address such as '127.0.0.1'")
    for key, value in (("max_body", max_body), ("max_rows", max_rows)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise NbmlError(f"{key}={value!r} must be a positive integer")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
    except OSError as exc:
        sock.close()
        raise NbmlError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another port "
                        f"(or port=None for a free one)") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def serve(result_or_path, port: int | None = None, host: str = "127.0.0.1", *, max_body: int = MAX_BODY_BYTES,
          max_rows: int = MAX_ROWS, log: bool = True, storage: str | None = None, log_settings: dict | None = None,
          trusted=None, key=None, allowed_hosts=None, timeout: float = 30.0) -> ServiceHandle:
    """Serve a model over HTTP in a background thread; returns a handle with ``url`` and ``stop()``.

    ``result_or_path``: a ``TrainResult``, a ``Package`` or a package folder (``nbml.deploy``;
    with ``key`` or ``$NBML_SIGNING_KEY`` set, it must carry that key's signature).
    ``port=None`` takes a free port. ``allowed_hosts``: the Host names answered (a list or
    "H1,H2"; default: localhost names and the bound address; "*": any). Each prediction is
    logged to the store unless ``log=False`` (``log_settings``: ``sample``, ``max_rows``,
    ``max_input_rows``; see ``LOG_SETTINGS``). The service stops at interpreter exit.
    """
    uvicorn = require("uvicorn", what="serving a model")
    from nbml.deployment.log import PredictionLog

    _check_options(port, host, max_body, max_rows)
    hosts = check_allowed_hosts(allowed_hosts, host)
    require("fastapi", what="serving a model")
    package = _package(result_or_path, trusted, key)
    prediction_log = PredictionLog(package.name, storage, **(log_settings or {})) if log else None
    app = make_app(package, max_body=max_body, max_rows=max_rows, log=prediction_log, allowed_hosts=hosts)
    try:
        sock = _bind(host, port or 0)
    except NbmlError:
        if prediction_log is not None:
            prediction_log.close()
        raise
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, timeout_keep_alive=30)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="nbml-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    handle = ServiceHandle(server, thread, sock, package, prediction_log)
    handle.source = result_or_path
    handle.allowed_hosts = hosts
    if not server.started:
        handle.stop(timeout=2)
        raise RuntimeError(f"the service did not start within {timeout} s on {host}:{port or 0}")
    _RUNNING[handle.url] = handle
    return handle


def running() -> list:
    """Handles of the services this process runs."""
    return list(_RUNNING.values())


def stop_all() -> int:
    handles = running()
    for handle in handles:
        handle.stop()
    return len(handles)


def at_exit(callback) -> None:
    """Run ``callback`` when the interpreter exits, before it waits for (and then abandons)
    threads: a service or monitor thread left running in native code (torch, sqlite) while the
    interpreter finalizes aborts the process ("terminate called without an active exception")."""
    register = getattr(threading, "_register_atexit", None)  # what concurrent.futures uses
    try:
        if register is not None:
            register(callback)
            return
    except RuntimeError:  # the interpreter is already shutting down
        return
    atexit.register(callback)


at_exit(stop_all)


def main(argv=None) -> int:
    """``python -m nbml serve PATH [--port 8000] [--host 127.0.0.1] [--allowed-hosts H1,H2]``:
    serve until Ctrl-C. With ``$NBML_SIGNING_KEY`` set, only a package signed with it is served."""
    from nbml.deployment.log import PredictionLog
    from nbml.deployment.package import UntrustedPackageError

    parser = argparse.ArgumentParser(prog="python -m nbml serve", description="Serve an nbml package over HTTP.")
    parser.add_argument("path", help="package folder written by nbml.deploy / %%deploy")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: a free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--max-body", type=int, default=MAX_BODY_BYTES, help="largest request body in bytes")
    parser.add_argument("--max-rows", type=int, default=MAX_ROWS, help="most rows per request")
    parser.add_argument("--no-log", action="store_true", help="do not log predictions to the nbml store")
    parser.add_argument("--trust", action="append", default=None, metavar="TYPE",
                        help="accept this type in the package (repeatable; only for packages you trust)")
    parser.add_argument("--allowed-hosts", default=None, metavar="H1,H2",
                        help="Host names answered (default: localhost names and the bound address; '*': any)")
    args = parser.parse_args(argv)
    try:
        uvicorn = require("uvicorn", what="serving a model")
        require("fastapi", what="serving a model")
        _check_options(args.port, args.host, args.max_body, args.max_rows)
        hosts = check_allowed_hosts(args.allowed_hosts, args.host)
        package = load(args.path, trusted=args.trust)
        sock = _bind(args.host, args.port)
    except (ValueError, TypeError, UntrustedPackageError) as exc:
        print(f"nbml serve: {exc}", file=sys.stderr)
        return 2
    prediction_log = None if args.no_log else PredictionLog(package.name)
    app = make_app(package, max_body=args.max_body, max_rows=args.max_rows, log=prediction_log, allowed_hosts=hosts)
    host, port = sock.getsockname()[:2]
    print(f"nbml: serving {package.name} at http://{host}:{port} (POST /predict, GET /health, GET /metadata); "
          f"Ctrl-C stops", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    try:
        server.run(sockets=[sock])
    finally:
        if prediction_log is not None:
            prediction_log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
