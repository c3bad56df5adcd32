"""Value models at scale: valueseg vs lifetimes (vs pymc-marketing where it installs).

For each size (10k, 100k, 1M, 10M customers by default) draws a realistic daily summary from
a BG/NBD population (ages up to two years in whole days, recency in whole days, Gamma-Gamma
spend), a BG/BB population for the discrete model (weekly opportunities, up to two years),
and fits every model with valueseg and with lifetimes, printing side by side the time of
each (valueseg's includes input checks, collapsing and standard errors; lifetimes' BG/NBD,
MBG/NBD, BG/BB and Gamma-Gamma include their Hessian), the ratio, and the largest relative
difference between the two sets of parameters. lifetimes is skipped where its time,
projected linearly from the previous size, would pass ``--lifetimes-limit`` seconds (the
table says so). Then times the 12-month discounted CLV of 1M customers (BG/NBD + Gamma-Gamma)
both ways.

Run: ``python bench/models.py`` (``--sizes 10000,100000,1000000`` for a quicker pass,
``--models bg,pnbd`` for some models only). Timings are wall-clock, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from valueseg.models import BetaGeo, BetaGeoBetaBinom, GammaGamma, ModifiedBetaGeo, ParetoNBD

SEED = 2024
BG_TRUTH = {"r": 0.5, "alpha": 40.0, "a": 0.8, "b": 2.5}
BB_TRUTH = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
SPEND = {"p": 6.0, "q": 3.5, "v": 15.0}
MODELS = {
    "bg": ("BG/NBD", BetaGeo, "BetaGeoFitter"),
    "mbg": ("MBG/NBD", ModifiedBetaGeo, "ModifiedBetaGeoFitter"),
    "pnbd": ("Pareto/NBD", ParetoNBD, "ParetoNBDFitter"),
    "bgbb": ("BG/BB", BetaGeoBetaBinom, "BetaGeoBetaBinomFitter"),
    "gg": ("Gamma-Gamma", GammaGamma, "GammaGammaFitter"),
}


def daily_summary(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """A BG/NBD population observed for up to two years, in whole days, with spend."""
    out = []
    for start in range(0, n, 1_000_000):  # in chunks: bounded memory at 10M
        size = min(1_000_000, n - start)
        age = rng.integers(1, 731, size).astype(np.float64)
        part = BetaGeo.from_params(**BG_TRUTH).simulate(size, T=age, random_state=rng)
        part["recency"] = np.floor(part["recency"])
        x = part["frequency"].to_numpy()
        nu = rng.gamma(SPEND["q"], 1 / SPEND["v"], size)
        spend = rng.gamma(np.maximum(SPEND["p"] * x, 1e-9), 1 / (nu * np.maximum(x, 1)))
        part["monetary_value"] = np.where(x > 0, np.round(spend, 2), 0.0)
        out.append(part.drop(columns=["alive"]))
    frame = pd.concat(out, ignore_index=True)
    frame["customer_id"] = np.arange(n)
    return frame


def weekly_opportunities(n: int, rng: np.random.Generator) -> pd.DataFrame:
    out = []
    truth = BetaGeoBetaBinom.from_params(**BB_TRUTH)
    for start in range(0, n, 1_000_000):
        size = min(1_000_000, n - start)
        opportunities = rng.integers(1, 105, size)
        out.append(truth.simulate(size, n_periods=opportunities, random_state=rng))
    return pd.concat(out, ignore_index=True).drop(columns=["alive"])


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, result = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def fit_lifetimes(key: str, data: pd.DataFrame) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes

        fitter = getattr(lifetimes, MODELS[key][2])()
        if key == "bgbb":
            return fitter.fit(data["frequency"], data["recency"], data["n_periods"])
        if key == "gg":
            return fitter.fit(data["frequency"], data["monetary_value"])
        if key == "pnbd":  # its default Nelder-Mead start is random (global RNG): fix it
            return fitter.fit(
                data["frequency"], data["recency"], data["T"], initial_params=[0.5, 0.3, 0.5, 0.3]
            )
        return fitter.fit(data["frequency"], data["recency"], data["T"])


def max_rel_diff(ours: dict[str, float], theirs: Any) -> float:
    return max(abs(ours[k] / float(v) - 1) for k, v in theirs.params_.items())


def bench_fits(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(SEED)
    header = f"{'model':<12}{'customers':>12}{'rows':>10}{'valueseg s':>12}"
    header += f"{'lifetimes s':>13}{'ratio':>9}{'max rel diff':>14}  note"
    print(header)
    print("-" * len(header))
    projected: dict[str, float] = {}
    warm_daily, warm_weekly = daily_summary(2_000, rng), weekly_opportunities(2_000, rng)
    for key in args.models:  # first calls pay for imports and caches: not timed
        data = warm_weekly if key == "bgbb" else warm_daily
        try:
            MODELS[key][1]().fit(data)
            fit_lifetimes(key, data)
        except Exception:
            pass
    for n in args.sizes:
        daily = daily_summary(n, rng) if set(args.models) - {"bgbb"} else None
        weekly = weekly_opportunities(n, rng) if "bgbb" in args.models else None
        for key in args.models:
            label, model, _ = MODELS[key]
            data = weekly if key == "bgbb" else daily
            if key == "gg":
                data = daily[daily["frequency"] > 0]
            ours_s, ours = timed(lambda m=model, d=data: m().fit(d), args.repeat)
            note, theirs_s, diff = "", np.nan, np.nan
            guess = projected.get(key, 0.0) * n
            if args.lifetimes_limit <= 0:
                note = "lifetimes not run (--lifetimes-limit 0)"
            elif guess == np.inf:
                note = "lifetimes skipped: it failed on a smaller size"
            elif guess > args.lifetimes_limit:
                note = f"lifetimes skipped: projected {guess:,.0f} s"
            else:
                try:
                    theirs_s, theirs = timed(lambda k=key, d=data: fit_lifetimes(k, d))
                except Exception as exc:  # lifetimes raises its own ConvergenceError
                    note = f"lifetimes failed: {type(exc).__name__}"
                    projected[key] = np.inf  # and is not tried on larger sizes
                else:
                    projected[key] = theirs_s / n
                    diff = max_rel_diff(ours.params_, theirs)
            ratio = theirs_s / ours_s
            print(
                f"{label:<12}{n:>12,}{ours.n_rows_:>10,}{ours_s:>12.3f}{theirs_s:>13.2f}"
                f"{ratio:>8.1f}x{diff:>14.1e}  {note}"
            )


def bench_clv(n: int, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(SEED + 1)
    data = daily_summary(n, rng)
    bg = BetaGeo().fit(data)
    gg = GammaGamma().fit(data)
    ours_s, ours = timed(lambda: gg.customer_lifetime_value(bg, data, horizon=12), args.repeat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes

        theirs_bg = lifetimes.BetaGeoFitter()
        theirs_bg.params_ = pd.Series(bg.params_)
        theirs_gg = lifetimes.GammaGammaFitter()
        theirs_gg.params_ = pd.Series(gg.params_)
        theirs_bg.predict = theirs_bg.conditional_expected_number_of_purchases_up_to_time
        cols = [data[c] for c in ("frequency", "recency", "T", "monetary_value")]
        theirs_s, theirs = timed(
            lambda: theirs_gg.customer_lifetime_value(theirs_bg, *cols, time=12, freq="D")
        )
    diff = float(np.max(np.abs(ours.to_numpy() / theirs.to_numpy() - 1)))
    print(
        f"\n12-month discounted CLV (BG/NBD + Gamma-Gamma) of {n:,} customers: valueseg "
        f"{ours_s:.3f} s, lifetimes {theirs_s:.2f} s ({theirs_s / ours_s:.1f}x), "
        f"max rel diff {diff:.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10000,100000,1000000,10000000", help="customers, comma separated"
    )
    parser.add_argument("--models", default=",".join(MODELS), help="bg,mbg,pnbd,bgbb,gg")
    parser.add_argument(
        "--lifetimes-limit", type=float, default=120.0, help="seconds; 0: do not run lifetimes"
    )
    parser.add_argument("--clv-size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many valueseg runs")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.models = [m for m in args.models.split(",") if m]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    try:
        import pymc_marketing  # noqa: F401
    except ImportError:
        print("pymc-marketing: not installed here, skipped (its MAP fit is not compared).")
    bench_fits(args)
    if args.clv_size and args.lifetimes_limit > 0:
        bench_clv(args.clv_size, args)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
