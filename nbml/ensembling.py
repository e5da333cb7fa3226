"""``ensemble()``: voting, stacking, bagging and boosting over trained results or models.

Members keep their own pipelines (preprocessing included), so an ensemble of differently
preprocessed models is still leak-free. Members and the ensemble are scored on the same
cross-validation folds and shown in one table.
"""
from __future__ import annotations

from dataclasses import replace

import pandas as pd

from nbml import metrics as _metrics
from nbml.errors import NbmlError
from nbml.folds import score
from nbml.recipe import prepare, resolve_split
from nbml.training import TrainResult, fit_recipe, model_task, unique_names

METHODS = ("hard", "soft", "stacking", "bagging", "boosting")


def _member(item, data_split, seed, index):
    """(name, unfitted pipeline) of a TrainResult or an estimator — the estimator's from
    ``prepare``, so the split's preprocessing choices reach every member."""
    if isinstance(item, TrainResult):
        if item.split is not data_split and item.split.fingerprint != data_split.fingerprint:
            raise NbmlError(f"member {index + 1} ({item.name}) was trained on a different dataset than the "
                            f"others; retrain every member on the same split")
        if item.split is not data_split and (item.split.X_train.index.tolist() != data_split.X_train.index.tolist()):
            raise NbmlError(f"member {index + 1} ({item.name}) was trained on a different split (another seed "
                            f"or ratio); retrain every member on the same split")
        if item.fitted_on == "coreset":
            raise NbmlError(f"member {index + 1} ({item.name}) was fit on a coreset; ensembles are scored by CV on "
                            f"train+val: give the model itself")
        return item.name, item.pipeline
    if not hasattr(item, "fit") or not hasattr(item, "get_params") or isinstance(item, type):
        raise TypeError(f"member {index + 1} is a {type(item).__name__}, not a TrainResult or an estimator")
    recipe = prepare(item, data_split, seed)
    return recipe.name, recipe.pipeline


def build(method, estimators, task, weights=None, meta=None, n_estimators=10, seed=0):
    """The scikit-learn meta-estimator for ``method`` over named member pipelines."""
    from sklearn import ensemble as sk

    classify = task == "classification"
    if method in ("hard", "soft"):
        if weights is not None and len(weights) != len(estimators):
            raise NbmlError(f"weights has {len(weights)} value(s) but there are {len(estimators)} members; "
                             f"give one weight per member")
        if not classify:
            return sk.VotingRegressor(estimators, weights=weights)
        if method == "soft":
            lacking = [n for n, e in estimators if not hasattr(e, "predict_proba")]
            if lacking:
                raise NbmlError(f"soft voting averages probabilities but {', '.join(lacking)} gives none: use "
                                 f"method='hard', or a model with predict_proba (e.g. CalibratedClassifierCV(SVC()))")
        return sk.VotingClassifier(estimators, voting=method, weights=weights)
    if method == "stacking":
        if len(estimators) < 2:
            raise NbmlError("stacking needs at least two members")
        from sklearn.linear_model import LogisticRegression, RidgeCV

        meta = meta if meta is not None else (LogisticRegression(max_iter=1000) if classify else RidgeCV())
        cls = sk.StackingClassifier if classify else sk.StackingRegressor
        return cls(estimators, final_estimator=meta, cv=5)
    if method == "bagging":
        if len(estimators) != 1:
            raise NbmlError(f"bagging wraps one member; got {len(estimators)}")
        cls = sk.BaggingClassifier if classify else sk.BaggingRegressor
        return _around_model(estimators[0][1], lambda base: cls(base, n_estimators=n_estimators, random_state=seed))
    if method == "boosting":
        if len(estimators) > 1:
            raise NbmlError(f"boosting wraps at most one base model; got {len(estimators)}")
        if not estimators:
            cls = sk.GradientBoostingClassifier if classify else sk.GradientBoostingRegressor
            return cls(random_state=seed)
        cls = sk.AdaBoostClassifier if classify else sk.AdaBoostRegressor
        return _around_model(estimators[0][1], lambda base: cls(base, n_estimators=max(n_estimators, 10) * 5,
                                                                 random_state=seed))
    raise NbmlError(f"method={method!r} is not one of {', '.join(METHODS)}")


