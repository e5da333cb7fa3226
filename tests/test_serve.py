"""The inference service over real HTTP on 127.0.0.1 (ephemeral ports, bounded request loops)."""
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

import nbml
from nbml.deployment import deploy, load, prediction_log, serve
from nbml.deployment.service import running

ROOT = Path(__file__).resolve().parent.parent
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def result(iris_result):
    return iris_result


@pytest.fixture(scope="module")
def package_dir(result, tmp_path_factory):
    path = tmp_path_factory.mktemp("pkg") / "iris"
    deploy(result, path)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return str(tmp_path_factory.mktemp("store") / "nbml.db")


@pytest.fixture(scope="module")
def service(package_dir, store):
    handle = serve(package_dir, storage=store)
    yield handle
    handle.stop()


@pytest.fixture
def client(service):
    with httpx.Client(base_url=service.url, timeout=10) as c:
        yield c


def records(X):
    return json.loads(X.to_json(orient="records"))


def test_binds_localhost_on_a_free_port(service):
    assert service.host == "127.0.0.1" and service.port > 0
    assert service.url == f"http://127.0.0.1:{service.port}" and service.running
    assert service in running()


def test_predict_records_and_columns_match_the_model(client, result):
    X = result.split.X_test
    body = client.post("/predict", json=records(X)).json()
    assert body["predictions"] == list(result.predict(X))
    assert body["classes"] == ["setosa", "versicolor", "virginica"]
    assert np.allclose(body["probabilities"], result.predict_proba(X), atol=1e-6)
    columns = {c: [r[c] for r in records(X)] for c in X.columns}
    as_columns = client.post("/predict", json={"columns": columns}).json()
    assert as_columns["predictions"] == body["predictions"]
    one = client.post("/predict", json=records(X.head(1))[0]).json()
    assert one["predictions"] == body["predictions"][:1]
    wrapped = client.post("/predict", json={"records": records(X.head(2))}).json()
    assert wrapped["predictions"] == body["predictions"][:2]


def test_out_of_range_and_unseen_category_are_warnings_not_errors(client, result):
    row = records(result.split.X_test.head(1))[0]
    row["petal length (cm)"] = 100.0
    row["size"] = "huge"
    response = client.post("/predict", json=[row])
    assert response.status_code == 200
    warnings = " ".join(response.json()["warnings"])
    assert "outside the training range" in warnings and "'huge'" in warnings


def test_health_and_metadata(client, package_dir):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model"] == "LogisticRegression"
    card = client.get("/metadata").json()
    assert card == json.loads((package_dir / "card.json").read_text())
    assert card["schema"]["columns"][0]["name"] == "sepal length (cm)"


def _row(result):
    return records(result.split.X_test.head(1))[0]


def malformed(result):
    """(body bytes, expected status, expected words) of requests the service must refuse."""
    row = _row(result)
    missing = {k: v for k, v in row.items() if k != "size"}
    wrong_type = dict(row, **{"sepal width (cm)": "wide"})
    unknown = dict(row, colour="red")
    null = dict(row, **{"petal width (cm)": None})
    return [
        (b"", 400, "empty body"),
        (b"{not json", 400, "not valid JSON"),
        (b"NaN", 422, "must be a JSON list or object"),
        (b"[]", 422, "no records"),
        (b"[1, 2]", 422, "record 0 is a number, not an object"),
        (b'{"rows": []}', 422, "got an object with keys rows"),
        (json.dumps([missing]).encode(), 422, "record 0 is missing column(s) 'size'"),
        (json.dumps([unknown]).encode(), 422, "record 0 has unknown column(s) 'colour'"),
        (json.dumps(unknown).encode(), 422, "record 0 has unknown column(s) 'colour'"),
        (json.dumps([wrong_type]).encode(), 422, "column 'sepal width (cm)' row 0: \"wide\" is not a number"),
        (json.dumps([null]).encode(), 422, "null, but the training data had no missing values"),
        (json.dumps([dict(row, size=3)]).encode(), 422, "3 is not a string"),
        (b'[{"sepal length (cm)": Infinity}]', 422, "missing column"),
        (json.dumps([dict(row, **{"sepal length (cm)": True})]).encode(), 422, "true is not a number"),
        (json.dumps({"columns": {k: [v] for k, v in row.items()} | {"size": ["big", "small"]}}).encode(), 422,
         "different lengths"),
        (json.dumps({"columns": [1]}).encode(), 422, "columns must be an object"),
    ]


def test_malformed_requests_get_precise_4xx(client, result):
    for body, status, words in malformed(result):
        response = client.post("/predict", content=body, headers=JSON)
        assert response.status_code == status, (body, response.text)
        assert words in response.json()["detail"], (body, response.json())
    row = _row(result)
    response = client.post("/predict", content=json.dumps([dict(row, **{"sepal length (cm)": 1e400})])
                           .replace("inf", "Infinity").encode(), headers=JSON)
    assert response.status_code == 422 and "not a finite number" in response.json()["detail"]
    assert client.get("/predict").status_code == 405
    assert client.get("/nothing").status_code == 404


