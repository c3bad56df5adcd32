"""``GET /v1/export``: a segment's, an action's or a filter's audience as a file, by role:
viewer refused, analyst pseudonymised ids and no contact columns (refused without a
pseudonym key), admin raw ids and contacts; every export audited; a bad filter named."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.web.web_testing import Keys, TestClient
from valueseg.actions.privacy import KEY_VARIABLE, pseudonymize
from valueseg.io import ingest
from valueseg.store import Store
from valueseg.store.web import request_store
from valueseg.web import create_app

KEY = "k" * 32


@pytest.fixture(scope="module")
def client(web_db: tuple[Path, Keys], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The app over a copy of the run store whose customers have e-mail and phone columns."""
    db = tmp_path_factory.mktemp("export") / "shop.duckdb"
    shutil.copy(web_db[0], db)
    with Store(db) as store:
        rows = store.con.execute(
            "SELECT customer_id FROM customer_scores WHERE run_id = 1 ORDER BY 1"
        ).fetchall()
    ids = [r[0] for r in rows]
    contacts = pd.DataFrame(
        {"customer_id": ids, "email": [f"{c.lower()}@example.com" for c in ids],
         "phone": [f"+44 20 7946 {i:04d}" for i in range(len(ids))]}
    )  # fmt: skip
    ingest(contacts, kind="customers", db=db)
    with TestClient(create_app(db)) as test_client:
        yield test_client


def _query(client: TestClient, sql: str, args: list[Any] | None = None) -> list[Any]:
    store = request_store(client.app.state.web.root)  # type: ignore[attr-defined]
    try:
        return store.con.execute(sql, args or []).fetchall()
    finally:
        store.close()


@pytest.fixture(scope="module")
def segment(client: TestClient) -> tuple[str, list[str]]:
    """The largest RFM segment of run 1 and its customers."""
    name = _query(
        client, "SELECT rfm_segment FROM customer_scores WHERE run_id = 1 GROUP BY 1 "
        "ORDER BY count(*) DESC, 1 LIMIT 1",
    )[0][0]  # fmt: skip
    ids = _query(
        client, "SELECT customer_id FROM customer_scores WHERE run_id = 1 AND rfm_segment = ? "
        "ORDER BY 1", [name],
    )  # fmt: skip
    return name, [r[0] for r in ids]


def _error(response: Any, status: int, code: str, field: str | None = None) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["status"], error["code"], error["field"]) == (status, code, field)
    return str(error["message"])


def _csv(response: Any) -> pd.DataFrame:
    assert response.status_code == 200, response.text
    return pd.read_csv(io.BytesIO(response.content), dtype=str)


def test_an_admin_exports_a_segment_with_raw_ids_and_it_is_audited(
    client: TestClient, headers: dict[str, dict[str, str]], segment: tuple[str, list[str]]
) -> None:
    name, ids = segment
    before = _query(client, "SELECT count(*) FROM audit_log WHERE action = 'export'")[0][0]
    response = client.get("/v1/export", params={"segment": name}, headers=headers["admin"])
    frame = _csv(response)
    assert sorted(frame["customer_id"]) == ids and set(frame["rfm_segment"]) == {name}
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["x-audience-rows"] == str(len(ids))
    assert (
        f'filename="audience-{name.lower().replace(" ", "-")}-run1.csv"'
        in (response.headers["content-disposition"])
    )
    assert "email" not in frame.columns  # valueseg's own layout has no contact columns
    logged = _query(
        client, "SELECT role, target, detail FROM audit_log WHERE action = 'export' "
        "ORDER BY rowid DESC LIMIT 1",
    )[0]  # fmt: skip
    assert logged[0] == "admin" and logged[1] == f"segment={name}"
    assert f'"rows": {len(ids)}' in logged[2] and '"pseudonymized": false' in logged[2]
    after = _query(client, "SELECT count(*) FROM audit_log WHERE action = 'export'")[0][0]
    assert after == before + 1


def test_an_admin_gets_the_contact_columns_of_klaviyo_and_meta(
    client: TestClient, headers: dict[str, dict[str, str]], segment: tuple[str, list[str]]
) -> None:
    name, ids = segment
    klaviyo = _csv(client.get("/v1/export", params={"segment": name, "format": "klaviyo"},
                              headers=headers["admin"]))  # fmt: skip
    assert list(klaviyo.columns[:3]) == ["Email", "Phone Number", "External ID"]
    assert sorted(klaviyo["External ID"]) == ids
    assert set(klaviyo["Email"]) == {f"{c.lower()}@example.com" for c in ids}
    meta = _csv(client.get("/v1/export", params={"segment": name, "format": "meta"},
                           headers=headers["admin"]))  # fmt: skip
    assert {"email", "phone", "extern_id", "value"} == set(meta.columns)


