"""Coreset quality: does a 0.1% coreset train a LogisticRegression as well as the full data?

Two cases, both from ``make_data`` (imbalanced binary data: 30 features, about 2% positives,
a third of the features heavy-tailed; test rows drawn from the same distribution):

  large   1,000,000 training rows written to a CSV in a temporary folder; a 0.1% coreset
          (1,000 rows) built from the file (merge-and-reduce tree, chunked reading) and, for
          comparison, from the frame in memory
  small   12,000 training rows; a 1% coreset (120 rows) of the frame in memory

Compared on the test rows (ROC AUC) over seeds 0..4, medians quoted:

  full      LogisticRegression on all training rows (fit once: it does not depend on the seed)
  coreset   the same model fit with the coreset's weights as sample_weight
  uniform   the same model on a uniform random sample of the same size (nbml's method="uniform");
            a sample holding one class cannot be fit and scores 0.5, a constant prediction

Bar (issue 18 item 3): large — median coreset (file) AUC within 0.005 of full and above the
median uniform AUC; small — median coreset AUC within 0.01 of full.

    python benchmarks/coreset_quality.py                   # the real sizes (several minutes)
    python benchmarks/coreset_quality.py --rows 100000     # quick check of the large case
    python benchmarks/coreset_quality.py --fraction 0.01   # the issue 7 size (1%)
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


def coreset_auc(cs, test):
    """Test AUC of the model fit on a coreset; 0.5 (a constant prediction) when it holds one class."""
    return 0.5 if len(np.unique(np.asarray(cs.y))) < 2 else auc(cs.fit(model()), test)


def in_memory_runs(train, test, size, seeds):
    """Per seed: AUC of the sensitivity coreset and of the uniform sample, both of the frame."""
    import nbml

    results = {"coreset (in memory)": [], "uniform": []}
    for seed in range(seeds):
        cs = nbml.coreset(train, "y", size=size, seed=seed)
        results["coreset (in memory)"].append(coreset_auc(cs, test))
        uni = nbml.coreset(train, "y", size=size, method="uniform", seed=seed)
        results["uniform"].append(coreset_auc(uni, test))
    return results


def file_runs(path, test, size, seeds, chunksize):
    """Per seed: AUC of the coreset built from the CSV (tree), and the build times (wall, CPU)."""
    import nbml

    aucs, build = [], []
    for seed in range(seeds):
        t0, c0 = time.perf_counter(), time.process_time()
        cs = nbml.coreset(file=path, target="y", size=size, seed=seed, chunksize=chunksize)
        build.append((time.perf_counter() - t0, time.process_time() - c0))
        aucs.append(coreset_auc(cs, test))
        print(f"    seed {seed}: coreset (file) {aucs[-1]:.5f}, {int((cs.y == 1).sum())} positives, "
              f"tree build {build[-1][0]:.1f}s wall, {build[-1][1]:.1f}s CPU", flush=True)
    return aucs, build


def report(name, full_auc, results, tolerance):
    """Print medians and gaps; True when the case meets its bar (first result is the one judged)."""
    print(f"\n  {name}: test ROC AUC, medians over {len(next(iter(results.values())))} seeds")
    print(f"    {'full data':22s} {full_auc:.5f}")
    for label, values in results.items():
        print(f"    {label:22s} {np.median(values):.5f}   gap to full {np.median(values) - full_auc:+.5f}"
              f"   (min {np.min(values):.4f}, max {np.max(values):.4f})")
    judged = np.median(next(iter(results.values())))
    uniform = np.median(results["uniform"])
    gap, beats = full_auc - judged, judged > uniform
    ok = gap <= tolerance and (beats or name.startswith("small"))
    print(f"    bar: within {tolerance} of full ({gap:+.5f} below), above uniform "
          f"({judged:.4f} vs {uniform:.4f}: {'yes' if beats else 'no'}): {'PASS' if ok else 'FAIL'}")
    return ok


def large_case(args):
    size = round(args.fraction * args.rows)
    test_rows = args.test_rows or max(args.rows // 4, 20_000)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        data = make_data(args.rows + test_rows, seed=12345)
        train, test = data.iloc[:args.rows], data.iloc[args.rows:]
        path = write_csv(train, os.path.join(tmp, "train.csv"))
        del data
        print(f"large: {args.rows:,} training rows ({train['y'].mean():.2%} positive), {test_rows:,} test "
              f"rows, {N_FEATURES} features; CSV {os.path.getsize(path) / 1e6:.0f} MB written in "
              f"{time.perf_counter() - t0:.0f}s; coreset {size:,} rows ({args.fraction:.2%})", flush=True)
        train = pd.read_csv(path)  # fit the full model on exactly what the file holds
        t0 = time.perf_counter()
        full_auc = auc(model().fit(train.drop(columns="y"), train["y"]), test)
        print(f"    full data fit: {time.perf_counter() - t0:.1f}s, test AUC {full_auc:.4f}", flush=True)
        file_aucs, build = file_runs(path, test, size, args.seeds, args.chunksize)
        results = {"coreset (file, tree)": file_aucs, **in_memory_runs(train, test, size, args.seeds)}
    ok = report(f"large ({args.rows:,} rows, {size:,}-row coreset)", full_auc, results, 0.005)
    wall, cpu = np.median(build, axis=0)
    print(f"    tree build from CSV: median {wall:.1f}s wall, {cpu:.1f}s CPU (reading and parsing the CSV included)")
    return ok


def small_case(args):
    size = round(0.01 * args.small_rows)
    data = make_data(args.small_rows + 20_000, seed=12345)
    train, test = data.iloc[:args.small_rows], data.iloc[args.small_rows:]
    full_auc = auc(model().fit(train.drop(columns="y"), train["y"]), test)
    print(f"\nsmall: {args.small_rows:,} training rows ({train['y'].mean():.2%} positive), 20,000 test rows; "
          f"coreset {size} rows (1%)", flush=True)
    results = in_memory_runs(train, test, size, args.seeds)
    return report(f"small ({args.small_rows:,} rows, {size}-row coreset)", full_auc, results, 0.01)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="training rows of the large case")
    parser.add_argument("--test-rows", type=int, default=None, help="default: rows / 4")
    parser.add_argument("--fraction", type=float, default=0.001, help="coreset size of the large case")
    parser.add_argument("--small-rows", type=int, default=12_000, help="training rows of the small case")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--chunksize", type=int, default=100_000)
    parser.add_argument("--only", choices=["large", "small"], default=None)
    args = parser.parse_args(argv)
    ok = True
    if args.only != "small":
        ok &= large_case(args)
    if args.only != "large":
        ok &= small_case(args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
