"""The sequence learner beside LightGBM on the predict stage's folds: metrics and time.

Builds (once, cached in ``bench/_data``) a store of ``make_shop(--customers)``'s order
lines and events (``--dataset synth``), or loads CDNOW's master file before 1997-10-01
(``--dataset cdnow``, order lines only: no categories, no events), computes the run's
features and value models at ``as_of``, then builds the predict stage's stacked cutoffs
(``valueseg.predict.stage``'s own steps) and, on the stage's folds (the same training
sample for both), times per learner:

- *leaderboard*: the two folds' fits and their out-of-fold predictions, churn and spend
  (LightGBM fits each task apart; the sequence learner fits both heads at once and its
  spend reuses its churn fits);
- *refit*: the fit on every row of every cutoff (what a run keeps when the learner wins);
- *scoring*: every customer's churn probability and spend at ``as_of``.

It prints the leaderboard rows (the stage's metrics on the out-of-fold predictions, the
value models' baseline beside) and, for CDNOW, how each learner's ``as_of`` scores rank
the real next 90 days. ``--stage`` then also runs the whole predict stage with
``--learners +sequence`` (the defaults and the sequence learner) and prints its
leaderboard, choice and step times. Run: ``python bench/deep.py`` (50,000 customers) or
``python bench/deep.py --dataset cdnow``; ``--n-jobs 2`` gives both learners two threads.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from valueseg.datasets import load_cdnow
from valueseg.deep.board import SequenceBoard
from valueseg.features.compute import compute_features
from valueseg.io import ingest
from valueseg.predict.evaluate import (
    COLUMNS,
    MAX_TRAIN_ROWS,
    _at_most,
    cross_validate,
    predictor,
    score,
    temporal_folds,
)
from valueseg.predict.labels import plan_cutoffs
from valueseg.predict.metrics import normalized_gini
from valueseg.store import Store
from valueseg.store.predict import first_purchase
from valueseg.synth import make_shop

DATA = Path(__file__).parent / "_data"
SYNTH_AS_OF = datetime(2025, 1, 1)
CDNOW_AS_OF = datetime(1997, 10, 1)  # history to 1997-09-30, as tests/predict/test_acceptance


def synth_store(n: int, seed: int) -> Path:
    """The cached store of ``make_shop(n)``'s order lines and events."""
    DATA.mkdir(exist_ok=True)
    db = DATA / f"deep_{n}_{seed}.duckdb"
    if not db.exists():
        started = time.perf_counter()
        shop = make_shop(n, random_state=seed)
        partial = db.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        ingest(shop.transactions, db=partial, now=datetime(2025, 1, 2))
        ingest(shop.events, kind="events", db=partial, now=datetime(2025, 1, 2))
        partial.rename(db)
        print(
            f"built {db.name}: {len(shop.transactions):,} lines, {len(shop.events):,} events "
            f"in {time.perf_counter() - started:.0f} s"
        )
    return db


class Timer:
    """Wall seconds of named blocks, added up."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str) -> Any:
        timer = self

        class _Block:
            def __enter__(self) -> None:
                self.started = time.perf_counter()

            def __exit__(self, *exc: object) -> None:
                spent = time.perf_counter() - self.started
                timer.seconds[name] = timer.seconds.get(name, 0.0) + spent

        return _Block()


def stacked(store: Store, as_of: datetime, args: Any) -> dict[str, Any]:
    """The stage's own steps up to the stacked rows: features, values, cutoffs, folds."""
    from valueseg.pipeline import _value_models
    from valueseg.predict.stage import _columns, _Context, _stack

    started = time.perf_counter()
    features = compute_features(store, as_of).to_pandas()
    values = _value_models(store, as_of, features, "D")
    ctx = _Context(store, as_of, "D", args.horizon, "duckdb", args.seed, values, args.n_jobs)
    scoring = ctx.scoring(features, args.horizon)
    cutoffs = plan_cutoffs(
        first_purchase(store), as_of, horizon_days=args.horizon, max_cutoffs=args.cutoffs
    )
    tables = [ctx.table(at, args.horizon) for at in cutoffs]
    columns = _columns(scoring, tables, ctx.value_fit is not None, [])
    data = _stack(tables, columns, args.seed)
    rng = np.random.default_rng(args.seed)  # the sample run_task draws
    folds = [
        (_at_most(t, MAX_TRAIN_ROWS, rng), v)
        for t, v in temporal_folds(data.cutoff, data.group, data.n_groups)
    ]
    return {
        "data": data,
        "folds": folds,
        "cutoffs": cutoffs,
        "scoring": scoring,
        "columns": columns,
        "baseline": ctx.has_baseline(tables),
        "value_model": ctx.value_name,
        "seconds": time.perf_counter() - started,
    }


