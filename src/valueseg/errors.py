"""The one exception root of valueseg.

Every error a user can act on is a :class:`ValuesegError`. Subclasses also inherit the
built-in exception a Python user would expect (``ValueError``, ``FileNotFoundError`` …),
so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ValuesegError(Exception):
    """Root of every error valueseg raises on purpose."""


class InputError(ValuesegError, ValueError):
    """Input data that cannot be used: a file, a column or a parameter."""


class SourceNotFoundError(ValuesegError, FileNotFoundError):
    """A file or table named by the user does not exist."""


class StoreError(ValuesegError, RuntimeError):
    """The DuckDB store is missing, locked, or has an unknown schema version."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to ``name`` (case-insensitive), or None.

    Examples
    --------
    >>> did_you_mean("custmer_id", ["amount", "customer", "ts"])
    'customer'
    >>> did_you_mean("zzz", ["amount"]) is None
    True
    """
    lowered = {c.lower(): c for c in candidates}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[hits[0]] if hits else None
