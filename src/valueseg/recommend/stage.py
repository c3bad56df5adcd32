"""The recommend stage of a run, and the frames ``valueseg recommend`` prints.

:func:`recommend_stage` takes what the run knows (its transactions, events, segments and
``as_of``) and returns a :class:`RecommendResult`: the top-n list of every customer who
bought, the evaluation of every model on the temporal split, each product's nearest
neighbours, the chosen model and one-line notes. A shop whose order lines carry no product
is skipped with a note: the rest of the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from valueseg.errors import InputError
from valueseg.recommend.evaluate import EVALUATION_COLUMNS, METRICS, SERVED
from valueseg.recommend.recommender import (
    RECOMMENDATION_COLUMNS,
    SIMILAR_COLUMNS,
    Recommender,
)

__all__ = ["RecommendResult", "customer_recommendations", "evaluation_table", "recommend_stage"]

#: Neighbours kept per product in ``RecommendResult.similar``.
SIMILAR_N = 10
_EVENT_COLUMNS = ("customer_id", "timestamp", "event_type", "product_id")


@dataclass
class RecommendResult:
    """What the recommend stage gives the run.

    Attributes
    ----------
    recommendations : DataFrame
        ``customer_id, rank, product_id, score, reason, model`` (table ``recommendations``).
    evaluation : DataFrame
        ``model, chosen, cohort, segment, metric, k, value, customers``, long form.
    similar : DataFrame
        ``product_id, rank, similar_product_id, score``.
    chosen : str or None
        The model that serves customers with two or more orders (None when skipped).
    notes : list of str
        One line each: why the stage was skipped, what it left out.
    recommender : Recommender or None
        The fitted estimator, to persist with the run.
    """

    recommendations: pd.DataFrame
    evaluation: pd.DataFrame
    similar: pd.DataFrame
    chosen: str | None
    notes: list[str] = field(default_factory=list)
    recommender: Recommender | None = None

    @property
    def skipped(self) -> bool:
        """True when the stage produced nothing (the notes say why)."""
        return self.recommender is None


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


def _skipped(note: str) -> RecommendResult:
    return RecommendResult(
        _empty(RECOMMENDATION_COLUMNS),
        _empty(EVALUATION_COLUMNS),
        _empty(SIMILAR_COLUMNS),
        None,
        [note],
    )


def _why_skip(transactions: pd.DataFrame, as_of: datetime) -> str | None:
    if "product_id" not in transactions.columns:
        return (
            "Recommendations skipped: the transactions have no product_id column (the product "
            "of each order line is needed). Load order lines with --map product_id=COLUMN."
        )
    stamps = pd.to_datetime(transactions["timestamp"], format="mixed")
    usable = transactions["product_id"].notna() & (stamps <= pd.Timestamp(as_of))
    if not usable.any():
        return (
            f"Recommendations skipped: none of the {len(transactions):,} order lines up to "
            f"{pd.Timestamp(as_of):%Y-%m-%d} has a product_id."
        )
    return None


def _usable_events(events: pd.DataFrame | None, notes: list[str]) -> pd.DataFrame | None:
    if events is None or events.empty:
        return None
    missing = [c for c in _EVENT_COLUMNS if c not in events.columns]
    if missing:
        notes.append(
            f"Events left out of the recommendations: no column {', '.join(missing)} "
            f"(needed: {', '.join(_EVENT_COLUMNS)})."
        )
        return None
    return events


def recommend_stage(
    transactions: pd.DataFrame,
    events: pd.DataFrame | None,
    segments: pd.Series | None,
    as_of: datetime,
    *,
    horizon_days: int = 90,
    n: int = 10,
    random_state: int = 0,
    model: str = "auto",
) -> RecommendResult:
    """Recommendations for every customer who bought, with their evaluation.

    Parameters
    ----------
    transactions : DataFrame
        The store's ``transactions``: ``customer_id, order_id, timestamp, amount,
        product_id, category, quantity, is_return``.
    events : DataFrame or None
        The store's ``events`` (views and cart adds strengthen the interactions).
    segments : Series or None
        Segment name per customer id (the run's segment; it drives the fallback).
    as_of : datetime
        The run's observation end; nothing after it is read.
    horizon_days : int, default 90
        Test window of the evaluation (and validation window before it).
    n : int, default 10
        Products per customer.
    random_state : int, default 0
    model : str, default "auto" (``--recommender``)
        ``"auto"`` tunes every model and keeps the best by NDCG; a model's name fixes it
        (a large shop's choice: see docs/recommend.md, Cost).

    Returns
    -------
    RecommendResult

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a"], "timestamp": [pd.Timestamp("2024-01-01")],
    ...     "amount": [9.0]})
    >>> recommend_stage(tx, None, None, datetime(2024, 2, 1)).notes  # doctest: +ELLIPSIS
    ['Recommendations skipped: the transactions have no product_id column ...']
    """
    why = _why_skip(transactions, as_of)
    if why is not None:
        return _skipped(why)
    notes: list[str] = []
    rec = Recommender(model=model, horizon_days=horizon_days, random_state=random_state).fit(
        transactions, _usable_events(events, notes), segments=segments, as_of=as_of
    )
    left_out = rec.interactions_.lines_without_product
    if left_out:
        notes.append(f"{left_out:,} order lines without product_id were left out.")
    similar = rec.similar_items(None, SIMILAR_N)
    return RecommendResult(
        recommendations=rec.recommend(None, n),
        evaluation=rec.evaluation_,
        similar=similar[similar["score"].notna()].reset_index(drop=True),
        chosen=rec.chosen_,
        notes=[*notes, *rec.notes_],
        recommender=rec,
    )


def evaluation_table(
    evaluation: pd.DataFrame, *, cohort: str = "all", segment: str = "all"
) -> pd.DataFrame:
    """One row per model, one column per metric: the table ``valueseg recommend`` prints.

    Rows: the served policy first, then the models by NDCG, best first; the chosen model's
    ``chosen`` is True.

    Examples
    --------
    >>> ev = pd.DataFrame({"model": ["als", "popularity"], "chosen": [True, False],
    ...     "cohort": "all", "segment": "all", "metric": "ndcg", "k": 10,
    ...     "value": [0.2, 0.1], "customers": 50})
    >>> evaluation_table(ev)[["chosen", "ndcg@10", "customers"]]  # doctest: +NORMALIZE_WHITESPACE
                chosen  ndcg@10  customers
    model
    als           True      0.2         50
    popularity   False      0.1         50
    """
    rows = evaluation[(evaluation["cohort"] == cohort) & (evaluation["segment"] == segment)]
    if rows.empty:
        raise InputError(
            f"The evaluation has no rows for cohort {cohort!r} and segment {segment!r}. "
            f"Cohorts: {', '.join(sorted(evaluation['cohort'].unique()))}; segments: "
            f"{', '.join(sorted(evaluation['segment'].unique()))}."
        )
    k = int(rows["k"].iloc[0])
    wide = rows.pivot_table(index="model", columns="metric", values="value", sort=False)
    wide = wide[[m for m in METRICS if m in wide.columns]]
    wide.columns = [f"{m}@{k}" if m in METRICS[:5] else m for m in wide.columns]
    info = rows.groupby("model", sort=False).agg(
        chosen=("chosen", "max"), customers=("customers", "max")
    )
    table = info.join(wide)
    order = table.sort_values(f"ndcg@{k}", ascending=False, kind="stable").index.tolist()
    if SERVED in order:
        order = [SERVED, *[m for m in order if m != SERVED]]
    table = table.loc[order]
    table["chosen"] = table["chosen"].astype(bool)
    table["customers"] = table["customers"].astype(np.int64)
    return table[["chosen", *wide.columns, "customers"]]


def customer_recommendations(recommendations: pd.DataFrame, customer_id: Any) -> pd.DataFrame:
    """One customer's list, by rank: ``rank, product_id, score, reason, model``.

    Examples
    --------
    >>> recs = pd.DataFrame({"customer_id": ["a", "a"], "rank": [2, 1],
    ...     "product_id": ["y", "x"], "score": [0.5, 0.9], "reason": ["r", "r"],
    ...     "model": ["als", "als"]})
    >>> customer_recommendations(recs, "a")["product_id"].tolist()
    ['x', 'y']
    """
    mine = recommendations[recommendations["customer_id"].astype(str) == str(customer_id)]
    if mine.empty:
        n = recommendations["customer_id"].nunique()
        example = f" (for example {recommendations['customer_id'].iloc[0]!r})" if n else ""
        raise InputError(
            f"Customer {str(customer_id)!r} has no recommendations in this run; "
            f"{n:,} customers have{example}. Check the id: recommendations go to customers "
            "who bought before the run's as-of date."
        )
    columns = [c for c in RECOMMENDATION_COLUMNS if c != "customer_id"]
    return mine.sort_values("rank")[columns].reset_index(drop=True)
