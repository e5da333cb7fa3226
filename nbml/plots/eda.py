"""Views of an ``EdaReport``: histograms, top categories, correlation heatmap, scatter
matrix and the target's distribution.

Each view is one matplotlib ``Figure`` made without pyplot, drawn from what the report
computed (plots use its seeded sample). Wide frames are capped at ``report.max_plots``
panels a view; the caption returned with each figure names what was left out.
"""
from __future__ import annotations

import math

import numpy as np

HEATMAP_MAX = 30        # columns shown in the correlation heatmap
ANNOTATE_MAX = 12       # write r in each cell up to this many columns
SCATTER_VARIABLES = 4   # features in the scatter matrix
SCATTER_POINTS = 5_000  # points per scatter panel (of the sample)
TOP_CATEGORIES = 10
TARGET_CLASSES = 20


def draw(report, kind: str):
    """(Figure or None, caption) for ``kind``."""
    return {"target": target_view, "histograms": histograms, "categories": categories,
            "correlation": heatmap, "scatter": scatter_matrix}[kind](report)


def _grid(n: int, ncols: int = 4, width: float = 3.0, height: float = 2.4):
    """``n`` panels in rows of ``ncols``. A fixed layout rather than a constrained one:
    the layout solver costs more than drawing a dozen panels."""
    from matplotlib.figure import Figure

    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(width * ncols, height * nrows))
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        fig.delaxes(ax)
    top = 1 - 0.3 / (height * nrows)
    bottom = 0.35 / (height * nrows)
    fig.subplots_adjust(left=0.6 / (width * ncols) + 0.02, right=0.98, top=top, bottom=bottom,
                        hspace=0.55, wspace=0.35)
    return fig, axes[:n]


def _hist(ax, x, bins: int = 30, color: str = "#4c72b0"):
    """A histogram as one filled step artist (fast to render)."""
    x = x[np.isfinite(x)]
    if not len(x):
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        return
    if x.min() == x.max():
        counts, edges = np.array([len(x)]), np.array([x.min() - 0.5, x.max() + 0.5])
    else:
        counts, edges = np.histogram(x, bins=bins)
    ax.stairs(counts, edges, fill=True, color=color)


def _few_ticks(ax, size: int = 7):
    """Four ticks a side: ticks and their labels are most of a small panel's drawing time."""
    ax.locator_params(nbins=4)
    ax.tick_params(labelsize=size)


def _short(name, limit: int = 24) -> str:
    text = str(name)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _left_out(shown: int, names: list, what: str) -> str:
    if shown >= len(names):
        return ""
    rest = [str(n) for n in names[shown:]]
    listed = ", ".join(rest[:8]) + (", …" if len(rest) > 8 else "")
    return f"{shown} of {len(names)} {what} shown; left out {len(rest)}: {listed}"


def _sample_words(report) -> str:
    return f"sample of {report.sample_size:,} of {report.n_rows:,} rows" if report.sampled else ""


def _join(*parts) -> str:
    return "; ".join(p for p in parts if p)


def _ranked_numeric(report, kinds=("numeric",)) -> list:
    """Numeric feature columns, the ones most associated with the target first."""
    empty = report.overview.index[report.overview["missing"] == report.n_rows]
    skip = set(report.identifiers) | {report.target} | set(empty)
    cols = [c for c in report.overview.index if report.overview.at[c, "kind"] in kinds and c not in skip]
    if report.target is None or not len(report.top_features):
        return cols
    strength = report.top_features["strength"]
    ranked = [c for c in strength.index if c in set(cols)]
    return ranked + [c for c in cols if c not in set(ranked)]


def histograms(report):
    cols = _ranked_numeric(report)
    if not cols:
        return None, "no numeric columns"
    shown = cols[:report.max_plots]
    fig, axes = _grid(len(shown))
    data = report.sample_frame
    for col, ax in zip(shown, axes):
        _hist(ax, data[col].to_numpy(dtype=float, na_value=np.nan))
        ax.set_title(_short(col), fontsize=9)
        _few_ticks(ax)
    ids = [str(c) for c in report.identifiers if report.overview.at[c, "kind"] == "numeric"]
    skipped = f"identifiers not drawn: {', '.join(ids)}" if ids else ""
    return fig, _join(_left_out(len(shown), cols, "numeric columns"), skipped, _sample_words(report))


