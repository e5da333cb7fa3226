"""The standard model families by short name: the one table ``%compare --models``,
``nbml.compare(models=…)``, ``nbml.models()`` and their help read.

Every family here deploys, loads and serves (``tests/test_deploy_families.py``). LightGBM, XGBoost
and CatBoost are not standard families yet: deploying them means trusting their own model
parsers, CatBoost's multiclass ``predict`` returns a column and XGBoost needs labels 0..k-1.
A family's defaults are the library's, except where noted.
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

def families(task: str) -> dict:
    """Short name -> (module, class, arguments, what) of every family ``task`` has."""
    if task not in STANDARD_MODELS:
        raise NbmlError(f"there are no standard models for {task}; standard models are for classification and "
                        f"regression")
    return dict(STANDARD_MODELS[task])


def standard_model(short: str, task: str):
    """A fresh estimator of the family ``short`` for ``task``."""
    from importlib import import_module

    table = families(task)
    if short not in table:
        raise NbmlError(f"model {short!r} is not a standard {task} model; choose from {', '.join(table)}")
    module, cls, params, _ = table[short]
    return getattr(import_module(module), cls)(**params)


def models(task: str | None = None) -> pd.DataFrame:
    """The standard families by short name (PyCaret's ``models()``): name, estimator and task."""
    rows = [{"task": t, "model": short, "name": what, "estimator": f"{module}.{cls}"}
            for t in ([task] if task else list(STANDARD_MODELS)) for short, (module, cls, _, what) in families(t).items()]
    return pd.DataFrame(rows).set_index(["task", "model"])
