"""``tune()``: grid, random, Bayesian (Optuna) and successive-halving search.

Every method evaluates candidate configurations with the same fold loop
(``evaluate_config``): clone the pipeline, set the parameters, fit on each training fold,
score the held-out fold with nbml's metrics. Finished trials are written to the store at
once; a failing configuration becomes a failed trial, Ctrl-C keeps what finished.
"""
from __future__ import annotations

import functools
import json
import math
import os
import socket
import time
import warnings
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from nbml import metrics as _metrics
from nbml import space as _space
from nbml.training import (
    TrainResult,
    _fit,
    check_folds,
    check_model,
    describe_error,
    final_estimator,
    make_folds,
    make_model_pipeline,
    predict,
    resolve_split,
)

METHODS = ("grid", "random", "bayes", "halving")
SAMPLERS = ("tpe", "gp", "cmaes", "random")
DEFAULT_TRIALS = {"random": 20, "bayes": 20, "halving": 27}
HALVING_FACTOR = 3


# -- one configuration ---------------------------------------------------------------------

def evaluate_config(pipeline, params, X, y, task, folds, metric, seed, fit_params=None, max_rows=None,
                    report=None, epoch_key=None, greater=True, weights=None, weight_keys=(), prepared=None,
                    iterate=None):
    """Fit and score one configuration on every fold; a dict describing the trial.

    ``report(step, value)`` receives intermediate scores and may raise
    ``optuna.TrialPruned``: per epoch for torch models when ``epoch_key`` names their
    callbacks parameter; per iteration on the first fold when ``iterate`` is ``(mode, key)``
    from ``nbml.tuning.pruning.iteration_mode`` (boosting stages, SGD/MLP epochs); else the
    running mean per fold. ``weights`` (one per row of ``X``) go to the fit keywords
    ``weight_keys`` (a coreset's weights). ``prepared`` (from ``prepare_folds``) holds each
    fold's already-preprocessed rows when only the final estimator's parameters vary: then
    only that estimator is fit. Errors of the model become ``state='fail'``.
    """
    from sklearn.base import clone

    start = time.perf_counter()
    out = {"worker": f"{socket.gethostname()}:{os.getpid()}", "state": "complete", "error": None}
    scores, metric_rows = [], []
    reporter = None
    reported = []  # intermediate scores: a trial pruned on its first fold keeps the last one
    if report is not None:
        report = functools.partial(_remember, report, reported)
    try:
        for i, (train_idx, test_idx) in enumerate(folds):
            if max_rows is not None and len(train_idx) > max_rows:
                train_idx = _subsample(train_idx, y, task, max_rows, seed + i)
                prepared = None
            if prepared is not None:
                model = clone(prepared.estimator).set_params(**prepared.strip(params))
            else:
                model = clone(pipeline).set_params(**params)
            if epoch_key is not None:
                from nbml.tuning.pruning import EpochReporter

                if reporter is None:
                    reporter = EpochReporter(report, metric, greater)
                reporter.active = i == 0
                key = prepared.strip_key(epoch_key) if prepared is not None else epoch_key
                model.set_params(**{key: [reporter]})
            y_tr = None if y is None else y.iloc[train_idx]
            y_te = None if y is None else y.iloc[test_idx]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter of hundreds of fits
                fold_params = fit_params
                if weights is not None and weight_keys:
                    fold_params = dict(fit_params or {}, **{k: weights[train_idx] for k in weight_keys})
                if prepared is not None:
                    X_tr, X_te = prepared.folds[i]
                    fold_params = prepared.strip(fold_params or {})
                    if report is not None and epoch_key is not None and i == 0 and \
                            model.get_params().get("patience") is None:
                        # per-epoch scores on the rows the trial is scored on feed the pruner
                        # (without early stopping they steer nothing else)
                        fold_params.update(X_val=X_te, y_val=y_te)
                else:
                    X_tr, X_te = X.iloc[train_idx], X.iloc[test_idx]
                fold = _Fold(task, y_tr, y_te, seed, metric, None if weights is None else np.asarray(weights)[test_idx],
                             X_tr, X_te, fold_params, prepared=prepared is not None)
                if iterate is not None and report is not None and i == 0:
                    from nbml.tuning.pruning import IterationReporter

                    mode, key = iterate
                    iterations = IterationReporter(report, mode, prepared.strip_key(key) if prepared else key, task)
                    try:
                        model, held_out = iterations.run(model, fold)
                    finally:
                        out["iterations"] = iterations.steps
                else:
                    fold.fit(model)
                    held_out = fold.held_out(model)
                values = held_out.metrics(seed)
            score = values.get(metric, math.nan)
            if score is None or not math.isfinite(score):
                raise ValueError(f"{metric} is undefined on fold {i + 1} (NaN)")
            scores.append(score)
            metric_rows.append(values)
            if report is not None and epoch_key is None and iterate is None and len(folds) > 1 and \
                    i < len(folds) - 1:
                report(i, float(np.mean(scores)))
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if type(exc).__name__ == "TrialPruned":
            out["state"] = "pruned"
        else:
            out["state"] = "fail"
            out["error"] = describe_error(exc)
    out["score"] = float(np.mean(scores)) if scores else (reported[-1] if out["state"] == "pruned" and reported
                                                          else math.nan)
    out["score_std"] = float(np.std(scores)) if len(scores) > 1 else math.nan
    if out["state"] == "complete":
        out["metrics"] = {m: float(np.mean([r.get(m, math.nan) for r in metric_rows])) for m in metric_rows[0]}
    else:
        out["metrics"] = {}
    out["fold_scores"] = scores
    out["duration"] = time.perf_counter() - start
    if reporter is not None:
        out["epochs"] = reporter.epochs
    return out


