"""``%eda`` in a real IPython shell: it returns the report (so it lands in ``_``), ``-o``
stores it, ``;`` silences it, ``%config Nbml.seed`` is its default seed, and bad input is
one clear line that loses nothing."""
import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError

from nbml.eda_report import EdaReport


@pytest.fixture
def frames(ip):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"income": rng.lognormal(10, 1, 3000), "age": rng.integers(18, 90, 3000),
                       "city": rng.choice(["a", "b", "c"], 3000), "target": rng.integers(0, 2, 3000)})
    df.loc[::4, "income"] = np.nan
    ip.user_ns.update(df=df, keep=123, empty=pd.DataFrame({"a": [], "b": []}))
    return ip


def fails(run, ip, source, *phrases):
    before = {k: ip.user_ns.get(k) for k in ("df", "keep")}
    snapshot = before["df"].copy()
    cell = run(source)
    assert isinstance(cell.error, UsageError), f"expected a UsageError, got {cell.error!r}\n{cell.err}"
    message = str(cell.error)
    assert "\n" not in message.strip() and "Traceback" not in cell.err, cell.err
    assert cell.err.strip().startswith("UsageError:"), cell.err
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in {message!r}"
    for k, v in before.items():
        assert ip.user_ns.get(k) is v
    pd.testing.assert_frame_equal(ip.user_ns["df"], snapshot)
    return message


def test_eda_shows_and_stores_the_report(frames, run):
    cell = run("%eda df --target target -o report")
    assert cell.error is None, cell.err
    report = frames.user_ns["report"]
    assert isinstance(report, EdaReport) and cell.value is report
    assert report.target == "target" and report.task == "classification"
    assert "EDA: 3,000 rows × 4 columns; target 'target' (classification)" in cell.out
    assert "`income`: 25% missing — impute or drop" in cell.out
    assert frames.user_ns["_"] is report


def test_sample_seed_and_max_plots_options(frames, run):
    run("%config Nbml.seed = 3")
    cell = run("%eda df --sample 400 --max-plots 1 -o small")
    assert cell.error is None, cell.err
    small = frames.user_ns["small"]
    assert small.seed == 3 and small.sample_size == 400 and small.max_plots == 1
    assert "random sample of 400 rows (seed 3)" in cell.out
    assert len(small.plot("histograms").axes) == 1
    run("%eda df --sample 400 --seed 5 -o other")
    assert frames.user_ns["other"].seed == 5
    assert list(frames.user_ns["other"].sample_frame.index) != list(small.sample_frame.index)


def test_semicolon_silences_but_keeps_the_result(frames, run):
    cell = run("%eda df;")
    assert cell.error is None, cell.err
    assert cell.out.strip() == ""
    assert isinstance(frames.user_ns["_"], EdaReport)


def test_help_lists_the_options(frames, run):
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        frames.run_line_magic("pinfo", "%eda")
    assert "--target" in captured.stdout and "--sample" in captured.stdout


def test_not_a_dataframe(frames, run):
    fails(run, frames, "%eda keep", "df must be a pandas DataFrame, Series or a 2-D numpy array; got int")
    fails(run, frames, "%eda nosuch", "'nosuch' is not defined")


def test_missing_target_column_lists_close_matches(frames, run):
    fails(run, frames, "%eda df --target targte", "target column 'targte' is not in df", "did you mean 'target'")


def test_empty_frame(frames, run):
    fails(run, frames, "%eda empty", "df is empty (0 rows, 2 columns): nothing to explore")


def test_bad_sample(frames, run):
    fails(run, frames, "%eda df --sample 0", "sample=0 is not allowed")
    fails(run, frames, "%eda df --sample many", "invalid int value")


def test_config_plots_off_leaves_the_tables(frames, run):
    run("%eda df --target target -o report")
    report = frames.user_ns["report"]
    assert report._repr_html_().count("<img") == 5
    report._figures.clear()
    run("%config Nbml.plots = False")
    page = report._repr_html_()
    assert "<img" not in page and "Findings" in page and "<table" in page
