"""The API's request and response bodies (pydantic): what the OpenAPI schema documents."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Change",
    "CustomerOut",
    "CustomerPage",
    "ErrorBody",
    "ErrorDetail",
    "EventIn",
    "EventOut",
    "HistoryRow",
    "LearnerFit",
    "Lens",
    "LoadRow",
    "ModelFit",
    "Note",
    "Order",
    "OrdersOut",
    "Progress",
    "QualityOut",
    "Reason",
    "Recommendation",
    "RecommendationsOut",
    "RejectedReason",
    "RunDetail",
    "RunIn",
    "RunJobOut",
    "RunSummary",
    "Scores",
    "Segment",
    "SegmentChange",
    "SegmentsOut",
    "clean",
    "plain",
    "records",
]

LensName = Literal["rfm", "value_tier", "cluster"]
SortName = Literal["predicted_clv_365d", "churn_probability", "p_alive"]


def plain(value: Any) -> Any:
    """A value JSON can hold: NaN and NaT become None, numpy and pandas scalars Python's,
    and the store's naive UTC times UTC-aware (RFC 3339 wants the offset).

    Examples
    --------
    >>> plain(np.float64("nan")), plain(np.int8(3)), plain(pd.NaT)
    (None, 3, None)
    >>> plain(pd.Timestamp("2025-01-01 12:00")).isoformat()
    '2025-01-01T12:00:00+00:00'
    """
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def clean(value: Any) -> Any:
    """:func:`plain` through dicts and lists (a back-test's metrics, a profile).

    Examples
    --------
    >>> clean({"a": [1.0, float("nan")], "b": {"c": np.int64(2)}})
    {'a': [1.0, None], 'b': {'c': 2}}
    """
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return plain(value)


def records(frame: pd.DataFrame | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of ``frame`` (or rows already as dicts) as dicts of :func:`plain` values."""
    rows = frame if isinstance(frame, list) else frame.to_dict("records")
    return [{str(k): plain(v) for k, v in row.items()} for row in rows]


class ErrorDetail(BaseModel):
    """What went wrong: the HTTP status, a short code, a message a person can act on,
    and the request field at fault (None when no one field is)."""

    status: int
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """The one shape of every error the API answers."""

    error: ErrorDetail


class RunSummary(BaseModel):
    run_id: int
    as_of: dt.datetime | None
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    seconds: float | None = None
    message: str | None = None


class ModelFit(BaseModel):
    model: str
    params: dict[str, Any]
    loglik: float | None = None
    aic: float | None = None
    bic: float | None = None
    converged: bool | None = None
    chosen: bool | None = None
    backtest: dict[str, Any]


class LearnerFit(BaseModel):
    task: str
    model: str
    params: dict[str, Any] | None = None
    metrics: dict[str, Any]
    chosen: bool
    reason: str | None = None


class Note(BaseModel):
    stage: str
    note: str


class Progress(BaseModel):
    at: dt.datetime
    message: str


class RunJobOut(BaseModel):
    """A run this server started: its status and the stages it has begun, with times."""

    run_id: int | None
    status: Literal["starting", "running", "succeeded", "failed"]
    error: str | None = None
    progress: list[Progress]


class RunDetail(RunSummary):
    parameters: dict[str, Any]
    notes: list[Note]
    value_models: list[ModelFit]
    learners: list[LearnerFit]
    estimators: list[str]
    job: RunJobOut | None = Field(
        default=None, description="Progress of a run this server started (else null)"
    )


class RunIn(BaseModel):
    """The parameters of ``valueseg run`` (same names, same defaults, same checks)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"learners": "lr", "recommender": "popularity"}]},
    )

    as_of: str | None = Field(default=None, max_length=64, description="ISO date (--as-of)")
    engine: str = Field(default="duckdb", max_length=20, description="duckdb or spark")
    freq: str = Field(default="D", max_length=5, description="D, W, M or h")
    spark_master: str = Field(default="local[2]", max_length=200)
    segments_config: str | None = Field(
        default=None, max_length=1000, description="A TOML file on the server"
    )
    seed: int = Field(default=0, description="Seed of the clustering")
    clusters: str = Field(default="3-8", max_length=20, description="LOW-HIGH or one number")
    horizon: int = Field(default=90, description="Days ahead of churn and spend predictions")
    learners: str = Field(default="lr,tree,rf,lgbm", max_length=200)
    recommender: str = Field(default="auto", max_length=50)
    playbooks: str | None = Field(
        default=None, max_length=1000, description="A TOML file on the server"
    )
    cluster_features: str = Field(
        default="default", max_length=40, description="default, or +embedding"
    )


class Segment(BaseModel):
    segment: str
    size: int
    revenue_share: float | None = None
    rules: str | None = None
    profile: dict[str, Any] | None = None


class Lens(BaseModel):
    lens: LensName
    segments: list[Segment]


class SegmentsOut(BaseModel):
    run_id: int
    lenses: list[Lens]


class Scores(BaseModel):
    """A customer's scores and segments (a run's, or recomputed in real time)."""

    model_config = ConfigDict(extra="ignore")

    customer_id: str | None = None
    frequency: float | None = None
    recency: float | None = None
    T: float | None = None
    monetary_value: float | None = None
    p_alive: float | None = None
    expected_purchases_90d: float | None = None
    expected_purchases_365d: float | None = None
    predicted_clv_365d: float | None = None
    churn_probability: float | None = None
    predicted_spend_90d: float | None = None
    expected_next_order_date: dt.date | None = None
    rfm_r: int | None = None
    rfm_f: int | None = None
    rfm_m: int | None = None
    rfm_segment: str | None = None
    value_tier: str | None = None
    cluster: int | None = None
    segment: str | None = None
    action: str | None = None
    action_rule: str | None = None


class CustomerPage(BaseModel):
    run_id: int
    lens: LensName
    segment: str
    sort: SortName
    order: Literal["asc", "desc"]
    page: int
    size: int
    total: int
    pages: int
    customers: list[Scores]


class Reason(BaseModel):
    rank: int
    feature: str
    value: float | None = None
    contribution: float | None = None
    text: str


class HistoryRow(BaseModel):
    run_id: int
    as_of: dt.datetime | None = None
    rfm_segment: str | None = None
    value_tier: str | None = None
    segment: str | None = None


class SegmentChange(BaseModel):
    changed_at: dt.datetime
    run_id: int
    lens: str
    before_value: str | None = None
    after_value: str | None = None
    cause: str | None = None


class CustomerOut(BaseModel):
    customer_id: str
    run_id: int | None
    scores: Scores | None
    reasons: list[Reason]
    segment_history: list[HistoryRow]
    changes: list[SegmentChange]
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="The customers table's columns; personal data (tagged at ingest) for "
        "an admin only",
    )
    personal_columns: list[str] = Field(
        default_factory=list, description="Which attributes shown are personal data"
    )
    hidden_columns: int = Field(default=0, description="Personal-data attributes left out")


class Recommendation(BaseModel):
    rank: int
    product_id: str
    score: float | None = None
    reason: str | None = None
    model: str | None = None


class RecommendationsOut(BaseModel):
    customer_id: str
    run_id: int
    recommendations: list[Recommendation]


class Order(BaseModel):
    order_id: str
    timestamp: dt.datetime
    amount: float
    lines: int
    is_return: bool


class OrdersOut(BaseModel):
    customer_id: str
    orders: list[Order]


class EventIn(BaseModel):
    """An order (``amount`` given, no ``event_type``) or a browse event (``event_type``).

    Values are checked by the same rules as ``valueseg ingest``: a row ingest would
    quarantine is refused with its reason (422).
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"customer_id": "C0000042", "timestamp": "2025-01-05T12:00:00Z",
                 "amount": 80.0, "order_id": "O-1001"},
                {"customer_id": "C0000042", "timestamp": "2025-01-05T11:58:00Z",
                 "event_type": "view", "product_id": "P00017"},
            ]
        },
    )  # fmt: skip

    customer_id: str = Field(min_length=1, max_length=200)
    timestamp: str = Field(
        min_length=1, max_length=64, description="ISO date-time; an offset is converted to UTC"
    )
    amount: float | None = Field(default=None, allow_inf_nan=False)
    order_id: str | None = Field(default=None, min_length=1, max_length=200)
    product_id: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)
    channel: str | None = Field(default=None, max_length=200)
    event_type: str | None = Field(default=None, min_length=1, max_length=50)
    session_id: str | None = Field(default=None, max_length=200)


class Change(BaseModel):
    lens: str
    before: str | None = None
    after: str | None = None


class EventOut(BaseModel):
    kind: Literal["order", "event"]
    customer_id: str
    load_id: int | None
    run_id: int | None
    at: dt.datetime | None = None
    before: Scores | None = None
    after: Scores | None = None
    changes: list[Change]
    recomputed: list[str]
    carried: list[str]
    notes: list[str]


class LoadRow(BaseModel):
    load_id: int
    source: str
    kind: str
    rows_read: int
    accepted: int
    rejected: int
    loaded_at: dt.datetime


class RejectedReason(BaseModel):
    kind: str
    reason: str
    rows: int
    example: str | None = None


class QualityOut(BaseModel):
    loads: list[LoadRow]
    rejected: list[RejectedReason]
