"""Recommendations (docs/design.md §2, docs/recommend.md): collaborative filtering with implicit,
popularity fallbacks, and their offline evaluation on a temporal split.

- :func:`build_interactions`: the coded implicit-feedback log of a shop;
- models with one interface: :class:`ALS`, :class:`BPR`, :class:`ItemItem`,
  :class:`SegmentPopularity`, :class:`Popularity`;
- :func:`ranking_metrics`, :func:`catalogue_metrics`, :func:`evaluate`: the evaluation;
- :class:`Recommender`: fit, ``recommend(customer_ids, n)``, ``similar_items(product_ids, n)``;
- :func:`recommend_stage`: what ``valueseg run`` calls; :func:`evaluation_table` and
  :func:`customer_recommendations` give the frames ``valueseg recommend`` prints.

implicit is imported inside the functions that fit, so importing this package is cheap.
"""

from __future__ import annotations

from valueseg.recommend.evaluate import (
    CATALOGUE_METRICS,
    METRICS,
    RANKING_METRICS,
    catalogue_metrics,
    evaluate,
    make_split,
    ranking_metrics,
)
from valueseg.recommend.interactions import (
    DEFAULT_EVENT_WEIGHTS,
    Interactions,
    build_interactions,
)
from valueseg.recommend.models import (
    ALS,
    BPR,
    MODELS,
    ItemItem,
    NotFittedError,
    Popularity,
    RecommenderModel,
    SegmentPopularity,
    TrainData,
)
from valueseg.recommend.recommender import Recommender
from valueseg.recommend.stage import (
    RecommendResult,
    customer_recommendations,
    evaluation_table,
    recommend_stage,
)
from valueseg.recommend.tuning import DEFAULT_GRIDS, tune

__all__ = [
    "ALS",
    "BPR",
    "CATALOGUE_METRICS",
    "DEFAULT_EVENT_WEIGHTS",
    "DEFAULT_GRIDS",
    "METRICS",
    "MODELS",
    "RANKING_METRICS",
    "Interactions",
    "ItemItem",
    "NotFittedError",
    "Popularity",
    "RecommendResult",
    "Recommender",
    "RecommenderModel",
    "SegmentPopularity",
    "TrainData",
    "build_interactions",
    "catalogue_metrics",
    "customer_recommendations",
    "evaluate",
    "evaluation_table",
    "make_split",
    "ranking_metrics",
    "recommend_stage",
    "tune",
]
