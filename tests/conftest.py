"""Shared fixtures: a throw-away store, a file writer, a CLI runner, the reference data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from valueseg.store import Store

#: The project's shared reference data (CDNOW, donations), next to the checkout.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the reference data sets (see its README)."""
    return SHARED_DATA


@pytest.fixture(scope="session")
def cdnow_orders() -> pd.DataFrame:
    """The CDNOW sample's order lines: customer_id (str), timestamp, amount (read-only)."""
    raw = pd.read_csv(
        SHARED_DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master", "customer_id", "date", "cds", "amount"],
    )
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype(str),
            "timestamp": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
            "amount": raw["amount"],
        }
    )


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
