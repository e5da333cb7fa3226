"""``nbml.eda``: the numbers equal pandas' own, the findings name the fix, plots use a
seeded sample while cheap statistics use every row, and wide frames stay readable."""
import numpy as np
import pandas as pd
import pytest

import nbml
from nbml import options
from nbml.eda_report import EdaReport, eda


@pytest.fixture(scope="module")
def messy():
    """Every problem the findings should name, once."""
    rng = np.random.default_rng(0)
    n = 2500
    df = pd.DataFrame({
        "id": np.arange(n),
        "income": rng.lognormal(10, 1.2, n),
        "a": rng.normal(size=n),
        "x": 7.0,
        "city": rng.choice(["paris", "oslo", "rome"], n),
        "joined": pd.date_range("2021-01-01", periods=n, freq="D"),
    })
    df["b"] = df["a"] * 3 + rng.normal(scale=0.3, size=n)  # r ≈ 0.995
    df.loc[rng.choice(n, 950, replace=False), "income"] = np.nan  # 38%
    df["y"] = 0
    df.loc[rng.choice(n, n // 25, replace=False), "y"] = 1  # 1:24
    return df


def test_overview_equals_pandas(messy):
    report = eda(messy, target="y")
    ov = report.overview
    assert list(ov.index) == list(messy.columns)
    for col in ["income", "a", "b", "id", "x"]:
        s = messy[col]
        assert ov.at[col, "missing"] == s.isna().sum()
        assert ov.at[col, "missing %"] == pytest.approx(100 * s.isna().mean())
        assert ov.at[col, "distinct"] == s.nunique()
        assert ov.at[col, "mean"] == pytest.approx(s.mean())
        assert ov.at[col, "std"] == pytest.approx(s.std(), rel=1e-9, abs=1e-12)
        assert ov.at[col, "min"] == s.min() and ov.at[col, "max"] == s.max()
        assert ov.at[col, "skew"] == pytest.approx(s.skew(), rel=1e-9, abs=1e-9, nan_ok=True)
    assert ov.at["city", "kind"] == "categorical" and ov.at["joined", "kind"] == "datetime"
    assert ov.at["joined", "min"] == messy["joined"].min()
    assert report.n_rows == len(messy) and report.n_columns == messy.shape[1]


def test_outliers_by_the_iqr_rule():
    x = np.r_[np.arange(100.0), 1000.0, -1000.0, 250.0]
    report = eda(pd.DataFrame({"x": x, "z": np.arange(103.0)}))
    q1, q3 = np.percentile(x, [25, 75])
    expected = int(((x < q1 - 1.5 * (q3 - q1)) | (x > q3 + 1.5 * (q3 - q1))).sum())
    assert expected == 3
    assert report.outliers.to_dict() == {"x": 3, "z": 0}


def test_duplicated_rows_are_exact_and_count_missing_values_as_equal():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.normal(size=300), "b": rng.choice(["u", "v"], 300), "c": np.arange(300)})
    df.loc[::7, "a"] = np.nan
    df = pd.concat([df, df.iloc[[0, 5, 7, 7]]], ignore_index=True)  # row 0 and 7 hold NaN
    report = eda(df)
    assert report.duplicated_rows == df.duplicated().sum() == 4
    assert "4 duplicated rows — drop them" in "\n".join(report.findings)
    assert eda(df.drop_duplicates()).duplicated_rows == 0


def test_correlation_equals_pandas_with_missing_values():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 5))
    X[:, 1] += 2 * X[:, 0]
    X[:, 3] = 1e6 + X[:, 2]  # large mean: no cancellation
    df = pd.DataFrame(X, columns=list("abcde"))
    df = df.mask(rng.random(df.shape) < 0.2)
    df["flag"] = rng.random(400) < 0.5
    report = eda(df)
    expected = df.astype({"flag": float}).corr()
    np.testing.assert_allclose(report.correlation.to_numpy(), expected.to_numpy(), atol=1e-9)
    assert not report.correlation_on_sample


def test_findings_name_the_fix(messy):
    findings = eda(messy, target="y").findings
    text = "\n".join(findings)
    assert "`income`: 38% missing — impute or drop" in text
    assert "classes 1:24" in text and "stratify and use class weights" in text
    assert "`a` and `b` correlate 0.99 — drop one" in text
    assert "`id` is unique per row — likely an identifier, drop it" in text
    assert "`x` is constant (7) — drop it" in text
    skew = messy["income"].skew()
    assert f"`income` skew {skew:.1f} — consider a log transform" in text
    assert "`joined` is a date" in text
    assert "duplicated" not in text and "`city`" not in text  # no false alarms
    assert all(isinstance(f, str) for f in findings)


