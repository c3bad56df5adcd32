"""The lean layer for posted orders (valueseg.web.lean_orders) answers as FastAPI's route.

Two servers over two copies of the same store (the same keys): one with the layer (the
app's default), one without it. The same requests must get the same status, content type
and bytes from both, and the layer must have answered exactly the plain orders of an
admin: everything else is left to the route.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import valueseg.web.lean_orders as lean
from tests.web.web_testing import Keys, TestClient
from valueseg.web import create_app


@pytest.fixture(scope="module")
def pair(
    web_db: tuple[Path, Keys], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, TestClient]]:
    """(with the layer, without it), each over its own copy of the module's store."""
    copies = []
    for name in ("lean", "route"):
        db = tmp_path_factory.mktemp(name) / "shop.duckdb"
        shutil.copy(web_db[0], db)
        copies.append(db)
    with (
        TestClient(create_app(copies[0])) as with_layer,
        TestClient(create_app(copies[1], lean_orders=False)) as without,
    ):
        yield with_layer, without


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The customers whose orders the layer queued (in order)."""
    calls: list[str] = []
    real = lean.queue_order

    def counted(state: Any, event: Any, caller: Any) -> Any:
        calls.append(event.customer_id)
        return real(state, event, caller)

    monkeypatch.setattr(lean, "queue_order", counted)
    return calls


def _same(
    pair: tuple[TestClient, TestClient], headers: dict[str, str], **request: Any
) -> tuple[int, bytes]:
    """POST the same request to both servers; their answers must be the same bytes (but
    for each store's own path, which a 401 names)."""
    ours, route = (c.post("/v1/events", headers=headers, **request) for c in pair)
    assert ours.status_code == route.status_code, (ours.text, route.text)
    assert ours.headers["content-type"] == route.headers["content-type"]
    bodies = [
        r.content.replace(str(c.app.state.web.root.path).encode(), b"DB")  # type: ignore[attr-defined]
        for r, c in zip((ours, route), pair, strict=True)
    ]
    assert bodies[0] == bodies[1]
    return ours.status_code, bodies[0]


def test_plain_orders_are_answered_by_the_layer_as_by_the_route(
    pair: tuple[TestClient, TestClient],
    headers: dict[str, dict[str, str]],
    answered: list[str],
) -> None:
    admin = headers["admin"]
    first = (
        pair[0]
        .get("/v1/segments/rfm/Hibernating/customers?size=3", headers=admin)
        .json()["customers"]
    )
    ids = [row["customer_id"] for row in first]
    assert len(ids) == 3
    sent = []
    for n, customer in enumerate([*ids, ids[0]]):  # the first customer twice: scored again
        order = {
            "customer_id": customer,
            "timestamp": f"2025-01-0{5 + n} 12:00:00",
            "amount": 480.0 + n,
            "order_id": f"LEAN-{n}",
        }
        status, body = _same(pair, admin, json=order)
        assert status == 200, body
        assert json.loads(body)["after"]["customer_id"] == customer
        sent.append(customer)
    status, body = _same(pair, admin, json=order)  # the last one again: loaded before
    assert status == 409 and json.loads(body)["error"]["code"] == "conflict"
    new = {"customer_id": "LEAN-NEW", "timestamp": "2025-01-05T10:00:00+02:00", "amount": 5}
    status, body = _same(pair, admin, json=new)  # a customer the run did not see
    assert status == 200 and json.loads(body)["after"]["frequency"] == 0
    assert answered == [*sent, order["customer_id"], "LEAN-NEW"]


_ORDER: dict[str, Any] = {"customer_id": "C1", "timestamp": "2025-01-05", "amount": 1}
_JSON = {"content-type": "application/json"}
_TEXT = json.dumps(_ORDER).encode()


@pytest.mark.parametrize(
    ("case", "who", "request_args", "status"),
    [
        ("no key", "none", {"json": _ORDER}, 401),
        ("revoked key", "revoked", {"json": _ORDER}, 401),
        ("viewer", "viewer", {"json": _ORDER}, 403),
        ("analyst", "analyst", {"json": _ORDER}, 403),
        ("not JSON", "admin", {"content": b"{customer_id: C1", "headers": _JSON}, 422),
        ("not UTF-8", "admin", {"content": b'{"customer_id": "\xff"}', "headers": _JSON}, 400),
        ("a list", "admin", {"json": [_ORDER]}, 422),
        ("nested too deep", "admin", {"content": b"[" * 60_000, "headers": _JSON}, 400),
        ("a bad amount", "admin", {"json": _ORDER | {"amount": "lots"}}, 422),
        ("an unknown field", "admin", {"json": _ORDER | {"coupon": "X"}}, 422),
        ("no amount", "admin", {"json": {k: v for k, v in _ORDER.items() if k != "amount"}}, 422),
        ("a refused timestamp", "admin", {"json": _ORDER | {"timestamp": "soon"}}, 422),
        ("a browse event", "admin", {"json": _ORDER | {"amount": None, "event_type": "view"}}, 200),
        ("plain text", "admin", {"content": _TEXT, "headers": {"content-type": "text/plain"}}, 422),
        ("a body over 64 KiB", "admin", {"json": _ORDER | {"customer_id": "C" * 70_000}}, 422),
    ],
)
def test_what_the_layer_leaves_to_the_route_is_answered_there(
    pair: tuple[TestClient, TestClient],
    headers: dict[str, dict[str, str]],
    answered: list[str],
    case: str,
    who: str,
    request_args: dict[str, Any],
    status: int,
) -> None:
    """Refusals keep the route's wording (the same bytes); a refused timestamp is the
    batch's own refusal (ingest's rules), answered through the app's handler."""
    sent = dict(request_args)
    sent["headers"] = {**headers[who], **request_args.get("headers", {})}
    got, body = _same(pair, **sent)
    assert got == status, (case, body)
    if status >= 400:
        assert set(json.loads(body)["error"]) == {"status", "code", "message", "field"}
    queued_here = case == "a refused timestamp"  # a plain order by the layer's checks
    assert answered == (["C1"] if queued_here else []), case


def test_an_error_before_the_order_is_queued_leaves_it_to_the_route(
    pair: tuple[TestClient, TestClient],
    headers: dict[str, dict[str, str]],
    answered: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading the caller's key can fail (a store that cannot be read: the route answers
    503 through the app's handlers); the layer then leaves the order to the route."""
    from valueseg.errors import StoreError

    def broken(request: Any) -> None:
        raise StoreError("the store cannot be read")

    monkeypatch.setattr(lean, "caller_of", broken)  # the route reads the key itself
    order = _ORDER | {"order_id": "LEAN-ROUTE"}
    got = pair[0].post("/v1/events", json=order, headers=headers["admin"])
    assert got.status_code == 200, got.text
    assert got.json()["customer_id"] == "C1" and answered == []


def _receive(messages: list[dict[str, Any]]) -> Any:
    waiting = list(messages)

    async def receive() -> dict[str, Any]:
        return waiting.pop(0) if waiting else {"type": "http.disconnect"}

    return receive


def test_a_body_in_parts_is_read_whole_and_given_back_in_its_parts() -> None:
    parts = [
        {"type": "http.request", "body": b'{"customer_id": ', "more_body": True},
        {"type": "http.request", "body": b'"C1"}', "more_body": False},
    ]
    messages, whole = asyncio.run(lean._read(_receive(parts)))
    assert whole and messages == parts

    async def replayed() -> list[dict[str, Any]]:
        again = lean._replay(messages, _receive([{"type": "http.disconnect"}]))
        return [await again() for _ in range(3)]

    assert asyncio.run(replayed()) == [*parts, {"type": "http.disconnect"}]


def test_a_disconnect_or_a_large_body_stops_the_read() -> None:
    gone = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]
    assert asyncio.run(lean._read(_receive(gone))) == (gone, False)
    big = [
        {"type": "http.request", "body": b"x" * 40_000, "more_body": True},
        {"type": "http.request", "body": b"x" * 40_000, "more_body": True},
        {"type": "http.request", "body": b"x", "more_body": False},
    ]
    messages, whole = asyncio.run(lean._read(_receive(big)))
    assert not whole and messages == big[:2]  # the rest is the route's to read
