"""The web app's SQL (valueseg.store.web) and the keys (valueseg.web.auth) on a bare store."""

from __future__ import annotations

import re

import pytest

from valueseg.errors import InputError
from valueseg.store import Store
from valueseg.store.many_customers import latest_changes_of, write_changes
from valueseg.store.web import (
    SORTS,
    active_keys,
    list_keys,
    request_store,
    revoke_key,
    segment_customers,
    write_audit,
)
from valueseg.web.auth import Caller, bearer, create_key, hash_key, identify


def test_keys_are_stored_hashed_and_revocable(store: Store) -> None:
    key_id, key = create_key(store, "analyst", "crm")
    assert re.fullmatch(r"vs_[A-Za-z0-9_-]{32}", key)
    row = store.con.execute("SELECT key_hash, prefix FROM api_keys").fetchone()
    assert row == (hash_key(key), key[:8])
    assert key not in str(store.con.execute("SELECT * FROM api_keys").fetchall())
    assert identify(store, key) == Caller(key_id, "analyst")
    assert list_keys(store)["label"].tolist() == ["crm"]
    assert revoke_key(store, key_id) and not revoke_key(store, key_id)
    assert identify(store, key) is None and active_keys(store) == 0


def test_two_keys_never_collide(store: Store) -> None:
    keys = {create_key(store, "viewer")[1] for _ in range(20)}
    assert len(keys) == 20 and active_keys(store) == 20


def test_an_unknown_role_is_refused(store: Store) -> None:
    msg = "Unknown role 'root'. Expected one of: viewer, analyst, admin."
    with pytest.raises(InputError, match=re.escape(msg)):
        create_key(store, "root")


@pytest.mark.parametrize(
    ("header", "key"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Token abc", None), ("Bearer", None)],
)
def test_bearer_header(header: str, key: str | None) -> None:
    assert bearer(header) == key


def test_sort_and_lens_come_from_closed_lists(store: Store) -> None:
    assert set(SORTS) == {"predicted_clv_365d", "churn_probability", "p_alive"}
    with pytest.raises(KeyError):
        segment_customers(store, 1, "rfm", "x", sort="p_alive; DROP TABLE runs")
    with pytest.raises(KeyError):
        segment_customers(store, 1, "rfm_segment' OR 1=1 --", "x")
    page, total = segment_customers(store, 1, "rfm", "x'; DROP TABLE runs; --")
    assert total == 0 and page.empty
    assert store.con.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_changes_and_audit_rows(store: Store) -> None:
    write_changes(store, 3, [("c1", "rfm", "At Risk", "Champions", "order 1")])
    write_changes(store, 3, [("c1", "rfm", "Champions", "Loyal Customers", "order 2")])
    assert latest_changes_of(store, 3, ["c1"]) == {"c1": {"rfm": "Loyal Customers"}}
    assert latest_changes_of(store, 2, ["c1"]) == {}
    write_audit(store, None, "admin", "read_customer", "c1", {"page": 1})
    row = store.con.execute("SELECT key_id, role, action, target, detail FROM audit_log").fetchone()
    assert row == (None, "admin", "read_customer", "c1", '{"page": 1}')


def test_a_request_store_shares_the_database_but_not_the_transaction(tmp_path: object) -> None:
    with Store(":memory:") as root:
        view = request_store(root)
        view.con.execute("BEGIN TRANSACTION")
        write_audit(view, 1, "viewer", "x", None)
        assert root.con.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)
        view.con.execute("COMMIT")
        assert root.con.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)
        view.close()