def test_oversized_body_and_too_many_rows(package_dir, result):
    row = _row(result)
    with serve(package_dir, max_body=2_000, max_rows=5, log=False) as small, \
            httpx.Client(base_url=small.url, timeout=10) as c:
        response = c.post("/predict", json=[row] * 40)
        assert response.status_code == 413 and "limit of 2000" in response.json()["detail"]
        response = c.post("/predict", json=[row] * 6)
        assert response.status_code == 413 and "limit of 5 per request" in response.json()["detail"]

        def chunks():  # no Content-Length: the limit holds while streaming
            for _ in range(10):
                yield b" " * 500

        response = c.post("/predict", content=chunks(), headers=JSON)
        assert response.status_code == 413
        assert c.post("/predict", json=[row] * 5).status_code == 200
    assert not small.running


def test_concurrent_clients_mixed_with_malformed_bodies(service, result):
    good = json.dumps(records(result.split.X_test.head(3))).encode()
    bad = [b for b, _, _ in malformed(result)]
    outcome = {"ok": 0, "4xx": 0, "5xx": 0, "wrong": 0, "dropped": 0}
    lock = threading.Lock()

    def client_loop(k):
        with httpx.Client(base_url=service.url, timeout=20) as c:
            for i in range(30):
                body = bad[(i + k) % len(bad)] if i % 3 == 0 else good
                try:
                    status = c.post("/predict", content=body, headers=JSON).status_code
                except httpx.HTTPError:
                    key = "dropped"
                else:
                    key = "5xx" if status >= 500 else "ok" if status == 200 else "4xx"
                    if (body is good) != (status == 200):
                        key = "wrong"
                with lock:
                    outcome[key] += 1

    threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcome == {"ok": 80, "4xx": 40, "5xx": 0, "wrong": 0, "dropped": 0}
    assert httpx.get(f"{service.url}/health").json()["status"] == "ok"


def test_predictions_are_logged(service, client, result, store):
    X = result.split.X_test.head(4)
    client.post("/predict", json=records(X))
    client.post("/predict", content=b"[]", headers=JSON)
    service.log.flush()
    log = prediction_log("LogisticRegression", storage=store)
    ok = log[log["status"] == 200].iloc[-1]
    assert ok["n_rows"] == 4 and ok["outputs"] == list(result.predict(X)) and ok["latency_ms"] > 0
    failed = log[log["status"] == 422].iloc[-1]
    assert "no records" in failed["error"]
    inputs = prediction_log("LogisticRegression", storage=store, inputs=True)
    assert list(inputs.columns[2:]) == list(X.columns)


def test_log_is_bounded_by_rotation_and_sampling(package_dir, result, tmp_path):
    row = _row(result)
    store = str(tmp_path / "log.db")
    with serve(package_dir, storage=store, log_settings={"max_rows": 5}) as svc, \
            httpx.Client(base_url=svc.url) as c:
        for _ in range(20):
            assert c.post("/predict", json=[row]).status_code == 200
        svc.log.flush()
    rows = prediction_log(storage=store)
    assert len(rows) == 5 and rows.index.max() == 20  # the newest five
    store2 = str(tmp_path / "sampled.db")
    with serve(package_dir, storage=store2, log_settings={"sample": 0.25, "seed": 1}) as svc, \
            httpx.Client(base_url=svc.url) as c:
        for _ in range(40):
            c.post("/predict", json=[row])
        svc.log.flush()
        assert svc.log.logged + svc.log.skipped == 40
    assert 2 <= len(prediction_log(storage=store2)) <= 20


def test_stop_closes_the_port(package_dir):
    handle = serve(package_dir, log=False)
    url = handle.url
    assert httpx.get(f"{url}/health").status_code == 200
    handle.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=2)


def test_serve_a_train_result_directly(result):
    with serve(result, log=False) as handle:
        body = httpx.post(f"{handle.url}/predict", json=records(result.split.X_val.head(2))).json()
    assert body["predictions"] == list(result.predict(result.split.X_val.head(2)))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"port": -1}, ValueError, "port=-1 must be an integer from 0 to 65535"),
    ({"port": "80"}, ValueError, "port='80'"),
    ({"host": 3}, TypeError, "host=3"),
    ({"max_body": 0}, ValueError, "max_body=0 must be a positive integer"),
    ({"log_settings": {"sample": 2}}, ValueError, "sample=2 must be a fraction"),
    ({"log_settings": {"rotate": 1}}, ValueError, "unknown log setting"),
])
def test_bad_options(package_dir, kwargs, error, message):
    with pytest.raises(error, match=message):
        serve(package_dir, log=kwargs.pop("log", "log_settings" in kwargs), **kwargs)


def test_bad_source_and_busy_port(service):
    with pytest.raises(TypeError, match="needs a TrainResult, a Package or a package folder"):
        serve(42)
    with pytest.raises(ValueError, match=f"cannot listen on 127.0.0.1:{service.port}"):
        serve(service.package, port=service.port, log=False)


