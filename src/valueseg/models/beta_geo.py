"""BG/NBD: the beta-geometric / negative binomial purchase model (Fader, Hardie & Lee 2005).

Each customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)`` while alive and, right after
each repeat purchase, leaves for good with probability ``p ~ Beta(a, b)``. The model is fitted
on ``frequency`` (repeat purchases, x), ``recency`` (time of the last purchase, t_x) and ``T``
(age), all measured from the customer's first purchase in the summary's time unit.

Several orders in one period count as one purchase: the summary (like lifetimes') counts
distinct purchase periods, so with daily periods two orders on one day are one purchase.
That keeps the numbers equal to lifetimes' and to the literature's CDNOW results; summarise
with a finer period (e.g. ``freq="h"``, ``freq_multiplier=24``) to count them apart.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way:
An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2008). Computing P(alive) using the BG/NBD
model. http://www.brucehardie.com/notes/021/
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import betainc, betaln, digamma, expit, gammaln, xlogy

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

__all__ = ["BetaGeo"]


class BetaGeo(PurchaseModel[RFTData]):
    """BG/NBD model of repeat purchases and dropout, fitted by maximum likelihood.

    Parameters
    ----------
    penalizer_coef : float, default 0.0
        L2 penalty on the parameters added to the mean negative log-likelihood, with
        ``alpha`` measured in units of the longest ``T`` (lifetimes' convention).
    n_starts : int, default 2
        Number of starting points optimised (the best of a small grid); the best optimum wins.
    tol : float, default 1e-7
        Gradient tolerance of L-BFGS-B on the mean negative log-likelihood (log-parameters);
        Newton steps then polish the optimum well below it.
    max_iter : int, default 1000
        Iteration limit per start.
    collapse : bool, default True
        Merge identical (frequency, recency, T) rows into weights before fitting; the result
        is the same, only faster.
    on_failure : {"raise", "warn"}, default "raise"
        What to do when the fit does not converge or lands on a parameter boundary:
        raise :class:`ConvergenceError` or warn and keep the parameters. A search that
        fails numerically has no parameters to keep and raises either way. A fit that
        raises leaves the model as it was (unfitted, or with its previous fit).

    Attributes
    ----------
    params_ : dict
        ``r, alpha, a, b``; ``alpha`` is in the summary's time unit.
    loglik_ : float
        Total log-likelihood (sum over customers) at ``params_``, without the penalty.
    standard_errors_ : dict
        From the inverse of the observed information (Hessian of the negative
        log-likelihood in the natural parameters); ``covariance_`` holds the whole matrix.
    aic_, bic_ : float
        Information criteria from ``loglik_``; ``bic_`` uses the number of customers.
    converged_ : bool
        Gradient at zero, Hessian positive definite and no parameter at its bound.
    n_iter_ : int
        Optimiser iterations of the winning start, Newton polishing steps included.
    n_customers_ : float
        Sum of the weights (number of customers); ``n_rows_`` distinct rows were fitted.

    Examples
    --------
    >>> from valueseg.models import BetaGeo
    >>> truth = BetaGeo.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5)
    >>> summary = truth.simulate(20_000, T=52.0, random_state=1)
    >>> model = BetaGeo().fit(summary)
    >>> {k: round(v, 1) for k, v in model.params_.items()}
    {'r': 0.3, 'alpha': 4.1, 'a': 0.7, 'b': 2.2}
    >>> round(float(model.probability_alive(2, 30.0, 52.0)), 3)
    0.591
    >>> round(float(model.expected_purchases(10.0, 2, 30.0, 52.0)), 3)
    0.228

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _time_params: ClassVar[tuple[str, ...]] = ("alpha",)
    _columns: ClassVar[tuple[str, ...]] = RFT_COLUMNS
    _alternatives: ClassVar[str] = "ParetoNBD or ModifiedBetaGeo"
    #: 1 for MBG/NBD, where a customer may also leave right after the first purchase.
    _shift: ClassVar[float] = 0.0

    # ---- likelihood

    def _prepare(self, frame: pd.DataFrame, weights: np.ndarray | None) -> RFTData:
        return read_rft(frame, weights, type(self).__name__, self.collapse)

    def _check_identifiable(self, data: RFTData) -> None:
        check_identifiable(data, type(self).__name__)

    def _starts(self, data: RFTData) -> list[np.ndarray]:
        rate = dot(data.w, data.x) / dot(data.w, data.T)
        out = []
        for r in (0.3, 1.0):
            for boost in (1.0, 3.0):
                for a in (0.5, 1.5):
                    for b in (1.0, 4.0):
                        out.append(np.array([r, r / (rate * boost), a, b]))
        return out

    def _loglik(self, theta: np.ndarray, d: RFTData) -> tuple[float, np.ndarray]:
        r, alpha, a, b = theta
        s = self._shift
        k = _dropout_rows(d, s)
        xu, n = d.xu, d.n
        # terms of the frequency only: once per distinct frequency
        bx = b + xu + s
        lg = gammaln(r + xu) - gammaln(r) + betaln(a, bx) - betaln(a, b)
        psi_abx = digamma(a + bx)
        # BG/NBD: the dropout term exists for repeat buyers only (x > 0)
        den = bx - 1.0 if s else np.where(xu > 0, bx - 1.0, 1.0)
        inv_den = 1.0 / den if s else np.where(xu > 0, 1.0 / den, 0.0)
        c = np.log(a) - np.log(den)
        # -(r + x) log(alpha + T): once per distinct T
        log_T = np.log(alpha + k.Tu)
        coef_T = r * k.wT + k.wxT
        ll = dot(d.wx, lg) + n * r * np.log(alpha) - dot(coef_T, log_T)
        g_r = dot(d.wx, digamma(r + xu) - digamma(r)) + n * np.log(alpha) - dot(k.wT, log_T)
        g_alpha = n * r / alpha - dot(coef_T, 1.0 / (alpha + k.Tu))
        g_a = n * digamma(a + b) - dot(d.wx, psi_abx)
        g_b = dot(d.wx, digamma(bx) - psi_abx) - n * (digamma(b) - digamma(a + b))
        # log(1 + exp(odds)) of dying after the last purchase: per distinct row
        a_T = alpha + k.T
        a_t = alpha + k.tx
        diff = np.log(a_T / a_t)
        rx = r + k.x
        odds = c[k.xi] + rx * diff
        soft, prob = softplus_sigmoid(odds)
        wpi = k.w * prob
        ll += dot(k.w, soft)
        g_r += dot(wpi, diff)
        g_alpha += dot(wpi, rx * k.tx_T / (a_T * a_t))
        g_a += wpi.sum() / a
        g_b -= dot(np.bincount(k.xi, weights=wpi, minlength=len(xu)), inv_den)
        return float(ll), np.array([g_r, g_alpha, g_a, g_b])

    # ---- predictions

    def _log_odds_dead(self, x: Any, tx: Any, T: Any) -> np.ndarray:
        r, alpha, a, b = self._theta()
        x, tx, T = as_float(x), as_float(tx), as_float(T)
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = (
                np.log(a)
                - np.log(b + x - 1 + self._shift)
                + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
            )
        if self._shift == 0:
            odds = np.where(x > 0, odds, -np.inf)
        return odds

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        """Probability that a customer with this history is still alive at ``T``.

        Parameters
        ----------
        frequency, recency, T : float or array-like
            The customer's summary (broadcast together).

        Returns
        -------
        float, numpy.ndarray or pandas.Series
            Shaped like the broadcast inputs (a Series when an input is one).
        """
        self._check_fitted()
        out = expit(-self._log_odds_dead(frequency, recency, T))
        return wrap_like(out, frequency, recency, T)

    def _growth(self, t: Any, x: Any, T: Any) -> np.ndarray:
        """``1 - H`` of E[purchases in (T, T+t]] = coef * P(alive) * (1 - H)."""
        r, alpha, a, b = self._theta()
        s = self._shift
        t, x, T = as_float(t), as_float(x), as_float(T)
        z = t / (alpha + T + t)
        # Euler's transformation of FHL (10): bounded parameters, no overflow at large x;
        # in log space, where both factors may leave the float range at large parameters.
        log_h = (a - 1) * np.log1p(-z) + log_hyp2f1(a + b - 1 + s - r, a - 1, a + b + x - 1 + s, z)
        return -np.expm1(log_h)

    def _coef(self, x: np.ndarray) -> np.ndarray:
        _, _, a, b = self._theta()
        return (a + b + x - 1 + self._shift) / (a - 1)

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
        x = as_float(frequency)
        alive = expit(-self._log_odds_dead(x, recency, T))
        out = self._coef(x) * alive * self._growth(t, x, T)
        return wrap_like(out, t, frequency, recency, T)

    def expected_purchases_new_customer(self, t: Any) -> Any:
        """Expected number of repeat purchases in ``(0, t]`` of a customer just acquired.

        Examples
        --------
        >>> from valueseg.models import BetaGeo
        >>> m = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> round(m.expected_purchases_new_customer(39.0), 4)
        1.1967
        """
        self._check_fitted()
        zero = np.zeros_like(as_float(t))
        out = self._coef(zero) * expit(-self._log_odds_dead(zero, zero, zero))
        return wrap_like(out * self._growth(t, zero, zero), t)

    def probability_of_purchases(self, n: Any, t: Any) -> Any:
        """Probability that a new customer makes exactly ``n`` repeat purchases in ``(0, t]``.

        Examples
        --------
        >>> from valueseg.models import BetaGeo
        >>> m = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> p = m.probability_of_purchases(np.arange(200), 39.0)
        >>> round(float(p[0]), 4), round(float(p.sum()), 6)
        (0.5738, 1.0)
        """
        self._check_fitted()
        r, alpha, a, b = self._theta()
        s = self._shift
        n, t = as_float(n), as_float(t)
        q = t / (alpha + t)
        log_nb = gammaln(r + n) - gammaln(r) - gammaln(n + 1) + r * np.log1p(-q) + xlogy(n, q)
        stay = np.exp(betaln(a, b + n + s) - betaln(a, b) + log_nb)
        with np.errstate(invalid="ignore", divide="ignore"):
            leave = np.exp(betaln(a + 1, b + n - 1 + s) - betaln(a, b)) * betainc(n, r, q)
        if s == 0:
            leave = np.where(n > 0, leave, 0.0)
        return wrap_like(stay + leave, n, t)

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
        r, alpha, a, b = self._theta()
        rng = random_generator(random_state)
        T = np.broadcast_to(as_float(T), (n_customers,)).astype(np.float64)
        lam = rng.gamma(r, 1.0 / alpha, n_customers)
        p = rng.beta(a, b, n_customers)
        arrivals = rng.poisson(lam * T)
        # repeat purchases made before leaving (MBG: may leave after the first purchase)
        budget = rng.geometric(np.clip(p, 1e-300, 1.0)) - int(self._shift)
        x = np.minimum(arrivals, budget)
        # the x-th of `arrivals` uniform purchase times
        order = rng.beta(np.maximum(x, 1), np.maximum(arrivals - x + 1, 1))
        tx = np.where(x > 0, T * order, 0.0)
        return pd.DataFrame(
            {
                "customer_id": np.arange(n_customers),
                "frequency": x.astype(np.float64),
                "recency": tx,
                "T": T,
                "alive": budget > arrivals,
            }
        )

    def _discounted_purchases(
        self, times: np.ndarray, discounts: np.ndarray, x: Any, tx: Any, T: Any
    ) -> np.ndarray:
        """``sum_i discounts[i] * (E[N(times[i])] - E[N(times[i-1])])`` per customer.

        The hypergeometric part depends on (frequency, T) only: computed once per pair.
        """
        x, tx, T = np.broadcast_arrays(as_float(x), as_float(tx), as_float(T))
        codes, pairs = _pairs(x, T)
        xs, Ts = pairs
        growth = self._growth(times[None, :], xs[:, None], Ts[:, None])
        steps = np.diff(growth, axis=1, prepend=0.0)
        per_pair = np.einsum("ij,j->i", steps, discounts)
        alive = expit(-self._log_odds_dead(x, tx, T))
        return self._coef(x) * alive * per_pair[codes]


