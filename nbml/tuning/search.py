"""``tune()``: grid, random, Bayesian (Optuna) and successive-halving search.

``tune`` is orchestration: the recipe comes from ``nbml.prepare``, the rows from the fold
engine (``nbml.folds``), each method is a strategy in ``nbml.tuning.methods`` proposing
candidates, and each candidate is one trial (``nbml.tuning.trial.evaluate_config``) fit
and scored on the engine's folds. Each trial is claimed in the store right before its fit
(checked against the study's stored trials, so processes sharing a study never fit one
configuration twice) and written at once when it ends; a failing configuration becomes a
failed trial, Ctrl-C keeps what finished. The search's run is recorded when it starts.
"""
from __future__ import annotations

import json
import math
import os
import time
import warnings
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from nbml import metrics as _metrics
from nbml import space as _space
from nbml.errors import NbmlError
from nbml.tuning.methods import METHODS as _STRATEGIES
from nbml.tuning.methods import key as _key  # noqa: F401
from nbml.tuning.methods.bayes import DUPLICATE_LIMIT  # noqa: F401
from nbml.tuning.methods.random import random_candidates  # noqa: F401
from nbml.tuning.optuna_space import SAMPLERS, OptunaSpace, _optuna_distributions, make_sampler  # noqa: F401
from nbml.tuning.result import TuneResult, _finite
from nbml.tuning.trial import (PREPARE_LIMIT, SMALL_DATA, PreparedFolds, blas_threads,  # noqa: F401
                               evaluate_config, prepare_folds, run_one)

METHODS = tuple(_STRATEGIES)


# -- the search --------------------------------------------------------------------------

