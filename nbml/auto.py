"""``automl()``: search across model families under a time budget, ending in an ensemble.

Orchestration over the one core path: every family's pipeline comes from ``nbml.prepare``,
every trial is K-fold CV on train+val (or one holdout fold of it on data large for the budget)
through the search's trial (``nbml.tuning.trial.evaluate_config``, over the fold engine's folds), the
configurations come from the families' default spaces through Optuna's TPE (ask/tell, one
study per family) and every trial goes to the store. The test rows are never touched.

How the budget is spent (measured in ``benchmarks/automl_vs_peers.py``):

1. each family's default configuration, cheapest families first (FLAML's "cheap first"); a
   family whose estimated cost would not fit the time left, or would take over a tenth of the
   budget once another family has a score, is skipped, and says so;
2. then rounds among the promising families (the top third, at least three): the family with
   the least time spent × rank gets the next trial, so the leader gets about twice the time of
   the second and three times that of the third (successive halving across families, softly);
   a trial whose running score after a fold is worse than the family's median at that fold
   is pruned, and a trial that would end past the budget is cut (between folds, or mid-fit
   through the boosting libraries' callbacks) early enough for its own refit to fit after it;
3. Caruana's greedy ensemble selection (with replacement) over the best trials' out-of-fold
   predictions; kept only when it beats the best single trial out-of-fold;
4. the best model whose refit fits the time left and the ensemble's members are refit once on
   train+val, inside the budget (time for it is kept back from the search).
"""
from __future__ import annotations

import functools
import math
import time
import warnings
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd

from nbml import metrics as _metrics
from nbml.errors import NbmlError
from nbml.training import Predictions, TrainResult
from nbml.tuning.trial import OutOfTime

# relative cost of one fit of a family's default configuration (lr = 2): the order of the first
# round, and the estimate of a family's cost before it has run (scaled by the fits measured)
COST = {"nb": 1, "lda": 1, "ridge": 1, "lasso": 1, "qda": 1, "lr": 2, "tree": 2, "knn": 3, "lgbm": 6,
        "hgb": 8, "xgb": 8, "ada": 10, "et": 10, "rf": 12, "catboost": 20, "gb": 25, "svm": 30}
# families whose fit grows with the square of the rows (kernel SVMs): their cost points hold for
# this many fit rows and are scaled beyond (on diamonds' 32,000 rows an SVC took 31 s, 16x its estimate)
QUADRATIC = {"svm": 2_000}
# the first configuration of each family: its defaults, made cheap where the number of trees or
# boosting rounds sets the cost (FLAML's low-cost starting points; the search then grows them)
CHEAP_START = {"catboost": {"iterations": 100}, "gb": {"n_estimators": 50}, "rf": {"n_estimators": 50},
               "et": {"n_estimators": 50}, "ada": {"n_estimators": 25}, "lgbm": {"n_estimators": 100},
               "xgb": {"n_estimators": 100}}
ENSEMBLE_CANDIDATES = 12  # out-of-fold predictions kept for ensemble selection
ENSEMBLE_ROUNDS = 25
PATIENCE = 5  # ensemble selection stops after this many rounds without a gain
REFIT_MARGIN = 1.5  # the time kept back for the final refits, as a multiple of their estimate
MIN_TRIALS_TO_PRUNE = 3
MARGIN = 0.05  # of the budget, kept for a busy machine's slower end
MEMBER_SHARE = 0.1  # an ensemble member (not the best) must refit within this share of the budget
PROMISING = 3  # the top third of the families (at least three) are tuned after their defaults
NEW_FAMILY_SHARE = 0.1  # a family's first trial starts only with this share of the budget left
# and, once another family has a score, only when it is expected to take at most this share of
# the budget (FLAML's cost-frugal start: on HI's 13,000 fit rows at 30 s a default SVC took 5.5 s,
# a fifth of the budget, and scored below every boosted family; the time goes to tuning instead)
START_SHARE = 0.1
# cv=None: K-fold CV while the rows are few for the budget, else one holdout fold (fit on 80%,
# scored on 20% of train+val), so large data gets several times more trials in the same budget
# (FLAML decides the same way, on rows × columns per hour of budget; measured in
# benchmarks/automl_vs_peers.py: the datasets above the line are HI, BudgetFood and diamonds at 30 s)
AUTO_FOLDS = 5
HOLDOUT_ROWS_PER_SECOND = 330  # holdout above 10,000 rows for a 30 s budget, 40,000 for 120 s
HOLDOUT_ROWS = 100_000  # and always from here


@dataclass(kw_only=True, repr=False, eq=False)
class AutoMLResult(TrainResult):
    """The final model of an ``automl`` run — the ensemble when it beat the best single model
    out-of-fold, else the best single model — as a ``TrainResult`` (``%evaluate``, ``%deploy``,
    ``%panel``, ``%labels`` take it), with the run: ``leaderboard`` (per family: best score,
    trials, time), ``best`` (the best single model, a TrainResult), ``ensemble`` (a TrainResult,
    or None), ``history`` (every trial), ``scored_on`` (K-fold CV on train+val, or a holdout
    fifth of it on large data). Scores are held out of the fit that made them; the final models are
    fit on train+val, so only ``%evaluate --on test`` is held out for them."""

    leaderboard: pd.DataFrame = None
    best: TrainResult = None
    ensemble: TrainResult | None = None
    history: pd.DataFrame = None
    budget: float = 0.0
    elapsed: float = 0.0
    interrupted: bool = False
    skipped: list = field(default_factory=list)
    study: str | None = None
    metric: str = ""
    scored_on: str = "out-of-fold on train+val"

    def __repr__(self) -> str:
        return self.summary() + "\n" + self.leaderboard.to_string()

    def summary(self) -> str:
        chosen = "an ensemble of " + ", ".join(self.ensemble.params.get("members", [])) if self.ensemble is not None \
            else f"the best single model ({self.best.name})"
        ended = "interrupted (Ctrl-C) after" if self.interrupted else "used"
        text = (f"automl {ended} {self.elapsed:.1f} s of a {self.budget:g} s budget: {len(self.history)} trials over "
                f"{len(self.leaderboard)} families; final model: {chosen}, {self.metric} "
                f"{self.metrics.get(self.metric, math.nan):.4f} {self.scored_on} — chosen as the best of "
                f"{len(self.history)} on these scores, so optimistic; the test rows are untouched: "
                f"%evaluate NAME --on test gives the unbiased score.")
        return text + "".join(f"\n{line}" for line in self.skipped)

    def _repr_html_(self) -> str:
        from html import escape

        lines = "".join(f"<br><small>{escape(line)}</small>" for line in self.skipped)
        return f"<div><p>{escape(self.summary().splitlines()[0])}{lines}</p>{self.leaderboard.to_html()}</div>"


