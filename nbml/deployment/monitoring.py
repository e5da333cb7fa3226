"""Drift: compare new data (or the prediction log) with the training data.

Per feature: the population stability index (PSI, over quantile bins of the training data)
and the two-sample Kolmogorov-Smirnov test for numeric columns; PSI and the chi-square test
of the category counts for categorical and boolean ones. The model's predictions on both
are compared the same way (prediction drift), and when labels come with the new data the
primary metric is compared with the validation score (performance drift). Each row gets a
verdict, ``ok`` / ``warning`` / ``drift``, from the thresholds in ``THRESHOLDS``.

``Monitor`` runs the same check on each batch (``check``) or on a schedule (``start``)
and calls a callback -- an alert, or a retrain -- when drift passes the threshold.
"""
from __future__ import annotations

import math
import threading
import warnings
import weakref
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from nbml.errors import NbmlError

# Defaults of every threshold; %config Nbml.drift_<name> changes them (the lead wires these).
THRESHOLDS = {
    "p_value": 0.01,           # significance level of KS / chi-square over all features (Bonferroni)
    "psi": 0.25,               # PSI that, when significant, is 'drift' (not significant: 'warning')
    "ks": 0.2,                 # KS statistic that, when significant, is 'drift' (numeric features)
    "performance_drop": 0.05,  # drop of the primary metric (absolute) that is 'drift'
    "min_rows": 30,            # fewer new rows than this: no verdict
    "bins": 10,                # PSI bins (quantiles of the training data)
}
VERDICTS = ("ok", "warning", "drift")
_EPS = 1e-4  # floor of bin proportions, so an empty bin does not make PSI infinite


def check_thresholds(thresholds: dict | None) -> dict:
    merged = dict(THRESHOLDS)
    if thresholds is None:
        return merged
    if not isinstance(thresholds, dict):
        raise TypeError(f"thresholds={thresholds!r} must be a dict such as {{'psi': 0.2}}")
    unknown = sorted(set(thresholds) - set(THRESHOLDS))
    if unknown:
        raise NbmlError(f"unknown threshold(s) {', '.join(unknown)}; valid: {', '.join(THRESHOLDS)}")
    merged.update(thresholds)
    for key, value in merged.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise NbmlError(f"threshold {key}={value!r} must be a positive number")
    if merged["p_value"] >= 1:
        raise NbmlError(f"threshold p_value={merged['p_value']!r} must be between 0 and 1")
    for key in ("min_rows", "bins"):
        if int(merged[key]) != merged[key] or (key == "bins" and merged[key] < 2):
            raise NbmlError(f"threshold {key}={merged[key]!r} must be an integer" + (" of at least 2" if key == "bins"
                                                                                      else ""))
        merged[key] = int(merged[key])
    return merged


# -- statistics ------------------------------------------------------------------------------

def psi_numeric(ref: np.ndarray, new: np.ndarray, bins: int = 10) -> float:
    """PSI over the reference's quantile bins (open-ended at both sides)."""
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1))[1:-1])
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1) / len(ref)
    n = np.bincount(np.searchsorted(edges, new, side="right"), minlength=len(edges) + 1) / len(new)
    return _psi(r, n)


def _psi(r: np.ndarray, n: np.ndarray) -> float:
    r = np.clip(r, _EPS, None)
    n = np.clip(n, _EPS, None)
    return float(np.sum((n - r) * np.log(n / r)))


def _category_counts(ref: pd.Series, new: pd.Series):
    ref_counts = ref.astype(str).value_counts()
    new_counts = new.astype(str).value_counts()
    cats = list(ref_counts.index) + [c for c in new_counts.index if c not in ref_counts.index]
    return cats, ref_counts.reindex(cats, fill_value=0).to_numpy(float), new_counts.reindex(cats, fill_value=0).to_numpy(float)


def compare_numeric(ref, new, t) -> dict:
    from scipy.stats import ks_2samp

    ref = np.asarray(ref, dtype=float)
    new = np.asarray(new, dtype=float)
    ref, new = ref[np.isfinite(ref)], new[np.isfinite(new)]
    if len(ref) == 0 or len(new) == 0:
        return {"test": "ks", "statistic": np.nan, "p_value": np.nan, "psi": np.nan}
    ks = ks_2samp(ref, new)
    psi = psi_numeric(ref, new, t["bins"])
    return {"test": "ks", "statistic": float(ks.statistic), "p_value": float(ks.pvalue), "psi": psi,
            "reference": float(np.mean(ref)), "current": float(np.mean(new))}