def test_clean_data_has_no_findings():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"u": rng.normal(size=500), "v": rng.normal(size=500), "k": rng.choice(["p", "q"], 500)})
    assert eda(df).findings == ["no problems found: no missing values, constant columns, duplicates or strong skew"]


def test_leak_and_skewed_regression_target():
    rng = np.random.default_rng(4)
    price = rng.lognormal(3, 1, 800)
    df = pd.DataFrame({"noise": rng.normal(size=800), "price_copy": price * 2 + 1, "price": price})
    report = eda(df, target="price")
    assert report.task == "regression"
    text = "\n".join(report.findings)
    assert "target `price` skew" in text and "TransformedTargetRegressor" in text
    assert "`price_copy` predicts `price` almost perfectly (pearson r 1.000)" in text
    assert report.top_features.index[0] == "price_copy"
    assert report.target_summary.at["mean", "value"] == pytest.approx(price.mean())


def test_features_most_associated_with_the_target(diabetes, iris_named):
    report = eda(diabetes, target="target")
    top = report.top_features
    assert set(top["measure"]) == {"pearson r"}
    expected = diabetes.drop(columns="target").corrwith(diabetes["target"])
    assert list(top.index[:2]) == list(expected.abs().sort_values(ascending=False).index[:2])  # bmi, s5
    assert top.at["bmi", "value"] == pytest.approx(expected["bmi"])

    report = eda(iris_named, target="species")
    assert report.task == "classification"
    assert report.class_balance.round(4).to_dict() == {"setosa": 0.3333, "versicolor": 0.3333, "virginica": 0.3333}
    assert report.top_features.index[0].startswith("petal")
    assert report.top_features["strength"].iloc[0] > 0.9 > report.top_features.at["sepal width (cm)", "strength"]


def test_correlation_ratio_of_a_binary_target_is_the_point_biserial_r():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 600)
    df = pd.DataFrame({"x": y + rng.normal(size=600), "cat": np.where(y == 1, "p", rng.choice(["p", "q"], 600)),
                       "y": np.where(y == 1, "yes", "no")})
    report = eda(df, target="y")
    assert report.top_features.at["x", "measure"] == "correlation ratio η"
    assert report.top_features.at["x", "value"] == pytest.approx(abs(np.corrcoef(df["x"], y)[0, 1]))
    cramers_v = abs(np.corrcoef(df["cat"] == "p", y)[0, 1])  # for 2×2 tables V = |phi|
    assert report.top_features.at["cat", "value"] == pytest.approx(cramers_v)


def test_cheap_statistics_use_all_rows_and_plots_a_seeded_sample():
    rng = np.random.default_rng(6)
    df = pd.DataFrame({"a": rng.normal(size=6000), "b": rng.exponential(size=6000),
                       "c": rng.choice(list("abcd"), 6000)})
    report = eda(df, sample=500, seed=1)
    assert report.sampled and report.sample_size == 500 and len(report.sample_frame) == 500
    assert "random sample of 500 rows (seed 1)" in report.sample_note()
    assert "all 6,000 rows" in report.sample_note()
    assert report.overview.at["a", "mean"] == pytest.approx(df["a"].mean())
    assert report.overview.at["a", "mean"] != pytest.approx(report.sample_frame["a"].mean())
    assert report.top_categories["c"].sum() == 6000
    again = eda(df, sample=500, seed=1)
    other = eda(df, sample=500, seed=2)
    assert list(again.sample_frame.index) == list(report.sample_frame.index)
    assert list(other.sample_frame.index) != list(report.sample_frame.index)
    from nbml.plots.eda import draw

    fig, caption = draw(report, "histograms")
    assert "sample of 500 of 6,000 rows" in caption
    assert fig.axes[0].patches[0].get_data().values.sum() == 500  # the histogram counts the sample
    small = eda(df.iloc[:300], sample=500)
    assert not small.sampled and "all 300 rows" in small.sample_note()


def test_very_wide_correlation_uses_the_sample(monkeypatch):
    import nbml.eda_report as core

    monkeypatch.setattr(core, "CORRELATION_BUDGET", 1e4)
    rng = np.random.default_rng(7)
    df = pd.DataFrame(rng.normal(size=(2000, 8)), columns=[f"f{i}" for i in range(8)])
    report = eda(df, sample=300)
    assert report.correlation_on_sample
    expected = report.sample_frame.corr()
    np.testing.assert_allclose(report.correlation.to_numpy(), expected.to_numpy(), atol=1e-9)
    assert any("uses the sample of 300 rows" in n for n in report.notes)


