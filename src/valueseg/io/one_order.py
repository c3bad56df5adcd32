"""One posted order, loaded without ingest's SQL pipeline when ingest's rules are plain.

:func:`valueseg.io.ingest` loads a one-row DataFrame through some forty DuckDB statements
(sniffing formats and id kinds, parsing, checking, de-duplicating against the store,
bookkeeping): about a second on a store of 8M order lines. Most orders a shop's platform
posts are plain: an ISO time without an offset, ids without blanks at their ends, a
finite amount. For those, ingest's rules reduce to the few checks here, and the line is
appended by one parameterised INSERT with the load's row (:mod:`valueseg.store.lines`).

:func:`load_one_order` takes such an order, and gives ``None`` for anything else: text
ingest would trim or read with care, an id that looks like an e-mail address or a phone
number (ingest compares those normalised), a time it might read with an offset or a
format, a time more than a day ahead, a line stored before. The caller then loads the
row with ingest itself, so every row that ingest would quarantine is quarantined by
ingest, with its reason. The same content posted twice is refused as ingest refuses it:
the fingerprint is ingest's (tests/io/test_one_order.py compares the stored rows, loads
and answers of both paths on hostile rows).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Container, Mapping, Sequence
from concurrent.futures import Executor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, Protocol

from valueseg.io.columns import resolve_columns
from valueseg.io.report import IngestReport
from valueseg.store import Store
from valueseg.store.lines import DEDUP_COLUMNS
from valueseg.store.many_customers import (
    earlier_loads,
    insert_order_lines,
    lines_and_keys_of,
    row_hashes,
)

__all__ = [
    "ORDER_FIELDS",
    "CheckedOrders",
    "StagedLines",
    "append_checked",
    "assign_loads",
    "check_orders",
    "load_one_order",
    "load_orders",
    "load_orders_reading",
    "plain_order",
]

#: The fields a posted order may have, in the order ingest's DataFrame has them.
ORDER_FIELDS: Final = (
    "customer_id",
    "timestamp",
    "amount",
    "order_id",
    "product_id",
    "category",
    "channel",
)
_TEXT: Final = ("customer_id", "order_id", "product_id", "category", "channel")
#: What a plain cast reads as the same time ingest reads: a date, or a date and a time to
#: the second (a fraction up to microseconds), no zone (valueseg.io.parse.maybe_offset).
_ISO: Final = re.compile(r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d:\d\d(?:\.\d{1,6})?)?")
#: Ingest's phone-number test for ids (valueseg.io.ids).
_PHONE: Final = re.compile(r"\+?[0-9 ().-]*[0-9]")
_RETURN_ID: Final = re.compile(r"[Cc][0-9]+")
_SOURCE: Final = "DataFrame"


def _plain_text(value: str) -> bool:
    """Text ingest keeps as it is: not empty, no blank at either end (its ``edge_blank``:
    a first character before '!', a last one of space, tab, CR or LF), not an integral
    number written as a float (its ``float_text``: a '.' and a final '0')."""
    if not value or value[0] < "!" or value[-1] in " \t\r\n":
        return False
    return not ("." in value and value.endswith("0"))


def plain_order(values: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any] | None:
    """The stored line of an order ingest would accept as it is, or None (see the module).

    ``values``: the posted fields (None or absent: not given). ``now``: the moment of
    loading, naive UTC (by default the clock's).

    Examples
    --------
    >>> plain_order({"customer_id": "C1", "timestamp": "2024-03-01 10:00:00",
    ...              "amount": 12.5, "order_id": "O1"}, now=datetime(2024, 3, 2))
    ... # doctest: +NORMALIZE_WHITESPACE
    {'customer_id': 'C1', 'order_id': 'O1', 'timestamp': datetime.datetime(2024, 3, 1, 10, 0),
     'amount': 12.5, 'is_return': False}
    >>> plain_order({"customer_id": " C1", "timestamp": "2024-03-01", "amount": 1.0}) is None
    True
    """
    if set(values) - set(ORDER_FIELDS) or not isinstance(values.get("amount"), float):
        return None
    text = {k: values.get(k) for k in _TEXT if values.get(k) is not None}
    if not all(isinstance(v, str) and _plain_text(v) for v in text.values()):
        return None
    customer = text.get("customer_id")
    if customer is None or "@" in customer or _PHONE.fullmatch(customer):
        return None  # ingest may normalise it as an e-mail address or a phone number
    stamp = values.get("timestamp")
    if not isinstance(stamp, str) or not _ISO.fullmatch(stamp):
        return None
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return None  # ingest: 'unparseable timestamp'
    now = now or datetime.now(UTC).replace(tzinfo=None)
    if when > now + timedelta(days=1):
        return None  # ingest: 'timestamp more than a day in the future'
    amount = float(values["amount"])
    if amount != amount or amount in (float("inf"), float("-inf")):
        return None
    order = text.get("order_id") or f"{customer}@{when:%Y-%m-%dT%H:%M:%S}"
    line: dict[str, Any] = {"customer_id": customer, "order_id": order, "timestamp": when}
    line["amount"] = amount
    line |= {k: text[k] for k in ("product_id", "category", "channel") if k in text}
    line["is_return"] = amount < 0 or bool(_RETURN_ID.fullmatch(order))
    return line


def load_one_order(
    store: Store, values: Mapping[str, Any], now: datetime | None = None
) -> IngestReport | None:
    """Load one posted order as :func:`valueseg.io.ingest` would load it as a one-row
    DataFrame of ``values`` (fields in :data:`ORDER_FIELDS` order, None left out); None
    when the order is not plain (see the module): load it with ingest then."""
    return load_orders(store, [values], now)[0]


def load_orders(
    store: Store, orders: Sequence[Mapping[str, Any]], now: datetime | None = None
) -> list[IngestReport | None]:
    """Load posted orders as :func:`load_one_order` loads each (a load of its own each,
    the same answers), with a few statements for them all: the batch of orders the web
    app gathers (:mod:`valueseg.web.batcher`).

    Two orders of one customer in ``orders`` are refused (:class:`ValueError`): the second
    could repeat the first, which the store does not hold yet when both are checked.
    """
    return load_orders_reading(store, orders, (), now)[0]


def load_orders_reading(
    store: Store,
    orders: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    now: datetime | None = None,
) -> tuple[list[IngestReport | None], dict[str, list[tuple[Any, ...]]]]:
    """:func:`load_orders`, and the order lines (``columns`` of ``transactions``, oldest
    first) after the load of each customer whose order it answered: read with the lines
    the duplicate check reads (one statement), the new line added here. A customer whose
    order is left to ingest (None) is not among them: ingest may store it otherwise.

    It is :func:`check_orders` (the reads) then :func:`append_checked` (the writes), in
    one transaction."""
    checked = check_orders(store, orders, columns, now)
    if checked.new:
        with store.transaction():
            append_checked(store, checked)
    return checked.reports, checked.lines_after


@dataclass
class CheckedOrders:
    """Posted orders checked against the store and not written yet (:func:`check_orders`).

    ``reports``: each order's answer so far: an order loaded before has its report
    (``already_loaded``), one to append (its index in ``new``) gets its report from
    :func:`append_checked`, and None is left to ingest. ``lines_after``: customer id ->
    their lines once the new ones are appended (``columns`` of ``transactions``, oldest
    first), for each customer whose order is answered here."""

    reports: list[IngestReport | None]
    new: list[int]
    lines: list[dict[str, Any] | None]
    prints: dict[int, str]
    maps: dict[int, Mapping[str, str]]
    lines_after: dict[str, list[tuple[Any, ...]]]
    now: datetime | None

    def timestamp(self, i: int) -> datetime:
        """Order ``i``'s stored time (it is one of ``new``)."""
        return (self.lines[i] or {})["timestamp"]


class StagedLines(Protocol):
    """Order lines stored and not in ``transactions`` yet (the web app's staged orders,
    :mod:`valueseg.web.staging`): a check reads them beside the store's."""

    def loads_of(self, fingerprints: Sequence[str]) -> dict[str, int]:
        """Fingerprint -> the staged load with it."""
        ...

    def lines_of(
        self, customers: Sequence[str], keys: Sequence[str], columns: Sequence[str]
    ) -> tuple[set[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]]]:
        """The staged lines' de-duplication ``keys`` and each customer's staged lines
        (``columns``), as :func:`~valueseg.store.many_customers.lines_and_keys_of`."""
        ...


