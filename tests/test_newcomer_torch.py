"""A newcomer's torch network (issue 16, items 2 and 4): ``nbml.mlp`` sizes itself from the data
after preprocessing, a wrong size says which call to write, and refits inside learning curves,
CV and tuning draw no loss curves of their own."""
import numpy as np
import pytest
from IPython.core.error import UsageError

torch = pytest.importorskip("torch")


@pytest.fixture
def wine_split(ip, run):
    """wine with a string column (one-hot: 13 numeric + 3 regions = 16 features) and NaNs."""
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).frame
    wine["region"] = np.where(wine["alcohol"] > 13, "north", np.where(wine["alcohol"] > 12.5, "mid", "south"))
    wine.loc[::10, "ash"] = np.nan
    ip.user_ns["wine"] = wine
    cell = run("import nbml\n%split wine --target target --seed 0")
    assert cell.error is None, cell.err
    assert "14" in cell.out  # the feature count %split prints: before one-hot encoding
    return ip


def test_mlp_without_n_in_sizes_itself_from_the_pipeline(wine_split, run):
    cell = run("%%train -o net --epochs 3 --no-live\nnbml.mlp(hidden=(64, 32), dropout=0.1)")
    assert cell.error is None, cell.err
    network = wine_split.user_ns["net"].estimator.module_
    assert network[0].in_features == 16 and network[-1].out_features == 3  # after one-hot; the classes
    estimator = wine_split.user_ns["net"].estimator
    assert type(estimator).__name__ == "TorchClassifier"
    assert (estimator.hidden, estimator.dropout) == ((64, 32), 0.1)  # the estimator's parameters: tunable
    again = run("%%train -o net_cv --cv 3 --epochs 2 --no-live\nnbml.mlp(hidden=(8,))")
    assert again.error is None, again.err
    tuned = run("%%tune net_cv --method grid --cv 2 -o tuned\nhidden = [(4,), (8, 4)]")
    assert tuned.error is None, tuned.err
    assert sorted(map(str, wine_split.user_ns["tuned"].trials["hidden"])) == ["(4,)", "(8, 4)"]


def test_mlp_sizes_a_regression_network(ip, run, diabetes):
    ip.user_ns["diabetes"] = diabetes
    cell = run("import nbml\n%split diabetes --target target --seed 0\n")
    assert cell.error is None, cell.err
    cell = run("%%train -o reg --epochs 2 --no-live\nnbml.mlp(hidden=(16,))")
    assert cell.error is None, cell.err
    network = ip.user_ns["reg"].estimator.module_
    assert network[0].in_features == 10 and network[-1].out_features == 1
    assert type(ip.user_ns["reg"].estimator).__name__ == "TorchRegressor"


def test_a_wrong_n_in_names_the_call_to_write(wine_split, run):
    cell = run("%%train --epochs 3 --no-live\nnbml.mlp(14, hidden=(64, 32), n_out=3, dropout=0.1)")
    assert isinstance(cell.error, UsageError), cell.err
    message = str(cell.error)
    assert "\n" not in message
    assert "the pipeline gives 16 features; use nbml.mlp(16, hidden=(64, 32), n_out=3, dropout=0.1) " \
           "or leave n_in out" in message
    cell = run("%%train --epochs 3 --no-live\nnbml.mlp(14, hidden=(8,))")  # n_out left out: a spec
    assert "the pipeline gives 16 features; use nbml.mlp(16, hidden=(8,)) or leave n_in out" in str(cell.error)
    cell = run("%%train --epochs 3 --no-live\nnbml.mlp(16, hidden=(8,), n_out=2)")
    assert "use nbml.mlp(16, hidden=(8,), n_out=3) or leave n_out out" in str(cell.error), str(cell.error)


def test_mlp_spec_is_a_picklable_module_recipe():
    import pickle

    import nbml
    from nbml.torch.mlp import MLPSpec

    spec = nbml.mlp(hidden=(64, 32), dropout=0.1)
    assert isinstance(spec, MLPSpec) and isinstance(spec, torch.nn.Module)
    assert pickle.loads(pickle.dumps(spec)) == spec and list(spec.parameters()) == []
    assert repr(spec).startswith("MLPSpec(hidden=(64, 32), dropout=0.1")
    assert [type(m).__name__ for m in spec(5, 2)] == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout",
                                                      "Linear"]
    with pytest.raises(ValueError, match="a recipe, not a network"):
        spec.forward(torch.zeros(2, 5))


