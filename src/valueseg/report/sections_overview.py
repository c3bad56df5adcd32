"""The report's first sections: data quality, KPIs, the RFM grid and segments, value.

Each builder reads aggregates through :mod:`valueseg.store.report` and returns a
:class:`~valueseg.report.section.Section` whose reading is computed from the numbers it
shows (docs/report.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from valueseg.errors import InputError
from valueseg.report.charts import BarsDisplay, RfmGridDisplay, TimelineDisplay
from valueseg.report.readings import count, day, money, number, pct, plural, share_of
from valueseg.report.section import Chart, Context, Section, Table, empty, unrun
from valueseg.store import report as q
from valueseg.store.derived import segment_rows

__all__ = ["data_quality", "headline", "rfm", "value"]


# -- data quality ------------------------------------------------------------------------------
def data_quality(ctx: Context) -> Section:
    """Loads, rows read / accepted / rejected by reason, orders kept aside, date coverage."""
    key, title = "data", "Data quality"
    store = ctx.store
    loads = q.loads(store)
    if loads.empty:
        return empty(key, title, ctx.command("ingest", "FILE"), "No data loaded yet")
    read, accepted, rejected = (int(loads[c].sum()) for c in ("rows_read", "accepted", "rejected"))
    cov = q.coverage(store)
    reading = (
        f"{count(read)} rows read in {plural(len(loads), 'load')}: {count(accepted)} accepted "
        f"({pct(share_of(accepted, read))}) and {count(rejected)} rejected "
        f"({pct(share_of(rejected, read))})"
    )
    if cov["first_purchase"] is not None:
        reading += f"; purchases from {day(cov['first_purchase'])} to {day(cov['last_purchase'])}"
    section = Section(key, title, reading + ".", True)
    section.numbers = {
        "rows_read": read,
        "accepted": accepted,
        "rejected": rejected,
        "loads": len(loads),
        "purchase_lines": cov["purchase_lines"],
        "customers": cov["customers"],
    }
    section.tables.append(
        Table.from_frame(
            loads.drop(columns=["currency"] if loads["currency"].isna().all() else []),
            "Loads",
            {
                "rows_read": count,
                "accepted": count,
                "rejected": count,
                "loaded_at": lambda v: f"{pd.Timestamp(v):%Y-%m-%d %H:%M}",
            },
        )
    )
    rejected_rows = q.rejected_by_reason(store)
    if len(rejected_rows):
        section.tables.append(Table.from_frame(rejected_rows, "Rejected rows by reason"))
    else:
        section.notes.append("No row was rejected.")
    aside = q.kept_aside_by_reason(store)
    if len(aside):
        section.tables.append(
            Table.from_frame(aside, "Orders kept aside (not purchases), by status")
        )
    section.tables.append(_coverage_table(cov, ctx.currency))
    months = q.monthly_orders(store)
    if len(months):
        section.charts.append(
            Chart(
                "orders_per_month",
                "Orders and revenue per month",
                TimelineDisplay.from_frame(months).plot(),
                "Purchase orders (bars) and their amount (line) per calendar month.",
            )
        )
    if cov["events"] == 0:
        section.notes.append(
            "No browse or cart events loaded: the session and conversion features stay "
            f"empty. {ctx.command('ingest', 'EVENTS_FILE', '--kind', 'events')} adds them."
        )
    return section


def _coverage_table(cov: dict[str, Any], currency: str | None) -> Table:
    rows = [
        ["Purchase lines", count(cov["purchase_lines"])],
        ["Return lines", count(cov["return_lines"])],
        ["Orders", count(cov["orders"])],
        ["Customers", count(cov["customers"])],
        ["Purchases", money(cov["purchases_amount"], currency)],
        ["Returns", money(cov["returns_amount"], currency)],
        ["First purchase", day(cov["first_purchase"])],
        ["Last purchase", day(cov["last_purchase"])],
        ["Purchase lines with a product", count(cov["lines_with_product"])],
        ["Events", count(cov["events"])],
    ]
    if cov["events"]:
        rows.append(["Events from", f"{day(cov['first_event'])} to {day(cov['last_event'])}"])
    return Table("Coverage", ["", "value"], rows, [False, True])


# -- KPIs ----------------------------------------------------------------------------------------
def headline(ctx: Context) -> Section:
    """Customers, active customers, revenue, repeat rate, predicted revenue, churners."""
    key, title = "kpis", "Key figures"
    if (gone := unrun(ctx, key, title)) is not None:
        return gone
    k = q.kpis(ctx.store, ctx.run_id)
    n = k["customers"]
    if n == 0:
        return empty(key, title, ctx.command("run"), f"Run {ctx.run_id} scored no customer")
    horizon = int(ctx.params.get("horizon", 90))
    cur = ctx.currency
    reading = (
        f"{plural(n, 'customer')} bought {money(k['revenue'], cur)} by "
        f"{day(ctx.run['as_of'] if ctx.run else None)}; {count(k['active'])} "
        f"({pct(share_of(k['active'], n))}) are likely still active (P(alive) > 0.5) and "
        f"{pct(share_of(k['repeat'], n))} ordered more than once"
    )
    if k["predicted_365d"] is not None:
        reading += f"; they are predicted to bring {money(k['predicted_365d'], cur)} in 365 days"
    section = Section(key, title, reading + ".", True)
    section.numbers = {
        "customers": n,
        "active": k["active"],
        "revenue": k["revenue"],
        "repeat": k["repeat"],
        "repeat_rate": k["repeat"] / n,
    }
    cards = [
        ["Customers", count(n)],
        ["Active customers (P(alive) > 0.5)", f"{count(k['active'])} ({pct(k['active'] / n)})"],
        ["Revenue (purchases up to the run's date)", money(k["revenue"], cur)],
        ["Repeat rate (more than one order)", pct(k["repeat"] / n)],
        ["Predicted revenue, next 365 days", money(k["predicted_365d"], cur)],
        [f"Expected churners, next {horizon} days", count(k["churners"])],
    ]
    if k["predicted_365d"] is not None:
        section.numbers["predicted_365d"] = k["predicted_365d"]
    if k["churners"] is not None:
        section.numbers["churners"] = k["churners"]
    else:
        section.notes.append(
            f"No churn probabilities in run {ctx.run_id}: {ctx.command('run')} predicts them."
        )
    section.tables.append(Table("Key figures", ["", "value"], cards, [False, True]))
    return section


# -- RFM ----------------------------------------------------------------------------------------
def _grid_names(ctx: Context) -> Any:
    """The 5×5 names of the run's R×F grid (None when its file cannot be read now)."""
    from valueseg.segment.grid import load_rfm_grid

    try:
        return load_rfm_grid(ctx.params.get("segments_config")).table()
    except (InputError, OSError):
        return None


