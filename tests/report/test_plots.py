"""The report displays keep the numbers they draw; the numbers equal independent counts."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from valueseg.errors import InputError
from valueseg.features import calibration_holdout, rfm_summary
from valueseg.models import BetaGeo, BetaGeoBetaBinom, ParetoNBD
from valueseg.models.metrics import by_frequency
from valueseg.report import (
    CalibrationDisplay,
    ClvDistributionDisplay,
    ExpectedPurchasesMatrixDisplay,
    ProbabilityAliveMatrixDisplay,
    RepeatTransactionsDisplay,
)
from valueseg.synth import make_shop

#: lifetimes' BG/NBD fit of the CDNOW sample, weekly (Fader, Hardie & Lee 2005)
CDNOW_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def _lifetimes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
        from lifetimes import utils
    return lifetimes, utils


@pytest.fixture(scope="module")
def cdnow(cdnow_orders) -> pd.DataFrame:
    return cdnow_orders


@pytest.fixture(scope="module")
def model() -> BetaGeo:
    return BetaGeo.from_params(**CDNOW_BG)


@pytest.fixture
def orders() -> pd.DataFrame:
    """Eight orders of three customers, checkable on paper (weeks start on Monday).

    a: Mon 1 Jan (acquired), Wed 3 Jan, Wed 3 Jan again (same day: one purchase), Tue 16 Jan
    b: Fri 5 Jan (acquired), Mon 8 Jan, Sun 28 Jan
    c: Tue 23 Jan (acquired)
    Repeat purchase days: 3 Jan (week of 1 Jan), 8 and 16 Jan (weeks of 8 and 15 Jan), 28 Jan
    (week of 22 Jan) -> weekly repeats 1, 1, 1, 1.
    """
    rows = [
        ("a", "2024-01-01 09:00"),
        ("a", "2024-01-03 10:00"),
        ("a", "2024-01-03 18:30"),
        ("b", "2024-01-05 12:00"),
        ("b", "2024-01-08 08:00"),
        ("a", "2024-01-16 20:00"),
        ("c", "2024-01-23 11:00"),
        ("b", "2024-01-28 23:59"),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp"])
    return frame.assign(timestamp=pd.to_datetime(frame["timestamp"]))


# --------------------------------------------------------------------------------------
# calibration vs holdout


@pytest.fixture(scope="module")
def cdnow_cal(cdnow) -> pd.DataFrame:
    return calibration_holdout(
        cdnow, calibration_end="1997-09-30", observation_end="1998-06-30", freq="W"
    )


def _groupby_table(cal: pd.DataFrame, predicted: np.ndarray) -> pd.DataFrame:
    frame = cal.assign(
        bin=cal["frequency_cal"].clip(upper=7).astype(int), predicted=predicted
    ).groupby("bin")
    out = pd.DataFrame(
        {
            "customers": frame.size(),
            "predicted": frame["predicted"].mean(),
            "actual": frame["frequency_holdout"].mean(),
        }
    )
    return out.set_axis([f"{b}+" if b == 7 else str(b) for b in out.index])


def test_calibration_table_equals_a_groupby_of_the_backtest(cdnow_cal, model):
    cal = cdnow_cal
    predicted = np.array(
        [
            model.expected_purchases(d, x, tx, age)
            for d, x, tx, age in cal[
                ["duration_holdout", "frequency_cal", "recency_cal", "T_cal"]
            ].itertuples(index=False)
        ]
    )
    expected = _groupby_table(cal, predicted)
    rows = by_frequency(cal["frequency_cal"].to_numpy(), predicted, cal["frequency_holdout"])
    for disp in (
        CalibrationDisplay.from_model(model, cal),
        CalibrationDisplay.from_backtest(rows),
        CalibrationDisplay.from_backtest({"by_frequency": rows, "rmse": 1.0}),
        CalibrationDisplay.from_backtest(pd.DataFrame(rows)),
    ):
        table = disp.table_.set_index("frequency")
        assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
        assert table["customers"].tolist() == expected["customers"].tolist()
        assert table["customers"].sum() == len(cal) == 2357
        np.testing.assert_allclose(table["predicted"], expected["predicted"], rtol=1e-12)
        np.testing.assert_allclose(table["actual"], expected["actual"], rtol=1e-12)


def test_calibration_plot_draws_the_table(cdnow_cal, model, tmp_path):
    disp = CalibrationDisplay.from_model(model, cdnow_cal).plot()
    actual, predicted = disp.ax_.get_lines()
    np.testing.assert_array_equal(actual.get_ydata(), disp.table_["actual"])
    np.testing.assert_array_equal(predicted.get_ydata(), disp.table_["predicted"])
    one_timers = int((cdnow_cal["frequency_cal"] == 0).sum())
    assert disp.ax_.get_xticklabels()[0].get_text() == f"0\n({one_timers:,})"
    _assert_png(disp.to_png(tmp_path / "calibration.png"))


@pytest.mark.parametrize("seed", [0, 1])
def test_calibration_on_a_synthetic_shop(seed, model):
    shop = make_shop(1500, random_state=seed)
    cal = calibration_holdout(
        shop.transactions, calibration_end="2024-06-30", observation_end="2024-12-31", freq="W"
    )
    table = CalibrationDisplay.from_model(model, cal).table_
    assert table["customers"].sum() == len(cal)
    # one mean per group: the customer-weighted group means give the overall means
    weights = table["customers"] / len(cal)
    predicted = model.expected_purchases(
        cal["duration_holdout"], cal["frequency_cal"], cal["recency_cal"], cal["T_cal"]
    )
    assert float(weights @ table["predicted"]) == pytest.approx(predicted.mean(), rel=1e-12)
    assert float(weights @ table["actual"]) == pytest.approx(cal["frequency_holdout"].mean())


def test_calibration_errors(cdnow_cal, model):
    msg = (
        "The back-test has no rows by calibration frequency. CalibrationDisplay needs rows with "
        "frequency, customers, predicted, actual (valueseg.models.metrics.by_frequency makes "
        "them)."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        CalibrationDisplay.from_backtest([])
    with pytest.raises(InputError, match=re.escape(msg)):
        CalibrationDisplay.from_backtest({"error": "did not converge"})
    msg = (
        "Column 'actual' not found in the back-test rows. Available: frequency, customers, "
        "predicted, actaul. Did you mean 'actaul'? Pass by_frequency's rows."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        CalibrationDisplay.from_backtest(
            [{"frequency": "0", "customers": 1, "predicted": 0.1, "actaul": 0.0}]
        )
    msg = "Column 'duration_holdout' not found in the calibration frame."
    with pytest.raises(InputError, match=re.escape(msg)):
        CalibrationDisplay.from_model(model, cdnow_cal.drop(columns="duration_holdout"))
    msg = "Expected the calibration frame as a pandas DataFrame. Got list."
    with pytest.raises(InputError, match=re.escape(msg)):
        CalibrationDisplay.from_model(model, [])


# --------------------------------------------------------------------------------------
# repeat transactions


def test_repeat_transactions_hand_count(orders, model):
    disp = RepeatTransactionsDisplay.from_transactions(
        model,
        orders,
        calibration_end="2024-01-14",
        observation_end="2024-01-28",
        freq="D",
        period="W",
    )
    t = disp.table_
    assert t["period"].tolist() == list(
        pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"])
    )
    assert t["actual"].tolist() == [1, 1, 1, 1]
    assert t["cumulative_actual"].tolist() == [1, 2, 3, 4]
    assert disp.n_customers_ == 3
    # acquisitions: a on day 0 (1 Jan), b on day 4 (5 Jan), c on day 22 (23 Jan); the week
    # ending on Sunday 7 Jan ends after day 6, so a has had 7 days and b 3 days by then
    e = model.expected_purchases_new_customer
    by_week_end = [e(7) + e(3), e(14) + e(10), e(21) + e(17), e(28) + e(24) + e(6)]
    np.testing.assert_allclose(t["cumulative_expected"], by_week_end, rtol=1e-12)
    np.testing.assert_allclose(t["expected"], np.diff(by_week_end, prepend=0), rtol=1e-12)
    assert disp.calibration_end_ == pd.Timestamp("2024-01-14")


def test_repeat_transactions_weeks_are_days_summed(orders, model):
    kw = {"calibration_end": "2024-01-14", "observation_end": "2024-01-28", "freq": "D"}
    daily = RepeatTransactionsDisplay.from_transactions(model, orders, period="D", **kw).table_
    weekly = RepeatTransactionsDisplay.from_transactions(model, orders, period="W", **kw).table_
    assert len(daily) == 28
    sundays = daily[daily["period"].dt.day_of_week == 6]
    np.testing.assert_allclose(weekly["cumulative_expected"], sundays["cumulative_expected"])
    assert weekly["cumulative_actual"].tolist() == sundays["cumulative_actual"].tolist()
    assert daily["actual"].sum() == weekly["actual"].sum() == 4


def test_repeat_transactions_freq_multiplier_rescales_time(orders):
    weekly_model = BetaGeo.from_params(**CDNOW_BG)
    daily_model = BetaGeo.from_params(**{**CDNOW_BG, "alpha": 7 * CDNOW_BG["alpha"]})
    kw = {"calibration_end": "2024-01-14", "observation_end": "2024-01-28", "freq": "D"}
    a = RepeatTransactionsDisplay.from_transactions(
        weekly_model, orders, freq_multiplier=7, **kw
    ).table_
    b = RepeatTransactionsDisplay.from_transactions(daily_model, orders, **kw).table_
    np.testing.assert_allclose(a["cumulative_expected"], b["cumulative_expected"], rtol=1e-10)


@pytest.mark.parametrize(
    ("freq", "alpha_scale", "observation_end"),
    [("W", 1.0, "1998-06-30"), ("D", 7.0, "1998-06-30"), ("D", 7.0, "1998-06-27 18:00")],
)
def test_repeat_transactions_equal_lifetimes(cdnow, freq, alpha_scale, observation_end):
    lifetimes, utils = _lifetimes()
    params = {**CDNOW_BG, "alpha": CDNOW_BG["alpha"] * alpha_scale}
    theirs_model = lifetimes.BetaGeoFitter()
    theirs_model.params_ = pd.Series(params)
    start = cdnow["timestamp"].min().to_period(freq)
    n = (pd.Period(observation_end, freq) - start).n + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = utils.expected_cumulative_transactions(
            theirs_model, cdnow, "timestamp", "customer_id", n, freq=freq
        )
    ours = RepeatTransactionsDisplay.from_transactions(
        BetaGeo.from_params(**params),
        cdnow,
        calibration_end="1997-09-30",
        observation_end=observation_end,
        freq=freq,
        period=freq,
    ).table_
    assert len(ours) == len(theirs) == n
    assert ours["cumulative_actual"].tolist() == theirs["actual"].tolist()
    np.testing.assert_allclose(ours["cumulative_expected"], theirs["predicted"], rtol=1e-6)
    assert ours["period"].iloc[0] == start.start_time


def test_repeat_transactions_total_equals_the_summary(model):
    shop = make_shop(800, random_state=5)
    tx = shop.transactions
    disp = RepeatTransactionsDisplay.from_transactions(
        model, tx, calibration_end="2024-06-30", observation_end="2024-12-31", freq="D"
    )
    summary = rfm_summary(tx, observation_end="2024-12-31", freq="D")
    assert disp.table_["cumulative_actual"].iloc[-1] == summary["frequency"].sum()
    assert disp.table_["actual"].sum() == summary["frequency"].sum()
    assert disp.n_customers_ == len(summary)
    assert disp.table_["expected"].min() >= 0
    assert disp.table_["period"].is_monotonic_increasing


def test_repeat_transactions_plot(orders, model, tmp_path):
    disp = RepeatTransactionsDisplay.from_transactions(
        model, orders, calibration_end="2024-01-14", observation_end="2024-01-28", freq="D"
    )
    _assert_png(disp.to_png(tmp_path / "repeat.png"))  # draws both kinds on two axes
    assert len(disp.axes_) == 2
    cumulative, incremental = disp.axes_
    np.testing.assert_allclose(
        cumulative.get_lines()[1].get_ydata(), disp.table_["cumulative_expected"]
    )
    np.testing.assert_allclose(incremental.get_lines()[0].get_ydata(), disp.table_["actual"])

    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    assert disp.plot(ax, kind="incremental").ax_ is ax
    msg = "The 'kind' parameter must be one of both, cumulative, incremental. Got 'total'."
    with pytest.raises(InputError, match=re.escape(msg)):
        disp.plot(kind="total")
    msg = "This plot draws on 2 axes. Got 1."
    with pytest.raises(InputError, match=re.escape(msg)):
        disp.plot(ax)


def test_repeat_transactions_errors(orders, model):
    def call(frame=orders, **kw):
        args = {"calibration_end": "2024-01-14", "observation_end": "2024-01-28", **kw}
        return RepeatTransactionsDisplay.from_transactions(model, frame, **args)

    msg = "The transactions are empty (0 rows); there is nothing to plot."
    with pytest.raises(InputError, match=re.escape(msg)):
        call(orders.iloc[:0])
    msg = (
        "observation_end (2024-01-01 00:00:00) must be after calibration_end (2024-01-14 00:00:00)."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        call(observation_end="2024-01-01")
    msg = (
        "Column 'ts' not found in the transactions. Available: customer_id, timestamp. "
        "Name the columns with customer_id_col= and datetime_col=."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        call(datetime_col="ts")
    msg = (
        "No order on or before observation_end 2023-12-31 00:00:00: the 8 orders run from "
        "2024-01-01 09:00:00 to 2024-01-28 23:59:00."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        call(calibration_end="2023-12-01", observation_end="2023-12-31")
    msg = (
        "calibration_end (2023-12-01 00:00:00) is before the first order "
        "(2024-01-01 09:00:00); pass the end of the span the model was fitted on."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        call(calibration_end="2023-12-01")
    msg = "The 'period' parameter must be one of W, M, Q, Y (no finer than freq='W'). Got 'D'."
    with pytest.raises(InputError, match=re.escape(msg)):
        call(freq="W", period="D")
    msg = "The 'freq' parameter must be one of h, D, W, M (the model's time unit, as given to"
    with pytest.raises(InputError, match=re.escape(msg)):
        call(freq="Y")
    msg = "The 'calibration_end' parameter must be a date. Got 'soon'."
    with pytest.raises(InputError, match=re.escape(msg)):
        call(calibration_end="soon")
    msg = "Column 'customer_id' has 1 missing values out of 8 rows. Drop those orders first."
    with pytest.raises(InputError, match=re.escape(msg)):
        call(orders.assign(customer_id=[None, *orders["customer_id"].iloc[1:]]))


# --------------------------------------------------------------------------------------
# frequency x recency matrices


def test_probability_alive_matrix_equals_the_model_on_the_grid(model):
    disp = ProbabilityAliveMatrixDisplay.from_model(model, max_frequency=12, max_recency=39)
    m = disp.matrix_
    assert m.shape == (13, 40)
    assert m.index.name == "frequency" and m.columns.name == "recency"
    assert disp.T_ == 39.0
    for x in (0, 1, 5, 12):
        for tx in (0, 7, 38, 39):
            assert m.loc[x, tx] == pytest.approx(float(model.probability_alive(x, tx, 39.0)))
    assert (m.loc[0] == 1.0).all()  # no repeat purchase: alive under BG/NBD


def test_matrices_equal_lifetimes(model):
    lifetimes, _ = _lifetimes()
    theirs = lifetimes.BetaGeoFitter()
    theirs.params_ = pd.Series(CDNOW_BG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p_alive = theirs.conditional_probability_alive_matrix(max_frequency=10, max_recency=30)
        expected = np.array(
            [
                [
                    theirs.conditional_expected_number_of_purchases_up_to_time(4, x, tx, 30)
                    for x in range(11)
                ]
                for tx in range(31)
            ]
        )
    ours = ProbabilityAliveMatrixDisplay.from_model(model, 10, 30).matrix_
    np.testing.assert_allclose(ours.to_numpy(), p_alive.T, rtol=1e-9)
    ours = ExpectedPurchasesMatrixDisplay.from_model(model, t=4, max_frequency=10, max_recency=30)
    np.testing.assert_allclose(ours.matrix_.to_numpy(), expected.T, rtol=1e-9)
    assert ours.t_ == 4.0 and ours.T_ == 30.0


def test_matrix_limits_from_the_summary():
    pareto = ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    summary = pd.DataFrame({"frequency": [0, 3, 9], "recency": [0, 20.5, 30], "T": [10, 38.9, 31]})
    disp = ExpectedPurchasesMatrixDisplay.from_model(pareto, t=10, summary=summary, T=40)
    m = disp.matrix_
    assert m.shape == (10, 39)  # frequency 0..9, recency 0..38
    assert disp.T_ == 40.0
    assert m.loc[9, 38] == pytest.approx(float(pareto.expected_purchases(10, 9, 38, 40)))
    bb = BetaGeoBetaBinom.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    donations = pd.DataFrame({"frequency": [0, 6], "recency": [0, 6], "n_periods": [6, 6]})
    m = ProbabilityAliveMatrixDisplay.from_model(bb, summary=donations).matrix_
    assert m.shape == (7, 7)
    assert m.loc[2, 4] == pytest.approx(float(bb.probability_alive(2, 4, 6)))


def test_matrix_plot(model, tmp_path):
    disp = ProbabilityAliveMatrixDisplay.from_model(model, max_frequency=5, max_recency=8)
    _assert_png(disp.to_png(tmp_path / "alive.png"))
    image = disp.ax_.get_images()[0].get_array()
    np.testing.assert_array_equal(image, disp.matrix_.to_numpy().T)  # recency up, frequency across
    assert disp.ax_.get_title() == "Probability alive at age 8"


def test_matrix_errors(model):
    msg = (
        "ProbabilityAliveMatrixDisplay needs max_frequency and max_recency, or the summary the "
        "model was fitted on (summary=...) to take them from. Got max_frequency=None, "
        "max_recency=None."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        ProbabilityAliveMatrixDisplay.from_model(model)
    msg = (
        "T (10) must be at least max_recency (20): a customer's last purchase cannot come "
        "after the end of observation."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        ExpectedPurchasesMatrixDisplay.from_model(model, 1.0, 5, 20, T=10)
    msg = (
        "The 'max_frequency' parameter of ExpectedPurchasesMatrixDisplay must be an int >= 1. "
        "Got 2.5."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        ExpectedPurchasesMatrixDisplay.from_model(model, 1.0, 2.5, 20)
    msg = "The 't' parameter must be a positive number. Got 0."
    with pytest.raises(InputError, match=re.escape(msg)):
        ExpectedPurchasesMatrixDisplay.from_model(model, t=0, max_frequency=2, max_recency=3)


# --------------------------------------------------------------------------------------
# CLV distribution


def test_clv_bins_and_quantiles_equal_numpy():
    rng = np.random.default_rng(0)
    values = np.r_[rng.gamma(4.0, 25.0, 995), [np.nan] * 5]
    disp = ClvDistributionDisplay.from_values(pd.Series(values), bins=20)
    finite = values[np.isfinite(values)]
    counts, edges = np.histogram(finite, 20)
    assert not disp.log_x_
    assert disp.n_missing_ == 5 and disp.n_zero_ == 0
    assert disp.bins_["customers"].tolist() == counts.tolist()
    np.testing.assert_array_equal(disp.bins_["left"], edges[:-1])
    np.testing.assert_array_equal(disp.bins_["right"], edges[1:])
    np.testing.assert_array_equal(disp.quantiles_, np.quantile(finite, [0.5, 0.9, 0.99]))
    assert disp.quantiles_.index.tolist() == [0.5, 0.9, 0.99]


def test_clv_log_axis_for_a_wide_spread(tmp_path):
    rng = np.random.default_rng(1)
    values = np.r_[np.exp(rng.normal(3.0, 2.0, 2000)), np.zeros(300)]
    disp = ClvDistributionDisplay.from_values(values, bins=30, quantiles=[0.1, 0.5])
    assert disp.log_x_ and disp.n_zero_ == 300
    positive = values[values > 0]
    counts, _ = np.histogram(positive, np.geomspace(positive.min(), positive.max(), 31))
    assert disp.bins_["customers"].tolist() == counts.tolist()
    assert disp.bins_["customers"].sum() == 2000  # zeros cannot sit on a log axis
    step = np.log(positive.max() / positive.min()) / 30  # evenly spaced in log
    np.testing.assert_allclose(np.diff(np.log(disp.bins_["left"])), step)
    np.testing.assert_array_equal(disp.quantiles_, np.quantile(values, [0.1, 0.5]))
    disp.to_png(tmp_path / "clv.png")
    assert disp.ax_.get_xscale() == "log"
    assert disp.ax_.get_title() == "Predicted CLV distribution (300 at 0 not shown)"
    # the 10 % quantile is 0: not drawn on the log axis, the median is
    assert [line.get_xdata()[0] for line in disp.ax_.get_lines()] == [disp.quantiles_[0.5]]
    assert not ClvDistributionDisplay.from_values(values, log_x=False).log_x_


def test_clv_errors():
    msg = "clv has no finite values (2 rows, all missing or infinite); was a spend model fitted?"
    with pytest.raises(InputError, match=re.escape(msg)):
        ClvDistributionDisplay.from_values([np.nan, np.inf])
    msg = (
        "A log x axis needs at least two positive values and none negative. "
        "Got 2 positive and 1 negative."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        ClvDistributionDisplay.from_values([-1.0, 2.0, 3.0], log_x=True)
    msg = "The 'quantiles' parameter must be levels in [0, 1]. Got (50, 90)."
    with pytest.raises(InputError, match=re.escape(msg)):
        ClvDistributionDisplay.from_values([1.0, 2.0], quantiles=(50, 90))
    msg = "The 'bins' parameter of ClvDistributionDisplay must be an int >= 1. Got 0."
    with pytest.raises(InputError, match=re.escape(msg)):
        ClvDistributionDisplay.from_values([1.0, 2.0], bins=0)


# --------------------------------------------------------------------------------------
# PNG files and the global backend


def _assert_png(path: Path) -> None:
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 1000


def test_every_display_writes_a_png_without_touching_the_backend(model, orders, tmp_path):
    backend = matplotlib.get_backend()
    displays = [
        CalibrationDisplay.from_backtest(
            [{"frequency": "0", "customers": 3, "predicted": 0.2, "actual": 0.1}]
        ),
        RepeatTransactionsDisplay.from_transactions(
            model, orders, calibration_end="2024-01-14", observation_end="2024-01-28"
        ),
        ProbabilityAliveMatrixDisplay.from_model(model, 3, 4),
        ExpectedPurchasesMatrixDisplay.from_model(model, 2.0, 3, 4),
        ClvDistributionDisplay.from_values([1.0, 2.0, 2.5, 9.0]),
    ]
    for i, disp in enumerate(displays):
        path = disp.to_png(tmp_path / f"{i}.png")
        _assert_png(path)
        assert disp.figure_ is disp.ax_.figure
    assert matplotlib.get_backend() == backend


def test_to_png_refuses_a_subfigure(tmp_path):
    from matplotlib.figure import Figure

    ax = Figure().subfigures(1, 2)[0].add_subplot()
    disp = ClvDistributionDisplay.from_values([1.0, 2.0, 2.5, 9.0]).plot(ax)
    msg = (
        "ClvDistributionDisplay.to_png writes a whole figure, and this one was drawn on a "
        "subfigure. Save the figure it belongs to with figure.savefig(path) instead."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        disp.to_png(tmp_path / "clv.png")
    assert not (tmp_path / "clv.png").exists()
