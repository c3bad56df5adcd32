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


def pearson(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """Pearson's correlation; None with fewer than 3 values or a constant one.

    ``weights`` counts the customers behind each row (rows of identical customers
    collapsed): the same number as over the rows repeated.

    Examples
    --------
    >>> pearson(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]))
    1.0
    >>> a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0])
    >>> w = np.array([2.0, 1.0, 1.0])  # the first row stands for two customers
    >>> round(pearson(a, b, w), 9) == round(pearson(np.repeat(a, [2, 1, 1]),
    ...                                              np.repeat(b, [2, 1, 1])), 9)
    True
    """
    if weights is not None:
        return _weighted_pearson(a, b, weights)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _weighted_pearson(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float | None:
    if w.sum() < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    ma, mb = np.average(a, weights=w), np.average(b, weights=w)
    cov = np.sum(w * (a - ma) * (b - mb))
    return float(cov / np.sqrt(np.sum(w * (a - ma) ** 2) * np.sum(w * (b - mb) ** 2)))


def auc(score: np.ndarray, label: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """Probability that a random positive scores above a random negative (ties half).

    ``weights`` counts the customers behind each row, as for :func:`pearson`.

    Examples
    --------
    >>> auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]))
    0.75
    >>> round(auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]),
    ...           np.array([1.0, 1, 2, 1])), 6)
    0.666667
    """
    from scipy.stats import rankdata

    if weights is not None:
        return _weighted_auc(np.asarray(score, float), np.asarray(label, bool), weights)
    pos = np.asarray(label, dtype=bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _weighted_auc(score: np.ndarray, pos: np.ndarray, w: np.ndarray) -> float | None:
    """:func:`auc` over rows standing for ``w`` customers each: each distinct score's
    customers share the mean of the ranks they would take (scipy's ``rankdata``)."""
    n_pos, n_neg = float(w[pos].sum()), float(w[~pos].sum())
    if n_pos == 0 or n_neg == 0:
        return None
    values, group = np.unique(score, return_inverse=True)
    total = np.bincount(group, weights=w, minlength=len(values))
    positive = np.bincount(group, weights=np.where(pos, w, 0.0), minlength=len(values))
    midrank = np.cumsum(total) - total + (total + 1) / 2
    ranks = float(positive @ midrank)
    return (ranks - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


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
    frequency: np.ndarray,
    predicted: np.ndarray,
    actual: np.ndarray,
    weights: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Mean predicted vs actual holdout purchases by calibration frequency 0..6, 7+.

    ``weights`` counts the customers behind each row, as for :func:`pearson`.
    """
    bins = np.minimum(frequency.astype(np.int64), FREQUENCY_BINS - 1)
    w = np.ones(len(bins)) if weights is None else np.asarray(weights, np.float64)
    rows = []
    for b in range(FREQUENCY_BINS):
        mask = bins == b
        if not mask.any():
            continue
        if weights is None:
            customers, pred, act = int(mask.sum()), predicted[mask].mean(), actual[mask].mean()
        else:
            n = w[mask].sum()
            customers = round(n)
            pred = (w[mask] @ predicted[mask]) / n
            act = (w[mask] @ actual[mask]) / n
        rows.append(
            {
                "frequency": f"{b}+" if b == FREQUENCY_BINS - 1 else str(b),
                "customers": customers,
                "predicted": float(pred),
                "actual": float(act),
            }
        )
    return rows


def score_holdout(predicted: np.ndarray, cal: pd.DataFrame) -> dict[str, Any]:
    """Per-customer and aggregate errors of predicted holdout purchases.

    ``cal`` may hold a ``weights`` column: each row then stands for that many customers
    with the same calibration summary and holdout count (the numbers equal those over
    the rows repeated, up to rounding).
    """
    actual = cal["frequency_holdout"].to_numpy(np.float64)
    err = predicted - actual
    if "weights" in cal.columns:
        return _weighted_scores(predicted, actual, cal)
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


def _weighted_scores(
    predicted: np.ndarray, actual: np.ndarray, cal: pd.DataFrame
) -> dict[str, Any]:
    w = cal["weights"].to_numpy(np.float64)
    err = predicted - actual
    n, total, pred_total = w.sum(), float(w @ actual), float(w @ predicted)
    return {
        "customers": round(n),
        "mae": float(w @ np.abs(err) / n),
        "rmse": float(np.sqrt(w @ err**2 / n)),
        "correlation": pearson(predicted, actual, w),
        "predicted_total": pred_total,
        "actual_total": total,
        "aggregate_error_pct": float(100 * (pred_total - total) / total) if total else None,
        "by_frequency": by_frequency(cal["frequency_cal"].to_numpy(), predicted, actual, w),
    }
