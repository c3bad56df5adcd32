"""Gamma-Gamma model of spend per purchase (Fader & Hardie 2013; Colombo & Jiang 1999).

Each purchase's value is ``Gamma(p, nu)`` with a customer-level rate ``nu ~ Gamma(q, v)``, so a
customer's mean spend ``monetary_value`` over ``frequency`` repeat purchases carries evidence
about the customer's own mean, shrunk towards the population's ``p v / (q - 1)``. The model
assumes spend is independent of the purchase process (check the correlation of frequency and
monetary_value before relying on it).

Only repeat buyers (``frequency > 0``) carry spend information; rows with frequency 0 are left
out of the fit (``n_customers_`` says how many were used). ``monetary_value`` is the mean
value of the repeat purchase periods, as in lifetimes (the first purchase is left out).

References
----------
Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value.
http://www.brucehardie.com/notes/025/

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves for
Customer Base Analysis. Journal of Marketing Research 42(4), 415-430.

Colombo, R. & Jiang, W. (1999). A stochastic RFM model. Journal of Interactive Marketing
13(3), 2-12.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from valueseg.errors import InputError
from valueseg.models._base import LikelihoodModel
from valueseg.models._util import (
    as_float,
    check_integer,
    check_rows,
    collapse_rows,
    dot,
    read_column,
    wrap_like,
)
from valueseg.models.clv import discounted_purchases, read_summary

__all__ = ["GammaGamma"]

_COLUMNS = ("frequency", "monetary_value")


@dataclass
class _SpendData:
    x: np.ndarray
    m: np.ndarray
    w: np.ndarray
    n: float
    n_rows: int
    time_scale: float = 1.0
    cache: dict = field(default_factory=dict)

    def thin(self, fraction: float, rng: np.random.Generator) -> _SpendData:
        w = rng.poisson(self.w * fraction).astype(np.float64)
        keep = w > 0
        return _SpendData(self.x[keep], self.m[keep], w[keep], float(w.sum()), int(keep.sum()))


class GammaGamma(LikelihoodModel[_SpendData]):
    """Gamma-Gamma model of the mean spend per purchase, and discounted CLV.

    Parameters
    ----------
    penalizer_coef, n_starts, tol, max_iter, collapse, on_failure
        As for :class:`~valueseg.models.BetaGeo` (the penalty is on ``p, q, v`` as they are).

    Attributes
    ----------
    params_ : dict
        ``p`` (shape of each purchase's value), ``q`` and ``v`` (shape and scale of the
        customers' rates); ``v`` is in money.
    loglik_, standard_errors_, covariance_, aic_, bic_, converged_, n_iter_
        As for :class:`~valueseg.models.BetaGeo`.
    n_customers_ : float
        Repeat buyers used (summed weights of the rows with frequency > 0).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from valueseg.models import GammaGamma
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(1, 10, 5_000)  # repeat purchases
    >>> nu = rng.gamma(3.7, 1 / 15.4, 5_000)  # each customer's rate
    >>> mean_spend = rng.gamma(6.25 * x, 1 / (nu * x))  # mean of x Gamma(6.25, nu) values
    >>> spend = GammaGamma().fit(pd.DataFrame({"frequency": x, "monetary_value": mean_spend}))
    >>> {k: round(v, 1) for k, v in spend.params_.items()}
    {'p': 5.8, 'q': 3.8, 'v': 17.1}
    >>> spend.conditional_expected_average_profit([1, 10], [60.0, 60.0]).round(2)
    array([51.87, 58.85])

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value.
    http://www.brucehardie.com/notes/025/
    """

    _param_names: ClassVar[tuple[str, ...]] = ("p", "q", "v")
    _columns: ClassVar[tuple[str, ...]] = _COLUMNS

    def _prepare(self, frame: pd.DataFrame, weights: np.ndarray | None) -> _SpendData:
        name = type(self).__name__
        x, m = (read_column(frame, c, name, _COLUMNS) for c in _COLUMNS)
        check_integer(x, "frequency", "repeat purchases")
        repeat = x > 0
        if weights is not None:
            repeat &= weights > 0
        if not repeat.any():
            raise InputError(
                f"No customer in the {len(x):,} rows of the summary has frequency > 0, so "
                f"{name} has no repeat spend to fit. Use a longer observation period."
            )
        check_rows(
            m[repeat] == 0,
            "Column 'monetary_value' is 0 in {n} of the {total} rows with frequency > 0; "
            "the Gamma-Gamma model needs a positive mean spend. Drop those customers or "
            "check the amounts.",
        )
        x, m = x[repeat], m[repeat]
        w = None if weights is None else weights[repeat]
        if self.collapse:
            (x, m), w = collapse_rows([x, m], w)
        elif w is None:
            w = np.ones(len(x))
        return _SpendData(x, m, w, float(w.sum()), len(x))

    def _natural_scale(self, data: _SpendData) -> np.ndarray:
        return np.array([1.0, 1.0, dot(data.w, data.m) / data.n])

    def _starts(self, data: _SpendData) -> list[np.ndarray]:
        mean = dot(data.w, data.m) / data.n
        return [
            np.array([p, q, mean * (q - 1) / p * f])
            for p in (1.0, 5.0)
            for q in (1.5, 4.0)
            for f in (0.5, 2.0)
        ]

    def _loglik(self, theta: np.ndarray, d: _SpendData) -> tuple[float, np.ndarray]:
        p, q, v = theta
        k = _constants(d)
        px = p * k.xu
        lg = gammaln(px + q) - gammaln(px) - gammaln(q)
        psi_pxq = digamma(px + q)
        log_xmv = np.log(d.x * d.m + v)
        inv_xmv = 1.0 / (d.x * d.m + v)
        wx_log = dot(k.wx_row, log_xmv)
        w_log = dot(d.w, log_xmv)
        n = d.n
        ll = (
            dot(k.wx, lg)
            + n * q * np.log(v)
            + p * (k.s_xlogm + k.s_xlogx)
            - k.s_logm
            - p * wx_log
            - q * w_log
        )
        grad = np.array(
            [
                dot(k.wx, k.xu * (psi_pxq - digamma(px))) + k.s_xlogm + k.s_xlogx - wx_log,
                dot(k.wx, psi_pxq) - n * digamma(q) + n * np.log(v) - w_log,
                n * q / v - p * dot(k.wx_row, inv_xmv) - q * dot(d.w, inv_xmv),
            ]
        )
        return float(ll), grad

    # ---- predictions

    def conditional_expected_average_profit(self, frequency: Any, monetary_value: Any) -> Any:
        """Expected mean spend per purchase of each customer, given the spend observed.

        A weighted average of the population mean ``p v / (q - 1)`` and the customer's own
        ``monetary_value``, with weight ``p x / (p x + q - 1)`` on the latter (eq. 5).

        Returns
        -------
        float, numpy.ndarray or pandas.Series
        """
        self._check_fitted()
        p, q, v = (self.params_[k] for k in self._param_names)
        x, m = as_float(frequency), as_float(monetary_value)
        out = p * (v + x * m) / (p * x + q - 1)
        return wrap_like(out, frequency, monetary_value)

    def customer_lifetime_value(
        self,
        transaction_model: Any,
        summary: pd.DataFrame,
        *,
        horizon: int = 12,
        discount_rate: float = 0.01,
        freq: str = "D",
    ) -> pd.Series:
        """Discounted value of each customer's expected purchases over ``horizon`` months.

        ``sum_{i=1..horizon} E[purchases in month i] * E[spend per purchase] / (1 + d)^i``,
        lifetimes' ``customer_lifetime_value`` semantics: a month is 30 days, 4.345 weeks or
        720 hours.

        Parameters
        ----------
        transaction_model : fitted BetaGeo, ModifiedBetaGeo, ParetoNBD or BetaGeoBetaBinom
            Predicts the purchases.
        summary : pandas.DataFrame
            The transaction model's columns (``frequency, recency, T`` or ``n_periods``)
            and ``monetary_value``.
        horizon : int, default 12
            Months.
        discount_rate : float, default 0.01
            Monthly discount rate.
        freq : {"D", "W", "M", "H"}, default "D"
            The summary's time unit.

        Returns
        -------
        pandas.Series
            Named ``clv``, with the summary's index.

        Examples
        --------
        >>> import pandas as pd
        >>> from valueseg.models import BetaGeo, GammaGamma
        >>> bg = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> gg = GammaGamma.from_params(p=6.25, q=3.74, v=15.44)
        >>> summary = pd.DataFrame({"frequency": [0, 2, 7], "recency": [0.0, 30.4, 35.0],
        ...                         "T": [38.9, 38.9, 38.9], "monetary_value": [0, 22.4, 40.0]})
        >>> gg.customer_lifetime_value(bg, summary, freq="W").round(2).tolist()
        [8.36, 36.28, 206.8]
        """
        self._check_fitted()
        transaction_model._check_fitted()
        x, tx, age, m = read_summary(transaction_model, summary)
        clv = self.lifetime_values(
            transaction_model,
            x,
            tx,
            age,
            m,
            horizon=horizon,
            discount_rate=discount_rate,
            freq=freq,
        )
        return pd.Series(clv, index=summary.index, name="clv")

    def lifetime_values(
        self,
        transaction_model: Any,
        frequency: np.ndarray,
        recency: np.ndarray,
        T: np.ndarray,
        monetary_value: np.ndarray,
        *,
        horizon: int = 12,
        discount_rate: float = 0.01,
        freq: str = "D",
    ) -> np.ndarray:
        """:meth:`customer_lifetime_value` from the summary's arrays, not checked (the
        transaction model's columns: BG/BB's ``frequency, recency, n_periods``): real-time
        scoring's few customers, whose summary it computed itself."""
        spend = self.conditional_expected_average_profit(frequency, monetary_value)
        purchases = discounted_purchases(
            transaction_model,
            frequency,
            recency,
            T,
            horizon=horizon,
            discount_rate=discount_rate,
            freq=freq,
        )
        return np.asarray(spend * purchases, np.float64)


@dataclass
class _Constants:
    xu: np.ndarray
    wx: np.ndarray  # weight per distinct frequency
    wx_row: np.ndarray  # w * x per row
    s_xlogm: float
    s_xlogx: float
    s_logm: float


def _constants(d: _SpendData) -> _Constants:
    if "gamma_gamma" not in d.cache:
        xi, xu = pd.factorize(d.x, sort=True)
        xu = np.asarray(xu, dtype=np.float64)
        wx_row = d.w * d.x
        d.cache["gamma_gamma"] = _Constants(
            xu=xu,
            wx=np.bincount(xi, weights=d.w, minlength=len(xu)),
            wx_row=wx_row,
            s_xlogm=dot(wx_row, np.log(d.m)),
            s_xlogx=dot(wx_row, np.log(d.x)),
            s_logm=dot(d.w, np.log(d.m)),
        )
    return d.cache["gamma_gamma"]