# -- checking what was asked ---------------------------------------------------------------

def _check_budget(budget) -> float:
    if isinstance(budget, bool) or not isinstance(budget, (int, float, np.integer, np.floating)) \
            or not math.isfinite(budget) or budget <= 0:
        raise NbmlError(f"budget={budget!r} is not a time budget; give a positive number of seconds, e.g. budget=60")
    return float(budget)


def _families(models, task, n_rows) -> tuple:
    """(short names to search, lines saying which were left out and why)."""
    from nbml import standard

    table = standard.families(task)
    missing = _missing_families(standard, task)
    if models is None or models == "all":
        names = list(table)
    else:
        names = [m.strip() for m in (models.split(",") if isinstance(models, str) else models) if str(m).strip()]
        unknown = [m for m in names if m not in table and m not in missing]
        if unknown or not names:
            raise NbmlError(f"models={models!r}: {', '.join(unknown) or 'none given'} is not a standard {task} "
                            f"family; choose from {', '.join(list(table) + list(missing))}")
    skipped = [f"skipped {m}: {missing[m]}" for m in names if m in missing]
    names = [m for m in names if m in table]
    if not names:
        raise NbmlError(f"none of the families asked for can run here ({'; '.join(skipped)})")
    return sorted(names, key=lambda m: COST.get(m, 10)), skipped


def _missing_families(standard, task) -> dict:
    """Families whose package is not installed: short name -> how to install it."""
    missing = getattr(standard, "missing_families", None)
    return dict(missing(task)) if missing is not None else {}


# -- one family ----------------------------------------------------------------------------

class Family:
    """One model family in the search: its recipe, its folds (preprocessed once where only the
    model's parameters vary), its Optuna study and what its trials have cost and scored."""

    def __init__(self, short, recipe, rows, metric, greater, seed, shared):
        from nbml.folds import folds_of

        self.short, self.recipe, self.rows, self.metric, self.greater = short, recipe, rows, metric, greater
        self.dims = self._space()
        self.folds = folds_of(recipe, rows, metric)
        self.shared, self._prepared = shared, None
        self.study = self._study(seed) if self.dims else None
        self.trials, self.spent, self.best, self.fold_times = 0, 0.0, None, []
        self.running = []  # per completed trial: running mean score after each fold (for pruning)

    def _space(self):
        from nbml import space as _space
        from nbml.recipe import final_estimator
        from nbml.tuning.defaults import default_space

        try:
            dims = default_space(final_estimator(self.recipe.pipeline))
        except NbmlError:
            return None  # no default space: the family runs its defaults only
        return _space.resolve(dims, self.recipe.pipeline) if dims else None

    def _study(self, seed):
        import optuna

        from nbml.tuning.optuna_space import OptunaSpace

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.space = OptunaSpace(self.dims)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # multivariate TPE is marked experimental
            sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5, multivariate=True)
        return optuna.create_study(direction="maximize" if self.greater else "minimize", sampler=sampler)

    @property
    def prepared(self):
        """Each fold's rows preprocessed once (on the family's first trial; families whose
        preprocessing is the same share them), or None where the whole pipeline is fit per trial."""
        if self._prepared is None:
            import joblib

            from nbml.tuning.trial import prepare_folds

            steps = getattr(self.recipe.pipeline, "steps", None)
            key = joblib.hash(steps[:-1]) if steps else None
            if key is not None and key in self.shared:
                from nbml.tuning.trial import PreparedFolds

                done = self.shared[key]
                prefix = steps[-1][0] + "__"
                self._prepared = done if done is False else PreparedFolds(
                    steps[-1][1], prefix, [_own_fit_params(shared, mine, prefix)
                                           for shared, mine in zip(done.folds, self.folds)])
            else:
                self._prepared = prepare_folds(self.recipe.pipeline, self.folds, list(self.dims or [])) or False
                if key is not None:
                    self.shared[key] = self._prepared
        return self._prepared or None

    def cheap_start(self) -> dict:
        from nbml import space as _space
        from nbml.recipe import final_estimator

        own = final_estimator(self.recipe.pipeline).get_params(deep=False)
        prefix = _space._final_prefix(self.recipe.pipeline)
        return {prefix + k: v for k, v in CHEAP_START.get(self.short, {}).items() if k in own or self.short == "catboost"}

    @property
    def tunable(self) -> bool:
        return self.study is not None

    def ask(self):
        """(optuna trial or None, params by the pipeline's names): the cheap defaults first."""
        if self.trials == 0 or not self.tunable:
            return None, self.cheap_start() if self.trials == 0 else {}
        trial = self.study.ask(self.space.distributions)
        return trial, self.space.decode(trial.params)

    def job(self, params, deadline, seed):
        """What one trial needs, picklable (for joblib / Dask workers)."""
        prepared = self.prepared  # its folds stand for the raw ones (one copy of the rows goes to a worker)
        return dict(pipeline=self.recipe.pipeline, params=params, folds=prepared.folds if prepared else self.folds,
                    prepared=prepared,
                    rows=self.rows, metric=self.metric, greater=self.greater, deadline=deadline, seed=seed,
                    prune_at=self.prune_at())

    def prune_at(self):
        """The family's median running score after each fold (None until it has a few trials)."""
        if len(self.running) < MIN_TRIALS_TO_PRUNE:
            return None
        width = min(len(r) for r in self.running)
        return [float(np.median([r[i] for r in self.running])) for i in range(width)]

    def tell(self, trial, outcome):
        self.trials += 1
        self.spent += outcome["duration"]
        self.fold_times.extend(outcome["fold_times"])
        if outcome["state"] == "complete":
            self.running.append(outcome["running"])
            if self.best is None or _better(outcome["score"], self.best["score"], self.greater):
                self.best = outcome
        if trial is not None:
            import optuna

            state = {"complete": optuna.trial.TrialState.COMPLETE, "pruned": optuna.trial.TrialState.PRUNED}.get(
                outcome["state"], optuna.trial.TrialState.FAIL)
            self.study.tell(trial, outcome["score"] if state == optuna.trial.TrialState.COMPLETE else None, state=state)

    def fold_cost(self, unit) -> float:
        """Seconds one fold is expected to take (measured, or estimated from ``unit`` per cost point)."""
        if self.fold_times:
            return float(np.median(self.fold_times[-10:]))
        return estimate(self.short, unit, len(self.folds[0].X_train))


