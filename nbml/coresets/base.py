"""The `Coreset` result object and the sampling machinery every coreset method shares.

A coreset method only decides *how important* each row is (a positive score per row).
Turning scores into a weighted sample is common to all of them and lives here:

1. rows are split into strata (one per class for classification, one stratum otherwise);
2. the sample size is allocated across strata in proportion to each stratum's total score,
   with a per-class minimum so that no class is ever sampled away;
3. inside a stratum, rows are drawn without replacement with inclusion probabilities
   proportional to their scores (randomised systematic PPS sampling, exact sample size);
4. each drawn row gets the Horvitz-Thompson weight ``w_i / pi_i`` (``w_i`` is the weight the
   row already carried, 1 for raw data), calibrated so that every stratum's weights add up to
   the number of rows it represents (classification coresets calibrate further, to a pilot
   fit's log-loss gradient: ``nbml.coresets.sensitivity``).
"""
from __future__ import annotations

import difflib
import inspect

import numpy as np
import pandas as pd
from nbml.errors import NbmlError

METHODS = ("auto", "sensitivity", "lightweight", "uniform")
TASKS = ("classification", "regression", "clustering")


class Coreset:
    """A small weighted subset of a data set that trains like the full data.

    Attributes
    ----------
    X : DataFrame or ndarray
        The selected rows' features (a DataFrame with the original column names when the input
        was a DataFrame or a file).
    y : Series, ndarray or None
        The selected rows' target (``None`` for unsupervised data).
    weights : ndarray of float
        One weight per row, summing to about ``n_represented``; pass them unnormalised as
        ``sample_weight`` (``Coreset.fit`` does this).
    indices : ndarray of int
        Positions of the selected rows in the original data (row numbers in the file, counting
        data rows from 0, for coresets built from files).
    n_represented : int
        Number of rows the coreset stands for.
    method : str
        The method that built it: ``"sensitivity"``, ``"lightweight"`` or ``"uniform"``
        (a coreset as large as the data is the data itself, every weight 1).
    target : str or None
        Name of the target column, when known.
    task : str
        ``"classification"``, ``"regression"`` or ``"clustering"``.
    tree : CoresetTree or None
        The merge-and-reduce tree it was drawn from (coresets built from a file), so that
        more data can be added later; None for in-memory data.
    drawn_from : {"train", "train+val", "all"} or None
        Which rows of a split's frame it was drawn from: the split's training rows, its
        training and validation rows (for cross-validation) or all of them; None when the data
        was not a split's frame.
    split_fingerprint : str or None
        That split's fingerprint (``Split.fingerprint``).
    source : str or None
        The same in one sentence ("drawn from the 3,600 training rows of the active split; its
        1,200 validation and 1,200 test rows left out"), shown under the repr.
    """

    def __init__(self, X, y, weights, indices, n_represented, method, target=None,
                 task=None, seed=None, tree=None, *, drawn_from=None, split_fingerprint=None,
                 source=None):
        self.X = X
        self.y = y
        self.weights = np.asarray(weights, dtype=float)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.n_represented = int(n_represented)
        self.method = method
        self.target = target
        self.task = task
        self.seed = seed
        self.tree = tree
        self.drawn_from = drawn_from
        self.split_fingerprint = split_fingerprint
        self.source = source

    @property
    def size(self):
        """Number of rows in the coreset."""
        return len(self.weights)

    def __len__(self):
        return self.size

    def __repr__(self):
        n_features = self.X.shape[1] if getattr(self.X, "ndim", 1) == 2 else 1
        text = (f"Coreset(method={self.method!r}, rows={self.size:,}, "
                f"represents={self.n_represented:,}, features={n_features}, "
                f"target={self.target!r}, weights_sum={self.weights.sum():,.1f})")
        return text if self.source is None else f"{text}\n{self.source}"

    def to_frame(self, weight_column="weight"):
        """The coreset as one DataFrame: features, target (if any) and a weight column."""
        frame = pd.DataFrame(self.X).reset_index(drop=True)
        if self.y is not None:
            frame[self.target if self.target is not None else "target"] = np.asarray(self.y)
        frame[weight_column] = self.weights
        return frame

    def fit(self, model, **fit_params):
        """Fit ``model`` on the coreset with ``weights`` as ``sample_weight``; returns the model.

        In a Pipeline every step that accepts ``sample_weight`` receives them. An
        estimator that cannot take ``sample_weight`` raises ``ValueError`` — unless this is a
        ``method="uniform"`` coreset, whose weights are all equal and can be dropped.
        """
        keys = sample_weight_keys(model)
        if not keys:
            if self.method == "uniform" or np.allclose(self.weights, self.weights[0]):
                if self.y is None:
                    return model.fit(self.X, **fit_params)
                return model.fit(self.X, self.y, **fit_params)
            raise NbmlError(
                f"model {type(model).__name__} does not accept sample_weight in fit(), so it "
                f"cannot use the coreset's weights (method={self.method!r}); build an "
                f"unweighted sample instead with method=\"uniform\" (equal weights, which "
                f"Coreset.fit then drops) or use an estimator that supports sample_weight")
        fit_params = dict(fit_params)
        for key in keys:
            fit_params[key] = self.weights
        if self.y is None:
            return model.fit(self.X, **fit_params)
        return model.fit(self.X, self.y, **fit_params)


