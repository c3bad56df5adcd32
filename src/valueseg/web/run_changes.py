"""The segment changes logged under a run, kept in memory while the server scores orders.

A posted order's answer starts from its customer's scores before it: the run's, with the
lenses that orders moved since (``segment_changes``, the newest per lens). The server is
the store's only writer while it serves (the CLI writes through it), and only real-time
scoring logs changes, so it reads a run's changes once, with the run's estimators, and
adds those it logs itself (after their commit), where each batch of orders read them by
an indexed statement (:func:`valueseg.store.many_customers.latest_changes_of`: a twentieth
of a batch's time at 200 orders a second on a 1M-customer store).

tests/web/test_web_run_changes.py compares it with the store's reader after orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from valueseg.store import Store
from valueseg.store.many_customers import run_latest_changes

__all__ = ["LoggedChanges", "load_logged_changes"]

#: A ``segment_changes`` row as real-time scoring logs it:
#: ``(customer_id, lens, before, after, cause)``.
ChangeRow = tuple[str, str, str | None, str | None, str]


class LoggedChanges:
    """Customer id -> lens -> the newest ``after_value`` logged under one run.

    Examples
    --------
    >>> changes = LoggedChanges({"c1": {"rfm": "Champions"}})
    >>> changes.add([("c1", "rfm", "Champions", "At Risk", "order 7")])
    >>> changes.add([("c2", "tier", None, "Top 5%", "order 8")])
    >>> changes.of(["c1", "c2", "c3"])
    {'c1': {'rfm': 'At Risk'}, 'c2': {'tier': 'Top 5%'}}
    """

    def __init__(self, latest: dict[str, dict[str, str | None]]) -> None:
        self._latest = latest

    def of(self, ids: Iterable[str]) -> dict[str, dict[str, str | None]]:
        """The customers' newest changes (a copy; those with none are left out), as
        :func:`~valueseg.store.many_customers.latest_changes_of` reads them."""
        return {c: dict(got) for c in ids if (got := self._latest.get(c))}

    def add(self, rows: Sequence[ChangeRow]) -> None:
        """Rows just logged (committed), in the order they were written."""
        for customer, lens, _, after, _ in rows:
            self._latest.setdefault(customer, {})[lens] = after


def load_logged_changes(store: Store, run_id: int) -> LoggedChanges:
    """Run ``run_id``'s changes as the store holds them."""
    return LoggedChanges(run_latest_changes(store, run_id))
