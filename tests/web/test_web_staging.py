"""Posted orders are staged, shown at once, and moved into their tables later."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.web.web_testing import Keys, TestClient
from valueseg.store import Store
from valueseg.store.staged import staged_count
from valueseg.store.web import request_store
from valueseg.web import create_app
from valueseg.web.deps import WebState
from valueseg.web.staging import StagedOrders


@pytest.fixture
def client(web_db: tuple[Path, Keys]) -> Iterator[TestClient]:
    """A client whose staged orders move only when a test (or a write) moves them."""
    with TestClient(create_app(web_db[0])) as test_client:
        _state(test_client).staged.move_after = 3600.0
        yield test_client


def _state(client: TestClient) -> WebState:
    state: WebState = client.app.state.web  # type: ignore[attr-defined]
    return state


def _tables(client: TestClient, sql: str, args: list[Any] | None = None) -> list[Any]:
    """What the tables hold, without moving the staged orders."""
    store = request_store(_state(client).root)
    try:
        return store.con.execute(sql, args or []).fetchall()
    finally:
        store.close()


def _order(customer: str, order_id: str, amount: float = 300.0) -> dict[str, Any]:
    when = "2025-01-07 10:00:00"
    return {"customer_id": customer, "timestamp": when, "amount": amount, "order_id": order_id}


def _customer(client: TestClient, n: int = 0) -> str:
    rows = _tables(client, "SELECT customer_id FROM customer_scores WHERE run_id = 1 ORDER BY 1")
    return str(rows[n][0])


def test_a_staged_order_is_shown_at_once_and_moves_later(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    customer = _customer(client)
    posted = client.post("/v1/events", json=_order(customer, "ST-1"), headers=headers["admin"])
    assert posted.status_code == 200, posted.text
    body = posted.json()
    count = "SELECT count(*) FROM transactions WHERE order_id = 'ST-1'"
    assert _tables(client, count) == [(0,)]  # staged, not moved
    assert staged_count(_state(client).root) == 2 + len(body["changes"])
    # the customer's lookup, page and orders show it before it moves
    shown = client.get(f"/v1/customers/{customer}", headers=headers["analyst"]).json()
    staged_changes = [c for c in shown["changes"] if "ST-1" in c["cause"]]
    assert len(staged_changes) == len(body["changes"])
    orders = client.get(f"/v1/customers/{customer}/orders", headers=headers["analyst"]).json()
    assert next(o for o in orders["orders"] if o["order_id"] == "ST-1")["amount"] == 300.0
    page = client.get("/customers", params={"id": customer}, headers=headers["analyst"])
    assert page.status_code == 200 and "ST-1" in page.text
    # the same order again is refused while staged, naming its load
    again = client.post("/v1/events", json=_order(customer, "ST-1"), headers=headers["admin"])
    assert again.status_code == 409 and str(body["load_id"]) in again.json()["error"]["message"]
    # moved: the tables hold it once, and the customer shows it once
    _state(client).settle_orders()
    assert _tables(client, count) == [(1,)]
    assert staged_count(_state(client).root) == 0
    load = _tables(client, "SELECT kind, accepted FROM loads WHERE load_id = ?", [body["load_id"]])
    assert load == [("transactions", 1)]
    moved = client.get(f"/v1/customers/{customer}", headers=headers["analyst"]).json()
    assert moved["changes"] == shown["changes"]
    after = client.get(f"/v1/customers/{customer}/orders", headers=headers["analyst"]).json()
    assert after == orders


def test_a_customer_known_only_from_a_staged_order_is_found(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    response = client.post("/v1/events", json=_order("NEW-ST", "ST-N"), headers=headers["admin"])
    assert response.status_code == 200, response.text
    assert _tables(client, "SELECT count(*) FROM transactions WHERE customer_id = 'NEW-ST'") == [
        (0,)
    ]
    shown = client.get("/v1/customers/NEW-ST", headers=headers["analyst"])
    assert shown.status_code == 200, shown.text
    orders = client.get("/v1/customers/NEW-ST/orders", headers=headers["analyst"]).json()
    assert [o["order_id"] for o in orders["orders"]] == ["ST-N"]


def test_a_second_order_of_a_staged_customer_starts_from_the_first(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    customer = _customer(client, 1)
    first = client.post("/v1/events", json=_order(customer, "ST-A"), headers=headers["admin"])
    second = client.post(
        "/v1/events", json=_order(customer, "ST-B", 20.0), headers=headers["admin"]
    )
    assert first.status_code == second.status_code == 200
    a, b = first.json(), second.json()
    assert b["after"]["frequency"] == a["after"]["frequency"]  # the same day: one period
    assert b["after"]["monetary_value"] != a["after"]["monetary_value"]  # the two lines summed
    assert b["load_id"] == a["load_id"] + 1
    # the same line content under another order id is a new line; the same line is not
    same = client.post("/v1/events", json=_order(customer, "ST-A"), headers=headers["admin"])
    assert same.status_code == 409


def test_any_other_write_moves_the_staged_orders_first(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    customer = _customer(client, 2)
    order = client.post("/v1/events", json=_order(customer, "ST-W"), headers=headers["admin"])
    assert order.status_code == 200
    browse = {"customer_id": customer, "timestamp": "2025-01-07 11:00:00", "event_type": "view"}
    event = client.post("/v1/events", json=browse, headers=headers["admin"])
    assert event.status_code == 200, event.text
    assert staged_count(_state(client).root) == 0
    loads = _tables(client, "SELECT load_id, kind FROM loads WHERE load_id >= ? ORDER BY 1",
                    [order.json()["load_id"]])  # fmt: skip
    assert loads == [(order.json()["load_id"], "transactions"), (event.json()["load_id"], "events")]


def test_the_server_moves_the_staged_orders_when_it_stops(
    web_db: tuple[Path, Keys], headers: dict[str, dict[str, str]]
) -> None:
    with TestClient(create_app(web_db[0])) as client:
        _state(client).staged.move_after = 3600.0
        customer = _customer(client, 3)
        posted = client.post("/v1/events", json=_order(customer, "ST-S"), headers=headers["admin"])
        assert posted.status_code == 200
        assert staged_count(_state(client).root) > 0
    with Store(web_db[0], read_only=True) as store:
        assert staged_count(store) == 0
        got = store.con.execute("SELECT count(*) FROM transactions WHERE order_id = 'ST-S'")
        assert got.fetchall() == [(1,)]


def test_staged_orders_move_on_their_own_after_the_wait(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    import time

    _state(client).staged.move_after = 0.2
    customer = _customer(client, 4)
    posted = client.post("/v1/events", json=_order(customer, "ST-T"), headers=headers["admin"])
    assert posted.status_code == 200
    count = "SELECT count(*) FROM transactions WHERE order_id = 'ST-T'"
    deadline = time.monotonic() + 10
    while _tables(client, count) != [(1,)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _tables(client, count) == [(1,)]
    assert staged_count(_state(client).root) == 0


def test_a_read_that_a_move_overlaps_is_read_again() -> None:
    staged = StagedOrders()
    with Store(":memory:") as store:
        when = datetime(2025, 1, 7, 10)
        load = {"load_id": 1, "source": "DataFrame", "kind": "transactions", "fingerprint": "f"}
        load |= {"rows_read": 1, "accepted": 1, "rejected": 0, "loaded_at": when}
        line = {"customer_id": "C", "order_id": "O", "timestamp": when, "amount": 1.0}
        line |= {"is_return": False, "load_id": 1, "line": 1, "load": load}
        staged.stage(store, [line], None, [])
        calls: list[int] = []

        def reader() -> int:
            calls.append(len(staged.orders_of("C")))
            if len(calls) == 1:
                staged.move(store)  # a move between the store's read and this one
            return calls[-1]

        assert staged.read(reader) == 0  # read again, after the move
        assert calls == [1, 0]
        assert store.con.execute("SELECT customer_id, load_id FROM transactions").fetchall() == [
            ("C", 1)
        ]


def _line(n: int) -> dict[str, Any]:
    when = datetime(2025, 1, 7, 10)
    load = {"load_id": n, "source": "DataFrame", "kind": "transactions", "fingerprint": f"f{n}"}
    load |= {"rows_read": 1, "accepted": 1, "rejected": 0, "loaded_at": when}
    line = {"customer_id": "C", "order_id": f"O{n}", "timestamp": when, "amount": 1.0}
    return line | {"is_return": False, "load_id": n, "line": 1, "load": load}


def test_rows_staged_while_a_move_runs_stay_staged(monkeypatch: pytest.MonkeyPatch) -> None:
    import valueseg.web.staging as staging

    staged = StagedOrders()
    with Store(":memory:") as store:
        staged.stage(store, [_line(1)], None, [])
        real = staging.move_staged

        def racing(on: Store, upto: int | None, before_commit: Any) -> int:
            staged.stage(request_store(store), [_line(2)], None, [])  # a batch, meanwhile
            return real(on, upto, before_commit)

        monkeypatch.setattr(staging, "move_staged", racing)
        assert staged.move(store) == 2  # the first order's line and load
        assert [o["order_id"] for o in staged.orders_of("C")] == ["O2"]
        assert staged.loads_of(["f1", "f2"]) == {"f2": 2}
        assert staged_count(store) == 2
        moved = store.con.execute("SELECT order_id FROM transactions").fetchall()
        assert moved == [("O1",)]
        monkeypatch.setattr(staging, "move_staged", real)
        assert staged.move(store) == 2 and staged.orders_of("C") == []