def _around_model(pipeline, wrap):
    """Wrap a pipeline's final model (bagging and boosting resample the preprocessed rows,
    so the preprocessing stays in front, fit once per fold)."""
    from sklearn.base import clone

    steps = getattr(pipeline, "steps", None)
    if not steps:
        return wrap(clone(pipeline))
    wrapped = clone(pipeline)
    wrapped.steps[-1] = (steps[-1][0], wrap(clone(steps[-1][1])))
    return wrapped


def ensemble(members, method="soft", weights=None, meta=None, cv=5, seed=None, split=None,
             n_estimators=10, n_jobs=None) -> TrainResult:
    """Combine ``members`` (TrainResults from the same split, or estimators) with ``method``:
    ``hard`` (majority vote) / ``soft`` (probability average, ``weights``), ``stacking``
    (``meta`` fit on out-of-fold predictions), ``bagging`` (one member), ``boosting``
    (AdaBoost around one member, or gradient boosting with none).

    Members and the ensemble are scored on the same ``cv`` folds; the returned TrainResult
    has ``comparison`` (member vs ensemble, mean ± 2·std) and ``note`` (the gain in words).
    """
    if method not in METHODS:
        raise NbmlError(f"method={method!r} is not one of {', '.join(METHODS)}")
    members = list(members) if members is not None else []
    if not members and method != "boosting":
        raise NbmlError(f"method={method!r} needs members: TrainResults (by name) or estimators")
    results = [m for m in members if isinstance(m, TrainResult)]
    data_split = results[0].split if results and split is None else resolve_split(split)
    seed = data_split.seed if seed is None else int(seed)
    named = [_member(m, data_split, seed, i) for i, m in enumerate(members)]
    names = unique_names([n for n, _ in named], suffix="{name}_{n}")  # estimator names: no spaces
    estimators = list(zip(names, [p for _, p in named]))
    task = data_split.task
    for name, est in estimators:
        kind = model_task(est)
        if task == "classification" and kind == "regression" or task == "regression" and kind == "classification":
            raise NbmlError(f"member {name} does not fit the {task} task")
    combined = build(method, estimators, task, weights, meta, n_estimators, seed)

    from nbml.training import _recorded

    # members keep their own preprocessing; member-less gradient boosting gets the split's
    recipe = prepare(combined, data_split, seed, "none" if estimators else "auto")
    result = fit_recipe(recipe, cv=cv, n_jobs=n_jobs)
    rows, primary = {}, _metrics.PRIMARY[task]
    for name, est in estimators:  # every member on the ensemble's own folds
        rows[name] = score(replace(recipe, pipeline=est, name=name), cv, n_jobs=n_jobs).table
    rows[f"{method} ensemble"] = result.cv
    result.comparison = comparison_table(rows, list(result.metrics))
    result.name = f"{method.capitalize()} ensemble of {', '.join(names)}" if names else "Gradient boosting"
    result.note = gain_in_words(rows, primary, f"{method} ensemble")
    return _recorded(result)


def comparison_table(folds_by_name: dict, metric_names) -> pd.DataFrame:
    """Rows: members then the ensemble; columns: each metric's ``mean ± 2·std`` over folds."""
    from nbml.plots.html import fmt

    table = pd.DataFrame({
        m: [f"{fmt(f[m].mean())} ± {fmt(2 * f[m].std(ddof=0))}" if m in f else "—" for f in folds_by_name.values()]
        for m in metric_names}, index=list(folds_by_name))
    table["fit_time"] = [f"{f['fit_time'].sum():.2f} s" for f in folds_by_name.values()]
    table.index.name = "model"
    return table


def gain_in_words(folds_by_name: dict, metric: str, ensemble_name: str) -> str:
    means = {n: f[metric].mean() for n, f in folds_by_name.items()}
    ens = means.pop(ensemble_name)
    if not means:
        return f"{ensemble_name}: CV {metric} {ens:.4f}"
    better = _metrics.greater_is_better(metric)
    best_name = max(means, key=means.get) if better else min(means, key=means.get)
    gain = (ens - means[best_name]) if better else (means[best_name] - ens)
    verdict = "beats" if gain > 0 else ("matches" if gain == 0 else "trails")
    return (f"The {ensemble_name} {verdict} the best member ({best_name}) on CV {metric}: {ens:.4f} vs "
            f"{means[best_name]:.4f} ({gain:+.4f}).")
