"""Views of drift reports: distribution plots (matplotlib Figures, no pyplot) and HTML."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from nbml.errors import NbmlError

_COLORS = {"drift": "#c0392b", "warning": "#d68910", "ok": "#1e8449"}


def plot_drift(report, n: int = 4, features=None):
    """Training vs new distributions of the ``n`` most drifted features (or ``features``)."""
    from matplotlib.figure import Figure

    if features is None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise NbmlError(f"n={n!r} must be a positive integer (how many features to plot)")
        features = [f for f in report.table.index if report.table.loc[f, "kind"] != "prediction"][:n]
    else:
        features = [features] if isinstance(features, str) else list(features)
        unknown = [f for f in features if f not in report.kinds]
        if unknown:
            raise NbmlError(f"unknown feature(s) {', '.join(map(repr, unknown))}; the report has "
                            f"{', '.join(map(repr, report.kinds))}")
    cols = min(len(features), 4) or 1
    rows = int(np.ceil(len(features) / cols)) or 1
    fig = Figure(figsize=(3.6 * cols, 2.8 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, feature in zip(axes, features):
        ref, new = report.reference[feature], report.current[feature]
        if report.kinds[feature] in ("numeric", "datetime"):
            _hist(ax, ref, new)
        else:
            _bars(ax, ref, new)
        row = report.table.loc[feature]
        ax.set_title(f"{feature}\nPSI {row['psi']:.2f}, {row['verdict']}", fontsize=9,
                     color=_COLORS.get(row["verdict"], "black"))
        ax.tick_params(labelsize=7)
    for ax in axes[len(features):]:
        ax.set_visible(False)
    if features:
        axes[0].legend(fontsize=7)
    return fig


def _hist(ax, ref, new):
    ref = pd.to_numeric(pd.Series(ref), errors="coerce").dropna().to_numpy(float)
    new = pd.to_numeric(pd.Series(new), errors="coerce").dropna().to_numpy(float)
    both = np.concatenate([ref, new])
    if len(both) == 0:
        return
    edges = np.histogram_bin_edges(both, bins=30)
    ax.hist(ref, bins=edges, density=True, alpha=0.5, label="training", color="#2e86c1")
    ax.hist(new, bins=edges, density=True, alpha=0.5, label="new", color="#e67e22")


def _bars(ax, ref, new):
    r = pd.Series(ref).dropna().astype(str).value_counts(normalize=True)
    c = pd.Series(new).dropna().astype(str).value_counts(normalize=True)
    cats = list(r.index[:12]) + [k for k in c.index[:12] if k not in r.index[:12]]
    cats = cats[:15]
    x = np.arange(len(cats))
    ax.bar(x - 0.2, r.reindex(cats, fill_value=0), width=0.4, label="training", color="#2e86c1")
    ax.bar(x + 0.2, c.reindex(cats, fill_value=0), width=0.4, label="new", color="#e67e22")
    ax.set_xticks(x, cats, rotation=45, ha="right")


def report_html(report) -> str:
    from nbml import options
    from nbml.plots import png_base64

    level = report.level
    color = _COLORS.get(level, "#555")
    table = report.table.copy()
    for col in ("psi", "statistic", "p_value"):
        table[col] = table[col].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
    parts = [f'<div class="nbml"><div style="font-weight:bold;color:{color}">{html.escape(report.verdict)}</div>',
             table.to_html(border=0)]
    if report.performance is not None and len(report.performance):
        parts.append("<div><b>Performance</b> (validation vs new rows)</div>")
        parts.append(report.performance.round(4).to_html(border=0))
    if options.plots and len(report.kinds):
        parts.append(f'<img src="data:image/png;base64,{png_base64(report.plot())}"/>')
    parts.append("</div>")
    return "".join(parts)
