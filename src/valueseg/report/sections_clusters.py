"""The report's clusters section: sizes and revenue, how k was chosen, a 2-D projection of a
sample, profiles (lift), rules with their fidelity.

How k was chosen and the projection come from the run's fitted Segmenter (table
``run_estimators``): its ``k_scores_`` per k, and its preprocessing applied to the features
of a sample of customers (``customer_features``), coloured by their stored cluster. A run
that kept no segmenter (one older than the table) says so instead of drawing them.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from valueseg.errors import InputError
from valueseg.report.charts import (
    BarsDisplay,
    ClusterProjectionDisplay,
    HeatTableDisplay,
    KCriteriaDisplay,
)
from valueseg.report.readings import count, pct, plural
from valueseg.report.section import Chart, Context, Section, Table, empty, unrun
from valueseg.store import report as q
from valueseg.store.derived import segment_rows

__all__ = ["PROJECTED", "clusters", "segment_profile"]

_MAX_LIFT_FEATURES = 12
#: Customers drawn in the 2-D projection, at most.
PROJECTED = 2000


def segment_profile(profile: Any) -> dict[str, Any]:
    """A stored ``segments.profile`` (JSON text or None) as a dict.

    Examples
    --------
    >>> segment_profile('{"share": 0.5}'), segment_profile(None)
    ({'share': 0.5}, {})
    """
    if profile is None or (isinstance(profile, float) and np.isnan(profile)):
        return {}
    return dict(json.loads(profile))


# -- clusters -------------------------------------------------------------------------------
def clusters(ctx: Context) -> Section:
    """Cluster sizes and revenue, the k criteria, a 2-D projection, profiles (lift), rules
    with their fidelity."""
    key, title = "clusters", "Behavioural clusters"
    if (gone := unrun(ctx, key, title)) is not None:
        return gone
    rows = segment_rows(ctx.store, ctx.run_id)
    rows = rows[rows["lens"] == "cluster"].reset_index(drop=True)
    notes = ctx.notes("segments")
    if rows.empty:
        why = "; ".join(notes) or "the segments stage made no clusters"
        return empty(key, title, ctx.command("run"), f"Run {ctx.run_id} has no clusters ({why})")
    profiles = [segment_profile(p) for p in rows["profile"]]
    total = float(rows["size"].sum())
    placed = [p.get("rule_fit", {}).get("placed_recall") for p in profiles]
    right = sum(float(r or 0) * s for r, s in zip(placed, rows["size"], strict=True))
    fidelity = right / total if total and any(r is not None for r in placed) else None
    big = rows.iloc[0]
    reading = (
        f"{plural(len(rows), 'cluster')}; the largest, {big['segment']}, holds "
        f"{count(big['size'])} customers ({pct(big['size'] / total)}) and brings "
        f"{pct(big['revenue_share'])} of revenue"
    )
    if fidelity is not None:
        reading += f"; their rules place {pct(fidelity)} of customers in their own cluster"
    section = Section(key, title, reading + ".", True, notes=notes)
    section.numbers = {"clusters": len(rows), "largest": int(big["size"])}
    if fidelity is not None:
        section.numbers["fidelity"] = fidelity
    shares = pd.DataFrame(
        {
            "cluster": rows["segment"],
            "customers": rows["size"] / total,
            "revenue": rows["revenue_share"],
        }
    )
    section.charts.append(
        Chart(
            "cluster_sizes",
            "Cluster sizes and revenue",
            BarsDisplay.from_frame(
                shares,
                "cluster",
                ["customers", "revenue"],
                title="Clusters: share of customers and of revenue",
                percent=True,
            ).plot(),
            "Each cluster's share of customers and of revenue.",
        )
    )
    _segmenter_charts(ctx, section, int(total))
    if (lift := _lift_chart(rows, profiles)) is not None:
        section.charts.append(lift)
    section.tables += [_profile_table(rows, profiles, total), _rules_table(rows, profiles)]
    section.notes.append(
        "The clusters' bootstrap stability is computed during the run but not stored; the "
        "run's notes name the clusters that were unstable."
    )
    return section


def _segmenter_charts(ctx: Context, section: Section, customers: int) -> None:
    """The k criteria per k and the 2-D projection, from the run's fitted Segmenter."""
    from valueseg.store.estimators import read_estimator

    try:
        seg = read_estimator(ctx.store, ctx.run_id, "segmenter")
    except InputError as exc:
        section.notes.append(
            f"No chart of the k criteria nor projection: {exc} A run older than the "
            f"table run_estimators kept none; {ctx.command('run')} draws them."
        )
        return
    if (k_chart := _k_criteria(seg, section)) is not None:
        section.charts.append(k_chart)
    if (projection := _projection(ctx, seg, section, customers)) is not None:
        section.charts.append(projection)


