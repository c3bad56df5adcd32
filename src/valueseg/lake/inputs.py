"""Read, check and stage one input of a lake run; count what was kept and rejected."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from valueseg.errors import InputError
from valueseg.io.columns import resolve_columns
from valueseg.lake.frames import path
from valueseg.lake.read import FLAGS, read_input
from valueseg.lake.rules import LINE, RAW, REASON, parse_rows

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass
class InputCounts:
    """What one input held: rows read, accepted and rejected (by reason)."""

    kind: str
    uri: str
    rows_read: int
    accepted: int
    rejected: int
    reasons: dict[str, int] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Loaded:
    """The accepted rows of an input (staged as Parquet) and its counts."""

    rows: DataFrame
    counts: InputCounts


def split_mapping(items: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``--map`` targets by input: ``events:event_type`` maps an events column, a bare
    target maps a transactions column (as ``valueseg ingest`` has them).

    Examples
    --------
    >>> split_mapping({"amount": "Revenue", "events:event_type": "action"})
    {'transactions': {'amount': 'Revenue'}, 'events': {'event_type': 'action'}}
    """
    out: dict[str, dict[str, str]] = {}
    for target, source in items.items():
        kind, sep, name = target.partition(":")
        if not sep:
            kind, name = "transactions", target
        if kind not in FLAGS:
            raise InputError(
                f"Cannot read --map {target}={source}: {kind!r} is not an input. Expected "
                "TARGET=SOURCE for the transactions, or events:TARGET=SOURCE, "
                "customers:TARGET=SOURCE."
            )
        out.setdefault(kind, {})[name] = source
    return out


def load_input(
    spark: SparkSession,
    uri: str,
    kind: str,
    *,
    out: str,
    run_id: int,
    mapping: Mapping[str, str],
    now: datetime,
) -> Loaded:
    """Read ``uri``, apply the row rules, write its rejected rows to ``OUT/rejected_rows``
    and return its accepted rows (staged under ``OUT/_staging``) with the counts."""
    from pyspark.sql import functions as F

    raw = read_input(spark, uri, kind)
    cmap = resolve_columns(kind, raw.columns, uri, mapping)
    parsed = parse_rows(raw, cmap, now)
    staging = path(out, f"_staging/{kind}", run_id)
    parsed.frame.write.mode("overwrite").parquet(staging)
    staged = spark.read.parquet(staging)
    reasons = {
        (r[0] or ""): int(r[1]) for r in staged.groupBy(REASON).count().collect()
    }  # "" = accepted
    accepted = reasons.pop("", 0)
    rejected = staged.filter(F.col(REASON).isNotNull()).select(
        F.lit(uri).alias("source"),
        F.col(LINE).alias("line"),
        F.col(REASON).alias("reason"),
        F.col(RAW).alias("raw"),
    )
    if reasons:
        rejected.write.mode("overwrite").parquet(
            f"{path(out, 'rejected_rows', run_id)}/kind={kind}"
        )
    counts = InputCounts(
        kind,
        uri,
        accepted + sum(reasons.values()),
        accepted,
        sum(reasons.values()),
        dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        dict(cmap.fields),
        parsed.notes,
    )
    if kind == "transactions" and accepted == 0:
        shown = "; ".join(f"{n:,} {why}" for why, n in counts.reasons.items())
        raise InputError(
            f"No usable order lines in --transactions {uri}: all {counts.rows_read:,} rows were "
            f"rejected ({shown or 'the input is empty'}). The rejected rows and their reasons "
            f"are in {path(out, 'rejected_rows')}."
        )
    rows = staged.filter(F.col(REASON).isNull()).drop(LINE, REASON, RAW)
    return Loaded(rows, counts)
