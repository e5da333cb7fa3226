"""Exploratory data analysis as data: ``eda(df, target=...)`` -> ``EdaReport``.

Everything a first look at a dataset needs is computed here, as DataFrames and plain
numbers (the views in ``nbml.plots.eda`` only draw them):

- an overview table (dtype, kind, missing, distinct, mean, std, min, max, skew, IQR
  outliers per column), duplicated rows, constant columns;
- the correlation matrix of the numeric columns and its strongly correlated pairs;
- the target's distribution (class balance or summary) and the features most associated
  with it (Pearson r for a numeric target, the correlation ratio for a class target);
- plain-language ``findings`` that name the fix.

Cheap statistics use every row. Plots, and the correlation matrix of very wide frames,
use a seeded random sample of at most ``sample`` rows; the report says when it sampled.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nbml.data import as_frame, close_matches, column_kind, infer_task
from nbml.errors import NbmlError

# findings thresholds (documented in the findings' own words)
MISSING_DROP = 0.5          # above this share missing, suggest dropping the column
HIGH_CORRELATION = 0.95     # pairs of features correlating at least this strongly
LEAK_CORRELATION = 0.99     # a feature this close to the target may be a leak
SKEW = 1.0                  # |skew| above this is "skewed"
OUTLIER_SHARE = 0.02        # IQR outliers above this share are worth a line (a normal sample has 0.7%)
IMBALANCE = 3.0             # majority/minority class ratio above this is "imbalanced"
HIGH_CARDINALITY = 50       # categories above this: group rare ones or encode by target
ID_MIN_ROWS = 20            # below this many rows, a unique column is not called an identifier
# pairwise correlation on all rows while rows × columns² stays below this; else on the sample
CORRELATION_BUDGET = 2e9
PLOT_KINDS = ("target", "histograms", "categories", "correlation", "scatter")


@dataclass(repr=False)
class EdaReport:
    """What ``eda()`` found. Tables are DataFrames; ``findings`` are sentences that name
    the fix; ``plot(kind)`` draws one view (``kind`` in ``PLOT_KINDS``)."""

    n_rows: int
    n_columns: int
    target: object
    task: str | None
    overview: pd.DataFrame
    duplicated_rows: int
    constant_columns: list
    correlation: pd.DataFrame
    high_correlations: pd.DataFrame
    target_summary: pd.DataFrame | None
    top_features: pd.DataFrame
    top_categories: dict
    findings: list
    sample_size: int
    seed: int
    max_plots: int
    notes: list = field(default_factory=list)
    correlation_on_sample: bool = False
    sample_frame: pd.DataFrame | None = None
    _figures: dict = field(default_factory=dict)

    # -- convenience -------------------------------------------------------------------
    @property
    def sampled(self) -> bool:
        """True when the plots use a sample rather than every row."""
        return self.sample_size < self.n_rows

    @property
    def outliers(self) -> pd.Series:
        """IQR-rule outlier counts of the numeric columns."""
        return self.overview["outliers"].dropna().astype(int)

    @property
    def class_balance(self) -> pd.Series | None:
        """Share of each class (classification targets only)."""
        if self.task != "classification" or self.target_summary is None:
            return None
        return self.target_summary["share"]

    @property
    def identifiers(self) -> list:
        """Columns with a distinct integer or text value in every row (likely row ids)."""
        return [c for c in self.overview.index if c != self.target and _is_identifier(self.overview.loc[c], self.n_rows)]

    def sample_note(self) -> str:
        if not self.sampled:
            return f"statistics and plots use all {self.n_rows:,} rows"
        return (f"statistics use all {self.n_rows:,} rows; plots use a random sample of {self.sample_size:,} "
                f"rows (seed {self.seed})" + (" and so does the correlation matrix" if self.correlation_on_sample
                                               else ""))

    def headline(self) -> str:
        head = f"EDA: {self.n_rows:,} rows × {self.n_columns} columns"
        if self.target is not None:
            head += f"; target {str(self.target)!r} ({self.task})"
        return head

    # -- views -------------------------------------------------------------------------
    def plot(self, kind: str = "histograms"):
        """One view as a matplotlib Figure (None when there is nothing to draw):
        ``target``, ``histograms``, ``categories``, ``correlation`` or ``scatter``."""
        from nbml.plots.eda import draw

        if kind not in PLOT_KINDS:
            raise NbmlError(f"kind={kind!r} is not an EDA plot; choose from {', '.join(PLOT_KINDS)}")
        return draw(self, kind)[0]

    def figures(self) -> dict:
        """Every view that has something to draw: kind -> (Figure, caption)."""
        from nbml.plots.eda import draw

        out = {}
        for kind in PLOT_KINDS:
            fig, caption = draw(self, kind)
            if fig is not None:
                out[kind] = (fig, caption)
        return out

    def overview_text(self) -> pd.DataFrame:
        """The overview with numbers formatted for reading."""
        return format_overview(self.overview)

    def __repr__(self) -> str:
        lines = [self.headline(), self.sample_note(), "", "Findings:"]
        lines += [f"  - {f}" for f in self.findings]
        lines += ["", self.overview_text().to_string()]
        if self.target_summary is not None:
            lines += ["", f"Target {str(self.target)!r}:", _format_frame(self.target_summary).to_string()]
        if len(self.top_features):
            lines += ["", "Features most associated with the target:",
                      _format_frame(self.top_features.head(10)).to_string()]
        if len(self.high_correlations):
            lines += ["", "Strongly correlated pairs:", _format_frame(self.high_correlations.head(10)).to_string()]
        lines += [f"note: {n}" for n in self.notes]
        lines.append(f"plots: report.plot(kind) with kind in {', '.join(PLOT_KINDS)}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from nbml import options
        from nbml.plots.html import _STYLE

        esc = html.escape
        parts = [_STYLE, '<div class="nbml">', f'<div class="head">{esc(self.headline())}</div>',
                 f'<div class="muted">{esc(self.sample_note())}</div>', '<div class="head">Findings</div><ul>']
        parts += [f"<li>{_code_html(f)}</li>" for f in self.findings]
        parts.append("</ul>")
        parts.append(self.overview_text().to_html(border=0))
        if self.target_summary is not None:
            parts.append(f'<div class="head">Target {esc(str(self.target))!r}</div>')
            parts.append(_format_frame(self.target_summary).to_html(border=0))
        if len(self.top_features):
            parts.append('<div class="head">Features most associated with the target</div>')
            parts.append(_format_frame(self.top_features.head(10)).to_html(border=0))
        if len(self.high_correlations):
            parts.append('<div class="head">Strongly correlated pairs</div>')
            parts.append(_format_frame(self.high_correlations.head(10)).to_html(border=0))
        parts += [f'<div class="note">{esc(n)}</div>' for n in self.notes]
        if options.plots:
            if "html" not in self._figures:
                from nbml.plots import png_base64

                blocks = []
                for kind, (fig, caption) in self.figures().items():
                    blocks.append(f'<div class="head">{esc(kind)}</div>')
                    if caption:
                        blocks.append(f'<div class="muted">{esc(caption)}</div>')
                    blocks.append(f'<img src="data:image/png;base64,{png_base64(fig)}"/>')
                self._figures["html"] = "".join(blocks)
            parts.append(self._figures["html"])
        parts.append("</div>")
        return "".join(parts)


def _code_html(text: str) -> str:
    """`name` -> <code>name</code>, the rest escaped."""
    pieces = str(text).split("`")
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(pieces))


def _num(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if v == 0:
            return "0"
        if abs(v) < 1e-3:
            return f"{v:.2g}"
        if abs(v) < 1e4:
            return f"{v:.4g}"
        return f"{v:,.0f}" if abs(v) < 1e12 else f"{v:.3e}"
    if isinstance(v, pd.Timestamp):
        return str(v.date()) if v == v.normalize() else str(v)
    return str(v)


def _format_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(lambda col: col.map(_num)) if len(frame) else frame


def format_overview(overview: pd.DataFrame) -> pd.DataFrame:
    hidden = ["missing"] + (["infinite"] if not overview["infinite"].any() else [])
    out = _format_frame(overview.drop(columns=hidden))
    out["missing %"] = [f"{p:.1f}%" if p else "" for p in overview["missing %"]]
    out["distinct"] = [f"{int(d):,}" if pd.notna(d) else "?" for d in overview["distinct"]]
    out["outliers"] = [f"{int(o):,}" if pd.notna(o) and o else "" for o in overview["outliers"]]
    return out


# -- the analysis ----------------------------------------------------------------------

def _check_int(value, name: str, minimum: int, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        none = " or None" if allow_none else ""
        raise NbmlError(f"{name}={value!r} is not allowed; use an integer ≥ {minimum}{none}")
    return int(value)


def eda(df, target=None, sample: int | None = 50_000, seed: int = 0, max_plots: int = 12) -> EdaReport:
    """Explore ``df``: overview, outliers, duplicates, correlations, target balance and
    findings that name the fix.

    ``target`` is a column name (optional). Statistics use every row; plots use a seeded
    random sample of at most ``sample`` rows (``None``: all rows). At most ``max_plots``
    panels per view; what is left out is named in the view's caption.
    """
    frame = as_frame(df, "df")
    sample = _check_int(sample, "sample", 1, allow_none=True)
    seed = _check_int(seed, "seed", 0)
    max_plots = _check_int(max_plots, "max_plots", 1)
    if frame.shape[1] == 0:
        raise NbmlError("df has no columns: nothing to explore")
    if frame.shape[0] == 0:
        raise NbmlError(f"df is empty (0 rows, {frame.shape[1]} columns): nothing to explore")
    if not frame.columns.is_unique:
        dup = frame.columns[frame.columns.duplicated()].unique()
        raise NbmlError(f"df has duplicated column names ({', '.join(map(repr, map(str, dup[:5])))}); "
                        f"rename them first")
    if target is not None and target not in frame.columns:
        by_text = [c for c in frame.columns if str(c) == str(target)]
        if len(by_text) == 1:  # "%eda df --target 0" for a column named 0
            target = by_text[0]
    if target is not None and target not in frame.columns:
        raise NbmlError(f"target column {target!r} is not in df: {close_matches(target, frame.columns)}")

    n = len(frame)
    notes = []
    codes_cache = {}  # column -> integer codes of its values, reused below
    overview, top_categories = _overview(frame, target, codes_cache)
    kinds = overview["kind"]

    # the seeded sample the plots (and very wide correlations) use
    if sample is not None and n > sample:
        sample_frame = frame.sample(n=sample, random_state=seed)
    else:
        sample_frame = frame.sample(frac=1.0, random_state=seed) if n > 1 else frame
    sample_size = len(sample_frame)

    # correlation of numeric (and boolean) columns
    corr_cols = [c for c in frame.columns if kinds[c] in ("numeric", "boolean")]
    on_sample = len(corr_cols) > 1 and n * len(corr_cols) ** 2 > CORRELATION_BUDGET and sample_size < n
    source = sample_frame if on_sample else frame
    correlation = _pairwise_corr(source, corr_cols, overview)
    if on_sample:
        notes.append(f"{len(corr_cols)} numeric columns: the correlation matrix uses the sample of "
                     f"{sample_size:,} rows")
    features_corr = correlation.drop(index=[target], columns=[target], errors="ignore")
    high = _high_pairs(features_corr, HIGH_CORRELATION)

    duplicated, dup_note = _duplicated_rows(frame, codes_cache)
    if dup_note:
        notes.append(dup_note)

    task, target_summary, top = None, None, pd.DataFrame(columns=["measure", "value", "strength"])
    if target is not None:
        y = frame[target]
        task = _task_of(y)
        target_summary = _target_summary(y, task)
        top = _target_association(frame, target, task, kinds, correlation, codes_cache)

    constant = [c for c in frame.columns if overview.at[c, "distinct"] <= 1]
    findings = _findings(frame, overview, target, task, target_summary, top, high, duplicated, constant)

    return EdaReport(n_rows=n, n_columns=frame.shape[1], target=target, task=task, overview=overview,
                     duplicated_rows=duplicated, constant_columns=constant, correlation=correlation,
                     high_correlations=high, target_summary=target_summary, top_features=top,
                     top_categories=top_categories, findings=findings, sample_size=sample_size, seed=seed,
                     max_plots=max_plots, notes=notes, correlation_on_sample=on_sample, sample_frame=sample_frame)


def _task_of(y: pd.Series) -> str:
    try:
        return infer_task(y)
    except ValueError:
        return "classification"


def _as_float(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64").to_numpy() if s.dtype == bool else s.astype("Float64").to_numpy(
            dtype=float, na_value=np.nan)
    return s.to_numpy(dtype=float, na_value=np.nan)


def _overview(frame: pd.DataFrame, target, codes_cache: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """Per-column statistics on every row, and the top categories of the categorical
    columns. A numeric column is sorted once: min, max, quartiles, the IQR outliers and
    the distinct count all come from the sorted values (faster than hashing them)."""
    n = len(frame)
    rows, top_categories = {}, {}
    scratch = []  # two buffers of n floats, made on first use and reused by every column
    for col in frame.columns:
        s = frame[col]
        kind = column_kind(s)
        missing = int(s.isna().sum())
        row = {"dtype": str(s.dtype), "kind": kind, "missing": missing, "missing %": 100.0 * missing / n,
               "distinct": math.nan, "mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan,
               "skew": math.nan, "outliers": math.nan, "infinite": 0}
        if kind == "numeric":
            row.update(_numeric_stats(s, missing, scratch))
        elif kind == "datetime":
            row["distinct"] = int(s.nunique(dropna=True))
            values = s.dropna()
            if len(values):
                row.update(min=values.min(), max=values.max())
        else:  # categorical and boolean: one count of the values gives distinct and the top ones
            counts = _value_counts(s, codes_cache)
            row["distinct"] = counts.attrs["distinct"]
            if kind == "boolean" and counts.attrs["present"]:
                true = int(sum(v for k, v in counts.items() if k is True or k is np.True_))
                row.update(mean=true / counts.attrs["present"],
                           min=bool(true == counts.attrs["present"]), max=bool(true > 0))
            if col != target:
                top_categories[col] = counts.head(10)
        rows[col] = row
    return pd.DataFrame.from_dict(rows, orient="index"), top_categories


def _numeric_stats(s: pd.Series, missing: int, scratch: list) -> dict:
    """Statistics of a numeric column from one sorted copy of it, in reused buffers
    (fresh memory for every column costs more than the arithmetic on a million rows)."""
    if not scratch:
        scratch += [np.empty(len(s)), np.empty(len(s))]
    buf, tmp = scratch
    values = s.to_numpy() if s.dtype.kind in "fiu" else _as_float(s)
    np.copyto(buf, values, casting="unsafe")
    buf.sort()  # NaN sort last
    present = len(s) - missing
    xs = buf[:present]
    out = {"infinite": 0}
    if present and not (np.isfinite(xs[0]) and np.isfinite(xs[-1])):
        xs = xs[np.isfinite(xs)].copy()
        out["infinite"] = present - len(xs)
    m = len(xs)
    if not m:
        out["distinct"] = 0
        return out
    out.update(distinct=int(1 + np.count_nonzero(xs[1:] != xs[:-1])), min=float(xs[0]), max=float(xs[-1]))
    q1, q3 = _quantile_sorted(xs, 0.25), _quantile_sorted(xs, 0.75)
    low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    out["outliers"] = int(np.searchsorted(xs, low, "left") + (m - np.searchsorted(xs, high, "right")))
    mean = float(xs.mean())
    out["mean"] = mean
    largest = max(abs(out["min"]), abs(out["max"]))
    xs -= mean  # the sorted copy is no longer needed: deviations in place
    ss = float(np.dot(xs, xs))
    if m > 1:
        out["std"] = math.sqrt(ss / (m - 1))
    sq = np.multiply(xs, xs, out=tmp[:m])
    out["skew"] = _skew_moments(ss, float(np.dot(sq, xs)), m, largest)
    return out


def _quantile_sorted(xs: np.ndarray, q: float) -> float:
    """numpy's default (linear) quantile of sorted values."""
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo))


