"""Search efficiency: how many evaluations Bayesian and random search need against a grid.

HistGradientBoostingClassifier on generated data, 4 hyperparameters, a 144-configuration
grid, ROC AUC by 3-fold CV. The grid's best is the target; for 5 seeds, ``bayes`` (Optuna
TPE) and ``random`` search the same 144 configurations (the lists are their space; bayes
searches a list of numbers as ordered values), on the same folds (``search_seed`` varies the
search only), with a budget of 25 evaluations (distinct fits: bayes never fits a
configuration twice).
Reported: the median number of evaluations until a search is within 0.001 of the grid's best
(budget + 1 when it never gets there), and the median best score at the fixed budget of 25.

Bars (issue 4): bayes needs <= 1/10 of the grid's evaluations, and its fixed-budget median
is >= random's.

    python benchmarks/tune_efficiency.py [--seeds 5] [--budget 25] [--rows 1500]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

GRID = {"learning_rate": [0.03, 0.1, 0.3], "max_leaf_nodes": [4, 8, 16, 32],
        "min_samples_leaf": [5, 20, 50, 100], "l2_regularization": [0.0, 0.1, 1.0]}


def evaluations_to_reach(trials, target, tol, budget):
    ordered = trials.sort_index()
    hits = ordered.index[(ordered["state"] == "complete") & (ordered["score"] >= target - tol)]
    return int(list(ordered.index).index(hits[0]) + 1) if len(hits) else budget + 1


def replay(grid, args, seeds=30):
    """The same searches over many more search seeds, replayed on the grid's own scores: every
    configuration's CV score is deterministic (same folds, same model seed), so looking it up
    gives exactly what a fresh evaluation would. Candidates come from nbml's own code paths
    (``random_candidates``; Optuna with ``make_sampler`` and ``OptunaSpace``, and, as in
    ``tune``, a proposal already evaluated is told its score without counting an evaluation)."""
    import optuna

    from nbml import space as nbml_space
    from nbml.tuning.search import DUPLICATE_LIMIT, OptunaSpace, make_sampler, random_candidates

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dims = nbml_space.normalize(GRID)
    table = grid.trials.set_index(list(GRID))["score"].to_dict()

    def lookup(params):
        return table[tuple(params[k] for k in GRID)]
    out = {"bayes": [], "random": []}
    for seed in range(seeds):
        scores = [lookup(p) for p in random_candidates(dims, seed, args.budget)]
        out["random"].append(scores)
        space = OptunaSpace(dims)
        study = optuna.create_study(direction="maximize", sampler=make_sampler(None, seed, space))
        scores, seen, repeats = [], set(), 0
        while len(scores) < args.budget and repeats < DUPLICATE_LIMIT:
            trial = study.ask(space.distributions)
            params = space.decode(trial.params)
            value = lookup(params)
            study.tell(trial, value)
            key = tuple(params[k] for k in GRID)
            repeats = repeats + 1 if key in seen else 0
            if key not in seen:
                seen.add(key)
                scores.append(value)
        out["bayes"].append(scores)
    for method, runs in out.items():
        reach = [next((i + 1 for i, v in enumerate(r) if v >= grid.best_score - args.tol), args.budget + 1)
                 for r in runs]
        best = [max(r) for r in runs]
        print(f"  replay over {seeds} search seeds, {method:6s}: median evaluations to within {args.tol} "
              f"{statistics.median(reach)}, median best at {args.budget} {statistics.median(best):.5f}, "
              f"mean best {sum(best) / len(best):.5f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=25)
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--tol", type=float, default=0.001)
    args = parser.parse_args()

    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier

    import nbml

    os.environ["NBML_STORE"] = os.path.join(tempfile.mkdtemp(), "nbml.db")
    X, y = make_classification(n_samples=args.rows, n_features=20, n_informative=6, flip_y=0.05, random_state=0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(target=y)
    nbml.split(df, target="target", seed=0)
    model = HistGradientBoostingClassifier(max_iter=100, early_stopping=False)

    start = time.perf_counter()
    grid = nbml.tune(model, GRID, method="grid", cv=3, metric="roc_auc", live=False)
    n_grid = len(grid.trials)
    print(f"grid: {n_grid} evaluations, best roc_auc {grid.best_score:.5f} ({time.perf_counter() - start:.0f}s)")

    needed = {"bayes": [], "random": []}
    at_budget = {"bayes": [], "random": []}
    for seed in range(args.seeds):
        for method in ("bayes", "random"):
            result = nbml.tune(model, GRID, method=method, trials=args.budget, cv=3, metric="roc_auc",
                               search_seed=seed, live=False)
            needed[method].append(evaluations_to_reach(result.trials, grid.best_score, args.tol, args.budget))
            at_budget[method].append(result.best_score)
        print(f"  seed {seed}: evaluations to within {args.tol} — bayes {needed['bayes'][-1]}, random "
              f"{needed['random'][-1]}; best at {args.budget} — bayes {at_budget['bayes'][-1]:.5f}, random "
              f"{at_budget['random'][-1]:.5f}")
    med_needed = {m: statistics.median(v) for m, v in needed.items()}
    med_best = {m: statistics.median(v) for m, v in at_budget.items()}
    print(f"median evaluations to within {args.tol} of the grid's best: bayes {med_needed['bayes']}, "
          f"random {med_needed['random']}, grid {n_grid}")
    print(f"median best roc_auc at {args.budget} evaluations: bayes {med_best['bayes']:.5f}, "
          f"random {med_best['random']:.5f}")
    replay(grid, args)
    ratio = med_needed["bayes"] / n_grid
    print(f"ratio bayes / grid evaluations = {ratio:.3f}  (bar <= 0.1: {'PASS' if ratio <= 0.1 else 'FAIL'})")
    ok = med_best["bayes"] >= med_best["random"]
    print(f"bayes fixed-budget median >= random's: {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
