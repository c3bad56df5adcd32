"""The JSON API's read routes: every route by role, the one error shape, 404s, 422s naming
the field, sorting and paging, the audit log, and hostile input that must not reach SQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.web_testing import Keys, TestClient
from valueseg.store.web import request_store
from valueseg.web import create_app

ROLES = ("none", "revoked", "viewer", "analyst", "admin")
_RANK = {"viewer": 0, "analyst": 1, "admin": 2}


@pytest.fixture(scope="module")
def sample(client: TestClient) -> dict[str, Any]:
    """A customer and an RFM segment of the run (read through the app's own store)."""
    store = request_store(client.app.state.web.root)  # type: ignore[attr-defined]
    try:
        customer, segment = store.con.execute(
            "SELECT customer_id, rfm_segment FROM customer_scores WHERE run_id = 1 "
            "AND rfm_segment = (SELECT rfm_segment FROM customer_scores GROUP BY 1 "
            "ORDER BY count(*) DESC, 1 LIMIT 1) ORDER BY customer_id LIMIT 1"
        ).fetchall()[0]
    finally:
        store.close()
    return {"customer": customer, "segment": segment}


def _routes(sample: dict[str, Any]) -> list[tuple[str, str]]:
    c, s = sample["customer"], sample["segment"]
    return [
        ("/v1/runs", "viewer"),
        ("/v1/runs/1", "viewer"),
        ("/v1/segments", "viewer"),
        ("/v1/segments?lens=cluster", "viewer"),
        ("/v1/quality", "viewer"),
        (f"/v1/segments/rfm/{s}/customers", "analyst"),
        (f"/v1/customers/{c}", "analyst"),
        (f"/v1/customers/{c}/recommendations", "analyst"),
        (f"/v1/customers/{c}/orders", "analyst"),
    ]


def _audit_count(client: TestClient, action: str) -> int:
    client.app.state.web.audit.flush()  # type: ignore[attr-defined]
    store = request_store(client.app.state.web.root)  # type: ignore[attr-defined]
    try:
        row = store.con.execute(
            "SELECT count(*) FROM audit_log WHERE action = ?", [action]
        ).fetchone()
    finally:
        store.close()
    return int(row[0]) if row else 0


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"status", "code", "message", "field"}
    assert body["error"]["status"] == status and body["error"]["code"] == code
    assert body["error"]["message"]
    return dict(body["error"])


@pytest.mark.parametrize("role", ROLES)
def test_every_read_route_answers_each_role_by_its_rank(
    client: TestClient, headers: dict[str, dict[str, str]], sample: dict[str, Any], role: str
) -> None:
    for path, needed in _routes(sample):
        response = client.get(path, headers=headers[role])
        if role in ("none", "revoked"):
            error = _error(response, 401, "unauthorized")
            assert "valueseg keys create" in error["message"]
            assert response.headers["www-authenticate"] == "Bearer"
        elif _RANK[role] < _RANK[needed]:
            error = _error(response, 403, "forbidden")
            assert f"needs the {needed} role" in error["message"], path
        else:
            assert response.status_code == 200, (path, response.text)


