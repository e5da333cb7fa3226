"""The plots PyCaret users pick (issue 19, item 4): lift, cumulative gains, KS, precision/recall/F1
vs threshold, the classification report as a heatmap and the per-class prediction error — each
checked against a hand computation, and drawn through %evaluate."""
import numpy as np
import pytest
from matplotlib.figure import Figure

from nbml import NbmlError
from nbml.plots import figure_of, plot_predictions
from nbml.plots.curves import (ClassReportDisplay, ErrorDisplay, GainDisplay, KSDisplay, LiftDisplay,
                               ThresholdDisplay)
from nbml.training import Predictions


@pytest.fixture(scope="module")
def binary():
    """200 rows, two string classes, probabilities that overlap (and a few ties)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(np.round(0.35 * y + rng.uniform(0, 0.65, 200), 2), 0, 1)
    classes = np.array(["no", "yes"])
    return Predictions("classification", classes[y], classes[(p > 0.5).astype(int)], classes,
                       proba=np.column_stack([1 - p, p]))


@pytest.fixture(scope="module")
def three():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 150)
    proba = rng.dirichlet(np.ones(3), 150) + np.eye(3)[y]
    proba /= proba.sum(axis=1, keepdims=True)
    classes = np.array(["a", "b", "c"])
    return Predictions("classification", classes[y], classes[proba.argmax(axis=1)], classes, proba=proba)


def _hand_gain(positive, score):
    order = np.argsort(-score, kind="stable")
    return np.cumsum(positive[order]) / positive.sum()


def test_gain_and_lift_are_a_cumsum_of_the_sorted_positives(binary):
    positive, score = binary.y_true == "yes", binary.proba[:, 1]
    gain = _hand_gain(positive, score)
    shown = GainDisplay.from_predictions(binary)
    assert np.allclose(shown.gain, np.r_[0, gain]) and np.allclose(shown.fraction, np.arange(201) / 200)
    lift = LiftDisplay.from_predictions(binary)
    rate = positive.mean()
    assert np.allclose(lift.lift, (np.cumsum(positive[np.argsort(-score, kind="stable")]) / np.arange(1, 201)) / rate)
    assert lift.lift[-1] == pytest.approx(1.0)
    for display in (shown, lift):
        assert display.plot() is display and isinstance(display.figure_, Figure) and display.ax_.lines


def test_ks_is_scipy_two_sample_statistic(binary):
    from scipy.stats import ks_2samp

    score, positive = binary.proba[:, 1], binary.y_true == "yes"
    ks = KSDisplay.from_predictions(binary)
    assert ks.statistic == pytest.approx(ks_2samp(score[positive], score[~positive]).statistic, abs=1e-12)
    assert ks.plot().ax_.get_title().startswith("KS statistic")


def test_threshold_curve_is_precision_recall_curve(binary):
    from sklearn.metrics import f1_score, precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(binary.y_true, binary.proba[:, 1], pos_label="yes")
    shown = ThresholdDisplay.from_predictions(binary)
    assert np.allclose(shown.thresholds, thresholds)
    assert np.allclose(shown.precision, precision[:-1]) and np.allclose(shown.recall, recall[:-1])
    called = np.where(binary.proba[:, 1] >= shown.best, "yes", "no")
    assert shown.f1.max() == pytest.approx(f1_score(binary.y_true, called, pos_label="yes"))
    assert [line.get_label() for line in shown.plot().ax_.lines][:3] == ["precision", "recall", "F1"]


@pytest.mark.parametrize("data", ["binary", "three"])
def test_class_report_and_error_match_scikit_learn(data, request):
    from sklearn.metrics import classification_report, confusion_matrix

    pred = request.getfixturevalue(data)
    report = classification_report(pred.y_true, pred.y_pred, output_dict=True, zero_division=0)
    shown = ClassReportDisplay.from_predictions(pred)
    for i, name in enumerate(pred.classes):
        assert np.allclose(shown.values[i], [report[name][k] for k in ("precision", "recall", "f1-score")])
        assert shown.support[i] == report[name]["support"]
    error = ErrorDisplay.from_predictions(pred)
    assert (error.counts == confusion_matrix(pred.y_true, pred.y_pred, labels=pred.classes)).all()
    assert shown.plot().ax_.images and len(error.plot().ax_.patches) == len(pred.classes) ** 2


def test_multiclass_ranks_one_class_against_the_rest(three):
    """The last class by default (the positive class of a binary result); pos_label picks another."""
    positive = three.y_true == "a"
    gain = GainDisplay.from_predictions(three, pos_label="a")
    assert np.allclose(gain.gain[1:], _hand_gain(positive, three.proba[:, 0]))
    assert "a vs rest" in gain.plot().ax_.get_ylabel()
    assert KSDisplay.from_predictions(three).positive_name == "c"
    fig = figure_of(three, ("lift", "gain", "ks", "threshold"))
    assert all("c vs rest" in ax.get_xlabel() + ax.get_ylabel() for ax in fig.axes)
    with pytest.raises(NbmlError, match="pos_label='z' is not a class of this result; choose from a, b, c"):
        ThresholdDisplay.from_predictions(three, pos_label="z")


def test_decision_scores_and_no_scores(binary):
    scores = binary.proba[:, 1] - 0.5
    by_score = Predictions("classification", binary.y_true, binary.y_pred, binary.classes, scores=scores)
    assert KSDisplay.from_predictions(by_score).statistic == pytest.approx(KSDisplay.from_predictions(binary).statistic)
    # the other class's view of the same scores: the ranking flips
    flipped = GainDisplay.from_predictions(by_score, pos_label="no")
    assert np.allclose(flipped.gain[1:], _hand_gain(binary.y_true == "no", -scores))
    bare = Predictions("classification", binary.y_true, binary.y_pred, binary.classes)
    with pytest.raises(NbmlError, match="no lift: the model gives neither probabilities nor decision scores"):
        LiftDisplay.from_predictions(bare)
    ax = plot_predictions(bare, "lift").axes[0]
    assert "neither probabilities" in ax.texts[0].get_text()


def test_evaluate_draws_the_new_kinds(ip, run, cancer):
    ip.user_ns["cancer"] = cancer
    cell = run("from sklearn.linear_model import LogisticRegression\n%split cancer --target target --seed 0\n"
               "%train LogisticRegression(max_iter=3000) -o lr\n%evaluate lr --on test --plots lift,gain,ks -o ev")
    assert cell.error is None, cell.err
    ev = ip.user_ns["ev"]
    assert len(ev.figure().axes) == 3
    assert [ax.get_title().split(" (")[0] for ax in ev.figure().axes] == ["Lift", "Cumulative gains", "KS statistic"]
    assert ev.plot("threshold").axes[0].get_title().startswith("Precision, recall, F1")
    assert ev.plot("class_report") is not None and ip.user_ns["lr"].plot("error") is not None
    cell = run("%evaluate lr --plots lifts")
    lines = [line for line in (cell.out + cell.err).splitlines() if line.strip()]
    assert len(lines) == 1, cell.out + cell.err
    assert "'lifts' is not a plot" in lines[0] and "lift, gain, ks, threshold, class_report, error" in lines[0]


def test_a_regression_result_is_told_which_plots_it_has():
    from nbml.plots import parse_plots

    with pytest.raises(NbmlError, match="plot 'gain' needs a classification task but this one is regression; choose from"):
        parse_plots("residuals,gain", "regression")
    assert parse_plots("lift,gain,ks,threshold,class_report,error", "classification")[-1] == "error"
