"""Bayesian search through Optuna: ask the sampler, fit what it proposes, tell it the score;
trials report intermediate scores to the pruner."""
from __future__ import annotations

import warnings
from datetime import datetime

from nbml.tuning.methods.base import Method, key
from nbml.tuning.trial import run_one


class Bayes(Method):
    name = "bayes"
    default_trials = 20
    options = ("prune", "sampler")

    def __init__(self, dims, trials=None, discretize=None, **options):
        from nbml.tuning.optuna_space import check_sampler_name
        from nbml.tuning.pruning import check_prune

        super().__init__(dims, trials, discretize, **options)
        check_sampler_name(self.sampler)
        self.prune = check_prune(self.prune)

    def check(self, search) -> None:
        from nbml.tuning.optuna_space import OptunaSpace, check_sampler

        if isinstance(self.sampler, str):  # scipy distributions Optuna cannot use, a sampler that cannot search
            check_sampler(self.sampler, OptunaSpace(self.dims))
        else:
            OptunaSpace(self.dims)

    def run(self, search) -> None:
        search.optuna_study = run_bayes(search, self.dims, self.total, self.prune, self.sampler)


# a search that keeps proposing configurations already evaluated has converged: stop after
# this many proposals in a row that would cost no fit
DUPLICATE_LIMIT = 100

_asked: set = set()  # (study name, trial number) of the Optuna trials this process has open
OWNERLESS_AFTER_S = 60  # a RUNNING trial without an owner this old is an older nbml's or a crash's


def run_bayes(search, dims, total, prune, sampler):
    """Ask the sampler, fit what it proposes, tell it the score. Right before a fit the
    proposal is claimed in the store, checked against the study's stored trials: one already
    evaluated (in an earlier run, or by another process sharing the study) is answered from
    that trial instead of fit again, and one another process is fitting now is skipped.
    ``total`` counts this run's distinct fits; on a finite space no evaluation is spent twice."""
    from nbml.tuning.optuna_space import OptunaSpace

    space = OptunaSpace(dims)
    study = _study(search, space, prune, sampler)
    parallel = search.n_jobs > 1 or search.scheduler is not None
    if parallel and prune is not None:
        warnings.warn("pruning stops trials in this process only: with n_jobs > 1 or a scheduler every trial "
                      "runs to the end (use n_jobs=1 to prune)", stacklevel=3)
    # finished configurations of this study (earlier runs included): parameters -> outcome
    known = {key(r["params"]): r for r in search.previous if r["state"] in ("complete", "fail")}
    done, repeats = 0, 0
    while done < total and not search.out_of_time():
        open_trials, batch = [], []  # asked and not told yet, claimed and not fit: undone if the loop stops
        try:
            repeats = _propose(search, study, space, known, min(total - done, search.workers if parallel else 1),
                               repeats, open_trials, batch)
            if not batch:
                break
            _fit(search, study, batch, prune, parallel, known)
        except BaseException:
            search.release([claim for _, _, _, claim in batch])
            raise
        finally:
            _fail([t for t in open_trials if (study.study_name, t.number) in _asked], study)
        done += len(batch)
    return study


def _propose(search, study, space, known, size, repeats, open_trials, batch):
    """Up to ``size`` new proposals appended to ``batch`` as ``(trial, params, config, claim)``,
    each claimed in the store; proposals the study already has are answered (or skipped)
    without a fit. Returns the count of proposals in a row that cost no fit."""
    while len(batch) < size and repeats < DUPLICATE_LIMIT:
        if space.size is not None and len(known) + len(batch) >= space.size:
            break  # every configuration is evaluated (or being evaluated)
        trial = _ask(search, study, space)
        open_trials.append(trial)
        params = space.decode(trial.params)
        config = key(search.short(params))
        if config in known:
            _tell(study, trial, known[config], duplicate=True)
            repeats += 1
            continue
        if any(config == c for _, _, c, _ in batch):
            _tell(study, trial, {"state": "fail"}, duplicate=True)  # proposed twice in one batch
            repeats += 1
            continue
        claim = search.claim(params)
        taken = claim.get("taken")
        if taken is not None:  # the study has it: stored by another run, or being fit by another process
            if taken["state"] in ("complete", "fail"):
                known[config] = {"state": taken["state"], "score": taken["score"]}
                _tell(study, trial, known[config], duplicate=True)
            else:
                _tell(study, trial, {"state": "fail"}, duplicate=True)
            repeats += 1
            continue
        batch.append((trial, params, config, claim))
        repeats = 0
    return repeats


