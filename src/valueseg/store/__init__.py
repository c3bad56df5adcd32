"""The DuckDB warehouse: schema, migrations, runs and atomic writes."""

from __future__ import annotations

from valueseg.store.schema import MIGRATIONS, SCHEMA_VERSION
from valueseg.store.store import DEFAULT_DB, Store

__all__ = ["DEFAULT_DB", "MIGRATIONS", "SCHEMA_VERSION", "Store"]
