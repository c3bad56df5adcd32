"""Posted orders at an open rate in the server's own pipeline, without HTTP: the batcher,
the scoring and the staging of ``valueseg.web`` driven in one process.

``bench/api.py`` measures what a client sees: its latencies include the HTTP layer and
the load generator, both on the same shared cores, so a change to the batch's own work
is hard to see in them. This drives the same pipeline the server runs (its
:class:`~valueseg.web.deps.WebState`: the order batcher, the staged orders and their
mover, the checkpoint threshold the server sets) at ``--rate`` orders a second for
``--seconds``, each order counted from when it was due until its answer was set, on a
copy of bench/api.py's cached store (``--customers``, 1M by default). It prints p50, p90
and p99 next to the issue's target (p99 < 50 ms at 200 a second, for what the client
sees: this is a part of it), the mean batch size and the process's CPU time per order
(every thread), then the same for the code in ``--against`` (a checkout's ``src``
folder, run in a process of its own) when given, alternating ``--pairs`` times: the
machine's speed changes from minute to minute, so only passes run side by side compare.

Run: ``python bench/orders_inprocess.py`` or, to compare with an older commit
(``git worktree add ../old COMMIT``), ``python bench/orders_inprocess.py --against
../old/src --pairs 3``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import DATA, cached_store, prepare  # bench/api.py

TARGET_MS = 50.0


def drive(db: Path, rate: float, seconds: float) -> str:
    """One pass in this process: the summary line."""
    from valueseg.store import Store
    from valueseg.web.auth import Caller
    from valueseg.web.deps import WebState
    from valueseg.web.schemas import EventIn

    _, ids, as_of = prepare(db)
    root = Store(db)
    state = WebState(root, keys_required=False)
    state.checkpoints.start()  # the server's threshold and quiet-moment checkpoints
    caller = Caller(key_id=None, role="admin")
    rng = random.Random(0)
    latencies: list[float] = []
    counter = iter(range(10**9))

    def send(due: float) -> None:
        n = next(counter)
        when = as_of + timedelta(days=1, seconds=n * 37 % 2_000_000)
        event = EventIn(
            customer_id=rng.choice(ids),
            timestamp=when.isoformat(sep=" "),
            amount=float(10 + n % 50),
            order_id=f"I{n}",
        )
        answer = state.orders.enqueue(event.customer_id, event, caller)
        answer.add_done_callback(lambda _, due=due: latencies.append(time.perf_counter() - due))

    def run(count: int) -> None:
        began = time.perf_counter()
        for i in range(count):
            due = began + i / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            send(due)

    send(time.perf_counter())  # the run's estimators and rows load with the first order
    wait_for(latencies, 1, 600)
    run(int(rate * 3))  # warm-up, not counted
    wait_for(latencies, 1 + int(rate * 3), 60)
    latencies.clear()
    batches, orders = state.orders.batches, state.orders.orders
    cpu = time.process_time()
    run(int(rate * seconds))
    wait_for(latencies, int(rate * seconds), 60)
    cpu = time.process_time() - cpu
    size = (state.orders.orders - orders) / max(1, state.orders.batches - batches)
    state.orders.close()
    state.staged.close()
    state.settle_orders()
    state.reader.shutdown()
    state.audit.close()
    state.checkpoints.close()
    root.close()
    ms = np.array(latencies) * 1000
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return (
        f"{len(ms):,} orders at {rate:g}/s: p50 {p50:.1f}, p90 {p90:.1f}, p99 {p99:.1f} ms "
        f"({p99 / TARGET_MS:.2f}x the target), batches of {size:.1f} on average, "
        f"{cpu * 1000 / max(1, len(ms)):.2f} ms of CPU an order"
    )


def wait_for(answers: list[float], count: int, limit_s: float) -> None:
    """Until ``count`` answers came (or ``limit_s`` passed)."""
    deadline = time.monotonic() + limit_s
    while len(answers) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--against", type=Path, help="another checkout's src folder")
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # a pass on this copy
    args = parser.parse_args()
    if args.one is not None:
        print(drive(args.one, args.rate, args.seconds), flush=True)
        return
    cached = cached_store(args.customers)
    DATA.mkdir(exist_ok=True)
    sides = [("this code", None)] + ([("--against", args.against)] if args.against else [])
    print(f"{args.customers:,} customers; {os.cpu_count()} CPUs")
    for _ in range(args.pairs):
        for name, src in sides:
            with tempfile.TemporaryDirectory(prefix="valueseg-bench-orders-", dir=DATA) as tmp:
                db = Path(tmp) / "shop.duckdb"
                shutil.copy(cached, db)
                env = dict(os.environ)
                if src is not None:
                    env["PYTHONPATH"] = str(src)
                command = [sys.executable, __file__, "--one", str(db)]
                command += ["--rate", str(args.rate), "--seconds", str(args.seconds)]
                done = subprocess.run(command, env=env, capture_output=True, text=True)
                lines = (done.stdout or done.stderr).strip().splitlines()
                print(f"{name:>10}: {lines[-1] if lines else 'no output'}", flush=True)


if __name__ == "__main__":
    threading.current_thread().name = "valueseg-bench"
    main()