def test_runs_list_the_run_and_its_leaderboards(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    runs = client.get("/v1/runs", headers=headers["viewer"]).json()
    assert [r["run_id"] for r in runs] == [1] and runs[0]["status"] == "succeeded"
    run = client.get("/v1/runs/1", headers=headers["viewer"]).json()
    assert {"value_model", "spend_model", "segmenter"} <= set(run["estimators"])
    assert any(m["chosen"] for m in run["value_models"])
    assert {f["task"] for f in run["learners"]} >= {"churn", "spend"}
    assert run["parameters"]["learners"] == "lr"


def test_segments_give_three_lenses_whose_sizes_add_up(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    body = client.get("/v1/segments", headers=headers["viewer"]).json()
    assert [lens["lens"] for lens in body["lenses"]] == ["rfm", "value_tier", "cluster"]
    for lens in body["lenses"]:
        assert sum(s["size"] for s in lens["segments"]) == 200, lens["lens"]
    clusters = body["lenses"][2]["segments"]
    assert all(s["profile"] and "centroid" in s["profile"] for s in clusters)


def test_segment_customers_are_paged_and_sorted(
    client: TestClient, headers: dict[str, dict[str, str]], sample: dict[str, Any]
) -> None:
    url = f"/v1/segments/rfm/{sample['segment']}/customers"
    first = client.get(url, params={"size": 5}, headers=headers["analyst"]).json()
    second = client.get(url, params={"size": 5, "page": 2}, headers=headers["analyst"]).json()
    assert first["total"] >= 10 and first["pages"] == -(-first["total"] // 5)
    ids = [c["customer_id"] for c in first["customers"] + second["customers"]]
    assert len(set(ids)) == 10
    values = [c["predicted_clv_365d"] for c in first["customers"] + second["customers"]]
    assert values == sorted(values, reverse=True)
    rising = client.get(
        url, params={"sort": "churn_probability", "order": "asc", "size": 500},
        headers=headers["analyst"],
    ).json()  # fmt: skip
    churn = [c["churn_probability"] for c in rising["customers"]]
    assert churn == sorted(churn) and len(churn) == first["total"]
    assert {c["rfm_segment"] for c in rising["customers"]} == {sample["segment"]}


def test_customer_reads_are_audited_with_the_key(
    client: TestClient, headers: dict[str, dict[str, str]], sample: dict[str, Any]
) -> None:
    before = _audit_count(client, "read_customer")
    body = client.get(f"/v1/customers/{sample['customer']}", headers=headers["analyst"]).json()
    assert body["scores"]["rfm_segment"] == sample["segment"]
    assert body["segment_history"][0]["run_id"] == 1
    assert [r["rank"] for r in body["reasons"]] == [1, 2, 3]
    assert _audit_count(client, "read_customer") == before + 1
    client.get(f"/v1/segments/rfm/{sample['segment']}/customers", headers=headers["admin"])
    assert _audit_count(client, "list_segment") >= 1


@pytest.mark.parametrize("suffix", ["", "/recommendations", "/orders"])
def test_unknown_customer_is_404(
    client: TestClient, headers: dict[str, dict[str, str]], suffix: str
) -> None:
    error = _error(
        client.get(f"/v1/customers/no-such-customer{suffix}", headers=headers["admin"]),
        404,
        "not_found",
    )
    assert "Customer 'no-such-customer' not found" in error["message"]


def test_unknown_run_and_segment_are_404_and_say_what_exists(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    error = _error(client.get("/v1/runs/99", headers=headers["viewer"]), 404, "not_found")
    assert "Run 99 not found" in error["message"]
    response = client.get("/v1/segments/rfm/Nobody/customers", headers=headers["analyst"])
    error = _error(response, 404, "not_found")
    assert "Segment 'Nobody' of lens rfm in run 1 not found" in error["message"]
    assert "Hibernating" in error["message"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/segments/rfm/Champions/customers?size=0", "size"),
        ("/v1/segments/rfm/Champions/customers?page=-1", "page"),
        ("/v1/segments/rfm/Champions/customers?sort=amount", "sort"),
        ("/v1/segments/rfm/Champions/customers?order=sideways", "order"),
        ("/v1/segments/colour/Champions/customers", "lens"),
        ("/v1/segments?lens=everything", "lens"),
        ("/v1/runs/first", "run_id"),
    ],
)
def test_validation_errors_are_422_naming_the_field(
    client: TestClient, headers: dict[str, dict[str, str]], path: str, field: str
) -> None:
    error = _error(client.get(path, headers=headers["admin"]), 422, "invalid")
    assert error["field"] == field
    assert error["message"].startswith(f"Field {field!r}: ")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/segments/rfm/Champions/customers?sort=p_alive;DROP TABLE runs",
        "/v1/segments/rfm/Champions/customers?sort=p_alive DESC, (SELECT 1)",
        "/v1/segments/rfm' OR '1'='1/x/customers",
        "/v1/segments/rfm/x' OR '1'='1/customers",
        '/v1/segments/cluster/"; DROP TABLE customer_scores; --/customers',
        "/v1/customers/' OR 1=1 --",
        "/v1/customers/%00",
        "/v1/customers/x'); DELETE FROM runs; --/orders",
    ],
)
def test_hostile_text_never_reaches_sql(
    client: TestClient, headers: dict[str, dict[str, str]], path: str
) -> None:
    response = client.get(path, headers=headers["admin"])
    assert response.status_code in (404, 422), response.text
    runs = client.get("/v1/runs", headers=headers["admin"]).json()
    assert len(runs) == 1
    sizes = client.get("/v1/segments?lens=rfm", headers=headers["admin"]).json()
    assert sum(s["size"] for s in sizes["lenses"][0]["segments"]) == 200


def test_quality_shows_example_rows_to_admin_only(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    client.post(  # a refused row, so there is a reason to show
        "/v1/events",
        json={"customer_id": "Q1", "timestamp": "not a time", "amount": 1.0},
        headers=headers["admin"],
    )
    viewer = client.get("/v1/quality", headers=headers["viewer"]).json()
    admin = client.get("/v1/quality", headers=headers["admin"]).json()
    assert viewer["rejected"] and all(r["example"] is None for r in viewer["rejected"])
    assert any(r["example"] and "Q1" in r["example"] for r in admin["rejected"])
    assert viewer["loads"][0]["kind"] == "transactions"


def test_unknown_path_and_method_keep_the_error_shape(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    error = _error(client.get("/v1/nothing", headers=headers["admin"]), 404, "not_found")
    assert "/v1/nothing" in error["message"]
    _error(client.delete("/v1/runs", headers=headers["admin"]), 405, "method_not_allowed")


def test_openapi_documents_the_routes_and_the_error_shape(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in ("/v1/runs", "/v1/segments/{lens}/{name}/customers", "/v1/events"):
        assert path in schema["paths"]
    responses = schema["paths"]["/v1/customers/{customer_id}"]["get"]["responses"]
    assert {"200", "401", "403", "404", "422"} <= set(responses)
    assert "ErrorBody" in schema["components"]["schemas"]
    assert not any(p.startswith("/login") for p in schema["paths"])


def test_a_store_without_runs_answers_404_not_500(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "empty.duckdb", keys_required=False)) as client:
        assert client.get("/v1/runs").json() == []
        error = _error(client.get("/v1/segments"), 404, "not_found")
        assert "valueseg run --db" in error["message"]
        _error(client.get("/v1/customers/x"), 404, "not_found")


def test_keys_are_not_asked_for_when_not_required(tmp_path: Path, keys: Keys) -> None:
    with TestClient(create_app(tmp_path / "open.duckdb", keys_required=False)) as client:
        assert client.get("/v1/runs").status_code == 200
        assert client.get("/v1/quality").json() == {"loads": [], "rejected": []}
