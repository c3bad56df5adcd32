"""The web app's commands: ``valueseg serve`` and ``valueseg keys create|list|revoke``.

Thin over :mod:`valueseg.web`: each command opens the store, calls one function and
prints what it returned. Errors are raised as :class:`valueseg.errors.ValuesegError` and
printed by the caller's handler (``valueseg.cli.main``) as one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from valueseg.errors import InputError
from valueseg.store import DEFAULT_DB

__all__ = ["register"]

_DB = Path(DEFAULT_DB)
DbOption = Annotated[Path, typer.Option("--db", help="The DuckDB store file.")]


def register(app: typer.Typer, console: Console) -> None:
    """Add ``serve`` and the ``keys`` group to ``app``, printing on ``console``."""

    @app.command("serve")
    def serve(
        db: DbOption = _DB,
        host: Annotated[
            str, typer.Option("--host", help="Address to bind (a non-local one needs keys).")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
        lake: Annotated[
            Path | None,
            typer.Option(
                "--from",
                help="A lake run's --out folder: its run is imported into --db first.",
            ),
        ] = None,
        run_id: Annotated[
            int | None, typer.Option("--run", help="With --from: the lake run (default newest).")
        ] = None,
        access_log: Annotated[
            bool,
            typer.Option(
                "--access-log",
                help="Log a line per request (off: customer reads and orders are in audit_log).",
            ),
        ] = False,
    ) -> None:
        """Serve the web pages and the JSON API (/v1, schema at /openapi.json) over the store."""
        from valueseg.cli_remote import find_server
        from valueseg.web.serve import keys_required, serve

        held = find_server(db)
        if held is not None:
            raise InputError(
                f"Store {db} is already served by {held}. Use that server, or stop it "
                f"(kill {held.info.pid}) first."
            )
        if lake is not None:
            from valueseg.lake.load import load_lake_run
            from valueseg.store import Store

            with Store(db) as store:
                loaded = load_lake_run(store, lake, run_id)
            console.print(f"Run {loaded} of {lake} is in {db}.", markup=False)
        elif run_id is not None:
            raise InputError("--run picks a lake run: give it with --from OUT.")
        if not db.exists():
            raise InputError(
                f"Store {db} does not exist. Load data and run first: valueseg ingest FILE "
                f"--db {db}; valueseg run --db {db}"
            )
        required = keys_required(db, host)
        how = "API keys required" if required else "no keys: every local caller is admin"
        console.print(f"Serving {db} on http://{host}:{port} ({how}).", markup=False)
        serve(db, host, port, access_log=access_log)

    keys = typer.Typer(help="API keys of the web app: create, list, revoke.", no_args_is_help=True)
    app.add_typer(keys, name="keys")
    _register_keys(keys, console)


def _register_keys(keys: typer.Typer, console: Console) -> None:
    @keys.command("create")
    def create(
        role: Annotated[str, typer.Option("--role", help="viewer, analyst or admin.")],
        label: Annotated[str | None, typer.Option("--label", help="What the key is for.")] = None,
        db: DbOption = _DB,
    ) -> None:
        """Create a key; it is printed once, as the last line, and stored hashed."""
        from valueseg import cli_remote
        from valueseg.store import Store
        from valueseg.web.auth import check_role, create_key

        server = cli_remote.find_server(db)
        if server is not None:
            key_id, key = cli_remote.create_key(server, check_role(role), label)
        else:
            with Store(db) as store:
                key_id, key = create_key(store, role, label)
        console.print(
            f"Created key {key_id} ({role}) in {db}. It is shown once; keep it:", markup=False
        )
        console.print(key, markup=False, highlight=False, soft_wrap=True)

    @keys.command("list")
    def list_(db: DbOption = _DB) -> None:
        """List the keys (their first characters only) and whether they are revoked."""
        from valueseg import cli_remote
        from valueseg.store import Store
        from valueseg.store.web import list_keys

        server = cli_remote.find_server(db)
        if server is not None:
            frame = cli_remote.list_keys(server)
        else:
            with Store(db, read_only=True) as store:
                frame = list_keys(store)
        table = Table("id", "key", "role", "label", "created", "revoked")
        for row in frame.itertuples(index=False):
            revoked = str(row.revoked_at)
            revoked = "" if revoked in ("NaT", "None") else revoked
            table.add_row(
                str(row.key_id), f"{row.prefix}…", str(row.role), str(row.label or ""),
                str(row.created_at)[:19], revoked[:19],
            )  # fmt: skip
        console.print(table if len(frame) else f"No keys in {db}.")

    @keys.command("revoke")
    def revoke(
        key_id: Annotated[int, typer.Argument(help="The key's id (valueseg keys list).")],
        db: DbOption = _DB,
    ) -> None:
        """Revoke a key: requests with it are refused from now on."""
        from valueseg import cli_remote
        from valueseg.store import Store
        from valueseg.store.web import revoke_key

        server = cli_remote.find_server(db)
        if server is not None:
            done = cli_remote.revoke_key(server, key_id)
        else:
            with Store(db) as store:
                done = revoke_key(store, key_id)
        if not done:
            raise InputError(
                f"No active key {key_id} in {db}. See the keys with: valueseg keys list --db {db}"
            )
        console.print(f"Revoked key {key_id}.", markup=False)
