"""Bayesian search through Optuna: ask the sampler, fit what it proposes, tell it the score;
trials report intermediate scores to the pruner."""
from __future__ import annotations

import warnings

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


def run_bayes(search, dims, total, prune, sampler):
    """Ask the sampler, fit what it proposes, tell it the score. A proposal already evaluated
    in this study (the same parameters) is answered from the finished trial instead of fit
    again: ``total`` counts distinct fits, and on a finite space no evaluation is spent twice."""
    import optuna

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
        size = min(total - done, search.workers if parallel else 1)
        batch, twins = [], []  # twins: proposals equal to another in this batch
        while len(batch) < size and repeats < DUPLICATE_LIMIT:
            if space.size is not None and len(known) + len(batch) >= space.size:
                break  # every configuration is evaluated (or being evaluated)
            trial = study.ask(space.distributions)
            params = space.decode(trial.params)
            config = key(search.short(params))
            if config in known:
                _tell(study, trial, known[config], duplicate=True)
                repeats += 1
            elif any(config == k for _, _, k in batch):
                twins.append((trial, config))
                repeats += 1
            else:
                batch.append((trial, params, config))
                repeats = 0
        if not batch:
            break
        try:
            if parallel:
                outcomes = _parallel_outcomes(search, [p for _, p, _ in batch])
            else:
                trial, params, _ = batch[0]
                report = _reporter(trial) if prune is not None else None
                outcomes = [run_one(search.job_args(params, report=report))]
        except KeyboardInterrupt:
            for t in [t for t, _, _ in batch] + [t for t, _ in twins]:
                study.tell(t, state=optuna.trial.TrialState.FAIL)
            raise
        for (trial, params, config), outcome in zip(batch, outcomes):
            _tell(study, trial, outcome)
            record = search.finish(outcome, params)
            if outcome["state"] in ("complete", "fail"):
                known[config] = record
        for trial, config in twins:
            _tell(study, trial, known.get(config, {"state": "fail"}), duplicate=True)
        done += len(batch)
    return study


def _study(search, space, prune, sampler):
    """The Optuna study of the search (loaded when it exists in the store)."""
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
    return optuna.create_study(study_name=search.study, storage=storage, load_if_exists=True,
                               direction="maximize" if search.greater else "minimize",
                               sampler=make_sampler(sampler, search.search_seed, space),
                               pruner=make_pruner(prune, max_resource))


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
    return Parallel(n_jobs=n_jobs)(delayed(run_one)(search.job_args(p)) for p in param_list)
