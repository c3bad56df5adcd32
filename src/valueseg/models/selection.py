"""Every run back-tests the value models on its own shop and keeps the best one.

The history before ``as_of`` is split: the models are fitted on the calibration part and
predict each customer's purchases (and spend) in the holdout span that follows; the holdout
is the last quarter of the history, at most a year. Each model is scored on the holdout,
the one with the smallest per-customer error (RMSE of predicted vs actual holdout purchases)
is chosen, refitted on the whole history and scores every customer.

The back-test is stored with the run so a shop can see how far to trust the predictions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from valueseg.errors import ValuesegError
from valueseg.models._base import ConvergenceWarning
from valueseg.models.beta_geo import BetaGeo
from valueseg.models.beta_geo_beta_binom import BetaGeoBetaBinom
from valueseg.models.gamma_gamma import GammaGamma
from valueseg.models.modified_beta_geo import ModifiedBetaGeo
from valueseg.models.pareto_nbd import ParetoNBD

#: The purchase models a run compares, by the name stored in ``model_fits``.
PURCHASE_MODELS: dict[str, type] = {
    "bg_nbd": BetaGeo,
    "pareto_nbd": ParetoNBD,
    "mbg_nbd": ModifiedBetaGeo,
    "bg_bb": BetaGeoBetaBinom,
}
#: BG/BB counts discrete opportunities: it joins the comparison for weekly/monthly periods.
DISCRETE_FREQS = ("W", "M")
#: Days per period of each summary frequency (horizons are given in days).
DAYS_PER_PERIOD = {"D": 1.0, "W": 7.0, "h": 1 / 24, "M": 365.25 / 12}
MAX_HOLDOUT = timedelta(days=365)
FREQUENCY_BINS = 8  # calibration frequency 0..6 and 7+


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
    converge (kept only when no model converged, see :func:`value_models`).
    """

    name: str
    model: Any = None
    error: str | None = None
    backtest: dict[str, Any] = field(default_factory=dict)
    squared_errors: np.ndarray | None = field(default=None, repr=False)
    caveat: str | None = None

    @property
    def ok(self) -> bool:
        return self.model is not None and self.error is None


def _bb_summary(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "frequency": summary["frequency"],
            "recency": summary["recency"].round(),
            "n_periods": summary["T"].round(),
        }
    )


#: Said once in a run's notes when fits did not converge (each fit's reason is shorter).
NOT_IDENTIFIED = (
    "The data may not identify these models (too few repeat purchases, no sign of dropout, "
    "or no difference between customers)."
)


def _reason(exc: BaseException | Warning) -> str:
    """What went wrong in a fit, without the advice a direct user of the model gets."""
    return str(getattr(exc, "reason", None) or exc).rstrip(".")


def _fit_one(name: str, summary: pd.DataFrame, *, strict: bool = True) -> tuple[Any, str | None]:
    """(fitted model, None), or (None, why not).

    ``strict=False`` keeps a fit that did not converge (a parameter at the edge of its
    range, a flat likelihood) when its predictions are finite, and gives the reason as
    the second item: a model is fitted, but it is not to be trusted as a converged one.
    """
    cls = PURCHASE_MODELS[name]
    data = _bb_summary(summary) if name == "bg_bb" else summary[["frequency", "recency", "T"]]
    model, why = _fit(cls(on_failure="raise" if strict else "warn"), data)
    if model is not None:
        with np.errstate(all="ignore"):
            finite = np.all(np.isfinite(_predict(name, model, 1.0, summary))) and np.all(
                np.isfinite(p_alive(name, model, summary))
            )
        if not finite:
            return None, why or f"{cls.__name__}'s fit predicts numbers that are not finite"
    return model, why


