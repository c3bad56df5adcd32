"""Audience exports for the API and the segment page: :func:`valueseg.actions.export_audience`
under the caller's role.

- ``analyst``: customer ids are always pseudonymised (HMAC-SHA256 with the server's
  ``VALUESEG_PSEUDONYM_KEY``; without a key the export is refused, 403) and no contact
  column is written, in any format;
- ``admin``: raw ids (pseudonyms when asked) and the contact columns the Klaviyo and Meta
  layouts carry.

A filter is parsed by the actions package's own grammar (:func:`parse_where`), so its
text never reaches SQL; a bad one is 422 naming the position and what was expected. Each
export is written to ``audit_log`` (action ``export``).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from valueseg.actions.columns import AUDIENCE_COLUMNS
from valueseg.actions.export import ExportReport, check_filters, export_audience, resolve_run
from valueseg.actions.privacy import KEY_VARIABLE, MIN_KEY_LENGTH, pseudonym_key
from valueseg.actions.where import parse_where
from valueseg.errors import InputError
from valueseg.store import Store
from valueseg.store.web import write_audit
from valueseg.web.auth import Caller, role_at_least
from valueseg.web.deps import ApiError, not_found

__all__ = ["MEDIA_TYPES", "Audience", "audience_file", "export_refusal"]

#: Format -> the media type of its file.
MEDIA_TYPES: Final = {
    "csv": "text/csv",
    "klaviyo": "text/csv",
    "meta": "text/csv",
    "parquet": "application/vnd.apache.parquet",
}


@dataclass
class Audience:
    """An audience written to a temporary folder: remove it with :meth:`cleanup`."""

    path: Path
    filename: str
    media_type: str
    report: ExportReport

    def cleanup(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)


def export_refusal(caller: Caller) -> str | None:
    """Why ``caller`` cannot export here, or None when they can."""
    if not role_at_least(caller.role, "analyst"):
        return "Audiences are customer level: they need the analyst role."
    if role_at_least(caller.role, "admin"):
        return None
    try:
        pseudonym_key()
    except InputError as exc:
        if "not set" not in str(exc):
            return f"An analyst's export needs a valid pseudonym key on the server: {exc}"
        return (
            "An analyst's export replaces customer ids with keyed pseudonyms (HMAC-SHA256), "
            f"and this server has no key: {KEY_VARIABLE} is not set in its environment. An "
            f"admin sets it ({MIN_KEY_LENGTH} characters or more, e.g. "
            f'{KEY_VARIABLE}="$(openssl rand -hex 32)") and restarts valueseg serve; until '
            "then only an admin key exports (with raw ids)."
        )
    return None


def _checked(store: Store, run_id: int | None, segment: str | None, action: str | None) -> int:
    try:
        run = resolve_run(store, run_id)
    except InputError as exc:
        raise not_found(str(exc)) from None
    for field, names in (("segment", (segment, None)), ("action", (None, action))):
        try:
            check_filters(store, run, *names)
        except InputError as exc:
            raise ApiError(422, "invalid", str(exc), field) from None
    return run


def audience_file(
    store: Store,
    caller: Caller,
    *,
    segment: str | None = None,
    action: str | None = None,
    where: str | None = None,
    fmt: str = "csv",
    run_id: int | None = None,
    top: int = 3,
    pseudonymize: bool = False,
) -> Audience:
    """Write the audience the filters pick, as ``caller`` may see it, and audit it."""
    refusal = export_refusal(caller)
    if refusal is not None:
        raise ApiError(403, "forbidden", refusal)
    admin = role_at_least(caller.role, "admin")
    if where is not None:
        try:
            parse_where(where, AUDIENCE_COLUMNS, name="where")
        except InputError as exc:
            raise ApiError(422, "invalid", str(exc), "where") from None
    run = _checked(store, run_id, segment, action)
    folder = Path(tempfile.mkdtemp(prefix="valueseg-export-"))
    name = _filename(segment, action, run, fmt)
    try:
        report = export_audience(
            store, run, segment=segment, action=action, where=where, out=folder / name,
            fmt=fmt, pseudonymize=pseudonymize or not admin, top_n=top, with_contacts=admin,
        )  # fmt: skip
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    filters = (("segment", segment), ("action", action), ("where", where))
    target = "; ".join(f"{k}={v}" for k, v in filters if v) or "every customer"
    detail: dict[str, Any] = {
        "run_id": run, "format": fmt, "rows": report.rows, "columns": report.columns,
        "pseudonymized": report.pseudonymized, "top": top,
    }  # fmt: skip
    write_audit(store, caller.key_id, caller.role, "export", target, detail)
    return Audience(report.path, name, MEDIA_TYPES[fmt], report)


def _filename(segment: str | None, action: str | None, run: int, fmt: str) -> str:
    words = "-".join(v for v in (segment, action) if v) or "all"
    slug = re.sub(r"[^A-Za-z0-9]+", "-", words).strip("-").lower()[:60] or "audience"
    return f"audience-{slug}-run{run}.{'parquet' if fmt == 'parquet' else 'csv'}"