class Search:
    """What every method shares: the folds, the store, the callbacks and the trials' bookkeeping;
    ``evaluate(candidates)`` is what a method calls."""

    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.records: list = []
        self.interrupted = False
        self.started = time.perf_counter()
        self.next_number = self.offset  # trial numbers while the store is off

    # timing and stopping
    def out_of_time(self) -> bool:
        """Past ``timeout`` once a trial has finished: a slow start (a loaded machine, a live view
        drawing) never leaves a search with no trial at all, as Optuna's ``timeout`` does."""
        return (self.timeout is not None and bool(self.records)
                and time.perf_counter() - self.started >= self.timeout)

    def job_args(self, params, **extra) -> dict:
        args = dict(pipeline=self.pipeline, params=params, folds=self.folds, metric=self.metric, seed=self.seed,
                    greater=self.greater, prepared=self.prepared, epoch_key=self.epoch_key, iterate=self.iterate)
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

    # the study's bookkeeping: a trial is claimed in the store before it is fit
    def claim(self, params: dict, unique: bool = True) -> dict:
        """Reserve the study's next trial number for ``params`` before they are fit (checked
        against the study's stored trials at that moment, so another process sharing the
        study never fits them twice): ``{"number", "id"}``, or ``{"taken": row}`` when the
        study already has them finished or being fit elsewhere. With the store off, numbers
        count on from the study's earlier trials."""
        if self.url is not None:
            from nbml.store import claim_trial

            try:
                got = claim_trial(self.url, self.study, self.short(params), unique=unique, method=self.method,
                                  model=self.model_name, metric=self.metric, fingerprint=self.fingerprint)
            except Exception as exc:  # noqa: BLE001 - the search goes on unrecorded, and says so
                self.store_failed(exc)
            else:
                if "number" in got:
                    self.next_number = max(self.next_number, got["number"] + 1)
                return got
        number, self.next_number = self.next_number, self.next_number + 1
        return {"number": number, "id": None}

    def release(self, claims, why: str = "interrupted before it finished") -> None:
        """Claimed trials that will not finish (Ctrl-C, an error, a timeout) are marked interrupted."""
        ids = [c["id"] for c in claims if c.get("id") is not None]
        if ids and self.url is not None:
            from nbml.store import release_trials

            try:
                release_trials(self.url, ids, why)
            except Exception as exc:  # noqa: BLE001 - reap_trials marks them on the next search of the study
                self.store_failed(exc)

    def store_failed(self, exc) -> None:
        """The store failed mid-search: say so once; the search goes on with the store off."""
        from nbml.store import StoreError

        reason = str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
        warnings.warn(f"nbml stopped recording study {self.study!r} after {len(self.records)} trials: {reason}",
                      stacklevel=3)
        self.url = None

    def finish(self, outcome: dict, params: dict, claim: dict | None = None, **extra) -> dict:
        """Record a trial's outcome under its claimed number and tell the callbacks."""
        if claim is None:
            claim = self.claim(params, unique=False)
        record = dict(outcome)
        record.update(extra)
        record["number"] = claim["number"]
        record["params"] = self.short(params)
        record["_full"] = params
        record.update(method=self.method, model=self.model_name, metric=self.metric, fingerprint=self.fingerprint)
        self.records.append(record)
        if claim.get("id") is not None and self.url is not None:
            from nbml.store import complete_trial

            try:
                complete_trial(self.url, claim["id"], record)
            except Exception as exc:  # noqa: BLE001 - the search goes on unrecorded, and says so
                self.store_failed(exc)
        best = self.best_record()
        for cb in self.callbacks:
            hook = getattr(cb, "on_trial_end", None)
            if hook is not None:
                hook(record, best, self)
        return record

    def evaluate(self, batch):
        """Evaluate ``[(params, extra)]`` (in parallel where asked) and record each; the serial
        loop and the parallel generator both stop on a timeout. A configuration the study
        already has (finished, or being fit by another process) is not fit again."""
        if not batch or self.out_of_time():
            return
        if self.n_jobs == 1 and self.scheduler is None:
            for params, extra in batch:
                if self.out_of_time():
                    return
                job = extra.pop("_job", {})
                claim = self.claim(params, unique=extra.get("rows") is None)  # halving refits on more rows
                if "taken" in claim:
                    continue
                try:
                    outcome = evaluate_config(**self.job_args(params, **job))
                except BaseException:
                    self.release([claim])
                    raise
                self.finish(outcome, params, claim, **extra)
            return
        self._evaluate_parallel(batch)

    def _evaluate_parallel(self, batch):
        from joblib import Parallel, delayed

        jobs, finished = [], 0
        try:
            for params, extra in batch:
                job = extra.pop("_job", {})
                claim = self.claim(params, unique=extra.get("rows") is None)
                if "taken" not in claim:
                    jobs.append((params, extra, claim, self.job_args(params, **job)))
            if not jobs:
                return
            n_jobs = -1 if self.scheduler is not None else self.n_jobs
            # one task per trial (trials are long enough), results as they come: a timeout or Ctrl-C
            # stops consuming them and joblib cancels what has not started
            parallel = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=1)
            results = parallel(delayed(run_one)(args) for _, _, _, args in jobs)
            try:
                for (params, extra, claim, _), outcome in zip(jobs, results):
                    self.finish(outcome, params, claim, **extra)
                    finished += 1
                    if self.out_of_time():
                        break
            finally:
                del results
        finally:
            self.release([claim for _, _, claim, _ in jobs[finished:]],
                         "stopped before it finished (timeout)" if self.out_of_time() else
                         "interrupted before it finished")