def sample_weight_keys(model):
    """The fit keywords that carry sample weights into ``model``; empty if it cannot take them.

    For a Pipeline, every step whose ``fit`` accepts ``sample_weight`` gets the weights
    (``<step>__sample_weight``, so a StandardScaler sees the weighted statistics), and the
    final estimator must accept them.
    """
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps and hasattr(model, "named_steps"):
        if not sample_weight_keys(steps[-1][1]):
            return []
        return [f"{name}__{key}" for name, step in steps
                if step is not None and not isinstance(step, str)
                for key in sample_weight_keys(step)]
    fit = getattr(model, "fit", None)
    if fit is None:
        raise TypeError(f"model must be an estimator with a fit() method, got "
                        f"{type(model).__name__}")
    try:
        accepts = "sample_weight" in inspect.signature(fit).parameters
    except (TypeError, ValueError):
        accepts = False
    return ["sample_weight"] if accepts else []


# --------------------------------------------------------------------------------------------
# input checks shared by nbml.coreset and CoresetTree
# --------------------------------------------------------------------------------------------

def infer_task(y):
    """'classification' for labels, 'regression' for continuous targets, 'clustering' for None."""
    if y is None:
        return "clustering"
    y = pd.Series(np.asarray(y) if not isinstance(y, pd.Series) else y)
    if (pd.api.types.is_bool_dtype(y) or isinstance(y.dtype, pd.CategoricalDtype)
            or not pd.api.types.is_numeric_dtype(y)):
        return "classification"
    values = y.dropna()
    n_unique = values.nunique()
    if pd.api.types.is_integer_dtype(y) and n_unique <= 20:
        return "classification"
    if pd.api.types.is_float_dtype(y) and n_unique <= 20 and np.all(np.mod(values, 1) == 0):
        return "classification"
    return "regression"


def check_task(task):
    if task is not None and task not in TASKS:
        raise NbmlError(f"task={task!r} is not supported; use one of {list(TASKS)} or None "
                         f"to infer it from the target")


def check_method(method):
    if method not in METHODS:
        raise NbmlError(f"method={method!r} is not a coreset method; use one of {list(METHODS)}")


def missing_column_error(name, columns, where):
    columns = [str(c) for c in columns]
    close = difflib.get_close_matches(str(name), columns, n=3, cutoff=0.5)
    hint = (f"; did you mean {', '.join(repr(c) for c in close)}?" if close
            else f"; columns are: {', '.join(repr(c) for c in columns[:12])}"
                 + (" ..." if len(columns) > 12 else ""))
    return ValueError(f"target={name!r} is not a column of {where}{hint}")


# what to do about columns that are not numbers, where the rows come from a file (or a CoresetTree)
FILE_FIX = ("turn them into numbers first (impute, encode), pass preprocess=<callable that turns the feature "
            "DataFrame into numbers> to nbml.coreset or CoresetTree, or read the data into a DataFrame: "
            "nbml.coreset(df, ...) and %coreset DF measure rows after nbml's preprocessing")