def test_wide_frames_are_capped_and_say_what_was_left_out():
    rng = np.random.default_rng(8)
    df = pd.DataFrame(rng.normal(size=(300, 60)), columns=[f"f{i:02d}" for i in range(60)])
    for i in range(20):
        df[f"k{i:02d}"] = rng.choice(["p", "q", "r"], 300)
    report = eda(df, max_plots=12)
    figs = report.figures()
    fig, caption = figs["histograms"]
    assert len(fig.axes) == 12
    assert "12 of 60 numeric columns shown; left out 48: f12, f13" in caption
    fig, caption = figs["categories"]
    assert len(fig.axes) == 12 and "12 of 20 categorical columns shown; left out 8" in caption
    fig, caption = figs["correlation"]
    assert "30 of 60 columns shown" in caption
    assert len(fig.axes[0].get_xticklabels()) == 30
    fig, caption = figs["scatter"]
    assert len(fig.axes) == 16
    assert "target" not in figs


def test_each_view_draws_with_a_target():
    rng = np.random.default_rng(9)
    df = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400), "c": rng.choice(["u", "v"], 400),
                       "id": [f"row{i}" for i in range(400)]})
    df["y"] = np.where(df["a"] + rng.normal(scale=0.5, size=400) > 0, "pos", "neg")
    report = eda(df, target="y", max_plots=5)
    from matplotlib.figure import Figure

    for kind in ("target", "histograms", "categories", "correlation", "scatter"):
        assert isinstance(report.plot(kind), Figure), kind
    assert report.identifiers == ["id"]
    assert "identifiers not drawn: id" in report.figures()["categories"][1]
    assert len(report.plot("scatter").axes) == 4  # a, b; coloured by class
    with pytest.raises(ValueError, match="kind='pie' is not an EDA plot; choose from target"):
        report.plot("pie")


def test_text_and_html(messy):
    report = eda(messy, target="y")
    text = repr(report)
    assert text.startswith("EDA: 2,500 rows × 8 columns; target 'y' (classification)")
    assert "Findings:" in text and "`income`: 38% missing" in text and "38.0%" in text
    previous = options.plots
    try:
        options.plots = True
        page = report._repr_html_()
        assert page.count("<img") == len(report.figures()) == 5
        assert "<code>income</code>: 38% missing — impute or drop" in page
        options.plots = False
        assert "<img" not in report._repr_html_()
    finally:
        options.plots = previous


def test_public_name_and_series_input():
    assert nbml.eda is eda
    report = nbml.eda(pd.Series(np.arange(50.0), name="v"))
    assert isinstance(report, EdaReport) and list(report.overview.index) == ["v"]


@pytest.mark.parametrize("data, error, phrase", [
    (object(), TypeError, "df must be a pandas DataFrame, Series or a 2-D numpy array; got object"),
    ("a string", TypeError, "got str"),
    (np.zeros((2, 2, 2)), ValueError, "df must be 2-D"),
    (pd.DataFrame(), ValueError, "df has no columns: nothing to explore"),
    (pd.DataFrame({"a": [], "b": []}), ValueError, "df is empty (0 rows, 2 columns): nothing to explore"),
])
def test_bad_data_is_one_clear_error(data, error, phrase):
    with pytest.raises(error) as info:
        eda(data)
    assert phrase in str(info.value) and "\n" not in str(info.value)


def test_bad_options_are_one_clear_error(messy):
    with pytest.raises(ValueError, match=r"target column 'yy' is not in df: did you mean 'y'\?"):
        eda(messy, target="yy")
    with pytest.raises(ValueError, match="sample=0 is not allowed; use an integer ≥ 1 or None"):
        eda(messy, sample=0)
    with pytest.raises(ValueError, match=r"max_plots=2.5 is not allowed"):
        eda(messy, max_plots=2.5)
    with pytest.raises(ValueError, match="seed=-1 is not allowed"):
        eda(messy, seed=-1)
    dup = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(ValueError, match="duplicated column names"):
        eda(dup)


def test_nullable_dtypes_text_with_missing_values_and_numbered_columns():
    df = pd.DataFrame({"n": pd.array([1, 2, None, 4] * 25, dtype="Int64"),
                       "t": pd.Series(["a", None, "b", "a"] * 25, dtype="str"),
                       "b": pd.array([True, False, None, True] * 25, dtype="boolean")})
    report = eda(df)
    ov = report.overview
    assert ov.at["n", "missing"] == 25 and ov.at["n", "mean"] == pytest.approx(7 / 3)
    assert ov.at["t", "distinct"] == 2 and ov.at["b", "mean"] == pytest.approx(2 / 3)
    assert report.top_categories["t"].to_dict() == {"a": 50, "(missing)": 25, "b": 25}
    assert report.duplicated_rows == 96
    numbered = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 3)))
    numbered[3] = [0, 1] * 25
    assert eda(numbered, target="3").target == 3  # as the magic passes it