def _actions(ctx: Context, column: str) -> dict[str, str]:
    if q.table_rows(ctx.store, "customer_actions", ctx.run_id) == 0:
        return {}
    frame = q.segment_actions(ctx.store, ctx.run_id, column)
    return {str(s): f"{a} ({count(n)})" for s, a, n in frame.itertuples(index=False)}


def _segment_table(ctx: Context, rows: pd.DataFrame, caption: str, column: str) -> Table:
    total = float(rows["size"].sum())
    frame = pd.DataFrame(
        {
            "segment": rows["segment"],
            "customers": rows["size"],
            "share": rows["size"] / total if total else np.nan,
            "revenue_share": rows["revenue_share"],
        }
    )
    actions = _actions(ctx, column)
    if actions:
        frame["action"] = [actions.get(str(s)) for s in frame["segment"]]
    return Table.from_frame(
        frame, caption, {"customers": count, "share": pct, "revenue_share": pct}
    )


def rfm(ctx: Context) -> Section:
    """The R×F grid heat map (customers and revenue per cell) and the RFM segments."""
    key, title = "rfm", "RFM segments"
    if (gone := unrun(ctx, key, title)) is not None:
        return gone
    cells = q.rfm_cells(ctx.store, ctx.run_id)
    rows = segment_rows(ctx.store, ctx.run_id)
    rows = rows[rows["lens"] == "rfm"].reset_index(drop=True)
    if cells.empty or rows.empty:
        return empty(key, title, ctx.command("run"), f"Run {ctx.run_id} has no RFM segments")
    total = float(rows["size"].sum())
    top = rows.sort_values(["revenue_share", "size"], ascending=False).iloc[0]
    big = rows.iloc[0]  # largest first
    reading = (
        f"{top['segment']}: {plural(int(top['size']), 'customer')} "
        f"({pct(top['size'] / total)}) bring {pct(top['revenue_share'])} of revenue"
    )
    if big["segment"] != top["segment"]:
        reading += (
            f"; the largest segment, {big['segment']} ({count(big['size'])}, "
            f"{pct(big['size'] / total)}), brings {pct(big['revenue_share'])}"
        )
    section = Section(key, title, reading + ".", True)
    section.numbers = {
        "top_customers": int(top["size"]),
        "top_revenue_share": float(top["revenue_share"]),
        "largest_customers": int(big["size"]),
    }
    grid = RfmGridDisplay.from_cells(cells, _grid_names(ctx)).plot()
    section.charts.append(
        Chart(
            "rfm_grid",
            "RFM grid",
            grid,
            "Each cell of recency (R) and frequency (F) scores: its segment, its share of "
            "customers and of revenue; colour: share of revenue.",
        )
    )
    section.tables.append(_segment_table(ctx, rows, "RFM segments", "rfm_segment"))
    return section