class _Fold:
    """One fold's rows, as ``nbml.tuning.pruning.IterationReporter`` uses them: ``fit(model,
    **fit_params)`` fits on the training rows, ``held_out(model)`` predicts the held-out rows
    (weighted by a coreset's weights), ``score(predictions)`` is the trial's metric,
    ``rows(model)`` the held-out rows as the final estimator sees them, ``y_true`` their targets."""

    def __init__(self, task, y_train, y_true, seed, metric, weights, X_train, X_test, fit_params, prepared):
        self.task, self.y_true, self.seed, self.metric, self.weights = task, y_true, seed, metric, weights
        self.X_train, self.y_train, self.X_test = X_train, y_train, X_test
        self.fit_params, self.prepared = fit_params, prepared

    def fit(self, model, **extra):
        return _fit(model, self.X_train, self.y_train, self.task, dict(self.fit_params or {}, **extra))

    def held_out(self, model):
        if self.prepared:
            out = predict(model, self.X_test, self.task, y=self.y_true)
        else:
            out = _predict_once(model, self.X_test, self.task, self.y_true)
        if self.weights is not None:  # a coreset's rows stand for many: weigh their scores
            out.weights = self.weights
        return out

    def score(self, predictions) -> float:
        if self.weights is not None:
            predictions.weights = self.weights
        return float(predictions.metrics(self.seed).get(self.metric, math.nan))

    def rows(self, model):
        """The held-out rows as the final estimator sees them."""
        if self.prepared:
            return self.X_test
        steps = getattr(model, "steps", None)
        return model[:-1].transform(self.X_test) if steps and len(steps) > 1 else self.X_test


def _remember(report, reported, step, value):
    reported.append(value)
    report(step, value)


def _predict_once(model, X, task, y):
    """``predict`` with the preprocessing applied once (not once for labels, again for probabilities)."""
    steps = getattr(model, "steps", None)
    if steps and len(steps) > 1:
        return predict(steps[-1][1], model[:-1].transform(X), task, y=y)
    return predict(model, X, task, y=y)


class PreparedFolds:
    """Each fold's rows passed through the fitted preprocessing once, for searches whose
    parameters all belong to the final estimator (the preprocessing fit on a fold does not
    depend on them, so refitting it per configuration would only repeat the same work)."""

    def __init__(self, estimator, prefix, folds):
        self.estimator, self.prefix, self.folds = estimator, prefix, folds

    def strip_key(self, key):
        return key.removeprefix(self.prefix)

    def strip(self, params):
        return {self.strip_key(k): v for k, v in params.items()}


# at most this many preprocessed values are kept (all folds together)
PREPARE_LIMIT = 50_000_000


def prepare_folds(pipeline, X, y, task, folds, keys, fit_params=None):
    """``PreparedFolds`` when every tuned key (and fit parameter) is the final estimator's and
    the pipeline is ``preprocess -> model``; else None (each trial fits the whole pipeline)."""
    from sklearn.base import clone

    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) != 2 or getattr(steps[-1][1], "steps", None) is not None:
        return None
    prefix = steps[-1][0] + "__"
    if not all(k.startswith(prefix) for k in list(keys) + list(fit_params or {})):
        return None
    if X.shape[0] * X.shape[1] * len(folds) > PREPARE_LIMIT:
        return None
    out = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for train_idx, test_idx in folds:
                pre = clone(steps[0][1])
                y_tr = None if y is None else y.iloc[train_idx]
                out.append((pre.fit_transform(X.iloc[train_idx], y_tr), pre.transform(X.iloc[test_idx])))
    except Exception:
        return None  # let every trial fit the whole pipeline and report its own error
    return PreparedFolds(steps[-1][1], prefix, out)


def _subsample(idx, y, task, n, seed):
    from sklearn.utils import resample

    stratify = None
    if task == "classification" and y is not None:
        labels = y.iloc[idx]
        if labels.value_counts().min() >= 2 and n >= labels.nunique() * 2:
            stratify = labels.to_numpy()
    return np.sort(resample(idx, n_samples=n, replace=False, stratify=stratify, random_state=seed))


def _run_one(args):
    with blas_threads(args["X"]):
        return evaluate_config(**args)


# Below this many values a fit spends more time synchronizing threads than computing (on a
# busy 2-core machine a LogisticRegression fit ran 9x slower with 2 BLAS threads than with 1),
# and trials, not threads, are the unit of parallel work (n_jobs).
SMALL_DATA = 500_000


def blas_threads(X):
    """One BLAS/OpenMP thread while fitting small data."""
    import contextlib

    if X is None or getattr(X, "size", SMALL_DATA) >= SMALL_DATA:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


# -- the result --------------------------------------------------------------------------

