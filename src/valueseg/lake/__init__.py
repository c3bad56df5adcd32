"""The whole run on Spark, from the lake to the lake (``valueseg run --engine spark --out``).

Order lines, events and customers are read where they are (Parquet, CSV or Delta on any
file system Spark reads), checked with ingest's row rules as Spark expressions, and every
per-customer table is computed on the executors and written back as Parquet under
``--out``. The driver holds only what is small: the distinct ``frequency, recency, T``
patterns the value models are fitted on, a uniform sample of customers for the clusters,
the churn and spend learners (with those customers' input rows) and the back-test's value
metrics, and a few order statistics for the RFM and value-tier edges. ``valueseg report
--from OUT`` reads a run back (docs/lake.md).

Nothing here imports PySpark at import time: ``import valueseg`` stays free of it.
"""

from __future__ import annotations

from valueseg.lake.run import LakeResult, run_lake

__all__ = ["LakeResult", "run_lake"]
