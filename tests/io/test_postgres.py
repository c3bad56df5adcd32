"""Ingest from a PostgreSQL table, against a throw-away server started for the test."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from valueseg.io import ingest


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; as root, run it as the 'postgres' user.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _can_start() -> bool:
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        return False
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return False
        return shutil.which("runuser") is not None
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not _can_start():
        pytest.skip("needs PostgreSQL server binaries (initdb, pg_ctl) and psycopg")
    # Not under pytest's tmp_path: the 'postgres' user must be able to reach the folder.
    home = Path(tempfile.mkdtemp(prefix="valueseg-pg-"))
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
    data, port = home / "data", _free_port()
    subprocess.run(
        _as_postgres(["initdb", "-D", str(data), "-A", "trust", "-U", "vs"]),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {home} -c listen_addresses=127.0.0.1"
    subprocess.run(
        _as_postgres(
            ["pg_ctl", "-D", str(data), "-o", opts, "-l", str(home / "log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://vs@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow
def test_postgres_table_by_url(store, postgres_url):
    import psycopg

    with psycopg.connect(postgres_url) as pg:
        pg.execute("CREATE TABLE orders (customer_id text, ts timestamptz, amount numeric)")
        pg.execute(
            "INSERT INTO orders VALUES ('a', '2024-01-01 10:00+02', 10.5), "
            "('b', '2024-01-02', 3), (NULL, '2024-01-03', 1)"
        )
    report = ingest(f"{postgres_url}?table=orders", db=store, mapping={"timestamp": "ts"})
    assert (report.rows_read, report.accepted, report.rejected) == (3, 2, 1)
    rows = store.con.execute(
        'SELECT customer_id, "timestamp", amount FROM transactions ORDER BY 1'
    ).fetchall()
    assert [(r[0], str(r[1]), r[2]) for r in rows] == [
        ("a", "2024-01-01 08:00:00", 10.5),
        ("b", "2024-01-02 00:00:00", 3.0),
    ]


@pytest.mark.slow
def test_postgres_missing_table(store, postgres_url):
    with pytest.raises(ValueError, match=r"^Cannot read table 'nope' from postgresql://vs@"):
        ingest(f"{postgres_url}?table=nope", db=store)
