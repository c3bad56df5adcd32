"""``POST /v1/events``: stored through ingest's rules, scored again at once, changes logged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.web_testing import TestClient
from valueseg.store.many_customers import latest_changes_of
from valueseg.store.web import request_store


def _query(client: TestClient, sql: str, args: list[Any] | None = None) -> list[tuple[Any, ...]]:
    client.app.state.web.audit.flush()  # type: ignore[attr-defined]
    client.app.state.web.settle_orders()  # type: ignore[attr-defined]
    store = request_store(client.app.state.web.root)  # type: ignore[attr-defined]
    try:
        return store.con.execute(sql, args or []).fetchall()
    finally:
        store.close()


@pytest.fixture(scope="module")
def sleeper(client: TestClient) -> dict[str, Any]:
    """A Hibernating customer of the run (R is 1 or 2) with the run's features."""
    rows = _query(
        client,
        "SELECT s.customer_id, f.frequency, f.orders_total, s.p_alive FROM customer_scores s "
        "JOIN customer_features f USING (run_id, customer_id) WHERE s.run_id = 1 "
        "AND s.rfm_segment = 'Hibernating' AND f.frequency > 0 ORDER BY s.customer_id LIMIT 1",
    )
    customer, frequency, orders, p_alive = rows[0]
    return {"id": customer, "frequency": frequency, "orders": orders, "p_alive": p_alive}


def _order(customer: str, order_id: str, when: str = "2025-01-05 12:00:00") -> dict[str, Any]:
    return {"customer_id": customer, "timestamp": when, "amount": 480.0, "order_id": order_id}


def test_a_posted_order_rescores_the_customer_and_logs_the_change(
    client: TestClient, headers: dict[str, dict[str, str]], sleeper: dict[str, Any]
) -> None:
    response = client.post(
        "/v1/events", json=_order(sleeper["id"], "RT-1"), headers=headers["admin"]
    )
    assert response.status_code == 200, response.text
    body = response.json()
    before, after = body["before"], body["after"]
    assert body["kind"] == "order" and body["run_id"] == 1
    assert before["frequency"] == sleeper["frequency"]
    assert after["frequency"] == sleeper["frequency"] + 1
    assert after["T"] == after["recency"]  # scored at the order: a purchase just now
    assert before["p_alive"] == pytest.approx(sleeper["p_alive"])
    assert after["p_alive"] != pytest.approx(before["p_alive"])
    assert before["rfm_segment"] == "Hibernating" and after["rfm_r"] == 5
    assert {"rfm", "value_tier", "cluster"} & {c["lens"] for c in body["changes"]}
    assert "p_alive" in body["recomputed"] and "mean_rating" in body["carried"]
    assert "action" in body["recomputed"] and after["action"] and before["action"]
    logged = _query(
        client,
        "SELECT lens, before_value, after_value, cause FROM segment_changes "
        "WHERE customer_id = ? ORDER BY lens",
        [sleeper["id"]],
    )
    expected = sorted((c["lens"], c["before"], c["after"]) for c in body["changes"])
    assert [row[:3] for row in logged] == expected
    assert all("RT-1" in row[3] for row in logged)
    audit = _query(client, "SELECT role, target FROM audit_log WHERE action = 'post_event'")
    assert ("admin", sleeper["id"]) in audit
    lines = _query(client, "SELECT count(*) FROM transactions WHERE order_id = 'RT-1'")
    assert lines == [(1,)]


