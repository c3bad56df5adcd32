"""What the web tests share besides fixtures: the test client class and the keys' holder."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # starlette 1.x asks for the httpx2 package in place of httpx; the dev set pins httpx,
    # which the test client still drives correctly.
    warnings.filterwarnings(
        "ignore",
        message="Using `httpx` with `starlette.testclient` is deprecated",
        category=StarletteDeprecationWarning,
    )
    from fastapi.testclient import TestClient

__all__ = ["Keys", "TestClient"]


@dataclass(frozen=True)
class Keys:
    """A key of each role, and one revoked."""

    viewer: str
    analyst: str
    admin: str
    revoked: str

    def of(self, role: str) -> str:
        value: str = getattr(self, role)
        return value