def estimate(short, unit, fit_rows) -> float:
    """Seconds one fold of a family not measured yet is expected to take."""
    return unit * COST.get(short, 10) * max(1.0, fit_rows / QUADRATIC.get(short, math.inf))


def _own_fit_params(prepared, fold, prefix):
    """A preprocessed fold shared with another family, with this family's own fit parameters
    (LightGBM is told its categorical columns at fit time, hgb in its constructor)."""
    from copy import copy

    mine = copy(prepared)
    mine.fit_params = {k.removeprefix(prefix): v for k, v in fold.fit_params.items()}
    return mine


def _better(a, b, greater) -> bool:
    return a > b if greater else a < b


def run_trial(pipeline, params, folds, rows, metric, greater, deadline, seed, prepared=None, prune_at=None) -> dict:
    """One configuration through the search's trial (``nbml.tuning.trial.evaluate_config``) on
    every fold: pruned when its running score falls below the family's median after a fold
    (from the second fold on: one fold says little), cut when it would end past ``deadline``
    (boosting rounds stop there through their library's callback). The outcome holds the
    out-of-fold predictions."""
    from nbml.tuning.trial import evaluate_config

    report = None if prune_at is None else functools.partial(_prune_below, prune_at, greater)
    return evaluate_config(pipeline, params, folds, metric, seed, greater, report=report, prepared=prepared,
                           fit=_timed_fit(deadline), deadline=deadline, rows=rows)


def _prune_below(prune_at, greater, step, running):
    import optuna

    if 1 <= step < len(prune_at) and _better(prune_at[step], running, greater):
        raise optuna.TrialPruned()


class _Clock:
    """The deadline as each boosting library's callback: LightGBM calls it with its ``env``,
    CatBoost calls ``after_iteration(info)`` (False stops it), XGBoost ``after_iteration(model,
    epoch, log)`` (True stops it), scikit-learn's gradient boosting ``monitor(i, model, locals)``."""

    def __init__(self, deadline):
        self.deadline, self.stopped = deadline, False

    def late(self) -> bool:
        self.stopped = self.stopped or time.time() > self.deadline
        return self.stopped

    def __call__(self, *args):  # LightGBM (env) and scikit-learn's monitor (i, model, locals)
        if self.late():
            raise OutOfTime()
        return False

    def after_iteration(self, *args):
        late = self.late()
        return (not late) if len(args) == 1 else late  # CatBoost: continue?; XGBoost: stop?


def _timed_fit(deadline):
    """A fold fit whose boosting rounds stop at ``deadline`` (the trial is then cut), through each
    library's own callback; other models fit as they are (their trial is cut between folds)."""
    def fit(model, fold):
        from nbml.boost import library_of
        from nbml.recipe import final_estimator

        estimator, clock = final_estimator(model), _Clock(deadline)
        prefix = model.steps[-1][0] + "__" if getattr(model, "steps", None) else ""
        extra, library = {}, library_of(estimator)
        if library in ("lightgbm", "catboost"):
            extra[prefix + "callbacks"] = [clock]
        elif library == "xgboost":
            estimator.set_params(callbacks=[_xgb_clock(clock)])
        elif type(estimator).__name__.startswith("GradientBoosting"):
            extra[prefix + "monitor"] = clock
        fold.fit(model, **extra)
        if library == "xgboost":
            estimator.set_params(callbacks=None)  # the fitted model keeps no clock
        if clock.stopped:
            raise OutOfTime()
    return fit


