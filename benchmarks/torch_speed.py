"""Torch training speed: nbml's trainer against a minimal hand-written loop (and skorch).

An MLP 32 -> 128 -> 128 -> 2 (ReLU, dropout 0.2) is trained on 60,000 x 32 generated in-memory
rows, batch 128, Adam (lr 1e-3), 5 epochs, several ways, interleaved in each repetition:

  handwritten   randperm + index each batch + forward/backward/step (the baseline)
  nbml          nbml.TorchClassifier(...).fit(X, y), no callbacks (live view off)
  dataloader    the same loop over DataLoader(TensorDataset(X, y), shuffle=True)
  skorch        skorch.NeuralNetClassifier(...).fit(X, y), train_split=None (if importable)

Each variant is timed end to end (numpy arrays in, trained model out) and reported as samples/s;
the ratio to the hand-written loop is taken within each repetition and the median is printed,
by wall-clock and by process CPU time (steadier when other programs share the machine).
Bar (issue 3): nbml >= 0.95x. All variants run under the same ``torch.set_num_threads``.

    python benchmarks/torch_speed.py                  # 5 repetitions, 1 thread, CPU
    python benchmarks/torch_speed.py --threads 4 --device cuda --repeats 3
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

N_ROWS, N_FEATURES, BATCH, EPOCHS, LR = 60_000, 32, 128, 5, 1e-3


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_ROWS, N_FEATURES)).astype(np.float32)
    w = rng.normal(size=N_FEATURES)
    y = ((X @ w + rng.normal(scale=2.0, size=N_ROWS)) > 0).astype(np.int64)
    return X, y


def make_module():
    from torch import nn

    return nn.Sequential(
        nn.Linear(N_FEATURES, 128), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(128, 128), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(128, 2),
    )


def run_handwritten(X, y, device, epochs=EPOCHS):
    import torch
    import torch.nn.functional as F

    model = make_module().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    X_t = torch.from_numpy(X).to(device)
    y_t = torch.from_numpy(y).to(device)
    n = len(X_t)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, device=device)
        for start in range(0, n, BATCH):
            index = order[start : start + BATCH]
            loss = F.cross_entropy(model(X_t[index]), y_t[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return model


def run_dataloader(X, y, device, epochs=EPOCHS):
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    model = make_module().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)),
                        batch_size=BATCH, shuffle=True)
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return model


def run_nbml(X, y, device, epochs=EPOCHS):
    from nbml.torch.estimators import TorchClassifier

    return TorchClassifier(
        module=make_module(), lr=LR, epochs=epochs, batch_size=BATCH, optimizer="adam",
        device=device.type, seed=None,
    ).fit(X, y)


def run_skorch(X, y, device, epochs=EPOCHS):
    import torch
    from skorch import NeuralNetClassifier

    net = NeuralNetClassifier(
        make_module(), criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=LR,
        max_epochs=epochs, batch_size=BATCH, train_split=None, verbose=0,
        iterator_train__shuffle=True, device=device.type,
    )
    return net.fit(X, y)


def main(argv=None):
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device_name = args.device
    if device_name == "auto":
        device_name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device_name)

    variants = {"handwritten": run_handwritten, "nbml": run_nbml, "dataloader": run_dataloader}
    try:
        import skorch

        variants["skorch"] = run_skorch
        skorch_note = f"skorch {skorch.__version__}"
    except ImportError:
        skorch_note = "skorch not importable: skipped (pip install skorch to compare)"

    X, y = make_data()
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"{skorch_note}")
    print(f"MLP 32-128-128-2 (dropout 0.2), {N_ROWS:,} x {N_FEATURES} rows, batch {BATCH}, "
          f"Adam, {EPOCHS} epochs, {args.repeats} interleaved repetitions")
    for name, run in variants.items():  # warm-up: first-call costs (imports, allocator)
        torch.manual_seed(0)
        run(X[:4096], y[:4096], device, epochs=1)

    seconds = {name: [] for name in variants}
    cpu_seconds = {name: [] for name in variants}
    order = list(variants)
    for rep in range(args.repeats):
        # rotate the order each repetition so no variant always runs first or last
        for name in order[rep % len(order):] + order[: rep % len(order)]:
            torch.manual_seed(rep)
            started, cpu_started = time.perf_counter(), time.process_time()
            variants[name](X, y, device)
            seconds[name].append(time.perf_counter() - started)
            cpu_seconds[name].append(time.process_time() - cpu_started)

    samples = N_ROWS * EPOCHS

    def ratio(table, name):
        return statistics.median(b / t for b, t in zip(table["handwritten"], table[name]))

    # wall clock is what a user waits; CPU time is steadier on a shared machine (with one
    # thread it is the work done, whatever else the machine runs)
    print(f"\n{'variant':<12} {'median s':>9} {'samples/s':>11} {'ratio (wall)':>13} "
          f"{'ratio (cpu)':>12}")
    for name, times in seconds.items():
        median = statistics.median(times)
        print(f"{name:<12} {median:>9.2f} {samples / median:>11,.0f} "
              f"{ratio(seconds, name):>12.2f}x {ratio(cpu_seconds, name):>11.2f}x")
    wall, cpu = ratio(seconds, "nbml"), ratio(cpu_seconds, "nbml")
    verdict = "meets" if min(wall, cpu) >= 0.95 else "MISSES"
    print(f"\nnbml runs at {wall:.2f}x (wall) / {cpu:.2f}x (cpu) the hand-written loop's speed "
          f"({verdict} the 0.95x bar)")
    return wall


if __name__ == "__main__":
    main()
