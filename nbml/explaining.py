"""``explain()``: SHAP reasons for single predictions, through the ``shap`` library (``nbml[explain]``).

The values explain the model's final estimator on the features it sees — the rows after the
result's fitted preprocessing (scaled numbers, one-hot columns), named as the pipeline names
them. Tree models (scikit-learn's trees, forests and boosting, LightGBM, XGBoost, CatBoost) get
``shap.TreeExplainer`` (exact; it explains what the trees add up to: probabilities for a
random forest, log-odds for gradient boosting, the prediction for regression; shap's tree
explainer takes scikit-learn's GradientBoostingClassifier for two classes only); any other model
a sampled ``shap.Explainer`` of its probabilities (decision scores, predictions) against
``BACKGROUND`` training rows drawn with the result's seed. Either way, for every row, the base
value plus the row's SHAP values is the explained output.

(The module is not called ``explain``: ``nbml.explain`` is the function.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nbml.errors import NbmlError

BACKGROUND = 100  # training rows the sampled explainer masks features with
MAX_SUMMARY_ROWS = {True: 1000, False: 50}  # rows a summary explains: tree explainer / sampled explainer (slow)
TREE_OUTPUT = {"probability": "probability", "log_odds": "log-odds", "raw_value": "raw score"}


def _shap():
    try:
        import shap
    except ImportError:
        raise NbmlError("SHAP values need the shap library: pip install nbml[explain]") from None
    return shap


@dataclass(kw_only=True)
class ShapValues:
    """SHAP values of some rows: ``values`` (rows × features, or rows × features × classes),
    ``base`` (the base value per row, or per row and class), ``data`` (the rows as the model sees
    them), ``feature_names``, ``rows`` (the rows' labels), ``classes`` (None for regression),
    ``output`` (what is explained: "probability", "log-odds", "prediction", …), ``explainer`` (in
    words) and ``tree`` (exact tree explainer)."""

    values: np.ndarray
    base: np.ndarray
    data: np.ndarray
    feature_names: list
    rows: pd.Index
    classes: list | None
    output: str
    explainer: str
    tree: bool

    def column(self, j: int | None = None):
        """(values, base) of class ``j`` (default the last: a binary result's positive class)."""
        if self.values.ndim == 2:
            return self.values, np.asarray(self.base).reshape(len(self.values), -1)[:, -1]
        j = self.values.shape[2] - 1 if j is None else j
        return self.values[:, :, j], np.asarray(self.base).reshape(len(self.values), -1)[:, j]

    def explained_class(self, j: int | None = None):
        if self.classes is None:
            return None
        if self.values.ndim == 2:  # one output: the positive class's (binary)
            return self.classes[-1]
        return self.classes[self.values.shape[2] - 1 if j is None else j]

    def for_class(self, j: int | None = None):
        """A 2-D ``shap.Explanation`` of class ``j`` (the one ``shap.plots`` draws)."""
        shap = _shap()
        values, base = self.column(j)
        return shap.Explanation(values=values, base_values=base, data=self.data, feature_names=self.feature_names)

    def describe(self, short: bool = False) -> str:
        what = self.output
        if self.classes is not None and self.output != "prediction":
            from nbml.plots import _class_name

            what += f" of {_class_name(self.explained_class())}"
        if short:
            return f"{self.explainer.split(' (')[0].split(' with ')[0]}; {what}"
        return f"{self.explainer}; explains the {what}"


def shap_explanation(result, X, *, seed: int = 0, max_rows=None) -> ShapValues:
    """SHAP values of ``result``'s model on the raw rows ``X`` (a DataFrame of the split's
    columns); ``max_rows``: explain a seeded sample of at most this many rows ("summary":
    ``MAX_SUMMARY_ROWS``, more for the fast tree explainer)."""
    from nbml.evaluation import transformed_feature_names
    from nbml.training import final_estimator, transformed

    shap = _shap()
    estimator = final_estimator(result.model)
    try:
        explainer, tree = shap.TreeExplainer(estimator), True
    except shap.utils._exceptions.InvalidModelError:  # not a tree model: the sampled explainer
        explainer, tree = None, False
    if max_rows == "summary":
        max_rows = MAX_SUMMARY_ROWS[tree]
    if max_rows is not None and len(X) > max_rows:
        X = X.sample(max_rows, random_state=seed)
    Z = _dense(transformed(result.model, X))
    names = transformed_feature_names(result.model, Z.shape[1])
    classes = list(result.model.classes_) if result.task == "classification" else None
    if tree:
        found = explainer(Z, check_additivity=True)
        output = "prediction" if classes is None else TREE_OUTPUT.get(explainer.model.tree_output, "raw score")
        words = "shap.TreeExplainer (exact, path-dependent)"
    else:
        found, output, words = _sampled(shap, result, estimator, Z, seed)
    return ShapValues(values=np.asarray(found.values), base=np.asarray(found.base_values), data=Z,
                      feature_names=names, rows=X.index, classes=classes, output=output, explainer=words, tree=tree)


def _dense(Z):
    return np.asarray(Z.toarray() if hasattr(Z, "toarray") else Z, dtype=float)


def _sampled(shap, result, estimator, Z, seed: int):
    """SHAP values of a model that is not a tree: ``shap.Explainer`` of its probabilities
    (else decision scores, else predictions) with ``BACKGROUND`` seeded training rows."""
    from nbml.training import transformed

    X_train = result.split.X_train
    keep = np.random.RandomState(seed).permutation(len(X_train))[:BACKGROUND]
    background = _dense(transformed(result.model, X_train.iloc[np.sort(keep)]))
    if result.task != "classification":
        function, output = estimator.predict, "prediction"
    elif hasattr(estimator, "predict_proba"):
        function, output = estimator.predict_proba, "probability"
    elif hasattr(estimator, "decision_function"):
        function, output = estimator.decision_function, "decision score"
    else:
        raise NbmlError(f"{type(estimator).__name__} gives neither probabilities nor decision scores to explain")
    masker = shap.maskers.Independent(background, max_samples=len(background))
    explainer = shap.Explainer(function, masker, seed=seed)
    evaluations = max(500, 2 * Z.shape[1] + 1, 2 ** min(Z.shape[1], 10))  # exact: every subset up to 10 features
    found = explainer(Z, max_evals=evaluations, silent=True)
    words = f"shap.{type(explainer).__name__} with {len(background)} background training rows (seed {seed})"
    return found, output, words


def rows_of(result, rows) -> pd.DataFrame:
    """``rows`` as raw rows of the split's columns: a DataFrame, one row (a Series), or row labels
    of the split (one or a list)."""
    split = result.split
    if isinstance(rows, pd.Series):
        rows = rows.to_frame().T
    if isinstance(rows, pd.DataFrame):
        missing = [c for c in split.X_train.columns if c not in rows.columns]
        if missing:
            raise NbmlError(f"rows lack the column(s) {', '.join(map(str, missing[:5]))} the model was trained on")
        return rows[list(split.X_train.columns)]
    labels = [rows] if np.isscalar(rows) else list(rows)
    frame = pd.concat([split.X_train, split.X_val, split.X_test])
    unknown = [label for label in labels if label not in frame.index]
    if unknown:
        raise NbmlError(f"row label(s) {', '.join(map(repr, unknown[:5]))} are not in the split: give row labels of "
                        f"its frames (e.g. split.X_val.index[:3]) or a DataFrame of rows")
    if not labels:
        raise NbmlError("rows is empty: give row labels of the split or a DataFrame of rows")
    return frame.loc[labels]


@dataclass(kw_only=True, repr=False)
class Reasons:
    """What ``explain`` returns: ``shap_values`` (``ShapValues``), ``table`` (one row per explained
    row: each feature's SHAP value, the base value, the explained output and class) and
    ``figure(i)`` / ``figures()``, SHAP's waterfall of each row."""

    name: str
    shap_values: ShapValues
    max_display: int = 10

    def _class_of(self, i: int):
        """The class row ``i`` is explained for: the positive class (binary), the predicted one (more)."""
        values = self.shap_values.values
        if values.ndim == 2:
            return None
        if values.shape[2] == 2:
            return 1
        return int(np.argmax(self.shap_values.base[i] + values[i].sum(axis=0)))

    @property
    def table(self) -> pd.DataFrame:
        sv, out = self.shap_values, []
        for i in range(len(sv.rows)):
            j = self._class_of(i)
            values, base = sv.column(j)
            row = dict(zip(sv.feature_names, values[i]))
            row.update({"base value": base[i], sv.output: base[i] + values[i].sum()})
            if sv.classes is not None:
                from nbml.plots import _class_name

                row["class"] = _class_name(sv.explained_class(j))
            out.append(row)
        return pd.DataFrame(out, index=sv.rows)

    def figure(self, i: int = 0):
        """SHAP's waterfall of row ``i`` (a position among the explained rows)."""
        import matplotlib.pyplot as plt

        shap = _shap()
        one = self.shap_values.for_class(self._class_of(i))[i]
        before = plt.get_fignums()
        shap.plots.waterfall(one, max_display=self.max_display, show=False)
        fig = plt.gcf()
        if fig.number not in before:  # drawn on a pyplot figure of its own: keep it out of pyplot's list
            plt.close(fig)
        label = self.shap_values.rows[i]
        what = self.table["class"].iloc[i] if self.shap_values.classes is not None else ""
        fig.suptitle(f"{self.name}, row {label!r}: {self.shap_values.output}" + (f" of {what}" if what else ""),
                     fontsize=9)
        return fig

    def figures(self) -> list:
        return [self.figure(i) for i in range(len(self.shap_values.rows))]

    def __repr__(self) -> str:
        return f"SHAP reasons of {self.name} for {len(self.shap_values.rows)} row(s): {self.shap_values.describe()}"

    def _repr_html_(self) -> str:
        from nbml.plots import png_base64

        parts = [f"<p><b>{self.__repr__()}</b></p>", self.table.T.to_html(float_format=lambda v: f"{v:.4g}")]
        parts += [f'<img src="data:image/png;base64,{png_base64(fig)}"/>' for fig in self.figures()[:20]]
        return "\n".join(parts)


def explain(result, rows, seed: int | None = None) -> Reasons:
    """SHAP reasons of ``result``'s predictions for ``rows`` (row labels of the split — e.g.
    ``split.X_val.index[:3]`` — or a DataFrame of rows): per row, each feature's SHAP value on
    the features the model sees after preprocessing, a table and a waterfall figure. Tree models
    use ``shap.TreeExplainer``; others a sampled ``shap.Explainer`` with ``BACKGROUND`` training
    rows (``seed``: the result's). Needs ``pip install nbml[explain]``."""
    from nbml.training import TrainResult

    if not isinstance(result, TrainResult):
        raise NbmlError(f"explain needs a TrainResult (from nbml.train / %%train -o NAME); got {type(result).__name__}")
    if result.task not in ("classification", "regression"):
        raise NbmlError(f"SHAP reasons explain predictions of a target; this result is {result.task}")
    _shap()
    X = rows_of(result, rows)
    values = shap_explanation(result, X, seed=result.seed if seed is None else seed)
    return Reasons(name=result.name, shap_values=values)
