"""How close the value stage comes to a synthetic shop's truth, next to the truth's own best guess.

For each seed, generates ``make_shop(--customers, random_state=seed)``, loads it through
ingest, splits history as ``valueseg run`` does (the last quarter, at most a year, held
out) and prints, per purchase model and for the *oracle*:

- the holdout RMSE of predicted vs actual purchases per customer, and the paired standard
  error of its difference from the model the run chooses;
- refitted on all of history, the AUC of P(alive) against the truth's ``alive_at_end``
  (all customers, and repeat buyers only) and the correlation of expected purchases in the
  next 180 days with the true ``future_purchases_180d``.

The oracle predicts with the shop's true parameters: each customer's segment weighed by
its share, by how likely the customer's birth date is under the segment's birth window,
and by the BG/NBD likelihood of the customer's history under the segment's parameters.
No model fitted to the data can expect to beat it; it says how much a better model could
still gain on the holdout. ``--mixtures 2 3`` adds latent-class BG/NBD mixtures (EM over
weighted BG/NBD fits) with that many classes.

Run: ``python bench/value_truth.py`` (``--customers 8000 --seeds 3 11`` for the tests'
shops). It measures accuracy, not speed; a seed of 20,000 customers takes about a minute.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from valueseg._synth.oracle import RFT, bg_loglik, oracle_models, oracle_prior
from valueseg.features import calibration_holdout, rfm_summary
from valueseg.io import ingest
from valueseg.models import BetaGeo
from valueseg.models.backtest import PURCHASE_MODELS, backtest, candidates, holdout_start
from valueseg.models.choice import choose
from valueseg.models.metrics import auc
from valueseg.store import Store
from valueseg.synth import make_shop

AS_OF = datetime(2025, 1, 1)  # make_shop's default end is 2024-12-31


def mixture_predict(
    models: list[BetaGeo], log_prior: np.ndarray, d: pd.DataFrame, t: float
) -> tuple[np.ndarray, np.ndarray]:
    """Expected purchases in ``t`` and P(alive) of a mixture of BG/NBD classes.

    ``log_prior`` (customers x classes) is the log weight of each class before the
    customer's history is seen; the history's likelihood turns it into the posterior.
    """
    x, tx, age = (d[c].to_numpy(np.float64) for c in RFT)
    post = log_prior + np.column_stack([bg_loglik(m, d) for m in models])
    post = np.exp(post - logsumexp(post, axis=1, keepdims=True))
    expected = np.column_stack([m.expected_purchases(t, x, tx, age) for m in models])
    alive = np.column_stack([m.probability_alive(x, tx, age) for m in models])
    return (post * expected).sum(axis=1), (post * alive).sum(axis=1)


def fit_mixture(d: pd.DataFrame, k: int, max_iter: int = 300) -> tuple[list[BetaGeo], np.ndarray]:
    """Latent-class BG/NBD by EM: each M step fits one weighted BG/NBD per class."""
    x, age = d["frequency"].to_numpy(), d["T"].to_numpy()
    rate = np.log1p(x) / np.log1p(age)  # start: classes by quantiles of the purchase rate
    edges = np.quantile(rate, np.linspace(0, 1, k + 1))
    label = np.clip(np.searchsorted(edges, rate, side="right") - 1, 0, k - 1)
    resp = np.full((len(d), k), 0.1 / k)
    resp[np.arange(len(d)), label] += 0.9
    previous = -np.inf
    models: list[BetaGeo] = []
    for _ in range(max_iter):
        models = [BetaGeo(on_failure="warn").fit(d.assign(weights=resp[:, j])) for j in range(k)]
        share = resp.mean(axis=0)
        joint = np.log(share) + np.column_stack([bg_loglik(m, d) for m in models])
        total = logsumexp(joint, axis=1)
        resp = np.exp(joint - total[:, None])
        if total.sum() - previous < 1e-3:
            break
        previous = total.sum()
    return models, np.log(resp.mean(axis=0))


def one_seed(n: int, seed: int, mixtures: list[int]) -> pd.DataFrame:
    shop = make_shop(n, random_state=seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "shop.duckdb")
        ingest(shop.transactions, db=store, now=datetime(2025, 1, 2))
        first = store.con.execute(
            'SELECT min("timestamp") FROM transactions WHERE NOT is_return'
        ).fetchone()[0]
        cal_end = holdout_start(first, AS_OF)
        cal = calibration_holdout(store, calibration_end=cal_end, observation_end=AS_OF)
        summary = rfm_summary(store, observation_end=AS_OF)
        store.close()
    cal["spend_holdout"] = 0.0  # spend is not scored here
    cal_rft = cal.rename(columns={f"{c}_cal": c for c in RFT})[RFT].astype(np.float64)
    actual = cal["frequency_holdout"].to_numpy(np.float64)
    horizon = float(cal["duration_holdout"].iloc[0])
    truth = shop.truth.set_index("customer_id").loc[summary["customer_id"]]
    alive = truth["alive_at_end"].to_numpy(bool)
    future = truth["future_purchases_180d"].to_numpy(np.float64)
    full = summary[RFT].astype(np.float64)
    repeat = full["frequency"].to_numpy() > 0

    results = backtest(cal, freq="D")
    chosen = choose(results)
    assert chosen is not None and chosen.squared_errors is not None
    rows = []

    def row(name: str, predicted: np.ndarray, p_alive: np.ndarray, e180: np.ndarray) -> None:
        sq = (predicted - actual) ** 2
        diff = sq - chosen.squared_errors
        rows.append(
            {
                "seed": seed,
                "model": name + (" (chosen)" if name == chosen.name else ""),
                "holdout_rmse": float(np.sqrt(sq.mean())),
                "vs_chosen_se": 0.0
                if not diff.any()
                else float(diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff)))),
                "auc_alive": auc(p_alive, alive),
                "auc_alive_repeat": auc(p_alive[repeat], alive[repeat]),
                "corr_180d": float(np.corrcoef(e180, future)[0, 1]),
            }
        )

    x, tx, age = (full[c] for c in RFT)
    for r in results:
        if not r.ok:
            continue
        model = PURCHASE_MODELS[r.name]().fit(full)
        predicted = np.asarray(r.model.expected_purchases(horizon, *(cal_rft[c] for c in RFT)))
        row(
            r.name,
            predicted,
            np.asarray(model.probability_alive(x, tx, age)),
            np.asarray(model.expected_purchases(180, x, tx, age)),
        )
    truth_models = oracle_models(shop)
    predicted, _ = mixture_predict(
        truth_models, oracle_prior(shop, cal_rft, cal_end), cal_rft, horizon
    )
    e180, p_alive = mixture_predict(truth_models, oracle_prior(shop, full, AS_OF), full, 180)
    row("oracle (true parameters)", predicted, p_alive, e180)
    for k in mixtures:
        models, prior = fit_mixture(cal_rft, k)
        predicted, _ = mixture_predict(
            models, np.broadcast_to(prior, (len(cal_rft), k)), cal_rft, horizon
        )
        models, prior = fit_mixture(full, k)
        e180, p_alive = mixture_predict(models, np.broadcast_to(prior, (len(full), k)), full, 180)
        row(f"BG/NBD mixture of {k}", predicted, p_alive, e180)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--mixtures", type=int, nargs="*", default=[])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"candidates: {', '.join(candidates('D'))}; make_shop({args.customers:,})")
    for seed in args.seeds:
        table = one_seed(args.customers, seed, args.mixtures)
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print()


if __name__ == "__main__":
    main()
