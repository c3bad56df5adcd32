"""Benchmark ``valueseg.io.ingest`` against bare DuckDB and pandas + ``to_sql``.

Generates (once, cached in ``--workdir``) an order-line CSV shaped like a UCI Online Retail
export, with a small share of bad rows, exact duplicate lines and cancellations, then times,
each in its own child process and fresh database file:

* ``valueseg ingest``: parse, validate, quarantine, de-duplicate and write the store;
* ``duckdb bare``: ``CREATE TABLE t AS SELECT * FROM read_csv(...)`` into a file database,
  i.e. what DuckDB alone does with no validation (the floor);
* ``pandas+to_sql``: ``pandas.read_csv`` in chunks + ``DataFrame.to_sql`` into SQLite via the
  stdlib ``sqlite3`` connection, what a user would write by hand. It is slow, so it runs on a
  smaller file (``--pandas-rows``), next to valueseg and bare DuckDB on that same file.

Every variant runs ``--repeat`` times (round-robin, each after waiting for the machine to be
idle); the table shows the best and the median time and the highest peak memory. Wall time
is measured inside the child around the work only (interpreter start and imports excluded);
peak memory is the child's ``VmHWM`` (peak resident set) from ``/proc/self/status``.

Run from the repository root::

    .venv/bin/python bench/ingest.py                 # 10M rows, pandas on 2M
    .venv/bin/python bench/ingest.py --rows 200000 --pandas-rows 100000   # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_RESULT = "@@bench-result@@ "
_BAD_PER_MILLE = 5  # ~0.5 % of source rows are bad (one of three kinds)
_DUP_EVERY = 500  # every 500th line repeats the line before it: ~0.2 % exact duplicates
_LINES_PER_INVOICE = 5
_CANCEL_EVERY = 50  # ~2 % of invoices are cancellations ('C' prefix, negative quantity)
_PRODUCTS = 4000


# -- data ----------------------------------------------------------------------------------
def _generator_sql(rows: int) -> str:
    """One SELECT yielding ``rows`` CSV lines as text (every column VARCHAR).

    Line ``i`` is built from source row ``src``: ``src = i`` except every ``_DUP_EVERY``-th
    line, which copies the line before it exactly. ``_LINES_PER_INVOICE`` consecutive source
    rows share an invoice (number, date, customer); products within an invoice are distinct,
    so the only repeated order lines are the planted duplicates. Customers: 0.15 x rows
    (1.5M for 10M rows), spread over invoices by a modular permutation so all appear.
    Dates run from 2009-12-01 to 2011-12-09 in invoice order, like the UCI file.
    """
    customers = max(1, int(rows * 0.15))
    invoices = max(1, rows // _LINES_PER_INVOICE + 1)
    span_s = 739 * 86400  # 2009-12-01 .. 2011-12-09
    words_a = "['WHITE', 'RED', 'PINK', 'BLUE', 'VINTAGE', 'REGENCY', 'JUMBO', 'SET OF 3']"
    words_b = (
        "['HANGING HEART', 'CAKE TINS', 'LUNCH BAG', 'T-LIGHT HOLDER', 'TEACUP AND SAUCER', "
        "'PAPER CHAIN KIT', 'METAL SIGN', 'DOORMAT']"
    )
    words_c = "['', ', PANTRY DESIGN', ' \"RETROSPOT\"', ', 50''S CHRISTMAS', ' WITH BOX']"
    countries = (
        "['United Kingdom', 'United Kingdom', 'United Kingdom', 'United Kingdom', "
        "'United Kingdom', 'United Kingdom', 'Germany', 'France', 'EIRE', 'Spain', "
        "'Netherlands', 'Belgium', 'Switzerland', 'Portugal', 'Australia', 'Norway']"
    )
    return f"""
