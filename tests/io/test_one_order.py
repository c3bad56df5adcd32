"""The one-order fast path stores, refuses and counts exactly as ingest does."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valueseg.io import ingest
from valueseg.io.one_order import (
    ORDER_FIELDS,
    check_orders,
    load_one_order,
    load_orders,
    load_orders_reading,
    plain_order,
)
from valueseg.io.report import IngestReport
from valueseg.store import Store
from valueseg.store.many_customers import aside_customers, line_rows_of
from valueseg.store.web import LINE_COLUMNS, request_store

NOW = datetime(2024, 3, 10, 12, 0)
_BASE = {"customer_id": "C1", "timestamp": "2024-03-01 10:00:00", "amount": 12.5, "order_id": "O1"}


def _seeded() -> Store:
    """A store with a plain line, and a cancelled order kept aside."""
    store = Store(":memory:")
    ingest(pd.DataFrame([_BASE]), db=store, now=NOW)
    aside = {**_BASE, "order_id": "O-aside", "status": "cancelled"}
    ingest(pd.DataFrame([aside]), db=store, now=NOW)
    return store


def _frame(values: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([{k: values[k] for k in ORDER_FIELDS if values.get(k) is not None}])


def _state(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "transactions": "SELECT * FROM transactions ORDER BY load_id, line, order_id",
        "kept_aside": "SELECT * FROM kept_aside ORDER BY load_id, line",
        "loads": "SELECT * FROM loads ORDER BY load_id",
        "rejected": "SELECT * FROM rejected_rows ORDER BY load_id, line",
    }
    return {name: store.con.execute(sql).fetchall() for name, sql in queries.items()}


def _answer(report: IngestReport) -> tuple[Any, ...]:
    return (
        report.rows_read,
        report.accepted,
        report.rejected,
        report.rejected_by_reason,
        report.already_loaded,
        report.load_id,
        report.last_timestamp,
        report.mapping,
    )


def _both(values: dict[str, Any]) -> tuple[bool, tuple[Any, ...], tuple[Any, ...], Store, Store]:
    """Load ``values`` by the fast path (ingest where it declines) and by ingest alone."""
    fast, slow = _seeded(), _seeded()
    took = load_one_order(fast, values, NOW)
    report = took or ingest(_frame(values), db=fast, now=NOW)
    expected = _answer(ingest(_frame(values), db=slow, now=NOW))
    return took is not None, _answer(report), expected, fast, slow


HOSTILE = [
    {},
    {"customer_id": " C1"},
    {"customer_id": "C1 "},
    {"customer_id": "C1\t"},
    {"customer_id": "\x01C1"},
    {"customer_id": "\u00a0C2"},
    {"customer_id": "17850.0"},
    {"customer_id": "17850.5"},
    {"customer_id": "Anna@Example.org"},
    {"customer_id": "+49 170 123-4567"},
    {"customer_id": "12345678"},
    {"customer_id": "C1;DROP TABLE loads"},
    {"customer_id": "' OR 1=1 --"},
    {"customer_id": "é-ü"},
    {"timestamp": "2024-03-01"},
    {"timestamp": "2024-03-01T10:00:00"},
    {"timestamp": "2024-03-01 10:00:00.5"},
    {"timestamp": "2024-03-01 10:00:00.1234567"},
    {"timestamp": "2024-02-30 10:00:00"},
    {"timestamp": "2024-13-01 10:00:00"},
    {"timestamp": "2024-03-01 24:00:00"},
    {"timestamp": "2024-03-01T10:00:00Z"},
    {"timestamp": "2024-03-01 10:00:00+02:00"},
    {"timestamp": "2024-03-01 10:00"},
    {"timestamp": "03/01/2024 10:00"},
    {"timestamp": " 2024-03-01 10:00:00"},
    {"timestamp": "yesterday-ish"},
    {"timestamp": "2024-03-11 11:59:59"},
    {"timestamp": "2024-03-11 12:00:01"},
    {"timestamp": "2099-01-01 00:00:00"},
    {"timestamp": "0001-01-01 00:00:00"},
    {"amount": -5.0},
    {"amount": 0.0},
    {"amount": 1e308},
    {"order_id": None},
    {"order_id": "C123"},
    {"order_id": "c9"},
    {"order_id": "C12x"},
    {"order_id": "O.10"},
    {"order_id": " O2"},
    {"order_id": "O-aside"},
    {"product_id": ""},
    {"product_id": "P1"},
    {"category": " shoes"},
    {"category": "shoes", "channel": "web"},
    {"channel": "web\n"},
    {"order_id": "O1"},  # the seeded load again: loaded before
    {"order_id": "O1", "channel": "web"},  # the seeded line in another load: a duplicate
    {"order_id": "O1", "amount": 12.50001},
]


@pytest.mark.parametrize("change", HOSTILE, ids=[repr(c) for c in HOSTILE])
def test_the_fast_path_stores_and_refuses_as_ingest(change: dict[str, Any]) -> None:
    values = {**_BASE, "order_id": "O2", **change}
    took, answer, expected, fast, slow = _both(values)
    assert answer == expected
    assert _state(fast) == _state(slow)
    if took:  # only what ingest accepts as it is, or a load it has seen
        assert (expected[1], expected[2]) == (1, 0) or expected[4] is not None


@pytest.mark.parametrize(
    "change",
    [{}, {"timestamp": "2024-03-01"}, {"amount": -5.0}, {"order_id": None}, {"order_id": "C9"},
     {"product_id": "P1", "category": "shoes", "channel": "web"}],
)  # fmt: skip
def test_plain_orders_take_the_fast_path_and_a_repeat_is_refused_as_loaded(
    change: dict[str, Any],
) -> None:
    values = {**_BASE, "order_id": "O2", **change}
    took, answer, expected, fast, slow = _both(values)
    assert took and answer == expected and _state(fast) == _state(slow)
    again = load_one_order(fast, values, NOW)
    assert again is not None
    assert _answer(again) == _answer(ingest(_frame(values), db=slow, now=NOW))
    assert again.already_loaded == answer[5]
    assert _state(fast) == _state(slow)


def test_a_batch_is_loaded_as_ingest_loads_each_order() -> None:
    """load_orders takes what load_one_order takes, one load each; ingest loads the rest."""
    batch = [
        {**_BASE, "order_id": "O2", **change, "customer_id": f"K{i}"}
        for i, change in enumerate(HOSTILE)
        if "customer_id" not in change
    ]
    seen = {**_BASE, "customer_id": "C7"}  # loaded before the batch
    batch += [
        seen,
        {**_BASE, "channel": "web"},  # the seeded line again, in another load: a duplicate
        {**_BASE, "customer_id": " C9"},  # text ingest trims
        {**_BASE, "customer_id": "a@b.org"},  # an id ingest normalises
    ]
    fast, slow = _seeded(), _seeded()
    for store in (fast, slow):
        ingest(_frame(seen), db=store, now=NOW)
    took, lines = load_orders_reading(fast, batch, LINE_COLUMNS, NOW)
    answered = [str(batch[i]["customer_id"]) for i, r in enumerate(took) if r is not None]
    assert sorted(lines) == sorted(answered)  # the lines read and added: as stored
    assert lines == line_rows_of(fast, answered, LINE_COLUMNS)
    assert len(took) == len(batch)
    assert sum(r is not None for r in took) >= 20 and took[-3:] == [None, None, None]
    assert took[-4] is not None and took[-4].already_loaded == 3  # the load before
    answers: dict[int, tuple[Any, ...]] = {}
    for i, report in enumerate(took):  # what the batch declined: ingest, in order
        answers[i] = _answer(report or ingest(_frame(batch[i]), db=fast, now=NOW))
    expected: dict[int, tuple[Any, ...]] = {}
    for i in [i for i, r in enumerate(took) if r is not None] + [
        i for i, r in enumerate(took) if r is None
    ]:  # ingest alone, the same orders in the same order of loads
        expected[i] = _answer(ingest(_frame(batch[i]), db=slow, now=NOW))
    assert answers == expected
    assert _state(fast) == _state(slow)


def test_lines_read_on_a_side_connection_check_the_same() -> None:
    """check_orders with ``side`` (the customers' lines read on a second connection in
    another thread, as the web app's batches do) finds what it finds on one connection:
    loaded before, duplicates (the seeded line, the line kept aside), new, and the lines."""
    batch = [
        {**_BASE, "order_id": "O2", **change, "customer_id": f"K{i}"}
        for i, change in enumerate(HOSTILE)
        if "customer_id" not in change
    ]
    batch += [
        {**_BASE, "customer_id": "C7"},  # loaded before the batch
        {**_BASE, "channel": "web"},  # the seeded line again: a duplicate
        {**_BASE, "customer_id": "C8", "order_id": "O-aside"},
    ]
    store = _seeded()
    ingest(_frame({**_BASE, "customer_id": "C7"}), db=store, now=NOW)
    alone = check_orders(store, batch, LINE_COLUMNS, NOW)
    with ThreadPoolExecutor(1) as pool:
        side = request_store(store)
        beside = check_orders(store, batch, LINE_COLUMNS, NOW, side=(pool, side))
        side.close()
    assert vars(beside) == vars(alone)
    assert alone.new and any(r is not None and r.already_loaded for r in alone.reports)
    assert alone.lines_after["C7"] == line_rows_of(store, ["C7"], LINE_COLUMNS)["C7"]


def test_the_lines_kept_aside_are_read_for_the_customers_who_have_them() -> None:
    """Given the customers with lines in kept_aside, check_orders reads that table only
    for a batch with one of them, and finds what it finds reading it always; a set that
    left one out would take the line kept aside for a new one."""
    store = _seeded()
    aside = aside_customers(store)
    assert aside == {_BASE["customer_id"]}
    batch = [{**_BASE, "order_id": "O-aside"}, {**_BASE, "customer_id": "C9", "order_id": "O9"}]
    always = check_orders(store, batch, LINE_COLUMNS, NOW)
    assert vars(check_orders(store, batch, LINE_COLUMNS, NOW, aside=aside)) == vars(always)
    assert always.new == [1]  # the line kept aside is not new: ingest moves it
    others = batch[1:]
    assert vars(check_orders(store, others, LINE_COLUMNS, NOW, aside=aside)) == vars(
        check_orders(store, others, LINE_COLUMNS, NOW)
    )
    assert check_orders(store, batch, LINE_COLUMNS, NOW, aside=frozenset()).new == [0, 1]


def test_a_batch_holds_one_order_per_customer() -> None:
    with pytest.raises(ValueError, match="one order per customer"):
        load_orders(_seeded(), [_BASE, {**_BASE, "order_id": "O3"}], NOW)


def test_what_the_fast_path_declines() -> None:
    assert plain_order({**_BASE, "customer_id": "a@b.org"}) is None
    assert plain_order({**_BASE, "amount": 3}) is None  # ingest would read a BIGINT column
    assert plain_order({**_BASE, "colour": "red"}) is None


_TEXT = st.text(alphabet=st.sampled_from(list("Cc0129 .@+-\t:TZé")), min_size=0, max_size=12)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    customer=_TEXT,
    order=st.one_of(st.none(), _TEXT),
    stamp=st.one_of(
        _TEXT,
        st.datetimes(datetime(1990, 1, 1), datetime(2030, 1, 1)).map(lambda d: d.isoformat()),
    ),
    amount=st.floats(allow_nan=False, allow_infinity=False, width=32),
)
def test_any_order_is_loaded_as_ingest_loads_it(
    customer: str, order: str | None, stamp: str, amount: float
) -> None:
    values = {"customer_id": customer, "timestamp": stamp, "amount": amount, "order_id": order}
    if not customer or not stamp or order == "":
        return  # the API refuses these before loading (EventIn)
    _, answer, expected, fast, slow = _both(values)
    assert answer == expected
    assert _state(fast) == _state(slow)
