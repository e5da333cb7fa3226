"""Datasets: task inference, train/validation/test splits and the active dataset.

``split()`` validates the data once, up front, so that every later step can trust it:
the errors a user can fix (a misspelt target, NaN labels, inf features, ...) are raised
here as one clear ``ValueError`` rather than deep inside pandas or scikit-learn.
"""
from __future__ import annotations

import difflib
import hashlib
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nbml.errors import NbmlError

TASKS = ("auto", "classification", "regression", "clustering")
# an integer target with at most this many distinct values is taken as class labels
MAX_INTEGER_CLASSES = 20
# fewer rows than this in a part of a split (train, or a non-empty validation/test part) gets a warning:
# a model fit or scored on so few rows says little
MIN_ROWS_PER_PART = 5
DEFAULT_TEST = DEFAULT_VAL = 0.2

_active: "Split | None" = None


def active_split() -> "Split | None":
    """The dataset the last ``split()`` made active (``None`` before the first)."""
    return _active


def set_active(split_: "Split | None") -> None:
    global _active
    _active = split_


@dataclass(repr=False)
class Split:
    """A train/validation/test split of one dataset, with the task it implies."""

    X_train: pd.DataFrame
    X_val: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series | None
    y_val: pd.Series | None
    y_test: pd.Series | None
    task: str
    target: str | None
    classes_: np.ndarray | None = None
    seed: int = 0
    dropped_columns: list = field(default_factory=list)
    fingerprint: str = ""
    name: str | None = None
    options: object = None  # nbml.preprocess.Options: preprocessing defaults for train()
    notes: list = field(default_factory=list)  # what split() read or changed, shown under the summary
    stratified: bool = True  # classification parts keep the class balance (split(..., stratify=False): not)

    # -- convenience -----------------------------------------------------------------
    @property
    def feature_names(self) -> list:
        return list(self.X_train.columns)

    @property
    def X_trainval(self) -> pd.DataFrame:
        return pd.concat([self.X_train, self.X_val]) if len(self.X_val) else self.X_train

    @property
    def y_trainval(self) -> pd.Series | None:
        if self.y_train is None:
            return None
        return pd.concat([self.y_train, self.y_val]) if len(self.X_val) else self.y_train

    def part(self, name: str):
        """``(X, y)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if name not in ("train", "val", "test"):
            raise NbmlError(f"on={name!r} is not a split part; use 'train', 'val' or 'test'")
        return getattr(self, f"X_{name}"), getattr(self, f"y_{name}")

    def feature_types(self) -> dict:
        return feature_types(self.X_train)

    def summary(self) -> pd.DataFrame:
        """Rows per part (and class balance for classification) as a small table."""
        rows = {}
        total = len(self.X_train) + len(self.X_val) + len(self.X_test)
        for name in ("train", "val", "test"):
            X, y = self.part(name)
            row = {"rows": len(X), "share": f"{len(X) / total:.0%}" if total else "0%"}
            if self.task == "classification" and y is not None:
                counts = y.value_counts(normalize=True)
                for label in self.classes_:
                    row[f"{self.target}={label}"] = f"{counts.get(label, 0.0):.1%}"
            elif self.task == "regression" and y is not None and len(y):
                row[f"{self.target} mean"] = f"{y.mean():.4g}"
            rows[name] = row
        return pd.DataFrame(rows).T

    def _describe(self) -> tuple[str, str]:
        kinds = ", ".join(f"{n} {k}{' (as seconds)' if k == 'timedelta' else ''}"
                          for k, n in self.feature_types().items() if n)
        head = (f"{self.task} on target {self.target!r}" if self.target else "clustering (no target)")
        if self.task == "classification" and not self.stratified:
            head += " (not stratified)"
        text = f"{head}; {self.X_train.shape[1]} features ({kinds or 'none'}); seed {self.seed}"
        notes = list(self.notes)
        if self.dropped_columns:
            notes.insert(0, f"dropped all-missing columns: {', '.join(map(str, self.dropped_columns))}")
        notes = "; ".join(notes)
        changed = self.options.changed() if self.options is not None else {}
        if changed:
            text += "; preprocessing " + ", ".join(f"{k}={v}" for k, v in changed.items())
        return text, notes

    def __repr__(self) -> str:
        text, notes = self._describe()
        lines = [f"Split: {text}", self.summary().to_string()]
        if notes:
            lines.append(notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from nbml.plots.html import split_html

        return split_html(self)


# -- task inference ------------------------------------------------------------------

def infer_task(y: pd.Series | None) -> str:
    """classification for bool/object/category targets and integers with few values;
    regression for other numbers; clustering when there is no target."""
    if y is None:
        return "clustering"
    if (pd.api.types.is_bool_dtype(y) or isinstance(y.dtype, pd.CategoricalDtype)
            or pd.api.types.is_object_dtype(y) or pd.api.types.is_string_dtype(y)):
        return "classification"
    if pd.api.types.is_numeric_dtype(y):
        values = y.dropna()
        n_unique = values.nunique()
        integral = pd.api.types.is_integer_dtype(y) or bool(np.all(np.mod(values, 1) == 0))
        if integral and n_unique <= MAX_INTEGER_CLASSES and n_unique < max(3, 0.5 * len(values)):
            return "classification"
        return "regression"
    raise NbmlError(f"target {y.name!r} has dtype {y.dtype}, which is neither numeric nor "
                    f"categorical: convert it first (e.g. df[{y.name!r}].astype('category'))")


def feature_types(X: pd.DataFrame) -> dict:
    """Columns per kind; ``timedelta`` (durations, used as seconds) only when there are some."""
    kinds = {"numeric": 0, "categorical": 0, "boolean": 0, "datetime": 0, "timedelta": 0}
    for kind in column_kinds(X):
        kinds[kind] += 1
    if not kinds["timedelta"]:
        del kinds["timedelta"]
    return kinds


def column_kinds(X: pd.DataFrame) -> list:
    """The kind of each column of ``X`` in order, ``timedelta`` included. A kind depends on the
    dtype alone, so it is decided once per distinct dtype: a 5,000-column frame of floats costs one
    check, not 5,000 column extractions."""
    dtypes = X.dtypes.tolist()
    distinct = {id(t): t for t in dtypes}  # by identity: a block's columns share one dtype object
    kinds = {key: "timedelta" if is_timedelta(t) else column_kind(t) for key, t in distinct.items()}
    return [kinds[id(t)] for t in dtypes]


def is_timedelta(s) -> bool:
    """Durations (a Series or a dtype): the preprocessing uses them as seconds (a number), not as categories."""
    return pd.api.types.is_timedelta64_dtype(s)


def shown(value):
    """A value as a message shows it: numpy scalars as the Python value they hold (``'x'``,
    ``1``), not as ``np.str_('x')`` or ``np.int64(1)``."""
    return value.item() if isinstance(value, np.generic) else value


def column_kind(s) -> str:
    """boolean, datetime, numeric or categorical: of a Series or of a dtype (the same answer)."""
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    if pd.api.types.is_numeric_dtype(s):
        return "numeric"
    return "categorical"


# -- input coercion ------------------------------------------------------------------

def as_frame(data, name: str = "data") -> pd.DataFrame:
    """DataFrame from a DataFrame, Series, 2-D array-like or dict; a clear error otherwise."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame(name=data.name if data.name is not None else "x0")
    if isinstance(data, dict):
        return pd.DataFrame(data)
    if isinstance(data, (np.ndarray, list, tuple)):
        arr = np.asarray(data)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2:
            raise NbmlError(f"{name} must be 2-D (rows × columns); got an array of shape {arr.shape}")
        return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    raise TypeError(f"{name} must be a pandas DataFrame, Series or a 2-D numpy array; "
                    f"got {type(data).__name__}")


