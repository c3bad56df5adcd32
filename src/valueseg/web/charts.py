"""The report's charts on the web pages: the same section builders and SVG drawing as
``valueseg report`` (:func:`valueseg.report.section_charts`), drawn once per finished run.

A succeeded run never changes, so its charts are kept in memory (the few runs looked at
last); a run still in progress or failed is drawn each time it is asked for. Every chart
draws aggregates or a fixed sample, never a customer's row, so a viewer may see them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from valueseg.store import Store
from valueseg.store.web import run_row

__all__ = ["OVERVIEW", "RUN", "report_html", "run_charts"]

#: The report's sections shown on the overview page and on a run's page.
OVERVIEW = ("rfm", "value")
RUN = ("models", "predict", "clusters", "recommend")
#: How many (store, run, sections) drawings are kept.
_KEPT = 8

_cache: OrderedDict[tuple[str, int, tuple[str, ...]], Any] = OrderedDict()
_lock = threading.Lock()


def run_charts(store: Store, run_id: int, keys: tuple[str, ...]) -> list[Any]:
    """The sections ``keys`` of run ``run_id``'s report, charts as SVG (cached when the
    run has succeeded)."""
    from valueseg.report import section_charts

    return _kept(store, run_id, keys, lambda: section_charts(store, run_id=run_id, keys=keys))


def report_html(store: Store, run_id: int) -> str:
    """Run ``run_id``'s whole report as ``valueseg report --run`` writes it (cached when the
    run has succeeded)."""
    from valueseg.report import report_text

    return str(_kept(store, run_id, ("*",), lambda: report_text(store, run_id=run_id)))


def _kept(store: Store, run_id: int, what: tuple[str, ...], draw: Callable[[], Any]) -> Any:
    key = (store.path, run_id, what)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    drawn = draw()
    row = run_row(store, run_id)
    if store.path != ":memory:" and row is not None and row.get("status") == "succeeded":
        with _lock:
            _cache[key] = drawn
            while len(_cache) > _KEPT:
                _cache.popitem(last=False)
    return drawn
