"""Text and HTML representations of nbml's result objects (what a cell shows)."""
from __future__ import annotations

import html
import math
import weakref

import pandas as pd

from nbml import options

_STYLE = ("<style>.nbml{font-family:var(--jp-ui-font-family,sans-serif);font-size:13px}"
          ".nbml table{border-collapse:collapse;margin:4px 0}"
          ".nbml th,.nbml td{padding:2px 10px;text-align:right;border-bottom:1px solid #ddd}"
          ".nbml th:first-child,.nbml td:first-child{text-align:left}"
          ".nbml .head{font-weight:600;margin-bottom:2px}.nbml .note{color:#a15c00;margin:4px 0}"
          ".nbml .muted{color:#777}.nbml img{max-width:100%}</style>")


def fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        return f"{v:.4f}" if abs(v) < 1e4 else f"{v:.4g}"
    return str(v)


def metric_table(result) -> pd.DataFrame:
    """Train and validation side by side; with CV ``mean ± 2·std``."""
    if result.cv is None:
        table = pd.DataFrame({"train": [fmt(result.train_metrics.get(m, math.nan)) for m in result.metrics],
                              "validation": [fmt(v) for v in result.metrics.values()]},
                             index=list(result.metrics))
    else:
        s = result.cv_summary
        table = pd.DataFrame({"train": [f"{fmt(a)} ± {fmt(b)}" for a, b in zip(s["train"], s["train ±"])],
                              "validation": [f"{fmt(a)} ± {fmt(b)}" for a, b in zip(s["validation"],
                                                                                    s["validation ±"])]},
                             index=s.index)
    return with_missing_probabilities(table, result.task, getattr(result, "predictions", None))


def with_missing_probabilities(table: pd.DataFrame, task: str, predictions) -> pd.DataFrame:
    """A classifier without probabilities has no log loss: the table says so in words."""
    if task != "classification" or predictions is None or predictions.proba is not None or "log_loss" in table.index:
        return table
    return pd.concat([table, pd.DataFrame({c: ["no probabilities"] for c in table.columns}, index=["log_loss"])])


FITTED_ON_WORDS = {"train": "the training rows", "train+val": "train+val", "coreset": "the coreset's rows",
                   "all": "every labelled row (train+val+test)"}


def _headline(result) -> str:
    if result.fitted_on == "all":
        s = result.split
        how = f"fit on all {len(s.X_train) + len(s.X_val) + len(s.X_test)} labelled rows; scores measured before"
    elif result.cv is not None:
        rows = len(result.split.X_train) if result.fitted_on == "coreset" else len(result.split.X_trainval)
        how = f"{len(result.cv)}-fold CV on {'the coreset' if result.fitted_on == 'coreset' else 'train+val'} " \
              f"({rows} rows)"
    else:
        how = f"fit on {len(result.split.X_train)} rows, validated on {len(result.split.X_val)}"
    return f"{result.name} — {result.task}, {how}, {result.fit_time:.2f} s fitting"


def averaging_line(task, classes, metrics) -> str:
    """How precision, recall, f1 and roc_auc average over the classes, when the table shows them."""
    from nbml.metrics import averaging

    shown = {"precision", "recall", "f1", "roc_auc"} & set(metrics)
    return averaging(task, classes) if shown else ""


def _classes(result):
    predictions = getattr(result, "predictions", None)
    classes = getattr(predictions, "classes", None)
    return classes if classes is not None else getattr(result.split, "classes_", None)


def fitted_on_line(result) -> str:
    """Which rows the model behind the result is (or will be) fit on, in words."""
    words = FITTED_ON_WORDS.get(result.fitted_on, result.fitted_on)
    held = " and ".join({"val": "validation", "test": "test"}[p] for p in result.held_out_parts())
    return f"model fit on {words}" + (f"; {held} rows never seen by it" if held else "")


def result_text(result) -> str:
    lines = [_headline(result), fitted_on_line(result)]
    averaged = averaging_line(result.task, _classes(result), result.metrics)
    lines += [averaged] if averaged else []
    if result.comparison is not None:
        lines.append(result.comparison.to_string())
    else:
        lines.append(metric_table(result).to_string())
    lines += [text for text in (result.note, result.diagnosis) if text]
    return "\n".join(lines)


def _figure_html(fig) -> str:
    from nbml.plots import png_base64

    return f'<img src="data:image/png;base64,{png_base64(fig)}"/>'


_FIGURES = weakref.WeakKeyDictionary()  # result -> its figure's HTML