class TuneResult:
    """The outcome of a search: ``best_params``, ``best_score``, ``trials`` (DataFrame sorted
    by score, best first), ``best`` (TrainResult of the best configuration refit), ``plot(kind)``."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    # The refit and the untuned model's metrics are computed when first asked for (showing
    # the result asks for both): a search used from a script pays only for what it uses.
    @property
    def best(self) -> TrainResult | None:
        """TrainResult of the best configuration (None when no trial finished)."""
        if "_best" not in self.__dict__:
            self._best = self._refit() if self._refit is not None else None
        return self._best

    @property
    def untuned(self) -> dict:
        """Validation (or CV) metrics of the model before tuning, on the same rows or folds."""
        if "_untuned_metrics" not in self.__dict__:
            self._untuned_metrics = self._untuned() if self._untuned is not None else {}
        return self._untuned_metrics

    @property
    def n_failed(self) -> int:
        return int((self.trials["state"] == "fail").sum()) if len(self.trials) else 0

    @property
    def n_pruned(self) -> int:
        return int((self.trials["state"] == "pruned").sum()) if len(self.trials) else 0

    @property
    def failures(self) -> pd.Series:
        """Failed trials per error message."""
        failed = self.trials[self.trials["state"] == "fail"]
        return failed["error"].value_counts() if len(failed) else pd.Series(dtype=int, name="count")

    @property
    def total_epochs(self) -> int | None:
        if "epochs" not in self.trials:
            return None
        return int(self.trials["epochs"].fillna(0).sum())

    def comparison(self) -> pd.DataFrame:
        """Validation (or CV) metrics of the untuned and the tuned model side by side."""
        # the best trial's metrics are the refit's (same rows, same folds); a coreset's trials
        # fit fewer rows than the refit, so there the refit itself is compared
        tuned = self.best_metrics if not self.coreset else (self.best.metrics if self.best is not None else {})
        frame = pd.DataFrame({"untuned": pd.Series(self.untuned, dtype=float),
                              "tuned": pd.Series(tuned, dtype=float)})
        return frame.loc[[m for m in tuned if m in frame.index] or list(frame.index)]

    def summary_lines(self) -> list:
        where = f"{self.cv}-fold CV" if self.cv else "validation split"
        if self.coreset:
            where = (f"weighted {self.cv}-fold CV on a {self.coreset}-row coreset" if self.cv
                     else f"validation split, fit on a {self.coreset}-row coreset")
        lines = [f"TuneResult: {self.model_name}, {self.method} search, {len(self.trials)} trials "
                 f"({self.n_failed} failed, {self.n_pruned} pruned) in {self.duration:.1f}s"
                 + (" — interrupted" if self.interrupted else "")]
        lines.append(f"best {self.metric} ({where}): {self.best_score:.4f}" if _finite(self.best_score)
                     else "no trial finished")
        if self.best_params:
            lines.append("best parameters: " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.best_params.items()))
        if self.n_failed:
            lines.append("failures: " + "; ".join(f"{n}× {msg}" for msg, n in self.failures.items()))
        if self.study:
            lines.append(f"study {self.study!r} in {self.storage_label}")
        return lines

    @property
    def storage_label(self) -> str:
        url = self.storage or "memory"
        return url.replace("sqlite:///" + os.getcwd() + os.sep, "sqlite:///") if isinstance(url, str) else str(url)

    def __repr__(self) -> str:
        lines = self.summary_lines()
        if self.best_metrics and self.untuned:
            lines.append(self.comparison().round(4).to_string())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from nbml.tuning.plots import result_html

        return result_html(self)

    def plot(self, kind: str = "history", params=None, ax=None):
        """``history`` (score per trial and best so far), ``importance``, ``parallel``,
        ``slice``, ``heatmap`` (two parameters: ``params=("a", "b")``). Returns the Figure."""
        from nbml.tuning.plots import plot

        return plot(self, kind, params=params, ax=ax)


def _finite(v) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return repr(v) if isinstance(v, str) else str(v)


# -- the search --------------------------------------------------------------------------

class _Search:
    """What every method shares: data, folds, store, callbacks, trial bookkeeping."""

    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.records: list = []
        self.interrupted = False
        self.started = time.perf_counter()

    # timing and stopping
    def out_of_time(self) -> bool:
        return self.timeout is not None and time.perf_counter() - self.started >= self.timeout

    def job_args(self, params, **extra) -> dict:
        args = dict(pipeline=self.pipeline, params=params, X=self.X, y=self.y, task=self.task, folds=self.folds,
                    metric=self.metric, seed=self.seed, fit_params=self.fit_params, greater=self.greater,
                    weights=self.weights, weight_keys=self.weight_keys, prepared=self.prepared,
                    epoch_key=self.epoch_key, iterate=self.iterate)
        args.update(extra)
        return args

    def short(self, params: dict) -> dict:
        """Parameters by the names the user wrote (``model__C`` -> ``C``)."""
        return {_space.short_name(k, self.pipeline): v for k, v in params.items()}

    def best_record(self):
        done = [r for r in self.records if r["state"] == "complete"]
        if not done:
            return None
        return (max if self.greater else min)(done, key=lambda r: r["score"])

    def finish(self, outcome: dict, params: dict, number=None, **extra) -> dict:
        record = dict(outcome)
        record.update(extra)
        record["number"] = len(self.records) + self.offset if number is None else number
        record["params"] = self.short(params)
        record["_full"] = params
        record.update(method=self.method, model=self.model_name, metric=self.metric, fingerprint=self.fingerprint)
        self.records.append(record)
        if self.url is not None:
            try:
                from nbml.store import record_trial

                record_trial(self.url, self.study, record)
            except Exception as exc:
                warnings.warn(f"nbml could not record trial {record['number']}: {type(exc).__name__}: {exc}")
        best = self.best_record()
        for cb in self.callbacks:
            hook = getattr(cb, "on_trial_end", None)
            if hook is not None:
                hook(record, best, self)
        return record

    def run_batch(self, batch):
        """Evaluate ``[(params, extra)]`` (in parallel where asked) and record each."""
        if not batch:
            return
        if self.n_jobs == 1 and self.scheduler is None:
            for params, extra in batch:
                if self.out_of_time():
                    return
                self.finish(evaluate_config(**self.job_args(params, **extra.pop("_job", {}))), params, **extra)
            return
        from joblib import Parallel, delayed

        jobs = []
        for params, extra in batch:
            jobs.append(self.job_args(params, **extra.pop("_job", {})))
        n_jobs = -1 if self.scheduler is not None else self.n_jobs
        # one task per trial (trials are long enough), results as they come: a timeout or Ctrl-C
        # stops consuming them and joblib cancels what has not started
        parallel = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=1)
        results = parallel(delayed(_run_one)(a) for a in jobs)
        try:
            for (params, extra), outcome in zip(batch, results):
                self.finish(outcome, params, **extra)
                if self.out_of_time():
                    break
        finally:
            del results


def tune(model_or_result, space=None, method="bayes", trials=None, cv=None, metric=None, n_jobs=None,
         timeout=None, study=None, storage=None, resume=False, scheduler=None, coreset=None, seed=None,
         prune=None, sampler=None, callbacks=None, split=None, preprocess=None, live=None, namespace=None,
         search_seed=None) -> TuneResult:
    """Search hyperparameters of a model (or of a ``TrainResult``'s model) on the active split.

    ``space``: dict name -> list / ``nbml.space`` helper / scipy.stats distribution, or a
    ``%%tune`` body as text; ``None`` takes a default space for common models. ``method``:
    grid, random, bayes (Optuna TPE; ``sampler='gp'|'cmaes'|'random'``) or halving
    (successive halving on rows). ``cv=K`` scores by K-fold CV on train+val, otherwise on
    the validation split (a TrainResult trained with CV keeps its K). ``prune``: median,
    halving or hyperband (bayes): torch estimators report per epoch, gradient boosting and
    AdaBoost every few stages, SGD-based models, MLP and HistGradientBoosting after 1, 3,
    9, ... iterations (the ``iterations`` column), other models per CV fold. Trials are stored in ``storage`` (default
    ``.nbml/nbml.db``) under ``study``; ``resume=True`` continues a study. ``scheduler``: a
    Dask scheduler address to run the fits on. ``seed`` fixes folds and models;
    ``search_seed`` (default: ``seed``) the search's own draws (sampler, random candidates),
    so searches with different search seeds are scored on the same folds. Returns a
    ``TuneResult``.
    """
    from sklearn.base import clone

    if method not in METHODS:
        raise ValueError(f"method={method!r} is not a search method; use one of {', '.join(METHODS)}")
    n_jobs = _check_n_jobs(n_jobs)
    if trials is not None and (not isinstance(trials, (int, np.integer)) or isinstance(trials, bool) or trials < 1):
        raise ValueError(f"trials={trials!r} must be a positive integer")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ValueError(f"timeout={timeout!r} must be a positive number of seconds")
    from nbml.tuning.pruning import check_prune, is_epoch_model, iteration_mode

    prune = check_prune(prune)
    if sampler is not None and sampler not in SAMPLERS:
        raise ValueError(f"sampler={sampler!r} is not an Optuna sampler nbml knows; use one of {', '.join(SAMPLERS)}")
    if (sampler is not None or prune is not None) and method != "bayes":
        what = "sampler=" if sampler is not None else "prune="
        raise ValueError(f"{what} works with method='bayes' (got method={method!r}); for random search with "
                         f"pruning use method='bayes', sampler='random'")

    # what to tune, on which data
    if isinstance(model_or_result, TrainResult):
        base = model_or_result
        data_split = split if split is not None else base.split
        seed = base.seed if seed is None else int(seed)
        pipeline = base._pipeline
        preprocess = base.preprocess
        fit_params = dict(base._fit_params or {})
        if cv is None and base.cv is not None:
            cv = len(base.cv)
        model_name = base.name
    else:
        base = None
        if isinstance(model_or_result, TuneResult):
            model_or_result = model_or_result.best
            return tune(model_or_result, space, method, trials, cv, metric, n_jobs, timeout, study, storage, resume,
                        scheduler, coreset, seed, prune, sampler, callbacks, split, preprocess, live, namespace,
                        search_seed)
        data_split = resolve_split(split)
        seed = data_split.seed if seed is None else int(seed)
        check_model(model_or_result, data_split.task)
        preprocess = preprocess or "auto"
        pipeline = make_model_pipeline(model_or_result, data_split, preprocess, seed)
        fit_params = {}
        model_name = type(final_estimator(pipeline)).__name__
    task = data_split.task
    metric = _check_metric(metric, task)
    if search_seed is None:
        search_seed = seed
    elif not isinstance(search_seed, (int, np.integer)) or isinstance(search_seed, bool):
        raise ValueError(f"search_seed={search_seed!r} must be an integer")
    greater = _metrics.greater_is_better(metric)

    # the space
    dims = _space.parse(space, namespace) if isinstance(space, str) else _space.normalize(space)
    discretize = None
    if not dims:
        from nbml.tuning.defaults import default_space

        if space is not None and not isinstance(space, str):
            raise ValueError("the search space is empty: give at least one parameter, e.g. {'C': [0.1, 1, 10]}")
        dims = default_space(final_estimator(pipeline))
        discretize = 4
    dims = _space.resolve(dims, pipeline)
    grid = _space.grid_values(dims, method, discretize) if method == "grid" else None
    if method == "bayes":  # scipy distributions Optuna cannot use, a sampler that cannot search: fail first
        check_sampler(sampler, OptunaSpace(dims))

    # folds: K-fold on train+val, or train -> validation (or coreset -> validation)
    weights, weight_keys = None, ()
    if coreset is not None:
        X, y, folds, weights, weight_keys = _coreset_folds(coreset, data_split, pipeline, cv)
    elif cv is not None:
        X, y = data_split.X_trainval, data_split.y_trainval
        check_folds(cv, X, y, task)
        folds = list(make_folds(task, cv, seed).split(X, y if task == "classification" else None))
    else:
        if len(data_split.X_val) == 0:
            raise ValueError("the split has no validation rows: use cv=K, or split with val > 0")
        X, y = data_split.X_trainval, data_split.y_trainval
        n_train = len(data_split.X_train)
        folds = [(np.arange(n_train), np.arange(n_train, len(X)))]

    # the store
    url = _storage_url(storage)
    if study is None:
        study = _last_study(url, model_name, method, data_split.fingerprint) if resume else None
        if study is None:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
            study = f"{model_name}-{method}-{stamp}"
    elif not isinstance(study, str) or not study.strip():
        raise ValueError(f"study={study!r} must be a non-empty name")
    previous = _previous_records(url, study) if url is not None else []

    epoch_key = None  # torch estimators: count epochs (and report them when pruning)
    iterate = None  # boosting, SGD, MLP: report per iteration when pruning
    if is_epoch_model(final_estimator(pipeline)):
        epoch_key = _space._final_prefix(pipeline) + "callbacks"
    elif prune is not None:
        mode = iteration_mode(final_estimator(pipeline), task)
        if mode is not None:
            iterate = (mode[0], _space._final_prefix(pipeline) + mode[1])
    from nbml.tuning.live import make_callbacks

    callbacks = make_callbacks(callbacks, live)
    search = _Search(pipeline=pipeline, X=X, y=y, task=task, folds=folds, metric=metric, seed=seed,
                     fit_params=fit_params, greater=greater, n_jobs=n_jobs, scheduler=scheduler,
                     timeout=timeout, method=method, model_name=model_name, fingerprint=data_split.fingerprint,
                     url=url, study=study, callbacks=callbacks, offset=len(previous), previous=previous,
                     epoch_key=epoch_key, iterate=iterate, weights=weights, weight_keys=weight_keys,
                     search_seed=int(search_seed),
                     prepared=None if weights is not None else prepare_folds(pipeline, X, y, task, folds, dims,
                                                                             fit_params))
    total = {"grid": None if grid is None else int(np.prod([len(v) for v in grid.values()])),
             "random": trials or DEFAULT_TRIALS["random"], "bayes": trials or DEFAULT_TRIALS["bayes"],
             "halving": None}[method]
    if method == "grid" and trials is not None:
        total = min(total, trials)
    for cb in callbacks:
        if hasattr(cb, "on_start"):
            cb.on_start(search, total)

    optuna_study = None
    import contextlib

    backend = contextlib.nullcontext(None)
    if scheduler is not None:
        from nbml.tuning.distributed import dask_backend

        backend = dask_backend(scheduler)
    try:
        with backend as workers, blas_threads(X):
            search.workers = workers or n_jobs
            if method == "grid":
                _run_grid(search, grid, previous, trials)
            elif method == "random":
                _run_random(search, dims, previous, total)
            elif method == "halving":
                _run_halving(search, dims, grid, trials, discretize)
            else:
                optuna_study = _run_bayes(search, dims, total, prune, sampler, resume)
    except KeyboardInterrupt:
        search.interrupted = True
    finally:
        for cb in callbacks:
            if hasattr(cb, "on_end"):
                cb.on_end(search)

    records = previous + search.records
    table = _trials_frame(records, greater)
    best = _best_of([r for r in (search.best_record(), _best_of(previous, greater)) if r is not None], greater)
    best_params, best_score, best_metrics, refit, untuned = {}, math.nan, {}, None, None
    if best is not None:
        best_params = dict(best["params"])
        best_score = best["score"]
        best_metrics = dict(best.get("metrics") or {})
        full = best.get("_full") or _space.resolve(
            {k: _space.Categorical([v]) for k, v in best_params.items()}, pipeline)
        full = {k: (v.values[0] if isinstance(v, _space.Dimension) else v) for k, v in full.items()}
        tuned = clone(pipeline).set_params(**full)
        full_cv = None if coreset is not None else cv  # a coreset's search is refit once on the full rows
        refit = functools.partial(_refit, tuned, data_split, full_cv, seed, preprocess, fit_params, n_jobs)
        untuned = functools.partial(_untuned, base, pipeline, data_split, full_cv, seed, fit_params, n_jobs)
    result = TuneResult(best_params=best_params, best_score=best_score, best_metrics=best_metrics, trials=table,
                        _refit=refit, _untuned=untuned, metric=metric, greater=greater, method=method, study=study,
                        storage=url, task=task, model_name=model_name, cv=cv,
                        duration=time.perf_counter() - search.started, interrupted=search.interrupted,
                        fingerprint=data_split.fingerprint, space=dims, pipeline=pipeline, optuna_study=optuna_study,
                        coreset=None if coreset is None else len(coreset.weights))
    if url is not None:
        from nbml.store import record_tune

        record_tune(result, url)
    return result


def _coreset_folds(coreset, data_split, pipeline, cv):
    """Fit on the coreset's rows with its weights and score on the split's validation rows;
    with ``cv``, weighted K-fold CV on the coreset's rows (weighted fits and weighted scores)."""
    if not (hasattr(coreset, "X") and hasattr(coreset, "weights")):
        raise TypeError(f"coreset must be an nbml Coreset (from nbml.coreset); got {type(coreset).__name__}")
    if cv is None and len(data_split.X_val) == 0:
        raise ValueError("coreset= scores trials on the validation split, but the split has no validation rows")
    Xc = coreset.X if isinstance(coreset.X, pd.DataFrame) else pd.DataFrame(
        np.asarray(coreset.X), columns=data_split.feature_names[:np.asarray(coreset.X).shape[1]])
    missing = [c for c in data_split.feature_names if c not in Xc.columns]
    if missing:
        raise ValueError(f"the coreset lacks the split's column(s) {', '.join(map(str, missing[:5]))}: build it "
                         f"from the same data (nbml.coreset(split.X_train, split.y_train, size=...))")
    Xc = Xc[data_split.feature_names]
    from nbml.coresets.base import sample_weight_keys

    keys = tuple(sample_weight_keys(pipeline))
    w = np.asarray(coreset.weights, dtype=float)
    if not keys and not np.allclose(w, w[0]):
        raise ValueError(f"{type(final_estimator(pipeline)).__name__} does not accept sample_weight, so it cannot "
                         f"use the coreset's weights; use a uniform coreset or a model that takes sample_weight")
    yc = pd.Series(np.asarray(coreset.y), name=data_split.target)
    if cv is not None:
        from nbml.training import check_folds, make_folds

        Xc = Xc.reset_index(drop=True)
        check_folds(cv, Xc, yc, data_split.task)
        folds = list(make_folds(data_split.task, cv, data_split.seed).split(
            Xc, yc if data_split.task == "classification" else None))
        return Xc, yc, folds, w, keys
    X = pd.concat([Xc.reset_index(drop=True), data_split.X_val.reset_index(drop=True)], ignore_index=True)
    y = None if data_split.y_val is None else pd.concat(
        [yc, data_split.y_val.reset_index(drop=True)], ignore_index=True)
    n = len(Xc)
    folds = [(np.arange(n), np.arange(n, len(X)))]
    weights = np.concatenate([w, np.ones(len(data_split.X_val))])
    return X, y, folds, weights, keys


def _check_n_jobs(n_jobs):
    if n_jobs is None:
        return 1
    if not isinstance(n_jobs, (int, np.integer)) or isinstance(n_jobs, bool) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs={n_jobs!r} must be a positive integer or -1 (all cores)")
    if n_jobs == -1:
        return os.cpu_count() or 1
    return int(n_jobs)


def _check_metric(metric, task):
    names = _metrics.metric_names(task)
    if metric is None:
        return _metrics.PRIMARY[task]
    if metric not in names:
        other = next((t for t, ms in _metrics.METRICS.items() if metric in ms), None)
        why = f" is a {other} metric but the task is {task}" if other else " is not a metric nbml knows"
        raise ValueError(f"metric={metric!r}{why}; use one of {', '.join(names)}")
    return metric


def _storage_url(storage):
    from nbml.store import default_url, to_url

    if storage is None:
        return default_url()
    if not isinstance(storage, str):
        raise TypeError(f"storage must be a SQLAlchemy URL or a file path (str); got {type(storage).__name__}")
    return to_url(storage)


def _last_study(url, model_name, method, fingerprint):
    if url is None:
        return None
    from nbml.store import _read

    try:
        frame = _read(url, "SELECT study FROM nbml_trials WHERE model = :m AND method = :meth AND fingerprint = :f "
                           "ORDER BY id DESC LIMIT 1", {"m": model_name, "meth": method, "f": fingerprint})
    except Exception:
        return None
    return None if frame.empty else frame["study"].iloc[0]


def _previous_records(url, study):
    from nbml.store import trials as stored_trials

    try:
        frame = stored_trials(study, storage=url)
    except Exception:
        return []
    out = []
    for row in frame.itertuples():
        extra = json.loads(row.extra) if row.extra else {}
        out.append({"number": int(row.number), "params": json.loads(row.params), "score": _nan(row.score),
                    "score_std": _nan(row.score_std), "state": row.state, "error": row.error,
                    "duration": _nan(row.duration), "metrics": json.loads(row.metrics or "{}"), "previous": True,
                    **extra})
    return out


def _nan(v):
    return math.nan if v is None else float(v)


def _best_of(records, greater):
    done = [r for r in records if r["state"] == "complete" and _finite(r["score"])]
    if not done:
        return None
    return (max if greater else min)(done, key=lambda r: r["score"])


def _trials_frame(records, greater) -> pd.DataFrame:
    rows = []
    for r in records:
        row = {"number": r["number"], "score": r["score"], "score_std": r.get("score_std", math.nan)}
        row.update({k: (repr(v) if isinstance(v, (tuple, list)) else v) for k, v in r["params"].items()})
        row["state"] = r["state"]
        row["duration"] = r.get("duration", math.nan)
        for k in ("rows", "round", "epochs", "iterations", "worker"):
            if r.get(k) is not None:
                row[k] = r[k]
        row["error"] = r.get("error")
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["score", "score_std", "state", "duration", "error"],
                            index=pd.Index([], name="number"))
    frame = frame.set_index("number")
    complete = frame["state"] == "complete"
    if "round" in frame:  # halving: the last round (most rows) first
        order = frame[complete].sort_values(["round", "score"], ascending=[False, not greater], kind="stable")
    else:
        order = frame[complete].sort_values("score", ascending=not greater, kind="stable")
    rest = frame[~complete]
    return pd.concat([order, rest]) if len(rest) else order


