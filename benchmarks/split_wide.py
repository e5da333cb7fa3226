"""`%split` of a wide frame (300 rows × 5,000 columns) vs scikit-learn's `train_test_split`.

The frame: 5,000 float columns (1 % missing values) and a binary target, seeded. Both sides
start from the frame a user holds:

- `train_test_split`: `X = df.drop(columns="target")`, then
  `train_test_split(X, df["target"], test_size=0.2, random_state=0, stratify=df["target"])`;
- `%split`: `%split df --target target --seed 0` in a terminal IPython shell, its summary shown
  (train / validation / test: two cuts, checks of every column, the data's fingerprint);
- `%split --val 0`: the same rows as the one `train_test_split` call.

Runs are interleaved, order alternating; medians and ratios are printed (bar: `%split` ≤ 20×).

    python benchmarks/split_wide.py [--rows 300] [--columns 5000] [--repeats 15]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd
from IPython.terminal.interactiveshell import TerminalInteractiveShell
from IPython.utils.capture import capture_output
from sklearn.model_selection import train_test_split


def wide_frame(rows: int = 300, columns: int = 5000, seed: int = 0) -> pd.DataFrame:
    """Float features, 1 % of them missing, and a binary target that depends on a few of them."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, columns))
    signal = values[:, :5].sum(axis=1)
    values[rng.random(values.shape) < 0.01] = np.nan
    df = pd.DataFrame(values, columns=[f"f{i}" for i in range(columns)])
    df["target"] = (signal + rng.normal(size=rows) > 0).astype(int)
    return df


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--columns", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    df = wide_frame(args.rows, args.columns)
    ip = TerminalInteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbml")
    ip.user_ns["df"] = df

    def by_hand():
        X = df.drop(columns="target")
        return train_test_split(X, df["target"], test_size=0.2, random_state=0, stratify=df["target"])

    def magic(line):
        def run():
            with capture_output():
                result = ip.run_cell(line)
            result.raise_error()
        return run

    cases = {"train_test_split": by_hand, "%split": magic("%split df --target target --seed 0"),
             "%split --val 0": magic("%split df --target target --seed 0 --val 0")}
    for fn in cases.values():  # warm-up: imports, first-call caches
        fn()
    times = {name: [] for name in cases}
    order = list(cases)
    for i in range(args.repeats):
        for name in (order if i % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            cases[name]()
            times[name].append(time.perf_counter() - start)

    base = statistics.median(times["train_test_split"])
    print(f"{args.rows} rows × {args.columns} columns, {args.repeats} interleaved runs (medians)")
    print(f"{'':<20}{'median s':>10}{'ratio':>8}")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:<20}{med:>10.4f}{med / base:>8.1f}")
    print(f"bar: %split <= 20x train_test_split: {'met' if statistics.median(times['%split']) <= 20 * base else 'NOT met'}")


if __name__ == "__main__":
    main()
