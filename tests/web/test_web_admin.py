"""The admin routes the CLI goes through while a server holds the store: ``POST
/v1/ingest`` (an uploaded file with ingest's options), ``GET /v1/store``, the keys, and
``GET /v1/segments?run=``; each by role and error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.web.web_testing import TestClient

ORDERS = b"customer_id,order_id,timestamp,Revenue\nC0000003,UP-1,2025-01-03 10:00:00,42.5\n"


def _error(response: Any, status: int, code: str, field: str | None = None) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["status"], error["code"], error["field"]) == (status, code, field)
    return str(error["message"])


def _upload(
    client: TestClient, headers: dict[str, str], content: bytes = ORDERS, **form: str
) -> Any:
    files = {"file": ("orders.csv", content, "text/csv")}
    return client.post("/v1/ingest", files=files, data=form, headers=headers)


@pytest.mark.parametrize("role", ["none", "revoked", "viewer", "analyst"])
def test_only_an_admin_loads_or_manages_keys(
    client: TestClient, headers: dict[str, dict[str, str]], role: str
) -> None:
    status, code = (401, "unauthorized") if role in ("none", "revoked") else (403, "forbidden")
    _error(_upload(client, headers[role], mapping='{"amount": "Revenue"}'), status, code)
    _error(client.get("/v1/keys", headers=headers[role]), status, code)
    _error(client.post("/v1/keys", json={"role": "viewer"}, headers=headers[role]), status, code)
    _error(client.delete("/v1/keys/1", headers=headers[role]), status, code)


def test_an_upload_is_loaded_with_ingests_options(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    response = _upload(client, headers["admin"], mapping='{"amount": "Revenue"}')
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["source"], report["kind"], report["accepted"]) == (
        "orders.csv",
        "transactions",
        1,
    )
    orders = client.get("/v1/customers/C0000003/orders", headers=headers["admin"]).json()
    assert orders["orders"][0]["order_id"] == "UP-1"
    again = _upload(client, headers["admin"], mapping='{"amount": "Revenue"}')
    assert again.json()["already_loaded"] == report["load_id"]  # the same content: once


@pytest.mark.parametrize(
    ("form", "status", "field", "message"),
    [
        ({"content": b"who,when\n1,2\n"}, 422, None,
         "Column 'customer_id' not found in orders.csv."),
        ({"mapping": "amount=Revenue"}, 422, "mapping",
         "Field 'mapping' must be a JSON object of text to text"),
        ({"mapping": '{"amount": "Revenue"}', "kind": "refunds"}, 422, "kind",
         "Field 'kind': Input should be 'transactions', 'events' or 'customers'."),
        ({"mapping": '{"amount": "Revenue"}', "statuses": "[1]"}, 422, "statuses",
         "Field 'statuses' must be a JSON object of text to text"),
    ],
)  # fmt: skip
def test_a_bad_load_is_refused_naming_the_problem(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    form: dict[str, Any],
    status: int,
    field: str | None,
    message: str,
) -> None:
    assert message in _error(_upload(client, headers["admin"], **form), status, "invalid", field)


def test_a_load_waits_for_no_run_it_is_refused_while_one_writes(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    state = client.app.state.web  # type: ignore[attr-defined]
    state.acquire_write("run 7", wait=0)
    try:
        message = _error(_upload(client, headers["admin"], mapping="{}"), 409, "conflict")
    finally:
        state.release_write()
    assert message.startswith("The store is busy: run 7 is writing to it")


def test_the_store_summary_is_an_aggregate(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    _error(client.get("/v1/store", headers=headers["none"]), 401, "unauthorized")
    body = client.get("/v1/store", headers=headers["viewer"]).json()
    assert body["tables"]["runs"] == 1 and body["customers"] >= 200
    assert body["runs"][0]["status"] == "succeeded" and body["first_order"].endswith("Z")
    assert body["loads_total"] == body["tables"]["loads"] >= len(body["loads"]) > 0


def test_keys_are_created_listed_and_revoked(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    admin = headers["admin"]
    created = client.post("/v1/keys", json={"role": "analyst", "label": "crm"}, headers=admin)
    assert created.status_code == 201, created.text
    key, key_id = created.json()["key"], created.json()["key_id"]
    mine = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/customers/C0000005", headers=mine).status_code == 200
    listed = client.get("/v1/keys", headers=admin).json()
    assert {"key_id": key_id, "role": "analyst", "label": "crm"}.items() <= next(
        k for k in listed if k["key_id"] == key_id
    ).items()
    assert key not in json.dumps(listed)
    revoked = client.delete(f"/v1/keys/{key_id}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    _error(client.get("/v1/segments", headers=mine), 401, "unauthorized")
    message = _error(client.delete(f"/v1/keys/{key_id}", headers=admin), 404, "not_found")
    assert message == f"No active key {key_id}. GET /v1/keys lists them."
    bad = client.post("/v1/keys", json={"role": "boss"}, headers=admin)
    assert _error(bad, 422, "invalid", "role") == (
        "Unknown role 'boss'. Expected one of: viewer, analyst, admin."
    )


def test_segments_of_a_given_run(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    one = client.get("/v1/segments?run=1&lens=rfm", headers=headers["viewer"])
    assert one.status_code == 200 and one.json()["run_id"] == 1
    message = _error(client.get("/v1/segments?run=9", headers=headers["viewer"]), 404, "not_found")
    assert message.startswith("Run 9 with segments not found. Run 9 did not finish")
