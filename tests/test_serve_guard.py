"""What a browser page elsewhere could send the service, and values at the edges of the schema
(issue 15, item 15): JSON only (415), localhost Host names only by default (400, DNS
rebinding), 10**400 and mixed time zones are 422, and dates or fractions the training data
never had are warnings. Real HTTP on 127.0.0.1."""
import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

import nbml
from nbml.deployment import Package, deploy, serve

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def shop():
    """A regression on every column kind: int, float, category, boolean, datetime."""
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame({
        "count": rng.integers(0, 10, n),
        "amount": rng.normal(50, 10, n),
        "shop": rng.choice(["north", "south"], n),
        "member": rng.random(n) < 0.5,
        "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
    })
    df["spend"] = df["count"] * 3 + df["member"] * 5 + rng.normal(0, 1, n)
    split = nbml.split(df, target="spend", seed=0, activate=False)
    return nbml.train(RandomForestRegressor(n_estimators=5, random_state=0), split=split)


@pytest.fixture(scope="module")
def service(shop):
    handle = serve(Package.from_result(shop), log=False)
    yield handle
    handle.stop()


@pytest.fixture
def row():
    return {"count": 3, "amount": 51.5, "shop": "north", "member": True, "day": "2024-03-01"}


def post(service, body, **headers):
    headers.setdefault("content-type", "application/json")
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{service.url}/predict", content=content, headers=headers, timeout=10)


# -- content type ------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          None])
def test_a_body_a_browser_sends_without_preflight_is_415(service, row, content_type):
    headers = {} if content_type is None else {"content-type": content_type}
    response = httpx.post(f"{service.url}/predict", content=json.dumps([row]).encode(), headers=headers, timeout=10)
    assert response.status_code == 415, response.text
    assert "Content-Type: application/json" in response.json()["detail"]
    assert (content_type or "no Content-Type") in response.json()["detail"]


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON", "application/vnd.api+json"])
def test_json_content_types_are_served(service, row, content_type):
    assert post(service, [row], **{"content-type": content_type}).status_code == 200


# -- Host header -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/predict", "/metadata", "/health", "/nothing"])
def test_a_foreign_host_name_is_refused_everywhere(service, row, path):
    headers = {"host": "attacker.example", "content-type": "application/json"}
    response = httpx.request("POST" if path == "/predict" else "GET", f"{service.url}{path}", headers=headers,
                             content=json.dumps([row]).encode() if path == "/predict" else None, timeout=10)
    assert response.status_code == 400
    assert "Host 'attacker.example' is not allowed" in response.json()["detail"]
    assert "--allowed-hosts" in response.json()["detail"]


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:8000", "127.0.0.1", "[::1]:80", "app.localhost"])
def test_local_host_names_are_served(service, host):
    assert httpx.get(f"{service.url}/health", headers={"host": host}, timeout=10).status_code == 200


def test_a_request_without_host_is_refused(service):
    with socket.create_connection((service.host, service.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        reply = b"".join(iter(lambda: sock.recv(4096), b""))
    assert reply.startswith(b"HTTP/1.1 400") and b"Host '(none)' is not allowed" in reply


def test_allowed_hosts_option(shop, row):
    with serve(Package.from_result(shop), log=False, allowed_hosts="models.internal, Other.Example") as handle:
        ok = httpx.get(f"{handle.url}/health", headers={"host": "models.internal:9000"}, timeout=10)
        other = httpx.get(f"{handle.url}/health", headers={"host": "other.example"}, timeout=10)
        local = httpx.get(f"{handle.url}/health", timeout=10)
        assert (ok.status_code, other.status_code, local.status_code) == (200, 200, 400)
        assert handle.allowed_hosts == ("models.internal", "other.example")
    with serve(Package.from_result(shop), log=False, allowed_hosts=["*"]) as handle:
        assert httpx.get(f"{handle.url}/health", headers={"host": "any.example"}, timeout=10).status_code == 200


@pytest.mark.parametrize("value, error, words", [
    ("", ValueError, "allowed_hosts is empty"),
    ("a b", ValueError, "'a b' is not a host name"),
    (3, TypeError, "must be host names"),
])
def test_bad_allowed_hosts(shop, value, error, words):
    with pytest.raises(error, match=words):
        serve(shop, log=False, allowed_hosts=value)


def test_serve_magic_allowed_hosts(run, ip, shop):
    ip.user_ns["shop_model"] = shop
    cell = run("%serve shop_model --no-log --allowed-hosts models.internal -o shop_service")
    assert cell.error is None, str(cell.error)
    try:
        handle = cell.value
        assert httpx.get(f"{handle.url}/health", headers={"host": "models.internal"}, timeout=10).status_code == 200
        assert httpx.get(f"{handle.url}/health", headers={"host": "evil.example"}, timeout=10).status_code == 400
    finally:
        run("%serve shop_service --stop")


def test_command_line_allowed_hosts(shop, tmp_path):
    deploy(shop, tmp_path / "pkg")
    proc = subprocess.Popen([sys.executable, "-m", "nbml", "serve", str(tmp_path / "pkg"), "--port", "0", "--no-log",
                             "--allowed-hosts", "models.internal"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = line.split(" at ")[1].split(" ")[0]
        assert httpx.get(f"{url}/health", headers={"host": "models.internal"}, timeout=20).status_code == 200
        assert httpx.get(f"{url}/health", headers={"host": "evil.example"}, timeout=20).status_code == 400
    finally:
        proc.terminate()
        proc.wait(20)


# -- numbers and dates at the edges --------------------------------------------------------------

@pytest.mark.parametrize("raw", ["1" + "0" * 400, "-1" + "0" * 400, "1" + "0" * 5000])
def test_an_integer_too_large_for_a_float_is_422(service, row, raw):
    body = json.dumps([row]).replace('"amount": 51.5', f'"amount": {raw}').encode()
    response = post(service, body)
    assert response.status_code == 422, response.text
    assert "column 'amount' row 0" in response.json()["detail"] and "is not a finite number" in response.json()["detail"]


@pytest.mark.parametrize("days, words", [
    (["2024-03-01T00:00:00+01:00", "2024-03-01T00:00:00+02:00"], "they mix time zones"),
    (["2024-03-01", "2024-03-01T00:00:00+02:00"], "they mix time zones"),
    (["2024-03-01T00:00:00+02:00", "2024-03-02T00:00:00+02:00"], "the training dates had none"),
])
def test_dates_in_other_or_mixed_time_zones_are_422(service, row, days, words):
    response = post(service, [dict(row, day=d) for d in days])
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("column 'day': ") and words in response.json()["detail"]


def test_dates_outside_the_training_range_warn_like_numbers(service, row, shop):
    response = post(service, [dict(row, day="2031-06-01")])
    assert response.status_code == 200, response.text
    low, high = shop.split.X_train["day"].min(), shop.split.X_train["day"].max()
    assert response.json()["warnings"] == [f"column 'day': dates outside the training range [{low}, {high}]"]
    assert "warnings" not in post(service, [row]).json()


def test_fractions_in_a_column_of_integers_warn(service, row):
    response = post(service, [dict(row, count=2.5)])
    assert response.status_code == 200
    assert response.json()["warnings"] == ["column 'count': 2.5 is not a whole number, but the training values "
                                           "were integers"]
    assert "warnings" not in post(service, [dict(row, count=4.0)]).json()  # a whole float is fine


def test_an_integer_beyond_int64_is_served_as_out_of_range(service, row):
    response = post(service, [dict(row, count=10**30)])
    assert response.status_code == 200, response.text
    assert any("column 'count': values outside the training range" in w for w in response.json()["warnings"])
