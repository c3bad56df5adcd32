"""Fits of customers who differ little reach parameters in the hundreds of thousands.

There scipy's ``hyp2f1`` gives NaN or inf, and the closed forms built on it gave no
prediction at all. The references here are independent of valueseg's code: the power
series summed to 60 digits with :mod:`decimal`, and the models' limits when the mixing
distributions shrink to points (every customer buys at rate ``r / alpha`` and leaves with
probability ``a / (a + b)`` after a purchase, or at rate ``s / beta``).
"""

from __future__ import annotations

from decimal import Decimal, getcontext

import numpy as np
import pytest
from scipy import special

from valueseg.models import BetaGeo, GammaGamma, ModifiedBetaGeo, ParetoNBD
from valueseg.models._util import log_hyp2f1


def _series_log(a: float, b: float, c: float, z: float) -> float:
    """log 2F1 by Euler's transformation, whose terms are all positive here, to 60 digits."""
    getcontext().prec = 60
    a_, b_, c_, z_ = (Decimal(repr(v)) for v in (a, b, c, z))
    term = total = Decimal(1)
    k = 0
    while term > Decimal("1e-45") * total:
        term = term * (c_ - a_ + k) * (c_ - b_ + k) / ((c_ + k) * (k + 1)) * z_
        total += term
        k += 1
    return float((c_ - a_ - b_) * (1 - z_).ln() + total.ln())


# (a, b, c, z) as the models call it: BG/NBD's growth term, Pareto/NBD's tail integral
CASES = [
    (-2.7e5, 1.46e5, 2.3e5, 4.4e-7),
    (-2.7e5, 1.46e5, 2.3e5 + 40, 3e-5),
    (7e5, 2e5, 7e5 + 1, 0.77),
    (7e5 + 3, 5e5, 7e5 + 4, 0.2),
    (3e6, 1e6, 3e6 + 1, 0.5),
]


@pytest.mark.parametrize("a, b, c, z", CASES)
def test_log_hyp2f1_where_scipy_has_no_finite_value(a, b, c, z):
    assert not np.isfinite(special.hyp2f1(a, b, c, z))
    want = _series_log(a, b, c, z)
    assert float(log_hyp2f1(a, b, c, z)) == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_log_hyp2f1_is_scipys_where_scipy_is_finite():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 50, (2, 200))
    c = a + rng.uniform(0.5, 50, 200)
    z = rng.uniform(0, 0.99, 200)
    assert np.array_equal(log_hyp2f1(a, b, c, z), np.log(special.hyp2f1(a, b, c, z)))


X = np.array([0.0, 1.0, 2.0, 6.0])
TX = np.array([0.0, 30.0, 200.0, 280.0])
T = np.array([300.0, 300.0, 300.0, 300.0])
HORIZON = 98.0


@pytest.mark.parametrize("model, shift", [(BetaGeo, 0.0), (ModifiedBetaGeo, 1.0)])
def test_beta_geometric_models_reach_their_point_limit(model, shift):
    params = {"r": 5e5, "alpha": 2.2e8, "a": 1.46e5, "b": 8.3e4}
    m = model.from_params(**params)
    rate, p = params["r"] / params["alpha"], params["a"] / (params["a"] + params["b"])
    gone = p / (1 - p) * np.exp(rate * (T - TX))  # odds of having left at the last purchase
    alive = 1 / (1 + np.where((X > 0) | (shift > 0), gone, 0.0))
    expected = alive * (1 - np.exp(-rate * p * HORIZON)) / p
    assert np.asarray(m.probability_alive(X, TX, T)) == pytest.approx(alive, rel=1e-4)
    assert np.asarray(m.expected_purchases(HORIZON, X, TX, T)) == pytest.approx(expected, rel=1e-4)
    new = (1 - shift * p) * (1 - np.exp(-rate * p * HORIZON)) / p
    assert float(m.expected_purchases_new_customer(HORIZON)) == pytest.approx(new, rel=1e-4)


def test_pareto_nbd_reaches_its_point_limit():
    params = {"r": 5e5, "alpha": 2.2e8, "s": 2e5, "beta": 5e7}
    m = ParetoNBD.from_params(**params)
    rate, leave = params["r"] / params["alpha"], params["s"] / params["beta"]
    alive = 1 / (1 + leave / (rate + leave) * (np.exp((rate + leave) * (T - TX)) - 1))
    expected = alive * rate / leave * (1 - np.exp(-leave * HORIZON))
    assert np.asarray(m.probability_alive(X, TX, T)) == pytest.approx(alive, rel=1e-4)
    assert np.asarray(m.expected_purchases(HORIZON, X, TX, T)) == pytest.approx(expected, rel=1e-4)


def test_bg_nbd_where_both_factors_of_its_growth_term_leave_the_float_range():
    """A long-dormant shop's fit: ``(1 - z)^(a - 1)`` underflows and the hypergeometric
    factor overflows; their product is the limit's."""
    params = {"r": 0.6132, "alpha": 22.4, "a": 7.672e5, "b": 1e6}
    m = BetaGeo.from_params(**params)
    x, tx, age, t = np.array([0.0, 1.0]), np.array([0.0, 30.0]), np.array([5e3, 5e3]), 365.0
    # p is a point, lambda keeps its gamma posterior: E = alive * E[1 - exp(-lambda p t)] / p
    p = params["a"] / (params["a"] + params["b"])
    shape, rate = params["r"] + x, params["alpha"] + age
    unconditional = (1 - (rate / (rate + p * t)) ** shape) / p
    alive = np.asarray(m.probability_alive(x, tx, age))
    expected = np.asarray(m.expected_purchases(t, x, tx, age))
    assert expected == pytest.approx(alive * unconditional, rel=1e-4)


def test_clv_of_a_fit_at_large_parameters_is_finite():
    import pandas as pd

    bg = BetaGeo.from_params(r=5e5, alpha=2.2e8, a=1.46e5, b=8.3e4)
    spend = GammaGamma.from_params(p=6.0, q=4.0, v=15.0)
    summary = pd.DataFrame({"frequency": X, "recency": TX, "T": T, "monetary_value": 30.0})
    clv = spend.customer_lifetime_value(bg, summary, horizon=12, freq="D").to_numpy()
    assert np.all(np.isfinite(clv)) and np.all(clv > 0)
