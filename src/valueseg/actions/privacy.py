"""Pseudonymous customer ids and cells a spreadsheet will not run.

**Pseudonyms.** ``--pseudonymize`` replaces each customer id with
``HMAC-SHA256(key, id)`` in hex (RFC 2104): the same id and key give the same pseudonym in
every export, so files from different days join on it, while without the key nobody can
tell which customer a pseudonym stands for, not even by hashing guessed ids (a plain hash
would allow that). The key is read from the environment variable
``VALUESEG_PSEUDONYM_KEY`` and never written anywhere; an export that asks for pseudonyms
without one is refused.

**Formula injection.** A spreadsheet opening a CSV runs a cell that starts with ``=``,
``+``, ``-`` or ``@`` (and, in some, a tab or carriage return) as a formula. Every text
cell that starts with one of them is written with a leading single quote, as OWASP's
CSV-injection advice recommends; numeric columns are written as numbers and need none.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from valueseg.errors import InputError

__all__ = ["KEY_VARIABLE", "escape_formulas", "pseudonym_key", "pseudonymize"]

#: The environment variable holding the pseudonym key.
KEY_VARIABLE: Final = "VALUESEG_PSEUDONYM_KEY"
#: Shortest key accepted, in characters.
MIN_KEY_LENGTH: Final = 16
_FORMULA_START: Final = r"^[=+\-@\t\r]"


def pseudonym_key() -> bytes:
    """The key from ``VALUESEG_PSEUDONYM_KEY``; refused when unset or too short."""
    key = os.environ.get(KEY_VARIABLE, "")
    if not key:
        raise InputError(
            f"--pseudonymize needs a secret key in the environment variable {KEY_VARIABLE}; "
            "it is not set. Set it to a random text of 16 characters or more, e.g. "
            f'export {KEY_VARIABLE}="$(openssl rand -hex 32)", and keep it: the same key '
            "gives the same pseudonyms."
        )
    if len(key) < MIN_KEY_LENGTH:
        raise InputError(
            f"{KEY_VARIABLE} is {len(key)} characters long; a pseudonym key needs at least "
            f"{MIN_KEY_LENGTH} (a short key can be guessed). Set a longer random one."
        )
    return key.encode("utf-8")


def pseudonymize(ids: Iterable[Any], key: bytes) -> list[str]:
    """``HMAC-SHA256(key, id)`` in hex for each id (as text).

    Examples
    --------
    >>> a = pseudonymize(["c1", "c2", "c1"], b"0123456789abcdef")
    >>> a[0] == a[2] != a[1], len(a[0])
    (True, 64)
    """
    return [hmac.new(key, str(i).encode("utf-8"), hashlib.sha256).hexdigest() for i in ids]


def escape_formulas(table: pa.Table) -> pa.Table:
    """The table with a ``'`` before every text cell that starts with ``= + - @``, tab or CR.

    Examples
    --------
    >>> t = pa.table({"a": ["=1+1", "ok", None, "-x", "@SUM(A1)"], "n": [-1, 2, 3, 4, 5]})
    >>> escape_formulas(t).column("a").to_pylist()
    ["'=1+1", 'ok', None, "'-x", "'@SUM(A1)"]
    """
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.fill_null(pc.match_substring_regex(column, _FORMULA_START), False)
            quote, nothing = pa.scalar("'", column.type), pa.scalar("", column.type)
            quoted = pc.binary_join_element_wise(quote, column, nothing)
            column = pc.if_else(risky, quoted, column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)
