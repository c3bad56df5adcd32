"""The pages' Jinja2 environment: the package's templates, autoescaped, with number filters.

Templates end in ``.html.j2``, which Jinja2's default ``select_autoescape`` would not
escape, so autoescaping is switched on for every template.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader

__all__ = ["money", "number", "percent", "templates"]


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def money(value: Any) -> str:
    """``1,234.50``; an empty cell for a missing value.

    Examples
    --------
    >>> money(1234.5), money(None), money(float("nan"))
    ('1,234.50', '', '')
    """
    number = _finite(value)
    return "" if number is None else f"{number:,.2f}"


def number(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (whole above); empty when missing.

    Examples
    --------
    >>> number(0.123456), number(12345), number(None)
    ('0.123', '12,345', '')
    """
    x = _finite(value)
    if x is None:
        return ""
    return f"{x:,.0f}" if abs(x) >= 10**digits else f"{x:.{digits}g}"


def percent(value: Any) -> str:
    """``12.3 %`` of a share; an empty cell for a missing value.

    Examples
    --------
    >>> percent(0.1234), percent(None)
    ('12.3 %', '')
    """
    x = _finite(value)
    return "" if x is None else f"{100 * x:.1f} %"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("valueseg.web", "templates"), autoescape=True)
    env.filters.update(money=money, number=number, percent=percent)
    return env


templates = Jinja2Templates(env=_environment())
