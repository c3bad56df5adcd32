"""The requests in flight and the moment the last ended (valueseg.web.traffic)."""

from __future__ import annotations

import asyncio
import math

import pytest
from starlette.types import Receive, Scope, Send

from valueseg.web.traffic import Traffic, TrafficMeter


def test_a_request_counts_while_in_flight_even_when_it_fails() -> None:
    traffic = Traffic()
    during: list[float] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        during.append(traffic.idle_s())
        if scope["path"] == "/fails":
            raise RuntimeError("the app failed")

    meter = TrafficMeter(app, traffic)

    async def nothing() -> dict[str, str]:
        return {"type": "http.disconnect"}

    async def ignore(message: object) -> None:
        pass

    asyncio.run(meter({"type": "http", "path": "/"}, nothing, ignore))
    assert during == [0.0] and traffic.in_flight == 0 and traffic.idle_s() < 5
    with pytest.raises(RuntimeError, match="the app failed"):
        asyncio.run(meter({"type": "http", "path": "/fails"}, nothing, ignore))
    assert during == [0.0, 0.0] and traffic.in_flight == 0


def test_the_apps_lifespan_is_not_a_request() -> None:
    traffic = Traffic()
    during: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        during.append(traffic.in_flight)

    async def nothing() -> dict[str, str]:
        return {"type": "lifespan.startup"}

    async def ignore(message: object) -> None:
        pass

    asyncio.run(TrafficMeter(app, traffic)({"type": "lifespan"}, nothing, ignore))
    assert during == [0] and traffic.idle_s() == math.inf