def _pairs(x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Codes of the distinct (x, T) pairs and the pairs themselves."""
    cx, ux = pd.factorize(x.ravel(), sort=False)
    cT, uT = pd.factorize(T.ravel(), sort=False)
    codes, uniq = pd.factorize(cx.astype(np.int64) * len(uT) + cT, sort=False)
    return codes.reshape(x.shape), (
        np.asarray(ux, dtype=np.float64)[uniq // len(uT)],
        np.asarray(uT, dtype=np.float64)[uniq % len(uT)],
    )


@dataclass
class _DropoutRows:
    Tu: np.ndarray  # distinct T
    wT: np.ndarray  # weight per distinct T
    wxT: np.ndarray  # weight x frequency per distinct T
    x: np.ndarray  # rows that carry the dropout term (BG: repeat buyers; MBG: all)
    tx: np.ndarray
    T: np.ndarray
    tx_T: np.ndarray  # recency - T
    w: np.ndarray
    xi: np.ndarray


def _dropout_rows(d: RFTData, shift: float) -> _DropoutRows:
    """Per-fit constants of the BG/MBG likelihood, computed once and kept on the data."""
    key = f"beta_geo_{shift}"
    if key not in d.cache:
        Ti, Tu = pd.factorize(d.T, sort=False)
        keep = slice(None) if shift else d.x > 0
        d.cache[key] = _DropoutRows(
            Tu=np.asarray(Tu, dtype=np.float64),
            wT=np.bincount(Ti, weights=d.w, minlength=len(Tu)),
            wxT=np.bincount(Ti, weights=d.w * d.x, minlength=len(Tu)),
            x=d.x[keep],
            tx=d.tx[keep],
            T=d.T[keep],
            tx_T=d.tx[keep] - d.T[keep],
            w=d.w[keep],
            xi=d.xi[keep],
        )
    return d.cache[key]
