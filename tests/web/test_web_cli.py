"""``valueseg keys create|list|revoke`` and ``valueseg serve``'s refusal to bind without keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from valueseg.cli_web import register
from valueseg.errors import InputError
from valueseg.store import Store
from valueseg.web.auth import identify
from valueseg.web.serve import is_loopback, keys_required


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app, Console(width=200))
    return app


def test_keys_create_prints_the_key_last(cli: typer.Typer, tmp_path: Path) -> None:
    db = tmp_path / "k.duckdb"
    result = CliRunner().invoke(cli, ["keys", "create", "--role", "analyst", "--db", str(db)])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    with Store(db) as store:
        caller = identify(store, key)
    assert caller is not None and caller.role == "analyst"
    listed = CliRunner().invoke(cli, ["keys", "list", "--db", str(db)])
    assert key[:8] in listed.output and key not in listed.output
    revoked = CliRunner().invoke(cli, ["keys", "revoke", "1", "--db", str(db)])
    assert revoked.exit_code == 0 and "Revoked key 1." in revoked.output
    with Store(db) as store:
        assert identify(store, key) is None


def test_keys_refuse_an_unknown_role_and_key(cli: typer.Typer, tmp_path: Path) -> None:
    db = str(tmp_path / "k.duckdb")
    bad = CliRunner().invoke(cli, ["keys", "create", "--role", "owner", "--db", db])
    assert isinstance(bad.exception, InputError)
    assert str(bad.exception) == "Unknown role 'owner'. Expected one of: viewer, analyst, admin."
    gone = CliRunner().invoke(cli, ["keys", "revoke", "7", "--db", db])
    assert isinstance(gone.exception, InputError)
    assert str(gone.exception).startswith("No active key 7 in ")


def test_serve_refuses_a_missing_store(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "none.duckdb")])
    assert isinstance(result.exception, InputError)
    assert "does not exist" in str(result.exception)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.5", False), ("::", False), ("shop.example", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_non_local_bind_needs_a_key(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    Store(db).close()
    assert keys_required(db, "127.0.0.1") is False
    msg = (
        f"Refusing to serve {db} on 0.0.0.0 without API keys: anyone who can reach it could "
        f"read every customer. Create one first: valueseg keys create --role admin --db {db}"
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        keys_required(db, "0.0.0.0")
    CliRunner().invoke(typer_app(), ["keys", "create", "--role", "admin", "--db", str(db)])
    assert keys_required(db, "0.0.0.0") is True and keys_required(db, "127.0.0.1") is True


def typer_app() -> typer.Typer:
    app = typer.Typer()
    register(app, Console(width=200))
    return app


@pytest.mark.parametrize(("flag", "logged"), [([], False), (["--access-log"], True)])
def test_serve_logs_a_line_per_request_only_when_asked(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: list[str], logged: bool
) -> None:
    import uvicorn

    from valueseg.web import serve as serving

    db = tmp_path / "s.duckdb"
    Store(db).close()
    started: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.append(options))
    monkeypatch.setattr(serving, "write_server_file", lambda *a: _Info())
    monkeypatch.setattr(serving, "remove_server_file", lambda *a: None)
    result = CliRunner().invoke(cli, ["serve", "--db", str(db), *flag])
    assert result.exit_code == 0, result.output
    assert [o["access_log"] for o in started] == [logged]
    assert started[0]["host"] == "127.0.0.1"


class _Info:
    token = "t"
