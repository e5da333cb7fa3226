"""The live tuning panel, server side: set widget values the way the browser does and check
that the observers refit, the readouts and images change, and the history and keep work."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest

ipywidgets = pytest.importorskip("ipywidgets")

import nbml
from nbml.widgets import LiveFigure, Panel, interactive_evaluation, panel
from nbml.widgets.controls import choose_specs, control_spec


@pytest.fixture(autouse=True)
def no_store(monkeypatch):
    monkeypatch.setenv("NBML_STORE", "off")


@pytest.fixture(scope="module")
def cancer_split():
    from sklearn.datasets import load_breast_cancer

    df = load_breast_cancer(as_frame=True).frame
    return nbml.split(df, target="target", seed=0, activate=False)


@pytest.fixture(scope="module")
def diabetes_split():
    from sklearn.datasets import load_diabetes

    df = load_diabetes(as_frame=True).frame
    return nbml.split(df, target="target", seed=0, activate=False)


def logistic_panel(split, **kw):
    from sklearn.linear_model import LogisticRegression

    return Panel(LogisticRegression(max_iter=2000), split=split, background=False, **kw)


def control(p, name):
    return next(c for c in p.controls if c.name == name).widget


# -- controls ----------------------------------------------------------------------------

def test_controls_follow_the_kind_of_parameter():
    assert control_spec("C", 1.0).kind == "log"
    assert control_spec("alpha", 0.0).kind == "log"  # 0 cannot sit on a log slider: bottom of the range
    depth = control_spec("max_depth", None)
    assert (depth.kind, depth.none_at_max, depth.value) == ("int", True, depth.high)
    assert control_spec("fit_intercept", True).kind == "bool"
    penalty = control_spec("penalty", "l2")
    assert penalty.kind == "choice" and None in penalty.options
    assert control_spec("l1_ratio", 0.5).kind == "float"
    assert control_spec("random_state", 0) is None
    wide = control_spec("C", 1e5)  # the current value widens the range
    assert wide.low <= 1e5 <= wide.high


def test_space_fixes_widgets_and_ranges():
    from sklearn.tree import DecisionTreeClassifier

    from nbml.space import loguniform, randint
    from nbml.widgets.controls import make_controls

    controls = make_controls(DecisionTreeClassifier(), space={"ccp_alpha": loguniform(1e-4, 1e-1),
                                                              "max_depth": randint(2, 9),
                                                              "criterion": ["gini", "entropy"],
                                                              "splitter": ["best", "random"]})
    kinds = {c.name: type(c.widget).__name__ for c in controls}
    assert kinds == {"ccp_alpha": "FloatLogSlider", "max_depth": "IntSlider", "criterion": "Dropdown",
                     "splitter": "Dropdown"}
    depth = controls[1].widget
    assert (depth.min, depth.max) == (2, 9)
    alpha = controls[0].widget
    assert math.isclose(10 ** alpha.min, 1e-4) and math.isclose(10 ** alpha.max, 1e-1)
    checkbox = make_controls(DecisionTreeClassifier(), space="ccp_alpha = [0.0, 0.01]\n")[0]
    assert type(checkbox.widget).__name__ == "Dropdown"


def test_automatic_controls_open_on_the_model_as_given():
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    from nbml.widgets.controls import make_controls

    cases = [(RandomForestClassifier(), ["n_estimators", "max_depth", "min_samples_leaf"]),  # not max_features='sqrt'
             (SVC(), ["C"]),  # not gamma='scale'
             (SVC(gamma=0.1), ["C", "gamma"]),
             (MLPClassifier(hidden_layer_sizes=(7,)), ["alpha", "learning_rate_init", "hidden_layer_sizes"]),
             (HistGradientBoostingClassifier(l2_regularization=0.5), ["learning_rate", "max_iter", "max_leaf_nodes",
                                                                     "min_samples_leaf", "l2_regularization"])]
    for model, names in cases:
        controls = make_controls(model)
        assert [c.name for c in controls] == names
        assert {c.name: c.model_value() for c in controls} == {n: model.get_params()[n] for n in names}


def test_unknown_parameter_names_the_valid_ones():
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ValueError, match=r"no parameter 'max_iters'.*did you mean 'max_iter'"):
        choose_specs(LogisticRegression(), params="max_iters")


# -- the panel ---------------------------------------------------------------------------

def test_slider_change_refits_and_redraws(cancer_split):
    p = logistic_panel(cancer_split)
    assert [c.name for c in p.controls] == ["C"]
    assert set(p.figures) == {"roc", "cm"}
    before = {k: f.png for k, f in p.figures.items()}
    summary, table = p.summary.value, p.metrics_view.value
    assert "validation accuracy" in summary and "gap" in summary
    assert all(w in table for w in ("train", "validation", "gap", "roc_auc"))

    control(p, "C").value = 1e-3  # what the browser does when the slider moves
    assert p.n_refits == 1
    assert p.current.params == {"C": pytest.approx(1e-3)}
    assert p.summary.value != summary and p.metrics_view.value != table
    assert all(p.figures[k].png != before[k] for k in before)
    assert all(p.figures[k].image.value == p.figures[k].png for k in before)  # the widgets got them
    # the numbers are those of the model refit with C=1e-3, scored on validation
    from sklearn.metrics import accuracy_score

    y_pred = p.current.model.predict(cancer_split.X_val)
    assert p.current.val["accuracy"] == pytest.approx(accuracy_score(cancer_split.y_val, y_pred))
    assert p.current.model[-1].C == pytest.approx(1e-3)


def decoded(png: bytes):
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def test_a_refit_updates_the_plots_in_place(cancer_split):
    from sklearn.metrics import confusion_matrix, roc_curve

    p = logistic_panel(cancer_split)
    roc, cm = p.plots["roc"], p.plots["cm"]
    curve, image, cell = roc.curve, cm.image, cm.cells[1][1]
    control(p, "C").value = 1e-3
    # the same artists, with the new model's numbers
    assert roc.curve is curve and cm.image is image and cm.cells[1][1] is cell
    assert len(p.figures["roc"].axes[0].lines) == 3  # chance line, curve, threshold marker: none added
    proba = p.current.model.predict_proba(cancer_split.X_val)[:, 1]
    fpr, tpr, _ = roc_curve(cancer_split.y_val, proba)
    assert np.allclose(curve.get_xydata(), np.column_stack([fpr, tpr]))
    counts = confusion_matrix(cancer_split.y_val, (proba >= 0.5).astype(int))
    assert np.array_equal(image.get_array(), counts)
    assert [[t.get_text() for t in row] for row in cm.cells] == [[str(v) for v in row] for row in counts]
    # what the browser gets is what drawing the figure from scratch gives (blitting draws the
    # changed artists last, above the axes' frame: a few edge pixels may differ)
    import io

    for kind in ("roc", "cm"):
        figure = p.figures[kind]
        buffer = io.BytesIO()
        figure.figure.savefig(buffer, format="png", dpi=figure.dpi)
        live, full = decoded(figure.png), decoded(buffer.getvalue())
        assert live.shape == full.shape
        assert (np.abs(live - full).max(axis=2) > 0).mean() < 0.01, kind


def test_refits_that_only_change_the_model_fit_the_preprocessing_once(cancer_split):
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression

    p = logistic_panel(cancer_split)
    assert p._prepared is not None  # C belongs to the model: the preprocessing is fit once
    control(p, "C").value = 0.02
    result = nbml.train(LogisticRegression(max_iter=2000, C=0.02), split=cancer_split)
    assert p.current.val == pytest.approx(result.metrics) and p.current.train == pytest.approx(result.train_metrics)
    whole = clone(p.current.pipeline).fit(cancer_split.X_train, cancer_split.y_train)
    assert np.allclose(p.current.model.predict_proba(cancer_split.X_val), whole.predict_proba(cancer_split.X_val))
    assert p.current.model[0] is p._prepared[0]  # the kept model carries the one fitted preprocessing
    assert p.current.model[-1] is not p.history[0].model[-1]


def test_history_lists_every_setting_and_highlights_the_best(cancer_split):
    p = logistic_panel(cancer_split)
    for c in (1e-3, 0.01, 10.0):
        control(p, "C").value = c
    frame = p.table()
    assert len(frame) == 4 and list(frame.columns[:1]) == ["C"]
    best = p.best()
    assert best.val["accuracy"] == frame["val accuracy"].max()
    rows = p.history_view.value.split("<tr")
    best_rows = [r for r in rows if "nbml-best" in r]
    assert len(best_rows) == 1 and f"{best.val['accuracy']:.4f}" in best_rows[0]
    assert "4 setting(s) tried" in p.history_view.value


def test_threshold_moves_the_confusion_matrix_without_refitting(cancer_split):
    from sklearn.metrics import precision_score, recall_score

    p = logistic_panel(cancer_split)
    refits, roc, cm = p.n_refits, p.figures["roc"].png, p.figures["cm"].png
    curve = p.plots["roc"].curve.get_xydata().copy()
    p.threshold.value = 0.9
    assert p.n_refits == refits
    assert p.figures["roc"].png != roc and p.figures["cm"].png != cm  # the marker moved, the cells changed
    assert np.array_equal(p.plots["roc"].curve.get_xydata(), curve)  # the curve itself did not
    proba = p.current.model.predict_proba(cancer_split.X_val)[:, 1]
    y_pred = (proba >= 0.9).astype(int)
    from sklearn.metrics import confusion_matrix

    (tn, fp), (fn, tp) = confusion_matrix(cancer_split.y_val, y_pred)
    assert [t.get_text() for t in p.plots["cm"].cells[0] + p.plots["cm"].cells[1]] == [str(v) for v in (tn, fp, fn, tp)]
    marker = p.plots["roc"].marker.get_xydata()[0]
    assert marker == pytest.approx([fp / (fp + tn), tp / (tp + fn)])  # the threshold's point on the ROC curve
    expected = (precision_score(cancer_split.y_val, y_pred), recall_score(cancer_split.y_val, y_pred))
    assert f"precision <b>{expected[0]:.3f}</b>" in p.threshold_view.value
    assert f"recall <b>{expected[1]:.3f}</b>" in p.threshold_view.value
    # a refit keeps the threshold
    control(p, "C").value = 0.05
    assert np.array_equal(p.thresholded().y_pred,
                          (p.current.model.predict_proba(cancer_split.X_val)[:, 1] >= 0.9).astype(int))


def test_failing_refit_shows_the_error_and_keeps_the_last_good_state(cancer_split):
    from sklearn.linear_model import LogisticRegression

    p = Panel(LogisticRegression(max_iter=2000, solver="lbfgs"), split=cancer_split, params="C,penalty",
              background=False)
    good, summary, png = p.current, p.summary.value, p.figures["roc"].png
    control(p, "penalty").value = "l1"  # lbfgs does not support l1
    assert p.state == "error" and "l1" in p.status.value and "last good setting" in p.status.value
    assert p.current is good and p.summary.value == summary and p.figures["roc"].png == png
    assert p.history[-1].error and "colspan" in p.history_view.value
    control(p, "penalty").value = "l2"
    assert p.state == "ok" and p.current is not good


def _gated(coalescer):
    """Holds the coalescer's first run until the returned event is set (the real run follows),
    so every change made meanwhile arrives while a run is going on, however loaded the machine."""
    gate, real, first = threading.Event(), coalescer.fn, [True]

    def held():
        if first[0]:
            first[0] = False
            assert gate.wait(60)
        real()

    coalescer.fn = held
    return gate


def test_dragging_coalesces_into_few_refits(cancer_split):
    from sklearn.linear_model import LogisticRegression

    p = Panel(LogisticRegression(max_iter=2000), split=cancer_split, background=True)
    slider = control(p, "C")
    values = np.geomspace(1e-3, 1e2, 25)
    gate = _gated(p._coalescer)
    for v in values:  # 25 changes arrive while the first refit runs
        slider.value = float(v)
        assert p.state == "busy" or p.n_refits >= 1
    gate.set()
    assert p.wait(60)
    assert p._coalescer.runs == 2 and p._coalescer.requests == len(values)
    assert p.current.params["C"] == pytest.approx(values[-1])  # the latest value won
    assert p.state == "ok" and not p.busy
    refits = p.n_refits
    gate = _gated(p._threshold_coalescer)
    runs = p._threshold_coalescer.runs
    for t in np.linspace(0.5, 0.8, 31):  # the threshold coalesces too
        p.threshold.value = round(float(t), 2)
    gate.set()
    assert p.wait(60) and p.n_refits == refits
    assert p._threshold_coalescer.runs - runs == 2 and "at 0.8:" in p.threshold_view.value


def test_keep_stores_a_named_train_result(cancer_split):
    from nbml.training import TrainResult

    namespace = {}
    p = logistic_panel(cancer_split, namespace=namespace)
    control(p, "C").value = 0.02
    p.keep_name.value = "lr_small_c"
    p.keep_button.click()
    kept = namespace["lr_small_c"]
    assert isinstance(kept, TrainResult)
    assert kept.params["C"] == pytest.approx(0.02) and kept.metrics == p.current.val
    assert np.array_equal(kept.predict(cancer_split.X_val), p.current.model.predict(cancer_split.X_val))
    assert p.keep_name.value != "lr_small_c"
    with pytest.raises(ValueError, match="not a valid Python variable name"):
        p.keep("2 bad")


def test_keep_at_the_threshold_fixes_it_in_the_kept_model(cancer_split):
    from sklearn.metrics import accuracy_score

    namespace = {}
    p = logistic_panel(cancer_split, namespace=namespace)
    control(p, "C").value = 0.05
    p.threshold.value = 0.8
    p.keep_name.value, p.keep_threshold.value = "strict", True
    p.keep_button.click()
    kept = namespace["strict"]
    assert kept.threshold == pytest.approx(0.8)
    # the kept model predicts the positive class at 0.8, as the panel's confusion matrix shows
    expected = (p.current.model.predict_proba(cancer_split.X_val)[:, 1] >= 0.8).astype(int)
    assert np.array_equal(kept.predict(cancer_split.X_val), expected)
    assert np.array_equal(p.thresholded().y_pred, expected)
    assert kept.metrics["accuracy"] == pytest.approx(accuracy_score(cancer_split.y_val, expected))
    assert "threshold 0.8" in p.status.value
    plain = p.keep("plain", threshold=False)  # without it: the model's own 0.5
    assert not hasattr(plain, "threshold") and plain.metrics == p.current.val


def test_panel_of_a_train_result_regression(diabetes_split):
    from sklearn.linear_model import Ridge

    result = nbml.train(Ridge(), split=diabetes_split)
    p = Panel(result, background=False)
    assert set(p.figures) == {"residuals"} and p.threshold is None
    png, r2 = p.figures["residuals"].png, p.current.val["r2"]
    assert r2 == pytest.approx(result.metrics["r2"])
    control(p, "alpha").value = 50.0
    assert p.figures["residuals"].png != png and p.current.val["r2"] != r2
    assert "validation r2" in p.summary.value


def test_tree_depth_none_and_overfitting(cancer_split):
    from sklearn.tree import DecisionTreeClassifier

    p = Panel(DecisionTreeClassifier(), split=cancer_split, background=False)
    depth = control(p, "max_depth")
    assert p.values()["max_depth"] is None and p.current.train["accuracy"] == 1.0
    depth.value = 1
    assert p.current.model[-1].max_depth == 1 and p.current.train["accuracy"] < 0.97


def test_a_refit_with_the_same_predictions_redraws_nothing(cancer_split):
    from sklearn.tree import DecisionTreeClassifier

    p = Panel(DecisionTreeClassifier(), split=cancer_split, params="max_depth", background=False)
    depth = control(p, "max_depth")
    depth.value = 20
    assert p.current.model[-1].get_depth() < 20  # deeper limits change nothing
    pngs, draws = {k: f.png for k, f in p.figures.items()}, {k: f.n_draws for k, f in p.figures.items()}
    depth.value = 25
    assert p.n_refits == 2 and p.current.params["max_depth"] == 25
    assert all(p.figures[k].n_draws == draws[k] + 1 for k in draws)
    assert all(p.figures[k].png is pngs[k] for k in pngs)  # the same picture, not encoded again


def test_torch_loss_curve_redraws(cancer_split):
    pytest.importorskip("torch")
    p = Panel(nbml.TorchClassifier(hidden=(8,), epochs=2, batch_size=64), split=cancer_split,
              params="lr", background=False)
    assert "loss" in p.figures
    png = p.figures["loss"].png
    control(p, "lr").value = 0.05
    assert p.figures["loss"].png != png and p.current.model[-1].lr == pytest.approx(0.05, rel=1e-6)


def test_sklearn_mlp_loss_curve_and_layer_choice(cancer_split):
    from sklearn.neural_network import MLPClassifier

    p = Panel(MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0), split=cancer_split,
              background=False)
    assert "loss" in p.figures
    png = p.figures["loss"].png
    control(p, "hidden_layer_sizes").value = (100, 50)
    assert p.current.model[-1].hidden_layer_sizes == (100, 50) and p.figures["loss"].png != png
    assert "ConvergenceWarning" in p.status.value  # the model's warning, shown in the panel


def test_bad_targets_are_clear_errors(cancer_split):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="TrainResult .* or a model"):
        panel("model")
    with pytest.raises(TypeError, match="not a model"):
        panel(LogisticRegression, split=cancer_split)
    with pytest.raises(ValueError, match="either space= or params="):
        panel(LogisticRegression(), split=cancer_split, space={"C": [1, 2]}, params="C")


# -- the magic ---------------------------------------------------------------------------

def test_panel_magic(ip, run, cancer):
    ip.user_ns["cancer"] = cancer
    assert not run("from sklearn.linear_model import LogisticRegression").error
    assert not run("%split cancer --target target").error
    assert not run("%train LogisticRegression(max_iter=2000) -o lr").error
    cell = run("%panel lr --params C -o w")
    assert not cell.error
    w = ip.user_ns["w"]
    assert isinstance(w, ipywidgets.VBox) and w.panel.controls[0].name == "C"
    w.panel.keep("from_the_panel")
    assert ip.user_ns["from_the_panel"].metrics == w.panel.current.val  # the notebook's namespace
    assert not run("%panel LogisticRegression(C=0.5) -o w2").error  # a model: the active split
    assert ip.user_ns["w2"].panel.values() == {"C": 0.5}
    toggles = run("%evaluate lr --interactive")  # the lead's magic over interactive_evaluation
    assert not toggles.error and toggles.value.evaluation.kinds[:3] == ["roc", "pr", "cm"]
    bad = run("%panel lr --params Cee")
    assert bad.error is not None and "its parameters are C, " in str(bad.error)


# -- interactive evaluation and the live figure ----------------------------------------------

def test_interactive_evaluation_switches_plots_without_refitting(cancer_split):
    from sklearn.linear_model import LogisticRegression

    result = nbml.train(LogisticRegression(max_iter=2000), split=cancer_split)
    evaluation = nbml.evaluate(result, plots="roc")
    w = interactive_evaluation(evaluation, result=result)
    view = w.evaluation
    assert view.kinds == ["roc", "pr", "cm", "calibration", "learning"]
    image = w.children[-1]
    roc = image.value
    view.buttons.value = "cm"
    assert image.value != roc
    view.buttons.value = "roc"
    assert image.value == roc and view.figure.n_draws == 2  # from the cache
    assert view.learning is None
    view.buttons.value = "learning"  # the one plot that fits models: computed once, on first use
    learning = view.learning
    assert learning is not None and image.value not in (roc, view.cache["cm"])
    assert view.figure.axes[0].get_aspect() == "auto"  # not the confusion matrix's square cells
    view.buttons.value = "pr"
    view.buttons.value = "learning"
    assert view.learning is learning and view.figure.n_draws == 4
    with pytest.raises(TypeError, match="TrainResult or an Evaluation"):
        interactive_evaluation(42)


def test_live_figure_writes_the_canvas_as_png():
    from nbml.widgets.live import canvas_png

    live = LiveFigure(figsize=(2, 1.5))
    live.draw(lambda axes: axes[0].plot([0, 1], [1, 0]))
    pixels = np.asarray(live.figure.canvas.buffer_rgba())
    assert live.png == canvas_png(live.figure.canvas) and live.png.startswith(b"\x89PNG")
    assert np.array_equal(decoded(live.png), pixels[:, :, :3])  # lossless


def test_tune_history_moves_its_points_in_place(cancer_split):
    from sklearn.linear_model import LogisticRegression

    from nbml.tuning.live import NotebookView

    view, shown = NotebookView(every=0), []
    result = nbml.tune(LogisticRegression(max_iter=500), {"C": [0.01, 0.1, 1.0, 10.0]}, method="grid",
                       split=cancer_split, live=False,
                       callbacks=[view, lambda record, best: shown.append(view.live.axes[0].collections[0])])
    ax = view.live.axes[0]
    assert view.live.n_draws == 5  # each trial, then the final state
    assert len(shown) == 4 and all(points is shown[0] for points in shown)  # one scatter, moved each trial
    assert len(ax.collections) == 1 and len(ax.lines) == 1  # the trials' points and the best-so-far line
    scores = result.trials.sort_index()["score"].to_numpy()  # in trial order
    assert np.allclose(ax.collections[0].get_offsets()[:, 1], scores)
    assert np.allclose(ax.lines[0].get_ydata(), np.fmax.accumulate(scores))
    assert f"best accuracy {scores.max():.4f}" in ax.get_title()
    low, high = ax.get_ylim()
    assert low < scores.min() and scores.max() < high


def test_live_figure_throttles_and_flushes():
    calls = []

    def draw(axes, n):
        calls.append(n)
        axes[0].plot([0, 1], [0, n])

    live = LiveFigure(figsize=(2, 2), min_interval=60)
    image = live.widget()
    assert live.draw(draw, 1) and image.value == live.png
    first = live.png
    assert not live.draw(draw, 2) and not live.draw(draw, 3)  # too soon: deferred
    assert calls == [1] and live.flush() and calls == [1, 3]  # only the latest one is drawn
    assert image.value != first and live.n_draws == 2 and len(live.axes[0].lines) == 1
    from matplotlib.colors import to_hex

    assert to_hex(live.axes[0].lines[0].get_color()) == "#1f77b4"  # each redraw starts the colour cycle again
    with pytest.raises(ValueError, match="min_interval"):
        LiveFigure(min_interval=-1)