def _refit(model, data_split, cv, seed, preprocess, fit_params, n_jobs):
    """The best configuration as a TrainResult (its model refit on train+val when scored by CV)."""
    from sklearn.base import clone

    from nbml.store import paused
    from nbml.training import train

    with paused():
        best = train(model, split=data_split, cv=cv, preprocess="none", seed=seed, fit_params=fit_params,
                     n_jobs=n_jobs if n_jobs > 1 else None)
    best.preprocess = preprocess
    if cv is not None:
        best._model = _fit(clone(best._pipeline), data_split.X_trainval, data_split.y_trainval, data_split.task,
                           fit_params)
    return best


def _untuned(base, pipeline, data_split, cv, seed, fit_params, n_jobs):
    """The untuned model's metrics on the same folds (reused from the TrainResult when it has them)."""
    from sklearn.base import clone

    from nbml.store import paused
    from nbml.training import train

    same_folds = base is not None and base.split is data_split and \
        ((cv is None and base.cv is None) or (base.cv is not None and cv == len(base.cv) and base.seed == seed))
    if same_folds:
        return dict(base.metrics)
    try:
        with paused():
            return dict(train(clone(pipeline), split=data_split, cv=cv, preprocess="none", seed=seed,
                              fit_params=fit_params, n_jobs=n_jobs if n_jobs > 1 else None).metrics)
    except Exception:
        return {}


