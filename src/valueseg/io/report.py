"""What one load did, in numbers a person can check."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class IngestReport:
    """The outcome of loading one source.

    ``rows_read == accepted + rejected`` always holds; ``rejected_by_reason`` sums to
    ``rejected``. When the same content was loaded before, nothing is written and
    ``already_loaded`` names that earlier load.
    """

    source: str
    kind: str
    rows_read: int
    accepted: int
    rejected: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    load_id: int | None = None
    already_loaded: int | None = None
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    customers: int = 0
    orders: int = 0
    revenue: float = 0.0
    returns: int = 0
    mapping: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy."""
        out = dict(self.__dict__)
        for key in ("first_timestamp", "last_timestamp"):
            value = out[key]
            out[key] = value.isoformat() if value is not None else None
        return out

    def __str__(self) -> str:
        if self.already_loaded is not None:
            return f"{self.source}: already loaded as load {self.already_loaded}; nothing changed."
        text = (
            f"{self.source} ({self.kind}): {self.rows_read:,} rows read, "
            f"{self.accepted:,} accepted, {self.rejected:,} rejected"
        )
        if self.rejected_by_reason:
            reasons = "; ".join(f"{r}: {n:,}" for r, n in self.rejected_by_reason.items())
            text += f" ({reasons})"
        return text + "."
