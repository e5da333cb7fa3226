"""`nbml.eda` on 1,000,000 rows × 20 mixed columns vs `df.describe(include='all')`.

The frame (floats with missing values, skewed and correlated columns, integers, an id,
categories of 5/20/200 levels, a flag, dates and an imbalanced binary target) is generated
with a fixed seed, written to a temporary pickle and read back, as a user's data would be.
Then, interleaved with the order alternating and medians compared:

- `describe`: `df.describe(include='all')` (the baseline pandas gives in one call);
- `eda`: `nbml.eda(df, target="target")` — every statistic, computed on all rows;
- `eda + plots`: the same plus rendering the five views to PNG, as a notebook shows it
  (`report._repr_html_()`; the plots use a seeded sample of 50,000 rows).

    python benchmarks/eda_speed.py [--rows 1000000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import pandas as pd


def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({f"f{i}": rng.normal(size=n) for i in range(8)})
    for i in range(3):
        df.loc[rng.random(n) < 0.05 * (i + 1), f"f{i}"] = np.nan
    df["corr"] = 0.98 * df["f3"] + 0.2 * rng.normal(size=n)
    df["spend"] = rng.lognormal(3, 1.2, n)
    df["visits"] = rng.poisson(2, n) ** 2
    df["age"] = rng.integers(18, 90, n)
    df["id"] = rng.permutation(n)
    df["plan"] = rng.choice(["free", "basic", "pro", "team", "enterprise"], n, p=[.5, .2, .15, .1, .05])
    df["country"] = rng.choice([f"c{i:02d}" for i in range(20)], n)
    df["city"] = rng.choice([f"city{i:03d}" for i in range(200)], n)
    df["flag"] = rng.random(n) < 0.3
    df["rating"] = pd.array(rng.integers(1, 6, n), dtype="Int64")
    df.loc[rng.random(n) < 0.02, "rating"] = pd.NA
    df["joined"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    logit = -3.5 + 1.2 * df["f4"] - 0.8 * df["f5"] + 0.3 * (df["plan"] == "pro")
    df["target"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return df


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import nbml
    from nbml import options

    options.plots = True
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.pkl")
        make_frame(args.rows).to_pickle(path)
        df = pd.read_pickle(path)
    print(f"{len(df):,} rows × {df.shape[1]} columns, {df.memory_usage(deep=True).sum() / 2**20:.0f} MiB")

    cases = {
        "describe": lambda: df.describe(include="all"),
        "eda": lambda: nbml.eda(df, target="target"),
        "eda + plots": lambda: nbml.eda(df, target="target")._repr_html_(),
    }
    for fn in cases.values():  # warm-up: imports, matplotlib's font cache
        fn() if fn is not cases["eda + plots"] else nbml.eda(df.iloc[:2000], target="target")._repr_html_()
    times = {name: [] for name in cases}
    names = list(cases)
    for i in range(args.repeats):
        for name in (names if i % 2 == 0 else names[::-1]):
            times[name].append(timed(cases[name]))

    base = statistics.median(times["describe"])
    print(f"{'':14s}{'median s':>10s}{'vs describe':>13s}   all runs")
    for name in names:
        med = statistics.median(times[name])
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"{name:14s}{med:10.2f}{med / base:12.2f}x   {runs}")

    report = nbml.eda(df, target="target")
    print(report.sample_note())
    print("findings:")
    for line in report.findings:
        print("  -", line)


if __name__ == "__main__":
    main()