def _k_criteria(seg: Any, section: Section) -> Chart | None:
    try:
        disp = KCriteriaDisplay.from_segmenter(seg).plot()
    except InputError:
        why = seg.k_reason_ or f"{seg.algorithm_} finds its clusters without choosing k."
        section.notes.append(f"No k criteria to draw: {why}")
        return None
    return Chart(
        "k_criteria",
        "How the number of clusters was chosen",
        disp,
        f"Why {seg.n_clusters_} clusters ({seg.algorithm_}): {seg.k_reason_} Each panel draws "
        "one criterion per k, the mean over the segmenter's selection samples (± one standard "
        "error); dashed: the chosen k; ring: the smallest k the criterion accepts (within one "
        "standard error of its best); the last panel counts the criteria accepting each k, "
        "and the smallest k a majority accepts is chosen.",
    )


def _projection(ctx: Context, seg: Any, section: Section, customers: int) -> Chart | None:
    """The clustered matrix of a sample of customers on its first two principal components."""
    names = [str(c) for c in getattr(seg, "feature_names_in_", [])]
    try:
        if not names:
            raise InputError("the segmenter was fitted without column names")
        frame = q.feature_sample(ctx.store, ctx.run_id, names, PROJECTED)
        z = seg.transform(frame[names])
        labels = frame["segment"].fillna("(no cluster)")
        disp = ClusterProjectionDisplay.from_matrix(z, labels, max_points=PROJECTED).plot()
    except KeyError as exc:
        section.notes.append(f"No 2-D projection: customer_features lacks {exc}.")
        return None
    except ValueError as exc:  # InputError included
        section.notes.append(f"No 2-D projection: {exc}")
        return None
    shown = len(disp.points_)
    whom = "Every customer"
    if shown < customers:
        whom = f"A sample of {count(shown)} customers (chosen by a hash of the id)"
    columns = plural(len(seg.columns_), "column")
    return Chart(
        "cluster_projection",
        "Clusters in two dimensions",
        disp,
        f"{whom} on the first two principal components of the matrix the clusters were "
        f"found in ({columns} after the segmenter's preprocessing), coloured by their "
        f"cluster; the two components explain {pct(float(disp.explained_.sum()))} of its "
        "variance, so clusters that overlap here may still be apart in the other dimensions.",
    )


def _lift_chart(rows: pd.DataFrame, profiles: list[dict[str, Any]]) -> Chart | None:
    features: list[str] = []
    for p in profiles:
        for item in p.get("top_features", []):
            name = str(item).rsplit(" ", 1)[0]
            if name not in features:
                features.append(name)
    features = features[:_MAX_LIFT_FEATURES]
    lifts = [p.get("lift", {}) for p in profiles]
    if not features or not any(lifts):
        return None
    matrix = pd.DataFrame(
        [[lift.get(f, np.nan) for f in features] for lift in lifts],
        index=[str(s) for s in rows["segment"]],
        columns=features,
    ).astype(float)
    disp = HeatTableDisplay.from_matrix(
        matrix, title="Cluster profiles: mean of members / mean of all", ratio=True
    ).plot()
    return Chart(
        "cluster_profiles",
        "Cluster profiles",
        disp,
        "Lift of each cluster's defining features (red: above the shop's mean; blue: below).",
    )


def _profile_table(rows: pd.DataFrame, profiles: list[dict[str, Any]], total: float) -> Table:
    frame = pd.DataFrame(
        {
            "cluster": rows["segment"],
            "customers": rows["size"],
            "share": rows["size"] / total,
            "revenue_share": rows["revenue_share"],
            "name_evidence": ["; ".join(p.get("name_evidence", [])) for p in profiles],
            "top_features": [", ".join(p.get("top_features", [])) for p in profiles],
        }
    )
    return Table.from_frame(
        frame, "Cluster profiles", {"customers": count, "share": pct, "revenue_share": pct}
    )


def _rules_table(rows: pd.DataFrame, profiles: list[dict[str, Any]]) -> Table:
    out = []
    for name, p in zip(rows["segment"], profiles, strict=True):
        fit = p.get("rule_fit", {})
        for i, rule in enumerate(p.get("rules", [])):
            out.append(
                [
                    str(name) if i == 0 else "",
                    str(rule.get("text", "")),
                    pct(rule.get("precision")),
                    pct(rule.get("recall")),
                    count(rule.get("customers")),
                    pct(fit.get("placed_precision")) if i == 0 else "",
                    pct(fit.get("placed_recall")) if i == 0 else "",
                ]
            )
    return Table(
        "Rules in words (OR-ed), with their precision and recall; placed: how the rules "
        "place customers (precision, and recall: the fidelity within the cluster)",
        [
            "cluster",
            "rule",
            "precision",
            "recall",
            "customers",
            "placed precision",
            "placed recall",
        ],
        out,
        [False, False, True, True, True, True, True],
    )
