"""Torch training in a real Jupyter kernel: the live plot stays one output, Ctrl-C keeps the model."""
import time

import nbformat
import pytest

pytest.importorskip("torch")
from jupyter_client.manager import start_new_kernel  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

SETUP = """
import numpy as np, torch
torch.set_num_threads(1)
from sklearn.datasets import load_digits
from nbml.torch.estimators import TorchClassifier
from nbml.torch.callbacks import LiveLossPlot
X, y = load_digits(return_X_y=True); X = X / 16
"""


def test_live_plot_is_one_output_updated_in_place(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_code_cell(
            "view = LiveLossPlot(min_interval=0.0, max_share=1.0)\n"
            "clf = TorchClassifier(hidden=(32,), epochs=8, patience=3, callbacks=[view]).fit(X, y)\n"
            "print(view.n_draws)"
        ),
    ]
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[1].outputs
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    draws = int(next(o for o in outputs if o.output_type == "stream").text.split()[-1])
    assert draws >= 4  # drawn several times ...
    assert len(images) == 1  # ... into a single output: no pile of figures
    assert images[0]["output_type"] == "display_data"


def test_interrupting_the_kernel_keeps_the_model_and_history():
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        kc.execute_interactive(SETUP, timeout=120)
        seen = []

        def watch(msg):
            if msg["msg_type"] == "stream":
                seen.append(msg["content"]["text"])

        code = (
            "class Tick:\n"
            "    def on_epoch_end(self, estimator, history):\n"
            "        print('epoch', len(history), flush=True)\n"
            "clf = TorchClassifier(hidden=(64,), epochs=100000, patience=100000, callbacks=[Tick()])\n"
            "clf.fit(X, y)\n"
            "print('fit returned', clf.interrupted_, len(clf.history_), flush=True)\n"
        )
        msg_id = kc.execute(code)
        deadline = time.time() + 120
        while time.time() < deadline and sum(t.count("epoch") for t in seen) < 3:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except Exception:  # queue.Empty
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                watch(msg)
        km.interrupt_kernel()
        errors = []
        while time.time() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except Exception:
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            watch(msg)
            if msg["msg_type"] == "error":
                errors.append(msg["content"]["ename"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        text = "".join(seen)
        assert not errors, errors  # the cell finished normally, no KeyboardInterrupt traceback
        assert "fit returned True" in text
        kept = int(text.split("fit returned True")[1].split()[0])
        assert kept >= 3
        assert "training interrupted after" in text  # the one-line warning (stderr stream)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
