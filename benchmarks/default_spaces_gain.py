"""What the default search spaces find: per standard family, the untuned CV score against the best
of 20 random (and 20 Bayesian) trials of ``nbml.tune`` with no space given (issue 17 item 1b).

breast_cancer (accuracy) and diabetes (R²), scikit-learn's bundled data; one seeded 80/20 split
(the test rows are left alone); 5-fold CV on the training rows, the same folds for the untuned
model and every trial (``seed=0``). Reported per family, dataset and method: the untuned score, the
tuned best, the gain, the number of distinct scores among the trials and of distinct models
(parameter sets: a space whose trials are all different models gives 20; accuracy on breast_cancer's
455 training rows takes only the values k/455, so many different models tie on it) and the
seconds the search took. Runs are interleaved (families in
turn, the method order flipped every other family) so that the shared machine's load spreads over
all of them. PyCaret's ``tune_model(rf, n_iter=20)`` moved breast_cancer's CV accuracy 0.9598 → 0.9723.

    python benchmarks/default_spaces_gain.py [--trials 20] [--methods random,bayes]
        [--families rf,gb,…] [--datasets breast_cancer,diabetes] [--n-jobs 1]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

DATASETS = {"breast_cancer": ("load_breast_cancer", "classification"), "diabetes": ("load_diabetes", "regression")}


def frame(name):
    import sklearn.datasets

    loader, task = DATASETS[name]
    return getattr(sklearn.datasets, loader)(as_frame=True).frame, task


def model_of(short, task):
    """A standard family by short name; ``xgb`` from XGBoost itself when nbml.standard lacks it."""
    import nbml
    from nbml.standard import families

    if short in families(task):
        return nbml.standard_model(short, task)
    if short == "xgb":
        import xgboost

        return (xgboost.XGBClassifier if task == "classification" else xgboost.XGBRegressor)(n_jobs=1)
    raise SystemExit(f"unknown family {short!r} for {task}")


def one(short, dataset, method, args, storage):
    import nbml

    df, task = frame(dataset)
    nbml.split(df, target="target", test=0.2, val=0, seed=0)
    metric = "accuracy" if task == "classification" else "r2"
    start = time.perf_counter()
    result = nbml.tune(model_of(short, task), method=method, trials=args.trials, cv=args.cv, metric=metric, seed=0,
                       n_jobs=args.n_jobs, storage=storage, live=False)
    seconds = time.perf_counter() - start
    done = result.trials[result.trials["state"] == "complete"]
    scores, params = done["score"], done[[c for c in done.columns if c in result.space or c.split("__")[-1] in
                                          {k.split("__")[-1] for k in result.space}]]
    untuned = result.untuned.get(metric, float("nan"))
    return {"family": short, "dataset": dataset, "method": method, "untuned": untuned, "tuned": result.best_score,
            "gain": result.best_score - untuned, "distinct": int(scores.round(10).nunique()),
            "models": len(params.astype(str).drop_duplicates()),
            "trials": len(scores), "seconds": seconds}


def families_of(args):
    from nbml.standard import families

    names = {}
    for dataset in args.datasets:
        _, task = frame(dataset)
        wanted = args.families or [*families(task), "xgb"]
        names[dataset] = [f for f in wanted if f in families(task) or f == "xgb"]
    return names


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--methods", default="random,bayes")
    parser.add_argument("--families", default=None, help="short names, e.g. rf,gb (default: every standard family + xgb)")
    parser.add_argument("--datasets", default="breast_cancer,diabetes")
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    args.methods, args.datasets = args.methods.split(","), args.datasets.split(",")
    args.families = args.families.split(",") if args.families else None
    import pandas as pd

    warnings.filterwarnings("ignore")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = families_of(args)
    order = list(dict.fromkeys(f for fs in names.values() for f in fs))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        storage = os.path.join(tmp, "trials.db")
        for i, short in enumerate(order):
            methods = args.methods if i % 2 == 0 else args.methods[::-1]
            for dataset in args.datasets:
                for method in methods:
                    if short in names[dataset]:
                        rows.append(one(short, dataset, method, args, storage))
                        r = rows[-1]
                        print(f"{r['dataset']:>13} {r['family']:>5} {r['method']:>6}: {r['untuned']:.4f} -> "
                              f"{r['tuned']:.4f} ({r['gain']:+.4f}), {r['distinct']}/{r['trials']} distinct scores of "
                              f"{r['models']} distinct models, "
                              f"{r['seconds']:.1f}s", flush=True)
    table = pd.DataFrame(rows).set_index(["dataset", "family", "method"]).sort_index()
    with pd.option_context("display.width", 160, "display.max_rows", 200, "display.float_format", "{:.4f}".format):
        print(table)
        print("\nmedian gain per dataset and method:")
        print(table.groupby(["dataset", "method"])["gain"].median())


if __name__ == "__main__":
    main()
