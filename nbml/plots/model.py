"""Plots that ask the model itself, not only its predictions: the decision boundary, one tree,
the validation curve, score against the number of features, Cook's distance and the SHAP
summary.

Each is a Display-style class: ``from_result(result, ...)`` computes the numbers once (core's
part; the refits of ``boundary``, ``vc`` and ``rfe`` happen here, on the training rows only,
cross-validated within them where there is a score); ``plot(ax=None)`` only draws and returns
self with ``ax_`` and ``figure_``. ``nbml.evaluate(result, plots="boundary,tree,…")`` calls
``from_result`` through ``model_display``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from nbml.errors import NbmlError

KINDS = ("boundary", "tree", "vc", "rfe", "cooks", "shap")
MAX_FIT_ROWS = 5000  # boundary and rfe refit on at most this many training rows (a seeded sample)
MAX_POINTS = 2000  # held-out rows drawn as points
CV = 5  # folds within the training rows for vc and rfe
# the parameter a validation curve varies, first found in the model's default search space
MAIN_PARAMETERS = ("C", "alpha", "max_depth", "n_neighbors", "learning_rate", "lr", "var_smoothing", "reg_param",
                   "shrinkage", "max_leaf_nodes", "n_estimators", "max_iter")


def _axes(ax):
    from nbml.plots.curves import _axes as axes

    return axes(ax)


def _dense(Z) -> np.ndarray:
    return np.asarray(Z.toarray() if hasattr(Z, "toarray") else Z, dtype=float)


def _features(result, X):
    """``X`` as the result's final estimator sees it (after its fitted preprocessing), with names."""
    from nbml.evaluation import transformed_feature_names
    from nbml.training import transformed

    Z = _dense(transformed(result.model, X))
    return Z, transformed_feature_names(result.model, Z.shape[1])


def _training_rows(result, seed: int, limit: int | None = MAX_FIT_ROWS):
    """The split's training rows (a seeded sample of ``limit`` when there are more)."""
    X, y = result.split.X_train, result.split.y_train
    if limit is not None and len(X) > limit:
        rows = np.sort(np.random.RandomState(seed).choice(len(X), limit, replace=False))
        X, y = X.iloc[rows], y.iloc[rows]
    return X, y


def _own_strength(estimator):
    """Per transformed feature: impurity importance or |coef| (largest over classes); None without either."""
    if getattr(estimator, "feature_importances_", None) is not None:
        return np.asarray(estimator.feature_importances_, dtype=float), "importance"
    if getattr(estimator, "coef_", None) is not None:
        return np.abs(np.atleast_2d(np.asarray(estimator.coef_, dtype=float))).max(axis=0), "|coefficient|"
    return None, ""


