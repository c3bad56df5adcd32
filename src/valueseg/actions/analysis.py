"""Reading an A/B test's results: lift, its interval and p-value, SRM, CUPED, a verdict.

:func:`analyze_experiment` takes the outcomes of a designed experiment
(:func:`valueseg.actions.experiments.design_experiment`), puts every customer back in the
arm the design's hash gave them, and reports, the way GrowthBook does, per arm the units,
the rate or mean and its interval; the lift with its interval and p-value, overall and per
segment; the sample-ratio-mismatch p-value (flagged below 0.001); and, when the store has
the customers' spend in the 90 days before the experiment, the CUPED-adjusted estimate
next to the raw one. The verdict says in words what a marketer may conclude; it rests on
the raw, pre-registered test, and a broken split (SRM) overrules it.

Segments are not corrected for multiple comparisons: read them as where to look next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from valueseg.actions.experiments import HISTORY_DAYS, assign_arms
from valueseg.actions.stats import (
    Comparison,
    cuped,
    sample_ratio_mismatch,
    two_proportions,
    welch,
)
from valueseg.errors import InputError, SourceNotFoundError
from valueseg.store import Store
from valueseg.store.actions import (
    audience_rows,
    customer_spend,
    experiment_ids,
    read_experiment,
    set_experiment_status,
)
from valueseg.store.derived import customer_column

__all__ = ["SRM_THRESHOLD", "ExperimentAnalysis", "analyze_experiment"]

#: An SRM p-value below this flags the split as broken.
SRM_THRESHOLD: Final = 0.001
_LENSES: Final = ("rfm_segment", "value_tier", "segment")


@dataclass
class ExperimentAnalysis:
    """The result of an experiment, overall and per segment, with its checks and verdict.

    ``segments`` has one row per segment with enough customers in both arms:
    ``segment, control_units, treatment_units, control, treatment, diff, ci_low, ci_high,
    p_value``.
    """

    experiment_id: int
    name: str
    metric: str
    alpha: float
    overall: Comparison
    srm_p: float
    cuped: Comparison | None
    cuped_theta: float | None
    variance_reduction: float | None
    revenue: Comparison | None
    segments: pd.DataFrame
    verdict: str
    notes: list[str] = field(default_factory=list)

    @property
    def srm(self) -> bool:
        """Whether the split is broken (SRM p-value below 0.001)."""
        return self.srm_p < SRM_THRESHOLD

    def arms(self) -> pd.DataFrame:
        """Per arm: units, rate or mean, and its interval (GrowthBook's table)."""
        rows = []
        for label, arm in (
            ("control", self.overall.control),
            ("treatment", self.overall.treatment),
        ):
            rows.append(
                {"arm": label, "units": arm.units, self.metric: arm.value,
                 "ci_low": arm.ci_low, "ci_high": arm.ci_high}
            )  # fmt: skip
        return pd.DataFrame(rows)


def _read_results(results: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    if isinstance(results, pd.DataFrame):
        return results.copy(), "the results frame"
    path = Path(results)
    if not path.is_file():
        raise SourceNotFoundError(
            f"Results file {path} not found. Expected a CSV with customer_id, outcome[, revenue]."
        )
    try:
        frame = pd.read_csv(path, dtype={"customer_id": str})
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"Cannot read results file {path} as CSV: {exc}.") from None
    return frame, str(path)


def _check_results(frame: pd.DataFrame, source: str, metric: str) -> pd.DataFrame:
    missing = [c for c in ("customer_id", "outcome") if c not in frame.columns]
    if missing:
        raise InputError(
            f"Column {missing[0]!r} not found in {source}. Expected customer_id, outcome"
            f"[, revenue]. Got: {', '.join(map(str, frame.columns))}."
        )
    frame = frame.assign(customer_id=frame["customer_id"].astype(str))
    dup = frame["customer_id"].duplicated()
    if dup.any():
        raise InputError(
            f"{source} lists customer {frame.loc[dup, 'customer_id'].iloc[0]!r} more than "
            f"once ({int(dup.sum()):,} repeats). Give one row per customer."
        )
    for column in ("outcome", "revenue"):
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce")
            bad = values.isna()
            if bad.any():
                raise InputError(
                    f"Column {column!r} of {source} has {int(bad.sum()):,} missing or "
                    f"non-numeric values (first: customer {frame.loc[bad, 'customer_id'].iloc[0]!r}"
                    "). Expected a number for every customer."
                )
            frame[column] = values.astype(float)
    if metric == "conversion" and not frame["outcome"].isin([0.0, 1.0]).all():
        raise InputError(
            f"Column 'outcome' of {source} must be 0 or 1 for a conversion experiment (1: the "
            "customer converted). Put money in a 'revenue' column."
        )
    return frame


def _compare(metric: str, y: np.ndarray, treated: np.ndarray, alpha: float) -> Comparison:
    if metric == "conversion":
        return two_proportions(
            int(y[treated].sum()), int(treated.sum()), int(y[~treated].sum()),
            int((~treated).sum()), alpha=alpha,
        )  # fmt: skip
    return welch(y[treated], y[~treated], alpha=alpha)


def _enough(treated: np.ndarray) -> bool:
    return int(treated.sum()) >= 2 and int((~treated).sum()) >= 2


def analyze_experiment(
    store: Store,
    experiment_id: int,
    results: str | Path | pd.DataFrame,
    *,
    by: str = "rfm_segment",
) -> ExperimentAnalysis:
    """Analyse the outcomes of a designed experiment.

    Parameters
    ----------
    store : Store
    experiment_id : int
        The id :func:`design_experiment` returned (``experiments.experiment_id``).
    results : path or DataFrame
        ``customer_id, outcome[, revenue]``: one row per customer of the experiment;
        ``outcome`` is 0/1 for a conversion experiment and money for a revenue one (or
        ``revenue`` holds it). A column ``arm``, if any, must agree with the design.
    by : {"rfm_segment", "value_tier", "segment"}
        The lens of the per-segment results.

    Returns
    -------
    ExperimentAnalysis
    """
    row = read_experiment(store, experiment_id)
    if row is None:
        ids = ", ".join(map(str, experiment_ids(store))) or "none yet"
        raise InputError(
            f"No experiment {experiment_id} in {store.path}. Experiments: {ids}. "
            "Design one with valueseg experiment design."
        )
    if by not in _LENSES:
        raise InputError(f"Unknown lens {by!r} for per-segment results. Expected: {_LENSES}.")
    design: dict[str, Any] = row["design"]
    metric, alpha = str(design["metric"]), float(design["alpha"])
    frame, source = _read_results(results)
    frame = _check_results(frame, source, metric)
    notes: list[str] = []
    frame = _in_audience(store, row, frame, notes)
    arms = assign_arms(row["name"], frame["customer_id"], float(design["control_share"]))
    _check_arms(frame, arms, source)
    treated = arms == "treatment"
    if not _enough(treated):
        raise InputError(
            f"{source} has {int((~treated).sum())} control and {int(treated.sum())} treatment "
            "customers of the experiment; each arm needs at least 2."
        )
    value_col = "revenue" if metric == "revenue" and "revenue" in frame.columns else "outcome"
    y = frame[value_col].to_numpy(dtype=float)
    overall = _compare(metric, y, treated, alpha)
    srm_p = sample_ratio_mismatch(
        int((~treated).sum()), int(treated.sum()), float(design["control_share"])
    )
    adjusted, theta, cut = _cuped(store, design, frame, y, treated, alpha, notes)
    revenue = None
    if metric == "conversion" and "revenue" in frame.columns:
        revenue = welch(frame["revenue"].to_numpy()[treated], frame["revenue"].to_numpy()[~treated],
                        alpha=alpha)  # fmt: skip
    segments = _segments(store, int(design["run_id"]), by, frame, y, treated, metric, alpha)
    analysis = ExperimentAnalysis(
        experiment_id=experiment_id, name=row["name"], metric=metric, alpha=alpha,
        overall=overall, srm_p=srm_p, cuped=adjusted, cuped_theta=theta,
        variance_reduction=cut, revenue=revenue, segments=segments, verdict="", notes=notes,
    )  # fmt: skip
    analysis.verdict = _verdict(analysis, design)
    set_experiment_status(store, experiment_id, "analyzed")
    return analysis


def _in_audience(
    store: Store, row: dict[str, Any], frame: pd.DataFrame, notes: list[str]
) -> pd.DataFrame:
    """The results of customers in the design's audience (others are left out, noted)."""
    design = row["design"]
    segment, action = design.get("segment"), design.get("action")
    members = audience_rows(store, int(design["run_id"]), segment=segment, action=action, top_n=0)[
        "customer_id"
    ]
    if members.empty:
        notes.append(f"run {design['run_id']} is no longer in the store: audience not checked")
        return frame
    inside = frame["customer_id"].isin(set(members.astype(str)))
    if not inside.all():
        notes.append(
            f"{int((~inside).sum()):,} customers of the results are not in the experiment's "
            "audience and were left out"
        )
    return frame[inside].reset_index(drop=True)


def _check_arms(frame: pd.DataFrame, arms: np.ndarray, source: str) -> None:
    if "arm" not in frame.columns:
        return
    wrong = frame["arm"].astype(str).str.lower().to_numpy() != arms
    if wrong.any():
        raise InputError(
            f"{source}: {int(wrong.sum()):,} customers have an arm other than the design gave "
            f"them (first: {frame.loc[wrong, 'customer_id'].iloc[0]!r}). The assignment is "
            "fixed by the experiment's name; use the file valueseg experiment design wrote."
        )


def _cuped(
    store: Store, design: dict[str, Any], frame: pd.DataFrame, y: np.ndarray,
    treated: np.ndarray, alpha: float, notes: list[str],
) -> tuple[Comparison | None, float | None, float | None]:  # fmt: skip
    end = datetime.fromisoformat(str(design["pre_period_end"]))
    start = end - timedelta(days=HISTORY_DAYS)
    x = customer_spend(store, frame["customer_id"].tolist(), start, end)["spend"].to_numpy()
    if not np.any(x > 0) or float(np.var(x)) == 0.0:
        notes.append(
            f"no spend in the {HISTORY_DAYS} days before {end:%Y-%m-%d} for these customers: "
            "no CUPED estimate"
        )
        return None, None, None
    adjusted, theta, cut = cuped(y, np.asarray(x, dtype=float))
    comparison = welch(adjusted[treated], adjusted[~treated], alpha=alpha)
    return comparison, theta, cut


def _segments(
    store: Store, run_id: int, by: str, frame: pd.DataFrame, y: np.ndarray,
    treated: np.ndarray, metric: str, alpha: float,
) -> pd.DataFrame:  # fmt: skip
    labels = customer_column(store, run_id, by).set_index("customer_id")[by]
    names = frame["customer_id"].map(labels).fillna("(none)").astype(str).to_numpy()
    rows = []
    for name in sorted(set(names)):
        mask = names == name
        if not _enough(treated[mask]):
            continue
        c = _compare(metric, y[mask], treated[mask], alpha)
        rows.append(
            {"segment": name, "control_units": c.control.units,
             "treatment_units": c.treatment.units, "control": c.control.value,
             "treatment": c.treatment.value, "diff": c.diff, "ci_low": c.ci_low,
             "ci_high": c.ci_high, "p_value": c.p_value}
        )  # fmt: skip
    columns = ["segment", "control_units", "treatment_units", "control", "treatment", "diff",
               "ci_low", "ci_high", "p_value"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _fmt(metric: str, value: float, signed: bool = False) -> str:
    if metric == "conversion":
        return f"{100 * value:{'+' if signed else ''}.2f}" + (" points" if signed else " %")
    return f"{value:{'+' if signed else ''},.2f}"


def _verdict(a: ExperimentAnalysis, design: dict[str, Any]) -> str:
    o, m = a.overall, a.metric
    counts = f"{o.control.units:,} control, {o.treatment.units:,} treatment"
    if a.srm:
        return (
            f"Sample ratio mismatch: {counts} where the design split "
            f"{design['control_share']:.0%} / {1 - design['control_share']:.0%} "
            f"(p = {a.srm_p:.2g} < {SRM_THRESHOLD}). The split is broken (assignment, delivery "
            "or tracking): do not trust the result until the cause is found."
        )
    if math.isnan(o.p_value):
        return f"No test possible: every customer ({counts}) has the same outcome."
    what = (
        f"{m} {_fmt(m, o.control.value)} in control, {_fmt(m, o.treatment.value)} in treatment "
        f"({_fmt(m, o.diff, True)}, {1 - a.alpha:.0%} CI {_fmt(m, o.ci_low, True)} to "
        f"{_fmt(m, o.ci_high, True)}; p = {o.p_value:.3g})"
    )
    if o.p_value < a.alpha:
        head = "Treatment won" if o.diff > 0 else "Treatment lost"
        text = f"{head}: {what}. The difference is real at the {a.alpha:g} level."
    else:
        text = f"No detectable difference: {what}."
        needed = int(design["needed_control"]) + int(design["needed_treatment"])
        if o.control.units + o.treatment.units < needed:
            text += f" The test had {o.control.units + o.treatment.units:,} of the {needed:,}"
            text += " customers it was designed for; a real effect may have been missed."
    if a.cuped is not None:
        c = a.cuped
        text += (
            f" CUPED (pre-period spend) estimate: {_fmt(m, c.diff, True)}, CI "
            f"{_fmt(m, c.ci_low, True)} to {_fmt(m, c.ci_high, True)}, p = {c.p_value:.3g}."
        )
    return text
