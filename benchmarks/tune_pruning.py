"""Pruning: tuning a ``TorchClassifier`` with ``prune="hyperband"`` against no pruning.

Bayesian search (TPE, seeded) over lr, hidden size, dropout and weight decay; 30 trials of up
to 30 epochs each on generated data, scored by ROC AUC on the validation split. Each epoch's
validation score is reported to Optuna; Hyperband stops trials that trail. Reported: total
epochs trained and the best score of each run (medians over --seeds).

Bars (issue 4): pruned epochs <= 1/2 of unpruned, best score within 0.005.

``--model boosting`` runs the same comparison for a GradientBoostingClassifier (learning
rate, depth, subsample, min_samples_leaf; ``--epochs`` boosting stages), whose trials
report every few stages through ``fit(monitor=...)``: "epochs" are then stages fit.

    python benchmarks/tune_pruning.py [--trials 30] [--epochs 30] [--seeds 1] [--model torch|boosting]
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
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--prune", default="hyperband")
    parser.add_argument("--model", default="torch", choices=["torch", "boosting"])
    args = parser.parse_args()

    import pandas as pd
    from sklearn.datasets import make_classification

    import nbml
    from nbml.space import choice, loguniform, randint, uniform

    os.environ["NBML_STORE"] = os.path.join(tempfile.mkdtemp(), "nbml.db")
    X, y = make_classification(n_samples=args.rows, n_features=20, n_informative=8, flip_y=0.03, random_state=0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(target=y)
    nbml.split(df, target="target", seed=0)
    if args.model == "torch":
        space = {"lr": loguniform(1e-5, 1e-1), "hidden": choice((16,), (64,), (64, 32)),
                 "dropout": uniform(0.0, 0.5), "weight_decay": loguniform(1e-6, 1e-2)}
        model = nbml.TorchClassifier(epochs=args.epochs, batch_size=128, seed=0)
    else:
        from sklearn.ensemble import GradientBoostingClassifier

        space = {"learning_rate": loguniform(1e-3, 1.0), "max_depth": randint(1, 5),
                 "subsample": uniform(0.5, 1.0), "min_samples_leaf": randint(1, 50)}
        model = GradientBoostingClassifier(n_estimators=args.epochs, random_state=0)

    def trained(result):
        """Epochs (torch) or boosting stages (every trial fits all of them unless pruned)."""
        if args.model == "torch":
            return result.total_epochs
        if "iterations" not in result.trials:
            return args.epochs * len(result.trials)
        return int(result.trials["iterations"].fillna(args.epochs).sum())

    rows = {None: [], args.prune: []}
    for seed in range(args.seeds):
        for prune in (None, args.prune):
            start = time.perf_counter()
            result = nbml.tune(model, space, method="bayes", trials=args.trials, metric="roc_auc", prune=prune,
                               seed=seed, live=False)
            rows[prune].append((trained(result), result.best_score, result.n_pruned,
                                time.perf_counter() - start))
            print(f"  seed {seed} prune={prune}: {rows[prune][-1][0]} epochs, best roc_auc {result.best_score:.5f}, "
                  f"{result.n_pruned} pruned, {rows[prune][-1][3]:.0f}s")
    med = {p: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for p, v in rows.items()}
    print(f"{args.trials} trials of up to {args.epochs} epochs, {args.seeds} seed(s)")
    print(f"  no pruning:   {med[None][0]:.0f} epochs, best roc_auc {med[None][1]:.5f}")
    print(f"  {args.prune}: {med[args.prune][0]:.0f} epochs, best roc_auc {med[args.prune][1]:.5f}")
    ratio = med[args.prune][0] / med[None][0]
    gap = med[None][1] - med[args.prune][1]
    print(f"epochs ratio = {ratio:.3f} (bar <= 0.5: {'PASS' if ratio <= 0.5 else 'FAIL'}); best-score gap = "
          f"{gap:+.4f} (bar <= 0.005: {'PASS' if gap <= 0.005 else 'FAIL'})")


if __name__ == "__main__":
    main()