def _skew(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    if len(x) < 3:
        return math.nan
    d = x - x.mean()
    return _skew_moments(float(np.dot(d, d)), float(np.dot(d * d, d)), len(x), float(np.abs(x).max()))


def _skew_moments(ss: float, cubes: float, n: int, largest: float) -> float:
    """Adjusted Fisher-Pearson skewness (what pandas' ``Series.skew`` gives) from the sums
    of squared and cubed deviations."""
    if n < 3:
        return math.nan
    m2 = ss / n
    if m2 <= 1e-14 * max(1.0, largest) ** 2:
        return math.nan  # constant: no shape to speak of (pandas says NaN too)
    return math.sqrt(n * (n - 1)) / (n - 2) * (cubes / n) / m2 ** 1.5


def _pairwise_corr(frame: pd.DataFrame, cols: list, overview: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation on pairwise-complete rows (as ``DataFrame.corr``; infinities
    count as missing). The pairwise counts and sums are additive over rows, so they are
    accumulated by matrix products over blocks of rows held in one reused buffer; each
    column is first shifted and scaled by its overall mean and std (any constants would
    do, these keep the sums well conditioned)."""
    k = len(cols)
    if not k:
        return pd.DataFrame(dtype=float)
    n = len(frame)
    shift = np.nan_to_num(np.array(overview.loc[cols, "mean"], dtype=float))
    scale = np.array(overview.loc[cols, "std"], dtype=float)
    boolean = (overview.loc[cols, "kind"] == "boolean").to_numpy()
    scale[boolean] = np.sqrt(shift[boolean] * (1 - shift[boolean]))
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    columns = [_as_float(frame[c]) for c in cols]
    count, sx, sxx, sxy = (np.zeros((k, k)) for _ in range(4))
    rows = max(1024, min(n, 2**20 // k))  # about 8 MiB of float64 per block
    buf = np.empty((rows, k), order="F")
    for start in range(0, n, rows):
        block = buf[:min(rows, n - start)]
        for j, x in enumerate(columns):
            np.copyto(block[:, j], x[start:start + len(block)])
        block -= shift
        block /= scale
        ok = np.isfinite(block)
        if ok.all():
            count += len(block)
            sx += block.sum(axis=0)[:, None]
            sxx += np.einsum("ij,ij->j", block, block)[:, None]
        else:
            block[~ok] = 0.0
            present = ok.astype(float)
            count += present.T @ present       # rows where both i and j are present
            sx += block.T @ present            # sum of x_i over those rows
            sxx += (block * block).T @ present
        sxy += block.T @ block
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sx.T / count
        var = sxx - sx * sx / count
        r = cov / np.sqrt(var * var.T)
    tiny = 1e-12 * np.maximum(count, 1)
    bad = (count < 2) | (var <= tiny) | (var.T <= tiny)
    r[bad] = np.nan
    r = np.clip(r, -1.0, 1.0)
    np.fill_diagonal(r, np.where(np.diag(bad), np.nan, 1.0))
    return pd.DataFrame(r, index=cols, columns=cols)


def _high_pairs(corr: pd.DataFrame, threshold: float) -> pd.DataFrame:
    cols = list(corr.columns)
    r = corr.to_numpy()
    rows = []
    for i in range(len(cols)):
        for j in range(i + 1, len(cols)):
            if abs(r[i, j]) >= threshold:
                rows.append({"a": cols[i], "b": cols[j], "r": float(r[i, j])})
    out = pd.DataFrame(rows, columns=["a", "b", "r"])
    return out.reindex(out["r"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def _duplicated_rows(frame: pd.DataFrame, cache: dict | None = None) -> tuple[int, str]:
    """Rows equal to an earlier row. Each row gets a hash combined from its columns'
    (text columns hash their integer codes, which is much faster than hashing strings);
    only rows whose hash repeats are then compared exactly, so the count is exact."""
    cache = cache or {}
    combined = np.zeros(len(frame), dtype=np.uint64)
    try:
        for col in frame.columns:
            if col in cache:
                h = pd.util.hash_array(cache[col][0])
            else:
                h = pd.util.hash_pandas_object(frame[col], index=False).to_numpy()
            combined = combined * np.uint64(1_000_003) ^ h
    except TypeError:
        return 0, "duplicated rows not counted: some values cannot be compared"
    candidates = pd.Series(combined).duplicated(keep=False).to_numpy()
    if not candidates.any():
        return 0, ""
    subset = frame[candidates]
    try:
        return int(subset.duplicated().sum()), ""
    except TypeError:
        return int(subset.astype(str).duplicated().sum()), ""


def _value_counts(s: pd.Series, codes_cache: dict | None = None) -> pd.Series:
    """Counts of every value, the most frequent first (ties in order of appearance),
    missing values as "(missing)"; ``attrs`` holds the number of distinct values and of
    present ones. The integer codes of the values go to ``codes_cache`` for reuse."""
    try:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists, dicts): count their text
        codes, uniques = pd.factorize(s.astype(str).where(s.notna()), use_na_sentinel=True)
    if codes_cache is not None:
        codes_cache[s.name] = (codes, len(uniques))
    present = codes[codes >= 0] if (codes < 0).any() else codes
    counts = pd.Series(np.bincount(present, minlength=len(uniques)), index=pd.Index(uniques, dtype=object))
    counts = counts.sort_values(ascending=False, kind="stable")
    missing = len(s) - len(present)
    if missing:
        counts = pd.concat([counts, pd.Series([missing], index=pd.Index(["(missing)"], dtype=object))])
        counts = counts.sort_values(ascending=False, kind="stable")
    counts.attrs.update(distinct=len(uniques), present=len(present))
    return counts


def _target_summary(y: pd.Series, task: str) -> pd.DataFrame:
    if task == "classification":
        counts = y.value_counts(dropna=True)
        return pd.DataFrame({"rows": counts.astype(int), "share": counts / counts.sum()}).rename_axis("class")
    values = pd.Series(_as_float(y)).dropna()
    stats = {"rows": float(len(values)), "mean": values.mean(), "std": values.std(), "min": values.min(),
             "25%": values.quantile(0.25), "median": values.median(), "75%": values.quantile(0.75),
             "max": values.max(), "skew": _skew(values.to_numpy())}
    return pd.DataFrame({"value": stats})


def _codes(s: pd.Series, cache: dict | None = None) -> tuple[np.ndarray, int]:
    if cache is not None and s.name in cache:
        return cache[s.name]
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    return codes, len(uniques)


def _correlation_ratio(codes: np.ndarray, k: int, x: np.ndarray, counts: np.ndarray | None = None) -> float:
    """η: how much of the variance of ``x`` the groups explain (√ between / total).
    ``counts``: the group sizes, when every code is a group (none missing)."""
    ok = np.isfinite(x)
    if counts is None or not ok.all():
        ok &= codes >= 0
        codes, x = codes[ok], x[ok]
        counts = np.bincount(codes, minlength=k)
    if len(x) < 3 or k < 2:
        return math.nan
    mean = float(x.mean())
    total = float(np.dot(x, x)) - len(x) * mean * mean  # x is shifted below if that loses precision
    sums = np.bincount(codes, weights=x, minlength=k)
    present = counts > 0
    between = float((sums[present] ** 2 / counts[present]).sum()) - len(x) * mean * mean
    if total <= 1e-9 * float(np.dot(x, x)):
        x = x - mean  # nearly constant or far from zero: redo on deviations
        total = float(np.dot(x, x))
        sums = np.bincount(codes, weights=x, minlength=k)
        between = float((sums[present] ** 2 / counts[present]).sum())
    if total <= 0:
        return math.nan
    return math.sqrt(min(max(between / total, 0.0), 1.0))


def _cramers_v(a: np.ndarray, ka: int, b: np.ndarray, kb: int) -> float:
    ok = (a >= 0) & (b >= 0)
    a, b = a[ok], b[ok]
    n = len(a)
    if n < 2 or ka < 2 or kb < 2:
        return math.nan
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(float)
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    rows, cols = rows[rows > 0], cols[cols > 0]
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    expected = np.outer(rows, cols) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    k = min(len(rows), len(cols)) - 1
    return math.sqrt(chi2 / (n * k)) if k > 0 else math.nan


def _target_association(frame, target, task, kinds, correlation, cache=None) -> pd.DataFrame:
    """Each feature's association with the target, strongest first: Pearson r (numeric
    target, numeric feature), correlation ratio η (one numeric, one categorical side),
    Cramér's V (both categorical)."""
    y = frame[target]
    rows = {}
    if task == "classification":
        y_codes, ky = _codes(y, cache)
        y_counts = np.bincount(y_codes, minlength=ky) if (y_codes >= 0).all() else None
    else:
        y_float = _as_float(y)
    for col in frame.columns:
        if col == target:
            continue
        kind = kinds[col]
        if kind == "datetime":
            continue
        s = frame[col]
        numeric_feature = kind in ("numeric", "boolean")
        if task == "regression" and numeric_feature and target in correlation.index:
            rows[col] = ("pearson r", correlation.at[col, target])
        elif task == "regression":
            codes, k = _codes(s, cache)
            rows[col] = ("correlation ratio η", _correlation_ratio(codes, k, y_float) if k <= 10_000 else math.nan)
        elif numeric_feature:
            rows[col] = ("correlation ratio η", _correlation_ratio(y_codes, ky, _as_float(s), y_counts))
        else:
            codes, k = _codes(s, cache)
            rows[col] = ("Cramér's V", _cramers_v(codes, k, y_codes, ky) if k * ky <= 10_000_000 else math.nan)
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["measure", "value"])
    out["value"] = out["value"].astype(float)
    out["strength"] = out["value"].abs()
    out = out.dropna(subset=["strength"]).sort_values("strength", ascending=False, kind="stable")
    return out.rename_axis("feature")


