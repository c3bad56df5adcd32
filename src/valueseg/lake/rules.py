"""Ingest's row rules as Spark expressions: parse each canonical column, name the first rule
a row breaks (the reasons of :mod:`valueseg.io.rules`), then mark duplicates.

The lake run reads plain formats: times as Parquet timestamps or dates, ISO-8601 text
(``2024-03-01``, ``2024-03-01 14:05:00``; an offset such as ``+01:00`` is converted to
UTC) or epoch seconds (milliseconds past 1e11); amounts as numbers or text that reads as
one (``12.50``). A value that does not read is its row's reason (``unparseable
timestamp``, ``non-numeric amount``), never a stopped run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from valueseg.io.columns import ColumnMap
from valueseg.io.dedupe import DEDUP_KEYS, DUP_REASON
from valueseg.store.schema import INPUT_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

#: Canonical columns parsed as numbers, per kind (as in ingest).
NUMERIC = {
    k: [c.name for c in cols if c.sql_type == "DOUBLE" and not c.aside]
    for k, cols in INPUT_COLUMNS.items()
}
#: Canonical columns kept as text, per kind.
TEXT = {
    k: [c.name for c in cols if c.sql_type == "VARCHAR" and not c.aside]
    for k, cols in INPUT_COLUMNS.items()
}
_NUMBER_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double")
#: Columns of the parsed frame besides the canonical ones.
LINE, REASON, RAW = "_line", "_reason", "_raw"


@dataclass
class Parsed:
    """The parsed rows (canonical columns, ``_line``, ``_reason``, ``_raw``) and notes."""

    frame: DataFrame
    columns: list[str]
    notes: list[str] = field(default_factory=list)


def _is_number(dtype: str) -> bool:
    return dtype in _NUMBER_TYPES or dtype.startswith("decimal")


def _text(src: str, dtype: str) -> Column:
    """Trimmed text, NULL when empty; a whole number in a float column without '.0'."""
    from pyspark.sql import functions as F

    col = F.col(src)
    if dtype in ("float", "double"):
        col = F.when(col == F.floor(col), col.cast("bigint")).otherwise(col)
    text = F.trim(col.cast("string"))
    return F.when(text == "", None).otherwise(text)


def _timestamp(src: str, dtype: str) -> Column:
    """Naive UTC time (TIMESTAMP_NTZ) of a plain time value; NULL where it does not read."""
    from pyspark.sql import functions as F

    col = F.col(src)
    if dtype in ("timestamp", "timestamp_ntz", "date"):
        ts = col.cast("timestamp")
    elif _is_number(dtype):
        seconds = col.cast("double")
        ts = F.timestamp_seconds(F.when(F.abs(seconds) > 1e11, seconds / 1000).otherwise(seconds))
    else:
        ts = F.expr(f"try_to_timestamp(trim(CAST({src} AS STRING)))")
    return ts.cast("timestamp_ntz")


def _number(src: str, dtype: str) -> Column:
    from pyspark.sql import functions as F

    if _is_number(dtype):
        return F.col(src).cast("double")
    return F.expr(f"try_cast(trim(CAST({src} AS STRING)) AS DOUBLE)")


def _present(src: str) -> Column:
    """The raw value is there (not NULL, not blank text)."""
    from pyspark.sql import functions as F

    return F.coalesce(F.trim(F.col(src).cast("string")) != "", F.lit(False))


def parse_rows(raw: DataFrame, cmap: ColumnMap, now: datetime) -> Parsed:
    """Every row of ``raw`` with its canonical columns typed and ``_reason`` (NULL: kept).

    ``_raw`` holds the row as read (JSON) for the rejected rows; ``_line`` numbers the
    rows (Spark's row id: unique, increasing within a file, not a line number).
    """
    from pyspark.sql import functions as F

    kind = cmap.kind
    types = dict(raw.dtypes)
    alias = {name: f"_s{i}" for i, name in enumerate(raw.columns)}
    frame = raw.select(
        *[F.col(f"`{name}`").alias(a) for name, a in alias.items()],
        F.monotonically_increasing_id().alias(LINE),
    )
    values: dict[str, Column] = {}
    checks: list[tuple[Column, str]] = []
    for name in TEXT[kind]:
        src = cmap.source(name)
        if src is not None:
            values[name] = _text(alias[src], types[src])
    checks.append((F.col("customer_id").isNull(), "missing customer_id"))
    if kind != "customers":
        src = cmap.fields["timestamp"]
        values["timestamp"] = _timestamp(alias[src], types[src])
        future = F.lit(now + timedelta(days=1)).cast("timestamp_ntz")
        checks += [
            (~_present(alias[src]), "missing timestamp"),
            (F.col("timestamp").isNull(), "unparseable timestamp"),
            (F.col("timestamp") > future, "timestamp more than a day in the future"),
        ]
    if kind == "events":
        values["event_type"] = F.lower(values["event_type"])
        checks.append((F.col("event_type").isNull(), "missing event_type"))
    for name in NUMERIC[kind]:
        src = cmap.source(name)
        if src is None:
            continue
        values[name] = _number(alias[src], types[src])
        if name == "amount":
            checks.append((~_present(alias[src]), "missing amount"))
        checks += [
            (_present(alias[src]) & F.col(name).isNull(), f"non-numeric {name}"),
            (
                F.isnan(F.col(name)) | (F.abs(F.col(name)) == float("inf")),
                f"{name} is NaN or infinite",
            ),
        ]
    notes: list[str] = []
    if kind == "transactions" and cmap.source("amount") is None:
        values["amount"] = values["quantity"] * values["unit_price"]
        notes.append(f"amount computed as {cmap.fields['quantity']} × {cmap.fields['unit_price']}")
        checks += [
            (~_present(alias[cmap.fields["quantity"]]), "missing quantity"),
            (~_present(alias[cmap.fields["unit_price"]]), "missing unit_price"),
            (F.isnan("amount") | (F.abs("amount") == float("inf")), "amount is NaN or infinite"),
        ]
    if kind == "customers":
        for attr, src in cmap.attributes.items():
            values.setdefault(attr, F.col(alias[src]))
    frame = frame.select("*", *[v.alias(k) for k, v in values.items()])
    reason = F.lit(None).cast("string")
    for cond, why in reversed(checks):
        reason = F.when(F.coalesce(cond, F.lit(False)), F.lit(why)).otherwise(reason)
    raw_json = F.to_json(F.struct(*[F.col(a).alias(name) for name, a in alias.items()]))
    frame = frame.withColumn(REASON, reason)
    columns = list(values)
    if kind == "transactions":
        frame, columns = _order_fields(frame, columns)
    frame = _duplicates(frame, kind, columns)
    frame = frame.withColumn(RAW, F.when(F.col(REASON).isNotNull(), raw_json))
    return Parsed(frame.select(*columns, LINE, REASON, RAW), columns, notes)


def _order_fields(frame: DataFrame, columns: list[str]) -> tuple[DataFrame, list[str]]:
    """``order_id`` (default: customer and time, as ingest) and ``is_return`` (a negative
    amount or quantity, or a UCI cancellation id such as C536379)."""
    from pyspark.sql import functions as F

    stamp = F.date_format("timestamp", "yyyy-MM-dd'T'HH:mm:ss")
    default = F.concat(F.col("customer_id"), F.lit("@"), stamp)
    order = F.coalesce(F.col("order_id"), default) if "order_id" in columns else default
    negative = F.col("amount") < 0
    if "quantity" in columns:
        negative = negative | F.coalesce(F.col("quantity") < 0, F.lit(False))
    cancel = F.coalesce(F.col("order_id").rlike("^[Cc][0-9]+$"), F.lit(False))
    frame = frame.withColumn("order_id", order)
    frame = frame.withColumn("is_return", F.coalesce(negative, F.lit(False)) | cancel)
    return frame, [*dict.fromkeys([*columns, "order_id"]), "is_return"]


def _duplicates(frame: DataFrame, kind: str, columns: list[str]) -> DataFrame:
    """A usable row whose de-duplication key an earlier usable row holds: rejected."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = [k for k in DEDUP_KEYS[kind] if k in columns]
    usable = F.col(REASON).isNull()
    window = Window.partitionBy(usable, *keys).orderBy(LINE)
    later = usable & (F.row_number().over(window) > 1)
    return frame.withColumn(REASON, F.when(later, F.lit(DUP_REASON[kind])).otherwise(F.col(REASON)))
