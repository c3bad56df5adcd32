"""``POST /v1/runs``: a run of the pipeline in a background thread, one write at a time.

The parameters are those of ``valueseg run`` and are checked the same way
(:func:`valueseg.params.check_run_params`) before anything starts: a bad one is a 422
naming the field. The run then takes the server's write lock (a second run, or an order
posted meanwhile, is answered 409) and runs on a connection of its own, in a thread; the
request returns once the run's row exists (``running``), with its id. Reads go on from
the last finished run: a run writes its results in one transaction at its end
(:mod:`valueseg.pipeline`), so until then nothing a reader sees changes. When it
finishes, the real-time scorer moves to its estimators (:meth:`WebState.advance_models`).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Final

from valueseg import pipeline
from valueseg.errors import ValuesegError
from valueseg.params import check_run_params
from valueseg.store.runs import list_runs
from valueseg.store.web import request_store
from valueseg.web.deps import ApiError, WebState

__all__ = ["FLAGS", "RunJob", "api_error", "check_params", "start_run_job"]

_LOG = logging.getLogger("valueseg.web")
#: ``valueseg run``'s flags -> the fields of ``POST /v1/runs`` (and ``run``'s keywords).
FLAGS: Final = {
    "--as-of": "as_of",
    "--engine": "engine",
    "--freq": "freq",
    "--spark-master": "spark_master",
    "--segments-config": "segments_config",
    "--seed": "seed",
    "--clusters": "clusters",
    "--horizon": "horizon",
    "--learners": "learners",
    "--recommender": "recommender",
    "--playbooks": "playbooks",
    "--cluster-features": "cluster_features",
}
_KEYWORDS: Final = {"seed": "random_state", "horizon": "horizon_days"}
_FLAG = re.compile("|".join(re.escape(f) for f in sorted(FLAGS, key=len, reverse=True)))
#: Longest the request waits for the run's row to be written.
_START_WAIT_S: Final = 120.0


@dataclass
class RunJob:
    """A run started by the server: its id (once its row exists), its progress, its end."""

    parameters: dict[str, Any]
    run_id: int | None = None
    status: str = "starting"  # starting | running | succeeded | failed
    error: str | None = None
    refusal: ApiError | None = None  # what the API answers when it stopped before its row
    progress: list[tuple[dt.datetime, str]] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def view(self) -> dict[str, Any]:
        """The job as ``GET /v1/runs/{id}`` adds it: progress messages with their times."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "error": self.error,
            "progress": [{"at": at, "message": message} for at, message in self.progress],
        }


def api_error(exc: ValuesegError) -> ApiError:
    """A run's refusal as the API answers it: 422 naming the field when the message names
    one of ``valueseg run``'s flags (written as the field), else 400."""
    message = str(exc)
    found = _FLAG.search(message)
    if found is None:
        return ApiError(400, "bad_request", message)
    text = _FLAG.sub(lambda m: FLAGS[m.group(0)], message)
    return ApiError(422, "invalid", text, FLAGS[found.group(0)])


def check_params(fields: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/runs``'s fields as :func:`valueseg.pipeline.run`'s keywords, checked as
    the CLI's flags are (:class:`ApiError` 422 naming the first bad one)."""
    keywords = {_KEYWORDS.get(k, k): v for k, v in fields.items()}
    try:
        check_run_params(**keywords)
    except ValuesegError as exc:
        raise api_error(exc) from None
    return keywords


def start_run_job(state: WebState, keywords: dict[str, Any]) -> RunJob:
    """Take the write lock, start the run in a thread and return once its row exists.

    A run that stops before it has a row (no orders in the store, an ``as_of`` outside
    them) is answered as its error (422 naming the field, or 400).
    """
    state.acquire_write("run (starting)", wait=0)
    job = RunJob(parameters=keywords)
    state.job = job
    thread = threading.Thread(target=_work, args=(state, job), name="valueseg-run", daemon=True)
    try:
        thread.start()
    except BaseException:
        state.release_write()
        raise
    job.started.wait(_START_WAIT_S)
    if job.refusal is not None and job.run_id is None:
        raise job.refusal
    return job


def _work(state: WebState, job: RunJob) -> None:
    store = request_store(state.root)

    def say(message: str) -> None:
        if job.run_id is None:  # the first message comes once the run's row is written
            runs = list_runs(store)
            running = runs[runs["status"] == "running"]
            job.run_id = int(running["run_id"].iloc[-1]) if len(running) else None
            job.status = "running"
            state.writer = f"run {job.run_id}"
            if job.run_id is not None:
                state.jobs[job.run_id] = job
            job.started.set()
        job.progress.append((dt.datetime.now(dt.UTC), message))

    try:
        result = pipeline.run(store, progress=say, **job.parameters)
        job.progress.append((dt.datetime.now(dt.UTC), "finished; loading its estimators"))
        state.advance_models(store, result.run_id)
        job.status = "succeeded"
    except BaseException as exc:
        job.status, job.error = "failed", str(exc)
        if isinstance(exc, ValuesegError):
            job.refusal = api_error(exc)
        else:
            _LOG.exception("run %s failed", job.run_id)
            message = f"The run failed ({type(exc).__name__}); the server's log has the details."
            job.refusal = ApiError(500, "internal", message)
    finally:
        store.close()
        state.release_write()
        job.done.set()
        job.started.set()
