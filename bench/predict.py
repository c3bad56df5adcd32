"""The predict stage at scale, LightGBM beside HistGradientBoosting, and the oracle's AUC.

Builds (once, cached in ``bench/_data``) a store of ``make_shop(--customers)``'s order lines
(no events: ingesting a million customers' 38M events is its own benchmark), computes the
run's features and value models at 2025-01-01, then runs
``valueseg.predict.predict_stage(max_cutoffs=--cutoffs)`` and prints:

- its wall time per step (``PredictResult.seconds``): *training* is labels (features and
  value models at every cutoff) + learners (leaderboard, refit, calibration) + the 365-day
  back-test; *scoring* is every customer's churn probability, spend and next-order date at
  ``as_of``; reasons (contributions and texts) are timed apart; and the peak resident
  memory (``VmHWM``, reset before each measured step);
- the leaderboard, with the churn AUC of two oracles on the same validation customers (the
  *latent* one knows who is alive and their true rate, the *history* one the shop's true
  parameters and the purchase history; see ``tests/predict/test_acceptance.py``);
- LightGBM's ``LGBMClassifier`` and scikit-learn's ``HistGradientBoostingClassifier``
  with the stage's settings (150 rounds, learning rate 0.1, 31 leaves, depth 6, 50 rows
  per leaf) on
  the stacked training cutoffs: fit time, scoring time of every customer, validation AUC
  and peak memory, in one process.

Run: ``python bench/predict.py`` (``--customers 100000`` for a quick look; ``--n-jobs 2``
to give the learners both cores).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from valueseg.features.compute import compute_features
from valueseg.io import ingest
from valueseg.predict import predict_stage
from valueseg.predict.labels import cutoff_table, features_before
from valueseg.store import Store
from valueseg.synth import make_shop

sys.path.insert(0, str(Path(__file__).parent))
from value_truth import bg_loglik, oracle_models, oracle_prior

DATA = Path(__file__).parent / "_data"
AS_OF = datetime(2025, 1, 1)


def rss_mb(field: str = "VmHWM") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def measured(out: dict[str, Any], name: str) -> Iterator[None]:
    """Wall seconds and peak RSS (MB) of the block, into ``out[name]``."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    started = time.perf_counter()
    yield
    out[name] = {"seconds": time.perf_counter() - started, "peak_mb": rss_mb()}


def shop_store(n: int, seed: int) -> tuple[Path, pd.DataFrame, dict[str, Any]]:
    """The cached store of ``make_shop(n)``'s order lines, its truth and its parameters."""
    DATA.mkdir(exist_ok=True)
    db = DATA / f"predict_{n}_{seed}.duckdb"
    truth, params = DATA / f"predict_{n}_{seed}_truth.parquet", DATA / f"predict_{n}_{seed}.json"
    if not (db.exists() and truth.exists() and params.exists()):
        started = time.perf_counter()
        shop = make_shop(n, random_state=seed)
        db.unlink(missing_ok=True)
        ingest(shop.transactions, db=db, now=datetime(2025, 1, 2))
        shop.truth.to_parquet(truth)
        params.write_text(json.dumps(shop.params))
        print(
            f"built {db.name}: {len(shop.transactions):,} lines "
            f"in {time.perf_counter() - started:.0f} s"
        )
    return db, pd.read_parquet(truth), json.loads(params.read_text())