# -- methods -----------------------------------------------------------------------------

def _key(params: dict) -> str:
    return json.dumps({k: repr(v) for k, v in sorted(params.items())})


def _run_grid(search, grid, previous, limit):
    from sklearn.model_selection import ParameterGrid

    done = {_key(r["params"]) for r in previous if r["state"] in ("complete", "fail")}
    candidates = []
    for params in ParameterGrid(grid):
        short = {_space.short_name(k, search.pipeline): v for k, v in params.items()}
        if _key(short) in done:
            continue
        candidates.append((params, {}))
        if limit is not None and len(candidates) >= limit:
            break
    _in_chunks(search, candidates)


def _in_chunks(search, candidates):
    """Run the candidates (the serial loop and the parallel generator both stop on a timeout)."""
    if not search.out_of_time():
        search.run_batch(candidates)


def _sample(dims, rng):
    return {name: dim.sample(rng) for name, dim in dims.items()}


def random_candidates(dims, seed, n, skip=0) -> list:
    """The ``n`` configurations random search draws with ``seed`` (after the first ``skip``);
    without repeats while a finite space has unseen configurations."""
    rng = np.random.default_rng(seed)
    finite = all(d.is_categorical for d in dims.values())
    size = int(np.prod([len(d.values) for d in dims.values()])) if finite else None
    seen, out = set(), []
    for i in range(skip + n):
        params = _sample(dims, rng)
        if finite and size is not None and len(seen) < size:
            tries = 0
            while _key(params) in seen and tries < 50:
                params, tries = _sample(dims, rng), tries + 1
        seen.add(_key(params))
        if i >= skip:
            out.append(params)
    return out


