"""The report's later sections: migration, recommendations, actions and experiments
(the clusters have theirs: :mod:`valueseg.report.sections_clusters`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from valueseg.report.charts import BarsDisplay, HeatTableDisplay
from valueseg.report.readings import count, day, money, number, pct, plural, share_of
from valueseg.report.section import Chart, Context, Section, Table, empty, unrun
from valueseg.store import report as q

__all__ = ["actions", "migration", "recommendations"]

_NEW, _GONE = "(new)", "(gone)"
_LENSES = {"rfm_segment": "RFM segment", "value_tier": "value tier", "segment": "cluster"}
#: Recommendation metrics drawn (shares in [0, 1]); the first the reading says.
_REC_DRAWN = ("hit_rate", "ndcg", "coverage")


# -- migration ------------------------------------------------------------------------------
def migration(ctx: Context) -> Section:
    """Customers per (segment before, segment now) since the previous run."""
    key, title = "migration", "Migration since the previous run"
    if (gone := unrun(ctx, key, title)) is not None:
        return gone
    prev = ctx.previous
    if prev is None:
        fill = f"{ctx.command('ingest', 'NEW_ORDERS')}, then {ctx.command('run')}"
        return empty(key, title, fill, "Only one run so far, and migration compares two")
    before = int(prev["run_id"])
    flows = {c: q.migration_flows(ctx.store, before, ctx.run_id, c) for c in _LENSES}
    rfm = flows["rfm_segment"].fillna({"before": "(none)", "after": "(none)"})
    both = rfm[(rfm["before"] != _NEW) & (rfm["after"] != _GONE)]
    moved = both[both["before"] != both["after"]]
    stayed = int(both["customers"].sum())
    changed = int(moved["customers"].sum())
    reading = (
        f"Since run {before} ({day(prev['as_of'])}), {count(changed)} of {count(stayed)} "
        f"customers ({pct(share_of(changed, stayed))}) changed RFM segment"
    )
    if len(moved):
        top = moved.sort_values("customers", ascending=False).iloc[0]
        reading += (
            f"; the largest move: {count(top['customers'])} from {top['before']} to {top['after']}"
        )
    section = Section(key, title, reading + ".", True)
    section.numbers = {"changed": changed, "in_both": stayed}
    matrix = rfm.pivot_table(
        index="before", columns="after", values="customers", aggfunc="sum", fill_value=0
    )
    order = [s for s in dict.fromkeys([*matrix.index, *matrix.columns]) if s not in (_NEW, _GONE)]
    order = sorted(order)
    matrix = matrix.reindex(index=[*order, _NEW], columns=[*order, _GONE], fill_value=0)
    section.charts.append(
        Chart(
            "rfm_migration",
            "RFM migration",
            HeatTableDisplay.from_matrix(
                matrix,
                title=f"RFM segment in run {before} (rows) and run {ctx.run_id} (columns)",
                xlabel=f"run {ctx.run_id}",
                ylabel=f"run {before}",
            ).plot(),
            "Customers per pair of segments; (new): only in the later run, (gone): only in "
            "the earlier one.",
        )
    )
    section.tables.append(_migration_table(flows))
    return section


def _migration_table(flows: dict[str, pd.DataFrame]) -> Table:
    rows = []
    for column, frame in flows.items():
        f = frame.fillna({"before": "(none)", "after": "(none)"})
        both = f[(f["before"] != _NEW) & (f["after"] != _GONE)]
        changed = int(both.loc[both["before"] != both["after"], "customers"].sum())
        n = int(both["customers"].sum())
        new = int(f.loc[f["before"] == _NEW, "customers"].sum())
        gone = int(f.loc[f["after"] == _GONE, "customers"].sum())
        rows.append(
            [
                _LENSES[column],
                count(n),
                count(changed),
                pct(share_of(changed, n)),
                count(new),
                count(gone),
            ]
        )
    return Table(
        "Customers who changed segment, per lens",
        ["lens", "in both runs", "changed", "share", "new", "gone"],
        rows,
        [False, True, True, True, True, True],
    )


# -- recommendations ------------------------------------------------------------------------
def recommendations(ctx: Context) -> Section:
    """The offline evaluation against popularity (cohort and segment ``all``), coverage."""
    key, title = "recommend", "Recommendations"
    if (gone := unrun(ctx, key, title)) is not None:
        return gone
    ev = q.recommend_evaluation(ctx.store, ctx.run_id)
    notes = ctx.notes("recommend")
    if ev.empty:
        fill = ctx.command("run")
        if q.coverage(ctx.store)["lines_with_product"] == 0:
            fill = f"{ctx.command('ingest', 'FILE', '--map', 'product_id=COLUMN')}, then {fill}"
            what = "The orders name no product"
        else:
            what = f"Run {ctx.run_id} made no recommendations"
        return empty(key, title, fill, what + (f" ({'; '.join(notes)})" if notes else ""))
    k = int(ev["k"].mode().iloc[0])
    at_k = ev[ev["k"] == k]
    table = at_k.pivot_table(index="model", columns="metric", values="value", aggfunc="first")
    chosen_models = at_k.loc[at_k["chosen"].astype(bool), "model"]
    chosen = str(chosen_models.iloc[0]) if len(chosen_models) else str(table.index[0])
    metric = next((m for m in _REC_DRAWN if m in table.columns), str(table.columns[0]))
    customers = int(at_k.loc[at_k["model"] == chosen, "customers"].max())
    values: dict[Any, Any] = table[metric].astype(float).to_dict()
    mine = float(values[chosen])
    section = Section(key, title, "", True, notes=notes)
    section.numbers = {metric: mine, "k": k, "customers": customers}
    if metric == "hit_rate":
        reading = (
            f"{chosen} (chosen) finds a later purchase in its top {k} for {pct(mine)} of the "
            f"{count(customers)} customers evaluated"
        )
    else:
        reading = f"{chosen} (chosen) scores {metric} {number(mine)} at {k}"
    if "popularity" in values and chosen != "popularity":
        pop = float(values["popularity"])
        said = pct(pop) if metric == "hit_rate" else number(pop)
        reading += f", against {said} for popularity"
        section.numbers["popularity"] = pop
    cov = q.recommend_coverage(ctx.store, ctx.run_id)
    reading += (
        f"; lists for {count(cov['customers'])} customers draw on {count(cov['products'])} of "
        f"{count(cov['catalogue'])} products sold"
    )
    section.reading = reading + "."
    drawn = [m for m in _REC_DRAWN if m in table.columns]
    frame = table.reset_index()
    frame["model"] = [m + (" (chosen)" if m == chosen else "") for m in frame["model"]]
    section.charts.append(
        Chart(
            "recommend_evaluation",
            "Offline evaluation",
            BarsDisplay.from_frame(
                frame, "model", drawn, title=f"Recommenders at {k} on the last horizon"
            ).plot(),
            f"Each model's metrics at {k} on the purchases after its training span "
            "(popularity is the baseline to beat).",
        )
    )
    cols = [
        c
        for c in ("precision", "recall", "ndcg", "map", "hit_rate", "coverage", "gini", "novelty")
        if c in table.columns
    ]
    cols += [c for c in table.columns if c not in cols]
    section.tables.append(
        Table.from_frame(
            frame[["model", *cols]],
            f"Evaluation at {k}, all customers ({count(customers)})",
            dict.fromkeys(cols, number),
        )
    )
    return section


# -- actions and experiments ----------------------------------------------------------------
def actions(ctx: Context) -> Section:
    """Audiences per next-best action, and the experiments designed and analysed."""
    key, title = "actions", "Actions and experiments"
    acts = q.action_summary(ctx.store, ctx.run_id) if ctx.run is not None else pd.DataFrame()
    exps = q.experiments(ctx.store)
    fill = f"{ctx.command('run')} (next-best actions) and valueseg experiment (experiments)"
    if acts.empty and exps.empty:
        return empty(key, title, fill, "No next-best action nor experiment yet")
    parts, section = [], Section(key, title, "", True)
    if len(acts):
        n = int(acts["customers"].sum())
        big = acts.sort_values("customers", ascending=False).iloc[0]
        parts.append(
            f"{plural(len(acts), 'action')} for {count(n)} customers; the largest audience, "
            f"{big['action']}, holds {count(big['customers'])} customers with "
            f"{money(big['value_at_stake'], ctx.currency)} at stake"
        )
        section.numbers.update({"actions": len(acts), "customers": n})
        section.charts.append(
            Chart(
                "audiences",
                "Audiences per action",
                BarsDisplay.from_frame(
                    acts, "action", ["customers"], title="Customers per next-best action"
                ).plot(),
                "Customers whose next-best action each action is.",
            )
        )
        section.tables.append(
            Table.from_frame(
                acts,
                "Next-best actions",
                {"customers": count, "value_at_stake": lambda v: money(v, ctx.currency)},
            )
        )
    else:
        section.notes.append(f"No next-best actions in this run: {ctx.command('run')} adds them.")
    if len(exps):
        by_status = exps["status"].value_counts()
        said = ", ".join(f"{count(v)} {s}" for s, v in by_status.items())
        parts.append(f"{plural(len(exps), 'experiment')} ({said})")
        section.numbers["experiments"] = len(exps)
        shown = exps.assign(design=[_short(d) for d in exps["design"]])
        section.tables.append(Table.from_frame(shown, "Experiments", {"created_at": day}))
    else:
        section.notes.append("No experiment yet: valueseg experiment designs one.")
    section.reading = "; ".join(parts)[:1].upper() + "; ".join(parts)[1:] + "."
    return section


def _short(design: Any, limit: int = 160) -> str:
    text = "" if design is None or (isinstance(design, float) and np.isnan(design)) else str(design)
    return text if len(text) <= limit else text[: limit - 1] + "…"
