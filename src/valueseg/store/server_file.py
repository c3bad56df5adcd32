"""The file beside a store that ``valueseg serve`` holds: which process serves it, where.

DuckDB lets one process write a store. While ``valueseg serve`` is that process it
writes ``<store>.serve.json`` (mode 0600: it holds a token that makes its bearer the
store's admin) naming its process id, its address and port and a fresh local admin
token, and removes it when it stops. The CLI's commands on the store read it and go
through the server's API (:mod:`valueseg.cli_remote`). A file whose process is gone (a
server killed outright) is stale: it is ignored, and replaced by the next server.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from valueseg.errors import InputError

__all__ = [
    "ServerInfo",
    "pid_alive",
    "read_server_file",
    "remove_server_file",
    "server_file_path",
    "write_server_file",
]


@dataclass(frozen=True)
class ServerInfo:
    """What the file says: the serving process, its address and the local admin token."""

    pid: int
    host: str
    port: int
    token: str
    db: str

    @property
    def url(self) -> str:
        """Where a process on this machine reaches the server (a wildcard bind: loopback).

        Examples
        --------
        >>> ServerInfo(1, "0.0.0.0", 8000, "t", "s.duckdb").url
        'http://127.0.0.1:8000'
        >>> ServerInfo(1, "::1", 8001, "t", "s.duckdb").url
        'http://[::1]:8001'
        """
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"


def server_file_path(db: str | Path) -> Path:
    """``<store>.serve.json``, beside the store.

    Examples
    --------
    >>> server_file_path("shop.duckdb").name
    'shop.duckdb.serve.json'
    """
    return Path(f"{db}.serve.json")


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _read(path: Path) -> ServerInfo | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ServerInfo(
            int(data["pid"]), str(data["host"]), int(data["port"]), str(data["token"]),
            str(data["db"]),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_server_file(db: str | Path) -> ServerInfo | None:
    """The live server of store ``db``; None when there is no file, it cannot be read, or
    its process is gone (stale)."""
    if str(db) == ":memory:":
        return None
    info = _read(server_file_path(db))
    return info if info is not None and pid_alive(info.pid) else None


def write_server_file(db: str | Path, host: str, port: int) -> ServerInfo:
    """Write the file for this process with a fresh token (mode 0600) and return it.

    A live server's file is not replaced (:class:`InputError`); a stale one is.
    """
    path = server_file_path(db)
    live = read_server_file(db)
    if live is not None and live.pid != os.getpid():
        raise InputError(
            f"Store {db} is already served by process {live.pid} on {live.url}. Use that "
            f"server, or stop it first (kill {live.pid})."
        )
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # stale
    info = ServerInfo(os.getpid(), host, port, "vst_" + secrets.token_urlsafe(32), str(db))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(asdict(info), out)
    return info


def remove_server_file(db: str | Path, info: ServerInfo) -> None:
    """Remove the file, if it is still the one ``info`` describes."""
    path = server_file_path(db)
    if _read(path) == info:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
