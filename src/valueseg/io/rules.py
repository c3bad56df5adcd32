"""Row rules: how each canonical column is parsed and why a row is quarantined.

For each kind this module builds one SELECT over the raw source table that yields the
typed canonical columns and ``_reason`` (NULL for a usable row, else the first rule the
row breaks). Reasons are short and stable: they are what ``rejected_rows.reason`` holds
and what the ingest summary counts.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import duckdb

from valueseg.io.columns import ColumnMap
from valueseg.io.parse import (
    ValueSQL,
    detect_timestamp_format,
    is_text,
    maybe_offset,
    needs_care,
    number_expr,
    text_expr,
    timestamp_expr,
)
from valueseg.io.sources import OpenedSource, _ident
from valueseg.store.schema import INPUT_COLUMNS, column_names, column_type

#: Canonical columns parsed as numbers, per kind.
NUMERIC = {
    k: tuple(c.name for c in cols if c.sql_type == "DOUBLE") for k, cols in INPUT_COLUMNS.items()
}
#: Canonical columns kept as text, per kind.
TEXT = {
    k: tuple(c.name for c in cols if c.sql_type == "VARCHAR") for k, cols in INPUT_COLUMNS.items()
}


@dataclass
class ParsePlan:
    """The SELECT that parses a source, and what was decided on the way.

    The SELECT is ``inner`` applied to the rows to read, wrapped in ``layers`` (pairs of
    text before and after it), so that it can read ``_vs_src`` or a part of it.
    ``columns`` are the canonical columns it yields besides ``_line`` and ``_reason``;
    canonical columns the source lacks are left out (they are NULL).
    """

    inner: str
    layers: tuple[tuple[str, str], ...] = ()
    notes: list[str] = field(default_factory=list)
    columns: tuple[str, ...] = ()

    def sql(self, source: str = "_vs_src") -> str:
        """The SELECT reading ``source``: ``_vs_src`` or a relation with its columns."""
        sql = f"{self.inner} FROM {source}"
        for head, tail in self.layers:
            sql = f"{head}{sql}{tail}"
        return sql


def _flag(name: str) -> str:
    """The column holding 'the raw value of canonical ``name`` is not empty'."""
    return f"_has_{name}"


@dataclass
class _Plan:
    """What :func:`plan_parse` gathers: values, flags, rules, computed values."""

    careful: set[str] = field(default_factory=set)  # source columns needing care
    raw: dict[str, str] = field(default_factory=dict)  # source column -> alias in the SQL
    values: dict[str, ValueSQL] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)  # canonical name -> raw alias
    checks: list[tuple[str, str]] = field(default_factory=list)  # (condition, reason)
    computed: dict[str, str] = field(default_factory=dict)  # name -> SQL over values
    notes: list[str] = field(default_factory=list)

    def alias(self, src: str) -> str:
        return self.raw.setdefault(src, f"_r{len(self.raw)}")


def care_checks(opened: OpenedSource, cmap: ColumnMap) -> dict[str, str]:
    """Source column -> SQL true for a value that needs the careful parse.

    When no value of a column needs it (one pass over the source tells), :func:`plan_parse`
    leaves the per-value test out: the source is parsed twice, so that pays.
    """
    if cmap.kind == "customers":  # few columns; customers plans are always careful
        return {}
    types = dict(zip(opened.columns, opened.types, strict=True))
    checks: dict[str, list[str]] = {}
    for name in TEXT[cmap.kind]:
        src = cmap.source(name)
        if src and is_text(types[src]):
            checks.setdefault(src, []).append(needs_care(src))
    src = cmap.source("timestamp")
    if src and is_text(types[src]):
        checks.setdefault(src, []).append(maybe_offset(src))
    return {src: " OR ".join(conds) for src, conds in checks.items()}


def plan_parse(
    con: duckdb.DuckDBPyConnection,
    opened: OpenedSource,
    cmap: ColumnMap,
    now_sql: str,
    careful: Collection[str] | None = None,
) -> ParsePlan:
    """Build the parse-and-check SELECT for ``opened`` mapped by ``cmap``.

    ``careful``: the source columns some value of which needs the careful parse (see
    :func:`care_checks`); by default all.
    """
    types = dict(zip(opened.columns, opened.types, strict=True))
    plan = _Plan(careful=set(opened.columns if careful is None else careful))
    kind = cmap.kind
    for name in TEXT[kind]:
        src = cmap.source(name)
        if src:
            expr = text_expr(plan.alias(src), types[src], src in plan.careful)
            plan.values[name] = ValueSQL(expr)
    plan.checks.append(("customer_id IS NULL", "missing customer_id"))
    if kind != "customers":
        _plan_timestamp(con, plan, cmap.fields["timestamp"], types, now_sql)
    if kind == "events":
        plan.values["event_type"] = ValueSQL(f"lower({plan.values['event_type'].fast})")
        plan.checks.append(("event_type IS NULL", "missing event_type"))
    for name in NUMERIC[kind]:
        src = cmap.source(name)
        if src is not None:
            plan.values[name] = number_expr(plan.alias(src), types[src])
            plan.flags[name] = plan.alias(src)
            plan.checks += _number_checks(name)
    if kind == "transactions" and cmap.source("amount") is None:
        plan.computed["amount"] = "quantity * unit_price"
        plan.notes.append(
            f"amount computed as {cmap.fields['quantity']} × {cmap.fields['unit_price']}"
        )
        plan.checks += [
            (f"NOT {_flag('quantity')}", "missing quantity"),
            (f"NOT {_flag('unit_price')}", "missing unit_price"),
            ("NOT isfinite(amount)", "amount is NaN or infinite"),
        ]
    return _select(plan, kind)


def _plan_timestamp(
    con: duckdb.DuckDBPyConnection, plan: _Plan, src: str, types: dict[str, str], now_sql: str
) -> None:
    fmt, ambiguous = (None, False)
    if is_text(types[src]):
        fmt, ambiguous = detect_timestamp_format(con, "_vs_src", src)
    if fmt and not ambiguous:
        plan.notes.append(f"timestamps in column '{src}' read with format {fmt}")
    if ambiguous:
        plan.notes.append(
            f"dates in column '{src}' fit both month-first and day-first; read as "
            f"{fmt}. If that is wrong, convert the column to ISO dates (YYYY-MM-DD)."
        )
    careful = src in plan.careful
    plan.values["timestamp"] = timestamp_expr(plan.alias(src), types[src], fmt, careful)
    plan.flags["timestamp"] = plan.alias(src)
    plan.checks += [
        (f"NOT {_flag('timestamp')}", "missing timestamp"),
        ('"timestamp" IS NULL', "unparseable timestamp"),
        (
            f'"timestamp" > {now_sql} + INTERVAL 1 DAY',
            "timestamp more than a day in the future",
        ),
    ]


def _number_checks(name: str) -> list[tuple[str, str]]:
    checks = [
        (f'{_flag(name)} AND "{name}" IS NULL', f"non-numeric {name}"),
        (f'NOT isfinite("{name}")', f"{name} is NaN or infinite"),
    ]
    if name == "amount":
        checks.insert(0, (f"NOT {_flag(name)}", "missing amount"))
    return checks


def _select(plan: _Plan, kind: str) -> ParsePlan:
    """Nest the SELECTs: raw columns renamed, fast values, slow-path inputs (only where
    the fast value is NULL), final values and flags, computed values, then the rules."""
    raw = ", ".join(f"{_ident(src)} AS {alias}" for src, alias in plan.raw.items())
    fast = ", ".join(f"{v.fast} AS {_ident(n)}" for n, v in plan.values.items())
    layers = [(f"SELECT *, {fast} FROM (", ") AS r")]
    slow = {n: v for n, v in plan.values.items() if v.prep is not None}
    if slow:
        preps = ", ".join(
            f"CASE WHEN {_ident(n)} IS NULL THEN {v.prep} END AS {_ident('_p_' + n)}"
            for n, v in slow.items()
        )
        layers.append((f"SELECT *, {preps} FROM (", ") AS f"))
    layers.append((f"SELECT _line, {', '.join(_finals(plan))} FROM (", ") AS s"))
    if plan.computed:
        added = ", ".join(f"{expr} AS {_ident(n)}" for n, expr in plan.computed.items())
        layers.append((f"SELECT *, {added} FROM (", ") AS v"))
    columns = [*plan.values, *plan.computed]
    missing = [n for n in column_names(kind) if n not in columns]
    if missing:  # NULL, as the rules may name them
        nulls = ", ".join(f"CAST(NULL AS {column_type(n)}) AS {_ident(n)}" for n in missing)
        layers.append((f"SELECT *, {nulls} FROM (", ") AS c"))
    drop = [*map(_flag, plan.flags), *missing]
    replace = ""
    if kind == "transactions":
        replace = (
            "REPLACE (coalesce(order_id, customer_id || '@' || "
            "strftime(\"timestamp\", '%Y-%m-%dT%H:%M:%S')) AS order_id)"
        )
        if "order_id" in missing:
            drop.remove("order_id")
            columns.append("order_id")
    exclude = f"EXCLUDE ({', '.join(map(_ident, drop))})" if drop else ""
    cases = "\n    ".join(f"WHEN {cond} THEN '{reason}'" for cond, reason in plan.checks)
    rules = f"SELECT * {exclude} {replace}, CASE\n    {cases}\n    ELSE NULL END AS _reason"
    layers.append((f"{rules} FROM (\n", "\n) AS p"))
    return ParsePlan(f"SELECT _line, {raw}", tuple(layers), plan.notes, tuple(columns))


def _finals(plan: _Plan) -> list[str]:
    """Each value, from its slow path where the fast one gave NULL; and each flag, which
    trims the raw text only where there is no value."""
    finals = [
        f"coalesce({_ident(n)}, {v.slow.replace('{p}', _ident('_p_' + n))}) AS {_ident(n)}"
        if v.prep is not None and v.slow is not None
        else _ident(n)
        for n, v in plan.values.items()
    ]
    finals += [
        f"CASE WHEN {_ident(n)} IS NOT NULL THEN true "
        f"ELSE nullif(trim(CAST({alias} AS VARCHAR)), '') IS NOT NULL END AS {_flag(n)}"
        for n, alias in plan.flags.items()
    ]
    return finals
