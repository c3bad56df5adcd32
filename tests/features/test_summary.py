"""rfm_summary and calibration_holdout equal lifetimes' numbers."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from valueseg.datasets import load_cdnow_summary
from valueseg.errors import InputError
from valueseg.features import calibration_holdout, rfm_summary
from valueseg.io import ingest


def _lifetimes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import utils
    return utils


@pytest.fixture(scope="module")
def cdnow(cdnow_orders) -> pd.DataFrame:
    return cdnow_orders


def _theirs_summary(frame, **kw) -> pd.DataFrame:
    utils = _lifetimes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = utils.summary_data_from_transaction_data(
            frame, "customer_id", "timestamp", monetary_value_col="amount", **kw
        )
    out.index = out.index.astype(str)
    return out.sort_index()


def _assert_same(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    ours = ours.set_index("customer_id").sort_index()
    assert list(ours.index) == list(theirs.index)
    for col in theirs.columns:
        np.testing.assert_allclose(
            ours[col].to_numpy(), theirs[col].to_numpy(), rtol=1e-9, atol=1e-9, err_msg=col
        )


@pytest.mark.parametrize("freq", ["D", "W"])
def test_cdnow_summary_equals_lifetimes(cdnow, freq):
    end = "1998-06-30"
    ours = rfm_summary(cdnow, observation_end=end, freq=freq)
    _assert_same(ours, _theirs_summary(cdnow, observation_period_end=end, freq=freq))


def test_cdnow_calibration_matches_the_published_summary(cdnow):
    # The literature counts distinct purchase days and measures time in weeks.
    published = load_cdnow_summary()
    cal = calibration_holdout(
        cdnow,
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
        freq="D",
        freq_multiplier=7,
    )
    assert len(cal) == len(published) == 2357
    cal = cal.assign(id=cal["customer_id"].astype(int)).sort_values("id")
    published = published.assign(id=published["customer_id"].astype(int)).sort_values("id")
    np.testing.assert_array_equal(
        cal["frequency_cal"].to_numpy(), published["frequency"].to_numpy()
    )
    np.testing.assert_allclose(cal["T_cal"].to_numpy(), published["T"].to_numpy(), atol=0.15)
    np.testing.assert_allclose(
        cal["recency_cal"].to_numpy(), published["recency"].to_numpy(), atol=0.15
    )
    assert cal["frequency_holdout"].sum() == 1882  # measured.md: holdout repeat purchases


@pytest.mark.parametrize("freq", ["D", "W"])
def test_calibration_holdout_equals_lifetimes(cdnow, freq):
    utils = _lifetimes()
    kw = {"calibration_period_end": "1997-09-30", "observation_period_end": "1998-06-30"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = utils.calibration_and_holdout_data(
            cdnow, "customer_id", "timestamp", monetary_value_col="amount", freq=freq, **kw
        )
    theirs.index = theirs.index.astype(str)
    theirs = theirs.sort_index()
    ours = calibration_holdout(
        cdnow, calibration_end="1997-09-30", observation_end="1998-06-30", freq=freq
    )
    _assert_same(ours, theirs)


def test_inputs_polars_parquet_and_default_end(cdnow, tmp_path):
    expected = rfm_summary(cdnow)
    path = tmp_path / "orders.parquet"
    cdnow.to_parquet(path)
    pd.testing.assert_frame_equal(rfm_summary(path), expected)
    pd.testing.assert_frame_equal(rfm_summary(pl.from_pandas(cdnow)), expected)
    _assert_same(expected, _theirs_summary(cdnow))


def test_hours_with_multiplier(cdnow):
    ours = rfm_summary(cdnow, freq="h", freq_multiplier=24, observation_end="1998-06-30")
    theirs = _theirs_summary(
        cdnow, freq="h", freq_multiplier=24, observation_period_end="1998-06-30"
    )
    _assert_same(ours, theirs)


def test_months_count_calendar_months():
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a"],
            "timestamp": pd.to_datetime(["2024-01-31", "2024-02-01", "2024-05-15"]),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    got = rfm_summary(orders, freq="M", observation_end="2024-12-01").iloc[0]
    assert (got.frequency, got.recency, got["T"], got.monetary_value) == (2.0, 4.0, 11.0, 2.5)


@pytest.mark.parametrize(
    ("freq", "end", "inside", "after"),
    [
        ("h", "2024-03-06 10:15", "2024-03-06 10:59:59", "2024-03-06 11:00"),
        ("D", "2024-03-06 10:15", "2024-03-06 23:59:59", "2024-03-07 00:00"),
        ("W", "2024-03-06", "2024-03-10 23:59:59", "2024-03-11 00:00"),  # Wed; Sun; Mon
        ("M", "2024-03-06", "2024-03-31 23:59:59", "2024-04-01 00:00"),
    ],
)
def test_the_observation_end_period_is_in_and_the_next_one_out(freq, end, inside, after):
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "timestamp": [pd.Timestamp(t) for t in ("2024-01-01", inside, after, after)],
            "amount": [10.0, 20.0, 40.0, 5.0],
        }
    )
    got = rfm_summary(orders, freq=freq, observation_end=end)
    assert got.customer_id.tolist() == ["a"]  # b bought only after the end
    assert (got.frequency.item(), got.monetary_value.item()) == (1.0, 20.0)
    # calibration_holdout splits at the moment itself, as lifetimes does: both later lines
    # are holdout purchases (in two periods)
    cal = calibration_holdout(orders, calibration_end=end, observation_end="2024-12-31", freq=freq)
    a = cal.set_index("customer_id").loc["a"]
    assert (a.frequency_cal, a.frequency_holdout) == (0.0, 2.0)


def test_include_first_transaction(cdnow):
    ours = rfm_summary(cdnow, include_first_transaction=True)
    _assert_same(ours, _theirs_summary(cdnow, include_first_transaction=True))


timestamps = st.datetimes(
    min_value=pd.Timestamp("2020-01-01").to_pydatetime(),
    max_value=pd.Timestamp("2020-12-31").to_pydatetime(),
)
logs = st.lists(
    st.tuples(
        st.sampled_from(list("abcdefg")),
        timestamps,
        st.floats(0, 1000, allow_nan=False).map(lambda x: round(x, 2)),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(rows=logs, freq=st.sampled_from(["D", "W"]), end=st.one_of(timestamps, st.just(None)))
def test_random_logs_equal_lifetimes(rows, freq, end):
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    frame["timestamp"] = frame["timestamp"].astype("datetime64[ns]")
    # an end inside the log leaves out the lines of later periods; None: after every line
    end = pd.Timestamp(end) if end is not None else pd.Timestamp("2021-01-01")
    assume(frame["timestamp"].min() <= end)
    ours = rfm_summary(frame, observation_end=end, freq=freq)
    _assert_same(ours, _theirs_summary(frame, observation_period_end=end, freq=freq))
    assert ((ours.recency >= 0) & (ours.recency <= ours["T"])).all()
    assert ours.customer_id.is_unique


def test_time_zones_are_converted_to_utc():
    aware = pd.DataFrame(
        {
            "customer_id": ["a", "a"],
            "timestamp": pd.to_datetime(["2024-01-01 23:30", "2024-01-02 00:30"]).tz_localize(
                "Europe/Berlin"
            ),
            "amount": [1.0, 2.0],
        }
    )
    got = rfm_summary(aware, observation_end="2024-01-10")
    # 22:30 and 23:30 UTC on 1 January: one purchase day
    assert got.frequency.tolist() == [0.0]
    mixed = pd.DataFrame(
        {
            "customer_id": ["a", "a"],
            "timestamp": ["2024-01-01T10:00:00+02:00", "2024-01-03 10:00:00"],
            "amount": [1.0, 2.0],
        }
    )
    got = rfm_summary(mixed, observation_end="2024-01-10")
    assert (got.frequency.tolist(), got.recency.tolist()) == ([1.0], [2.0])


def test_bad_input_messages(cdnow):
    with pytest.raises(
        InputError,
        match=re.escape(
            "observation_end 1990-01-01 is before the first order (1997-01-01); the input has "
            "6,919 rows from 1997-01-01 to 1998-06-30. Pick an observation_end inside that range."
        ),
    ):
        rfm_summary(cdnow, observation_end="1990-01-01")
    with pytest.raises(
        InputError,
        match=re.escape(
            "The 'freq' parameter must be one of h, D, W, M (hours, days, weeks, months). Got 'Q'."
        ),
    ):
        rfm_summary(cdnow, freq="Q")
    with pytest.raises(
        InputError,
        match=re.escape(
            "Column 'when' not found in the DataFrame. Available: customer_id, timestamp, amount."
        ),
    ):
        rfm_summary(cdnow, datetime_col="when")


def test_single_customer_and_all_one_time_buyers():
    one = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03"]),
            "amount": [5.0, 7.0],
        }
    )
    got = rfm_summary(one, observation_end="2024-01-05")
    assert got.frequency.tolist() == [0.0, 0.0]
    assert got["T"].tolist() == [4.0, 2.0]
    assert got.monetary_value.tolist() == [0.0, 0.0]


def test_a_single_customer_with_a_store_input(store):
    from valueseg.io import ingest

    tx = pd.DataFrame(
        {
            "customer_id": ["solo", "solo", "solo"],
            "timestamp": ["2024-01-01", "2024-01-08", "2024-01-10"],
            "amount": [10.0, -4.0, 6.0],
        }
    )
    ingest(tx, db=store)
    got = rfm_summary(store, observation_end="2024-01-31")
    # the return (-4) is not a purchase: two purchase days, one repeat
    assert got.to_dict("records") == [
        {"customer_id": "solo", "frequency": 1.0, "recency": 9.0, "T": 30.0, "monetary_value": 6.0}
    ]


def test_customers_in_input_order_by_default_and_sorted_on_request(tmp_path, store):
    rng = np.random.default_rng(1)
    n = 5_000
    orders = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 800, n).astype(str),
            "timestamp": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 300 * 86400, n), "s"),
            "amount": rng.gamma(2.0, 20.0, n),
        }
    )
    ours = rfm_summary(orders, observation_end="2024-12-31", sort=True)
    assert ours["customer_id"].is_monotonic_increasing
    first_seen = list(pd.unique(orders["customer_id"]))
    path = tmp_path / "orders.parquet"
    orders.to_parquet(path)
    ingest(orders, db=store)
    for source in (orders, pl.from_pandas(orders), path, store):
        default = rfm_summary(source, observation_end="2024-12-31")
        assert default["customer_id"].tolist() == first_seen
        again = default.sort_values("customer_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(again, ours)


def test_concurrent_summaries_keep_their_own_frames_and_leave_nothing_behind(monkeypatch):
    """Calls share one in-memory database but each reads only its own frame, then lets go."""
    import os
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import contextmanager

    import duckdb

    from valueseg.features import _input

    def shop(k: int) -> pd.DataFrame:
        n = 2_000 + k
        return pd.DataFrame(
            {
                "customer_id": [f"s{k}-{i % (50 + k)}" for i in range(n)],
                "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n), "h"),
                "amount": np.full(n, float(k + 1)),
            }
        )

    frames = [shop(k) for k in range(6)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda f: rfm_summary(f, observation_end="2024-12-31"), frames))
    for k, got in enumerate(results):
        assert len(got) == 50 + k
        assert got.customer_id.str.startswith(f"s{k}-").all()
        assert (got.monetary_value[got.frequency > 0] == k + 1).all()
    # each call's connection (and the frame registered on it) is closed when it returns
    opened = []
    session = _input.duckdb_session

    @contextmanager
    def spy():
        with session() as con:
            opened.append(con.con)
            yield con

    monkeypatch.setattr(_input, "duckdb_session", spy)
    rfm_summary(frames[1], observation_end="2024-12-31")
    calibration_holdout(frames[1], calibration_end="2024-02-01", observation_end="2024-12-31")
    assert len(opened) == 2
    for con in opened:
        with pytest.raises(duckdb.ConnectionException):
            con.sql("SELECT 1")
    # the shared database is closed before a fork (a child that inherits an open DuckDB
    # crashes when it exits), and opened again on the next call
    shared = list(_input._shared)
    assert len(shared) == 1
    pid = os.fork()
    if pid == 0:  # the child: exit at once, as cleanly as it can
        os._exit(0 if not _input._shared else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert _input._shared == []
    with pytest.raises(duckdb.ConnectionException):
        shared[0].sql("SELECT 1")
    assert len(rfm_summary(frames[0], observation_end="2024-12-31")) == 50
    assert len(_input._shared) == 1


def test_text_times_and_amounts_that_do_not_read_are_named(tmp_path):
    """A Parquet file or polars frame with times or amounts as text: ISO text reads; other
    text gets an error naming the file, the column, a bad value and the fix."""
    good = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "timestamp": ["2024-01-01", "2024-01-05 10:00:00", "2024-01-03"],
            "amount": ["1.0", "2.5", "3"],
        }
    )
    good.to_parquet(tmp_path / "good.parquet")
    got = rfm_summary(tmp_path / "good.parquet", observation_end="2024-01-31")
    assert got.frequency.tolist() == [1.0, 0.0] and got.monetary_value.tolist() == [2.5, 0.0]

    us_dates = good.assign(timestamp=["01/01/2024", "01/05/2024", "2024-01-03"])
    us_dates.to_parquet(tmp_path / "us.parquet")
    with pytest.raises(InputError) as info:
        rfm_summary(tmp_path / "us.parquet")
    assert str(info.value).startswith(
        "Column 'timestamp' of us.parquet holds 2 values that are not dates "
        "(for example '01/01/2024'). Write the times as YYYY-MM-DD HH:MM:SS, or load the "
        "orders with `valueseg ingest`"
    )
    bad_amount = good.assign(amount=["1.0", "x", "3"])
    for frame in (bad_amount, pl.from_pandas(bad_amount)):  # pandas parses times, not amounts
        with pytest.raises(InputError, match="Column 'amount' of the DataFrame holds 1 value "):
            rfm_summary(frame)
    assert rfm_summary(good).monetary_value.tolist() == [2.5, 0.0]  # numbers as text read