def test_command_line_serves_until_stopped(package_dir):
    proc = subprocess.Popen([sys.executable, "-m", "nbml.deployment.service", str(package_dir), "--port", "0",
                             "--no-log"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "serving LogisticRegression at http://127.0.0.1:" in line
        url = line.split(" at ")[1].split(" ")[0]
        deadline = time.monotonic() + 20
        while True:
            try:
                assert httpx.get(f"{url}/health").json()["status"] == "ok"
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(20)


def test_command_line_bad_path_is_one_line(tmp_path, capsys):
    from nbml.deployment.service import main

    assert main([str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nbml serve: ") and "does not exist" in err and "Traceback" not in err
    assert main([str(tmp_path), "--port", "-5"]) == 2
    assert "port=-5" in capsys.readouterr().err


@pytest.fixture(scope="module")
def mixed_package():
    """Every column kind: int, float with missing values, category, boolean, datetime."""
    import pandas as pd
    from sklearn.ensemble import RandomForestRegressor

    from nbml.deployment import Package

    rng = np.random.default_rng(0)
    n = 200
    df = pd.DataFrame({
        "count": rng.integers(0, 10, n),
        "amount": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 10, n)),
        "shop": rng.choice(["north", "south"], n),
        "member": rng.random(n) < 0.5,
        "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
    })
    df["spend"] = df["count"] * 3 + df["member"] * 5 + rng.normal(0, 1, n)
    split = nbml.split(df, target="spend", seed=0)
    nbml.data.set_active(None)
    return Package.from_result(nbml.train(RandomForestRegressor(n_estimators=10, random_state=0), split=split)), split


def test_every_column_kind_is_validated(mixed_package):
    from nbml.deployment.service import RequestError, predict_payload, to_frame

    package, split = mixed_package
    kinds = {c["name"]: c["kind"] for c in package.schema["columns"]}
    assert kinds == {"count": "numeric", "amount": "numeric", "shop": "categorical", "member": "boolean",
                     "day": "datetime"}
    good = {"count": 3, "amount": None, "shop": "north", "member": True, "day": "2024-03-01"}
    X, notes = to_frame([good], package)
    assert notes == []
    assert X["count"].dtype == split.X_train["count"].dtype and np.isnan(X["amount"][0])
    body = predict_payload(package, X)
    assert body["predictions"] == pytest.approx(list(package.predict(X))) and "probabilities" not in body
    cases = [
        ({"count": 1.5}, None),  # a float in an int column is a number: accepted
        ({"count": None}, "column 'count' row 0: null, but the training data had no missing values"),
        ({"member": "yes"}, "column 'member' row 0: \"yes\" is not true or false"),
        ({"day": "someday"}, "column 'day' row 0: \"someday\" is not a date"),
        ({"day": 20240301}, "20240301 is not a date string"),
        ({"shop": ["north"]}, "[\"north\"] is not a string"),
    ]
    for change, message in cases:
        if message is None:
            assert len(to_frame([dict(good, **change)], package)[0]) == 1
            continue
        with pytest.raises(RequestError) as info:
            to_frame([dict(good, **change)], package)
        assert info.value.status == 422 and message in info.value.message, info.value.message


def test_regression_service(mixed_package):
    package, split = mixed_package
    rows = json.loads(split.X_test.head(5).to_json(orient="records", date_format="iso"))
    with serve(package, log=False) as handle:
        body = httpx.post(f"{handle.url}/predict", json=rows).json()
    assert body["predictions"] == pytest.approx(list(package.predict(split.X_test.head(5))))


# last: `%serve --stop` stops every service, the module's `service` fixture too
def test_serve_magic_starts_and_stops(run, package_dir, result):
    cell = run(f"%serve {package_dir} --no-log -o svc")
    assert cell.error is None, cell.err
    handle = cell.value
    assert f"serving LogisticRegression at {handle.url}" in cell.out
    assert httpx.post(f"{handle.url}/predict", json=records(result.split.X_test.head(1))).status_code == 200
    cell = run("%serve svc --stop")
    assert cell.error is None and f"stopped LogisticRegression at {handle.url}" in cell.out
    assert not handle.running
    from IPython import get_ipython

    get_ipython().user_ns["iris_model"] = result
    cell = run("%serve iris_model --no-log")
    assert cell.error is None and "serving iris_model at" in cell.out
    cell = run("%serve iris_model --stop")
    assert cell.error is None and "stopped iris_model" in cell.out
    handle = run("%serve iris_model --no-log").value
    cell = run("%serve --stop")  # without a name: every running service, the `service` fixture too
    assert cell.error is None and f"stopped iris_model at {handle.url}" in cell.out and not handle.running
    cell = run("%serve --stop")
    assert cell.error is None and "no service is running" in cell.out
    cell = run("%serve no_such_thing")
    assert cell.error is not None and "neither a variable" in str(cell.error)
    cell = run(f"%serve {package_dir} --port 70000")
    assert cell.error is not None and "port=70000" in str(cell.error)
    assert load(package_dir).name == "LogisticRegression"
