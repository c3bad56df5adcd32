"""Bodies of the admin routes the CLI goes through while a server holds the store: a load
(``POST /v1/ingest``), the store's summary (``GET /v1/store``) and API keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["IngestOut", "KeyCreated", "KeyIn", "KeyRow", "StoreOut"]


class IngestOut(BaseModel):
    """What the load did: :class:`valueseg.io.report.IngestReport`'s fields."""

    model_config = ConfigDict(extra="allow")

    source: str
    kind: str
    rows_read: int
    accepted: int
    rejected: int
    rejected_by_reason: dict[str, int]
    load_id: int | None = None
    already_loaded: int | None = None
    notes: list[str]


class StoreOut(BaseModel):
    """What the store holds (``valueseg info``)."""

    path: str
    schema_version: int
    tables: dict[str, int]
    first_order: dt.datetime | None = None
    last_order: dt.datetime | None = None
    customers: int
    orders: int
    revenue: float
    returns_amount: float
    return_lines: int
    currency: str | None = None
    loads: list[list[Any]] = Field(description="the newest loads, oldest of them first")
    loads_total: int = Field(description="every load the store holds (one per posted order)")
    runs: list[dict[str, Any]]


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(max_length=20, description="viewer, analyst or admin")
    label: str | None = Field(default=None, max_length=200)


class KeyCreated(BaseModel):
    key_id: int
    role: str
    key: str = Field(description="The key itself: shown once, stored hashed")


class KeyRow(BaseModel):
    key_id: int
    prefix: str
    role: str
    label: str | None = None
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None
