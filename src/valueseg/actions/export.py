"""Audience export: a run's customers, picked by segment, action or filter, to a file.

Each row holds the customer id, the three segment lenses, the next-best action, the
scores and the customer's top recommendations joined in one cell; the ``klaviyo`` and
``meta`` formats write the layouts those tools import (:mod:`valueseg.actions.layouts`).
Filters run in DuckDB as parameterised SQL (:mod:`valueseg.actions.where`); text cells of
CSV files are escaped against formula injection and ids can be pseudonymized
(:mod:`valueseg.actions.privacy`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from valueseg.actions.columns import AUDIENCE_COLUMNS
from valueseg.actions.layouts import (
    FORMATS,
    contact_columns,
    ids_are_emails,
    klaviyo_layout,
    meta_layout,
)
from valueseg.actions.privacy import escape_formulas, pseudonym_key
from valueseg.actions.privacy import pseudonymize as pseudonyms
from valueseg.actions.where import parse_where
from valueseg.errors import InputError, did_you_mean
from valueseg.store import Store
from valueseg.store.actions import (
    audience_rows,
    customers_columns,
    latest_scored_run,
    lens_values,
    scored_runs,
)
from valueseg.store.pii import personal_columns

__all__ = [
    "ExportReport",
    "check_filters",
    "export_audience",
    "export_audiences",
    "resolve_run",
    "write_table",
]

#: Most recommendations joined into one cell.
MAX_TOP = 50


@dataclass
class ExportReport:
    """What an export wrote: where, how many rows, with which filters, and what it noted."""

    path: Path
    format: str
    run_id: int
    rows: int
    columns: list[str]
    filters: dict[str, Any]
    pseudonymized: bool
    seconds: float
    notes: list[str] = field(default_factory=list)


def resolve_run(store: Store, run_id: int | None) -> int:
    """``run_id`` checked against the store's scored runs, or the latest one."""
    runs = scored_runs(store)
    if not runs:
        raise InputError(
            f"Store {store.path} holds no scored run yet. Run the pipeline first: "
            f"valueseg run --db {store.path}"
        )
    if run_id is None:
        latest = latest_scored_run(store)
        assert latest is not None
        return latest
    if run_id not in runs:
        raise InputError(
            f"Run {run_id} has no customer scores in {store.path} (or did not succeed). "
            f"Runs with scores: {', '.join(map(str, runs))}."
        )
    return run_id


def check_filters(
    store: Store, run_id: int, segment: str | None, action: str | None
) -> dict[str, list[str]]:
    """Refuse a segment or action the run does not have, listing the ones it has; return
    the run's segments and actions."""
    known = lens_values(store, run_id)
    _check_name(segment, known["segment"], "segment", run_id)
    _check_name(action, known["action"], "action", run_id)
    return known


def _check_name(value: str | None, known: list[str], what: str, run_id: int) -> None:
    if value is None or value in known:
        return
    hint = did_you_mean(value, known)
    extra = f" Did you mean {hint!r}?" if hint else ""
    listed = ", ".join(known) if known else "none (no next-best actions were stored)"
    raise InputError(f"Run {run_id} has no {what} {value!r}.{extra} Known: {listed}.")


def _check_options(fmt: str, top_n: int) -> None:
    if fmt not in FORMATS:
        raise InputError(f"Unknown --format {fmt!r}. Expected one of: {', '.join(FORMATS)}.")
    if isinstance(top_n, bool) or not isinstance(top_n, int) or not 0 <= top_n <= MAX_TOP:
        raise InputError(f"--top must be a whole number from 0 to {MAX_TOP}. Got {top_n!r}.")


