"""One currency per load: amounts in different currencies are never added up."""

from __future__ import annotations

import re

import duckdb

from valueseg.errors import InputError
from valueseg.io.carry import Carry
from valueseg.io.columns import ColumnMap
from valueseg.io.sources import OpenedSource, _ident


def check_pick(currency: str | None) -> str | None:
    """``--currency`` in upper case; refused unless it is a currency code or symbol."""
    if currency is None:
        return None
    code = currency.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}|[^\sA-Za-z0-9'\"]{1,3}", code):
        raise InputError(
            f"Cannot read --currency {currency!r}. Expected a currency code such as EUR, "
            "USD or GBP."
        )
    return code


def load_currency(
    con: duckdb.DuckDBPyConnection,
    opened: OpenedSource,
    cmap: ColumnMap,
    carry: Carry | None,
    pick: str | None,
) -> tuple[str | None, list[str]]:
    """The currency of the load's amounts, and what the report should say about it.

    Without a currency column, the currency is ``pick`` (None when not given). With one,
    the rows must be in one currency, or ``pick`` says which to keep: rows in another are
    quarantined with reason 'other currency'. Anything else is refused with the counts.
    """
    src = cmap.source("currency")
    if src is None:
        return pick, []
    raw = carry.raw(src) if carry is not None else _ident(src)
    join = carry.join if carry is not None else ""
    rows = con.execute(
        f"SELECT upper(nullif(trim(CAST({raw} AS VARCHAR)), '')) AS c, count(*) AS n "
        f"FROM _vs_src{join} GROUP BY c HAVING c IS NOT NULL ORDER BY n DESC, c"
    ).fetchall()
    counts = {str(c): int(n) for c, n in rows}
    listed = ", ".join(f"{c} {n:,} rows" for c, n in counts.items())
    if pick is not None and counts and pick not in counts:
        raise InputError(
            f"No rows of {opened.name} are in {pick} (--currency): its column '{src}' has "
            f"{listed}. Pass --currency {next(iter(counts))}, or one of the others."
        )
    if len(counts) > 1 and pick is None:
        first = next(iter(counts))
        raise InputError(
            f"{opened.name} has amounts in {len(counts)} currencies (column '{src}'): "
            f"{listed}. Expected one currency per load: amounts in different currencies "
            f"cannot be added up. Pass --currency {first} to load the {first} rows; the "
            "others are quarantined with reason 'other currency'."
        )
    if len(counts) > 1:
        others = sum(n for c, n in counts.items() if c != pick)
        return pick, [f"kept the {pick} rows; {others:,} rows in other currencies quarantined"]
    return (next(iter(counts)) if counts else pick), []
