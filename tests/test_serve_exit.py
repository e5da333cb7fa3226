"""A script that starts the service and a Monitor and exits without stopping them ends cleanly
(issue 15, item 16): their threads stop at interpreter exit instead of being cut off inside
torch, which aborted the process ("terminate called without an active exception", code 134)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import threading, warnings
warnings.simplefilter("ignore")
import httpx
import nbml
from sklearn.datasets import load_iris

split = nbml.split(load_iris(as_frame=True).frame, target="target", seed=0, activate=False)
result = nbml.train(nbml.TorchClassifier(hidden=(64,), epochs=2, seed=0), split=split)
service = nbml.serve(result)                       # logs to the store: the log's writer thread too
rows = split.X_train.to_dict(orient="records") * 20

def client():
    with httpx.Client(base_url=service.url, timeout=30) as c:
        while True:
            try:
                c.post("/predict", json=rows)
            except httpx.HTTPError:
                return

threading.Thread(target=client, daemon=True).start()
retraining = threading.Event()

def retrain(report):                               # a callback busy in torch when the script ends
    retraining.set()
    return nbml.train(nbml.TorchClassifier(hidden=(256, 256), epochs=40, seed=0), split=split)

monitor = nbml.Monitor(result, retrain, on="warning", thresholds={"min_rows": 5})
monitor.start(every=0.01, source=lambda: split.X_test * 3)
assert retraining.wait(120)
print("leaving with", service, "and", monitor, flush=True)
"""


def test_a_script_leaving_the_service_and_a_monitor_running_exits_cleanly(tmp_path):
    pytest.importorskip("torch")
    env = {**os.environ, "NBML_STORE": str(tmp_path / "nbml.db"), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert "leaving with <nbml service" in proc.stdout, proc.stderr
    assert "terminate called" not in proc.stderr
    assert proc.returncode == 0, proc.stderr[-2000:]