class _Shop:
    """What the oracles read of a shop: its parameters."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params


def oracle_aucs(
    store: Store, result: Any, truth: pd.DataFrame, params: dict[str, Any], h: int
) -> dict[str, float]:
    from scipy.special import logsumexp
    from sklearn.metrics import roc_auc_score

    from valueseg.predict.btyd import probability_no_purchase

    cv = result.validation["churn"]
    at = result.cutoffs[-1]
    t = truth.set_index("customer_id").loc[cv.customer_id]
    alive = (t["dropout_date"].isna() | (t["dropout_date"] > pd.Timestamp(at))).to_numpy()
    latent = 1 - alive * (1 - np.exp(-t["lambda"].to_numpy() * h))
    summary = features_before(store, at).set_index("customer_id").loc[cv.customer_id]
    d = summary[["frequency", "recency", "T"]].astype(np.float64).reset_index(drop=True)
    models = oracle_models(_Shop(params))
    post = oracle_prior(_Shop(params), d, at - pd.Timedelta(days=1))
    post = post + np.column_stack([bg_loglik(m, d) for m in models])
    post = np.exp(post - logsumexp(post, axis=1, keepdims=True))
    p0 = np.column_stack([probability_no_purchase("bg_nbd", m, float(h), d) for m in models])
    return {
        "oracle: latent state and rate": roc_auc_score(cv.target, latent),
        "oracle: true parameters, history": roc_auc_score(cv.target, (post * p0).sum(axis=1)),
    }


def boosting_pair(
    store: Store, result: Any, scoring: pd.DataFrame, h: int, n_jobs: int, seed: int, name: str
) -> pd.DataFrame:
    """LightGBM and HistGradientBoosting on the stage's cutoffs, same settings, one process."""
    from lightgbm import LGBMClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    model = result.tasks["churn"].model
    columns = [str(c) for c in model.feature_names_in_] if model is not None else None
    tables = [cutoff_table(store, at, label_days=h, value_model=name) for at in result.cutoffs]
    columns = columns or [c for c in tables[0].features.columns if c != "customer_id"]
    train_x = pd.concat([t.features[columns] for t in tables[:-1]]).to_numpy(np.float64)
    train_y = np.concatenate([t.churn for t in tables[:-1]])
    valid_x = tables[-1].features[columns].to_numpy(np.float64)
    everyone = scoring.reindex(columns=columns).to_numpy(np.float64)
    learners = {
        "LightGBM LGBMClassifier": LGBMClassifier(
            n_estimators=150,
            learning_rate=0.1,
            num_leaves=31,
            max_depth=6,
            min_child_samples=50,
            reg_lambda=1.0,
            n_jobs=n_jobs,
            random_state=seed,
            verbose=-1,
        ),
        "scikit-learn HistGradientBoostingClassifier": HistGradientBoostingClassifier(
            max_iter=150,
            learning_rate=0.1,
            max_leaf_nodes=31,
            max_depth=6,
            min_samples_leaf=50,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=seed,
        ),
    }
    rows = []
    for label, est in learners.items():
        out: dict[str, Any] = {}
        with threadpool_limits(n_jobs), measured(out, "fit"):
            est.fit(train_x, train_y)
        with threadpool_limits(n_jobs), measured(out, "score"):
            est.predict_proba(everyone)
        auc = roc_auc_score(tables[-1].churn, est.predict_proba(valid_x)[:, 1])
        rows.append(
            {
                "learner": label,
                "train rows": len(train_x),
                "fit s": out["fit"]["seconds"],
                f"score {len(everyone):,} s": out["score"]["seconds"],
                "validation AUC": auc,
                "peak MB (fit)": out["fit"]["peak_mb"],
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--cutoffs", type=int, default=3)
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--learners", default="lr,tree,rf,lgbm")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from valueseg.pipeline import _value_models

    db, truth, params = shop_store(args.customers, args.seed)
    steps: dict[str, Any] = {}
    with Store(db) as store:
        with measured(steps, "features at as_of"):
            features = compute_features(store, AS_OF).to_pandas()
        with measured(steps, "value models at as_of"):
            values = _value_models(store, AS_OF, features, "D")
        with measured(steps, "predict_stage"):
            result = predict_stage(
                store,
                AS_OF,
                features,
                values,
                horizon_days=args.horizon,
                learners=args.learners,
                max_cutoffs=args.cutoffs,
                n_jobs=args.n_jobs,
            )
        report(args, features, values, result, steps)
        aucs = oracle_aucs(store, result, truth, params, args.horizon)
        for k, v in aucs.items():
            print(f"  {k:34s} churn ROC-AUC {v:.3f}")
        scoring = features.merge(result.scores[["customer_id"]], on="customer_id")
        from valueseg.predict.btyd import ValueFit, value_features

        chosen = values.chosen
        fit = ValueFit(chosen.name, chosen.model, values.spend_model)
        extra = value_features(
            fit, scoring[["frequency", "recency", "T", "monetary_value"]], args.horizon, "D"
        )
        scoring = pd.concat([scoring, extra], axis=1)
        pair = boosting_pair(
            store, result, scoring, args.horizon, args.n_jobs, args.seed, chosen.name
        )
    print(
        "\nLightGBM beside HistGradientBoosting (train: the earlier cutoffs; validate: the latest)"
    )
    print(pair.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))


def report(
    args: Any, features: pd.DataFrame, values: Any, result: Any, steps: dict[str, Any]
) -> None:
    s = result.seconds
    training = s["labels"] + s["learners"] + s["clv_365d"]
    print(
        f"make_shop({args.customers:,}), order lines only; as_of {AS_OF:%Y-%m-%d}; "
        f"{len(features):,} customers; value model {values.chosen.name}"
    )
    print(
        f"cutoffs: {', '.join(str(c.date()) for c in result.cutoffs)}; learners {args.learners}; "
        f"n_jobs {args.n_jobs}"
    )
    for name, m in steps.items():
        print(f"  {name:28s} {m['seconds']:8.1f} s   peak {m['peak_mb']:,.0f} MB")
    for name, sec in s.items():
        print(f"    stage step {name:20s} {sec:8.1f} s")
    print(
        f"  training (labels + learners + clv_365d) {training:.1f} s; "
        f"scoring {s['scoring']:.1f} s; reasons {s['reasons']:.1f} s"
    )
    print("\n" + result.leaderboard.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\n" + "\n".join(result.notes))
    print(
        f"next-order back-test: {result.next_order_backtest['share']:.3f} of "
        f"{result.next_order_backtest['customers_checked']:,} ordered by their date (0.5 expected)"
    )


if __name__ == "__main__":
    main()
