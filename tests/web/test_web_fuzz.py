"""schemathesis fuzzes every API operation from its OpenAPI schema with an admin key: no
answer is a 500, and every answer matches the schema; hypothesis posts orders that reach
real-time scoring (random fuzzing mostly gets 404 and 422). Bounded: about 15 s.

A fuzzed ``POST /v1/runs`` whose parameters pass the checks would start a whole run of the
pipeline for each example; here the pipeline refuses at once instead (the request's
checks, the write lock and the answer's shape are still fuzzed; the run itself is
tested in test_web_runs.py)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.web.web_testing import Keys, TestClient
from valueseg import pipeline
from valueseg.errors import InputError
from valueseg.store import Store
from valueseg.web import create_app
from valueseg.web.auth import create_key

#: schemathesis drives the app through Starlette's test client, which warns once that it
#: prefers the httpx2 package (the dev set pins httpx, which still works).
pytestmark = pytest.mark.filterwarnings(
    "ignore:Using `httpx` with `starlette.testclient` is deprecated"
)


def test_no_operation_answers_500_or_off_schema(
    web_db: tuple[Path, Keys], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a copy of the module's store, with a key of its own: a fuzzed ``DELETE
    /v1/keys/{key_id}`` revokes whichever key its id names, and once it named the module's
    admin key every later test of the module got 401 (a failure that came and went)."""
    db = tmp_path / "fuzz.duckdb"
    shutil.copy(web_db[0], db)
    with Store(db) as store:
        admin_id, admin = create_key(store, "admin", "fuzz")

    def no_run(*args: Any, **keywords: Any) -> None:
        raise InputError("runs are not fuzzed")

    monkeypatch.setattr(pipeline, "run", no_run)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(db))
    headers = {"Authorization": f"Bearer {admin}"}
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 16

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: Any) -> None:
            revokes = case.method.upper() == "DELETE" and "key_id" in (case.path_parameters or {})
            assume(not (revokes and case.path_parameters["key_id"] == admin_id))  # its own key
            response = case.call(headers=headers)
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance],
                headers=headers,
            )  # fmt: skip

        check()


@given(
    customer=st.sampled_from(["C0000001", "C0000017", "C0000123", "C-fuzz-1", "C-fuzz-2"]),
    when=st.datetimes(datetime(2023, 1, 1), datetime(2025, 3, 1)),
    amount=st.floats(-500, 1e6, allow_nan=False, allow_infinity=False),
    order=st.integers(0, 10**6),
)
@settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_posted_orders_are_scored_or_refused_never_500(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    customer: str,
    when: datetime,
    amount: float,
    order: int,
) -> None:
    event = {"customer_id": customer, "timestamp": when.isoformat(), "amount": amount,
             "order_id": f"F{order}"}  # fmt: skip
    response = client.post("/v1/events", json=event, headers=headers["admin"])
    assert response.status_code in (200, 409, 422), response.text
    after = response.json().get("after") if response.status_code == 200 else None
    if after:
        assert 0 <= after["p_alive"] <= 1 and 0 <= after["churn_probability"] <= 1
        assert 0 <= after["recency"] <= after["T"] and after["frequency"] >= 0
        assert all(1 <= after[f"rfm_{s}"] <= 5 for s in "rfm")
