"""How well a purchase model predicted a holdout: errors, ranking and capture metrics.

:func:`score_holdout` is the back-test's scorecard of one model (per-customer and aggregate
errors of the predicted holdout purchases, and the table by calibration frequency); the
others are the rank metrics it and :func:`valueseg.models.backtest.backtest` use.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FREQUENCY_BINS",
    "auc",
    "by_frequency",
    "pearson",
    "rank_corr",
    "score_holdout",
    "top_decile_capture",
]

FREQUENCY_BINS = 8  # calibration frequency 0..6 and 7+


def rank_corr(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rank correlation; None with fewer than 3 values or a constant one.

    Examples
    --------
    >>> round(rank_corr(np.array([1.0, 2, 3, 4]), np.array([10.0, 30, 20, 40])), 6)
    0.8
    """
    from scipy.stats import spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson's correlation; None with fewer than 3 values or a constant one.

    Examples
    --------
    >>> pearson(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]))
    1.0
    """
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def auc(score: np.ndarray, label: np.ndarray) -> float | None:
    """Probability that a random positive scores above a random negative (ties half).

    Examples
    --------
    >>> auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]))
    0.75
    """
    from scipy.stats import rankdata

    pos = np.asarray(label, dtype=bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def top_decile_capture(predicted: np.ndarray, actual: np.ndarray) -> float | None:
    """Share of the actual total held by the 10 % of customers predicted highest.

    Examples
    --------
    >>> top_decile_capture(np.arange(10.0), np.array([0.0] * 9 + [5.0]))
    1.0
    """
    total = float(actual.sum())
    if total <= 0 or len(actual) == 0:
        return None
    k = max(1, int(np.ceil(len(actual) / 10)))
    top = np.argsort(-predicted, kind="stable")[:k]
    return float(actual[top].sum() / total)


def by_frequency(
    frequency: np.ndarray, predicted: np.ndarray, actual: np.ndarray
) -> list[dict[str, Any]]:
    """Mean predicted vs actual holdout purchases by calibration frequency 0..6, 7+."""
    bins = np.minimum(frequency.astype(np.int64), FREQUENCY_BINS - 1)
    rows = []
    for b in range(FREQUENCY_BINS):
        mask = bins == b
        if not mask.any():
            continue
        rows.append(
            {
                "frequency": f"{b}+" if b == FREQUENCY_BINS - 1 else str(b),
                "customers": int(mask.sum()),
                "predicted": float(predicted[mask].mean()),
                "actual": float(actual[mask].mean()),
            }
        )
    return rows


def score_holdout(predicted: np.ndarray, cal: pd.DataFrame) -> dict[str, Any]:
    """Per-customer and aggregate errors of predicted holdout purchases."""
    actual = cal["frequency_holdout"].to_numpy(np.float64)
    err = predicted - actual
    total = float(actual.sum())
    return {
        "customers": len(actual),
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "correlation": pearson(predicted, actual),
        "predicted_total": float(predicted.sum()),
        "actual_total": total,
        "aggregate_error_pct": float(100 * (predicted.sum() - total) / total) if total else None,
        "by_frequency": by_frequency(cal["frequency_cal"].to_numpy(), predicted, actual),
    }
