"""Row rules: how each canonical column is parsed and why a row is quarantined.

For each kind this module builds one SELECT over the raw source table that yields the
typed canonical columns and ``_reason`` (NULL for a usable row, else the first rule the
row breaks). Reasons are short and stable: they are what ``rejected_rows.reason`` holds
and what the ingest summary counts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import duckdb

from valueseg.io.carry import Carry
from valueseg.io.columns import ColumnMap
from valueseg.io.ids import id_modes, normalised_id
from valueseg.io.parse import (
    _INTEGER,
    _NUMERIC,
    ValueSQL,
    describe_format,
    detect_number_format,
    detect_timestamp_format,
    is_text,
    maybe_offset,
    needs_care,
    number_expr,
    text_expr,
    timestamp_expr,
)
from valueseg.io.sources import OpenedSource, _ident
from valueseg.io.status import meaning_sql, status_sql
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

    The SELECT is ``inner`` applied to the rows to read (and ``join``), wrapped in
    ``layers`` (pairs of text before and after it), so that it can read ``_vs_src`` or a
    part of it. ``columns`` are the canonical columns it yields besides ``_line`` and
    ``_reason``; canonical columns the source lacks are left out (they are NULL).
    ``extras`` are the other columns it yields: ``_carried`` (bits of the fields taken
    from the order's first line, see :mod:`valueseg.io.carry`), ``_meaning`` (of the
    status), ``_aside`` (true for an order kept aside) and ``_why`` (its reason).
    """

    inner: str
    layers: tuple[tuple[str, str], ...] = ()
    notes: list[str] = field(default_factory=list)
    columns: tuple[str, ...] = ()
    join: str = ""
    extras: tuple[str, ...] = ()
    id_modes: tuple[str, ...] = ()

    def sql(self, source: str = "_vs_src") -> str:
        """The SELECT reading ``source``: ``_vs_src`` or a relation with its columns."""
        sql = f"{self.inner} FROM {source}{self.join}"
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
    carry: Carry | None = None
    statuses: Mapping[str, str] | None = None  # normalised status -> meaning
    id_modes: tuple[str, ...] = ()

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
    *,
    carry: Carry | None = None,
    statuses: Mapping[str, str] | None = None,
    currency: str | None = None,
) -> ParsePlan:
    """Build the parse-and-check SELECT for ``opened`` mapped by ``cmap``.

    ``careful``: the source columns some value of which needs the careful parse (see
    :func:`care_checks`); by default all. ``carry``: order-level fields taken from the
    order's first line. ``statuses``: normalised status -> meaning
    (:func:`valueseg.io.status.load_statuses`), used when the source has a status or a
    cancel time. ``currency``: the one currency to keep; rows in another are quarantined.
    """
    types = dict(zip(opened.columns, opened.types, strict=True))
    plan = _Plan(careful=set(opened.columns if careful is None else careful), carry=carry)
    kind = cmap.kind
    for name in TEXT[kind]:
        src = cmap.source(name)
        if src:
            expr = text_expr(plan.alias(src), types[src], src in plan.careful)
            plan.values[name] = ValueSQL(expr)
    _plan_ids(con, plan, cmap, types)
    plan.checks.append(("customer_id IS NULL", "missing customer_id"))
    if kind != "customers":
        _plan_timestamp(con, plan, cmap.fields["timestamp"], types, now_sql)
    if kind == "transactions":
        _plan_order_fields(con, plan, cmap, types, statuses, currency)
    if kind == "events":
        plan.values["event_type"] = ValueSQL(f"lower({plan.values['event_type'].fast})")
        plan.checks.append(("event_type IS NULL", "missing event_type"))
    for name in NUMERIC[kind]:
        src = cmap.source(name)
        if src is not None:
            plan.values[name] = number_expr(plan.alias(src), types[src])
            plan.flags[name] = plan.alias(src)
            plan.checks += _number_checks(name)
    if kind == "transactions" and currency is not None and cmap.source("currency"):
        plan.checks.append((f"currency <> '{currency}'", "other currency"))
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


def _plan_ids(
    con: duckdb.DuckDBPyConnection, plan: _Plan, cmap: ColumnMap, types: dict[str, str]
) -> None:
    """Customer ids that are e-mail addresses or phone numbers are compared normalised."""
    src = cmap.source("customer_id")
    if src is None or not is_text(types[src]):
        return
    plan.id_modes = id_modes(con, "_vs_src", src)
    if plan.id_modes:
        value = plan.values["customer_id"].fast
        plan.values["customer_id"] = ValueSQL(normalised_id(value, plan.id_modes))


