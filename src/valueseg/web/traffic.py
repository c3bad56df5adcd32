"""How long the server has had no request: the checkpointer waits for such a moment.

A DuckDB ``CHECKPOINT`` writes every table with an index out again, the indexes whole
(the store's tables by customer, with 7.9M order lines at 1M customers), and a read of a
table waits while that table is written: measured on the 1M store, a lookup's reads of
``customer_scores``, ``customer_reasons`` and ``customer_actions`` waited 60 to 130 ms
each, a read of a customer's order lines 0.76 s, in a checkpoint of 1.0 to 1.8 s. The
server therefore checkpoints when nobody is reading either (:mod:`valueseg.web.checkpoints`).
:class:`TrafficMeter`, the app's outermost middleware, counts the HTTP requests in
flight and notes when the last one ended, in :class:`Traffic`.
"""

from __future__ import annotations

import math
import time

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["Traffic", "TrafficMeter"]


class Traffic:
    """The HTTP requests in flight and when the last one ended (:func:`time.monotonic`).

    Changed by the event loop's thread only; read by the checkpointer's.

    Examples
    --------
    >>> traffic = Traffic()
    >>> traffic.idle_s() == math.inf  # no request yet
    True
    >>> traffic.begin()
    >>> traffic.idle_s()
    0.0
    >>> traffic.end()
    >>> traffic.idle_s() < 1
    True
    """

    def __init__(self) -> None:
        self.in_flight = 0
        self.last_end = -math.inf

    def begin(self) -> None:
        self.in_flight += 1

    def end(self) -> None:
        self.in_flight -= 1
        self.last_end = time.monotonic()

    def idle_s(self) -> float:
        """Seconds since the last request ended; 0.0 while one is in flight."""
        if self.in_flight > 0:
            return 0.0
        return time.monotonic() - self.last_end


class TrafficMeter:
    """The middleware: every HTTP request, from its start to its last byte sent (or its
    failure), counted in ``traffic``."""

    def __init__(self, app: ASGIApp, traffic: Traffic) -> None:
        self.app, self.traffic = app, traffic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.traffic.begin()
        try:
            await self.app(scope, receive, send)
        finally:
            self.traffic.end()