def test_the_customer_shows_the_change_and_a_second_order_starts_from_it(
    client: TestClient, headers: dict[str, dict[str, str]], sleeper: dict[str, Any]
) -> None:
    shown = client.get(f"/v1/customers/{sleeper['id']}", headers=headers["analyst"]).json()
    assert shown["changes"] and shown["changes"][0]["cause"].startswith("order RT-1")
    first_after = {c["lens"]: c["after_value"] for c in shown["changes"]}
    body = client.post(
        "/v1/events", json=_order(sleeper["id"], "RT-2", "2025-01-06 09:30:00"),
        headers=headers["admin"],
    ).json()  # fmt: skip
    assert body["after"]["frequency"] == sleeper["frequency"] + 2
    if "rfm" in first_after:
        assert body["before"]["rfm_segment"] == first_after["rfm"]
    # the server's copy of the run's changes (each order starts from it) is the store's
    models = client.app.state.web.run_models(client.app.state.web.root, 1)  # type: ignore[attr-defined]
    stored = latest_changes_of(client.app.state.web.root, 1, [sleeper["id"]])  # type: ignore[attr-defined]
    assert stored and models.changes.of([sleeper["id"]]) == stored
    # the staged order moves into the tables with the load id its answer gave
    newest = _query(client, "SELECT max(load_id) FROM loads")[0][0]
    assert newest == body["load_id"]


