"""The standard model families by short name: the one table ``%compare --models``,
``nbml.compare(models=…)``, ``nbml.models()`` and their help read.

Every family here deploys, loads and serves (``tests/test_deploy_families.py``). scikit-learn's
families are always there; LightGBM, XGBoost and CatBoost join when their package is installed
(``pip install 'nbml[boost]'``; ``nbml.boost`` holds the fixes XGBoost's labels and CatBoost's
``predict`` need). A family's defaults are the library's, except where noted: no console
chatter, and one thread per fit (nbml parallelizes folds and models itself, ``n_jobs``, and on
small data threads cost more than they save).
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

# with nbml[boost]: short name -> (package, {task: (module, class)}, constructor arguments, what it is)
BOOST_MODELS = {
    "lgbm": ("lightgbm", {"classification": ("lightgbm", "LGBMClassifier"), "regression": ("lightgbm", "LGBMRegressor")},
             {"verbose": -1, "n_jobs": 1}, "LightGBM"),
    "xgb": ("xgboost", {"classification": ("nbml.boost", "XGBClassifier"), "regression": ("xgboost", "XGBRegressor")},
            {"verbosity": 0, "n_jobs": 1}, "XGBoost"),
    "catboost": ("catboost", {"classification": ("nbml.boost", "CatBoostClassifier"),
                              "regression": ("nbml.boost", "CatBoostRegressor")},
                 {"verbose": 0, "allow_writing_files": False, "thread_count": 1}, "CatBoost"),
}


def _installed(package: str) -> bool:
    from importlib.util import find_spec  # finds the package without importing it

    return find_spec(package) is not None


def families(task: str) -> dict:
    """Short name -> (module, class, arguments, what) of every family ``task`` has here
    (the boosting libraries' only when installed)."""
    if task not in STANDARD_MODELS:
        raise NbmlError(f"there are no standard models for {task}; standard models are for classification and "
                        f"regression")
    table = dict(STANDARD_MODELS[task])
    for short, (package, classes, params, what) in BOOST_MODELS.items():
        if _installed(package):
            table[short] = (*classes[task], params, what)
    return table


def missing_families(task: str | None = None) -> dict:
    """Families whose package is not installed: short name -> how to install it."""
    return {short: f"pip install 'nbml[boost]' (or pip install {package})"
            for short, (package, *_) in BOOST_MODELS.items() if not _installed(package)}


def skipped(task: str | None = None) -> list:
    """One line per family ``--models all`` leaves out here, e.g. "skipped: lgbm (pip install 'nbml[boost]')"."""
    return [f"skipped: {short} ({how})" for short, how in missing_families(task).items()]


def standard_model(short: str, task: str):
    """A fresh estimator of the family ``short`` for ``task``."""
    from importlib import import_module

    table = families(task)
    if short not in table and short in BOOST_MODELS:
        from nbml.boost import missing_package

        raise missing_package(short, BOOST_MODELS[short][0])
    if short not in table:
        raise NbmlError(f"model {short!r} is not a standard {task} model; choose from {', '.join(table)}")
    module, cls, params, _ = table[short]
    return getattr(import_module(module), cls)(**params)


def models(task: str | None = None) -> pd.DataFrame:
    """The standard families by short name (PyCaret's ``models()``): name, estimator, task and
    whether it is available here (LightGBM, XGBoost and CatBoost need ``nbml[boost]``)."""
    rows = []
    for t in ([task] if task else list(STANDARD_MODELS)):
        available = families(t)
        for short, (module, cls, _, what) in STANDARD_MODELS[t].items():
            rows.append({"task": t, "model": short, "name": what, "estimator": f"{module}.{cls}", "available": True})
        for short, (_, classes, _, what) in BOOST_MODELS.items():
            module, cls = classes[t]
            rows.append({"task": t, "model": short, "name": what, "estimator": f"{module}.{cls}",
                         "available": short in available})
    return pd.DataFrame(rows).set_index(["task", "model"])
