"""Reports on a run: matplotlib displays that keep the numbers they plot, and the HTML report.

Each display computes its numbers in a ``from_...`` classmethod (``table_``, ``matrix_``,
``bins_``), draws them with ``plot(ax=None)`` and writes a PNG with ``to_png(path)``.
:func:`write_report` writes one self-contained HTML file of a run (docs/report.md).
"""

from __future__ import annotations

from valueseg.report.charts import (
    BarsDisplay,
    ClusterProjectionDisplay,
    HeatTableDisplay,
    KCriteriaDisplay,
    RfmGridDisplay,
    TimelineDisplay,
)
from valueseg.report.html import (
    ReportResult,
    ReportSection,
    SectionCharts,
    report_text,
    section_charts,
    write_report,
)
from valueseg.report.matrices import ExpectedPurchasesMatrixDisplay, ProbabilityAliveMatrixDisplay
from valueseg.report.plots import (
    CalibrationDisplay,
    ClvDistributionDisplay,
    RepeatTransactionsDisplay,
)

__all__ = [
    "BarsDisplay",
    "CalibrationDisplay",
    "ClusterProjectionDisplay",
    "ClvDistributionDisplay",
    "ExpectedPurchasesMatrixDisplay",
    "HeatTableDisplay",
    "KCriteriaDisplay",
    "ProbabilityAliveMatrixDisplay",
    "RepeatTransactionsDisplay",
    "ReportResult",
    "ReportSection",
    "RfmGridDisplay",
    "SectionCharts",
    "TimelineDisplay",
    "report_text",
    "section_charts",
    "write_report",
]
