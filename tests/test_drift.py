"""Drift reports and monitors: shifted data is flagged and triggers a retrain; unshifted data does not."""
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.linear_model import LogisticRegression

import nbml
from nbml.deployment import Monitor, deploy, drift, load, monitoring


@pytest.fixture(scope="module")
def cancer_split(cancer):
    split = nbml.split(cancer, target="target", seed=0)
    nbml.data.set_active(None)
    return split


@pytest.fixture(scope="module")
def result(cancer_split):
    return nbml.train(LogisticRegression(max_iter=3000), split=cancer_split)


@pytest.fixture(scope="module")
def fresh(cancer_split):
    """Unseen rows from the same distribution, with labels."""
    s = cancer_split
    return pd.concat([s.X_val, s.X_test]).assign(target=pd.concat([s.y_val, s.y_test]))


def shift(df):
    out = df.copy()
    out["mean radius"] *= 1.4
    out["worst texture"] += 10
    return out


def test_unshifted_data_has_no_drift(result, fresh):
    report = drift(result, fresh)
    assert not report.drifted and report.drifted_features == []
    assert report.level == "ok"  # not even a warning: 31 tests, Bonferroni-corrected
    assert report.performance_drift == "ok" and report.prediction_drift == "ok"
    assert set(report.table.columns) == {"kind", "verdict", "psi", "test", "statistic", "p_value", "reference",
                                         "current"}
    assert len(report.table) == 31  # 30 features + the prediction


def test_shifted_features_are_flagged_first(result, fresh):
    report = drift(result, shift(fresh))
    assert report.drifted
    assert set(report.drifted_features) == {"mean radius", "worst texture"}
    assert list(report.table.index[:2]) != [] and set(report.table.index[:2]) == {"mean radius", "worst texture"}
    rank = report.table["verdict"].map({"drift": 2, "warning": 1, "ok": 0}).to_numpy()
    assert (np.diff(rank) <= 0).all()  # sorted by severity
    row = report.table.loc["worst texture"]
    assert row["test"] == "ks" and row["p_value"] < 1e-6 and row["psi"] > 0.25
    assert report.verdict.startswith("DRIFT: drift in 2 feature(s)")


def test_categorical_drift_uses_chi_square():
    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame({"x": rng.normal(size=n), "color": rng.choice(["red", "green", "blue"], size=n)})
    df["y"] = np.where(df["x"] + (df["color"] == "red") > 0.5, "yes", "no")
    split = nbml.split(df, target="y", seed=0)
    nbml.data.set_active(None)
    result = nbml.train(LogisticRegression(), split=split)
    same = drift(result, split.X_test)
    assert same.table.loc["color", "test"] == "chi2" and same.table.loc["color", "verdict"] != "drift"
    new = split.X_test.copy()
    new["color"] = rng.choice(["red", "green", "blue", "purple"], p=[0.7, 0.1, 0.1, 0.1], size=len(new))
    report = drift(result, new)
    assert report.table.loc["color", "verdict"] == "drift" and report.table.loc["color", "p_value"] < 1e-6
    assert "color" in report.drifted_features and "x" not in report.drifted_features


def test_performance_and_prediction_drift_with_labels(result, fresh):
    flipped = fresh.assign(target=1 - fresh["target"])
    report = drift(result, flipped)
    assert report.performance_drift == "drift" and report.drifted
    assert report.performance.loc["accuracy", "current"] < 0.1
    assert "accuracy fell from" in report.verdict
    # predictions move when a feature that matters moves
    worse = fresh.drop(columns="target").copy()
    for col in ("worst radius", "worst perimeter", "worst area", "worst concave points", "mean concave points"):
        worse[col] *= 3
    assert drift(result, worse).prediction_drift == "drift"


def test_thresholds_are_configurable(result, fresh, monkeypatch):
    lenient = {"psi": 100.0, "ks": 1.0, "p_value": 1e-300}
    assert not drift(result, shift(fresh), thresholds=lenient).drifted
    monkeypatch.setitem(monitoring.THRESHOLDS, "psi", 100.0)
    monkeypatch.setitem(monitoring.THRESHOLDS, "ks", 1.0)
    report = drift(result, shift(fresh))
    assert report.table.loc["mean radius", "verdict"] == "warning"  # significant, but below every drift bar
    assert drift(result, fresh.head(10)).level == "too few rows"


def test_plot_most_drifted_features(result, fresh):
    report = drift(result, shift(fresh))
    fig = report.plot(n=3)
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3 and visible[0].get_title().split("\n")[0] in {"mean radius", "worst texture"}
    assert "data:image/png;base64," in report._repr_html_()
    with pytest.raises(ValueError, match="n=0 must be a positive integer"):
        report.plot(n=0)
    with pytest.raises(ValueError, match="unknown feature"):
        report.plot(features=["nope"])


def test_monitor_retrains_on_shifted_data_not_on_unshifted(result, fresh, cancer_split):
    retrained = []

    def retrain(report):
        new = report.current.assign(target=fresh["target"].to_numpy()[:len(report.current)])
        updated = nbml.train(LogisticRegression(max_iter=3000), data=pd.concat([
            cancer_split.X_train.assign(target=cancer_split.y_train), new]), target="target")
        retrained.append(report.drifted_features)
        return updated

    monitor = Monitor(result, retrain)
    assert not monitor.check(fresh.drop(columns="target")).drifted
    assert retrained == []  # unshifted: no retrain
    assert monitor.check(shift(fresh).drop(columns="target")).drifted
    assert retrained == [["mean radius", "worst texture"]] or sorted(retrained[0]) == ["mean radius", "worst texture"]
    assert monitor.model is not result  # the retrained model is watched from now on
    history = monitor.history
    assert list(history["triggered"]) == [False, True] and list(history["replaced_model"]) == [False, True]