def categories(report):
    n = report.n_rows
    cols, identifiers = [], []
    for col, counts in report.top_categories.items():
        (identifiers if col in report.identifiers else cols).append(col)
    if not cols:
        return None, "no categorical columns" + (f" besides identifiers ({', '.join(map(str, identifiers))})"
                                                  if identifiers else "")
    shown = cols[:report.max_plots]
    fig, axes = _grid(len(shown), ncols=3, width=3.8, height=2.6)
    fig.subplots_adjust(left=0.1, wspace=0.7)
    for col, ax in zip(shown, axes):
        counts = report.top_categories[col]
        labels = [_short(v, 18) for v in counts.index][::-1]
        ax.barh(range(len(counts)), counts.to_numpy()[::-1], color="#55a868")
        ax.set_yticks(range(len(counts)), labels, fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        distinct = counts.attrs.get("distinct", len(counts))
        title = _short(col) + (f" (top {len(counts)} of {distinct:,})" if distinct > len(counts) else "")
        ax.set_title(title, fontsize=9)
    skipped = f"identifiers not drawn: {', '.join(map(str, identifiers))}" if identifiers else ""
    return fig, _join(_left_out(len(shown), cols, "categorical columns"), skipped,
                      f"counts of all {n:,} rows")


def heatmap(report):
    corr = report.correlation
    cols = list(corr.columns)
    if len(cols) < 2:
        return None, "fewer than two numeric columns: no correlation matrix"
    if len(cols) > HEATMAP_MAX:
        if report.target is not None and report.target in cols:
            ranked = [c for c in _ranked_numeric(report, ("numeric", "boolean")) if c in cols]
            chosen = [report.target] + ranked
        else:
            strength = corr.abs().where(~np.eye(len(cols), dtype=bool)).max().fillna(0)
            chosen = list(strength.sort_values(ascending=False, kind="stable").index)
        keep = set(chosen[:HEATMAP_MAX])
        order = [c for c in cols if c in keep]
        left = [c for c in chosen if c not in keep] + [c for c in cols if c not in set(chosen)]
        note = _left_out(len(order), order + left, "columns")
    else:
        order, note = cols, ""
    r = corr.loc[order, order].to_numpy()
    size = min(12.0, 2.5 + 0.35 * len(order))
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size + 1.2, size), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(r, cmap="RdBu_r", vmin=-1, vmax=1)
    labels = [_short(c, 18) for c in order]
    font = 8 if len(order) <= 20 else 6
    ax.set_xticks(range(len(order)), labels, rotation=90, fontsize=font)
    ax.set_yticks(range(len(order)), labels, fontsize=font)
    if len(order) <= ANNOTATE_MAX:
        for i in range(len(order)):
            for j in range(len(order)):
                if np.isfinite(r[i, j]):
                    ax.text(j, i, f"{r[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if abs(r[i, j]) > 0.6 else "black")
    fig.colorbar(image, ax=ax, shrink=0.8, label="Pearson r")
    ax.set_title("Correlation matrix")
    sample = f"on the {_sample_words(report)}" if report.correlation_on_sample else f"on all {report.n_rows:,} rows"
    return fig, _join(note, sample)


def _scatter_columns(report) -> tuple[list, str]:
    numeric = [c for c in report.correlation.columns if report.overview.at[c, "kind"] == "numeric"]
    if report.target is not None:
        ranked = [c for c in _ranked_numeric(report) if c in set(numeric)]
        return ranked[:SCATTER_VARIABLES], f"the {SCATTER_VARIABLES} numeric features most associated with the target"
    corr = report.correlation.loc[numeric, numeric]
    if len(numeric) < 2:
        return numeric, ""
    strength = corr.abs().where(~np.eye(len(numeric), dtype=bool)).max().fillna(0)
    chosen = list(strength.sort_values(ascending=False, kind="stable").index[:SCATTER_VARIABLES])
    return [c for c in numeric if c in chosen], f"the {SCATTER_VARIABLES} most correlated numeric columns"


def scatter_matrix(report):
    features, why = _scatter_columns(report)
    regression = report.task == "regression"
    variables = features + ([report.target] if regression else [])
    if len(variables) < 2 and not (report.task == "classification" and features):
        return None, "fewer than two numeric columns: no scatter matrix"
    data = report.sample_frame.iloc[:SCATTER_POINTS]
    values = {c: data[c].to_numpy(dtype=float, na_value=np.nan) for c in variables}
    colors, legend = None, []
    if report.task == "classification":
        y = data[report.target]
        top = y.value_counts().index[:10]
        palette = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
                   "#ccb974", "#64b5cd"]
        lookup = {label: palette[i] for i, label in enumerate(top)}
        colors = np.array([lookup.get(v, "#bbbbbb") for v in y], dtype=object)
        legend = list(lookup.items())
    k = len(variables)
    from matplotlib.figure import Figure

    width = 2.2 * k + (1.3 if legend else 0)
    fig = Figure(figsize=(width, 2.1 * k))
    axes = fig.subplots(k, k, squeeze=False)
    fig.subplots_adjust(left=0.55 / width + 0.03, bottom=0.5 / (2.1 * k) + 0.02, top=0.98,
                        right=1 - (1.3 / width if legend else 0.02), hspace=0.08, wspace=0.08)
    for i, row in enumerate(variables):
        for j, col in enumerate(variables):
            ax = axes[i, j]
            if i == j:
                _hist(ax, values[col])
            else:
                x, y_ = values[col], values[row]
                ok = np.isfinite(x) & np.isfinite(y_)
                if legend:
                    for label, color in legend + [(None, "#bbbbbb")]:
                        mask = ok & (colors == color)
                        if mask.any():
                            ax.plot(x[mask], y_[mask], ".", ms=2, alpha=0.5, color=color, rasterized=True)
                else:
                    ax.plot(x[ok], y_[ok], ".", ms=2, alpha=0.4, color="#4c72b0", rasterized=True)
            _few_ticks(ax, 6)
            if i < k - 1:
                ax.tick_params(labelbottom=False)
            else:
                ax.set_xlabel(_short(col, 16), fontsize=8)
            if j > 0:
                ax.tick_params(labelleft=False)
            else:
                ax.set_ylabel(_short(row, 16), fontsize=8)
    if legend:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], marker="o", linestyle="", color=c, label=_short(lbl, 14)) for lbl, c in legend]
        fig.legend(handles=handles, title=_short(report.target, 14), loc="upper right", fontsize=7)
    shown = f"{len(data):,} points" + (f" of the {_sample_words(report)}" if report.sampled else "")
    return fig, _join(f"{why}" + (" (colour: target class)" if legend else ""), shown)


def target_view(report):
    if report.target is None:
        return None, "no target given"
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 3.4), layout="constrained")
    ax = fig.subplots()
    name = _short(report.target)
    if report.task == "classification":
        counts = report.target_summary["rows"]
        shown = counts.iloc[:TARGET_CLASSES]
        ax.barh(range(len(shown)), shown.to_numpy()[::-1], color="#4c72b0")
        ax.set_yticks(range(len(shown)), [_short(v, 18) for v in shown.index][::-1], fontsize=8)
        for i, v in enumerate(shown.to_numpy()[::-1]):
            ax.text(v, i, f" {v / counts.sum():.1%}", va="center", fontsize=7)
        ax.set_xlim(0, shown.max() * 1.18)  # room for the shares
        ax.set_xlabel("rows")
        ax.set_title(f"Class balance of {name}")
        return fig, _join(_left_out(len(shown), list(counts.index), "classes"), f"all {report.n_rows:,} rows")
    _hist(ax, report.sample_frame[report.target].to_numpy(dtype=float, na_value=np.nan), bins=40)
    ax.set_title(f"Distribution of {name}")
    ax.set_xlabel(name)
    return fig, _sample_words(report)
