"""The back-test: each purchase model fitted on the calibration span, scored on the holdout.

The history before ``as_of`` is split: the models are fitted on the calibration part and
predict each customer's purchases (and spend) in the holdout span that follows; the holdout
is the last quarter of the history, at most a year (:func:`holdout_start`). Each model is
scored on the holdout (:func:`valueseg.models.metrics.score_holdout`);
:mod:`valueseg.models.choice` then chooses among them.

A fit that fails with the library's own errors (:class:`~valueseg.models.ConvergenceError`,
an input error) is recorded as that model's failure, with its reason; any other exception
is a defect and propagates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from valueseg.errors import ValuesegError
from valueseg.models._base import ConvergenceWarning, LikelihoodModel, PurchaseModel
from valueseg.models.beta_geo import BetaGeo
from valueseg.models.beta_geo_beta_binom import BetaGeoBetaBinom
from valueseg.models.gamma_gamma import GammaGamma
from valueseg.models.metrics import auc, rank_corr, score_holdout, top_decile_capture
from valueseg.models.modified_beta_geo import ModifiedBetaGeo
from valueseg.models.pareto_nbd import ParetoNBD

__all__ = [
    "DISCRETE_FREQS",
    "MAX_HOLDOUT",
    "PURCHASE_MODELS",
    "ModelResult",
    "backtest",
    "bb_summary",
    "candidates",
    "converged_only",
    "fit_one",
    "fit_spend",
    "holdout_start",
    "p_alive",
    "predict_purchases",
]

#: The purchase models a run compares, by the name stored in ``model_fits``.
PURCHASE_MODELS: dict[str, type[PurchaseModel[Any]]] = {
    "bg_nbd": BetaGeo,
    "pareto_nbd": ParetoNBD,
    "mbg_nbd": ModifiedBetaGeo,
    "bg_bb": BetaGeoBetaBinom,
}
#: BG/BB counts discrete opportunities: it joins the comparison for weekly/monthly periods.
DISCRETE_FREQS = ("W", "M")
MAX_HOLDOUT = timedelta(days=365)

_Model = TypeVar("_Model", bound=LikelihoodModel[Any])


def holdout_start(first_order: datetime, as_of: datetime) -> datetime:
    """Start of the back-test holdout: the last quarter of history, at most a year.

    Examples
    --------
    >>> holdout_start(datetime(2024, 1, 1), datetime(2025, 1, 1))
    datetime.datetime(2024, 10, 1, 0, 0)
    """
    span = min((as_of - first_order) / 4, MAX_HOLDOUT)
    start = as_of - span
    return datetime(start.year, start.month, start.day)  # whole days


@dataclass
class ModelResult:
    """One purchase model's fit and its back-test.

    ``error`` says why there is no model; ``caveat`` why the model there is did not
    converge (kept only when no model converged, see
    :func:`valueseg.models.choice.value_models`).
    """

    name: str
    model: PurchaseModel[Any] | None = None
    error: str | None = None
    backtest: dict[str, Any] = field(default_factory=dict)
    squared_errors: np.ndarray | None = field(default=None, repr=False)
    caveat: str | None = None
    #: customers behind each of ``squared_errors`` (None: one each)
    error_weights: np.ndarray | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.model is not None and self.error is None


def bb_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """BG/BB's columns of a day-based summary: whole periods (and ``weights``, if any)."""
    out = pd.DataFrame(
        {
            "frequency": summary["frequency"],
            "recency": summary["recency"].round(),
            "n_periods": summary["T"].round(),
        }
    )
    return _with_weights(out, summary)