# -- value --------------------------------------------------------------------------------------
def value(ctx: Context) -> Section:
    """Value tiers, the predicted CLV distribution, P(alive) and expected purchases."""
    key, title = "value", "Customer value"
    if (gone := unrun(ctx, key, title)) is not None:
        return gone
    tiers = q.tier_values(ctx.store, ctx.run_id)
    if tiers.empty:
        return empty(key, title, ctx.command("run"), f"Run {ctx.run_id} has no value tiers")
    n, revenue = float(tiers["customers"].sum()), float(tiers["revenue"].sum())
    clv_total = float(tiers["predicted_clv"].sum(min_count=1))
    tiers = tiers.assign(
        customer_share=tiers["customers"] / n,
        revenue_share=tiers["revenue"] / revenue if revenue > 0 else np.nan,
        clv_share=tiers["predicted_clv"] / clv_total if clv_total > 0 else np.nan,
    )
    top = tiers[tiers["value_tier"] != "Rest"] if (tiers["value_tier"] == "Rest").any() else tiers
    top = top if len(top) else tiers
    top_n = int(top["customers"].sum())
    reading = (
        f"The {count(top_n)} customers ({pct(top_n / n)}) of the top value tiers brought "
        f"{pct(top['revenue_share'].sum())} of revenue"
    )
    section = Section(key, title, "", True)
    section.numbers = {
        "top_customers": top_n,
        "top_revenue_share": float(top["revenue_share"].sum()),
    }
    if clv_total > 0:
        reading += f" and hold {pct(top['clv_share'].sum())} of the predicted 365-day value"
        section.numbers["top_clv_share"] = float(top["clv_share"].sum())
    section.reading = reading + "."
    section.charts.append(
        Chart(
            "value_tiers",
            "Value tiers",
            BarsDisplay.from_frame(
                tiers,
                "value_tier",
                ["customer_share", "revenue_share", "clv_share"],
                title="Value tiers: share of customers, revenue and predicted value",
                percent=True,
            ).plot(),
            "Tiers by predicted 365-day CLV; revenue is purchases up to the run's date.",
        )
    )
    cur = ctx.currency
    section.tables.append(
        Table.from_frame(
            tiers[
                [
                    "value_tier",
                    "customers",
                    "customer_share",
                    "revenue_share",
                    "mean_clv",
                    "clv_share",
                    "mean_p_alive",
                ]
            ],
            "Value tiers",
            {
                "customers": count,
                "customer_share": pct,
                "revenue_share": pct,
                "mean_clv": lambda v: money(v, cur),
                "clv_share": pct,
                "mean_p_alive": number,
            },
        )
    )
    _clv_chart(ctx, section)
    _matrices(ctx, section)
    return section


def _clv_chart(ctx: Context, section: Section) -> None:
    from valueseg.report.plots import ClvDistributionDisplay

    values = q.score_values(ctx.store, ctx.run_id, "predicted_clv_365d")
    try:
        disp = ClvDistributionDisplay.from_values(values).plot()
    except InputError:
        section.notes.append(
            "No predicted CLV: no spend model was fitted in this run (see the value models' notes)."
        )
        return
    med = disp.quantiles_.get(0.5, np.nan)
    section.charts.append(
        Chart(
            "clv_distribution",
            "Predicted CLV distribution",
            disp,
            f"Predicted 365-day CLV of {count(np.isfinite(values).sum())} customers in "
            f"{len(disp.bins_)} bins; median {money(med, ctx.currency)}.",
        )
    )


def _matrices(ctx: Context, section: Section) -> None:
    """P(alive) and expected purchases on the frequency × recency grid of the chosen model."""
    from valueseg.models.backtest import PURCHASE_MODELS
    from valueseg.models.choice import DAYS_PER_PERIOD
    from valueseg.report.matrices import (
        ExpectedPurchasesMatrixDisplay,
        ProbabilityAliveMatrixDisplay,
    )

    fits = [f for f in q.model_fits(ctx.store, ctx.run_id) if f["chosen"]]
    chosen = next((f for f in fits if f["model"] in PURCHASE_MODELS), None)
    limits = q.feature_limits(ctx.store, ctx.run_id)
    if chosen is None or limits["max_T"] is None or chosen["model"] == "bg_bb":
        why = "BG/BB counts opportunities, not days" if chosen else "no purchase model chosen"
        section.notes.append(f"No P(alive) and expected-purchases matrices: {why}.")
        return
    model = PURCHASE_MODELS[chosen["model"]].from_params(**chosen["params"])
    max_f = int(np.clip(np.ceil(limits["q99_frequency"] or 1), 1, 100))
    max_r = max(1, int(np.ceil(limits["max_T"])))
    freq = str(ctx.params.get("freq", "D"))
    horizon = float(ctx.params.get("horizon", 90)) / DAYS_PER_PERIOD.get(freq, 1.0)
    alive = ProbabilityAliveMatrixDisplay.from_model(model, max_f, max_r, float(max_r)).plot()
    expected = ExpectedPurchasesMatrixDisplay.from_model(
        model, horizon, max_f, max_r, float(max_r)
    ).plot()
    where = f"{chosen['model']}, frequency up to the 99th percentile ({max_f}), age {max_r}"
    section.charts += [
        Chart("p_alive_matrix", "P(alive) matrix", alive, f"P(alive) by {where}."),
        Chart(
            "expected_purchases_matrix",
            "Expected purchases matrix",
            expected,
            f"Expected purchases in the next {horizon:g} periods ({freq}) by {where}.",
        ),
    ]
