"""``TuneResult``: what a search found, declared as data; showing it computes nothing."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import pandas as pd


@dataclass(kw_only=True, repr=False, eq=False)
class TuneResult:
    """The outcome of a search: ``best_params``, ``best_score``, ``trials`` (DataFrame sorted
    by score, best first), ``best`` (TrainResult of the best configuration: its model is fit on
    the training rows, like ``%%train --cv``'s, so validation and test stay held out),
    ``untuned`` (the model's metrics before tuning, on the same rows or folds; computed by
    ``tune()``, empty with ``untuned=False``), ``plot(kind)``."""

    best_params: dict
    best_score: float
    best_metrics: dict
    trials: pd.DataFrame
    metric: str
    greater: bool
    method: str
    task: str
    model_name: str
    duration: float
    fingerprint: str
    space: dict
    pipeline: object
    untuned: dict = field(default_factory=dict)
    best_recipe: object = None  # nbml.recipe.Recipe of the best configuration (None: no trial finished)
    cv: int | None = None
    study: str | None = None
    storage: str | None = None
    interrupted: bool = False
    optuna_study: object = None
    coreset: int | None = None  # rows of the coreset the trials were fit on
    refit_metrics: dict = field(default_factory=dict)  # coreset searches: the best refit on the full rows
    _best: object = None

    @property
    def best(self):
        """TrainResult of the best configuration (None when no trial finished), scored as the
        search scored it (same folds, or the validation rows; a coreset's on the full rows);
        fit when first asked for."""
        if self._best is None and self.best_recipe is not None:
            from nbml.store import paused
            from nbml.training import fit_recipe

            with paused():
                self._best = fit_recipe(self.best_recipe, cv=self.cv if self.coreset is None else None)
        return self._best

    @property
    def n_trials(self) -> int:
        """Finished trials of the study (complete, failed or pruned); ``trials`` also lists those
        interrupted (Ctrl-C, a crash) and those another process is running now."""
        return int(self.trials["state"].isin(("complete", "fail", "pruned")).sum()) if len(self.trials) else 0

    @property
    def n_failed(self) -> int:
        return int((self.trials["state"] == "fail").sum()) if len(self.trials) else 0

    @property
    def n_pruned(self) -> int:
        return int((self.trials["state"] == "pruned").sum()) if len(self.trials) else 0

    @property
    def failures(self) -> pd.Series:
        """Failed trials per error message."""
        failed = self.trials[self.trials["state"] == "fail"]
        return failed["error"].value_counts() if len(failed) else pd.Series(dtype=int, name="count")

    @property
    def total_epochs(self) -> int | None:
        if "epochs" not in self.trials:
            return None
        return int(self.trials["epochs"].fillna(0).sum())

    def comparison(self) -> pd.DataFrame:
        """Validation (or CV) metrics of the untuned and the tuned model side by side."""
        # the best trial's metrics are the refit's (same rows, same folds); a coreset's trials
        # fit fewer rows than the refit, so there the refit itself is compared
        tuned = self.best_metrics if not self.coreset else self.refit_metrics
        frame = pd.DataFrame({"untuned": pd.Series(self.untuned, dtype=float),
                              "tuned": pd.Series(tuned, dtype=float)})
        return frame.loc[[m for m in tuned if m in frame.index] or list(frame.index)]

    def summary_lines(self) -> list:
        where = f"{self.cv}-fold CV" if self.cv else "validation split"
        if self.coreset:
            where = (f"weighted {self.cv}-fold CV on a {self.coreset}-row coreset" if self.cv
                     else f"validation split, fit on a {self.coreset}-row coreset")
        states = self.trials["state"].value_counts() if len(self.trials) else {}
        others = "".join(f"; {states[s]} {words}" for s, words in (("interrupted", "interrupted"),
                                                                    ("running", "running elsewhere")) if s in states)
        lines = [f"TuneResult: {self.model_name}, {self.method} search, {self.n_trials} trials "
                 f"({self.n_failed} failed, {self.n_pruned} pruned{others}) in {self.duration:.1f}s"
                 + (" — interrupted" if self.interrupted else "")]
        lines.append(f"best {self.metric} ({where}): {self.best_score:.4f}" if _finite(self.best_score)
                     else "no trial finished")
        if self.best_params:
            lines.append("best parameters: " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.best_params.items()))
        if self.n_failed:
            lines.append("failures: " + "; ".join(f"{n}× {msg}" for msg, n in self.failures.items()))
        verdict = self.verdict()
        if verdict:
            lines.append(verdict)
        if self.study:
            lines.append(f"study {self.study!r} in {self.storage_label}")
        return lines

    def verdict(self) -> str:
        """In words, when tuning did not beat the untuned model on the same rows ('' otherwise)."""
        tuned = self.comparison()["tuned"].get(self.metric) if self.untuned else None
        untuned = self.untuned.get(self.metric) if self.untuned else None
        if not (_finite(tuned) and _finite(untuned)):
            return ""
        worse = tuned < untuned if self.greater else tuned > untuned
        if not worse and tuned != untuned:
            return ""
        how = "is worse than" if worse else "only matches"
        return (f"The tuned model {how} the untuned one ({self.metric} {tuned:.4f} vs {untuned:.4f}): keep the "
                f"untuned settings, or widen the space or give it more trials.")

    @property
    def storage_label(self) -> str:
        url = self.storage or "memory"
        return url.replace("sqlite:///" + os.getcwd() + os.sep, "sqlite:///") if isinstance(url, str) else str(url)

    def __repr__(self) -> str:
        lines = self.summary_lines()
        if self.best_metrics and self.untuned:
            lines.append(self.comparison().round(4).to_string())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from nbml.tuning.plots import result_html

        return result_html(self)

    def plot(self, kind: str = "history", params=None, ax=None):
        """``history`` (score per trial and best so far), ``importance``, ``parallel``,
        ``slice``, ``heatmap`` (two parameters: ``params=("a", "b")``). Returns the Figure."""
        from nbml.tuning.plots import plot

        return plot(self, kind, params=params, ax=ax)


def _finite(v) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return repr(v) if isinstance(v, str) else str(v)


