"""Parallel trials: ``nbml.tune(..., n_jobs=2)`` against ``n_jobs=1`` (wall time).

A random search (seeded, so both runs evaluate the same configurations) of a
RandomForestClassifier (single-threaded fits) with 3-fold CV on generated data. Runs are
interleaved; the ratio of the median wall times is the speed-up. The parallel run's pool of
worker processes is started once before timing (joblib keeps it between calls).

Bar (issue 4): speed-up >= 1.7 on a 2-core machine.

    python benchmarks/tune_parallel.py [--repeats 3] [--trials 16]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    import nbml
    from nbml.space import logint, randint, uniform

    os.environ["NBML_STORE"] = os.path.join(tempfile.mkdtemp(), "nbml.db")
    X, y = make_classification(n_samples=args.rows, n_features=20, n_informative=8, random_state=0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(target=y)
    nbml.split(df, target="target", seed=0)
    space = {"max_depth": randint(4, 16), "min_samples_leaf": logint(1, 20), "max_features": uniform(0.2, 0.8)}
    model = RandomForestClassifier(n_estimators=40, n_jobs=1)

    def run(n_jobs):
        return nbml.tune(model, space, method="random", trials=args.trials, cv=3, seed=0, n_jobs=n_jobs, live=False)

    run(args.jobs)  # starts the worker pool, warms imports
    times = {1: [], args.jobs: []}
    scores = {}
    for _ in range(args.repeats):
        for n_jobs in (1, args.jobs):
            start = time.perf_counter()
            scores[n_jobs] = run(n_jobs).best_score
            times[n_jobs].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"random search, {args.trials} trials x 3 folds, RandomForest(40 trees), {os.cpu_count()} cores, "
          f"{args.repeats} interleaved repeats")
    for k in times:
        print(f"  n_jobs={k}  median {med[k]:.2f}s  {['%.2f' % t for t in times[k]]}  best {scores[k]:.4f}")
    speedup = med[1] / med[args.jobs]
    print(f"speed-up n_jobs={args.jobs} vs 1 = {speedup:.2f}x  (bar >= 1.7: {'PASS' if speedup >= 1.7 else 'FAIL'})")


if __name__ == "__main__":
    main()