def tune(model_or_result, space=None, method="bayes", trials=None, cv=None, metric=None, n_jobs=None,
         timeout=None, study=None, storage=None, resume=False, scheduler=None, coreset=None, seed=None,
         prune=None, sampler=None, callbacks=None, split=None, preprocess=None, live=None, namespace=None,
         search_seed=None, untuned=True) -> TuneResult:
    """Search hyperparameters of a model (or of a ``TrainResult``'s model) on the active split.

    ``space``: dict name -> list / ``nbml.space`` helper / scipy.stats distribution, or a
    ``%%tune`` body as text; ``None`` takes a default space for common models. ``method``:
    grid, random, bayes (Optuna TPE; ``sampler='gp'|'cmaes'|'random'`` or an Optuna sampler
    object) or halving (successive halving on rows). ``cv=K`` scores by K-fold CV on
    train+val, otherwise on the validation split (a TrainResult trained with CV keeps its K).
    ``prune``: median, halving, hyperband or an Optuna pruner object (bayes): torch estimators
    report per epoch, gradient boosting and AdaBoost every few stages, SGD-based models, MLP and
    HistGradientBoosting after 1, 3, 9, ... iterations (the ``iterations`` column), other models
    per CV fold. Trials are stored in ``storage`` (default ``.nbml/nbml.db``) under ``study``
    (the same name continues a study: ``trials`` more; a configuration the study already has,
    from an earlier run or another process running now, is never fit again, and the result
    shows the whole study); ``resume=True`` continues the last study of this model, method and
    data (or ``study``) until it has ``trials`` trials in all (6 done, ``trials=30``: 24 more).
    The default store, when damaged or unreachable, is left off with a warning; a ``storage``
    that cannot be opened is an error. ``scheduler``: a Dask scheduler address to run the fits
    on. ``coreset``: fit the trials on a coreset's rows (weighted), then refit the best on the
    full training rows. ``seed`` fixes folds and models; ``search_seed`` (default: ``seed``) the
    search's own draws. ``untuned=False`` skips scoring the untuned model beside the best.
    The best configuration's model (``result.best.model``) is fit on the training rows, as
    ``%%train --cv``'s is. Returns a ``TuneResult``.
    """
    from nbml.recipe import prepare

    if method not in _STRATEGIES:
        raise NbmlError(f"method={method!r} is not a search method; use one of {', '.join(METHODS)}")
    n_jobs = _check_n_jobs(n_jobs)
    _check_budget(trials, timeout)
    recipe = prepare(model_or_result, split, seed, preprocess)
    base = _base_result(model_or_result)
    if cv is None and base is not None and base.cv is not None:
        cv = len(base.cv)
    metric = _check_metric(metric, recipe.task)
    search_seed = _check_search_seed(search_seed, recipe.seed)
    dims, discretize = _dimensions(space, namespace, recipe.pipeline)
    strategy = _STRATEGIES[method](dims, trials, discretize=discretize, prune=prune, sampler=sampler)
    fit_on = recipe if coreset is None else _coreset_recipe(recipe, coreset)
    store = _store(storage, study, resume, recipe.name, method, recipe.split.fingerprint)
    left = _trials_left(strategy, trials, resume, store)
    search = _make_search(fit_on, cv, dims, strategy, metric, n_jobs, timeout, search_seed, scheduler, store,
                          callbacks, live)
    run_id = _start_run(search, recipe, cv)
    try:
        _run(search, strategy, scheduler, skip=left == 0)
        result = _result(search, recipe, cv, coreset, dims)
        if untuned and result.best_recipe is not None:
            result.untuned = _untuned(base, recipe, None if coreset is not None else cv, n_jobs, metric)
    except BaseException:
        _end_run(search, run_id, None)
        raise
    _end_run(search, run_id, result)
    return result


def _trials_left(strategy, trials, resume, store) -> int | None:
    """With ``resume``, ``trials`` counts the whole study: the trials still to fit (0: none;
    successive halving's ``trials`` are its candidates, counted per run)."""
    from nbml.store import FINISHED

    if not resume or trials is None or strategy.name == "halving":
        return None
    url, study, previous = store
    done = sum(r["state"] in FINISHED for r in previous)
    left = max(int(trials) - done, 0)
    if left == 0:
        warnings.warn(f"study {study!r} already has {done} trials: with --resume, --trials {trials} counts the "
                      f"whole study, so nothing is fit (ask for more than {done} to continue it)", stacklevel=3)
    else:
        strategy.trials = left
    return left


