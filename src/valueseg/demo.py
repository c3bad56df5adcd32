"""The demo: a shop taken through the same public path a user's data takes.

Two shops: a generated one (``"synth"``, with events and a customer table) or CDNOW's real
order log (``"cdnow"``, 23,570 customers, from :mod:`valueseg.datasets`). Either is
written to files, loaded with :func:`valueseg.ingest` and run with :func:`valueseg.run`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from valueseg.actions import ExperimentDesign, ExportReport, export_audiences
from valueseg.errors import InputError
from valueseg.io import IngestReport, ingest
from valueseg.pipeline import RunResult, run
from valueseg.report import ReportResult, write_report
from valueseg.store import Store

#: The demo's shops: a name for ``data=`` (and ``valueseg demo --data``) and what it is.
DEMO_DATA: Final = {
    "synth": "a generated shop with known ground truth (--customers sets its size)",
    "cdnow": "CDNOW's real order log, 23,570 customers (valueseg.datasets.load_cdnow)",
}


@dataclass
class DemoResult:
    """What the demo made: the load reports, the store summary, and where the store is."""

    reports: list[IngestReport]
    run: RunResult
    summary: dict[str, Any]
    db: Path
    report: ReportResult | None = None
    audiences: list[ExportReport] = field(default_factory=list)
    experiment: ExperimentDesign | None = None


def run_demo(
    customers: int = 20_000,
    out: str | Path = "valueseg-demo",
    random_state: int | None = 7,
    data: str = "synth",
) -> DemoResult:
    """Write a shop's files, ingest them into ``out/valueseg.duckdb``, and run.

    The store is made anew each time, so the demo always shows one clean load.

    Parameters
    ----------
    customers : int, default 20_000
        Customers of the generated shop (``data="synth"`` only).
    out : path, default "valueseg-demo"
        Folder for the shop's files (``out/data``) and the store.
    random_state : int or None, default 7
        Seed of the generated shop (``data="synth"`` only).
    data : {"synth", "cdnow"}, default "synth"
        ``"synth"``: :func:`valueseg.make_shop` writes transactions, events and customers
        as Parquet. ``"cdnow"``: :func:`valueseg.datasets.load_cdnow` ``("master")`` is
        written to ``out/data/cdnow_master.parquet``: a real shop's transactions only.

    Returns
    -------
    DemoResult

    Raises
    ------
    InputError
        ``data`` is not one of the demo's shops.

    Examples
    --------
    >>> run_demo(data="shopify")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    valueseg.errors.InputError: The 'data' parameter of run_demo must be ... Got 'shopify'.
    """
    if data not in DEMO_DATA:
        raise InputError(
            f"The 'data' parameter of run_demo must be 'synth' or 'cdnow'. Got {data!r}."
        )
    out = Path(out)
    files = (
        _write_cdnow(out / "data")
        if data == "cdnow"
        else _write_synth(out, customers, random_state)
    )
    db = out / "valueseg.duckdb"
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)
    reports = []
    with Store(db) as store:
        for kind, path in files.items():
            reports.append(ingest(path, kind=kind, db=store))
        result = run(store)
        audiences = export_audiences(store, out / "audiences")
        experiment = _recall_experiment(store, out, result.run_id)
        summary = store.summary()
        report = write_report(store, run_id=result.run_id, out=out / "report.html")
    return DemoResult(reports, result, summary, db, report, audiences, experiment)


#: The demo's experiment: does the churn-recall action bring at-risk customers back?
RECALL_EXPERIMENT: Final = "churn-recall (demo)"


def _recall_experiment(store: Store, out: Path, run_id: int) -> ExperimentDesign | None:
    """Design one recall test on the churn-recall audience (None: the run has no one in
    it). A 5-point lift in the share who order again is the effect worth detecting."""
    from valueseg.actions import design_experiment
    from valueseg.store.actions import lens_values

    if "churn-recall" not in set(lens_values(store, run_id)["action"]):
        return None
    return design_experiment(
        store,
        name=RECALL_EXPERIMENT,
        action="churn-recall",
        metric="conversion",
        mde=0.05,
        out=out / "experiment-churn-recall.csv",
        run_id=run_id,
    )


def _write_synth(out: Path, customers: int, random_state: int | None) -> dict[str, Path]:
    from valueseg.synth import make_shop

    shop = make_shop(customers, random_state=random_state)
    files = shop.write(out / "data", format="parquet")
    return {kind: files[kind] for kind in ("transactions", "events", "customers")}


def _write_cdnow(folder: Path) -> dict[str, Path]:
    from valueseg.datasets import load_cdnow

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cdnow_master.parquet"
    load_cdnow("master").to_parquet(path, index=False)
    return {"transactions": path}
