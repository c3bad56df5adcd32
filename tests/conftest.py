"""Shared fixtures: a throw-away store, a file writer, the CDNOW sample (valueseg.datasets)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from valueseg.datasets import load_cdnow
from valueseg.store import Store


@pytest.fixture(scope="session")
def cdnow_orders() -> pd.DataFrame:
    """The CDNOW sample's order lines: customer_id (str), timestamp, amount (read-only)."""
    return load_cdnow("sample")[["customer_id", "timestamp", "amount"]]


@pytest.fixture
def store() -> Iterator[Store]:
    """An in-memory DuckDB store."""
    with Store(":memory:") as s:
        yield s


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write text (or bytes) to a file in tmp_path and return its path."""

    def _write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding=encoding)
        return path

    return _write
