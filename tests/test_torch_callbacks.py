"""Training views: plain-text progress, the in-place live loss plot, Optuna pruning, lr_find."""
import io
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from nbml.torch.callbacks import LiveLossPlot, OptunaPruning, TextProgress  # noqa: E402
from nbml.torch.estimators import TorchClassifier  # noqa: E402
from nbml.torch.lr_find import LRFinderResult, lr_find  # noqa: E402
from nbml.torch.mlp import mlp  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X[:400], y[:400], X[400:], y[400:]


@pytest.fixture(scope="module")
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


def test_text_progress_prints_one_line_per_epoch_and_a_summary(cancer):
    X, y, Xv, yv = cancer
    out = io.StringIO()
    TorchClassifier(hidden=(8,), epochs=3, callbacks=[TextProgress(file=out)]).fit(
        X, y, X_val=Xv, y_val=yv
    )
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("epoch   1/3  train_loss ")
    assert "val_loss" in lines[0] and "val_accuracy" in lines[0] and "lr 0.001" in lines[0]
    assert lines[-1].startswith("epoch 3/3 · ") and "best epoch" in lines[-1]
    assert lines[-1].endswith("done")


def test_text_progress_throttles_but_always_prints_the_last_epoch(cancer):
    X, y, _, _ = cancer
    out = io.StringIO()
    TorchClassifier(hidden=(8,), epochs=6, callbacks=[TextProgress(min_interval=3600, file=out)]).fit(X, y)
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines[:2]] == ["1/6", "6/6"] and len(lines) == 3


def test_verbose_adds_text_progress(cancer, capsys):
    X, y, _, _ = cancer
    TorchClassifier(hidden=(8,), epochs=2, verbose=1).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[1].startswith("epoch   2/2  train_loss")


def test_live_loss_plot_displays_once_and_updates_in_place(cancer, shell):
    from IPython.utils.capture import capture_output

    X, y, Xv, yv = cancer
    view = LiveLossPlot(min_interval=3600)
    clf = TorchClassifier(hidden=(256, 256), lr=3e-2, epochs=40, batch_size=16, patience=3,
                          callbacks=[view])
    with capture_output() as captured:
        clf.fit(X, y, X_val=Xv, y_val=yv)
    outputs = captured.outputs
    # one display, then updates of that same output: first, first epoch, final redraw
    assert len(outputs) == view.n_draws == 3
    ids = {o.transient["display_id"] for o in outputs}
    assert ids == {view.handle.display_id}
    assert [o.update for o in outputs] == [False, True, True]
    assert all(o.data["image/png"].startswith("iVBORw0KGgo") for o in outputs)  # base64 PNG
    # the final figure marks the best epoch and says early stopping chose it
    ax_loss = view.figure.axes[0]
    labels = [line.get_label() for line in ax_loss.get_lines()]
    assert f"best (epoch {clf.best_epoch_})" in labels
    title = view.figure.get_suptitle()
    assert f"best epoch {clf.best_epoch_}" in title and "stopped early" in title


def test_live_loss_plot_redraws_often_without_throttle(cancer, shell):
    from IPython.utils.capture import capture_output

    X, y, Xv, yv = cancer
    view = LiveLossPlot(min_interval=0.0, max_share=1.0)
    with capture_output() as captured:
        TorchClassifier(hidden=(8,), epochs=4, callbacks=[view]).fit(X, y, X_val=Xv, y_val=yv)
    assert view.n_draws == len(captured.outputs) == 6  # begin + 4 epochs + final
    # mid-run the progress line estimates the time left
    history = TorchClassifier(epochs=1, hidden=(2,)).fit(X, y).history_
    assert view.draw(TorchClassifier(epochs=10), history)[:4] == b"\x89PNG"
    assert view.figure.get_suptitle().startswith("epoch 1/10 · ") and " ETA " in view.figure.get_suptitle()