def check_orders(
    store: Store,
    orders: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    now: datetime | None = None,
    *,
    side: tuple[Executor, Store] | None = None,
    staged: StagedLines | None = None,
    aside: Container[str] | None = None,
) -> CheckedOrders:
    """The reads of :func:`load_orders_reading`, which write nothing: which orders are
    plain, loaded before, or new, and the customers' lines with the new ones added.

    The web app scores a batch of orders from what this read, then appends them with
    :func:`append_checked`, both under its write lock: nothing may change the customers'
    lines or loads between the two. ``side``: an executor and a second connection to the
    same database, on which the customers' lines are read while ``store`` finds the
    orders' fingerprints and earlier loads (DuckDB runs a statement without Python's
    lock, so the two reads overlap); nothing may write meanwhile. ``staged``: lines and
    loads stored outside ``transactions`` and ``loads`` (staged), read with them; the web
    app moves staged rows into those tables beside its batches, and reads again when a
    move committed during the check (:meth:`valueseg.web.staging.StagedOrders.read`).
    ``aside``: the customers with lines in ``kept_aside``, where the caller knows them
    (:func:`~valueseg.store.many_customers.aside_customers`; None: that table is read)."""
    givens = [{k: v[k] for k in ORDER_FIELDS if v.get(k) is not None} for v in orders]
    lines = [plain_order(given, now) for given in givens]
    plain = [i for i, line in enumerate(lines) if line is not None]
    customers = [str(givens[i]["customer_id"]) for i in plain]
    if len(set(customers)) < len(customers):
        raise ValueError("load_orders takes one order per customer")
    out: list[IngestReport | None] = [None] * len(orders)
    checked = CheckedOrders(out, [], lines, {}, {}, {}, now)
    if not plain:
        return checked
    read_aside = aside is None or any(c in aside for c in customers)
    reading = None
    if side is not None:
        pool, other = side
        reading = pool.submit(
            lines_and_keys_of, other, customers, DEDUP_COLUMNS, columns, aside=read_aside
        )
    try:
        hashes = row_hashes(store, [givens[i] for i in plain])
        checked.prints = {i: _print(givens[i], h) for i, h in zip(plain, hashes, strict=True)}
        before = earlier_loads(store, "transactions", list(checked.prints.values()))
    finally:  # the side connection is the caller's again only once its read is over
        if reading is not None:
            wait([reading])
    if reading is not None:
        stored, had = reading.result()
    else:
        stored, had = lines_and_keys_of(store, customers, DEDUP_COLUMNS, columns, aside=read_aside)
    if staged is not None:
        before = staged.loads_of(list(checked.prints.values())) | before  # the first load
        keys, more = staged.lines_of(customers, DEDUP_COLUMNS, columns)
        stored |= keys
        for customer, rows in more.items():
            had[customer] = sorted([*had.get(customer, []), *rows], key=_line_order(columns))
    checked.maps = {i: _mapping(tuple(givens[i])) for i in plain}
    for i in plain:
        if checked.prints[i] in before:
            out[i] = IngestReport(
                _SOURCE, "transactions", 1, 0, 0, already_loaded=before[checked.prints[i]],
                mapping=dict(checked.maps[i]),
            )  # fmt: skip
        elif _key(lines[i]) not in stored:  # else a duplicate, or a line that moves from
            checked.new.append(i)  # kept_aside: ingest says which
    for i in plain:
        if out[i] is not None or i in checked.new:
            customer = str(givens[i]["customer_id"])
            after = checked.lines_after[customer] = list(had.get(customer, []))
            if i in checked.new:  # as DuckDB returns it, in line_rows_of's order
                after.append(tuple((lines[i] or {}).get(c) for c in columns))
                after.sort(key=_line_order(columns))
    return checked


