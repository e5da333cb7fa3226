"""CoresetTree (merge and reduce) and nbml.coreset(file=...): bounded memory, add, save/load."""
import os
import tracemalloc

import numpy as np
import pandas as pd
import pytest

import nbml
from nbml.coresets import CoresetTree, coreset


def make_frame(n, seed=0, n_features=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    X[:, 0] = rng.standard_t(2.5, size=n)
    logit = X @ np.linspace(1.0, -0.5, n_features) - 3.0
    y = (logit + rng.logistic(size=n) > 0).astype(int)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(n_features)])
    frame["target"] = y
    return frame


@pytest.fixture(scope="module")
def frame():
    return make_frame(6000)


@pytest.fixture(scope="module")
def csv_path(frame, tmp_path_factory):
    path = tmp_path_factory.mktemp("coreset") / "data.csv"
    frame.to_csv(path, index=False)
    return path


def test_tree_from_a_frame_keeps_weights_classes_and_levels(frame):
    tree = CoresetTree.from_frame(frame, target="target", node_size=400, chunksize=500, seed=1)
    assert tree.n_represented_ == len(frame) and tree.n_chunks_ == 12
    # 12 chunks = binary 1100: buckets at heights 3 and 2
    assert len(tree.levels) == 3
    root, *buckets = tree.levels
    assert root.size <= 400
    assert [b.n_represented for b in tree.levels] == [len(frame)] * 3  # reported per tree
    assert sum(b.weights.sum() for b in buckets) == pytest.approx(len(frame))
    assert root.weights.sum() == pytest.approx(len(frame))
    cs = tree.coreset(300)
    assert cs.size == 300 and cs.weights.sum() == pytest.approx(len(frame))
    for label, count in frame["target"].value_counts().items():
        assert cs.weights[cs.y.to_numpy() == label].sum() == pytest.approx(count)
    assert list(cs.X.columns) == [f"f{i}" for i in range(6)] and cs.y.name == "target"
    np.testing.assert_allclose(cs.X.to_numpy(), frame.iloc[cs.indices, :6].to_numpy())


def test_small_data_stays_exact(frame):
    small = frame.iloc[:900]
    tree = CoresetTree.from_frame(small, target="target", node_size=1000, chunksize=300)
    cs = tree.coreset(900)
    np.testing.assert_array_equal(np.sort(cs.indices), np.arange(900))
    np.testing.assert_allclose(cs.weights, 1.0)


def test_rare_class_survives_every_reduction():
    frame = make_frame(8000, seed=3)
    frame.loc[[10, 5000], "target"] = 7  # two rows, in different chunks
    tree = CoresetTree.from_frame(frame, target="target", node_size=50, chunksize=400)
    cs = tree.coreset(40)
    assert set(cs.y) == {0, 1, 7}
    assert cs.weights[cs.y.to_numpy() == 7].sum() == pytest.approx(2)


def test_file_coreset_matches_the_tree_and_is_deterministic(csv_path, frame):
    a = coreset(file=csv_path, target="target", size=200, chunksize=700, node_size=400, seed=4)
    b = coreset(file=csv_path, target="target", size=200, chunksize=700, node_size=400, seed=4)
    tree = CoresetTree.from_file(csv_path, target="target", chunksize=700, node_size=400, seed=4)
    c = tree.coreset(200)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.indices, c.indices)
    np.testing.assert_array_equal(a.weights, c.weights)
    assert isinstance(a.tree, CoresetTree) and a.tree.n_represented_ == len(frame)
    assert a.weights.sum() == pytest.approx(len(frame))
    d = coreset(file=csv_path, target="target", size=0.05, chunksize=700, seed=5)
    assert d.size == 300 and not np.array_equal(np.sort(a.indices), np.sort(d.indices))


def test_add_continues_without_rebuilding(frame):
    whole = CoresetTree.from_frame(frame, target="target", node_size=300, chunksize=500, seed=2)
    first = CoresetTree.from_frame(frame.iloc[:3000], target="target", node_size=300,
                                   chunksize=500, seed=2)
    before = first.coreset(200)
    assert before.indices.max() < 3000
    first.add(frame.iloc[3000:])
    assert first.n_represented_ == len(frame)
    after = first.coreset(200)
    expected = whole.coreset(200)
    np.testing.assert_array_equal(after.indices, expected.indices)
    np.testing.assert_allclose(after.weights, expected.weights)
    assert after.indices.max() >= 3000


def test_save_load_round_trip_then_add(tmp_path, frame):
    tree = CoresetTree.from_frame(frame.iloc[:3500], target="target", node_size=300,
                                  chunksize=500, seed=9)
    path = tree.save(tmp_path / "tree.npz")
    with np.load(path, allow_pickle=False) as archive:  # plain arrays, no pickle needed
        assert "__meta__" in archive.files
    loaded = CoresetTree.load(path)
    a, b = tree.coreset(150), loaded.coreset(150)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.weights, b.weights)
    pd.testing.assert_frame_equal(a.X, b.X)
    assert [lvl.size for lvl in tree.levels] == [lvl.size for lvl in loaded.levels]
    tree.add(frame.iloc[3500:])
    loaded.add(frame.iloc[3500:])
    np.testing.assert_array_equal(tree.coreset(150).indices, loaded.coreset(150).indices)


