"""What an order's status means: a purchase, an order kept aside, or a refunded purchase.

The meanings are data: the packaged ``statuses.toml``, which a file laid out like it
(``--statuses FILE``) or single entries (``--status "awaiting shipment=purchase"``)
override.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Final

from valueseg.errors import InputError, SourceNotFoundError

_DEFAULT: Final = "statuses.toml"
#: The meanings a status can have, in the order the TOML lists them.
MEANINGS: Final = ("purchase", "not_purchase", "refunded", "partially_refunded")
#: Meanings of an order that is a purchase (loaded into transactions).
PURCHASES: Final = ("purchase", "refunded", "partially_refunded")

#: A status as an SQL value or a mapping file spells it: what is compared.
_SQL_NORMAL: Final = (
    "regexp_replace(regexp_replace(lower(trim({s})), '[\\s_-]+', ' ', 'g'), '^wc ', '')"
)


def normal_status(status: str) -> str:
    """A status as compared: lower case, blanks, '_' and '-' alike, no 'wc-' prefix.

    Examples
    --------
    >>> normal_status(" Pending_Payment "), normal_status("wc-on-hold")
    ('pending payment', 'on hold')
    """
    text = re.sub(r"[\s_-]+", " ", status.strip().lower())
    return text[3:] if text.startswith("wc ") else text


def status_sql(text: str) -> str:
    """SQL: the status ``text`` as compared (see :func:`normal_status`)."""
    return _SQL_NORMAL.replace("{s}", text)


def load_statuses(
    path: str | Path | None = None, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Normalised status -> meaning: the packaged table, then ``path``, then ``overrides``.

    Parameters
    ----------
    path : str or Path, optional
        A TOML file laid out like the packaged ``statuses.toml`` (``--statuses``); each
        status it lists takes the meaning it gives.
    overrides : dict, optional
        Status -> meaning (``--status "awaiting shipment=purchase"``).

    Examples
    --------
    >>> table = load_statuses(overrides={"Awaiting Shipment": "purchase"})
    >>> table["voided"], table["awaiting shipment"], table["partially refunded"]
    ('not_purchase', 'purchase', 'partially_refunded')
    """
    text = resources.files("valueseg.io").joinpath(_DEFAULT).read_text("utf-8")
    table = _read(text, "valueseg default")
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise SourceNotFoundError(
                f"Statuses file {file} not found. Pass the path of a TOML file laid out "
                f"like valueseg/io/{_DEFAULT}."
            )
        table.update(_read(file.read_text("utf-8"), str(file)))
    for status, meaning in (overrides or {}).items():
        if meaning not in MEANINGS:
            raise InputError(
                f"Cannot read --status {status}={meaning}: '{meaning}' is not a meaning. "
                f"Expected one of: {', '.join(MEANINGS)}, e.g. --status "
                f'"{status}=purchase".'
            )
        table[normal_status(status)] = meaning
    return table


def _read(text: str, source: str) -> dict[str, str]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"Statuses file {source} is not valid TOML: {exc}.") from None
    unknown = sorted(set(data) - set(MEANINGS))
    if unknown:
        raise InputError(
            f"Statuses file {source} has unknown keys: {', '.join(unknown)}. "
            f"Expected lists named {', '.join(MEANINGS)}."
        )
    table: dict[str, str] = {}
    for meaning in MEANINGS:
        values = data.get(meaning, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InputError(
                f"Statuses file {source}: '{meaning}' must be a list of statuses (text), "
                f'such as ["paid", "completed"]. Got {values!r}.'
            )
        for value in values:
            status = normal_status(value)
            if table.get(status, meaning) != meaning:
                raise InputError(
                    f"Statuses file {source} lists '{value}' under both {table[status]} and "
                    f"{meaning}. Expected each status once; remove one."
                )
            table[status] = meaning
    return table


def meaning_sql(status: str, table: Mapping[str, str]) -> str:
    """SQL: the meaning of the normalised status ``status`` (NULL when it is not listed).

    Examples
    --------
    >>> meaning_sql("s", {"paid": "purchase", "it's void": "not_purchase"})
    "CASE s WHEN 'paid' THEN 'purchase' WHEN 'it''s void' THEN 'not_purchase' END"
    """
    cases = " ".join(
        f"WHEN '{k.replace(chr(39), chr(39) * 2)}' THEN '{v}'" for k, v in table.items()
    )
    return f"CASE {status} {cases} END"
