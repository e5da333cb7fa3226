"""One trial of a search: one configuration fit and scored on every fold of the fold engine
(``nbml.folds.Fold``), with the per-epoch or per-iteration reports pruning needs."""
from __future__ import annotations

import functools
import math
import os
import socket
import time
import warnings
from dataclasses import replace

import numpy as np

from nbml.errors import describe_error
from nbml.folds import Fold, FoldOutcome


class OutOfTime(Exception):
    """A fit stopped at its trial's deadline (a boosting library's own callback stopped it)."""


def evaluate_config(pipeline, params, folds, metric, seed, greater=True, report=None, epoch_key=None,
                    prepared=None, iterate=None, max_rows=None, fit=None, deadline=None, rows=None):
    """Fit and score one configuration on every ``Fold``; a dict describing the trial.

    ``report(step, value)`` receives intermediate scores and may raise
    ``optuna.TrialPruned``: per epoch for torch models when ``epoch_key`` names their
    callbacks parameter; per iteration on the first fold when ``iterate`` is ``(mode, key)``
    from ``nbml.tuning.pruning.iteration_mode`` (boosting stages, SGD/MLP epochs); else the
    running mean per fold. ``prepared`` (from ``prepare_folds``) holds each fold's
    already-preprocessed rows when only the final estimator's parameters vary: then only
    that estimator is fit. ``max_rows``: fit on at most this many of each fold's training rows
    (successive halving). ``fit(model, fold)``: another way to fit each fold (automl's, whose
    boosting rounds stop at the deadline by raising ``OutOfTime``). ``deadline`` (``time.time()``):
    the trial is cut (``state='cut'``) when its remaining folds would end past it. ``rows`` (the
    folds' ``Rows``): the outcome also holds the out-of-fold ``predictions`` and the fold
    ``table`` (``nbml.folds.scored``). Errors of the model become ``state='fail'``.
    """
    start = time.perf_counter()
    out = {"worker": f"{socket.gethostname()}:{os.getpid()}", "state": "complete", "error": None}
    scores, outcomes, times, reported = [], [], [], []  # reported: a trial pruned on its first fold keeps the last one
    if report is not None:
        report = functools.partial(_remember, report, reported)
    trial = _Trial(pipeline, params, metric, greater, report, epoch_key, iterate, out, fit)
    if max_rows is not None and any(len(f.X_train) > max_rows for f in folds):
        folds, prepared = [subsample(f, max_rows, seed + i) for i, f in enumerate(folds)], None
    try:
        for i, fold in enumerate(folds if prepared is None else prepared.folds):
            began = time.time()
            outcome = trial.fold(i, fold, prepared, seed)
            times.append(time.time() - began)
            score = outcome.metrics.get(metric, math.nan)
            if score is None or not math.isfinite(score):
                raise ValueError(f"{metric} is undefined on fold {i + 1} (NaN)")
            scores.append(score)
            # the fitted model and predictions are kept only when the caller wants out-of-fold predictions
            outcomes.append(outcome if rows is not None else replace(outcome, model=None, held_out=None))
            left = len(folds) - i - 1
            if report is not None and epoch_key is None and iterate is None and left:
                report(i, float(np.mean(scores)))
            if deadline is not None and left and time.time() + left * np.mean(times) > deadline:
                out["state"] = "cut"
                break
    except KeyboardInterrupt:
        raise
    except OutOfTime:
        out["state"] = "cut"
    except Exception as exc:  # noqa: BLE001 - a configuration that fails is a failed trial, with its reason
        out["state"], out["error"] = ("pruned", None) if type(exc).__name__ == "TrialPruned" else \
            ("fail", describe_error(exc))
    pruned_score = reported[-1] if out["state"] == "pruned" and reported else math.nan
    out["score"] = float(np.mean(scores)) if scores else pruned_score
    out["score_std"] = float(np.std(scores)) if len(scores) > 1 else math.nan
    complete = out["state"] == "complete"
    out["metrics"] = {m: float(np.mean([o.metrics.get(m, math.nan) for o in outcomes])) for m in outcomes[0].metrics} \
        if complete else {}
    out["fold_scores"], out["fold_times"] = scores, times
    out["running"] = [float(v) for v in np.cumsum(scores) / np.arange(1, len(scores) + 1)]
    if rows is not None:
        from nbml.folds import scored

        done = scored(folds[0].task, rows, outcomes) if complete else None
        out["predictions"], out["table"] = (done.predictions, done.table) if done else (None, None)
    out["duration"] = time.perf_counter() - start
    if trial.reporter is not None:
        out["epochs"] = trial.reporter.epochs
    return out


