"""Personal data tagged at ingest is shown to admins only: the customer API and page, and
exports; a store loaded before the tags existed is tagged when the server opens it."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.web.web_testing import Keys, TestClient
from valueseg.actions.privacy import KEY_VARIABLE
from valueseg.io import ingest
from valueseg.store import Store
from valueseg.store.pii import personal_columns
from valueseg.web import create_app

CUSTOMER = "C0000005"
PERSONAL = {"email", "reach", "who", "home", "phone"}


@pytest.fixture(scope="module")
def db(web_db: tuple[Path, Keys], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run store with personal data among its customers' attributes; its tags then
    removed, as in a store loaded before schema 4."""
    path = tmp_path_factory.mktemp("privacy") / "shop.duckdb"
    shutil.copy(web_db[0], path)
    with Store(path) as store:
        ids = [r[0] for r in store.con.execute("SELECT customer_id FROM customers").fetchall()]
    n = len(ids)
    ingest(
        pd.DataFrame(
            {"customer_id": ids,
             "email": [f"{c.lower()}@example.com" for c in ids],
             "reach": [f"reach-{c.lower()}@example.org" for c in ids],  # e-mails, by content
             "phone": [f"+44 20 7946 {i:04d}" for i in range(n)],
             "who": [f"Ada{chr(97 + i % 26)} Lovelace{chr(97 + i // 26)}" for i in range(n)],
             "home": [f"{i + 1} Baker Street" for i in range(n)],
             "tier_note": ["gold" if i % 2 else "silver" for i in range(n)]}
        ),
        kind="customers",
        db=path,
    )  # fmt: skip
    with Store(path) as store:
        assert set(personal_columns(store)) == PERSONAL
        store.con.execute("DELETE FROM pii_columns")
    return path


@pytest.fixture(scope="module")
def client(db: Path) -> Iterator[Any]:
    with TestClient(create_app(db)) as test_client:
        yield test_client


def test_the_server_tags_a_store_loaded_before_tags(client: TestClient) -> None:
    from valueseg.store.web import request_store

    store = request_store(client.app.state.web.root)  # type: ignore[attr-defined]
    try:
        assert set(personal_columns(store)) == PERSONAL
    finally:
        store.close()


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_the_customer_api_shows_personal_data_to_admins_only(
    client: TestClient, headers: dict[str, dict[str, str]], role: str
) -> None:
    body = client.get(f"/v1/customers/{CUSTOMER}", headers=headers[role]).json()
    attributes = body["attributes"]
    assert attributes["tier_note"] in ("gold", "silver") and "region" in attributes
    if role == "admin":
        assert attributes["email"] == f"{CUSTOMER.lower()}@example.com"
        assert set(body["personal_columns"]) == PERSONAL and body["hidden_columns"] == 0
    else:
        assert not PERSONAL & set(attributes) and body["personal_columns"] == []
        assert body["hidden_columns"] == len(PERSONAL)
        assert "@example" not in str(body) and "Baker Street" not in str(body)


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_the_customer_page_shows_personal_data_to_admins_only(
    client: TestClient, keys: Keys, role: str
) -> None:
    client.cookies.clear()
    client.post("/login", data={"key": keys.of(role)}, follow_redirects=False)
    page = client.get(f"/customers?id={CUSTOMER}").text
    client.cookies.clear()
    assert 'id="attributes"' in page and "tier_note" in page
    if role == "admin":
        assert f"{CUSTOMER.lower()}@example.com" in page and "Baker Street" in page
        assert "(personal data)" in page
    else:
        assert "@example" not in page and "Baker Street" not in page and "Lovelace" not in page
        assert "5 column(s) of personal data hidden: they are shown to admins only." in page


def test_a_viewer_sees_no_customer_at_all(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    assert client.get(f"/v1/customers/{CUSTOMER}", headers=headers["viewer"]).status_code == 403


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_exports_carry_contacts_for_admins_only(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    role: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, "k" * 32)
    for fmt in ("csv", "klaviyo", "meta"):
        response = client.get("/v1/export", params={"format": fmt}, headers=headers[role])
        assert response.status_code == 200, response.text
        text = response.content.decode()
        frame = pd.read_csv(io.BytesIO(response.content), dtype=str)
        assert "Baker Street" not in text and "Lovelace" not in text  # never in an audience
        if role == "admin" and fmt != "csv":
            assert "@example.com" in text and "+44 20 7946" in text
            assert {"email", "Email"} & set(frame.columns)
        else:
            assert "@example" not in text and "+44 20 7946" not in text
