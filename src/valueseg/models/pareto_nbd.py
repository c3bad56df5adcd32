"""Pareto/NBD: Poisson purchases with exponential lifetimes (Schmittlein, Morrison & Colombo 1987).

While alive a customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)``; the lifetime is
exponential with rate ``mu ~ Gamma(s, beta)``. Same columns and time-unit conventions as
:class:`~valueseg.models.BetaGeo` (several orders in one period are one purchase).

The likelihood's integral over the unobserved time of death,
``s * int_{t_x}^{T} (alpha + tau)^-(r+x) (beta + tau)^-(s+1) dtau``, is written as the
difference ``F(t_x) - F(T)`` of the tail integral ``F(u) = int_u^inf ...``, which is a
Gauss hypergeometric function expanded around ``max(alpha, beta)`` (the ``alpha >= beta`` and
``alpha < beta`` branches of Fader & Hardie's note keep its argument in ``[0, 1)``), and is
kept in log space throughout. ``F`` depends on the frequency and one time only, so it is
computed once per distinct (frequency, time) pair, as is the still-alive term (frequency and
``T``); each row's share of the gradient is summed per pair before it meets the pair's
derivatives. Those derivatives in ``alpha`` and ``beta`` are hypergeometric functions again;
those in ``r`` and ``s`` are central differences.

References
----------
Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting Your Customers: Who Are
They and What Will They Do Next? Management Science 33(1), 1-24.

Fader, P. S. & Hardie, B. G. S. (2005). A Note on Deriving the Pareto/NBD Model and Related
Expressions. http://www.brucehardie.com/notes/009/
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import integrate
from scipy.special import digamma, expit, gammaln, xlogy

from valueseg.models._base import PurchaseModel
from valueseg.models._data import RFT_COLUMNS, RFTData, check_identifiable, read_rft
from valueseg.models._util import (
    as_float,
    dot,
    log_hyp2f1,
    random_generator,
    softplus_sigmoid,
    wrap_like,
)

__all__ = ["ParetoNBD"]


class ParetoNBD(PurchaseModel[RFTData]):
    """Pareto/NBD model of repeat purchases and unobserved lifetimes.

    Parameters
    ----------
    penalizer_coef, n_starts, tol, max_iter, collapse, on_failure
        As for :class:`~valueseg.models.BetaGeo` (the penalty measures ``alpha`` and ``beta``
        in units of the longest ``T``).

    Attributes
    ----------
    params_ : dict
        ``r, alpha, s, beta``; ``alpha`` and ``beta`` are in the summary's time unit.
    loglik_, standard_errors_, covariance_, aic_, bic_, converged_, n_iter_, n_customers_
        As for :class:`~valueseg.models.BetaGeo`.

    Examples
    --------
    >>> from valueseg.models import ParetoNBD
    >>> truth = ParetoNBD.from_params(r=0.55, alpha=10.0, s=0.6, beta=12.0)
    >>> model = ParetoNBD().fit(truth.simulate(5_000, T=39.0, random_state=3))
    >>> {k: round(v, 1) for k, v in model.params_.items()}
    {'r': 0.5, 'alpha': 8.9, 's': 0.7, 'beta': 14.1}
    >>> round(float(model.probability_alive(1, 10.0, 39.0)), 3)
    0.374

    References
    ----------
    Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting Your Customers: Who
    Are They and What Will They Do Next? Management Science 33(1), 1-24.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    _time_params: ClassVar[tuple[str, ...]] = ("alpha", "beta")
    _columns: ClassVar[tuple[str, ...]] = RFT_COLUMNS
    _alternatives: ClassVar[str] = "BetaGeo"
    _noisy_gradient: ClassVar[bool] = True

    # ---- likelihood

    def _prepare(self, frame: pd.DataFrame, weights: np.ndarray | None) -> RFTData:
        return read_rft(frame, weights, type(self).__name__, self.collapse)

    def _check_identifiable(self, data: RFTData) -> None:
        check_identifiable(data, type(self).__name__)

    def _starts(self, data: RFTData) -> list[np.ndarray]:
        rate = dot(data.w, data.x) / dot(data.w, data.T)
        mean_T = dot(data.w, data.T) / data.n
        return [
            np.array([r, r / (rate * boost), s, s * mean_T * life])
            for r in (0.5, 1.0)
            for boost in (1.0, 2.0)
            for s in (0.5, 1.0)
            for life in (0.5, 2.0)
        ]

    def _loglik(self, theta: np.ndarray, d: RFTData) -> tuple[float, np.ndarray]:
        k = _pairs(d)
        key = theta.tobytes()
        if k.last is not None and k.last[0] == key:  # fit's last step, asked again for loglik_
            return k.last[1], k.last[2].copy()
        r, alpha, s, beta = theta
        # log F and its gradient once per distinct (frequency, time) pair; the still-alive
        # term depends on (frequency, T) only, so it is also computed once per pair
        lf, grad_f = _log_tail(r + k.px, s + 1.0, k.pu, alpha, beta)
        assert grad_f is not None
        rx = r + k.px
        log_a = np.log(alpha + k.pu)
        log_b = np.log(beta + k.pu)
        alive_pair = -rx * log_a - s * log_b
        # per row (the bulk of the work at scale): one pass per operation, in place
        lf_t = lf[k.it]
        gap = lf[k.iT]
        gap -= lf_t
        np.expm1(gap, out=gap)
        np.negative(gap, out=gap)  # 1 - F(T)/F(tx), accurate when it is near 0
        dead = gap > 0  # tx < T: a time of death in (tx, T] is possible
        all_dead = bool(dead.all())
        if not all_dead:
            gap[~dead] = 1.0
        z = np.log(gap)
        z += lf_t
        if not all_dead:
            z[~dead] = -np.inf
        z += np.log(s)  # log of the died-in-(tx, T] term
        alive = alive_pair[k.iT]
        z -= alive
        soft, p_gone = softplus_sigmoid(z)  # p_gone is exactly 0 where no death is possible
        soft += alive  # log-likelihood of each row, less the gamma terms
        w, xu, n = d.w, d.xu, d.n
        ll = (
            dot(d.wx, gammaln(r + xu))
            - n * gammaln(r)
            + n * (r * np.log(alpha) + s * np.log(beta))
            + dot(w, soft)
        )
        # Each gradient term is a per-pair quantity times a per-row weight: sum the weights
        # per pair (bincount), then take inner products over the pairs.
        p_gone *= w
        n_gone = float(p_gone.sum())
        alive_w = np.bincount(k.iT, weights=w - p_gone, minlength=len(k.px))
        # d log(F(tx) - F(T)) = (dlog F(tx) - rho dlog F(T)) / (1 - rho), rho = 1 - gap
        p_gone /= gap
        at_pair = np.bincount(k.it, weights=p_gone, minlength=len(k.px))
        p_gone *= gap - 1.0
        at_pair += np.bincount(k.iT, weights=p_gone, minlength=len(k.px))
        grad = np.einsum("jp,p->j", grad_f, at_pair)
        grad[0] += dot(d.wx, digamma(r + xu)) - n * digamma(r) + n * np.log(alpha)
        grad[0] -= dot(alive_w, log_a)
        grad[1] += n * r / alpha - dot(alive_w, rx / (alpha + k.pu))
        grad[2] += n * np.log(beta) - dot(alive_w, log_b) + n_gone / s
        grad[3] += n * s / beta - s * dot(alive_w, 1.0 / (beta + k.pu))
        k.last = (key, float(ll), grad.copy())
        return float(ll), grad

    # ---- predictions

    def _log_parts(self, x: Any, tx: Any, T: Any) -> tuple[np.ndarray, np.ndarray]:
        """Log of the still-alive and the died-in-(tx, T] terms of the likelihood."""
        r, alpha, s, beta = self._theta()
        x, tx, T = np.broadcast_arrays(as_float(x), as_float(tx), as_float(T))
        lf_t, _ = _log_tail(r + x, s + 1.0, tx, alpha, beta, grad=False)
        lf_T, _ = _log_tail(r + x, s + 1.0, T, alpha, beta, grad=False)
        with np.errstate(divide="ignore"):
            gone = np.log(s) + lf_t + np.log(-np.expm1(np.minimum(lf_T - lf_t, 0.0)))
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        return alive, gone

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        """Probability that a customer with this history is still alive at ``T``.

        Parameters
        ----------
        frequency, recency, T : float or array-like
            The customer's summary (broadcast together).

        Returns
        -------
        float, numpy.ndarray or pandas.Series
        """
        self._check_fitted()
        alive, gone = self._log_parts(frequency, recency, T)
        return wrap_like(expit(alive - gone), frequency, recency, T)

    def expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any) -> Any:
        """Expected number of purchases in the next ``t`` time units, given the history.

        Parameters
        ----------
        t : float or array-like
            Length of the future period, in the summary's time unit.
        frequency, recency, T : float or array-like
            The customer's summary (broadcast with ``t``).

        Returns
        -------
        float, numpy.ndarray or pandas.Series
        """
        self._check_fitted()
        out = self._rate(frequency, recency, T) * self._growth(t, T)
        return wrap_like(out, t, frequency, recency, T)

    def _rate(self, x: Any, tx: Any, T: Any) -> np.ndarray:
        """P(alive) times the expected purchase rate over the expected lifetime scale."""
        r, alpha, _, beta = self._theta()
        alive, gone = self._log_parts(x, tx, T)
        T = as_float(T)
        return expit(alive - gone) * (r + as_float(x)) * (beta + T) / (alpha + T)

    def _growth(self, t: Any, T: Any) -> np.ndarray:
        """``(1 - q^(s-1)) / (s-1)`` with ``q = (beta+T) / (beta+T+t)`` (``-log q`` at s=1)."""
        _, _, s, beta = self._theta()
        log_q = -np.log1p(as_float(t) / (beta + as_float(T)))
        if abs(s - 1.0) < 1e-12:
            return -log_q
        return -np.expm1((s - 1.0) * log_q) / (s - 1.0)

    def expected_purchases_new_customer(self, t: Any) -> Any:
        """Expected number of repeat purchases in ``(0, t]`` of a customer just acquired.

        Examples
        --------
        >>> from valueseg.models import ParetoNBD
        >>> m = ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669)
        >>> round(m.expected_purchases_new_customer(39.0), 4)
        1.213
        """
        self._check_fitted()
        r, alpha, _, beta = self._theta()
        zero = np.zeros_like(as_float(t))
        return wrap_like(r * beta / alpha * self._growth(t, zero), t)

    def probability_of_purchases(self, n: Any, t: Any) -> Any:
        """Probability that a new customer makes exactly ``n`` repeat purchases in ``(0, t]``.

        Integrates the NBD count over the Pareto (Lomax) time of death numerically
        (adaptive quadrature per distinct (n, t)).

        Examples
        --------
        >>> from valueseg.models import ParetoNBD
        >>> m = ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669)
        >>> p = m.probability_of_purchases(np.arange(100), 39.0)
        >>> round(float(p[0]), 4), round(float(p.sum()), 6)
        (0.5936, 1.0)
        """
        self._check_fitted()
        r, alpha, s, beta = self._theta()

        def log_nb(k: float, tau: float) -> float:
            q = tau / (alpha + tau)
            return float(
                gammaln(r + k) - gammaln(r) - gammaln(k + 1) + r * np.log1p(-q) + xlogy(k, q)
            )

        def one(k: float, t_: float) -> float:
            survive = np.exp(s * np.log(beta / (beta + t_)) + log_nb(k, t_))
            death = lambda tau: np.exp(  # noqa: E731
                np.log(s) + s * np.log(beta) - (s + 1) * np.log(beta + tau) + log_nb(k, tau)
            )
            value, _ = integrate.quad(death, 0.0, t_, epsabs=1e-13, epsrel=1e-11, limit=200)
            return float(survive + value)

        n_arr, t_arr = np.broadcast_arrays(as_float(n), as_float(t))
        out = np.vectorize(one, otypes=[np.float64])(n_arr, t_arr)
        return wrap_like(out, n, t)

    def simulate(self, n_customers: int, T: Any, random_state: Any = None) -> pd.DataFrame:
        """Draw a summary of ``n_customers`` new customers from the fitted parameters.

        Parameters
        ----------
        n_customers : int
            Number of customers.
        T : float or array-like of length n_customers
            Each customer's age at the end of observation.
        random_state : None, int or numpy.random.Generator
            Seed; never the global random state.

        Returns
        -------
        pandas.DataFrame
            ``customer_id, frequency, recency, T, alive`` (``alive``: the latent state at T).
        """
        self._check_fitted()
        r, alpha, s, beta = self._theta()
        rng = random_generator(random_state)
        T = np.broadcast_to(as_float(T), (n_customers,)).astype(np.float64)
        lam = rng.gamma(r, 1.0 / alpha, n_customers)
        mu = rng.gamma(s, 1.0 / beta, n_customers)
        death = rng.exponential(1.0 / np.maximum(mu, 1e-300))
        span = np.minimum(death, T)
        x = rng.poisson(lam * span)
        tx = np.where(x > 0, span * rng.beta(np.maximum(x, 1), 1.0), 0.0)
        return pd.DataFrame(
            {
                "customer_id": np.arange(n_customers),
                "frequency": x.astype(np.float64),
                "recency": tx,
                "T": T,
                "alive": death > T,
            }
        )

    def _discounted_purchases(
        self, times: np.ndarray, discounts: np.ndarray, x: Any, tx: Any, T: Any
    ) -> np.ndarray:
        rate = self._rate(x, tx, T)
        growth = self._growth(times[:, None], as_float(T)[None, ...])
        steps = np.diff(growth, axis=0, prepend=0.0)
        return rate * np.einsum("i...,i->...", steps, discounts)


