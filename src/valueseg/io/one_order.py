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

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from valueseg.io.columns import resolve_columns
from valueseg.io.report import IngestReport
from valueseg.store import Store
from valueseg.store.lines import append_order_line, earlier_load, row_hash, stored_line_exists

__all__ = ["ORDER_FIELDS", "load_one_order", "plain_order"]

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
    given = {k: values[k] for k in ORDER_FIELDS if values.get(k) is not None}
    line = plain_order(given, now)
    if line is None:
        return None
    cmap = resolve_columns("transactions", list(given), _SOURCE)
    fingerprint = _fingerprint(store, given)
    before = earlier_load(store, "transactions", fingerprint)
    if before is not None:
        return IngestReport(
            _SOURCE, "transactions", 1, 0, 0, already_loaded=before, mapping=dict(cmap.fields)
        )
    if stored_line_exists(store, line):
        return None  # a duplicate, or a line that moves from kept_aside: ingest says which
    load_id = append_order_line(
        store,
        line,
        source=_SOURCE,
        fingerprint=fingerprint,
        mapping=cmap.fields,
        loaded_at=now,
    )
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
        mapping=dict(cmap.fields),
    )


def _fingerprint(store: Store, given: Mapping[str, Any]) -> str:
    """Ingest's fingerprint of a one-row source (valueseg.io.ingest._fingerprint)."""
    h = row_hash(store, given)
    digest = hashlib.sha256("\x1f".join(given).encode()).hexdigest()[:32]
    return f"transactions:1:{h % 1000000007}:{h}:{digest}"
