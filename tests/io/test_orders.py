"""Order status, refunds, orders kept aside, currencies and order fields on first lines."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from valueseg.errors import InputError, SourceNotFoundError
from valueseg.io import ingest
from valueseg.io.status import load_statuses

NOW = datetime(2025, 1, 1)
HEADER = "order_id,customer_id,timestamp,amount,status\n"


def _tx(store, where: str = "true"):
    return store.con.execute(
        f"SELECT order_id, amount, is_return, line_item FROM transactions WHERE {where} "
        "ORDER BY line, is_return"
    ).fetchall()


def test_statuses_are_compared_without_case_blanks_or_prefix(store, write):
    path = write(
        "o.csv",
        HEADER + "o1,a,2024-01-01,10,Pending_Payment\no2,a,2024-01-02,20,wc-completed\n"
        "o3,a,2024-01-03,30,VOIDED \no4,a,2024-01-04,40,\n",
    )
    report = ingest(path, db=store, now=NOW)
    assert report.kept_aside_by_reason == {"pending payment": (1, 10.0), "voided": (1, 30.0)}
    assert [r[0] for r in _tx(store)] == ["o2", "o4"]  # a blank status is a purchase
    assert report.unknown_statuses == {}


def test_a_refunded_order_without_an_amount_refunds_its_total(store, write):
    path = write(
        "o.csv",
        "order_id,customer_id,timestamp,amount,status,refund\n"
        "o1,a,2024-01-01,10,refunded,\no1,a,2024-01-01,5,refunded,\n"
        "o2,a,2024-01-02,50,partially refunded,\n"
        "o3,a,2024-01-03,30,paid,45\n",
    )
    report = ingest(path, db=store, now=NOW)
    refunds = [("o1", -15.0, True, "refund"), ("o3", -30.0, True, "refund")]
    assert _tx(store, "is_return") == refunds
    assert report.notes[-2:] == [
        "1 refund more than the order's lines (shipping or taxes refunded too) counted up "
        "to the order's lines",
        "1 partially refunded order without a refunded amount: no refund netted. "
        "Pass --map refund=COLUMN to read the amount.",
    ]
    assert report.status_lines()[:2] == [
        "purchases: 3 orders, 95.00",
        "refunded: 2 orders, 45.00 netted as return rows (net revenue 50.00)",
    ]


def test_a_later_export_moves_orders_and_updates_refunds(store, write):
    first = write(
        "jan.csv",
        "order_id,customer_id,timestamp,amount,status,refund\n"
        "o1,a,2024-01-01,10,pending,\no2,a,2024-01-02,20,paid,\n"
        "o3,b,2024-01-03,30,partially refunded,5\n",
    )
    ingest(first, db=store, now=NOW)
    later = write(
        "feb.csv",
        "order_id,customer_id,timestamp,amount,status,refund\n"
        "o1,a,2024-01-01,10,paid,\no2,a,2024-01-02,20,cancelled,\n"
        "o3,b,2024-01-03,30,partially refunded,8\no4,b,2024-02-01,40,paid,\n",
    )
    report = ingest(later, db=store, now=NOW)
    assert (report.accepted, report.rejected) == (3, 1)  # o3's line is already loaded
    assert sorted(_tx(store), key=str) == [
        ("o1", 10.0, False, None),
        ("o3", -8.0, True, "refund"),
        ("o3", 30.0, False, None),
        ("o4", 40.0, False, None),
    ]
    aside = store.con.execute("SELECT order_id, reason FROM kept_aside").fetchall()
    assert aside == [("o2", "cancelled")]
    assert report.notes[-3:] == [
        "1 line stored in kept_aside by an earlier load moved: the order's status changed",
        "1 line stored in transactions by an earlier load moved: the order's status changed",
        "1 refund loaded before replaced by this export's amounts",
    ]
    again = write("mar.csv", later.read_text() + "o5,c,2024-03-01,1,paid,\n")
    ingest(again, db=store, now=NOW)
    refunds = store.con.execute("SELECT count(*) FROM transactions WHERE line_item = 'refund'")
    assert refunds.fetchone() == (1,)


def test_status_meanings_are_overridable(store, write, tmp_path):
    path = write("o.csv", HEADER + "o1,a,2024-01-01,10,awaiting shipment\no2,a,2024-01-02,5,paid\n")
    toml = tmp_path / "mine.toml"
    toml.write_text('not_purchase = ["Awaiting Shipment", "paid"]\n')
    report = ingest(path, db=store, now=NOW, statuses=toml)
    assert report.kept_aside == 2
    table = load_statuses(toml, {"paid": "purchase"})
    assert (table["awaiting shipment"], table["paid"], table["refunded"]) == (
        "not_purchase",
        "purchase",
        "refunded",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("purchase = [", "Statuses file {f} is not valid TOML: "),
        (
            'bought = ["x"]',
            "Statuses file {f} has unknown keys: bought. Expected lists named purchase, "
            "not_purchase, refunded, partially_refunded.",
        ),
        (
            'purchase = "paid"',
            "Statuses file {f}: 'purchase' must be a list of statuses (text), such as "
            '["paid", "completed"]. Got \'paid\'.',
        ),
        (
            'purchase = ["On hold"]\nnot_purchase = ["on-hold"]',
            "Statuses file {f} lists 'on-hold' under both purchase and not_purchase. "
            "Expected each status once; remove one.",
        ),
    ],
)
def test_a_bad_statuses_file_is_refused(tmp_path, text, message):
    toml = tmp_path / "s.toml"
    toml.write_text(text)
    with pytest.raises(InputError, match=re.escape(message.format(f=toml))):
        load_statuses(toml)


def test_statuses_file_and_meaning_errors(tmp_path):
    missing = tmp_path / "none.toml"
    msg = (
        f"Statuses file {missing} not found. Pass the path of a TOML file laid out like "
        "valueseg/io/statuses.toml."
    )
    with pytest.raises(SourceNotFoundError, match=re.escape(msg)):
        load_statuses(missing)
    msg = (
        "Cannot read --status shipped=bought: 'bought' is not a meaning. Expected one of: "
        'purchase, not_purchase, refunded, partially_refunded, e.g. --status "shipped=purchase".'
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        load_statuses(overrides={"shipped": "bought"})


def test_cancelled_at_set_keeps_an_order_aside_whatever_its_status(store, write):
    path = write(
        "o.csv",
        "Order ID,Email,Financial Status,Created at,Total price,Cancelled at\n"
        "#1,a@x.org,paid,2024-01-01 10:00:00 +0100,10,2024-01-02 10:00:00 +0100\n"
        "#2,a@x.org,paid,2024-01-01 11:00:00 +0100,20,not a time\n"
        "#3,a@x.org,paid,2024-01-01 12:00:00 +0100,30,\n",
    )
    report = ingest(path, db=store, now=NOW, mapping={"amount": "Total price"})
    assert report.kept_aside_by_reason == {"cancelled": (2, 30.0)}
    got = store.con.execute("SELECT order_id, cancelled_at FROM kept_aside ORDER BY 1").fetchall()
    assert got == [("#1", datetime(2024, 1, 2, 9, 0)), ("#2", None)]


def test_several_currencies_are_refused_with_counts_and_the_fix(store, write):
    path = write(
        "o.csv",
        "customer_id,timestamp,amount,currency\na,2024-01-01,1,EUR\nb,2024-01-01,2,eur\n"
        "c,2024-01-01,3,USD\nd,2024-01-01,4,\n",
    )
    msg = (
        "o.csv has amounts in 2 currencies (column 'currency'): EUR 2 rows, USD 1 rows. "
        "Expected one currency per load: amounts in different currencies cannot be added up. "
        "Pass --currency EUR to load the EUR rows; the others are quarantined with reason "
        "'other currency'."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        ingest(path, db=store, now=NOW)
    assert store.table_counts()["loads"] == 0
    msg = (
        "No rows of o.csv are in GBP (--currency): its column 'currency' has EUR 2 rows, "
        "USD 1 rows. Pass --currency EUR, or one of the others."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        ingest(path, db=store, now=NOW, currency="gbp")
    msg = "Cannot read --currency 'euros'. Expected a currency code such as EUR, USD or GBP."
    with pytest.raises(InputError, match=re.escape(msg)):
        ingest(path, db=store, now=NOW, currency="euros")
    report = ingest(path, db=store, now=NOW, currency="usd")
    assert report.rejected_by_reason == {"other currency": 2}
    assert "kept the USD rows; 2 rows in other currencies quarantined" in report.notes
    assert report.currency == "USD"
    assert report.money(7) == "7.00 USD"
    assert store.con.execute("SELECT currency FROM loads").fetchall() == [("USD",)]


def test_one_currency_is_recorded_on_the_load(store, write):
    path = write("o.csv", "customer_id,timestamp,amount,currency\na,2024-01-01,1, gbp\n")
    assert ingest(path, db=store, now=NOW).currency == "GBP"
    plain = write("p.csv", "customer_id,timestamp,amount\na,2024-01-02,1\n")
    assert ingest(plain, db=store, now=NOW).currency is None
    stated = write("q.csv", "customer_id,timestamp,amount\na,2024-01-03,1\n")
    assert ingest(stated, db=store, now=NOW, currency="GBP").currency == "GBP"
    rows = store.con.execute("SELECT currency FROM loads ORDER BY load_id").fetchall()
    assert rows == [("GBP",), (None,), ("GBP",)]


def test_discount_on_first_lines_only_is_carried_when_the_file_shows_it(store, write):
    first_only = write(
        "a.csv",
        "order_id,customer_id,timestamp,amount,product_id,discount,channel\n"
        "o1,a,2024-01-01,10,p1,2,web\no1,,,5,p2,,\no2,b,2024-01-02,7,p1,0,shop\n",
    )
    report = ingest(first_only, db=store, now=NOW)
    assert report.carried == {"discount": 1, "channel": 1, "customer_id": 1, "timestamp": 1}
    got = store.con.execute(
        "SELECT customer_id, discount, channel FROM transactions WHERE order_id = 'o1'"
    ).fetchall()
    assert got == [("a", 2.0, "web"), ("a", 2.0, "web")]
    every_line = write(
        "b.csv",
        "order_id,customer_id,timestamp,amount,product_id,discount\n"
        "o3,c,2024-01-03,10,p1,1\no3,,2024-01-03,5,p2,1\n",
    )
    report = ingest(every_line, db=store, now=NOW)
    assert report.carried == {}  # nothing carried: the blank customer stays blank
    assert report.rejected_by_reason == {"missing customer_id": 1}


def test_plain_exports_build_no_carry_and_no_aside(store, write):
    path = write(
        "uci.csv",
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1,A,1,2024-01-01,2,17850,UK\n1,B,1,2024-01-01,2,,UK\n",
    )
    report = ingest(path, db=store, now=NOW)
    assert report.rejected_by_reason == {"missing customer_id": 1}
    assert (report.carried, report.kept_aside, report.refunds) == ({}, 0, 0)
    assert report.normalised_lines() == []


def test_e_mail_ids_of_customer_files_are_normalised_too(store, write):
    orders = write("o.csv", "Email,timestamp,amount\n Anna@Example.org,2024-01-01,1\n")
    ingest(orders, db=store, now=NOW)
    people = write("c.csv", "Email,Region\nANNA@example.org ,north\n")
    report = ingest(people, kind="customers", db=store, now=NOW)
    assert report.accepted == 1
    got = store.con.execute("SELECT customer_id, region FROM customers").fetchall()
    assert got == [("anna@example.org", "north")]


def test_joins_refuse_files_that_would_repeat_or_not_match(store, write):
    items = write("items.csv", "order_id,price\no1,5\n")
    orders = write("orders.csv", "order_id,customer_id,order_purchase_timestamp\no1,a,2024-01-01\n")
    twice = write("twice.csv", "order_id,customer_id\no1,a\no1,b\n")
    other = write("other.csv", "sku,name\np1,Mug\n")
    msg = (
        "Cannot join twice.csv: it has 2 rows for order_id = o1. Expected one row per "
        "order_id, so that each line stays one line; join a file of orders or customers, "
        "not of lines."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        ingest(items, db=store, now=NOW, join=[twice])
    msg = (
        "Cannot join other.csv to items.csv: they share no column. items.csv has: order_id, "
        "price; other.csv has: sku, name. Expected a common key column such as order_id."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        ingest(items, db=store, now=NOW, join=[other])
    report = ingest(items, db=store, now=NOW, join=[orders])
    assert (report.accepted, report.notes[0]) == (1, "joined orders.csv on order_id")