def test_string_labels_survive_save_and_load(tmp_path, frame):
    data = frame.assign(target=np.where(frame["target"] == 1, "churn", "stay"))
    tree = CoresetTree.from_frame(data, target="target", node_size=200, chunksize=1000)
    loaded = CoresetTree.load(tree.save(tmp_path / "labels.npz"))
    cs = loaded.coreset(100)
    assert set(cs.y) == {"churn", "stay"}
    assert loaded.class_counts_ == tree.class_counts_


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.arange(3))
    with pytest.raises(ValueError, match="not a saved CoresetTree"):
        CoresetTree.load(path)


def test_memory_stays_bounded_on_a_file_of_many_chunks(tmp_path):
    rows, chunksize, node_size = 150_000, 2_000, 500
    data = make_frame(rows, seed=11, n_features=10)
    path = tmp_path / "big.csv"
    data.to_csv(path, index=False, float_format="%.6g")
    file_bytes = os.path.getsize(path)
    in_memory_bytes = data.memory_usage(deep=True).sum()
    del data
    tracemalloc.start()
    try:
        tree = CoresetTree.from_file(path, target="target", node_size=node_size,
                                     chunksize=chunksize)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert tree.n_chunks_ == rows // chunksize and tree.n_represented_ == rows
    assert len(tree._buckets) <= int(np.log2(tree.n_chunks_)) + 1
    assert tree.n_rows_held_ <= len(tree._buckets) * node_size
    # one chunk plus the buckets, far below the file (and the data it holds)
    assert peak < file_bytes / 5, (peak, file_bytes)
    assert peak < in_memory_bytes / 3, (peak, in_memory_bytes)
    assert tree.coreset(400).weights.sum() == pytest.approx(rows)


def test_parquet_needs_pyarrow_or_works(tmp_path, frame):
    path = tmp_path / "data.parquet"
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        path.write_bytes(b"PAR1")  # never read: the import fails first
        with pytest.raises(ImportError, match="pip install pyarrow"):
            coreset(file=path, target="target", size=100)
        return
    frame.to_parquet(path)
    cs = coreset(file=path, target="target", size=100, chunksize=1000)
    assert cs.weights.sum() == pytest.approx(len(frame))


# ------------------------------------------------------------------------- bad input
def test_file_with_misspelt_target_lists_close_matches(csv_path):
    with pytest.raises(ValueError, match=r"target='targte' is not a column of file .*"
                                         r"did you mean 'target'"):
        coreset(file=csv_path, target="targte", size=100)


def test_file_with_missing_target_lists_columns(csv_path):
    with pytest.raises(ValueError, match=r"target='price' is not a column.*columns are: 'f0'"):
        coreset(file=csv_path, target="price", size=100)


def test_file_size_larger_than_data_fails_before_reading(csv_path):
    with pytest.raises(ValueError, match=r"size=10000 is larger than the data \(6,000 rows\)"):
        coreset(file=csv_path, target="target", size=10_000)
    with pytest.raises(ValueError, match="must be positive"):
        coreset(file=csv_path, target="target", size=0)


def test_file_with_text_column(tmp_path, frame):
    path = tmp_path / "text.csv"
    frame.assign(city="Lyon").to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"not numeric: 'city'.*preprocess="):
        coreset(file=path, target="target", size=100)


def test_file_with_single_row_class(tmp_path, frame):
    path = tmp_path / "single.csv"
    frame.assign(target=np.where(np.arange(len(frame)) == 42, 5, frame["target"])).to_csv(
        path, index=False)
    with pytest.raises(ValueError, match="single row: 5"):
        coreset(file=path, target="target", size=100)


def test_tree_size_beyond_what_it_holds(frame):
    tree = CoresetTree.from_frame(frame, target="target", node_size=100, chunksize=1000)
    with pytest.raises(ValueError, match="holds only .* rebuild it with node_size >= 1000"):
        tree.coreset(1000)


def test_missing_file_and_bad_parameters(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        coreset(file=tmp_path / "nope.csv", target="y", size=10)
    with pytest.raises(ValueError, match="node_size must be a positive integer"):
        CoresetTree(target="y", node_size=0)
    with pytest.raises(ValueError, match="chunksize must be a positive integer"):
        CoresetTree(target="y", chunksize=-1)
    with pytest.raises(ValueError, match="the tree is empty"):
        CoresetTree(target="y").coreset(10)
    assert nbml.CoresetTree is CoresetTree


@pytest.mark.parametrize("method", ["sensitivity", "lightweight", "uniform"])
def test_tree_methods_on_regression_targets(method):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(5000, 3))
    frame = pd.DataFrame(X, columns=["u", "v", "w"]).assign(price=X @ [1.0, 2.0, -1.0])
    tree = CoresetTree.from_frame(frame, target="price", node_size=300, chunksize=800,
                                  method=method, task="regression")
    cs = tree.coreset(200)
    assert tree.method_ == method and cs.method == method and cs.task == "regression"
    assert cs.size == 200 and cs.weights.sum() == pytest.approx(len(frame))
    np.testing.assert_allclose(cs.y.to_numpy(), frame["price"].to_numpy()[cs.indices])


def test_tree_from_a_parquet_file_in_chunks(tmp_path):
    pytest.importorskip("pyarrow")
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    import nbml

    X, y = make_classification(4000, 5, weights=[0.9], random_state=1)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]).assign(y=y)
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, row_group_size=400)
    cs = nbml.coreset(file=str(path), target="y", size=250, chunksize=800, seed=3)
    assert len(cs.X) == 250 and cs.n_represented == 4000
    assert cs.weights.sum() == pytest.approx(4000)
    assert set(np.unique(cs.y)) == {0, 1}
    again = nbml.coreset(file=str(path), target="y", size=250, chunksize=800, seed=3)
    np.testing.assert_array_equal(cs.indices, again.indices)
