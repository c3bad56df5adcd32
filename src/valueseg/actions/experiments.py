"""Designing an A/B test on an audience: its size, its feasibility and a stable split.

:func:`design_experiment` takes an audience of a run (a segment or an action), works out
how many customers each arm needs to detect the effect asked for
(:mod:`valueseg.actions.stats`), says whether the audience is large enough (and, when it
is not, the smallest effect it can detect), assigns every customer to an arm and records
the design in the ``experiments`` table (and, when asked, the assignment in a CSV file).

**Assignment** is a hash, not a draw: a customer is in control when
``int(sha256(name + "\\x1f" + customer_id)[:16 hex]) / 2⁶⁴ < control_share``. The same
customer gets the same arm in the same experiment every time, on every machine, with
nothing stored; another experiment's name gives an independent split.

**History.** The metric's history is the audience's purchases in the 90 days before the
run's ``as_of``: the share who bought is the default conversion baseline, and the mean
and standard deviation of per-customer spend (zeros included) are the revenue baseline
and the σ of its sample size.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from valueseg.actions.export import check_filters, resolve_run, write_table
from valueseg.actions.stats import (
    mde_means,
    mde_proportions,
    sample_size_means,
    sample_size_proportions,
)
from valueseg.errors import InputError
from valueseg.store import Store
from valueseg.store.actions import (
    audience_rows,
    customer_spend,
    experiment_named,
    insert_experiment,
    run_as_of,
)

__all__ = ["HISTORY_DAYS", "METRICS", "ExperimentDesign", "assign_arms", "design_experiment"]

#: Days of history before ``as_of`` the baseline, σ and CUPED's pre-period read.
HISTORY_DAYS: Final = 90
#: What an experiment measures.
METRICS: Final = ("conversion", "revenue")


def assign_arms(name: str, customer_ids: Any, control_share: float = 0.5) -> np.ndarray:
    """``"control"`` or ``"treatment"`` for each customer, by a hash of name and id.

    Examples
    --------
    >>> assign_arms("recall-1", ["c1", "c2", "c3", "c1"]).tolist()
    ['control', 'treatment', 'control', 'control']
    """
    arms = []
    for cid in customer_ids:
        digest = hashlib.sha256(f"{name}\x1f{cid}".encode()).hexdigest()
        arms.append("control" if int(digest[:16], 16) / 2**64 < control_share else "treatment")
    return np.array(arms, dtype=object)


@dataclass
class ExperimentDesign:
    """A designed experiment: sizes needed and had, feasibility, and the assignment."""

    experiment_id: int
    name: str
    run_id: int
    segment: str | None
    action: str | None
    audience: str
    metric: str
    baseline: float
    baseline_source: str
    sd: float | None
    mde: float
    alpha: float
    power: float
    control_share: float
    needed_control: int
    needed_treatment: int
    audience_size: int
    control: int
    treatment: int
    feasible: bool
    mde_at_size: float | None
    pre_period_end: datetime
    assignment: pd.DataFrame = field(repr=False)
    path: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def needed_total(self) -> int:
        """Customers both arms need together."""
        return self.needed_control + self.needed_treatment

    def summary(self) -> str:
        """One plain sentence on what the design found."""
        unit = "points" if self.metric == "conversion" else "per customer"
        scale = 100.0 if self.metric == "conversion" else 1.0
        text = (
            f"To detect {self.mde * scale:+.4g} {unit} on a {self.metric} baseline of "
            f"{self.baseline * scale:.4g}{' %' if self.metric == 'conversion' else ''} "
            f"(alpha {self.alpha:g}, power {self.power:g}) the test needs "
            f"{self.needed_control:,} control and {self.needed_treatment:,} treatment "
            f"customers; the audience has {self.audience_size:,}."
        )
        if self.feasible:
            return text + " It is large enough."
        if self.mde_at_size is None:
            return text + " It is too small to detect any effect."
        return (
            text + f" It is too small: at its size the test detects {self.mde_at_size * scale:+.4g}"
            f" {unit} or more."
        )

    def to_json(self) -> dict[str, Any]:
        """The design as stored in ``experiments.design``."""
        keys = (
            "run_id segment action audience metric baseline baseline_source sd mde alpha "
            "power control_share needed_control needed_treatment audience_size control "
            "treatment feasible mde_at_size"
        ).split()
        out = {k: getattr(self, k) for k in keys}
        out["pre_period_end"] = self.pre_period_end.isoformat()
        out["assignment"] = "sha256(name + '\\x1f' + customer_id) < control_share"
        return out


def _check_params(
    name: str, metric: str, mde: float, alpha: float, power: float, control_share: float
) -> None:
    if not isinstance(name, str) or not name.strip():
        raise InputError("--name must be a non-empty experiment name, e.g. --name recall-2025-03.")
    if metric not in METRICS:
        raise InputError(f"Unknown --metric {metric!r}. Expected conversion or revenue.")
    checks = (
        ("--mde", mde, mde > 0, "a positive effect"),
        ("--alpha", alpha, 0 < alpha < 0.5, "in (0, 0.5)"),
        ("--power", power, alpha < power < 1, "above alpha and below 1"),
        ("--control-share", control_share, 0 < control_share < 1, "in (0, 1)"),
    )
    for flag, value, ok, expected in checks:
        if not ok or math.isnan(value):
            raise InputError(f"{flag} must be {expected}. Got {value!r}.")


def _check_baseline(metric: str, baseline: float, mde: float) -> None:
    if metric == "conversion" and not (0 < baseline < 1 and baseline + mde < 1):
        raise InputError(
            f"--baseline must be a conversion rate in (0, 1) with baseline + mde below 1. Got "
            f"baseline {baseline!r}, mde {mde!r}. Pass both as shares: --baseline 0.05 --mde 0.01."
        )
    if metric == "revenue" and baseline < 0:
        raise InputError(f"--baseline must be a revenue per customer of 0 or more. Got {baseline}.")


def _history(store: Store, run_id: int, ids: pd.Series) -> tuple[datetime, np.ndarray]:
    as_of = run_as_of(store, run_id)
    if as_of is None:
        raise InputError(f"Run {run_id} has no as_of date; rerun the pipeline: valueseg run.")
    start = as_of - timedelta(days=HISTORY_DAYS)
    spend = customer_spend(store, ids.astype(str).tolist(), start, as_of)
    return as_of, spend["spend"].to_numpy(dtype=float)


def _baseline(
    metric: str, baseline: float | None, spend: np.ndarray, where: str
) -> tuple[float, str, float | None]:
    """The baseline, where it came from, and (revenue) the per-customer σ."""
    source = "given"
    if metric == "conversion":
        if baseline is None:
            baseline = float((spend > 0).mean())
            source = f"share of the audience who bought in the {HISTORY_DAYS} days {where}"
            if not 0 < baseline < 1:
                raise InputError(
                    f"The audience's history gives a conversion baseline of {baseline:.0%}, "
                    "which no test can start from. Pass --baseline, e.g. --baseline 0.05."
                )
        return baseline, source, None
    sd = float(spend.std(ddof=1)) if spend.size > 1 else 0.0
    if not sd > 0:
        raise InputError(
            f"The audience's spend in the {HISTORY_DAYS} days {where} does not vary "
            f"({spend.size:,} customers), so it gives no variance for a revenue test. "
            "Design a conversion test instead (--metric conversion)."
        )
    if baseline is None:
        baseline = float(spend.mean())
        source = f"mean spend per customer in the {HISTORY_DAYS} days {where}"
    return baseline, source, sd


def design_experiment(
    store: Store,
    *,
    name: str,
    segment: str | None = None,
    action: str | None = None,
    metric: str = "conversion",
    baseline: float | None = None,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    control_share: float = 0.5,
    out: str | Path | None = None,
    run_id: int | None = None,
) -> ExperimentDesign:
    """Size a test on an audience, assign its customers and record the design.

    Parameters
    ----------
    store : Store
    name : str
        The experiment's name; it seeds the assignment, so it must be new.
    segment, action : str, optional
        The audience: an RFM segment, value tier or cluster, and/or a next-best action of
        the run (neither: every customer of the run).
    metric : {"conversion", "revenue"}
    baseline : float, optional
        Control's conversion rate (a share) or revenue per customer; default from the
        audience's history.
    mde : float
        The smallest effect worth detecting, absolute: 0.01 is one percentage point of
        conversion, or 1.0 of revenue per customer.
    alpha, power : float
        Two-sided significance level and power.
    control_share : float
        Share of the audience in control.
    out : str or Path, optional
        A CSV file for the assignment (``customer_id, arm``).
    run_id : int, optional
        Default: the latest run with scores.

    Returns
    -------
    ExperimentDesign
    """
    _check_params(name, metric, mde, alpha, power, control_share)
    if baseline is not None:
        _check_baseline(metric, baseline, mde)
    run = resolve_run(store, run_id)
    check_filters(store, run, segment, action)
    taken = experiment_named(store, name)
    if taken is not None:
        raise InputError(
            f"An experiment named {name!r} exists (id {taken}). Choose another --name: the "
            "name seeds the assignment, so a new name gives a fresh split."
        )
    ids = audience_rows(store, run, segment=segment, action=action, top_n=0)["customer_id"]
    if ids.empty:
        raise InputError(
            f"The audience ({_describe(segment, action)}, run {run}) has no customers."
        )
    as_of, spend = _history(store, run, ids)
    where = f"before {as_of:%Y-%m-%d}"
    base, source, sd = _baseline(metric, baseline, spend, where)
    _check_baseline(metric, base, mde)
    return _finish(store, name, run, (segment, action), metric, base, source, sd, mde, alpha,
                   power, control_share, ids, as_of, out)  # fmt: skip


def _describe(segment: str | None, action: str | None) -> str:
    parts = [f"segment {segment!r}"] if segment else []
    parts += [f"action {action!r}"] if action else []
    return " and ".join(parts) or "every customer"


def _sizes(
    metric: str, base: float, sd: float | None, mde: float, alpha: float, power: float, c: float
) -> tuple[int, int]:
    ratio = (1 - c) / c
    if metric == "conversion":
        n = sample_size_proportions(base, base + mde, alpha=alpha, power=power, ratio=ratio)
    else:
        assert sd is not None
        n = sample_size_means(mde, sd, alpha=alpha, power=power, ratio=ratio)
    return math.ceil(n), math.ceil(n * ratio)


def _mde_at(
    metric: str, base: float, sd: float | None, n_c: float, n_t: float, alpha: float, power: float
) -> float | None:
    if n_c < 2 or n_t < 2:
        return None
    if metric == "conversion":
        return mde_proportions(base, n_c, n_t, alpha=alpha, power=power)
    assert sd is not None
    return mde_means(sd, n_c, n_t, alpha=alpha, power=power)


def _finish(
    store: Store, name: str, run: int, audience: tuple[str | None, str | None], metric: str,
    base: float, source: str, sd: float | None, mde: float, alpha: float, power: float,
    c: float, ids: pd.Series, as_of: datetime, out: str | Path | None,
) -> ExperimentDesign:  # fmt: skip
    n_c, n_t = _sizes(metric, base, sd, mde, alpha, power, c)
    size = len(ids)
    arms = assign_arms(name, ids.astype(str), c)
    created = datetime.now(UTC).replace(tzinfo=None)
    design = ExperimentDesign(
        experiment_id=0, name=name, run_id=run, segment=audience[0], action=audience[1],
        audience=_describe(*audience), metric=metric,
        baseline=base, baseline_source=source, sd=sd, mde=mde, alpha=alpha, power=power,
        control_share=c, needed_control=n_c, needed_treatment=n_t, audience_size=size,
        control=int((arms == "control").sum()), treatment=int((arms == "treatment").sum()),
        feasible=size * c >= n_c and size * (1 - c) >= n_t,
        mde_at_size=_mde_at(metric, base, sd, size * c, size * (1 - c), alpha, power),
        pre_period_end=min(created, as_of),
        assignment=pd.DataFrame({"customer_id": ids.to_numpy(), "arm": arms}),
    )  # fmt: skip
    if not design.feasible:
        design.notes.append(design.summary())
    design.experiment_id = insert_experiment(
        store,
        name=name,
        created_at=created,
        segment=audience[0] or audience[1],
        design=design.to_json(),
    )
    if out is not None:
        design.path = Path(out)
        design.path.parent.mkdir(parents=True, exist_ok=True)
        write_table(design.assignment, design.path, "csv")
    return design