def append_checked(store: Store, checked: CheckedOrders, after: int | None = None) -> None:
    """Append the new lines of ``checked`` (inside the caller's transaction), and set
    their reports. ``after``: a load id seen before (see
    :func:`~valueseg.store.many_customers.insert_order_lines`)."""
    new = checked.new
    load_ids = insert_order_lines(
        store,
        [checked.lines[i] or {} for i in new],
        source=_SOURCE,
        fingerprints=[checked.prints[i] for i in new],
        mappings=[checked.maps[i] for i in new],
        loaded_at=checked.now,
        after=after,
    )
    _set_reports(checked, load_ids)


def assign_loads(checked: CheckedOrders, first: int) -> list[dict[str, Any]]:
    """The new lines of ``checked`` as stored, each with its load's id from ``first`` on
    and the rest of its load's row (``load`` -> the ``loads`` row), their reports set:
    what the web app stages instead of appending (:mod:`valueseg.store.staged`)."""
    ids = list(range(first, first + len(checked.new)))
    when = checked.now or datetime.now(UTC).replace(tzinfo=None)
    out = []
    for i, load_id in zip(checked.new, ids, strict=True):
        load = {"load_id": load_id, "source": _SOURCE, "kind": "transactions"}
        load |= {"fingerprint": checked.prints[i], "rows_read": 1, "accepted": 1}
        load |= {"rejected": 0, "mapping": json.dumps(dict(checked.maps[i]))}
        load |= {"loaded_at": when, "currency": None}
        out.append({**(checked.lines[i] or {}), "load_id": load_id, "line": 1, "load": load})
    _set_reports(checked, ids)
    return out