def _is_identifier(row, n: int) -> bool:
    integral = row["kind"] == "categorical" or (row["kind"] == "numeric" and "int" in row["dtype"].lower())
    return bool(integral and n >= ID_MIN_ROWS and row["distinct"] == n)


# -- findings --------------------------------------------------------------------------

def _pct(share: float) -> str:
    p = 100 * share
    return f"{p:.0f}%" if p >= 10 else f"{p:.1f}%" if p >= 0.1 else f"{p:.2g}%"


def _findings(frame, overview, target, task, target_summary, top, high, duplicated, constant) -> list:
    n = len(frame)
    out = []
    for col in frame.columns:
        name = f"`{col}`"
        row = overview.loc[col]
        is_target = col == target
        if row["missing"] == n:
            out.append(f"{name} is entirely missing — drop it")
            continue
        if col in constant and not is_target:
            out.append(f"{name} is constant ({_num(frame[col].dropna().iloc[0])}) — drop it")
            continue
        if row["infinite"]:
            out.append(f"{name} has {int(row['infinite']):,} infinite values — replace them: "
                       f"df[{str(col)!r}].replace([np.inf, -np.inf], np.nan)")
        share = row["missing"] / n
        if is_target and row["missing"]:
            out.append(f"target {name}: {int(row['missing']):,} rows missing — drop them "
                       f"(df.dropna(subset=[{str(col)!r}])) before splitting")
        elif share > MISSING_DROP:
            out.append(f"{name}: {_pct(share)} missing — drop it, or impute and add a missing-indicator")
        elif share > 0:
            out.append(f"{name}: {_pct(share)} missing — impute or drop")
        if is_target:
            continue
        kind = row["kind"]
        distinct = row["distinct"]
        if _is_identifier(row, n):
            out.append(f"{name} is unique per row — likely an identifier, drop it")
            continue
        if kind == "categorical" and pd.notna(distinct) and distinct > HIGH_CARDINALITY:
            out.append(f"{name} has {int(distinct):,} categories — group the rare ones or use target encoding")
        if kind == "datetime":
            out.append(f"{name} is a date — expand it into year, month, weekday, … features")
        if kind == "numeric" and distinct > 2:
            skew = row["skew"]
            if pd.notna(skew) and abs(skew) > SKEW:
                fix = ("consider a log transform" if row["min"] >= 0
                       else "consider a power (Yeo-Johnson) transform")
                out.append(f"{name} skew {skew:.1f} — {fix}")
            outliers = row["outliers"]
            if pd.notna(outliers) and outliers / n > OUTLIER_SHARE:
                out.append(f"{name}: {int(outliers):,} outliers ({_pct(outliers / n)}) by the IQR rule — clip "
                           f"them or use a robust scaler")
    if duplicated:
        out.append(f"{duplicated:,} duplicated row{'s' if duplicated != 1 else ''} — drop them "
                   f"(df.drop_duplicates())")
    for _, pair in high.head(10).iterrows():
        out.append(f"`{pair['a']}` and `{pair['b']}` correlate {pair['r']:.2f} — drop one")
    if len(high) > 10:
        out.append(f"… and {len(high) - 10} more strongly correlated pairs (report.high_correlations)")
    if target is not None:
        out += _target_findings(frame, target, task, overview, target_summary, top)
    if not out:
        out.append("no problems found: no missing values, constant columns, duplicates or strong skew")
    return out