def compare_categorical(ref, new, t) -> dict:
    from scipy.stats import chi2_contingency

    ref, new = pd.Series(ref).dropna(), pd.Series(new).dropna()
    if len(ref) == 0 or len(new) == 0:
        return {"test": "chi2", "statistic": np.nan, "p_value": np.nan, "psi": np.nan}
    cats, r, n = _category_counts(ref, new)
    psi = _psi(r / r.sum(), n / n.sum())
    if len(cats) < 2:
        stat, p = 0.0, 1.0
    else:
        stat, p = chi2_contingency(np.vstack([r, n]) + 0.5)[:2]  # +0.5: a category absent on one side is allowed
    top_ref = cats[int(np.argmax(r))]
    return {"test": "chi2", "statistic": float(stat), "p_value": float(p), "psi": psi,
            "reference": f"{top_ref}: {r.max() / r.sum():.0%}",
            "current": f"{top_ref}: {n[cats.index(top_ref)] / n.sum():.0%}"}


def verdict(row: dict, t: dict, tests: int = 1) -> str:
    """'drift' when the difference is significant and large (PSI >= psi, or for numeric
    features KS >= ks); 'warning' when it is only one of the two (a large PSI on too few
    rows to be sure, or a significant but small shift); else 'ok'. Significant means
    p < p_value / tests (Bonferroni): with 30 features tested, p_value stays the chance of
    a false alarm in the whole report, not per feature."""
    psi, p, stat = row.get("psi"), row.get("p_value"), row.get("statistic")
    if psi is None or (isinstance(psi, float) and math.isnan(psi)):
        return "ok"
    significant = p is not None and not math.isnan(p) and p < t["p_value"] / max(1, tests)
    large = psi >= t["psi"] or (row.get("test") == "ks" and stat >= t["ks"])
    if significant and large:
        return "drift"
    if significant or large:
        return "warning"
    return "ok"


# -- the report --------------------------------------------------------------------------------

class DriftReport:
    """What ``drift()`` found: ``table`` (one row per feature, plus the prediction, most
    drifted first), ``performance`` (when labels were given), ``drifted`` (bool),
    ``drifted_features``, ``verdict``; ``plot(n)`` draws the most drifted features."""

    def __init__(self, table, performance, reference, current, kinds, thresholds, n_rows, model=None,
                 predictions=None):
        self.table = table
        self.performance = performance
        self.reference = reference
        self.current = current
        self.kinds = kinds
        self.thresholds = thresholds
        self.n_rows = n_rows
        self.model = model
        self.predictions = predictions  # (reference, current) predictions
        self.created = datetime.now(timezone.utc)

    @property
    def enough_rows(self) -> bool:
        return self.n_rows >= self.thresholds["min_rows"]

    @property
    def drifted_features(self) -> list:
        t = self.table
        return [f for f in t.index[t["verdict"] == "drift"] if t.loc[f, "kind"] != "prediction"]

    @property
    def warned_features(self) -> list:
        t = self.table
        return [f for f in t.index[t["verdict"] == "warning"] if t.loc[f, "kind"] != "prediction"]

    @property
    def prediction_drift(self) -> str | None:
        rows = self.table[self.table["kind"] == "prediction"]
        return None if rows.empty else rows["verdict"].iloc[0]

    @property
    def performance_drift(self) -> str | None:
        if self.performance is None:
            return None
        return "drift" if bool(self.performance["drift"].any()) else "ok"

    @property
    def level(self) -> str:
        """The worst verdict: 'ok', 'warning', 'drift' (or 'too few rows')."""
        if not self.enough_rows:
            return "too few rows"
        verdicts = list(self.table["verdict"])
        if self.performance_drift == "drift":
            verdicts.append("drift")
        return max(verdicts, key=VERDICTS.index) if verdicts else "ok"

    @property
    def drifted(self) -> bool:
        return self.level == "drift"

    @property
    def verdict(self) -> str:
        if not self.enough_rows:
            return (f"too few rows to judge: {self.n_rows} new rows, at least {self.thresholds['min_rows']} "
                    f"needed (threshold min_rows)")
        parts = []
        if self.drifted_features:
            parts.append(f"drift in {len(self.drifted_features)} feature(s): {', '.join(self.drifted_features[:5])}"
                         + (" ..." if len(self.drifted_features) > 5 else ""))
        if self.prediction_drift == "drift":
            parts.append("the predictions drifted")
        if self.performance_drift == "drift":
            row = self.performance[self.performance["drift"]].iloc[0]
            parts.append(f"{row.name} fell from {row['reference']:.3f} to {row['current']:.3f}")
        if parts:
            return "DRIFT: " + "; ".join(parts)
        if self.level == "warning":
            return f"warning: small shifts in {', '.join(self.warned_features[:5]) or 'the predictions'}"
        return f"no drift in {self.n_rows} rows"

    def plot(self, n: int = 4, features=None):
        """Distributions (training vs new) of the ``n`` most drifted features, as a Figure."""
        from nbml.deployment.views import plot_drift

        return plot_drift(self, n=n, features=features)

    def __repr__(self) -> str:
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            return f"{self.verdict}\n{self.table.round(4)}"

    def _repr_html_(self) -> str:
        from nbml.deployment.views import report_html

        return report_html(self)


