"""The DuckDB warehouse: one :class:`Store` owns one connection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import duckdb

from valueseg.errors import StoreError
from valueseg.store.schema import DATA_TABLES, MIGRATIONS, SCHEMA_VERSION

#: The loads :meth:`Store.summary` lists (the newest): the web app adds a load per posted
#: order, so a store that takes orders holds millions.
LOADS_SHOWN: Final = 20

DEFAULT_DB = "valueseg.duckdb"


class Store:
    """A valueseg warehouse in one DuckDB file (or ``":memory:"``).

    Opening a store creates the file if needed and brings its schema up to date by
    applying the ordered migrations of :mod:`valueseg.store.schema`.

    Parameters
    ----------
    path : str or Path, default "valueseg.duckdb"
        The DuckDB file, or ``":memory:"`` for a throw-away store.
    read_only : bool, default False
        Open without taking the write lock; the file must exist and be up to date.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     store.schema_version == SCHEMA_VERSION
    True
    """

    def __init__(self, path: str | Path = DEFAULT_DB, *, read_only: bool = False) -> None:
        self.path = str(path)
        if read_only and self.path != ":memory:" and not Path(self.path).exists():
            raise StoreError(
                f"Store {self.path} does not exist. "
                "Create it by loading data: valueseg ingest FILE --db " + self.path
            )
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            from valueseg.store.server_file import read_server_file

            served = read_server_file(self.path)
            if served is not None:
                raise StoreError(
                    f"Store {self.path} is held by valueseg serve (process {served.pid}, "
                    f"{served.url}). valueseg ingest, run, info, segments, export and keys go "
                    f"through it; for this command, stop the server (kill {served.pid}) "
                    "and start it again afterwards."
                ) from exc
            raise StoreError(
                f"Cannot open store {self.path}: {exc}. "
                "Is another valueseg process writing to it? Close it or use another --db."
            ) from exc
        # every connection to the database (a request's cursor too) reads and writes UTC
        self.con.execute("SET GLOBAL TimeZone = 'UTC'")
        # Progress is polled by valueseg (io.progress), never printed by DuckDB itself.
        self.con.execute("SET enable_progress_bar = true")
        self.con.execute("SET enable_progress_bar_print = false")
        if read_only:
            self._check_version()
        else:
            self._migrate()
            self._move_staged()

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All statements inside happen together or not at all.

        A process killed inside the block leaves the store as it was before it.
        """
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- schema ---------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        """The schema version recorded in the store (0 for an empty file)."""
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchone()
        if not exists or exists[0] == 0:
            return 0
        row = self.con.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _check_version(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"Store {self.path} has schema version {version}, newer than this valueseg "
                f"understands ({SCHEMA_VERSION}). Upgrade valueseg to read it."
            )
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"Store {self.path} has schema version {version}; this valueseg needs "
                f"{SCHEMA_VERSION}. Open it once for writing (any valueseg command with --db) "
                "to migrate it."
            )

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            self._check_version()
        pending = [m for m in MIGRATIONS if m[0] > version]
        if not pending:
            return
        with self.transaction() as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)"
            )
            for number, description, sql in pending:
                con.execute(sql)
                con.execute(
                    "INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)",
                    [number, description],
                )

    def _move_staged(self) -> None:
        """Move posted orders a web app staged and did not move (it was killed) into
        their tables (:mod:`valueseg.store.staged`): every writer then sees them."""
        from valueseg.store.staged import move_staged, staged_count

        if staged_count(self):
            move_staged(self)

    # -- reading --------------------------------------------------------------------------
    def table_counts(self) -> dict[str, int]:
        """Row count of every data table, in display order."""
        counts: dict[str, int] = {}
        for table in DATA_TABLES:
            row = self.con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            counts[table] = int(row[0]) if row else 0
        return counts

    def columns(self, table: str) -> list[str]:
        """Column names of ``table`` in order."""
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return [r[0] for r in rows]

    def summary(self, loads: int = LOADS_SHOWN) -> dict[str, Any]:
        """What the store holds: counts, date range, customers, orders, revenue, loads, runs.

        ``loads``: the newest ``loads`` loads, oldest of them first (``loads_total`` counts
        them all: the web app adds one per posted order). ``runs`` is
        :func:`valueseg.store.runs.list_runs`'s frame; ``currency`` the loads' currency
        (None when no load named one).
        """
        newest = self.con.execute(
            "SELECT * FROM (SELECT load_id, source, kind, rows_read, accepted, rejected, "
            "loaded_at FROM loads ORDER BY load_id DESC LIMIT ?) ORDER BY load_id",
            [max(loads, 0)],
        ).fetchall()
        from valueseg.store.runs import list_runs

        runs = list_runs(self)
        tables = self.table_counts()
        return {
            "path": self.path,
            "schema_version": self.schema_version,
            "tables": tables,
            **self.totals(),
            "loads": newest,
            "loads_total": tables["loads"],
            "runs": runs,
        }

    def totals(self) -> dict[str, Any]:
        """The order lines' totals of :meth:`summary` (``first_order``, ``last_order``,
        ``customers``, ``orders``, ``revenue``, ``returns_amount``, ``return_lines``,
        ``currency``) without its list of every load: a web app that takes orders adds a
        load per order, and the overview needs the totals only."""
        con = self.con
        tx = con.execute(
            'SELECT min("timestamp"), max("timestamp"), count(DISTINCT customer_id), '
            "count(DISTINCT order_id) FILTER (WHERE NOT is_return), "
            "coalesce(sum(amount) FILTER (WHERE NOT is_return), 0), "
            "coalesce(sum(amount) FILTER (WHERE is_return), 0), "
            "count(*) FILTER (WHERE is_return) FROM transactions"
        ).fetchone()
        assert tx is not None
        currencies = con.execute(
            "SELECT DISTINCT currency FROM loads WHERE kind = 'transactions' "
            "AND currency IS NOT NULL ORDER BY 1"
        ).fetchall()
        return {
            "first_order": tx[0],
            "last_order": tx[1],
            "customers": int(tx[2]),
            "orders": int(tx[3]),
            "revenue": float(tx[4]),
            "returns_amount": float(tx[5]),
            "return_lines": int(tx[6]),
            "currency": ", ".join(str(c[0]) for c in currencies) or None,
        }
