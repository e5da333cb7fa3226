"""Views of a ``TuneResult``: history, importance, parallel coordinates, slices, a heatmap,
and the HTML repr. matplotlib is imported inside the functions (Figure objects, no pyplot
state, so nothing is drawn twice in a notebook)."""
from __future__ import annotations

import base64
import html
import io
import math
import warnings

import numpy as np
import pandas as pd

from nbml.errors import NbmlError

KINDS = ("history", "importance", "parallel", "slice", "heatmap")


def _figure(ax, size=(6, 3.5)):
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


def draw_history(ax, numbers, scores, greater, metric):
    numbers, scores = np.asarray(numbers), np.asarray(scores, dtype=float)
    ok = np.isfinite(scores)
    ax.scatter(numbers[ok], scores[ok], s=14, alpha=0.7, label="trial")
    if ok.any():
        best = (np.fmax.accumulate if greater else np.fmin.accumulate)(np.where(ok, scores, np.nan))
        ax.step(numbers, best, where="post", color="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title("optimization history")
    ax.legend(loc="best", fontsize=8)


def draw_live_history(axes, records, greater, metric, best_of=None):
    """The live view's picture of the running search, drawn on ``axes[0]``."""
    done = [(i, r["score"] if r["state"] == "complete" else math.nan) for i, r in enumerate(records)]
    draw_history(axes[0], [d[0] for d in done], [d[1] for d in done], greater, metric)
    if best_of is not None:
        axes[0].set_title(f"optimization history — best {metric} {best_of['score']:.4f}")


def history_png(records, greater, metric, best_of=None) -> bytes | None:
    """PNG of the history of the running search (the live view's picture)."""
    if not records:
        return None
    fig, ax = _figure(None, (5.5, 3))
    draw_live_history([ax], records, greater, metric, best_of)
    return _png(fig)


def _param_columns(result) -> list:
    return [c for c in result.trials.columns if c in result.best_params or c in _short_space(result)]


def _short_space(result) -> dict:
    from nbml.space import short_name

    return {short_name(k, result.pipeline): d for k, d in result.space.items()}


def _completed(result) -> pd.DataFrame:
    t = result.trials
    return t[t["state"] == "complete"].sort_index()


def importances(result) -> pd.Series:
    """Parameter importances (Optuna's fANOVA) from the completed trials."""
    import optuna

    from nbml.tuning.optuna_space import _optuna_distributions

    dims = _short_space(result)
    done = _completed(result)
    names = [p for p in dims if p in done.columns]
    if len(done) < 2 or not names:
        raise NbmlError("importance needs at least two completed trials")
    if len(names) == 1:
        return pd.Series({names[0]: 1.0}, name="importance")
    dists = _optuna_distributions({n: dims[n] for n in names})
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if result.greater else "minimize")
    for _, row in done.iterrows():
        params = {}
        for n in names:
            v = row[n]
            dist = dists[n]
            if isinstance(dist, optuna.distributions.CategoricalDistribution):
                labels = list(dist.choices)
                v = v if v in labels else (repr(v) if repr(v) in labels else next(
                    (lab for lab in labels if str(lab) == str(v)), labels[0]))
            elif pd.isna(v):
                continue
            params[n] = v
        if len(params) != len(names):
            continue
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=float(row["score"])))
    values = optuna.importance.get_param_importances(study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    return pd.Series(values, name="importance")


def _numeric(series: pd.Series, dim=None):
    """Values on an axis: numbers (log10 for log dimensions), categories as their index."""
    if dim is not None and getattr(dim, "log", False):
        return np.log10(series.astype(float)), True
    try:
        return series.astype(float), False
    except (TypeError, ValueError):
        cats = list(dict.fromkeys(series.map(str)))
        return series.map(str).map(cats.index).astype(float), False


def plot(result, kind="history", params=None, ax=None):
    if kind not in KINDS:
        raise NbmlError(f"kind={kind!r} is not a tuning plot; use one of {', '.join(KINDS)}")
    if kind == "history":
        return _plot_history(result, ax)
    done = _completed(result)
    if len(done) == 0:
        raise NbmlError("no completed trial to plot")
    dims = _short_space(result)
    names = [p for p in dims if p in done.columns]
    draw = {"importance": _plot_importance, "slice": _plot_slice, "parallel": _plot_parallel,
            "heatmap": _plot_heatmap}[kind]
    return draw(result, done, dims, names, params=params, ax=ax)


def _plot_history(result, ax):
    t = result.trials.sort_index()
    scores = t["score"].where(t["state"] == "complete")
    fig, ax = _figure(ax)
    draw_history(ax, t.index.to_numpy(), scores.to_numpy(), result.greater, result.metric)
    return fig


def _plot_importance(result, done, dims, names, params=None, ax=None):
    imp = importances(result).sort_values()
    fig, ax = _figure(ax, (5, 0.5 + 0.4 * len(imp)))
    ax.barh(imp.index.astype(str), imp.to_numpy())
    ax.set_xlabel("importance (fANOVA)")
    ax.set_title("parameter importance")
    return fig


def _plot_slice(result, done, dims, names, params=None, ax=None):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.2 * len(names), 3), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for a, name in zip(axes, names):
        values = done[name]
        try:
            x = values.astype(float)
            a.scatter(x, done["score"], s=12, c=np.arange(len(done)), cmap="viridis")
            if getattr(dims[name], "log", False):
                a.set_xscale("log")
        except (TypeError, ValueError):
            cats = list(dict.fromkeys(values.map(str)))
            a.scatter(values.map(str).map(cats.index), done["score"], s=12)
            a.set_xticks(range(len(cats)), cats, rotation=30, fontsize=7)
        a.set_xlabel(name)
    axes[0].set_ylabel(result.metric)
    return fig


