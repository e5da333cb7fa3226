"""The standard model families by short name: the one table ``%compare --models``,
``nbml.compare(models=…)``, ``nbml.models()`` and their help read.

scikit-learn's families are always there; LightGBM and CatBoost join when their package is
installed (``pip install 'nbml[boost]'``). A family's defaults are the library's, except where
noted (more iterations for a linear model that would stop early; no console chatter).
"""
from __future__ import annotations

import pandas as pd

from nbml.errors import NbmlError

# short name -> (module, class, constructor arguments, what it is)
STANDARD_MODELS = {
    "classification": {
        "lr": ("sklearn.linear_model", "LogisticRegression", {"max_iter": 1000}, "logistic regression"),
        "ridge": ("sklearn.linear_model", "RidgeClassifier", {}, "ridge classifier"),
        "lda": ("sklearn.discriminant_analysis", "LinearDiscriminantAnalysis", {}, "linear discriminant analysis"),
        "qda": ("sklearn.discriminant_analysis", "QuadraticDiscriminantAnalysis", {"reg_param": 0.01},
                "quadratic discriminant analysis (lightly regularized: singular classes still fit)"),
        "svm": ("sklearn.svm", "SVC", {}, "support vector machine (RBF kernel)"),
        "knn": ("sklearn.neighbors", "KNeighborsClassifier", {}, "k nearest neighbours"),
        "nb": ("sklearn.naive_bayes", "GaussianNB", {}, "Gaussian naive Bayes"),
        "tree": ("sklearn.tree", "DecisionTreeClassifier", {}, "decision tree"),
        "rf": ("sklearn.ensemble", "RandomForestClassifier", {"n_estimators": 100}, "random forest"),
        "et": ("sklearn.ensemble", "ExtraTreesClassifier", {"n_estimators": 100}, "extra trees"),
        "ada": ("sklearn.ensemble", "AdaBoostClassifier", {}, "AdaBoost"),
        "gb": ("sklearn.ensemble", "GradientBoostingClassifier", {}, "gradient boosting"),
        "hgb": ("sklearn.ensemble", "HistGradientBoostingClassifier", {}, "histogram gradient boosting"),
    },
    "regression": {
        "lr": ("sklearn.linear_model", "LinearRegression", {}, "linear regression"),
        "ridge": ("sklearn.linear_model", "Ridge", {}, "ridge regression"),
        "lasso": ("sklearn.linear_model", "Lasso", {"alpha": 0.1}, "lasso"),
        "svm": ("sklearn.svm", "SVR", {}, "support vector regression (RBF kernel)"),
        "knn": ("sklearn.neighbors", "KNeighborsRegressor", {}, "k nearest neighbours"),
        "tree": ("sklearn.tree", "DecisionTreeRegressor", {}, "decision tree"),
        "rf": ("sklearn.ensemble", "RandomForestRegressor", {"n_estimators": 100}, "random forest"),
        "et": ("sklearn.ensemble", "ExtraTreesRegressor", {"n_estimators": 100}, "extra trees"),
        "ada": ("sklearn.ensemble", "AdaBoostRegressor", {}, "AdaBoost"),
        "gb": ("sklearn.ensemble", "GradientBoostingRegressor", {}, "gradient boosting"),
        "hgb": ("sklearn.ensemble", "HistGradientBoostingRegressor", {}, "histogram gradient boosting"),
    },
}

# with nbml[boost]: short name -> (package, module, class per task, constructor arguments, what it is)
BOOST_MODELS = {
    "lgbm": ("lightgbm", "lightgbm", {"classification": "LGBMClassifier", "regression": "LGBMRegressor"},
             {"verbose": -1}, "LightGBM"),
    "catboost": ("catboost", "catboost", {"classification": "CatBoostClassifier", "regression": "CatBoostRegressor"},
                 {"verbose": 0, "allow_writing_files": False, "thread_count": 1}, "CatBoost"),
}


def _installed(package: str) -> bool:
    from importlib.util import find_spec

    return find_spec(package) is not None


def families(task: str) -> dict:
    """Short name -> (module, class, arguments, what) of every family ``task`` has here."""
    if task not in STANDARD_MODELS:
        raise NbmlError(f"there are no standard models for {task}; standard models are for classification and "
                        f"regression")
    table = dict(STANDARD_MODELS[task])
    for short, (package, module, classes, params, what) in BOOST_MODELS.items():
        if _installed(package):
            table[short] = (module, classes[task], params, what)
    return table


def standard_model(short: str, task: str):
    """A fresh estimator of the family ``short`` for ``task``."""
    from importlib import import_module

    table = families(task)
    if short not in table:
        missing = BOOST_MODELS.get(short)
        if missing is not None:
            raise NbmlError(f"model {short!r} needs the {missing[0]} package: pip install 'nbml[boost]'")
        raise NbmlError(f"model {short!r} is not a standard {task} model; choose from {', '.join(table)}")
    module, cls, params, _ = table[short]
    return getattr(import_module(module), cls)(**params)


def models(task: str | None = None) -> pd.DataFrame:
    """The standard families by short name (PyCaret's ``models()``): name, class, task and
    whether it is available here (LightGBM and CatBoost need ``nbml[boost]``)."""
    rows = []
    for t in ([task] if task else list(STANDARD_MODELS)):
        available = families(t)
        for short, (module, cls, _, what) in STANDARD_MODELS[t].items():
            rows.append({"task": t, "model": short, "name": what, "estimator": f"{module}.{cls}", "available": True})
        for short, (package, module, classes, _, what) in BOOST_MODELS.items():
            rows.append({"task": t, "model": short, "name": what, "estimator": f"{module}.{classes[t]}",
                         "available": short in available})
    return pd.DataFrame(rows).set_index(["task", "model"])