def _with_weights(data: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """``data`` with ``summary``'s ``weights`` column (customers per row), when it has one."""
    if "weights" in summary.columns:
        return data.assign(weights=summary["weights"].to_numpy())
    return data


def _reason(exc: BaseException | Warning | str) -> str:
    """What went wrong in a fit, without the advice a direct user of the model gets."""
    return str(getattr(exc, "reason", None) or exc).rstrip(".")


def fit_one(
    name: str, summary: pd.DataFrame, *, strict: bool = True
) -> tuple[PurchaseModel[Any] | None, str | None]:
    """(fitted model, None), or (None, why not).

    ``strict=False`` keeps a fit that did not converge (a parameter at the edge of its
    range, a flat likelihood) when its predictions are finite, and gives the reason as
    the second item: a model is fitted, but it is not to be trusted as a converged one.
    """
    cls = PURCHASE_MODELS[name]
    data = (
        bb_summary(summary)
        if name == "bg_bb"
        else _with_weights(summary[["frequency", "recency", "T"]], summary)
    )
    model, why = _fit(cls(on_failure="raise" if strict else "warn"), data)
    if model is not None:
        with np.errstate(all="ignore"):
            finite = np.all(np.isfinite(predict_purchases(name, model, 1.0, summary))) and np.all(
                np.isfinite(p_alive(name, model, summary))
            )
        if not finite:
            return None, why or f"{cls.__name__}'s fit predicts numbers that are not finite"
    return model, why


def _fit(estimator: _Model, data: pd.DataFrame) -> tuple[_Model | None, str | None]:
    """(fitted estimator, None); (fitted estimator, why it did not converge) when it warns;
    or (None, why not) when it raises one of the library's errors (anything else is a
    defect, and propagates). Numeric warnings of the search are silenced."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("always", ConvergenceWarning)
            model = estimator.fit(data)
    except ValuesegError as exc:  # ConvergenceError, InputError
        return None, _reason(exc)
    why = [_reason(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    return model, (why[0] if why else None)


def predict_purchases(
    name: str, model: PurchaseModel[Any], t: Any, summary: pd.DataFrame
) -> np.ndarray:
    """Expected purchases of each customer of ``summary`` in the next ``t`` periods."""
    x, tx, age = summary["frequency"], summary["recency"], summary["T"]
    if name == "bg_bb":
        bb = bb_summary(summary)
        out = model.expected_purchases(t, bb.frequency, bb.recency, bb.n_periods)
    else:
        out = model.expected_purchases(t, x, tx, age)
    return np.asarray(out, dtype=np.float64)


def p_alive(name: str, model: PurchaseModel[Any], summary: pd.DataFrame) -> np.ndarray:
    """P(alive) of each customer of ``summary`` under ``model``."""
    if name == "bg_bb":
        bb = bb_summary(summary)
        out = model.probability_alive(bb.frequency, bb.recency, bb.n_periods)
    else:
        out = model.probability_alive(summary["frequency"], summary["recency"], summary["T"])
    return np.asarray(out, dtype=np.float64)


def fit_spend(summary: pd.DataFrame) -> tuple[GammaGamma | None, str | None]:
    """Gamma-Gamma on the repeat buyers with positive spend: (model, None), or, when the
    fit does not converge, the closest fit found with the reason (its predictions finite),
    or (None, why not).

    A fit that does not converge is kept here, as a purchase model is when none converges:
    there is no other spend model to fall back on. The common case: customers do not differ
    in what they spend per order beyond chance, ``q`` runs to its edge, and the fit there
    predicts about the shop's mean order value for everyone.
    """
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    data = _with_weights(repeat[["frequency", "monetary_value"]], repeat)
    model, why = _fit(GammaGamma(on_failure="warn"), data)
    if model is not None and why is not None:
        spend = model.conditional_expected_average_profit(
            summary["frequency"], summary["monetary_value"]
        )
        if not np.all(np.isfinite(np.asarray(spend, dtype=np.float64))):
            return None, why
    return model, why


def _cal_summary(cal: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "frequency": cal["frequency_cal"].to_numpy(np.float64),
            "recency": cal["recency_cal"].to_numpy(np.float64),
            "T": cal["T_cal"].to_numpy(np.float64),
        }
    )
    if "monetary_value_cal" in cal.columns:
        out["monetary_value"] = cal["monetary_value_cal"].to_numpy(np.float64)
    return _with_weights(out, cal)


def candidates(freq: str) -> list[str]:
    """The purchase models compared for summaries in periods of ``freq``."""
    names = ["bg_nbd", "pareto_nbd", "mbg_nbd"]
    return [*names, "bg_bb"] if freq in DISCRETE_FREQS else names


def backtest(
    cal: pd.DataFrame,
    *,
    freq: str = "D",
    strict: bool = True,
    spend: tuple[GammaGamma | None, str | None] | None = None,
    value_sample: pd.DataFrame | None = None,
) -> list[ModelResult]:
    """Fit each candidate on the calibration summary and score it on the holdout.

    ``cal`` is :func:`valueseg.calibration_holdout` output plus a ``spend_holdout`` column
    (each customer's actual spend in the holdout). ``strict=False`` keeps fits that did
    not converge, each with its ``caveat``; by default they are errors (see
    :func:`converged_only`).

    On a shop too large to hold one row per customer, ``cal`` may instead hold one row per
    distinct ``frequency_cal, recency_cal, T_cal, frequency_holdout`` with a ``weights``
    column counting its customers: the fits and the holdout errors are then the same as
    over the customers. ``spend`` is then the spend model (:func:`fit_spend` on the
    calibration span's distinct ``frequency, monetary_value`` with their ``weights``) and
    ``value_sample`` a uniform sample of customers' rows of :func:`calibration_holdout`
    with ``spend_holdout``, on which the value metrics (Spearman, top-decile capture) are
    computed.
    """
    summary = _cal_summary(cal)
    duration = float(cal["duration_holdout"].iloc[0])
    if spend is None:
        spend = fit_spend(summary)
    values = cal if value_sample is None else value_sample
    results = [
        _backtest_one(name, summary, cal, duration, spend, values) for name in candidates(freq)
    ]
    return converged_only(results) if strict else results


def _backtest_one(
    name: str,
    summary: pd.DataFrame,
    cal: pd.DataFrame,
    duration: float,
    spend: tuple[GammaGamma | None, str | None],
    values: pd.DataFrame,
) -> ModelResult:
    """One candidate fitted on the calibration summary, with its holdout scorecard (the
    value metrics on ``values``: ``cal`` itself, or a sample of customers)."""
    model, why = fit_one(name, summary, strict=False)
    if model is None:
        return ModelResult(name, error=why)
    with np.errstate(all="ignore"):
        predicted = predict_purchases(name, model, duration, summary)
    if not np.all(np.isfinite(predicted)):
        why = f"{name} predicts holdout purchases that are not finite" + (
            f" ({why})" if why else ""
        )
        return ModelResult(name, error=why)
    result = ModelResult(name, model, caveat=why)
    result.backtest = score_holdout(predicted, cal)
    result.squared_errors = (predicted - cal["frequency_holdout"].to_numpy()) ** 2
    weights = cal["weights"].to_numpy(np.float64) if "weights" in cal.columns else None
    result.error_weights = weights
    result.backtest["alive_auc"] = auc(
        p_alive(name, model, summary), cal["frequency_holdout"].to_numpy() > 0, weights
    )
    if values is not cal:
        sample = _cal_summary(values)
        predicted = predict_purchases(name, model, duration, sample)
        summary, cal = sample, values
        result.backtest["value_metrics_on"] = f"a uniform sample of {len(values):,} customers"
    result.backtest.update(_value_metrics(predicted, summary, cal, spend))
    return result


def _value_metrics(
    predicted: np.ndarray,
    summary: pd.DataFrame,
    cal: pd.DataFrame,
    spend: tuple[GammaGamma | None, str | None],
) -> dict[str, Any]:
    """How well predicted purchases times predicted spend rank the holdout's actual spend."""
    spend_model, spend_error = spend
    if spend_model is None:
        return {"spend_model_error": spend_error}
    actual_spend = cal["spend_holdout"].to_numpy(np.float64)
    per_purchase = spend_model.conditional_expected_average_profit(
        summary["frequency"], summary["monetary_value"]
    )
    value = predicted * np.asarray(per_purchase, dtype=np.float64)
    out: dict[str, Any] = {
        "value_spearman": rank_corr(value, actual_spend),
        "value_top_decile_capture": top_decile_capture(value, actual_spend),
    }
    if spend_error:
        out["spend_model_caveat"] = spend_error
    return out


def converged_only(results: list[ModelResult]) -> list[ModelResult]:
    """The results with every fit that did not converge turned into an error (its reason)."""
    return [ModelResult(r.name, error=r.caveat) if r.ok and r.caveat else r for r in results]
