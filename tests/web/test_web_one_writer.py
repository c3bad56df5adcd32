"""One writer, many users: the real server (``python -m valueseg serve`` on a free loopback
port) holds a store, and the CLI's ``ingest``, ``run``, ``info``, ``segments``, ``export``
and ``keys`` on that store go through its API with the token of the file it wrote beside
the store; the pages and the API show the new run when it finishes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.web.web_testing import Keys
from valueseg.cli import app
from valueseg.errors import StoreError
from valueseg.store.server_file import ServerInfo, read_server_file, server_file_path

FAST = ["--learners", "lr", "--recommender", "popularity", "--clusters", "3"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(info: ServerInfo, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        info.url + path, headers={"Authorization": f"Bearer {info.token}"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as answer:
        return int(answer.status), answer.read()


@pytest.fixture(scope="module")
def served(
    web_db: tuple[Path, Keys], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, ServerInfo, subprocess.Popen[bytes]]]:
    folder = tmp_path_factory.mktemp("served")
    db = folder / "shop.duckdb"
    shutil.copy(web_db[0], db)
    port = _free_port()
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "valueseg", "serve", "--db", str(db), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    info = None
    while info is None or not _answers(info):
        assert server.poll() is None, (folder / "server.log").read_text()
        assert time.monotonic() < deadline, "the server did not start in 60 s"
        time.sleep(0.2)
        info = read_server_file(db)
    yield db, info, server
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        server.wait(60)
    log.close()


def _answers(info: ServerInfo) -> bool:
    try:
        return _get(info, "/v1/runs")[0] == 200
    except OSError:
        return False


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_the_server_writes_its_file_beside_the_store(
    served: tuple[Path, ServerInfo, subprocess.Popen[bytes]],
) -> None:
    db, info, server = served
    path = server_file_path(db)
    assert path.parent == db.parent and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert info.pid == server.pid and info.url.startswith("http://127.0.0.1:")
    assert info.token.startswith("vst_") and json.loads(path.read_text())["db"] == str(db)


def test_ingest_and_run_from_the_cli_go_through_the_server(
    served: tuple[Path, ServerInfo, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    db, info, _ = served
    orders = tmp_path / "late-orders.csv"
    pd.DataFrame(
        {"customer_id": ["C0000001", "C0000002", "C-NEW-1"],
         "order_id": ["LATE-1", "LATE-2", "LATE-3"],
         "timestamp": ["2025-01-03 10:00:00", "2025-01-04 11:00:00", "2025-01-05 12:00:00"],
         "amount": [120.0, 35.5, 60.0]}
    ).to_csv(orders, index=False)  # fmt: skip
    loaded = _cli("ingest", str(orders), "--db", str(db))
    assert loaded.exit_code == 0, loaded.output
    assert "Ingest summary" in loaded.output and "late-orders.csv" in loaded.output
    status, body = _get(info, "/v1/customers/C-NEW-1/orders")
    assert status == 200 and json.loads(body)["orders"][0]["order_id"] == "LATE-3"

    ran = _cli("run", "--db", str(db), *FAST)
    assert ran.exit_code == 0, ran.output
    assert "Run 2 (as of 2025-01-06) succeeded through valueseg serve" in ran.output

    runs = json.loads(_get(info, "/v1/runs")[1])
    assert [(r["run_id"], r["status"]) for r in runs] == [(2, "succeeded"), (1, "succeeded")]
    assert json.loads(_get(info, "/v1/segments")[1])["run_id"] == 2
    page = _get(info, "/runs")[1].decode()
    assert '<a href="/runs/2">2</a>' in page  # the runs page lists the new run
    customer = json.loads(_get(info, "/v1/customers/C-NEW-1")[1])
    assert customer["run_id"] == 2 and customer["scores"] is not None  # the new run scored it


def test_info_segments_export_and_keys_go_through_the_server(
    served: tuple[Path, ServerInfo, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    db, info, _ = served
    shown = _cli("info", "--db", str(db))
    assert shown.exit_code == 0, shown.output
    assert "transactions" in shown.output and "Runs" in shown.output
    segments = _cli("segments", "--db", str(db), "--lens", "rfm")
    assert segments.exit_code == 0, segments.output
    assert "rfm segments" in segments.output
    out = tmp_path / "all.csv"
    exported = _cli("export", "--db", str(db), "--out", str(out))
    assert exported.exit_code == 0, exported.output
    frame = pd.read_csv(out)
    assert f"Wrote {len(frame):,} customers to {out}" in exported.output and len(frame) > 0
    created = _cli("keys", "create", "--role", "viewer", "--db", str(db))
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    viewer = ServerInfo(info.pid, info.host, info.port, key, info.db)
    assert _get(viewer, "/v1/segments")[0] == 200
    listed = _cli("keys", "list", "--db", str(db))
    assert listed.exit_code == 0 and key[:8] in listed.output and key not in listed.output


def test_a_command_that_cannot_go_through_says_what_to_do(
    served: tuple[Path, ServerInfo, subprocess.Popen[bytes]],
) -> None:
    db, info, _ = served
    result = _cli("migration", "--from", "1", "--to", "1", "--db", str(db))
    assert isinstance(result.exception, StoreError)
    assert str(result.exception).startswith(
        f"Store {db} is held by valueseg serve (process {info.pid}, {info.url}). valueseg "
        "ingest, run, info, segments, export and keys go through it; for this command, stop "
        f"the server (kill {info.pid}) and start it again afterwards."
    )


def test_the_file_is_removed_when_the_server_stops_and_a_stale_one_is_ignored(
    served: tuple[Path, ServerInfo, subprocess.Popen[bytes]],
) -> None:
    db, _, server = served
    server.send_signal(signal.SIGINT)
    assert server.wait(60) == 0
    assert not server_file_path(db).exists()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = {"pid": gone.pid, "host": "127.0.0.1", "port": 9, "token": "vst_x", "db": str(db)}
    server_file_path(db).write_text(json.dumps(stale))
    os.chmod(server_file_path(db), 0o600)
    assert read_server_file(db) is None
    shown = _cli("info", "--db", str(db))  # opens the store itself
    assert shown.exit_code == 0, shown.output
    assert "transactions" in shown.output
