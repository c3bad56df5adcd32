"""The data sets shipped in valueseg.datasets: contents, types, provenance, errors."""

from __future__ import annotations

import gzip
import hashlib
import re
from importlib import resources
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest

from valueseg.datasets import load_cdnow, load_cdnow_summary, load_donations
from valueseg.errors import InputError, ValuesegError

ORDER_COLUMNS = ["customer_id", "order_id", "timestamp", "amount", "quantity"]


@pytest.mark.parametrize(
    ("kind", "lines", "customers", "columns"),
    [
        ("master", 69_659, 23_570, ORDER_COLUMNS),
        ("sample", 6_919, 2_357, [*ORDER_COLUMNS, "master_customer_id"]),
    ],
)
def test_cdnow_order_log_has_the_published_size_and_the_transactions_contract(
    kind: Literal["master", "sample"], lines: int, customers: int, columns: list[str]
) -> None:
    orders = load_cdnow(kind)
    assert list(orders.columns) == columns
    assert len(orders) == lines
    assert orders["customer_id"].nunique() == customers
    assert pd.api.types.is_string_dtype(orders["customer_id"])
    assert pd.api.types.is_datetime64_dtype(orders["timestamp"])
    assert orders["amount"].dtype == np.float64
    assert orders["quantity"].dtype == np.int64
    assert orders["order_id"].tolist() == [str(i) for i in range(1, lines + 1)]
    assert not orders.isna().any().any()
    assert orders["timestamp"].min() == pd.Timestamp("1997-01-01")
    assert orders["timestamp"].max() == pd.Timestamp("1998-06-30")
    # everyone's first purchase is in the first quarter of 1997 (the cohort)
    first = orders.groupby("customer_id")["timestamp"].min()
    assert first.min() == pd.Timestamp("1997-01-01")
    assert first.max() <= pd.Timestamp("1997-03-31")
    assert (orders["quantity"] >= 1).all()
    assert (orders["amount"] >= 0).all()


def test_cdnow_ids_are_numbers_without_leading_zeros() -> None:
    master, sample = load_cdnow("master"), load_cdnow("sample")
    assert master["customer_id"].iloc[0] == "1"
    assert sorted(sample["customer_id"].unique(), key=int) == [str(i) for i in range(1, 2358)]


def test_the_sample_is_the_master_log_of_its_customers() -> None:
    master, sample = load_cdnow("master"), load_cdnow("sample")
    assert sample["master_customer_id"].nunique() == 2357
    cols = ["customer_id", "timestamp", "amount", "quantity"]
    ours = sample.assign(customer_id=sample["master_customer_id"])[cols]
    theirs = master[master["customer_id"].isin(sample["master_customer_id"])][cols]
    pd.testing.assert_frame_equal(
        ours.sort_values(cols).reset_index(drop=True),
        theirs.sort_values(cols).reset_index(drop=True),
    )


def test_each_call_returns_a_frame_of_its_own() -> None:
    first = load_cdnow("sample")
    first.loc[0, "amount"] = -1.0
    first["extra"] = 1
    again = load_cdnow("sample")
    assert again.loc[0, "amount"] == 29.33
    assert "extra" not in again
    summary = load_cdnow_summary()
    summary["frequency"] = 0
    assert load_cdnow_summary()["frequency"].sum() > 0
    donations = load_donations()
    donations["weights"] = 0
    assert load_donations()["weights"].sum() == 11_104


@pytest.mark.parametrize("kind", ["full", "Master", ""])
def test_an_unknown_cdnow_kind_is_refused_with_the_accepted_ones(kind: Any) -> None:
    msg = f"The 'kind' parameter of load_cdnow must be 'master' or 'sample'. Got {kind!r}."
    with pytest.raises(InputError, match=re.escape(msg)) as caught:
        load_cdnow(kind)
    assert isinstance(caught.value, ValuesegError)
    assert isinstance(caught.value, ValueError)


def test_cdnow_summary_is_the_published_table_in_the_summary_contract() -> None:
    summary = load_cdnow_summary()
    assert list(summary.columns) == ["customer_id", "frequency", "recency", "T", "monetary_value"]
    assert len(summary) == 2357
    assert list(summary["customer_id"]) == [str(i) for i in range(1, 2358)]
    assert pd.api.types.is_string_dtype(summary["customer_id"])
    assert summary["frequency"].dtype == np.int64
    for col in ("recency", "T", "monetary_value"):
        assert summary[col].dtype == np.float64, col
    # weeks: calibration ends in week 39; first purchases in Q1 leave T from 26.4 to 38.9
    assert summary["T"].max() == pytest.approx(38.86)
    assert summary["T"].min() == pytest.approx(27.0, abs=0.6)
    assert (summary["recency"] <= summary["T"]).all()
    assert ((summary["frequency"] == 0) == (summary["recency"] == 0)).all()
    assert ((summary["frequency"] == 0) <= (summary["monetary_value"] == 0)).all()
    assert summary["frequency"].sum() == 2457
    assert summary.iloc[0].to_dict() == {
        "customer_id": "1",
        "frequency": 2,
        "recency": 30.43,
        "T": 38.86,
        "monetary_value": 22.35,
    }


def test_donations_are_the_bg_bb_patterns() -> None:
    donations = load_donations()
    assert list(donations.columns) == ["frequency", "recency", "n_periods", "weights"]
    assert (donations.dtypes == np.int64).all()
    assert len(donations) == 22
    assert donations["weights"].sum() == 11_104
    assert (donations["n_periods"] == 6).all()
    # every possible pattern of 6 yearly opportunities: x = 0 with t_x = 0, or 1 <= x <= t_x <= 6
    patterns = {(0, 0)} | {(x, t) for t in range(1, 7) for x in range(1, t + 1)}
    assert set(zip(donations["frequency"], donations["recency"], strict=True)) == patterns
    assert donations.iloc[0].to_dict() == {
        "frequency": 0,
        "recency": 0,
        "n_periods": 6,
        "weights": 3464,
    }


def _readme_checksums() -> dict[str, str]:
    readme = resources.files("valueseg.datasets").joinpath("data", "README.md").read_text()
    return dict(re.findall(r"\| `([^`]+)` \| `([0-9a-f]{64})` \|", readme))


def test_the_shipped_files_are_the_ones_the_provenance_note_names() -> None:
    folder = resources.files("valueseg.datasets").joinpath("data")
    shipped = sorted(p.name for p in folder.iterdir() if p.name.endswith(".gz"))
    checksums = _readme_checksums()
    assert sorted(f"{name}.gz" for name in checksums) == shipped
    for name, expected in checksums.items():
        data = gzip.decompress(folder.joinpath(f"{name}.gz").read_bytes())
        assert hashlib.sha256(data).hexdigest() == expected, name
