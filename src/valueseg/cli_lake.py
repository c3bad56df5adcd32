"""The CLI of the lake run: ``valueseg run --engine spark --transactions URI --out URI``
and ``valueseg report --from OUT``. Thin: :func:`valueseg.lake.run_lake` does the work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from valueseg.errors import InputError

__all__ = ["check_lake_flags", "print_lake_run", "wants_lake"]


def wants_lake(
    transactions: str | None, out: str | None, events: str | None, customers: str | None
) -> bool:
    """Whether ``valueseg run`` was given any of the lake's flags."""
    return any(v is not None for v in (transactions, out, events, customers))


def check_lake_flags(engine: str, transactions: str | None, out: str | None) -> None:
    """Refuse a combination of flags the lake run cannot follow, with the fix, in one line."""
    if engine != "spark":
        raise InputError(
            f"--transactions and --out read and write the lake, which only --engine spark "
            f"does (got --engine {engine}). Add --engine spark, or load the file with "
            "`valueseg ingest FILE` and run on the store without them."
        )
    if transactions is None:
        raise InputError(
            "The lake run needs --transactions URI (Parquet or CSV of order lines, any path "
            "Spark reads). Pass it, or leave out --out/--events/--customers to run on the store."
        )
    if out is None:
        raise InputError(
            "The lake run needs --out URI: the folder its tables are written to "
            "(customer_features, customer_scores, segments, model_fits, runs). Pass --out."
        )


def print_lake_run(console: Console, result: Any) -> None:
    """The counts of each input, then what was written where."""
    for c in result.inputs:
        line = (
            f"{c.kind}: {c.rows_read:,} rows read = {c.accepted:,} accepted + "
            f"{c.rejected:,} rejected"
        )
        if c.reasons:
            line += " (" + ", ".join(f"{n:,} {why}" for why, n in c.reasons.items()) + ")"
        console.print(line, highlight=False)
    seconds = sum(result.seconds.values())
    console.print(
        f"Run {result.run_id} (as of {result.as_of:%Y-%m-%d}, spark): {result.customers:,} "
        f"customers, {len(result.feature_columns)} features, {seconds:.1f} s.",
        highlight=False,
    )
    chosen = result.values.chosen if result.values is not None else None
    if chosen is not None:
        console.print(f"Value model: {chosen.name}", highlight=False)
    fitted = getattr(result, "learners", None)
    if fitted is not None:
        won = ", ".join(f"{t.task} {t.chosen}" for t in fitted.result.tasks.values())
        console.print(
            f"Learners: {won} (fitted on {fitted.sample:,} of {fitted.customers:,} customers)",
            highlight=False,
        )
    for stage, note in result.notes:
        console.print(f"Note ({stage}): {note}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"Wrote customer_features, customer_scores, segments, model_fits, predict_fits and runs "
        f"(run_id={result.run_id}) under {result.out}; rejected rows in "
        f"{result.out}/rejected_rows. Report: valueseg report --from {result.out}",
        highlight=False,
    )


def report_from(out: Path, run_id: int | None, html: Path, images: Path | None) -> Any:
    """Write the report of a lake run (``OUT`` as written by the lake run) to ``html``."""
    from valueseg.lake.load import load_lake_run
    from valueseg.report import write_report
    from valueseg.store import Store

    with Store(":memory:") as store:
        loaded = load_lake_run(store, out, run_id)
        return write_report(store, run_id=loaded, out=html, images=images)