def _run_random(search, dims, previous, total):
    candidates = random_candidates(dims, search.search_seed, total, skip=len(previous))
    _in_chunks(search, [(params, {}) for params in candidates])


def _run_halving(search, dims, grid, trials, discretize):
    """Successive halving on rows: every candidate on few rows, the best third on 3× as many, ..."""
    from sklearn.model_selection import ParameterGrid

    if all(d.is_categorical for d in dims.values()) and trials is None:
        candidates = list(ParameterGrid({k: d.values for k, d in dims.items()}))
    else:
        rng = np.random.default_rng(search.search_seed)
        candidates = [_sample(dims, rng) for _ in range(trials or DEFAULT_TRIALS["halving"])]
    n_train = min(len(tr) for tr, _ in search.folds)
    n_classes = search.y.nunique() if search.task == "classification" else 1
    rounds = max(1, math.ceil(math.log(max(len(candidates), 1), HALVING_FACTOR)))
    min_rows = max(20, 4 * n_classes)
    while rounds > 1 and n_train / HALVING_FACTOR ** (rounds - 1) < min_rows:
        rounds -= 1
    for r in range(rounds):
        rows = int(n_train / HALVING_FACTOR ** (rounds - 1 - r))
        max_rows = rows if rows < n_train else None
        batch = [(params, {"rows": rows, "round": r, "_job": {"max_rows": max_rows}}) for params in candidates]
        count = len(search.records)
        _in_chunks(search, batch)
        if search.out_of_time() or r == rounds - 1:
            break
        scored = [rec for rec in search.records[count:] if rec["state"] == "complete"]
        if not scored:
            break
        scored.sort(key=lambda rec: rec["score"], reverse=search.greater)
        keep = max(1, math.ceil(len(candidates) / HALVING_FACTOR))
        candidates = [rec["_full"] for rec in scored[:keep]]
    # only the last round's scores count as "best" (earlier ones saw fewer rows)
    last_round = max((rec.get("round", 0) for rec in search.records), default=0)
    search.best_record = _halving_best(search, last_round)


