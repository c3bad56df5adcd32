"""RFM scores and the named R×F grid: by hand, on CDNOW, and the grid file's errors."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import percentileofscore

from valueseg.errors import InputError, SourceNotFoundError
from valueseg.segment import (
    load_rfm_grid,
    plot_rfm_grid,
    quintile_scores,
    rfm_scores,
    rfm_segments,
)

# The issue's grid, typed out here independently of the packaged TOML.
ISSUE_GRID = {
    "Champions": ([5], [4, 5]),
    "Loyal Customers": ([3, 4], [4, 5]),
    "Potential Loyalists": ([4, 5], [2, 3]),
    "New Customers": ([5], [1]),
    "Promising": ([4], [1]),
    "Need Attention": ([3], [3]),
    "About to Sleep": ([3], [1, 2]),
    "At Risk": ([1, 2], [3, 4]),
    "Can't Lose Them": ([1, 2], [5]),
    "Hibernating": ([1, 2], [1, 2]),
}


def _issue_name(r: int, f: int) -> str:
    (name,) = [n for n, (rs, fs) in ISSUE_GRID.items() if r in rs and f in fs]
    return name


# Twelve customers. With n = 12 a customer with w customers strictly worse scores
# 1 + floor(5 w / 12): w 0-2 -> 1, 3-4 -> 2, 5-7 -> 3, 8-9 -> 4, 10-11 -> 5.
HAND = pd.DataFrame(
    [
        # id, days since last order, orders, spend, R, F, M, segment
        ("c01", 2, 15, 2400.0, 5, 5, 5, "Champions"),
        ("c02", 2, 9, 1300.0, 5, 4, 4, "Champions"),
        ("c03", 10, 1, 45.0, 4, 1, 1, "Promising"),
        ("c04", 30, 4, 310.0, 4, 3, 3, "Potential Loyalists"),
        ("c05", 45, 1, 80.0, 3, 1, 2, "About to Sleep"),
        ("c06", 90, 4, 260.0, 3, 3, 3, "Need Attention"),
        ("c07", 120, 6, 700.0, 3, 4, 4, "Loyal Customers"),
        ("c08", 200, 2, 95.0, 2, 2, 2, "Hibernating"),
        ("c09", 260, 1, 20.0, 2, 1, 1, "Hibernating"),
        ("c10", 300, 12, 1900.0, 1, 5, 5, "Can't Lose Them"),
        ("c11", 400, 1, 35.0, 1, 1, 1, "Hibernating"),
        ("c12", 400, 3, 150.0, 1, 3, 3, "At Risk"),
    ],
    columns=[
        *("customer_id", "days_since_last_order", "orders_total", "spend_total"),
        *("r", "f", "m", "segment"),
    ],
)


def test_hand_computed_scores_and_segments():
    out = rfm_segments(HAND)
    assert list(out.columns) == ["customer_id", "rfm_r", "rfm_f", "rfm_m", "rfm_segment"]
    assert out["customer_id"].tolist() == HAND["customer_id"].tolist()
    assert out["rfm_r"].tolist() == HAND["r"].tolist()
    assert out["rfm_f"].tolist() == HAND["f"].tolist()
    assert out["rfm_m"].tolist() == HAND["m"].tolist()
    assert out["rfm_segment"].tolist() == HAND["segment"].tolist()


def test_order_of_rows_does_not_matter():
    shuffled = HAND.sample(frac=1.0, random_state=3)
    out = rfm_segments(shuffled).set_index("customer_id").loc[HAND["customer_id"]]
    assert out["rfm_segment"].tolist() == HAND["segment"].tolist()


def test_ties_share_a_score_and_recent_is_five():
    # n = 10: w customers strictly worse -> 1 + floor(w / 2)
    scores = quintile_scores([1, 1, 1, 1, 2, 2, 3, 3, 4, 5])
    assert scores.tolist() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    # n = 8, five tied at the top: w = 3 -> 1 + floor(15 / 8) = 2 (documented)
    assert quintile_scores([5, 5, 5, 5, 5, 1, 2, 3]).tolist() == [2, 2, 2, 2, 2, 1, 1, 2]
    # fewer days is more recent: n = 4, w = customers with more days
    days = quintile_scores([0, 0, 400, 10], higher_is_better=False)
    assert days.tolist() == [3, 3, 1, 2]
    assert quintile_scores([7.0] * 6).tolist() == [1] * 6
    # floating-point noise in a sum does not break a tie
    assert quintile_scores([0.1 + 0.2, 0.3, 0.1]).tolist() == [2, 2, 1]


def _strict_score(values: np.ndarray) -> np.ndarray:
    """1 + floor(percentile of strictly smaller values / 20), by scipy."""
    pct = percentileofscore(values, values, kind="strict")
    return (1 + np.floor(pct / 20 + 1e-9)).astype(int)


@pytest.fixture(scope="module")
def cdnow_features(cdnow_orders) -> tuple[pd.DataFrame, pd.DataFrame]:
    from valueseg.features.compute import compute_features
    from valueseg.io import ingest
    from valueseg.pipeline import default_as_of
    from valueseg.store import Store

    raw = cdnow_orders
    with Store(":memory:") as store:
        ingest(raw, db=store)
        as_of = default_as_of(store)
        features = compute_features(store, as_of).to_pandas()
    return raw.assign(as_of=as_of), features


def test_cdnow_scores_and_segments_equal_an_independent_computation(cdnow_features):
    raw, features = cdnow_features
    # by hand from the raw log: an order is a customer's purchases on one day; ingest
    # refuses a line repeated in the file (same customer, day and amount), so does this
    raw = raw.drop_duplicates(["customer_id", "timestamp", "amount"])
    assert len(raw) == 6898
    per = raw.groupby("customer_id").agg(
        last=("timestamp", "max"),
        orders=("timestamp", "nunique"),
        spend=("amount", "sum"),
        as_of=("as_of", "first"),
    )
    per["days"] = (per["as_of"] - per["last"]).dt.days
    per = per.loc[features["customer_id"]]
    expected_r = _strict_score(-per["days"].to_numpy(float))
    expected_f = _strict_score(per["orders"].to_numpy(float))
    expected_m = _strict_score(per["spend"].round(2).to_numpy(float))
    out = rfm_segments(features)
    assert len(out) == 2357
    np.testing.assert_array_equal(out["rfm_r"], expected_r)
    np.testing.assert_array_equal(out["rfm_f"], expected_f)
    np.testing.assert_array_equal(out["rfm_m"], expected_m)
    names = [_issue_name(r, f) for r, f in zip(expected_r, expected_f, strict=True)]
    assert out["rfm_segment"].tolist() == names
    # the sample has many one-order customers: they share F = 1, so F 2 is skipped
    assert set(out["rfm_f"]) == {1, 3, 4, 5}


def test_grid_picture_returns_what_it_drew(tmp_path, cdnow_features):
    _, features = cdnow_features
    scores = rfm_segments(features)
    path = tmp_path / "grid.png"
    cells = plot_rfm_grid(scores=scores, path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(cells) == 25 and cells["customers"].sum() == len(scores)
    counts = scores.groupby(["rfm_r", "rfm_f"]).size()
    for row in cells.itertuples():
        assert row.segment == _issue_name(row.r, row.f)
        assert row.customers == counts.get((row.r, row.f), 0)


def test_packaged_grid_is_the_issue_grid():
    grid = load_rfm_grid()
    for r in range(1, 6):
        for f in range(1, 6):
            assert grid.lookup(r, f) == _issue_name(r, f)
    assert grid.names == tuple(ISSUE_GRID)
    assert grid.source == "valueseg default"


@pytest.mark.slow
def test_grid_file_ships_in_the_wheel(tmp_path):
    """hatchling takes every file under src/valueseg; the grid must be among them."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(root)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {done.stderr.strip()[-200:]}")
    (wheel,) = tmp_path.glob("valueseg-*.whl")
    assert "valueseg/segment/rfm_grid.toml" in zipfile.ZipFile(wheel).namelist()


