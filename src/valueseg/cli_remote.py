"""The CLI's commands through a running server: one writer, many users.

While ``valueseg serve`` holds a store, no other process can open it (DuckDB lets one
process write a file). The server writes ``<store>.serve.json`` beside it
(:mod:`valueseg.store.server_file`); ``valueseg ingest``, ``run``, ``info``,
``segments``, ``export`` and ``keys`` on that store find it and call the server's API
with its local admin token instead of opening the store, so a nightly ``valueseg run``
does not fail because the web app is up. Each function here returns what the local
command would have computed, in the same shape, for the CLI to print the same way.

Only the standard library speaks HTTP here (``urllib``, proxies ignored: the server is
on this machine).
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pandas as pd

from valueseg.errors import InputError, StoreError
from valueseg.io.report import IngestReport
from valueseg.store.server_file import ServerInfo, read_server_file

__all__ = [
    "Server",
    "create_key",
    "export",
    "find_server",
    "ingest",
    "list_keys",
    "revoke_key",
    "run",
    "segments",
    "summary",
]

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
#: Seconds between two looks at a run's progress, and between two tries of a busy store.
POLL_S = 1.0


class Server:
    """The server holding a store, called with its local admin token."""

    def __init__(self, info: ServerInfo) -> None:
        self.info = info

    def __str__(self) -> str:
        return f"valueseg serve (process {self.info.pid}, {self.info.url})"

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
        ok: Sequence[int] = (200, 201, 202),
    ) -> tuple[int, bytes, dict[str, str]]:
        """The answer's status, body and headers; an error answer raises its message."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = self.info.url + path + (f"?{urlencode(query, doseq=True)}" if query else "")
        headers = {"Authorization": f"Bearer {self.info.token}", "Accept": "application/json"}
        if body is not None:
            data, content_type = json.dumps(body).encode(), "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with _OPENER.open(request, timeout=3600) as answer:
                status, content, got = answer.status, answer.read(), dict(answer.headers)
        except urllib.error.HTTPError as exc:
            status, content, got = exc.code, exc.read(), dict(exc.headers)
        except (urllib.error.URLError, OSError) as exc:
            raise StoreError(
                f"{self} holds store {self.info.db} but does not answer ({exc}). Wait until it "
                f"has started, or stop it (kill {self.info.pid}) and run the command again."
            ) from None
        if status not in ok:
            raise _refused(self, status, content)
        return status, content, got

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return json.loads(self.call(method, path, **kwargs)[1])


def _refused(server: Server, status: int, content: bytes) -> InputError:
    try:
        message = json.loads(content)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = content.decode("utf-8", "replace")[:300]
    return InputError(f"{message} (answered {status} by {server})")


def find_server(db: str | Path) -> Server | None:
    """The server holding store ``db``, or None (no server file, or a stale one)."""
    info = read_server_file(db)
    return None if info is None else Server(info)


def _multipart(fields: dict[str, str], files: list[tuple[str, Path]]) -> tuple[bytes, str]:
    boundary = "valueseg-" + secrets.token_hex(12)
    chunks: list[bytes] = []
    for name, value in fields.items():
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, path in files:
        filename = path.name.replace('"', "_")
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + path.read_bytes()
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def _report(data: dict[str, Any]) -> IngestReport:
    for key in ("first_timestamp", "last_timestamp"):
        if data.get(key):
            data[key] = datetime.fromisoformat(data[key])
    data["id_modes"] = tuple(data.get("id_modes") or ())
    data["kept_aside_by_reason"] = {
        k: tuple(v) for k, v in (data.get("kept_aside_by_reason") or {}).items()
    }
    return IngestReport(**data)


def ingest(
    server: Server,
    paths: Sequence[str],
    *,
    kind: str,
    mapping: dict[str, str],
    statuses: dict[str, str] | None,
    currency: str | None,
    join: Sequence[str],
) -> list[IngestReport]:
    """Upload each file to ``POST /v1/ingest`` with the command's options."""
    for path in [*paths, *join]:
        if not Path(path).is_file():
            raise InputError(
                f"{path} is not a file on this machine: through {server} only files can be "
                f"loaded (they are uploaded). Stop the server (kill {server.info.pid}) to "
                "load from a database URL, then start it again."
            )
    fields = {"kind": kind, "mapping": json.dumps(mapping), "statuses": json.dumps(statuses or {})}
    if currency:
        fields["currency"] = currency
    reports = []
    for path in paths:
        files = [("file", Path(path)), *(("join", Path(j)) for j in join)]
        data, content_type = _multipart(fields, files)

        def upload(data: bytes = data, content_type: str = content_type) -> Any:
            return server.json("POST", "/v1/ingest", data=data, content_type=content_type)

        answer = _busy_retry(upload)
        reports.append(_report(answer))
    return reports


