"""Segment definitions and fixed vocabularies of the synthetic shop (private).

Every number that shapes the generated shop lives here, so :func:`valueseg.synth.make_shop`
can copy them into ``Shop.params`` and a test can recompute what the process should give.
Rates are per day; money is in the shop's currency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CATEGORIES: tuple[str, ...] = (
    "electronics",
    "home",
    "kitchen",
    "fashion",
    "shoes",
    "beauty",
    "sports",
    "toys",
    "books",
    "grocery",
    "garden",
    "pets",
)
#: Median base price per category, same order as ``CATEGORIES``.
CATEGORY_PRICE: tuple[float, ...] = (80, 35, 25, 30, 55, 15, 40, 20, 12, 6, 28, 14)
#: Relative number of products per category, same order as ``CATEGORIES``.
CATEGORY_SIZE: tuple[float, ...] = (12, 10, 8, 14, 7, 9, 8, 8, 10, 6, 4, 4)

AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
GENDERS: tuple[str, ...] = ("female", "male", "unspecified")
REGIONS: tuple[str, ...] = ("north", "south", "east", "west", "central")
CHANNELS: tuple[str, ...] = ("web", "app", "store")
EVENT_TYPES: tuple[str, ...] = ("view", "cart", "purchase", "search", "review")
#: Discount rates a discounted line gets, and how often each is used.
DISCOUNT_RATES: tuple[float, ...] = (0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50)
DISCOUNT_WEIGHTS: tuple[float, ...] = (2, 4, 3, 4, 2, 2, 1, 1)
#: Relative order volume per hour of the day (0-23), used for time-of-day.
HOURLY_WEIGHTS: tuple[float, ...] = (
    *(0.5, 0.3, 0.2, 0.15, 0.15, 0.25, 0.5, 0.9, 1.2, 1.4, 1.5, 1.6),
    *(1.7, 1.6, 1.5, 1.5, 1.6, 1.8, 2.0, 2.2, 2.3, 2.0, 1.5, 0.9),
)

N_PRODUCTS = 1_500
N_ARCHETYPES = 40
TASTE_DIM = 8
#: Softmax temperature of the archetype taste over products.
TEMPERATURE = 0.6
#: Weight of the archetype taste in the product choice; the rest follows the segment's
#: category mix (products within a category by popularity).
TASTE_WEIGHT = 0.5
#: Length of the pull of an archetype's taste towards its home segment's categories
#: (the random part of the taste vector has length ~1).
ARCHETYPE_LEAN = 1.0
#: Probability mass a segment puts on its own block of archetypes.
HOME_ARCHETYPE_MASS = 0.9


@dataclass(frozen=True)
class SegmentSpec:
    """Latent and behavioural parameters of one planted segment.

    BG/NBD: ``lambda ~ Gamma(shape=r, rate=alpha)`` per day, ``p ~ Beta(a, b)``.
    Gamma-Gamma: ``nu ~ Gamma(shape=q, rate=gamma)``, order value ``~ Gamma(p_spend, nu)``.
    """

    name: str
    share: float
    r: float
    alpha: float
    a: float
    b: float
    p_spend: float
    q: float
    gamma: float
    birth_window: tuple[float, float]  # fraction of the observation window
    birth_growth: float  # density of births grows linearly by this factor over the window
    extra_lines: float  # Poisson mean of order lines beyond the first
    discount_prob: float  # probability that an order line is discounted
    views_per_line: float  # Poisson mean of extra product views before a purchased line
    browse_rate: float  # browse-only sessions per day while alive
    browse_views: float  # Poisson mean of extra views per browse session
    search_rate: float  # Poisson mean of searches per browse session
    cart_prob: float  # probability that a browse view is followed by an (abandoned) cart add
    view_seconds: float  # median view duration
    return_prob: float  # probability that a purchased line is later returned
    review_prob: float  # probability that a purchased line is reviewed
    signup_lead_days: float  # mean days from signup to first purchase
    channel: tuple[float, ...]  # over CHANNELS
    category_mix: tuple[float, ...]  # over CATEGORIES
    age: tuple[float, ...]  # over AGE_BANDS
    gender: tuple[float, ...]  # over GENDERS
    region: tuple[float, ...]  # over REGIONS

    @property
    def mean_order_value(self) -> float:
        """Gamma-Gamma mean order value ``p_spend * gamma / (q - 1)``."""
        return self.p_spend * self.gamma / (self.q - 1.0)


SEGMENTS: tuple[SegmentSpec, ...] = (
    SegmentSpec(
        name="bargain_hunters",
        share=0.25,
        r=1.5,
        alpha=50.0,
        a=2.5,
        b=10.0,  # a purchase every ~5 weeks, p ~ 0.20
        p_spend=5.0,
        q=8.0,
        gamma=35.0,  # mean order 25
        birth_window=(0.0, 1.0),
        birth_growth=0.5,
        extra_lines=0.8,
        discount_prob=0.85,
        views_per_line=0.4,
        browse_rate=0.008,
        browse_views=1.5,
        search_rate=0.6,
        cart_prob=0.30,
        view_seconds=25.0,
        return_prob=0.05,
        review_prob=0.04,
        signup_lead_days=10.0,
        channel=(0.60, 0.35, 0.05),
        category_mix=(0.2, 3, 4, 0.2, 0.2, 0.5, 0.2, 0.5, 0.2, 8, 0.5, 5),
        age=(0.15, 0.25, 0.25, 0.15, 0.12, 0.08),
        gender=(0.55, 0.42, 0.03),
        region=(0.30, 0.25, 0.15, 0.15, 0.15),
    ),
    SegmentSpec(
        name="loyal_big_spenders",
        share=0.10,
        r=3.0,
        alpha=60.0,
        a=1.5,
        b=40.0,  # a purchase every ~3 weeks, p ~ 0.036
        p_spend=7.0,
        q=10.0,
        gamma=225.0,  # mean order 175
        birth_window=(0.0, 1.0),
        birth_growth=0.3,
        extra_lines=1.0,
        discount_prob=0.05,
        views_per_line=0.1,
        browse_rate=0.008,
        browse_views=1.0,
        search_rate=0.2,
        cart_prob=0.20,
        view_seconds=15.0,
        return_prob=0.02,
        review_prob=0.08,
        signup_lead_days=30.0,
        channel=(0.15, 0.80, 0.05),
        category_mix=(7, 0.2, 0.2, 2, 4, 0.5, 5, 0.2, 0.2, 0.2, 0.2, 0.2),
        age=(0.04, 0.22, 0.36, 0.25, 0.09, 0.04),
        gender=(0.45, 0.52, 0.03),
        region=(0.15, 0.15, 0.20, 0.15, 0.35),
    ),
    SegmentSpec(
        name="one_time_buyers",
        share=0.30,
        r=0.4,
        alpha=250.0,
        a=4.0,
        b=2.0,  # ~0.6 purchases a year, p ~ 0.67
        p_spend=4.0,
        q=7.0,
        gamma=90.0,  # mean order 60
        birth_window=(0.0, 1.0),
        birth_growth=0.6,
        extra_lines=0.5,
        discount_prob=0.12,
        views_per_line=0.2,
        browse_rate=0.002,
        browse_views=1.0,
        search_rate=0.5,
        cart_prob=0.15,
        view_seconds=20.0,
        return_prob=0.03,
        review_prob=0.03,
        signup_lead_days=1.0,
        channel=(0.25, 0.05, 0.70),
        category_mix=(0.5, 0.2, 0.2, 0.2, 0.2, 2, 0.2, 7, 6, 0.2, 0.2, 0.2),
        age=(0.15, 0.20, 0.20, 0.18, 0.15, 0.12),
        gender=(0.50, 0.46, 0.04),
        region=(0.20, 0.30, 0.25, 0.15, 0.10),
    ),
    SegmentSpec(
        name="browsers",
        share=0.20,
        r=0.6,
        alpha=180.0,
        a=2.0,
        b=6.0,  # ~1.2 purchases a year, p ~ 0.25
        p_spend=4.0,
        q=7.0,
        gamma=60.0,  # mean order 40
        birth_window=(0.0, 1.0),
        birth_growth=0.5,
        extra_lines=0.6,
        discount_prob=0.20,
        views_per_line=4.0,
        browse_rate=0.030,
        browse_views=2.0,
        search_rate=1.0,
        cart_prob=0.12,
        view_seconds=45.0,
        return_prob=0.04,
        review_prob=0.02,
        signup_lead_days=60.0,
        channel=(0.40, 0.57, 0.03),
        category_mix=(0.5, 0.2, 0.2, 7, 4, 6, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2),
        age=(0.40, 0.35, 0.13, 0.07, 0.04, 0.01),
        gender=(0.58, 0.37, 0.05),
        region=(0.15, 0.15, 0.30, 0.30, 0.10),
    ),
    SegmentSpec(
        name="lapsed_vips",
        share=0.15,
        r=3.0,
        alpha=60.0,
        a=4.0,
        b=16.0,  # a purchase every ~3 weeks, p ~ 0.2: most leave
        p_spend=6.0,
        q=9.0,
        gamma=168.0,  # mean order 126
        birth_window=(0.0, 0.45),
        birth_growth=0.0,
        extra_lines=1.0,
        discount_prob=0.10,
        views_per_line=0.2,
        browse_rate=0.004,
        browse_views=1.0,
        search_rate=0.4,
        cart_prob=0.20,
        view_seconds=20.0,
        return_prob=0.02,
        review_prob=0.06,
        signup_lead_days=20.0,
        channel=(0.80, 0.08, 0.12),
        category_mix=(2, 5, 3, 0.2, 0.2, 0.2, 0.5, 0.2, 0.2, 0.2, 6, 0.2),
        age=(0.02, 0.08, 0.20, 0.30, 0.25, 0.15),
        gender=(0.48, 0.49, 0.03),
        region=(0.25, 0.20, 0.15, 0.25, 0.15),
    ),
)


def seg_array(specs: tuple[SegmentSpec, ...], name: str) -> np.ndarray:
    """One attribute of every segment as an array indexed by segment code.

    Examples
    --------
    >>> seg_array(SEGMENTS, "share").tolist()
    [0.25, 0.1, 0.3, 0.2, 0.15]
    """
    return np.array([getattr(spec, name) for spec in specs], dtype=float)
