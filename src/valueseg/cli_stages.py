"""The CLI of the predict and recommend stages: ``valueseg predict`` and ``valueseg
recommend``, and what ``valueseg run`` prints of them. Thin: the tables come from the
library's readers (:mod:`valueseg.predict.stored`, :mod:`valueseg.store.recommend`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from valueseg.store import DEFAULT_DB

__all__ = ["print_leaderboard", "print_recommend_evaluation", "register"]

#: The leaderboard's columns per task: (metric, heading, format).
_BOARD = {
    "churn": (
        ("roc_auc", "ROC-AUC", ".3f"),
        ("pr_auc", "PR-AUC", ".3f"),
        ("brier", "Brier", ".3f"),
        ("log_loss", "log loss", ".3f"),
        ("f1", "F1", ".3f"),
    ),
    "spend": (
        ("gini", "norm. Gini", ".3f"),
        ("spearman", "Spearman", ".3f"),
        ("decile_mape", "decile MAPE", ".2f"),
        ("top_decile_capture", "top-decile capture", ".2f"),
        ("mae", "MAE", ",.1f"),
        ("rmse", "RMSE", ",.1f"),
    ),
}
_TITLES = {
    "churn": "Churn (no purchase in the horizon), validation fold",
    "spend": "Spend in the horizon, validation fold",
    "clv_365d": "Spend in the next 365 days: learner against the value models' CLV",
}
_NAMES = {
    "btyd": "value models (baseline)",
    "lr": "logistic/ridge",
    "tree": "decision tree",
    "rf": "random forest",
    "lgbm": "LightGBM",
}

#: Headings of the recommenders' evaluation (k is in the title).
_SHORT = {
    "precision": "P@k",
    "recall": "R@k",
    "ndcg": "NDCG@k",
    "map": "MAP@k",
    "hit_rate": "hit@k",
    "gini": "pop. Gini",
}


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, fmt)


def print_leaderboard(console: Console, board: pd.DataFrame, reasons: list[str]) -> None:
    """One table per task, best first, the chosen model marked; then why each was chosen."""
    order = {task: i for i, task in enumerate(_TITLES)}
    tasks = sorted(board["task"].unique(), key=lambda t: order.get(t, len(order)))
    for task in tasks:
        rows = board[board["task"] == task]
        columns = _BOARD["churn" if task == "churn" else "spend"]
        table = Table(title=_TITLES.get(str(task), str(task)), title_justify="left")
        table.add_column("model")
        for _, heading, _fmt in columns:
            table.add_column(heading, justify="right")
        table.add_column("")
        for r in rows.to_dict("records"):
            cells = [_cell(r.get(metric), fmt) for metric, _, fmt in columns]
            name = _NAMES.get(str(r["model"]), str(r["model"]))
            table.add_row(name, *cells, "chosen" if r["chosen"] else "")
        console.print(table)
    for line in reasons:
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


def print_recommend_evaluation(console: Console, evaluation: pd.DataFrame) -> None:
    """The evaluation on the last horizon, every model against global popularity."""
    from valueseg.recommend.stage import evaluation_table

    table = evaluation_table(evaluation)
    k = int(evaluation["k"].iloc[0])
    out = Table(
        title=f"Recommendations, evaluated on the last horizon's purchases (all customers, "
        f"k = {k})",
        title_justify="left",
    )
    out.add_column("model", no_wrap=True)
    for column in table.columns:
        if column != "chosen":
            out.add_column(_SHORT.get(column.split("@")[0], column), justify="right")
    out.add_column("")
    for model, row in table.iterrows():
        cells = [
            f"{int(row[c]):,}" if c == "customers" else _cell(float(row[c]), ".3f")
            for c in table.columns
            if c != "chosen"
        ]
        out.add_row(str(model), *cells, "chosen" if row["chosen"] else "")
    console.print(out)


DbOption = Annotated[Path, typer.Option("--db", help="The DuckDB store file.")]
RunOption = Annotated[
    int | None, typer.Option("--run", help="Run id (default: the latest that succeeded).")
]


def register(app: typer.Typer, console: Console) -> None:
    """Add ``predict`` and ``recommend`` to the CLI."""

    @app.command()
    def predict(db: DbOption = Path(DEFAULT_DB), run_id: RunOption = None) -> None:
        """The churn and spend leaderboard of a run, the baseline beside every learner."""
        from valueseg.predict import stored_leaderboard, stored_reasons
        from valueseg.store import Store
        from valueseg.store.runs import chosen_run

        with Store(db, read_only=True) as store:
            run = chosen_run(store, run_id)
            board = stored_leaderboard(store, run)
            reasons = stored_reasons(store, run)
        if board.empty:
            console.print(f"Run {run} has no predictions (a run before the predict stage).")
            return
        console.print(f"Run {run}:")
        print_leaderboard(console, board, reasons)

    @app.command()
    def report(
        db: DbOption = Path(DEFAULT_DB),
        run_id: RunOption = None,
        out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path(
            "report.html"
        ),
        images: Annotated[
            Path | None, typer.Option("--images", help="Also write every chart as PNG here.")
        ] = None,
        lake: Annotated[
            Path | None,
            typer.Option("--from", help="A lake run's --out folder to report instead of --db."),
        ] = None,
    ) -> None:
        """One self-contained HTML report of a run, readable offline and printable."""
        from valueseg.report import write_report

        with console.status("Writing the report…"):
            if lake is not None:
                from valueseg.cli_lake import report_from

                result = report_from(lake, run_id, out, images)
            else:
                result = write_report(db, run_id=run_id, out=out, images=images)
        empty = [s.title for s in result.sections if not s.filled]
        console.print(
            f"Report of run {result.run_id}: [bold]{result.path}[/bold] "
            f"({result.size_bytes / 1e6:.1f} MB, {len(result.sections)} sections, "
            f"{result.seconds:.1f} s)"
        )
        if empty:
            console.print(f"Not filled yet: {', '.join(empty)}", highlight=False)
        if images is not None:
            console.print(f"Charts as PNG in {images}", highlight=False)

    @app.command()
    def recommend(
        db: DbOption = Path(DEFAULT_DB),
        run_id: RunOption = None,
        customer: Annotated[
            str | None, typer.Option("--customer", help="Show this customer's list.")
        ] = None,
    ) -> None:
        """The recommenders' evaluation of a run, or one customer's list with reasons."""
        from valueseg.recommend.stage import customer_recommendations
        from valueseg.store import Store
        from valueseg.store.recommend import read_evaluation, read_recommendations
        from valueseg.store.runs import chosen_run, run_notes

        with Store(db, read_only=True) as store:
            run = chosen_run(store, run_id)
            evaluation = read_evaluation(store, run)
            notes = run_notes(store, run)
            recs = read_recommendations(store, run, customer)
        said = notes.loc[notes["stage"] == "recommend", "note"].tolist()
        if customer is None:
            if evaluation.empty:
                console.print(f"Run {run} has no recommendations.")
            else:
                print_recommend_evaluation(console, evaluation)
            for note in said:
                console.print(f"Note: {note}", markup=False, highlight=False, soft_wrap=True)
            return
        mine = customer_recommendations(recs, customer)
        table = Table(title=f"Run {run}: recommendations for {customer}", title_justify="left")
        for column in ("rank", "product", "score", "why", "model"):
            table.add_column(column, justify="right" if column in ("rank", "score") else "left")
        for r in mine.to_dict("records"):
            table.add_row(
                str(r["rank"]),
                str(r["product_id"]),
                _cell(r["score"], ".3f"),
                str(r["reason"]),
                str(r["model"]),
            )
        console.print(table)
