"""Latency and throughput of the web API: a customer lookup and a posted order, on loopback.

Works on a copy (in a temporary folder: the bench writes orders, keys and audit rows) of
a cached store in ``bench/_data``:

- up to 20,000 customers: ``make_shop(--customers)`` with one real run (``lr`` learner,
  popularity recommendations, three clusters), built once (``api_<N>.duckdb``);
- more: bench/report.py's scaled store, a real run of ``make_shop(20_000)`` with every
  customer copied under new ids up to ``--customers`` (transactions, features, scores,
  reasons, recommendations, segments, estimators; a second run that moves a tenth of
  them; no events or attributes), so a 1M-customer store costs a copy, not a 1M run;
- or ``--db``: that store itself (it needs a finished run).

It creates an admin key, starts ``valueseg serve`` in a process of its own on a free
loopback port, then drives each endpoint for ``--seconds`` with each of ``--concurrency``
clients (a closed loop: a comma-separated list; aiohttp, one request at a time each),
then at each of ``--rate`` requests a second (an open loop: requests sent on time whatever
the answers, latency counted from when each was due, so a queue anywhere shows in it;
the issue's target is a rate):

- ``GET /v1/customers/{id}``: a random customer of the run (scores, reasons, history, and
  an audit-log row per read);
- ``POST /v1/events``: an order of a random customer after the run's ``as_of``, stored
  by ingest's rules and scored again at once (one write at a time: the server's write
  lock).

One request of each endpoint goes first and is not counted (the first order loads the
run's estimators and rankings: seconds at 1M customers), then ``--warmup`` seconds of
each at 4 clients, not counted either: a freshly opened store reads its indexes' pages
as lookups first touch them, and the first seconds of random lookups at 1M customers had
a p99 over a second (a server that has run a while has them). Opening a store made
before schema 5 builds its indexes by customer first (the time is printed).

It prints the machine's pace first (ten million additions in a Python loop: the shared
machine's speed varies from day to day, and latencies with it), then requests, errors,
throughput, p50 and p99 per endpoint and load, next to the issue's target (p99 < 50 ms
at 200 requests/s on a 1M-customer store), and the server process's CPU time per request
over the level (user and system, every thread, from /proc): what a request costs, less
at the mercy of the shared machine than its latency; then this client's own CPU time per
request (it runs on the same cores) and its longest garbage collection during the level
(its set-up's objects are frozen out of them first).

Run: ``python bench/api.py --customers 1000000 --concurrency 1,4,16 --rate 100,200`` (the
issue's size; the scaled store is built once, in about two minutes), ``python bench/api.py
--customers 5000 --seconds 15`` for a quick look, or ``--db shop.duckdb`` for a store
that already has a finished run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np

import valueseg as vs
from valueseg.store import Store
from valueseg.web.auth import create_key
from valueseg.web.checkpoints import BUSY_BYTES, QUIET_S, log_bytes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import BASE_CUSTOMERS, DATA, scaled_store  # bench/report.py

TARGET_P99_MS = 50.0
TARGET_RATE = 200.0
#: Connections of the open-loop client (requests beyond wait for one, and are late).
CONNECTIONS = 64
#: What a level gives: latencies (ms), errors, wall time (s).
Measured = tuple[list[float], int, float]


class ClientPauses:
    """The longest pause of this process's garbage collector while a level runs: the
    client shares the machine and times the answers, so a long collection here (a gen-2
    pass over a heap grown by the requests it keeps) would read as the server's latency.
    Each level starts with the set-up's objects frozen out of the collector's way
    (:func:`gc.freeze`) and this reset; the line shows what is left."""

    def __init__(self) -> None:
        self.longest_ms = 0.0
        self._began = 0.0
        gc.callbacks.append(self._note)

    def _note(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.longest_ms = max(self.longest_ms, (time.perf_counter() - self._began) * 1000)

    def reset(self) -> None:
        gc.collect()
        gc.freeze()
        self.longest_ms = 0.0


PAUSES = ClientPauses()


def build(db: Path, customers: int) -> None:
    """A store of ``make_shop(customers)`` with one finished run (fast settings)."""
    started = time.perf_counter()
    shop = vs.make_shop(customers, random_state=0)
    for kind in ("transactions", "events", "customers"):
        vs.ingest(getattr(shop, kind), kind=kind, db=db)
    vs.run(db, learners="lr", recommender="popularity", clusters="3")
    print(f"built {db} ({customers:,} customers) in {time.perf_counter() - started:.0f} s")


def cached_store(customers: int) -> Path:
    """The cached store of ``customers`` customers in bench/_data (built the first time)."""
    if customers > BASE_CUSTOMERS:
        started = time.perf_counter()
        path = scaled_store(customers)
        print(f"scaled store {path} ready in {time.perf_counter() - started:.0f} s")
        return path
    path = DATA / f"api_{customers}.duckdb"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        build(partial, customers)
        partial.rename(path)
    return path


def prepare(db: Path) -> tuple[str, list[str], datetime]:
    """An admin key, the run's customer ids and its as_of (the store migrated first)."""
    started = time.perf_counter()
    with Store(db) as store:
        print(f"opened (and migrated) {db.name} in {time.perf_counter() - started:.1f} s")
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