def close_matches(word, options) -> str:
    matches = difflib.get_close_matches(str(word), [str(o) for o in options], n=3, cutoff=0.5)
    if matches:
        return "did you mean " + " or ".join(repr(m) for m in matches) + "?"
    shown = ", ".join(repr(str(o)) for o in list(options)[:12])
    more = "" if len(options) <= 12 else f", … ({len(options)} in all)"
    return f"columns are {shown}{more}"


def _pick_target(df: pd.DataFrame, target):
    """Return (X, y, target_name) from a frame and a column name/index or an array."""
    if target is None:
        return df, None, None
    target = shown(target)
    if isinstance(target, str) and target not in df.columns:
        # a name typed on a magic's line is text: '3' names the column 3 of a frame with integer names
        named = [c for c in df.columns if not isinstance(c, str) and str(c) == target]
        if len(named) == 1:
            target = named[0]
    if isinstance(target, (str, int, np.integer)) and not isinstance(target, bool):
        if target in df.columns:
            return df.drop(columns=[target]), df[target], target
        if isinstance(target, (int, np.integer)) and not isinstance(target, bool) \
                and str(target) not in map(str, df.columns) and 0 <= target < df.shape[1] \
                and all(isinstance(c, str) for c in df.columns):
            col = df.columns[target]
            return df.drop(columns=[col]), df[col], col
        raise NbmlError(f"target column {target!r} is not in the data: {close_matches(target, df.columns)}")
    y = pd.Series(np.asarray(target), index=df.index, name="target") if not isinstance(target, pd.Series) \
        else target
    if len(y) != len(df):
        raise NbmlError(f"target has {len(y)} values but the data has {len(df)} rows; they must match")
    y = pd.Series(y.to_numpy(), index=df.index, name=y.name if y.name is not None else "target")
    return df, y, y.name


