"""Column choice and preprocessing for the behavioural clusters (private to Segmenter).

Which columns feed the clustering, by default (:func:`clustering_columns`, by name and type):

- numeric columns of the feature table, except
- ``customer_id`` and ``run_id`` (identifiers),
- ``attr_*`` (customer attributes: who a customer is, not how they buy),
- the BTYD summary ``frequency, recency, T, monetary_value`` (inputs of the value models;
  they restate ``orders_total``, ``tenure_days``, ``days_since_last_order`` and
  ``avg_order_value`` in model units),
- windowed activity, names ending in ``_<days>d`` (``orders_30d`` … ``spend_180d``,
  ``sessions_30d``, ``spend_trend_90d``): together they restate recency × frequency at
  several horizons. No single pair of them passes the correlation rule, yet kept together
  they would weigh recency many times over every buying habit and split each habit group
  into "bought lately" and "not". ``days_since_last_order`` stays as the one recency
  column; the RFM lens scores recency on its own.

Then, from the data (:class:`Preprocessor`), with the reason of each drop kept:

1. columns missing for more than ``max_missing`` (half) of the customers, and constant
   columns, are dropped;
2. near-duplicates (``|Spearman ρ| > 0.95``) are dropped by the rule of
   :mod:`valueseg.segment.correlation`;
3. share columns (names with a ``share`` word: ``cat_share_<category>``,
   ``channel_share_<channel>``, ``top_category_share``, ``discount_order_share``) are
   shrunk towards their population mean by ``SHARE_PRIOR_ORDERS`` (2) pseudo-orders,
   ``(share * orders_total + 2 * mean) / (orders_total + 2)``, when the table has
   ``orders_total`` (additive smoothing, the posterior mean of a share under a prior worth
   two orders at the population mix; a column counts as a share when its values lie in
   [0, 1], give or take ``SHARE_TOLERANCE`` of rounding, and is clipped to [0, 1]);
   ``return_rate`` likewise by two pseudo-lines over
   ``purchase_lines`` (``RATE_DENOMINATORS``). A share measured on one or two orders is weak
   evidence: unshrunk, the shares of one-order customers are one-hot (all their spend in
   one category, all their orders in one channel), so they pile up near a few corners
   of the space and the validity criteria of k selection reward clusters that split those
   piles by the one category bought (on ``make_shop(50_000)``: silhouette and
   Davies–Bouldin chose k = 11–12 unshrunk, 5 shrunk). The same holds for a return rate
   measured on one order of two or three lines (1/3, 1/2, 1): unshrunk, the few such
   customers with one line returned form a cluster of their own (k = 6 on seeds 0 and 4
   of ``make_shop(50_000)``, 5 once shrunk). A customer with no orders gets the mean;
4. missing values are filled with the column median;
5. ``log1p`` is applied to skewed money and count columns: non-negative, reaching above 1
   (shares and rates in [0, 1] are left as they are) and with sample skewness above 1;
6. robust scaling: minus the median, divided by the standard deviation of the values
   winsorised at their 1st and 99th percentiles. (The interquartile range is not used: it
   is zero or tiny for columns that are 0 for most customers, such as category shares,
   and would blow those columns up.) A column whose scale is 0 is dropped;
7. optionally, PCA keeping 95 % of the variance.

Statistics (means, medians, percentiles, skewness, correlations) are estimated on at most
200,000 customers (a seeded sample); the transform then applies to every customer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from valueseg.segment.correlation import CorrelationReport, correlation_report

__all__ = ["Preprocessor", "clustering_columns"]

_IDS = {"customer_id", "run_id"}
_BTYD = {"frequency", "recency", "T", "monetary_value"}
_WINDOW = re.compile(r"_\d+d$")
_SHARE = re.compile(r"(^|_)share(_|$)")
STATS_ROWS = 200_000
#: Weight, in orders, of the population mix that share columns are shrunk towards.
SHARE_PRIOR_ORDERS = 2.0
ORDERS = "orders_total"
#: Rates other than shares of orders, and the count each is measured on (rule 3).
RATE_DENOMINATORS = {"return_rate": "purchase_lines"}
#: How far outside [0, 1] a column may stray by rounding and still count as a share.
SHARE_TOLERANCE = 1e-9


def clustering_columns(frame: pd.DataFrame) -> list[str]:
    """The columns that feed the clustering by default (rule in the module docstring).

    Examples
    --------
    >>> frame = pd.DataFrame(columns=["customer_id", "frequency", "orders_total",
    ...     "orders_30d", "spend_trend_90d", "avg_order_value", "attr_region_north"])
    >>> clustering_columns(frame.astype({c: float for c in frame.columns[1:]}))
    ['orders_total', 'avg_order_value']
    """
    out = []
    for name in frame.columns:
        text = str(name)
        if text in _IDS or text in _BTYD or text.startswith("attr_") or _WINDOW.search(text):
            continue
        dtype = frame[name].dtype
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            out.append(text)
    return out


def _skew(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(axis=0)
    m2 = (centred**2).mean(axis=0)
    m3 = (centred**3).mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(m2 > 0, m3 / m2**1.5, 0.0)


@dataclass
class Preprocessor:
    """Learned column drops, imputation, log and scaling; ``fit`` then ``transform``."""

    names: list[str]
    max_missing: float = 0.5
    threshold: float = 0.95
    pca: float | None = None
    random_state: int | None = 0
    dropped: dict[str, str] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)
    correlation: CorrelationReport | None = None

    def fit(self, x: np.ndarray) -> Preprocessor:
        """Learn everything from ``x`` (rows = customers, columns = ``names``)."""
        rng = np.random.default_rng(self.random_state)
        if len(x) > STATS_ROWS:
            x = x[np.sort(rng.choice(len(x), STATS_ROWS, replace=False))]
        missing = np.isnan(x).mean(axis=0) if len(x) else np.zeros(x.shape[1])
        keep = []
        for i, name in enumerate(self.names):
            column = x[:, i][~np.isnan(x[:, i])]
            if missing[i] > self.max_missing:
                self.dropped[name] = f"missing for {missing[i]:.0%} of customers"
            elif column.size == 0 or np.all(column == column[0]):
                self.dropped[name] = "constant"
            else:
                keep.append(i)
        self._fit_shrink(x, keep)
        raw, x = x, self._shrink(x)
        frame = pd.DataFrame(x[:, keep], columns=[self.names[i] for i in keep])
        self.correlation = correlation_report(frame, threshold=self.threshold, max_rows=None)
        for _, pair in self.correlation.pairs.iterrows():
            if pd.notna(pair["dropped"]):
                self.dropped[pair["dropped"]] = (
                    f"|Spearman ρ| = {abs(pair['spearman']):.3f} with {pair['first']}"
                )
        index = {n: i for i, n in enumerate(self.names)}
        cols = [index[n] for n in self.correlation.kept]
        sub = x[:, cols]
        self.median_ = np.nanmedian(sub, axis=0) if len(sub) else np.zeros(len(cols))
        sub = np.where(np.isnan(sub), self.median_, sub)
        self.log_ = (sub.min(axis=0) >= 0) & (sub.max(axis=0) > 1) & (_skew(sub) > 1)
        sub = np.where(self.log_, np.log1p(np.maximum(sub, 0)), sub)
        self.center_ = np.median(sub, axis=0)
        lo, hi = np.percentile(sub, [1, 99], axis=0)
        scale = np.clip(sub, lo, hi).std(axis=0)
        scale = np.where(scale > 0, scale, sub.std(axis=0))
        for flat in np.flatnonzero(scale <= 0):
            self.dropped[self.correlation.kept[flat]] = "no spread after the log transform"
        usable = scale > 0
        self.columns_ = np.array(cols)[usable]
        self.median_, self.log_ = self.median_[usable], self.log_[usable]
        self.center_, self.scale_ = self.center_[usable], scale[usable]
        self.kept = [self.names[i] for i in self.columns_]
        self.pca_ = None
        if self.pca is not None and len(self.kept) > 1:
            from sklearn.decomposition import PCA

            self.pca_ = PCA(n_components=self.pca, svd_solver="full", random_state=0)
            self.pca_.fit(self._scaled(raw))
        return self

    def _fit_shrink(self, x: np.ndarray, keep: list[int]) -> None:
        """Which columns are shares or rates to shrink (rule 3), their denominators and
        population means."""
        index = {name: i for i, name in enumerate(self.names)}
        self.orders_ = index.get(ORDERS)
        shares, denominators = [], []
        for i in keep:
            name = self.names[i]
            denominator = RATE_DENOMINATORS.get(name)
            if denominator is None and _SHARE.search(name):
                denominator = ORDERS
            if denominator is None or denominator not in index:
                continue
            column = x[:, i][~np.isnan(x[:, i])]
            # in [0, 1] give or take rounding (a share summed in another order than its
            # total can come out as 1.0000000000000002; see _shrink)
            if column.min() >= -SHARE_TOLERANCE and column.max() <= 1 + SHARE_TOLERANCE:
                shares.append(i)
                denominators.append(index[denominator])
        self.shares_ = np.array(shares, dtype=int)
        self.denominators_ = np.array(denominators, dtype=int)
        self.share_mean_ = np.nanmean(x[:, self.shares_], axis=0) if shares else np.array([])

    def _shrink(self, x: np.ndarray) -> np.ndarray:
        """``x`` with the share and rate columns shrunk towards their means (rule 3)."""
        if not len(self.shares_):
            return x
        x = x.astype(float, copy=True)
        n = np.nan_to_num(np.maximum(x[:, self.denominators_], 0))
        share = np.clip(np.nan_to_num(x[:, self.shares_]), 0.0, 1.0)
        prior = SHARE_PRIOR_ORDERS
        x[:, self.shares_] = (share * n + prior * self.share_mean_) / (n + prior)
        return x

    def _scaled(self, x: np.ndarray) -> np.ndarray:
        x = self._shrink(x)
        sub = x[:, self.columns_].astype(float, copy=True)
        sub = np.where(np.isnan(sub), self.median_, sub)
        sub = np.where(self.log_, np.log1p(np.maximum(sub, 0)), sub)
        return (sub - self.center_) / self.scale_

    def transform(self, x: np.ndarray) -> np.ndarray:
        """The matrix the clustering sees."""
        z = self._scaled(x)
        return self.pca_.transform(z) if self.pca_ is not None else z