def _halving_best(search, last_round):
    def best():
        done = [r for r in search.records if r["state"] == "complete" and r.get("round", 0) == last_round]
        if not done:
            return None
        return (max if search.greater else min)(done, key=lambda r: r["score"])
    return best


# -- Bayesian search (Optuna) ---------------------------------------------------------------

def _optuna_distributions(dims, ordinal=False) -> dict:
    """Optuna distributions for nbml dimensions. ``ordinal``: a list of numbers becomes the
    index into its sorted values (``OptunaSpace``), so a sampler can use their order."""
    import optuna.distributions as od

    out = {}
    for name, dim in dims.items():
        if isinstance(dim, _space.ScipyDist):
            native = dim.as_native()
            if native is None:
                raise ValueError(f"method='bayes' cannot search scipy.stats.{dim.name} for {name}: use uniform, "
                                 f"loguniform, randint, logint, a list, or method='random'")
            dim = native
        if isinstance(dim, _space.Float):
            out[name] = od.FloatDistribution(dim.low, dim.high, log=dim.log)
        elif isinstance(dim, _space.Int):
            out[name] = od.IntDistribution(dim.low, dim.high, log=dim.log)
        elif ordinal and _ordered(dim) is not None:
            out[name] = od.IntDistribution(0, len(_ordered(dim)) - 1)
        else:
            out[name] = od.CategoricalDistribution(dim.labels)
    return out


def _ordered(dim) -> list | None:
    """A list of two or more distinct numbers, sorted (None for other lists)."""
    if not isinstance(dim, _space.Categorical):
        return None
    values = dim.values
    if not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
               and math.isfinite(v) for v in values):
        return None
    ordered = sorted(set(values))
    return ordered if len(ordered) > 1 else None


class OptunaSpace:
    """The space as Optuna's samplers see it. A list of numbers (``learning_rate = [0.03,
    0.1, 0.3]``) is searched as an ordered index into its sorted values, not as unordered
    labels: TPE and GP then learn that neighbouring values score alike, and CMA-ES can search
    it at all. Other lists stay categorical. ``decode`` turns a trial's parameters back into
    the user's own values (what the trials DataFrame and ``best_params`` show)."""

    def __init__(self, dims):
        self.dims = dims
        self.distributions = _optuna_distributions(dims, ordinal=True)
        self.ordered = {name: _ordered(dim) for name, dim in dims.items()}

    def decode(self, params: dict) -> dict:
        out = {}
        for name, value in params.items():
            dim, ordered = self.dims[name], self.ordered[name]
            if ordered is not None:
                out[name] = ordered[int(value)]
            elif isinstance(dim, _space.Categorical):
                out[name] = dim.values[dim.labels.index(value)]
            else:
                out[name] = value
        return out

    @property
    def size(self) -> int | None:
        """How many configurations there are (None when a dimension is continuous)."""
        n = 1
        for dim in self.dims.values():
            if isinstance(dim, _space.Categorical):
                n *= len(dim.values)
            elif isinstance(dim, _space.Int):
                n *= dim.high - dim.low + 1
            else:
                return None
        return n

    def categorical(self) -> list:
        """Names that stay unordered labels."""
        import optuna.distributions as od

        return [n for n, d in self.distributions.items() if isinstance(d, od.CategoricalDistribution)]


