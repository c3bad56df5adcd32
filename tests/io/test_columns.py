"""Column recognition for common exports, --map, and the messages for what is missing."""

from __future__ import annotations

import re

import pytest

from valueseg.errors import InputError
from valueseg.io import ingest, resolve_columns

UCI = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
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
OLIST = [
    "order_id",
    "order_item_id",
    "product_id",
    "price",
    "freight_value",
    "customer_id",
    "customer_unique_id",
    "order_purchase_timestamp",
    "product_category_name",
]
SHOPIFY = [
    "Name",
    "Email",
    "Financial Status",
    "Created at",
    "Total",
    "Discount Amount",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem sku",
]
CDNOW = ["customer_id", "date", "number_of_cds", "dollar_value"]


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (
            UCI,
            {
                "customer_id": "CustomerID",
                "order_id": "InvoiceNo",
                "timestamp": "InvoiceDate",
                "product_id": "StockCode",
                "quantity": "Quantity",
                "unit_price": "UnitPrice",
            },
        ),
        (
            UCI_II,
            {
                "customer_id": "Customer ID",
                "order_id": "Invoice",
                "timestamp": "InvoiceDate",
                "product_id": "StockCode",
                "quantity": "Quantity",
                "unit_price": "Price",
            },
        ),
        (
            OLIST,
            {
                "customer_id": "customer_unique_id",
                "order_id": "order_id",
                "timestamp": "order_purchase_timestamp",
                "amount": "price",
                "product_id": "product_id",
                "category": "product_category_name",
                "line_item": "order_item_id",
            },
        ),
        (
            SHOPIFY,
            {
                "customer_id": "Email",
                "order_id": "Name",
                "timestamp": "Created at",
                "quantity": "Lineitem quantity",
                "unit_price": "Lineitem price",
                "product_id": "Lineitem sku",
                "discount": "Discount Amount",
                "status": "Financial Status",
            },
        ),
        (
            CDNOW,
            {
                "customer_id": "customer_id",
                "timestamp": "date",
                "amount": "dollar_value",
                "quantity": "number_of_cds",
            },
        ),
    ],
    ids=["uci", "uci-ii", "olist", "shopify", "cdnow"],
)
def test_common_exports_are_recognised(columns, expected):
    assert resolve_columns("transactions", columns, "x.csv").fields == expected


def test_missing_required_column_names_file_columns_and_fix(store, write):
    path = write("orders.csv", "customer,order_ts,amount\nc1,2024-01-01,1\n")
    msg = (
        "Column 'timestamp' not found in orders.csv. Available: customer, order_ts, amount. "
        "Did you mean 'order_ts'? Pass --map timestamp=order_ts."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        ingest(path, db=store)


def test_missing_amount_without_a_suggestion():
    msg = (
        "Column 'amount' not found in o.csv (nor both 'quantity' and 'unit_price' to compute "
        "it). Available: customer_id, timestamp, colour. Pass --map amount=COLUMN."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        resolve_columns("transactions", ["customer_id", "timestamp", "colour"], "o.csv")


def test_map_fixes_unknown_names(store, write):
    path = write("o.csv", "who,when,Revenue\nc1,2024-01-01,1.5\n")
    mapping = {"customer_id": "who", "timestamp": "when", "amount": "Revenue"}
    report = ingest(path, db=store, mapping=mapping)
    assert report.accepted == 1
    assert report.mapping == mapping


def test_map_to_a_column_that_is_not_there():
    msg = (
        "Column 'Revenu' (from --map amount=Revenu) not found in o.csv. "
        "Available: customer_id, timestamp, Revenue. Did you mean 'Revenue'?"
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        resolve_columns(
            "transactions", ["customer_id", "timestamp", "Revenue"], "o.csv", {"amount": "Revenu"}
        )


def test_map_onto_an_unknown_target():
    msg = "Cannot map onto 'price': it is not a transactions column. Expected one of: customer_id"
    with pytest.raises(InputError, match=re.escape(msg)):
        resolve_columns("transactions", ["a"], "o.csv", {"price": "a"})


def test_unknown_kind():
    msg = (
        "Unknown kind 'orders'. Expected one of: transactions, events, customers. "
        "Pass --kind transactions, --kind events or --kind customers."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        resolve_columns("orders", ["a"], "o.csv")
