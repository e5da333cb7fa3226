"""``prepare()``: the one place where a model (or a result) becomes what every route fits.

A ``Recipe`` says what is fit and how — the unfitted pipeline (the split's preprocessing
choices included), the split whose rows it is fit on, the seed, the fit parameters and a
coreset's row weights. ``train``, ``compare``, ``tune``, ``ensemble``, ``panel``,
``label_issues`` and ``evaluate`` all ask ``prepare`` for it, so no route can quietly use a
pipeline or rows that another route would not.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from nbml.data import Split, active_split, split as _split
from nbml.errors import NbmlError, NoActiveSplit

# the preprocessing choices a caller may give (the split's are the defaults)
OPTION_NAMES = ("impute", "scale", "encode", "outliers", "balance", "interactions", "poly", "select")


@dataclass(kw_only=True)
class Recipe:
    """What a route fits: ``pipeline`` (unfitted: preprocessing + model), on ``split``'s rows,
    with ``seed``, ``fit_params`` and ``options`` (the preprocessing choices), named ``name``.
    ``weights``: a coreset's row weights (a Series by row label), else None."""

    pipeline: object
    split: Split
    seed: int
    fit_params: dict = field(default_factory=dict)
    options: object = None
    name: str = ""
    preprocess: str = "auto"
    weights: pd.Series | None = None

    @property
    def task(self) -> str:
        return self.split.task

    def model(self, params: dict | None = None):
        """A fresh, unfitted copy of the pipeline (with ``params`` set)."""
        from sklearn.base import clone

        fresh = clone(self.pipeline)
        return fresh.set_params(**params) if params else fresh

    def with_params(self, params: dict) -> "Recipe":
        """The same recipe with ``params`` set on its pipeline."""
        return replace(self, pipeline=self.model(params))

    def fit_params_for(self, rows: pd.Index) -> dict:
        """The fit parameters for fitting on ``rows`` (row labels): a coreset's weights are
        given to every step that takes ``sample_weight``."""
        if self.weights is None:
            return dict(self.fit_params)
        from nbml.coresets.base import sample_weight_keys

        w = self.weights.loc[rows].to_numpy()
        return {**self.fit_params, **{k: w for k in sample_weight_keys(self.pipeline)}}


def prepare(model_or_result, split=None, seed=None, preprocess=None, *, data=None, target=None, fit_params=None,
            torch_options=None, **options) -> Recipe:
    """The ``Recipe`` of a model, a ``TrainResult`` (its own recipe), a ``TuneResult`` (its
    best configuration's) or a ``Recipe`` (returned as it is, on ``split`` if given).

    A model is wrapped in the preprocessing pipeline: ``preprocess="auto"`` (the default)
    takes the split's choices (``%split … --scale robust``) with ``options`` (impute, scale,
    encode, outliers, balance, interactions, poly, select) over them; ``"none"`` only the
    options given. ``data``: a DataFrame (with ``target``) or a coreset instead of the split."""
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; preprocessing options are "
                        f"{', '.join(OPTION_NAMES)}")
    given = {k: v for k, v in options.items() if v is not None}
    recipe = _of_result(model_or_result, split)
    if recipe is not None:
        if given or preprocess not in (None, recipe.preprocess) or torch_options:
            raise NbmlError("a trained result keeps its own preprocessing and options: pass the model itself "
                            "to change them")
        if seed is not None:
            recipe = replace(recipe, seed=int(seed))
        return replace(recipe, fit_params={**recipe.fit_params, **(fit_params or {})}) if fit_params else recipe
    return _of_model(model_or_result, split, seed, preprocess or "auto", data, target, fit_params,
                     torch_options or {}, given)


def _of_result(obj, split) -> Recipe | None:
    from nbml.training import TrainResult

    if isinstance(obj, Recipe):
        return obj if split is None else replace(obj, split=_checked_split(split))
    if type(obj).__name__ == "TuneResult" and hasattr(obj, "best_recipe"):  # the best configuration, unfitted
        if obj.best_recipe is None:
            raise NbmlError("the search has no finished trial, so there is no best model to use")
        return obj.best_recipe if split is None else replace(obj.best_recipe, split=_checked_split(split), weights=None)
    if isinstance(obj, TrainResult):
        recipe = obj.recipe
        return recipe if split is None else replace(recipe, split=_checked_split(split), weights=None)
    return None