def _fit(estimator: Any, data: pd.DataFrame) -> tuple[Any, str | None]:
    """(fitted estimator, None); (fitted estimator, why it did not converge) when it warns;
    or (None, why not) when it raises. Numeric warnings of the search are silenced."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("always", ConvergenceWarning)
            model = estimator.fit(data)
    except (ValuesegError, ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        return None, _reason(exc)
    why = [_reason(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    return model, (why[0] if why else None)


def _predict(name: str, model: Any, t: Any, summary: pd.DataFrame) -> np.ndarray:
    x, tx, age = summary["frequency"], summary["recency"], summary["T"]
    if name == "bg_bb":
        bb = _bb_summary(summary)
        out = model.expected_purchases(t, bb.frequency, bb.recency, bb.n_periods)
    else:
        out = model.expected_purchases(t, x, tx, age)
    return np.asarray(out, dtype=np.float64)


def p_alive(name: str, model: Any, summary: pd.DataFrame) -> np.ndarray:
    """P(alive) of each customer of ``summary`` under ``model``."""
    if name == "bg_bb":
        bb = _bb_summary(summary)
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
    model, why = _fit(GammaGamma(on_failure="warn"), repeat[["frequency", "monetary_value"]])
    if model is not None and why is not None:
        spend = model.conditional_expected_average_profit(
            summary["frequency"], summary["monetary_value"]
        )
        if not np.all(np.isfinite(np.asarray(spend, dtype=np.float64))):
            return None, why
    return model, why


def _rank_corr(a: np.ndarray, b: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def auc(score: np.ndarray, label: np.ndarray) -> float | None:
    """Probability that a random positive scores above a random negative (ties half).

    Examples
    --------
    >>> auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]))
    0.75
    """
    from scipy.stats import rankdata

    pos = np.asarray(label, dtype=bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def top_decile_capture(predicted: np.ndarray, actual: np.ndarray) -> float | None:
    """Share of the actual total held by the 10 % of customers predicted highest.

    Examples
    --------
    >>> top_decile_capture(np.arange(10.0), np.array([0.0] * 9 + [5.0]))
    1.0
    """
    total = float(actual.sum())
    if total <= 0 or len(actual) == 0:
        return None
    k = max(1, int(np.ceil(len(actual) / 10)))
    top = np.argsort(-predicted, kind="stable")[:k]
    return float(actual[top].sum() / total)


def by_frequency(frequency: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> list[dict]:
    """Mean predicted vs actual holdout purchases by calibration frequency 0..6, 7+."""
    bins = np.minimum(frequency.astype(np.int64), FREQUENCY_BINS - 1)
    rows = []
    for b in range(FREQUENCY_BINS):
        mask = bins == b
        if not mask.any():
            continue
        rows.append(
            {
                "frequency": f"{b}+" if b == FREQUENCY_BINS - 1 else str(b),
                "customers": int(mask.sum()),
                "predicted": float(predicted[mask].mean()),
                "actual": float(actual[mask].mean()),
            }
        )
    return rows


def score_holdout(predicted: np.ndarray, cal: pd.DataFrame) -> dict[str, Any]:
    """Per-customer and aggregate errors of predicted holdout purchases."""
    actual = cal["frequency_holdout"].to_numpy(np.float64)
    err = predicted - actual
    total = float(actual.sum())
    return {
        "customers": len(actual),
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "correlation": _pearson(predicted, actual),
        "predicted_total": float(predicted.sum()),
        "actual_total": total,
        "aggregate_error_pct": float(100 * (predicted.sum() - total) / total) if total else None,
        "by_frequency": by_frequency(cal["frequency_cal"].to_numpy(), predicted, actual),
    }


def _cal_summary(cal: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "frequency": cal["frequency_cal"].to_numpy(np.float64),
            "recency": cal["recency_cal"].to_numpy(np.float64),
            "T": cal["T_cal"].to_numpy(np.float64),
            "monetary_value": cal["monetary_value_cal"].to_numpy(np.float64),
        }
    )


def candidates(freq: str) -> list[str]:
    """The purchase models compared for summaries in periods of ``freq``."""
    names = ["bg_nbd", "pareto_nbd", "mbg_nbd"]
    return [*names, "bg_bb"] if freq in DISCRETE_FREQS else names


def backtest(cal: pd.DataFrame, *, freq: str = "D", strict: bool = True) -> list[ModelResult]:
    """Fit each candidate on the calibration summary and score it on the holdout.

    ``cal`` is :func:`valueseg.calibration_holdout` output plus a ``spend_holdout`` column
    (each customer's actual spend in the holdout). ``strict=False`` keeps fits that did
    not converge, each with its ``caveat``; by default they are errors (see
    :func:`converged_only`).
    """
    summary = _cal_summary(cal)
    duration = float(cal["duration_holdout"].iloc[0])
    spend_model, spend_error = fit_spend(summary)
    spend_caveat = spend_error if spend_model is not None else None
    actual_spend = cal["spend_holdout"].to_numpy(np.float64)
    results = []
    for name in candidates(freq):
        model, why = _fit_one(name, summary, strict=False)
        if model is None:
            result = ModelResult(name, error=why)
        else:
            result = ModelResult(name, model, caveat=why)
        if model is not None:
            with np.errstate(all="ignore"):
                predicted = _predict(name, model, duration, summary)
            if not np.all(np.isfinite(predicted)):
                why = f"{name} predicts holdout purchases that are not finite" + (
                    f" ({why})" if why else ""
                )
                results.append(ModelResult(name, error=why))
                continue
            result.backtest = score_holdout(predicted, cal)
            result.squared_errors = (predicted - cal["frequency_holdout"].to_numpy()) ** 2
            result.backtest["alive_auc"] = auc(
                p_alive(name, model, summary), cal["frequency_holdout"].to_numpy() > 0
            )
            if spend_model is not None:
                spend = spend_model.conditional_expected_average_profit(
                    summary["frequency"], summary["monetary_value"]
                )
                value = predicted * np.asarray(spend, dtype=np.float64)
                result.backtest["value_spearman"] = _rank_corr(value, actual_spend)
                result.backtest["value_top_decile_capture"] = top_decile_capture(
                    value, actual_spend
                )
                if spend_caveat:
                    result.backtest["spend_model_caveat"] = spend_caveat
            else:
                result.backtest["spend_model_error"] = spend_error
        results.append(result)
    return converged_only(results) if strict else results


def converged_only(results: list[ModelResult]) -> list[ModelResult]:
    """The results with every fit that did not converge turned into an error (its reason)."""
    return [ModelResult(r.name, error=r.caveat) if r.ok and r.caveat else r for r in results]


def choose(results: list[ModelResult], z: float = 2.0) -> ModelResult | None:
    """The model that predicts the holdout best; when the holdout cannot tell, the better fit.

    The model with the smallest holdout RMSE leads. Another model whose per-customer squared
    errors are not worse than the leader's by more than ``z`` standard errors of the paired
    difference is as good on this holdout, and among those the lowest BIC on the
    calibration span wins: a holdout difference within its own noise is no evidence, while
    the likelihood uses every customer's timing, not only the holdout counts.
    """
    fitted = [r for r in results if r.ok and r.backtest]
    if not fitted:
        return None
    leader = min(fitted, key=lambda r: r.backtest["rmse"])
    tied = [r for r in fitted if _not_worse(r, leader, z)]
    return min(tied, key=lambda r: (getattr(r.model, "bic_", np.inf), r.backtest["rmse"]))


def _not_worse(r: ModelResult, leader: ModelResult, z: float) -> bool:
    if r is leader:
        return True
    if r.squared_errors is None or leader.squared_errors is None:
        return False
    diff = r.squared_errors - leader.squared_errors
    se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.inf
    return bool(diff.mean() <= z * se)


def score_customers(
    name: str, model: Any, spend_model: GammaGamma | None, summary: pd.DataFrame, freq: str
) -> pd.DataFrame:
    """P(alive), expected purchases in 90 and 365 days and 12-month discounted CLV."""
    per_day = DAYS_PER_PERIOD[freq]
    out = pd.DataFrame(
        {
            "customer_id": summary["customer_id"].to_numpy(),
            "p_alive": p_alive(name, model, summary),
            "expected_purchases_90d": _predict(name, model, 90 / per_day, summary),
            "expected_purchases_365d": _predict(name, model, 365 / per_day, summary),
        }
    )
    clv = np.full(len(summary), np.nan)
    if spend_model is not None:
        data = summary[["frequency", "recency", "T", "monetary_value"]]
        if name == "bg_bb":
            data = _bb_summary(summary).assign(monetary_value=summary["monetary_value"])
        clv = spend_model.customer_lifetime_value(model, data, horizon=12, freq=freq).to_numpy()
    out["predicted_clv_365d"] = clv
    return out


@dataclass
class ValueModels:
    """What a run's value-model stage produced."""

    results: list[ModelResult]
    chosen: ModelResult | None
    spend_model: GammaGamma | None
    scores: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def fits(self) -> list[dict[str, Any]]:
        """Rows for the ``model_fits`` table (params, fit statistics, back-test as dicts)."""
        rows = []
        chosen = self.chosen.name if self.chosen else None
        for r in self.results:
            m = r.model
            rows.append(
                {
                    "model": r.name,
                    "params": dict(m.params_) if m is not None else None,
                    "loglik": getattr(m, "loglik_", None),
                    "aic": getattr(m, "aic_", None),
                    "bic": getattr(m, "bic_", None),
                    "converged": bool(getattr(m, "converged_", False)) and r.error is None,
                    "chosen": r.name == chosen,
                    "backtest": {
                        **r.backtest,
                        "fitted_on": "all history" if r.name == chosen else "calibration span",
                        **({"error": r.error} if r.error else {}),
                        **({"caveat": r.caveat} if r.caveat else {}),
                    },
                }
            )
        if self.spend_model is not None:
            m = self.spend_model
            rows.append(
                {
                    "model": "gamma_gamma",
                    "params": dict(m.params_),
                    "loglik": m.loglik_,
                    "aic": m.aic_,
                    "bic": m.bic_,
                    "converged": bool(m.converged_),
                    "chosen": True,
                    "backtest": {},
                }
            )
        return rows


def value_models(
    cal: pd.DataFrame | None, summary: pd.DataFrame, *, freq: str = "D", why_no_cal: str = ""
) -> ValueModels:
    """Back-test on ``cal``, choose, refit the chosen model on ``summary`` and score.

    Without a calibration split (``cal`` None: too little history), BG/NBD is fitted on all
    of history and the notes say that it was not back-tested. When no model converges (a
    shop whose customers never stop buying, say: the dropout parameter runs to zero), the
    fits that did not converge but predict finite numbers are back-tested and chosen from
    instead, and the notes say that the scores come from such a fit.
    """
    notes: list[str] = []
    loose = backtest(cal, freq=freq, strict=False) if cal is not None else []
    results = converged_only(loose)
    chosen = choose(results)
    strict = True
    if cal is not None and chosen is None:
        # still answer: the closest fits found, back-tested like any other, said to be rough
        notes.append(
            "no purchase model converged on the calibration span ("
            + "; ".join(f"{r.name}: {r.error}" for r in results)
            + f"). {NOT_IDENTIFIED} The fits that did not converge are back-tested and "
            "compared instead."
        )
        strict = False
        results = loose
        chosen = choose(results)
    if cal is None:
        notes.append(f"not back-tested: {why_no_cal}")
        name = "bg_nbd"
    elif chosen is None:
        name = "bg_nbd"
    else:
        name = chosen.name
    # the chosen model refitted on all of history; should that fail, the next best of the
    # back-test (the same fallback as above for a fit that does not converge)
    ranked = sorted((r for r in results if r.ok and r.backtest), key=lambda r: r.backtest["rmse"])
    # then the back-tested fits that did not converge (when some did), best first
    rough = sorted((r for r in loose if r.ok and r.backtest), key=lambda r: r.backtest["rmse"])
    # without a back-test to rank them (too little history, or no model gave finite
    # holdout predictions), the other models in their usual order
    others = candidates(freq) if chosen is None else []
    final = None
    order = [name, *(r.name for r in ranked), *(r.name for r in rough), *others]
    for candidate in dict.fromkeys(order):
        final, error = _fit_one(candidate, summary, strict=strict)
        if final is None and strict:
            final, error = _fit_one(candidate, summary, strict=False)
        if final is not None:
            if candidate != name:
                chosen = next((r for r in results if r.name == candidate), None)
                if chosen is not None and not chosen.ok:  # did not converge: its back-test
                    i = results.index(chosen)
                    results[i] = chosen = next(r for r in loose if r.name == candidate)
                name = candidate
            break
        notes.append(f"{candidate} could not be fitted on all of history: {error}")
    caveat = error if final is not None else None
    spend_model, spend_error = fit_spend(summary)
    if spend_model is None:
        notes.append(f"no spend model, so no CLV: {spend_error}")
    elif spend_error:
        notes.append(
            f"the CLV's spend model (Gamma-Gamma) did not converge ({spend_error}). The CLV "
            "comes from the closest fit found and is rough."
        )
    if final is None:
        scores = pd.DataFrame({"customer_id": summary["customer_id"].to_numpy()})
        return ValueModels(results, None, spend_model, scores, notes)
    if caveat:
        notes.append(
            f"the scores come from {name}, which did not converge on this shop ({caveat}). "
            "They are the closest fit found and rough: compare its back-test with the "
            "others before acting on them."
        )
    if chosen is None:
        chosen = ModelResult(name, final, caveat=caveat)
        results.append(chosen)
    else:
        chosen.model = final  # keep the back-test, report the refit
        chosen.caveat = caveat
    scores = score_customers(name, final, spend_model, summary, freq)
    return ValueModels(results, chosen, spend_model, scores, notes)
