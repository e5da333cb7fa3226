"""The gradient-descent explorer: the math of ``descend`` against closed forms, then the
widget server side (set slider values the way the browser does, check the note and image)."""
from __future__ import annotations

import numpy as np
import pytest

from nbml.widgets.explore import Explorer, descend, gradient, loss, make_data, optimum, smoothness


# -- the core -------------------------------------------------------------------------------

def test_full_batch_gd_converges_to_the_least_squares_solution():
    X, y = make_data("linear", seed=0)
    run = descend("linear", lr=0.5, iterations=400)
    expected = np.polyfit(X[:, 0], y, 1)  # [slope, intercept]
    np.testing.assert_allclose(run.path[-1], expected, rtol=1e-6)
    np.testing.assert_allclose(run.optimum, expected, rtol=1e-10)
    assert not run.diverged and run.note.startswith("converged")
    assert np.all(np.diff(run.losses) <= 1e-12)  # below 2/L full-batch GD never goes uphill on a quadratic


def test_ridge_optimum_matches_the_closed_form():
    X, y = make_data("linear", seed=3)
    reg = 0.7
    run = descend("linear", lr=0.3, iterations=2000, reg=reg, seed=3)
    A = np.column_stack([X[:, 0], np.ones(len(y))])
    closed = np.linalg.solve(A.T @ A / len(y) + np.diag([reg, 0.0]), A.T @ y / len(y))
    np.testing.assert_allclose(run.path[-1], closed, rtol=1e-6)


@pytest.mark.parametrize("factor, diverges", [(0.95, False), (1.05, True)])
def test_full_batch_gd_diverges_above_two_over_L(factor, diverges):
    L = descend("linear", lr=0.01, iterations=1).L
    X, y = make_data("linear")
    A = np.column_stack([X[:, 0], np.ones(len(y))])
    assert L == pytest.approx(np.linalg.eigvalsh(A.T @ A / len(y))[-1])
    run = descend("linear", lr=factor * 2 / L, iterations=3000)
    assert run.diverged is diverges
    if diverges:
        assert "loss grew ×1000 — the learning rate is too high" in run.note
        assert len(run.losses) < 3001  # stopped once the loss passed the cap
    else:
        assert run.losses[-1] == pytest.approx(run.best_loss, rel=1e-6)


def test_logistic_gradient_matches_finite_differences_and_gd_reaches_the_newton_optimum():
    X, y = make_data("logistic", seed=1)
    w = np.array([0.3, -0.8])
    eps = 1e-6
    numeric = [(loss("logistic", w + eps * e, X, y, 0.1) - loss("logistic", w - eps * e, X, y, 0.1)) / (2 * eps)
               for e in np.eye(2)]
    np.testing.assert_allclose(gradient("logistic", w, X, y, 0.1), numeric, rtol=1e-6)
    run = descend("logistic", lr=2.0, iterations=500, reg=0.1, seed=1)
    np.testing.assert_allclose(run.path[-1], optimum("logistic", X, y, 0.1), atol=1e-6)
    assert np.linalg.norm(gradient("logistic", run.optimum, X, y, 0.1)) < 1e-10
    assert smoothness("logistic", X, y) > 0


def test_momentum_and_minibatches_change_the_path_and_the_seed_repeats_it():
    base = descend("linear", lr=0.05, iterations=50)
    heavy = descend("linear", lr=0.05, iterations=50, momentum=0.9)
    assert not np.allclose(base.path, heavy.path)
    # momentum gets further in the same number of small steps
    assert heavy.losses[20] < base.losses[20]
    a = descend("linear", lr=0.05, iterations=50, batch_size=5, seed=2)
    b = descend("linear", lr=0.05, iterations=50, batch_size=5, seed=2)
    c = descend("linear", lr=0.05, iterations=50, batch_size=5, seed=4)
    np.testing.assert_array_equal(a.path, b.path)
    assert not np.allclose(a.losses, c.losses)
    assert a.batch_size == 5 and base.batch_size == 60
    # near the optimum, stochastic steps are noisy: the full-data loss goes up now and then,
    # while full-batch steps with the same learning rate never do
    noisy = descend("linear", lr=0.3, iterations=200, batch_size=5)
    exact = descend("linear", lr=0.3, iterations=200)
    assert np.any(np.diff(noisy.losses) > 0) and not np.any(np.diff(exact.losses) > 1e-12)
    assert noisy.losses[-1] > exact.losses[-1]


