"""``Recommender``: fit on a shop's transactions, recommend products, find similar ones.

What a fit does (docs/recommend.md):

1. codes the interactions up to ``as_of`` once (:func:`build_interactions`);
2. tunes each model's hyperparameters on a validation split inside the training period:
   train before ``as_of - 2h``, validate on ``[as_of - 2h, as_of - h)``;
3. evaluates every model on the temporal split (train before ``as_of - h``, test on the
   purchases of the last ``h`` days) and, with ``model="auto"``, chooses the best by
   NDCG@k over the customers it will serve;
4. refits the chosen model, the popularity fallbacks and the item-item neighbours on
   everything up to ``as_of``.

Serving rules: a customer with fewer than ``min_orders`` orders, and a customer the fit
never saw, gets the products most bought in their segment (the shop's most bought when the
segment is unknown too); a list the chosen model cannot fill is completed the same way.
Products the customer already bought are left out, except in categories whose repeat rate
(share of customer-product pairs bought in two or more orders) reaches ``repeat_threshold``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from valueseg.errors import InputError
from valueseg.recommend._serve import fallback_lists, merge_lists
from valueseg.recommend.evaluate import EVALUATION_COLUMNS, evaluate, exclusions, make_split
from valueseg.recommend.interactions import Interactions, build_interactions
from valueseg.recommend.models import (
    MODELS,
    REASONS,
    ItemItem,
    NotFittedError,
    Popularity,
    RecommenderModel,
    SegmentPopularity,
    TrainData,
    make_model,
)
from valueseg.recommend.tuning import tune

__all__ = ["MIN_EVAL_CUSTOMERS", "RECOMMENDATION_COLUMNS", "SIMILAR_COLUMNS", "Recommender"]

#: A split with fewer evaluated customers than this is not used to tune or choose.
MIN_EVAL_CUSTOMERS = 20
RECOMMENDATION_COLUMNS = ("customer_id", "rank", "product_id", "score", "reason", "model")
SIMILAR_COLUMNS = ("product_id", "rank", "similar_product_id", "score")
_CHOICES = ("auto", *MODELS)


def _check_int(value: object, name: str, low: int) -> None:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
        raise InputError(
            f"The {name!r} parameter of Recommender must be an int >= {low}. Got {value!r}."
        )


def _segment_codes(
    customers: pd.Index, segments: pd.Series | None
) -> tuple[np.ndarray | None, np.ndarray | None, dict[str, int]]:
    """Segment code per customer row (-1: none), the names, and id -> code for everyone."""
    if segments is None:
        return None, None, {}
    if not isinstance(segments, pd.Series):
        raise InputError(
            "The 'segments' argument of Recommender.fit must be a pandas Series of segment "
            f"names indexed by customer_id. Got {type(segments).__name__}. "
            "Pass frame.set_index('customer_id')['segment']."
        )
    known = segments.dropna()
    codes, names = pd.factorize(known.astype(str), sort=True)
    by_id = dict(zip(known.index.astype(str), codes.tolist(), strict=True))
    row_codes = pd.Series(by_id, dtype="int64").reindex(customers).fillna(-1).to_numpy(np.int64)
    return row_codes, np.asarray(names, dtype=object), by_id


class Recommender(BaseEstimator):
    """Product recommendations from implicit feedback, chosen by an offline evaluation.

    Parameters
    ----------
    model : {"auto", "als", "bpr", "item_item", "segment_popularity", "popularity"}
        ``"auto"`` evaluates every model and keeps the best by NDCG@k.
    horizon_days : int, default 90
        Length ``h`` of the test window (and of the validation window before it).
    k : int, default 10
        Cut-off of the evaluation's metrics.
    event_weights : mapping of str to float, optional
        Weight of one event per event type (default: view 0.1, cart 0.3).
    min_orders : int, default 2
        Customers with fewer orders get the segment popularity fallback.
    repeat_threshold : float in [0, 1], default 0.3
        Categories re-bought at least this often keep already-bought products in the lists.
    grids : mapping, optional
        Hyperparameter grids per model (default ``tuning.DEFAULT_GRIDS``).
    max_candidates : int, default 12
        Settings tried per model on the validation split.
    params : mapping of str to dict, optional
        Fixed hyperparameters per model; a model given here is not tuned.
    random_state : int, numpy Generator or None
        Seed of the factorisations and of the grid sampling.

    Attributes
    ----------
    chosen_ : str
        The model that serves customers with ``min_orders`` or more orders.
    evaluation_ : DataFrame
        ``model, cohort, segment, metric, k, value, customers`` on the temporal split.
    tuning_ : DataFrame
        Validation NDCG of every setting tried.
    params_ : dict
        Hyperparameters used per model.
    interactions_ : Interactions
        The coded log; its ``customers`` and ``products`` map ids to codes.
    notes_ : list of str
        One line for each thing the fit could not do as asked (a window too short …).

    Examples
    --------
    >>> import valueseg as vs
    >>> shop = vs.make_shop(600, random_state=0)
    >>> segments = shop.truth.set_index("customer_id")["segment"]
    >>> rec = Recommender(model="item_item", random_state=0).fit(
    ...     shop.transactions, shop.events, segments=segments)
    >>> out = rec.recommend(["C0000001", "nobody"], n=3)
    >>> out.columns.tolist()
    ['customer_id', 'rank', 'product_id', 'score', 'reason', 'model']
    >>> out[out["customer_id"] == "nobody"]["model"].unique().tolist()  # never seen
    ['popularity']
    >>> rec.similar_items(["P00001"], n=2)["rank"].tolist()
    [1, 2]
    """

    def __init__(
        self,
        *,
        model: str = "auto",
        horizon_days: int = 90,
        k: int = 10,
        event_weights: Mapping[str, float] | None = None,
        min_orders: int = 2,
        repeat_threshold: float = 0.3,
        grids: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
        max_candidates: int = 12,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.model = model
        self.horizon_days = horizon_days
        self.k = k
        self.event_weights = event_weights
        self.min_orders = min_orders
        self.repeat_threshold = repeat_threshold
        self.grids = grids
        self.max_candidates = max_candidates
        self.params = params
        self.random_state = random_state

    def _check_params(self) -> None:
        if self.model not in _CHOICES:
            raise InputError(
                f"The 'model' parameter of Recommender must be one of {', '.join(_CHOICES)}. "
                f"Got {self.model!r}."
            )
        _check_int(self.horizon_days, "horizon_days", 1)
        _check_int(self.k, "k", 1)
        _check_int(self.min_orders, "min_orders", 1)
        _check_int(self.max_candidates, "max_candidates", 1)
        threshold = self.repeat_threshold
        if not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
            raise InputError(
                "The 'repeat_threshold' parameter of Recommender must be a number in [0, 1]. "
                f"Got {threshold!r}."
            )
        unknown = sorted(set(self.params or {}) - set(MODELS))
        if unknown:
            raise InputError(
                f"The 'params' parameter of Recommender names unknown models: "
                f"{', '.join(unknown)}. Expected some of: {', '.join(MODELS)}."
            )

    def fit(
        self,
        transactions: pd.DataFrame,
        events: pd.DataFrame | None = None,
        *,
        segments: pd.Series | None = None,
        as_of: Any = None,
    ) -> Self:
        """Tune, evaluate and fit on the shop's history up to ``as_of``.

        Parameters
        ----------
        transactions : DataFrame
            ``customer_id, timestamp, product_id`` and optional ``order_id, is_return,
            category, amount, quantity`` (the store's ``transactions`` table).
        events : DataFrame, optional
            ``customer_id, timestamp, event_type, product_id``.
        segments : Series, optional
            Segment name per customer id (the run's segments).
        as_of : date-time, optional
            End of the history used (inclusive). Default: the last transaction.

        Returns
        -------
        Recommender
            The fitted recommender.
        """
        self._check_params()
        log = build_interactions(
            transactions, events, as_of=as_of, event_weights=self.event_weights
        )
        seg, names, by_id = _segment_codes(log.customers, segments)
        notes: list[str] = []
        names_fit = list(MODELS) if self.model == "auto" else [self.model]
        names_fit += [n for n in ("segment_popularity", "popularity") if n not in names_fit]
        params = self._tuned(log, seg, names_fit, notes)
        chosen = self._evaluated(log, seg, names, names_fit, params, notes)
        self._final(log, seg, chosen, params)
        self.segment_names_, self.segment_by_id_ = names, by_id
        self.notes_ = notes
        return self

    def _window(self, log: Interactions, horizons: int) -> pd.Timestamp:
        return log.as_of - pd.Timedelta(days=horizons * self.horizon_days)

    def _tuned(
        self, log: Interactions, seg: np.ndarray | None, names: list[str], notes: list[str]
    ) -> dict[str, dict[str, Any]]:
        fixed = {name: dict(values) for name, values in (self.params or {}).items()}
        params: dict[str, dict[str, Any]] = {name: {} for name in MODELS} | fixed
        to_tune = [name for name in names if name not in fixed]
        self.tuning_ = pd.DataFrame(columns=["model", "params", "ndcg", "k", "customers"])
        if not to_tune:
            return params
        split = make_split(
            log,
            seg,
            self._window(log, 2),
            self._window(log, 1),
            repeat_threshold=self.repeat_threshold,
        )
        if split.users.size < MIN_EVAL_CUSTOMERS:
            notes.append(
                f"Hyperparameters not tuned: {split.users.size} customers bought in the "
                f"validation window {self._window(log, 2):%Y-%m-%d} to "
                f"{self._window(log, 1):%Y-%m-%d} after buying before it (fewer than "
                f"{MIN_EVAL_CUSTOMERS}); the models' defaults are used."
            )
            return params
        tuning = tune(
            to_tune,
            split,
            grids=self.grids,
            max_candidates=self.max_candidates,
            k=self.k,
            min_orders=self.min_orders,
            random_state=self.random_state,
        )
        self.tuning_ = tuning.scores
        return params | tuning.params

    def _evaluated(
        self,
        log: Interactions,
        seg: np.ndarray | None,
        seg_names: np.ndarray | None,
        names: list[str],
        params: dict[str, dict[str, Any]],
        notes: list[str],
    ) -> str:
        split = make_split(log, seg, self._window(log, 1), repeat_threshold=self.repeat_threshold)
        self.evaluation_ = pd.DataFrame(columns=list(EVALUATION_COLUMNS))
        fixed = None if self.model == "auto" else self.model
        if split.users.size < MIN_EVAL_CUSTOMERS:
            chosen = fixed or "segment_popularity"
            notes.append(
                f"No evaluation: {split.users.size} customers bought in the last "
                f"{self.horizon_days} days ({self._window(log, 1):%Y-%m-%d} to "
                f"{log.as_of:%Y-%m-%d}) after buying before them (fewer than "
                f"{MIN_EVAL_CUSTOMERS}); recommending with {chosen}."
            )
            return chosen
        fitted = {
            name: make_model(name, params[name], self.random_state).fit(split.train)
            for name in names
        }
        result = evaluate(
            fitted,
            split,
            k=self.k,
            min_orders=self.min_orders,
            segment_names=seg_names,
            chosen=fixed,
        )
        self.evaluation_ = result.frame
        return result.chosen

    def _final(
        self, log: Interactions, seg: np.ndarray | None, chosen: str, params: dict[str, Any]
    ) -> None:
        data = TrainData.of(log.matrix(), log.bought(), seg)
        exclude, rates = exclusions(log, None, self.repeat_threshold)
        models: dict[str, RecommenderModel] = {
            name: make_model(name, params[name], self.random_state).fit(data)
            for name in dict.fromkeys([chosen, "segment_popularity", "popularity"])
        }
        similar = models.get("item_item") or ItemItem(**params["item_item"]).fit(data)
        assert isinstance(similar, ItemItem)
        self.interactions_, self.chosen_, self.params_ = log, chosen, params
        self.models_, self.similar_model_ = models, similar
        self.exclude_, self.repeat_rates_ = exclude, rates
        self.orders_ = log.orders()

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise NotFittedError(
                "This Recommender is not fitted yet. Call fit(transactions) first."
            )

    def recommend(self, customer_ids: Sequence[Any] | None = None, n: int = 10) -> pd.DataFrame:
        """Top ``n`` products per customer, with the reason and the model of every row.

        Parameters
        ----------
        customer_ids : sequence, optional
            Default: every customer who bought up to ``as_of``. Unknown ids get the
            fallback (segment popularity if their segment was given, else popularity).
        n : int, default 10

        Returns
        -------
        DataFrame
            ``customer_id, rank, product_id, score, reason, model``; rank starts at 1.
        """
        self._check_fitted()
        _check_int(n, "n", 1)
        log = self.interactions_
        if customer_ids is None:
            ids = np.asarray(log.customers[self.orders_ > 0], dtype=object)
        else:
            ids = np.asarray([str(c) for c in customer_ids], dtype=object)
        codes = log.customers.get_indexer(pd.Index(ids))
        few = (codes < 0) | (self.orders_[np.maximum(codes, 0)] < self.min_orders)
        seg_pop = self.models_["segment_popularity"]
        assert isinstance(seg_pop, SegmentPopularity)
        unseen_seg = np.array([self.segment_by_id_.get(c, -1) for c in ids], dtype=np.int64)
        fb_ids, fb_scores, fb_model = fallback_lists(seg_pop, codes, unseen_seg, n, self.exclude_)
        chosen = self.models_[self.chosen_]
        main = np.flatnonzero(~few)
        out_ids, out_scores = np.full((ids.size, n), -1), np.full((ids.size, n), np.nan)
        source = np.full((ids.size, n), "", dtype=object)
        reason = np.full((ids.size, n), None, dtype=object)
        if main.size:
            m_ids, m_scores = chosen.recommend(codes[main], n, self.exclude_)
            m_reason = chosen.reasons(codes[main], m_ids, log.products)
            merged = merge_lists(m_ids, m_scores, fb_ids[main], fb_scores[main], n)
            out_ids[main], out_scores[main], from_main, pos = merged
            source[main] = np.where(from_main, self.chosen_, fb_model[main][:, None])
            taken = np.take_along_axis(m_reason, np.where(from_main, pos, 0), axis=1)
            taken[~from_main] = None
            reason[main] = taken
        rest = np.flatnonzero(few)
        out_ids[rest], out_scores[rest] = fb_ids[rest, :n], fb_scores[rest, :n]
        source[rest] = fb_model[rest][:, None]
        return _frame(ids, out_ids, out_scores, source, reason, log.products)

    def similar_items(self, product_ids: Sequence[Any] | None = None, n: int = 10) -> pd.DataFrame:
        """The ``n`` products most often bought with each product (item-item neighbours).

        Unknown products get the shop's most bought products, with a NaN score.

        Returns
        -------
        DataFrame
            ``product_id, rank, similar_product_id, score``; rank starts at 1.
        """
        self._check_fitted()
        _check_int(n, "n", 1)
        products = self.interactions_.products
        ids = (
            np.asarray(products, dtype=object)
            if product_ids is None
            else np.asarray([str(p) for p in product_ids], dtype=object)
        )
        codes = products.get_indexer(pd.Index(ids))
        known = codes >= 0
        out_ids = np.full((ids.size, n), -1, dtype=np.int64)
        out_scores = np.full((ids.size, n), np.nan)
        if known.any():
            out_ids[known], out_scores[known] = self.similar_model_.similar(codes[known], n)
        popular = self.models_["popularity"]
        assert isinstance(popular, Popularity)
        top = popular.order_[:n]
        out_ids[~known, : top.size] = top
        rows, ranks = np.nonzero(out_ids >= 0)
        return pd.DataFrame(
            {
                "product_id": ids[rows],
                "rank": ranks + 1,
                "similar_product_id": np.asarray(products, dtype=object)[out_ids[rows, ranks]],
                "score": out_scores[rows, ranks],
            },
            columns=list(SIMILAR_COLUMNS),
        )


def _frame(
    ids: np.ndarray,
    out_ids: np.ndarray,
    scores: np.ndarray,
    source: np.ndarray,
    reason: np.ndarray,
    products: pd.Index,
) -> pd.DataFrame:
    rows, ranks = np.nonzero(out_ids >= 0)
    model = source[rows, ranks]
    text = reason[rows, ranks]
    default = np.array([REASONS[m] for m in model], dtype=object)
    text = np.where(pd.isna(text), default, text)
    return pd.DataFrame(
        {
            "customer_id": ids[rows],
            "rank": (ranks + 1).astype(np.int64),
            "product_id": np.asarray(products, dtype=object)[out_ids[rows, ranks]],
            "score": scores[rows, ranks],
            "reason": text,
            "model": model,
        },
        columns=list(RECOMMENDATION_COLUMNS),
    )
