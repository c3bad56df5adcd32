"""A run store built once per session, copied per module, with a key of every role.

The store holds a 200-customer synthetic shop (orders, events, customer attributes) and one
finished run (``learners="lr"``, popularity recommendations, three clusters): the smallest
shop that still clusters, so the whole web suite builds it once in about ten seconds.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import valueseg as vs
from tests.web.web_testing import Keys, TestClient
from valueseg.store import Store
from valueseg.store.web import revoke_key
from valueseg.web import create_app
from valueseg.web.auth import ROLES, create_key

CUSTOMERS = 200


@pytest.fixture(scope="session")
def shop() -> Any:
    return vs.make_shop(CUSTOMERS, random_state=3)


@pytest.fixture(scope="session")
def built_db(tmp_path_factory: pytest.TempPathFactory, shop: Any) -> Path:
    """The run store, built once (read it through a copy: ``web_db``)."""
    db = tmp_path_factory.mktemp("web-built") / "shop.duckdb"
    vs.ingest(shop.transactions, kind="transactions", db=db)
    vs.ingest(shop.events, kind="events", db=db)
    vs.ingest(shop.customers, kind="customers", db=db)
    vs.run(db, learners="lr", recommender="popularity", clusters="3")
    return db


@pytest.fixture(scope="module")
def web_db(tmp_path_factory: pytest.TempPathFactory, built_db: Path) -> tuple[Path, Keys]:
    """A copy of the run store with a key of every role (and a revoked one)."""
    db = tmp_path_factory.mktemp("web") / "shop.duckdb"
    shutil.copy(built_db, db)
    with Store(db) as store:
        made = {role: create_key(store, role, f"test {role}")[1] for role in ROLES}
        revoked_id, revoked = create_key(store, "admin", "revoked")
        revoke_key(store, revoked_id)
    return db, Keys(made["viewer"], made["analyst"], made["admin"], revoked)


@pytest.fixture(scope="module")
def keys(web_db: tuple[Path, Keys]) -> Keys:
    return web_db[1]


@pytest.fixture(scope="module")
def headers(keys: Keys) -> dict[str, dict[str, str]]:
    """Role (and ``revoked``, ``none``) -> the headers a client of that key sends."""
    out = {role: {"Authorization": f"Bearer {keys.of(role)}"} for role in ROLES}
    out["revoked"] = {"Authorization": f"Bearer {keys.revoked}"}
    out["none"] = {}
    return out


@pytest.fixture(scope="module")
def client(web_db: tuple[Path, Keys]) -> Iterator[TestClient]:
    """A test client of the app over the module's store copy."""
    with TestClient(create_app(web_db[0])) as test_client:
        yield test_client
