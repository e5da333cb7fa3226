"""Default search spaces for common models, used when ``tune`` gets no space.

Keys are estimator class names; values are spaces over the model's own parameters. Every
parameter a model is sensitive to is continuous or an integer range (log scales for strengths,
rates and counts), so that 20 random trials are 20 different models; each space says where its
ranges come from: the library's own docs, FLAML's search spaces (``flaml/automl/model.py``) and
PyCaret's ``tune_model`` distributions (``pycaret/containers/models/*.py``), narrowed where their
ends only cost time (tree and ensemble sizes stay modest so that a default search stays quick).
``benchmarks/default_spaces_gain.py`` measures what 20 trials of each gain over the defaults.
"""
from __future__ import annotations

from nbml.errors import NbmlError
from nbml.space import choice, logint, loguniform, randint, uniform


def _linear_classifier():
    # FLAML's LRL2 space (C log-uniform 2^-5..2^15), narrowed: past 1e3 the fit barely changes
    return {"C": loguniform(1e-3, 1e3)}


def _regularized():
    # PyCaret's ridge/lasso alpha (0.001..10), widened on a log scale both ways as scikit-learn's
    # RidgeCV/LassoCV paths go (alphas over several decades)
    return {"alpha": loguniform(1e-4, 1e2)}


def _svm():
    # the LIBSVM guide (Hsu, Chang & Lin): grid C and gamma on log scales (2^-5..2^15, 2^-15..2^3),
    # narrowed to the part that fits quickly on scaled features
    return {"C": loguniform(1e-2, 1e3), "gamma": loguniform(1e-4, 1e0)}


def _svr():
    # as SVC, with epsilon (in units of the target: up to 1 is where scikit-learn's default 0.1 sits)
    # and C up to 1e4, since an unscaled target needs larger C
    return {"C": loguniform(1e-2, 1e4), "gamma": loguniform(1e-4, 1e0), "epsilon": loguniform(1e-3, 1.0)}


def _knn():
    # PyCaret: n_neighbors 1..50 (here on a log scale: small k is where the score moves) and weights
    return {"n_neighbors": logint(1, 50), "weights": choice("uniform", "distance")}


def _tree():
    # PyCaret's decision-tree distributions (max_depth 1..16, max_features 0.4..1), min_samples_leaf
    # on a log scale as FLAML's tree sizes
    return {"max_depth": randint(1, 20), "min_samples_leaf": logint(1, 50), "max_features": uniform(0.4, 1.0)}


def _classification_tree():
    return {**_tree(), "criterion": choice("gini", "entropy")}


def _forest():
    # FLAML's RF/ExtraTrees space: n_estimators and tree size on log scales, max_features
    # log-uniform 0.1..1 (scikit-learn's sqrt(n)/n default sits low in it); depth an integer
    # range (PyCaret 1..11; deeper here: forests like deep trees) instead of a short list
    return {"n_estimators": logint(50, 300), "max_depth": randint(3, 30),
            "max_features": loguniform(0.05, 1.0), "min_samples_leaf": logint(1, 16)}


def _boosting():
    # PyCaret's GradientBoosting distributions (learning_rate log 1e-6..0.5, n_estimators 10..300,
    # subsample 0.2..1, max_depth 1..11, max_features 0.4..1), narrowed where the ends never win
    return {"learning_rate": loguniform(0.005, 0.5), "n_estimators": logint(50, 300), "max_depth": randint(2, 8),
            "subsample": uniform(0.5, 1.0), "min_samples_leaf": logint(1, 50), "max_features": uniform(0.3, 1.0)}


def _hist_boosting():
    # scikit-learn's HistGradientBoosting docs and FLAML's LightGBM space (the same kind of model):
    # leaves and leaf sizes on log scales, L2 on a log scale
    return {"learning_rate": loguniform(0.01, 0.5), "max_iter": logint(50, 300),
            "max_leaf_nodes": logint(4, 256), "min_samples_leaf": logint(2, 100),
            "l2_regularization": loguniform(1e-6, 10.0)}


def _ada():
    # scikit-learn's AdaBoost docs and PyCaret's grid: 10-500 estimators, rates 1e-3 to 2 on a log scale
    return {"n_estimators": logint(10, 500), "learning_rate": loguniform(1e-3, 2.0)}


def _ada_regressor():
    return {**_ada(), "loss": choice("linear", "square", "exponential")}  # AdaBoost.R2's three losses


def _lda():
    # shrinkage (Ledoit-Wolf's idea, a fraction in [0, 1]) needs the lsqr or eigen solver; PyCaret
    # draws it log-uniform 1e-4..1, where small shrinkage matters most
    return {"solver": choice("lsqr", "eigen"), "shrinkage": loguniform(1e-4, 1.0)}


def _naive_bayes():
    # PyCaret: var_smoothing log-uniform 1e-9..1 (scikit-learn's default 1e-9 at the low end; the
    # fraction of the largest variance added to every variance)
    return {"var_smoothing": loguniform(1e-9, 1.0)}