def result_html(result) -> str:
    from nbml.plots import DEFAULT_PLOTS, figure_of

    parts = [_STYLE, '<div class="nbml">', f'<div class="head">{html.escape(_headline(result))}</div>',
             f'<div class="muted">{html.escape(fitted_on_line(result))}</div>']
    averaged = averaging_line(result.task, _classes(result), result.metrics)
    if averaged:
        parts.append(f'<div class="muted">{html.escape(averaged)}</div>')
    parts.append(metric_table(result).to_html(border=0))
    if result.comparison is not None:
        parts.append('<div class="head">Members vs ensemble (same CV folds, validation mean ± 2·std)</div>')
        parts.append(result.comparison.to_html(border=0))
    if result.note:
        parts.append(f'<div class="head">{html.escape(result.note)}</div>')
    if result.diagnosis:
        parts.append(f'<div class="note">⚠ {html.escape(result.diagnosis)}</div>')
    if options.plots and result.predictions is not None:
        if result not in _FIGURES:  # drawn once per result; the cache lives here, not on the result
            fig = figure_of(result.predictions, DEFAULT_PLOTS[result.task])
            _FIGURES[result] = _figure_html(fig) if fig is not None else ""
        parts.append(_FIGURES[result])
    parts.append("</div>")
    return "".join(parts)


def split_html(split) -> str:
    text, notes = split._describe()
    parts = [_STYLE, '<div class="nbml">', f'<div class="head">Split: {html.escape(text)}</div>',
             split.summary().to_html(border=0)]
    if notes:
        parts.append(f'<div class="note">{html.escape(notes)}</div>')
    parts.append("</div>")
    return "".join(parts)


def _importance_table(ev, limit: int | None = None) -> pd.DataFrame:
    """Permutation importance (and the model's own, where a column reaches it as one
    feature), formatted; ``limit``: the top rows only."""
    table = ev.importance
    table = table if limit is None else table.head(limit)
    return table.assign(**{c: table[c].map(fmt) for c in table.columns if c != "feature"}).set_index("feature")


def _evaluation_table(ev) -> pd.DataFrame:
    table = pd.DataFrame({ev.on: [fmt(v) for v in ev.metrics.values()]}, index=list(ev.metrics))
    return with_missing_probabilities(table, ev.predictions.task, ev.predictions)


def evaluation_text(ev) -> str:
    table = _evaluation_table(ev)
    averaged = averaging_line(ev.predictions.task, ev.predictions.classes, ev.metrics)
    lines = [f"{ev.name} on {ev.on} ({ev.n_rows} rows)"] + ([averaged] if averaged else []) + [table.to_string()] \
        + ([ev.note] if ev.note else [])
    if ev.importance is not None:
        lines += [ev.permutation.title + ": score drop when a column is shuffled",
                  _importance_table(ev, 20).to_string()]
    return "\n".join(lines)


def evaluation_html(ev) -> str:
    table = _evaluation_table(ev)
    parts = [_STYLE, '<div class="nbml">',
             f'<div class="head">{html.escape(ev.name)} on {html.escape(ev.on)} ({ev.n_rows} rows)</div>']
    averaged = averaging_line(ev.predictions.task, ev.predictions.classes, ev.metrics)
    if averaged:
        parts.append(f'<div class="muted">{html.escape(averaged)}</div>')
    parts.append(table.to_html(border=0))
    if ev.note:
        parts.append(f'<div class="muted">{html.escape(ev.note)}</div>')
    if options.plots:
        fig = ev.figure()
        if fig is not None:
            parts.append(_figure_html(fig))
    if ev.importance is not None:
        what = (f"{ev.permutation.title}: drop in {ev.permutation.scoring} when a column is shuffled "
                f"(mean and std over {ev.permutation.n_repeats} shuffles)")
        parts.append(f'<div class="head">{html.escape(what)}</div>')
        if ev.own is not None:
            parts.append(f'<div class="muted">{html.escape(ev.own.title)}: in the last column where an input '
                         f'column reaches the model as one feature; all of them in .model_importance</div>')
        parts.append(_importance_table(ev, 20).to_html(border=0))
        if len(ev.importance) > 20:
            parts.append(f'<div class="muted">top 20 of {len(ev.importance)} columns; all in .importance</div>')
    for kind in ("importance", "pdp"):
        if options.plots and kind in ev.plots:
            fig = ev.insight_figure(kind)
            if fig is not None:
                parts.append(_figure_html(fig))
    parts.append("</div>")
    return "".join(parts)
