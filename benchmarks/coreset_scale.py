"""Coreset scale: a coreset of a 10,000,000-row CSV in bounded memory.

Writes a CSV of generated data (default 10,000,000 rows x 30 features + target, ~2% positives,
heavy-tailed features; several GB) to a temporary folder, then builds the coreset in a
*subprocess* with the one-liner ``nbml.coreset(file=PATH, target="y", size=10_000)`` (chunked
reading + merge-and-reduce tree). The subprocess's peak resident memory is read with
``resource.getrusage(RUSAGE_CHILDREN)``; the file's data would need
rows x columns x 8 bytes as float64 if loaded at once.

Bar (issue 7): peak memory <= 1.5 GB. Prints rows/s.

    python benchmarks/coreset_scale.py                 # 10M rows (writing the file takes minutes)
    python benchmarks/coreset_scale.py --rows 1000000  # quick check
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

N_FEATURES = 30
LIMIT_BYTES = 1.5e9


def _fixed_width_block(X, y):
    """CSV bytes for a block: every feature as '+ddd.dd' (vectorised, no per-value Python)."""
    cents = np.clip(np.rint(X * 100), -99_999, 99_999).astype(np.int64)
    n, d = cents.shape
    width = 8  # sign, 3 digits, '.', 2 digits, separator
    out = np.empty((n, d * width + 2), dtype=np.uint8)
    cell = out[:, : d * width].reshape(n, d, width)
    cell[:, :, 0] = np.where(cents < 0, ord("-"), ord("+"))
    a = np.abs(cents)
    for pos, power in zip((1, 2, 3, 5, 6), (10_000, 1_000, 100, 10, 1)):
        cell[:, :, pos] = (a // power) % 10 + ord("0")
    cell[:, :, 4] = ord(".")
    cell[:, :, 7] = ord(",")
    out[:, d * width] = y.astype(np.uint8) + ord("0")
    out[:, d * width + 1] = ord("\n")
    return out.tobytes()


def write_csv(path, rows, seed=0, block=200_000, positives=0.02):
    """Generated imbalanced data, written block by block (never all in memory)."""
    rng = np.random.default_rng(seed)
    n_heavy = N_FEATURES // 3
    beta = rng.normal(size=N_FEATURES) * 0.5
    beta[:n_heavy] *= 0.6
    mix = np.eye(N_FEATURES) + 0.3 * rng.normal(size=(N_FEATURES, N_FEATURES)) / np.sqrt(N_FEATURES)
    # intercept for ~2% positives, from a pilot sample
    pilot = rng.normal(size=(200_000, N_FEATURES)) @ mix
    pilot[:, :n_heavy] = rng.standard_t(2.5, size=(200_000, n_heavy))
    b0 = -np.quantile(pilot @ beta + rng.logistic(size=200_000), 1 - positives)
    with open(path, "wb") as fh:
        fh.write((",".join(f"x{i:02d}" for i in range(N_FEATURES)) + ",y\n").encode())
        for start in range(0, rows, block):
            n = min(block, rows - start)
            X = rng.normal(size=(n, N_FEATURES)) @ mix
            X[:, :n_heavy] = rng.standard_t(2.5, size=(n, n_heavy))
            y = (X @ beta + rng.logistic(size=n) + b0 > 0)
            fh.write(_fixed_width_block(X, y))
    return path


def child(path, size, chunksize):
    import nbml

    t0 = time.perf_counter()
    cs = nbml.coreset(file=path, target="y", size=size, chunksize=chunksize, seed=0)
    elapsed = time.perf_counter() - t0
    print(json.dumps({"seconds": elapsed, "rows": cs.n_represented, "size": cs.size,
                      "weights_sum": float(cs.weights.sum()),
                      "positives": int((cs.y == 1).sum()),
                      "positive_weight": float(cs.weights[cs.y.to_numpy() == 1].sum())}))


def measure(path, size, chunksize):
    """Run the builder as a subprocess of this (small) process; report its peak RSS."""
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", path,
                           "--size", str(size), "--chunksize", str(chunksize)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr)
        return 1
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(json.dumps(result))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--chunksize", type=int, default=100_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.size, args.chunksize)
        return 0
    if args.measure:
        return measure(args.measure, args.size, args.chunksize)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.csv")
        t0 = time.perf_counter()
        write_csv(path, args.rows)
        file_bytes = os.path.getsize(path)
        print(f"wrote {args.rows:,} rows x {N_FEATURES + 1} columns: {file_bytes / 1e9:.2f} GB "
              f"CSV in {time.perf_counter() - t0:.0f}s (as float64 in memory: "
              f"{args.rows * (N_FEATURES + 1) * 8 / 1e9:.2f} GB)")
        # A child's ru_maxrss also counts its parent's memory at fork/exec time, so a small
        # fresh interpreter launches the builder and reads RUSAGE_CHILDREN for it.
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--measure", path,
                               "--size", str(args.size), "--chunksize", str(args.chunksize)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr)
            return 1
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        peak = result["peak_rss_bytes"]
        rate = result["rows"] / result["seconds"]
        print(f"coreset of {result['size']:,} rows from {result['rows']:,}: "
              f"{result['seconds']:.1f}s, {rate:,.0f} rows/s; weights sum "
              f"{result['weights_sum']:,.0f}; {result['positives']} positive rows standing for "
              f"{result['positive_weight']:,.0f}")
        ok = peak <= LIMIT_BYTES
        print(f"peak memory of the building process: {peak / 1e9:.3f} GB "
              f"(limit {LIMIT_BYTES / 1e9:.1f} GB): {'PASS' if ok else 'FAIL'}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