def _parse_fraction(value, name: str) -> tuple[float, str | None]:
    """A test/validation share: a fraction below 1 (0.2), or a whole percentage (20). Returns the
    fraction and, for a percentage, the note that says how it was read. Anything in between
    (1, 1.5, 12.5) is ambiguous and refused."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise NbmlError(f"{name}={shown(value)!r} is not a number; use a fraction below 1 such as 0.2 (or a whole "
                        f"percentage such as 20)") from None
    if 0 <= f < 1:
        return f, None
    if not 1 <= f < 100:
        raise NbmlError(f"{name}={f:g} is out of range; use a fraction below 1 such as 0.2 (or a whole "
                        f"percentage such as 20)")
    if f == 1 or f != int(f):
        raise NbmlError(f"{name}={f:g} is ambiguous: a fraction must be below 1 (e.g. {name}=0.2) and a "
                        f"percentage a whole number (e.g. {name}=20); write {f / 100:g} for {f:g} %")
    return f / 100, f"{name}={f:g} read as {f:g} % of the rows"


def parse_ratio(ratio: str) -> tuple[float, float]:
    """``"70-15-15"`` (train-val-test percentages adding up to 100, or fractions adding up to 1)
    -> (test, val) fractions."""
    parts = str(ratio).replace("/", "-").replace(":", "-").split("-")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) != 3 or any(not np.isfinite(n) or n < 0 for n in nums) or sum(nums) <= 0 or nums[0] == 0:
        raise NbmlError(f"ratio={ratio!r} is not train-val-test; use e.g. '60-20-20' or '70-15-15'")
    total = sum(nums)
    if not (abs(total - 100) < 1e-6 or abs(total - 1) < 1e-9):
        raise NbmlError(f"ratio={ratio!r} adds up to {total:g}; a ratio must add up to 100 (e.g. '60-20-20', "
                        f"'70-15-15') or to 1 (e.g. '0.7-0.15-0.15')")
    return nums[2] / total, nums[1] / total


def fingerprint(X: pd.DataFrame, y: pd.Series | None) -> str:
    """A short, stable hash of the data (values, column names and dtypes)."""
    h = hashlib.sha256()
    h.update(row_hashes(X).tobytes())
    dtypes = X.dtypes.tolist()
    # str() of a numpy dtype is slow, and a wide frame holds a few dtype objects thousands of times
    dtype_names = {key: str(t) for key, t in {id(t): t for t in dtypes}.items()}
    h.update(repr([(str(c), dtype_names[id(t)]) for c, t in zip(X.columns.tolist(), dtypes)]).encode())
    if y is not None:
        h.update(pd.util.hash_pandas_object(y, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def row_hashes(X: pd.DataFrame) -> np.ndarray:
    """``pd.util.hash_pandas_object(X, index=False)`` as an array, the same values, without its
    per-column Python loop over a wide frame. pandas hashes each number, and each text value, on its
    own, so the columns of one plain numeric dtype are hashed in one call, and so are all text
    columns; categories, object columns (their mixed values are hashed per column), dates and
    nullable types column by column, as pandas does. Stored fingerprints (the run store, resumed
    searches) depend on these values never changing."""
    from pandas.core.util.hashing import combine_hash_arrays

    n_rows, n_cols = X.shape
    hashes = np.empty((n_cols, n_rows), dtype=np.uint64)
    for dtype, positions in _hash_groups(X.dtypes.tolist()):
        if dtype is None:
            hashes[positions[0]] = pd.util.hash_pandas_object(X.iloc[:, positions[0]], index=False).to_numpy()
        else:
            block = X.iloc[:, positions].to_numpy(dtype=dtype)  # rows x columns
            hashes[positions] = pd.util.hash_array(block.ravel(order="F")).reshape(len(positions), n_rows)
    return combine_hash_arrays(iter(hashes), n_cols, n_rows)


def _hash_groups(dtypes: list) -> list:
    """``(dtype, positions)`` of the columns ``row_hashes`` hashes together as one array of that
    dtype (text as objects), and ``(None, [position])`` for a column hashed on its own."""
    groups = {}
    for i, t in enumerate(dtypes):
        if isinstance(t, np.dtype) and t.kind in "biuf":
            key = (id(t), t)  # by identity: hashing a dtype is slow, and a block's columns share one
        elif isinstance(t, pd.StringDtype):
            key = ("text", np.dtype(object))
        else:
            key = (i, None)
        groups.setdefault(key, []).append(i)
    return [(key[1], positions) for key, positions in groups.items()]


# -- split ---------------------------------------------------------------------------

def split(df, target=None, test=None, val=None, seed=0, task="auto", ratio=None, activate=True, stratify=True,
          **preprocessing) -> Split:
    """Split ``df`` into train/validation/test and make it the active dataset.

    ``target`` is a column name (or a 1-D array the length of ``df``); without one the
    task is clustering. ``test``/``val`` are fractions of all rows below 1 (default 0.2
    each) or whole percentages (20), or give ``ratio="70-15-15"`` (adding up to 100) instead.
    Classification splits are stratified unless ``stratify=False``. Test rows are cut first, then
    validation rows from the rest (seed ``seed + 1``): a two-part split (``val=0``) takes
    ``ceil(test * rows)`` test rows, exactly the rows of scikit-learn's
    ``train_test_split(X, y, test_size=test, random_state=seed, stratify=y or None)``; a three-part split
    rounds each share of all rows to the nearest row, and the summary then names the two
    ``train_test_split`` calls that give the same rows. Raises ``NbmlError`` (a ``ValueError``) with
    one clear line for data that cannot be trained on; warns when a part has fewer than
    ``MIN_ROWS_PER_PART`` rows.
    ``preprocessing`` options (impute, scale, encode, outliers, balance, interactions, poly,
    select) become the defaults of ``train()`` on this split.
    """
    from nbml.preprocess import OPTION_NAMES, Options

    unknown = sorted(set(preprocessing) - set(OPTION_NAMES))
    if unknown:
        raise TypeError(f"split() got unknown option(s) {', '.join(unknown)}; preprocessing options are "
                        f"{', '.join(OPTION_NAMES)}")
    options = Options.merge(None, **preprocessing)
    if task not in TASKS:
        raise NbmlError(f"task={task!r} is not one of {', '.join(TASKS)}")
    test, val, notes = _shares(test, val, ratio)
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise NbmlError(f"seed={seed!r} is not an integer") from None

    frame = as_frame(df)
    if frame.shape[0] == 0:
        raise NbmlError("the data is empty (0 rows): nothing to split")
    _check_unique_columns(frame.columns, target)
    X, y, target_name = _pick_target(frame, target)
    if X.shape[1] == 0:
        raise NbmlError("the data has no feature columns besides the target")
    X = X.copy()
    X.columns = [str(c) for c in X.columns.tolist()]  # tolist(): iterating a text Index is slow when wide
    _check_unique_columns(X.columns, None, renamed=True)
    y, task = _checked_target(y, target_name, task, notes)
    X, all_nan = _checked_features(X, notes)

    classes = None
    if task == "classification":
        classes = np.array(sorted(pd.unique(y), key=_sort_key), dtype=object if y.dtype == object else None)
        if len(classes) < 2:
            raise NbmlError(f"target {target_name!r} has a single class ({shown(classes[0])!r}): classification "
                            f"needs at least two")
        counts = y.value_counts()
        need = 1 + (test > 0) + (val > 0)
        if stratify and counts.min() < need:
            rare = shown(counts.idxmin())
            raise NbmlError(f"class {rare!r} of {target_name!r} has only {counts.min()} row(s); a stratified "
                            f"split needs at least {need} per class: add rows, merge or drop that class")

    n = len(X)
    n_test, n_val = _part_rows(n, test, val)
    if n - n_test - n_val < 1:
        raise NbmlError(f"{n} rows are too few for test={test:g}, val={val:g}")
    stratify = bool(stratify) and task == "classification"
    X_rest, X_test, y_rest, y_test, test_stratified = _cut(X, y, n_test, stratify, seed)
    X_train, X_val, y_train, y_val, val_stratified = _cut(X_rest, y_rest, n_val, stratify, seed + 1)
    _warn_small_parts(len(X_train), len(X_val), len(X_test))
    rows_note = _rows_note(n, test, val, n_test, n_val, seed, (test_stratified, val_stratified), y is not None,
                           ratio is not None)
    if rows_note:
        notes.append(rows_note)

    result = Split(X_train, X_val, X_test, y_train, y_val, y_test, task=task, target=target_name,
                   classes_=classes, seed=seed, dropped_columns=all_nan,
                   fingerprint=fingerprint(X, y), options=options, notes=notes, stratified=stratify)
    if activate:
        set_active(result)
    return result


def _shares(test, val, ratio) -> tuple[float, float, list]:
    """(test, val) fractions from ``test``/``val`` or ``ratio``, and notes on how they were read."""
    if ratio is not None:
        if test is not None or val is not None:
            given = " and ".join(f"{k}={shown(v)}" for k, v in (("test", test), ("val", val)) if v is not None)
            raise NbmlError(f"give ratio={ratio!r} or {given}, not both: a ratio already sets the test and "
                            f"validation shares")
        test, val = parse_ratio(ratio)
    test, test_note = _parse_fraction(DEFAULT_TEST if test is None else test, "test")
    val, val_note = _parse_fraction(DEFAULT_VAL if val is None else val, "val")
    if test + val >= 1:
        raise NbmlError(f"test={test:g} and val={val:g} leave no training rows; keep test + val below 1")
    return test, val, [note for note in (test_note, val_note) if note]


def _check_unique_columns(columns, target, renamed=False):
    """Duplicated column names make ``df[name]`` a frame, and every later step ambiguous."""
    counts = pd.Series(columns.tolist() if isinstance(columns, pd.Index) else list(columns)).value_counts()
    twice = [shown(c) for c in counts.index[counts > 1]]
    if not twice:
        return
    if renamed:
        raise NbmlError(f"column names {', '.join(map(repr, twice))} are duplicated once read as text (e.g. 1 and "
                        f"'1'); rename one of each, e.g. df.columns = df.columns.astype(str) then rename")
    shown_names = ", ".join(f"{c!r} ({counts[c]}×)" for c in counts.index[counts > 1])
    fix = "rename them (df.columns = [...]) or drop the copies: df.loc[:, ~df.columns.duplicated()]"
    if target is not None and shown(target) in twice:
        raise NbmlError(f"the target {shown(target)!r} names {counts[target]} columns: {fix}")
    raise NbmlError(f"duplicated column names: {shown_names}; {fix}")


def _checked_target(y, target_name, task, notes):
    """The target as split() can trust it (no missing labels, no unused categories) and the task."""
    if y is not None:
        n_missing = int(y.isna().sum())
        if n_missing:
            where = ", ".join(map(str, y.index[y.isna()][:5]))
            raise NbmlError(f"target {target_name!r} has {n_missing} missing value(s) (rows {where}"
                            f"{', …' if n_missing > 5 else ''}); drop them first: "
                            f"df.dropna(subset=[{target_name!r}])")
        mixed = mixed_types(y) if y.dtype == object else []
        if mixed:  # labels that cannot be sorted or stratified
            raise NbmlError(f"target {target_name!r} mixes {' and '.join(mixed)} labels: make them one type, e.g. "
                            f"df[{target_name!r}] = df[{target_name!r}].astype(str)")
        if isinstance(y.dtype, pd.CategoricalDtype):
            unused = [shown(c) for c in y.cat.categories if c not in set(y.unique())]
            if unused:  # a class without rows cannot be learned, stratified or scored
                y = y.cat.remove_unused_categories()
                notes.append(f"unused categories of target {target_name!r} dropped: {', '.join(map(repr, unused))}")
    if task == "auto":
        task = infer_task(y)
    elif task == "clustering":
        y = None
    elif y is None:
        raise NbmlError(f"task={task!r} needs a target column; give target=COLUMN")
    if task == "regression" and not pd.api.types.is_numeric_dtype(y):
        raise NbmlError(f"task='regression' needs a numeric target, but {target_name!r} has dtype "
                        f"{y.dtype}; use task='classification'")
    if task == "regression" and pd.api.types.is_bool_dtype(y):
        raise NbmlError(f"target {target_name!r} is boolean: use task='classification'")
    return y, task


def _checked_features(X, notes):
    """Drop all-missing columns (with a warning), refuse infinite values, note columns that are
    read differently from their dtype (mixed types as text, durations as seconds)."""
    all_nan = list(X.columns[X.isna().all().to_numpy()])  # one vectorized pass: wide frames stay fast
    if all_nan:
        warnings.warn(f"dropped column(s) with no values at all: {', '.join(all_nan)}", stacklevel=3)
        X = X.drop(columns=all_nan)
        if X.shape[1] == 0:
            raise NbmlError("every feature column is entirely missing: nothing to learn from")
    numeric = X.select_dtypes(include="number")
    if numeric.shape[1]:
        bad = list(numeric.columns[np.isinf(numeric.to_numpy(dtype=float)).any(axis=0)])
        if bad:
            raise NbmlError(f"column(s) {', '.join(map(repr, bad))} contain infinite values; replace them "
                            f"first, e.g. df.replace([np.inf, -np.inf], np.nan) (missing values are imputed)")
    # object columns only: a text (str) column holds text alone
    objects = [c for c, t in zip(X.columns.tolist(), X.dtypes.tolist()) if isinstance(t, np.dtype) and t.kind == "O"]
    mixed = [c for c in objects if mixed_types(X[c])]
    if mixed:
        notes.append(f"column(s) {', '.join(map(repr, mixed))} mix numbers and text: encoded as text")
    return X, all_nan


# what pandas infers of columns that cannot mix text with anything else
_UNMIXED = ("string", "empty", "integer", "floating", "mixed-integer-float", "boolean")


def mixed_types(s: pd.Series) -> list:
    """The Python types of an object column's values when it mixes them (e.g. ['int', 'str'])."""
    if pd.api.types.infer_dtype(s, skipna=True) in _UNMIXED:
        return []  # one compiled pass says so: no Python loop over the values of every column of a wide frame
    kinds = sorted({"str" if isinstance(v, str) else type(shown(v)).__name__ for v in s.dropna()})
    return kinds if len(kinds) > 1 and "str" in kinds else []