class BoundaryDisplay:
    """The model refit on two dimensions of its features — its two most important features, or
    the first two principal components when it has no importances — on the training rows,
    drawn as scikit-learn's ``DecisionBoundaryDisplay``; the points are the held-out rows."""

    def __init__(self, *, display, points, y, classes, axes_names, how: str, label: str, n_fit: int):
        self.display, self.points, self.y, self.classes = display, np.asarray(points), np.asarray(y), classes
        self.axes_names, self.how, self.label, self.n_fit = axes_names, how, label, n_fit

    @classmethod
    def from_result(cls, result, X, y, *, label: str = "validation", seed: int = 0, resolution: int = 100):
        from sklearn.base import clone
        from sklearn.inspection import DecisionBoundaryDisplay

        from nbml.training import final_estimator

        X_fit, y_fit = _training_rows(result, seed)
        Z_fit, names = _features(result, X_fit)
        Z_held = _features(result, X)[0]
        if Z_fit.shape[1] < 2:
            raise NbmlError(f"plot 'boundary' needs two features; {result.name}'s model sees {Z_fit.shape[1]}")
        project, axes_names, how = _two_dimensions(final_estimator(result.model), Z_fit, names)
        P_fit, P_held = project(Z_fit), project(Z_held)
        model = clone(final_estimator(result.model)).fit(P_fit, np.asarray(y_fit))
        both = np.vstack([P_fit, P_held])
        low, high = both.min(axis=0), both.max(axis=0)
        pad = 0.05 * np.where(high > low, high - low, 1.0)
        xx0, xx1 = np.meshgrid(*(np.linspace(low[i] - pad[i], high[i] + pad[i], resolution) for i in (0, 1)))
        response = np.asarray(model.predict(np.column_stack([xx0.ravel(), xx1.ravel()])))
        classes = None
        if result.task == "classification":
            classes = list(model.classes_)
            response = np.searchsorted(np.asarray(classes), response)
        display = DecisionBoundaryDisplay(xx0=xx0, xx1=xx1, response=response.reshape(xx0.shape).astype(float),
                                          n_classes=2 if classes is None else len(classes),
                                          xlabel=axes_names[0], ylabel=axes_names[1])
        keep = np.sort(np.random.RandomState(seed).permutation(len(P_held))[:MAX_POINTS])
        return cls(display=display, points=P_held[keep], y=np.asarray(y)[keep], classes=classes,
                   axes_names=axes_names, how=how, label=label, n_fit=len(P_fit))

    def plot(self, ax=None):
        from matplotlib.colors import ListedColormap

        self.figure_, self.ax_ = fig, ax = _axes(ax)
        if self.classes is None:  # regression: the predicted value as a surface, points by their target
            self.display.plot(ax=ax, alpha=0.5, cmap="viridis")
            drawn = ax.scatter(*self.points.T, c=self.y, cmap="viridis", edgecolor="k", linewidth=0.3, s=14)
            fig.colorbar(drawn, ax=ax, shrink=0.8)
        else:
            from nbml.plots import _class_name

            colors = [f"C{i % 10}" for i in range(len(self.classes))]
            if len(self.classes) == 2:
                self.display.plot(ax=ax, alpha=0.3, cmap=ListedColormap(colors), levels=[-0.5, 0.5, 1.5])
            else:
                self.display.multiclass_colors = colors
                self.display.plot(ax=ax, alpha=0.3)
            for i, label in enumerate(self.classes[:10]):
                mine = self.y == label
                ax.scatter(*self.points[mine].T, color=colors[i], edgecolor="k", linewidth=0.3, s=14,
                           label=_class_name(label))
            ax.legend(fontsize=7, loc="best")
        ax.set_title(f"Decision boundary: {self.how}\n(refit on {self.n_fit} training rows; "
                     f"points: {self.label})", fontsize=9)
        return self


def _two_dimensions(estimator, Z, names):
    """(projection, the two axes' names, how they were chosen) from the training rows ``Z``."""
    strength, what = _own_strength(estimator)
    if Z.shape[1] == 2 or strength is not None:
        top = [0, 1] if Z.shape[1] == 2 else list(np.argsort(-strength, kind="stable")[:2])
        how = "its two features" if Z.shape[1] == 2 else f"the two features of largest {what}"
        return (lambda A: A[:, top]), [names[i] for i in top], how
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pca = make_pipeline(StandardScaler(), PCA(n_components=2, svd_solver="full")).fit(Z)
    share = pca[-1].explained_variance_ratio_
    return pca.transform, [f"PC1 ({share[0]:.0%})", f"PC2 ({share[1]:.0%})"], "the first two principal components"


TREE_MODELS = ("DecisionTree", "RandomForest", "ExtraTrees", "GradientBoosting", "AdaBoost (of trees)",
               "Bagging (of trees)")


class TreeDisplay:
    """scikit-learn's ``plot_tree`` of the model's tree, or of one member of a forest or a
    boosting model (``member``: which one; for multiclass gradient boosting, the first class's
    tree of that stage), its first ``max_depth`` levels."""

    def __init__(self, *, tree, feature_names, class_names, what: str, max_depth: int = 3):
        self.tree, self.feature_names, self.class_names = tree, feature_names, class_names
        self.what, self.max_depth = what, max_depth

    @classmethod
    def from_result(cls, result, *, member: int = 0, max_depth: int = 3):
        from nbml.evaluation import transformed_feature_names
        from nbml.plots import _class_name
        from nbml.training import final_estimator

        estimator = final_estimator(result.model)
        tree, what = _one_tree(estimator, member, result.name)
        names = transformed_feature_names(result.model, tree.n_features_in_)
        classes = [_class_name(c) for c in estimator.classes_] \
            if result.task == "classification" and hasattr(tree, "classes_") else None
        return cls(tree=tree, feature_names=names, class_names=classes, what=what, max_depth=max_depth)

    def plot(self, ax=None):
        from sklearn.tree import plot_tree

        self.figure_, self.ax_ = fig, ax = _axes(ax)
        if not hasattr(fig.canvas, "get_renderer"):  # plot_tree measures text: a figure made without pyplot gets Agg's
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            FigureCanvasAgg(fig)
        depth = self.tree.get_depth()
        plot_tree(self.tree, max_depth=self.max_depth, feature_names=self.feature_names, class_names=self.class_names,
                  filled=True, impurity=False, proportion=True, rounded=True, fontsize=6, ax=ax)
        shown = f"\nfirst {self.max_depth} of {depth} levels" if depth > self.max_depth else ""
        ax.set_title(f"{self.what}{shown}", fontsize=9)
        return self


