"""%tune / %%tune and %runs in a real IPython shell."""
from __future__ import annotations

import pytest

import nbml


@pytest.fixture
def stored(tmp_path, monkeypatch):
    monkeypatch.setenv("NBML_STORE", str(tmp_path / "nbml.db"))
    return tmp_path / "nbml.db"


def test_tune_cell_with_a_space_body(run, ip, cancer, stored):
    ip.user_ns["cancer"] = cancer
    assert run("%split cancer --target target").error is None
    cell = run("%%train -o tree\nfrom sklearn.tree import DecisionTreeClassifier\nDecisionTreeClassifier()")
    assert cell.error is None, cell.err
    ip.user_ns["depths"] = [2, 3, 4]
    cell = run("%%tune tree --method grid -o tuned\n"
               "# names are the model's own parameters\n"
               "max_depth = depths\n"
               "min_samples_leaf = choice(1, 10)\n")
    assert cell.error is None, cell.err
    tuned = ip.user_ns["tuned"]
    assert isinstance(tuned, nbml.TuneResult) and ip.user_ns["_"] is tuned
    assert len(tuned.trials) == 6 and set(tuned.best_params) == {"max_depth", "min_samples_leaf"}
    assert "best parameters: max_depth=" in cell.out and "untuned" in cell.out


def test_tune_line_without_body_uses_the_default_space(run, ip, cancer, stored):
    ip.user_ns["cancer"] = cancer
    run("%split cancer --target target")
    run("from sklearn.linear_model import LogisticRegression")
    cell = run("%tune LogisticRegression(max_iter=300) --method random --trials 3 --seed 2 --cv 3 -o t;")
    assert cell.error is None, cell.err
    t = ip.user_ns["t"]
    assert list(t.best_params) == ["C"] and len(t.trials) == 3 and t.cv == 3
    assert cell.out == ""  # ';' silences it


def test_tune_errors_are_one_line(run, ip, cancer, stored):
    ip.user_ns["cancer"] = cancer
    run("%split cancer --target target")
    run("%%train -o lr\nfrom sklearn.linear_model import LogisticRegression\nLogisticRegression(max_iter=300)")
    for source, message in [
        ("%%tune lr\nCee = [1, 2]", "LogisticRegression has no parameter 'Cee'"),
        ("%%tune lr --method grid\nC = loguniform(0.01, 1)", "method='grid' needs lists"),
        ("%%tune lr\nC = uniform(2, 1)", "low must not exceed high"),
        ("%tune lr --metric r2", "metric='r2' is a regression metric"),
        ("%tune nothing_here", "name 'nothing_here' is not defined"),
    ]:
        cell = run(source)
        assert cell.error is not None, source
        assert type(cell.error).__name__ == "UsageError" and message in str(cell.error), (source, cell.error)


def test_runs_shows_train_and_tune_runs(run, ip, cancer, stored):
    ip.user_ns["cancer"] = cancer
    run("%split cancer --target target")
    run("%%train -o lr\nfrom sklearn.linear_model import LogisticRegression\nLogisticRegression(max_iter=300)")
    run("%%tune lr --method grid --study magic-study\nC = [0.1, 1]")
    cell = run("%runs")
    assert cell.error is None, cell.err
    frame = cell.value
    assert list(frame["kind"]) == ["train", "tune"]
    assert {"model", "score", "accuracy", "params", "duration", "fingerprint", "created"} <= set(frame.columns)
    assert frame["fingerprint"].iloc[0] == ip.user_ns["lr"].split.fingerprint
    assert len(run("%runs --last 1").value) == 1
    assert list(run("%runs --kind train").value["kind"]) == ["train"]
    trials = run("%runs --trials magic-study").value
    assert len(trials) == 2 and set(trials["state"]) == {"complete"}
    assert "positive" in str(run("%runs --last 0").error)


def test_tune_samplers_gp_and_cmaes(run, ip, cancer, stored):
    import importlib.util

    import optuna

    ip.user_ns["cancer"] = cancer
    run("%split cancer --target target")
    run("%%train -o lr\nfrom sklearn.linear_model import LogisticRegression\nLogisticRegression(max_iter=300)")
    # GP models numbers, ordered number lists and labels alike; past its 10 random start-up
    # trials it proposes from the fitted process
    cell = run("%%tune lr --sampler gp --trials 12 --seed 0 -o g\n"
               "C = loguniform(0.01, 10)\ntol = [1e-4, 1e-3, 1e-2]\nclass_weight = [None, 'balanced']")
    assert cell.error is None, cell.err
    g = ip.user_ns["g"]
    assert isinstance(g.optuna_study.sampler, optuna.samplers.GPSampler)
    assert len(g.trials) == 12 and set(g.trials["tol"]) <= {1e-4, 1e-3, 1e-2}
    assert set(g.trials["class_weight"].dropna()) <= {"balanced"} and g.best_params["class_weight"] in (None, "balanced")

    # CMA-ES searches numbers only: a space of labels alone is one clear line
    cell = run("%%tune lr --sampler cmaes\nclass_weight = [None, 'balanced']")
    assert type(cell.error).__name__ == "UsageError"
    assert "sampler='cmaes' searches numbers" in str(cell.error) and "class_weight" in str(cell.error)
    assert "sampler= works with method='bayes'" in str(run("%tune lr --sampler cmaes --method grid").error)
    mixed = ("%%tune lr --sampler cmaes --trials 6 --seed 0 -o c\n"
             "C = loguniform(0.01, 10)\ntol = [1e-4, 1e-3, 1e-2]\nclass_weight = [None, 'balanced']")
    if importlib.util.find_spec("cmaes") is None:
        cell = run(mixed)
        assert type(cell.error).__name__ == "UsageError" and "pip install cmaes" in str(cell.error)
        assert "c" not in ip.user_ns
    else:
        cell = run(mixed)
        assert cell.error is None, cell.err
        assert isinstance(ip.user_ns["c"].optuna_study.sampler, optuna.samplers.CmaEsSampler)
        assert len(ip.user_ns["c"].trials) == 6
        # the magic shows each warning once, on one line
        said = [line for line in cell.err.splitlines() if "cmaes" in line]
        assert len(said) == 1 and "class_weight (a list of labels) is drawn at random" in said[0]
