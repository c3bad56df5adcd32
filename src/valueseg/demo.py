"""The demo: a generated shop taken through the same public path a user's data takes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valueseg.io import IngestReport, ingest
from valueseg.pipeline import RunResult, run
from valueseg.store import Store


@dataclass
class DemoResult:
    """What the demo made: the load reports, the store summary, and where the store is."""

    reports: list[IngestReport]
    run: RunResult
    summary: dict[str, Any]
    db: Path


def run_demo(
    customers: int = 20_000, out: str | Path = "valueseg-demo", random_state: int | None = 7
) -> DemoResult:
    """Generate a shop, write it as Parquet, ingest it into ``out/valueseg.duckdb``, run.

    The store is made anew each time, so the demo always shows one clean load.
    """
    from valueseg.synth import make_shop

    out = Path(out)
    shop = make_shop(customers, random_state=random_state)
    files = shop.write(out / "data", format="parquet")
    db = out / "valueseg.duckdb"
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)
    reports = []
    with Store(db) as store:
        for kind in ("transactions", "events", "customers"):
            reports.append(ingest(files[kind], kind=kind, db=store))
        result = run(store)
        summary = store.summary()
    return DemoResult(reports, result, summary, db)