def numeric_matrix(X, preprocess=None, fix=FILE_FIX):
    """Features as a float64 matrix plus their names; clear errors for text and missing values,
    ending with ``fix``."""
    if preprocess is not None:
        if not callable(preprocess):
            raise TypeError(f"preprocess must be a callable taking the feature DataFrame and "
                            f"returning numeric features, got {type(preprocess).__name__}")
        X = preprocess(X)
    if isinstance(X, pd.DataFrame):
        bad = [(c, X[c].dtype) for c in X.columns
               if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
        if bad:
            shown = ", ".join(f"{c!r} ({d})" for c, d in bad[:5]) + (" ..." if len(bad) > 5 else "")
            raise NbmlError(
                f"coresets need numeric features, but {len(bad)} column(s) are not numeric: "
                f"{shown}; {fix}")
        names = [str(c) for c in X.columns]
        # float32 data stays float32 (half the memory); sums are taken in float64 later
        single = len(X.columns) > 0 and all(X[c].dtype == np.float32 for c in X.columns)
        matrix = X.to_numpy(dtype=np.float32 if single else np.float64)
    else:
        arr = np.asarray(X)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2:
            raise NbmlError(f"X must be 2-dimensional (rows x features), got shape {arr.shape}")
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise NbmlError(f"coresets need numeric features, but X has dtype {arr.dtype}; {fix}")
        names = None
        matrix = arr.astype(np.float32 if arr.dtype == np.float32 else np.float64, copy=False)
    if not np.isfinite(matrix).all():
        bad_cols = np.where(~np.isfinite(matrix).all(axis=0))[0]
        labels = [names[i] if names else str(i) for i in bad_cols[:5]]
        raise NbmlError(f"features contain missing or infinite values in column(s) "
                         f"{', '.join(labels)}; {fix}")
    return matrix, names


# --------------------------------------------------------------------------------------------
# sampling
# --------------------------------------------------------------------------------------------

def allocate(totals, counts, m, minimum):
    """Split ``m`` draws across strata ∝ ``totals``, at least ``minimum`` and at most ``counts``."""
    totals = np.asarray(totals, dtype=float)
    counts = np.asarray(counts, dtype=np.int64)
    alloc = np.minimum(counts, minimum).astype(np.int64)
    remaining = m - alloc.sum()
    while remaining > 0:
        room = counts - alloc
        open_ = room > 0
        if not open_.any():
            break
        share = np.where(open_, totals, 0.0)
        if share.sum() <= 0:
            share = open_.astype(float)
        ideal = remaining * share / share.sum()
        add = np.minimum(np.floor(ideal).astype(np.int64), room)
        if add.sum() == 0:
            # hand out the last few draws by largest fractional part
            frac = np.where(open_, ideal - np.floor(ideal), -1.0)
            order = np.argsort(-frac, kind="stable")[:remaining]
            add = np.zeros_like(alloc)
            add[order[open_[order]]] = 1
            add = np.minimum(add, room)
            if add.sum() == 0:
                break
        alloc += add
        remaining = m - alloc.sum()
    return alloc


def inclusion_probabilities(scores, m):
    """Inclusion probabilities ∝ scores for a sample of exactly ``m``, capped at 1."""
    pi = np.empty(len(scores))
    certain = np.zeros(len(scores), dtype=bool)
    while True:
        rest = ~certain
        k = m - certain.sum()
        pi[certain] = 1.0
        pi[rest] = k * scores[rest] / scores[rest].sum()
        newly = rest & (pi >= 1.0)
        if not newly.any():
            return pi
        certain |= newly


def systematic_sample(pi, rng):
    """Randomised systematic PPS: exactly round(sum(pi)) distinct rows, P(row i) = pi_i."""
    m = round(float(pi.sum()))
    order = rng.permutation(len(pi))
    cum = np.cumsum(pi[order])
    points = (rng.uniform() + np.arange(m)) * (cum[-1] / m)
    picks = np.searchsorted(cum, points, side="right")
    picks = np.minimum(picks, len(pi) - 1)
    chosen = np.unique(order[picks])
    if len(chosen) < m:  # floating-point ties only; top up with the most likely unused rows
        unused = np.setdiff1d(np.arange(len(pi)), chosen)
        extra = unused[np.argsort(-pi[unused], kind="stable")[: m - len(chosen)]]
        chosen = np.sort(np.concatenate([chosen, extra]))
    return chosen


def strata_codes(y, task):
    if task != "classification" or y is None:
        return None, None
    labels, codes = np.unique(np.asarray(y), return_inverse=True)
    return labels, codes.reshape(-1)


def weighted_sample(scores, weights, m, rng, codes=None, minimum_per_class=1):
    """Draw ``m`` rows by importance; returns (row positions, new weights).

    ``scores`` are each row's total importance (already including its current weight).
    """
    idx, w, _ = sample_with_certainty(scores, weights, m, rng, codes, minimum_per_class)
    return idx, w


def sample_with_certainty(scores, weights, m, rng, codes=None, minimum_per_class=1):
    """``weighted_sample``, also saying which drawn rows were certain (inclusion probability 1:
    they stand for themselves only, and later calibration leaves their weights alone)."""
    n = len(scores)
    scores = np.asarray(scores, dtype=float)
    scores = np.where(scores > 0, scores, scores[scores > 0].min() if (scores > 0).any() else 1.0)
    if codes is None:
        codes = np.zeros(n, dtype=np.int64)
    n_strata = int(codes.max()) + 1 if n else 0
    counts = np.bincount(codes, minlength=n_strata)
    totals = np.bincount(codes, weights=scores, minlength=n_strata)
    alloc = allocate(totals, counts, m, minimum_per_class)
    picked, new_weights, certain = [], [], []
    for c in range(n_strata):
        rows = np.flatnonzero(codes == c)
        k = int(alloc[c])
        if k == 0:
            continue
        if k >= len(rows):
            picked.append(rows)
            new_weights.append(weights[rows])
            certain.append(np.ones(len(rows), dtype=bool))
            continue
        pi = inclusion_probabilities(scores[rows], k)
        chosen = systematic_sample(pi, rng)
        w = weights[rows[chosen]] / pi[chosen]
        # calibrate the uncertain draws so the stratum's weights sum to what it represents
        uncertain = pi[chosen] < 1.0
        target_total = weights[rows].sum() - w[~uncertain].sum()
        if uncertain.any() and w[uncertain].sum() > 0:
            w[uncertain] *= target_total / w[uncertain].sum()
        picked.append(rows[chosen])
        new_weights.append(w)
        certain.append(~uncertain)
    if not picked:
        return np.empty(0, dtype=np.int64), np.empty(0), np.empty(0, dtype=bool)
    idx = np.concatenate(picked)
    w = np.concatenate(new_weights)
    order = np.argsort(idx, kind="stable")
    return idx[order], w[order], np.concatenate(certain)[order]


def standardize(X, w):
    """Weighted column standardisation (constant columns stay centred, scale 1)."""
    total = w.sum()
    mean = (w @ X) / total
    centred = X - mean
    var = (w @ (centred * centred)) / total
    scale = np.sqrt(var)
    scale[scale <= 1e-12 * (np.abs(mean) + 1.0)] = 1.0
    return centred / scale


def reduce(X, y, w, m, method, task, rng, minimum_per_class=None):
    """Reduce weighted rows (X, y, w) to about ``m`` rows with ``method``; (positions, weights)."""
    from nbml.coresets.lightweight import lightweight_scores
    from nbml.coresets.sensitivity import classification_sample, sensitivity_scores

    labels, codes = strata_codes(y, task)
    n_classes = 0 if labels is None else len(labels)
    if minimum_per_class is None:
        minimum_per_class = 2 if n_classes and m >= 2 * n_classes else 1
    if method == "uniform":
        return weighted_sample(w, w, m, rng, codes=None)
    if method == "sensitivity" and task == "classification":
        return classification_sample(X, w, m, rng, codes, minimum_per_class)
    if method == "sensitivity":
        scores = sensitivity_scores(X, y, w, task, codes)
    elif method == "lightweight":
        scores = lightweight_scores(X, y, w, task, codes)
    else:  # pragma: no cover - resolved before
        raise NbmlError(f"method={method!r} cannot reduce data")
    return weighted_sample(scores, w, m, rng, codes=codes, minimum_per_class=minimum_per_class)


def resolve_method(method, task, model=None):
    """What ``method="auto"`` means for this task (and model, when one is given)."""
    check_method(method)
    if method != "auto":
        if method == "sensitivity" and task == "clustering":
            raise NbmlError("method='sensitivity' needs a target (it bounds a supervised "
                             "loss); use method='lightweight' for data without a target")
        return method
    if task == "classification":
        return "sensitivity"
    if task == "regression" and model is not None and is_linear_model(model):
        return "sensitivity"
    return "lightweight"


def is_linear_model(model):
    est = model
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps:
        est = steps[-1][1]
    module = type(est).__module__
    return module.startswith("sklearn.linear_model") or module.startswith("sklearn.svm._classes") \
        and getattr(est, "kernel", "linear") == "linear"
