"""The estimator contract: a fit that raises changes nothing, ``fit(X, y=None)`` in a
Pipeline, numeric failures of the search as ConvergenceError, defects passed on as they are."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.validation import check_is_fitted

from valueseg.errors import InputError
from valueseg.models import (
    BetaGeo,
    BetaGeoBetaBinom,
    ConvergenceError,
    ConvergenceWarning,
    GammaGamma,
    ModifiedBetaGeo,
    NotFittedError,
    ParetoNBD,
    _base,
)

ALL_MODELS = [BetaGeo, ModifiedBetaGeo, ParetoNBD, BetaGeoBetaBinom, GammaGamma]
ADVICE = (
    " The data may not identify this model (too few repeat purchases, no sign of dropout, or "
    "no difference between customers). Try penalizer_coef=0.001 (or larger), a longer "
    "observation period, or ParetoNBD or ModifiedBetaGeo."
)


def _good(model, cdnow, donations) -> pd.DataFrame:
    if model is BetaGeoBetaBinom:
        return donations
    return cdnow[["frequency", "monetary_value"]] if model is GammaGamma else cdnow


def _not_identified(model) -> pd.DataFrame:
    """A summary on which ``model`` does not converge (checked: each raises)."""
    rng = np.random.default_rng(0)
    if model is BetaGeoBetaBinom:  # everyone transacts at every opportunity: no dropout
        n = rng.integers(1, 7, 500).astype(float)
        return pd.DataFrame({"frequency": n, "recency": n, "n_periods": n})
    if model is GammaGamma:  # every customer's orders from one spend distribution
        x = rng.integers(1, 12, 3_000)
        spend = np.array([rng.gamma(4.0, 10.0, k).mean() for k in x])
        return pd.DataFrame({"frequency": x.astype(float), "monetary_value": spend})
    # every repeat buyer bought at the very end: nothing tells when customers leave
    T = rng.uniform(10, 50, 2000).round()
    x = rng.poisson(3, 2000).astype(float)
    return pd.DataFrame({"frequency": x, "recency": np.where(x > 0, T, 0.0), "T": T})


def _predict(model, summary: pd.DataFrame) -> np.ndarray:
    if isinstance(model, GammaGamma):
        out = model.conditional_expected_average_profit(
            summary["frequency"], summary["monetary_value"]
        )
    elif isinstance(model, BetaGeoBetaBinom):
        out = model.expected_purchases(5, summary.frequency, summary.recency, summary.n_periods)
    else:
        out = model.expected_purchases(10.0, summary.frequency, summary.recency, summary["T"])
    return np.asarray(out, dtype=np.float64)


def _fitted_state(model) -> dict:
    return {k: v for k, v in vars(model).items() if k.endswith("_") and not k.startswith("_")}


# ---- a fit that raises leaves the model as it was


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_a_failed_fit_keeps_the_previous_fit(model, cdnow, donations):
    good = _good(model, cdnow, donations)
    m = model().fit(good)
    before, predicted = _fitted_state(m), _predict(m, good)
    assert m.converged_
    with pytest.raises(ConvergenceError, match=f"^{model.__name__} did not converge"):
        m.fit(_not_identified(model))
    after = _fitted_state(m)
    assert after.keys() == before.keys()
    assert all(after[k] is before[k] for k in before)  # not a value of the failed fit
    np.testing.assert_array_equal(_predict(m, good), predicted)
    assert m.converged_


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_a_failed_fit_leaves_a_new_model_unfitted(model, cdnow, donations):
    m = model()
    with pytest.raises(ConvergenceError):
        m.fit(_not_identified(model))
    assert _fitted_state(m) == {}
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(m)
    with pytest.raises(NotFittedError, match=f"^This {model.__name__} is not fitted yet"):
        _predict(m, _good(model, cdnow, donations))


def test_an_input_error_after_a_good_fit_keeps_it(cdnow):
    m = BetaGeo().fit(cdnow)
    params = m.params_
    with pytest.raises(InputError, match="Column 'recency' not found"):
        m.fit(cdnow.drop(columns="recency"))
    assert m.params_ is params


def test_a_convergence_warning_raised_as_an_error_leaves_the_model_unfitted():
    """``on_failure="warn"`` keeps a fit that did not converge, unless the warning is
    turned into an exception: then the fit raised, and nothing is kept."""
    m = BetaGeo(on_failure="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            m.fit(_not_identified(BetaGeo))
    assert _fitted_state(m) == {}
    with pytest.warns(ConvergenceWarning):
        m.fit(_not_identified(BetaGeo))
    assert not m.converged_ and set(m.params_) == {"r", "alpha", "a", "b"}


# ---- scikit-learn Pipeline


def test_a_model_ends_a_pipeline(cdnow):
    columns = FunctionTransformer(lambda frame: frame[["frequency", "recency", "T"]])
    pipe = Pipeline([("columns", columns), ("model", BetaGeo())]).fit(cdnow)
    direct = BetaGeo().fit(cdnow)
    assert pipe.named_steps["model"].params_ == direct.params_
    assert pipe.score(cdnow) == pytest.approx(direct.score(cdnow))
    m = BetaGeo()
    assert m.fit(cdnow, None) is m  # fit(X, y=None) returns self


# ---- numeric failures of the search, and defects


@pytest.mark.parametrize(
    "exc",
    [np.linalg.LinAlgError("Singular matrix"), FloatingPointError("overflow encountered")],
    ids=["LinAlgError", "FloatingPointError"],
)
@pytest.mark.parametrize("on_failure", ["raise", "warn"])
def test_a_numeric_failure_of_the_search_is_a_convergence_error(
    exc, on_failure, monkeypatch, cdnow
):
    def fails(self, theta, data):
        raise exc

    monkeypatch.setattr(BetaGeo, "_loglik", fails)
    reason = f"BetaGeo did not converge: the numerical search failed ({type(exc).__name__}: {exc})."
    m = BetaGeo(on_failure=on_failure)  # no parameters to keep: raised either way
    with pytest.raises(ConvergenceError, match=re.escape(reason + ADVICE)) as info:
        m.fit(cdnow)
    assert info.value.reason == reason
    assert isinstance(info.value.__cause__, type(exc))
    assert _fitted_state(m) == {}


def test_scipy_refusing_the_problem_is_a_convergence_error(monkeypatch, cdnow):
    def refuses(*args, **kwargs):
        raise ValueError("An upper bound is less than the corresponding lower bound.")

    monkeypatch.setattr(_base, "minimize", refuses)
    reason = (
        "BetaGeo did not converge: the numerical search failed (ValueError: An upper bound "
        "is less than the corresponding lower bound.)."
    )
    with pytest.raises(ConvergenceError, match=re.escape(reason + ADVICE)):
        BetaGeo().fit(cdnow)


@pytest.mark.parametrize("exc", [ZeroDivisionError, KeyError, TypeError, ValueError])
def test_a_defect_in_the_likelihood_is_not_a_convergence_error(exc, monkeypatch, cdnow):
    """A ValueError raised by the likelihood itself, inside SciPy's search, is a defect
    too: only SciPy's own refusals count as numeric failures."""
    start = BetaGeo._loglik
    calls = []

    def breaks(self, theta, data):  # the first calls score the starts, outside SciPy
        calls.append(1)
        if len(calls) > 20:
            raise exc("planted")
        return start(self, theta, data)

    monkeypatch.setattr(BetaGeo, "_loglik", breaks)
    with pytest.raises(exc, match="planted"):
        BetaGeo().fit(cdnow)
