"""What every request reads and only the server's own writes change, kept in memory.

A customer lookup used to read, before the customer's rows, the finished runs, the API
key's role and the columns tagged as personal data: three statements of about half a
millisecond each, and their Python around them, for answers that change only when the
store is written. While ``valueseg serve`` runs it is the store's one writer (DuckDB lets
one process write a file; the CLI goes through the server's API), so the server knows
when they change: every write it makes (:meth:`valueseg.web.deps.WebState.release_write`,
a key created or revoked through the API, a run finishing) calls :meth:`ReadCache.clear`,
and the next request reads them again.

A value read while a write was clearing the cache is handed back but not kept (the
generation counter), so a stale answer never outlives the write that changed it. Only
known keys are kept (an unknown key is looked up each time: random keys cannot fill the
memory).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["ReadCache"]

_T = TypeVar("_T")


class ReadCache:
    """Values by name, read once and kept until :meth:`clear`.

    Examples
    --------
    >>> cache = ReadCache()
    >>> reads = []
    >>> def load() -> int:
    ...     reads.append(1)
    ...     return 7
    >>> cache.get("runs", load), cache.get("runs", load), len(reads)
    (7, 7, 1)
    >>> cache.clear()
    >>> cache.get("runs", load), len(reads)
    (7, 2)
    >>> cache.get("key", lambda: None, keep=lambda v: v is not None), len(cache)
    (None, 1)
    >>> cache.forget("runs")
    >>> cache.get("runs", load), len(reads)
    (7, 3)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[Hashable, Any] = {}
        self._generation = 0

    def get(
        self,
        name: Hashable,
        load: Callable[[], _T],
        keep: Callable[[_T], bool] | None = None,
    ) -> _T:
        """The value kept under ``name``, else ``load()`` (kept unless ``keep`` says no,
        or the cache was cleared while it loaded)."""
        with self._lock:
            if name in self._values:
                value: _T = self._values[name]
                return value
            generation = self._generation
        value = load()
        if keep is None or keep(value):
            with self._lock:
                if generation == self._generation:
                    self._values[name] = value
        return value

    def forget(self, name: Hashable) -> None:
        """Forget the value kept under ``name`` (a write changed it and nothing else kept
        here); a load of it under way is not kept either."""
        with self._lock:
            self._values.pop(name, None)
            self._generation += 1

    def clear(self) -> None:
        """Forget every value (the store was written)."""
        with self._lock:
            self._values.clear()
            self._generation += 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)
