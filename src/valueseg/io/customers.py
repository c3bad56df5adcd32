"""Customer attributes: typed once from the data, added to the store as columns."""

from __future__ import annotations

import duckdb

from valueseg.io.columns import ColumnMap
from valueseg.io.ids import id_modes, normalised_id
from valueseg.io.parse import is_text, text_expr
from valueseg.io.rules import ParsePlan
from valueseg.io.sources import OpenedSource, _ident
from valueseg.store import Store

_RESERVED = {"customer_id", "load_id", "line"}
#: Types tried on a text attribute, narrowest first; the first that reads every value wins.
_CANDIDATES = ("BOOLEAN", "BIGINT", "DOUBLE", "DATE", "TIMESTAMP")


def attribute_names(cmap: ColumnMap) -> dict[str, str]:
    """Store column name -> source column, renaming clashes with valueseg's own columns."""
    return {
        (f"attr_{name}" if name in _RESERVED else name): src
        for name, src in cmap.attributes.items()
    }


def _infer_type(con: duckdb.DuckDBPyConnection, col: str) -> str:
    ref = f"nullif(trim({_ident(col)}), '')"
    parts = ", ".join(
        f"count(*) FILTER (WHERE {ref} IS NOT NULL AND TRY_CAST({ref} AS {t}) IS NULL)"
        for t in _CANDIDATES
    )
    row = con.execute(f"SELECT count({ref}), {parts} FROM _vs_src").fetchone()
    assert row is not None
    if row[0] == 0:
        return "VARCHAR"
    for sql_type, failures in zip(_CANDIDATES, row[1:], strict=True):
        if failures == 0:
            return sql_type
    return "VARCHAR"


def _store_types(store: Store) -> dict[str, str]:
    rows = store.con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'customers'"
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def plan_customers(
    con: duckdb.DuckDBPyConnection, opened: OpenedSource, cmap: ColumnMap, store: Store
) -> ParsePlan:
    """Parse customer ids and attributes; an attribute that does not fit the type it has in
    the store quarantines its row."""
    types = dict(zip(opened.columns, opened.types, strict=True))
    existing = _store_types(store)
    src = cmap.fields["customer_id"]
    modes = id_modes(con, "_vs_src", src) if is_text(types[src]) else ()
    exprs = [f"{normalised_id(text_expr(src, types[src]), modes)} AS customer_id"]
    checks = ["WHEN customer_id IS NULL THEN 'missing customer_id'"]
    described: list[str] = []
    for name, col in attribute_names(cmap).items():
        target = existing.get(name)
        if target is None:
            target = _infer_type(con, col) if is_text(types[col]) else types[col]
        ref = _ident(col)
        value = f"nullif(trim({ref}), '')" if is_text(types[col]) else ref
        exprs.append(f"TRY_CAST({value} AS {target}) AS {_ident(name)}")
        exprs.append(f"{value} IS NOT NULL AS {_ident('_has_' + name)}")
        checks.append(
            f"WHEN {_ident('_has_' + name)} AND {_ident(name)} IS NULL "
            f"THEN 'attribute {name} is not {target}'"
        )
        described.append(f"{name} ({target})")
    flags = ", ".join(_ident("_has_" + n) for n in attribute_names(cmap))
    drop = f"EXCLUDE ({flags})" if flags else ""
    rules = f"SELECT * {drop}, CASE {' '.join(checks)} ELSE NULL END AS _reason FROM ("
    notes = [f"attributes: {', '.join(described)}"] if described else []
    columns = ("customer_id", *attribute_names(cmap))
    inner = f"SELECT _line, {', '.join(exprs)}"
    return ParsePlan(inner, ((rules, ") AS p"),), notes, columns, id_modes=modes)


def write_customers(con: duckdb.DuckDBPyConnection, store: Store, load_id: int, rows: str) -> None:
    """Add new attribute columns, then insert or update customers (latest load wins).

    ``rows`` is a SELECT of the accepted rows: ``_line``, ``customer_id`` and attributes.
    """
    existing = _store_types(store)
    described = con.execute(f"DESCRIBE {rows}").fetchall()
    attrs = [(str(r[0]), str(r[1])) for r in described if r[0] not in ("_line", "_reason")]
    attrs = [(n, t) for n, t in attrs if n != "customer_id"]
    for name, sql_type in attrs:
        if name not in existing:
            con.execute(f"ALTER TABLE customers ADD COLUMN {_ident(name)} {sql_type}")
    names = "".join(f", {_ident(n)}" for n, _ in attrs)
    con.execute(
        f"INSERT OR REPLACE INTO customers (customer_id, load_id, line{names}) "
        f"SELECT customer_id, {load_id}, _line{names} FROM ({rows}) AS a"
    )