def _set_reports(checked: CheckedOrders, load_ids: Sequence[int]) -> None:
    for i, load_id in zip(checked.new, load_ids, strict=True):
        checked.reports[i] = _report(checked.lines[i] or {}, load_id, checked.maps[i])


def _line_order(columns: Sequence[str]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    at = [list(columns).index(c) for c in ("timestamp", "order_id") if c in columns]
    return lambda row: tuple(row[i] for i in at)


@functools.lru_cache(maxsize=64)
def _mapping(fields: tuple[str, ...]) -> Mapping[str, str]:
    """Ingest's column mapping of a posted order with these fields (a few shapes recur;
    the mapping's name matching cost a quarter of a millisecond an order)."""
    return MappingProxyType(dict(resolve_columns("transactions", list(fields), _SOURCE).fields))


def _key(line: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """The line's de-duplication key as DuckDB returns a stored line's (missing: None)."""
    return tuple((line or {}).get(k) for k in DEDUP_COLUMNS)


def _report(line: Mapping[str, Any], load_id: int, mapping: Mapping[str, str]) -> IngestReport:
    amount, is_return = line["amount"], line["is_return"]
    return IngestReport(
        _SOURCE,
        "transactions",
        1,
        1,
        0,
        load_id=load_id,
        first_timestamp=line["timestamp"],
        last_timestamp=line["timestamp"],
        customers=1,
        orders=0 if is_return else 1,
        revenue=0.0 if is_return else amount,
        returns=int(is_return),
        net_revenue=amount,
        mapping=dict(mapping),
    )


def _print(given: Mapping[str, Any], h: int) -> str:
    """Ingest's fingerprint of a one-row source (valueseg.io.ingest._fingerprint), from
    DuckDB's hash ``h`` of the row."""
    digest = hashlib.sha256("\x1f".join(given).encode()).hexdigest()[:32]
    return f"transactions:1:{h % 1000000007}:{h}:{digest}"
