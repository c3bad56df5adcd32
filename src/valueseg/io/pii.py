"""Personal data among customer attributes: columns tagged by their name and their content.

A column of ``customers`` is tagged with a kind — ``email``, ``phone``, ``name`` or
``address`` — when

- its **name** says so: split into words (``E-Mail``, ``phone_number``, ``LastName``), a
  word or the whole name is one of the kind's words (:data:`NAME_WORDS`); or
- its **content** does (a text column's: ingest types numbers and dates, whose content
  is not read): of up to 1,000 of its values, more than half match the kind's
  pattern (:data:`MIN_SHARE`): an e-mail address; a phone number (7 to 15 digits, with
  ``+ ( ) - . /`` and spaces, not a date); a person's name (two to four capitalised words, in a
  column whose values are mostly distinct, so a city or a region is not a name); an
  address (a house number and a street word: ``12 Baker Street``, ``Hauptstraße 5``).

Detection errs on the side of hiding: a free-text column of names tagged ``name`` is
shown to admins only. Boolean columns are never personal (``email_opt_in``). Tags are
stored in ``pii_columns`` (:mod:`valueseg.store.pii`) when customers are ingested, and a
column once tagged stays tagged; the web app shows tagged columns to admins only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from valueseg.store import Store
from valueseg.store.pii import attribute_types, examined_columns, text_sample, write_tags

__all__ = [
    "KINDS",
    "MIN_SHARE",
    "NAME_WORDS",
    "Tag",
    "kind_by_content",
    "kind_by_name",
    "tag_personal_columns",
]

#: The kinds of personal data tagged.
KINDS: Final = ("email", "phone", "name", "address")
#: Share of sampled values that must match a kind's pattern.
MIN_SHARE: Final = 0.5
#: Words of a column's name that mark each kind (compared lower case, without separators).
NAME_WORDS: Final = {
    "email": frozenset("email mail emailaddress emailid".split()),
    "phone": frozenset(
        "phone phonenumber mobile mobilephone tel telephone cell cellphone fax msisdn".split()
    ),
    "name": frozenset(
        "name firstname lastname fullname surname givenname forename middlename familyname "
        "username".split()
    ),
    "address": frozenset(
        "address addr street streetaddress address1 address2 postcode postalcode zip zipcode "
        "housenumber".split()
    ),
}
_SAMPLE: Final = 1000
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_PHONE: Final = re.compile(r"\+?[\d\s().\-/]{7,24}")
_DATE: Final = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}")
_PERSON: Final = re.compile(r"[A-ZÀ-Þ][a-zß-ÿ'’\-]+(?: [A-ZÀ-Þ][a-zß-ÿ'’\-]+){1,3}")
_STREET: Final = re.compile(
    r"\b(street|st|road|rd|avenue|ave|lane|ln|drive|dr|way|boulevard|blvd|place|pl|court|"
    r"ct|square|sq|strasse|str|rue|via|calle|avenida|weg|gasse|laan|straat|vej|gatan)\b"
    r"|stra(ss|ß)e\b|weg\b|gasse\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Tag:
    """What was found of one column: its kind (None: not personal), how, and the share."""

    column: str
    kind: str | None
    how: str | None = None
    share: float | None = None

    def describe(self) -> str:
        """``email (e-mail by content, 100 % of values)``-like text."""
        share = "" if self.share is None else f", {100 * self.share:.0f} % of values"
        return f"{self.column} ({self.kind} by {self.how}{share})"


def _words(column: str) -> tuple[list[str], str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", column)
    words = [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]
    return words, "".join(words)


def kind_by_name(column: str) -> str | None:
    """The kind a column's name announces, or None.

    Examples
    --------
    >>> [kind_by_name(c) for c in ("E-Mail", "phone_number", "LastName", "street_address")]
    ['email', 'phone', 'name', 'address']
    >>> [kind_by_name(c) for c in ("region", "age_band", "signup_date", "segment")]
    [None, None, None, None]
    """
    words, joined = _words(column)
    for kind in KINDS:
        if joined in NAME_WORDS[kind] or any(w in NAME_WORDS[kind] for w in words):
            return kind
    return None


def _is_phone(value: str) -> bool:
    digits = sum(c.isdigit() for c in value)
    if not 7 <= digits <= 15 or _DATE.match(value):
        return False
    return _PHONE.fullmatch(value) is not None


def _is_address(value: str) -> bool:
    return any(c.isdigit() for c in value) and _STREET.search(value) is not None


def kind_by_content(values: Sequence[str]) -> tuple[str, float] | None:
    """The kind most values (more than :data:`MIN_SHARE`) are, with the share, or None.

    Examples
    --------
    >>> kind_by_content(["ada@example.com", "alan@example.org", "-"])
    ('email', 0.6666666666666666)
    >>> kind_by_content(["+44 20 7946 0001", "(555) 123-4567"])
    ('phone', 1.0)
    >>> kind_by_content(["North East", "South West"] * 3) is None  # a place: few distinct
    True
    """
    values = [v.strip() for v in values if v and v.strip()]
    if not values:
        return None
    n = len(values)
    checks = {
        "email": lambda v: _EMAIL.fullmatch(v) is not None,
        "phone": _is_phone,
        "address": _is_address,
        "name": lambda v: _PERSON.fullmatch(v) is not None,
    }
    for kind, check in checks.items():
        share = sum(1 for v in values if check(v)) / n
        distinct = len(set(values)) / n
        if share > MIN_SHARE and (kind != "name" or distinct > MIN_SHARE):
            return kind, share
    return None


def _examine(store: Store, column: str, sql_type: str) -> Tag:
    if sql_type == "BOOLEAN":
        return Tag(column, None)
    named = kind_by_name(column)
    text = sql_type == "VARCHAR"  # ingest types numbers and dates: their content is not read
    found = kind_by_content(text_sample(store, column, _SAMPLE)) if text else None
    if found is None:
        return Tag(column, named, None if named is None else "name")
    kind, share = found
    if named is None:
        return Tag(column, kind, "content", share)
    return Tag(column, named, "name and content" if named == kind else "name", share)


def tag_personal_columns(store: Store) -> list[Tag]:
    """Examine the ``customers`` columns not yet tagged personal, record what was found,
    and return the columns newly tagged."""
    seen = examined_columns(store)
    tags = [
        _examine(store, column, sql_type)
        for column, sql_type in attribute_types(store).items()
        if seen.get(column) is None
    ]
    write_tags(store, [(t.column, t.kind, t.how, t.share) for t in tags])
    return [t for t in tags if t.kind is not None]