def _xgboost():
    # FLAML's XGBoost space and PyCaret's: rate, child weight and both regularizations on log scales,
    # row and column sampling as fractions; depth an integer range (PyCaret 1..11)
    return {"learning_rate": loguniform(0.01, 0.5), "n_estimators": logint(50, 500), "max_depth": randint(2, 10),
            "min_child_weight": loguniform(0.1, 20.0), "subsample": uniform(0.5, 1.0),
            "colsample_bytree": uniform(0.3, 1.0), "reg_alpha": loguniform(1e-4, 10.0),
            "reg_lambda": loguniform(1e-3, 10.0)}


def _lightgbm():
    # LightGBM's parameter-tuning guide and FLAML's LGBMEstimator space: leaves and child sizes on
    # log scales, row/column sampling as fractions, L2 on a log scale
    return {"learning_rate": loguniform(0.01, 0.3), "n_estimators": logint(50, 1000), "num_leaves": logint(8, 256),
            "min_child_samples": logint(5, 100), "colsample_bytree": uniform(0.5, 1.0),
            "reg_lambda": loguniform(1e-3, 10.0)}


def _catboost():
    # CatBoost's parameter-tuning guide: depth 4-10, l2_leaf_reg 1-10 on a log scale
    return {"learning_rate": loguniform(0.01, 0.3), "depth": randint(4, 10), "l2_leaf_reg": loguniform(1.0, 10.0),
            "iterations": logint(100, 1000)}


def _mlp():
    # scikit-learn's MLP docs: alpha (L2) and the initial rate on log scales
    return {"alpha": loguniform(1e-6, 1e-1), "learning_rate_init": loguniform(1e-4, 1e-1),
            "hidden_layer_sizes": choice((50,), (100,), (100, 50))}


def _sgd():
    return {"alpha": loguniform(1e-6, 1e-1), "penalty": choice("l2", "l1", "elasticnet")}


def _torch():
    return {"lr": loguniform(1e-4, 1e-1), "hidden": choice((64,), (128, 64), (256, 128)),
            "dropout": uniform(0.0, 0.5), "weight_decay": loguniform(1e-6, 1e-2), "batch_size": choice(32, 64, 128)}


DEFAULTS = {
    "LogisticRegression": _linear_classifier,
    "LinearSVC": lambda: {"C": loguniform(1e-3, 1e2)},
    "LinearSVR": lambda: {"C": loguniform(1e-3, 1e2)},
    "SVC": _svm,
    "SVR": _svr,
    "Ridge": _regularized,
    "RidgeClassifier": _regularized,
    "Lasso": _regularized,
    "ElasticNet": lambda: {**_regularized(), "l1_ratio": uniform(0.0, 1.0)},
    "KNeighborsClassifier": _knn,
    "KNeighborsRegressor": _knn,
    "DecisionTreeClassifier": _classification_tree,
    "DecisionTreeRegressor": _tree,
    "RandomForestClassifier": _forest,
    "RandomForestRegressor": _forest,
    "ExtraTreesClassifier": _forest,
    "ExtraTreesRegressor": _forest,
    "GradientBoostingClassifier": _boosting,
    "GradientBoostingRegressor": _boosting,
    "HistGradientBoostingClassifier": _hist_boosting,
    "HistGradientBoostingRegressor": _hist_boosting,
    "GaussianNB": _naive_bayes,
    # nothing in a plain least-squares fit is sensitive; PyCaret tunes fit_intercept too
    "LinearRegression": lambda: {"fit_intercept": choice(True, False)},
    "AdaBoostClassifier": _ada,
    "AdaBoostRegressor": _ada_regressor,
    "LinearDiscriminantAnalysis": _lda,
    # PyCaret: reg_param uniform 0..1 (a fraction of the identity mixed into each class covariance)
    "QuadraticDiscriminantAnalysis": lambda: {"reg_param": uniform(0.0, 1.0)},
    "XGBClassifier": _xgboost,
    "XGBRegressor": _xgboost,
    "LGBMClassifier": _lightgbm,
    "LGBMRegressor": _lightgbm,
    "CatBoostClassifier": _catboost,
    "CatBoostRegressor": _catboost,
    "MLPClassifier": _mlp,
    "MLPRegressor": _mlp,
    "SGDClassifier": _sgd,
    "SGDRegressor": _sgd,
    "TorchClassifier": _torch,
    "TorchRegressor": _torch,
    "KMeans": lambda: {"n_clusters": randint(2, 12)},
}


def default_space(estimator) -> dict:
    """The default space for ``estimator`` (by class name, walking its base classes)."""
    for cls in type(estimator).__mro__:
        factory = DEFAULTS.get(cls.__name__)
        if factory is not None:
            space = factory()
            if type(estimator).__module__.startswith("catboost"):
                return space  # CatBoost's get_params lists only the parameters that were set
            params = estimator.get_params(deep=False)
            return {k: v for k, v in space.items() if k in params}
    try:
        names = ", ".join(sorted(estimator.get_params(deep=False)))
    except (AttributeError, TypeError):  # not a scikit-learn estimator
        names = "?"
    raise NbmlError(f"nbml has no default search space for {type(estimator).__name__}: give one (in the %%tune "
                    f"body, or space={{...}}), e.g. name = loguniform(1e-3, 10); its parameters are {names}")
