"""Fits and predictions equal lifetimes' on the literature's data (CDNOW, donations).

lifetimes reports the mean negative log-likelihood with time rescaled so that the longest T
is 1 (the Pareto/NBD fitter: the total); each purchase time contributes ``log(scale)`` to
the log-likelihood, so ours (in the summary's own unit) is theirs plus ``sum(x) log(scale)``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from valueseg.models import (
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
)

PURCHASE_MODELS = [BetaGeo, ModifiedBetaGeo, ParetoNBD]


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def fit_theirs(lifetimes, model, cdnow):
    fitter = getattr(lifetimes, model.__name__)()
    cols = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    if model is ParetoNBD:  # Nelder-Mead: ask for a tight optimum, from a fixed start
        return quiet(
            fitter.fit, *cols, tol=1e-12, maxiter=20_000, initial_params=[0.5, 0.3, 0.5, 0.3]
        )
    return quiet(fitter.fit, *cols)


def their_loglik(model, fitter, cdnow):
    per = fitter._negative_log_likelihood_
    total = -per if model is ParetoNBD else -per * len(cdnow)
    return total + cdnow["frequency"].sum() * np.log(1.0 / cdnow["T"].max())


@pytest.fixture(scope="module")
def fits(cdnow, lifetimes):
    return {m: (m().fit(cdnow), fit_theirs(lifetimes, m, cdnow)) for m in PURCHASE_MODELS}


@pytest.mark.parametrize("model", PURCHASE_MODELS, ids=lambda m: m.__name__)
def test_cdnow_fit_equals_lifetimes(fits, cdnow, model):
    ours, theirs = fits[model]
    assert ours.converged_
    for name, value in theirs.params_.items():
        assert ours.params_[name] == pytest.approx(value, rel=1e-4), name
    assert ours.loglik_ == pytest.approx(their_loglik(model, theirs, cdnow), abs=1e-2)
    if model is not ParetoNBD:  # lifetimes computes no Pareto/NBD standard errors
        for name, value in theirs.standard_errors_.items():
            assert ours.standard_errors_[name] == pytest.approx(value, rel=1e-3), name


def test_cdnow_fits_equal_the_published_estimates(fits):
    # Fader, Hardie & Lee (2005) Table 1 (BG/NBD, LL -9582.4); Fader & Hardie note 009.
    bg, _ = fits[BetaGeo]
    assert [round(bg.params_[k], 3) for k in ("r", "alpha", "a", "b")] == [
        0.243,
        4.414,
        0.793,
        2.426,
    ]
    assert round(bg.loglik_, 1) == -9582.4
    pnbd, _ = fits[ParetoNBD]
    assert [round(pnbd.params_[k], 2) for k in ("r", "alpha", "s", "beta")] == [
        0.55,
        10.58,
        0.61,
        11.67,
    ]
    assert round(pnbd.loglik_, 1) == -9595.0


@pytest.mark.parametrize("model", PURCHASE_MODELS, ids=lambda m: m.__name__)
def test_predictions_equal_lifetimes_at_their_parameters(fits, cdnow, model):
    _, theirs = fits[model]
    ours = model.from_params(**theirs.params_.to_dict())
    x, tx, age = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    for t in (1.0, 10.0, 39.0):
        np.testing.assert_allclose(
            ours.expected_purchases(t, x, tx, age),
            quiet(theirs.conditional_expected_number_of_purchases_up_to_time, t, x, tx, age),
            rtol=1e-6,
        )
        np.testing.assert_allclose(
            ours.expected_purchases_new_customer(t),
            quiet(theirs.expected_number_of_purchases_up_to_time, t),
            rtol=1e-6,
        )
    np.testing.assert_allclose(
        ours.probability_alive(x, tx, age),
        quiet(theirs.conditional_probability_alive, x, tx, age),
        rtol=1e-6,
    )
    if model is not ParetoNBD:  # lifetimes has no unconditional Pareto/NBD pmf
        for n in (0, 1, 4):
            assert ours.probability_of_purchases(n, 39.0) == pytest.approx(
                quiet(theirs.probability_of_n_purchases_up_to_time, 39.0, n), rel=1e-6
            )


def test_predictions_keep_the_index_of_a_series(fits, cdnow):
    ours, _ = fits[BetaGeo]
    frame = cdnow.set_index("customer_id")
    out = ours.probability_alive(frame["frequency"], frame["recency"], frame["T"])
    assert isinstance(out, pd.Series)
    assert out.index.equals(frame.index)


@pytest.fixture(scope="module")
def spend(cdnow, lifetimes):
    repeat = cdnow[(cdnow["frequency"] > 0) & (cdnow["monetary_value"] > 0)]
    theirs = quiet(lifetimes.GammaGamma().fit, repeat["frequency"], repeat["monetary_value"])
    return GammaGamma().fit(cdnow), theirs, repeat


def test_gamma_gamma_fit_equals_lifetimes(spend):
    ours, theirs, repeat = spend
    assert ours.converged_
    assert ours.n_customers_ == len(repeat) == 946
    for name, value in theirs.params_.items():
        assert ours.params_[name] == pytest.approx(value, rel=1e-4), name
        assert ours.standard_errors_[name] == pytest.approx(theirs.standard_errors_[name], rel=1e-3)
    assert ours.loglik_ == pytest.approx(-theirs._negative_log_likelihood_ * len(repeat), abs=1e-2)
    # Fader & Hardie (2013): p = 6.25, q = 3.74, v = 15.44
    assert [round(ours.params_[k], 2) for k in ("p", "q", "v")] == [6.25, 3.74, 15.45]


@pytest.mark.parametrize("model", PURCHASE_MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("freq", ["W", "D"])
def test_clv_equals_lifetimes(fits, spend, cdnow, model, freq):
    _, theirs_purchases = fits[model]
    _, theirs_spend, _ = spend
    purchases = model.from_params(**theirs_purchases.params_.to_dict())
    gg = GammaGamma.from_params(**theirs_spend.params_.to_dict())
    ours = gg.customer_lifetime_value(purchases, cdnow, horizon=12, discount_rate=0.01, freq=freq)
    theirs = quiet(
        theirs_spend.customer_lifetime_value,
        theirs_purchases,
        cdnow["frequency"],
        cdnow["recency"],
        cdnow["T"],
        cdnow["monetary_value"],
        time=12,
        discount_rate=0.01,
        freq=freq,
    )
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-6)
    assert ours.index.equals(cdnow.index)
    # the purchase model's own verb is the same computation
    same = purchases.customer_lifetime_value(gg, cdnow, freq=freq)
    np.testing.assert_allclose(same.to_numpy(), ours.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        gg.conditional_expected_average_profit(cdnow["frequency"], cdnow["monetary_value"]),
        quiet(
            theirs_spend.conditional_expected_average_profit,
            cdnow["frequency"],
            cdnow["monetary_value"],
        ),
        rtol=1e-10,
    )


def test_donations_fit_and_predictions_equal_lifetimes(donations, lifetimes):
    ours = BetaGeoBetaBinom().fit(donations)
    x, tx, n, w = (donations[c] for c in ("frequency", "recency", "n_periods", "weights"))
    theirs = quiet(lifetimes.BetaGeoBetaBinom().fit, x, tx, n, weights=w)
    assert ours.converged_
    assert ours.n_customers_ == w.sum() == 11_104
    for name, value in theirs.params_.items():
        assert ours.params_[name] == pytest.approx(value, rel=1e-4), name
        assert ours.standard_errors_[name] == pytest.approx(theirs.standard_errors_[name], rel=1e-3)
    assert ours.loglik_ == pytest.approx(-theirs._negative_log_likelihood_ * w.sum(), abs=1e-2)
    # Fader, Hardie & Shang (2010): 1.204, 0.750, 0.657, 2.783; LL -33,225.6
    assert [round(v, 3) for v in ours.params_.values()] == [1.204, 0.750, 0.657, 2.783]
    assert round(ours.loglik_, 1) == -33225.6
    at = BetaGeoBetaBinom.from_params(**theirs.params_.to_dict())
    for t in (1, 5, 10):
        np.testing.assert_allclose(
            at.expected_purchases(t, x, tx, n),
            quiet(theirs.conditional_expected_number_of_purchases_up_to_time, t, x, tx, n),
            rtol=1e-6,
        )
    for m in (0, 1, 3):
        np.testing.assert_allclose(
            at.probability_alive(x, tx, n, m),
            quiet(theirs.conditional_probability_alive, m, x, tx, n),
            rtol=1e-6,
        )
    table = quiet(theirs.expected_number_of_transactions_in_first_n_periods, 6)
    np.testing.assert_allclose(
        at.probability_of_purchases(table.index.to_numpy(), 6) * w.sum(),
        table["model"].to_numpy(),
        rtol=1e-6,
    )


def test_fit_on_our_own_weekly_summary_equals_lifetimes(lifetimes, cdnow_orders):
    from valueseg.features import rfm_summary

    orders = cdnow_orders
    summary = rfm_summary(orders, observation_end="1997-09-30", freq="W")
    ours = BetaGeo().fit(summary)
    theirs = quiet(lifetimes.BetaGeo().fit, summary["frequency"], summary["recency"], summary["T"])
    for name, value in theirs.params_.items():
        assert ours.params_[name] == pytest.approx(value, rel=1e-4), name
