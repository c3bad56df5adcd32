"""Recognise the columns of common exports and map them onto valueseg's data contract.

Column names are compared after normalising (lower case, letters and digits only), so
``CustomerID``, ``Customer ID`` and ``customer_id`` are one name. Aliases are tried in order:
Olist's ``customer_unique_id`` wins over its per-order ``customer_id``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from valueseg.errors import InputError, did_you_mean
from valueseg.store.schema import INPUT_COLUMNS, column_names

KINDS: Final = tuple(INPUT_COLUMNS)

#: canonical column -> aliases, in order of preference (UCI Online Retail I/II, Olist,
#: Shopify orders export, WooCommerce (and its order-export plugins), Magento, CDNOW,
#: REES46-style event logs, and plain English).
_SPELLINGS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "transactions": {
        "customer_id": (
            "customer_unique_id",
            "customer_id",
            "customer",
            "client_id",
            "user_id",
            "buyer_id",
            "member_id",
            "shopper_id",
            "customer_email",
            "email",
            "email_billing",
            "billing_email",
        ),
        "order_id": (
            "order_id",
            "invoice_no",
            "invoice",
            "invoice_id",
            "order_number",
            "order_no",
            "transaction_id",
            "receipt_id",
            "order",
        ),
        "timestamp": (
            "timestamp",
            "invoice_date",
            "order_purchase_timestamp",
            "order_date",
            "order_datetime",
            "purchase_date",
            "created_at",
            "paid_at",
            "datetime",
            "date",
            "time",
            "ts",
        ),
        "amount": (
            "amount",
            "line_amount",
            "line_total",
            "revenue",
            "sales",
            "total_price",
            "order_value",
            "payment_value",
            "dollar_value",
            "spend",
            "value",
            "total",
        ),
        "product_id": (
            "product_id",
            "stock_code",
            "sku",
            "item_id",
            "lineitem_sku",
            "product_code",
            "article_id",
            "product",
            "item",
        ),
        "category": (
            "category",
            "product_category_name",
            "product_category",
            "category_name",
            "category_code",
            "department",
        ),
        "quantity": (
            "quantity",
            "qty",
            "lineitem_quantity",
            "quantity_ordered",
            "number_of_cds",
            "units",
        ),
        "unit_price": (
            "unit_price",
            "lineitem_price",
            "price_each",
            "item_price",
            "item_cost",
            "price",
        ),
        "discount": (
            "discount",
            "discount_amount",
            "cart_discount_amount",
            "lineitem_discount",
            "coupon_value",
        ),
        "channel": ("channel", "sales_channel", "source_name", "platform"),
        "line_item": (
            "line_item",
            "order_item_id",
            "line_item_id",
            "lineitem_id",
            "line_number",
            "line_no",
        ),
        "status": (
            "status",
            "order_status",
            "financial_status",
            "payment_status",
            "order_state",
        ),
        "cancelled_at": (
            "cancelled_at",
            "canceled_at",
            "cancelled_date",
            "cancellation_date",
            "date_cancelled",
        ),
        "refund": (
            "refund",
            "refunded_amount",
            "refund_amount",
            "order_refund_amount",
            "total_refunded",
            "amount_refunded",
        ),
        "currency": (
            "currency",
            "currency_code",
            "order_currency",
            "order_currency_code",
        ),
    },
    "events": {
        "customer_id": (
            "customer_unique_id",
            "customer_id",
            "customer",
            "user_id",
            "client_id",
            "visitor_id",
            "visitorid",
            "email",
        ),
        "timestamp": ("timestamp", "event_time", "event_timestamp", "datetime", "time", "ts"),
        "event_type": ("event_type", "event", "event_name", "action", "type"),
        "product_id": ("product_id", "item_id", "sku", "stock_code", "product"),
        "session_id": ("session_id", "user_session", "session"),
        "duration_s": ("duration_s", "duration", "duration_seconds", "time_on_page"),
        "rating": ("rating", "review_score", "stars", "score"),
    },
    "customers": {
        "customer_id": (
            "customer_unique_id",
            "customer_id",
            "customer",
            "client_id",
            "user_id",
            "email",
            "id",
        ),
    },
}

_unknown = [f"{k}.{n}" for k, cols in _SPELLINGS.items() for n in cols if n not in column_names(k)]
if _unknown:  # a spelling for a column the store does not have: a bug, not input
    raise RuntimeError(f"Aliases for columns the schema lacks: {', '.join(_unknown)}")

#: kind -> canonical column (in the store's order) -> its aliases, its own name at least.
ALIASES: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    kind: {name: _SPELLINGS[kind].get(name, (name,)) for name in column_names(kind)}
    for kind in KINDS
}

REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "transactions": ("customer_id", "timestamp", "amount"),
    "events": ("customer_id", "timestamp", "event_type"),
    "customers": ("customer_id",),
}


def normalise(name: str) -> str:
    """Compare column names on letters and digits only.

    Examples
    --------
    >>> normalise("Customer ID"), normalise("InvoiceDate"), normalise("invoice_date")
    ('customerid', 'invoicedate', 'invoicedate')
    """
    return re.sub(r"[^0-9a-z]", "", name.lower())


def snake(name: str) -> str:
    """A column name as a plain snake_case identifier (for customer attributes).

    Examples
    --------
    >>> snake("Signup Date"), snake("AgeBand"), snake("  region ")
    ('signup_date', 'age_band', 'region')
    """
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    cleaned = re.sub(r"[^0-9a-zA-Z]+", "_", spaced).strip("_").lower()
    return cleaned or "column"


@dataclass(frozen=True)
class ColumnMap:
    """Which source column feeds each canonical column (None when absent)."""

    kind: str
    fields: dict[str, str]  # canonical -> source column
    attributes: dict[str, str]  # customers only: attribute name -> source column

    def source(self, canonical: str) -> str | None:
        return self.fields.get(canonical)


def _is_shopify(columns: Sequence[str]) -> bool:
    return "lineitemquantity" in {normalise(c) for c in columns}


def resolve_columns(
    kind: str,
    columns: Sequence[str],
    source_name: str,
    mapping: Mapping[str, str] | None = None,
) -> ColumnMap:
    """Map source columns onto the canonical columns of ``kind``; refuse what cannot work."""
    if kind not in KINDS:
        raise InputError(
            f"Unknown kind '{kind}'. Expected one of: {', '.join(KINDS)}. "
            "Pass --kind transactions, --kind events or --kind customers."
        )
    aliases = dict(ALIASES[kind])
    if kind == "transactions" and _is_shopify(columns):
        # Shopify: 'Name' is the order (#1001); 'Total' is only on an order's first line.
        aliases["order_id"] = ("name", *aliases["order_id"])
        aliases["amount"] = tuple(a for a in aliases["amount"] if a != "total")
    fields = _apply_mapping(kind, columns, source_name, mapping or {}, aliases)
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalise(col), col)
    taken = set(fields.values())
    for canonical, names in aliases.items():
        if canonical in fields:
            continue
        for alias in names:
            found = by_norm.get(normalise(alias))
            if found is not None and found not in taken:
                fields[canonical] = found
                taken.add(found)
                break
    if kind == "transactions":
        _fix_price_columns(fields, by_norm, taken)
    _check_required(kind, fields, columns, source_name, aliases)
    attributes: dict[str, str] = {}
    if kind == "customers":
        for col in columns:
            if col not in taken:
                attributes.setdefault(snake(col), col)
    return ColumnMap(kind, fields, attributes)


def _fix_price_columns(fields: dict[str, str], by_norm: dict[str, str], taken: set[str]) -> None:
    """A bare 'price' with no quantity column is the line amount (Olist order items)."""
    price = fields.get("unit_price")
    if price is not None and "amount" not in fields and "quantity" not in fields:
        if normalise(price) == "price":
            fields["amount"] = fields.pop("unit_price")


def _apply_mapping(
    kind: str,
    columns: Sequence[str],
    source_name: str,
    mapping: Mapping[str, str],
    aliases: Mapping[str, Sequence[str]],
) -> dict[str, str]:
    fields: dict[str, str] = {}
    for target, source in mapping.items():
        if kind != "customers" and target not in aliases:
            raise InputError(
                f"Cannot map onto '{target}': it is not a {kind} column. "
                f"Expected one of: {', '.join(aliases)}."
            )
        if kind == "customers" and target != "customer_id":
            raise InputError(
                f"Cannot map onto '{target}': customers files map only customer_id; "
                "other columns are kept as attributes under their own names."
            )
        if source not in columns:
            hint = did_you_mean(source, columns)
            suggestion = f" Did you mean '{hint}'?" if hint else ""
            raise InputError(
                f"Column '{source}' (from --map {target}={source}) not found in "
                f"{source_name}. Available: {', '.join(columns)}.{suggestion}"
            )
        fields[target] = source
    return fields


def _check_required(
    kind: str,
    fields: Mapping[str, str],
    columns: Sequence[str],
    source_name: str,
    aliases: Mapping[str, Sequence[str]],
) -> None:
    for canonical in REQUIRED[kind]:
        if canonical in fields:
            continue
        if canonical == "amount" and "quantity" in fields and "unit_price" in fields:
            continue
        hint = _suggest(canonical, columns, aliases[canonical], set(fields.values()))
        also = (
            " (nor both 'quantity' and 'unit_price' to compute it)" if canonical == "amount" else ""
        )
        fix = (
            f"Did you mean '{hint}'? Pass --map {canonical}={hint}."
            if hint
            else (f"Pass --map {canonical}=COLUMN.")
        )
        raise InputError(
            f"Column '{canonical}' not found in {source_name}{also}. "
            f"Available: {', '.join(columns)}. {fix}"
        )


def _suggest(
    canonical: str, columns: Sequence[str], names: Sequence[str], taken: set[str]
) -> str | None:
    free = [c for c in columns if c not in taken]
    for name in (canonical, *names):
        hit = did_you_mean(name, free)
        if hit:
            return hit
    return None
