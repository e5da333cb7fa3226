"""Default search spaces for common models, used when ``tune`` gets no space.

Keys are estimator class names; values are spaces over the model's own parameters. Ranges
follow the usual practice (log scales for strengths and rates, modest tree and ensemble
sizes so that a default search stays quick).
"""
from __future__ import annotations

from nbml.errors import NbmlError
from nbml.space import choice, logint, loguniform, randint, uniform


def _linear_classifier():
    return {"C": loguniform(1e-3, 1e3)}


def _regularized():
    return {"alpha": loguniform(1e-4, 1e2)}


def _svm():
    return {"C": loguniform(1e-2, 1e3), "gamma": loguniform(1e-4, 1e0)}


def _knn():
    return {"n_neighbors": logint(1, 50), "weights": choice("uniform", "distance")}


def _tree():
    return {"max_depth": randint(1, 20), "min_samples_leaf": logint(1, 50)}


def _forest():
    return {"n_estimators": logint(50, 300), "max_depth": choice(None, 4, 8, 16),
            "max_features": uniform(0.1, 1.0), "min_samples_leaf": logint(1, 20)}


def _boosting():
    return {"learning_rate": loguniform(0.01, 0.3), "n_estimators": logint(50, 400),
            "max_depth": randint(2, 6), "subsample": uniform(0.5, 1.0)}


def _hist_boosting():
    return {"learning_rate": loguniform(0.01, 0.3), "max_iter": logint(50, 400),
            "max_leaf_nodes": logint(8, 128), "min_samples_leaf": logint(5, 100),
            "l2_regularization": loguniform(1e-6, 10.0)}


def _ada():
    # scikit-learn's AdaBoost docs and PyCaret's grid: 10-500 estimators, rates 1e-3 to 2 on a log scale
    return {"n_estimators": logint(10, 500), "learning_rate": loguniform(1e-3, 2.0)}


def _lda():
    # shrinkage (Ledoit-Wolf's idea, a fraction in [0, 1]) needs the lsqr or eigen solver
    return {"solver": choice("lsqr", "eigen"), "shrinkage": uniform(0.0, 1.0)}


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
    "SVR": lambda: {**_svm(), "epsilon": loguniform(1e-3, 1.0)},
    "Ridge": _regularized,
    "RidgeClassifier": _regularized,
    "Lasso": _regularized,
    "ElasticNet": lambda: {**_regularized(), "l1_ratio": uniform(0.0, 1.0)},
    "KNeighborsClassifier": _knn,
    "KNeighborsRegressor": _knn,
    "DecisionTreeClassifier": _tree,
    "DecisionTreeRegressor": _tree,
    "RandomForestClassifier": _forest,
    "RandomForestRegressor": _forest,
    "ExtraTreesClassifier": _forest,
    "ExtraTreesRegressor": _forest,
    "GradientBoostingClassifier": _boosting,
    "GradientBoostingRegressor": _boosting,
    "HistGradientBoostingClassifier": _hist_boosting,
    "HistGradientBoostingRegressor": _hist_boosting,
    "GaussianNB": lambda: {"var_smoothing": loguniform(1e-12, 1e-3)},  # around scikit-learn's 1e-9
    "LinearRegression": lambda: {"fit_intercept": choice(True, False)},
    "AdaBoostClassifier": _ada,
    "AdaBoostRegressor": _ada,
    "LinearDiscriminantAnalysis": _lda,
    "QuadraticDiscriminantAnalysis": lambda: {"reg_param": uniform(0.0, 1.0)},
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
