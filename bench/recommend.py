"""Recommendations at scale: ALS beside item-item and popularity, in one run.

An interaction log with planted structure, generated with numpy: ``--products`` products in
100 taste groups (20 categories), popularity log-normal (sigma 1.2); ``--customers``
customers, each in one taste group, with ``1 + Poisson(--lines - 1)`` purchase lines in
orders of two, 70 % of them drawn from their own group's products (by popularity) and 30 %
from the whole shop's. The frame has the store's ``transactions`` columns (Arrow strings,
as the store gives them), so the run starts where the pipeline starts.

Timed, in this order:

- ``build_interactions`` (coding the log once), the full interaction matrix and the
  exclusions (already-bought products), in the parent process;
- per model, in a child process forked from the parent (so each one's peak memory is its
  own): the fit on everything, then the top 10 of every customer, with exclusions, through
  the same ``recommend`` the stage calls; for item-item also the "bought with X" reasons
  of every list.

Peak memory is the child's peak resident set (``resource.getrusage``); "added" subtracts
the resident set it inherited at the fork (the log and the matrices).

Run: ``python bench/recommend.py`` (1M × 50k; about 5 minutes on 2 cores), or
``--customers 100000 --products 10000`` for a quick pass. ALS uses implicit's CPU solver
with BLAS on one thread and implicit's own threads on all cores (``--threads``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

N_GROUPS = 100
N_CATEGORIES = 20
OWN_GROUP = 0.7


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _draw_products(
    rng: np.random.Generator, group: np.ndarray, weight: np.ndarray, want: np.ndarray
) -> np.ndarray:
    """One product per entry of ``want`` (a group), by popularity within that group."""
    order = np.argsort(group, kind="stable")
    cum = np.cumsum(weight[order])
    bounds = np.searchsorted(group[order], np.arange(N_GROUPS + 1))
    lo = np.where(bounds[want] > 0, cum[np.maximum(bounds[want] - 1, 0)], 0.0)
    hi = cum[bounds[want + 1] - 1]
    pos = np.searchsorted(cum, lo + rng.random(want.size) * (hi - lo), side="right")
    return order[np.minimum(pos, order.size - 1)]


def make_log(customers: int, products: int, lines: float, seed: int) -> pd.DataFrame:
    """The planted-taste transactions frame (see the module docstring)."""
    from valueseg._synth.util import fixed_width_ids, lookup, take_ids

    rng = np.random.default_rng(seed)
    group = rng.integers(0, N_GROUPS, products)
    group[:N_GROUPS] = np.arange(N_GROUPS)  # no empty group
    weight = rng.lognormal(0.0, 1.2, products)
    taste = rng.integers(0, N_GROUPS, customers)
    count = 1 + rng.poisson(lines - 1.0, customers)
    customer = np.repeat(np.arange(customers), count)
    own = rng.random(customer.size) < OWN_GROUP
    want = np.where(own, taste[customer], rng.integers(0, N_GROUPS, customer.size))
    everyone = np.zeros(products, dtype=np.int64)
    product = np.where(
        own,
        _draw_products(rng, group, weight, want),
        _draw_products(rng, everyone, weight, np.zeros(customer.size, dtype=np.int64)),
    )
    rank = np.arange(customer.size) - np.repeat(np.cumsum(count) - count, count)
    order = np.unique(customer.astype(np.int64) * 10_000 + rank // 2, return_inverse=True)[1]
    order_day = rng.random(int(order.max()) + 1) * 730.0
    seconds = (order_day[order] * 86_400).astype(np.int64)
    stamps = pd.Timestamp("2023-01-01").value // 1_000 + seconds * 1_000_000
    table = pa.table(
        {
            "customer_id": take_ids(fixed_width_ids("C", customers, 7), customer),
            "order_id": take_ids(fixed_width_ids("O", int(order.max()) + 1, 9), order),
            "timestamp": pa.array(stamps, type=pa.timestamp("us")),
            "amount": np.round(rng.lognormal(3.0, 0.5, customer.size), 2),
            "product_id": take_ids(fixed_width_ids("P", products, 5), product),
            "category": lookup(
                [f"cat{c:02d}" for c in range(N_CATEGORIES)], group[product] % N_CATEGORIES
            ),
            "quantity": np.ones(customer.size),
            "is_return": np.zeros(customer.size, dtype=bool),
        }
    )
    return table.to_pandas(split_blocks=True, self_destruct=True)


def _model(name: str, threads: int) -> Any:
    from valueseg.recommend import ALS, ItemItem, Popularity

    if name == "als":
        return ALS(
            factors=64, iterations=15, regularization=0.01, num_threads=threads, random_state=0
        )
    if name == "item_item":
        return ItemItem(similarity="cosine", K=50)
    return Popularity()


def _child(name: str, threads: int, queue: Any) -> None:
    """Fit one model and rank for everyone; report times and memory to the parent."""
    inherited = _rss_mb()
    data, exclude, products = _SHARED["data"], _SHARED["exclude"], _SHARED["products"]
    started = time.perf_counter()
    model = _model(name, threads).fit(data)
    fitted = time.perf_counter()
    users = np.arange(data.matrix.shape[0])
    ids, _ = model.recommend(users, 10, exclude)
    ranked = time.perf_counter()
    reasons_s = float("nan")
    if name == "item_item":
        for start in range(0, users.size, 100_000):
            part = slice(start, start + 100_000)
            model.reasons(users[part], ids[part], products)
        reasons_s = time.perf_counter() - ranked
    queue.put(
        {
            "model": name,
            "fit_s": fitted - started,
            "top10_s": ranked - fitted,
            "reasons_s": reasons_s,
            "filled": float(np.mean(ids >= 0)),
            "peak_mb": _peak_mb(),
            "added_mb": _peak_mb() - inherited,
        }
    )


_SHARED: dict[str, Any] = {}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--lines", type=float, default=13.0, help="mean lines per customer")
    parser.add_argument("--models", default="als,item_item,popularity")
    parser.add_argument("--threads", type=int, default=0, help="implicit's threads (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from valueseg.recommend import TrainData, build_interactions
    from valueseg.recommend.evaluate import exclusions

    t0 = time.perf_counter()
    log_frame = make_log(args.customers, args.products, args.lines, args.seed)
    t1 = time.perf_counter()
    log = build_interactions(log_frame)
    t2 = time.perf_counter()
    del log_frame
    data = TrainData.of(log.matrix(), log.bought())
    exclude, _ = exclusions(log, None, 0.3)
    t3 = time.perf_counter()
    _SHARED.update(data=data, exclude=exclude, products=log.products)
    print(
        f"{len(log.customers):,} customers × {len(log.products):,} products, "
        f"{log.user.size:,} lines, {data.matrix.nnz:,} non-zeros; "
        f"generated in {t1 - t0:.1f} s; build_interactions {t2 - t1:.1f} s; "
        f"matrix + exclusions {t3 - t2:.1f} s; parent RSS {_rss_mb():,.0f} MB "
        f"(peak {_peak_mb():,.0f} MB); python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores",
        flush=True,
    )
    ctx = mp.get_context("fork")
    rows = []
    for name in args.models.split(","):
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(name, args.threads, queue))
        proc.start()
        rows.append(queue.get())
        proc.join()
        print(f"  {name}: done", flush=True)
    table = pd.DataFrame(rows).set_index("model")
    table["total_s"] = table["fit_s"] + table["top10_s"]
    print(
        table.round(
            {
                "fit_s": 1,
                "top10_s": 1,
                "reasons_s": 1,
                "total_s": 1,
                "filled": 3,
                "peak_mb": 0,
                "added_mb": 0,
            }
        ).to_string()
    )


if __name__ == "__main__":
    main()
