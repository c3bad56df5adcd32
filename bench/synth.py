"""Time and peak memory of the synthetic shop: ``make_shop(n)`` and ``Shop.write``.

The issue's target: 1M customers in under 2 minutes on a 2-core machine, memory
proportional to the output. There is no other tool that generates such a shop, so this
script prints absolute numbers (and the size of what was generated), not a ratio.

Run: ``python bench/synth.py --customers 1000000``.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from valueseg.synth import make_shop

    started = time.perf_counter()
    shop = make_shop(args.customers, random_state=args.seed)
    t_make = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        shop.write(tmp, format="parquet")
        t_write = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = sum(
        int(getattr(shop, t).memory_usage(deep=True).sum())
        for t in ("transactions", "events", "customers", "products", "truth")
    )
    print(
        f"customers {args.customers:,}: make_shop {t_make:.1f} s, write parquet "
        f"{t_write:.1f} s, peak RSS {peak:,.0f} MB, tables in memory {size / 2**20:,.0f} MB"
    )
    print(f"  transactions {len(shop.transactions):,} rows, events {len(shop.events):,} rows")


if __name__ == "__main__":
    main()