def test_core_does_not_import_ipython_and_the_view_does_not_import_pyplot():
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from nbml.torch.estimators import TorchClassifier
        from nbml.torch.callbacks import LiveLossPlot
        X = np.random.default_rng(0).normal(size=(64, 3)); y = (X[:, 0] > 0).astype(int)
        TorchClassifier(hidden=(4,), epochs=2, patience=1).fit(X, y)
        assert "IPython" not in sys.modules, "core imported IPython"
        TorchClassifier(hidden=(4,), epochs=2, callbacks=[LiveLossPlot()]).fit(X, y)
        assert "matplotlib.pyplot" not in sys.modules, "the view imported pyplot"
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_optuna_pruning_callback_raises_trial_pruned(cancer):
    optuna = pytest.importorskip("optuna")
    X, y, Xv, yv = cancer
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=1e-6))
    trial = study.ask()
    clf = TorchClassifier(hidden=(8,), epochs=5, callbacks=[OptunaPruning(trial)])
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 1"):
        clf.fit(X, y, X_val=Xv, y_val=yv)


# ------------------------------------------------------------------------------ lr_find
def test_lr_find_suggests_a_rate_that_trains(cancer):
    X, y, Xv, yv = cancer
    estimator = TorchClassifier(hidden=(32,), batch_size=32, epochs=3)
    result = lr_find(estimator, X, y, steps=80)
    assert isinstance(result, LRFinderResult)
    assert result.lrs[0] == pytest.approx(1e-7) and np.all(np.diff(result.lrs) > 0)
    assert len(result.lrs) == len(result.losses) <= 80
    # the loss falls somewhere in the sweep and blows up near the end: the test stopped early
    assert np.nanmin(result.losses) < result.losses[0] - 0.1
    assert len(result.lrs) < 80
    assert 1e-5 < result.suggestion < 1.0
    assert not hasattr(estimator, "module_")  # the estimator itself is not fitted
    tuned = TorchClassifier(hidden=(32,), batch_size=32, epochs=3, lr=result.suggestion)
    assert tuned.fit(X, y).score(Xv, yv) > 0.9
    ax = result.plot()
    assert ax.get_xscale() == "log" and ax.get_lines()
    assert result._repr_png_()[:4] == b"\x89PNG"


def test_lr_find_restores_a_module(cancer):
    X, y, _, _ = cancer
    net = mlp(30, hidden=(16,), n_out=2, batchnorm=True).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    result = lr_find(net, X, y, steps=30)
    assert len(result.lrs) > 3
    assert not net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(start=1.0, end=0.1), "need 0 < start < end"),
        (dict(steps=2), "steps=2 is not allowed"),
    ],
)
def test_lr_find_bad_arguments(cancer, kwargs, match):
    X, y, _, _ = cancer
    with pytest.raises(ValueError, match=match):
        lr_find(TorchClassifier(), X, y, **kwargs)
    with pytest.raises(TypeError, match="lr_find needs a torch.nn.Module"):
        lr_find("mlp", X, y)


def test_progress_view_picks_text_outside_a_kernel():
    from nbml.torch.callbacks import progress_view

    assert isinstance(progress_view(), TextProgress)  # pytest is no Jupyter kernel
    assert isinstance(progress_view("live"), LiveLossPlot)
    assert progress_view("none") is None and progress_view(None) is None
    with pytest.raises(ValueError, match="kind='gui' is not allowed"):
        progress_view("gui")


def test_estimator_with_a_live_view_clones_and_pickles_without_the_figure(cancer, shell):
    import pickle

    from IPython.utils.capture import capture_output
    from sklearn.base import clone

    X, y, _, _ = cancer
    view = LiveLossPlot()
    clf = TorchClassifier(hidden=(4,), epochs=2, callbacks=[view])
    with capture_output():
        clf.fit(X, y)
    assert view.figure is not None
    copy = pickle.loads(pickle.dumps(clf))
    assert copy.callbacks[0].figure is None and copy.callbacks[0].handle is None
    np.testing.assert_array_equal(copy.predict(X), clf.predict(X))
    assert clone(clf).callbacks[0] is not view


def test_text_progress_summary_says_interrupted(cancer):
    X, y, _, _ = cancer
    out = io.StringIO()

    class StopAt2:
        def on_epoch_end(self, estimator, history):
            if len(history) == 2:
                raise KeyboardInterrupt

    with pytest.warns(UserWarning, match="interrupted"):
        TorchClassifier(hidden=(4,), epochs=9, callbacks=[StopAt2(), TextProgress(file=out)]).fit(X, y)
    assert out.getvalue().splitlines()[-1].startswith("epoch 2/9") and out.getvalue().rstrip().endswith("interrupted")
