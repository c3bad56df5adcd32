"""Value tiers: the top 1 %, 5 %, 20 % of customers by value, and the rest (docs/design.md §6).

The value is predicted CLV (``predicted_clv_365d``) when the value models ran and gave at
least one customer a number, else historical spend (``spend_total``).

**Ties and missing values.** A customer is in the top ``p`` when fewer than ``p · n``
customers have a strictly higher value. Equal values therefore always share a tier (a
tier can hold a few more than ``p · n`` customers). A customer without a value ranks below
every customer with one.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from valueseg.errors import InputError

__all__ = ["DEFAULT_CUTS", "tier_labels", "value_column", "value_tiers"]

#: Default cut points: shares of customers from the top.
DEFAULT_CUTS = (0.01, 0.05, 0.20)
_PREFERRED = ("predicted_clv_365d", "spend_total")


def tier_labels(cuts: Sequence[float]) -> list[str]:
    """``Top 1%``, ``Top 5%``, … for the cut points, then ``Rest``.

    Examples
    --------
    >>> tier_labels([0.01, 0.05, 0.2])
    ['Top 1%', 'Top 5%', 'Top 20%', 'Rest']
    >>> tier_labels([0.025])
    ['Top 2.5%', 'Rest']
    """
    return [f"Top {c * 100:.4g}%" for c in cuts] + ["Rest"]


def value_column(frame: pd.DataFrame) -> str:
    """``predicted_clv_365d`` when it holds a number, else ``spend_total``.

    Examples
    --------
    >>> value_column(pd.DataFrame({"spend_total": [1.0], "predicted_clv_365d": [None]}))
    'spend_total'
    """
    for name in _PREFERRED:
        if name in frame.columns and pd.to_numeric(frame[name], errors="coerce").notna().any():
            return name
    raise InputError(
        "No value column to rank customers by: expected predicted_clv_365d (from the value "
        "models) or spend_total (from the feature table). Pass column=NAME."
    )


def _check_cuts(cuts: Sequence[float]) -> list[float]:
    values = list(cuts)
    ok = (
        len(values) > 0
        and all(isinstance(c, int | float) and not isinstance(c, bool) for c in values)
        and all(0 < c < 1 for c in values)
        and all(a < b for a, b in itertools.pairwise(values))
    )
    if not ok:
        raise InputError(
            "The 'cuts' parameter of value_tiers must be increasing shares between 0 and 1, "
            f"such as (0.01, 0.05, 0.2). Got {cuts!r}."
        )
    return [float(c) for c in values]


def value_tiers(
    frame: pd.DataFrame,
    *,
    column: str | None = None,
    cuts: Sequence[float] = DEFAULT_CUTS,
    labels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The value tier of every customer.

    Parameters
    ----------
    frame : DataFrame
        One row per customer with ``customer_id`` and the value column.
    column : str, optional
        The value to rank by; default :func:`value_column`.
    cuts : sequence of float, default (0.01, 0.05, 0.2)
        Increasing shares of customers from the top.
    labels : sequence of str, optional
        One more label than cuts; default :func:`tier_labels`.

    Returns
    -------
    DataFrame
        ``customer_id, value, value_tier`` in the order of ``frame``; ``value_tier`` is an
        ordered categorical, best tier first.

    Examples
    --------
    >>> frame = pd.DataFrame({"customer_id": list("abcdefghij"),
    ...                       "spend_total": [900, 50, 50, 40, 30, 20, 10, 10, 5, 1]})
    >>> value_tiers(frame, cuts=[0.1, 0.3])["value_tier"].tolist()
    ['Top 10%', 'Top 30%', 'Top 30%', 'Rest', 'Rest', 'Rest', 'Rest', 'Rest', 'Rest', 'Rest']
    """
    cut_list = _check_cuts(cuts)
    names = list(labels) if labels is not None else tier_labels(cut_list)
    if len(names) != len(cut_list) + 1 or len(set(names)) != len(names):
        raise InputError(
            f"The 'labels' parameter of value_tiers needs {len(cut_list) + 1} distinct labels "
            f"(one per cut and one for the rest). Got {list(names)!r}."
        )
    column = column or value_column(frame)
    if column not in frame.columns:
        raise InputError(
            f"Column {column!r} not found in the frame. Available: "
            f"{', '.join(map(str, frame.columns))}."
        )
    value = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    known = np.where(np.isnan(value), -np.inf, value)
    ordered = np.sort(known)
    above = known.size - np.searchsorted(ordered, known, side="right")
    # tier i when above < cut_i * n, first such cut; "Rest" when none
    limits = np.array(cut_list) * known.size
    tier = np.searchsorted(limits, above, side="right")
    labels_cat = pd.CategoricalDtype(names, ordered=True)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "value": value,
            "value_tier": pd.Categorical.from_codes(tier, dtype=labels_cat),
        }
    )
