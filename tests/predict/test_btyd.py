"""P(no purchase in t) and the next-order median against simulation of the posterior."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from valueseg.models import BetaGeo, BetaGeoBetaBinom, ModifiedBetaGeo, ParetoNBD
from valueseg.predict.btyd import next_order_periods, probability_no_purchase

BG = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
MBG = ModifiedBetaGeo.from_params(r=0.5, alpha=6.0, a=0.6, b=3.0)
PARETO = ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669)
BB = BetaGeoBetaBinom.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
RFT = pd.DataFrame({"frequency": [0.0, 2.0, 5.0], "recency": [0.0, 30.4, 38.0], "T": [38.9] * 3})
N = 400_000


def _simulated_bg(model, row, t, rng, shift=0.0):
    """No purchase in (T, T+t]: gone now, or alive with no Poisson event in t."""
    r, alpha = model.params_["r"], model.params_["alpha"]
    alive = rng.random(N) < float(model.probability_alive(row.frequency, row.recency, row.T))
    lam = rng.gamma(r + row.frequency, 1 / (alpha + row.T), N)
    return float(((~alive) | (rng.exponential(1 / lam) > t)).mean())


def _simulated_pareto(row, t, rng):
    r, alpha, s, beta = (PARETO.params_[k] for k in ("r", "alpha", "s", "beta"))
    alive = rng.random(N) < float(PARETO.probability_alive(row.frequency, row.recency, row.T))
    lam = rng.gamma(r + row.frequency, 1 / (alpha + row.T), N)
    mu = rng.gamma(s, 1 / (beta + row.T), N)
    buy, die = rng.exponential(1 / lam), rng.exponential(1 / mu)
    return float(((~alive) | (die < buy) | (buy > t)).mean())


@pytest.mark.parametrize("name,model", [("bg_nbd", BG), ("mbg_nbd", MBG)])
def test_beta_geo_no_purchase_matches_simulation(name, model):
    rng = np.random.default_rng(0)
    got = probability_no_purchase(name, model, 13.0, RFT)
    for row, p in zip(RFT.itertuples(), got, strict=True):
        assert p == pytest.approx(_simulated_bg(model, row, 13.0, rng), abs=0.004)


def test_pareto_no_purchase_matches_simulation():
    rng = np.random.default_rng(1)
    for t in (13.0, 400.0):  # a long t checks the quadrature's change of variable
        got = probability_no_purchase("pareto_nbd", PARETO, t, RFT)
        for row, p in zip(RFT.itertuples(), got, strict=True):
            assert p == pytest.approx(_simulated_pareto(row, t, rng), abs=0.004)


def test_bg_bb_no_purchase_matches_simulation():
    """Alive now; at each of the next 3 opportunities first survive (1 - theta), then buy (p)."""
    rng = np.random.default_rng(2)
    s = pd.DataFrame({"frequency": [3.0], "recency": [5.0], "T": [6.0]})
    alive = rng.random(N) < float(BB.probability_alive(3, 5, 6))
    p, theta = rng.beta(1.2 + 3, 0.75 + 3, N), rng.beta(0.66, 2.8 + 6, N)
    still, bought = alive.copy(), np.zeros(N, bool)
    for _ in range(3):
        still &= rng.random(N) > theta
        bought |= still & (rng.random(N) < p)
    expected = float((~bought).mean())
    assert probability_no_purchase("bg_bb", BB, 3, s)[0] == pytest.approx(expected, abs=0.004)


@pytest.mark.parametrize("name,model", [("bg_nbd", BG), ("mbg_nbd", MBG), ("pareto_nbd", PARETO)])
def test_next_order_is_the_median_of_the_next_purchase(name, model):
    wait = next_order_periods(name, model, RFT)
    known = np.isfinite(wait)
    assert known.any()
    at_wait = probability_no_purchase(name, model, wait[known], RFT[known])
    assert at_wait == pytest.approx(0.5, abs=1e-6)
    # where there is no date, the customer is more likely never to buy again
    never = probability_no_purchase(name, model, 1e4, RFT[~known])
    assert np.all(never > 0.5)


def test_next_order_of_bg_bb_is_the_first_opportunity_past_the_median():
    s = pd.DataFrame({"frequency": [3.0, 6.0], "recency": [5.0, 6.0], "T": [6.0, 6.0]})
    wait = next_order_periods("bg_bb", BB, s)
    assert np.all(probability_no_purchase("bg_bb", BB, wait, s) <= 0.5)
    assert np.all(probability_no_purchase("bg_bb", BB, wait - 1, s) > 0.5)


def test_bg_nbd_one_time_buyer_has_a_date():
    """BG/NBD calls a one-time buyer alive, so the median is finite: (alpha + T)(2^(1/r) - 1)."""
    one = pd.DataFrame({"frequency": [0.0], "recency": [0.0], "T": [38.9]})
    expected = (4.414 + 38.9) * (2 ** (1 / 0.243) - 1)
    assert next_order_periods("bg_nbd", BG, one)[0] == pytest.approx(expected)


def test_a_few_customers_get_the_same_next_order_as_many(monkeypatch):
    """Up to ``_FEW`` customers the bisection takes 4 halvings a call (``_split``): the
    same brackets as one at a time, so the same dates as a run's many customers get."""
    import valueseg.predict.btyd as btyd

    rng = np.random.default_rng(5)
    n = 60
    t_ = rng.uniform(5.0, 700.0, n)
    x = rng.integers(0, 25, n).astype(float)
    s = pd.DataFrame(
        {"frequency": x, "recency": np.where(x > 0, rng.uniform(0, 1, n) * t_, 0.0), "T": t_}
    )
    few = next_order_periods("pareto_nbd", PARETO, s)
    monkeypatch.setattr(btyd, "_FEW", 0)  # every customer by plain halvings
    many = next_order_periods("pareto_nbd", PARETO, s)
    assert np.isfinite(many).sum() >= 10 and np.isnan(many).sum() >= 10  # both kinds
    np.testing.assert_array_equal(np.isnan(few), np.isnan(many))
    np.testing.assert_allclose(few, many, rtol=1e-12)
    for one in range(0, n, 7):  # and a customer alone
        alone = next_order_periods("pareto_nbd", PARETO, s.iloc[[one]])
        np.testing.assert_allclose(alone, many[[one]], rtol=1e-12)
