"""``evaluate()``: metrics and plots of a trained result on its validation or test rows."""
from __future__ import annotations

from dataclasses import dataclass, field

from nbml.plots import parse_plots
from nbml.training import Predictions, TrainResult, predict

PARTS = ("val", "test", "train")


@dataclass(repr=False)
class Evaluation:
    """Metrics of one result on one part of its split, with the plots asked for."""

    name: str
    on: str
    n_rows: int
    metrics: dict
    predictions: Predictions
    plots: tuple
    learning: object = None  # sklearn LearningCurveDisplay, when asked for
    _figure: object = field(default=None)

    def figure(self):
        from nbml.plots import figure_of

        if self._figure is None and self.plots:
            self._figure = figure_of(self.predictions, self.plots, learning=self.learning)
        return self._figure

    def plot(self, kind: str = "auto", ax=None):
        from nbml.plots import plot_predictions

        return plot_predictions(self.predictions, kind, ax=ax, learning=self.learning)

    def __repr__(self) -> str:
        from nbml.plots.html import evaluation_text

        return evaluation_text(self)

    def _repr_html_(self) -> str:
        from nbml.plots.html import evaluation_html

        return evaluation_html(self)


def learning_curve(result: TrainResult, seed: int = 0, cv: int = 5):
    """Train vs validation score against training size (fits the model several times)."""
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import LearningCurveDisplay, learning_curve as sk_learning_curve

    from nbml.metrics import PRIMARY
    from nbml.training import make_folds

    split = result.split
    X, y = split.X_trainval, split.y_trainval
    metric = PRIMARY[result.task]
    scoring = {"accuracy": "accuracy", "r2": "r2"}.get(metric)
    if scoring is None:
        raise ValueError(f"a learning curve needs a target; this result is {result.task}")
    sizes, train_scores, test_scores = sk_learning_curve(
        result._pipeline, X, y, cv=make_folds(result.task, cv, seed), scoring=get_scorer(scoring),
        train_sizes=(0.1, 0.25, 0.5, 0.75, 1.0), shuffle=True, random_state=seed)
    return LearningCurveDisplay(train_sizes=sizes, train_scores=train_scores, test_scores=test_scores,
                                score_name=metric)


def evaluate(result, on: str = "val", plots=None) -> Evaluation:
    """Metrics and plots of ``result`` (a ``TrainResult``) on ``on`` = ``"val"`` (default),
    ``"test"`` (the untouched final check) or ``"train"``. ``plots``: comma-separated or a
    list of roc, pr, cm, residuals, actual, learning, calibration (default: the task's)."""
    if not isinstance(result, TrainResult):
        raise TypeError(f"evaluate needs a TrainResult (from nbml.train / %%train -o NAME); "
                        f"got {type(result).__name__}")
    if on not in PARTS:
        raise ValueError(f"on={on!r} is not a split part; use one of {', '.join(PARTS)}")
    kinds = parse_plots(plots, result.task)
    X, y = result.split.part(on)
    if len(X) == 0:
        raise ValueError(f"the split has no {on} rows (it was made with {on}=0); use another part")
    label = {"val": "validation", "test": "test", "train": "train"}[on]
    pred = predict(result.model, X, result.task, label=label, y=y)
    learning = learning_curve(result, seed=result.seed) if "learning" in kinds else None
    return Evaluation(result.name, on, len(X), pred.metrics(result.seed), pred, kinds, learning)
