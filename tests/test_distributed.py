"""Search on a Dask cluster: the fits run on the workers and give the local results."""
from __future__ import annotations

import os

import pytest
from sklearn.tree import DecisionTreeClassifier

import nbml
from nbml.space import randint

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    try:
        pids = set(client.run(os.getpid).values())
        yield cluster.scheduler_address, pids
    finally:
        client.close()
        cluster.close()


@pytest.fixture
def cancer_split(cancer, tmp_path, monkeypatch):
    monkeypatch.setenv("NBML_STORE", str(tmp_path / "nbml.db"))
    yield nbml.split(cancer, target="target", seed=0)
    nbml.data.set_active(None)


def _pids(result):
    return {int(w.rsplit(":", 1)[1]) for w in result.trials["worker"]}


def test_grid_on_the_cluster_equals_the_local_grid(cluster, cancer_split):
    address, worker_pids = cluster
    space = {"max_depth": [2, 3, 5, 8], "min_samples_leaf": [1, 4, 16]}
    remote = nbml.tune(DecisionTreeClassifier(), space, method="grid", cv=3, scheduler=address)
    local = nbml.tune(DecisionTreeClassifier(), space, method="grid", cv=3)
    assert _pids(remote) <= worker_pids and os.getpid() not in _pids(remote)
    assert len(_pids(remote)) == 2  # both workers took part
    assert _pids(local) == {os.getpid()}
    key = ["max_depth", "min_samples_leaf"]
    assert remote.trials.set_index(key)["score"].sort_index().equals(local.trials.set_index(key)["score"].sort_index())
    assert remote.best_params == local.best_params and remote.best_score == local.best_score


def test_bayes_trials_run_on_the_workers_and_share_one_study(cluster, cancer_split):
    address, worker_pids = cluster
    result = nbml.tune(DecisionTreeClassifier(), {"max_depth": randint(1, 12), "min_samples_leaf": randint(1, 30)},
                       method="bayes", trials=6, scheduler=address, study="on-dask")
    assert len(result.trials) == 6 and _pids(result) <= worker_pids
    assert len([t for t in result.optuna_study.trials if not t.user_attrs.get("nbml_repeat")]) == 6
    assert len(nbml.store.trials("on-dask")) == 6


def test_unreachable_scheduler_is_a_clear_error(cancer_split, monkeypatch):
    monkeypatch.setattr("nbml.tuning.distributed.CONNECT_TIMEOUT", "2s")
    with pytest.raises(ValueError, match="could not reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        nbml.tune(DecisionTreeClassifier(), {"max_depth": [2]}, method="grid", scheduler="tcp://127.0.0.1:9")
