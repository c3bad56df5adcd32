"""Latency and throughput of the web API: a customer lookup and a posted order, on loopback.

Builds (or reuses, ``--db``) a store of ``make_shop(--customers)`` with one run, creates an
admin key, starts ``valueseg serve`` in a process of its own on a free loopback port, then
drives each endpoint for ``--seconds`` with ``--concurrency`` clients (httpx, async, one
request at a time each):

- ``GET /v1/customers/{id}``: a random customer of the run (scores, reasons, history, and
  an audit-log row per read);
- ``POST /v1/events``: an order of a random customer after the run's ``as_of``, stored
  through ingest and scored again at once (one write at a time: the server's write lock).

It prints requests, errors, throughput, p50 and p99 per endpoint, next to the issue's
target (p99 < 50 ms at 200 requests/s on a 1M-customer store).

Run: ``python bench/api.py`` (100,000 customers; building the store is most of the time),
``python bench/api.py --customers 5000 --seconds 15`` for a quick look, or
``--db shop.duckdb`` to reuse a store that already has a finished run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np

import valueseg as vs
from valueseg.store import Store
from valueseg.web.auth import create_key

TARGET_P99_MS = 50.0
TARGET_RATE = 200.0


def build(db: Path, customers: int) -> None:
    """A store of ``make_shop(customers)`` with one finished run (fast settings)."""
    started = time.perf_counter()
    shop = vs.make_shop(customers, random_state=0)
    for kind in ("transactions", "events", "customers"):
        vs.ingest(getattr(shop, kind), kind=kind, db=db)
    vs.run(db, learners="lr", recommender="popularity", clusters="3")
    print(f"built {db} ({customers:,} customers) in {time.perf_counter() - started:.0f} s")


def prepare(db: Path) -> tuple[str, list[str], object]:
    """An admin key, the run's customer ids and its as_of."""
    with Store(db) as store:
        _, key = create_key(store, "admin", "bench/api.py")
        row = store.con.execute(
            "SELECT max(run_id) FROM runs WHERE status = 'succeeded'"
        ).fetchone()
        if row is None or row[0] is None:
            raise SystemExit(f"{db} has no finished run: valueseg run --db {db}")
        run_id = int(row[0])
        ids = [r[0] for r in store.con.execute(
            "SELECT customer_id FROM customer_scores WHERE run_id = ?", [run_id]
        ).fetchall()]  # fmt: skip
        as_of = store.con.execute("SELECT as_of FROM runs WHERE run_id = ?", [run_id]).fetchone()
    assert as_of is not None
    return key, ids, as_of[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(db: Path, port: int) -> subprocess.Popen[bytes]:
    code = f"from valueseg.web.serve import serve; serve({str(db)!r}, '127.0.0.1', {port})"
    server = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not answer within 120 s")


async def drive(
    make_request: object, seconds: float, concurrency: int, base: str, key: str
) -> tuple[list[float], int, float]:
    """Latencies (ms) of the requests that got a 2xx, the count of the others, wall time."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency)

    async def worker(client: httpx.AsyncClient, rng: random.Random) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            method, url, body = make_request(rng)  # type: ignore[operator]
            began = time.perf_counter()
            response = await client.request(method, url, json=body, headers=headers)
            elapsed = (time.perf_counter() - began) * 1000
            if response.is_success:
                latencies.append(elapsed)
            else:
                errors += 1

    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        await asyncio.gather(*(worker(client, random.Random(i)) for i in range(concurrency)))
    return latencies, errors, time.perf_counter() - began


def report(name: str, latencies: list[float], errors: int, wall: float) -> None:
    done = len(latencies)
    p50, p99 = np.percentile(latencies, [50, 99]) if done else (float("nan"),) * 2
    rate = done / wall
    meets = "yes" if p99 < TARGET_P99_MS and rate >= TARGET_RATE else "no"
    print(
        f"{name:<28} {done:>8,} {errors:>7,} {rate:>10.1f} {p50:>9.1f} {p99:>9.1f}   "
        f"{p99 / TARGET_P99_MS:>6.2f}x  {meets}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="reuse this store (it needs a finished run)")
    parser.add_argument("--seconds", type=float, default=20.0, help="per endpoint")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="valueseg-bench-api-") as tmp:
        db = args.db
        if db is None or not db.exists():
            db = db or Path(tmp) / "shop.duckdb"
            build(db, args.customers)
        key, ids, as_of = prepare(db)
        port = free_port()
        server = start_server(db, port)
        base = f"http://127.0.0.1:{port}"
        counter = iter(range(10**9))

        def lookup(rng: random.Random) -> tuple[str, str, None]:
            return "GET", f"/v1/customers/{rng.choice(ids)}", None

        def order(rng: random.Random) -> tuple[str, str, dict[str, object]]:
            minutes = timedelta(minutes=rng.randrange(1, 60 * 24 * 30))
            body = {
                "customer_id": rng.choice(ids),
                "timestamp": (as_of + minutes).isoformat(),  # type: ignore[operator]
                "amount": round(rng.uniform(5, 300), 2),
                "order_id": f"B{next(counter)}",
            }
            return "POST", "/v1/events", body

        try:
            print(f"{len(ids):,} customers; {args.concurrency} clients; {args.seconds:.0f} s each; "
                  f"server pid {server.pid}, {os.cpu_count()} CPUs")  # fmt: skip
            print(f"{'endpoint':<28} {'ok':>8} {'errors':>7} {'req/s':>10} {'p50 ms':>9} "
                  f"{'p99 ms':>9}   p99/target  target met")  # fmt: skip
            for name, make in (("GET /v1/customers/{id}", lookup), ("POST /v1/events", order)):
                latencies, errors, wall = asyncio.run(
                    drive(make, args.seconds, args.concurrency, base, key)
                )
                report(name, latencies, errors, wall)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