def _fit(search, study, batch, prune, parallel, known):
    if parallel:
        outcomes = _parallel_outcomes(search, [p for _, p, _, _ in batch])
    else:
        trial, params, _, _ = batch[0]
        report = _reporter(trial) if prune is not None else None
        outcomes = [run_one(search.job_args(params, report=report))]
    for (trial, params, config, claim), outcome in zip(batch, outcomes):
        _tell(study, trial, outcome)
        record = search.finish(outcome, params, claim)
        if outcome["state"] in ("complete", "fail"):
            known[config] = record


def _ask(search, study, space):
    """A new Optuna trial, marked with the process that runs it (see ``_fail_stale``)."""
    from nbml.store import owner

    trial = study.ask(space.distributions)
    _asked.add((study.study_name, trial.number))
    if search.url is not None:
        trial.set_user_attr("nbml_owner", owner())
    return trial


def _fail(trials, study):
    """Optuna trials asked but never told (Ctrl-C, an error) are failed, not left running."""
    import optuna

    for trial in trials:
        try:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        except (ValueError, RuntimeError):  # told already
            pass
        finally:
            _asked.discard((study.study_name, trial.number))


def _fail_stale(study) -> int:
    """Trials of the study left RUNNING by a process that ended (kill -9, a crash) or by this
    one outside a search (Ctrl-C) are marked failed; another live process's are left alone."""
    import optuna

    from nbml.store import is_gone, owner

    stale = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        who = trial.user_attrs.get("nbml_owner")
        if who is None:  # an older nbml's, or one asked a moment ago whose owner is being written
            started = trial.datetime_start
            if started is not None and (datetime.now() - started).total_seconds() > OWNERLESS_AFTER_S:
                stale.append(trial.number)
        elif who == owner() and (study.study_name, trial.number) not in _asked or is_gone(who):
            stale.append(trial.number)
    for number in stale:
        try:
            study.tell(number, state=optuna.trial.TrialState.FAIL)
        except (ValueError, RuntimeError):  # finished meanwhile
            pass
    return len(stale)


def _study(search, space, prune, sampler):
    """The Optuna study of the search (loaded when it exists in the store; its trials left
    running by a crash or Ctrl-C are failed first)."""
    import optuna

    from nbml.tuning.optuna_space import make_sampler
    from nbml.tuning.pruning import make_pruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
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
    if storage is not None:
        _fail_stale(study)
    return study


def _tell(study, trial, outcome, duplicate=False):
    import optuna

    try:
        if duplicate:  # no fit behind it: the score of the same configuration's trial
            trial.set_user_attr("nbml_repeat", True)
        if outcome["state"] == "complete" and outcome.get("score") is not None:
            study.tell(trial, outcome["score"])
        elif outcome["state"] == "pruned":
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
    except (ValueError, RuntimeError) as exc:  # finished already (failed as stale elsewhere): nbml's record stands
        warnings.warn(f"Optuna trial {trial.number} of study {study.study_name!r} was finished elsewhere: {exc}",
                      stacklevel=3)
    finally:
        _asked.discard((study.study_name, trial.number))


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
    return Parallel(n_jobs=n_jobs)(delayed(run_one)(search.job_args(p)) for p in param_list)