def test_learning_curve_of_a_torch_result_draws_no_loss_curves_and_shows_one_bar(wine_split, run):
    cell = run("%%train -o net --epochs 2\nnbml.mlp(hidden=(8,))")  # a terminal: the text view
    assert cell.error is None and "epoch" in cell.out, cell.err
    net = wine_split.user_ns["net"]
    net.fit_time = 20.0  # as slow as a real network: 5 sizes × 5 folds would take minutes
    cell = run("%evaluate net --plots learning -o ev")
    assert cell.error is None, cell.err
    assert "epoch" not in cell.out  # the refits print no progress of their own
    ev = wine_split.user_ns["ev"]
    assert ev.learning.train_scores.shape == (3, 3)  # fewer sizes and folds for an expensive model
    assert "3 sizes × 3 folds" in ev.note and "instead of 5 × 5" in ev.note and "about" in ev.note
    assert ev.note in cell.out  # said with the result
    assert "learning curve: 3 sizes × 3 folds, about" in cell.err  # one progress bar (tqdm), with the estimate
    assert np.isfinite(ev.learning.test_scores).all()


def test_refits_of_a_live_view_draw_nothing(wine_split, run):
    """The notebook view: the %%train fit displays its loss curve once; the learning curve, CV
    folds and the label search refit copies of the model, which display nothing."""
    from IPython.utils.capture import capture_output

    def images(source):
        with capture_output() as captured:
            result = wine_split.run_cell(source)
        assert result.error_in_exec is None, captured.stderr
        return sum("image/png" in out.data for out in captured.outputs)

    assert images("%%train -o net --epochs 2\n"
                  "from nbml.torch import LiveLossPlot\n"
                  "nbml.TorchClassifier(hidden=(8,), epochs=2, callbacks=[LiveLossPlot()])") >= 1
    wine_split.user_ns["net"].fit_time = 0.01  # 5 × 5 fits
    assert images("%evaluate net --plots learning") == 0  # (a terminal shows the evaluation as text)
    assert images("%train net --cv 3 -o net_cv") == 0
    pytest.importorskip("cleanlab")
    assert images("%labels net --cv 3") == 0


def test_a_view_and_its_copies_draw_one_run():
    import copy
    import pickle

    from nbml.torch.callbacks import LiveLossPlot, TextProgress

    for view in (LiveLossPlot(), TextProgress()):
        first, second = copy.deepcopy(view), copy.deepcopy(view)
        assert first._start() and not second._start() and view._start()  # the object made draws every run
        assert not pickle.loads(pickle.dumps(view))._start()


def test_in_a_kernel_the_learning_curve_appends_no_loss_curves(tmp_path):
    """The issue's notebook: %%train of a torch network draws its live loss curve (one output);
    %evaluate … --plots learning then adds the evaluation's own figure and one progress bar,
    never a loss curve per refit."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in (
        "import torch; torch.set_num_threads(1)\n%load_ext nbml\nimport nbml\n"
        "from sklearn.datasets import load_wine\nwine = load_wine(as_frame=True).frame\n"
        "%split wine --target target --seed 0",
        "%%train -o net --epochs 3\nnbml.mlp(hidden=(16,))",
        "net.fit_time = 20.0  # as slow as the issue's network\n%evaluate net --plots learning",
    )]
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    train, evaluate = nb.cells[1].outputs, nb.cells[2].outputs

    def images(outputs):
        return [o for o in outputs if "image/png" in o.get("data", {})]

    assert len(images(train)) == 1 and images(train)[0]["output_type"] == "display_data"  # the live curve
    assert images(evaluate) == []  # the evaluation's own figure is in its HTML; no loss curves
    shown = next(o["data"]["text/html"] for o in evaluate if "text/html" in o.get("data", {}))
    assert "3 sizes × 3 folds" in shown and shown.count("data:image/png") == 1
    bars = [o for o in evaluate if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(bars) <= 1  # tqdm's one bar (it may be closed and gone when the curve is done)
