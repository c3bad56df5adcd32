"""The actions commands of the CLI: ``export`` and ``experiment design|analyze``.

Thin over :mod:`valueseg.actions`: each command opens the store, calls one library
function and prints what it returned with Rich. Errors are raised as
:class:`valueseg.errors.ValuesegError` and printed by the caller's handler
(``valueseg.cli.main``) as one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from valueseg.store import DEFAULT_DB

__all__ = ["register"]

_DB = Path(DEFAULT_DB)
DbOption = Annotated[Path, typer.Option("--db", help="The DuckDB store file.")]
RunOption = Annotated[
    int | None, typer.Option("--run", help="Run id (default: the latest run with scores).")
]
SegmentOption = Annotated[
    str | None, typer.Option("--segment", help="An RFM segment, value tier or cluster name.")
]
ActionOption = Annotated[str | None, typer.Option("--action", help="A next-best action name.")]


def register(app: typer.Typer, console: Console, err_console: Console) -> None:
    """Add ``export`` and the ``experiment`` group to ``app``, printing on the consoles."""

    @app.command("export")
    def export(
        out: Annotated[Path, typer.Option("--out", help="The file to write.")],
        db: DbOption = _DB,
        run_id: RunOption = None,
        segment: SegmentOption = None,
        action: ActionOption = None,
        where: Annotated[
            str | None,
            typer.Option(
                "--where",
                help="A filter, e.g. \"value_tier = 'Top 5%' and churn_probability > 0.5\".",
            ),
        ] = None,
        fmt: Annotated[
            str, typer.Option("--format", help="csv, parquet, klaviyo or meta.")
        ] = "csv",
        pseudonymize: Annotated[
            bool,
            typer.Option(
                "--pseudonymize",
                help="Replace customer ids with HMAC-SHA256 (key: VALUESEG_PSEUDONYM_KEY).",
            ),
        ] = False,
        top: Annotated[int, typer.Option("--top", help="Recommendations per customer.")] = 3,
    ) -> None:
        """Write an audience (a segment, an action or a filter) for a campaign tool."""
        from valueseg.actions import export_audience
        from valueseg.cli_remote import find_server
        from valueseg.store import Store

        server = find_server(db)
        if server is not None:  # the store is served: export through the server
            _export_remote(console, server, out, {
                "run": run_id, "segment": segment, "action": action, "where": where,
                "format": fmt, "pseudonymize": str(pseudonymize).lower(), "top": top,
            })  # fmt: skip
            return
        with Store(db, read_only=True) as store:
            report = export_audience(
                store, run_id, segment=segment, action=action, where=where, out=out,
                fmt=fmt, pseudonymize=pseudonymize, top_n=top,
            )  # fmt: skip
        used = ", ".join(f"{k} {v!r}" for k, v in report.filters.items())
        console.print(
            f"Wrote {report.rows:,} customers of run {report.run_id} to {report.path} "
            f"({report.format}{', pseudonymized' if report.pseudonymized else ''}; {used}; "
            f"{report.seconds:.1f} s).",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        _notes(err_console, report.notes)

    experiment = typer.Typer(
        help="Design an A/B test on an audience, then analyse its results.",
        no_args_is_help=True,
    )
    app.add_typer(experiment, name="experiment")
    _register_design(experiment, console, err_console)
    _register_analyze(experiment, console, err_console)


def _export_remote(console: Console, server: Any, out: Path, params: dict[str, Any]) -> None:
    from valueseg.cli_remote import export

    rows, _ = export(server, out, params)
    console.print(
        f"Wrote {rows:,} customers to {out} ({params['format']}, through {server}; ids "
        f"{'pseudonymized with the server key' if params['pseudonymize'] == 'true' else 'raw'}).",
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip


def _notes(err_console: Console, notes: list[str]) -> None:
    for note in notes:
        err_console.print(f"Note: {note}", markup=False, highlight=False, soft_wrap=True)


def _register_design(experiment: typer.Typer, console: Console, err_console: Console) -> None:
    @experiment.command("design")
    def design(
        name: Annotated[str, typer.Option("--name", help="The experiment's name (new).")],
        mde: Annotated[
            float, typer.Option("--mde", help="Smallest effect worth detecting (absolute).")
        ],
        db: DbOption = _DB,
        run_id: RunOption = None,
        segment: SegmentOption = None,
        action: ActionOption = None,
        metric: Annotated[
            str, typer.Option("--metric", help="conversion or revenue.")
        ] = "conversion",
        baseline: Annotated[
            float | None,
            typer.Option("--baseline", help="Control's rate or revenue (default: history)."),
        ] = None,
        alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
        power: Annotated[float, typer.Option("--power", help="Power.")] = 0.8,
        control_share: Annotated[
            float, typer.Option("--control-share", help="Share of the audience in control.")
        ] = 0.5,
        out: Annotated[
            Path | None, typer.Option("--out", help="CSV file for the assignment.")
        ] = None,
    ) -> None:
        """Size a test, check it fits the audience, and assign customers to arms."""
        from valueseg.actions import design_experiment
        from valueseg.store import Store

        with Store(db) as store:
            result = design_experiment(
                store, name=name, segment=segment, action=action, metric=metric,
                baseline=baseline, mde=mde, alpha=alpha, power=power,
                control_share=control_share, out=out, run_id=run_id,
            )  # fmt: skip
        _print_design(console, result)
        if not result.feasible:
            err_console.print(f"Warning: {result.summary()}", markup=False, soft_wrap=True)


def _print_design(console: Console, d: Any) -> None:
    console.print(
        f"Experiment {d.experiment_id}: {d.name} ({d.audience}, run {d.run_id})",
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip
    table = Table()
    table.add_column("")
    table.add_column("control", justify="right")
    table.add_column("treatment", justify="right")
    table.add_row("needed", f"{d.needed_control:,}", f"{d.needed_treatment:,}")
    table.add_row("assigned", f"{d.control:,}", f"{d.treatment:,}")
    console.print(table)
    console.print(d.summary(), markup=False, highlight=False, soft_wrap=True)
    console.print(f"Baseline: {d.baseline_source}.", markup=False, soft_wrap=True)
    if d.path is not None:
        console.print(f"Assignment written to {d.path}.", markup=False, soft_wrap=True)
    console.print(
        f"Analyse it later: valueseg experiment analyze --id {d.experiment_id} RESULTS.csv",
        markup=False,
        soft_wrap=True,
    )


def _register_analyze(experiment: typer.Typer, console: Console, err_console: Console) -> None:
    @experiment.command("analyze")
    def analyze(
        results: Annotated[Path, typer.Argument(help="CSV with customer_id, outcome[, revenue].")],
        experiment_id: Annotated[int, typer.Option("--id", help="The experiment's id.")],
        db: DbOption = _DB,
        by: Annotated[
            str, typer.Option("--by", help="Lens of the per-segment results.")
        ] = "rfm_segment",
    ) -> None:
        """Lift with its interval and p-value, SRM check, CUPED, per segment, a verdict."""
        from valueseg.actions import analyze_experiment
        from valueseg.store import Store

        with Store(db) as store:
            result = analyze_experiment(store, experiment_id, results, by=by)
        _print_analysis(console, result)
        if result.srm:
            err_console.print(f"Warning: {result.verdict}", markup=False, soft_wrap=True)
        _notes(err_console, result.notes)


def _print_analysis(console: Console, a: Any) -> None:
    arms = a.arms()
    console.print(
        f"Experiment {a.experiment_id}: {a.name} ({a.metric})",
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip
    table = Table()
    for col in ("arm", "units", a.metric, "CI"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    for r in arms.to_dict("records"):
        table.add_row(
            r["arm"], f"{r['units']:,}", _num(a.metric, r[a.metric]),
            f"{_num(a.metric, r['ci_low'])} to {_num(a.metric, r['ci_high'])}",
        )  # fmt: skip
    console.print(table)
    console.print(
        f"Sample-ratio check: p = {a.srm_p:.3g} ({'MISMATCH' if a.srm else 'ok'}).",
        markup=False,
    )
    if len(a.segments):
        seg = Table(title="Per segment (not corrected for multiple comparisons)")
        for col in ("segment", "control", "treatment", "diff", "CI", "p"):
            seg.add_column(col, justify="left" if col == "segment" else "right")
        for r in a.segments.to_dict("records"):
            seg.add_row(
                str(r["segment"]), _num(a.metric, r["control"]), _num(a.metric, r["treatment"]),
                _num(a.metric, r["diff"], True),
                f"{_num(a.metric, r['ci_low'], True)} to {_num(a.metric, r['ci_high'], True)}",
                f"{r['p_value']:.3g}",
            )  # fmt: skip
        console.print(seg)
    console.print(a.verdict, markup=False, highlight=False, soft_wrap=True)


def _num(metric: str, value: float, diff: bool = False) -> str:
    if metric == "conversion":
        return f"{100 * value:+.2f} pt" if diff else f"{100 * value:.2f} %"
    return f"{value:+,.2f}" if diff else f"{value:,.2f}"