def test_notes_name_what_went_wrong():
    # log-loss gradients are bounded, so logistic regression does not blow up: it overshoots
    overshoot = descend("logistic", lr=100.0, iterations=60)
    assert not overshoot.diverged and "overshoot" in overshoot.note
    slow = descend("linear", lr=0.01, iterations=20)
    assert slow.note.startswith("not there yet") and "larger learning rate" in slow.note
    noisy = descend("linear", lr=0.1, iterations=150, batch_size=2)
    assert "mini-batch noise" in noisy.note
    assert descend("linear", lr=0.5, iterations=400).note.startswith("converged")


@pytest.mark.parametrize("kwargs, word", [
    ({"lr": 0.0}, "lr"), ({"lr": -1.0}, "lr"), ({"iterations": 0}, "iterations"),
    ({"momentum": 1.0}, "momentum"), ({"reg": -0.1}, "reg"), ({"batch_size": 0}, "batch_size"),
    ({"model": "svm"}, "model"),
])
def test_bad_arguments_name_the_parameter(kwargs, word):
    with pytest.raises(ValueError, match=word):
        descend(**{"model": "linear", **kwargs})


# -- the widget -----------------------------------------------------------------------------

pytest.importorskip("ipywidgets")


def test_sliders_redraw_and_a_high_learning_rate_says_it_diverges():
    explorer = Explorer(background=False)
    assert explorer.lr.__class__.__name__ == "FloatLogSlider"
    first_png = explorer.figure.png
    assert first_png.startswith(b"\x89PNG") and explorer.figure.image.value == first_png
    assert "converged" in explorer.note.value or "not there yet" in explorer.note.value
    explorer.lr.value = 0.9  # above 2/L ≈ 0.67
    assert explorer.run.diverged and explorer.run.lr == pytest.approx(0.9)
    assert "loss grew ×1000 — the learning rate is too high" in explorer.note.value
    assert explorer.figure.image.value != first_png
    explorer.lr.value = 0.3
    explorer.iterations.value = 200
    assert not explorer.run.diverged and "converged" in explorer.note.value
    assert len(explorer.run.losses) == 201


def test_switching_to_logistic_and_moving_every_slider_refits():
    explorer = Explorer(background=False)
    draws = explorer.figure.n_draws
    explorer.model.value = "logistic"
    explorer.batch_size.value = 10
    explorer.momentum.value = 0.5
    explorer.reg.value = 0.2
    assert explorer.figure.n_draws == draws + 4
    assert explorer.values() == {"model": "logistic", "lr": pytest.approx(0.1), "batch_size": 10,
                                 "iterations": 60, "momentum": 0.5, "reg": pytest.approx(0.2)}
    assert explorer.run.model == "logistic" and explorer.run.batch_size == 10
    assert explorer.run.reg == pytest.approx(0.2)


def test_background_redraws_coalesce():
    explorer = Explorer(background=True)
    for lr in (0.2, 0.3, 0.4, 0.5):
        explorer.lr.value = lr
    assert explorer.wait(30)
    assert explorer.run.lr == pytest.approx(0.5)  # the last value wins


def test_explore_function_and_magic(run, ip):
    import nbml.widgets

    widget = nbml.widgets.explore("gd", model="logistic", background=False)
    assert widget.explorer.run.model == "logistic"
    with pytest.raises(ValueError, match="problem"):
        nbml.widgets.explore("svm")
    cell = run("%explore gd --model linear --lr 2 -o ex")
    assert cell.error is None
    assert ip.user_ns["ex"] is cell.value
    ex = ip.user_ns["ex"].explorer
    ex.wait(30)
    assert ex.run.diverged and "learning rate is too high" in ex.note.value
    bad = run("%explore gd --lr -1")
    assert bad.error is not None and "lr" in str(bad.error)