def export_audience(
    store: Store,
    run_id: int | None = None,
    *,
    segment: str | None = None,
    action: str | None = None,
    where: str | None = None,
    out: str | Path,
    fmt: str = "csv",
    pseudonymize: bool = False,
    top_n: int = 3,
    with_contacts: bool = True,
) -> ExportReport:
    """Write the customers of a run that match every filter given to ``out``.

    Parameters
    ----------
    store : Store
    run_id : int, optional
        Default: the latest succeeded run with scores.
    segment : str, optional
        An RFM segment, value tier or cluster name of the run.
    action : str, optional
        A next-best action of the run (``customer_actions``).
    where : str, optional
        A filter in the grammar of :mod:`valueseg.actions.where` over the score, segment
        and action columns.
    out : str or Path
        The file to write (its folder is created).
    fmt : {"csv", "parquet", "klaviyo", "meta"}, default "csv"
    pseudonymize : bool, default False
        Replace customer ids with HMAC-SHA256 pseudonyms (key from
        ``VALUESEG_PSEUDONYM_KEY``; refused without it).
    top_n : int, default 3
        Recommendations per customer joined into the ``recommendations`` cell.
    with_contacts : bool, default True
        False: no contact column (e-mail, phone) in any format, not even e-mail addresses
        taken from the ids (the web app's exports for a role below admin).

    Returns
    -------
    ExportReport

    Examples
    --------
    >>> import tempfile
    >>> from valueseg.store.derived import write_frame
    >>> store = Store(":memory:")
    >>> _ = store.con.execute("INSERT INTO runs (run_id, started_at, status) "
    ...                       "VALUES (1, now()::TIMESTAMP, 'succeeded')")
    >>> write_frame(store, "customer_scores", 1, pd.DataFrame(
    ...     {"customer_id": ["a", "=cmd"], "value_tier": ["Top 1%", "Rest"]}))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     report = export_audience(store, where="value_tier = 'Rest'",
    ...                              out=Path(folder) / "rest.csv")
    ...     text = report.path.read_text().splitlines()
    >>> report.rows
    1
    >>> print(text[1][:15])
    "'=cmd",,"Rest"
    """
    _check_options(fmt, top_n)
    started = time.perf_counter()
    run = resolve_run(store, run_id)
    parsed = None if where is None else parse_where(where, AUDIENCE_COLUMNS)
    known = check_filters(store, run, segment, action)
    key = pseudonym_key() if pseudonymize else None
    layout = fmt in ("klaviyo", "meta")
    contacts = {}
    if layout and with_contacts:
        contacts = contact_columns(customers_columns(store), personal_columns(store))
    rows = audience_rows(
        store,
        run,
        where_sql=None if parsed is None else parsed.sql,
        where_params=() if parsed is None else parsed.params,
        segment=segment,
        action=action,
        top_n=top_n,
        contacts=contacts,
    )
    notes = _notes(rows, known, fmt if with_contacts else "csv", contacts, run)
    if not with_contacts and layout:
        notes.append("contact columns (e-mail, phone) are left out of this export")
    if layout and with_contacts and "email" not in contacts and ids_are_emails(rows["customer_id"]):
        rows["email"] = rows["customer_id"]
        notes.append("e-mail addresses taken from the customer ids, which are e-mail addresses")
    if key is not None:
        rows["customer_id"] = pseudonyms(rows["customer_id"], key)
        if {"email", "phone"} & set(rows.columns):
            notes.append(
                "customer ids are pseudonymized; the e-mail and phone columns the tool matches "
                "on are kept as they are"
            )
    frame = _layout(rows, fmt, notes)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_table(frame, path, fmt)
    filters = {"segment": segment, "action": action, "where": where, "top": top_n}
    return ExportReport(
        path=path,
        format=fmt,
        run_id=run,
        rows=len(frame),
        columns=[str(c) for c in frame.columns],
        filters={k: v for k, v in filters.items() if v is not None},
        pseudonymized=key is not None,
        seconds=time.perf_counter() - started,
        notes=notes,
    )


def _notes(
    rows: pd.DataFrame, known: dict[str, list[str]], fmt: str, contacts: dict[str, str], run: int
) -> list[str]:
    notes = []
    if rows.empty:
        notes.append(f"no customer of run {run} matched the filters; the file has a header only")
    if not known["action"]:
        notes.append(
            f"run {run} stored no next-best actions: the action columns are empty "
            "(the run predates the actions stage)"
        )
    if fmt in ("klaviyo", "meta") and not contacts:
        notes.append(
            "no e-mail or phone column in the customers table: "
            + (
                "Klaviyo needs an Email or Phone Number column to import profiles"
                if fmt == "klaviyo"
                else "Meta matches extern_id only to ids your pixel or app sends it"
            )
            + "; load one with valueseg ingest customers.csv --kind customers"
        )
    elif contacts and not rows.empty:
        bare = rows[list(contacts)].isna().all(axis=1).sum()
        if bare:
            notes.append(f"{bare:,} customers have no e-mail or phone in the customers table")
    return notes


def _layout(rows: pd.DataFrame, fmt: str, notes: list[str]) -> pd.DataFrame:
    if fmt == "klaviyo":
        return klaviyo_layout(rows)
    if fmt == "meta":
        frame, no_value = meta_layout(rows)
        if no_value:
            notes.append(f"{no_value:,} customers have no predicted CLV: their value is 0")
        return frame
    return rows.drop(columns=[c for c in ("email", "phone") if c in rows.columns])


def write_table(frame: pd.DataFrame, path: Path, fmt: str = "csv") -> None:
    """Write ``frame`` as Parquet, or as CSV with text cells escaped against formulas."""
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
        return
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pacsv.write_csv(escape_formulas(table), path)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "action"


def export_audiences(
    store: Store,
    folder: str | Path,
    run_id: int | None = None,
    *,
    fmt: str = "csv",
    top_n: int = 3,
) -> list[ExportReport]:
    """One audience file per next-best action of a run: ``audience-<action>.<ext>``."""
    run = resolve_run(store, run_id)
    ext = "parquet" if fmt == "parquet" else "csv"
    return [
        export_audience(
            store, run, action=name, out=Path(folder) / f"audience-{_slug(name)}.{ext}",
            fmt=fmt, top_n=top_n,
        )
        for name in lens_values(store, run)["action"]
    ]  # fmt: skip
