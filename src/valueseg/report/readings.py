"""How the report writes numbers in its readings and tables: one formatter per kind.

Readings are sentences computed from the numbers ("1,204 customers (6 %) bring 41 % of
revenue"); tests check a reading against the store by formatting the store's number with
the same function.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import pandas as pd

__all__ = ["count", "day", "missing", "money", "number", "pct", "plural", "share_of"]

#: Written for a missing number.
NONE = "–"


def missing(value: Any) -> bool:
    """True for None, NaN and pandas' missing values.

    Examples
    --------
    >>> missing(None), missing(float("nan")), missing(0.0)
    (True, True, False)
    """
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array is not one missing value
        return False


def count(n: Any) -> str:
    """A whole number with thousands separators.

    Examples
    --------
    >>> count(1204), count(3.0), count(None)
    ('1,204', '3', '–')
    """
    return NONE if missing(n) else f"{round(float(n)):,}"


def pct(share: Any) -> str:
    """A share in [0, 1] as a percentage: whole numbers from 10 %, one decimal below.

    Examples
    --------
    >>> pct(0.4137), pct(0.061), pct(0.06), pct(0.0004), pct(None)
    ('41 %', '6.1 %', '6 %', '0.04 %', '–')
    """
    if missing(share):
        return NONE
    value = 100 * float(share)
    if value == 0 or abs(value) >= 10:
        return f"{value:.0f} %"
    digits = 1 if abs(value) >= 0.1 else 2
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return f"{text} %"


def money(amount: Any, currency: str | None = None) -> str:
    """An amount: whole units from 100 on, cents below; the currency code after it.

    Examples
    --------
    >>> money(1234567.8), money(41.301, "EUR"), money(None)
    ('1,234,568', '41.30 EUR', '–')
    """
    if missing(amount):
        return NONE
    value = float(amount)
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{text} {currency}" if currency else text


def number(value: Any, digits: int = 3) -> str:
    """A measurement (an AUC, an error): ``digits`` decimals, thousands separated.

    Examples
    --------
    >>> number(0.88772), number(2110.19, 1), number(float("inf")), number(None)
    ('0.888', '2,110.2', 'inf', '–')
    """
    if missing(value):
        return NONE
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:,.{digits}f}"


def day(value: Any) -> str:
    """A date as ``YYYY-MM-DD``.

    Examples
    --------
    >>> day(datetime(2024, 12, 31, 23, 59)), day(None)
    ('2024-12-31', '–')
    """
    if missing(value):
        return NONE
    if isinstance(value, (datetime, date)):
        return f"{value:%Y-%m-%d}"
    return f"{pd.Timestamp(value):%Y-%m-%d}"


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` and the word, singular for one.

    Examples
    --------
    >>> plural(1, "load"), plural(3_000, "customer"), plural(2, "query", "queries")
    ('1 load', '3,000 customers', '2 queries')
    """
    return f"{count(n)} {word if n == 1 else (words or word + 's')}"


def share_of(part: float, total: float) -> float | None:
    """``part / total``, None when the total is not positive.

    Examples
    --------
    >>> share_of(1, 4), share_of(3, 0) is None
    (0.25, True)
    """
    return part / total if total > 0 else None
