"""BG/BB: the beta-geometric / beta-binomial model of discrete opportunities.

For settings where a purchase (a donation, a yearly event, a weekly delivery) can happen at
most once per discrete opportunity (Fader, Hardie & Shang 2010). While alive, a customer
transacts at each opportunity with probability ``p ~ Beta(alpha, beta)``; at the start of
each opportunity an alive customer leaves for good with probability ``theta ~ Beta(gamma,
delta)``. Input per customer: ``frequency`` (opportunities with a transaction, x),
``recency`` (the last such opportunity, t_x; 0 if none) and ``n_periods`` (opportunities
observed, n), all counted after the first purchase, which is not an opportunity.

References
----------
Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-Base Analysis in a Discrete-Time
Noncontractual Setting. Marketing Science 29(6), 1086-1108.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammaln

from valueseg.errors import InputError
from valueseg.models._base import PurchaseModel
from valueseg.models._util import (
    as_float,
    check_integer,
    check_rows,
    collapse_rows,
    dot,
    random_generator,
    read_column,
    wrap_like,
)

__all__ = ["BetaGeoBetaBinom"]

_COLUMNS = ("frequency", "recency", "n_periods")


@dataclass
class _BBData:
    x: np.ndarray
    tx: np.ndarray
    n_per: np.ndarray
    w: np.ndarray
    n: float
    n_rows: int
    time_scale: float = 1.0
    cache: dict = field(default_factory=dict)

    def thin(self, fraction: float, rng: np.random.Generator) -> _BBData:
        w = rng.poisson(self.w * fraction).astype(np.float64)
        keep = w > 0
        return _BBData.build(self.x[keep], self.tx[keep], self.n_per[keep], w[keep])

    @classmethod
    def build(cls, x: np.ndarray, tx: np.ndarray, n_per: np.ndarray, w: np.ndarray) -> _BBData:
        return cls(
            x.astype(np.int64),
            tx.astype(np.int64),
            n_per.astype(np.int64),
            w=w,
            n=float(w.sum()),
            n_rows=len(x),
        )


class BetaGeoBetaBinom(PurchaseModel[_BBData]):
    """BG/BB model of transactions at discrete opportunities, with dropout.

    Parameters
    ----------
    penalizer_coef, n_starts, tol, max_iter, collapse, on_failure
        As for :class:`~valueseg.models.BetaGeo`.

    Attributes
    ----------
    params_ : dict
        ``alpha, beta`` (transaction probability) and ``gamma, delta`` (dropout
        probability).
    loglik_, standard_errors_, covariance_, aic_, bic_, converged_, n_iter_, n_customers_
        As for :class:`~valueseg.models.BetaGeo`.

    Examples
    --------
    >>> from valueseg.models import BetaGeoBetaBinom
    >>> truth = BetaGeoBetaBinom.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
    >>> donors = truth.simulate(20_000, n_periods=6, random_state=0)
    >>> model = BetaGeoBetaBinom().fit(donors)
    >>> {k: round(v, 2) for k, v in model.params_.items()}
    {'alpha': 1.24, 'beta': 0.76, 'gamma': 0.64, 'delta': 2.65}
    >>> model.expected_purchases(5, [0, 6], [0, 6], 6).round(2)
    array([0.07, 3.75])

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-Base Analysis in a
    Discrete-Time Noncontractual Setting. Marketing Science 29(6), 1086-1108.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    _columns: ClassVar[tuple[str, ...]] = _COLUMNS

    # ---- likelihood

    def _prepare(self, frame: pd.DataFrame, weights: np.ndarray | None) -> _BBData:
        name = type(self).__name__
        x, tx, n_per = (read_column(frame, c, name, _COLUMNS) for c in _COLUMNS)
        if len(x) == 0:
            raise InputError(f"The summary given to {name}.fit has no rows.")
        for col, values in zip(_COLUMNS, (x, tx, n_per), strict=True):
            check_integer(values, col, "opportunities")
        check_rows(
            tx > n_per,
            "Column 'recency' exceeds column 'n_periods' in {n} of {total} rows; the last "
            "opportunity with a transaction cannot come after the last one observed.",
        )
        check_rows(
            x > tx,
            "Column 'frequency' exceeds column 'recency' in {n} of {total} rows; x "
            "transactions at distinct opportunities need a last one at opportunity x or later.",
        )
        check_rows(
            (x == 0) & (tx > 0),
            "Column 'recency' is above 0 in {n} of {total} rows whose 'frequency' is 0; "
            "a customer without transactions has recency 0.",
        )
        if weights is not None:
            keep = weights > 0
            if not keep.any():
                raise InputError("Column 'weights' is 0 in every row: there are no customers.")
            x, tx, n_per, weights = x[keep], tx[keep], n_per[keep], weights[keep]
        if self.collapse:
            (x, tx, n_per), w = collapse_rows([x, tx, n_per], weights)
        else:
            w = np.ones(len(x)) if weights is None else weights
        return _BBData.build(x, tx, n_per, w)

    def _check_identifiable(self, data: _BBData) -> None:
        if not np.any(data.x > 0):
            raise InputError(
                f"All {data.n:,.0f} customers in the summary have frequency 0 (no "
                f"transactions), so {type(self).__name__} cannot tell the transaction "
                "probability from dropout."
            )

    def _starts(self, data: _BBData) -> list[np.ndarray]:
        return [
            np.array([a, b, g, d])
            for a in (0.5, 2.0)
            for b in (0.5, 2.0)
            for g in (0.5, 2.0)
            for d in (1.0, 4.0)
        ]

    def _loglik(self, theta: np.ndarray, d: _BBData) -> tuple[float, np.ndarray]:
        alpha, beta, gamma, delta = theta
        x, tx, n_per, w = d.x, d.tx, d.n_per, d.w
        m = np.arange(int(n_per.max()) + 1)
        # every beta function has integer offsets: tables of log-gamma and digamma
        lg = {k: gammaln(v + m) for k, v in _bases(theta).items()}
        ps = {k: digamma(v + m) for k, v in _bases(theta).items()}
        lg["g"], ps["g"] = gammaln(gamma), digamma(gamma)
        lg["g1"], ps["g1"] = gammaln(gamma + 1), digamma(gamma + 1)
        # alive through all n opportunities
        t0 = lg["a"][x] + lg["b"][n_per - x] - lg["ab"][n_per] + lg["d"][n_per] - lg["gd"][n_per]
        t0 += lg["g"]
        d0 = np.stack(
            [
                ps["a"][x] - ps["ab"][n_per],
                ps["b"][n_per - x] - ps["ab"][n_per],
                ps["g"] - ps["gd"][n_per],
                ps["d"][n_per] - ps["gd"][n_per],
            ]
        )
        # or alive last at an opportunity k in [tx, n-1], gone at the next one
        tail = _tail_by_frequency(lg, ps, x, tx, n_per)
        if tail is None:
            tail = _tail_by_row(lg, ps, x, tx, n_per)
        log_tail, d_tail = tail
        mix = np.logaddexp(t0, log_tail)
        w0 = w * np.exp(t0 - mix)
        ll = dot(w, mix) - d.n * (betaln(alpha, beta) + betaln(gamma, delta))
        grad = np.einsum("jr,r->j", d0, w0) + np.einsum("jr,r->j", d_tail, w - w0)
        grad -= d.n * np.array(
            [
                digamma(alpha) - digamma(alpha + beta),
                digamma(beta) - digamma(alpha + beta),
                ps["g"] - digamma(gamma + delta),
                digamma(delta) - digamma(gamma + delta),
            ]
        )
        return float(ll), grad

    # ---- predictions

    def _log_lik_rows(self, x: Any, tx: Any, n_per: Any) -> np.ndarray:
        """Per-customer log-likelihood (direct sum; for predictions)."""
        alpha, beta, gamma, delta = self._theta()
        x, tx, n_per = np.broadcast_arrays(as_float(x), as_float(tx), as_float(n_per))
        t0 = betaln(alpha + x, beta + n_per - x) + betaln(gamma, delta + n_per)
        width = int(np.max(n_per - tx, initial=0))
        i = np.arange(width).reshape((-1,) + (1,) * x.ndim)
        k = tx + i
        tk = betaln(alpha + x, beta + k - x) + betaln(gamma + 1, delta + k)
        tk = np.where(k < n_per, tk, -np.inf)
        terms = np.concatenate([t0[None, ...], tk], axis=0)
        top = terms.max(axis=0)
        ll = top + np.log(np.exp(terms - top).sum(axis=0))
        return ll - betaln(alpha, beta) - betaln(gamma, delta)

    def probability_alive(
        self, frequency: Any, recency: Any, n_periods: Any, m_periods: Any = 0
    ) -> Any:
        """Probability of being alive at opportunity ``n_periods + m_periods``.

        ``m_periods=0``: alive now, after the last opportunity observed; ``m_periods=1``: alive
        at the next opportunity (Fader, Hardie & Shang 2010, eq. 11).

        Returns
        -------
        float, numpy.ndarray or pandas.Series
        """
        self._check_fitted()
        alpha, beta, gamma, delta = self._theta()
        x, n_per, m = as_float(frequency), as_float(n_periods), as_float(m_periods)
        log_p = (
            betaln(alpha + x, beta + n_per - x)
            - betaln(alpha, beta)
            + betaln(gamma, delta + n_per + m)
            - betaln(gamma, delta)
            - self._log_lik_rows(frequency, recency, n_periods)
        )
        return wrap_like(np.exp(log_p), frequency, recency, n_periods, m_periods)

    def expected_purchases(self, t: Any, frequency: Any, recency: Any, n_periods: Any) -> Any:
        """Expected transactions in the next ``t`` opportunities, given the history (eq. 13).

        Returns
        -------
        float, numpy.ndarray or pandas.Series
        """
        self._check_fitted()
        alpha, beta, gamma, delta = self._theta()
        x, n_per = as_float(frequency), as_float(n_periods)
        log_front = (
            betaln(alpha + x + 1, beta + n_per - x)
            - betaln(alpha, beta)
            + gammaln(gamma + delta)
            - gammaln(1 + delta)
            - self._log_lik_rows(frequency, recency, n_periods)
        )
        out = np.exp(log_front) * _survival_gap(gamma, delta, n_per, as_float(t))
        return wrap_like(out, t, frequency, recency, n_periods)

    def expected_purchases_new_customer(self, t: Any) -> Any:
        """Expected transactions in the first ``t`` opportunities (eq. 8).

        Examples
        --------
        >>> from valueseg.models import BetaGeoBetaBinom
        >>> m = BetaGeoBetaBinom.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> round(m.expected_purchases_new_customer(6), 3)
        2.22
        """
        self._check_fitted()
        alpha, beta, gamma, delta = self._theta()
        t = as_float(t)
        out = alpha / (alpha + beta) * np.exp(gammaln(gamma + delta) - gammaln(1 + delta))
        return wrap_like(out * _survival_gap(gamma, delta, np.zeros_like(t), t), t)

    def probability_of_purchases(self, n: Any, t: Any) -> Any:
        """Probability of exactly ``n`` transactions in the first ``t`` opportunities (eq. 7).

        Examples
        --------
        >>> from valueseg.models import BetaGeoBetaBinom
        >>> m = BetaGeoBetaBinom.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> p = m.probability_of_purchases(np.arange(7), 6)
        >>> round(float(p[0]), 4), round(float(p.sum()), 12)
        (0.3112, 1.0)
        """
        self._check_fitted()
        alpha, beta, gamma, delta = self._theta()
        x, t = np.broadcast_arrays(as_float(n), as_float(t))
        base = betaln(alpha, beta) + betaln(gamma, delta)

        def log_choose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)

        with np.errstate(invalid="ignore"):
            out = np.exp(
                log_choose(t, x) + betaln(alpha + x, beta + t - x) + betaln(gamma, delta + t) - base
            )
            out = np.where(x <= t, out, 0.0)
            i = np.arange(int(np.max(t, initial=0))).reshape((-1,) + (1,) * x.ndim)
            terms = np.exp(
                log_choose(i, x)
                + betaln(alpha + x, beta + i - x)
                + betaln(gamma + 1, delta + i)
                - base
            )
            out = out + np.where((i >= x) & (i < t), terms, 0.0).sum(axis=0)
        return wrap_like(out, n, t)

    def simulate(self, n_customers: int, n_periods: Any, random_state: Any = None) -> pd.DataFrame:
        """Draw ``n_customers`` customers observed over ``n_periods`` opportunities.

        Returns
        -------
        pandas.DataFrame
            ``customer_id, frequency, recency, n_periods, alive`` (``alive``: still alive
            after the last opportunity).
        """
        self._check_fitted()
        alpha, beta, gamma, delta = self._theta()
        rng = random_generator(random_state)
        n_per = np.broadcast_to(as_float(n_periods), (n_customers,)).astype(np.int64)
        p = rng.beta(alpha, beta, n_customers)
        theta = rng.beta(gamma, delta, n_customers)
        alive = np.ones(n_customers, dtype=bool)
        x = np.zeros(n_customers, dtype=np.int64)
        tx = np.zeros(n_customers, dtype=np.int64)
        for j in range(1, int(n_per.max(initial=0)) + 1):
            observed = j <= n_per
            alive &= ~(observed & (rng.random(n_customers) < theta))
            buy = observed & alive & (rng.random(n_customers) < p)
            x += buy
            tx = np.where(buy, j, tx)
        return pd.DataFrame(
            {
                "customer_id": np.arange(n_customers),
                "frequency": x.astype(np.float64),
                "recency": tx.astype(np.float64),
                "n_periods": n_per.astype(np.float64),
                "alive": alive,
            }
        )