def test_monitor_on_a_schedule(result, fresh):
    batches = [fresh.drop(columns="target"), shift(fresh).drop(columns="target")]
    alerts = []
    monitor = Monitor(result, lambda report: alerts.append(report.verdict))
    monitor.start(every=0.05, source=lambda: batches.pop(0) if batches else None)
    try:
        for _ in range(400):  # bounded wait
            if alerts:
                break
            import time

            time.sleep(0.05)
    finally:
        monitor.stop()
    assert not monitor.running
    assert len(alerts) == 1 and alerts[0].startswith("DRIFT")
    assert list(monitor.history["triggered"]) == [False, True]


def test_drift_of_a_package_and_of_the_prediction_log(result, fresh, tmp_path):
    import httpx

    deploy(result, tmp_path / "pkg")
    package = load(tmp_path / "pkg")
    assert drift(package, shift(fresh)).drifted
    assert drift(str(tmp_path / "pkg"), fresh).drifted is False
    store = str(tmp_path / "store.db")
    rows = shift(fresh).drop(columns="target")
    with nbml.serve(package, storage=store, log_settings={"max_input_rows": 500}) as handle:
        import json

        response = httpx.post(f"{handle.url}/predict", json=json.loads(rows.to_json(orient="records")))
        assert response.status_code == 200
        handle.log.flush()
    report = drift(package, log=True, storage=store)
    assert report.n_rows == len(rows) and report.drifted


def test_monitor_watches_the_prediction_log_on_a_schedule(result, fresh, tmp_path):
    import json
    import time

    import httpx

    store = str(tmp_path / "store.db")
    deploy(result, tmp_path / "pkg")
    package = load(tmp_path / "pkg")
    alerts = []
    monitor = Monitor(package, alerts.append, storage=store)
    with nbml.serve(package, storage=store) as handle:
        def send(frame):
            for start in range(0, len(frame), 50):
                part = frame.iloc[start:start + 50]
                assert httpx.post(f"{handle.url}/predict", json=json.loads(part.to_json(orient="records"))).is_success
            handle.log.flush()

        send(fresh.drop(columns="target").head(5))  # logged before the monitor starts: not checked
        monitor.start(every=0.05)
        try:
            send(shift(fresh).drop(columns="target"))
            for _ in range(400):  # bounded wait
                if alerts:
                    break
                time.sleep(0.05)
        finally:
            monitor.stop()
    assert alerts and {"mean radius", "worst texture"} <= set(alerts[0].drifted_features)
    assert sum(monitor.history["rows"]) <= len(fresh)  # the five rows from before start() were skipped
    assert monitor.history["rows"].min() >= 30  # small batches wait for min_rows
    last = drift(package, log=2, storage=store)  # the last two requests only
    assert last.n_rows == 50 + len(fresh) % 50


@pytest.mark.parametrize("call, error, message", [
    (lambda r, f: drift(42, f), TypeError, "needs a TrainResult, a Package or a package path"),
    (lambda r, f: drift(r), ValueError, "no new data"),
    (lambda r, f: drift(r, f.drop(columns=["mean radius"])), ValueError, "missing the training column.*'mean radius'"),
    (lambda r, f: drift(r, f.head(0)), ValueError, "no rows"),
    (lambda r, f: drift(r, f.drop(columns="target"), y=[1, 0]), ValueError, "y has 2 values"),
    (lambda r, f: drift(r, f, thresholds={"psi_max": 1}), ValueError, "unknown threshold.*valid: p_value, psi, ks"),
    (lambda r, f: drift(r, f, thresholds={"p_value": 2}), ValueError, "p_value=2 must be between 0 and 1"),
    (lambda r, f: drift(r, f, thresholds={"bins": -3}), ValueError, "bins=-3 must be a positive number"),
    (lambda r, f: drift(r, f, thresholds=[1]), TypeError, "thresholds=.* must be a dict"),
    (lambda r, f: drift(r, f, log=True), ValueError, "give data or log=True, not both"),
    (lambda r, f: Monitor(r, callback=3), TypeError, "callback=3 must be a function"),
    (lambda r, f: Monitor(r, print, on="always"), ValueError, "on='always' must be 'drift' or 'warning'"),
    (lambda r, f: Monitor(r, print).start(every=0), ValueError, "every=0 must be a positive number"),
])
def test_bad_input_one_clear_error(result, fresh, call, error, message):
    with pytest.raises(error, match=message):
        call(result, fresh)


def test_monitor_on_warning(result, fresh):
    small = {"psi": 100.0, "ks": 1.0}  # the shift is significant but below every size bar: a warning
    on_drift, on_warning = [], []
    Monitor(result, on_drift.append, thresholds=small).check(shift(fresh))
    Monitor(result, on_warning.append, thresholds=small, on="warning").check(shift(fresh))
    assert on_drift == [] and len(on_warning) == 1 and on_warning[0].level == "warning"


def test_too_few_rows_never_trigger(result, fresh):
    fired = []
    monitor = Monitor(result, fired.append)
    report = monitor.check(shift(fresh).head(5))
    assert report.level == "too few rows" and "at least 30" in report.verdict and fired == []


def test_drift_magic(run, result, fresh):
    from IPython import get_ipython

    ns = get_ipython().user_ns
    ns.update(model_r=result, new_rows=shift(fresh))
    cell = run("%drift model_r new_rows -o rep")
    assert cell.error is None, cell.err
    assert ns["rep"].drifted and cell.value is ns["rep"]
    cell = run("%drift model_r")
    assert cell.error is not None and "missing the new data" in str(cell.error)
    ns["few_cols"] = fresh[["mean radius"]]
    cell = run("%drift model_r few_cols")
    assert cell.error is not None and "missing the training column" in str(cell.error)
