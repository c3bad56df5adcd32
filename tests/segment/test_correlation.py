"""Correlation matrices and the near-duplicate drop rule."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from valueseg.errors import InputError
from valueseg.segment import correlation_report


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    orders = rng.poisson(3, 2000) + 1.0
    return pd.DataFrame(
        {
            "orders": orders,
            "noise": rng.normal(size=2000),
            "spend": orders * 40 + rng.normal(0, 1, 2000),  # near-duplicate of orders
            "log_spend": np.log(orders * 40 + 5),  # monotone in orders: Spearman ~ 1
            "views": rng.poisson(5, 2000).astype(float),
        }
    )


def test_matrices_equal_pandas(frame):
    report = correlation_report(frame)
    pd.testing.assert_frame_equal(report.pearson, frame.corr(), atol=1e-12)
    pd.testing.assert_frame_equal(report.spearman, frame.corr(method="spearman"), atol=1e-12)
    assert report.rows == 2000


def test_later_column_of_each_pair_is_dropped(frame):
    report = correlation_report(frame)
    assert report.dropped == ["log_spend", "spend"] or report.dropped == ["spend", "log_spend"]
    assert report.kept == ["orders", "noise", "views"]
    # orders~log_spend is exactly monotone (rho = 1) and visited first
    first = report.pairs.iloc[0]
    assert (first["first"], first["second"], first["dropped"]) == (
        "orders",
        "log_spend",
        "log_spend",
    )
    assert first["spearman"] == pytest.approx(1.0)
    # spend~log_spend is a pair too, but log_spend is already gone: nothing more dropped
    rest = report.pairs.set_index(["first", "second"])
    assert pd.isna(rest.loc[("spend", "log_spend"), "dropped"])
    assert set(report.pairs["dropped"].dropna()) == {"spend", "log_spend"}


def test_reordering_keeps_another_column(frame):
    report = correlation_report(frame[["spend", "orders", "noise"]])
    assert report.dropped == ["orders"] and report.kept == ["spend", "noise"]


def test_missing_values_and_sampling(frame):
    holes = frame.copy()
    holes.loc[::7, "views"] = np.nan
    report = correlation_report(holes, max_rows=500, random_state=1)
    assert report.rows == 500
    assert report.pearson.notna().all().all()
    assert "views" in report.kept


def test_threshold_and_columns_checked(frame):
    msg = "The 'threshold' parameter of correlation_report must be a number in (0, 1]. Got 1.5."
    with pytest.raises(InputError, match=re.escape(msg)):
        correlation_report(frame, threshold=1.5)
    msg = "Columns not found in the frame: nope. Available: orders, noise, spend, log_spend, views."
    with pytest.raises(InputError, match=re.escape(msg)):
        correlation_report(frame, ["orders", "nope"])
