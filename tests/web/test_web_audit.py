"""The API's audit rows: gathered, appended together, none lost when the app stops."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.web.web_testing import Keys, TestClient
from valueseg.store import Store
from valueseg.web import create_app
from valueseg.web.audit import AuditBuffer


def _reads(db: Path) -> list[tuple[object, ...]]:
    with Store(db) as store:
        return store.con.execute(
            "SELECT key_id, role, action, target FROM audit_log WHERE action = 'read_customer' "
            "ORDER BY logged_at, rowid"
        ).fetchall()


def test_rows_kept_are_appended_in_order_by_a_flush(tmp_path: Path) -> None:
    with Store(tmp_path / "a.duckdb") as store:
        buffer = AuditBuffer(store, seconds=3600)
        for target in ("c1", "c2", "c3"):
            buffer.add(4, "analyst", "read_customer", target, {"page": 1})
        assert buffer.pending() == 3
        assert store.con.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)
        assert buffer.flush() == 3 and buffer.pending() == 0
        rows = store.con.execute(
            "SELECT key_id, role, target, detail FROM audit_log ORDER BY logged_at, rowid"
        ).fetchall()
        buffer.close()
    assert rows == [(4, "analyst", t, '{"page": 1}') for t in ("c1", "c2", "c3")]


def test_the_thread_appends_on_its_own(tmp_path: Path) -> None:
    with Store(tmp_path / "a.duckdb") as store:
        buffer = AuditBuffer(store, seconds=0.05)
        buffer.add(None, "admin", "post_event", "c1")
        assert buffer._thread is not None
        buffer._wake.set()
        for _ in range(200):
            if buffer.pending() == 0:
                break
            buffer._thread.join(0.05)
        assert store.con.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)
        buffer.close()


def test_reads_are_logged_when_the_app_stops(
    tmp_path: Path, web_db: tuple[Path, Keys], headers: dict[str, dict[str, str]]
) -> None:
    db = tmp_path / "shop.duckdb"
    shutil.copy(web_db[0], db)
    before = len(_reads(db))
    app = create_app(db)
    app.state.web.audit.seconds = 3600  # nothing appended by the thread meanwhile
    with TestClient(app) as client:
        customers = client.get(
            "/v1/segments/rfm/Champions/customers?size=3", headers=headers["analyst"]
        ).json()["customers"]
        assert customers
        for customer in customers:
            assert (
                client.get(
                    f"/v1/customers/{customer['customer_id']}", headers=headers["analyst"]
                ).status_code
                == 200
            )
    logged = _reads(db)[before:]
    assert [(row[1], row[3]) for row in logged] == [
        ("analyst", c["customer_id"]) for c in customers
    ]


def test_many_rows_are_appended_whole_and_in_order() -> None:
    """More rows than one INSERT takes (500) go in several, in order, none lost; details
    and missing key ids kept."""
    from datetime import datetime, timedelta

    from valueseg.store.web import write_audit_rows

    start = datetime(2025, 1, 1)
    rows = [
        (start + timedelta(seconds=i), None if i % 7 == 0 else i, "analyst", "read_customer",
         f"c{i}", {"page": i} if i % 3 == 0 else None)
        for i in range(1203)
    ]  # fmt: skip
    with Store(":memory:") as store:
        assert write_audit_rows(store, rows) == 1203
        stored = store.con.execute(
            "SELECT key_id, target, detail FROM audit_log ORDER BY logged_at"
        ).fetchall()
    assert [r[1] for r in stored] == [f"c{i}" for i in range(1203)]
    assert stored[0] == (None, "c0", '{"page": 0}') and stored[1] == (1, "c1", "{}")
    assert stored[-1][0] == 1202 and stored[501] == (501, "c501", '{"page": 501}')
