"""``GET /v1/export``: a run's audience (a segment, an action, a filter) as a file.

The same export as ``valueseg export`` (:mod:`valueseg.web.exports` says what each role
gets); every export is written to the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from valueseg.web.api import ERRORS
from valueseg.web.deps import Analyst, StoreDep
from valueseg.web.exports import audience_file

__all__ = ["router"]

router = APIRouter(prefix="/v1", responses=ERRORS)

_FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The audience file (CSV, or Parquet for format=parquet)",
        "content": {"text/csv": {}, "application/vnd.apache.parquet": {}},
    }
}
Name = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get("/export", response_class=FileResponse, responses=_FILE, tags=["audiences"])
def get_export(
    store: StoreDep,
    caller: Analyst,
    segment: Name = None,
    action: Name = None,
    where: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=2000,
            description="A filter, e.g. value_tier = 'Top 5%' and churn_probability > 0.5",
        ),
    ] = None,
    format: Literal["csv", "parquet", "klaviyo", "meta"] = "csv",
    run: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    top: Annotated[int, Query(ge=0, le=50, description="Recommendations per customer")] = 3,
    pseudonymize: Annotated[
        bool, Query(description="Pseudonymise the ids (always so for an analyst)")
    ] = False,
) -> FileResponse:
    """A run's customers that match every filter given (none: every customer), with their
    segments, action, scores and top recommendations; an analyst gets pseudonymised ids
    and no contact columns, an admin raw ids and the contact columns of the Klaviyo and
    Meta layouts."""
    audience = audience_file(
        store, caller, segment=segment, action=action, where=where, fmt=format,
        run_id=run, top=top, pseudonymize=pseudonymize,
    )  # fmt: skip
    return FileResponse(
        audience.path,
        media_type=audience.media_type,
        filename=audience.filename,
        headers={"X-Audience-Rows": str(audience.report.rows)},
        background=BackgroundTask(audience.cleanup),
    )
