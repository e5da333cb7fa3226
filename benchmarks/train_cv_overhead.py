"""`%%train --cv 5` through the magic vs plain `sklearn.model_selection.cross_validate`.

Same model (the pipeline nbml builds, preprocessing included), same folds (StratifiedKFold /
KFold, shuffled, same seed), same metrics (nbml's six classification or four regression
metrics, on validation and training folds: cross_validate gets the equal scorers and
return_train_score=True). The magic runs in a terminal IPython shell (text output; no
figures are drawn there). Runs are interleaved, order alternating, and medians compared.

A second table adds the final fit on the training rows to both sides (nbml fits it when
`result.model` is first used; by hand it is one more `fit`).

    python benchmarks/train_cv_overhead.py [--repeats 9]
"""
from __future__ import annotations

import argparse
import statistics
import time

from IPython.terminal.interactiveshell import TerminalInteractiveShell
from IPython.utils.capture import capture_output
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import cross_validate

import nbml
from nbml.metrics import sklearn_scoring
from nbml.training import make_folds

CASES = [
    ("breast_cancer", "LogisticRegression(max_iter=1000)"),
    ("breast_cancer", "RandomForestClassifier(n_estimators=100)"),
    ("breast_cancer", "HistGradientBoostingClassifier(max_iter=100)"),
    ("diabetes", "Ridge()"),
    ("diabetes", "RandomForestRegressor(n_estimators=100)"),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    ip = TerminalInteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbml")
    ip.run_cell("from sklearn.linear_model import LogisticRegression, Ridge\n"
                "from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor, "
                "HistGradientBoostingClassifier")
    ip.user_ns["breast_cancer"] = load_breast_cancer(as_frame=True).frame
    ip.user_ns["diabetes"] = load_diabetes(as_frame=True).frame

    rows = []
    for data, model in CASES:
        with capture_output():
            ip.run_cell(f"%split {data} --target target --seed 0")
            ip.run_cell(f"%%train -o warm --cv 5\n{model}")  # warm-up; also gives the pipeline
        result = ip.user_ns["warm"]
        split = nbml.active_split()
        X, y = split.X_trainval, split.y_trainval
        folds = make_folds(split.task, 5, 0)
        scoring = sklearn_scoring(split.task, len(split.classes_) if split.classes_ is not None else 2)

        def run_nbml(final=False):
            start = time.perf_counter()
            with capture_output():
                ip.run_cell(f"%%train -o bench --cv 5\n{model}")
            if final:
                ip.user_ns["bench"].model
            return time.perf_counter() - start

        def run_sklearn(final=False):
            start = time.perf_counter()
            cross_validate(result._pipeline, X, y, cv=folds, scoring=scoring, return_train_score=True)
            if final:
                clone(result._pipeline).fit(split.X_train, split.y_train)
            return time.perf_counter() - start

        for final in (False, True):
            times = {"nbml": [], "sklearn": []}
            for i in range(args.repeats):
                order = [("nbml", run_nbml), ("sklearn", run_sklearn)]
                for name, fn in (order if i % 2 == 0 else order[::-1]):
                    times[name].append(fn(final))
            med = {k: statistics.median(v) for k, v in times.items()}
            rows.append((data, model.split("(")[0], final, med["nbml"], med["sklearn"], med["nbml"] / med["sklearn"]))
        assert ip.user_ns["bench"].metrics == ip.user_ns["warm"].metrics  # same seed, same numbers

    for final in (False, True):
        print()
        print("with the final fit on train (both sides)" if final else
              "%%train --cv 5 vs cross_validate (bar: ratio <= 1.05)")
        print(f"{'data':<14}{'model':<32}{'nbml s':>9}{'sklearn s':>11}{'ratio':>8}")
        ratios = []
        for data, model, fin, a, b, r in rows:
            if fin == final:
                ratios.append(r)
                print(f"{data:<14}{model:<32}{a:>9.3f}{b:>11.3f}{r:>8.3f}")
        gmean = statistics.geometric_mean(ratios)
        print(f"{'geometric mean of ratios':<55}{gmean:>8.3f}  max {max(ratios):.3f}")


if __name__ == "__main__":
    main()
