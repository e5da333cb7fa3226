"""Coreset quality: does a 1% coreset train a LogisticRegression as well as the full data?

Generated imbalanced data (default 1,000,000 training rows, 30 features, about 2% positives,
a third of the features heavy-tailed) is written to a CSV in a temporary folder first; the
coreset is built from that file with ``nbml.coreset(file=..., size=1%)`` (merge-and-reduce
tree, chunked reading). Compared on a held-out test set (ROC AUC), 5 seeds:

  full      LogisticRegression on all training rows
  coreset   the same model fit with the coreset's weights as sample_weight
  uniform   the same model on a 1% uniform random sample

Bar (issue 7): mean coreset AUC within 0.003 of full, and mean coreset >= mean uniform.

    python benchmarks/coreset_quality.py            # the real size (several minutes)
    python benchmarks/coreset_quality.py --rows 100000 --seeds 3   # quick check
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd

N_FEATURES = 30


def make_data(n_rows, seed=0, positives=0.02, n_features=N_FEATURES):
    """Imbalanced binary data: correlated Gaussian and heavy-tailed (Student t, df=2.5) features."""
    rng = np.random.default_rng(seed)
    n_heavy = n_features // 3
    mix = np.eye(n_features) + 0.3 * rng.normal(size=(n_features, n_features)) / np.sqrt(n_features)
    X = rng.normal(size=(n_rows, n_features)) @ mix
    X[:, :n_heavy] = rng.standard_t(2.5, size=(n_rows, n_heavy))
    beta = rng.normal(size=n_features) * 0.5
    beta[:n_heavy] *= 0.6
    score = X @ beta
    noise = rng.logistic(size=n_rows)
    # intercept so that about `positives` of the rows are positive
    b0 = -np.quantile(score + noise, 1 - positives)
    y = (score + noise + b0 > 0).astype(np.int8)
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"x{i:02d}" for i in range(n_features)])
    frame["y"] = y
    return frame


def write_csv(frame, path):
    frame.to_csv(path, index=False, float_format="%.5g")
    return path


def model():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def auc(fitted, test):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(test["y"], fitted.predict_proba(test.drop(columns="y"))[:, 1])


def summary(values):
    values = np.asarray(values)
    return f"{values.mean():.4f} ± {values.std(ddof=1) if len(values) > 1 else 0:.4f} " \
           f"(min {values.min():.4f}, max {values.max():.4f})"


def main(argv=None):
    import nbml

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="training rows")
    parser.add_argument("--test-rows", type=int, default=None, help="default: rows / 4")
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--chunksize", type=int, default=100_000)
    args = parser.parse_args(argv)
    test_rows = args.test_rows or max(args.rows // 4, 20_000)
    size = round(args.fraction * args.rows)

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        data = make_data(args.rows + test_rows, seed=12345)
        train, test = data.iloc[:args.rows], data.iloc[args.rows:]
        path = write_csv(train, os.path.join(tmp, "train.csv"))
        del data
        print(f"data: {args.rows:,} training rows ({train['y'].mean():.2%} positive), "
              f"{test_rows:,} test rows, {N_FEATURES} features; CSV "
              f"{os.path.getsize(path) / 1e6:.0f} MB written in {time.perf_counter() - t0:.0f}s")
        train = pd.read_csv(path)  # fit the full model on exactly what the file holds

        t0 = time.perf_counter()
        full_auc = auc(model().fit(train.drop(columns="y"), train["y"]), test)
        print(f"full data fit: {time.perf_counter() - t0:.1f}s, test AUC {full_auc:.4f}")

        results = {"coreset (file, tree)": [], "coreset (in memory)": [], "uniform": []}
        build = []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            cs = nbml.coreset(file=path, target="y", size=size, seed=seed,
                              chunksize=args.chunksize)
            build.append(time.perf_counter() - t0)
            results["coreset (file, tree)"].append(auc(cs.fit(model()), test))
            cs_mem = nbml.coreset(train, "y", size=size, seed=seed)
            results["coreset (in memory)"].append(auc(cs_mem.fit(model()), test))
            uni = nbml.coreset(train, "y", size=size, method="uniform", seed=seed)
            results["uniform"].append(auc(uni.fit(model()), test))
            print(f"  seed {seed}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in results.items())
                  + f"  (positives in coreset {int((cs.y == 1).sum())}, uniform "
                    f"{int((uni.y == 1).sum())}; tree build {build[-1]:.1f}s)")

        print(f"\nsize {size:,} rows ({args.fraction:.0%}), {args.seeds} seeds; test ROC AUC:")
        print(f"  {'full data':22s} {full_auc:.4f}")
        for name, values in results.items():
            print(f"  {name:22s} {summary(values)}   gap to full {np.mean(values) - full_auc:+.4f}")
        gap = full_auc - np.mean(results["coreset (file, tree)"])
        beats = np.mean(results["coreset (file, tree)"]) >= np.mean(results["uniform"])
        ok = gap <= 0.003 and beats
        print(f"\nbar: coreset within 0.003 of full ({gap:+.4f} below) and mean >= uniform's "
              f"({'yes' if beats else 'no'}): {'PASS' if ok else 'FAIL'}")
        print(f"tree build from CSV: median {np.median(build):.1f}s")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