def _target_findings(frame, target, task, overview, target_summary, top) -> list:
    out = []
    name = f"`{target}`"
    if task == "classification":
        counts = target_summary["rows"]
        if len(counts) < 2:
            out.append(f"target {name} has a single class — nothing to classify")
        else:
            ratio = counts.max() / counts.min()
            if ratio >= IMBALANCE:
                minority = counts.idxmin()
                out.append(f"classes 1:{ratio:.0f} (`{minority}` is {_pct(counts.min() / counts.sum())} of "
                           f"{name}) — stratify and use class weights, or resample")
            rare = counts[counts < 10]
            if len(rare) and len(counts) > 2:
                out.append(f"{len(rare)} class(es) of {name} have fewer than 10 rows — merge or drop them")
    elif task == "regression":
        skew = overview.at[target, "skew"]
        if pd.notna(skew) and abs(skew) > SKEW:
            fix = "log" if overview.at[target, "min"] >= 0 else "power (Yeo-Johnson)"
            out.append(f"target {name} skew {skew:.1f} — consider a {fix} transform of the target "
                       f"(TransformedTargetRegressor)")
    for feature, row in top.iterrows():
        if row["strength"] >= LEAK_CORRELATION:
            out.append(f"`{feature}` predicts {name} almost perfectly ({row['measure']} {row['value']:.3f}) — "
                       f"check it is not a leak of the target")
    return out
