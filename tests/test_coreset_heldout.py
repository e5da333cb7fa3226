"""Coresets never hold the active split's held-out rows.

A coreset of the split's own frame is drawn from its training rows and says so; any other
coreset is checked with ``held_out_rows`` / ``check_held_out`` before it is trained on.
Coin-flip labels and a memorizing tree are the oracle: a held-out score must be chance.
"""
import numpy as np
import pandas as pd
import pytest

import nbml
from nbml.coresets import HeldOutRowsError, check_held_out, coreset, held_out_rows


def coin_flips(n=2000, seed=0):
    """Random features, labels that no feature predicts: any score above chance is a leak."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"]).assign(y=rng.integers(0, 2, n))


@pytest.fixture
def flips():
    return coin_flips()


@pytest.fixture
def no_split():
    import nbml.data

    nbml.data.set_active(None)
    yield
    nbml.data.set_active(None)


def test_coreset_of_the_active_frame_holds_only_training_rows(flips, no_split):
    split = nbml.split(flips, target="y", seed=0)
    cs = coreset(flips, "y", size=0.5, method="uniform", seed=0)
    assert cs.X.index.isin(split.X_train.index).all() and len(cs) == len(split.X_train) // 2
    assert cs.weights.sum() == pytest.approx(len(split.X_train)) and cs.n_represented == len(split.X_train)
    np.testing.assert_array_equal(flips.index[cs.indices], cs.X.index)  # positions in the frame given
    assert cs.drawn_from == "train" and cs.split_fingerprint == split.fingerprint
    assert held_out_rows(cs, split).empty
    check_held_out(cs, split)  # nothing to refuse
    for method in ("sensitivity", "lightweight"):
        assert coreset(flips, "y", size=300, method=method).X.index.isin(split.X_train.index).all()


def test_its_repr_says_where_it_was_drawn_from(flips, no_split):
    split = nbml.split(flips, target="y", seed=0)
    n_train, n_val, n_test = len(split.X_train), len(split.X_val), len(split.X_test)
    text = repr(coreset(flips, "y", size=100, method="uniform"))
    assert text.splitlines()[1] == (f"drawn from the {n_train:,} training rows of the active split; "
                                    f"its {n_val:,} validation and {n_test:,} test rows left out")
    for_cv = coreset(flips, "y", size=100, rows="train+val")
    assert for_cv.drawn_from == "train+val" and for_cv.X.index.isin(split.X_trainval.index).all()
    assert f"training and validation rows of the active split; its {n_test:,} test rows left out" in repr(for_cv)
    check_held_out(for_cv, split, cv=True)  # cross-validation may use the validation rows
    with pytest.raises(HeldOutRowsError, match=r"holds \d+ validation and 0 test rows"):
        check_held_out(for_cv, split)
    everything = coreset(flips, "y", size=100, rows="all")
    assert everything.drawn_from == "all" and "test rows included" in repr(everything)
    # not the split's frame (no target column): drawn from all the rows given, nothing recorded
    other = coreset(flips.drop(columns="y"), flips["y"], size=100)
    assert other.drawn_from is None and "\n" not in repr(other)


def test_a_coreset_of_the_whole_frame_is_found_once_the_split_is_active(flips, no_split):
    whole = coreset(flips, "y", size=0.5, method="uniform", seed=0)  # no active split yet: all rows
    assert whole.drawn_from is None and len(whole) == len(flips) // 2
    check_held_out(whole)  # no active split: nothing to check against
    split = nbml.split(flips, target="y", seed=0)
    n_val = int(whole.X.index.isin(split.X_val.index).sum())
    n_test = int(whole.X.index.isin(split.X_test.index).sum())
    assert n_val and n_test
    found = held_out_rows(whole, split)
    assert sorted(found) == sorted(whole.X.index[whole.X.index.isin(split.X_val.index.append(split.X_test.index))])
    assert sorted(held_out_rows(whole, split, cv=True)) == sorted(whole.X.index[whole.X.index.isin(split.X_test.index)])
    with pytest.raises(ValueError) as refused:  # an NbmlError, which is a ValueError
        check_held_out(whole)  # the active split by default
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"the coreset holds {n_val} validation and {n_test} test rows of the active split")
    assert "build it from the training rows" in message
    with pytest.raises(HeldOutRowsError) as refused:
        check_held_out(whole, split, cv=True)
    assert str(refused.value).startswith(f"the coreset holds {n_test} test rows of the active split")
    assert "\n" not in str(refused.value)


def test_coresets_of_arrays_and_files_are_checked_by_their_rows(flips, no_split, tmp_path):
    split = nbml.split(flips, target="y", seed=0)
    # arrays carry no row labels: their rows are matched by value
    arrays = coreset(flips[["a", "b", "c", "d"]].to_numpy(), flips["y"].to_numpy(), size=0.5, method="uniform")
    in_held_out = np.isin(arrays.indices, np.flatnonzero(~flips.index.isin(split.X_train.index)))
    assert len(held_out_rows(arrays, split)) == in_held_out.sum() > 0
    # a file's rows are labelled by their row numbers, as in the frame read whole
    flips.to_csv(tmp_path / "flips.csv", index=False)
    from_file = coreset(file=tmp_path / "flips.csv", target="y", size=0.5, method="uniform", chunksize=500)
    np.testing.assert_array_equal(from_file.X.index, from_file.indices)
    expected = from_file.X.index.isin(split.X_val.index.append(split.X_test.index)).sum()
    assert len(held_out_rows(from_file, split)) == expected > 0


def test_no_false_alarms(flips, no_split):
    split = nbml.split(flips, target="y", seed=0)
    # other data with the same columns and the same row labels is not the split's rows
    other = coin_flips(seed=1)
    cs = coreset(other, "y", size=0.5, method="uniform", rows="all")
    assert held_out_rows(cs, split).empty
    # a training row whose twin is a test row is still a training row
    split.X_train.iloc[0], split.y_train.iloc[0] = split.X_test.iloc[0], split.y_test.iloc[0]
    frame = pd.concat([part.assign(y=y) for part, y in
                       ((split.X_train, split.y_train), (split.X_val, split.y_val), (split.X_test, split.y_test))])
    cs = coreset(frame, "y", size=len(split.X_train), split=split)
    twin = split.X_train.index[0]
    assert (cs.X.loc[twin].to_numpy() == split.X_test.iloc[0].to_numpy()).all()
    assert held_out_rows(cs, split).empty
    # a coreset whose columns are not the split's cannot hold its rows
    renamed = coreset(flips.rename(columns={"a": "z"}), "y", size=100, rows="all")
    assert held_out_rows(renamed, split).empty


def test_bad_rows(flips, no_split):
    nbml.split(flips, target="y", seed=0)
    with pytest.raises(ValueError, match="rows='test' is not a choice"):
        coreset(flips, "y", size=100, rows="test")
    with pytest.raises(ValueError, match="row labels are not unique"):
        coreset(pd.concat([flips, flips.iloc[:5]]), "y", size=100)


def test_coreset_magic_says_where_it_was_drawn_from_and_scores_at_chance(ip, run, flips):
    ip.user_ns["flips"] = flips
    run("%split flips --target y --seed 0")
    active = nbml.active_split()
    cell = run("%coreset flips --target y --size 0.5 --method uniform -o cs")
    assert cell.error is None, cell.err
    assert f"drawn from the {len(active.X_train):,} training rows of the active split" in cell.out
    assert f"its {len(active.X_val):,} validation and {len(active.X_test):,} test rows left out" in cell.out
    cs = ip.user_ns["cs"]
    assert held_out_rows(cs, active).empty
    # the memorizing tree, fit on the coreset, is judged on validation rows it never saw: chance
    run("from sklearn.tree import DecisionTreeClassifier")
    cell = run("%%train --data cs -o tree\nDecisionTreeClassifier(random_state=0)")
    assert cell.error is None, cell.err
    assert abs(ip.user_ns["tree"].metrics["accuracy"] - 0.5) < 0.1
    cell = run("%coreset flips --target y --size 300 --rows train+val -o for_cv")
    assert cell.error is None and "training and validation rows of the active split" in cell.out
    cell = run("%coreset flips --target y --size 300 --rows everything")
    assert cell.error is not None and "everything" in str(cell.error)