def _one_tree(estimator, member: int, name: str):
    from sklearn.tree import BaseDecisionTree

    if isinstance(estimator, BaseDecisionTree):
        return estimator, f"The tree of {name}"
    members = getattr(estimator, "estimators_", None)
    kind = type(estimator).__name__
    if members is not None and len(members):
        if not 0 <= member < len(members):
            raise NbmlError(f"member={member} is not a member of {name}: it has {len(members)} (0…{len(members) - 1})")
        tree = members[member]
        tree = tree[0] if isinstance(tree, np.ndarray) else tree  # gradient boosting: one tree per class per stage
        if isinstance(tree, BaseDecisionTree):
            return tree, f"Tree {member} of {len(members)} ({name})"
    why = ("HistGradientBoosting keeps its trees in its own format, which plot_tree cannot draw"
           if kind.startswith("HistGradientBoosting") else f"{kind} has no scikit-learn decision trees")
    raise NbmlError(f"plot 'tree' draws scikit-learn trees ({', '.join(TREE_MODELS)}): {why}")


def main_parameter(estimator) -> str:
    """The parameter a validation curve varies by default: the first of ``MAIN_PARAMETERS`` in the
    model's default search space (``nbml.tuning.defaults``), else that space's first."""
    from nbml.tuning.defaults import default_space

    space = default_space(estimator)
    if not space:
        raise NbmlError(f"{type(estimator).__name__}'s default search space is empty: name the parameter, "
                        f"plots='vc:NAME'")
    return next((name for name in MAIN_PARAMETERS if name in space), next(iter(space)))


# a parameter that only works beside another setting: (that setting, the value it must not have, the one it gets)
TOGETHER = {"shrinkage": ("solver", "svd", "lsqr")}  # LinearDiscriminantAnalysis: svd takes no shrinkage


def validation_curve(result, param: str | None = None, values=None, cv: int = CV, n_values: int = 5):
    """Train and validation score (the task's primary metric) of ``result``'s recipe over the
    values of one parameter (``param``, default ``main_parameter``; ``values``, default
    ``n_values`` points of its default range): ``cv``-fold CV within the training rows through
    the fold engine; a value the model cannot fit with is left out (NaN) and named in the title.
    Returns scikit-learn's ``ValidationCurveDisplay`` (``.labels``: the values as written, ``.title``)."""
    from sklearn.model_selection import ValidationCurveDisplay

    from nbml.folds import rows_of
    from nbml.metrics import PRIMARY
    from nbml.recipe import prepare
    from nbml.space import dimension, resolve
    from nbml.training import final_estimator
    from nbml.tuning.defaults import default_space

    recipe = prepare(result)
    estimator = final_estimator(recipe.pipeline)
    param = param or main_parameter(estimator)
    if values is None:
        space = default_space(estimator)
        if param not in space:
            raise NbmlError(f"{param!r} has no default range for {type(estimator).__name__} (its default space: "
                            f"{', '.join(space) or 'none'}); give values: nbml.plots.model.validation_curve("
                            f"result, {param!r}, values=[...])")
        values = space[param].grid(n_values)
    key = next(iter(resolve({param: dimension(param, list(values))}, recipe.pipeline)))
    fixed, words = {}, ""
    other, wrong, right = TOGETHER.get(param, (None, None, None))
    if other is not None and estimator.get_params().get(other) == wrong:
        fixed, words = {key[: -len(param)] + other: right}, f", {other}={right!r}"
    metric = PRIMARY[result.task]
    rows = rows_of(recipe, cv=cv, within_train=True)
    train, test, failed = _curve_scores(recipe, [{key: v, **fixed} for v in values], rows, metric,
                                        f"validation curve of {param}: {len(values)} values × {cv} folds")
    if len(failed) == len(values):
        raise NbmlError(f"{type(estimator).__name__} could not be fit with any value of {param}: {failed[0][1]}")
    numeric = all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values)
    display = ValidationCurveDisplay(param_name=param, param_range=np.asarray(values if numeric else range(len(values)),
                                                                              dtype=float),
                                     train_scores=train, test_scores=test, score_name=metric)
    display.labels, display.numeric = [str(v) for v in values], numeric
    left_out = f"; left out {', '.join(str(values[i]) for i, _ in failed)}: it fails" if failed else ""
    display.title = f"Validation curve of {param}{words} ({cv}-fold CV within {len(rows.X)} training rows{left_out})"
    return display