WITH lines AS (
    SELECT i, CASE WHEN i % {_DUP_EVERY} = {_DUP_EVERY - 1} THEN i - 1 ELSE i END AS src
    FROM range({rows}) AS r(i)
), rows AS (
    SELECT i, src,
        src // {_LINES_PER_INVOICE} AS k,
        src % {_LINES_PER_INVOICE} AS j,
        hash(src, 'bad') % 1000 < {_BAD_PER_MILLE} AS bad,
        hash(src, 'kind') % 3 AS bad_kind
    FROM lines
), inv AS (
    SELECT *,
        hash(k, 'cancel') % {_CANCEL_EVERY} = 0 AS cancel,
        (k * 7919) % {customers} AS cust,
        (hash(k, 'p') % {_PRODUCTS} + j * 797) % {_PRODUCTS} AS prod,
        TIMESTAMP '2009-12-01 07:45:00'
            + to_seconds(CAST(k * {span_s} // {invoices} + hash(k, 't') % 600 AS BIGINT))
            AS ts
    FROM rows
)
SELECT
    CASE WHEN cancel THEN 'C' ELSE '' END || CAST(489434 + k AS VARCHAR) AS InvoiceNo,
    CAST(20000 + prod AS VARCHAR) || CASE WHEN prod % 7 = 0 THEN 'A' ELSE '' END AS StockCode,
    list_element({words_a}, CAST(prod % 8 + 1 AS INTEGER)) || ' '
        || list_element({words_b}, CAST(prod // 8 % 8 + 1 AS INTEGER))
        || list_element({words_c}, CAST(prod // 64 % 5 + 1 AS INTEGER)) AS Description,
    CAST(
        (CASE WHEN cancel THEN -1 ELSE 1 END)
        * (1 + CAST(hash(src, 'q') % 12 AS BIGINT) * (1 + CAST(hash(src, 'q2') % 3 AS BIGINT)))
        AS VARCHAR) AS Quantity,
    CASE WHEN bad AND bad_kind = 1 THEN
        list_element(['not a date', '2011-13-45 99:00:00', '#VALUE!'],
                     CAST(hash(src, 'g') % 3 + 1 AS INTEGER))
        ELSE strftime(ts, '%Y-%m-%d %H:%M:%S') END AS InvoiceDate,
    CASE WHEN bad AND bad_kind = 2 THEN
        list_element(['N/A', 'abc', '1.2.3'], CAST(hash(src, 'g') % 3 + 1 AS INTEGER))
        ELSE printf('%.2f', 0.19 + (hash(prod, 'price') % 1500) / 100.0) END AS UnitPrice,
    CASE WHEN bad AND bad_kind = 0 THEN '' ELSE CAST(12346 + cust AS VARCHAR) END AS CustomerID,
    list_element({countries}, CAST(hash(cust, 'c') % 16 + 1 AS INTEGER)) AS Country
FROM inv
ORDER BY i
"""


def _expected(rows: int) -> dict[str, int]:
    """How many lines the generator made bad, duplicate (of a good line) and cancelled."""
    import duckdb

    sql = f"""
    WITH lines AS (
        SELECT i, CASE WHEN i % {_DUP_EVERY} = {_DUP_EVERY - 1} THEN i - 1 ELSE i END AS src,
               i % {_DUP_EVERY} = {_DUP_EVERY - 1} AS dup
        FROM range({rows}) AS r(i)
    )
    SELECT count(*) FILTER (WHERE hash(src, 'bad') % 1000 < {_BAD_PER_MILLE}),
           count(*) FILTER (WHERE dup AND NOT hash(src, 'bad') % 1000 < {_BAD_PER_MILLE}),
           count(*) FILTER (WHERE hash(src // {_LINES_PER_INVOICE}, 'cancel')
                                  % {_CANCEL_EVERY} = 0)
    FROM lines
    """
    con = duckdb.connect()
    bad, dup, cancelled = con.execute(sql).fetchone() or (0, 0, 0)
    con.close()
    return {"bad": int(bad), "duplicates": int(dup), "cancelled": int(cancelled)}


def make_csv(workdir: Path, rows: int) -> Path:
    """Write (once) the ``rows``-line CSV under ``workdir``; return its path."""
    import duckdb

    path = workdir / f"online_retail_{rows}.csv"
    if path.exists():
        return path
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"COPY ({_generator_sql(rows)}) TO '{tmp}' (FORMAT csv, HEADER true)")
    con.close()
    tmp.rename(path)
    size = path.stat().st_size / 1e6
    print(
        f"generated {path} ({rows:,} rows, {size:,.0f} MB) in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return path


# -- the variants (each runs in a fresh child process) -------------------------------------
def _peak_mb() -> float:
    """Peak resident set size of this process (VmHWM), in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_valueseg(csv: Path, db: Path) -> dict[str, Any]:
    from valueseg.io import ingest

    events: list[tuple[float, str, float]] = []
    last: dict[str, float] = {}

    def progress(stage: str, pct: float) -> None:
        # A stage starts at its first call (0 %) and ends at 100 %; DuckDB's own progress
        # may also report 0 % while a query warms up, which is not a new stage.
        if stage not in last or pct == 100.0:
            events.append((time.perf_counter(), stage, 0.0 if stage not in last else pct))
        last[stage] = pct

    started = time.perf_counter()
    report = ingest(str(csv), kind="transactions", db=str(db), progress=progress)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": report.rows_read,
        "accepted": report.accepted,
        "rejected": report.rejected,
        "by_reason": dict(report.rejected_by_reason),
        "returns": report.returns,
        "customers": report.customers,
        "stages": _stages(started, started + seconds, events),
    }


def _stages(
    started: float, ended: float, events: list[tuple[float, str, float]]
) -> list[tuple[str, float]]:
    """Seconds per stage from the progress callbacks; gaps between stages named too."""
    marks: list[tuple[float, str]] = [(started, "open store")]
    for t, stage, pct in events:
        if pct == 0.0:
            marks.append((t, stage))
        elif pct == 100.0:
            marks.append((t, f"after {stage}"))
    names = {
        "after reading": "fingerprint and column checks, date format sniff, plan",
        "after de-duplicating": "next load id, BEGIN",
        "after writing": "COMMIT, report queries, cleanup, close (checkpoint)",
    }
    out: list[tuple[str, float]] = []
    for (t0, name), (t1, _) in zip(marks, [*marks[1:], (ended, "")], strict=True):
        label = names.get(name, name)
        if label.startswith("after "):
            label = f"(between stages, {label})"
        out.append((label, t1 - t0))
    return out


def _run_duckdb(csv: Path, db: Path, all_varchar: bool) -> dict[str, Any]:
    import duckdb

    opts = ", all_varchar=true" if all_varchar else ""
    started = time.perf_counter()
    con = duckdb.connect(str(db))
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv}'{opts})")
    rows = (con.execute("SELECT count(*) FROM t").fetchone() or (0,))[0]
    types = con.execute("SELECT column_name, column_type FROM (DESCRIBE t)").fetchall()
    con.close()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": int(rows), "types": dict(types)}


def _run_pandas(csv: Path, db: Path) -> dict[str, Any]:
    import sqlite3

    import pandas as pd

    started = time.perf_counter()
    con = sqlite3.connect(db)
    rows = 0
    for chunk in pd.read_csv(csv, chunksize=100_000):
        chunk.to_sql("transactions", con, if_exists="append", index=False)
        rows += len(chunk)
    con.commit()
    con.close()
    return {"seconds": time.perf_counter() - started, "rows": rows}


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(variant: str, csv: Path, db: Path) -> None:
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)
    import duckdb  # noqa: F401  (imports are not part of the timed work)

    if variant == "valueseg":
        import valueseg.io  # noqa: F401
    if variant == "pandas":
        import pandas  # noqa: F401
    cpu = _cpu_seconds()
    if variant == "valueseg":
        result = _run_valueseg(csv, db)
    elif variant == "duckdb":
        result = _run_duckdb(csv, db, all_varchar=False)
    elif variant == "duckdb-varchar":
        result = _run_duckdb(csv, db, all_varchar=True)
    elif variant == "pandas":
        result = _run_pandas(csv, db)
    else:
        raise SystemExit(f"unknown variant {variant}")
    result["cpu_s"] = _cpu_seconds() - cpu
    result["peak_mb"] = _peak_mb()
    result["db_mb"] = db.stat().st_size / 1e6 if db.exists() else 0.0
    print(_RESULT + json.dumps(result), flush=True)


def run_variant(variant: str, csv: Path, workdir: Path, quiet_wait: float) -> dict[str, Any]:
    """Run one variant in a fresh Python process; return its measurements."""
    suffix = ".sqlite" if variant == "pandas" else ".duckdb"
    db = workdir / f"bench_{variant}{suffix}"
    cmd = [
        sys.executable,
        __file__,
        "--child",
        variant,
        "--child-csv",
        str(csv),
        "--child-db",
        str(db),
    ]
    waited = _wait_quiet(quiet_wait)
    note = f" (waited {waited:.0f} s for other processes to go idle)" if waited >= 2 else ""
    print(f"  running {variant} on {csv.name}{note} ...", flush=True)
    busy0, children0, wall0 = _busy_seconds(), _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - wall0
    other = (_busy_seconds() - busy0) - (_children_cpu() - children0)
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(_RESULT)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"variant {variant} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(lines[-1][len(_RESULT) :])
    result["other_load"] = max(0.0, other / wall) if wall > 0 else 0.0
    print(
        f"    {result['seconds']:.1f} s wall, {result['cpu_s']:.1f} s CPU, "
        f"peak {result['peak_mb']:,.0f} MB; other processes used "
        f"{result['other_load']:.2f} cores meanwhile",
        flush=True,
    )
    return result


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wait_quiet(max_wait: float, threshold: float = 0.25) -> float:
    """Wait (up to ``max_wait`` s) until the machine is idle for 2 s; return seconds waited.

    On a shared machine another process's work inflates every timing; the per-run
    'other processes used N cores' figure says how much that happened anyway.
    """
    started = time.perf_counter()
    quiet = 0
    while time.perf_counter() - started < max_wait:
        busy = _busy_seconds()
        time.sleep(1.0)
        quiet = quiet + 1 if _busy_seconds() - busy < threshold else 0
        if quiet >= 2:
            break
    return time.perf_counter() - started - 2.0


def _source_version() -> str:
    """The git commit of the checkout, '+ local changes' when src/ differs from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "(not a git checkout)"
    return f"commit {head}" + (" + local changes in src/" if dirty else "")


# -- report --------------------------------------------------------------------------------
def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run (noise only ever adds time), with the median time and the highest
    peak memory and other-process load of all runs."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    result = dict(ordered[0])
    result["median"] = ordered[(len(ordered) - 1) // 2]["seconds"]
    result["peak_mb"] = max(r["peak_mb"] for r in runs)
    result["max_other_load"] = max(r["other_load"] for r in runs)
    return result


def _row(label: str, r: dict[str, Any], floor: dict[str, Any] | None) -> list[str]:
    rate = r["rows"] / r["seconds"]
    ratio = f"{r['seconds'] / floor['seconds']:.2f}x" if floor else "-"
    return [
        label,
        f"{r['rows']:,}",
        f"{r['seconds']:.1f}",
        f"{r['median']:.1f}",
        f"{r['cpu_s']:.1f}",
        f"{rate:,.0f}",
        f"{r['peak_mb']:,.0f}",
        f"{r['db_mb']:,.0f}",
        f"{r['max_other_load']:.2f}",
        ratio,
    ]


def _table(rows: list[list[str]]) -> str:
    head = [
        "variant",
        "rows",
        "best s",
        "median s",
        "CPU s (best)",
        "rows/s",
        "peak MB",
        "db MB",
        "other load",
        "time vs duckdb bare",
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    fmt = "| " + " | ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt.format(*head) + " |", sep, *(fmt.format(*r) + " |" for r in rows)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows in the big file")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("bench/_data"),
        help="where CSVs and scratch databases go (git-ignored)",
    )
    parser.add_argument(
        "--skip-pandas",
        action="store_true",
        help="skip pandas+to_sql and the small-file comparison",
    )
    parser.add_argument(
        "--pandas-rows",
        type=int,
        default=2_000_000,
        help="rows in the file pandas+to_sql (and its comparison) runs on",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of every variant (round-robin); the table shows the best and the median",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="seconds to wait, before each run, for other processes to go idle",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.child_csv, args.child_db)
        return

    workdir: Path = args.workdir.resolve()
    print(f"valueseg {_source_version()}", flush=True)
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}",
        flush=True,
    )
    big = make_csv(workdir, args.rows)
    small_rows = min(args.pandas_rows, args.rows)
    small_csv = None if args.skip_pandas else make_csv(workdir, small_rows)
    runs: dict[str, list[dict[str, Any]]] = {}
    small_runs: dict[str, list[dict[str, Any]]] = {}
    for round_no in range(1, args.repeat + 1):  # round-robin, so drift hits every variant
        print(f"round {round_no}/{args.repeat}", flush=True)
        for variant in ("duckdb", "duckdb-varchar", "valueseg"):
            runs.setdefault(variant, []).append(run_variant(variant, big, workdir, args.quiet_wait))
        if small_csv is not None:
            for variant in ("duckdb", "valueseg", "pandas"):
                small_runs.setdefault(variant, []).append(
                    run_variant(variant, small_csv, workdir, args.quiet_wait)
                )
    results = {v: _best(rs) for v, rs in runs.items()}
    small = {v: _best(rs) for v, rs in small_runs.items()}

    floor = results["duckdb"]
    table = [
        _row("duckdb bare: CTAS read_csv (types sniffed)", floor, floor),
        _row("duckdb bare: CTAS read_csv(all_varchar)", results["duckdb-varchar"], floor),
        _row("valueseg ingest (validate+dedup+quarantine)", results["valueseg"], floor),
    ]
    if small:
        sfloor = small["duckdb"]
        table += [
            _row(f"[{small_rows:,}-row file] duckdb bare", sfloor, sfloor),
            _row(f"[{small_rows:,}-row file] valueseg ingest", small["valueseg"], sfloor),
            _row(
                f"[{small_rows:,}-row file] pandas read_csv+to_sql(sqlite3)",
                small["pandas"],
                sfloor,
            ),
        ]
    print()
    print(_table(table))
    vs = results["valueseg"]
    print(
        f"\nvalueseg / duckdb bare at {args.rows:,} rows: "
        f"{vs['seconds'] / floor['seconds']:.2f}x best-to-best, "
        f"{vs['median'] / floor['median']:.2f}x median-to-median (target: within 2x)"
    )
    if small:
        speedup = small["pandas"]["seconds"] / small["valueseg"]["seconds"]
        speedup_median = small["pandas"]["median"] / small["valueseg"]["median"]
        print(
            f"valueseg speedup over pandas+to_sql on the same {small_rows:,}-row file: "
            f"{speedup:.2f}x best-to-best, {speedup_median:.2f}x median-to-median"
        )

    expected = _expected(args.rows)
    print(
        f"\nvalueseg report: read {vs['rows']:,}, accepted {vs['accepted']:,}, "
        f"rejected {vs['rejected']:,}, returns {vs['returns']:,}, "
        f"customers {vs['customers']:,}"
    )
    print(f"  rejected by reason: {vs['by_reason']}")
    print(
        f"  generator planted: {expected['bad']:,} bad + {expected['duplicates']:,} "
        f"duplicate lines = {expected['bad'] + expected['duplicates']:,}; "
        f"{expected['cancelled']:,} cancellation lines"
    )
    print(f"  duckdb sniffed types: {floor['types']}")
    print(f"\nvalueseg time by stage (progress callback; the best run of {args.repeat}):")
    for name, seconds in vs["stages"]:
        print(f"  {name:<55} {seconds:7.1f} s  {100 * seconds / vs['seconds']:5.1f} %")


if __name__ == "__main__":
    main()