async def _send(session: aiohttp.ClientSession, make_request: object, rng: random.Random) -> bool:
    """One request of ``make_request``'s making, its answer read; whether it succeeded."""
    method, url, body = make_request(rng)  # type: ignore[operator]
    async with session.request(method, url, json=body) as response:
        await response.read()
        return response.status < 400


def _session(base: str, key: str, connections: int) -> aiohttp.ClientSession:
    # aiohttp, not httpx: at a few hundred requests a second httpx's client took a core
    # of the machine the server runs on (its pool slows as waiting requests pile up)
    return aiohttp.ClientSession(
        base_url=base,
        headers={"Authorization": f"Bearer {key}"},
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=120),
    )


async def drive(
    make_request: object, seconds: float, concurrency: int, base: str, key: str
) -> Measured:
    """Latencies (ms) of the requests that got a 2xx, the count of the others, wall time."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession, rng: random.Random) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            began = time.perf_counter()
            if await _send(session, make_request, rng):
                latencies.append((time.perf_counter() - began) * 1000)
            else:
                errors += 1

    began = time.perf_counter()
    async with _session(base, key, concurrency) as session:
        await asyncio.gather(*(worker(session, random.Random(i)) for i in range(concurrency)))
    return latencies, errors, time.perf_counter() - began


async def paced(make_request: object, seconds: float, rate: float, base: str, key: str) -> Measured:
    """Requests sent at ``rate`` a second for ``seconds`` whatever the answers (an open
    loop: a slow answer does not slow the sending): latencies (ms) from when each request
    was due, so time spent queued anywhere counts; the count of errors; wall time."""
    latencies: list[float] = []
    errors = 0
    rng = random.Random(0)

    async def one(session: aiohttp.ClientSession, due: float) -> None:
        nonlocal errors
        if await _send(session, make_request, rng):
            latencies.append((time.perf_counter() - due) * 1000)
        else:
            errors += 1

    async with _session(base, key, CONNECTIONS) as session:
        began = time.perf_counter()
        pending: set[asyncio.Task[None]] = set()  # only those in flight: finished tasks
        for i in range(int(seconds * rate)):  # kept would grow the client's heap and its
            due = began + i / rate  # collector's pauses with the run's length
            await asyncio.sleep(max(0.0, due - time.perf_counter()))  # each request started
            task = asyncio.create_task(one(session, due))  # when it is due (tasks made all
            pending.add(task)  # at once up front took 0.2 s for 4,000, the first went late)
            task.add_done_callback(pending.discard)
        while pending:
            await asyncio.gather(*pending)
    return latencies, errors, time.perf_counter() - began


def machine_pace() -> float:
    """Seconds this process takes for ten million additions in a Python loop: the shared
    machine's speed at the time, printed with each run (the same code's latencies moved
    by half from one day to another as it did)."""
    started, total = time.perf_counter(), 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used so far, user and system, all its threads (Linux's
    /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(
    name: str,
    load: str,
    latencies: list[float],
    errors: int,
    wall: float,
    cpu: tuple[float, float],
) -> None:
    """One line: ``cpu`` is the server's and this client's CPU seconds during the level
    (per request in the line: what a request costs the machine, whatever the latency;
    the client shares the machine)."""
    done = len(latencies)
    p50, p99 = np.percentile(latencies, [50, 99]) if done else (float("nan"),) * 2
    rate = done / wall
    meets = "yes" if p99 < TARGET_P99_MS and rate >= TARGET_RATE * 0.98 else "no"
    server, client = (c * 1000 / max(done + errors, 1) for c in cpu)
    print(
        f"{name:<28} {load:>9} {done:>8,} {errors:>7,} {rate:>10.1f} {p50:>9.1f} {p99:>9.1f}   "
        f"{p99 / TARGET_P99_MS:>6.2f}x  {meets:<4} {server:>9.2f} {client:>9.2f} "
        f"{PAUSES.longest_ms:>9.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="reuse this store (it needs a finished run)")
    parser.add_argument("--seconds", type=float, default=20.0, help="per endpoint")
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="seconds of each endpoint not counted"
    )
    parser.add_argument(
        "--concurrency", default="16", help="closed loop: clients, comma separated ('' for none)"
    )
    parser.add_argument(
        "--rate",
        default="",
        help="open loop: requests a second, comma separated (each level after the clients')",
    )
    parser.add_argument(
        "--endpoints", default="get,post", help="get (customer lookup), post (order), or both"
    )
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",") if c]
    rates = [float(r) for r in args.rate.split(",") if r]
    wanted = set(args.endpoints.split(","))
    DATA.mkdir(exist_ok=True)  # a fresh checkout has no bench/_data yet
    with tempfile.TemporaryDirectory(prefix="valueseg-bench-api-", dir=DATA) as tmp:
        db = args.db
        if db is None:
            db = Path(tmp) / "shop.duckdb"
            cached = cached_store(args.customers)
            started = time.perf_counter()
            shutil.copy(cached, db)
            print(f"copied the store in {time.perf_counter() - started:.1f} s")
        key, ids, as_of = prepare(db)
        port = free_port()
        server = start_server(db, port)
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {key}"}
        counter = iter(range(10**9))

        def lookup(rng: random.Random) -> tuple[str, str, None]:
            return "GET", f"/v1/customers/{rng.choice(ids)}", None

        def order(rng: random.Random) -> tuple[str, str, dict[str, object]]:
            minutes = timedelta(minutes=rng.randrange(1, 60 * 24 * 30))
            body = {
                "customer_id": rng.choice(ids),
                "timestamp": (as_of + minutes).isoformat(),
                "amount": round(rng.uniform(5, 300), 2),
                "order_id": f"B{next(counter)}",
            }
            return "POST", "/v1/events", body

        endpoints = [
            (name, make)
            for short, name, make in (
                ("get", "GET /v1/customers/{id}", lookup),
                ("post", "POST /v1/events", order),
            )
            if short in wanted
        ]
        try:
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            print(
                f"{len(ids):,} customers; {args.seconds:.0f} s per endpoint and level; "
                f"server pid {server.pid}; {os.cpu_count()} CPUs, load average {load}; "
                f"machine pace {machine_pace():.2f} s (10M Python additions: lower is faster)"
            )
            print(f"{'endpoint':<28} {'load':>9} {'ok':>8} {'errors':>7} {'req/s':>10} "
                  f"{'p50 ms':>9} {'p99 ms':>9}   p99/target  met  CPU ms/req: server client  "
                  f"client GC max ms")  # fmt: skip
            for name, make in endpoints:  # the first order loads the run's estimators
                method, url, body = make(random.Random(-1))
                started = time.perf_counter()
                httpx.request(method, base + url, json=body, headers=auth, timeout=600)
                print(f"warm-up {name}: {time.perf_counter() - started:.1f} s (not counted)")
                if args.warmup > 0:
                    latencies, errors, _ = asyncio.run(drive(make, args.warmup, 4, base, key))
                    print(f"  then {len(latencies) + errors:,} requests in {args.warmup:g} s "
                          f"at 4 clients (not counted)")  # fmt: skip
            # the closed loops, then the open ones: (label, loop, clients or rate)
            plan: list[tuple[str, Callable[..., Coroutine[Any, Any, Measured]], float]] = [
                *((f"{c} cl", drive, c) for c in levels),
                *((f"{r:g}/s", paced, r) for r in rates),
            ]
            for label, loop, level in plan:
                for name, make in endpoints:
                    PAUSES.reset()
                    before = cpu_seconds(server.pid), time.process_time()
                    latencies, errors, wall = asyncio.run(
                        loop(make, args.seconds, level, base, key)
                    )
                    cpu = (
                        cpu_seconds(server.pid) - before[0],
                        time.process_time() - before[1],
                    )
                    report(name, label, latencies, errors, wall, cpu)
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"load average at the end {load}; the store's write-ahead log "
                  f"{log_bytes(db) / 2**20:.1f} MiB (the server checkpoints it when no "
                  f"request has come for {QUIET_S:g} s, or between writes past "
                  f"{BUSY_BYTES // 2**20} MiB)")  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