def _log_tail(
    p1: Any, p2: float, u: Any, alpha: float, beta: float, *, grad: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """``log F(u) = log int_u^inf (alpha+tau)^-p1 (beta+tau)^-p2 dtau`` and its gradient.

    The gradient rows are d/dr (through p1), d/dalpha, d/ds (through p2), d/dbeta.
    """
    p1 = as_float(p1)
    u = as_float(u)

    def log_f(q1: Any, q2: Any) -> np.ndarray:
        m = q1 + q2 - 1.0
        if alpha >= beta:
            big, b = alpha, q2
        else:
            big, b = beta, q1
        z = abs(alpha - beta) / (big + u)
        return -m * np.log(big + u) - np.log(m) + log_hyp2f1(m, b, m + 1.0, z)

    base = log_f(p1, p2)
    if not grad:
        return base, None
    h1 = 1e-5 * np.maximum(1.0, p1)
    h2 = 1e-5 * max(1.0, p2)
    d_p1 = (log_f(p1 + h1, p2) - log_f(p1 - h1, p2)) / (2 * h1)
    d_p2 = (log_f(p1, p2 + h2) - log_f(p1, p2 - h2)) / (2 * h2)
    a_u, b_u = alpha + u, beta + u
    spread = abs(alpha - beta)
    if spread > 1e-6 * (max(alpha, beta) + float(np.max(u, initial=0.0))):
        # F(u) = Phi(alpha+u, beta+u) is homogeneous of degree 1-p1-p2 and dPhi/du is minus
        # the integrand: two linear equations give both derivatives without hyp2f1.
        ratio = np.exp(-p1 * np.log(a_u) - p2 * np.log(b_u) - base)  # integrand(u) / F(u)
        d_alpha = (b_u * ratio - (p1 + p2 - 1.0)) / (a_u - b_u)
        d_beta = -ratio - d_alpha
    else:
        d_alpha = -p1 * np.exp(log_f(p1 + 1.0, p2) - base)
        d_beta = -p2 * np.exp(log_f(p1, p2 + 1.0) - base)
    return base, np.stack([d_p1, d_alpha, d_p2, d_beta])


@dataclass
class _Pairs:
    px: np.ndarray  # frequency of each distinct (frequency, time) pair
    pu: np.ndarray  # time of each pair
    it: np.ndarray  # pair of each row's (frequency, recency)
    iT: np.ndarray  # pair of each row's (frequency, T)
    last: tuple[bytes, float, np.ndarray] | None = None  # the last (theta, loglik, gradient)


def _pairs(d: RFTData) -> _Pairs:
    if "pareto_nbd" not in d.cache:
        n = d.n_rows
        x2 = np.concatenate([d.x, d.x])
        u2 = np.concatenate([d.tx, d.T])
        cu, uu = pd.factorize(u2, sort=False)
        codes, kept = pd.factorize(d.xi.astype(np.int64)[np.r_[0:n, 0:n]] * len(uu) + cu)
        first = np.empty(len(kept), dtype=np.intp)
        first[codes[::-1]] = np.arange(2 * n - 1, -1, -1)
        d.cache["pareto_nbd"] = _Pairs(x2[first], u2[first], codes[:n], codes[n:])
    return d.cache["pareto_nbd"]
