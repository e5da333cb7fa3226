"""CPU cost of ``%compare`` against its floor (scikit-learn's ``cross_validate`` of the same models by
hand) and PyCaret's ``compare_models`` (issue 17 item 1: 375 CPU-s for nbml against PyCaret's 357).

A generated 50,000-row classification frame (20 numeric features, two classes), 70 % of it for
training (PyCaret's default ``train_size``; nbml: ``split(test=0.3, val=0)``), 5-fold stratified CV,
six families (``lr ridge nb tree rf knn``), one process, ``n_jobs=1`` everywhere. CPU seconds are
``time.process_time()`` plus finished children (``resource.getrusage(RUSAGE_CHILDREN)``), around the
leaderboard only (the split/setup and import are reported apart):

- ``nbml``: ``nbml.compare(models=…, cv=5)`` — held-out scores only (the default since this issue);
- ``nbml+train``: ``nbml.compare(…, train_scores=True)`` — also scoring every fold's training rows,
  as compare did before;
- ``by hand``: ``cross_validate(Pipeline([median imputer, scaler, model]), scoring=<nbml's six
  metrics>)`` — the floor;
- ``pycaret``: ``compare_models(include=[lr ridge nb dt rf knn], fold=5)`` in its own virtual
  environment (``--pycaret-python``, default ``/tmp/pycaret_venv/bin/python``; skipped when absent).

Runs are interleaved (nbml, by hand, PyCaret, nbml+train, in turn) ``--repeats`` times; medians.

    python benchmarks/compare_cost.py [--rows 50000] [--repeats 1] [--pycaret-python PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

FAMILIES = "lr,ridge,nb,tree,rf,knn"
PYCARET = {"lr": "lr", "ridge": "ridge", "nb": "nb", "tree": "dt", "rf": "rf", "knn": "knn"}


def cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def frame(rows: int):
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=20, n_informative=10, n_redundant=4, flip_y=0.05,
                               random_state=0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    df["y"] = y
    return df


def run_nbml(df, train_scores):
    import nbml

    start = cpu()
    nbml.split(df, target="y", test=0.3, val=0, seed=0)
    setup = cpu() - start
    start = cpu()
    table = nbml.compare(models=FAMILIES, cv=5, seed=0, train_scores=train_scores)
    return {"setup": setup, "compare": cpu() - start, "best": table.index[0]}


def run_by_hand(df):
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import nbml
    from nbml.folds import make_folds
    from nbml.metrics import sklearn_scoring

    split = nbml.split(df, target="y", test=0.3, val=0, seed=0, activate=False)
    X, y = split.X_trainval, split.y_trainval
    start = cpu()
    for short in FAMILIES.split(","):
        pipeline = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                                 nbml.standard_model(short, "classification"))
        scoring = sklearn_scoring("classification", 2)
        if not hasattr(pipeline, "predict_proba"):
            scoring = {k: v for k, v in scoring.items() if k != "log_loss"}
        cross_validate(pipeline, X, y, cv=make_folds("classification", 5, 0), scoring=scoring, error_score="raise")
    return {"setup": 0.0, "compare": cpu() - start, "best": ""}


PYCARET_SCRIPT = """
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
def cpu():
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime
start = cpu()
from pycaret.classification import compare_models, pull, setup
imported = cpu() - start
df = pd.read_csv(sys.argv[1])
start = cpu()
setup(df, target="y", train_size=0.7, fold=5, session_id=0, n_jobs=1, html=False, verbose=False)
setup_cpu = cpu() - start
start = cpu()
best = compare_models(include=sys.argv[2].split(","), fold=5, verbose=False, errors="raise")
print(json.dumps({"import": imported, "setup": setup_cpu, "compare": cpu() - start, "best": type(best).__name__}))
"""


def run_pycaret(python, csv):
    out = subprocess.run([python, "-c", PYCARET_SCRIPT, csv, ",".join(PYCARET[f] for f in FAMILIES.split(","))],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"PyCaret failed: {out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--pycaret-python", default="/tmp/pycaret_venv/bin/python")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("NBML_STORE", os.path.join(tempfile.mkdtemp(), "nbml.db"))  # runs recorded off the repo
    df = frame(args.rows)
    pycaret = os.path.exists(args.pycaret_python)
    if not pycaret:
        print(f"PyCaret skipped: no {args.pycaret_python} (python -m venv it and pip install pycaret)")
    runs = {"nbml": [], "by hand": [], "pycaret": [], "nbml+train": []}
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "frame.csv")
        df.to_csv(csv, index=False)
        for _ in range(args.repeats):
            for name in runs:
                if name == "pycaret" and not pycaret:
                    continue
                result = run_nbml(df, False) if name == "nbml" else run_nbml(df, True) if name == "nbml+train" \
                    else run_by_hand(df) if name == "by hand" else run_pycaret(args.pycaret_python, csv)
                runs[name].append(result)
                print(f"{name:>10}: compare {result['compare']:.1f} CPU-s, setup {result['setup']:.1f} CPU-s"
                      f"{', import %.1f CPU-s' % result['import'] if 'import' in result else ''}, best {result['best']}",
                      flush=True)
    median = {name: statistics.median(r["compare"] for r in rs) for name, rs in runs.items() if rs}
    print(f"\n{args.rows:,} rows, 5-fold CV, {FAMILIES}: CPU-seconds of the leaderboard (median of {args.repeats})")
    for name, value in median.items():
        print(f"{name:>10}: {value:7.1f}  = {value / median['by hand']:.2f}x by hand"
              + (f", {value / median['pycaret']:.2f}x PyCaret" if "pycaret" in median else ""))


if __name__ == "__main__":
    main()
