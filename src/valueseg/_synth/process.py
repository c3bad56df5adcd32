"""Latent customers and the BG/NBD + Gamma-Gamma purchase process (private).

Time is continuous, in days since the start of the observation window. Each customer is
born (first purchase) at ``birth`` and observed for ``T = window - birth`` days; the process
runs on to the horizon ``H = T + horizon_days`` so the truth can report the future.

Repeat purchases follow Fader, Hardie & Lee (2005) exactly: a Poisson process with rate
``lambda`` while alive; after each *repeat* purchase the customer drops out with probability
``p``, so the number of repeat purchases in an unlimited lifetime is
``N ~ Geometric(p)`` on ``{1, 2, ...}``. On ``[0, H]`` the process has
``K ~ Poisson(lambda * H)`` candidate times, uniform and sorted; the customer makes the first
``min(N, K)`` of them. The first ``M`` order statistics of ``K`` uniforms are drawn without
drawing the other ``K - M``: ``U_(j) = S_j / S_(K+1)`` with ``S`` the partial sums of unit
exponentials and ``S_(K+1) - S_M ~ Gamma(K + 1 - M)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from valueseg._synth.catalog import Catalog
from valueseg._synth.spec import SegmentSpec, seg_array
from valueseg._synth.util import group_sum, sample_rows

#: Smallest purchase rate and dropout probability used, so draws stay finite.
_MIN_RATE = 1e-12
_MIN_PROB = 1e-12


@dataclass(frozen=True)
class Population:
    """Latent attributes of every customer (arrays of length ``n_customers``)."""

    segment: np.ndarray
    archetype: np.ndarray
    birth: np.ndarray  # days since start
    age: np.ndarray  # days observed, T = window - birth
    lam: np.ndarray
    p: np.ndarray
    nu: np.ndarray


@dataclass(frozen=True)
class History:
    """The purchase process run to the horizon.

    ``order_*`` hold the observed orders: every customer's first purchase (in customer
    order), then the repeat purchases made before the end of the window. Per customer:
    ``repeats``, ``future``, ``future_spend``, ``dropout`` (days since start), ``alive``.
    """

    order_customer: np.ndarray
    order_time: np.ndarray
    order_value: np.ndarray
    repeats: np.ndarray
    future: np.ndarray
    future_spend: np.ndarray
    dropout: np.ndarray
    alive: np.ndarray


def draw_births(
    rng: np.random.Generator,
    specs: tuple[SegmentSpec, ...],
    segment: np.ndarray,
    window: float,
) -> np.ndarray:
    """Birth times in days: within each segment's window, density growing linearly.

    The density on the unit interval is proportional to ``1 + g x``; its inverse CDF is
    ``(sqrt(1 + g (2 + g) y) - 1) / g``.
    """
    growth = seg_array(specs, "birth_growth")[segment]
    lo, hi = np.array([spec.birth_window for spec in specs])[segment].T
    y = rng.random(segment.size)
    safe = np.where(growth > 0, growth, 1.0)
    x = np.where(growth > 0, (np.sqrt(1.0 + safe * (2.0 + safe) * y) - 1.0) / safe, y)
    return np.minimum(window * (lo + (hi - lo) * x), np.nextafter(window, 0.0))


def draw_population(
    rng: np.random.Generator,
    specs: tuple[SegmentSpec, ...],
    catalog: Catalog,
    n_customers: int,
    window: float,
) -> Population:
    """Draw segment, archetype, birth and the BG/NBD and Gamma-Gamma latents per customer."""
    shares = np.array([spec.share for spec in specs])
    segment = rng.choice(len(specs), size=n_customers, p=shares / shares.sum())
    archetype = sample_rows(rng, catalog.archetype_prob, segment)
    birth = draw_births(rng, specs, segment, window)
    param = {name: seg_array(specs, name)[segment] for name in ("r", "alpha", "a", "b")}
    lam = rng.gamma(param["r"], 1.0 / param["alpha"])
    lam = np.maximum(lam, _MIN_RATE)
    p = np.maximum(rng.beta(param["a"], param["b"]), _MIN_PROB)
    nu = rng.gamma(seg_array(specs, "q")[segment], 1.0 / seg_array(specs, "gamma")[segment])
    return Population(segment, archetype, birth, window - birth, lam, p, nu)


def repeat_times(
    rng: np.random.Generator, lam: np.ndarray, p: np.ndarray, horizon: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Repeat-purchase times on ``[0, horizon]`` and the dropout time, per customer.

    Returns ``(owner, times, dropout)``: the customer of every repeat purchase, its time since
    birth (grouped by customer, increasing), and each customer's dropout time since birth
    (the time of the ``N``-th repeat purchase, beyond ``horizon`` when ``K < N``).
    """
    lifetime = rng.geometric(p)
    candidates = rng.poisson(lam * horizon)
    made = np.minimum(lifetime, candidates)
    owner = np.repeat(np.arange(lam.size), made)
    partial = np.concatenate(([0.0], np.cumsum(rng.standard_exponential(owner.size))))
    ends = np.cumsum(made)
    before = partial[ends - made]
    sums = partial[1:] - before[owner]
    total = partial[ends] - before + rng.standard_gamma(candidates - made + 1.0)
    times = horizon[owner] * sums / total[owner]
    dropout = np.empty(lam.size)
    beyond = lifetime > candidates
    last = horizon * (partial[ends] - before) / total
    dropout[~beyond] = last[~beyond]
    extra = rng.standard_gamma((lifetime - candidates)[beyond].astype(float))
    dropout[beyond] = horizon[beyond] + extra / lam[beyond]
    return owner, times, dropout


def simulate_history(
    rng: np.random.Generator,
    specs: tuple[SegmentSpec, ...],
    pop: Population,
    horizon_days: float,
) -> History:
    """Run the BG/NBD process to ``T + horizon_days`` and draw every order's value."""
    n = pop.lam.size
    owner, times, dropout = repeat_times(rng, pop.lam, pop.p, pop.age + horizon_days)
    seen = times < pop.age[owner]
    p_spend = seg_array(specs, "p_spend")[pop.segment]
    first_value = rng.standard_gamma(p_spend) / pop.nu
    repeat_value = rng.standard_gamma(p_spend[owner]) / pop.nu[owner]
    # observed orders: the first purchase, then the repeats before the end, per customer
    order_customer = np.concatenate((np.arange(n), owner[seen]))
    order_time = np.concatenate((pop.birth, pop.birth[owner[seen]] + times[seen]))
    order_value = np.concatenate((first_value, repeat_value[seen]))
    future = ~seen
    return History(
        order_customer=order_customer,
        order_time=order_time,
        order_value=order_value,
        repeats=np.bincount(owner[seen], minlength=n),
        future=np.bincount(owner[future], minlength=n),
        future_spend=group_sum(owner[future], repeat_value[future], n),
        dropout=pop.birth + dropout,
        alive=dropout > pop.age,
    )
