"""Preprocessing choices, feature engineering and selection — all inside the pipeline."""
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

import nbml
from nbml.preprocess import Options, resample_rows
from nbml.training import make_folds


def raw_frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.lognormal(size=n), "c": rng.normal(size=n),
                       "color": rng.choice(["red", "green", "blue", "teal"], n)})
    df.loc[rng.choice(n, 40, replace=False), "a"] = np.nan
    df.loc[rng.choice(n, 5, replace=False), "b"] = 80.0  # outliers
    df["y"] = 2 * df["a"].fillna(0) + (df["color"] == "red") * 3 + rng.normal(scale=0.3, size=n)
    df["label"] = np.where(df["y"] > np.quantile(df["y"], 0.85), "rare", "common")
    return df


def steps_of(result):
    return dict(result.model.steps)


@pytest.mark.parametrize("impute,kind", [("mean", "SimpleImputer"), ("median", "SimpleImputer"),
                                         ("most_frequent", "SimpleImputer"), ("knn", "KNNImputer")])
def test_impute_choices(impute, kind):
    df = raw_frame()
    nbml.split(df.drop(columns="label"), target="y")
    r = nbml.train(Ridge(), impute=impute)
    imputer = steps_of(r)["preprocess"].named_transformers_["num"].named_steps["impute"]
    assert type(imputer).__name__ == kind
    if kind == "SimpleImputer":
        assert imputer.strategy == impute


def test_impute_drop_leaves_rows_out_of_fitting_only():
    df = raw_frame()
    s = nbml.split(df.drop(columns="label"), target="y")
    seen = []

    class Spy(LinearRegression):
        def fit(self, X, y, sample_weight=None):
            seen.append(len(X))
            return super().fit(X, y, sample_weight)

    r = nbml.train(Spy(), impute="drop")
    assert seen == [int(s.X_train.notna().all(axis=1).sum())] and seen[0] < len(s.X_train)
    assert len(r.predict(s.X_val)) == len(s.X_val)  # every validation row is still predicted


@pytest.mark.parametrize("scale,cls", [("standard", "StandardScaler"), ("minmax", "MinMaxScaler"),
                                       ("robust", "RobustScaler")])
def test_scale_choices(scale, cls):
    nbml.split(raw_frame().drop(columns="label"), target="y")
    r = nbml.train(Ridge(), scale=scale)
    assert type(steps_of(r)["preprocess"].named_transformers_["num"].named_steps["scale"]).__name__ == cls
    r = nbml.train(Ridge(), scale="none")
    assert "scale" not in steps_of(r)["preprocess"].named_transformers_["num"].named_steps


@pytest.mark.parametrize("encode,n_color_features", [("onehot", 4), ("ordinal", 1), ("target", 1)])
def test_encode_choices(encode, n_color_features):
    nbml.split(raw_frame().drop(columns="label"), target="y")
    r = nbml.train(Ridge(), encode=encode)
    names = list(steps_of(r)["preprocess"].get_feature_names_out())
    assert sum(n.startswith("color") for n in names) == n_color_features
    assert r.metrics["r2"] > (0.8 if encode != "ordinal" else 0.5)  # ordinal codes are not linear in y


def test_outliers_clip_and_drop():
    df = raw_frame()
    s = nbml.split(df.drop(columns="label"), target="y")
    r = nbml.train(Ridge(), outliers="clip")
    clip = steps_of(r)["preprocess"].named_transformers_["num"].named_steps["clip"]
    b = s.X_train["b"]
    q1, q3 = b.quantile(0.25), b.quantile(0.75)
    assert clip.upper_[1] == pytest.approx(q3 + 1.5 * (q3 - q1))  # fences of the training rows
    seen = []

    class Spy(LinearRegression):
        def fit(self, X, y, sample_weight=None):
            seen.append(len(X))
            return super().fit(X, y, sample_weight)

    nbml.train(Spy(), outliers="drop")
    assert seen[0] < len(s.X_train)