def _warn_small_parts(n_train, n_val, n_test):
    small = [f"{n} {name} row{'s' if n != 1 else ''}"
             for name, n in (("training", n_train), ("validation", n_val), ("test", n_test))
             if 0 < n < MIN_ROWS_PER_PART or (name == "training" and n < MIN_ROWS_PER_PART)]
    if small:
        warnings.warn(f"only {', '.join(small)} (fewer than {MIN_ROWS_PER_PART} in a part): a model fit or scored "
                      f"on so few rows says little; add rows, or use fewer parts (test=0 or val=0)", stacklevel=3)


def _sort_key(v):
    return (0, v) if isinstance(v, (int, float, np.number, bool, np.bool_)) else (1, str(v))


def _part_rows(n, test, val) -> tuple[int, int]:
    """Test and validation rows. Two parts (no validation): scikit-learn's rule, ``ceil(test * n)``
    (``train_test_split(test_size=test)`` gives the same rows); three parts: each share of all
    ``n`` rows rounded to the nearest row."""
    if val == 0:
        return math.ceil(test * n), 0
    return int(round(n * test)), int(round(n * val))


def _rows_note(n, test, val, n_test, n_val, seed, stratified, has_target, from_ratio) -> str | None:
    """How the rows were counted and cut, where that is not plain: a share that is not a whole number
    of rows, or a ratio (whose parts a user may want to cut again with scikit-learn)."""
    rounded = [f"{name} {share * 100:g}% of {n} = {share * n:.4g} → {rows}" for name, share, rows
               in (("test", test, n_test), ("validation", val, n_val)) if rows and abs(share * n - rows) > 1e-9]
    if n_val == 0:
        return (f"{rounded[0]} test rows (rounded up, as train_test_split(test_size={test:g}) does)" if rounded
                else None)
    if not rounded and not from_ratio:
        return None
    how = "; ".join(rounded) + " (rounded to the nearest row); " if rounded else ""
    first = _sklearn_call(has_target, "X", n_test, seed, stratified[0])
    if n_test == 0:
        return f"rows: {how}the same validation rows as {_sklearn_call(has_target, 'X', n_val, seed + 1, stratified[1])}"
    return (f"rows: {how}the same rows as {first}, then validation from the other {n - n_test}: "
            f"{_sklearn_call(has_target, 'X_rest', n_val, seed + 1, stratified[1])}")


def _sklearn_call(has_target, X, rows, random_state, stratified) -> str:
    """The ``train_test_split`` call that cuts the same rows, as text."""
    y = X.replace("X", "y")
    data = f"{X}, {y}" if has_target else X
    return (f"train_test_split({data}, test_size={rows}, random_state={random_state}"
            f"{f', stratify={y}' if stratified else ''})")


def _cut(X, y, n_out, stratify, seed):
    """Take ``n_out`` rows out (stratified when asked and every class fits in both parts);
    also says whether it stratified."""
    if n_out == 0:
        empty_y = None if y is None else y.iloc[:0]
        return X, X.iloc[:0], y, empty_y, False
    from sklearn.model_selection import train_test_split

    strata = y if stratify and y is not None else None
    if strata is not None and (n_out < y.nunique() or len(y) - n_out < y.nunique()):
        strata = None  # too few rows to hold every class in both parts
    if y is None:
        a, b = train_test_split(X, test_size=n_out, random_state=seed)
        return a, b, None, None, False
    a, b, ya, yb = train_test_split(X, y, test_size=n_out, random_state=seed, stratify=strata)
    return a, b, ya, yb, strata is not None
