"""%%train with torch models: options, history, live view, lr finder, errors; torch in ensembles."""
import pytest
from IPython.core.error import UsageError

import nbml

torch = pytest.importorskip("torch")


@pytest.fixture
def digits_split(ip, run):
    from sklearn.datasets import load_digits

    ip.user_ns["digits"] = load_digits(as_frame=True).frame
    run("import nbml, torch\n%split digits --target target --seed 0")
    return ip


def test_module_cell_trains_with_options_and_history(digits_split, run):
    cell = run("%%train -o net --epochs 4 --lr 0.01 --optimizer adamw --weight-decay 0.001 --patience 3 "
               "--scheduler cosine --init he --seed 1\nnbml.mlp(64, hidden=(32,), n_out=10, dropout=0.1)")
    assert cell.error is None, cell.err
    net = digits_split.user_ns["net"]
    est = net.estimator
    assert (est.lr, est.optimizer, est.weight_decay, est.scheduler, est.init, est.patience) == \
        (0.01, "adamw", 0.001, "cosine", "he", 3)
    h = net.history
    assert list(h.columns[:4]) == ["epoch", "train_loss", "val_loss", "val_accuracy"] and len(h) == 4
    assert h["val_loss"].notna().all()  # the split's validation rows give the validation curve
    assert h["lr"].iloc[-1] < h["lr"].iloc[0]  # cosine schedule
    assert net.metrics["accuracy"] > 0.85
    assert "epoch" in cell.out  # the terminal view: one line per epoch
    again = run("%%train --epochs 4 --lr 0.01 --optimizer adamw --weight-decay 0.001 --patience 3 "
                "--scheduler cosine --init he --seed 1 --no-live\nnbml.mlp(64, hidden=(32,), n_out=10, dropout=0.1)")
    assert again.value.metrics == net.metrics and "epoch" not in again.out  # same seed, same numbers


def test_estimator_cell_takes_the_same_options_and_cv(digits_split, run):
    cell = run("%%train -o est --cv 3 --epochs 2\nnbml.TorchClassifier(hidden=(16,))")
    assert cell.error is None, cell.err
    assert len(digits_split.user_ns["est"].cv) == 3 and digits_split.user_ns["est"].estimator.epochs == 2


def test_lr_find_from_the_magic(digits_split, run):
    cell = run("%%train --lr-find -o finder\nnbml.mlp(64, hidden=(32,), n_out=10)")
    assert cell.error is None, cell.err
    finder = digits_split.user_ns["finder"]
    assert 1e-7 < finder.suggestion < 10 and len(finder.lrs) == len(finder.losses)


def test_torch_errors_are_one_line(digits_split, run):
    for source, phrase in [("%%train --epochs 2\nnbml.mlp(64, hidden=(8,), n_out=3)", "out_features=10"),
                           ("%%train --epochs 3 --lr 1000 --optimizer sgd --no-live\n"
                            "nbml.mlp(64, hidden=(64,), n_out=10)", "learning rate is probably too high"),
                           ("%%train --optimizer banana\nnbml.mlp(64, hidden=(8,), n_out=10)", "banana"),
                           ("%train LogisticRegression() --epochs 3", "torch models only")]:
        run("from sklearn.linear_model import LogisticRegression")
        cell = run(source)
        assert isinstance(cell.error, UsageError), (source, cell.err)
        assert phrase in str(cell.error), (source, str(cell.error))


def test_torch_estimator_as_ensemble_member(iris_named):
    from sklearn.linear_model import LogisticRegression

    nbml.split(iris_named, target="species", seed=0)
    net = nbml.train(nbml.TorchClassifier(hidden=(16,), epochs=30, lr=0.02), cv=3)
    lr = nbml.train(LogisticRegression(), cv=3)
    vote = nbml.ensemble([net, lr], method="soft", cv=3)
    assert "TorchClassifier" in vote.comparison.index and vote.metrics["accuracy"] > 0.8


def test_early_stopping_never_looks_at_the_validation_rows(digits_split):
    """With patience (best weights kept) the validation rows would choose the epoch whose score is
    then reported on them: the model must be the one a fit on the training rows alone gives."""
    from sklearn.base import clone

    result = nbml.train(nbml.TorchClassifier(hidden=(16,), epochs=6, patience=1, seed=0))
    s = result.split
    alone = clone(result.pipeline).fit(s.X_train, s.y_train)
    assert (alone.predict_proba(s.X_val) == result.model.predict_proba(s.X_val)).all()
    assert result.history["val_loss"].notna().all()  # its own slice of the training rows gives the curve