def _resolve(model):
    """(package, reference DataFrame) of a TrainResult, Package or package path."""
    from nbml.deployment.package import Package, load
    from nbml.training import TrainResult

    if isinstance(model, TrainResult):
        return Package.from_result(model, reference_rows=0), model.split.X_train
    if isinstance(model, Package):
        return model, model.reference
    if isinstance(model, str) or hasattr(model, "__fspath__"):
        package = load(model)
        return package, package.reference
    raise TypeError(f"drift() needs a TrainResult, a Package or a package path as the model; got "
                    f"{type(model).__name__}")


def drift(model, data=None, y=None, *, log: bool | int = False, reference: pd.DataFrame | None = None,
          thresholds: dict | None = None, storage: str | None = None) -> DriftReport:
    """Drift report of ``data`` (new rows) against the training data of ``model``.

    ``model``: a ``TrainResult``, a ``Package`` or a package path. ``data``: a DataFrame with
    the training columns; when it also has the target column (or ``y`` is given) the
    performance is compared too. ``log=True`` (or ``log=N``: the last N requests) compares
    the served inputs in the prediction log instead. ``thresholds`` overrides ``THRESHOLDS``.
    """
    t = check_thresholds(thresholds)
    package, ref = _resolve(model)
    if reference is not None:
        if not isinstance(reference, pd.DataFrame):
            raise TypeError(f"reference must be a DataFrame of training rows; got {type(reference).__name__}")
        ref = reference
    if ref is None:
        raise NbmlError("the package keeps no training sample (deployed with reference_rows=0): pass "
                        "reference=TRAINING_DF")
    features = package.features
    if log is not False and log is not None:
        if data is not None:
            raise NbmlError("give data or log=True, not both")
        if not isinstance(log, (bool, int)) or (not isinstance(log, bool) and log < 1):
            raise NbmlError(f"log={log!r} must be True or a positive number of recent requests")
        from nbml.deployment.log import prediction_log

        data = prediction_log(package.name, last=None if log is True else int(log), storage=storage, inputs=True)
        if data.empty:
            raise NbmlError(f"the prediction log has no inputs of model {package.name!r} yet: serve it and send "
                            f"requests first")
        data = data.drop(columns=["_id", "_created"])
    if data is None:
        raise NbmlError("no new data: pass a DataFrame with the training columns, or log=True")
    from nbml.data import as_frame

    data = as_frame(data, "data")
    target = package.card.get("target")
    if y is None and target is not None and target in data.columns:
        y = data[target]
    data = data.drop(columns=[target], errors="ignore") if target else data
    missing = [f for f in features if f not in data.columns]
    if missing:
        raise NbmlError(f"data is missing the training column(s) {', '.join(map(repr, missing[:10]))}"
                        + (f" (of {len(missing)})" if len(missing) > 10 else ""))
    if len(data) == 0:
        raise NbmlError("data has no rows")
    if y is not None and len(y) != len(data):
        raise NbmlError(f"y has {len(y)} values but data has {len(data)} rows")
    data = _align(data[features], ref)

    kinds = {c["name"]: c["kind"] for c in package.schema["columns"]}
    rows = {}
    for f in features:
        if kinds[f] == "numeric":
            row = compare_numeric(ref[f], data[f], t)
        elif kinds[f] == "datetime":
            row = compare_numeric(_as_seconds(ref[f]), _as_seconds(data[f]), t)
        else:
            row = compare_categorical(ref[f], data[f], t)
        row["kind"] = kinds[f]
        rows[f] = row

    predictions = None
    if package.task in ("classification", "regression"):
        try:
            p_ref, p_new = package.predict(ref), package.predict(data)
            predictions = (np.asarray(p_ref), np.asarray(p_new))
            row = (compare_numeric(p_ref, p_new, t) if package.task == "regression"
                   else compare_categorical(pd.Series(p_ref), pd.Series(p_new), t))
            row["kind"] = "prediction"
            rows["prediction"] = row
        except Exception as exc:  # noqa: BLE001 - features still tell the story
            warnings.warn(f"prediction drift skipped: the model could not predict: {exc}", stacklevel=2)

    table = pd.DataFrame.from_dict(rows, orient="index")
    for col in ("reference", "current"):
        if col not in table:
            table[col] = None
    table["verdict"] = [verdict(r, t, len(table)) for r in table.to_dict("records")] \
        if len(data) >= t["min_rows"] \
        else "too few rows"
    rank = table["verdict"].map({"drift": 2, "warning": 1}).fillna(0)
    table = (table.assign(_rank=rank, _psi=table["psi"].fillna(-1))
             .sort_values(["_rank", "_psi"], ascending=False).drop(columns=["_rank", "_psi"]))
    table = table[["kind", "verdict", "psi", "test", "statistic", "p_value", "reference", "current"]]
    table.index.name = "feature"

    performance = None
    if y is not None and package.task in ("classification", "regression"):
        performance = _performance(package, data, y, t)
    return DriftReport(table, performance, ref[features], data, kinds, t, len(data), package.name, predictions)


