"""Segments as a store keeps them: one run's segment table, and migration between runs."""

from __future__ import annotations

import pandas as pd

from valueseg.errors import InputError
from valueseg.segment.migration import migration_matrix
from valueseg.store import Store
from valueseg.store.derived import (
    customer_column,
    latest_segmented_run,
    segment_rows,
    segmented_runs,
)

#: Lens name -> the customer_scores column holding each customer's segment in that lens.
LENS_COLUMNS = {"rfm": "rfm_segment", "value_tier": "value_tier", "cluster": "segment"}


def _check_lens(lens: str) -> str:
    if lens not in LENS_COLUMNS:
        raise InputError(f"Unknown lens {lens!r}. Expected one of: {', '.join(LENS_COLUMNS)}.")
    return LENS_COLUMNS[lens]


def latest_run(store: Store) -> int:
    """The newest run that finished and wrote segments."""
    run_id = latest_segmented_run(store)
    if run_id is None:
        raise InputError(
            f"Store {store.path} holds no segments yet. Run the pipeline first: "
            f"valueseg run --db {store.path}"
        )
    return run_id


def previous_segments(store: Store) -> pd.DataFrame:
    """``lens, segment, profile`` of the newest finished run's segments (none: no rows)."""
    return segment_rows(store, latest_segmented_run(store))[["lens", "segment", "profile"]]


def _check_run(store: Store, run_id: int) -> None:
    runs = segmented_runs(store)
    if run_id not in runs:
        have = ", ".join(str(r) for r in runs) or "none"
        raise InputError(
            f"Run {run_id} has no segments in {store.path}. Runs with segments: {have}."
        )


def stored_segments(
    store: Store, run_id: int | None = None, lens: str | None = None
) -> pd.DataFrame:
    """The ``segments`` rows of a run (default: the latest), optionally of one lens."""
    run_id = latest_run(store) if run_id is None else run_id
    _check_run(store, run_id)
    frame = segment_rows(store, run_id)
    if lens is not None:
        _check_lens(lens)
        frame = frame[frame["lens"] == lens].reset_index(drop=True)
    return frame


def run_migration(store: Store, from_run: int, to_run: int, lens: str = "rfm") -> pd.DataFrame:
    """Customers per (segment in ``from_run``, segment in ``to_run``) for one lens.

    Customers new in ``to_run`` appear under ``(new)`` and those absent from it under
    ``(gone)``; cluster names are matched across runs, so the same name is the same cluster.
    """
    column = _check_lens(lens)
    frames = []
    for run_id in (from_run, to_run):
        _check_run(store, run_id)
        frame = customer_column(store, run_id, column)
        frames.append(frame.rename(columns={column: "segment"}))
    return migration_matrix(frames[0], frames[1], "segment")
