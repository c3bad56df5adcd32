"""The API's admin writes besides events: ``POST /v1/runs`` starts a run in the background.

Each takes the server's one write lock (:meth:`valueseg.web.deps.WebState.acquire_write`):
while one write holds it another is answered 409, and reads go on.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from valueseg.store.web import write_audit
from valueseg.web.api import ERRORS
from valueseg.web.deps import Admin, StoreDep, web_state
from valueseg.web.jobs import check_params, start_run_job
from valueseg.web.schemas import ErrorBody, RunIn, RunJobOut

__all__ = ["router"]

_BUSY: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Another write (a run, a load) is under way"}
}

router = APIRouter(prefix="/v1", responses={**ERRORS, **_BUSY})


@router.post("/runs", status_code=202, response_model=RunJobOut, tags=["runs"])
def post_run(body: RunIn, request: Request, store: StoreDep, caller: Admin) -> dict[str, Any]:
    """Start a run (the parameters of ``valueseg run``) in the background; its progress is
    at ``GET /v1/runs/{run_id}``. Reads answer from the last finished run meanwhile."""
    keywords = check_params(body.model_dump())
    job = start_run_job(web_state(request), keywords)
    write_audit(store, caller.key_id, caller.role, "start_run", str(job.run_id), body.model_dump())
    out: dict[str, Any] = job.view()
    return out
