"""Read a lake run back from ``OUT`` into a store (for ``valueseg report --from OUT``).

Read with pyarrow from a local folder (copy a remote ``OUT`` down first): the report needs
no Spark.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from valueseg.errors import InputError
from valueseg.store import Store
from valueseg.store.lake import RUN_TABLES, import_run


def lake_runs(out: str | Path) -> pd.DataFrame:
    """``OUT/runs``: one row per run with its ``run_id`` and status."""
    import pyarrow.dataset as ds

    folder = Path(out) / "runs"
    if not folder.is_dir():
        raise InputError(
            f"No lake run in {out}: {folder} is not there. Expected the --out folder of "
            "`valueseg run --engine spark --transactions URI --out URI` (copied down when "
            "it lies on object storage)."
        )
    return ds.dataset(folder, format="parquet", partitioning="hive").to_table().to_pandas()


def load_lake_run(store: Store, out: str | Path, run_id: int | None = None) -> int:
    """Put run ``run_id`` of ``OUT`` (default: its newest succeeded run) into ``store``;
    return the run's id.

    A store that already holds that run as imported from ``OUT`` (the same start time) is
    left as it is; one that holds another run of that id is refused (a store numbers its
    own runs: import into a store of its own)."""
    import pyarrow.parquet as pq

    from valueseg.store.lake import held_run

    runs = lake_runs(out)
    ok = runs[runs["status"] == "succeeded"]
    if run_id is None:
        if ok.empty:
            raise InputError(
                f"No succeeded run in {out}: runs {_listed(runs)}. Run "
                "`valueseg run --engine spark ... --out` again."
            )
        run_id = int(ok["run_id"].max())
    row = runs[runs["run_id"] == run_id]
    if row.empty:
        raise InputError(f"Run {run_id} not found in {out}. Runs: {_listed(runs)}. Pass --run.")
    held = held_run(store, run_id)
    if held is not None:
        if held == pd.Timestamp(row["started_at"].iloc[0]).to_pydatetime():
            return run_id
        raise InputError(
            f"The store already holds a run {run_id} that is not run {run_id} of {out} "
            f"(started {held:%Y-%m-%d %H:%M:%S}). Import the lake run into a store of its "
            "own: pass another --db FILE."
        )
    tables: dict[str, pd.DataFrame] = {"runs": row.drop(columns="run_id")}
    for name in RUN_TABLES:
        folder = Path(out) / name / f"run_id={run_id}"
        if folder.is_dir():
            tables[name] = pq.read_table(folder).to_pandas()
    import_run(store, run_id, tables)
    return run_id


def _listed(runs: pd.DataFrame) -> str:
    pairs = runs.sort_values("run_id")[["run_id", "status"]].itertuples(index=False)
    return ", ".join(f"{r} ({s})" for r, s in pairs) or "none"
