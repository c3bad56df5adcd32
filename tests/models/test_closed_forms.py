"""Closed forms against the models' definitions, integrated numerically for a few customers.

Each expected value is computed from the individual-level model (a customer with known
rates) averaged over the mixing distributions by Gauss quadrature (generalised Laguerre
nodes for gamma mixing, Jacobi nodes for beta mixing) or scipy's adaptive quadrature: no
shared code with the closed forms in valueseg.models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.special import roots_genlaguerre, roots_jacobi

from valueseg.models import (
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
)

BG = {"r": 1.5, "alpha": 6.0, "a": 1.4, "b": 3.0}
PNBD = {"r": 1.5, "alpha": 6.0, "s": 1.3, "beta": 9.0}
BB = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
CUSTOMERS = [(0, 0.0, 10.0), (1, 4.0, 10.0), (3, 8.5, 12.0)]


def one(x, tx, T):
    return pd.DataFrame({"frequency": [x], "recency": [tx], "T": [T]})


def gamma_nodes(shape, rate, n=150):
    """Nodes and weights of E[f(lam)] for lam ~ Gamma(shape, rate)."""
    y, w = roots_genlaguerre(n, shape - 1)
    return y / rate, w / w.sum()


def beta_nodes(a, b, n=80):
    """Nodes and weights of E[f(p)] for p ~ Beta(a, b)."""
    t, w = roots_jacobi(n, b - 1, a - 1)
    return (1 + t) / 2, w / w.sum()


def expect(f, first, second):
    """E[f(u, v)] over independent u and v given by (nodes, weights)."""
    (u, wu), (v, wv) = first, second
    return float(wu @ f(u[:, None], v[None, :]) @ wv)


def bg_branches(x, tx, T, modified):
    """Individual BG (or MBG) likelihood: still alive, and gone after the last purchase."""
    keep = x + 1 if modified else x

    def alive(lam, p):
        return (1 - p) ** keep * lam**x * np.exp(-lam * T)

    def gone(lam, p):
        if x == 0 and not modified:
            return 0.0 * lam * p
        return p * (1 - p) ** (keep - 1) * lam**x * np.exp(-lam * tx)

    return alive, gone


@pytest.mark.parametrize("model", [BetaGeo, ModifiedBetaGeo], ids=lambda m: m.__name__)
@pytest.mark.parametrize("x, tx, T", CUSTOMERS)
def test_beta_geo_likelihood_alive_and_expectation_by_quadrature(model, x, tx, T):
    m = model.from_params(**BG)
    alive, gone = bg_branches(x, tx, T, model is ModifiedBetaGeo)
    mix = (gamma_nodes(1.5, 6.0), beta_nodes(1.4, 3.0))
    lik_alive = expect(alive, *mix)
    lik = lik_alive + expect(gone, *mix)
    assert m.score(one(x, tx, T)) == pytest.approx(np.log(lik), abs=1e-8)
    assert m.probability_alive(x, tx, T) == pytest.approx(lik_alive / lik, rel=1e-7)
    # alive with rates (lam, p): expected purchases in t are (1 - exp(-lam p t)) / p
    t = 7.0
    future = expect(lambda lam, p: alive(lam, p) * -np.expm1(-lam * p * t) / p, *mix)
    assert m.expected_purchases(t, x, tx, T) == pytest.approx(future / lik, rel=1e-7)


@pytest.mark.parametrize("x, tx, T", CUSTOMERS)
def test_pareto_nbd_likelihood_alive_and_expectation_by_quadrature(x, tx, T):
    m = ParetoNBD.from_params(**PNBD)

    def alive(lam, mu):
        return lam**x * np.exp(-(lam + mu) * T)

    def gone(lam, mu):  # died at tau in (tx, T], density mu exp(-mu tau)
        return lam**x * mu / (lam + mu) * (np.exp(-(lam + mu) * tx) - np.exp(-(lam + mu) * T))

    mix = (gamma_nodes(1.5, 6.0), gamma_nodes(1.3, 9.0))
    lik_alive = expect(alive, *mix)
    lik = lik_alive + expect(gone, *mix)
    assert m.score(one(x, tx, T)) == pytest.approx(np.log(lik), abs=1e-8)
    assert m.probability_alive(x, tx, T) == pytest.approx(lik_alive / lik, rel=1e-7)
    t = 7.0
    future = expect(lambda lam, mu: alive(lam, mu) * lam / mu * -np.expm1(-mu * t), *mix)
    assert m.expected_purchases(t, x, tx, T) == pytest.approx(future / lik, rel=1e-7)


@pytest.mark.parametrize("x, tx, n", [(0, 0, 4), (1, 1, 4), (2, 3, 4), (4, 4, 4)])
def test_bg_bb_likelihood_and_alive_by_quadrature(x, tx, n):
    m = BetaGeoBetaBinom.from_params(**BB)

    def alive(p, theta):
        return p**x * (1 - p) ** (n - x) * (1 - theta) ** n

    def gone(p, theta):  # alive through opportunity tx + i, gone at the next
        terms = [
            p**x * (1 - p) ** (tx - x + i) * theta * (1 - theta) ** (tx + i) for i in range(n - tx)
        ]
        return sum(terms, 0.0 * p * theta)

    def mixed(f):
        return expect(f, beta_nodes(1.2, 0.75), beta_nodes(0.66, 2.8))

    lik_alive = mixed(alive)
    lik = lik_alive + mixed(gone)
    summary = pd.DataFrame({"frequency": [x], "recency": [tx], "n_periods": [n]})
    assert m.score(summary) == pytest.approx(np.log(lik), abs=1e-7)
    assert m.probability_alive(x, tx, n) == pytest.approx(lik_alive / lik, rel=1e-6)
    # the next 3 opportunities: survive each with 1 - theta, transact with p
    future = mixed(lambda p, th: alive(p, th) * p * sum((1 - th) ** j for j in (1, 2, 3)))
    assert m.expected_purchases(3, x, tx, n) == pytest.approx(future / lik, rel=1e-6)


def test_bg_bb_pmf_by_enumerating_every_history():
    # brute force: every transaction pattern and dropout time over n = 4 opportunities
    n = 4
    m = BetaGeoBetaBinom.from_params(**BB)

    p, wp = beta_nodes(1.2, 0.75)
    theta, wt = beta_nodes(0.66, 2.8)
    p, theta = p[:, None], theta[None, :]
    expected = np.zeros(n + 1)
    for life in range(n + 1):  # opportunities survived: the rest are never reached
        survive = (1 - theta) ** life * (theta if life < n else 1.0)
        for k in range(life + 1):  # transactions among them, in any order
            expected[k] += wp @ (survive * stats.binom.pmf(k, life, p)) @ wt
    np.testing.assert_allclose(m.probability_of_purchases(np.arange(n + 1), n), expected, 1e-10)


def test_gamma_gamma_likelihood_by_quadrature():
    p, q, v = 6.0, 3.5, 15.0
    gg = GammaGamma.from_params(p=p, q=q, v=v)
    for x, mean in [(1, 20.0), (4, 35.5)]:
        density, _ = integrate.quad(
            lambda nu, x=x, mean=mean: (
                stats.gamma.pdf(mean, p * x, scale=1 / (nu * x))
                * stats.gamma.pdf(nu, q, scale=1 / v)
            ),
            0,
            np.inf,
            epsabs=1e-14,
        )
        summary = pd.DataFrame({"frequency": [x], "monetary_value": [mean]})
        assert gg.score(summary) == pytest.approx(np.log(density), abs=1e-8)
    # the posterior mean spend is a weighted average of population and customer means
    assert gg.conditional_expected_average_profit(4, 35.5) == pytest.approx(
        (p * v / (q - 1)) * (q - 1) / (p * 4 + q - 1) + 35.5 * (p * 4) / (p * 4 + q - 1)
    )


@pytest.mark.parametrize(
    "model, params, n_max",
    [(BetaGeo, BG, 150), (ModifiedBetaGeo, BG, 150), (ParetoNBD, PNBD, 150)],
    ids=["BetaGeo", "ModifiedBetaGeo", "ParetoNBD"],
)
def test_pmf_sums_to_one_and_its_mean_is_the_expected_purchases(model, params, n_max):
    m = model.from_params(**params)
    counts = np.arange(n_max)
    for t in (5.0, 30.0):
        pmf = m.probability_of_purchases(counts, t)
        assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
        assert counts @ pmf == pytest.approx(m.expected_purchases_new_customer(t), rel=1e-8)
    # a customer just acquired: the conditional expectation at (0, 0, 0)
    assert m.expected_purchases(30.0, 0, 0.0, 0.0) == pytest.approx(
        m.expected_purchases_new_customer(30.0), rel=1e-12
    )


def test_bg_bb_pmf_mean_is_the_expected_purchases():
    m = BetaGeoBetaBinom.from_params(**BB)
    pmf = m.probability_of_purchases(np.arange(11), 10)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.arange(11) @ pmf == pytest.approx(m.expected_purchases_new_customer(10), 1e-10)


@pytest.mark.parametrize(
    "model, params",
    [(BetaGeo, BG), (ModifiedBetaGeo, BG), (ParetoNBD, PNBD)],
    ids=["BetaGeo", "ModifiedBetaGeo", "ParetoNBD"],
)
def test_discounted_clv_is_the_sum_of_monthly_increments(model, params):
    m = model.from_params(**params)
    gg = GammaGamma.from_params(p=6.0, q=3.5, v=15.0)
    summary = pd.DataFrame(
        {
            "frequency": [0.0, 2.0, 5.0],
            "recency": [0.0, 30.0, 80.5],
            "T": [40.0, 90.0, 90.0],
            "monetary_value": [0.0, 25.0, 40.0],
        }
    )
    clv = gg.customer_lifetime_value(m, summary, horizon=3, discount_rate=0.02, freq="D")
    spend = (
        6.0
        * (15.0 + summary["frequency"] * summary["monetary_value"])
        / (6.0 * summary["frequency"] + 2.5)
    )
    x, tx, T = summary["frequency"], summary["recency"], summary["T"]
    by_hand = sum(
        (m.expected_purchases(30.0 * i, x, tx, T) - m.expected_purchases(30.0 * (i - 1), x, tx, T))
        * spend
        / 1.02**i
        for i in (1, 2, 3)
    )
    np.testing.assert_allclose(clv.to_numpy(), by_hand.to_numpy(), rtol=1e-10)


@pytest.mark.parametrize(
    "model, params",
    [(BetaGeo, BG), (ModifiedBetaGeo, BG), (ParetoNBD, PNBD)],
    ids=["BetaGeo", "ModifiedBetaGeo", "ParetoNBD"],
)
def test_simulation_agrees_with_the_closed_forms(model, params):
    m = model.from_params(**params)
    sim = m.simulate(100_000, T=20.0, random_state=7)
    # mean purchases of new customers within 5 standard errors of the closed form
    se = sim["frequency"].std() / np.sqrt(len(sim))
    assert abs(sim["frequency"].mean() - m.expected_purchases_new_customer(20.0)) < 5 * se
    # the observed frequency distribution against the pmf
    observed = np.bincount(sim["frequency"].astype(int), minlength=4)[:4] / len(sim)
    np.testing.assert_allclose(observed, m.probability_of_purchases(np.arange(4), 20.0), atol=6e-3)
    # P(alive) is calibrated: its mean is the share alive
    share = sim["alive"].mean()
    p_alive = m.probability_alive(sim["frequency"], sim["recency"], sim["T"]).mean()
    assert abs(share - p_alive) < 5 * np.sqrt(share * (1 - share) / len(sim))
    assert (sim["recency"] <= sim["T"]).all()
    assert ((sim["frequency"] == 0) == (sim["recency"] == 0)).all()


def test_bg_bb_simulation_agrees_with_the_closed_forms():
    m = BetaGeoBetaBinom.from_params(**BB)
    sim = m.simulate(100_000, n_periods=6, random_state=8)
    observed = np.bincount(sim["frequency"].astype(int), minlength=7) / len(sim)
    np.testing.assert_allclose(observed, m.probability_of_purchases(np.arange(7), 6), atol=6e-3)
    share = sim["alive"].mean()
    p_alive = m.probability_alive(sim["frequency"], sim["recency"], sim["n_periods"]).mean()
    assert abs(share - p_alive) < 5 * np.sqrt(share * (1 - share) / len(sim))
