"""`%%train --cv 5` through the magic vs plain `sklearn.model_selection.cross_validate`.

Same model (the pipeline nbml builds, preprocessing included), same folds (StratifiedKFold /
KFold, shuffled, same seed), same metrics (nbml's six classification or four regression
metrics, on validation and training folds: cross_validate gets the equal scorers and
return_train_score=True). The magic runs in a terminal IPython shell (text output; no
figures are drawn there). Runs are interleaved, order alternating, and medians compared.

A second table adds the final fit on the training rows to both sides (nbml fits it when
`result.model` is first used; by hand it is one more `fit`).

The wide case (issue 18): 300 rows × 5,000 float columns (`benchmarks/split_wide.py`'s frame),
`%%train --cv 3` of a LogisticRegression, bar 1.2×; it runs `--wide-repeats` times (slow).

    python benchmarks/train_cv_overhead.py [--repeats 9] [--wide-repeats 5] [--only wide|narrow]
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

try:
    from split_wide import wide_frame  # run as a script: benchmarks/ is on the path
except ImportError:
    from benchmarks.split_wide import wide_frame

# data, model, folds, bar (largest ratio of medians allowed)
CASES = [
    ("breast_cancer", "LogisticRegression(max_iter=1000)", 5, 1.05),
    ("breast_cancer", "RandomForestClassifier(n_estimators=100)", 5, 1.05),
    ("breast_cancer", "HistGradientBoostingClassifier(max_iter=100)", 5, 1.05),
    ("diabetes", "Ridge()", 5, 1.05),
    ("diabetes", "RandomForestRegressor(n_estimators=100)", 5, 1.05),
    ("wide", "LogisticRegression(max_iter=1000)", 3, 1.2),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--wide-repeats", type=int, default=5)
    parser.add_argument("--only", choices=["wide", "narrow"], default=None)
    args = parser.parse_args()

    ip = TerminalInteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbml")
    ip.run_cell("from sklearn.linear_model import LogisticRegression, Ridge\n"
                "from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor, "
                "HistGradientBoostingClassifier")
    ip.user_ns["breast_cancer"] = load_breast_cancer(as_frame=True).frame
    ip.user_ns["diabetes"] = load_diabetes(as_frame=True).frame
    ip.user_ns["wide"] = wide_frame()

    rows = []
    for data, model, cv, bar in CASES:
        if args.only and (data == "wide") != (args.only == "wide"):
            continue
        repeats = args.wide_repeats if data == "wide" else args.repeats
        rows += [(data, model.split("(")[0], cv, bar, final, *medians) for final, medians
                 in measure_case(ip, data, model, cv, repeats).items()]
    report(rows)


def measure_case(ip, data, model, cv, repeats) -> dict:
    """``{final: (nbml median s, sklearn median s)}``: runs interleaved, order alternating."""
    with capture_output():
        ip.run_cell(f"%split {data} --target target --seed 0")
        ip.run_cell(f"%%train -o warm --cv {cv}\n{model}")  # warm-up; also gives the pipeline
    result = ip.user_ns["warm"]
    split = nbml.active_split()
    X, y = split.X_trainval, split.y_trainval
    folds = make_folds(split.task, cv, 0)
    scoring = sklearn_scoring(split.task, len(split.classes_) if split.classes_ is not None else 2)

    def run_nbml(final=False):
        start = time.perf_counter()
        with capture_output():
            ip.run_cell(f"%%train -o bench --cv {cv}\n{model}")
        if final:
            ip.user_ns["bench"].model
        return time.perf_counter() - start

    def run_sklearn(final=False):
        start = time.perf_counter()
        cross_validate(result._pipeline, X, y, cv=folds, scoring=scoring, return_train_score=True)
        if final:
            clone(result._pipeline).fit(split.X_train, split.y_train)
        return time.perf_counter() - start

    medians = {}
    for final in (False, True):
        times = {"nbml": [], "sklearn": []}
        for i in range(repeats):
            order = [("nbml", run_nbml), ("sklearn", run_sklearn)]
            for name, fn in (order if i % 2 == 0 else order[::-1]):
                times[name].append(fn(final))
        medians[final] = (statistics.median(times["nbml"]), statistics.median(times["sklearn"]))
    assert ip.user_ns["bench"].metrics == ip.user_ns["warm"].metrics  # same seed, same numbers
    return medians


def report(rows):
    for final in (False, True):
        print()
        print("with the final fit on train (both sides)" if final else
              "%%train --cv K vs cross_validate (bar: ratio <= the bar column)")
        print(f"{'data':<14}{'model':<32}{'cv':>3}{'nbml s':>9}{'sklearn s':>11}{'ratio':>8}{'bar':>6}")
        ratios = []
        for data, model, cv, bar, fin, a, b in rows:
            if fin == final:
                ratios.append(a / b)
                print(f"{data:<14}{model:<32}{cv:>3}{a:>9.3f}{b:>11.3f}{a / b:>8.3f}{bar:>6.2f}")
        gmean = statistics.geometric_mean(ratios)
        print(f"{'geometric mean of ratios':<58}{gmean:>8.3f}  max {max(ratios):.3f}")


if __name__ == "__main__":
    main()