def _start_run(search, recipe, cv):
    """The search's run in the store, recorded as it starts (None: not recorded)."""
    from nbml.store import is_paused, start_search

    if search.url is None or is_paused():
        return None
    try:
        return start_search(search.url, study=search.study, model=recipe.name, method=search.method,
                            task=recipe.task, metric=search.metric, fingerprint=recipe.split.fingerprint, cv=cv)
    except Exception as exc:  # noqa: BLE001 - the search goes on unrecorded, and says so
        search.store_failed(exc)
        return None


def _end_run(search, run_id, result) -> None:
    """Mark the search's run finished, or interrupted (Ctrl-C, or an error: ``result`` None)."""
    if run_id is None or search.url is None:
        return
    from nbml.store import end_search

    state = "interrupted" if result is None or result.interrupted else "finished"
    try:
        end_search(search.url, run_id, result, state)
    except Exception as exc:  # noqa: BLE001 - the result is there; the store missed its end
        warnings.warn(f"nbml did not record the end of the search: {type(exc).__name__}: {exc}", stacklevel=3)


def _check_budget(trials, timeout):
    if trials is not None and (not isinstance(trials, (int, np.integer)) or isinstance(trials, bool) or trials < 1):
        raise NbmlError(f"trials={trials!r} must be a positive integer")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise NbmlError(f"timeout={timeout!r} must be a positive number of seconds")


def _check_search_seed(search_seed, seed) -> int:
    if search_seed is None:
        return seed
    if not isinstance(search_seed, (int, np.integer)) or isinstance(search_seed, bool):
        raise NbmlError(f"search_seed={search_seed!r} must be an integer")
    return int(search_seed)


def _base_result(obj):
    """The TrainResult a search starts from (its CV folds and metrics are reused), if any."""
    from nbml.training import TrainResult

    if isinstance(obj, TuneResult):
        return obj.best
    return obj if isinstance(obj, TrainResult) else None


def _dimensions(space, namespace, pipeline):
    """The search space by the pipeline's parameter names; a default space (discretized for a
    grid) when none is given."""
    from nbml.recipe import final_estimator

    dims = _space.parse(space, namespace) if isinstance(space, str) else _space.normalize(space)
    discretize = None
    if not dims:
        from nbml.tuning.defaults import default_space

        if space is not None and not isinstance(space, str):
            raise NbmlError("the search space is empty: give at least one parameter, e.g. {'C': [0.1, 1, 10]}")
        dims, discretize = default_space(final_estimator(pipeline)), 4
    return _space.resolve(dims, pipeline), discretize


def _coreset_recipe(recipe, coreset):
    """The recipe fit on a coreset's rows with its weights; scored on the split's validation
    rows (or by weighted CV over the coreset's rows)."""
    from dataclasses import replace

    from nbml.recipe import _check_weights, coreset_split, is_coreset

    if not is_coreset(coreset):
        raise TypeError(f"coreset must be an nbml Coreset (from nbml.coreset); got {type(coreset).__name__}")
    columns = [str(c) for c in getattr(coreset.X, "columns", [])]
    missing = [c for c in recipe.split.feature_names if str(c) not in columns]
    if missing:
        raise NbmlError(f"the coreset lacks the split's column(s) {', '.join(map(str, missing[:5]))}: build it "
                        f"from the same data (nbml.coreset(split.X_train, split.y_train, size=...))")
    cs_split, weights = coreset_split(coreset, seed=recipe.seed, against=recipe.split)
    out = replace(recipe, split=cs_split, weights=weights)
    _check_weights(out)
    return out


def _store(storage, study, resume, model_name, method, fingerprint):
    """(url, study name, the study's earlier trials); trials left running by a process that
    ended (kill -9, a crash) or by a Ctrl-C are marked interrupted first."""
    if study is not None and (not isinstance(study, str) or not study.strip()):
        raise NbmlError(f"study={study!r} must be a non-empty name")
    url = _open_store(storage)
    if study is None:
        study = _last_study(url, model_name, method, fingerprint) if resume else None
        if study is None:
            study = f"{model_name}-{method}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S-%f')}"
    if url is None:
        return None, study, []
    from nbml.store import reap_trials

    try:
        reap_trials(url, study)
    except Exception as exc:  # noqa: BLE001 - they stay "running"; the search itself is not hurt
        warnings.warn(f"nbml could not mark the unfinished trials of study {study!r}: {exc}", stacklevel=3)
    return url, study, _previous_records(url, study)