def _curve_scores(recipe, settings, rows, metric, desc):
    """Train and held-out ``metric`` (settings × folds) of ``recipe`` with each of ``settings``, fold by
    fold through the fold engine behind one progress bar; (index, error) of the settings that failed."""
    from tqdm.auto import tqdm

    from nbml.folds import PROGRESS_AFTER, folds_of, run_fold

    folds = folds_of(recipe, rows)
    train, test = np.full((len(settings), len(folds)), np.nan), np.full((len(settings), len(folds)), np.nan)
    failed = []
    with tqdm(total=len(settings) * len(folds), desc=desc, unit="fit", delay=PROGRESS_AFTER, leave=False) as bar:
        for i, params in enumerate(settings):
            pipeline = recipe.model(params)
            try:
                for j, fold in enumerate(folds):
                    outcome = run_fold(pipeline, fold)
                    train[i, j] = outcome.train_metrics.get(metric, np.nan)
                    test[i, j] = outcome.metrics.get(metric, np.nan)
                    bar.update(1)
            except (ValueError, ArithmeticError, NotImplementedError) as error:  # this value cannot be fit: NaN
                train[i], test[i] = np.nan, np.nan
                failed.append((i, f"{type(error).__name__}: {error}"))
    return train, test, failed


def draw_validation_curve(display, ax=None):
    fig, ax = _axes(ax)
    display.plot(ax=ax)
    for text in ax.get_legend().get_texts() if ax.get_legend() else ():
        text.set_text({"Test": "Validation"}.get(text.get_text(), text.get_text()))
    if not getattr(display, "numeric", True):
        ax.set_xscale("linear")
        ax.set_xticks(range(len(display.labels)), display.labels)
    ax.set_title(getattr(display, "title", "Validation curve"), fontsize=9)
    return display


