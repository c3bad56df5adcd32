"""The lake run on Spark beside the DuckDB run, on the same Parquet files.

Generates a synthetic shop of about ``--lines`` order lines (``make_shop``, about seven
lines per customer) as Parquet once (kept in ``--data``; past 10M lines in parts of 10M,
each a shop of its own with its customer ids suffixed, so that no more than one part is
in memory), then:

- **spark**: ``run_lake`` on ``local[2]`` from those files to Parquet under a temporary
  ``OUT`` (read, checks, features, back-test and value models, scores, RFM, tiers,
  clusters, write);
- **duckdb**: the same stages of the DuckDB run: ingest into a store, features, value
  models, segments (no predict or recommend stage, which the lake run has not either).

Prints wall time per stage and the driver's peak memory: the Python process (its peak
RSS) and, for Spark, the driver JVM (its peak RSS, ``VmHWM``). On ``local[N]`` the driver
JVM also runs the executors' tasks, so its peak counts their memory too; the Python
workers of ``mapInPandas`` are processes of their own, not counted.

Run: ``python bench/spark.py --lines 1000000`` (``--engines spark`` for one side; each
side runs in its own process so the peaks do not mix; ``--inputs transactions
customers`` leaves the browse events out, about five times as many rows as the order
lines).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from valueseg.predict.learners import LEARNERS

KINDS = ("transactions", "events", "customers")


#: Order lines per generated part: the shop of a larger ``--lines`` is made part by part
#: (``make_shop`` holds a part in memory: about 7.5 GB for 10M lines with its events).
PART_LINES = 10_000_000


def _write_shop(lines: int, folder: Path, seed: int) -> dict[str, str]:
    """The shop's files (made the first time): one Parquet file per input up to
    :data:`PART_LINES` lines; beyond, a folder per input of parts, each part a shop of its
    own (seed ``seed + i``) whose customer ids end in ``-i``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from valueseg.synth import make_shop

    folder.mkdir(parents=True, exist_ok=True)
    parts = max(1, -(-lines // PART_LINES))
    files = {k: str(folder / (k if parts > 1 else f"{k}.parquet")) for k in KINDS}
    done = folder / "complete"
    if done.exists() or (parts == 1 and all(Path(f).exists() for f in files.values())):
        return files
    customers = max(lines // 7, 100)
    for i in range(parts):
        shop = make_shop(max(customers // parts, 100), random_state=seed + i)
        for kind, target in files.items():
            frame = getattr(shop, kind)
            if parts > 1:
                Path(target).mkdir(exist_ok=True)
                frame = frame.assign(customer_id=frame["customer_id"].astype(str) + f"-{i}")
                target = f"{target}/part-{i:04d}.parquet"
            table = pa.Table.from_pandas(frame, preserve_index=False)
            pq.write_table(table, target, coerce_timestamps="us", allow_truncated_timestamps=True)
        del shop
        print(f"part {i + 1}/{parts} written", flush=True)
    done.touch()
    return files


def _sources(path: str) -> list[str]:
    """The Parquet files of an input: itself, or a folder's parts in order."""
    return sorted(str(p) for p in Path(path).glob("*.parquet")) if Path(path).is_dir() else [path]


def _peak_mb() -> float:
    """This process's peak RSS (``VmHWM``; ``ru_maxrss`` would carry over the parent's
    peak through ``fork`` and ``exec``: the shop's generation, when it ran first)."""
    peak = _jvm_peak_mb(os.getpid())
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if peak is None else peak


def _jvm_peak_mb(pid: int) -> float | None:
    """The peak RSS (``VmHWM``) of process ``pid`` in MB (None: not readable)."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def _rss_mb() -> float:
    """This process's resident memory now (``VmRSS``) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class _Sampler(threading.Thread):
    """Samples this process's resident memory every ``every`` seconds until stopped, each
    sample under the run's step at the time (``mark``, the run's progress callback)."""

    def __init__(self, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.every, self.step = every, "start"
        self.peaks: dict[str, int] = {}
        self.starts: dict[str, int] = {}  # the first sample of each step
        self._stop_at = threading.Event()

    def mark(self, step: str) -> None:
        self.step = step

    def run(self) -> None:
        while not self._stop_at.wait(self.every):
            step, mb = self.step, round(_rss_mb())
            self.peaks[step] = max(self.peaks.get(step, 0), mb)
            self.starts.setdefault(step, mb)

    def stop(self) -> None:
        self._stop_at.set()
        self.join()


def _spark(files: dict[str, str], learners: str) -> dict[str, object]:
    from valueseg.features.compute import spark_session
    from valueseg.lake import run_lake

    spark = spark_session("local[2]")
    spark.sparkContext.setLogLevel("ERROR")
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    pid = int(jvm.java.lang.ProcessHandle.current().pid())
    sampler = _Sampler()
    sampler.start()
    with tempfile.TemporaryDirectory(prefix="valueseg-lake-") as out:
        started = time.perf_counter()
        result = run_lake(
            files["transactions"],
            events=files.get("events"),
            customers=files.get("customers"),
            out=f"{out}/lake",
            spark=spark,
            learners=learners,
            progress=sampler.mark,
        )
        wall = time.perf_counter() - started
    sampler.stop()
    return {
        "engine": "spark",
        "lines": result.inputs[0].rows_read,
        "customers": result.customers,
        "wall_s": round(wall, 1),
        "stages_s": {k: round(v, 1) for k, v in result.seconds.items()},
        "driver_python_peak_mb": round(_peak_mb()),
        "driver_python_peak_by_step_mb": sampler.peaks,
        "driver_python_start_of_step_mb": sampler.starts,
        "driver_jvm_peak_mb": _jvm_peak_mb(pid),
    }


def _duckdb(files: dict[str, str]) -> dict[str, object]:
    from valueseg.features.compute import compute_features
    from valueseg.io import ingest
    from valueseg.pipeline import _value_models, default_as_of
    from valueseg.segment.lenses import segment_customers
    from valueseg.store import Store

    stages: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="valueseg-duck-") as tmp:
        started = tick = time.perf_counter()
        with Store(Path(tmp) / "s.duckdb") as store:
            for kind, path in files.items():
                for source in _sources(path):
                    ingest(source, kind=kind, db=store)
            stages["read"], tick = time.perf_counter() - tick, time.perf_counter()
            as_of = default_as_of(store)
            features = compute_features(store, as_of).to_pandas()
            stages["features"], tick = time.perf_counter() - tick, time.perf_counter()
            values = _value_models(store, as_of, features, "D")
            stages["models"], tick = time.perf_counter() - tick, time.perf_counter()
            segment_customers(features, values.scores)
            stages["segments"] = time.perf_counter() - tick
        wall = time.perf_counter() - started
    return {
        "engine": "duckdb",
        "customers": len(features),
        "wall_s": round(wall, 1),
        "stages_s": {k: round(v, 1) for k, v in stages.items()},
        "driver_python_peak_mb": round(_peak_mb()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000_000)
    parser.add_argument("--data", type=Path, default=Path("bench/_data/spark"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engines", nargs="+", default=["spark", "duckdb"])
    parser.add_argument(
        "--inputs",
        nargs="+",
        default=list(KINDS),
        choices=KINDS,
        help="which of the shop's files the runs read (transactions always); the shop's "
        "browse events are about five times its order lines",
    )
    parser.add_argument("--one", choices=["spark", "duckdb"], help=argparse.SUPPRESS)
    parser.add_argument(
        "--learners",
        default=",".join(LEARNERS),
        help="the Spark run's churn and spend learners ('none': the stages the DuckDB side "
        "runs, which has no predict stage)",
    )
    args = parser.parse_args()
    folder = args.data / f"lines-{args.lines}"
    if args.one:  # a child process: one engine, its own peaks
        written = _write_shop(args.lines, folder, args.seed)
        files = {k: v for k, v in written.items() if k in {"transactions", *args.inputs}}
        answer = _spark(files, args.learners) if args.one == "spark" else _duckdb(files)
        print(json.dumps(answer))
        return
    started = time.perf_counter()
    _write_shop(args.lines, folder, args.seed)
    print(f"data: {folder} ({time.perf_counter() - started:.0f} s to make)", flush=True)
    for engine in args.engines:
        done = subprocess.run(
            [sys.executable, __file__, "--lines", str(args.lines), "--data", str(args.data),
             "--seed", str(args.seed), "--one", engine, "--learners", args.learners,
             "--inputs", *args.inputs],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        print(_answer(engine, done), flush=True)


def _answer(engine: str, done: subprocess.CompletedProcess[str]) -> str:
    """The child's JSON line, or a line saying how it ended when it wrote none (a side
    killed for memory, as the DuckDB run is at 100M lines on a 24 GB machine, must not hide
    the other side's result)."""
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines:
        return lines[-1]
    how = (
        f"killed by signal {-done.returncode}"
        + (" (SIGKILL: most likely the kernel, out of memory)" if done.returncode == -9 else "")
        if done.returncode < 0
        else f"exit status {done.returncode}"
    )
    tail = " | ".join(done.stderr.strip().splitlines()[-3:])
    return json.dumps({"engine": engine, "failed": how, "stderr_tail": tail})


if __name__ == "__main__":
    main()