def _xgb_clock(clock):
    from xgboost.callback import TrainingCallback

    class Clock(TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            return clock.after_iteration(model, epoch, evals_log)
    return Clock()


def _run_job(job):
    from nbml.tuning.trial import blas_threads

    with blas_threads(job["folds"][0].X_train):
        return run_trial(**job)


# -- the search ----------------------------------------------------------------------------

class AutoML:
    """The state of one run: families, the clock, the trials and the store."""

    def __init__(self, split, names, metric, cv, seed, budget, n_jobs, scheduler, store, live):
        from nbml.folds import rows_of
        from nbml.recipe import prepare
        from nbml.standard import standard_model

        self.split, self.metric, self.cv, self.seed, self.budget = split, metric, cv, seed, budget
        self.greater = _metrics.greater_is_better(metric)
        self.n_jobs, self.scheduler, self.live = n_jobs, scheduler, live
        self.started = time.perf_counter()
        self.wall_start = time.time()
        self.deadline = self.wall_start + budget
        self.names, self.shared, self.families = list(names), {}, {}
        rows = rows_of(prepare(standard_model("lr" if "lr" in names else names[0], split.task), split, seed),
                       AUTO_FOLDS if cv == "holdout" else cv)
        if cv == "holdout":  # the first of the folds: its held-out rows are the search's scored rows
            rows = replace(rows, pairs=rows.pairs[:1], label="holdout")
        self.rows = rows
        self.scored_on = (f"out-of-fold on train+val ({cv}-fold CV)" if cv != "holdout" else
                          f"on a holdout of {len(rows.pairs[0][1]):,} train+val rows (1/{AUTO_FOLDS}; "
                          f"large data for the budget)")
        # a refit on all of train+val costs this many times a trial's fit
        self.refit_scale = len(rows.X) / len(rows.pairs[0][0])
        self.url, self.study, self.number = store
        self.records, self.kept, self.interrupted = [], [], False
        self.metric_time = 0.0
        self.skipped = []
        self.ensemble = True
        self._final = (None, [], 0.0)  # (candidates, ensemble members, when to choose again)

    def family(self, short) -> Family:
        """The family ``short``, made when first needed (its library is imported then, in its turn)."""
        from nbml.recipe import prepare
        from nbml.standard import standard_model

        if short not in self.families:
            recipe = replace(prepare(standard_model(short, self.split.task), self.split, self.seed), name=short)
            self.families[short] = Family(short, recipe, self.rows, self.metric, self.greater,
                                          self.seed + self.names.index(short), self.shared)
        return self.families[short]

    # the clock
    def left(self) -> float:
        return self.deadline - time.time()

    def unit(self) -> float:
        """Seconds per cost point of a fold, from the families measured so far."""
        measured = [np.median(f.fold_times) / COST.get(f.short, 10) for f in self.families.values() if f.fold_times]
        return float(np.median(measured)) if measured else 0.01

    def reserve(self) -> float:
        """Time kept back for the end: choosing the ensemble, refitting the models the end
        would refit on train+val (the best and the ensemble chosen so far), and a margin for a
        busy machine."""
        # each model's own fold fit time, scaled to all of train+val
        costs = [self.refit_cost(r) for r in self.final_so_far()]
        choosing = ENSEMBLE_ROUNDS * min(len(self.kept), ENSEMBLE_CANDIDATES) * self.metric_time
        return REFIT_MARGIN * float(sum(costs)) + choosing + MARGIN * self.budget

    def refit_cost(self, record) -> float:
        """A trial's expected refit on all of train+val, from its own fold fit times."""
        return float(record["table"]["fit_time"].mean()) * self.refit_scale

    def final_so_far(self) -> list:
        """The trials the end would refit now: the best and the members of the ensemble chosen
        on the candidates so far (chosen again when they change, at most every 5% of the budget
        and never taking more than a twentieth of the time between)."""
        if not self.kept:
            return []
        key = tuple(id(r) for r in self.kept[:ENSEMBLE_CANDIDATES])
        now = time.perf_counter()
        if key != self._final[0] and now >= self._final[2]:
            members = []
            candidates = usable(self)
            if self.ensemble and len(candidates) > 1:
                counts, _ = caruana(candidates, self.metric, self.greater, self.seed)
                members = [r for r, c in zip(candidates, counts) if c > 0]
            took = time.perf_counter() - now
            self._final = (key, members, now + max(0.05 * self.budget, 20 * took))
        best = self.kept[0]
        return [best] + [r for r in self._final[1] if r is not best and any(r is k for k in self.kept)]

    def fits(self, family) -> bool:
        """Whether a whole trial of ``family``, and its own refit should it win, are expected to
        end before the time kept back; a family not measured yet (its estimate is rough) starts
        only with a share of the budget left."""
        need = family.fold_cost(self.unit()) * len(family.folds)
        if not family.fold_times:
            need = max(need, NEW_FAMILY_SHARE * self.budget)
        return need * (1.0 + self.own_refit(family)) < self.left() - self.reserve()

    # running trials
    def run(self):
        try:
            self._first_round()
            while self.left() - self.reserve() > 0:
                batch = self._next_batch()
                if not batch:
                    break
                self._evaluate(batch)
        except KeyboardInterrupt:
            self.interrupted = True

    def _first_round(self):
        for short in self.names:
            if short in self.families and self.families[short].trials:
                continue  # resumed
            expected = estimate(short, self.unit(), len(self.rows.pairs[0][0])) * len(self.rows.pairs)
            need = max(expected, NEW_FAMILY_SHARE * self.budget)
            left = self.left() - self.reserve()
            # decided before the family's library is even imported
            if need >= left:
                self.skipped.append(f"skipped {short}: its first trial needs about {need:.1f} s and "
                                    f"{max(left, 0):.1f} s were left")
                continue
            if self.kept and expected > START_SHARE * self.budget:
                self.skipped.append(f"skipped {short}: its first trial needs about {expected:.1f} s, over "
                                    f"{START_SHARE:.0%} of the {self.budget:g} s budget")
                continue
            family = self.family(short)
            self._evaluate([family])

    def ranked(self) -> list:
        scored = [f for f in self.families.values() if f.best is not None]
        return sorted(scored, key=lambda f: f.best["score"], reverse=self.greater)

    def _next_batch(self) -> list:
        """The families that get the next trials: among the promising ones, least time × rank."""
        ranked = self.ranked()
        promising = [f for f in ranked[:max(3, math.ceil(len(ranked) / PROMISING))] if f.tunable and self.fits(f)]
        if not promising:
            return []
        order = sorted(promising, key=lambda f: (f.spent + 1e-3) * (ranked.index(f) + 1))
        width = 1 if self.n_jobs == 1 and self.scheduler is None else max(self.n_jobs, 2)
        return [order[i % len(order)] for i in range(width)]

    def _evaluate(self, batch):
        began = time.perf_counter()
        asked = [(family, *family.ask()) for family in batch]
        jobs = [family.job(params, self.trial_deadline(family), self.seed)
                for family, _, params in asked]
        if len(jobs) == 1:
            outcomes = [_run_job(jobs[0])]
        else:
            outcomes = self._parallel(jobs)
        for (family, trial, params), outcome in zip(asked, outcomes):
            self.told(family, trial, params, outcome)
        # what a trial costs besides its fits (asking the sampler, scoring, recording) is the
        # family's time too: cheap families must not win rounds on trials that cost mostly that
        overhead = max(time.perf_counter() - began - max(o["duration"] for o in outcomes), 0.0) / len(batch)
        for family, _, _ in asked:
            family.spent += overhead

    def told(self, family, trial, params, outcome):
        outcome.update(number=self.number, params=params)
        family.tell(trial, outcome)
        self._record(family, params, outcome)

    def trial_deadline(self, family) -> float:
        """The end a trial must finish by: before the time kept back (once anything has finished),
        and early enough that its own refit on train+val fits after it should it become the best
        (on HI at 30 s a CatBoost trial of depth 10 started at 13 s, took 8 s on one fold, won, and
        its refit ended the run at 38.6 s)."""
        end = self.deadline - (self.reserve() if self.kept else 0.0)
        now = time.time()
        return now + max(end - now, 0.0) / (1.0 + self.own_refit(family))

    def own_refit(self, family) -> float:
        """A trial's refit on train+val (with the margin) as a share of the trial's own time."""
        return REFIT_MARGIN * self.refit_scale / len(family.folds)

    def _parallel(self, jobs):
        import contextlib

        from joblib import Parallel, delayed

        backend = contextlib.nullcontext()
        if self.scheduler is not None:
            from nbml.tuning.distributed import dask_backend

            backend = dask_backend(self.scheduler)
        with backend:
            return Parallel(n_jobs=-1 if self.scheduler is not None else self.n_jobs)(
                delayed(_run_job)(job) for job in jobs)

    def _record(self, family, params, outcome):
        from nbml import space as _space

        record = {k: outcome[k] for k in ("state", "score", "duration", "metrics", "error")}
        record.update(family=family.short, number=self.number, elapsed=time.perf_counter() - self.started,
                      params={_space.short_name(k, family.recipe.pipeline): v for k, v in params.items()},
                      full=params, score_std=float(np.std(outcome["fold_scores"])) if outcome["fold_scores"] else math.nan)
        self.number += 1
        self.records.append(record)
        if outcome["state"] == "complete":
            self._keep(dict(record, predictions=outcome["predictions"], table=outcome["table"]))
        if self.url is not None:
            from nbml.store import record_trial

            try:
                record_trial(self.url, self.study, dict(record, method="automl", model=family.short,
                                                        metric=self.metric, fingerprint=self.split.fingerprint))
            except Exception as exc:  # noqa: BLE001 - the search goes on unrecorded, and says so
                warnings.warn(f"nbml stopped recording study {self.study!r}: {exc}", stacklevel=2)
                self.url = None
        if self.live is not None:
            self.live.update(self.leaderboard(), record)

    def _keep(self, record):
        """Out-of-fold predictions of the best trials (ensemble candidates), and every family's best."""
        if not self.metric_time and _values(record["predictions"]) is not None:  # one blend's score: time kept back
            began = time.perf_counter()
            _score_of(_values(record["predictions"]), record["predictions"], self.metric, self.seed)
            self.metric_time = time.perf_counter() - began
        self.kept.append(record)
        self.kept.sort(key=lambda r: r["score"], reverse=self.greater)
        bests = {}
        for r in self.kept:
            bests.setdefault(r["family"], r)
        keep = self.kept[:ENSEMBLE_CANDIDATES]
        self.kept = keep + [r for r in bests.values() if not any(r is k for k in keep)]

    def leaderboard(self) -> pd.DataFrame:
        rows = []
        for f in self.families.values():
            mine = [r for r in self.records if r["family"] == f.short]
            if not mine:
                continue
            rows.append({"family": f.short, f"best {self.metric}": f.best["score"] if f.best else math.nan,
                         "trials": len(mine), "pruned or cut": sum(r["state"] in ("pruned", "cut") for r in mine),
                         "failed": sum(r["state"] == "fail" for r in mine), "time (s)": round(f.spent, 2),
                         "best params": _params_text(next((r["params"] for r in mine if f.best is not None
                                                           and r["number"] == f.best["number"]), {}))})
        table = pd.DataFrame(rows)
        if table.empty:
            return table
        table = table.sort_values(f"best {self.metric}", ascending=not self.greater, na_position="last")
        return table.set_index("family")


def _params_text(params) -> str:
    return ", ".join(f"{k}={_metrics_fmt(v)}" for k, v in (params or {}).items()) or "defaults"


def _metrics_fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else repr(v) if isinstance(v, str) else str(v)


# -- the ensemble --------------------------------------------------------------------------

def caruana(candidates, metric, greater, seed, rounds=ENSEMBLE_ROUNDS):
    """Caruana et al. (2004) ensemble selection: add, with replacement, the candidate whose
    addition scores best out-of-fold; keep the best prefix. Returns (counts, score); the first
    pick is the best single candidate, so the ensemble never scores below it."""
    preds = [c["predictions"] for c in candidates]
    values = [_values(p) for p in preds]
    counts, total = np.zeros(len(preds), dtype=int), None
    best_counts, best_score = None, None
    for r in range(rounds):
        trial_scores = []
        for j in range(len(preds)):
            mix = values[j] if total is None else (total + values[j]) / (r + 1)
            trial_scores.append(_score_of(mix, preds[0], metric, seed))
        j = int(np.nanargmax(trial_scores) if greater else np.nanargmin(trial_scores))
        counts[j] += 1
        total = values[j].copy() if total is None else total + values[j]
        if best_score is None or _better(trial_scores[j], best_score, greater):
            best_counts, best_score, since = counts.copy(), trial_scores[j], 0
        else:
            since += 1
            if since == PATIENCE:
                break
    return best_counts, best_score


def affordable(candidates, choose, cost, seconds):
    """(members, their counts, score) of the ensemble ``choose(candidates)`` picks, leaving out the
    costliest member (never the first candidate, the best) and choosing again while refitting
    them all is expected to take more than ``seconds``: the budget is kept even when the
    ensemble chosen at the end holds more, or dearer, models than the one the search kept time for."""
    while True:
        counts, score = choose(candidates)
        members = [r for r, c in zip(candidates, counts) if c > 0]
        others = [m for m in members if m is not candidates[0]]
        if not others or sum(cost(m) for m in [candidates[0], *others]) <= seconds:
            return members, counts[counts > 0], score
        dearest = max(others, key=cost)
        candidates = [c for c in candidates if c is not dearest]


def usable(run) -> list:
    """The ensemble's candidates: the kept trials whose predictions can be averaged and whose
    refit on train+val is cheap next to the budget (a forest that takes a quarter of it to refit
    would take that time from the search; the best trial is refit whatever it costs)."""
    return [r for r in run.kept if (run.split.task == "regression" or r["predictions"].proba is not None)
            and (r is run.kept[0] or run.refit_cost(r) <= MEMBER_SHARE * run.budget)]


def _values(pred):
    return pred.proba if pred.task == "classification" else np.asarray(pred.y_pred, dtype=float)


def blended(preds, counts) -> Predictions:
    """The held-out predictions of the weighted average of ``preds`` (their rows and label)."""
    weights = np.asarray(counts, dtype=float) / np.sum(counts)
    first = preds[0]
    if first.task == "classification":
        proba = sum(w * p.proba for w, p in zip(weights, preds) if w > 0)
        return Predictions(first.task, first.y_true, np.asarray(first.classes)[proba.argmax(axis=1)], first.classes,
                           proba, label=first.label)
    y_pred = sum(w * np.asarray(p.y_pred, dtype=float) for w, p in zip(weights, preds) if w > 0)
    return Predictions(first.task, first.y_true, y_pred, label=first.label)


def _score_of(mix, like, metric, seed):
    if like.task == "classification":
        p = Predictions(like.task, like.y_true, np.asarray(like.classes)[mix.argmax(axis=1)], like.classes, mix)
    else:
        p = Predictions(like.task, like.y_true, mix)
    value = p.metrics(seed).get(metric, math.nan)
    return math.nan if value is None else float(value)


# -- the results ---------------------------------------------------------------------------

def _with(predictions, metric, seed) -> dict:
    """The task's metrics of ``predictions`` and ``metric`` (a scorer name) beside them."""
    values = predictions.metrics(seed)
    values.get(metric)
    return dict(values)


def _trained(run, record, fitted) -> TrainResult:
    family = run.families[record["family"]]
    recipe = family.recipe.with_params(record["full"])
    return TrainResult(task=recipe.task, metrics=_with(record["predictions"], run.metric, recipe.seed), train_metrics={},
                       split=run.split, name=f"{record['family']} (automl)", recipe=recipe,
                       predictions=record["predictions"], cv=record["table"], params=dict(record["params"]),
                       fit_time=float(record["table"]["fit_time"].sum()), fitted_model=fitted, fitted_on="train+val",
                       note=f"trial {record['number']} of the automl run; scored {run.scored_on}")


def _finish(run, ensemble: bool):
    """(best TrainResult, ensemble TrainResult or None): the ensemble chosen first, on the
    out-of-fold predictions; then only the models kept are refit on train+val."""
    from nbml.folds import fit_model

    if not run.kept:
        raise NbmlError(f"no trial finished within the {run.budget:g} s budget; give a larger budget (or "
                        f"cheaper families, e.g. --models lr,nb)")
    # the best trial whose refit is expected to end in the time left (the better ones, if any,
    # would end the run past its budget); the best of all when none would
    left = run.left()
    at = next((i for i, r in enumerate(run.kept) if run.refit_cost(r) <= left), 0)
    best, too_dear = run.kept[at], run.kept[:at]
    members, counts, score = [best], np.array([1]), best["score"]
    candidates = [r for r in usable(run) if not any(r is d for d in too_dear)]
    if ensemble and len(candidates) > 1:
        members, counts, score = affordable(
            candidates, lambda chosen: caruana(chosen, run.metric, run.greater, run.seed), run.refit_cost,
            run.left() / REFIT_MARGIN)
    wins = len(members) > 1 and _better(score, best["score"], run.greater)
    X, y = run.split.X_trainval, run.split.y_trainval
    fitted = {}
    for r in ([best] + [m for m in members if m is not best]) if wins else [best]:
        recipe = run.families[r["family"]].recipe.with_params(r["full"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted[id(r)] = fit_model(recipe.model(), X, y, run.split.task, recipe.fit_params_for(X.index))
    best_result = _trained(run, best, fitted[id(best)])
    return best_result, _ensemble(run, members, counts, fitted, best_result) if wins else None


def _ensemble(run, members, counts, fitted, best_result) -> TrainResult:
    from nbml.ensembling import build
    from nbml.recipe import prepare
    from nbml.training import unique_names

    names = unique_names([r["family"] for r in members], suffix="{name}_{n}")
    pipelines = [run.families[r["family"]].recipe.with_params(r["full"]).pipeline for r in members]
    combined = build("soft", list(zip(names, pipelines)), run.split.task, weights=[int(c) for c in counts])
    recipe = replace(prepare(combined, run.split, run.seed, "none"), name="automl ensemble")
    model = _fitted_voting(combined, [fitted[id(r)] for r in members], run.split)
    preds = blended([r["predictions"] for r in members], counts)
    member_scores = {n: r["score"] for n, r in zip(names, members)}
    comparison = pd.DataFrame({run.metric: list(member_scores.values()) + [preds.metrics(run.seed).get(run.metric)],
                               "weight": [int(c) for c in counts] + [int(np.sum(counts))]},
                              index=pd.Index(names + ["ensemble"], name="model"))
    gain = comparison[run.metric].iloc[-1] - best_result.metrics[run.metric]
    return TrainResult(task=run.split.task, metrics=_with(preds, run.metric, run.seed), train_metrics={}, split=run.split,
                       name=f"automl ensemble of {', '.join(f'{n}×{int(c)}' for n, c in zip(names, counts))}",
                       recipe=recipe, predictions=preds, params={"members": names, "weights": [int(c) for c in counts]},
                       fit_time=sum(r["table"]["fit_time"].sum() for r in members), fitted_model=model,
                       fitted_on="train+val", comparison=comparison,
                       note=f"Caruana ensemble selection on held-out predictions ({run.scored_on}): "
                            f"{gain:+.4f} {run.metric} over "
                            f"the best single model ({best_result.name}).")


def _fitted_voting(combined, fitted_members, split):
    """The voting ensemble with the members already fit on train+val (each fit once, not again)."""
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import Bunch

    combined.estimators_ = list(fitted_members)
    combined.named_estimators_ = Bunch(**{n: m for (n, _), m in zip(combined.estimators, fitted_members)})
    if split.task == "classification":
        combined.le_ = LabelEncoder().fit(split.y_trainval)
        combined.classes_ = combined.le_.classes_
    return combined


# -- the entry point -----------------------------------------------------------------------

def automl(split=None, budget=60, models=None, metric=None, cv=None, seed=0, ensemble=True, n_jobs=None,
           scheduler=None, study=None, storage=None, resume=False, live=None, data=None, target=None) -> AutoMLResult:
    """Search across model families for ``budget`` seconds on the active split's train+val rows
    and end in an ensemble of the best trials when it beats the best single one on held-out
    predictions; the test rows stay untouched. ``cv``: K-fold CV on train+val, ``"holdout"`` (one
    fold of five: fit on 80%, scored on 20%), or None: 5-fold while train+val has at most 330 rows
    per second of budget (10,000 for 30 s) and 100,000 rows, else the holdout (more trials on large
    data, as FLAML does). ``models``: short family names (``"hgb,lgbm,rf,lr"``;
    default: every standard family installed); ``metric``: the task's metric or a scikit-learn
    scorer name (default: roc_auc for two classes, log_loss for more, r2 for regression);
    ``n_jobs`` / ``scheduler``: trials in parallel (a Dask scheduler address as ``%tune``);
    ``study`` / ``storage`` / ``resume``: the store (``resume=True`` continues the last automl
    study of this data). Ctrl-C ends the search and keeps the best so far. The returned
    ``AutoMLResult`` is the final model as a TrainResult with ``leaderboard``, ``best``,
    ``ensemble`` and ``history``."""
    from nbml.folds import check_folds
    from nbml.recipe import resolve_split
    from nbml.tuning.search import _check_n_jobs

    budget = _check_budget(budget)
    data_split = resolve_split(split, data, target, seed=seed)
    task = data_split.task
    if task not in ("classification", "regression"):
        raise NbmlError(f"automl searches classification and regression models; this split is {task}")
    metric = _metric(metric, task, data_split)
    cv = _check_cv(cv, len(data_split.X_trainval), budget)
    check_folds(AUTO_FOLDS if cv == "holdout" else cv, data_split.X_trainval, data_split.y_trainval, task)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise NbmlError(f"seed={seed!r} must be an integer")
    n_jobs = _check_n_jobs(n_jobs)
    names, skipped = _families(models, task, len(data_split.X_trainval))
    for line in skipped:
        warnings.warn(line, stacklevel=2)
    store = _store(storage, study, resume, data_split.fingerprint)
    run = AutoML(data_split, names, metric, cv, int(seed), budget, n_jobs, scheduler, store[:3], _live(live))
    run.skipped, run.ensemble = list(skipped), bool(ensemble)
    if resume:
        _resume(run, store[3])
    if run.live is not None:
        run.live.start(run)
    run.run()
    try:
        best, ens = _finish(run, ensemble)
    finally:
        if run.live is not None:
            run.live.end(run)
    final = ens if ens is not None else best
    result = AutoMLResult(**{f.name: getattr(final, f.name) for f in fields(TrainResult)},
                          leaderboard=run.leaderboard(), best=best, ensemble=ens, history=_history(run),
                          budget=budget, elapsed=time.perf_counter() - run.started, interrupted=run.interrupted,
                          skipped=run.skipped, study=run.study if run.url else None, metric=metric,
                          scored_on=run.scored_on)
    from nbml.training import _recorded

    return _recorded(result)


def _check_cv(cv, n_rows, budget):
    """K, or "holdout": None decides from the rows per second of budget."""
    if cv is None:
        return "holdout" if n_rows > min(HOLDOUT_ROWS_PER_SECOND * budget, HOLDOUT_ROWS) else AUTO_FOLDS
    if cv == "holdout":
        return cv
    if isinstance(cv, str):
        raise NbmlError(f"cv={cv!r} is not a fold count or 'holdout'; use an integer of at least 2, 'holdout', "
                        f"or None (chosen from the data's size and the budget)")
    return cv


def _metric(metric, task, split):
    if metric is None:
        if task == "regression":
            return "r2"
        return "roc_auc" if split.y_trainval.nunique() == 2 else "log_loss"
    return _metrics.check_metric(metric, task)


def _history(run) -> pd.DataFrame:
    rows = [{"number": r["number"], "family": r["family"], "score": r["score"], "state": r["state"],
             "duration": r["duration"], "elapsed": r["elapsed"], "params": _params_text(r["params"]),
             "error": r["error"]} for r in run.records]
    return pd.DataFrame(rows, columns=["number", "family", "score", "state", "duration", "elapsed", "params",
                                       "error"]).set_index("number")


# -- the store -------------------------------------------------------------------------------

def _store(storage, study, resume, fingerprint):
    """(url, study, next trial number, earlier trials of the study)."""
    from datetime import datetime, timezone

    from nbml.tuning.search import _open_store

    if study is not None and (not isinstance(study, str) or not study.strip()):
        raise NbmlError(f"study={study!r} must be a non-empty name")
    url = _open_store(storage)
    if study is None and resume and url is not None:
        study = _last_study(url, fingerprint)
        if study is None:
            warnings.warn("resume=True found no earlier automl study of this data; starting a new one", stacklevel=3)
    if study is None:
        study = f"automl-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S-%f')}"
    previous = _previous(url, study) if url is not None else pd.DataFrame()
    number = int(previous["number"].max()) + 1 if len(previous) else 0
    return url, study, number, previous


def _last_study(url, fingerprint):
    from nbml.store import _read

    frame = _read(url, "SELECT study FROM nbml_trials WHERE method = 'automl' AND fingerprint = :f "
                       "ORDER BY id DESC LIMIT 1", {"f": fingerprint})
    return None if frame.empty else frame["study"].iloc[0]


def _previous(url, study):
    from nbml.store import _read

    return _read(url, "SELECT number, model, params, score, state, duration FROM nbml_trials WHERE study = :s "
                      "AND method = 'automl' ORDER BY number", {"s": study})


def _resume(run, previous):
    """Continue a stored study: each family's Optuna study learns its earlier trials, and each
    family's best earlier configuration is scored again first (its out-of-fold predictions are
    not stored, and the ensemble needs them)."""
    import json

    import optuna

    for short in run.names:
        family = run.family(short)
        mine = previous[(previous["model"] == family.short) & (previous["state"] == "complete")]
        if mine.empty:
            continue
        best_params = None
        for row in mine.itertuples():
            params = _full_params(family, json.loads(row.params))
            if family.tunable and params and set(params) == set(family.dims):
                encoded = _encode(family, params)
                if encoded is not None:
                    family.study.add_trial(optuna.trial.create_trial(params=encoded,
                                                                     distributions=family.space.distributions,
                                                                     value=float(row.score)))
            if best_params is None or _better(float(row.score), best_params[0], run.greater):
                best_params = (float(row.score), params)
        family.trials = len(mine)
        family.resumed = best_params[1]
    for family in run.families.values():
        params = getattr(family, "resumed", None)
        if params is not None and run.left() > 0:
            run.told(family, None, params, _run_job(family.job(params, run.deadline, run.seed)))


def _full_params(family, short):
    names = {k.rsplit("__", 1)[-1]: k for k in (family.dims or {})}
    return {names.get(k, k): v for k, v in short.items()}


def _encode(family, params):
    """A stored configuration in the Optuna space's own terms (an index for ordered lists)."""
    out = {}
    for name, value in params.items():
        ordered, dim = family.space.ordered[name], family.dims[name]
        if ordered is not None:
            if value not in ordered:
                return None
            out[name] = ordered.index(value)
        elif hasattr(dim, "labels"):
            labels = dim.labels
            if value not in dim.values:
                return None
            out[name] = labels[dim.values.index(value)]
        else:
            out[name] = value
    return out


# -- the live leaderboard --------------------------------------------------------------------

def _live(live):
    from nbml.tuning.live import in_notebook

    if live is False or (live is None and not in_notebook()):
        return None
    if live == "text" or (live is True and not in_notebook()):
        return TextBoard()
    if live in (None, True):
        return NotebookBoard()
    raise NbmlError(f"live={live!r} is not True, False, None or 'text'")


class NotebookBoard:
    """The leaderboard displayed once and updated in place (one display handle, at most twice a second)."""

    def start(self, run):
        from IPython.display import HTML, display

        self.run, self.shown = run, 0.0
        self.handle = display(HTML("<i>automl: starting…</i>"), display_id=True)

    def update(self, board, record, force=False):
        if not force and time.perf_counter() - self.shown < 0.5:
            return
        from IPython.display import HTML

        self.shown = time.perf_counter()
        left = max(self.run.left(), 0)
        self.handle.update(HTML(f"<div><b>automl</b>: {len(self.run.records)} trials, {left:.0f} s left"
                                f"{board.to_html() if len(board) else ''}</div>"))

    def end(self, run):
        self.update(run.leaderboard(), None, force=True)


class TextBoard:
    """One line per new best (terminals, ``live='text'``)."""

    def start(self, run):
        self.run, self.best = run, None

    def update(self, board, record, force=False):
        if record is None or record["state"] != "complete":
            return
        if self.best is None or _better(record["score"], self.best, self.run.greater):
            self.best = record["score"]
            print(f"automl {record['elapsed']:6.1f} s: new best {self.run.metric} {record['score']:.4f} "
                  f"({record['family']}, {_params_text(record['params'])})", flush=True)

    def end(self, run):
        print(f"automl: {len(run.records)} trials in {time.perf_counter() - run.started:.1f} s", flush=True)
