"""The synthetic shop's own best guess: its true segments' BG/NBD models, weighed per customer.

A shop from :func:`valueseg.synth.make_shop` draws each customer from a segment (a share, a
birth window, BG/NBD parameters). Given a customer's summary, the posterior over segments is
share × birth density × the BG/NBD likelihood of the history; predictions average the true
segments' models by it. No model fitted to the data can expect to beat it: the benchmarks and
acceptance tests measure learners and value models against it (``bench/value_truth.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import betaln, gammaln, logsumexp

from valueseg.models import BetaGeo

if TYPE_CHECKING:
    from valueseg.synth import Shop

RFT = ["frequency", "recency", "T"]


def bg_loglik(model: BetaGeo, d: pd.DataFrame) -> np.ndarray:
    """Each customer's BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6)."""
    r, alpha, a, b = (model.params_[k] for k in ("r", "alpha", "a", "b"))
    x, tx, age = (d[c].to_numpy(np.float64) for c in RFT)
    base = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    alive = -(r + x) * np.log(alpha + age)
    with np.errstate(divide="ignore", invalid="ignore"):
        gone = np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + tx)
    result: np.ndarray = base + np.logaddexp(alive, np.where(x > 0, gone, -np.inf))
    return result


def oracle_prior(shop: Shop, d: pd.DataFrame, observation_end: datetime) -> np.ndarray:
    """Log of share × birth density of each true segment, per customer (customers × segments)."""
    start = pd.Timestamp(shop.params["start"])
    window = (pd.Timestamp(shop.params["as_of"]) - start).days
    birth = ((pd.Timestamp(observation_end) - start).days - d["T"].to_numpy()) / window
    out = []
    for spec in shop.params["segments"].values():
        lo, hi = spec["birth_window"]
        growth = spec["birth_growth"]
        u = (birth - lo) / (hi - lo)
        slack = 2.0 / window / (hi - lo)  # whole-day periods move a birth by up to a day
        inside = (u > -slack) & (u < 1 + slack)
        density = (1 + growth * np.clip(u, 0, 1)) / (1 + growth / 2) / (hi - lo)
        with np.errstate(divide="ignore"):
            out.append(np.log(spec["share"]) + np.where(inside, np.log(density), -np.inf))
    return np.column_stack(out)


def oracle_models(shop: Shop) -> list[BetaGeo]:
    """The true segments' BG/NBD models, in the order of :func:`oracle_prior`'s columns."""
    return [
        BetaGeo.from_params(**{k: s[k] for k in ("r", "alpha", "a", "b")})
        for s in shop.params["segments"].values()
    ]


def oracle_posterior(shop: Shop, d: pd.DataFrame, observation_end: datetime) -> np.ndarray:
    """Each customer's posterior over the true segments given their history (rows sum to 1)."""
    post = oracle_prior(shop, d, observation_end) + np.column_stack(
        [bg_loglik(m, d) for m in oracle_models(shop)]
    )
    result: np.ndarray = np.exp(post - logsumexp(post, axis=1, keepdims=True))
    return result
