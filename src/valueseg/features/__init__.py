"""Customer-level features as engine-neutral (Ibis) expressions: RFM summary and behaviour."""

from __future__ import annotations

from valueseg.features.summary import calibration_holdout, rfm_summary

__all__ = ["calibration_holdout", "rfm_summary"]