def _of_model(model, split, seed, preprocess, data, target, fit_params, torch_options, options) -> Recipe:
    from nbml.preprocess import Options

    weights = None
    if is_coreset(data):
        data_split, weights = coreset_split(data, seed=0 if seed is None else seed)
    else:
        data_split = resolve_split(split, data, target, seed=0 if seed is None else seed)
    seed = data_split.seed if seed is None else int(seed)
    model = _as_estimator(model, data_split.task, seed, torch_options)
    check_model(model, data_split.task)
    # the split's choices are defaults for the auto pipeline; preprocess="none" takes only explicit ones
    base = data_split.options if preprocess == "auto" else None
    chosen = Options.merge(base, **options)
    if "encode" not in options:  # an encoding asked for (even one-hot) is kept
        chosen, native, native_fit = _native_categoricals(model, data_split, preprocess, chosen)
    else:
        native, native_fit = {}, {}
    pipeline = make_model_pipeline(model, data_split, preprocess, seed, chosen)
    if native:
        pipeline.set_params(**{f"model__{k}": v for k, v in native.items()})
    fit_params = {**{f"model__{k}": v for k, v in native_fit.items()}, **(fit_params or {})}
    recipe = Recipe(pipeline=pipeline, split=data_split, seed=seed, fit_params=fit_params,
                    options=chosen, name=type(final_estimator(model)).__name__, preprocess=preprocess,
                    weights=weights)
    if weights is not None:
        _check_weights(recipe)
    return recipe


def _native_categoricals(model, data_split, preprocess, options):
    """Categorical columns go to a boosting model's own categorical splits (``nbml.boost``)."""
    if preprocess != "auto" or getattr(model, "steps", None):
        return options, {}, {}
    from nbml.boost import native_categoricals

    return native_categoricals(model, data_split.X_train, options)


def _as_estimator(model, task, seed, torch_options):
    """A ``torch.nn.Module`` becomes nbml's torch estimator; torch options reach a torch estimator."""
    if is_torch_module(model):
        from nbml.torch.estimators import from_module

        return from_module(model, task, **{"seed": seed, **torch_options})
    if torch_options and is_torch_estimator(model):
        from sklearn.base import clone

        steps = getattr(model, "steps", None)
        prefix = f"{steps[-1][0]}__" if steps else ""
        return clone(model).set_params(**{prefix + k: v for k, v in torch_options.items()})
    if torch_options:
        raise TypeError(f"options {', '.join(sorted(torch_options))} apply to torch models only")
    return model


def _check_weights(recipe: Recipe):
    from nbml.coresets.base import sample_weight_keys

    w = recipe.weights.to_numpy()
    if not sample_weight_keys(recipe.pipeline) and not np.allclose(w, w[0]):
        raise NbmlError(f"{recipe.name} cannot take sample_weight, so it cannot use the coreset's weights: build "
                        f"the coreset with method='uniform' and fit it without weights, or pick a model that "
                        f"accepts sample_weight")


def _checked_split(split):
    if not isinstance(split, Split):
        raise TypeError(f"split must be an nbml Split (from nbml.split); got {type(split).__name__}")
    return split


# -- model inspection ------------------------------------------------------------------

def final_estimator(model):
    """The last step of a Pipeline (or the model itself)."""
    steps = getattr(model, "steps", None)
    return final_estimator(steps[-1][1]) if steps else model


def model_task(model) -> str | None:
    """'classification', 'regression', 'clustering' or None (unknown) from the estimator type."""
    est = final_estimator(model)
    kind = getattr(est, "_estimator_type", None)
    if kind is None and hasattr(est, "__sklearn_tags__"):
        try:
            kind = est.__sklearn_tags__().estimator_type
        except (AttributeError, TypeError):  # an estimator of an older scikit-learn API
            kind = None
    return {"classifier": "classification", "regressor": "regression", "clusterer": "clustering"}.get(kind)


def is_torch_module(obj) -> bool:
    cls = type(obj)
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in cls.__mro__)


def is_torch_estimator(model) -> bool:
    """nbml's TorchClassifier/TorchRegressor (alone or ending a Pipeline)."""
    return type(final_estimator(model)).__module__.startswith("nbml.torch")


