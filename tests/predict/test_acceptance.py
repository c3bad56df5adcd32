"""Acceptance: the chosen learner against the truth (synthetic shop) and the future (CDNOW).

Synthetic shop (known truth), at the validation cutoff (the latest, 2024-10-03), churn = no
purchase in the next 90 days. Three oracles score the same customers:

- the *latent* oracle knows each customer's true state and rate:
  ``1 - alive * (1 - exp(-lambda * 90))``. No model of the history can reach it (it knows
  who has already left); it is printed as the ceiling;
- the *history* oracle knows the shop's true parameters and sees what the learners see of
  the purchase history: each segment's BG/NBD P(no purchase in 90 days), weighed by the
  segment's posterior (share, birth window, likelihood of the history), as
  ``bench/value_truth.py`` does. The learners also see browsing, which the process ties to
  being alive, so they can do better than it;
- the *own-rate* oracle knows each customer's own rate and dropout probability (not
  whether they have left) and sees the purchase history (:func:`rate_oracle`). No model
  can know a customer's own rate from a handful of orders either; it is printed between
  the two.

The chosen learner must be at least as good as the baseline and within 0.03 of the history
oracle (or better).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from valueseg._synth.oracle import oracle_models, oracle_posterior
from valueseg.datasets import load_cdnow
from valueseg.features.compute import compute_features
from valueseg.io import ingest
from valueseg.predict import predict_stage
from valueseg.predict.btyd import probability_no_purchase
from valueseg.predict.labels import features_before
from valueseg.predict.metrics import normalized_gini
from valueseg.store import Store
from valueseg.synth import make_shop

pytestmark = pytest.mark.slow
NOW = datetime(2025, 1, 2)
RFT = ["frequency", "recency", "T"]


def history_oracle(shop, d: pd.DataFrame, end: datetime, days: float) -> np.ndarray:
    """P(no purchase in ``days``) under the true segments, given the summary ``d`` at ``end``."""
    post = oracle_posterior(shop, d, end)
    p0 = [probability_no_purchase("bg_nbd", m, days, d) for m in oracle_models(shop)]
    return (post * np.column_stack(p0)).sum(axis=1)


def rate_oracle(truth: pd.DataFrame, d: pd.DataFrame, days: float) -> np.ndarray:
    """P(no purchase in ``days``) for a customer whose own rate ``lambda`` and dropout
    probability ``p`` are known, given their history ``d`` (Fader, Hardie & Lee 2005 at the
    individual level): alive with odds (1 - p) e^(-lambda (T - recency)) against p after a
    repeat purchase, surely alive before one; an alive customer buys within ``days`` with
    probability 1 - e^(-lambda days)."""
    lam, p = truth["lambda"].to_numpy(), truth["p"].to_numpy()
    x, recency, age = (d[c].to_numpy() for c in RFT)
    stay = (1 - p) * np.exp(-lam * (age - recency))
    alive = np.where(x > 0, stay / (stay + p), 1.0)
    return np.asarray(1 - alive * (1 - np.exp(-lam * days)))


@pytest.fixture(scope="module")
def synth():
    from valueseg.pipeline import _value_models

    shop = make_shop(8_000, random_state=3)
    with Store(":memory:") as store:
        ingest(shop.transactions, db=store, now=NOW)
        ingest(shop.events, kind="events", db=store, now=NOW)
        ingest(shop.customers, kind="customers", db=store, now=NOW)
        as_of = datetime(2025, 1, 1)
        features = compute_features(store, as_of).to_pandas()
        values = _value_models(store, as_of, features, "D")
        result = predict_stage(store, as_of, features, values)
        at = result.cutoffs[-1]
        summary = features_before(store, at).set_index("customer_id")[RFT]
    return shop, result, at, summary


def test_synth_chosen_learner_against_the_oracles_and_the_baseline(synth):
    shop, result, at, summary = synth
    cv = result.validation["churn"]
    truth = shop.truth.set_index("customer_id").loc[cv.customer_id]
    alive = (truth["dropout_date"].isna() | (truth["dropout_date"] > pd.Timestamp(at))).to_numpy()
    latent = 1 - alive * (1 - np.exp(-truth["lambda"].to_numpy() * 90))
    d = summary.loc[cv.customer_id].reset_index(drop=True).astype(np.float64)
    history = history_oracle(shop, d, at - pd.Timedelta(days=1), 90.0)
    auc = {name: roc_auc_score(cv.target, cv.predictions[name]) for name in cv.predictions}
    auc["oracle (latent state and rate)"] = roc_auc_score(cv.target, latent)
    auc["oracle (true parameters, history)"] = roc_auc_score(cv.target, history)
    auc["oracle (own rate and dropout, history)"] = roc_auc_score(
        cv.target, rate_oracle(truth, d, 90.0)
    )
    print("\n" + "\n".join(f"{k:36s} {v:.3f}" for k, v in auc.items()))
    chosen = result.tasks["churn"].chosen
    assert chosen != "btyd"
    assert auc[chosen] >= auc["btyd"]
    assert auc[chosen] >= auc["oracle (true parameters, history)"] - 0.03
    assert auc[chosen] < auc["oracle (own rate and dropout, history)"]
    assert auc["oracle (own rate and dropout, history)"] < auc["oracle (latent state and rate)"]


def test_synth_next_order_dates_come_true_half_the_time(synth):
    _, result, _, _ = synth
    assert result.next_order_backtest["share"] == pytest.approx(0.5, abs=0.06)


CDNOW_AS_OF = datetime(1997, 10, 1)  # history to 1997-09-30


@pytest.fixture(scope="module")
def cdnow():
    from valueseg.pipeline import _value_models

    orders = load_cdnow("master")
    past = orders[orders["timestamp"] < CDNOW_AS_OF]
    future = orders[orders["timestamp"] >= CDNOW_AS_OF]
    with Store(":memory:") as store:
        ingest(past, db=store, now=CDNOW_AS_OF)
        features = compute_features(store, CDNOW_AS_OF).to_pandas()
        values = _value_models(store, CDNOW_AS_OF, features, "D")
        result = predict_stage(store, CDNOW_AS_OF, features, values)
    return features, values, result, future


def test_cdnow_churn_ranks_the_next_90_days_as_well_as_the_baseline(cdnow):
    features, values, result, future = cdnow
    ids = result.scores["customer_id"]
    end = CDNOW_AS_OF + pd.Timedelta(days=90)
    buyers = set(future.loc[future["timestamp"] < end, "customer_id"])
    churned = ~ids.isin(buyers).to_numpy()
    chosen = values.chosen
    summary = features.set_index("customer_id").loc[ids, RFT]
    baseline = probability_no_purchase(chosen.name, chosen.model, 90.0, summary)
    ours = roc_auc_score(churned, result.scores["churn_probability"])
    theirs = roc_auc_score(churned, baseline)
    print(f"\nCDNOW next 90 days: stored churn_probability AUC {ours:.3f}, baseline {theirs:.3f}")
    print(result.leaderboard.round(3).to_string())
    assert ours >= theirs - 1e-9


def test_cdnow_clv_ranks_the_next_273_days_as_well_as_todays(cdnow):
    _, values, result, future = cdnow
    spend = future.groupby("customer_id")["amount"].sum()
    ids = result.scores["customer_id"]
    actual = spend.reindex(ids).fillna(0.0).to_numpy()
    today = values.scores.set_index("customer_id").loc[ids, "predicted_clv_365d"].to_numpy()
    stored = result.scores.get("predicted_clv_365d", pd.Series(today)).to_numpy()
    g_stored, g_today = normalized_gini(actual, stored), normalized_gini(actual, today)
    print(f"\nCDNOW next 273 days: stored CLV Gini {g_stored:.3f}, today's {g_today:.3f}")
    assert g_stored >= g_today - 1e-9
