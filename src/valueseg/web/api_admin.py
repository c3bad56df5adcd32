"""The admin routes the CLI goes through while ``valueseg serve`` holds the store
(docs/web.md, "One writer, many users"): a load, the store's summary, API keys.

A load takes the server's write lock like any write (409 while a run holds it). Keys are
created, listed and revoked with the same functions as ``valueseg keys``.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi import Path as PathParam

from valueseg.errors import InputError
from valueseg.io import ingest
from valueseg.store.web import list_keys, revoke_key, write_audit
from valueseg.web.api import ERRORS
from valueseg.web.auth import create_key
from valueseg.web.deps import Admin, ApiError, StoreDep, Viewer, web_state
from valueseg.web.schemas import ErrorBody, clean, records
from valueseg.web.schemas_admin import IngestOut, KeyCreated, KeyIn, KeyRow, StoreOut

__all__ = ["router"]

_BUSY: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Another write (a run, a load) is under way"}
}
router = APIRouter(prefix="/v1", responses=ERRORS)


def _json_form(field: str, text: str | None) -> dict[str, str]:
    """A form field holding a JSON object of text to text (``{}`` when absent)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ApiError(
            422,
            "invalid",
            f"Field {field!r} must be a JSON object of text to text, e.g. "
            f'{{"amount": "Revenue"}}. Got {text[:80]!r}.',
            field,
        )
    return value


def _save(upload: UploadFile, folder: Path) -> Path:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(upload.filename or "upload").name).strip(".")
    path = folder / (name or "upload")
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out)
    return path


@router.post("/ingest", response_model=IngestOut, tags=["admin"], responses=_BUSY)
def post_ingest(
    request: Request,
    store: StoreDep,
    caller: Admin,
    file: UploadFile,
    kind: Annotated[Literal["transactions", "events", "customers"], Form()] = "transactions",
    mapping: Annotated[str | None, Form(max_length=10_000)] = None,
    currency: Annotated[str | None, Form(max_length=10)] = None,
    statuses: Annotated[str | None, Form(max_length=100_000)] = None,
    join: list[UploadFile] | None = None,
) -> dict[str, Any]:
    """Load an uploaded file (CSV, Parquet, JSONL) as ``valueseg ingest`` does, with its
    options: ``mapping`` and ``statuses`` as JSON objects (``{"amount": "Revenue"}``,
    ``{"awaiting shipment": "purchase"}``), ``currency``, and files to ``join``."""
    columns, meanings = _json_form("mapping", mapping), _json_form("statuses", statuses)
    folder = Path(tempfile.mkdtemp(prefix="valueseg-ingest-"))
    try:
        source = _save(file, folder)
        joined = [_save(j, folder) for j in join or []]
        with web_state(request).writing(f"a load of {source.name}"):
            try:
                report = ingest(
                    source, kind=kind, db=store, mapping=columns or None, currency=currency,
                    statuses=meanings or None, join=joined,
                )  # fmt: skip
            except InputError as exc:
                raise ApiError(422, "invalid", str(exc)) from None
            detail = {"load_id": report.load_id, "kind": kind, "accepted": report.accepted}
            write_audit(store, caller.key_id, caller.role, "ingest", source.name, detail)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out: dict[str, Any] = json.loads(json.dumps(report.as_dict(), default=list))
    return out


@router.get("/store", response_model=StoreOut, tags=["admin"])
def get_store_summary(store: StoreDep, caller: Viewer) -> dict[str, Any]:
    """What the store holds (``valueseg info``): table counts, orders, loads and runs."""
    summary = store.summary()
    summary["loads"] = [list(row) for row in summary["loads"]]
    summary["runs"] = records(summary["runs"])
    out: dict[str, Any] = clean(summary)
    return out


@router.get("/keys", response_model=list[KeyRow], tags=["admin"])
def get_keys(store: StoreDep, caller: Admin) -> list[dict[str, Any]]:
    """Every API key: id, first characters, role, label, when created and revoked."""
    return records(list_keys(store))


@router.post("/keys", response_model=KeyCreated, status_code=201, tags=["admin"])
def post_key(body: KeyIn, request: Request, store: StoreDep, caller: Admin) -> dict[str, Any]:
    """Create a key; the answer holds the key itself, once (the store keeps its hash)."""
    try:
        key_id, key = create_key(store, body.role, body.label)
    except InputError as exc:
        raise ApiError(422, "invalid", str(exc), "role") from None
    web_state(request).cache.clear()
    write_audit(store, caller.key_id, caller.role, "create_key", str(key_id), {"role": body.role})
    return {"key_id": key_id, "role": body.role, "key": key}


@router.delete("/keys/{key_id}", response_model=KeyRow, tags=["admin"])
def delete_key(
    key_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    request: Request,
    store: StoreDep,
    caller: Admin,
) -> dict[str, Any]:
    """Revoke a key: requests with it are refused from now on."""
    revoked = revoke_key(store, key_id)
    web_state(request).cache.clear()
    if not revoked:
        raise ApiError(404, "not_found", f"No active key {key_id}. GET /v1/keys lists them.")
    write_audit(store, caller.key_id, caller.role, "revoke_key", str(key_id))
    row = records(list_keys(store).query("key_id == @key_id"))
    return row[0]
