"""The report's model sections: the value models' back-test, and churn and spend learners.

The churn and spend curves (ROC, precision-recall, calibration, confusion matrix, gain) are
drawn from the sample of the validation fold's predictions a run keeps (table
``predict_validation``, at most 5,000 customers per task, every model's prediction for the
same customers); a run without one (a task that fell back to the baseline, or a run older
than the table) says so instead of drawing them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from valueseg.errors import InputError
from valueseg.report.charts import BarsDisplay
from valueseg.report.readings import count, money, number, pct
from valueseg.report.section import Chart, Context, Section, Table, empty, first, unrun
from valueseg.store import report as q
from valueseg.store.predict import read_predict_fits, read_validation

__all__ = ["predictions", "validation_matrix", "value_models"]

#: Back-test numbers shown per purchase model, in order.
_BACKTEST = (
    "customers",
    "mae",
    "rmse",
    "correlation",
    "predicted_total",
    "actual_total",
    "aggregate_error_pct",
    "alive_auc",
)
#: Validation metrics shown per task; the first ranks the learners in the chart.
_METRICS = {
    "churn": ("roc_auc", "pr_auc", "brier", "log_loss", "accuracy", "precision", "recall"),
    "spend": ("gini", "spearman", "mae", "rmse", "top_decile_capture"),
    "clv_365d": ("gini", "spearman", "mae", "rmse", "top_decile_capture"),
}
_NAMES = {"roc_auc": "ROC AUC", "gini": "normalized Gini"}
_TASKS = {"churn": "Churn", "spend": "Spend", "clv_365d": "365-day CLV"}
#: The curves drawn from each task's validation sample.
_CURVES = {
    "churn": "ROC, precision-recall and calibration curves and confusion matrix",
    "spend": "gain curves",
}


def _unrun(ctx: Context, key: str, title: str, what: str) -> Section:
    return empty(key, title, ctx.command("run"), what)


# -- value models ---------------------------------------------------------------------------
def value_models(ctx: Context) -> Section:
    """The back-test table, calibration by frequency and tracking of repeat purchases."""
    key, title = "models", "Value models"
    if (gone := unrun(ctx, key, title)) is not None:
        return gone
    fits = q.model_fits(ctx.store, ctx.run_id)
    purchase = [f for f in fits if f["model"] != "gamma_gamma"]
    chosen = first(purchase, chosen=True)
    if chosen is None:
        return _unrun(ctx, key, title, f"Run {ctx.run_id} stored no purchase model")
    bt = chosen["backtest"]
    section = Section(key, title, "", True, notes=ctx.notes("models"))
    if "predicted_total" in bt and "actual_total" in bt:
        predicted, actual = float(bt["predicted_total"]), float(bt["actual_total"])
        off = abs(predicted - actual) / actual if actual else None
        section.reading = (
            f"{chosen['model']} was chosen: on the back-test's holdout it predicted "
            f"{count(predicted)} repeat purchases of {count(bt.get('customers'))} customers "
            f"against {count(actual)} actual ({pct(off)} off; mean absolute error "
            f"{number(bt.get('mae'), 2)} per customer)."
        )
        section.numbers = {"predicted_total": predicted, "actual_total": actual}
    else:
        section.reading = f"{chosen['model']} was fitted on all history without a back-test."
    section.tables.append(_backtest_table(purchase))
    spend = first(fits, model="gamma_gamma")
    if spend is not None:
        params = ", ".join(f"{k} = {number(v)}" for k, v in spend["params"].items())
        section.notes.append(f"Spend per order: Gamma-Gamma ({params}).")
    else:
        section.notes.append("No spend model (Gamma-Gamma): predicted CLV is missing.")
    if bt.get("by_frequency"):
        from valueseg.report.plots import CalibrationDisplay

        cal = CalibrationDisplay.from_backtest(bt).plot()
        section.charts.append(
            Chart(
                "calibration",
                "Calibration by frequency",
                cal,
                "Mean predicted and actual purchases in the holdout, by purchases before it "
                f"({chosen['model']}, fitted on the calibration span).",
            )
        )
    _tracking(ctx, chosen, section)
    return section


def _backtest_table(purchase: list[dict[str, Any]]) -> Table:
    rows = []
    for fit in purchase:
        bt = fit["backtest"]
        row = {
            "model": fit["model"],
            "chosen": "yes" if fit["chosen"] else "",
            "converged": "yes" if fit["converged"] else "no",
            "loglik": fit["loglik"],
            "bic": fit["bic"],
        }
        row.update({k: bt.get(k) for k in _BACKTEST})
        rows.append(row)
    frame = pd.DataFrame(rows)
    formats: dict[str, Callable[[Any], str]] = {"loglik": number, "bic": number}
    formats["customers"] = count
    formats.update({k: number for k in _BACKTEST if k != "customers"})
    return Table.from_frame(frame, "Back-test of the purchase models on the holdout", formats)


def _tracking(ctx: Context, chosen: dict[str, Any], section: Section) -> None:
    """Actual vs expected repeat transactions over time, on a sample of customers."""
    from valueseg.models.backtest import PURCHASE_MODELS, holdout_start
    from valueseg.report.plots import RepeatTransactionsDisplay
    from valueseg.store.orders import purchase_span

    name = chosen["model"]
    span = purchase_span(ctx.store)
    as_of = ctx.run["as_of"] if ctx.run else None
    if name not in PURCHASE_MODELS or name == "bg_bb" or span.first is None or as_of is None:
        return
    model = PURCHASE_MODELS[name].from_params(**chosen["params"])
    customers = q.kpis(ctx.store, ctx.run_id)["customers"]
    orders, sampled = q.sample_orders(ctx.store, as_of, customers)
    freq = str(ctx.params.get("freq", "D"))
    long = (as_of - span.first) > timedelta(days=3 * 365)
    try:
        disp = RepeatTransactionsDisplay.from_transactions(
            model,
            orders,
            calibration_end=holdout_start(span.first, as_of),
            observation_end=as_of - timedelta(seconds=1),
            freq=freq,
            period="M" if long or freq == "M" else "W",
        ).plot()
    except InputError as exc:
        section.notes.append(f"No tracking chart: {exc}")
        return
    whom = "all customers" if sampled >= customers else f"a sample of {count(sampled)} customers"
    section.charts.append(
        Chart(
            "tracking",
            "Tracking of repeat purchases",
            disp,
            f"Repeat purchases of {whom}, actual and expected by {name} fitted on all history "
            "(so in-sample); the dotted line marks the start of the back-test's holdout, and "
            "the last period may be partly observed.",
        )
    )


# -- churn and spend ------------------------------------------------------------------------
def predictions(ctx: Context) -> Section:
    """Leaderboards, the curves of the validation sample, global importance and example
    customers."""
    key, title = "predict", "Churn and spend"
    if (gone := unrun(ctx, key, title)) is not None:
        return gone
    fits = read_predict_fits(ctx.store, ctx.run_id)
    if not fits:
        return _unrun(ctx, key, title, f"Run {ctx.run_id} trained no churn or spend learner")
    section = Section(key, title, "", True, notes=ctx.notes("predict"))
    parts = []
    for task in _TASKS:
        rows = [f for f in fits if f["task"] == task]
        if not rows:
            continue
        section.tables.append(_leaderboard(task, rows))
        if len(rows) > 1:
            section.charts.append(_leaderboard_chart(task, rows))
        said = _task_reading(task, rows, section.numbers)
        if said and task != "clv_365d":
            parts.append(said)
        if task in _CURVES:
            section.charts += _curves(ctx, task, rows, section)
    importance = q.reason_importance(ctx.store, ctx.run_id)
    if len(importance):
        top = str(importance["feature"].iloc[0])
        parts.append(f"the strongest reason given is {top}")
        section.charts.append(_importance_chart(importance))
    section.reading = ("; ".join(parts) or "Learners were trained") + "."
    section.reading = section.reading[0].upper() + section.reading[1:]
    churn = first(fits, task="churn", chosen=True)
    drawn = any(c.key == "churn_confusion" for c in section.charts)
    if churn is not None and not drawn and (table := _confusion(churn)) is not None:
        section.tables.append(table)
    examples = q.example_customers(ctx.store, ctx.run_id)
    if len(examples):
        section.tables.append(_examples(examples, ctx.currency))
    return section


def _curves(ctx: Context, task: str, rows: list[dict[str, Any]], section: Section) -> list[Chart]:
    """The curves of ``task`` drawn from the run's validation sample (a note if none)."""
    sample = read_validation(ctx.store, ctx.run_id, task)
    if sample.empty:
        section.notes.append(
            f"{_TASKS[task]}: run {ctx.run_id} kept no sample of the validation fold's "
            "predictions (the task fell back to the value models' baseline, or the run is "
            f"older than the sample), so its {_CURVES[task]} are not drawn; "
            f"{ctx.command('run')} keeps one."
        )
        return []
    y, scores = validation_matrix(sample)
    chosen = first(rows, chosen=True) or {}
    name = str(chosen.get("model"))
    if name not in scores:  # the chosen learner's predictions missing: draw the first one
        name, chosen = next(iter(scores)), {}
    whom = f"Drawn from a sample of {count(len(y))} validation customers."
    try:
        if task == "spend":
            return [_gain_chart(y, scores, name, whom)]
        threshold = chosen.get("metrics", {}).get("threshold")
        return _churn_charts(ctx, y, scores, name, whom, threshold)
    except InputError as exc:
        section.notes.append(f"{_TASKS[task]}: no curves from the validation sample: {exc}")
        return []


