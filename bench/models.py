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

Where pymc-marketing is installed (it is not a dependency of valueseg: ``pip install
pymc-marketing`` into the same environment), its MAP fit of each model with its default
priors is timed last, on the same sizes, against valueseg's; its first fit of a model
(compiling it) is made on 2,000 customers and left out of the table.

Run: ``python bench/models.py`` (``--sizes 10000,100000,1000000`` for a quicker pass,
``--models bg,pnbd`` for some models only). Timings are wall-clock, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
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


def model_data(key: str, daily: pd.DataFrame | None, weekly: pd.DataFrame | None) -> Any:
    """The summary a model is fitted on: weekly opportunities for BG/BB, the daily summary
    for the others (its repeat buyers only for Gamma-Gamma)."""
    if key == "bgbb":
        return weekly
    assert daily is not None
    return daily[daily["frequency"] > 0] if key == "gg" else daily


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
            if args.lifetimes_limit > 0:
                with contextlib.redirect_stdout(io.StringIO()):  # its failures print
                    fit_lifetimes(key, data)
        except Exception:
            pass
    for n in args.sizes:
        daily = daily_summary(n, rng) if set(args.models) - {"bgbb"} else None
        weekly = weekly_opportunities(n, rng) if "bgbb" in args.models else None
        for key in args.models:
            label, model, _ = MODELS[key]
            data = model_data(key, daily, weekly)
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


PYMC_MODELS = {
    "bg": "BetaGeoModel",
    "mbg": "ModifiedBetaGeoModel",
    "pnbd": "ParetoNBDModel",
    "bgbb": "BetaGeoBetaBinomModel",
    "gg": "GammaGammaModel",
}


def fit_pymc(key: str, data: pd.DataFrame) -> dict[str, float]:
    """pymc-marketing's MAP fit with its default priors; the MAP parameters."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymc_marketing import clv

        frame = data.assign(customer_id=np.arange(len(data)))
        if key == "bgbb":
            frame = frame.rename(columns={"n_periods": "T"})
        model = getattr(clv, PYMC_MODELS[key])(data=frame)
        with contextlib.redirect_stdout(io.StringIO()):  # it prints the optimiser's result
            model.fit(method="map", progressbar=False)
        names = {"bg": "r alpha a b", "mbg": "r alpha a b", "pnbd": "r alpha s beta"}
        names |= {"bgbb": "alpha beta gamma delta", "gg": "p q v"}
        return {k: float(model.fit_result[k].values.squeeze()) for k in names[key].split()}


def bench_pymc(args: argparse.Namespace) -> None:
    """valueseg's maximum likelihood against pymc-marketing's MAP fit, side by side.

    MAP uses pymc-marketing's default priors, so its parameters differ from the maximum
    likelihood ones by what the priors pull; the column says how much.
    """
    rng = np.random.default_rng(SEED + 2)
    print(
        f"\npymc-marketing MAP fits (its default priors; "
        f"skipped where projected over {args.pymc_limit:.0f} s)"
    )
    header = f"{'model':<12}{'customers':>12}{'valueseg s':>12}{'pymc MAP s':>12}{'ratio':>9}"
    header += f"{'max rel diff':>14}  note"
    print(header)
    print("-" * len(header))
    warm_daily, warm_weekly = daily_summary(2_000, rng), weekly_opportunities(2_000, rng)
    projected: dict[str, float] = {}
    for key in args.models:  # first fits compile the model: not timed
        data = model_data(key, warm_daily, warm_weekly)
        start = time.perf_counter()
        try:
            fit_pymc(key, data)
        except Exception as exc:
            projected[key] = np.inf
            print(f"{MODELS[key][0]:<12} pymc-marketing failed on 2,000 customers: {exc!r:.80}")
        else:
            print(
                f"{MODELS[key][0]:<12} compile and first fit on 2,000 customers: "
                f"{time.perf_counter() - start:.1f} s (not in the table)"
            )
    for n in args.sizes:
        daily = daily_summary(n, rng)
        weekly = weekly_opportunities(n, rng) if "bgbb" in args.models else None
        for key in args.models:
            label, model, _ = MODELS[key]
            data = model_data(key, daily, weekly)
            guess = projected.get(key, 0.0) * n
            if guess > args.pymc_limit:
                print(
                    f"{label:<12}{n:>12,}{'':>12}{'':>12}{'':>9}{'':>14}  skipped: "
                    f"{'it failed' if guess == np.inf else f'projected {guess:,.0f} s'}"
                )
                continue
            ours_s, ours = timed(lambda m=model, d=data: m().fit(d), args.repeat)
            try:
                theirs_s, theirs = timed(lambda k=key, d=data: fit_pymc(k, d))
            except Exception as exc:
                projected[key] = np.inf
                print(f"{label:<12}{n:>12,}{ours_s:>12.3f}  pymc-marketing failed: {exc!r:.60}")
                continue
            projected[key] = theirs_s / n
            diff = max(abs(ours.params_[k] / v - 1) for k, v in theirs.items())
            print(
                f"{label:<12}{n:>12,}{ours_s:>12.3f}{theirs_s:>12.2f}"
                f"{theirs_s / ours_s:>8.1f}x{diff:>14.1e}"
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
    parser.add_argument(
        "--pymc-limit", type=float, default=120.0, help="seconds; 0: do not run pymc-marketing"
    )
    parser.add_argument("--clv-size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many valueseg runs")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.models = [m for m in args.models.split(",") if m]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    try:
        import pymc_marketing
    except ImportError:
        pymc_marketing = None
        print("pymc-marketing: not installed here, skipped (its MAP fit is not compared).")
    else:
        print(
            f"pymc-marketing {pymc_marketing.__version__}: its MAP fits are timed after lifetimes'"
        )
    bench_fits(args)
    if args.clv_size and args.lifetimes_limit > 0:
        bench_clv(args.clv_size, args)
    if pymc_marketing is not None and args.pymc_limit > 0:
        bench_pymc(args)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