def _busy_retry(call: Callable[[], Any], say: Callable[[str], None] | None = None) -> Any:
    """``call()``, tried again while the store is busy with another write (409)."""
    while True:
        try:
            return call()
        except InputError as exc:
            if "(answered 409 " not in str(exc) or "The store is busy" not in str(exc):
                raise
            if say is not None:
                say(f"waiting: {str(exc).split(' (answered')[0]}")
            time.sleep(POLL_S)


def run(server: Server, parameters: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    """Start a run with ``POST /v1/runs`` (waiting while another write holds the store),
    follow its progress, and return its ``GET /v1/runs/{id}``; a failed run raises."""
    started = _busy_retry(lambda: server.json("POST", "/v1/runs", body=parameters), say)
    run_id = started["run_id"]
    shown = 0
    while True:
        detail: dict[str, Any] = server.json("GET", f"/v1/runs/{run_id}")
        job = detail.get("job") or {}
        for step in (job.get("progress") or [])[shown:]:
            say(step["message"])
        shown = len(job.get("progress") or [])
        if detail["status"] != "running" and job.get("status") != "running":
            break
        time.sleep(POLL_S)
    if detail["status"] != "succeeded":
        raise InputError(f"Run {run_id} failed on {server}: {detail.get('message')}")
    return detail


def summary(server: Server) -> dict[str, Any]:
    """``GET /v1/store`` in the shape of :meth:`valueseg.store.Store.summary`."""
    data: dict[str, Any] = server.json("GET", "/v1/store")
    for key in ("first_order", "last_order"):
        data[key] = None if data[key] is None else datetime.fromisoformat(data[key])
    data["loads"] = [(*row[:6], datetime.fromisoformat(row[6])) for row in data["loads"]]
    runs = pd.DataFrame(
        data["runs"],
        columns=["run_id", "as_of", "status", "started_at", "finished_at", "seconds", "message"],
    )
    for column in ("as_of", "started_at", "finished_at"):
        runs[column] = pd.to_datetime(runs[column], utc=True).dt.tz_localize(None)
    data["runs"] = runs
    return data


def segments(server: Server, run_id: int | None, lens: str | None) -> pd.DataFrame:
    """``GET /v1/segments`` as :func:`valueseg.segment.stored.stored_segments`' frame."""
    data = server.json("GET", "/v1/segments", params={"run": run_id, "lens": lens})
    rows = [
        {"run_id": data["run_id"], "lens": group["lens"], **segment,
         "profile": None if segment.get("profile") is None else json.dumps(segment["profile"])}
        for group in data["lenses"]
        for segment in group["segments"]
    ]  # fmt: skip
    columns = ["run_id", "lens", "segment", "size", "revenue_share", "rules", "profile"]
    return pd.DataFrame(rows, columns=columns)


def export(server: Server, out: Path, params: dict[str, Any]) -> tuple[int, str]:
    """Write ``GET /v1/export``'s file to ``out``: its rows and the server's file name."""
    _, content, headers = server.call("GET", "/v1/export", params=params)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)
    lower = {k.lower(): v for k, v in headers.items()}
    return int(lower.get("x-audience-rows", "0")), lower.get("content-disposition", "")


def create_key(server: Server, role: str, label: str | None) -> tuple[int, str]:
    answer = server.json("POST", "/v1/keys", body={"role": role, "label": label})
    return int(answer["key_id"]), str(answer["key"])


def list_keys(server: Server) -> pd.DataFrame:
    frame = pd.DataFrame(
        server.json("GET", "/v1/keys"),
        columns=["key_id", "prefix", "role", "label", "created_at", "revoked_at"],
    )
    for column in ("created_at", "revoked_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_localize(None)
    return frame


def revoke_key(server: Server, key_id: int) -> bool:
    try:
        server.json("DELETE", f"/v1/keys/{key_id}")
    except InputError as exc:
        if "(answered 404 " in str(exc):
            return False
        raise
    return True