def validation_matrix(sample: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The target and each model's predictions of a validation sample (``read_validation``
    rows), on the rows every model predicted.

    Examples
    --------
    >>> sample = pd.DataFrame({"row": [0, 1, 0, 1], "target": [1.0, 0.0, 1.0, 0.0],
    ...                        "model": ["a", "a", "b", "b"], "prediction": [0.9, 0.2, 0.6, None]})
    >>> validation_matrix(sample)
    (array([1.]), {'a': array([0.9]), 'b': array([0.6])})
    """
    wide = sample.pivot(index="row", columns="model", values="prediction")
    wide = wide.dropna(axis=1, how="all").dropna()
    target = sample.groupby("row")["target"].first().reindex(wide.index)
    return target.to_numpy(np.float64), {str(m): wide[m].to_numpy(np.float64) for m in wide}


def _churn_charts(
    ctx: Context,
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    name: str,
    whom: str,
    stored: float | None,
) -> list[Chart]:
    """ROC and precision-recall curves of every model; calibration and confusion matrix
    (at ``stored``, the F1-best threshold on the whole fold, else on the sample) of ``name``."""
    from valueseg.predict.metrics import best_f1_threshold
    from valueseg.report.predict_plots import (
        ChurnConfusionDisplay,
        PrecisionRecallCurvesDisplay,
        RocCurvesDisplay,
    )

    roc = RocCurvesDisplay.from_predictions(y, scores).plot()
    pr = PrecisionRecallCurvesDisplay.from_predictions(y, scores).plot()
    threshold = float(stored) if stored is not None else best_f1_threshold(y, scores[name])
    confusion = ChurnConfusionDisplay.from_predictions(y, scores[name], threshold).plot()
    where = "on the whole validation fold" if stored is not None else "on the sample"
    return [
        Chart(
            "churn_roc",
            "Churn: ROC curves",
            roc,
            "Share of churners caught against share of stayers wrongly flagged, as each "
            f"model's threshold falls (AUC in the legend); {name} was chosen and the dotted "
            f"diagonal is chance. {whom}",
        ),
        Chart(
            "churn_pr",
            "Churn: precision and recall",
            pr,
            "Precision among the customers flagged against the share of churners caught, per "
            f"model (AP: average precision; a model that guesses has the churn rate, "
            f"{pct(float(np.mean(y)))}, as precision). {whom}",
        ),
        _calibration_chart(ctx, y, scores[name], name, whom),
        Chart(
            "churn_confusion",
            "Churn: confusion matrix",
            confusion,
            f"Customers of the validation sample by what happened (rows) and what {name} "
            f"said (columns) at its F1-best threshold {number(threshold)}, chosen {where} "
            "(so optimistic) on its scores before calibration. "
            f"{whom}",
        ),
    ]


def _calibration_chart(ctx: Context, y: np.ndarray, p: np.ndarray, name: str, whom: str) -> Chart:
    """The chosen learner's validation scores by decile, and after the run's calibrator."""
    from valueseg.report.predict_plots import ChurnCalibrationDisplay
    from valueseg.store.estimators import read_estimator

    disp = ChurnCalibrationDisplay.from_predictions(y, p, name=f"{name}: validation scores")
    disp.plot()
    caption = (
        f"Observed churn rate against {name}'s mean predicted probability, by decile of the "
        "prediction; on the diagonal a probability means what it says."
    )
    try:
        cal = read_estimator(ctx.store, ctx.run_id, "churn_calibration")
    except InputError:
        cal = None
    if cal is not None and getattr(cal, "method", None) == "none":
        caption += (
            " The run stores these scores as they are: neither Platt's nor isotonic "
            "calibration lowered their cross-validated Brier score"
        )
        brier = getattr(cal, "brier", {})
        if "none" in brier:
            caption += f" ({number(brier['none'])})"
        caption += "."
    elif cal is not None and hasattr(cal, "transform"):
        label = f"{name}: calibrated ({cal.method})"
        ChurnCalibrationDisplay.from_predictions(y, cal.transform(p), name=label).plot(ax=disp.ax_)
        brier = getattr(cal, "brier", {})
        caption += (
            f" The run maps the scores through {cal.method} calibration before storing "
            "churn probabilities; that calibrator was fitted on this same fold, so its curve "
            "is in-sample"
        )
        if cal.method in brier and "none" in brier:
            caption += (
                f" (cross-validated Brier score {number(brier[cal.method])} against "
                f"{number(brier['none'])} uncalibrated)"
            )
        caption += "."
    return Chart("churn_calibration", "Churn: calibration", disp, f"{caption} {whom}")


def _gain_chart(y: np.ndarray, scores: dict[str, np.ndarray], name: str, whom: str) -> Chart:
    from valueseg.report.predict_plots import GainCurveDisplay

    disp = GainCurveDisplay.from_predictions(y, scores).plot()
    return Chart(
        "spend_gain",
        "Spend: gain curves",
        disp,
        "Share of the spend in the horizon brought by the customers each model ranks highest "
        f"(normalized Gini in the legend); perfect: ranked by the actual spend; {name} was "
        f"chosen. {whom}",
    )


def _leaderboard(task: str, rows: list[dict[str, Any]]) -> Table:
    metrics = _METRICS[task]
    frame = pd.DataFrame(
        [
            {
                "model": r["model"],
                "chosen": "yes" if r["chosen"] else "",
                **{m: r["metrics"].get(m) for m in metrics},
                "reason": r["reason"],
            }
            for r in rows
        ]
    )
    n = rows[0]["metrics"].get("customers")
    caption = f"{_TASKS[task]}: validation fold" + (f" ({count(n)} customers)" if n else "")
    return Table.from_frame(frame, caption, dict.fromkeys(metrics, number))


def _leaderboard_chart(task: str, rows: list[dict[str, Any]]) -> Chart:
    metric = _METRICS[task][0]
    frame = pd.DataFrame(
        {
            "model": [r["model"] + (" (chosen)" if r["chosen"] else "") for r in rows],
            metric: [r["metrics"].get(metric, np.nan) for r in rows],
        }
    ).sort_values(metric, ascending=False)
    disp = BarsDisplay.from_frame(
        frame, "model", [metric], title=f"{_TASKS[task]}: {metric} by learner", xlabel=metric
    ).plot()
    return Chart(
        f"{task}_leaderboard",
        f"{_TASKS[task]} leaderboard",
        disp,
        f"{metric} of each learner on the validation fold; btyd is the value models' baseline.",
    )


def _task_reading(task: str, rows: list[dict[str, Any]], numbers: dict[str, float]) -> str:
    chosen = first(rows, chosen=True)
    metric = _METRICS[task][0]
    if chosen is None or metric not in chosen["metrics"]:
        return ""
    mine = float(chosen["metrics"][metric])
    numbers[f"{task}_{metric}"] = mine
    said = f"{_TASKS[task].lower()} is predicted by {chosen['model']} ({_NAMES[metric]} "
    said += number(mine)
    if chosen["model"] == "btyd" and len(rows) > 1:
        return said + "; no learner beat the value models)"
    base = first(rows, model="btyd")
    if base is not None and base is not chosen and metric in base["metrics"]:
        said += f" against {number(base['metrics'][metric])} for the value models"
    return said + ")"


def _importance_chart(importance: pd.DataFrame) -> Chart:
    disp = BarsDisplay.from_frame(
        importance,
        "feature",
        ["mean_abs_contribution"],
        title="Churn reasons: mean |contribution| by feature",
        xlabel="mean absolute contribution",
    ).plot()
    return Chart(
        "reason_importance",
        "Global importance",
        disp,
        "Mean absolute contribution of each feature over the reasons stored for customers "
        "(each customer's largest contributions to the churn score).",
    )


def _confusion(fit: dict[str, Any]) -> Table | None:
    """The chosen churn learner's confusion matrix at its threshold, from its metrics."""
    m = fit["metrics"]
    try:
        n, rate = int(m["customers"]), float(m["churn_rate"])
        recall, precision = float(m["recall"]), float(m["precision"])
    except (KeyError, TypeError, ValueError):
        return None
    if not precision > 0:
        return None
    churned = round(n * rate)
    hit = round(recall * churned)
    flagged = round(hit / precision)
    false_alarm, missed = flagged - hit, churned - hit
    rows = [
        ["churned", count(hit), count(missed)],
        ["stayed", count(false_alarm), count(n - churned - false_alarm)],
    ]
    caption = (
        f"Churn: {fit['model']} at threshold {number(m.get('threshold'))} on the validation "
        "fold (from its precision and recall)"
    )
    return Table(
        caption, ["actual", "predicted churn", "predicted stay"], rows, [False, True, True]
    )


def _examples(frame: pd.DataFrame, currency: str | None) -> Table:
    rows = []
    for cid, part in frame.groupby("customer_id", sort=False):
        head = part.iloc[0]
        rows.append(
            [
                str(cid),
                "" if pd.isna(head["segment"]) else str(head["segment"]),
                money(head["predicted_clv_365d"], currency),
                pct(head["churn_probability"]),
                "; ".join(str(t) for t in part.sort_values("rank")["text"]),
            ]
        )
    return Table(
        "Customers with the most value at stake (predicted CLV × churn probability)",
        ["customer", "segment", "predicted CLV", "churn probability", "reasons"],
        rows,
        [False, False, True, True, False],
    )
