"""``fairness()``: a model's metrics per group of rows and the largest gaps between groups,
through fairlearn's ``MetricFrame`` (``nbml[fairness]``), on held-out rows only.

Classification: accuracy, selection rate (the share predicted as the positive class), true and
false positive rates, and the two gaps fairlearn defines — the demographic parity difference
(the largest gap in selection rate) and the equalized odds difference (the larger of the
largest TPR gap and the largest FPR gap). The positive class is the last class (a binary
result's positive class, scikit-learn's convention) unless ``pos_label`` names another; a
multiclass result's rates are that class against the rest. Regression: MAE and R² per group and
their largest gaps. A number column with more than ``MAX_GROUPS`` distinct values is cut into
quartiles (of the training rows) so that groups have rows.

(The module is not called ``fairness``: ``nbml.fairness`` is the function.)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nbml.errors import NbmlError

MAX_GROUPS = 10  # a number column with more distinct held-out values is cut into quartiles


def _fairlearn():
    try:
        import fairlearn.metrics as metrics
    except ImportError:
        raise NbmlError("fairness metrics need fairlearn: pip install nbml[fairness]") from None
    return metrics


@dataclass(kw_only=True, repr=False)
class FairnessReport:
    """``by_group`` (one row per group: rows and each metric), ``overall`` (each metric on all
    the rows), ``gaps`` (the largest differences between groups), ``frame`` (fairlearn's
    ``MetricFrame``) and ``notes`` (how number columns were grouped)."""

    name: str
    on: str
    by: list
    by_group: pd.DataFrame
    overall: pd.Series
    gaps: pd.Series
    frame: object = None
    pos_label: object = None
    notes: list = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return int(self.by_group["rows"].sum())

    def _headline(self) -> str:
        part = {"val": "validation", "test": "test"}[self.on]
        from nbml.plots import _class_name

        positive = "" if self.pos_label is None else f"; positive class {_class_name(self.pos_label)!r}"
        return f"Fairness of {self.name} by {', '.join(map(str, self.by))} on {self.n_rows} {part} rows{positive}"

    def __repr__(self) -> str:
        lines = [self._headline(), self.by_group.to_string(float_format=lambda v: f"{v:.4g}"), "largest gaps:",
                 self.gaps.to_string(float_format=lambda v: f"{v:.4g}")]
        return "\n".join(lines + self.notes)

    def _repr_html_(self) -> str:
        gaps = self.gaps.to_frame("largest gap between groups")
        parts = [f"<p><b>{self._headline()}</b></p>", self.by_group.to_html(float_format=lambda v: f"{v:.4g}"),
                 gaps.to_html(float_format=lambda v: f"{v:.4g}")]
        return "\n".join(parts + [f"<p>{note}</p>" for note in self.notes])


def _groups(split, X, by):
    """The group columns of the held-out rows ``X`` (numbers with many values as quartile bins)."""
    columns = list(X.columns)
    names = [by] if isinstance(by, str) else list(by)
    by = [c for c in (name.strip() if isinstance(name, str) else name for name in names) if c != ""]
    unknown = [c for c in by if c not in columns]
    if not by or unknown:
        what = f"column {unknown[0]!r} is not in the split" if unknown else "by names no column"
        raise NbmlError(f"{what}; its columns are {', '.join(map(str, columns))}")
    groups, notes = pd.DataFrame(index=X.index), []
    for name in by:
        column = X[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column) \
                and column.nunique() > MAX_GROUPS:
            edges = np.unique(np.nanquantile(split.X_train[name].to_numpy(dtype=float), [0, 0.25, 0.5, 0.75, 1]))
            edges[0], edges[-1] = -np.inf, np.inf
            column = pd.cut(column, edges).astype(str)
            notes.append(f"{name}: a number column, grouped in {len(edges) - 1} bins at the training rows' quartiles")
        groups[str(name)] = column.astype(object).where(column.notna(), "missing")
    return groups, by, notes


def _classification_metrics(fl, pos_label):
    from sklearn.metrics import accuracy_score

    def binary(metric):
        return lambda y_true, y_pred: metric(np.asarray(y_true) == pos_label, np.asarray(y_pred) == pos_label,
                                             pos_label=True)

    return {"accuracy": accuracy_score, "selection rate": binary(fl.selection_rate),
            "true positive rate": binary(fl.true_positive_rate), "false positive rate": binary(fl.false_positive_rate)}


def fairness(result, by, on: str = "val", pos_label=None) -> FairnessReport:
    """Metrics of ``result``'s model per group of its held-out rows (``on``: ``"val"``, default,
    or ``"test"``), the groups being the values of the column(s) ``by`` (one name, a
    comma-separated string or a list: several columns make their combinations), and the largest
    gaps between groups. Needs ``pip install nbml[fairness]``."""
    from nbml.evaluation import _check_held_out
    from nbml.training import TrainResult

    if not isinstance(result, TrainResult):
        raise NbmlError(f"fairness needs a TrainResult (from nbml.train / %%train -o NAME); got {type(result).__name__}")
    if result.task not in ("classification", "regression"):
        raise NbmlError(f"fairness compares predictions with a target; this result is {result.task}")
    if on not in ("val", "test"):
        raise NbmlError(f"on={on!r}: fairness is measured on held-out rows, 'val' or 'test'")
    fl = _fairlearn()
    _check_held_out(result, on)
    X, y = result.split.part(on)
    if len(X) == 0:
        raise NbmlError(f"the split has no {on} rows; use the other held-out part")
    groups, by, notes = _groups(result.split, X, by.split(",") if isinstance(by, str) else by)
    y_pred = np.asarray(result.model.predict(X))
    if result.task == "classification":
        return _classification(fl, result, on, by, groups, np.asarray(y), y_pred, pos_label, notes)
    return _regression(fl, result, on, by, groups, np.asarray(y, dtype=float), y_pred, notes)


def _classification(fl, result, on, by, groups, y, y_pred, pos_label, notes):
    classes = list(result.model.classes_)
    pos_label = classes[-1] if pos_label is None else pos_label
    if pos_label not in classes:  # a class written as text (the command line's "1" for the class 1)
        pos_label = next((c for c in classes if str(c) == str(pos_label)), pos_label)
    if pos_label not in classes:
        raise NbmlError(f"pos_label={pos_label!r} is not a class of {result.name}; its classes are "
                        f"{', '.join(map(str, classes))}")
    frame = fl.MetricFrame(metrics={"rows": fl.count, **_classification_metrics(fl, pos_label)}, y_true=y,
                           y_pred=y_pred, sensitive_features=groups)
    true, called = y == pos_label, y_pred == pos_label
    gaps = pd.Series({
        "demographic parity difference": fl.demographic_parity_difference(true, called, sensitive_features=groups),
        "equalized odds difference": fl.equalized_odds_difference(true, called, sensitive_features=groups),
        "accuracy difference": frame.difference(method="between_groups")["accuracy"]})
    if len(classes) > 2:
        from nbml.plots import _class_name

        notes = notes + [f"rates are of {_class_name(pos_label)!r} against the other classes (pos_label= picks another)"]
    return FairnessReport(name=result.name, on=on, by=by, by_group=_table(frame), overall=frame.overall.drop("rows"),
                          gaps=gaps, frame=frame, pos_label=pos_label, notes=notes)


def _regression(fl, result, on, by, groups, y, y_pred, notes):
    from sklearn.metrics import mean_absolute_error, r2_score

    def r2(y_true, y_hat):
        return r2_score(y_true, y_hat) if len(y_true) > 1 else np.nan

    frame = fl.MetricFrame(metrics={"rows": fl.count, "mae": mean_absolute_error, "r2": r2}, y_true=y, y_pred=y_pred,
                           sensitive_features=groups)
    gaps = frame.difference(method="between_groups").drop("rows").rename(lambda m: f"{m} difference")
    return FairnessReport(name=result.name, on=on, by=by, by_group=_table(frame), overall=frame.overall.drop("rows"),
                          gaps=gaps, frame=frame, notes=notes)


def _table(frame) -> pd.DataFrame:
    table = frame.by_group.copy()
    table["rows"] = table["rows"].astype(int)
    return table
