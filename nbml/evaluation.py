"""``evaluate()``: metrics and plots of a trained result on its validation or test rows."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nbml.errors import NbmlError
from nbml.plots import INSIGHT, MODEL_PLOTS, parse_plots, plot_parameters
from nbml.training import Predictions, TrainResult, final_estimator, predict

PARTS = ("val", "test", "train")


@dataclass(repr=False)
class Evaluation:
    """Metrics of one result on one part of its split, with the plots asked for."""

    name: str
    on: str
    n_rows: int
    metrics: dict
    predictions: Predictions
    plots: tuple
    learning: object = None  # sklearn LearningCurveDisplay, when asked for
    permutation: object = None  # nbml.plots.insight.PermutationImportanceDisplay (importance, pdp)
    own: object = None  # nbml.plots.insight.ModelImportanceDisplay: coef_ / feature_importances_
    dependence: object = None  # nbml.plots.insight.DependenceDisplay (pdp)
    note: str = ""  # what a slow computation said before it started (the learning curve's sizes and cost)
    displays: dict = field(default_factory=dict)  # model plots (boundary, tree, vc, rfe, cooks, shap) by kind
    _figure: object = field(default=None)
    _insight_figures: dict = field(default_factory=dict)

    @property
    def importance(self) -> pd.DataFrame | None:
        """Permutation importance of each input column on these rows (``mean`` and ``std``
        drop of the score over the shuffles), largest first; where the model has its own
        importances and a column reaches the model as one feature, they are in the last
        column (``coef`` or ``impurity``). None unless ``plots`` asked for importance or pdp."""
        if self.permutation is None:
            return None
        table = self.permutation.table
        if self.own is not None:
            one = self.own.table.shape[1] == 1
            column = ("coef" if one else "|coef| (largest over classes)") if self.own.kind == "coefficient" \
                else "impurity"
            own = self.own.table.iloc[:, 0] if one else self.own.strength()
            table[column] = table["feature"].map(own.to_dict())
        return table

    @property
    def model_importance(self) -> pd.DataFrame | None:
        """The model's own coefficients (signed; one column per class for a multiclass linear
        model) or impurity importances, one row per feature after preprocessing; None when
        the model has neither or importance was not asked for."""
        return None if self.own is None else self.own.table

    def insight_figure(self, kind: str):
        """The figure of ``"importance"`` (permutation box plots, and the model's own
        importances beside them) or ``"pdp"``; None when not computed."""
        if kind not in self._insight_figures:
            from nbml.plots.insight import draw_insight

            self._insight_figures[kind] = draw_insight(self, kind)
        return self._insight_figures[kind]

    def figure(self):
        from nbml.plots import figure_of

        kinds = [kind for kind in self.plots if kind not in INSIGHT]
        if self._figure is None and kinds:
            self._figure = figure_of(self.predictions, kinds, learning=self.learning, displays=self.displays)
        return self._figure

    def plot(self, kind: str = "auto", ax=None):
        """Draw one plot on ``ax`` (or a new figure): a prediction plot, ``"importance"``
        (permutation box plots), ``"own"`` (the model's coefficients / impurity importances)
        or ``"pdp"`` (``ax``: one axes per feature, or one axes to split)."""
        from nbml.plots import plot_predictions

        if kind in INSIGHT or kind == "own":
            display = {"importance": self.permutation, "own": self.own, "pdp": self.dependence}[kind]
            if display is None:
                what = "its own importances (no coef_ or feature_importances_)" if kind == "own" else kind
                raise NbmlError(f"this evaluation has no {what}; compute it with "
                                 f"nbml.evaluate(result, plots={'importance' if kind == 'own' else kind!r})")
            return display.plot(ax=ax)
        return plot_predictions(self.predictions, kind, ax=ax, learning=self.learning, displays=self.displays)

    def __repr__(self) -> str:
        from nbml.plots.html import evaluation_text

        return evaluation_text(self)

    def _repr_html_(self) -> str:
        from nbml.plots.html import evaluation_html

        return evaluation_html(self)


LEARNING_SIZES = (0.1, 0.25, 0.5, 0.75, 1.0)  # fractions of a fold's training rows
LEARNING_CV = 5
QUICK_SIZES, QUICK_CV = (0.25, 0.5, 1.0), 3  # for a model whose learning curve would take long
LEARNING_BUDGET = 60.0  # seconds: a learning curve estimated to take longer uses QUICK_SIZES × QUICK_CV
PROGRESS_AFTER = 2.0  # seconds: work estimated to take longer shows a progress bar


@dataclass(kw_only=True)
class LearningPlan:
    """How a learning curve is computed: ``sizes`` (fractions of a fold's training rows) ×
    ``cv`` folds, its estimated ``seconds`` (nan: unknown) and ``note``, what it says before
    starting (empty when there is nothing to say)."""

    sizes: tuple
    cv: int
    seconds: float
    note: str = ""

    @property
    def n_fits(self) -> int:
        return len(self.sizes) * self.cv


def seconds_per_row(result: TrainResult) -> float:
    """Seconds one fit of ``result``'s model took per training row (nan: unknown), from its own fits."""
    if not result.fit_time or result.fit_time <= 0:
        return math.nan
    if result.cv is not None:
        folds = len(result.cv)
        rows = (folds - 1) * len(result.split.X_train if result.fitted_on == "coreset" else result.split.X_trainval)
    else:
        rows = len(result.split.X_train)
    return result.fit_time / max(rows, 1)


def duration_words(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "an unknown time"
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def learning_plan(result: TrainResult, cv: int | None = None, sizes=None) -> LearningPlan:
    """The sizes and folds of ``result``'s learning curve and what they will cost, estimated from
    the time its own fits took. Left to choose, a model whose 5 sizes × 5 folds would take more
    than ``LEARNING_BUDGET`` seconds gets 3 sizes × 3 folds, and the plan says so."""
    n = len(result.split.X_train if result.fitted_on == "coreset" else result.split.X_trainval)
    per_row = seconds_per_row(result)

    def cost(fractions, k):  # k fits per size on (k-1)/k of the rows
        return per_row * sum(fractions) * n * (k - 1)

    chosen = (tuple(sizes) if sizes is not None else None, cv)
    plan_sizes, plan_cv = chosen[0] or LEARNING_SIZES, cv or LEARNING_CV
    seconds = cost(plan_sizes, plan_cv)
    if sizes is None and cv is None and seconds > LEARNING_BUDGET:
        full = seconds
        plan_sizes, plan_cv = QUICK_SIZES, QUICK_CV
        seconds = cost(plan_sizes, plan_cv)
        one = per_row * len(result.split.X_train if result.cv is None else result.split.X_trainval)
        note = (f"learning curve: {len(plan_sizes)} sizes × {plan_cv} folds ({len(plan_sizes) * plan_cv} fits, about "
                f"{duration_words(seconds)}) instead of {len(LEARNING_SIZES)} × {LEARNING_CV} (about "
                f"{duration_words(full)}): one fit of {result.name} takes about {duration_words(one)}; "
                f"nbml.evaluation.learning_curve(result, sizes=..., cv=...) chooses")
    else:
        note = f"learning curve: {len(plan_sizes) * plan_cv} fits, about {duration_words(seconds)}" \
            if seconds >= PROGRESS_AFTER else ""
    return LearningPlan(sizes=tuple(plan_sizes), cv=int(plan_cv), seconds=seconds, note=note)


def _learning_rows(task, pairs, y, seed):
    """Each fold's training positions in an order whose every prefix is a sample of the fold
    (for classification: classes in proportion, so a small size still holds every class)."""
    rng = np.random.RandomState(seed)
    out = []
    for train, test in pairs:
        train = rng.permutation(train)
        if task == "classification":
            labels = pd.Series(np.asarray(y)[train])
            rank = labels.groupby(labels, sort=False).cumcount().to_numpy()
            size = labels.map(labels.value_counts()).to_numpy()
            train = train[np.argsort((rank + 0.5) / size, kind="stable")]
        out.append((train, test))
    return out


def learning_curve(result: TrainResult, seed: int = 0, cv: int | None = None, sizes=None, progress: bool = True):
    """Train vs validation score (the task's primary metric) against training size: K-fold CV on
    train+val (a coreset's own rows for a coreset result), each fold's model fit on growing
    shares of its training rows through the fold engine. ``sizes`` (fractions, default
    ``LEARNING_SIZES``) and ``cv`` (default 5) — or, for a model whose curve would take longer
    than ``LEARNING_BUDGET`` seconds, 3 sizes × 3 folds (see ``learning_plan``). One progress bar
    (tqdm) with an estimate when it takes a while. Returns scikit-learn's LearningCurveDisplay
    (``.note``: what the plan said)."""
    from sklearn.model_selection import LearningCurveDisplay

    from nbml.folds import Rows, check_folds, folds_of, make_folds, run_fold
    from nbml.metrics import PRIMARY
    from nbml.recipe import prepare

    if result.task not in ("classification", "regression"):
        raise NbmlError(f"a learning curve needs a target; this result is {result.task}")
    plan = learning_plan(result, cv, sizes)
    recipe = prepare(result)
    split, metric = recipe.split, PRIMARY[result.task]
    X, y = (split.X_train, split.y_train) if recipe.weights is not None else (split.X_trainval, split.y_trainval)
    check_folds(plan.cv, X, y, result.task)
    pairs = list(make_folds(result.task, plan.cv, seed).split(X, y if result.task == "classification" else None))
    pairs = _learning_rows(result.task, pairs, y, seed)
    largest = min(len(train) for train, _ in pairs)
    counts = np.unique(np.clip((np.asarray(plan.sizes, dtype=float) * largest).astype(int), 1, largest))
    train_scores = np.full((len(counts), plan.cv), np.nan)
    test_scores = np.full((len(counts), plan.cv), np.nan)
    failed = []
    with _progress(plan, len(counts), progress) as bar:
        for i, count in enumerate(counts):
            rows = Rows(X=X, y=y, pairs=[(train[:count], test) for train, test in pairs], label="out-of-fold")
            for j, fold in enumerate(folds_of(recipe, rows)):
                try:
                    outcome = run_fold(recipe.pipeline, fold)
                except (ValueError, ArithmeticError):  # a model that cannot learn from so few rows: NaN there
                    if count == counts[-1]:
                        raise
                    failed.append(int(count))
                else:
                    train_scores[i, j] = outcome.train_metrics.get(metric, np.nan)
                    test_scores[i, j] = outcome.metrics.get(metric, np.nan)
                bar.update(1)
    display = LearningCurveDisplay(train_sizes=counts, train_scores=train_scores, test_scores=test_scores,
                                   score_name=metric)
    display.note = plan.note
    if failed:
        display.note = "; ".join(filter(None, [plan.note, f"{len(failed)} fit(s) on {min(failed)} rows or fewer "
                                                          f"failed and are left out"]))
    return display


def _progress(plan: LearningPlan, n_sizes: int, show: bool):
    """One tqdm bar (tqdm.auto: a widget in a notebook, text elsewhere) for work estimated to
    take a while, saying what it will cost before it starts; a silent stand-in otherwise."""
    from tqdm.auto import tqdm

    quick = math.isfinite(plan.seconds) and plan.seconds < PROGRESS_AFTER
    estimate = "" if not math.isfinite(plan.seconds) else f", about {duration_words(plan.seconds)}"
    return tqdm(total=n_sizes * plan.cv, desc=f"learning curve: {n_sizes} sizes × {plan.cv} folds{estimate}",
                unit="fit", disable=not show or quick, leave=False)


# -- insight: what the model relies on ---------------------------------------------------

N_REPEATS = 5  # shuffles per column for permutation importance
N_DEPENDENCE = 3  # partial dependence of this many top columns
MAX_IMPORTANCE_ROWS = 5000  # permutation importance scores at most this many held-out rows per shuffle
SCORING = {"classification": "accuracy", "regression": "r2"}


def permutation_importance(result: TrainResult, X, y, label: str, n_repeats: int = N_REPEATS, seed: int = 0):
    """Score drop of the whole fitted pipeline when each raw input column of ``X`` is shuffled
    (scikit-learn's ``permutation_importance``, ``n_repeats`` seeded shuffles)."""
    from sklearn.inspection import permutation_importance as sk_permutation_importance

    from nbml.plots.insight import PermutationImportanceDisplay

    if not isinstance(n_repeats, (int, np.integer)) or isinstance(n_repeats, bool) or n_repeats < 1:
        raise NbmlError(f"n_repeats={n_repeats!r} must be a positive integer (shuffles per column)")
    scoring = SCORING[result.task]
    rows = min(len(X), MAX_IMPORTANCE_ROWS)
    found = sk_permutation_importance(result.model, X, y, scoring=scoring, n_repeats=n_repeats,
                                      random_state=seed, max_samples=rows if rows < len(X) else 1.0)
    names = list(X.columns) if hasattr(X, "columns") else [f"x{i}" for i in range(np.shape(X)[1])]
    return PermutationImportanceDisplay(found.importances, names, scoring, label, rows, n_repeats)


def transformed_feature_names(model, n: int) -> list[str]:
    """Names of the ``n`` features the final estimator of ``model`` sees (after preprocessing
    and selection), or x0, x1, … when the pipeline cannot name them."""
    from sklearn.pipeline import Pipeline

    steps = getattr(model, "steps", None)
    try:
        if steps and len(steps) > 1:
            names = Pipeline(steps[:-1]).get_feature_names_out()
        else:
            names = final_estimator(model).feature_names_in_
    except (AttributeError, ValueError, TypeError):
        names = None
    if names is None or len(names) != n:
        return [f"x{i}" for i in range(n)]
    return [str(name) for name in names]


def model_importance(result: TrainResult):
    """The model's own ``coef_`` (signed) or impurity ``feature_importances_`` by transformed
    feature name; None when the final estimator has neither."""
    from nbml.plots.insight import ModelImportanceDisplay

    estimator = final_estimator(result.model)
    if getattr(estimator, "coef_", None) is not None:
        coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=float))
        names = transformed_feature_names(result.model, coef.shape[1])
        classes = getattr(estimator, "classes_", None)
        if coef.shape[0] == 1:
            columns = ["coef"]
        elif classes is not None and len(classes) == coef.shape[0]:
            columns = [f"coef[{c}]" for c in classes]
        else:
            columns = [f"coef[{i}]" for i in range(coef.shape[0])]
        return ModelImportanceDisplay(pd.DataFrame(coef.T, index=pd.Index(names, name="feature"), columns=columns),
                                      "coefficient")
    if getattr(estimator, "feature_importances_", None) is not None:
        values = np.asarray(estimator.feature_importances_, dtype=float)
        names = transformed_feature_names(result.model, len(values))
        return ModelImportanceDisplay(pd.DataFrame({"impurity": values}, index=pd.Index(names, name="feature")),
                                      "impurity")
    return None


def dependence_grid(column: pd.Series, categorical: bool, resolution: int):
    """The values partial dependence sets ``column`` to: the seen categories (missing ones
    left out: sklearn cannot sort None/NaN among strings), or, for numbers, the distinct
    values when there are few, else ``resolution`` steps between the 5% and 95% quantiles
    (the whole range when those meet), ignoring NaN."""
    seen = column.dropna()
    if categorical:
        return sorted(seen.unique(), key=str)
    distinct = np.unique(seen.to_numpy(dtype=float))
    if len(distinct) <= resolution:
        return distinct
    low, high = np.quantile(seen.to_numpy(dtype=float), [0.05, 0.95])
    if low == high:
        low, high = distinct[0], distinct[-1]
    return np.linspace(low, high, resolution)


def partial_dependence(result: TrainResult, X, features, label: str, grid_resolution: int = 20):
    """Partial dependence of the fitted pipeline on each raw column in ``features`` over the
    rows ``X`` (categorical and boolean columns on their values)."""
    from scipy.stats.mstats import mquantiles
    from sklearn.inspection import partial_dependence as sk_partial_dependence

    from nbml.plots.insight import DependenceDisplay
    from nbml.preprocess import columns_by_kind

    kinds = columns_by_kind(X)
    categorical = set(kinds["categorical"]) | set(kinds["boolean"])
    results, names, is_cat, deciles = [], [], [], {}
    for name in features:
        cat = name in categorical
        grid = dependence_grid(X[name], cat, grid_resolution)
        found = sk_partial_dependence(result.model, X, features=[name], kind="average",
                                      categorical_features=[name] if cat else None,
                                      custom_values={name: grid})
        if cat:  # tick labels as the user wrote the values (sklearn's grid may have made them numbers)
            found["labels"] = [str(value) for value in grid]
        else:
            deciles[len(names)] = mquantiles(X[name].dropna(), prob=np.arange(0.1, 1.0, 0.1))
        results.append(found)
        names.append(str(name))
        is_cat.append(cat)
    if result.task == "classification":
        classes = list(result.model.classes_)
        if len(classes) == 2:
            targets, ylabel = [(classes[1], 0)], f"P({classes[1]})"
        else:
            targets, ylabel = [(c, i) for i, c in enumerate(classes[:10])], "P(class)"
    else:
        targets, ylabel = [(result.split.target or "prediction", 0)], f"predicted {result.split.target or 'y'}"
    return DependenceDisplay(results, names, is_cat, deciles, targets, ylabel, label, len(X))


def dependence_features(permutation, X, k: int = N_DEPENDENCE) -> list:
    """The ``k`` most important columns (by permutation importance) that partial dependence
    can vary: numbers, categories and booleans, not dates."""
    from nbml.preprocess import columns_by_kind

    dates = set(columns_by_kind(X)["datetime"])
    names = {str(c): c for c in X.columns}
    return [names[f] for f in permutation.top(len(names))
            if names[f] not in dates and X[names[f]].notna().any()][:k]


def _check_held_out(result, on):
    """A model is never scored as held out on rows it was fit on."""
    if on == "train" or on in result.held_out_parts():
        return
    from nbml.plots.html import FITTED_ON_WORDS

    part = {"val": "validation", "test": "test"}[on]
    others = " or ".join(f"on={p!r}" for p in result.held_out_parts())
    instead = f"use {others}" if others else "its held-out scores are the ones measured before (result.metrics)"
    raise NbmlError(f"{result.name}'s model was fit on {FITTED_ON_WORDS.get(result.fitted_on, result.fitted_on)}, "
                    f"{part} rows included, so a score there would not be held out: {instead}")


def evaluate(result, on: str = "val", plots=None, n_repeats: int = N_REPEATS) -> Evaluation:
    """Metrics and plots of ``result`` (a ``TrainResult``) on ``on`` = ``"val"`` (default),
    ``"test"`` (the untouched final check) or ``"train"``. ``plots``: comma-separated or a
    list of roc, pr, cm, residuals, actual, learning, calibration (default: the task's), and
    the insight plots importance (permutation importance of each input column on these rows,
    ``n_repeats`` shuffles, with the model's own coefficients or impurity importances) and pdp
    (partial dependence of the top columns); see ``Evaluation.importance``. The model plots
    boundary, tree, vc (``"vc:NAME"`` picks the parameter), rfe, cooks and shap are computed
    once here (``Evaluation.displays``): boundary, vc and rfe refit on the training rows only."""
    if not isinstance(result, TrainResult):
        raise TypeError(f"evaluate needs a TrainResult (from nbml.train / %%train -o NAME); "
                        f"got {type(result).__name__}")
    if on not in PARTS:
        raise NbmlError(f"on={on!r} is not a split part; use one of {', '.join(PARTS)}")
    _check_held_out(result, on)
    kinds = parse_plots(plots, result.task)
    X, y = result.split.part(on)
    if len(X) == 0:
        raise NbmlError(f"the split has no {on} rows (it was made with {on}=0); use another part")
    label = {"val": "validation", "test": "test", "train": "train"}[on]
    pred = predict(result.model, X, result.task, label=label, y=y)
    learning = learning_curve(result, seed=result.seed) if "learning" in kinds else None
    evaluation = Evaluation(result.name, on, len(X), pred.metrics(result.seed), pred, kinds, learning,
                            note=getattr(learning, "note", ""))
    if "importance" in kinds or "pdp" in kinds:
        evaluation.permutation = permutation_importance(result, X, y, label, n_repeats=n_repeats, seed=result.seed)
        evaluation.own = model_importance(result)
    if "pdp" in kinds:
        features = dependence_features(evaluation.permutation, X)
        evaluation.dependence = partial_dependence(result, X, features, label) if features else None
    if any(kind in MODEL_PLOTS for kind in kinds):
        from nbml.plots.model import model_display

        param = plot_parameters(plots).get("vc")
        evaluation.displays = {kind: model_display(kind, result, X, y, label=label, seed=result.seed, param=param)
                               for kind in kinds if kind in MODEL_PLOTS}
    return evaluation
