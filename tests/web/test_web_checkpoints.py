"""The server's checkpoints happen in quiet moments, under the write lock, and never fail
the server (valueseg.web.checkpoints)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from valueseg.store import Store
from valueseg.web import checkpoints
from valueseg.web.app import create_app
from valueseg.web.checkpoints import THRESHOLD, Checkpointer, log_bytes


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "shop.duckdb") as store:
        store.con.execute(f"SET GLOBAL checkpoint_threshold = '{THRESHOLD}'")
        store.con.execute("CREATE TABLE t AS SELECT range AS i FROM range(1000)")
        store.con.execute("CHECKPOINT")
        store.con.execute("INSERT INTO t SELECT range FROM range(1000, 50000)")  # in the log
        yield store


def _long_ago() -> float:
    return time.monotonic() - 60.0


def test_a_quiet_store_with_a_log_is_checkpointed(root: Store) -> None:
    path = Path(str(root.path))
    assert log_bytes(path) > 0
    checkpointer = Checkpointer(root, threading.Lock(), _long_ago, quiet_bytes=1)
    assert checkpointer.due()
    assert checkpointer.try_checkpoint()
    assert log_bytes(path) == 0 and checkpointer.checkpoints == 1
    assert root.con.execute("SELECT count(*) FROM t").fetchone() == (50000,)
    assert not checkpointer.try_checkpoint()  # nothing left to fold in


def test_no_checkpoint_during_a_write_or_soon_after_one_or_for_a_short_log(root: Store) -> None:
    path = Path(str(root.path))
    lock = threading.Lock()
    with lock:  # a write in progress
        assert not Checkpointer(root, lock, _long_ago, quiet_bytes=1).try_checkpoint()
    assert not Checkpointer(root, lock, time.monotonic, quiet_bytes=1).try_checkpoint()
    short = Checkpointer(root, lock, _long_ago, quiet_bytes=log_bytes(path) + 1)
    assert not short.try_checkpoint()
    assert log_bytes(path) > 0  # none of them checkpointed


class _Refusing:
    """A store whose every statement fails, as a CHECKPOINT DuckDB refuses."""

    class con:  # stands for Store.con
        @staticmethod
        def execute(sql: str) -> None:
            raise duckdb.TransactionException(f"refused: {sql}")

    def close(self) -> None:
        pass


def test_a_checkpoint_that_fails_is_put_off_and_never_raises(
    root: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Path(str(root.path))
    lock = threading.Lock()
    checkpointer = Checkpointer(root, lock, _long_ago, quiet_bytes=1)
    with monkeypatch.context() as patch:
        patch.setattr(checkpoints, "request_store", lambda root: _Refusing())
        assert not checkpointer.try_checkpoint()
    assert not lock.locked() and log_bytes(path) > 0  # the lock given back, the log kept
    assert checkpointer.try_checkpoint()  # the next quiet moment
    assert log_bytes(path) == 0


def test_the_thread_checkpoints_by_itself_and_stops(root: Store) -> None:
    path = Path(str(root.path))
    checkpointer = Checkpointer(root, threading.Lock(), _long_ago, quiet_bytes=1, poll_s=0.02)
    checkpointer.start()
    deadline = time.monotonic() + 10
    while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    checkpointer.close()
    assert checkpointer.checkpoints == 1 and log_bytes(path) == 0


def test_the_server_raises_duckdbs_threshold_and_runs_the_thread(tmp_path: Path) -> None:
    db = tmp_path / "served.duckdb"
    Store(db).close()
    app = create_app(db)
    with TestClient(app):
        state = app.state.web
        setting = state.root.con.execute("SELECT current_setting('checkpoint_threshold')")
        assert setting.fetchone() == ("256.0 MiB",)
        thread = state.checkpoints._thread
        assert thread is not None and thread.is_alive()
    assert not thread.is_alive()


def test_a_log_waits_for_a_moment_without_requests_until_it_is_long(root: Store) -> None:
    size = log_bytes(Path(str(root.path)))
    lock = threading.Lock()
    reading = Checkpointer(root, lock, _long_ago, lambda: 0.0, quiet_bytes=1, busy_bytes=size + 1)
    assert not reading.due()  # requests in flight: not yet
    assert not reading.try_checkpoint()
    paused = Checkpointer(root, lock, _long_ago, lambda: 1.0, quiet_bytes=1, busy_bytes=size + 1)
    assert not paused.due()  # a pause shorter than quiet_s
    long_log = Checkpointer(root, lock, _long_ago, lambda: 0.0, quiet_bytes=1, busy_bytes=size)
    assert long_log.due()  # reads going on, but the log is long
    idle = Checkpointer(root, lock, _long_ago, lambda: 2.5, quiet_bytes=1, busy_bytes=size + 1)
    assert idle.due()
    writing = Checkpointer(root, lock, time.monotonic, lambda: 60.0, quiet_bytes=1, busy_bytes=1)
    assert not writing.due()  # a write just ended: never, however long the log
    assert idle.try_checkpoint() and log_bytes(Path(str(root.path))) == 0


def test_the_servers_requests_keep_it_from_being_idle(tmp_path: Path) -> None:
    db = tmp_path / "served.duckdb"
    Store(db).close()
    app = create_app(db)
    seen: list[float] = []

    @app.get("/probe")
    def probe() -> dict[str, int]:  # in flight while it runs
        seen.append(app.state.web.traffic.idle_s())
        return {"in_flight": app.state.web.traffic.in_flight}

    with TestClient(app) as client:
        state = app.state.web
        assert state.checkpoints.idle_s() == float("inf")  # no request yet
        assert client.get("/probe").json() == {"in_flight": 1}
        assert seen == [0.0]
        assert state.traffic.in_flight == 0 and 0 <= state.checkpoints.idle_s() < 5
        client.get("/v1/no-such-route")  # an answered error ends too
        assert state.traffic.in_flight == 0
