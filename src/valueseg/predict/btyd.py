"""What the value models say about the next horizon: churn, purchases, spend, next order.

The BTYD baseline of the churn learners is the value model's probability of **no purchase
in the next** ``t`` periods given the customer's history, not P(alive): BG/NBD calls every
one-time buyer alive, yet most of them will not buy again soon. With ``PA`` = P(alive now)
and the posterior of the purchase rate of an alive customer ``lambda ~ Gamma(r + x,
alpha + T)``:

- BG/NBD and MBG/NBD (dropout only right after a purchase, so an alive customer stays
  alive until the next purchase): ``P0 = 1 - PA + PA * ((alpha+T)/(alpha+T+t))^(r+x)``;
- Pareto/NBD (dropout at rate ``mu ~ Gamma(s, beta + T)`` a posteriori): an alive customer
  makes no purchase in ``(0, t]`` when the lifetime ends first or outlasts ``t`` without a
  purchase: ``P0 = 1 - PA + PA * (S(t) + int_0^t f_death(u) S_buy(u) du)``, the integral by
  Gauss-Legendre quadrature;
- BG/BB (discrete opportunities): the sum over the opportunity of death of the chance of no
  purchase before it, with ``p ~ Beta(alpha + x, beta + n - x)`` and ``theta ~ Beta(gamma,
  delta + n)`` a posteriori.

The **expected next order** is the median of the time to the customer's next purchase:
the ``t`` where ``P0(t) = 1/2`` (:func:`next_order_periods`), so half of such customers
should have ordered by it. It is left empty where ``P0`` never falls to 1/2, that is where
the customer is more likely gone than not (P(alive) < 1/2 for BG/NBD).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln

from valueseg.models import backtest as bt
from valueseg.models._base import PurchaseModel
from valueseg.models.beta_geo import BetaGeo
from valueseg.models.beta_geo_beta_binom import BetaGeoBetaBinom
from valueseg.models.choice import DAYS_PER_PERIOD
from valueseg.models.gamma_gamma import GammaGamma
from valueseg.models.pareto_nbd import ParetoNBD

__all__ = [
    "BTYD_COLUMNS",
    "ValueFit",
    "btyd_columns",
    "fit_value_model",
    "next_order_periods",
    "periods_to_next_order",
    "probability_no_purchase",
    "spend_per_purchase",
    "stay_probability",
    "value_features",
]

#: The value models' outputs that join the learners' features (horizon ``t``).
BTYD_COLUMNS = ("btyd_p_alive", "btyd_expected_purchases", "btyd_p_churn", "btyd_expected_spend")
_NODES = 24  # Gauss-Legendre nodes of the Pareto/NBD integral


def _rft(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(summary[c].to_numpy(np.float64) for c in ("frequency", "recency", "T"))  # type: ignore[return-value]


def probability_no_purchase(
    name: str, model: PurchaseModel[Any], t: Any, summary: pd.DataFrame
) -> np.ndarray:
    """P(no purchase in the next ``t`` periods | history) of each customer of ``summary``.

    ``t`` is one length or one per customer.

    Examples
    --------
    >>> from valueseg.models import BetaGeo
    >>> bg = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> s = pd.DataFrame({"frequency": [0.0, 2.0], "recency": [0.0, 30.4], "T": [38.9, 38.9]})
    >>> probability_no_purchase("bg_nbd", bg, 13.0, s).round(3).tolist()
    [0.938, 0.677]
    """
    alive = bt.p_alive(name, model, summary)
    return _no_purchase(alive, _stay(model, summary, t))


def stay_probability(
    model: PurchaseModel[Any], rft: tuple[np.ndarray, np.ndarray, np.ndarray], t: Any
) -> np.ndarray:
    """P(no purchase in the next ``t`` periods | alive now) from the summary's arrays
    (frequency, recency, T), for every model but BG/BB (its summary counts
    opportunities): what :func:`value_features` reads, for real-time scoring's arrays."""
    return _stay(model, None, t, rft)


