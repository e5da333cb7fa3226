"""Load and faults: 8 concurrent clients x 500 requests to the inference service on 127.0.0.1.

The service runs in its own process (``python -m nbml.deployment.service PATH``), as it would
in production; one request in five is malformed (bad JSON, empty, wrong types, unknown or
missing columns, too many rows). Two services are measured side by side, interleaved in
rounds: with the prediction log (the default) and without it (the baseline), so the ratio
shows what logging costs.

Bar: zero 5xx, zero dropped connections, every malformed request answered 4xx.

    python benchmarks/serve_load.py [--clients 8] [--requests 500] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_package(folder: Path) -> tuple[Path, list]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    import nbml

    df = load_breast_cancer(as_frame=True).frame
    split = nbml.split(df, target="target", seed=0)
    result = nbml.train(LogisticRegression(max_iter=3000), split=split)
    nbml.deploy(result, folder / "cancer")
    rows = json.loads(split.X_test.to_json(orient="records"))
    return folder / "cancer", rows


def bodies(rows) -> list:
    """(body, is_valid) pairs: valid requests of 1-5 rows, and malformed ones."""
    good = [json.dumps(rows[i:i + 1 + i % 5]).encode() for i in range(40)]
    row = rows[0]
    bad = [b"", b"{oops", b"[]", b"[1]", b'{"rows": 1}', json.dumps([dict(row, extra=1)]).encode(),
           json.dumps([{k: v for k, v in list(row.items())[1:]}]).encode(),
           json.dumps([dict(row, **{"mean radius": "big"})]).encode(), json.dumps([row] * 2_000).encode()]
    out = []
    for i in range(200):
        out.append((bad[i % len(bad)], False) if i % 5 == 4 else (good[i % len(good)], True))
    return out


def start_service(path: Path, log: bool, store: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, NBML_STORE=store)
    args = [sys.executable, "-m", "nbml.deployment.service", str(path), "--port", "0"] + ([] if log else ["--no-log"])
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    url = line.split(" at ")[1].split(" ")[0]
    for _ in range(600):
        try:
            httpx.get(f"{url}/health", timeout=2)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    return proc, url


def run_round(url: str, requests: list, clients: int, per_client: int) -> dict:
    latencies, lock = [], threading.Lock()
    counts = {"2xx": 0, "4xx": 0, "5xx": 0, "dropped": 0, "malformed_not_4xx": 0, "valid_not_200": 0}

    def client(k):
        mine, local = [], dict.fromkeys(counts, 0)
        with httpx.Client(base_url=url, timeout=30) as c:
            for i in range(per_client):  # bounded: stops by itself
                body, valid = requests[(k * 37 + i) % len(requests)]
                start = time.perf_counter()
                try:
                    status = c.post("/predict", content=body, headers={"content-type": "application/json"}).status_code
                except httpx.TransportError:
                    local["dropped"] += 1
                    continue
                mine.append(time.perf_counter() - start)
                local["5xx" if status >= 500 else "4xx" if status >= 400 else "2xx"] += 1
                if valid and status != 200:
                    local["valid_not_200"] += 1
                if not valid and not 400 <= status < 500:
                    local["malformed_not_4xx"] += 1
        with lock:
            latencies.extend(mine)
            for key, v in local.items():
                counts[key] += v

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"wall": wall, "latencies": latencies, **counts}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=500, help="requests per client and service")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per service")
    args = parser.parse_args(argv)
    per_round = max(1, args.requests // args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["NBML_STORE"] = str(tmp / "build.db")
        path, rows = build_package(tmp)
        requests = bodies(rows)
        services = {"logged": start_service(path, True, str(tmp / "log.db")),
                    "no log (baseline)": start_service(path, False, str(tmp / "nolog.db"))}
        results = {name: [] for name in services}
        try:
            for _ in range(args.rounds):  # interleaved: both see the same machine load
                for name, (_, url) in services.items():
                    results[name].append(run_round(url, requests, args.clients, per_round))
        finally:
            for proc, _ in services.values():
                proc.terminate()
                proc.wait(30)
    print(f"{args.clients} clients x {per_round * args.rounds} requests per service, 1 in 5 malformed, "
          f"{args.rounds} interleaved rounds")
    summary = {}
    ok = True
    for name, rounds in results.items():
        lat = np.concatenate([r["latencies"] for r in rounds]) * 1000
        n = sum(len(r["latencies"]) for r in rounds)
        rps = statistics.median(len(r["latencies"]) / r["wall"] for r in rounds)
        totals = {k: sum(r[k] for r in rounds) for k in ("2xx", "4xx", "5xx", "dropped", "malformed_not_4xx",
                                                          "valid_not_200")}
        summary[name] = (rps, np.percentile(lat, 50), np.percentile(lat, 99))
        print(f"{name:>18}: {n} answered, {rps:7.1f} req/s (median of rounds), p50 {summary[name][1]:6.1f} ms, "
              f"p99 {summary[name][2]:6.1f} ms | 2xx {totals['2xx']}, 4xx {totals['4xx']}, 5xx {totals['5xx']}, "
              f"dropped {totals['dropped']}, malformed not 4xx {totals['malformed_not_4xx']}, "
              f"valid not 200 {totals['valid_not_200']}")
        ok &= totals["5xx"] == 0 and totals["dropped"] == 0 and totals["malformed_not_4xx"] == 0 \
            and totals["valid_not_200"] == 0
    (rps_log, p50_log, p99_log), (rps_base, p50_base, p99_base) = summary.values()
    print(f"ratio logged / baseline: throughput {rps_log / rps_base:.2f}x, p50 {p50_log / p50_base:.2f}x, "
          f"p99 {p99_log / p99_base:.2f}x")
    print("bar (zero 5xx, zero dropped, every malformed 4xx):", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
