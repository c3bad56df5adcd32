"""Reports on a run: matplotlib displays that keep the numbers they plot.

Each display computes its numbers in a ``from_...`` classmethod (``table_``, ``matrix_``,
``bins_``), draws them with ``plot(ax=None)`` and writes a PNG with ``to_png(path)``.
"""

from __future__ import annotations

from valueseg.report.matrices import ExpectedPurchasesMatrixDisplay, ProbabilityAliveMatrixDisplay
from valueseg.report.plots import (
    CalibrationDisplay,
    ClvDistributionDisplay,
    RepeatTransactionsDisplay,
)

__all__ = [
    "CalibrationDisplay",
    "ClvDistributionDisplay",
    "ExpectedPurchasesMatrixDisplay",
    "ProbabilityAliveMatrixDisplay",
    "RepeatTransactionsDisplay",
]