def test_the_same_order_twice_is_loaded_once(
    client: TestClient, headers: dict[str, dict[str, str]], sleeper: dict[str, Any]
) -> None:
    response = client.post(
        "/v1/events", json=_order(sleeper["id"], "RT-1"), headers=headers["admin"]
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    lines = _query(client, "SELECT count(*) FROM transactions WHERE order_id = 'RT-1'")
    assert lines == [(1,)]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"timestamp": "2099-01-01 00:00:00"}, "timestamp", "more than a day in the future"),
        ({"timestamp": "yesterday-ish"}, "timestamp", "unparseable timestamp"),
        ({"customer_id": "   "}, "customer_id", "missing customer_id"),
    ],
)
def test_a_row_ingest_would_quarantine_is_422_with_its_reason(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    change: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    event = {**_order("C-new-1", f"BAD-{field}-{len(reason)}"), **change}
    response = client.post("/v1/events", json=event, headers=headers["admin"])
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "rejected" and error["field"] == field
    assert reason in error["message"]
    kept = _query(
        client, "SELECT count(*) FROM rejected_rows WHERE reason LIKE ?", ["%" + reason + "%"]
    )
    assert kept[0][0] >= 1


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"customer_id": "C1", "timestamp": "2025-01-02"}, "amount"),
        ({"customer_id": "C1", "timestamp": "2025-01-02", "amount": "lots"}, "amount"),
        ({"customer_id": "C1", "amount": 3.0}, "timestamp"),
        ({"customer_id": "", "timestamp": "2025-01-02", "amount": 3.0}, "customer_id"),
        ({"customer_id": "C1", "timestamp": "2025-01-02", "amount": 3, "colour": "red"}, "colour"),
    ],
)
def test_a_malformed_body_is_422_naming_the_field(
    client: TestClient, headers: dict[str, dict[str, str]], event: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/events", json=event, headers=headers["admin"])
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_a_new_customer_is_scored_against_the_run(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    body = client.post(
        "/v1/events", json=_order("C-brand-new", "NEW-1"), headers=headers["admin"]
    ).json()
    assert body["before"] is None
    after = body["after"]
    assert after["frequency"] == 0 and after["T"] == 0 and after["rfm_r"] == 5
    assert after["rfm_f"] == 1 and after["rfm_segment"] == "New Customers"
    assert 0 <= after["churn_probability"] <= 1 and after["predicted_clv_365d"] > 0
    assert {"cluster", "churn_probability", "action"} <= set(body["recomputed"])
    assert after["segment"] and "did not see" in body["notes"][0]
    shown = client.get("/v1/customers/C-brand-new", headers=headers["analyst"]).json()
    assert shown["scores"] is None and len(shown["changes"]) == len(body["changes"])


def test_a_browse_event_is_stored_without_rescoring(
    client: TestClient, headers: dict[str, dict[str, str]], sleeper: dict[str, Any]
) -> None:
    event = {
        "customer_id": sleeper["id"],
        "timestamp": "2025-01-04 08:00:00",
        "event_type": "view",
        "product_id": "P00001",
    }
    body = client.post("/v1/events", json=event, headers=headers["admin"]).json()
    assert body["kind"] == "event" and body["after"] is None and body["changes"] == []
    assert "browse event stored" in body["notes"][0]
    stored = _query(
        client,
        "SELECT count(*) FROM events WHERE customer_id = ? AND product_id = 'P00001' "
        "AND \"timestamp\" = TIMESTAMP '2025-01-04 08:00:00'",
        [sleeper["id"]],
    )
    assert stored == [(1,)]


@pytest.mark.parametrize("role", ["viewer", "analyst", "none"])
def test_only_an_admin_posts_events(
    client: TestClient, headers: dict[str, dict[str, str]], role: str
) -> None:
    response = client.post("/v1/events", json=_order("C1", "X-1"), headers=headers[role])
    assert response.status_code == (401 if role == "none" else 403)
    assert _query(client, "SELECT count(*) FROM transactions WHERE order_id = 'X-1'") == [(0,)]


def test_an_order_whose_changes_cannot_be_logged_is_not_stored(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    sleeper: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The order's line, its load and the segment changes it made are one statement
    (valueseg.store.staged): when it fails, none is stored, and the same order posted
    again is loaded (not refused as loaded before)."""
    import valueseg.web.staging as staging

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    loads = _query(client, "SELECT count(*) FROM loads")[0][0]
    models = client.app.state.web.run_models(client.app.state.web.root, 1)  # type: ignore[attr-defined]
    kept = models.changes.of([sleeper["id"]])
    with monkeypatch.context() as patch, pytest.raises(OSError, match="disk full"):
        patch.setattr(staging, "stage_rows", broken)
        client.post(  # the test client raises the server's error
            "/v1/events", json=_order(sleeper["id"], "RT-ATOMIC"), headers=headers["admin"]
        )
    assert _query(client, "SELECT count(*) FROM transactions WHERE order_id = 'RT-ATOMIC'") == [
        (0,)
    ]
    assert _query(client, "SELECT count(*) FROM loads")[0][0] == loads
    assert models.changes.of([sleeper["id"]]) == kept  # nothing committed, nothing kept
    again = client.post(
        "/v1/events", json=_order(sleeper["id"], "RT-ATOMIC"), headers=headers["admin"]
    )
    assert again.status_code == 200, again.text
    assert _query(client, "SELECT count(*) FROM transactions WHERE order_id = 'RT-ATOMIC'") == [
        (1,)
    ]


def test_an_order_set_aside_by_a_load_and_posted_as_paid_moves_out_of_kept_aside(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    """A batch reads ``kept_aside`` only for the customers with lines there, a set the
    server keeps between writes: a load that sets a line aside must renew it, or the same
    order posted as paid would be stored twice (once in each table)."""
    customer = _query(client, "SELECT min(customer_id) FROM customer_scores WHERE run_id = 1")[0][0]
    admin = headers["admin"]
    first = client.post("/v1/events", json=_order(customer, "KA-0"), headers=admin)
    assert first.status_code == 200, first.text  # the server now keeps the set, without them
    pending = (
        "customer_id,order_id,timestamp,amount,status\n"
        f"{customer},KA-1,2025-01-04 10:00:00,55.0,pending\n"
    )
    files = {"file": ("pending.csv", pending.encode(), "text/csv")}
    loaded = client.post("/v1/ingest", files=files, headers=admin)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["kept_aside"] == 1
    paid = client.post(
        "/v1/events",
        json=_order(customer, "KA-1", "2025-01-04 10:00:00") | {"amount": 55.0},
        headers=admin,
    )
    assert paid.status_code == 200, paid.text
    assert _query(client, "SELECT count(*) FROM kept_aside WHERE order_id = 'KA-1'") == [(0,)]
    assert _query(client, "SELECT count(*) FROM transactions WHERE order_id = 'KA-1'") == [(1,)]