class _Trial:
    """What one configuration's folds share: the model to fit and the reporters feeding the pruner."""

    def __init__(self, pipeline, params, metric, greater, report, epoch_key, iterate, out, fit=None):
        self.pipeline, self.params, self.metric, self.greater = pipeline, params, metric, greater
        self.report, self.epoch_key, self.iterate, self.out, self.fit = report, epoch_key, iterate, out, fit
        self.reporter = None

    def model(self, prepared):
        from sklearn.base import clone

        if prepared is not None:
            return clone(prepared.estimator).set_params(**prepared.strip(self.params))
        return clone(self.pipeline).set_params(**self.params)

    def fold(self, i, fold: Fold, prepared, seed) -> FoldOutcome:
        """Fit fold ``i`` and score its held-out rows."""
        model, extra = self.model(prepared), {}
        if self.epoch_key is not None:
            extra = self._count_epochs(model, i, fold, prepared)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter of hundreds of fits
            if self.iterate is not None and self.report is not None and i == 0:
                from nbml.tuning.pruning import IterationReporter

                mode, key = self.iterate
                iterations = IterationReporter(self.report, mode, prepared.strip_key(key) if prepared else key,
                                               fold.task)
                try:
                    held_out = iterations.run(model, fold)[1]
                finally:
                    self.out["iterations"] = iterations.steps
            else:
                fold.fit(model, **extra) if self.fit is None else self.fit(model, fold)
                held_out = None
            fit_time = time.perf_counter() - start
            held_out = fold.held_out(model) if held_out is None else held_out
        return FoldOutcome(model=model, held_out=held_out, metrics=held_out.metrics(seed), train_metrics={},
                           fit_time=fit_time, score_time=time.perf_counter() - start - fit_time)

    def _count_epochs(self, model, i, fold, prepared):
        from nbml.tuning.pruning import EpochReporter

        if self.reporter is None:
            self.reporter = EpochReporter(self.report, self.metric, self.greater)
        self.reporter.active = i == 0
        key = prepared.strip_key(self.epoch_key) if prepared is not None else self.epoch_key
        model.set_params(**{key: [self.reporter]})
        if prepared is not None and self.report is not None and i == 0 and model.get_params().get("patience") is None:
            # per-epoch scores on the rows the trial is scored on feed the pruner (without
            # early stopping they steer nothing else)
            return {"X_val": fold.X_test, "y_val": fold.y_true}
        return {}


def _remember(report, reported, step, value):
    reported.append(value)
    report(step, value)


def subsample(fold: Fold, n: int, seed: int) -> Fold:
    """The fold with at most ``n`` of its training rows (stratified where the classes allow)."""
    from copy import copy

    from sklearn.utils import resample

    if len(fold.X_train) <= n:
        return fold
    idx = np.arange(len(fold.X_train))
    stratify = None
    if fold.task == "classification" and fold.y_train is not None:
        labels = fold.y_train
        if labels.value_counts().min() >= 2 and n >= labels.nunique() * 2:
            stratify = labels.to_numpy()
    keep = np.sort(resample(idx, n_samples=n, replace=False, stratify=stratify, random_state=seed))
    out = copy(fold)
    out.X_train = fold.X_train.iloc[keep]
    out.y_train = None if fold.y_train is None else fold.y_train.iloc[keep]
    out.fit_params = {k: (np.asarray(v)[keep] if np.ndim(v) == 1 and len(v) == len(idx) else v)
                      for k, v in fold.fit_params.items()}
    return out


class PreparedFolds:
    """Each fold's rows passed through the fitted preprocessing once, for searches whose
    parameters all belong to the final estimator (the preprocessing fit on a fold does not
    depend on them, so refitting it per configuration would only repeat the same work)."""

    def __init__(self, estimator, prefix, folds, preprocessors=None):
        self.estimator, self.prefix, self.folds = estimator, prefix, folds
        self.preprocessors = preprocessors or []  # each fold's fitted preprocessing

    def strip_key(self, key):
        return key.removeprefix(self.prefix)

    def strip(self, params):
        return {self.strip_key(k): v for k, v in params.items()}


# at most this many preprocessed values are kept (all folds together)
PREPARE_LIMIT = 50_000_000


def prepare_folds(pipeline, folds, keys):
    """``PreparedFolds`` when every tuned key (and fit parameter) is the final estimator's and
    the pipeline is ``preprocess -> model``; else None (each trial fits the whole pipeline)."""
    from copy import copy

    from sklearn.base import clone

    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) != 2 or getattr(steps[-1][1], "steps", None) is not None:
        return None
    prefix = steps[-1][0] + "__"
    fit_keys = {k for f in folds for k in f.fit_params}
    if not all(k.startswith(prefix) for k in list(keys) + list(fit_keys)):
        return None
    if sum(f.X_train.shape[0] + f.X_test.shape[0] for f in folds) * folds[0].X_train.shape[1] > PREPARE_LIMIT:
        return None
    out, preprocessors = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fold in folds:
            pre = clone(steps[0][1])
            preprocessors.append(pre)
            try:
                X_tr, X_te = pre.fit_transform(fold.X_train, fold.y_train), pre.transform(fold.X_test)
            except (ValueError, TypeError, ArithmeticError, IndexError, KeyError):
                return None  # every trial then fits the whole pipeline and reports its own error
            done = copy(fold)
            done.X_train, done.X_test, done.prepared = X_tr, X_te, True
            done.fit_params = {k.removeprefix(prefix): v for k, v in fold.fit_params.items()}
            out.append(done)
    return PreparedFolds(steps[-1][1], prefix, out, preprocessors)


def run_one(args):
    with blas_threads(args["folds"][0].X_train):
        return evaluate_config(**args)


# Below this many values a fit spends more time synchronizing threads than computing (on a
# busy 2-core machine a LogisticRegression fit ran 9x slower with 2 BLAS threads than with 1),
# and trials, not threads, are the unit of parallel work (n_jobs).
SMALL_DATA = 500_000


_THREADPOOLS = None  # threadpoolctl's controller: finding the BLAS libraries once costs ~10 ms


def blas_threads(X):
    """One BLAS/OpenMP thread while fitting small data."""
    import contextlib

    global _THREADPOOLS
    if X is None or getattr(X, "size", SMALL_DATA) >= SMALL_DATA:
        return contextlib.nullcontext()
    if _THREADPOOLS is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return contextlib.nullcontext()
        _THREADPOOLS = ThreadpoolController()
    return _THREADPOOLS.limit(limits=1)
