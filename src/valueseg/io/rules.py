"""Row rules: how each canonical column is parsed and why a row is quarantined.

For each kind this module builds one SELECT over the raw source table that yields the
typed canonical columns and ``_reason`` (NULL for a usable row, else the first rule the
row breaks). Reasons are short and stable: they are what ``rejected_rows.reason`` holds
and what the ingest summary counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb

from valueseg.io.columns import ColumnMap
from valueseg.io.parse import (
    detect_timestamp_format,
    is_text,
    number_expr,
    text_expr,
    timestamp_expr,
)
from valueseg.io.sources import OpenedSource, _ident

#: Canonical columns parsed as numbers, per kind.
NUMERIC = {
    "transactions": ("amount", "quantity", "unit_price", "discount"),
    "events": ("duration_s", "rating"),
    "customers": (),
}
#: Canonical columns kept as text, per kind.
TEXT = {
    "transactions": ("customer_id", "order_id", "product_id", "category", "channel"),
    "events": ("customer_id", "event_type", "product_id", "session_id"),
    "customers": ("customer_id",),
}


@dataclass
class ParsePlan:
    """The SELECT that parses a source, and what was decided on the way."""

    sql: str
    notes: list[str] = field(default_factory=list)


def _raw_present(col: str) -> str:
    return f"nullif(trim(CAST({_ident(col)} AS VARCHAR)), '') IS NOT NULL"


def _flag(name: str) -> str:
    """The column holding 'the raw value of canonical ``name`` is not empty'."""
    return f"_has_{name}"


def plan_parse(
    con: duckdb.DuckDBPyConnection,
    opened: OpenedSource,
    cmap: ColumnMap,
    now_sql: str,
) -> ParsePlan:
    """Build the parse-and-check SELECT for ``opened`` mapped by ``cmap``."""
    types = dict(zip(opened.columns, opened.types, strict=True))
    notes: list[str] = []
    exprs: dict[str, str] = {}
    flags: dict[str, str] = {}
    checks: list[tuple[str, str]] = []  # (condition, reason), first match wins
    kind = cmap.kind

    for name in TEXT[kind]:
        src = cmap.source(name)
        exprs[name] = text_expr(src, types[src]) if src else "CAST(NULL AS VARCHAR)"
    checks.append(("customer_id IS NULL", "missing customer_id"))

    if kind != "customers":
        src = cmap.fields["timestamp"]
        fmt, ambiguous = (None, False)
        if is_text(types[src]):
            fmt, ambiguous = detect_timestamp_format(con, "_vs_src", src)
        if fmt and not ambiguous:
            notes.append(f"timestamps in column '{src}' read with format {fmt}")
        if ambiguous:
            notes.append(
                f"dates in column '{src}' fit both month-first and day-first; read as "
                f"{fmt}. If that is wrong, convert the column to ISO dates (YYYY-MM-DD)."
            )
        exprs["timestamp"] = timestamp_expr(src, types[src], fmt)
        flags[_flag("timestamp")] = _raw_present(src)
        checks += [
            (f"NOT {_flag('timestamp')}", "missing timestamp"),
            ('"timestamp" IS NULL', "unparseable timestamp"),
            (
                f'"timestamp" > {now_sql} + INTERVAL 1 DAY',
                "timestamp more than a day in the future",
            ),
        ]
    if kind == "events":
        exprs["event_type"] = f"lower({exprs['event_type']})"
        checks.append(("event_type IS NULL", "missing event_type"))

    for name in NUMERIC[kind]:
        src = cmap.source(name)
        if src is None:
            exprs[name] = "CAST(NULL AS DOUBLE)"
            continue
        exprs[name] = number_expr(src, types[src])
        flags[_flag(name)] = _raw_present(src)
        checks += _number_checks(name)
    if kind == "transactions" and cmap.source("amount") is None:
        qty, price = cmap.fields["quantity"], cmap.fields["unit_price"]
        exprs["amount"] = f"({number_expr(qty, types[qty])}) * ({number_expr(price, types[price])})"
        notes.append(f"amount computed as {cmap.fields['quantity']} × {cmap.fields['unit_price']}")
    if kind == "transactions" and cmap.source("amount") is None:
        checks += [
            (f"NOT {_flag('quantity')}", "missing quantity"),
            (f"NOT {_flag('unit_price')}", "missing unit_price"),
            ("isnan(amount) OR isinf(amount)", "amount is NaN or infinite"),
        ]
    return ParsePlan(_select(exprs, flags, checks, kind), notes)


def _number_checks(name: str) -> list[tuple[str, str]]:
    checks = [
        (f'{_flag(name)} AND "{name}" IS NULL', f"non-numeric {name}"),
        (f'isnan("{name}") OR isinf("{name}")', f"{name} is NaN or infinite"),
    ]
    if name == "amount":
        checks.insert(0, (f"NOT {_flag(name)}", "missing amount"))
    return checks


def _select(
    exprs: dict[str, str],
    flags: dict[str, str],
    checks: Sequence[tuple[str, str]],
    kind: str,
) -> str:
    inner = ",\n  ".join(f'{expr} AS "{name}"' for name, expr in {**exprs, **flags}.items())
    cases = "\n    ".join(f"WHEN {cond} THEN '{reason}'" for cond, reason in checks)
    reason = f"CASE\n    {cases}\n    ELSE NULL END"
    drop = f"EXCLUDE ({', '.join(flags)})" if flags else ""
    replace = ""
    if kind == "transactions":
        replace = (
            "REPLACE (coalesce(order_id, customer_id || '@' || "
            "strftime(\"timestamp\", '%Y-%m-%dT%H:%M:%S')) AS order_id)"
        )
    return (
        f"SELECT * {drop} {replace}, {reason} AS _reason FROM (\n"
        f"SELECT _line,\n  {inner}\nFROM _vs_src) AS p"
    )