def lightgbm(run: dict[str, Any], args: Any, timer: Timer) -> dict[str, Any]:
    """LightGBM's (and the baseline's) out-of-fold predictions, refit and scoring."""
    data, X = run["data"], run["scoring"][run["columns"]]
    out: dict[str, Any] = {}
    for task in ("churn", "spend"):
        y = data.target[task]
        with timer("leaderboard"):
            cv = cross_validate(
                task,
                data.X,
                y,
                run["folds"],
                ["lgbm"],
                random_state=args.seed,
                baseline=run["baseline"],
                max_train_rows=None,
                n_jobs=args.n_jobs,
            )
        with timer("refit"):
            model = predictor(task, "lgbm", args.seed, args.n_jobs).fit(data.X, y)
        with timer("scoring"):
            at = model.predict_proba(X)[:, 1] if task == "churn" else model.predict(X)
        out[task] = {"cv": cv, "as_of": at}
    return out


def sequence(run: dict[str, Any], store: Store, as_of: datetime, args: Any, timer: Timer) -> Any:
    """The sequence learner's out-of-fold predictions, refit and scoring (one board)."""
    params = json.loads(args.sequence_params) if args.sequence_params else None
    board = SequenceBoard(
        store,
        run["data"],
        run["cutoffs"],
        run["scoring"],
        run["columns"],
        as_of,
        random_state=args.seed,
        n_jobs=args.n_jobs,
        params=params,
    )
    out: dict[str, Any] = {"board": board}
    with timer("leaderboard"):
        for task in ("churn", "spend"):
            out[task] = {"oof": board.out_of_fold(task, run["folds"])}
    with timer("refit"):
        board.refit("churn")
    with timer("scoring"):
        for task in ("churn", "spend"):
            out[task]["as_of"] = board.predict_scoring(task)
    return out