def _open_store(storage):
    """The store's URL, checked: a ``storage`` given that cannot be opened is an error; the
    default one (``NBML_STORE``, ``%config Nbml.storage``, ``.nbml/nbml.db``) damaged or
    unreachable leaves the search unrecorded, with a warning (as ``train`` does)."""
    from nbml.store import StoreError, check

    url = _storage_url(storage)
    if url is None:
        return None
    try:
        check(url)
    except StoreError as exc:
        if storage is not None:
            raise
        warnings.warn(f"this search runs with the store off (nothing recorded): {exc}", stacklevel=4)
        return None
    return url


def _make_search(recipe, cv, dims, strategy, metric, n_jobs, timeout, search_seed, scheduler, store, callbacks,
                 live):
    from nbml.folds import folds_of, rows_of
    from nbml.tuning.live import make_callbacks

    url, study, previous = store
    folds = folds_of(recipe, rows_of(recipe, cv), metric)
    epoch_key, iterate = _reporting(recipe, getattr(strategy, "prune", None))
    search = Search(pipeline=recipe.pipeline, folds=folds, task=recipe.task, metric=metric, seed=recipe.seed,
                    greater=_metrics.greater_is_better(metric), n_jobs=n_jobs, scheduler=scheduler, timeout=timeout,
                    method=strategy.name, model_name=recipe.name, fingerprint=recipe.split.fingerprint, url=url,
                    study=study, callbacks=make_callbacks(callbacks, live), previous=previous,
                    offset=max((r["number"] for r in previous), default=-1) + 1,
                    epoch_key=epoch_key, iterate=iterate, search_seed=search_seed, optuna_study=None, cv=cv,
                    prepared=None if recipe.weights is not None else prepare_folds(recipe.pipeline, folds, dims),
                    coreset_rows=None if recipe.weights is None else len(recipe.weights))
    strategy.check(search)  # before the views start: a method may size its run from the folds
    for cb in search.callbacks:
        if hasattr(cb, "on_start"):
            cb.on_start(search, strategy.total)
    return search


def _reporting(recipe, prune):
    """(epoch_key, iterate): torch estimators count epochs (and report them when pruning);
    boosting, SGD and MLP report per iteration when pruning."""
    from nbml.recipe import final_estimator
    from nbml.tuning.pruning import is_epoch_model, iteration_mode

    estimator = final_estimator(recipe.pipeline)
    prefix = _space._final_prefix(recipe.pipeline)
    if is_epoch_model(estimator):
        return prefix + "callbacks", None
    mode = iteration_mode(estimator, recipe.task) if prune is not None else None
    return None, None if mode is None else (mode[0], prefix + mode[1])


def _run(search, strategy, scheduler, skip=False):
    import contextlib

    backend = contextlib.nullcontext(None)
    if scheduler is not None and not skip:
        from nbml.tuning.distributed import dask_backend

        backend = dask_backend(scheduler)
    try:
        with backend as workers, blas_threads(search.folds[0].X_train):
            search.workers = workers or search.n_jobs
            if not skip:
                strategy.run(search)
    except KeyboardInterrupt:
        search.interrupted = True
    finally:
        for cb in search.callbacks:
            if hasattr(cb, "on_end"):
                cb.on_end(search)


