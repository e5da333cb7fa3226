"""``label_issues()``: find likely mislabeled rows, review them, train again on the cleaned data.

Out-of-fold predicted probabilities come from K-fold cross-validation of the model on the
split's training rows (every row is scored by a model that never saw it); cleanlab's
confident learning (``cleanlab.filter.find_label_issues``) then picks the rows whose given
label disagrees with what the model is confident of, ranked by label quality (the predicted
probability of the given label: lowest first). Validation and test rows are never looked at:
cleaning training labels with their labels would let them leak into the model that
``retrain()`` then scores on them.

For large data, ``coreset=SIZE`` takes the coreset route: each fold's model is fit on a
weighted coreset of the other folds (``SIZE`` rows instead of all of them), and the flagged rows
are reviewed in order of their share of the model's log-loss — the quantity a coreset's
sensitivity bounds, so the rows a coreset must weigh most are looked at first.

Decisions (keep / relabel / drop) never touch the user's data: they build a cleaned copy
(``cleaned()``, ``cleaned_split()``, ``retrain()``), are appended to the embedded store as they
are made (a restarted kernel picks the review up where it was), and ``undo()`` takes the last
one back.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nbml.data import Split
from nbml.errors import FitError, NbmlError, describe_error
from nbml.training import TrainResult, final_estimator

ACTIONS = ("keep", "relabel", "drop")
FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given",
           "low_normalized_margin", "low_self_confidence")
# a flagged row whose suggestion the out-of-fold model gives at least this probability is relabeled
# when suggestions are accepted; a less certain one is dropped: relabeling a row the model is unsure
# of risks replacing a right label by a wrong one, dropping it only loses one row
RELABEL_ABOVE = 0.8
PROBA_MODELS = ("LogisticRegression, RandomForestClassifier, HistGradientBoostingClassifier, "
                "KNeighborsClassifier, GaussianNB, SVC(probability=True), nbml.TorchClassifier")


def _cleanlab():
    try:
        import cleanlab.filter
        import cleanlab.rank
    except ImportError:
        raise ModuleNotFoundError("finding label issues uses cleanlab's confident learning, which is not "
                                  "installed: pip install 'nbml[labels]' (or pip install cleanlab)") from None
    return cleanlab


# -- finding ------------------------------------------------------------------------------

def label_issues(result, split=None, cv=5, seed=None, coreset=None, filter_by="prune_by_class", rounds=2,
                 name=None, storage=None, n_jobs=None) -> LabelIssues:
    """Likely mislabeled rows of a classification split's training rows (validation and test
    rows stay the checks a retrained model is scored on).

    ``result``: a ``TrainResult`` (its model, preprocessing and split are used) or an unfitted
    classifier (trained on ``split``, default the active one, with the auto preprocessing).
    ``cv``: folds for the out-of-fold probabilities. ``coreset``: rows (int) or fraction of each
    fold's training rows to fit on instead of all of them (large data). ``filter_by``: cleanlab's
    rule (default ``prune_by_class``: per given class, as many rows as the confident joint says are
    wrong, lowest label quality first). ``rounds``: with 2 (the default) the folds are fit again without the rows the first round
    flagged, so the final probabilities come from models the flagged labels did not mislead (on
    digits and breast_cancer with 5% flipped labels this raised precision by ~0.1; see
    ``benchmarks/label_noise.py``); 1 is plain confident learning. ``name`` keys the review's
    decisions in the store (default: the model's name).
    Returns a ``LabelIssues``: the flagged rows as a DataFrame (index ``row``: the row's label in
    the user's data; ``given``, ``suggested``, ``confidence``, ``quality``, and the suggested
    ``action``: relabel when the model is confident of the suggestion, else drop), and the review.
    """
    recipe = _recipe(result, split, seed)
    pipeline, data_split, model_name, seed = recipe.pipeline, recipe.split, recipe.name, recipe.seed
    if data_split.task != "classification":
        raise NbmlError(f"finding label issues needs class labels, but this split's task is {data_split.task} "
                         f"(target {data_split.target!r}): split a categorical target for classification")
    if not hasattr(final_estimator(pipeline), "predict_proba"):
        raise TypeError(f"{model_name} gives no predicted probabilities (no predict_proba), which confident "
                        f"learning needs: use a model that has them, e.g. {PROBA_MODELS}")
    if filter_by not in FILTERS:
        raise NbmlError(f"filter_by={filter_by!r} is not a cleanlab filter; use one of {', '.join(FILTERS)}")
    if coreset is not None:
        _check_size(coreset)
    if not isinstance(rounds, (int, np.integer)) or isinstance(rounds, bool) or rounds < 1:
        raise NbmlError(f"rounds={rounds!r} is not a round count; use 1 (plain confident learning) or more")
    cleanlab = _cleanlab()
    from nbml.folds import rows_of

    # the training rows only: validation and test rows stay the checks a retrained model is
    # scored on, so their labels must not steer the cleaning of the rows it is fit on
    rows = rows_of(recipe, cv, within_train=True)
    X, y = rows.X, rows.y
    classes = np.asarray(data_split.classes_ if data_split.classes_ is not None else sorted(pd.unique(y)))
    codes = pd.Categorical(y, categories=classes).codes
    exclude = None
    for _ in range(rounds):
        proba = _out_of_fold(recipe, rows, classes, exclude, coreset, n_jobs)
        flagged = cleanlab.filter.find_label_issues(codes, proba, filter_by=filter_by,
                                                    return_indices_ranked_by="self_confidence", n_jobs=1)
        exclude = np.zeros(len(X), dtype=bool)
        exclude[flagged] = True
    quality = cleanlab.rank.get_label_quality_scores(codes, proba, method="self_confidence")
    best = proba.argmax(axis=1)
    table = pd.DataFrame({
        "given": y.to_numpy()[flagged],
        "suggested": classes[best[flagged]],
        "confidence": proba[flagged, best[flagged]],
        "quality": quality[flagged],
        "action": np.where(proba[flagged, best[flagged]] >= RELABEL_ABOVE, "relabel", "drop"),
    }, index=pd.Index(X.index[flagged], name="row"))
    if coreset is not None:
        loss = -np.log(np.clip(proba[np.arange(len(codes)), codes], 1e-12, 1.0))
        table["loss_share"] = loss[flagged] / loss.sum()
        table = table.sort_values("loss_share", ascending=False, kind="stable")
    issues = LabelIssues(name=name or model_name, split=data_split, table=table, proba=proba,
                         classes=classes, model_name=model_name, cv=cv, seed=seed, rounds=rounds,
                         route="coreset" if coreset is not None else "cross-validation",
                         filter_by=filter_by, storage=storage, recipe=recipe)
    issues._load()
    return issues


def _recipe(result, split, seed):
    from nbml.recipe import prepare

    if isinstance(result, TrainResult) and split is not None:
        raise TypeError("give either a TrainResult (which has its split) or a model with split=…, not both")
    if isinstance(result, (pd.DataFrame, Split)) or result is None:
        raise TypeError(f"label_issues needs a TrainResult or a classifier to score the rows with; got "
                        f"{type(result).__name__}")
    if isinstance(result, TrainResult) and result.fitted_on == "coreset":
        raise NbmlError(f"{result.name} was fit on a coreset; label issues are found by CV on train+val: give the "
                        f"model itself (and coreset=N to fit each fold on a coreset)")
    return prepare(result, split, seed)


def _check_size(size):
    ok = (isinstance(size, (int, np.integer)) and not isinstance(size, bool) and size >= 2) or \
        (isinstance(size, float) and 0 < size < 1)
    if not ok:
        raise NbmlError(f"coreset={size!r} is not a size; give rows per fold (an integer ≥ 2) or a fraction "
                         f"in (0, 1)")


def _out_of_fold(recipe, rows, classes, exclude=None, size=None, n_jobs=None):
    """Out-of-fold probabilities of every row of ``rows`` (columns: ``classes``), through the fold
    engine. Fold models leave out the rows in ``exclude`` (flagged by an earlier round) and, with
    ``size``, fit on a weighted coreset of the rest."""
    from nbml.folds import folds_of, progress, run_fold

    pairs = [(tr if exclude is None else tr[~exclude[tr]], te) for tr, te in rows.pairs]
    folds = folds_of(recipe, rows, pairs=pairs)
    fits = [None if size is None else functools.partial(_coreset_fit, size=size, seed=recipe.seed + k)
            for k in range(len(folds))]
    try:
        if n_jobs in (None, 1):
            outcomes = [run_fold(recipe.pipeline, f, False, fit)
                        for f, fit in progress(list(zip(folds, fits)), f"label search: {len(folds)} folds")]
        else:
            from joblib import Parallel, delayed

            outcomes = Parallel(n_jobs=n_jobs)(delayed(run_fold)(recipe.pipeline, f, False, fit)
                                               for f, fit in zip(folds, fits))
    except (ValueError, TypeError, ArithmeticError, IndexError, KeyError) as exc:
        if isinstance(exc, NbmlError):
            raise
        raise FitError(f"{recipe.name} failed on a fold: {describe_error(exc)}") from exc
    proba = np.zeros((len(rows.X), len(classes)))
    for (_, test_idx), outcome in zip(pairs, outcomes):
        fold_classes = list(outcome.held_out.classes)
        columns = np.array([fold_classes.index(c) if c in fold_classes else -1 for c in classes])
        # a class a fold never saw gets probability 0 there
        proba[test_idx] = np.where(columns >= 0, outcome.held_out.proba[:, np.maximum(columns, 0)], 0.0)
    return proba


def _coreset_fit(model, fold, size, seed):
    """Fit on a weighted coreset of the fold's training rows (all of them when it is not smaller)."""
    X_in, y_in = fold.X_train, fold.y_train
    rows = size if isinstance(size, (int, np.integer)) else max(2, round(size * len(X_in)))
    if rows >= len(X_in):
        return fold.fit(model)
    from nbml.coresets import coreset

    subset = coreset(X_in, y_in.to_numpy(), size=int(rows), seed=seed, task="classification",
                     model=final_estimator(model), preprocess=_numbers(model, X_in, y_in))
    subset.X = X_in.iloc[subset.indices]  # the raw rows: the pipeline does its own preprocessing
    subset.y = y_in.iloc[subset.indices]
    return subset.fit(model)


def _gain_note(given, cleaned) -> str:
    from nbml import metrics as _metrics

    primary = _metrics.PRIMARY[cleaned.task]
    before, after = given.metrics.get(primary, float("nan")), cleaned.metrics.get(primary, float("nan"))
    where = "out-of-fold" if cleaned.cv is not None else "validation"
    return (f"Cleaned labels vs labels as given: {where} {primary} {after:.4f} vs {before:.4f} ({after - before:+.4f}); "
            f"same model, same rows scored, with their labels as given.")


def _numbers(pipeline, X, y):
    """What the coreset measures rows by: the pipeline's own preprocessing (fit on ``X``) when
    some columns are not numbers, else the columns as they are."""
    if all(pd.api.types.is_numeric_dtype(t) for t in X.dtypes) or len(getattr(pipeline, "steps", ())) < 2:
        return None
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    pre = clone(Pipeline(pipeline.steps[:-1])).fit(X, y)
    return pre.transform


# -- the result and its review ------------------------------------------------------------

@dataclass(repr=False)
class LabelIssues:
    """Flagged rows (``table``: one row each, most likely wrong first) and the review of them.

    Reads like the table: ``issues["suggested"]``, ``len(issues)``, ``issues.head()``. Decide
    with ``keep(row)``, ``relabel(row, label=None)`` (None: the suggestion), ``drop(row)``,
    ``accept()`` (every undecided flagged row takes its suggested action), ``undo()``; use the result
    with ``cleaned()``, ``cleaned_split()`` and ``retrain()``.
    """

    name: str
    split: Split
    table: pd.DataFrame
    proba: np.ndarray  # out-of-fold probabilities of every training row (columns: classes)
    classes: np.ndarray
    model_name: str
    cv: int
    seed: int
    route: str
    filter_by: str
    rounds: int = 1
    storage: str | None = None
    recipe: object = None  # nbml.recipe.Recipe: what retrain() fits
    baseline: object = None  # retrain(): the same model on the labels as given, scored the same way
    _log: list = field(default_factory=list)  # (row, action, label), in order; undo pops

    # -- reading ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, key):
        return self.table[key]

    def __getattr__(self, name):
        # DataFrame methods (head, loc, iloc, to_csv, ...) read the table of flagged rows
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.table, name)

    @property
    def n_rows(self) -> int:
        """Rows looked at (the split's training rows)."""
        return len(self.proba)

    @property
    def decisions(self) -> pd.DataFrame:
        """The standing decision per row (the last one made), in the order they were made."""
        state = self._state()
        frame = pd.DataFrame({"action": pd.Series([a for a, _ in state.values()], dtype=object),
                              "label": pd.Series([label for _, label in state.values()], dtype=object)})
        frame.index = pd.Index(list(state), name="row")
        return frame

    @property
    def pending(self) -> list:
        """Flagged rows with no decision yet, most likely wrong first."""
        decided = self._state()
        return [row for row in self.table.index if row not in decided]

    def row(self, row) -> pd.Series:
        """The features of one training row (as the user gave them)."""
        self._check_row(row)
        return self.split.X_train.loc[row]

    def given(self, row):
        self._check_row(row)
        return self.split.y_train.loc[row]

    def suggestion(self, row):
        """The model's most likely class for ``row`` (any training row, flagged or not)."""
        position = self._check_row(row)
        return self.classes[int(np.argmax(self.proba[position]))]

    # -- deciding --------------------------------------------------------------------
    def keep(self, row) -> None:
        """The given label is right."""
        self._decide(row, "keep", None)

    def relabel(self, row, label=None) -> None:
        """Give ``row`` the label ``label`` (default: the suggested one) in the cleaned copy."""
        self._check_row(row)
        label = self.suggestion(row) if label is None else self._check_label(label)
        self._decide(row, "relabel", label)

    def drop(self, row) -> None:
        """Leave ``row`` out of the cleaned copy."""
        self._decide(row, "drop", None)

    def accept(self, rows=None, relabel_above=None) -> int:
        """Take the suggested action for every undecided flagged row (or ``rows``): relabel it to the
        suggestion when the model gives that label at least ``relabel_above`` (default 0.8, the
        table's ``action`` column), else drop it. ``relabel_above=0`` relabels every row, ``1.01``
        drops every row. Returns how many rows were decided."""
        rows = self.pending if rows is None else list(rows)
        for row in rows:
            position = self._check_row(row)
            confidence = float(self.proba[position].max())
            threshold = RELABEL_ABOVE if relabel_above is None else float(relabel_above)
            if confidence >= threshold:
                self.relabel(row)
            else:
                self.drop(row)
        return len(rows)

    def undo(self):
        """Take the last decision back; returns it as ``(row, action, label)`` (None if none)."""
        if not self._log:
            return None
        last = self._log.pop()
        self._record(last[0], "undo", None)
        return last

    def _decide(self, row, action, label):
        self._check_row(row)
        self._log.append((row, action, label))
        self._record(row, action, label)

    def _state(self) -> dict:
        state = {}
        for row, action, label in self._log:
            state.pop(row, None)  # re-deciding moves the row to the end
            state[row] = (action, label)
        return state

    def _check_row(self, row) -> int:
        index = self.split.X_train.index
        try:
            position = index.get_loc(row)
        except (KeyError, TypeError):
            position = None
        if not isinstance(position, (int, np.integer)):
            shown = row.item() if isinstance(row, np.generic) else row
            raise NbmlError(f"row={shown!r} is not a training row of the split (rows are the data's index "
                             f"labels, e.g. {list(self.table.index[:3]) or list(index[:3])})")
        return int(position)

    def _check_label(self, label):
        for c in self.classes:
            if label == c or str(label) == str(c):
                return c
        raise NbmlError(f"label={label!r} is not a class of {self.split.target!r}; the classes are "
                         f"{', '.join(map(repr, self.classes))}")

    # -- the store -------------------------------------------------------------------
    def _url(self):
        from nbml.store import to_url

        return to_url(self.storage) if self.storage else to_url(None)

    def _record(self, row, action, label):
        url = self._url()
        if url is None:
            return
        try:
            from nbml.store import record_label_decision

            record_label_decision(url, self.name, self.split.fingerprint, row, action, label)
        except Exception as exc:  # the review goes on in memory; say the store missed it
            import warnings

            warnings.warn(f"nbml could not record the label decision: {type(exc).__name__}: {exc}", stacklevel=3)

    def _load(self):
        """Replay this review's decisions from the store (same name, same data)."""
        url = self._url()
        if url is None:
            return
        try:
            from nbml.store import label_decisions

            log = label_decisions(self.name, self.split.fingerprint, storage=url)
        except Exception as exc:  # noqa: BLE001 - the review starts afresh in memory; say the store missed it
            import warnings

            warnings.warn(f"nbml could not read earlier label decisions: {type(exc).__name__}: {exc}", stacklevel=3)
            return
        index = self.split.X_train.index
        for row_json, action, label_json in zip(log["row_id"], log["action"], log["label"]):
            if action == "undo":
                if self._log:
                    self._log.pop()
                continue
            row = _from_json(row_json, index)
            if row is None:
                continue
            label = self._check_label(json.loads(label_json)) if isinstance(label_json, str) else None
            self._log.append((row, action, label))

    # -- using the decisions ---------------------------------------------------------
    def cleaned_split(self, parts=("train", "val")) -> Split:
        """The split with the decisions applied to its ``parts`` (train and validation rows; test
        rows are never touched); the user's data is not changed."""
        from nbml.data import fingerprint

        state = self._state()
        dropped = [row for row, (action, _) in state.items() if action == "drop"]
        relabels = {row: label for row, (action, label) in state.items() if action == "relabel"}
        parts_out = {}
        for part in ("train", "val"):
            X, y = self.split.part(part)
            if part not in parts:
                parts_out[f"X_{part}"], parts_out[f"y_{part}"] = X, y
                continue
            y = y.copy()
            hits = [row for row in relabels if row in y.index]
            if hits:
                values = [relabels[row] for row in hits]
                if y.dtype != object and not all(pd.api.types.is_scalar(v) for v in values):
                    y = y.astype(object)
                y.loc[hits] = values
            keep = ~X.index.isin(dropped)
            parts_out[f"X_{part}"], parts_out[f"y_{part}"] = X[keep], y[keep]
        full_X = pd.concat([parts_out["X_train"], parts_out["X_val"], self.split.X_test])
        full_y = pd.concat([parts_out["y_train"], parts_out["y_val"], self.split.y_test])
        return dataclasses.replace(self.split, **parts_out, fingerprint=fingerprint(full_X, full_y),
                                   name=f"{self.split.name or 'data'} (cleaned)")

    def cleaned(self) -> pd.DataFrame:
        """A cleaned copy of the data (features and target; train, val and test rows) with the
        decisions applied: relabeled targets, dropped rows left out."""
        s = self.cleaned_split()
        X = pd.concat([s.X_train, s.X_val, s.X_test])
        y = pd.concat([s.y_train, s.y_val, s.y_test])
        return X.assign(**{str(s.target): y.to_numpy()})

    def retrain(self, cv=None, seed=None, activate=False) -> TrainResult:
        """Train the same model (same preprocessing) on the cleaned rows in one step.

        Decisions change what is fit on, never what is scored: every held-out row (the
        validation rows, or each CV fold's held-out rows) is scored as given — a score against
        labels a model suggested, or without the rows it doubted, would grade the model by its
        own opinion. The result's split has cleaned training rows; ``activate=True`` makes it
        the active one."""
        from dataclasses import replace

        from nbml.data import set_active
        from nbml.folds import Rows, rows_of
        from nbml.training import _recorded, fit_recipe

        original = replace(self.recipe, seed=self.seed if seed is None else int(seed))
        state = self._state()
        if cv is not None and any(action != "keep" for action, _ in state.values()):
            raise NbmlError(f"retrain(cv={cv}) would score training rows whose labels helped clean the others: "
                            f"retrain() scores the validation rows, which the review never looked at")
        rows = rows_of(original, cv)
        fit_on = self.cleaned_split(parts=("train", "val"))
        y_fit = pd.concat([fit_on.y_train, fit_on.y_val]).reindex(rows.X.index)
        dropped = rows.X.index.isin([row for row, (action, _) in state.items() if action == "drop"])
        kept = y_fit.notna().to_numpy() & ~dropped
        rows = Rows(X=rows.X, y=y_fit.where(kept, rows.y), y_scored=rows.y, label=rows.label,
                    pairs=[(tr[kept[tr]], te) for tr, te in rows.pairs])
        cleaned = self.cleaned_split(parts=("train",))
        if activate:
            set_active(cleaned)
        result = fit_recipe(replace(original, split=cleaned), cv=cv, rows=rows)
        # the same model on the labels as given, scored the same way on the same rows: the two
        # numbers compare (a CV result's own CV scores would not)
        self.baseline = fit_recipe(original, cv=cv)
        result.note = _gain_note(self.baseline, result)
        return _recorded(result)

    # -- display ---------------------------------------------------------------------
    def summary(self) -> str:
        share = len(self) / max(self.n_rows, 1)
        decided = self._state()
        counts = pd.Series([a for a, _ in decided.values()], dtype=object).value_counts()
        done = ", ".join(f"{counts.get(a, 0)} {a}" for a in ACTIONS) if decided else "none yet"
        how = f"{self.cv}-fold out-of-fold probabilities" + (" (fold models fit on coresets)"
                                                             if self.route == "coreset" else "")
        if self.rounds > 1:
            how += f", {self.rounds} rounds"
        return (f"{len(self)} of {self.n_rows} training rows ({share:.1%}) look mislabeled to {self.model_name} "
                f"({how}, cleanlab {self.filter_by}); decisions: {done}")

    def __repr__(self) -> str:
        return f"{self.summary()}\n{self.table.head(10).to_string()}"

    def _repr_html_(self) -> str:
        from html import escape

        return (f"<p><b>Label issues</b> — {escape(self.summary())}</p>"
                + self.table.head(20).to_html(float_format=lambda v: f"{v:.3f}"))


def _from_json(text, index):
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    if value in index:
        return value
    matches = [row for row in index if str(row) == str(value)]
    return matches[0] if matches else None
