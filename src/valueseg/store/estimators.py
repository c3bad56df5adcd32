"""A run's fitted estimators, kept in the store (table ``run_estimators``).

A server scores a new order with the run's own value model, segmenter and learners
without refitting them (docs/design.md §2). Each estimator is written with joblib
(compressed) beside the versions of the libraries that fitted it; reading one back under
other versions still works where pickles allow, and :func:`read_estimator` says which
versions wrote it when it does not. A pickle runs code when loaded: load only stores you
trust, as with any pickle.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
from collections.abc import Mapping
from typing import Any

import joblib

from valueseg.errors import InputError
from valueseg.store.store import Store

__all__ = ["estimator_names", "read_estimator", "write_estimators"]

_LIBRARIES = ("valueseg", "scikit-learn", "lightgbm", "numpy", "pandas")


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def write_estimators(store: Store, run_id: int, estimators: Mapping[str, Any]) -> None:
    """One ``run_estimators`` row per named estimator (None values are skipped)."""
    versions = json.dumps(_versions())
    for name, estimator in estimators.items():
        if estimator is None:
            continue
        buffer = io.BytesIO()
        joblib.dump(estimator, buffer, compress=3)
        blob = buffer.getvalue()
        store.con.execute(
            "INSERT INTO run_estimators (run_id, name, format, versions, bytes, blob) "
            "VALUES (?, ?, 'joblib', ?, ?, ?)",
            [run_id, name, versions, len(blob), blob],
        )


def estimator_names(store: Store, run_id: int) -> list[str]:
    """The names of the estimators run ``run_id`` kept, sorted.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     write_estimators(store, 1, {"rate": {"lambda": 0.2}, "none": None})
    ...     estimator_names(store, 1), read_estimator(store, 1, "rate")
    (['rate'], {'lambda': 0.2})
    """
    rows = store.con.execute(
        "SELECT name FROM run_estimators WHERE run_id = ? ORDER BY name", [run_id]
    ).fetchall()
    return [str(r[0]) for r in rows]


def read_estimator(store: Store, run_id: int, name: str) -> Any:
    """The estimator ``name`` of run ``run_id``, as it was fitted."""
    row = store.con.execute(
        "SELECT blob, versions FROM run_estimators WHERE run_id = ? AND name = ?",
        [run_id, name],
    ).fetchone()
    if row is None:
        have = ", ".join(estimator_names(store, run_id)) or "none"
        raise InputError(
            f"Run {run_id} kept no estimator {name!r} in {store.path}. It kept: {have}."
        )
    blob, versions = row
    try:
        return joblib.load(io.BytesIO(bytes(blob)))
    except Exception as exc:  # a pickle of other library versions: say which
        raise InputError(
            f"Cannot load estimator {name!r} of run {run_id}: {type(exc).__name__}: {exc}. "
            f"It was written with {versions}; run valueseg run again to refit it."
        ) from exc
