"""Training callbacks: the Callback base and its hooks, plain-text progress, the in-place live loss plot,
the per-epoch pruning report, lr_find."""
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


def test_live_loss_plot_moves_its_lines_instead_of_drawing_new_ones(cancer, shell):
    """Each epoch gives the same line artists new data (no clearing, no new artists)."""
    from IPython.utils.capture import capture_output

    X, y, Xv, yv = cancer
    view = LiveLossPlot(min_interval=0.0, max_share=1.0)
    seen = []

    class Watch:
        def on_epoch_end(self, estimator, history=None, **kwargs):
            ax_loss, ax_metric, ax_lr = view.figure.axes[:3]
            seen.append(([id(line) for ax in (ax_loss, ax_metric, ax_lr) for line in ax.get_lines()],
                         len(ax_loss.get_lines()[0].get_xdata())))

    with capture_output():
        TorchClassifier(hidden=(8,), epochs=5, lr=1e-2, callbacks=[view, Watch()]).fit(X, y, X_val=Xv, y_val=yv)
    assert [n for _, n in seen] == [1, 2, 3, 4, 5]  # the train line holds every epoch so far
    assert all(ids == seen[0][0] for ids, _ in seen), "the loss curves were drawn anew"
    ax_loss = view.figure.axes[0]
    train, validation = ax_loss.get_lines()[:2]
    assert train.get_label() == "train" and validation.get_label() == "validation"
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4, 5])


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


# ------------------------------------------------------------------------------ the Callback base
def test_a_callback_sees_every_hook_with_its_keywords(cancer):
    from nbml.torch.callbacks import Callback
    from nbml.torch.trainer import Trainer

    X, y, Xv, yv = cancer
    calls = []

    class Record(Callback):
        def on_train_begin(self, estimator, *, run, **kwargs):
            calls.append(("begin", estimator, len(run.bounds)))

        def on_epoch_begin(self, estimator, *, epoch, **kwargs):
            calls.append(("epoch", epoch))

        def on_grad_computed(self, estimator, *, run, **kwargs):
            assert all(p.grad is not None for p in run.params)
            calls.append("grad")

        def on_batch_end(self, estimator, **kwargs):
            calls.append("batch")

        def on_epoch_end(self, estimator, history=None, *, epoch, train_loss, val_loss, lr, **kwargs):
            assert history["train_loss"].iloc[-1] == train_loss and history["val_loss"].iloc[-1] == val_loss
            calls.append(("end", epoch, lr))

        def on_train_end(self, estimator, *, outcome, **kwargs):
            calls.append(("done", len(outcome.history)))

    trainer = Trainer(epochs=2, batch_size=200, lr=0.01, device="cpu")
    trainer.fit(mlp(30, hidden=(4,), n_out=2), X, y, X_val=Xv, y_val=yv, callbacks=[Record()])
    batches = ["grad", "batch"] * 2  # 400 rows in batches of 200
    assert calls == [("begin", trainer, 2), ("epoch", 1), *batches, ("end", 1, 0.01),
                     ("epoch", 2), *batches, ("end", 2, 0.01), ("done", 2)]


def test_a_callback_stops_training_through_the_run(cancer):
    from nbml.torch.callbacks import Callback

    X, y, _, _ = cancer

    class StopAtThree(Callback):
        needs_history = False

        def on_epoch_end(self, estimator, history=None, *, run, epoch, **kwargs):
            assert history is None  # nobody asked for it: not built
            run.stop = epoch == 3

    clf = TorchClassifier(hidden=(4,), epochs=10, callbacks=[StopAtThree()]).fit(X, y)
    assert clf.n_epochs_ == 3 and clf.stopped_early_ and not clf.interrupted_


def test_the_options_are_callbacks():
    from nbml.torch.callbacks import Checkpoint, EarlyStopping, GradientClipping, LRScheduler, NaNCheck
    from nbml.torch.trainer import Trainer

    kinds = [type(c) for c in Trainer(scheduler="cosine", clip=1.0, patience=3).default_callbacks()]
    assert kinds == [NaNCheck, LRScheduler, GradientClipping, Checkpoint, EarlyStopping]
    assert [type(c) for c in Trainer(scheduler="none").default_callbacks()] == [NaNCheck, Checkpoint]


# ------------------------------------------------------------------------------ the per-epoch report
def test_one_per_epoch_report_class_for_optuna_and_for_tuning():
    from nbml.torch.callbacks import EpochReporter
    from nbml.tuning import pruning

    assert OptunaPruning is EpochReporter and pruning.EpochReporter is EpochReporter


@pytest.mark.parametrize(
    "monitor, greater, row, expected",
    [
        ("accuracy", True, dict(val_loss=0.4, val_accuracy=0.8), ("val_accuracy", 0.8)),
        ("roc_auc", True, dict(val_loss=0.4, val_accuracy=0.8), ("val_accuracy", 0.8)),
        ("accuracy", True, dict(val_loss=0.4, val_accuracy=np.nan), ("-val_loss", -0.4)),
        ("accuracy", True, dict(val_loss=np.nan, val_accuracy=np.nan), ("-train_loss", -0.5)),
        ("neg_log_loss", False, dict(val_loss=0.4, val_accuracy=0.8), ("val_loss", 0.4)),
        ("val_loss", None, dict(val_loss=np.nan, val_accuracy=np.nan), ("train_loss", 0.5)),
    ],
)
def test_epoch_reporter_reports_the_nearest_signal(monitor, greater, row, expected):
    import pandas as pd

    from nbml.torch.callbacks import EpochReporter

    reported = []
    reporter = EpochReporter(lambda epoch, value: reported.append((epoch, value)), monitor, greater)
    history = pd.DataFrame([dict(epoch=1, train_loss=0.5, lr=0.1, time=0.0, **row)])
    column, value = reporter.value(history)
    assert column == expected[0] and value == pytest.approx(expected[1])
    reporter.on_epoch_end(None, history)
    reporter.active = False  # the tuner's later folds: counted, not reported
    reporter.on_epoch_end(None, history)
    assert reported == [(1, value)] and reporter.epochs == 2