def _dterms(ps: dict, x: np.ndarray, k: np.ndarray, valid: np.ndarray) -> list[np.ndarray]:
    """Derivatives of the log of the gone-after-opportunity-k term in alpha, beta, gamma, delta."""
    return [
        ps["a"][x] - ps["ab"][k],
        ps["b"][np.where(valid, k - x, 0)] - ps["ab"][k],
        ps["g1"] - ps["gd1"][k],
        ps["d"][k] - ps["gd1"][k],
    ]


def _tail_by_frequency(
    lg: dict, ps: dict, x: np.ndarray, tx: np.ndarray, n_per: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Log of the sum of the gone-after-k terms, k in [tx, n-1], and its gradient.

    A term depends on (x, k) only, so the sums are differences of reverse cumulative sums
    over a table of distinct x by k. None when that difference would lose precision (the
    terms beyond n dwarf those in range), for the row-by-row sum to take over.
    """
    xu, xi = np.unique(x, return_inverse=True)
    k = np.arange(int(n_per.max()))[None, :]
    valid = k >= xu[:, None]
    term = lg["a"][xu][:, None] + lg["b"][np.where(valid, k - xu[:, None], 0)] - lg["ab"][k]
    term = np.where(valid, term + lg["d"][k] - lg["gd1"][k] + lg["g1"], -np.inf)
    shift = np.max(term, axis=1, initial=-np.inf)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    e = np.exp(term - shift[:, None])

    def reverse_cumsum(a: np.ndarray) -> np.ndarray:
        out = np.zeros((a.shape[0], a.shape[1] + 1))
        out[:, :-1] = np.cumsum(a[:, ::-1], axis=1)[:, ::-1]
        return out

    total = reverse_cumsum(e)
    inside = total[xi, tx] - total[xi, n_per]
    some = tx < n_per
    if np.any(some & ~(inside > 1e-6 * total[xi, tx])):
        return None
    safe = np.where(some, inside, 1.0)
    log_tail = np.where(some, shift[xi] + np.log(safe), -np.inf)
    d_tail = np.empty((4, len(x)))
    for j, dterm in enumerate(_dterms(ps, xu[:, None], k, valid)):
        acc = reverse_cumsum(np.where(valid, e * dterm, 0.0))
        d_tail[j] = np.where(some, (acc[xi, tx] - acc[xi, n_per]) / safe, 0.0)
    return log_tail, d_tail


def _tail_by_row(
    lg: dict, ps: dict, x: np.ndarray, tx: np.ndarray, n_per: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The same as :func:`_tail_by_frequency`, summed row by row (exact, slower)."""
    k = tx[:, None] + np.arange(int(np.max(n_per - tx, initial=1)))[None, :]
    valid = k < n_per[:, None]
    k = np.where(valid, k, 0)
    xc = x[:, None]
    term = lg["a"][xc] + lg["b"][np.where(valid, k - xc, 0)] - lg["ab"][k]
    term = np.where(valid, term + lg["d"][k] - lg["gd1"][k] + lg["g1"], -np.inf)
    top = np.max(term, axis=1, initial=-np.inf)
    some = np.isfinite(top)
    e = np.exp(term - np.where(some, top, 0.0)[:, None])
    total = e.sum(axis=1)
    safe = np.where(some, total, 1.0)
    log_tail = np.where(some, top + np.log(safe), -np.inf)
    d_tail = np.stack([(e * dterm).sum(axis=1) / safe for dterm in _dterms(ps, xc, k, valid)])
    return log_tail, d_tail


def _bases(theta: np.ndarray) -> dict[str, float]:
    alpha, beta, gamma, delta = theta
    return {
        "a": alpha,
        "b": beta,
        "ab": alpha + beta,
        "d": delta,
        "gd": gamma + delta,
        "gd1": gamma + delta + 1.0,
    }


def _survival_gap(gamma: float, delta: float, n: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``delta/(gamma-1) * (G(n) - G(n+t))`` with ``G(k) = Gamma(1+delta+k)/Gamma(gamma+delta+k)``.

    Written with ``expm1`` so that it stays accurate (and positive) for gamma above or below 1.
    """

    def log_g(k: np.ndarray) -> np.ndarray:
        return gammaln(1 + delta + k) - gammaln(gamma + delta + k)

    start = log_g(n)
    if abs(gamma - 1.0) < 1e-12:  # the limit: delta * sum of 1/(delta+k) terms
        return delta * (digamma(1 + delta + n + t) - digamma(1 + delta + n))
    return delta / (gamma - 1) * np.exp(start) * -np.expm1(log_g(n + t) - start)
