"""Warming the buffer pool at start: the latest run's per-customer rows and every order
line are read once in the background, the server answers meanwhile, and it stops when
asked."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.web.web_testing import TestClient
from valueseg.store import Store
from valueseg.store.web import WARMED, warm_blocks
from valueseg.web.app import create_app


def _expected(db: Path) -> int:
    with Store(db, read_only=True) as store:
        run_id = store.con.execute(
            "SELECT max(run_id) FROM runs WHERE status = 'succeeded'"
        ).fetchone()[0]
        total = 0
        for table in WARMED:
            where = "" if table == "transactions" else f" WHERE run_id = {int(run_id)}"
            total += store.con.execute(f"SELECT count(*) FROM {table}{where}").fetchone()[0]
    return int(total)


def test_the_app_warms_every_row_of_the_latest_run(built_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    shutil.copy(built_db, db)
    expected = _expected(db)
    app = create_app(db, keys_required=False, warm=True)
    with TestClient(app) as client:
        assert client.get("/v1/runs").status_code == 200  # answers while it warms
        warming = app.state.web.warming
        warming.thread.join(120)
        assert not warming.thread.is_alive() and not warming.stopping.is_set()
        assert warming.rows == expected > 0
        status = client.get("/v1/store").json()["warming"]
        assert status["state"] == "warmed" and status["rows"] == expected
        assert status["seconds"] is not None
    assert create_app(":memory:").state.web.warming is None  # off unless asked


def test_warming_stops_between_batches(built_db: Path) -> None:
    with Store(built_db, read_only=True) as store:
        read = warm_blocks(store, 1, stop=lambda: True, batch=100)
    assert read == 100  # one batch, then it saw the stop
