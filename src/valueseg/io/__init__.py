"""Read, map, validate and load shop data into the store; quarantine what cannot be used."""

from __future__ import annotations

from valueseg.io.columns import ALIASES, KINDS, REQUIRED, resolve_columns
from valueseg.io.ingest import ingest
from valueseg.io.report import IngestReport

__all__ = ["ALIASES", "KINDS", "REQUIRED", "IngestReport", "ingest", "resolve_columns"]