def _stay(
    model: PurchaseModel[Any],
    summary: pd.DataFrame | None,
    t: Any,
    rft: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """P(no purchase in the next ``t`` periods | alive now, history); ``rft``: the
    summary's columns when the caller has them already (a bisection calls this 23 times).
    ``summary`` may be None with ``rft`` given, for every model but BG/BB."""
    if rft is None:
        if summary is None:
            raise TypeError("_stay needs the summary or its columns")
        rft = _rft(summary)
    x, _, age = rft
    t = np.broadcast_to(np.asarray(t, np.float64), x.shape)
    params = model.params_
    if isinstance(model, BetaGeoBetaBinom):
        if summary is None:
            raise TypeError("BG/BB reads its summary by opportunity")
        return _bb_no_purchase(params, summary, np.round(t))
    if isinstance(model, ParetoNBD):
        return _pareto_no_purchase(params, x, age, t)
    if isinstance(model, BetaGeo):  # MBG/NBD included
        return np.asarray(np.exp((params["r"] + x) * -np.log1p(t / (params["alpha"] + age))))
    raise TypeError(f"no P(no purchase) for {type(model).__name__}")  # pragma: no cover


def _pareto_no_purchase(
    params: dict[str, float], x: np.ndarray, age: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """P(no purchase in ``(T, T+t]`` | alive at T) under Pareto/NBD's posterior.

    The lifetime ends before ``t`` and before the first purchase, or outlasts ``t`` with
    no purchase. The first part is integrated over ``z = log(1 + u / (beta + T))`` (the
    death density is smooth there, however long ``t``) by Gauss-Legendre quadrature.
    """
    r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
    a_t, b_t = alpha + age, beta + age
    nodes, weights = _gauss_legendre(_NODES)
    top = np.log1p(t / b_t)[:, None]
    z = (nodes + 1.0) / 2.0 * top  # nodes on (0, top)
    u = b_t[:, None] * np.expm1(z)
    buy_survival = np.exp(-(r + x)[:, None] * np.log1p(u / a_t[:, None]))
    died_first = ((s * np.exp(-s * z) * buy_survival) @ weights) * top[:, 0] / 2.0
    lives_on = np.exp(-(r + x) * np.log1p(t / a_t) - s * np.log1p(t / b_t))
    return np.asarray(died_first + lives_on)


@functools.cache
def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on (-1, 1), computed once per ``n`` (an
    eigenvalue problem: a tenth of a one-customer rescoring when computed per call)."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    nodes.flags.writeable = weights.flags.writeable = False
    return nodes, weights


def _bb_no_purchase(params: dict[str, float], summary: pd.DataFrame, t: np.ndarray) -> np.ndarray:
    """P(no purchase in the next ``t`` opportunities | alive) under BG/BB's posterior."""
    a, b, g, d = (params[k] for k in ("alpha", "beta", "gamma", "delta"))
    bb = bt.bb_summary(summary)
    x, n = bb["frequency"].to_numpy(np.float64), bb["n_periods"].to_numpy(np.float64)
    total = np.zeros_like(x)
    for i in range(1, int(t.max(initial=0)) + 1):  # dies at opportunity i, none bought before
        log_die = betaln(g + 1, d + n + i - 1) - betaln(g, d + n)
        log_none = betaln(a + x, b + n - x + i - 1) - betaln(a + x, b + n - x)
        total += np.where(i <= t, np.exp(log_die + log_none), 0.0)
    log_live = betaln(g, d + n + t) - betaln(g, d + n)
    log_none = betaln(a + x, b + n - x + t) - betaln(a + x, b + n - x)
    return np.asarray(total + np.exp(log_live + log_none))


def next_order_periods(
    name: str, model: PurchaseModel[Any], summary: pd.DataFrame, *, max_periods: float = 1e4
) -> np.ndarray:
    """Periods to the median of the next order: where P(no purchase by then) is 1/2.

    NaN where that chance stays above 1/2 for ``max_periods`` (the customer is more likely
    gone than not). For BG/NBD and MBG/NBD in closed form, with ``PA`` = P(alive):
    ``(alpha + T) * ((1 - 1 / (2 PA))^(-1/(r+x)) - 1)``; for the others by bisection.

    Examples
    --------
    >>> from valueseg.models import BetaGeo
    >>> bg = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> s = pd.DataFrame({"frequency": [0.0, 2.0, 2.0], "recency": [0.0, 30.4, 1.0],
    ...                   "T": [38.9, 38.9, 38.9]})
    >>> wait = next_order_periods("bg_nbd", bg, s)
    >>> wait.round(1).tolist()
    [707.3, 29.6, nan]
    >>> probability_no_purchase("bg_nbd", bg, wait[:2], s.iloc[:2]).round(6).tolist()
    [0.5, 0.5]
    """
    alive = bt.p_alive(name, model, summary)
    discrete = summary if isinstance(model, BetaGeoBetaBinom) else None
    return _next_periods(model, _rft(summary), alive, max_periods, discrete)


def periods_to_next_order(
    model: PurchaseModel[Any],
    rft: tuple[np.ndarray, np.ndarray, np.ndarray],
    alive: np.ndarray,
    *,
    max_periods: float = 1e4,
) -> np.ndarray:
    """:func:`next_order_periods` from the summary's arrays (frequency, recency, T) and
    P(alive), for every model but BG/BB (its summary counts opportunities): real-time
    scoring's few customers, where a frame costs more than the arithmetic."""
    if isinstance(model, BetaGeoBetaBinom):
        raise TypeError("BG/BB reads its summary by opportunity: use next_order_periods")
    return _next_periods(model, rft, alive, max_periods, None)


def _next_periods(
    model: PurchaseModel[Any],
    rft: tuple[np.ndarray, np.ndarray, np.ndarray],
    alive: np.ndarray,
    max_periods: float,
    summary: pd.DataFrame | None,
) -> np.ndarray:
    """:func:`next_order_periods`; ``summary``: BG/BB's (its chance reads it), else None."""
    x, _, age = rft
    wait = np.full(len(x), np.nan)
    live = alive > 0.5
    if isinstance(model, BetaGeo):
        params = model.params_
        with np.errstate(all="ignore"):
            stay = 1.0 - 0.5 / alive[live]
            wait[live] = (params["alpha"] + age[live]) * np.expm1(
                -np.log(stay) / (params["r"] + x[live])
            )
    elif live.any():
        part = None if summary is None else summary[live]
        some = (rft[0][live], rft[1][live], rft[2][live])
        wait[live] = _bisect(model, part, some, alive[live], max_periods)
    return np.where(wait <= max_periods, wait, np.nan)


#: The halvings of the bisection: ``log t`` to 4e-6, a day's precision on any date before
#: 2**22 days.
_HALVINGS = 22
#: Customers up to which the bisection takes 4 halvings a call (:func:`_split`).
_FEW = 64
#: Halvings taken a call for those few customers: each bracket cut in 2**_BITS.
_BITS = 4


def _bisect(
    model: PurchaseModel[Any],
    summary: pd.DataFrame | None,
    rft: tuple[np.ndarray, np.ndarray, np.ndarray],
    alive: np.ndarray,
    max_periods: float,
) -> np.ndarray:
    """The ``t`` where ``1 - PA + PA * stay(t) = 1/2``, by bisection on ``log t``."""
    lo = np.full(len(alive), np.log(1e-3))
    hi = np.full(len(alive), np.log(max_periods))
    target = 1.0 - 0.5 / alive  # stay(t) falls from 1: find where it reaches this
    never = _stay(model, summary, np.exp(hi), rft) > target
    discrete = isinstance(model, BetaGeoBetaBinom)
    if not discrete and len(alive) <= _FEW:
        hi = _split(model, rft, target, lo, hi)
    else:
        for _ in range(_HALVINGS):
            mid = (lo + hi) / 2
            t = np.ceil(np.exp(mid)) if discrete else np.exp(mid)
            reached = _stay(model, summary, t, rft) <= target
            hi, lo = np.where(reached, mid, hi), np.where(reached, lo, mid)
    out = np.ceil(np.exp(hi)) if discrete else np.exp(hi)
    return np.where(never, np.nan, out)


def _split(
    model: PurchaseModel[Any],
    rft: tuple[np.ndarray, np.ndarray, np.ndarray],
    target: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
) -> np.ndarray:
    """:func:`_bisect`'s upper ends after its halvings, taken 4 at a time: each bracket is
    cut in 16 and the chance computed at the 15 cuts of every customer in one call. For
    a few customers (real-time scoring) a call's cost is its overhead, not its arithmetic:
    6 calls instead of 22, the same brackets (the cuts are the bisection's midpoints)."""
    left = _HALVINGS
    x, tx, age = rft
    many: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # repeated at the cuts
    while left > 0:
        bits = min(_BITS, left)
        parts = 1 << bits
        width = (hi - lo) / parts
        cuts = lo[:, None] + width[:, None] * np.arange(1, parts)
        if parts not in many:
            k = parts - 1
            many[parts] = (np.repeat(x, k), np.repeat(tx, k), np.repeat(age, k))
        stay = _stay(model, None, np.exp(cuts).ravel(), many[parts]).reshape(cuts.shape)
        # the first cut where the chance is reached (stay falls with t); none: the last part
        first = np.count_nonzero(stay > target[:, None], axis=1)
        lo, hi = lo + width * first, np.where(first < parts - 1, lo + width * (first + 1), hi)
        left -= bits
    return hi


@dataclass
class ValueFit:
    """A purchase model (and spend model) fitted on one cutoff's summary."""

    name: str
    model: PurchaseModel[Any]
    spend_model: GammaGamma | None
    caveat: str | None = None


def fit_value_model(name: str, summary: pd.DataFrame) -> tuple[ValueFit | None, str | None]:
    """Fit purchase model ``name`` (and Gamma-Gamma) on ``summary``; (fit, None) or (None, why).

    A fit that does not converge is kept with its caveat when it predicts finite numbers,
    as the value stage does when nothing converges: the baseline must score everyone.
    """
    model, why = bt.fit_one(name, summary, strict=False)
    if model is None:
        return None, why
    spend, _ = bt.fit_spend(summary)
    return ValueFit(name, model, spend, why), None


def value_features(
    fit: ValueFit, summary: pd.DataFrame, horizon_days: float, freq: str
) -> pd.DataFrame:
    """The value model's outputs for the next ``horizon_days`` (:data:`BTYD_COLUMNS`).

    ``btyd_expected_spend`` is expected purchases times Gamma-Gamma's expected spend per
    purchase (the customer's own mean order, or the shop's, without a spend model).
    """
    t = horizon_days / DAYS_PER_PERIOD[freq]
    x = summary["frequency"].to_numpy(np.float64)
    m = summary["monetary_value"].to_numpy(np.float64)
    with np.errstate(all="ignore"):
        out = btyd_columns(
            bt.p_alive(fit.name, fit.model, summary),
            bt.predict_purchases(fit.name, fit.model, t, summary),
            _stay(fit.model, summary, t),
            spend_per_purchase(fit.spend_model, x, m),
        )
    return pd.DataFrame(out, index=summary.index)


def btyd_columns(
    alive: np.ndarray, purchases: np.ndarray, stay: np.ndarray, per_order: np.ndarray
) -> dict[str, np.ndarray]:
    """:data:`BTYD_COLUMNS` from P(alive), the expected purchases in the horizon, P(no
    purchase in it | alive) and the expected spend per purchase: what
    :func:`value_features` gives, and real-time scoring computes from arrays."""
    return {
        "btyd_p_alive": alive,
        "btyd_expected_purchases": purchases,
        "btyd_p_churn": _no_purchase(alive, stay),
        "btyd_expected_spend": purchases * per_order,
    }


def _no_purchase(alive: np.ndarray, stay: np.ndarray) -> np.ndarray:
    """P(no purchase) = P(gone) + P(alive) * P(no purchase | alive)."""
    return np.clip(1.0 - alive + alive * stay, 0.0, 1.0)


def spend_per_purchase(spend_model: GammaGamma | None, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Expected spend per purchase of customers with ``x`` repeat purchases of mean ``m``:
    Gamma-Gamma's, or without one the customer's own mean (repeat buyers with a positive
    one), else the mean of those."""
    if spend_model is not None:
        return np.asarray(spend_model.conditional_expected_average_profit(x, m), np.float64)
    repeat = (x > 0) & (m > 0)
    shop_mean = float(m[repeat].mean()) if repeat.any() else 0.0
    return np.where(repeat, m, shop_mean)
