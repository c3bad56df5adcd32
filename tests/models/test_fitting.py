"""Fitting machinery: gradients, weights, collapsing, convergence checks, errors, estimator API."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.special import gammaln
from sklearn.base import clone

from valueseg.errors import InputError, ValuesegError
from valueseg.models import (
    BetaGeo,
    BetaGeoBetaBinom,
    ConvergenceError,
    ConvergenceWarning,
    GammaGamma,
    ModifiedBetaGeo,
    NotFittedError,
    ParetoNBD,
)

RFT_MODELS = [BetaGeo, ModifiedBetaGeo, ParetoNBD]
ALL_MODELS = [*RFT_MODELS, BetaGeoBetaBinom, GammaGamma]


def data_for(model, cdnow, donations):
    return donations if model is BetaGeoBetaBinom else cdnow


# ---- gradients


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_analytic_gradient_equals_finite_differences(model, cdnow, donations):
    summary = data_for(model, cdnow, donations)
    m = model()
    data = m._prepare(summary, summary["weights"].to_numpy(float) if "weights" in summary else None)
    points = {
        3: [np.array([6.0, 3.7, 15.0]), np.array([2.0, 8.0, 40.0])],
        4: [np.array([0.3, 5.0, 0.7, 2.0]), np.array([1.4, 12.0, 2.2, 0.6])],
    }[len(m._param_names)]
    for theta in points:
        _, grad = m._loglik(theta, data)
        numeric = np.empty_like(theta)
        for j in range(len(theta)):
            h = 1e-6 * theta[j]
            up, down = theta.copy(), theta.copy()
            up[j] += h
            down[j] -= h
            numeric[j] = (m._loglik(up, data)[0] - m._loglik(down, data)[0]) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=2e-5, atol=1e-3)


# ---- weights and collapsing


def _weighted(summary: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return summary.groupby(columns, as_index=False).size().rename(columns={"size": "weights"})


@pytest.mark.parametrize("model", [*RFT_MODELS, GammaGamma], ids=lambda m: m.__name__)
def test_weighted_patterns_fit_like_the_expanded_customers(model, cdnow):
    columns = list(model._columns)
    expanded = model(collapse=False).fit(cdnow)
    weighted = model(collapse=False).fit(_weighted(cdnow[columns], columns))
    collapsed = model().fit(cdnow)
    assert (
        weighted.n_rows_
        < expanded.n_rows_
        == len(cdnow) - ((cdnow["frequency"] == 0).sum() if model is GammaGamma else 0)
    )
    assert collapsed.n_rows_ == weighted.n_rows_
    for other in (weighted, collapsed):
        assert other.n_customers_ == expanded.n_customers_
        assert other.loglik_ == pytest.approx(expanded.loglik_, rel=1e-10)
        for name, value in expanded.params_.items():
            assert other.params_[name] == pytest.approx(value, rel=1e-6)
            assert other.standard_errors_[name] == pytest.approx(
                expanded.standard_errors_[name], rel=1e-3
            )


def test_bg_bb_weights_equal_repeated_rows(donations):
    expanded = donations.loc[donations.index.repeat(donations["weights"])].drop(columns="weights")
    a = BetaGeoBetaBinom().fit(donations)
    b = BetaGeoBetaBinom(collapse=False).fit(expanded.reset_index(drop=True))
    assert b.n_rows_ == len(expanded) == 11_104
    assert a.loglik_ == pytest.approx(b.loglik_, rel=1e-10)
    for name, value in a.params_.items():
        assert b.params_[name] == pytest.approx(value, rel=1e-6)


def test_many_customers_explored_on_a_sample_reach_the_full_optimum(donations):
    # 20 x the donors (222,080): starts are explored on a thinned sample, the optimum is
    # the full data's; the MLE does not change when every weight is scaled.
    big = donations.assign(weights=donations["weights"] * 20)
    small, large = BetaGeoBetaBinom().fit(donations), BetaGeoBetaBinom().fit(big)
    assert large.n_customers_ == 222_080
    assert large.loglik_ == pytest.approx(20 * small.loglik_, rel=1e-10)
    for name, value in small.params_.items():
        assert large.params_[name] == pytest.approx(value, rel=1e-6)
        assert large.standard_errors_[name] == pytest.approx(
            small.standard_errors_[name] / np.sqrt(20), rel=1e-3
        )


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_newton_reaches_the_optimum_where_the_value_is_flat(model, cdnow, donations):
    """Near the optimum the mean log-likelihood is flat to within its rounding, so the
    polish cannot judge its last steps by the value: from 1e-7 (log scale) away, with every
    point but the start looking 2e-13 worse (as rounding can make it), it still ends where
    the gradient vanishes. Judged by the value alone it stayed at the start."""
    from valueseg.models._search import Optimum

    summary = data_for(model, cdnow, donations)
    m = model().fit(summary)
    data = m._prepare(summary, summary["weights"].to_numpy(float) if "weights" in summary else None)
    fun = m._objective(data)
    best = np.log([m.params_[k] for k in m._param_names])
    start = best + 1e-7 * np.linspace(1.0, -1.0, len(best))

    def rounded(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = fun(x)
        return (value if np.array_equal(x, start) else value + 2e-13 * abs(value)), grad

    value, grad = rounded(start)
    assert np.max(np.abs(grad)) > 1e-9  # the start is measurably off the optimum
    opt, _ = m._newton(rounded, Optimum(start, value, grad, 0, True, ""), m._bounds(data))
    assert np.max(np.abs(opt.grad)) < 1e-10
    np.testing.assert_allclose(opt.log_theta, best, rtol=0, atol=1e-8)


def test_zero_weight_rows_are_left_out(cdnow):
    padded = pd.concat([cdnow.assign(weights=1.0), cdnow.head(50).assign(weights=0.0)])
    a, b = BetaGeo().fit(cdnow), BetaGeo().fit(padded)
    assert b.n_customers_ == len(cdnow)
    assert b.params_ == pytest.approx(a.params_, rel=1e-8)


def test_fitted_attributes(cdnow):
    m = BetaGeo().fit(cdnow)
    assert m.converged_ and m.n_iter_ > 0
    assert m.n_customers_ == 2357
    assert m.aic_ == pytest.approx(8 - 2 * m.loglik_)
    assert m.bic_ == pytest.approx(4 * np.log(2357) - 2 * m.loglik_)
    assert list(m.covariance_.index) == ["r", "alpha", "a", "b"]
    assert m.standard_errors_["r"] == pytest.approx(np.sqrt(m.covariance_.loc["r", "r"]))
    assert m.score(cdnow) == pytest.approx(m.loglik_ / 2357)


def test_penalizer_shrinks_towards_zero(cdnow):
    plain, penalised = BetaGeo().fit(cdnow), BetaGeo(penalizer_coef=0.1).fit(cdnow)
    scaled = [penalised.params_[k] for k in ("r", "a", "b")]
    assert np.sum(np.square(scaled)) < np.sum(
        np.square([plain.params_[k] for k in "r a b".split()])
    )
    assert penalised.loglik_ < plain.loglik_


# ---- convergence


def _no_dropout() -> pd.DataFrame:
    # every repeat buyer bought at the very end: nothing tells when customers leave
    rng = np.random.default_rng(0)
    T = rng.uniform(10, 50, 2000).round()
    x = rng.poisson(3, 2000).astype(float)
    return pd.DataFrame({"frequency": x, "recency": np.where(x > 0, T, 0.0), "T": T})


ADVICE = (
    " The data may not identify this model (too few repeat purchases, no sign of dropout, or "
    "no difference between customers). Try penalizer_coef=0.001 (or larger), a longer "
    "observation period, or {alt}."
)


@pytest.mark.parametrize(
    "model, alt",
    [(BetaGeo, "ParetoNBD or ModifiedBetaGeo"), (ParetoNBD, "BetaGeo")],
    ids=["BetaGeo", "ParetoNBD"],
)
def test_a_fit_that_does_not_converge_raises_with_advice(model, alt):
    name = model.__name__
    with pytest.raises(ConvergenceError, match=f"^{name} did not converge: ") as info:
        model().fit(_no_dropout())
    assert str(info.value).endswith(ADVICE.format(alt=alt))
    assert isinstance(info.value, ValuesegError)
    # the reason alone, for a run that says the advice once for all its models
    assert str(info.value) == info.value.reason + ADVICE.format(alt=alt)


def test_on_failure_warn_keeps_the_parameters():
    with pytest.warns(ConvergenceWarning, match="^BetaGeo did not converge: ") as caught:
        m = BetaGeo(on_failure="warn").fit(_no_dropout())
    assert not m.converged_
    assert set(m.params_) == {"r", "alpha", "a", "b"}
    warning = caught[0].message
    assert str(warning).startswith(warning.reason) and "Try penalizer_coef" not in warning.reason


# ---- input errors


def _rft(**columns) -> pd.DataFrame:
    base = {"frequency": [0, 1, 2, 3, 0], "recency": [0, 4, 6, 9, 0], "T": [10, 10, 10, 12, 3]}
    frame = pd.DataFrame(base, dtype=float)
    for name, values in columns.items():
        frame[name] = values
    return frame


@pytest.mark.parametrize(
    "summary, message",
    [
        (
            _rft().drop(columns="recency"),
            "Column 'recency' not found in the summary given to BetaGeo.fit. Available: "
            "frequency, T. BetaGeo needs columns frequency, recency, T (and an optional "
            "'weights'); valueseg.features.rfm_summary makes them.",
        ),
        (
            _rft(T=[10, np.nan, 10, np.inf, 3]),
            "Column 'T' has 2 missing or infinite values out of 5 rows. Drop or fill those "
            "customers before fitting.",
        ),
        (
            _rft(frequency=[0, 1, -2, 3, 0]),
            "Column 'frequency' has 1 negative values out of 5 rows; 'frequency' cannot be "
            "negative. Check how the summary was built.",
        ),
        (
            _rft(frequency=[0, 1.5, 2, 3, 0]),
            "Column 'frequency' has 1 non-integer values out of 5 rows; it counts repeat "
            "purchases.",
        ),
        (
            _rft(recency=[0, 4, 11, 13, 0]),
            "Column 'recency' exceeds column 'T' in 2 of 5 rows; recency (time from the first "
            "to the last purchase) cannot exceed T (time from the first purchase to the end of "
            "observation).",
        ),
        (
            _rft(recency=[1, 4, 6, 9, 0]),
            "Column 'recency' is above 0 in 1 of 5 rows whose 'frequency' is 0; a customer "
            "without repeat purchases has recency 0.",
        ),
        (
            _rft(frequency=[0] * 5, recency=[0] * 5),
            "All 5 customers in the summary have frequency 0 (no repeat purchases), so BetaGeo "
            "cannot tell the purchase rate from dropout. Use a longer observation period or "
            "more customers.",
        ),
        (
            _rft(T=[0, 1, 2, 3, 0], recency=[0, 1, 2, 3, 0], frequency=[0, 1, 1, 1, 0]).assign(
                T=0.0, recency=0.0
            ),
            "Column 'T' is 0 for all 5 customers: every customer made the first purchase at "
            "the end of observation. Pick a later observation end.",
        ),
        (_rft().iloc[:0], "The summary given to BetaGeo.fit has no rows."),
        (
            _rft(weights=[0.0] * 5),
            "Column 'weights' is 0 in every row: there are no customers to fit.",
        ),
        (
            _rft(recency=["a", "b", "c", "d", "e"]),
            "Column 'recency' of the summary must be numeric. Got dtype str.",
        ),
    ],
    ids=[
        "missing",
        "nan",
        "negative",
        "non-integer",
        "recency>T",
        "recency-without-repeat",
        "no-repeat",
        "T-zero",
        "empty",
        "zero-weights",
        "text",
    ],
)
def test_bad_summaries_are_refused_with_the_column_and_count(summary, message):
    with pytest.raises(InputError, match=re.escape(message)):
        BetaGeo().fit(summary)


def test_a_summary_must_be_a_data_frame():
    with pytest.raises(
        InputError,
        match=re.escape(
            "ParetoNBD.fit expects a pandas DataFrame with the summary columns. Got ndarray."
        ),
    ):
        ParetoNBD().fit(np.zeros((3, 3)))


def test_gamma_gamma_errors():
    msg = (
        "Column 'monetary_value' is 0 in 1 of the 2 rows with frequency > 0; the Gamma-Gamma "
        "model needs a positive mean spend. Drop those customers or check the amounts."
    )
    summary = pd.DataFrame({"frequency": [0.0, 1, 2], "monetary_value": [0.0, 0, 5]})
    with pytest.raises(InputError, match=re.escape(msg)):
        GammaGamma().fit(summary)
    msg = (
        "No customer in the 2 rows of the summary has frequency > 0, so GammaGamma has no "
        "repeat spend to fit. Use a longer observation period."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        GammaGamma().fit(pd.DataFrame({"frequency": [0.0, 0], "monetary_value": [0.0, 0]}))


def test_bg_bb_errors():
    summary = pd.DataFrame({"frequency": [2.0, 1], "recency": [1.0, 1], "n_periods": [6.0, 6]})
    msg = (
        "Column 'frequency' exceeds column 'recency' in 1 of 2 rows; x transactions at "
        "distinct opportunities need a last one at opportunity x or later."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        BetaGeoBetaBinom().fit(summary)
    summary = pd.DataFrame({"frequency": [1.0, 1], "recency": [7.0, 1], "n_periods": [6.0, 6]})
    msg = (
        "Column 'recency' exceeds column 'n_periods' in 1 of 2 rows; the last opportunity "
        "with a transaction cannot come after the last one observed."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        BetaGeoBetaBinom().fit(summary)


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"penalizer_coef": -1},
            "The 'penalizer_coef' parameter of BetaGeo must be a float >= 0. Got -1.",
        ),
        ({"n_starts": 0}, "The 'n_starts' parameter of BetaGeo must be an int >= 1. Got 0."),
        ({"tol": "x"}, "The 'tol' parameter of BetaGeo must be a float > 0. Got 'x'."),
        ({"max_iter": 2.5}, "The 'max_iter' parameter of BetaGeo must be an int >= 1. Got 2.5."),
        (
            {"on_failure": "ignore"},
            "The 'on_failure' parameter of BetaGeo must be 'raise' or 'warn'. Got 'ignore'.",
        ),
    ],
)
def test_bad_hyperparameters_are_refused_in_fit(params, message, cdnow):
    model = BetaGeo(**params)  # __init__ only stores them
    with pytest.raises(InputError, match=re.escape(message)):
        model.fit(cdnow)


VERBS = {
    "probability_alive": (1, 2.0, 5.0),
    "expected_purchases": (1.0, 1, 2.0, 5.0),
    "expected_purchases_new_customer": (1.0,),
    "probability_of_purchases": (1, 1.0),
    "simulate": (10, 5.0),
    "score": (pd.DataFrame({"frequency": [1.0], "recency": [1.0], "T": [2.0]}),),
}


@pytest.mark.parametrize("model", [*RFT_MODELS, BetaGeoBetaBinom], ids=lambda m: m.__name__)
@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verb_checks_that_the_model_is_fitted(model, verb):
    name = model.__name__
    msg = (
        f"This {name} is not fitted yet. Call {name}().fit(summary) first, or build one from "
        f"known parameters with {name}.from_params(...)."
    )
    with pytest.raises(NotFittedError, match=re.escape(msg)):
        getattr(model(), verb)(*VERBS[verb])


def test_spend_and_clv_verbs_check_that_models_are_fitted(cdnow):
    with pytest.raises(NotFittedError, match=r"^This GammaGamma is not fitted yet"):
        GammaGamma().conditional_expected_average_profit(1, 10.0)
    gg = GammaGamma.from_params(p=6.0, q=3.5, v=15.0)
    with pytest.raises(NotFittedError, match=r"^This BetaGeo is not fitted yet"):
        gg.customer_lifetime_value(BetaGeo(), cdnow)
    with pytest.raises(NotFittedError, match=r"^This BetaGeo is not fitted yet"):
        BetaGeo().customer_lifetime_value(gg, cdnow)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"horizon": 0}, "The 'horizon' parameter must be an int >= 1 (months). Got 0."),
        (
            {"discount_rate": -1.5},
            "The 'discount_rate' parameter must be a number > -1 (per month). Got -1.5.",
        ),
        ({"freq": "Y"}, "The 'freq' parameter must be one of D, W, M, H, h. Got 'Y'."),
    ],
)
def test_clv_parameters_are_checked(kwargs, message, cdnow):
    gg = GammaGamma.from_params(p=6.0, q=3.5, v=15.0)
    bg = BetaGeo.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5)
    with pytest.raises(InputError, match=re.escape(message)):
        gg.customer_lifetime_value(bg, cdnow, **kwargs)


def test_clv_needs_monetary_value(cdnow):
    gg = GammaGamma.from_params(p=6.0, q=3.5, v=15.0)
    bg = BetaGeo.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5)
    with pytest.raises(InputError, match=re.escape("Column 'monetary_value' not found")):
        gg.customer_lifetime_value(bg, cdnow.drop(columns="monetary_value"))


def test_from_params_checks_names_and_values():
    with pytest.raises(
        InputError,
        match=re.escape(
            "BetaGeo.from_params needs exactly the parameters r, alpha, a, b. Got r, alpha."
        ),
    ):
        BetaGeo.from_params(r=1.0, alpha=2.0)
    with pytest.raises(
        InputError,
        match=re.escape("GammaGamma parameters must be positive and finite. Got q=-1.0."),
    ):
        GammaGamma.from_params(p=1.0, q=-1.0, v=2.0)


def test_random_state_is_checked_and_reproducible():
    m = BetaGeo.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5)
    pd.testing.assert_frame_equal(m.simulate(50, 10.0, 3), m.simulate(50, 10.0, 3))
    with pytest.raises(
        InputError,
        match=re.escape("random_state must be None, an int or a numpy Generator. Got str."),
    ):
        m.simulate(5, 10.0, random_state="seed")


# ---- estimator API


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_scikit_learn_parameters_and_clone(model):
    m = model(penalizer_coef=0.01, n_starts=3)
    params = m.get_params()
    assert params == {
        "collapse": True,
        "max_iter": 1000,
        "n_starts": 3,
        "on_failure": "raise",
        "penalizer_coef": 0.01,
        "tol": 1e-7,
    }
    twin = clone(m)
    assert twin.get_params() == params and twin is not m
    assert not hasattr(twin, "params_")
    assert m.set_params(n_starts=1).n_starts == 1
    with pytest.raises(TypeError):
        model(0.1)  # hyperparameters are keyword-only


def test_bg_bb_sums_by_frequency_equal_the_row_by_row_sums(monkeypatch):
    from valueseg.models import beta_geo_beta_binom

    truth = BetaGeoBetaBinom.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
    rng = np.random.default_rng(4)
    summary = truth.simulate(5_000, n_periods=rng.integers(1, 40, 5_000), random_state=rng)
    model = BetaGeoBetaBinom()
    data = model._prepare(summary, None)
    theta = np.array([0.9, 1.3, 0.5, 4.0])
    fast = model._loglik(theta, data)
    monkeypatch.setattr(beta_geo_beta_binom, "_tail_by_frequency", lambda *args: None)
    slow = model._loglik(theta, data)
    assert fast[0] == pytest.approx(slow[0], rel=1e-12)
    np.testing.assert_allclose(fast[1], slow[1], rtol=1e-9)


def test_pareto_nbd_sums_by_pair_equal_the_row_by_row_likelihood():
    # rows whose recency equals T (no death possible in (tx, T]) and weighted rows included
    truth = ParetoNBD.from_params(r=0.55, alpha=10.0, s=0.6, beta=12.0)
    rng = np.random.default_rng(5)
    summary = truth.simulate(3_000, T=rng.integers(1, 40, 3_000).astype(float), random_state=rng)
    summary["recency"] = np.floor(summary["recency"])
    summary.loc[summary.index[:50], "recency"] = summary["T"].iloc[:50]
    summary.loc[summary.index[:50], "frequency"] += 1.0
    weights = rng.integers(1, 4, len(summary)).astype(float)
    model = ParetoNBD()
    data = model._prepare(summary, weights)
    x, tx, T = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    for theta in (np.array([0.7, 9.0, 0.5, 15.0]), np.array([1.3, 20.0, 1.1, 4.0])):
        ll, grad = model._loglik(theta, data)
        r, alpha, s, beta = theta
        fitted = ParetoNBD.from_params(r=r, alpha=alpha, s=s, beta=beta)
        alive, gone = fitted._log_parts(x, tx, T)
        by_row = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        by_row += np.logaddexp(alive, gone)
        assert ll == pytest.approx(float(weights @ by_row), rel=1e-12)
        numeric = np.empty(4)
        for j in range(4):
            h = 1e-6 * theta[j]
            up, down = theta.copy(), theta.copy()
            up[j] += h
            down[j] -= h
            numeric[j] = (model._loglik(up, data)[0] - model._loglik(down, data)[0]) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=2e-5, atol=1e-3)
        # the last evaluation is remembered (fit asks for it again), and handed out as a copy
        first = model._loglik(theta, data)
        again = model._loglik(theta.copy(), data)
        assert first[0] == again[0] == ll and np.array_equal(again[1], grad)
        assert again[1] is not first[1]
