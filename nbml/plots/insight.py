"""What a model relies on: permutation importance, the model's own importances and partial
dependence, as Display objects.

Core (``nbml.evaluation``) computes the numbers once and stores them in these objects;
``plot(ax)`` only draws, so a figure can be redrawn (or drawn in a widget) without touching
the model again. Partial dependence is drawn by scikit-learn's ``PartialDependenceDisplay``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from nbml.errors import NbmlError

# the box plot and bar chart show at most this many features (the table keeps all)
MAX_SHOWN = 15


def _axes(ax, width=5.0, height=None, n=1):
    if ax is not None:
        return ax.figure, ax
    from nbml.plots import new_figure

    fig, axes = new_figure(1, width=width, height=height or max(2.5, 0.28 * n + 1.2))
    return fig, axes[0]


class PermutationImportanceDisplay:
    """How much the score drops when one input column is shuffled, over ``n_repeats``
    shuffles, on held-out rows.

    ``importances``: array (n_features, n_repeats) of score drops, one row per column of
    ``feature_names`` (the user's own columns: the whole pipeline, preprocessing included,
    is scored on the shuffled raw data).
    """

    def __init__(self, importances, feature_names, scoring: str, label: str, n_rows: int, n_repeats: int):
        self.importances = np.asarray(importances, dtype=float)
        self.feature_names = [str(name) for name in feature_names]
        self.scoring, self.label, self.n_rows, self.n_repeats = scoring, label, n_rows, n_repeats

    @property
    def title(self) -> str:
        return f"Permutation importance on the {self.label} rows (n={self.n_rows})"

    @property
    def table(self) -> pd.DataFrame:
        """One row per input column, largest mean drop first."""
        table = pd.DataFrame({"feature": self.feature_names, "mean": self.importances.mean(axis=1),
                              "std": self.importances.std(axis=1)})
        return table.sort_values("mean", ascending=False, kind="stable").reset_index(drop=True)

    def top(self, k: int) -> list[str]:
        return list(self.table["feature"][:k])

    def plot(self, ax=None):
        """A box plot per feature (spread over the repeats), largest mean drop on top."""
        shown = self.table["feature"][:MAX_SHOWN].tolist()[::-1]
        index = {name: i for i, name in enumerate(self.feature_names)}
        fig, ax = _axes(ax, n=len(shown))
        ax.boxplot([self.importances[index[name]] for name in shown], orientation="horizontal", widths=0.6)
        ax.set_yticks(range(1, len(shown) + 1), shown)
        ax.axvline(0, color="#888", linestyle="--", linewidth=0.8)
        more = f"\ntop {len(shown)} of {len(self.feature_names)} columns" if len(self.feature_names) > len(shown) else ""
        ax.set_xlabel(f"drop in {self.scoring} when shuffled ({self.n_repeats} repeats){more}")
        ax.set_title(self.title.replace(" on the ", " on the\n"), fontsize=10)
        return fig


class ModelImportanceDisplay:
    """The model's own view of its inputs: ``coef_`` (signed, one column per class for a
    multiclass linear model) or impurity ``feature_importances_``, on the features the model
    sees, i.e. after preprocessing (scaled numbers, one-hot columns)."""

    def __init__(self, table: pd.DataFrame, kind: str):
        self.table = table  # index: transformed feature names; columns: values (per class)
        self.kind = kind    # "coefficient" or "impurity"

    @property
    def title(self) -> str:
        what = "coefficients" if self.kind == "coefficient" else "impurity importances"
        return f"The model's own {what} (features after preprocessing)"

    def strength(self) -> pd.Series:
        """Per feature: |value| (the largest over classes)."""
        return self.table.abs().max(axis=1)

    def plot(self, ax=None):
        order = self.strength().sort_values(ascending=False).index[:MAX_SHOWN][::-1]
        shown = self.table.loc[order]
        fig, ax = _axes(ax, n=len(shown))
        positions = np.arange(len(shown))
        columns = list(shown.columns)
        height = 0.8 / len(columns)
        for j, column in enumerate(columns):
            values = shown[column].to_numpy(dtype=float)
            colors = None if len(columns) > 1 else np.where(values >= 0, "#1f77b4", "#d62728")
            ax.barh(positions + (j - (len(columns) - 1) / 2) * height, values, height=height, color=colors,
                    label=column if len(columns) > 1 else None)
        ax.set_yticks(positions, [str(name) for name in shown.index])
        ax.axvline(0, color="#888", linewidth=0.8)
        if len(columns) > 1:
            ax.legend(fontsize=7, title="class", title_fontsize=7)
        ax.set_xlabel("coefficient (scaled features)" if self.kind == "coefficient" else "impurity importance")
        ax.set_title("Model's own " + ("coefficients" if self.kind == "coefficient" else "importances")
                     + " (after preprocessing)", fontsize=10)
        return fig


class DependenceDisplay:
    """Partial dependence of a few input columns: the model's average prediction (positive
    class probability, each class's probability, or the regression output) as one column
    is set to each value of a grid while the others keep their held-out values.

    ``results``: one scikit-learn ``partial_dependence`` Bunch per feature; ``targets``: the
    output names (classes) drawn, with their index into ``results[i].average``.
    """

    def __init__(self, results, feature_names, categorical, deciles, targets, ylabel: str, label: str,
                 n_rows: int):
        self.results, self.feature_names = list(results), list(feature_names)
        self.categorical, self.deciles = list(categorical), deciles
        self.targets, self.ylabel, self.label, self.n_rows = list(targets), ylabel, label, n_rows

    @property
    def title(self) -> str:
        return f"Partial dependence on the {self.label} rows (n={self.n_rows})"

    def plot(self, ax=None):
        """One axes per feature: a list of axes, one Axes (split into a row) or None."""
        from sklearn.inspection import PartialDependenceDisplay

        n = len(self.feature_names)
        if ax is None:
            from nbml.plots import new_figure

            fig, axes = new_figure(n, width=3.4, height=3.0)
        elif isinstance(ax, (list, tuple, np.ndarray)):
            axes = list(np.ravel(ax))
            fig = axes[0].figure
        else:  # one axes: split its place into a row
            fig = ax.figure
            grid = ax.get_subplotspec().subgridspec(1, n, wspace=0.35)
            ax.set_axis_off()
            axes = [fig.add_subplot(grid[0, i]) for i in range(n)]
        if len(axes) != n:
            raise NbmlError(f"ax: partial dependence of {n} features needs {n} axes, got {len(axes)}")
        many = len(self.targets) > 1
        # one y range for every class, or each class's drawing would reset it to its own
        values = np.concatenate([r.average[[index for _, index in self.targets]].ravel() for r in self.results])
        pad = 0.05 * (values.max() - values.min() or 1.0)
        for j, (name, index) in enumerate(self.targets):
            display = PartialDependenceDisplay(
                self.results, features=[(i,) for i in range(n)], feature_names=self.feature_names,
                target_idx=index, deciles=self.deciles, kind="average",
                is_categorical=[(cat,) for cat in self.categorical])
            style = {"label": str(name), "color": f"C{j}"} if many else {}
            display.plot(ax=axes, line_kw=style, bar_kw={**style, "alpha": 0.45} if many else None,
                         pdp_lim={1: (values.min() - pad, values.max() + pad)})
        for i, axis in enumerate(axes):
            axis.set_ylabel(self.ylabel if i == 0 else "")
            labels = self.results[i].get("labels")
            if labels is not None:
                axis.set_xticks(range(len(labels)), labels, rotation=90 if len(labels) > 4 else 0)
            if len(self.targets) > 1 and i == 0:
                axis.legend(fontsize=7, title="class", title_fontsize=7)
            elif axis.get_legend() is not None:
                axis.get_legend().remove()
        fig.suptitle(self.title, fontsize=10)
        return fig


def draw_insight(evaluation, kind: str):
    """The figure of ``kind`` ("importance" or "pdp") for an ``nbml.evaluation.Evaluation``;
    None when it was not computed."""
    from nbml.plots import new_figure

    if kind == "importance":
        if evaluation.permutation is None:
            return None
        shown = [d for d in (evaluation.permutation, evaluation.own) if d is not None]
        rows = max(min(len(d.table), MAX_SHOWN) for d in shown)
        fig, axes = new_figure(len(shown), width=5.0, height=max(2.5, 0.28 * rows + 1.2))
        for display, ax in zip(shown, axes):
            display.plot(ax=ax)
        return fig
    if kind == "pdp":
        return None if evaluation.dependence is None else evaluation.dependence.plot()
    raise NbmlError(f"kind={kind!r} is not an insight plot; use importance or pdp")
