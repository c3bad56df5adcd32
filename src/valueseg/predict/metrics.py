"""How well churn probabilities and spend predictions did on the validation fold.

Churn (positive class: no purchase in the horizon): ROC-AUC, PR-AUC (average precision),
Brier score, log loss, and accuracy, precision, recall and F1 at the threshold that
maximises F1 on the fold itself (an optimistic threshold, the same for every learner), and
a calibration table by deciles of the predicted probability.

Spend: MAE, RMSE, Spearman's rank correlation, top-decile capture, and the two measures of
Wang, Liu & Miao (2019), as their code computes them:

- **normalized Gini**: sort customers by prediction, highest first; the gain curve is the
  cumulative share of the actual total held by the first ``i`` customers; the raw Gini is
  ``2 * mean(gain) - 1``, and the normalized Gini divides it by the raw Gini of the perfect
  ranking (customers sorted by the actual value). 1 is the perfect ranking, 0 a random one.
- **decile MAPE**: customers in ten equal groups by prediction; the mean over the groups of
  ``|mean predicted - mean actual| / mean actual`` (groups whose actual mean is 0 left out).

References
----------
Wang, X., Liu, T. & Miao, J. (2019). A Deep Probabilistic Model for Customer Lifetime Value
Prediction. arXiv:1912.07753.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from valueseg.models.metrics import rank_corr, top_decile_capture

__all__ = [
    "best_f1_threshold",
    "calibration_table",
    "churn_metrics",
    "decile_mape",
    "decile_table",
    "gain_curve",
    "normalized_gini",
    "spend_metrics",
]

#: Churn metrics where higher is better (the others: lower is better).
HIGHER_IS_BETTER = {
    "roc_auc",
    "pr_auc",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "spearman",
    "gini",
    "top_decile_capture",
}


def _order(predicted: np.ndarray) -> np.ndarray:
    """Indices by prediction, highest first; ties keep their order (a stable sort)."""
    return np.argsort(-np.asarray(predicted, np.float64), kind="stable")


def gain_curve(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Cumulative share of the actual total held by the top 1, 2, ... customers by prediction.

    Examples
    --------
    >>> gain_curve(np.array([0.0, 5.0, 15.0]), np.array([1.0, 3.0, 2.0])).tolist()
    [0.25, 1.0, 1.0]
    """
    actual = np.asarray(actual, np.float64)
    total = actual.sum()
    return np.cumsum(actual[_order(predicted)]) / total


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float | None:
    """Gini of the gain curve over the Gini of the perfect ranking (Wang, Liu & Miao 2019).

    None when the actual total is not positive or the perfect ranking has no Gini (all
    actual values equal).

    Examples
    --------
    >>> actual = np.array([0.0, 5.0, 15.0])
    >>> round(normalized_gini(actual, np.array([1.0, 3.0, 2.0])), 6)  # 0.5 / (5 / 6)
    0.6
    >>> normalized_gini(actual, actual)
    1.0
    """
    actual = np.asarray(actual, np.float64)
    if len(actual) == 0 or actual.sum() <= 0:
        return None
    perfect = 2 * gain_curve(actual, actual).mean() - 1
    if perfect <= 0:
        return None
    raw = 2 * gain_curve(actual, predicted).mean() - 1
    return float(raw / perfect)


def decile_table(actual: np.ndarray, predicted: np.ndarray, groups: int = 10) -> pd.DataFrame:
    """``decile, customers, predicted, actual``: means per equal group by prediction.

    Decile 1 holds the customers predicted highest. Groups differ in size by at most one
    customer (ties in the prediction are split by their order).
    """
    order = _order(predicted)
    actual = np.asarray(actual, np.float64)[order]
    predicted = np.asarray(predicted, np.float64)[order]
    rows = [
        {
            "decile": i + 1,
            "customers": len(part),
            "predicted": float(predicted[part].mean()),
            "actual": float(actual[part].mean()),
        }
        for i, part in enumerate(np.array_split(np.arange(len(order)), groups))
        if len(part)
    ]
    return pd.DataFrame(rows, columns=["decile", "customers", "predicted", "actual"])


def decile_mape(actual: np.ndarray, predicted: np.ndarray) -> float | None:
    """Mean over prediction deciles of ``|mean predicted - mean actual| / mean actual``.

    Examples
    --------
    >>> actual = np.arange(1.0, 11.0)
    >>> decile_mape(actual, actual)
    0.0
    >>> round(decile_mape(actual, 2 * actual), 6)
    1.0
    """
    table = decile_table(actual, predicted)
    table = table[table["actual"] != 0]
    if table.empty:
        return None
    return float((np.abs(table["predicted"] - table["actual"]) / table["actual"]).mean())


def spend_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """MAE, RMSE, Spearman, normalized Gini, decile MAPE and top-decile capture."""
    actual = np.asarray(actual, np.float64)
    predicted = np.asarray(predicted, np.float64)
    err = predicted - actual
    return {
        "customers": len(actual),
        "actual_mean": float(actual.mean()),
        "predicted_mean": float(predicted.mean()),
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "spearman": rank_corr(predicted, actual),
        "gini": normalized_gini(actual, predicted),
        "decile_mape": decile_mape(actual, predicted),
        "top_decile_capture": top_decile_capture(predicted, actual),
    }


def best_f1_threshold(y: np.ndarray, score: np.ndarray) -> float:
    """The score threshold (predict positive at or above it) with the highest F1.

    Examples
    --------
    >>> best_f1_threshold(np.array([0, 0, 1, 1, 0]), np.array([0.1, 0.2, 0.7, 0.8, 0.75]))
    0.7
    """
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, score)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def calibration_table(y: np.ndarray, proba: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """``bin, customers, predicted, actual`` by quantile bins of the probability.

    The bins of scikit-learn's ``calibration_curve(strategy="quantile")``: the same
    ``predicted`` and ``actual`` means, plus the number of customers in each bin.
    """
    proba = np.asarray(proba, np.float64)
    edges = np.percentile(proba, np.linspace(0, 100, n_bins + 1))
    which = np.searchsorted(edges[1:-1], proba, side="right")
    frame = pd.DataFrame({"bin": which + 1, "p": proba, "y": np.asarray(y, np.float64)})
    table = frame.groupby("bin").agg(
        customers=("p", "size"), predicted=("p", "mean"), actual=("y", "mean")
    )
    return table.reset_index()


def churn_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """Ranking, probability and threshold metrics of churn probabilities (see the module)."""
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        log_loss,
        roc_auc_score,
    )

    y = np.asarray(y).astype(np.int64)
    proba = np.clip(np.asarray(proba, np.float64), 0.0, 1.0)
    threshold = best_f1_threshold(y, proba)
    said = proba >= threshold
    tp = int((said & (y == 1)).sum())
    precision = tp / max(int(said.sum()), 1)
    recall = tp / max(int((y == 1).sum()), 1)
    return {
        "customers": len(y),
        "churn_rate": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, proba)),
        "pr_auc": float(average_precision_score(y, proba)),
        "brier": float(brier_score_loss(y, proba)),
        "log_loss": float(log_loss(y, np.clip(proba, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "threshold": threshold,
        "accuracy": float((said == (y == 1)).mean()),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "calibration": calibration_table(y, proba).to_dict("records"),
    }