def make_sampler(sampler, seed, space=None):
    """The Optuna sampler by name; ``space`` (an ``OptunaSpace``) checks that it can search it."""
    import optuna

    if sampler in (None, "tpe"):
        return optuna.samplers.TPESampler(seed=seed)
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if sampler == "gp":
        try:
            return optuna.samplers.GPSampler(seed=seed)
        except ImportError as exc:
            raise ValueError(f"sampler='gp' needs {exc.name or 'torch and scipy'}: pip install torch scipy") from None
    labels = check_sampler(sampler, space)
    if labels:
        # CMA-ES leaves labels to Optuna's independent (random) sampler, and Optuna would
        # say so at every trial: say it once, in nbml's words
        warnings.warn(f"sampler='cmaes' searches the numeric parameters; {', '.join(_space_names(labels))} "
                      f"(a list of labels) is drawn at random in every trial (sampler='tpe' or 'gp' models it)",
                      stacklevel=4)
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


def check_sampler(sampler, space) -> list:
    """Fail early (before any trial) where ``sampler`` cannot search ``space``; for
    'cmaes', the names it leaves to random draws (lists of labels)."""
    if sampler != "cmaes":
        return []
    labels = space.categorical() if space is not None else []
    if space is not None and len(labels) == len(space.distributions):
        raise ValueError(f"sampler='cmaes' searches numbers, and every parameter here is a list of labels "
                         f"({', '.join(_space_names(labels))}): use sampler='tpe' (the default) or 'gp'")
    try:
        import cmaes  # noqa: F401
    except ImportError:
        raise ValueError("sampler='cmaes' needs the cmaes package: pip install cmaes") from None
    return labels


def _space_names(names):
    return [n.rsplit("__", 1)[-1] for n in names]


# a search that keeps proposing configurations already evaluated has converged: stop after
# this many proposals in a row that would cost no fit
DUPLICATE_LIMIT = 100


def _run_bayes(search, dims, total, prune, sampler, resume):
    """Ask the sampler, fit what it proposes, tell it the score. A proposal already evaluated
    in this study (the same parameters) is answered from the finished trial instead of fit
    again: ``total`` counts distinct fits, and on a finite space no evaluation is spent twice."""
    import optuna

    from nbml.tuning.pruning import make_pruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = OptunaSpace(dims)
    storage = None
    if search.url is not None:
        from nbml.store import optuna_storage

        storage = optuna_storage(search.url)
    max_resource = None
    if search.epoch_key is not None:
        max_resource = search.pipeline.get_params().get(search.epoch_key.replace("callbacks", "epochs"))
    elif search.iterate is None and len(search.folds) > 1:
        max_resource = len(search.folds) - 1
    study = optuna.create_study(study_name=search.study, storage=storage, load_if_exists=True,
                                direction="maximize" if search.greater else "minimize",
                                sampler=make_sampler(sampler, search.search_seed, space),
                                pruner=make_pruner(prune, max_resource))
    parallel = search.n_jobs > 1 or search.scheduler is not None
    if parallel and prune is not None:
        warnings.warn("pruning stops trials in this process only: with n_jobs > 1 or a scheduler every trial "
                      "runs to the end (use n_jobs=1 to prune)", stacklevel=3)
    # finished configurations of this study (earlier runs included): parameters -> outcome
    known = {_key(r["params"]): r for r in search.previous if r["state"] in ("complete", "fail")}
    done, repeats = 0, 0
    while done < total and not search.out_of_time():
        size = min(total - done, search.workers if parallel else 1)
        batch, twins = [], []  # twins: proposals equal to another in this batch
        while len(batch) < size and repeats < DUPLICATE_LIMIT:
            if space.size is not None and len(known) + len(batch) >= space.size:
                break  # every configuration is evaluated (or being evaluated)
            trial = study.ask(space.distributions)
            params = space.decode(trial.params)
            key = _key(search.short(params))
            if key in known:
                _tell(study, trial, known[key], duplicate=True)
                repeats += 1
            elif any(key == k for _, _, k in batch):
                twins.append((trial, key))
                repeats += 1
            else:
                batch.append((trial, params, key))
                repeats = 0
        if not batch:
            break
        try:
            if parallel:
                outcomes = _parallel_outcomes(search, [p for _, p, _ in batch])
            else:
                trial, params, _ = batch[0]
                report = _reporter(trial) if prune is not None else None
                outcomes = [evaluate_config(**search.job_args(params, report=report))]
        except KeyboardInterrupt:
            for t in [t for t, _, _ in batch] + [t for t, _ in twins]:
                study.tell(t, state=optuna.trial.TrialState.FAIL)
            raise
        for (trial, params, key), outcome in zip(batch, outcomes):
            _tell(study, trial, outcome)
            record = search.finish(outcome, params)
            if outcome["state"] in ("complete", "fail"):
                known[key] = record
        for trial, key in twins:
            _tell(study, trial, known.get(key, {"state": "fail"}), duplicate=True)
        done += len(batch)
    return study


def _tell(study, trial, outcome, duplicate=False):
    import optuna

    if duplicate:  # no fit behind it: the score of the same configuration's trial
        trial.set_user_attr("nbml_repeat", True)
    if outcome["state"] == "complete":
        study.tell(trial, outcome["score"])
    elif outcome["state"] == "pruned":
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def _reporter(trial):
    import optuna

    def report(step, value):
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return report


def _parallel_outcomes(search, param_list):
    from joblib import Parallel, delayed

    n_jobs = -1 if search.scheduler is not None else search.n_jobs
    return Parallel(n_jobs=n_jobs)(delayed(_run_one)(search.job_args(p)) for p in param_list)