def _timestamp_format(
    con: duckdb.DuckDBPyConnection, plan: _Plan, src: str, types: dict[str, str]
) -> str | None:
    """The format of a text (or numeric) timestamp column, with a note saying it."""
    fmt, ambiguous = (None, False)
    if is_text(types[src]):
        fmt, ambiguous = detect_timestamp_format(con, "_vs_src", src)
    elif types[src].upper().split("(")[0] in (*_NUMERIC, *_INTEGER):
        fmt = detect_number_format(con, "_vs_src", src)
    if fmt and not ambiguous:
        plan.notes.append(f"timestamps in column '{src}' {describe_format(fmt)}")
    if ambiguous:
        plan.notes.append(
            f"dates in column '{src}' fit both month-first and day-first; read as "
            f"{fmt}. If that is wrong, convert the column to ISO dates (YYYY-MM-DD)."
        )
    return fmt


def _plan_timestamp(
    con: duckdb.DuckDBPyConnection, plan: _Plan, src: str, types: dict[str, str], now_sql: str
) -> None:
    fmt = _timestamp_format(con, plan, src, types)
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


def _plan_order_fields(
    con: duckdb.DuckDBPyConnection,
    plan: _Plan,
    cmap: ColumnMap,
    types: dict[str, str],
    statuses: Mapping[str, str] | None,
    currency: str | None,
) -> None:
    """The cancel time, what the status means, and the one currency kept."""
    src = cmap.source("cancelled_at")
    if src is not None:
        fmt = _timestamp_format(con, plan, src, types)
        plan.values["cancelled_at"] = timestamp_expr(plan.alias(src), types[src], fmt)
        plan.flags["cancelled_at"] = plan.alias(src)
    if src is not None or cmap.source("status") is not None:
        plan.statuses = statuses or {}
    if cmap.source("currency") is not None:
        plan.values["currency"] = ValueSQL(f"upper({plan.values['currency'].fast})")


def _meaning_layers(plan: _Plan) -> list[tuple[str, str]]:
    """What the status means (``_meaning``), whether the order is kept aside (``_aside``)
    and why (``_why``: 'cancelled' where a cancel time is set, else the status)."""
    if plan.statuses is None:
        return []
    cancelled = _flag("cancelled_at") if "cancelled_at" in plan.flags else "false"
    meaning = meaning_sql("_st", plan.statuses)
    return [
        (f"SELECT *, {status_sql('status')} AS _st FROM (", ") AS m0"),
        (
            f"SELECT * EXCLUDE (_st), CASE WHEN {cancelled} THEN 'not_purchase' "
            f"ELSE {meaning} END AS _meaning, "
            f"CASE WHEN {cancelled} THEN 'cancelled' ELSE _st END AS _why FROM (",
            ") AS m1",
        ),
        ("SELECT *, coalesce(_meaning = 'not_purchase', false) AS _aside FROM (", ") AS m2"),
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
    carry = plan.carry
    raw = ", ".join(
        f"{carry.raw(src) if carry else _ident(src)} AS {alias}" for src, alias in plan.raw.items()
    )
    extras: list[str] = []
    if carry is not None:
        raw += f", {carry.carried()} AS _carried"
        extras.append("_carried")
    fast = ", ".join(f"{v.fast} AS {_ident(n)}" for n, v in plan.values.items())
    layers = [(f"SELECT *, {fast} FROM (", ") AS r")]
    slow = {n: v for n, v in plan.values.items() if v.prep is not None}
    if slow:
        preps = ", ".join(
            f"CASE WHEN {_ident(n)} IS NULL THEN {v.prep} END AS {_ident('_p_' + n)}"
            for n, v in slow.items()
        )
        layers.append((f"SELECT *, {preps} FROM (", ") AS f"))
    kept = "".join(f", {e}" for e in extras)
    layers.append((f"SELECT _line{kept}, {', '.join(_finals(plan))} FROM (", ") AS s"))
    if plan.computed:
        added = ", ".join(f"{expr} AS {_ident(n)}" for n, expr in plan.computed.items())
        layers.append((f"SELECT *, {added} FROM (", ") AS v"))
    columns = [*plan.values, *plan.computed]
    missing = [n for n in column_names(kind) if n not in columns]
    if missing:  # NULL, as the rules may name them
        nulls = ", ".join(f"CAST(NULL AS {column_type(n)}) AS {_ident(n)}" for n in missing)
        layers.append((f"SELECT *, {nulls} FROM (", ") AS c"))
    meaning = _meaning_layers(plan)
    layers += meaning
    if meaning:
        extras += ["_meaning", "_why", "_aside"]
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
    return ParsePlan(
        f"SELECT _line, {raw}",
        tuple(layers),
        plan.notes,
        tuple(columns),
        join=carry.join if carry else "",
        extras=tuple(extras),
        id_modes=plan.id_modes,
    )


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
