"""Behavioural clusters at scale: valueseg's Segmenter vs plain scikit-learn KMeans.

Feature tables shaped like valueseg's: the feature table of a synthetic shop of 20,000
customers (``make_shop``, ingested and featurised the way a user's export is; cached in
``bench/_data``), resampled with replacement to 100k, 1M and 5M customers, every
non-integer column multiplied by ``1 + N(0, 0.01)`` so rows are not exact copies.

Two ways to get clusters with k chosen in 2..12, each in its own child process:

- **valueseg**: ``Segmenter(random_state=0).fit(features)`` — the default pipeline: column
  rule, preprocessing, k chosen by the five-criterion vote on a 20,000-customer sample,
  then k-means (mini-batch above 200,000 customers) on everyone;
- **baseline**, the obvious way: numeric columns, missing values as 0,
  ``StandardScaler``, then for each k ``KMeans(k, random_state=0)`` on everyone and
  ``silhouette_score`` on everyone; the k with the best silhouette wins. Its silhouette
  is quadratic in the customers, so the baseline is stopped at ``--baseline-limit``
  seconds (default 600); a stopped baseline reports the ks it finished and a projection
  (finished time + mean time per k × ks left), and its ratio is a lower bound (">").

Run: ``python bench/segments.py`` (or ``--sizes 100000`` for a quick pass; ``--threads 1``
to run both single-threaded, which is faster on a busy machine where OpenMP threads wait
on each other).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CACHE = HERE / "_data" / "segments_features_20000.parquet"
K_RANGE = range(2, 13)


def base_features() -> pd.DataFrame:
    """The feature table of make_shop(20_000, random_state=0), built once and cached."""
    if CACHE.exists():
        return pd.read_parquet(CACHE)
    from valueseg.features.compute import compute_features
    from valueseg.io import ingest
    from valueseg.pipeline import default_as_of
    from valueseg.store import Store
    from valueseg.synth import make_shop

    shop = make_shop(20_000, random_state=0)
    with Store(":memory:") as store:
        for kind in ("transactions", "events", "customers"):
            ingest(getattr(shop, kind), kind=kind, db=store)
        features = compute_features(store, default_as_of(store)).to_pandas()
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    features.to_parquet(CACHE)
    return features


def scaled_up(base: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows resampled from ``base``, non-integer columns jittered by 1 %."""
    rng = np.random.default_rng(seed)
    out = base.iloc[rng.integers(0, len(base), n)].reset_index(drop=True)
    out["customer_id"] = [f"C{i:08d}" for i in range(n)]
    for name in out.columns:
        if pd.api.types.is_float_dtype(out[name]):
            out[name] = out[name] * (1 + rng.normal(0, 0.01, n))
    return out


THREADS: int | None = None  # --threads: cap on BLAS/OpenMP threads in both children


def run_valueseg(features: pd.DataFrame, queue: mp.Queue) -> None:
    from threadpoolctl import threadpool_limits

    from valueseg.segment import Segmenter

    threadpool_limits(THREADS)
    started = time.perf_counter()
    seg = Segmenter(random_state=0).fit(features)
    queue.put(("done", time.perf_counter() - started, seg.n_clusters_, seg.algorithm_))


def run_baseline(features: pd.DataFrame, queue: mp.Queue) -> None:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    threadpool_limits(THREADS)
    started = time.perf_counter()
    numeric = features.select_dtypes("number").fillna(0.0)
    x = StandardScaler().fit_transform(numeric)
    best = (-2.0, None)
    for k in K_RANGE:
        labels = KMeans(k, random_state=0).fit_predict(x)
        score = silhouette_score(x, labels)
        best = max(best, (score, k))
        queue.put(("k", k, time.perf_counter() - started))
    queue.put(("done", time.perf_counter() - started, best[1], "kmeans"))


def timed(target, features: pd.DataFrame, limit: float) -> dict:
    """Run ``target`` in a forked child; stop it after ``limit`` seconds."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=target, args=(features, queue))
    started = time.perf_counter()
    child.start()
    finished: list[tuple[int, float]] = []
    result = {"done": False, "ks": finished}
    while True:
        left = limit - (time.perf_counter() - started)
        try:
            message = queue.get(timeout=max(left, 0.01))
        except Exception:  # queue.Empty: the limit is reached
            child.terminate()
            child.join()
            result["seconds"] = time.perf_counter() - started
            break
        if message[0] == "k":
            finished.append((message[1], message[2]))
            continue
        _, seconds, k, algorithm = message
        result.update(done=True, seconds=seconds, k=k, algorithm=algorithm)
        child.join()
        break
    return result


def projection(result: dict) -> float | None:
    ks = result["ks"]
    if result["done"] or not ks:
        return None
    spent = ks[-1][1]
    return spent + spent / len(ks) * (len(K_RANGE) - len(ks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--baseline-limit", type=float, default=600.0)
    parser.add_argument("--limit", type=float, default=1800.0, help="limit for valueseg")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="cap threads in both")
    args = parser.parse_args()
    global THREADS
    THREADS = args.threads
    sizes = [int(s) for s in args.sizes.split(",")]
    base = base_features()
    load = os.getloadavg()
    print(
        f"cpus: {os.cpu_count()}, load average at start: {load[0]:.2f} {load[1]:.2f}, "
        f"threads: {args.threads or 'library default'}"
    )
    print(
        f"{'customers':>10} {'valueseg s':>11} {'k':>3} {'algorithm':>10} "
        f"{'baseline s':>12} {'k':>3} {'ratio':>8}"
    )
    for n in sizes:
        features = scaled_up(base, n)
        ours = timed(run_valueseg, features, args.limit)
        line = f"{n:>10,} "
        if ours["done"]:
            line += f"{ours['seconds']:>11.1f} {ours['k']:>3} {ours['algorithm']:>10} "
        else:
            line += f"{'>' + format(args.limit, '.0f'):>11} {'-':>3} {'-':>10} "
        if args.no_baseline:
            print(line, flush=True)
            continue
        theirs = timed(run_baseline, features, args.baseline_limit)
        if theirs["done"]:
            ratio = theirs["seconds"] / ours["seconds"] if ours["done"] else float("nan")
            line += f"{theirs['seconds']:>12.1f} {theirs['k']:>3} {ratio:>7.1f}x"
        else:
            projected = projection(theirs)
            shown = f">{args.baseline_limit:.0f}"
            line += f"{shown:>12} {'-':>3} "
            line += f">{args.baseline_limit / ours['seconds']:>6.1f}x" if ours["done"] else ""
            done_ks = [k for k, _ in theirs["ks"]]
            note = f"stopped after k={done_ks[0]}..{done_ks[-1]}" if done_ks else "no k done"
            if projected is not None:
                note += f"; projected {projected:,.0f} s for k=2..12"
                if ours["done"]:
                    note += f" ({projected / ours['seconds']:,.0f}x)"
            line += f"  ({note})"
        print(line, flush=True)
        del features


if __name__ == "__main__":
    main()