def _align(data: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    """New rows with the training dtypes where they convert (a logged JSON int column, ...)."""
    out = data.copy()
    for col in out.columns:
        if col in ref.columns and out[col].dtype != ref[col].dtype:
            try:
                out[col] = out[col].astype(ref[col].dtype)
            except (TypeError, ValueError):
                pass
    return out


def _as_seconds(s: pd.Series) -> np.ndarray:
    s = pd.to_datetime(s)
    return (s - pd.Timestamp(0, tz=s.dt.tz)).dt.total_seconds().to_numpy()


def _performance(package, data, y, t) -> pd.DataFrame:
    from nbml.metrics import PRIMARY, greater_is_better
    from nbml.training import predict

    current = predict(package.model, data, package.task, y=np.asarray(y)).metrics()
    reference = package.metrics
    rows = {}
    for name, value in current.items():
        ref_value = reference.get(name)
        if ref_value is None or value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        change = value - ref_value
        drop = -change if greater_is_better(name) else change
        rows[name] = {"reference": ref_value, "current": value, "change": change,
                      "drift": bool(name == PRIMARY[package.task] and drop >= t["performance_drop"])}
    return pd.DataFrame.from_dict(rows, orient="index")


# -- the monitor -------------------------------------------------------------------------------

class Monitor:
    """Watches a model for drift and calls ``callback(report)`` when it passes the threshold.

    ``check(batch)`` runs on one batch of new rows (labels optional); ``start(every=S)``
    checks on a schedule, each time on what ``source()`` returns (default: the prediction
    log's inputs since the last check). ``on='drift'`` calls back on drift only, ``'warning'``
    also on warnings. If the callback returns a new model (a ``TrainResult`` or ``Package``:
    a retrain), the monitor watches that one from then on. ``history`` lists every check.
    """

    def __init__(self, model, callback=None, *, on: str = "drift", thresholds: dict | None = None,
                 storage: str | None = None):
        if callback is not None and not callable(callback):
            raise TypeError(f"callback={callback!r} must be a function taking the DriftReport")
        if on not in ("drift", "warning"):
            raise NbmlError(f"on={on!r} must be 'drift' or 'warning'")
        self.thresholds = check_thresholds(thresholds)
        _resolve(model)  # fail now, not at the first batch
        self.model = model
        self.callback = callback
        self.on = on
        self.storage = storage
        self.reports: list = []
        self.errors: list = []
        self._rows = []
        self._thread = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._last_log_id = None

    def triggers(self, report: DriftReport) -> bool:
        if not report.enough_rows:
            return False
        return report.drifted if self.on == "drift" else report.level in ("warning", "drift")

    def check(self, data, y=None) -> DriftReport:
        """Drift report of ``data``; calls the callback when it triggers. Returns the report."""
        with self._lock:
            report = drift(self.model, data, y, thresholds=self.thresholds)
            fired = self.triggers(report)
            outcome = None
            if fired and self.callback is not None:
                outcome = self.callback(report)
                from nbml.deployment.package import Package
                from nbml.training import TrainResult

                if isinstance(outcome, (TrainResult, Package)):
                    self.model = outcome
            self.reports.append(report)
            self._rows.append({"time": report.created, "rows": report.n_rows, "level": report.level,
                               "drifted": ", ".join(report.drifted_features), "triggered": fired,
                               "replaced_model": outcome is not None and outcome is self.model})
            return report

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows, columns=["time", "rows", "level", "drifted", "triggered", "replaced_model"])

    def _log_source(self):
        from nbml.deployment.log import prediction_log

        package, _ = _resolve(self.model)
        rows = prediction_log(package.name, storage=self.storage, inputs=True)
        if rows.empty:
            return None
        if self._last_log_id is not None:
            rows = rows[rows["_id"] > self._last_log_id]
        if rows.empty:
            return None
        self._last_log_id = int(rows["_id"].max())
        return rows.drop(columns=["_id", "_created"])

    def start(self, every: float = 60.0, source=None, backlog: bool = False) -> Monitor:
        """Check every ``every`` seconds in a background thread (``stop()`` ends it).

        ``source()`` returns the next batch (a DataFrame, or None when there is nothing new);
        by default the inputs logged since the last check, starting now (``backlog=True``:
        starting with what the log already holds). Rows wait for the next check until there
        are ``min_rows`` of them."""
        if isinstance(every, bool) or not isinstance(every, (int, float)) or not every > 0:
            raise NbmlError(f"every={every!r} must be a positive number of seconds")
        if source is not None and not callable(source):
            raise TypeError(f"source={source!r} must be a function returning a DataFrame (or None)")
        if self.running:
            raise NbmlError("the monitor is already running; stop() it first")
        if source is None:
            source = self._log_source
            if not backlog:
                self._log_source()  # everything logged so far counts as seen
        self._stop.clear()

        def loop():
            pending = None  # rows wait until there are min_rows of them
            while not self._stop.wait(every):
                try:
                    batch = source()
                    if batch is not None and len(batch):
                        pending = batch if pending is None else pd.concat([pending, batch], ignore_index=True)
                    if pending is not None and len(pending) >= self.thresholds["min_rows"]:
                        batch, pending = pending, None
                        self.check(batch)
                except Exception as exc:  # noqa: BLE001 - a bad batch must not end the schedule
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    warnings.warn(f"nbml monitor: {type(exc).__name__}: {exc}", stacklevel=1)

        self._thread = threading.Thread(target=loop, name="nbml-monitor", daemon=True)
        self._thread.start()
        _RUNNING.add(self)
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """End the schedule; a check under way finishes first (waited for up to ``timeout`` s)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():  # a callback may stop its monitor
            thread.join(timeout)
            if thread.is_alive():
                warnings.warn(f"nbml monitor: a check was still running after {timeout:g} s; it ends when its "
                              f"callback returns", stacklevel=2)
            else:
                self._thread = None
        if thread is threading.current_thread():
            self._thread = None
        _RUNNING.discard(self)

    def __repr__(self) -> str:
        state = "running" if self.running else "idle"
        triggered = sum(r["triggered"] for r in self._rows)
        return f"<nbml Monitor ({state}): {len(self._rows)} checks, {triggered} triggered>"


# monitors whose schedule runs; at interpreter exit each finishes its check and stops, so that
# no check is cut off inside native code (which aborts the process)
_RUNNING: weakref.WeakSet = weakref.WeakSet()


def stop_all(timeout: float = 60.0) -> int:
    monitors = list(_RUNNING)
    for monitor in monitors:
        monitor.stop(timeout)
    return len(monitors)


def _register_exit():
    from nbml.deployment.service import at_exit

    at_exit(stop_all)


_register_exit()
