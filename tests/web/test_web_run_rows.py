"""The run's rows the server keeps in memory read as the store's readers read them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from valueseg.store import Store
from valueseg.store.many_customers import actions_of, feature_rows_of, score_rows_of
from valueseg.store.web import SCORE_COLUMNS, feature_types
from valueseg.web.run_rows import load_run_rows

FEATURES = ["frequency", "monetary_value", "orders_total", "favourite"]


def _nan_named(rows: dict[str, Any]) -> dict[str, Any]:
    """``rows`` with each NaN written 'NaN' (NaN equals nothing, itself included), and
    each value's type beside it (1 and 1.0 and True compare equal)."""
    return {
        k: _nan_named(v) if isinstance(v, dict) else ("NaN" if v != v else v, type(v).__name__)
        for k, v in rows.items()
    }


@pytest.fixture()
def odd() -> Iterator[Store]:
    """Two runs; NULL, NaN and infinite scores, dates, text; a customer with features and
    no scores, one with scores and no features, one with two actions."""
    store = Store(":memory:")
    con = store.con
    con.execute(
        "ALTER TABLE customer_features ADD COLUMN frequency DOUBLE; "
        "ALTER TABLE customer_features ADD COLUMN monetary_value DOUBLE; "
        "ALTER TABLE customer_features ADD COLUMN orders_total BIGINT; "
        "ALTER TABLE customer_features ADD COLUMN favourite VARCHAR"
    )
    con.execute(
        "INSERT INTO customer_scores BY NAME SELECT * FROM (VALUES "
        "(2, 'a', 0.5, 1.25, DATE '2024-07-01', 3, 'Champions', 'Top 1%', 4, 'Loyal'), "
        "(2, 'b', NULL, 'nan'::DOUBLE, NULL, NULL, NULL, NULL, NULL, NULL), "
        "(2, 'c', 'inf'::DOUBLE, 0.0, DATE '2025-01-31', 1, 'At Risk', 'Rest', -1, 'Noise'), "
        "(1, 'a', 0.9, 9.0, NULL, 5, 'Lost', 'Rest', 0, 'Old')) "
        "AS t(run_id, customer_id, p_alive, predicted_clv_365d, expected_next_order_date, "
        "rfm_r, rfm_segment, value_tier, cluster, segment)"
    )
    con.execute(
        "INSERT INTO customer_features BY NAME SELECT * FROM (VALUES "
        "(2, 'a', 3.0, 10.5, 4, 'shoes'), (2, 'b', 0.0, NULL, 1, NULL), "
        "(2, 'd', 'nan'::DOUBLE, 2.0, NULL, 'hats'), (1, 'c', 1.0, 1.0, 1, 'x')) "
        "AS t(run_id, customer_id, frequency, monetary_value, orders_total, favourite)"
    )
    con.execute(
        "INSERT INTO customer_actions BY NAME SELECT * FROM (VALUES "
        "(2, 'a', 'vip', 2, 'r2'), (2, 'a', 'win back', 1, 'r1'), (2, 'd', 'welcome', 1, 'r3'), "
        "(1, 'b', 'old', 1, 'r0')) AS t(run_id, customer_id, action, priority, rule)"
    )
    yield store
    store.close()


def test_every_row_reads_as_the_stores_readers_read_it(odd: Store) -> None:
    rows = load_run_rows(odd, 2, SCORE_COLUMNS, FEATURES)
    ids = ["a", "b", "c", "d", "nobody"]
    assert _nan_named(rows.scores(ids, SCORE_COLUMNS)) == _nan_named(
        score_rows_of(odd, 2, ids, SCORE_COLUMNS)
    )
    assert _nan_named(rows.features(ids, FEATURES)) == _nan_named(
        feature_rows_of(odd, 2, ids, FEATURES)
    )
    assert rows.actions(ids) == {"a": ("win back", "r1"), "d": ("welcome", "r3")}
    assert set(rows.scores(ids, SCORE_COLUMNS)) == {"a", "b", "c"}
    assert set(rows.features(ids, FEATURES)) == {"a", "b", "d"}
    b = rows.scores(["b"], ["p_alive", "predicted_clv_365d", "rfm_segment", "cluster"])["b"]
    assert b["p_alive"] is None and b["rfm_segment"] is None and b["cluster"] is None
    assert b["predicted_clv_365d"] != b["predicted_clv_365d"]  # NaN stays NaN
    a = rows.scores(["a"], SCORE_COLUMNS)["a"]
    assert type(a["rfm_r"]) is int and type(a["cluster"]) is int
    assert str(a["expected_next_order_date"]) == "2024-07-01"


def test_a_real_runs_rows_read_as_the_stores(built_db: Path) -> None:
    with Store(built_db, read_only=True) as store:
        run_id = int(store.con.execute("SELECT max(run_id) FROM runs").fetchone()[0])  # type: ignore[index]
        columns = [c for c in feature_types(store) if c not in ("run_id", "customer_id")]
        rows = load_run_rows(store, run_id, SCORE_COLUMNS, columns)
        ids = [str(c) for c in rows.index[:: max(1, len(rows) // 300)]] + ["nobody"]
        assert _nan_named(rows.scores(ids, SCORE_COLUMNS)) == _nan_named(
            score_rows_of(store, run_id, ids, SCORE_COLUMNS)
        )
        assert _nan_named(rows.features(ids, columns)) == _nan_named(
            feature_rows_of(store, run_id, ids, columns)
        )
        assert rows.actions(ids) == actions_of(store, run_id, ids)
        assert len(rows.actions(ids)) > 0
