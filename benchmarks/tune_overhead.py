"""Overhead of ``nbml.tune(method="grid")`` against scikit-learn's ``GridSearchCV``.

Same pipeline (nbml's preprocessing + a LogisticRegression), same grid, same stratified
folds, same metric (accuracy), both refitting the best configuration. nbml also writes every
trial to its SQLite store (a temporary file here), refits the best configuration with its CV
metrics and keeps the untuned model's metrics beside it: all of that is inside its time.
Both run with one BLAS/OpenMP thread (nbml.tune limits threads to one on small data by itself;
GridSearchCV gets the same limit here so that only the search machinery differs). Runs are
interleaved; medians of the wall times are compared.

Bar (issue 4): nbml / GridSearchCV <= 1.05.

    python benchmarks/tune_overhead.py [--repeats 5] [--rows 3000]
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
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--cv", type=int, default=5)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    import nbml

    os.environ["NBML_STORE"] = os.path.join(tempfile.mkdtemp(), "nbml.db")
    X, y = make_classification(n_samples=args.rows, n_features=20, n_informative=8, random_state=0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(target=y)
    split = nbml.split(df, target="target", seed=0)
    base = nbml.train(LogisticRegression(max_iter=1000), cv=args.cv)
    grid = {"C": list(np.logspace(-3, 2, 12)), "fit_intercept": [True, False], "tol": [1e-4, 1e-3]}
    n_configs = int(np.prod([len(v) for v in grid.values()]))
    folds = StratifiedKFold(args.cv, shuffle=True, random_state=0)

    def run_nbml():
        result = nbml.tune(base, grid, method="grid", live=False)
        _ = result.best.model  # the refit of the best configuration, as GridSearchCV(refit=True) does
        return result

    def run_sklearn():
        from threadpoolctl import threadpool_limits

        search = GridSearchCV(base._pipeline, {f"model__{k}": v for k, v in grid.items()}, cv=folds,
                              scoring="accuracy", refit=True)
        with threadpool_limits(limits=1):
            return search.fit(split.X_trainval, split.y_trainval)

    times = {"nbml": [], "sklearn": []}
    results = {}
    run_nbml(), run_sklearn()  # warm-up: imports, caches
    for _ in range(args.repeats):
        for name, fn in (("nbml", run_nbml), ("sklearn", run_sklearn)):
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    same = abs(results["nbml"].best_score - results["sklearn"].best_score_) < 1e-12
    print(f"grid of {n_configs} configurations x {args.cv} folds, {len(split.X_trainval)} rows, "
          f"{args.repeats} interleaved repeats")
    print(f"  nbml.tune(method='grid')  median {med['nbml']:.3f}s  {['%.3f' % t for t in times['nbml']]}")
    print(f"  GridSearchCV              median {med['sklearn']:.3f}s  {['%.3f' % t for t in times['sklearn']]}")
    print(f"  same best score: {same} ({results['nbml'].best_score:.6f} vs {results['sklearn'].best_score_:.6f})")
    ratio = med["nbml"] / med["sklearn"]
    print(f"ratio nbml / GridSearchCV = {ratio:.3f}  (bar <= 1.05: {'PASS' if ratio <= 1.05 else 'FAIL'})")


if __name__ == "__main__":
    main()