def check_model(model, task: str):
    """Raise a clear error if ``model`` is not an estimator or does not fit ``task``."""
    if isinstance(model, type) and hasattr(model, "fit"):
        raise TypeError(f"got the class {model.__name__}, not a model: call it, e.g. {model.__name__}()")
    if not hasattr(model, "fit") or not hasattr(model, "get_params"):
        raise TypeError(f"the model is a {type(model).__name__}, not a scikit-learn estimator, Pipeline or "
                        f"torch.nn.Module: end the cell with a model such as LogisticRegression()")
    kind = model_task(model)
    name = type(final_estimator(model)).__name__
    if kind == "regression" and task == "classification":
        raise NbmlError(f"{name} is a regressor but the target is categorical (classification): use a "
                        f"classifier such as LogisticRegression, or split with task='regression' on a "
                        f"numeric target")
    if kind == "classification" and task == "regression":
        raise NbmlError(f"{name} is a classifier but the target is continuous (regression): use a "
                        f"regressor such as Ridge, or split with task='classification'")
    if kind == "clustering" and task != "clustering":
        raise NbmlError(f"{name} is a clustering model but the split has a target ({task}): split "
                        f"without a target for clustering")
    if task == "clustering" and kind in ("classification", "regression"):
        raise NbmlError(f"{name} needs a target but the split has none (clustering): split with "
                        f"target=COLUMN")


def seed_model(model, seed: int):
    """Give every ``random_state`` left as None the seed, so a run is repeatable."""
    if not hasattr(model, "get_params"):
        return model
    params = model.get_params(deep=True)
    fixes = {k: seed for k, v in params.items() if k.split("__")[-1] in ("random_state", "seed") and v is None}
    est = final_estimator(model)
    if type(est).__module__.split(".")[0] in ("catboost", "nbml") and hasattr(est, "get_cat_feature_indices") \
            and all(est.get_params().get(k) is None for k in ("random_state", "random_seed")):
        est.set_params(random_seed=seed)  # CatBoost's get_params lists only the parameters set
    if fixes:
        model.set_params(**fixes)
    return model


def make_model_pipeline(model, data_split: Split, preprocess: str, seed: int, options=None):
    from sklearn.base import clone

    from nbml.preprocess import build_preprocessor, make_pipeline, parse_select

    n_features = None
    if options is not None and options.select and parse_select(options.select)[0] in ("rfe", "mi"):
        # K is checked against the features preprocessing makes (one-hot columns included)
        pre = build_preprocessor(data_split.X_train, options, data_split.task, seed)
        n_features = pre.fit(data_split.X_train, data_split.y_train).transform(data_split.X_train.head(1)).shape[1]
    return make_pipeline(seed_model(clone(model), seed), data_split.X_train, preprocess, options,
                         data_split.task, seed, n_features)


# -- rows ---------------------------------------------------------------------------------

def resolve_split(split=None, data=None, target=None, seed=0) -> Split:
    if data is not None:
        return _split(data, target=target, seed=seed, activate=False)
    if split is not None:
        return _checked_split(split)
    current = active_split()
    if current is None:
        raise NoActiveSplit("no active dataset: run %split DF --target COL (nbml.split) first, or pass "
                            "data=DF, target=COL")
    return current


def is_coreset(obj) -> bool:
    return all(hasattr(obj, a) for a in ("weights", "X", "y", "n_represented"))


def coreset_split(cs, seed=0, against=None):
    """A split whose training rows are the coreset's, with their weights (a Series by row).

    Validation and test rows are those of ``against`` (default: the active split) when it has
    the same features (the model is judged on real rows the coreset must not hold);
    otherwise the coreset's rows are split, seeded."""
    weights = pd.Series(np.asarray(cs.weights, dtype=float), index=cs.X.index)
    active = active_split() if against is None else against
    X = cs.X if isinstance(cs.X, pd.DataFrame) else pd.DataFrame(cs.X)
    y = pd.Series(np.asarray(cs.y), index=X.index, name=cs.target or "target")
    if active is not None and list(active.X_train.columns) == [str(c) for c in X.columns] and active.y_train is not None:
        _refuse_held_out(cs, active)
        X = X.copy()
        X.columns = active.X_train.columns
        made = Split(X, active.X_val, active.X_test, y.rename(active.target), active.y_val, active.y_test,
                     task=active.task, target=active.target, classes_=active.classes_, seed=active.seed,
                     fingerprint=f"coreset:{active.fingerprint}", options=active.options)
        return made, weights
    frame = X.assign(**{str(y.name): y.to_numpy()})
    return _split(frame, target=str(y.name), seed=seed, activate=False), weights


def _refuse_held_out(cs, active: Split):
    """A coreset that holds validation or test rows of the split it is judged on would be
    scored on rows it was fit on."""
    from nbml.coresets import check_held_out

    check_held_out(cs, active)