def leaderboard(boost: dict[str, Any], seq: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for task in ("churn", "spend"):
        cv = boost[task]["cv"]
        metrics = dict(cv.metrics)
        metrics["sequence"] = score(task, cv.target, seq[task]["oof"])
        for model, m in metrics.items():
            rows.append({"task": task, "model": model, **{c: m.get(c) for c in COLUMNS[task]}})
    return pd.DataFrame(rows)


def spend_deciles(boost: dict[str, Any], seq: dict[str, Any]) -> pd.DataFrame:
    """Mean predicted and actual spend of ten equal groups by prediction (decile MAPE's)."""
    cv = boost["spend"]["cv"]
    rows = []
    for name, predicted in (
        ("lgbm", cv.predictions["lgbm"].to_numpy()),
        ("sequence", seq["spend"]["oof"]),
    ):
        groups = np.array_split(np.argsort(predicted, kind="stable"), 10)
        rows.append(
            {
                "model": name,
                **{
                    f"d{i + 1}": f"{predicted[g].mean():.2f}/{cv.target[g].mean():.2f}"
                    for i, g in enumerate(groups)
                },
            }
        )
    return pd.DataFrame(rows)


def cdnow_future(
    orders: pd.DataFrame, scoring: pd.DataFrame, boost: dict[str, Any], seq: dict[str, Any]
) -> pd.DataFrame:
    """How the ``as_of`` scores rank the real next 90 days (churn AUC, spend Gini)."""
    from sklearn.metrics import roc_auc_score

    ids = scoring["customer_id"]
    window = orders[
        (orders["timestamp"] >= CDNOW_AS_OF)
        & (orders["timestamp"] < CDNOW_AS_OF + timedelta(days=90))
    ]
    spend = window.groupby("customer_id")["amount"].sum().reindex(ids).fillna(0.0).to_numpy()
    churned = spend == 0
    rows = []
    for name, out in (("lgbm", boost), ("sequence", seq)):
        rows.append(
            {
                "model": name,
                "churn ROC-AUC (next 90 days)": roc_auc_score(churned, out["churn"]["as_of"]),
                "spend normalized Gini (next 90 days)": normalized_gini(
                    spend, out["spend"]["as_of"]
                ),
            }
        )
    rows.append(
        {
            "model": "btyd",
            "churn ROC-AUC (next 90 days)": roc_auc_score(churned, scoring["btyd_p_churn"]),
            "spend normalized Gini (next 90 days)": normalized_gini(
                spend, scoring["btyd_expected_spend"].to_numpy()
            ),
        }
    )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=["synth", "cdnow"], default="synth")
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--cutoffs", type=int, default=4)
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sequence-params", default="", help='JSON, e.g. {"epochs": 10}')
    parser.add_argument("--stage", action="store_true", help="also run predict_stage")
    parser.add_argument("--learners", default="+sequence", help="the stage's --learners")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.dataset == "synth":
        store, as_of, orders = Store(synth_store(args.customers, args.seed)), SYNTH_AS_OF, None
        title = f"make_shop({args.customers:,}), order lines and events"
    else:
        orders = load_cdnow("master")
        store, as_of = Store(":memory:"), CDNOW_AS_OF
        ingest(orders[orders["timestamp"] < as_of], db=store, now=as_of)
        title = "CDNOW master, order lines before 1997-10-01"
    with store:
        run = stacked(store, as_of, args)
        timers = {"lgbm": Timer(), "sequence": Timer()}
        boost = lightgbm(run, args, timers["lgbm"])
        seq = sequence(run, store, as_of, args, timers["sequence"])
        report(title, args, run, boost, seq, timers)
        if args.stage:
            whole_stage(store, as_of, args)
    if orders is not None:
        print("\nThe as_of scores against the real next 90 days (CDNOW holds them)")
        future = cdnow_future(orders, run["scoring"], boost, seq)
        print(future.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def whole_stage(store: Store, as_of: datetime, args: Any) -> None:
    """The predict stage itself with ``--learners`` (default ``+sequence``)."""
    from valueseg.pipeline import _value_models
    from valueseg.predict import predict_stage

    features = compute_features(store, as_of).to_pandas()
    values = _value_models(store, as_of, features, "D")
    started = time.perf_counter()
    result = predict_stage(
        store,
        as_of,
        features,
        values,
        horizon_days=args.horizon,
        learners=args.learners,
        max_cutoffs=args.cutoffs,
        random_state=args.seed,
        n_jobs=args.n_jobs,
    )
    took = time.perf_counter() - started
    print(f"\npredict_stage(learners={args.learners!r}): {took:.0f} s")
    print(" ".join(f"{k} {v:.1f} s;" for k, v in result.seconds.items()))
    print(result.leaderboard.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\n".join(n for n in result.notes if "from" in n))


def report(
    title: str,
    args: Any,
    run: dict[str, Any],
    boost: dict[str, Any],
    seq: dict[str, Any],
    timers: dict[str, Timer],
) -> None:
    data, board = run["data"], seq["board"]
    per_cutoff = np.bincount(data.cutoff).tolist()
    print(
        f"{title}; as_of {run['cutoffs'][-1] + timedelta(days=args.horizon):%Y-%m-%d} "
        f"(about); horizon {args.horizon} days; value model {run['value_model']}"
    )
    print(
        f"cutoffs {', '.join(data.dates)}: {per_cutoff} rows; {len(run['columns'])} features; "
        f"fold training rows {[len(t) for t, _ in run['folds']]}, validation rows "
        f"{[len(v) for _, v in run['folds']]}; {len(run['scoring']):,} customers scored; "
        f"threads {args.n_jobs}; features, value models and cutoff tables "
        f"{run['seconds']:.0f} s"
    )
    print("\nLeaderboard (the stage's metrics on the out-of-fold predictions of the latest cutoff)")
    print(leaderboard(boost, seq).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\nSpend by decile of the prediction, lowest first: mean predicted / mean actual")
    print(spend_deciles(boost, seq).to_string(index=False))
    rows = []
    for name, timer in timers.items():
        s = timer.seconds
        rows.append({"learner": name, **s, "total": sum(s.values())})
    print("\nWall seconds (churn and spend together)")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    fits = {k: round(v, 1) for k, v in board.seconds.items()}
    epochs = [m.best_epoch_ for m in board.fits.values()]
    print(
        f"sequence learner: of which building sequences {fits['sequences']} s, fitting "
        f"{fits['fit']} s, predicting {fits['predict']} s; best epochs (fold 1, fold 2, refit) "
        f"{epochs}; {board.learner!r}"
    )


if __name__ == "__main__":
    main()