GOOD = """
[[segment]]
name = "Top"
r = [4, 5]
f = [1, 2, 3, 4, 5]

[[segment]]
name = "Rest"
r = [1, 2, 3]
f = [1, 2, 3, 4, 5]
"""


def test_an_override_grid_is_used(write):
    path = write("grid.toml", GOOD)
    out = rfm_segments(HAND, grid=path)
    assert out["rfm_segment"].tolist() == ["Top"] * 4 + ["Rest"] * 8
    assert load_rfm_grid(path).source == str(path)


def test_grid_with_missing_and_shared_cells(write):
    text = (
        '[[segment]]\nname = "Top"\nr = [5]\nf = [1, 2, 3, 4, 5]\n\n'
        '[[segment]]\nname = "Rest"\nr = [1, 2, 3, 5]\nf = [1, 2]\n'
    )
    path = write("bad.toml", text)
    missing = [f"(R{r}, F{f})" for r in (1, 2, 3) for f in (3, 4, 5)]
    missing += [f"(R4, F{f})" for f in range(1, 6)]
    msg = (
        f"The R×F grid in {path} leaves 14 cell(s) without a segment: {', '.join(missing)} "
        "and gives 2 cell(s) more than one segment: (R5, F1) in Top and Rest; (R5, F2) in "
        "Top and Rest. Every (R, F) pair with R and F from 1 to 5 must belong to exactly "
        "one segment."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        load_rfm_grid(path)


def test_grid_missing_one_cell_names_it(write):
    text = GOOD.replace("f = [1, 2, 3, 4, 5]\n\n[[segment]]", "f = [1, 2, 3, 4]\n\n[[segment]]")
    path = write("gap.toml", text)
    msg = (
        f"The R×F grid in {path} leaves 2 cell(s) without a segment: (R4, F5), (R5, F5). "
        "Every (R, F) pair with R and F from 1 to 5 must belong to exactly one segment."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        load_rfm_grid(path)


@pytest.mark.parametrize(
    ("text", "msg"),
    [
        ("title = 'x'\n", "has no [[segment]] tables."),
        ("[[segment]]\nr = [1]\nf = [1]\n", "Segment 1 in {path} needs a 'name' (text)."),
        (
            "[[segment]]\nname = 'A'\nr = [0, 1]\nf = [1]\n",
            "Segment 'A' in {path}: 'r' must be a non-empty list of scores from 1 to 5, "
            "such as [4, 5]. Got [0, 1].",
        ),
        (
            "[[segment]]\nname = 'A'\nr = [1]\nf = '1-2'\n",
            "Segment 'A' in {path}: 'f' must be a non-empty list of scores from 1 to 5, "
            "such as [4, 5]. Got '1-2'.",
        ),
        (
            "[[segment]]\nname = 'A'\nr = [1]\nf = [1]\ncolour = 'red'\n",
            "Segment 'A' in {path} has unknown keys: colour. Expected: name, r, f, description.",
        ),
        (
            GOOD + "\n[[segment]]\nname = 'Top'\nr = [1]\nf = [1]\n",
            "Segments config {path} names a segment twice: Top.",
        ),
        ("[[segment]\nname = 'A'\n", "Segments config {path} is not valid TOML:"),
    ],
)
def test_grid_file_errors(write, text, msg):
    path = write("grid.toml", text)
    with pytest.raises(InputError, match=re.escape(msg.format(path=path))):
        load_rfm_grid(path)


def test_grid_file_not_found(tmp_path):
    path = tmp_path / "nope.toml"
    msg = (
        f"Segments config {path} not found. Pass the path of a TOML file laid out like "
        "valueseg/segment/rfm_grid.toml."
    )
    with pytest.raises(SourceNotFoundError, match=re.escape(msg)):
        load_rfm_grid(path)


def test_missing_and_unusable_columns():
    msg = (
        "Column 'orders_total' (for the F score) not found in the frame. Did you mean "
        "'orders_totl'? Pass a feature table with 'orders_total', or name the column: "
        "f='orders_total'."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        rfm_scores(HAND.rename(columns={"orders_total": "orders_totl"}))
    bad = HAND.assign(spend_total=[None] + [1.0] * 11)
    msg = (
        "Column 'spend_total' (for the M score) has 1 missing or non-numeric value(s) of 12. "
        "RFM scores need a value per customer."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        rfm_scores(bad)
