"""Shop exports in the platforms' own layouts load right the first time, with no flags.

Each fixture is written here from the platform's published column list, with cancelled,
refunded, guest and duplicate orders and the platform's own way of writing times planted
in it. For each, the numbers a shop owner would check by hand: rows read, accepted and
rejected (and why), purchases, customers, revenue, refunds, net revenue and the orders
kept aside.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from valueseg.io import ingest

# Only the value models and segments are under test here: one learner, no tuning.
_FAST = {"learners": "lr", "recommender": "popularity"}

NOW = datetime(2025, 1, 1)

# Shopify admin: Orders > Export (CSV for Excel, Numbers or other spreadsheet programs).
SHOPIFY = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,"
    "Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,"
    "Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,"
    "Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,"
    "Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,"
    "Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,"
    "Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,Shipping City,"
    "Shipping Zip,Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,"
    "Cancelled at,Payment Method,Payment Reference,Refunded Amount,Vendor,"
    "Outstanding Balance,Employee,Location,Device ID,Id,Tags,Risk Level,Source,"
    "Lineitem discount,Tax 1 Name,Tax 1 Value,Tax 2 Name,Tax 2 Value,Tax 3 Name,"
    "Tax 3 Value,Tax 4 Name,Tax 4 Value,Tax 5 Name,Tax 5 Value,Phone,Receipt Number,"
    "Duties,Billing Province Name,Shipping Province Name,Payment ID,Payment Terms Name,"
    "Next Payment Due At,Payment References"
).split(",")

# WooCommerce, "Advanced Order Export For WooCommerce": one row per product, the order's
# fields repeated on each of its rows.
WOOCOMMERCE = [
    "Order Number",
    "Order Status",
    "Order Date",
    "Customer Note",
    "First Name (Billing)",
    "Last Name (Billing)",
    "Email (Billing)",
    "Phone (Billing)",
    "Payment Method Title",
    "Cart Discount Amount",
    "Order Subtotal Amount",
    "Order Shipping Amount",
    "Order Refund Amount",
    "Order Total Amount",
    "Order Currency",
    "SKU",
    "Item #",
    "Item Name",
    "Quantity",
    "Item Cost",
]

# Olist's Brazilian e-commerce public dataset (Kaggle): three of its files.
OLIST_ITEMS = [
    "order_id",
    "order_item_id",
    "product_id",
    "seller_id",
    "shipping_limit_date",
    "price",
    "freight_value",
]
OLIST_ORDERS = [
    "order_id",
    "customer_id",
    "order_status",
    "order_purchase_timestamp",
    "order_approved_at",
    "order_delivered_carrier_date",
    "order_delivered_customer_date",
    "order_estimated_delivery_date",
]
OLIST_CUSTOMERS = [
    "customer_id",
    "customer_unique_id",
    "customer_zip_code_prefix",
    "customer_city",
    "customer_state",
]

# UCI Online Retail II (as the workbook is saved to CSV by Excel in a US locale).
UCI_II = [
    "Invoice",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "Price",
    "Customer ID",
    "Country",
]


def _write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> Path:
    """Rows as dicts of some columns; the others blank, as the platform leaves them."""
    unknown = {k for r in rows for k in r} - set(columns)
    assert not unknown, unknown  # a fixture names only the platform's own columns
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[r.get(c, "") for c in columns] for r in rows])
    return path


@dataclass(frozen=True)
class Planted:
    """What was planted in a fixture, counted by hand."""

    rows: int
    rejected: dict[str, int]
    purchases: int  # orders in transactions
    customers: int
    revenue: float  # the purchases' lines
    refunded: float
    kept_aside: dict[str, tuple[int, float]] = field(default_factory=dict)
    returns: int = 0  # return lines (refund rows included)
    returned: float = 0.0  # what the export's own return lines (UCI's C invoices) come to

    @property
    def net(self) -> float:
        return self.revenue - self.refunded - self.returned


def _shopify(tmp: Path) -> Path:
    def order(name, email, status, created, lines, **more):
        first = {
            "Name": name,
            "Email": email,
            "Financial Status": status,
            "Currency": "EUR",
            "Created at": created,
            "Discount Amount": "0.00",
            "Source": "web",
            **more,
        }
        rows = []
        for i, (qty, item, price) in enumerate(lines):
            line = first if i == 0 else {"Name": name, "Email": email, "Created at": created}
            sku = item.upper().replace(" ", "-")
            rows.append(
                {
                    **line,
                    "Lineitem quantity": qty,
                    "Lineitem name": item,
                    "Lineitem price": price,
                    "Lineitem sku": sku,
                }
            )
        return rows

    rows = [
        *order(
            "#1001",
            "Anna@Example.org",
            "paid",
            "2024-07-23 12:06:00 +0200",
            [("1", "Mug", "10.00"), ("2", "Plate", "10.00")],
        ),
        *order(
            "#1002",
            "anna@example.org",
            "refunded",
            "2024-07-24 09:00:00 +0200",
            [("1", "Bowl", "20.00")],
            **{"Refunded Amount": "20.00"},
        ),
        *order(
            "#1003",
            "bob@example.org",
            "voided",
            "2024-07-25 10:00:00 +0200",
            [("1", "Cup", "15.00")],
        ),
        *order(
            "#1004",
            "carl@example.org",
            "paid",
            "2024-07-26 10:00:00 +0200",
            [("1", "Vase", "20.00"), ("1", "Vase XL", "20.00")],
            **{"Cancelled at": "2024-07-27 10:00:00 +0200"},
        ),
        *order(
            "#1005",
            "dora@example.org",
            "partially_refunded",
            "2024-07-26 11:00:00 +0200",
            [("1", "Lamp", "50.00"), ("1", "Shade", "10.00")],
            **{"Refunded Amount": "12.50"},
        ),
        *order("#1006", "", "paid", "2024-07-26 12:00:00 +0200", [("1", "Pen", "9.00")]),
        *order(
            "#1007",
            "erik@example.org",
            "pending",
            "2024-07-27 08:00:00 +0200",
            [("2", "Card", "6.00")],
        ),
        *order(
            "#1008",
            "ERIK@example.org",
            "paid",
            "2024-07-28 23:30:00 -0500",
            [("1", "Frame", "25.00")],
        ),
    ]
    rows[7]["Email"] = rows[7]["Created at"] = ""  # #1005's 2nd line: both left blank
    rows.insert(2, dict(rows[1]))  # #1001's second line, exported twice
    return _write(tmp / "orders_export.csv", SHOPIFY, rows)


_SHOPIFY = Planted(
    rows=12,
    rejected={"missing customer_id": 1, "duplicate order line": 1},
    purchases=4,  # 1001, 1002, 1005, 1008
    customers=3,  # anna (two spellings), dora, erik
    revenue=30 + 20 + 60 + 25,
    refunded=20 + 12.5,
    kept_aside={"cancelled": (1, 40.0), "pending": (1, 12.0), "voided": (1, 15.0)},
    returns=2,
)


def _woocommerce(tmp: Path) -> Path:
    def order(number, status, date, email, lines, refund="0.00"):
        common = {
            "Order Number": number,
            "Order Status": status,
            "Order Date": date,
            "Email (Billing)": email,
            "Order Refund Amount": refund,
            "Order Currency": "EUR",
            "Payment Method Title": "Direct bank transfer",
        }
        return [
            {**common, "SKU": sku, "Item #": str(i + 1), "Quantity": qty, "Item Cost": cost}
            for i, (sku, qty, cost) in enumerate(lines)
        ]

    rows = [
        *order(
            "501",
            "Completed",
            "2024-07-23 12:06",
            "anna@example.org",
            [("A", "2", "12.50"), ("B", "1", "5.00")],
        ),
        *order(
            "502",
            "Refunded",
            "2024-07-24 09:00",
            " Anna@example.org ",
            [("C", "1", "40.00")],
            refund="-40.00",
        ),
        *order("503", "Cancelled", "2024-07-24 10:00", "bob@example.org", [("D", "1", "20.00")]),
        *order(
            "504", "Pending payment", "2024-07-24 11:00", "carl@example.org", [("E", "1", "15.00")]
        ),
        *order(
            "505",
            "Processing",
            "2024-07-25T08:00:00+02:00",
            "carl@example.org",
            [("F", "2", "9.00")],
        ),
        *order("506", "Failed", "2024-07-25 09:00", "dora@example.org", [("G", "1", "22.00")]),
        *order("507", "On hold", "2024-07-25 10:00", "dora@example.org", [("H", "1", "9.00")]),
        *order(
            "508",
            "Completed",
            "2024-07-26 10:00",
            "erin@example.org",  # a guest
            [("I", "1", "11.00")],
        ),
        *order(
            "509",
            "Completed",
            "2024-07-26 11:00",
            "frank@example.org",
            [("J", "1", "50.00")],
            refund="-10.00",
        ),
    ]
    rows.insert(1, dict(rows[0]))
    return _write(tmp / "woocommerce-orders.csv", WOOCOMMERCE, rows)


_WOOCOMMERCE = Planted(
    rows=11,
    rejected={"duplicate order line": 1},
    purchases=5,  # 501, 502, 505, 508, 509
    customers=4,  # anna, carl, erin, frank
    revenue=30 + 40 + 18 + 11 + 50,
    refunded=40 + 10,
    kept_aside={
        "cancelled": (1, 20.0),
        "failed": (1, 22.0),
        "on hold": (1, 9.0),
        "pending payment": (1, 15.0),
    },
    returns=2,
)


def _olist(tmp: Path) -> list[Path]:
    stamp = "2017-10-02 10:56:33"
    orders = [
        ("o1", "c1", "delivered"),
        ("o2", "c2", "delivered"),
        ("o3", "c3", "canceled"),
        ("o4", "c4", "unavailable"),  # no items: never appears
        ("o5", "c5", "shipped"),
        ("o6", "c6", "created"),
    ]
    customers = [("c1", "u1"), ("c2", "u1"), ("c3", "u2"), ("c4", "u3"), ("c5", "u3"), ("c6", "u4")]
    items = [
        ("o1", "1", "p1", "50.00"),
        ("o1", "2", "p1", "50.00"),  # two of the same product: two lines
        ("o2", "1", "p2", "30.00"),
        ("o3", "1", "p3", "25.00"),
        ("o5", "1", "p4", "45.00"),
        ("o5", "1", "p4", "45.00"),  # the same line twice
        ("o6", "1", "p5", "10.00"),
        ("o7", "1", "p6", "12.00"),  # an order the orders file lacks
    ]
    return [
        _write(
            tmp / "olist_order_items_dataset.csv",
            OLIST_ITEMS,
            [
                {
                    "order_id": o,
                    "order_item_id": i,
                    "product_id": p,
                    "seller_id": "s1",
                    "shipping_limit_date": "2017-10-06 11:07:15",
                    "price": v,
                    "freight_value": "8.72",
                }
                for o, i, p, v in items
            ],
        ),
        _write(
            tmp / "olist_orders_dataset.csv",
            OLIST_ORDERS,
            [
                {
                    "order_id": o,
                    "customer_id": c,
                    "order_status": s,
                    "order_purchase_timestamp": stamp,
                }
                for o, c, s in orders
            ],
        ),
        _write(
            tmp / "olist_customers_dataset.csv",
            OLIST_CUSTOMERS,
            [
                {"customer_id": c, "customer_unique_id": u, "customer_state": "SP"}
                for c, u in customers
            ],
        ),
    ]


_OLIST = Planted(
    rows=8,
    rejected={"missing customer_id": 1, "duplicate order line": 1},
    purchases=3,  # o1, o2, o5
    customers=2,  # u1 (two per-order ids), u3
    revenue=100 + 30 + 45,
    refunded=0,
    kept_aside={"canceled": (1, 25.0), "created": (1, 10.0)},
)


def _uci(tmp: Path) -> Path:
    def line(inv, code, qty, when, price, cust):
        return {
            "Invoice": inv,
            "StockCode": code,
            "Description": f"ITEM {code}",
            "Quantity": qty,
            "InvoiceDate": when,
            "Price": price,
            "Customer ID": cust,
            "Country": "United Kingdom",
        }

    rows = [
        line("489434", "85048", "6", "12/1/2009 7:45", "1.25", "13085.0"),
        line("489434", "79323P", "12", "12/1/2009 7:45", "2.10", "13085.0"),
        line("489434", "22041", "4", "12/1/2009 7:45", "3.00", "13085.0"),
        line("489435", "22350", "4", "12/1/2009 7:46", "2.50", "13085"),
        line("489435", "22349", "2", "12/1/2009 7:46", "2.50", "13085"),
        line("C489449", "22041", "-2", "12/1/2009 10:33", "3.00", "13085"),
        line("489436", "21523", "1", "12/1/2009 9:06", "8.00", ""),  # no customer
        line("489437", "22195", "10", "12/1/2009 9:08", "2.00", "12682"),
        line("489434", "85048", "6", "12/1/2009 7:45", "1.25", "13085.0"),  # twice
        line("489438", "84879", "20", "12/13/2009 9:00", "1.50", "12682"),
    ]
    return _write(tmp / "online_retail_II.csv", UCI_II, rows)


_UCI = Planted(
    rows=10,
    rejected={"missing customer_id": 1, "duplicate order line": 1},
    purchases=4,
    customers=2,
    revenue=7.5 + 25.2 + 12 + 10 + 5 + 20 + 30,
    refunded=0,
    returned=6.0,
    returns=1,
)


def _generic(tmp: Path) -> Path:
    path = tmp / "orders.csv"
    path.write_text(
        "order_id,customer,created_at,amount,status,currency\n"
        "A1,+49 170 1234567,1721729160,100.00,paid,EUR\n"
        "A2,+49-170-1234567,1721815560,50.00,paid,EUR\n"
        "A3,0301234567,1721901960,30.00,cancelled,EUR\n"
        "A4,0301234567,1721988360,40.00,refunded,EUR\n"
        "A5,,1722074760,9.00,paid,EUR\n"
        "A6,0301234567,1722161160,20.00,awaiting shipment,EUR\n"
        "A7,+49 170 1234567,1722247560,70.00,paid,USD\n"
        "A1,+49 170 1234567,1721729160,100.00,paid,EUR\n"
    )
    return path


_GENERIC = Planted(
    rows=8,
    rejected={"missing customer_id": 1, "other currency": 1, "duplicate order line": 1},
    purchases=4,  # A1, A2, A4, A6
    customers=2,
    revenue=100 + 50 + 40 + 20,
    refunded=40,  # A4: refunded, no refund column: its total
    kept_aside={"cancelled": (1, 30.0)},
    returns=1,
)


def _load(platform: str, tmp: Path, store):
    if platform == "shopify":
        return ingest(_shopify(tmp), db=store, now=NOW), _SHOPIFY
    if platform == "woocommerce":
        return ingest(_woocommerce(tmp), db=store, now=NOW), _WOOCOMMERCE
    if platform == "olist":
        items, orders, customers = _olist(tmp)
        return ingest(items, db=store, now=NOW, join=[orders, customers]), _OLIST
    if platform == "uci":
        return ingest(_uci(tmp), db=store, now=NOW), _UCI
    return ingest(_generic(tmp), db=store, now=NOW, currency="EUR"), _GENERIC


PLATFORMS = ["shopify", "woocommerce", "olist", "uci", "generic"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_each_layout_loads_what_was_planted(platform, tmp_path, store):
    report, planted = _load(platform, tmp_path, store)
    assert report.rows_read == planted.rows
    assert report.accepted + report.rejected == report.rows_read
    assert report.rejected_by_reason == planted.rejected
    assert (report.orders, report.customers) == (planted.purchases, planted.customers)
    assert report.revenue == pytest.approx(planted.revenue)
    assert report.refunded == pytest.approx(planted.refunded)
    assert report.net_revenue == pytest.approx(planted.net)
    assert report.kept_aside_by_reason == planted.kept_aside
    assert report.returns == planted.returns
    counts = store.table_counts()
    assert counts["kept_aside"] == report.kept_aside
    assert counts["transactions"] == report.accepted - report.kept_aside + report.refunds
    assert counts["rejected_rows"] == report.rejected
    net = store.con.execute("SELECT sum(amount) FROM transactions").fetchone()[0]
    assert net == pytest.approx(planted.net)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_loading_the_same_export_twice_adds_nothing(platform, tmp_path, store):
    _load(platform, tmp_path, store)
    before = store.table_counts()
    again, _ = _load(platform, tmp_path, store)
    assert again.already_loaded == 1
    assert store.table_counts() == before


def test_shopify_times_ids_and_carried_fields(tmp_path, store):
    report, _ = _load("shopify", tmp_path, store)
    rows = store.con.execute(
        'SELECT order_id, customer_id, "timestamp" FROM transactions '
        "WHERE NOT is_return ORDER BY line"
    ).fetchall()
    assert rows[:2] == [("#1001", "anna@example.org", datetime(2024, 7, 23, 10, 6))] * 2
    assert ("#1008", "erik@example.org", datetime(2024, 7, 29, 4, 30)) in rows
    aside = store.con.execute(
        "SELECT order_id, status, currency, reason FROM kept_aside ORDER BY line"
    ).fetchall()
    assert aside == [  # #1004's second line carries its first line's fields
        ("#1003", "voided", "EUR", "voided"),
        ("#1004", "paid", "EUR", "cancelled"),
        ("#1004", "paid", "EUR", "cancelled"),
        ("#1007", "pending", "EUR", "pending"),
    ]
    dora = [r for r in rows if r[0] == "#1005"]
    assert [r[1] for r in dora] == ["dora@example.org"] * 2  # blank e-mail taken too
    assert report.offsets == 11  # every line's time but the one left blank
    assert report.ids_merged == 2  # Anna@Example.org, ERIK@example.org
    # the second lines of #1001, #1004 (cancelled) and #1005; #1005's blank e-mail and time
    assert report.carried == {
        "status": 3,
        "cancelled_at": 1,
        "refund": 1,
        "currency": 3,
        "discount": 3,
        "customer_id": 1,
        "timestamp": 1,
    }
    assert report.currency == "EUR"


def test_olist_joins_its_three_files(tmp_path, store):
    report, _ = _load("olist", tmp_path, store)
    assert "joined olist_orders_dataset.csv on order_id" in report.notes
    assert "joined olist_customers_dataset.csv on customer_id" in report.notes
    lines = store.con.execute(
        "SELECT customer_id, order_id, line_item, amount FROM transactions WHERE order_id = 'o1' "
        "ORDER BY line"
    ).fetchall()
    assert lines == [("u1", "o1", "1", 50.0), ("u1", "o1", "2", 50.0)]


def test_generic_export_unknown_status_is_a_listed_purchase(tmp_path, store):
    report, _ = _load("generic", tmp_path, store)
    assert report.unknown_statuses == {"awaiting shipment": 1}
    assert report.status_lines()[-1] == (
        "statuses valueseg does not know, counted as purchases (orders): "
        "'awaiting shipment' 1. If that is wrong, pass "
        '--status "awaiting shipment=not_purchase" (or refunded, partially_refunded).'
    )
    assert report.ids_merged == 1
    assert (
        report.normalised_lines()[0]
        == "1 phone id differed only in blanks or dashes and was merged"
    )
    assert "timestamps in column 'created_at' read as Unix epoch seconds" in report.notes
    ts = store.con.execute(
        "SELECT \"timestamp\" FROM transactions WHERE order_id = 'A1'"
    ).fetchone()
    assert ts == (datetime(2024, 7, 23, 10, 6),)


def test_run_scores_every_customer_of_each_layout(tmp_path):
    from valueseg.pipeline import run
    from valueseg.store import Store

    for platform in PLATFORMS:
        folder = tmp_path / platform
        folder.mkdir()
        with Store(folder / "shop.duckdb") as store:
            report, _ = _load(platform, folder, store)
            result = run(store, **_FAST)
            scored = store.con.execute(
                "SELECT count(DISTINCT customer_id) FROM customer_scores WHERE run_id = ?",
                [result.run_id],
            ).fetchone()
        assert scored == (report.customers,), platform