def _result(search, recipe, cv, coreset, dims) -> TuneResult:
    """The TuneResult of a finished (or interrupted) search: the whole study as stored now
    (other processes' trials included), this search's trials as it ran them."""
    mine = {r["number"] for r in search.records}
    others = _previous_records(search.url, search.study) if search.url is not None else search.previous
    others = [r for r in others if r["number"] not in mine]
    records = sorted(others + search.records, key=lambda r: r["number"])
    best = _best_of([r for r in (search.best_record(), _best_of(others, search.greater)) if r is not None],
                    search.greater)
    best_recipe = None
    if best is not None:
        full = best.get("_full") or _space.resolve({k: _space.Categorical([v]) for k, v in best["params"].items()},
                                                   recipe.pipeline)
        best_recipe = recipe.with_params({k: (v.values[0] if isinstance(v, _space.Dimension) else v)
                                          for k, v in full.items()})
    result = TuneResult(best_params=dict(best["params"]) if best else {}, best_score=best["score"] if best else math.nan,
                        best_metrics=dict(best.get("metrics") or {}) if best else {},
                        trials=_trials_frame(records, search.greater), metric=search.metric, greater=search.greater,
                        method=search.method, task=recipe.task, model_name=recipe.name,
                        duration=time.perf_counter() - search.started, fingerprint=recipe.split.fingerprint,
                        space=dims, pipeline=recipe.pipeline, best_recipe=best_recipe, cv=cv,
                        study=search.study, storage=search.url, interrupted=search.interrupted,
                        optuna_study=search.optuna_study, coreset=search.coreset_rows)
    if coreset is not None and best_recipe is not None:  # trials fit fewer rows: the refit on all is compared
        result.refit_metrics = dict(result.best.metrics)
    return result


def _untuned(base, recipe, cv, n_jobs, metric=None) -> dict:
    """The untuned model's metrics on the same folds (reused from the TrainResult when it has them)."""
    from nbml.store import paused
    from nbml.training import fit_recipe

    same_folds = base is not None and base.split is recipe.split and metric in base.metrics and \
        ((cv is None and base.cv is None) or (base.cv is not None and cv == len(base.cv) and base.seed == recipe.seed))
    if same_folds:
        return dict(base.metrics)
    try:
        with paused():
            return dict(fit_recipe(recipe, cv=cv, n_jobs=n_jobs if n_jobs > 1 else None, metric=metric).metrics)
    except ValueError as exc:  # the untuned model failing is worth a line, not the search's result
        warnings.warn(f"the untuned {recipe.name} could not be scored beside the best: {exc}", stacklevel=3)
        return {}

def _check_n_jobs(n_jobs):
    if n_jobs is None:
        return 1
    if not isinstance(n_jobs, (int, np.integer)) or isinstance(n_jobs, bool) or n_jobs == 0 or n_jobs < -1:
        raise NbmlError(f"n_jobs={n_jobs!r} must be a positive integer or -1 (all cores)")
    if n_jobs == -1:
        return os.cpu_count() or 1
    return int(n_jobs)


def _check_metric(metric, task):
    return _metrics.check_metric(metric, task)


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
    except Exception as exc:  # noqa: BLE001 - a store that cannot be read starts a new study, and says so
        warnings.warn(f"nbml could not look up the last study in the store ({type(exc).__name__}: {exc}); "
                      f"starting a new one", stacklevel=3)
        return None
    return None if frame.empty else frame["study"].iloc[0]


def _previous_records(url, study):
    from nbml.store import trials as stored_trials

    try:
        frame = stored_trials(study, storage=url)
    except Exception as exc:  # noqa: BLE001 - a store that cannot be read: the search runs, and says so
        warnings.warn(f"nbml could not read the earlier trials of study {study!r} ({type(exc).__name__}: {exc}); "
                      f"they are not resumed", stacklevel=3)
        return []
    out = []
    for row in frame.itertuples():
        out.append({"number": int(row.number), "params": _loads(row.params), "score": _nan(row.score),
                    "score_std": _nan(row.score_std), "state": row.state, "error": row.error,
                    "duration": _nan(row.duration), "metrics": _loads(row.metrics), "previous": True,
                    **_loads(row.extra)})
    return out


def _loads(text) -> dict:
    """A stored JSON object (a trial still running has no metrics yet: NULL)."""
    return json.loads(text) if isinstance(text, str) and text else {}


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


