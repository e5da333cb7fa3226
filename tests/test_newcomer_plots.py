"""Honest small outputs (issue 16, item 7): plots name string classes, multiclass calibration is
drawn one-vs-rest, models without probabilities get a ROC AUC from their decision scores and
say "no probabilities" for log loss, and target encoding prints no scikit-learn warning."""
import math

import numpy as np
import pytest


@pytest.fixture
def named(ip, run, cancer, iris_named):
    df = cancer.copy()
    df["target"] = np.array(["malignant", "benign"])[df["target"]]
    ip.user_ns.update(tumours=df, iris=iris_named)
    cell = run("import nbml\nfrom sklearn.linear_model import LogisticRegression, RidgeClassifier\n"
               "from sklearn.svm import SVC")
    assert cell.error is None, cell.err
    return ip


def _labels(ev):
    fig = ev.figure()
    return [(ax.get_xlabel(), ax.get_ylabel(), ax.get_legend_handles_labels()[1], [t.get_text() for t in ax.texts])
            for ax in fig.axes]


def test_binary_plots_name_the_positive_class(named, run):
    cell = run("%split tumours --target target --seed 0\n%train LogisticRegression(max_iter=3000) -o lr\n"
               "%evaluate lr --plots roc,pr,calibration -o ev")
    assert cell.error is None, cell.err
    for xlabel, ylabel, _, _ in _labels(named.user_ns["ev"]):
        assert "malignant" in xlabel and "malignant" in ylabel, (xlabel, ylabel)  # the second class


def test_multiclass_plots_are_one_vs_rest_with_class_names(named, run):
    cell = run("%split iris --target species --seed 0\n%train LogisticRegression(max_iter=3000) -o lr\n"
               "%evaluate lr --plots roc,pr,calibration -o ev")
    assert cell.error is None, cell.err
    for xlabel, ylabel, legend, texts in _labels(named.user_ns["ev"]):
        assert "each class vs the rest" in xlabel and "each class vs the rest" in ylabel
        assert "Positive label" not in xlabel + ylabel and not texts  # no "needs a binary classifier" panel
        assert {"setosa vs rest", "versicolor vs rest", "virginica vs rest"} <= {text.split(" (")[0] for text in legend}


@pytest.mark.parametrize("data,target", [("tumours", "target"), ("iris", "species")])
def test_models_without_probabilities_are_scored_in_words(named, run, data, target):
    cell = run(f"%split {data} --target {target} --seed 0\n%compare --models svm,ridge,lr --cv 3 -o board")
    assert cell.error is None, cell.err
    board = named.user_ns["board"]
    assert board["roc_auc"].notna().all()  # from decision_function where there are no probabilities
    cell = run("%train SVC()")
    assert cell.error is None, cell.err
    row = next(line for line in cell.out.splitlines() if line.startswith("log_loss"))
    assert row.split()[1:] == ["no", "probabilities", "no", "probabilities"]
    assert not math.isnan(cell.value.metrics["roc_auc"])
    cell = run("%evaluate _")
    assert "no probabilities" in cell.out


def test_target_encoding_prints_no_warning(named, run):
    named.user_ns["wine"] = wine = __import__("sklearn.datasets", fromlist=["load_wine"]).load_wine(as_frame=True).frame
    wine["region"] = np.where(wine["alcohol"] > 13, "north", np.where(wine["alcohol"] > 12.5, "mid", "south"))
    cell = run("%split wine --target target --seed 0\n%train LogisticRegression(max_iter=3000) --encode target")
    assert cell.error is None, cell.err
    assert "Warning" not in cell.err, cell.err