class FeatureCountDisplay:
    """Score (the task's primary metric) against the number of features the model keeps, by
    scikit-learn's ``RFECV`` on the model's features after preprocessing: recursive elimination
    by the model's own importances, ``cv``-fold CV within the training rows."""

    def __init__(self, *, n_features, mean, std, best: int, score_name: str, n_rows: int, cv: int):
        self.n_features, self.mean, self.std = np.asarray(n_features), np.asarray(mean, float), np.asarray(std, float)
        self.best, self.score_name, self.n_rows, self.cv = int(best), score_name, n_rows, cv

    @classmethod
    def from_result(cls, result, *, cv: int = CV, seed: int = 0, steps: int = 10):
        from sklearn.base import clone
        from sklearn.feature_selection import RFECV

        from nbml.folds import check_folds, make_folds
        from nbml.metrics import PRIMARY
        from nbml.training import final_estimator

        estimator = final_estimator(result.model)
        if _own_strength(estimator)[0] is None:
            raise NbmlError(f"plot 'rfe' ranks features by the model's coef_ or feature_importances_, which "
                            f"{type(estimator).__name__} has not: use a linear or tree model")
        X_fit, y_fit = _training_rows(result, seed)
        Z, _ = _features(result, X_fit)
        check_folds(cv, X_fit, y_fit, result.task)
        folds = make_folds(result.task, cv, seed)
        metric = PRIMARY[result.task]
        found = RFECV(clone(estimator), step=max(1, Z.shape[1] // steps), cv=folds, scoring=metric,
                      min_features_to_select=1).fit(Z, np.asarray(y_fit))
        cv_results = found.cv_results_
        return cls(n_features=cv_results["n_features"], mean=cv_results["mean_test_score"],
                   std=cv_results["std_test_score"], best=found.n_features_, score_name=metric, n_rows=len(Z), cv=cv)

    def plot(self, ax=None):
        self.figure_, self.ax_ = fig, ax = _axes(ax)
        ax.plot(self.n_features, self.mean, marker="o", markersize=3, label=f"validation {self.score_name}")
        ax.fill_between(self.n_features, self.mean - self.std, self.mean + self.std, alpha=0.2)
        ax.axvline(self.best, color="k", linestyle="--", linewidth=0.8, label=f"best: {self.best} features")
        ax.set_xlabel("features kept (after preprocessing)")
        ax.set_ylabel(self.score_name)
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title(f"Recursive feature elimination\n({self.cv}-fold CV within {self.n_rows} training rows)",
                     fontsize=9)
        return self


def cooks_distance(A, y):
    """Cook's distance of each row of an ordinary least-squares fit of ``y`` on ``A`` (with an
    intercept): ``D = e² / (p s²) · h / (1 - h)²`` with leverages ``h`` from the SVD (rank-deficient
    columns dropped), ``p`` the rank and ``s² = Σe² / (n - p)``. Returns (D, h, p)."""
    A = np.column_stack([np.ones(len(A)), np.asarray(A, float)])
    y = np.asarray(y, float)
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    U = U[:, s > s.max() * max(A.shape) * np.finfo(float).eps]
    p = U.shape[1]
    h = np.einsum("ij,ij->i", U, U)
    residuals = y - U @ (U.T @ y)
    s2 = residuals @ residuals / max(len(y) - p, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = residuals ** 2 / (p * s2) * h / (1 - h) ** 2
    return distance, h, p


class CooksDisplay:
    """Cook's distance of every training row: how much an ordinary least-squares fit of the
    target on the model's features (after preprocessing) moves when that row is left out —
    the rows that pull a fit most, whatever the model. Rows above ``4 / n`` are marked."""

    def __init__(self, *, distance, rows, n_params: int):
        self.distance, self.rows, self.n_params = np.asarray(distance, float), pd.Index(rows), n_params
        self.threshold = 4 / len(self.distance)

    @classmethod
    def from_result(cls, result):
        X, y = result.split.X_train, result.split.y_train
        Z, _ = _features(result, X)
        distance, _, p = cooks_distance(Z, y)
        return cls(distance=distance, rows=X.index, n_params=p)

    @property
    def table(self) -> pd.DataFrame:
        """The rows above the threshold, largest distance first (row labels of the split)."""
        above = pd.Series(self.distance, index=self.rows, name="cooks_distance")
        return above[above > self.threshold].sort_values(ascending=False).to_frame()

    def plot(self, ax=None):
        self.figure_, self.ax_ = fig, ax = _axes(ax)
        positions = np.arange(len(self.distance))
        ax.vlines(positions, 0, self.distance, linewidth=0.6, color="C0")
        above = self.distance > self.threshold
        ax.scatter(positions[above], self.distance[above], s=8, color="C3",
                   label=f"{above.sum()} rows above 4/n = {self.threshold:.3g}")
        ax.axhline(self.threshold, color="k", linestyle="--", linewidth=0.8)
        ax.set_xlabel("training row (position)")
        ax.set_ylabel("Cook's distance")
        ax.legend(fontsize=8, loc="upper right")
        ax.set_title(f"Cook's distance (least squares on {len(self.distance)} training rows,\n"
                     f"{self.n_params} parameters)", fontsize=9)
        return self


class ShapSummaryDisplay:
    """SHAP's beeswarm summary of the held-out rows (``nbml.explaining.shap_explanation``): each
    feature's SHAP values, one dot per row, coloured by the feature's value."""

    def __init__(self, *, explanation, label: str, max_display: int = 10):
        self.explanation, self.label, self.max_display = explanation, label, max_display

    @classmethod
    def from_result(cls, result, X, *, label: str = "validation", seed: int = 0):
        from nbml.explaining import shap_explanation

        return cls(explanation=shap_explanation(result, X, seed=seed, max_rows="summary"), label=label)

    def plot(self, ax=None):
        import shap

        self.figure_, self.ax_ = fig, ax = _axes(ax)
        one = self.explanation.for_class()
        shap.plots.beeswarm(one, max_display=self.max_display, ax=ax, show=False, plot_size=None)
        ax.set_title(f"SHAP values on {one.values.shape[0]} {self.label} rows\n({self.explanation.describe(short=True)})",
                     fontsize=8)
        return self


def model_display(kind: str, result, X, y, *, label: str = "validation", seed: int = 0, param: str | None = None):
    """Compute the ``kind`` plot of ``result`` (X, y: the held-out rows its points are drawn from)."""
    if kind == "boundary":
        return BoundaryDisplay.from_result(result, X, y, label=label, seed=seed)
    if kind == "tree":
        return TreeDisplay.from_result(result)
    if kind == "vc":
        return validation_curve(result, param=param)
    if kind == "rfe":
        return FeatureCountDisplay.from_result(result, seed=seed)
    if kind == "cooks":
        return CooksDisplay.from_result(result)
    if kind == "shap":
        return ShapSummaryDisplay.from_result(result, X, label=label, seed=seed)
    raise NbmlError(f"{kind!r} is not a model plot; choose from {', '.join(KINDS)}")


def draw_model_plot(display, ax):
    """Draw a display ``model_display`` made on ``ax``."""
    if display.__class__.__name__ == "ValidationCurveDisplay":
        return draw_validation_curve(display, ax)
    return display.plot(ax=ax)
