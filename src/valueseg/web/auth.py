"""API keys and roles: who is calling, and may they.

A key is ``vs_`` and 32 random URL-safe characters (:func:`secrets.token_urlsafe`); the
store keeps its SHA-256 only, with its first characters to recognise it in a list. A
client sends ``Authorization: Bearer <key>``; a page sends the key it logged in with, in
an HttpOnly, SameSite=Lax cookie. Roles are ordered: ``viewer`` (aggregates only) <
``analyst`` (customer level) < ``admin`` (posting events, runs, raw ids). A missing or
unknown key is 401, too low a role 403.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Final

from valueseg.errors import InputError
from valueseg.store import Store
from valueseg.store.web import insert_key, key_by_hash
from valueseg.web.cache import ReadCache

__all__ = [
    "COOKIE",
    "ROLES",
    "Caller",
    "bearer",
    "check_role",
    "create_key",
    "hash_key",
    "identify",
    "role_at_least",
]

#: The roles, least first.
ROLES: Final = ("viewer", "analyst", "admin")
#: The cookie a logged-in page carries its key in.
COOKIE: Final = "valueseg_key"
_PREFIX: Final = "vs_"
_SHOWN: Final = 8  # characters of a key kept in clear, to recognise it


@dataclass(frozen=True)
class Caller:
    """Who is calling: their key's id (None: the local admin, when keys are not required)."""

    key_id: int | None
    role: str


def check_role(role: str) -> str:
    """``role`` when it is one of :data:`ROLES`.

    Examples
    --------
    >>> check_role("analyst")
    'analyst'
    >>> check_role("boss")
    Traceback (most recent call last):
    ...
    valueseg.errors.InputError: Unknown role 'boss'. Expected one of: viewer, analyst, admin.
    """
    if role not in ROLES:
        raise InputError(f"Unknown role {role!r}. Expected one of: {', '.join(ROLES)}.")
    return role


def role_at_least(role: str, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may.

    Examples
    --------
    >>> role_at_least("admin", "analyst"), role_at_least("viewer", "analyst")
    (True, False)
    """
    return ROLES.index(role) >= ROLES.index(needed)


def hash_key(key: str) -> str:
    """The SHA-256 (hex) a key is stored as.

    Examples
    --------
    >>> hash_key("vs_example")[:16]
    '0f18be7112d26ace'
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(store: Store, role: str, label: str | None = None) -> tuple[int, str]:
    """A new key of ``role``: its id and the key itself (shown once, never stored).

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     key_id, key = create_key(store, "analyst", "crm")
    ...     identify(store, key) == Caller(key_id, "analyst"), identify(store, "vs_nope")
    (True, None)
    """
    check_role(role)
    key = _PREFIX + secrets.token_urlsafe(24)
    key_id = insert_key(store, hash_key(key), key[:_SHOWN], role, label)
    return key_id, key


def identify(store: Store, key: str | None, cache: ReadCache | None = None) -> Caller | None:
    """The caller a key belongs to (None: no key, unknown or revoked); a known key's role
    is kept in ``cache`` (the server's, cleared when a key is created or revoked)."""
    if not key:
        return None
    digest = hash_key(key)
    if cache is None:
        found = key_by_hash(store, digest)
    else:
        found = cache.get(
            ("key", digest), lambda: key_by_hash(store, digest), keep=lambda v: v is not None
        )
    return None if found is None else Caller(found[0], found[1])


def bearer(header: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header (None: no such header).

    Examples
    --------
    >>> bearer("Bearer vs_abc"), bearer("Basic xyz"), bearer(None)
    ('vs_abc', None, None)
    """
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