def test_an_analyst_gets_pseudonyms_and_no_contacts(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    segment: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    name, ids = segment
    for fmt, id_column in (("csv", "customer_id"), ("klaviyo", "External ID"),
                           ("meta", "extern_id")):  # fmt: skip
        response = client.get(
            "/v1/export", params={"segment": name, "format": fmt}, headers=headers["analyst"]
        )
        frame = _csv(response)
        assert sorted(frame[id_column]) == sorted(pseudonymize(ids, KEY.encode()))
        assert not {"email", "phone", "Email", "Phone Number"} & set(frame.columns)
        assert not frame.apply(lambda col: col.str.contains("@example.com").any()).any()
    logged = _query(
        client, "SELECT role, detail FROM audit_log WHERE action = 'export' "
        "ORDER BY rowid DESC LIMIT 1",
    )[0]  # fmt: skip
    assert logged[0] == "analyst" and '"pseudonymized": true' in logged[1]


def test_an_analyst_is_refused_when_the_server_has_no_pseudonym_key(
    client: TestClient, headers: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    message = _error(client.get("/v1/export", headers=headers["analyst"]), 403, "forbidden")
    assert message.startswith(
        "An analyst's export replaces customer ids with keyed pseudonyms (HMAC-SHA256), and "
        "this server has no key: VALUESEG_PSEUDONYM_KEY is not set in its environment."
    )
    monkeypatch.setenv(KEY_VARIABLE, "short")
    message = _error(client.get("/v1/export", headers=headers["analyst"]), 403, "forbidden")
    assert "VALUESEG_PSEUDONYM_KEY is 5 characters long" in message
    assert client.get("/v1/export", headers=headers["admin"]).status_code == 200


@pytest.mark.parametrize("role", ["none", "revoked", "viewer"])
def test_a_viewer_cannot_export(
    client: TestClient, headers: dict[str, dict[str, str]], role: str
) -> None:
    response = client.get("/v1/export", headers=headers[role])
    if role == "viewer":
        _error(response, 403, "forbidden")
    else:
        _error(response, 401, "unauthorized")


def test_a_filter_and_parquet(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    where = "churn_probability > 0.5 and value_tier != 'Top 1%'"
    response = client.get(
        "/v1/export", params={"where": where, "format": "parquet"}, headers=headers["admin"]
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    frame = pd.read_parquet(io.BytesIO(response.content))
    expected = _query(
        client, "SELECT count(*) FROM customer_scores WHERE run_id = 1 AND "
        "churn_probability > 0.5 AND value_tier <> 'Top 1%'",
    )[0][0]  # fmt: skip
    assert len(frame) == expected > 0 and (frame["churn_probability"] > 0.5).all()


@pytest.mark.parametrize(
    ("params", "status", "field", "message"),
    [
        ({"where": "churn_probability >"}, 422, "where",
         "where: expected a value (a number or text in single quotes) at position 20, "
         "got the end of the filter."),
        ({"where": "p_alive;DROP TABLE runs"}, 422, "where",
         "where: unexpected character ';' at position 8."),
        ({"where": "email = 'a@b.c'"}, 422, "where",
         "where: unknown column 'email' at position 1."),
        ({"segment": "' OR 1=1 --"}, 422, "segment", "Run 1 has no segment \"' OR 1=1 --\"."),
        ({"action": "nope"}, 422, "action", "Run 1 has no action 'nope'."),
        ({"run": 9}, 404, None, "Run 9 has no customer scores"),
        ({"format": "xlsx"}, 422, "format", "Field 'format': Input should be 'csv', 'parquet',"),
        ({"top": 51}, 422, "top", "Field 'top': Input should be less than or equal to 50."),
    ],
)  # fmt: skip
def test_bad_requests_are_named(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    params: dict[str, Any],
    status: int,
    field: str | None,
    message: str,
) -> None:
    response = client.get("/v1/export", params=params, headers=headers["admin"])
    code = "not_found" if status == 404 else "invalid"
    assert message in _error(response, status, code, field)
    assert _query(client, "SELECT count(*) FROM runs")[0][0] == 1