def _plot_parallel(result, done, dims, names, params=None, ax=None):
    from matplotlib import colormaps

    fig, ax = _figure(ax, (1.6 * (len(names) + 1), 3.5))
    cols = []
    for name in names:
        x, _ = _numeric(done[name], dims[name])
        span = x.max() - x.min()
        cols.append((x - x.min()) / span if span > 0 else x * 0 + 0.5)
    s = done["score"].astype(float)
    span = s.max() - s.min()
    cols.append((s - s.min()) / span if span > 0 else s * 0 + 0.5)
    data = np.column_stack(cols)
    order = np.argsort(s.to_numpy() if result.greater else -s.to_numpy())
    cmap = colormaps["viridis"]
    for i in order:
        ax.plot(range(data.shape[1]), data[i], color=cmap(data[i, -1]), alpha=0.6, lw=1)
    ax.set_xticks(range(data.shape[1]), names + [result.metric], rotation=20)
    ax.set_yticks([])
    ax.set_title("parallel coordinates (colour: score)")
    return fig


def _plot_heatmap(result, done, dims, names, params=None, ax=None):
    """Mean score per cell of two parameters (by default the two most important)."""
    if params is None:
        if len(names) < 2:
            raise NbmlError("a heatmap needs two parameters; the space has " + ", ".join(names))
        try:
            params = tuple(importances(result).sort_values(ascending=False).index[:2])
        except Exception as exc:  # noqa: BLE001 - fANOVA has many ways to fail; any two parameters still make a heatmap
            params = tuple(names[:2])
            warnings.warn(f"the heatmap shows {params[0]} and {params[1]}, not the two most important parameters: "
                          f"their importances could not be computed ({type(exc).__name__}: {exc})", stacklevel=3)
    if len(params) != 2 or any(p not in names for p in params):
        raise NbmlError(f"params={params!r} must name two parameters of the space: {', '.join(names)}")
    table = pd.DataFrame({p: _binned(done[p], dims[p]) for p in params})
    table["score"] = done["score"].astype(float)
    grid = table.pivot_table(index=params[1], columns=params[0], values="score", aggfunc="mean", observed=False)
    fig, ax = _figure(ax, (5.5, 4))
    image = ax.imshow(grid.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns], rotation=30, fontsize=7)
    ax.set_yticks(range(grid.shape[0]), [str(r) for r in grid.index], fontsize=7)
    ax.set_xlabel(params[0])
    ax.set_ylabel(params[1])
    fig.colorbar(image, ax=ax, label=f"mean {result.metric}")
    return fig


def _binned(values: pd.Series, dim, bins=6):
    if dim is not None and dim.is_categorical:
        return values.map(str)
    try:
        x = values.astype(float)
    except (TypeError, ValueError):
        return values.map(str)
    if x.nunique() <= bins:
        return x.map(lambda v: f"{v:.3g}")
    edges = np.unique(np.quantile(np.log10(x) if getattr(dim, "log", False) else x, np.linspace(0, 1, bins + 1)))
    if getattr(dim, "log", False):
        edges = 10 ** edges
    cut = pd.cut(x, edges, include_lowest=True)
    return cut.map(lambda iv: f"{iv.left:.3g}–{iv.right:.3g}")


def result_html(result) -> str:
    from nbml import options

    lines = result.summary_lines()
    parts = [f"<div class='nbml-tune'><b>{html.escape(lines[0])}</b>"]
    parts += [f"<div>{html.escape(line)}</div>" for line in lines[1:]]
    if result.best_metrics and result.untuned:
        parts.append("<div><i>validation metrics, untuned vs tuned</i></div>")
        parts.append(result.comparison().round(4).to_html())
    if len(result.trials):
        parts.append("<div><i>trials (best first)</i></div>")
        parts.append(result.trials.head(10).to_html(float_format=lambda v: f"{v:.4g}", na_rep=""))
    if options.plots and len(result.trials):
        png = _png(plot(result, "history"))
        parts.append(f"<img src='data:image/png;base64,{base64.b64encode(png).decode()}'/>")
    parts.append("</div>")
    return "\n".join(parts)
