"""What one load did, in numbers a person can check."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    from valueseg.io.purchases import Written


@dataclass
class IngestReport:
    """The outcome of loading one source.

    ``rows_read == accepted + rejected`` always holds; ``rejected_by_reason`` sums to
    ``rejected``. Of the accepted lines, ``kept_aside`` are lines of orders that are not
    purchases (table ``kept_aside``; ``kept_aside_by_reason``: reason -> orders, amount).
    ``refunds`` refunded orders got a return row of ``refunded`` in all. ``revenue`` is
    what the purchases came to, ``net_revenue`` that less returns and refunds. When the
    same content was loaded before, nothing is written and ``already_loaded`` names that
    earlier load.
    """

    source: str
    kind: str
    rows_read: int
    accepted: int
    rejected: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    load_id: int | None = None
    already_loaded: int | None = None
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    customers: int = 0
    orders: int = 0
    revenue: float = 0.0
    returns: int = 0
    net_revenue: float = 0.0
    currency: str | None = None
    kept_aside: int = 0
    kept_aside_by_reason: dict[str, tuple[int, float]] = field(default_factory=dict)
    refunds: int = 0
    refunded: float = 0.0
    unknown_statuses: dict[str, int] = field(default_factory=dict)
    ids_merged: int = 0
    id_modes: tuple[str, ...] = ()
    offsets: int = 0
    carried: dict[str, int] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy."""
        out = dict(self.__dict__)
        for key in ("first_timestamp", "last_timestamp"):
            value = out[key]
            out[key] = value.isoformat() if value is not None else None
        return out

    def money(self, amount: float) -> str:
        """An amount as the report writes it, with the load's currency.

        Examples
        --------
        >>> IngestReport("o.csv", "transactions", 1, 1, 0, currency="EUR").money(6512.3)
        '6,512.30 EUR'
        """
        return f"{amount:,.2f}" + (f" {self.currency}" if self.currency else "")

    def __str__(self) -> str:
        if self.already_loaded is not None:
            return f"{self.source}: already loaded as load {self.already_loaded}; nothing changed."
        text = (
            f"{self.source} ({self.kind}): {self.rows_read:,} rows read, "
            f"{self.accepted:,} accepted, {self.rejected:,} rejected"
        )
        if self.rejected_by_reason:
            reasons = "; ".join(f"{r}: {n:,}" for r, n in self.rejected_by_reason.items())
            text += f" ({reasons})"
        return text + "."

    def status_lines(self) -> list[str]:
        """The purchases, the orders kept aside and the refunds, one line each.

        Examples
        --------
        >>> r = IngestReport("o.csv", "transactions", 9, 9, 0, orders=3, revenue=90.0,
        ...     currency="EUR", kept_aside=2, kept_aside_by_reason={"cancelled": (1, 20.0)})
        >>> r.status_lines()
        ['purchases: 3 orders, 90.00 EUR', '1 cancelled order kept aside, 20.00 EUR (2 lines)']
        """
        lines = [f"purchases: {self.orders:,} {_orders(self.orders)}, {self.money(self.revenue)}"]
        if self.refunds:
            lines.append(
                f"refunded: {self.refunds:,} {_orders(self.refunds)}, "
                f"{self.money(self.refunded)} netted as return rows "
                f"(net revenue {self.money(self.net_revenue)})"
            )
        if self.kept_aside_by_reason:
            parts = [
                f"{n:,} {reason} {_orders(n)}" + f" kept aside, {self.money(amount)}"
                for reason, (n, amount) in self.kept_aside_by_reason.items()
            ]
            lines.append("; ".join(parts) + f" ({_count(self.kept_aside, 'line')})")
        if self.unknown_statuses:
            listed = ", ".join(f"'{s}' {n:,}" for s, n in self.unknown_statuses.items())
            first = next(iter(self.unknown_statuses))
            lines.append(
                f"statuses valueseg does not know, counted as purchases (orders): {listed}. "
                f'If that is wrong, pass --status "{first}=not_purchase" (or refunded, '
                "partially_refunded)."
            )
        return lines

    def normalised_lines(self) -> list[str]:
        """What was written differently from the export: times, ids, carried fields."""
        from valueseg.io.ids import describe

        lines = []
        if self.offsets:
            lines.append(f"{self.offsets:,} times with a UTC offset converted to UTC")
        if self.ids_merged or self.id_modes:
            lines.append(describe(self.id_modes, self.ids_merged))
        if self.carried:
            fields = ", ".join(f"{name} {n:,}" for name, n in self.carried.items())
            lines.append(f"lines with blanks filled from their order's first line: {fields}")
        return lines


def _orders(n: int) -> str:
    return "order" if n == 1 else "orders"


def _count(n: int, word: str) -> str:
    """'1 line', '2 lines'."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def add_transactions_summary(
    con: duckdb.DuckDBPyConnection, report: IngestReport, written: Written | None
) -> None:
    """The orders kept aside by load ``report.load_id``, and what writing it noted."""
    rows = con.execute(
        "SELECT reason, count(DISTINCT order_id), sum(amount), count(*) FROM kept_aside "
        "WHERE load_id = ? GROUP BY reason ORDER BY 2 DESC, 1",
        [report.load_id],
    ).fetchall()
    report.kept_aside_by_reason = {str(r): (int(n), float(a)) for r, n, a, _ in rows}
    report.kept_aside = sum(int(r[3]) for r in rows)
    if written is None:
        return
    report.unknown_statuses = written.unknown_statuses
    for table, n in written.moved.items():
        report.notes.append(
            f"{_count(n, 'line')} stored in {table} by an earlier load moved: the order's "
            "status changed"
        )
    if written.refunds_replaced:
        report.notes.append(
            f"{_count(written.refunds_replaced, 'refund')} loaded before replaced by this "
            "export's amounts"
        )
    if written.refunds_capped:
        report.notes.append(
            f"{_count(written.refunds_capped, 'refund')} more than the order's lines "
            "(shipping or taxes refunded too) counted up to the order's lines"
        )
    if written.partial_without_amount:
        report.notes.append(
            f"{_count(written.partial_without_amount, 'partially refunded order')} without a "
            "refunded amount: no refund netted. Pass --map refund=COLUMN to read the amount."
        )
