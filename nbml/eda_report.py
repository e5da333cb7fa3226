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
            raise ValueError(f"kind={kind!r} is not an EDA plot; choose from {', '.join(PLOT_KINDS)}")
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
        return f"{v:.4g}" if abs(v) < 1e6 else f"{v:.3e}"
    if isinstance(v, pd.Timestamp):
        return str(v.date()) if v == v.normalize() else str(v)
    return str(v)


def _format_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(lambda col: col.map(_num)) if len(frame) else frame


def format_overview(overview: pd.DataFrame) -> pd.DataFrame:
    out = _format_frame(overview.drop(columns=["missing"]))
    out["missing %"] = [f"{p:.1f}%" if p else "" for p in overview["missing %"]]
    out["distinct"] = [f"{int(d):,}" if d == d else "?" for d in overview["distinct"]]
    out["outliers"] = [f"{int(o):,}" if o == o and o else "" for o in overview["outliers"]]
    return out


# -- the analysis ----------------------------------------------------------------------

def _check_int(value, name: str, minimum: int, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        none = " or None" if allow_none else ""
        raise ValueError(f"{name}={value!r} is not allowed; use an integer ≥ {minimum}{none}")
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
        raise ValueError("df has no columns: nothing to explore")
    if frame.shape[0] == 0:
        raise ValueError(f"df is empty (0 rows, {frame.shape[1]} columns): nothing to explore")
    if not frame.columns.is_unique:
        dup = frame.columns[frame.columns.duplicated()].unique()
        raise ValueError(f"df has duplicated column names ({', '.join(map(repr, map(str, dup[:5])))}); "
                         f"rename them first")
    if target is not None and target not in frame.columns:
        raise ValueError(f"target column {target!r} is not in df: {close_matches(target, frame.columns)}")

    n = len(frame)
    findings, notes = [], []
    overview = _overview(frame)
    kinds = overview["kind"]
    numeric = [c for c in frame.columns if kinds[c] == "numeric"]

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
    correlation = _pairwise_corr(source, corr_cols)
    if on_sample:
        notes.append(f"{len(corr_cols)} numeric columns: the correlation matrix uses the sample of "
                     f"{sample_size:,} rows")
    features_corr = correlation.drop(index=[target], columns=[target], errors="ignore")
    high = _high_pairs(features_corr, HIGH_CORRELATION)

    duplicated, dup_note = _duplicated_rows(frame)
    if dup_note:
        notes.append(dup_note)

    task, target_summary, top = None, None, pd.DataFrame(columns=["measure", "value", "strength"])
    if target is not None:
        y = frame[target]
        task = _task_of(y)
        target_summary = _target_summary(y, task)
        top = _target_association(frame, target, task, kinds, correlation)

    top_categories = {}
    for col in frame.columns:
        if kinds[col] in ("categorical", "boolean") and col != target:
            top_categories[col] = _value_counts(frame[col], 10)

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


def _overview(frame: pd.DataFrame) -> pd.DataFrame:
    n = len(frame)
    rows = {}
    for col in frame.columns:
        s = frame[col]
        kind = column_kind(s)
        missing = int(s.isna().sum())
        try:
            distinct = int(s.nunique(dropna=True))
        except TypeError:  # unhashable values (lists, dicts)
            distinct = math.nan
        row = {"dtype": str(s.dtype), "kind": kind, "missing": missing, "missing %": 100.0 * missing / n,
               "distinct": distinct, "mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan,
               "skew": math.nan, "outliers": math.nan}
        if kind == "numeric":
            x = _as_float(s)
            x = x[~np.isnan(x)]
            if len(x):
                row.update(mean=float(x.mean()), min=float(x.min()), max=float(x.max()))
                if len(x) > 1:
                    row["std"] = float(x.std(ddof=1))
                row["skew"] = _skew(x)
                q1, q3 = np.percentile(x, [25, 75])
                iqr = q3 - q1
                row["outliers"] = int(np.count_nonzero((x < q1 - 1.5 * iqr) | (x > q3 + 1.5 * iqr)))
        elif kind == "boolean":
            x = _as_float(s)
            x = x[~np.isnan(x)]
            if len(x):
                row.update(mean=float(x.mean()), min=bool(x.min()), max=bool(x.max()))
        elif kind == "datetime":
            values = s.dropna()
            if len(values):
                row.update(min=values.min(), max=values.max())
        rows[col] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def _skew(x: np.ndarray) -> float:
    """Adjusted Fisher-Pearson skewness (what pandas' ``Series.skew`` gives)."""
    n = len(x)
    if n < 3:
        return math.nan
    d = x - x.mean()
    m2 = float(np.dot(d, d)) / n
    if m2 <= 1e-14 * max(1.0, float(np.abs(x).max()) ** 2):
        return math.nan  # constant: no shape to speak of (pandas says NaN too)
    m3 = float(np.dot(d * d, d)) / n
    return math.sqrt(n * (n - 1)) / (n - 2) * m3 / m2 ** 1.5


def _pairwise_corr(frame: pd.DataFrame, cols: list) -> pd.DataFrame:
    """Pearson correlation on pairwise-complete rows (as ``DataFrame.corr``), by matrix
    products: with NaN masks, every pair's sums come from a few BLAS calls."""
    if not cols:
        return pd.DataFrame(dtype=float)
    X = np.column_stack([_as_float(frame[c]) for c in cols])
    mask = ~np.isnan(X)
    center = np.array([X[m, j].mean() if m.any() else 0.0 for j, m in enumerate(mask.T)])
    X = np.where(mask, X - center, 0.0)
    scale = np.sqrt((X * X).sum(axis=0) / np.maximum(mask.sum(axis=0), 1))
    X /= np.where(scale > 0, scale, 1.0)
    M = mask.astype(float)
    if mask.all():
        count = np.full((len(cols), len(cols)), float(len(X)))
        sx = np.repeat(X.sum(axis=0)[:, None], len(cols), axis=1)
        sxx = np.repeat((X * X).sum(axis=0)[:, None], len(cols), axis=1)
    else:
        count = M.T @ M          # rows where both i and j are present
        sx = X.T @ M             # sum of x_i over those rows
        sxx = (X * X).T @ M
    sxy = X.T @ X
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sx.T / count
        var_i = sxx - sx * sx / count
        r = cov / np.sqrt(var_i * var_i.T)
    bad = (count < 2) | (var_i <= 1e-12 * np.maximum(count, 1)) | (var_i.T <= 1e-12 * np.maximum(count, 1))
    r[bad] = np.nan
    r = np.clip(r, -1.0, 1.0)
    diag = np.diag(bad)
    np.fill_diagonal(r, np.where(diag, np.nan, 1.0))
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


def _duplicated_rows(frame: pd.DataFrame) -> tuple[int, str]:
    """Rows equal to an earlier row. Rows are hashed first; only rows whose hash repeats
    are compared exactly, so the count is exact and a 1M-row frame takes a fraction of a
    second."""
    try:
        hashes = pd.util.hash_pandas_object(frame, index=False)
    except TypeError:
        try:
            return int(frame.astype(str).duplicated().sum()), ""
        except Exception:  # noqa: BLE001 - exotic values: say so rather than fail the report
            return 0, "duplicated rows not counted: some values cannot be compared"
    candidates = hashes.duplicated(keep=False).to_numpy()
    if not candidates.any():
        return 0, ""
    return int(frame[candidates].duplicated().sum()), ""


def _value_counts(s: pd.Series, top: int) -> pd.Series:
    try:
        counts = s.value_counts(dropna=False)
    except TypeError:
        counts = s.astype(str).value_counts(dropna=False)
    counts.index = ["(missing)" if (isinstance(v, float) and math.isnan(v)) or v is None or v is pd.NA
                    else v for v in counts.index]
    counts.attrs["distinct"] = len(counts)
    return counts.head(top)


def _target_summary(y: pd.Series, task: str) -> pd.DataFrame:
    if task == "classification":
        counts = y.value_counts(dropna=True)
        return pd.DataFrame({"rows": counts.astype(int), "share": counts / counts.sum()}).rename_axis("class")
    values = pd.Series(_as_float(y)).dropna()
    stats = {"rows": float(len(values)), "mean": values.mean(), "std": values.std(), "min": values.min(),
             "25%": values.quantile(0.25), "median": values.median(), "75%": values.quantile(0.75),
             "max": values.max(), "skew": _skew(values.to_numpy())}
    return pd.DataFrame({"value": stats})


def _codes(s: pd.Series) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    return codes, len(uniques)


def _correlation_ratio(codes: np.ndarray, k: int, x: np.ndarray) -> float:
    """η: how much of the variance of ``x`` the groups explain (√ between / total)."""
    ok = (codes >= 0) & ~np.isnan(x)
    codes, x = codes[ok], x[ok]
    if len(x) < 3 or k < 2:
        return math.nan
    x = x - x.mean()
    total = float(np.dot(x, x))
    if total <= 0:
        return math.nan
    counts = np.bincount(codes, minlength=k)
    sums = np.bincount(codes, weights=x, minlength=k)
    present = counts > 0
    between = float((sums[present] ** 2 / counts[present]).sum())
    return math.sqrt(min(between / total, 1.0))


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


def _target_association(frame, target, task, kinds, correlation) -> pd.DataFrame:
    """Each feature's association with the target, strongest first: Pearson r (numeric
    target, numeric feature), correlation ratio η (one numeric, one categorical side),
    Cramér's V (both categorical)."""
    y = frame[target]
    rows = {}
    if task == "classification":
        y_codes, ky = _codes(y)
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
            codes, k = _codes(s)
            rows[col] = ("correlation ratio η", _correlation_ratio(codes, k, y_float) if k <= 10_000 else math.nan)
        elif numeric_feature:
            rows[col] = ("correlation ratio η", _correlation_ratio(y_codes, ky, _as_float(s)))
        else:
            codes, k = _codes(s)
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
        if kind == "categorical" and distinct == distinct and distinct > HIGH_CARDINALITY:
            out.append(f"{name} has {int(distinct):,} categories — group the rare ones or use target encoding")
        if kind == "datetime":
            out.append(f"{name} is a date — expand it into year, month, weekday, … features")
        if kind == "numeric" and distinct > 2:
            skew = row["skew"]
            if skew == skew and abs(skew) > SKEW:
                fix = ("consider a log transform" if row["min"] >= 0
                       else "consider a power (Yeo-Johnson) transform")
                out.append(f"{name} skew {skew:.1f} — {fix}")
            outliers = row["outliers"]
            if outliers == outliers and outliers / n > OUTLIER_SHARE:
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
        if skew == skew and abs(skew) > SKEW:
            fix = "log" if overview.at[target, "min"] >= 0 else "power (Yeo-Johnson)"
            out.append(f"target {name} skew {skew:.1f} — consider a {fix} transform of the target "
                       f"(TransformedTargetRegressor)")
    for feature, row in top.iterrows():
        if row["strength"] >= LEAK_CORRELATION:
            out.append(f"`{feature}` predicts {name} almost perfectly ({row['measure']} {row['value']:.3f}) — "
                       f"check it is not a leak of the target")
    return out