def test_balance_choices():
    df = raw_frame()
    s = nbml.split(df.drop(columns="y"), target="label")
    r = nbml.train(LogisticRegression(), balance="class_weight")
    assert r.estimator.class_weight == "balanced"
    counts = []

    class Spy(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            counts.append(pd.Series(y).value_counts().to_dict())
            return super().fit(X, y, sample_weight)

    nbml.train(Spy(), balance="undersample")
    nbml.train(Spy(), balance="oversample")
    train_counts = s.y_train.value_counts()
    assert counts[0] == {"common": train_counts.min(), "rare": train_counts.min()}
    assert counts[1] == {"common": train_counts.max(), "rare": train_counts.max()}
    with pytest.raises(ValueError, match="no class_weight parameter"):
        from sklearn.neighbors import KNeighborsClassifier

        nbml.train(KNeighborsClassifier(), balance="class_weight")


def test_resampling_is_seeded():
    y = np.array([0] * 90 + [1] * 10)
    rows = np.arange(100)
    a, b = resample_rows(y, rows, "oversample", 3), resample_rows(y, rows, "oversample", 3)
    assert np.array_equal(a, b) and len(a) == 180
    assert not np.array_equal(a, resample_rows(y, rows, "oversample", 4))


def test_interactions_and_poly():
    nbml.split(raw_frame().drop(columns="label"), target="y")
    names = list(steps_of(nbml.train(Ridge(), interactions=True))["preprocess"].get_feature_names_out())
    assert "a b" in names and "a^2" not in names
    names = list(steps_of(nbml.train(Ridge(), poly=2))["preprocess"].get_feature_names_out())
    assert "a b" in names and "a^2" in names


@pytest.mark.parametrize("spec,n_kept,column", [("rfe:3", 3, "rank"), ("mi:2", 2, "score"),
                                                ("variance:0.0", None, "variance"),
                                                ("corr:0.5", None, "max |corr| with a kept feature"),
                                                ("l1", None, "|coef|")])
def test_selection_reports_kept_features_and_why(spec, n_kept, column):
    df = raw_frame()
    df["a_copy"] = df["a"] * 1.0001  # a near-duplicate, for corr
    nbml.split(df.drop(columns="y"), target="label")
    r = nbml.train(LogisticRegression(), select=spec)
    report = r.features
    assert column in report.columns and report["kept"].dtype == bool
    if n_kept:
        assert report["kept"].sum() == n_kept
    if spec.startswith("corr"):
        assert not report.loc["a_copy", "kept"] and report.loc["a", "kept"]
    assert r.estimator.n_features_in_ == report["kept"].sum()


def test_split_options_become_train_defaults_and_train_overrides():
    s = nbml.split(raw_frame().drop(columns="label"), target="y", scale="robust", impute="mean")
    assert s.options == Options(scale="robust", impute="mean") and "scale=robust" in repr(s)
    num = steps_of(nbml.train(Ridge()))["preprocess"].named_transformers_["num"].named_steps
    assert type(num["scale"]).__name__ == "RobustScaler" and num["impute"].strategy == "mean"
    num = steps_of(nbml.train(Ridge(), scale="minmax"))["preprocess"].named_transformers_["num"].named_steps
    assert type(num["scale"]).__name__ == "MinMaxScaler" and num["impute"].strategy == "mean"


def test_every_transform_is_fit_on_the_training_fold_only():
    """Leakage guard: inside CV each fold's imputer, clipper, scaler, target encoder and
    selector hold the statistics of that fold's training rows, not of all the data."""
    df = raw_frame()
    s = nbml.split(df.drop(columns="label"), target="y")
    X, y = s.X_trainval, s.y_trainval
    fitted = []

    class Spy(LinearRegression):
        def fit(self, X_, y_, sample_weight=None):
            fitted.append(len(X_))
            return super().fit(X_, y_, sample_weight)

    r = nbml.train(Spy(), cv=3, seed=2, outliers="clip", encode="target", select="variance:0.0")
    folds = list(make_folds("regression", 3, 2).split(X))
    assert fitted == [len(tr) for tr, _ in folds]  # the model saw only training-fold rows
    from sklearn.base import clone

    for train_idx, _ in folds:
        model = clone(r._pipeline).fit(X.iloc[train_idx], y.iloc[train_idx])
        num = model.named_steps["preprocess"].named_transformers_["num"].named_steps
        fold_X = X.iloc[train_idx]
        assert num["impute"].statistics_[0] == pytest.approx(fold_X["a"].median())
        assert num["impute"].statistics_[0] != pytest.approx(X["a"].median())
        clipped = num["clip"].transform(num["impute"].transform(fold_X[["a", "b", "c"]]))
        assert num["scale"].mean_ == pytest.approx(clipped.mean(axis=0))
        enc = model.named_steps["preprocess"].named_transformers_["cat"].named_steps["encode"]
        assert enc.target_mean_ == pytest.approx(y.iloc[train_idx].mean())


def test_bad_preprocessing_options(ip, run):
    from IPython.core.error import UsageError

    ip.user_ns["raw"] = raw_frame().drop(columns="label")
    run("%split raw --target y")
    run("from sklearn.linear_model import Ridge")
    for source, phrase in [("%train Ridge() --select rfe:50", "only"),
                           ("%train Ridge() --select banana:3", "not a selector"),
                           ("%train Ridge() --select mi:x", "needs a feature count"),
                           ("%train Ridge() --poly 9", "poly=9"),
                           ("%train Ridge() --balance oversample", "classification"),
                           ("%train Ridge() --impute sometimes", "invalid choice")]:
        cell = run(source)
        assert isinstance(cell.error, UsageError), source
        assert phrase in str(cell.error), (source, str(cell.error))
    with pytest.raises(TypeError, match="unknown option"):
        nbml.split(raw_frame(), target="y", imputer="mean")
    with pytest.raises(ValueError, match="scale='huge'"):
        nbml.train(Ridge(), scale="huge")


def test_target_encoding_leaks_no_library_warning():
    """scikit-learn 1.9 deprecates TargetEncoder's random_state: nbml passes the same shuffled folds
    as a splitter, so a user sees no FutureWarning with a file path (issue 16)."""
    import warnings

    df = raw_frame()
    split = nbml.split(df.drop(columns="y"), target="label", seed=0, activate=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        nbml.train(LogisticRegression(), split=split, encode="target", cv=3)


def test_correlation_filter_keeps_the_columns_the_greedy_rule_keeps():
    """Column by column, a feature is kept when its largest |corr| with an earlier kept feature is at
    most the threshold (written out here as the plain loop) — also for hundreds of columns."""
    from nbml.preprocess import CorrelationFilter

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 300))
    X[:, 10:20] = X[:, :10] + rng.normal(scale=0.1, size=(60, 10))  # near-copies of earlier columns
    X[:, 25] = 1.0  # constant: no correlation with anything
    corr = np.abs(np.nan_to_num(np.corrcoef(X, rowvar=False)))
    for threshold in (0.3, 0.9):
        keep, closest = [], []
        for j in range(X.shape[1]):
            closest.append(max((corr[j, k] for k in keep), default=0.0))
            if closest[-1] <= threshold:
                keep.append(j)
        fitted = CorrelationFilter(threshold).fit(X)
        assert list(fitted.get_support(indices=True)) == keep and fitted.max_corr_.tolist() == closest
    assert not CorrelationFilter(0.9).fit(X).support_[10:20].any()


def test_columns_by_kind_of_a_wide_mixed_frame():
    from nbml.preprocess import columns_by_kind

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(5, 3000)), columns=[f"f{i}" for i in range(3000)])
    X.insert(7, "color", ["a", "b", "c", "a", "b"])
    X.insert(100, "flag", [True, False] * 2 + [True])
    X["when"] = pd.date_range("2024-01-01", periods=5)
    X["wait"] = pd.to_timedelta(np.arange(5), unit="h")
    kinds = columns_by_kind(X)
    assert kinds["categorical"] == ["color"] and kinds["boolean"] == ["flag"]
    assert kinds["datetime"] == ["when"] and kinds["timedelta"] == ["wait"]
    assert kinds["numeric"] == [f"f{i}" for i in range(3000)]
