"""Behavioural clusters at scale: valueseg's Segmenter vs plain scikit-learn KMeans.

Feature tables shaped like valueseg's: the feature table of a synthetic shop of 20,000
customers (``make_shop``, ingested and featurised the way a user's export is; cached in
``bench/_data``), resampled with replacement to 100k, 1M and 5M customers, every
non-integer column multiplied by ``1 + N(0, 0.01)`` so rows are not exact copies.

Two ways to get clusters with k chosen from a range, each in its own child process:

- **valueseg**: ``Segmenter(random_state=0).fit(features)`` — the default pipeline: column
  rule, preprocessing, k in 3..8 chosen by the one-standard-error rule of five criteria on
  three 20,000-customer samples, then k-means (mini-batch above 200,000 customers, ten
  starts) on everyone;
- **baseline**, the obvious way: numeric columns, missing values as 0,
  ``StandardScaler``, then for each k ``KMeans(k, random_state=0)`` on everyone and
  ``silhouette_score`` on everyone; the k with the best silhouette wins. Its silhouette
  is quadratic in the customers, so the baseline is stopped at ``--baseline-limit``
  seconds (default 600); a stopped baseline reports the ks it finished and a projection
  (finished time + mean time per k × ks left), and its ratio is a lower bound (">").

Run: ``python bench/segments.py`` (or ``--sizes 100000`` for a quick pass; ``--threads 1``
to run both single-threaded, which is faster on a busy machine where OpenMP threads wait
on each other).

``--quality`` measures instead what a marketer gets, on shops whose customers are all
distinct: ``make_shop(50_000)`` seeds 0-4 (against their planted segments) and CDNOW
master (the package's real shop) with its history to 1997-09-30 and to the end,
1998-06-30. For each: k and the criteria that accepted it, the adjusted Rand index with
the planted segments, the fidelity of the rules (share of customers they place right),
the longest rule set (rules per cluster × conditions per rule), and the names with their
sizes; ``--rules`` prints every cluster's rules too.
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
K_RANGE = range(3, 9)  # the k valueseg looks among by default


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


SHOP_SEEDS = range(5)
CDNOW_CUTOFFS = ("1997-10-01", "1998-07-01")  # history to 1997-09-30 and to 1998-06-30


def _cached(path: Path, build) -> pd.DataFrame:
    if path.exists():
        return pd.read_parquet(path)
    frame = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)
    return frame


def shop_with_truth(n: int, seed: int) -> pd.DataFrame:
    """``make_shop(n, seed)``'s feature table through ingest, with column ``planted``."""

    def build() -> pd.DataFrame:
        from valueseg.features.compute import compute_features
        from valueseg.io import ingest
        from valueseg.pipeline import default_as_of
        from valueseg.store import Store
        from valueseg.synth import make_shop

        shop = make_shop(n, random_state=seed)
        with Store(":memory:") as store:
            for kind in ("transactions", "events", "customers"):
                ingest(getattr(shop, kind), kind=kind, db=store)
            features = compute_features(store, default_as_of(store)).to_pandas()
        truth = shop.truth.set_index("customer_id")["segment"]
        return features.assign(planted=features["customer_id"].map(truth).to_numpy())

    return _cached(HERE / "_data" / f"segments_shop_{n}_{seed}.parquet", build)


def cdnow_features(as_of: str) -> pd.DataFrame:
    """CDNOW master's feature table at ``as_of`` (orders before it), through ingest."""

    def build() -> pd.DataFrame:
        from valueseg.datasets import load_cdnow
        from valueseg.features.compute import compute_features
        from valueseg.io import ingest
        from valueseg.store import Store

        with Store(":memory:") as store:
            ingest(load_cdnow("master"), db=store)
            return compute_features(store, pd.Timestamp(as_of).to_pydatetime()).to_pandas()

    return _cached(HERE / "_data" / f"segments_cdnow_{as_of}.parquet", build)


def quality(name: str, features: pd.DataFrame, show_rules: bool) -> None:
    """One line of the quality table (and the clusters under it)."""
    from sklearn.metrics import adjusted_rand_score

    from valueseg.segment import Segmenter, cluster_rules, profile_clusters

    planted = features.pop("planted") if "planted" in features else None
    started = time.perf_counter()
    seg = Segmenter(random_state=0).fit(features)
    rules = cluster_rules(features, seg.labels_)
    profiles = profile_clusters(features, seg.labels_)
    seconds = time.perf_counter() - started
    ari = "-" if planted is None else f"{adjusted_rand_score(planted, seg.labels_):.3f}"
    most_rules, most_conditions = rules.longest()
    print(
        f"{name:<18} {len(features):>8,} {seg.n_clusters_:>3} {ari:>6} {rules.fidelity:>9.3f} "
        f"{most_rules:>3} x {most_conditions:<3} {seconds:>6.1f}  {seg.k_reason_}",
        flush=True,
    )
    for cluster, row in profiles.summary.iterrows():
        print(f"{'':>20}{row['name']} ({int(row['size']):,})")
        if show_rules:
            for line in rules.text(int(cluster)).splitlines():
                print(f"{'':>24}{line}")


def main_quality(show_rules: bool) -> None:
    print(
        f"{'shop':<18} {'customers':>8} {'k':>3} {'ARI':>6} {'fidelity':>9} "
        f"{'longest':>7} {'s':>6}  why k"
    )
    for seed in SHOP_SEEDS:
        quality(f"make_shop/{seed}", shop_with_truth(50_000, seed), show_rules)
    for as_of in CDNOW_CUTOFFS:
        quality(f"cdnow<{as_of}", cdnow_features(as_of), show_rules)


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
    parser.add_argument("--quality", action="store_true", help="k, ARI, fidelity, names")
    parser.add_argument("--rules", action="store_true", help="with --quality: the rules")
    args = parser.parse_args()
    if args.quality:
        main_quality(args.rules)
        return
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
                note += f"; projected {projected:,.0f} s for k=3..8"
                if ours["done"]:
                    note += f" ({projected / ours['seconds']:,.0f}x)"
            line += f"  ({note})"
        print(line, flush=True)
        del features


if __name__ == "__main__":
    main()
