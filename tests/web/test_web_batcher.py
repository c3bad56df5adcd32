"""Posted orders gathered into batches: one per customer, each answered as if alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.web.web_testing import TestClient
from valueseg.store import Store
from valueseg.store.web import request_store
from valueseg.web.batcher import OrderBatcher, Pending
from valueseg.web.realtime import rescore


def _until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_orders_waiting_make_the_next_batch_one_per_customer() -> None:
    batches: list[list[str]] = []
    hold = threading.Event()

    def process(batch: Sequence[Pending]) -> None:
        hold.wait(20)
        batches.append([p.order for p in batch])
        for pending in batch:
            pending.answer.set_result({"order": pending.order})

    batcher = OrderBatcher(process)
    posted = [("a", "a1"), ("b", "b1"), ("c", "c1"), ("b", "b2"), ("d", "d1")]
    with ThreadPoolExecutor(len(posted)) as pool:
        first = pool.submit(batcher.submit, "a", "a1", None)
        _until(lambda: batcher.batches == 1)  # a1 taken: its batch waits in process
        rest = [pool.submit(batcher.submit, c, o, None) for c, o in posted[1:]]
        _until(lambda: batcher.waiting() == 4)
        hold.set()
        answers = [first.result(20), *(f.result(20) for f in rest)]
    assert answers == [{"order": o} for _, o in posted]
    assert batches == [["a1"], ["b1", "c1", "d1"], ["b2"]]
    assert (batcher.batches, batcher.orders) == (3, 5)
    batcher.close()


def test_a_failing_batch_fails_each_of_its_orders_and_the_next_batch_goes_on() -> None:
    calls: list[int] = []

    def process(batch: Sequence[Pending]) -> None:
        calls.append(len(batch))
        if len(calls) == 1:
            raise OSError("disk full")
        if len(calls) == 2:
            return  # an answer left unset is an error, not a hang

    batcher = OrderBatcher(process)
    with pytest.raises(OSError, match="disk full"):
        batcher.submit("a", "a1", None)
    with pytest.raises(RuntimeError, match="ended without an answer"):
        batcher.submit("a", "a2", None)
    batcher.close()
    with pytest.raises(RuntimeError, match="stopping"):
        batcher.submit("a", "a3", None)


def test_orders_posted_together_are_scored_together_and_as_if_alone(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    """Orders of ten customers (and a second order of one) posted while the write lock is
    held are scored in two batches after it; each answer equals scoring that customer
    alone at the order's moment, and the second order starts from the first."""
    state = client.app.state.web  # type: ignore[attr-defined]
    store = request_store(state.root)
    try:
        ids = [str(c) for (c,) in store.con.execute(
            "SELECT customer_id FROM customer_scores WHERE run_id = 1 ORDER BY customer_id "
            "LIMIT 10 OFFSET 20"
        ).fetchall()]  # fmt: skip
    finally:
        store.close()
    bodies = [
        {"customer_id": c, "timestamp": f"2025-01-{10 + i:02d} 09:00:00", "amount": 50.0 + i,
         "order_id": f"batch-{i}"}
        for i, c in enumerate(ids)
    ]  # fmt: skip
    again = {**bodies[0], "timestamp": "2025-01-25 09:00:00", "order_id": "batch-again"}
    bodies.append(again)
    batcher = state.orders
    before = (batcher.batches, batcher.orders)

    def post(body: dict[str, Any]) -> Any:
        return client.post("/v1/events", json=body, headers=headers["admin"])

    def queued() -> int:  # taken into a batch (which waits for the lock) or waiting
        return batcher.orders - before[1] + batcher.waiting()

    with ThreadPoolExecutor(len(bodies)) as pool:
        with state.writing("the test"):  # the orders queue behind it
            futures = [pool.submit(post, body) for body in bodies[:-1]]
            _until(lambda: queued() == len(bodies) - 1)
            futures.append(pool.submit(post, again))  # queued after the first order
            _until(lambda: queued() == len(bodies))
        answers = [f.result(60) for f in futures]
    assert [a.status_code for a in answers] == [200] * len(bodies), answers[0].text
    assert batcher.orders - before[1] == len(bodies)
    assert batcher.batches - before[0] <= 3  # what came before the lock, the rest, again
    models = state.run_models(state.root, 1)
    out = [a.json() for a in answers]
    assert out[-1]["after"]["frequency"] == out[0]["after"]["frequency"] + 1
    for column in ("rfm_segment", "value_tier", "segment", "action"):  # the first's changes
        assert out[-1]["before"][column] == out[0]["after"][column]  # logged before the second
    state.settle_orders()  # the staged orders, into the tables rescore reads
    view = Store.__new__(Store)
    view.path, view.con = state.root.path, state.root.con.cursor()
    try:
        for body, got in zip(bodies[:-1], out[:-1], strict=True):
            alone = rescore(view, models, body["customer_id"], models.as_of.replace(
                year=2025, month=1, day=int(body["timestamp"][8:10]), hour=9))  # fmt: skip
            assert got["after"]["p_alive"] == pytest.approx(alone.scores["p_alive"], rel=1e-12)
            assert got["after"]["rfm_segment"] == alone.scores["rfm_segment"]
            assert got["recomputed"] == alone.recomputed
    finally:
        view.close()
