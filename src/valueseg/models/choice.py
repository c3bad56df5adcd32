"""Every run back-tests the value models on its own shop and keeps the best one.

:func:`value_models` is the value stage of a run: the back-test of
:mod:`valueseg.models.backtest`, the choice (:func:`choose`: the smallest per-customer error
on the holdout, the better fit where the holdout cannot tell), the chosen model refitted on
the whole history, and every customer scored with it (:func:`score_customers`).

The back-test is stored with the run so a shop can see how far to trust the predictions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# The fits are looked up on the module (``bt.fit_one``), so that the back-test's fits and
# the refits go through one function.
from valueseg.models import backtest as bt
from valueseg.models._base import PurchaseModel
from valueseg.models.backtest import ModelResult
from valueseg.models.gamma_gamma import GammaGamma

__all__ = [
    "DAYS_PER_PERIOD",
    "NOT_IDENTIFIED",
    "ValueModels",
    "choose",
    "fit_value_models",
    "score_customers",
    "value_models",
]

#: Days per period of each summary frequency (horizons are given in days).
DAYS_PER_PERIOD = {"D": 1.0, "W": 7.0, "h": 1 / 24, "M": 365.25 / 12}
#: Said once in a run's notes when fits did not converge (each fit's reason is shorter).
NOT_IDENTIFIED = (
    "The data may not identify these models (too few repeat purchases, no sign of dropout, "
    "or no difference between customers)."
)


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
    w = r.error_weights
    if w is None:
        se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.inf
        return bool(diff.mean() <= z * se)
    # rows standing for w customers each: the same mean and standard error
    n = float(w.sum())
    mean = float(w @ diff) / n
    se = np.sqrt(float(w @ (diff - mean) ** 2) / (n - 1) / n) if n > 1 else np.inf
    return bool(mean <= z * se)


def score_customers(
    name: str,
    model: PurchaseModel[Any],
    spend_model: GammaGamma | None,
    summary: pd.DataFrame,
    freq: str,
) -> pd.DataFrame:
    """P(alive), expected purchases in 90 and 365 days and 12-month discounted CLV."""
    per_day = DAYS_PER_PERIOD[freq]
    out = pd.DataFrame(
        {
            "customer_id": summary["customer_id"].to_numpy(),
            "p_alive": bt.p_alive(name, model, summary),
            "expected_purchases_90d": bt.predict_purchases(name, model, 90 / per_day, summary),
            "expected_purchases_365d": bt.predict_purchases(name, model, 365 / per_day, summary),
        }
    )
    clv = np.full(len(summary), np.nan)
    if spend_model is not None:
        data = summary[["frequency", "recency", "T", "monetary_value"]]
        if name == "bg_bb":
            data = bt.bb_summary(summary).assign(monetary_value=summary["monetary_value"])
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
        chosen = self.chosen.name if self.chosen else None
        rows = [_fit_row(r, chosen) for r in self.results]
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


def _fit_row(r: ModelResult, chosen: str | None) -> dict[str, Any]:
    """One purchase model's ``model_fits`` row."""
    m = r.model
    return {
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


def value_models(
    cal: pd.DataFrame | None, summary: pd.DataFrame, *, freq: str = "D", why_no_cal: str = ""
) -> ValueModels:
    """Back-test on ``cal``, choose, refit the chosen model on ``summary`` and score.

    Without a calibration split (``cal`` None: too little history), BG/NBD is fitted on all
    of history and the notes say that it was not back-tested. When no model converges (a
    shop whose customers never stop buying, say: the dropout parameter runs to zero), the
    fits that did not converge but predict finite numbers are back-tested and chosen from
    instead, and the notes say that the scores come from such a fit. Should the chosen
    model fail on all of history, the next best of the back-test is refitted instead.
    """
    loose = bt.backtest(cal, freq=freq, strict=False) if cal is not None else None
    values = fit_value_models(loose, summary, freq=freq, why_no_cal=why_no_cal)
    chosen = values.chosen
    if chosen is None or chosen.model is None:
        values.scores = pd.DataFrame({"customer_id": summary["customer_id"].to_numpy()})
    else:
        values.scores = score_customers(
            chosen.name, chosen.model, values.spend_model, summary, freq
        )
    return values


def fit_value_models(
    loose: list[ModelResult] | None,
    summary: pd.DataFrame,
    *,
    spend_summary: pd.DataFrame | None = None,
    freq: str = "D",
    why_no_cal: str = "",
) -> ValueModels:
    """:func:`value_models` up to the scores: choose on the back-test, refit, spend model.

    ``loose`` is :func:`valueseg.models.backtest.backtest` with ``strict=False`` (None: not
    back-tested, ``why_no_cal`` says why). ``summary`` is what the chosen model is refitted
    on: one row per customer, or per distinct ``frequency, recency, T`` with a ``weights``
    column (the same fit); ``spend_summary`` likewise for the spend model (default
    ``summary``). The result's ``scores`` is empty: score with :func:`score_customers`,
    where the customers are.
    """
    notes: list[str] = []
    results, chosen, strict = _choose_on_backtest(loose or [], notes)
    if loose is None:
        notes.append(f"not back-tested: {why_no_cal}")
    name = chosen.name if chosen is not None else "bg_nbd"
    order = _refit_order(name, results, loose or [], chosen is None, freq)
    refit = _refit(order, summary, strict, notes)
    spend_model = _spend_model(summary if spend_summary is None else spend_summary, notes)
    scores = pd.DataFrame()
    if refit is None:
        return ValueModels(results, None, spend_model, scores, notes)
    candidate, final, caveat = refit
    if candidate != name:
        chosen, name = _result_of(candidate, results, loose or []), candidate
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
    return ValueModels(results, chosen, spend_model, scores, notes)


def _choose_on_backtest(
    loose: list[ModelResult], notes: list[str]
) -> tuple[list[ModelResult], ModelResult | None, bool]:
    """(results, chosen, strict): chosen among the converged fits; when none converged,
    among the back-tested fits that did not (``strict`` False, and the notes say so)."""
    results = bt.converged_only(loose)
    chosen = choose(results)
    if not loose or chosen is not None:
        return results, chosen, True
    # still answer: the closest fits found, back-tested like any other, said to be rough
    notes.append(
        "no purchase model converged on the calibration span ("
        + "; ".join(f"{r.name}: {r.error}" for r in results)
        + f"). {NOT_IDENTIFIED} The fits that did not converge are back-tested and "
        "compared instead."
    )
    return loose, choose(loose), False


def _refit_order(
    name: str, results: list[ModelResult], loose: list[ModelResult], unchosen: bool, freq: str
) -> list[str]:
    """The models to refit on all of history, in turn until one fits."""
    # the chosen model; should that fail, the next best of the back-test (the same
    # fallback as above for a fit that does not converge)
    ranked = sorted((r for r in results if r.ok and r.backtest), key=lambda r: r.backtest["rmse"])
    # then the back-tested fits that did not converge (when some did), best first
    rough = sorted((r for r in loose if r.ok and r.backtest), key=lambda r: r.backtest["rmse"])
    # without a back-test to rank them (too little history, or no model gave finite
    # holdout predictions), the other models in their usual order
    others = bt.candidates(freq) if unchosen else []
    order = [name, *(r.name for r in ranked), *(r.name for r in rough), *others]
    return list(dict.fromkeys(order))


def _refit(
    order: list[str], summary: pd.DataFrame, strict: bool, notes: list[str]
) -> tuple[str, PurchaseModel[Any], str | None] | None:
    """(name, model fitted on all of history, why it did not converge) of the first model
    of ``order`` that fits, or None; each failure said in the notes."""
    for candidate in order:
        final, error = bt.fit_one(candidate, summary, strict=strict)
        if final is None and strict:
            final, error = bt.fit_one(candidate, summary, strict=False)
        if final is not None:
            return candidate, final, error
        notes.append(f"{candidate} could not be fitted on all of history: {error}")
    return None


def _result_of(
    candidate: str, results: list[ModelResult], loose: list[ModelResult]
) -> ModelResult | None:
    """The back-test of the model refitted instead of the chosen one: among ``results``, or
    (did not converge) its back-test among the ``loose`` fits, swapped into ``results``."""
    chosen = next((r for r in results if r.name == candidate), None)
    if chosen is not None and not chosen.ok:
        i = results.index(chosen)
        results[i] = chosen = next(r for r in loose if r.name == candidate)
    return chosen


def _spend_model(summary: pd.DataFrame, notes: list[str]) -> GammaGamma | None:
    """Gamma-Gamma on all of history, its failure or caveat said in the notes."""
    spend_model, spend_error = bt.fit_spend(summary)
    if spend_model is None:
        notes.append(f"no spend model, so no CLV: {spend_error}")
    elif spend_error:
        notes.append(
            f"the CLV's spend model (Gamma-Gamma) did not converge ({spend_error}). The CLV "
            "comes from the closest fit found and is rough."
        )
    return spend_model
