"""The valueseg command line: a thin layer over the library's public functions."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from valueseg.errors import InputError, ValuesegError
from valueseg.store import DEFAULT_DB

app = typer.Typer(
    name="valueseg",
    help="Customer value segmentation for e-commerce shops.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (CI logs, files) gets room for the tables instead of Rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True)
_STATE = {"debug": False}
_PROGRESS_MIN_BYTES = 4 << 20

DbOption = Annotated[Path, typer.Option("--db", help="The DuckDB store file.")]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """valueseg: what each customer is worth, who is leaving, and what to do about it."""
    _STATE["debug"] = debug


def _parse_map(items: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in items:
        target, sep, source = item.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise InputError(
                f"Cannot read --map {item!r}. Expected TARGET=SOURCE, e.g. --map amount=Revenue."
            )
        mapping[target.strip()] = source.strip()
    return mapping


def _progress_for(path: str) -> Progress | None:
    file = Path(path)
    if not console.is_terminal or not file.is_file():
        return None
    if file.stat().st_size < _PROGRESS_MIN_BYTES:
        return None
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files (CSV, Parquet, JSONL) or DB URLs.")],
    kind: Annotated[
        str, typer.Option("--kind", help="transactions, events or customers.")
    ] = "transactions",
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="Map a column: TARGET=SOURCE (repeatable)."),
    ] = None,
    db: DbOption = Path(DEFAULT_DB),
    statuses: Annotated[
        Path | None,
        typer.Option(
            "--statuses", help="TOML file of what order statuses mean (like io/statuses.toml)."
        ),
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="Classify a status: VALUE=MEANING, MEANING one of purchase, not_purchase, "
            "refunded, partially_refunded (repeatable).",
        ),
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option("--currency", help="The currency to load (others are quarantined)."),
    ] = None,
    join: Annotated[
        list[str] | None,
        typer.Option("--join", help="A file joined on the columns it shares (repeatable)."),
    ] = None,
) -> None:
    """Load shop data into the store; unusable rows are quarantined with a reason."""
    from valueseg.io import ingest as ingest_source
    from valueseg.io.status import load_statuses

    parsed = _parse_map(mapping or [])
    options: dict[str, Any] = {"mapping": parsed, "currency": currency, "join": join or ()}
    if statuses is not None or status:
        options["statuses"] = load_statuses(statuses, _parse_status(status or []))
    server = _server(db)
    if server is not None:  # the store is served: load through the server
        from valueseg import cli_remote

        options["statuses"] = options.get("statuses")
        _print_ingest(cli_remote.ingest(server, paths, kind=kind, **options))
        return
    reports = []
    for path in paths:
        bar = _progress_for(path)
        if bar is None:
            reports.append(ingest_source(path, kind=kind, db=db, **options))
            continue
        with bar:
            task = bar.add_task(f"{Path(path).name}: reading", total=100)

            def update(
                stage: str, pct: float, _bar: Progress = bar, _task: Any = task, _name: str = path
            ) -> None:
                _bar.update(_task, description=f"{Path(_name).name}: {stage}", completed=pct)

            reports.append(ingest_source(path, kind=kind, db=db, progress=update, **options))
    _print_ingest(reports)


def _parse_status(items: list[str]) -> dict[str, str]:
    table: dict[str, str] = {}
    for item in items:
        value, sep, meaning = item.rpartition("=")
        if not sep or not value.strip() or not meaning.strip():
            raise InputError(
                f"Cannot read --status {item!r}. Expected VALUE=MEANING, e.g. "
                '--status "awaiting shipment=purchase".'
            )
        table[value.strip()] = meaning.strip()
    return table


def _print_ingest(reports: list[Any]) -> None:
    table = Table(title="Ingest summary")
    for col in ("source", "kind", "rows read", "accepted", "rejected", "date range"):
        table.add_column(
            col, justify="right" if col in ("rows read", "accepted", "rejected") else "left"
        )
    for r in reports:
        span = ""
        if r.first_timestamp is not None:
            span = f"{r.first_timestamp:%Y-%m-%d} → {r.last_timestamp:%Y-%m-%d}"
        if r.already_loaded is not None:
            span = f"already loaded (load {r.already_loaded}); nothing changed"
        table.add_row(
            r.source, r.kind, f"{r.rows_read:,}", f"{r.accepted:,}", f"{r.rejected:,}", span
        )
    console.print(table)
    for r in reports:
        for note in r.notes:
            console.print(f"[dim]{r.source}: {note}[/dim]")
        if r.kind == "transactions" and r.accepted:
            console.print(
                f"{r.source}: {r.customers:,} customers, {r.orders:,} orders, "
                f"revenue {r.money(r.revenue)}, {r.returns:,} return lines, {r.seconds:.1f} s"
            )
            for line in r.status_lines()[1:]:
                console.print(f"  {line}", highlight=False, markup=False)
        if r.already_loaded is None and r.normalised_lines():
            normalised = "; ".join(r.normalised_lines())
            console.print(f"  normalised: {normalised}", highlight=False, markup=False)
        if r.rejected_by_reason:
            reasons = Table(title=f"Rejected rows of {r.source} (see table rejected_rows)")
            reasons.add_column("reason")
            reasons.add_column("rows", justify="right")
            for reason, n in r.rejected_by_reason.items():
                reasons.add_row(reason, f"{n:,}")
            console.print(reasons)


@app.command()
def info(db: DbOption = Path(DEFAULT_DB)) -> None:
    """Show what the store holds."""
    from valueseg.store import Store

    server = _server(db)
    if server is not None:
        from valueseg import cli_remote

        _print_info(cli_remote.summary(server))
        return
    with Store(db, read_only=True) as store:
        summary = store.summary()
    _print_info(summary)


def _print_info(s: dict[str, Any]) -> None:
    console.print(f"[bold]{s['path']}[/bold] (schema version {s['schema_version']})")
    tables = Table(title="Tables")
    tables.add_column("table")
    tables.add_column("rows", justify="right")
    for name, n in s["tables"].items():
        tables.add_row(name, f"{n:,}")
    console.print(tables)
    if s["first_order"] is not None:
        cur = f" {s['currency']}" if s.get("currency") else ""
        console.print(
            f"Orders {s['first_order']:%Y-%m-%d} → {s['last_order']:%Y-%m-%d}: "
            f"{s['customers']:,} customers, {s['orders']:,} orders, revenue "
            f"{s['revenue']:,.2f}{cur}, returns {s['returns_amount']:,.2f}{cur} "
            f"({s['return_lines']:,} lines)"
        )
    if s["loads"]:
        total, shown = s["loads_total"], len(s["loads"])
        title = "Loads" if total <= shown else f"Loads (the newest {shown} of {total:,})"
        loads = Table(title=title)
        for col in ("load", "source", "kind", "rows read", "accepted", "rejected", "loaded at"):
            loads.add_column(col)
        for row in s["loads"]:
            loads.add_row(
                str(row[0]),
                row[1],
                row[2],
                f"{row[3]:,}",
                f"{row[4]:,}",
                f"{row[5]:,}",
                f"{row[6]:%Y-%m-%d %H:%M}",
            )
        console.print(loads)
    if len(s["runs"]):
        _print_runs(s["runs"])


def _print_runs(runs: Any) -> None:
    """One line per run: when, its status, how long, and the message of a failed one."""
    import pandas as pd

    table = Table(title="Runs")
    for col in ("run", "as of", "status", "started", "seconds", "message"):
        table.add_column(col, justify="right" if col in ("run", "seconds") else "left")
    for r in runs.itertuples(index=False):
        table.add_row(
            str(r.run_id),
            "–" if pd.isna(r.as_of) else f"{r.as_of:%Y-%m-%d}",
            r.status,
            f"{r.started_at:%Y-%m-%d %H:%M}",
            "–" if pd.isna(r.seconds) else f"{r.seconds:.1f}",
            "" if pd.isna(r.message) else str(r.message),
            style="red" if r.status == "failed" else None,
        )
    console.print(table)


@app.command("run")
def run_command(
    db: DbOption = Path(DEFAULT_DB),
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Observation end (default: day after last order).")
    ] = None,
    engine: Annotated[str, typer.Option(help="duckdb or spark.")] = "duckdb",
    freq: Annotated[str, typer.Option(help="Period of the RFM summary: D, W, h or M.")] = "D",
    spark_master: Annotated[
        str, typer.Option("--spark-master", help="spark.master for --engine spark.")
    ] = "local[2]",
    transactions: Annotated[
        str | None,
        typer.Option(
            "--transactions",
            help="With --engine spark: order lines (Parquet or CSV, any URI Spark reads).",
        ),
    ] = None,
    events: Annotated[
        str | None, typer.Option("--events", help="With --transactions: browsing events.")
    ] = None,
    customers: Annotated[
        str | None, typer.Option("--customers", help="With --transactions: customer attributes.")
    ] = None,
    out: Annotated[
        str | None,
        typer.Option("--out", help="With --transactions: the folder (URI) the run is written to."),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="With --transactions: TARGET=SOURCE (events:TARGET=SOURCE)."),
    ] = None,
    segments_config: Annotated[
        Path | None,
        typer.Option("--segments-config", help="TOML file with an R×F grid to use instead."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the clustering.")] = 0,
    clusters: Annotated[
        str,
        typer.Option(
            "--clusters", help="Behavioural clusters to look for: LOW-HIGH (or one number)."
        ),
    ] = "3-8",
    horizon: Annotated[
        int, typer.Option("--horizon", help="Days ahead of churn and spend predictions.")
    ] = 90,
    learners: Annotated[
        str,
        typer.Option(
            "--learners",
            help="Churn and spend learners: lr,tree,rf,lgbm (all by default); +sequence adds "
            "one; none skips them (lake run only).",
        ),
    ] = "lr,tree,rf,lgbm",
    recommender: Annotated[
        str,
        typer.Option(
            "--recommender",
            help="auto (tune all, keep the best), als, bpr, item_item, segment_popularity "
            "or popularity.",
        ),
    ] = "auto",
    playbooks: Annotated[
        Path | None,
        typer.Option("--playbooks", help="TOML file of actions and rules extending the playbook."),
    ] = None,
    cluster_features: Annotated[
        str,
        typer.Option(
            "--cluster-features",
            help="default, or +embedding: clusters also read the sequence learner's embedding.",
        ),
    ] = "default",
) -> None:
    """One run: features, value models, churn and spend learners, segments and
    recommendations, back-tested and written to the store; with --engine spark
    --transactions URI --out URI, the whole run on Spark from the lake to the lake."""
    from valueseg.cli_lake import wants_lake

    if wants_lake(transactions, out, events, customers) or mapping:
        _run_lake(
            engine, transactions, out, events, customers, mapping or [],
            as_of=as_of, freq=freq, spark_master=spark_master,
            segments_config=segments_config, random_state=seed, clusters=clusters,
            horizon_days=horizon, learners=learners,
        )  # fmt: skip
        return
    from valueseg.pipeline import run

    server = _server(db)
    if server is not None:  # the store is served: the server runs it, one write at a time
        from valueseg import cli_remote

        parameters = {"as_of": as_of, "engine": engine, "freq": freq,
                      "spark_master": spark_master, "seed": seed, "clusters": clusters,
                      "horizon": horizon, "learners": learners, "recommender": recommender,
                      "segments_config": None if segments_config is None else str(segments_config),
                      "playbooks": None if playbooks is None else str(playbooks),
                      "cluster_features": cluster_features}  # fmt: skip
        with console.status(f"Running through {server}…") as status:
            detail = cli_remote.run(server, parameters, lambda msg: status.update(msg))
        _print_remote_run(detail, server)
        return
    with console.status("Running…") as status:
        result = run(
            db,
            as_of=as_of,
            engine=engine,
            freq=freq,
            spark_master=spark_master,
            segments_config=segments_config,
            random_state=seed,
            clusters=clusters,
            horizon_days=horizon,
            learners=learners,
            recommender=recommender,
            playbooks=playbooks,
            cluster_features=cluster_features,
            progress=lambda msg: status.update(msg),
        )
    _print_run(result, db)


def _run_lake(
    engine: str,
    transactions: str | None,
    out: str | None,
    events: str | None,
    customers: str | None,
    mapping: list[str],
    **options: Any,
) -> None:
    from valueseg.cli_lake import check_lake_flags, print_lake_run
    from valueseg.lake import run_lake

    check_lake_flags(engine, transactions, out)
    assert transactions is not None and out is not None
    with console.status("Running on Spark…") as status:
        result = run_lake(
            transactions,
            out=out,
            events=events,
            customers=customers,
            mapping=_parse_map(mapping),
            progress=lambda msg: status.update(msg),
            **options,
        )
    print_lake_run(console, result)


@app.command()
def segments(
    db: DbOption = Path(DEFAULT_DB),
    run_id: Annotated[int | None, typer.Option("--run", help="Run id (default: latest).")] = None,
    lens: Annotated[
        str | None, typer.Option(help="rfm, value_tier or cluster (default: all three).")
    ] = None,
) -> None:
    """The segments of a run: size, share of revenue and, for clusters, their rules."""
    from valueseg.segment.stored import stored_segments
    from valueseg.store import Store

    server = _server(db)
    if server is not None:
        from valueseg import cli_remote

        frame = cli_remote.segments(server, run_id, lens)
    else:
        with Store(db, read_only=True) as store:
            frame = stored_segments(store, run_id, lens)
    import json

    run = int(frame["run_id"].iloc[0]) if len(frame) else run_id
    for name, rows in frame.groupby("lens", sort=False):
        records = rows.to_dict("records")
        profiles = [json.loads(r["profile"] or "{}") for r in records] if name == "cluster" else []
        fits = [p.get("rule_fit") or {} for p in profiles]
        title = f"Run {run}: {name} segments"
        placed = [(f.get("placed") or 0) * (f.get("placed_precision") or 0) for f in fits]
        if fits and all("placed_precision" in f for f in fits):
            right = sum(placed) / max(sum(int(r["size"]) for r in records), 1)
            title += f" (rules place {100 * right:.0f} % of customers right)"
        table = Table(title=title, title_justify="left")
        for col in ("segment", "customers", "share of revenue"):
            table.add_column(col, justify="left" if col == "segment" else "right")
        if name == "cluster":
            table.add_column("rules right", justify="right")
            table.add_column("rules cover", justify="right")
        for i, r in enumerate(records):
            share = float(r["revenue_share"] or 0.0)
            cells = [str(r["segment"]), f"{int(r['size']):,}", f"{100 * share:.1f} %"]
            if name == "cluster":
                cells += [
                    "–" if fits[i].get(k) is None else f"{100 * fits[i][k]:.0f} %"
                    for k in ("precision", "recall")
                ]
            table.add_row(*cells)
        console.print(table)
        if name != "cluster":
            continue
        reasons = {p.get("k_reason") for p in profiles} - {None}
        for reason in sorted(reasons):
            console.print(f"Why {len(records)} clusters: {reason}", markup=False, soft_wrap=True)
        console.print(
            "Rules (right: share of those they describe who are in the cluster; "
            "cover: share of the cluster they describe):",
            soft_wrap=True,
        )
        for r in records:  # one line per rule: a second one starts "or"
            console.print(f"  {r['segment']}", markup=False, soft_wrap=True)
            for line in str(r["rules"] or "–").splitlines():
                console.print(f"    {line}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def migration(
    from_run: Annotated[int, typer.Option("--from", help="The earlier run.")],
    to_run: Annotated[int, typer.Option("--to", help="The later run.")],
    db: DbOption = Path(DEFAULT_DB),
    lens: Annotated[str, typer.Option(help="rfm, value_tier or cluster.")] = "rfm",
) -> None:
    """How many customers moved from each segment to each other between two runs."""
    from valueseg.segment.stored import run_migration
    from valueseg.store import Store

    with Store(db, read_only=True) as store:
        matrix = run_migration(store, from_run, to_run, lens)
    table = Table(
        title=f"{lens} segments: run {from_run} (rows) → run {to_run} (columns)",
        title_justify="left",
    )
    table.add_column("", no_wrap=True)
    for col in matrix.columns:
        table.add_column(str(col), justify="right", overflow="fold")
    for label, row in matrix.iterrows():
        table.add_row(str(label), *[f"{v:,}" if v else "·" for v in row])
    console.print(table)


def _server(db: Path) -> Any:
    """The server holding store ``db`` (the command goes through it), or None."""
    from valueseg.cli_remote import find_server

    return find_server(db)


def _print_remote_run(detail: dict[str, Any], server: Any) -> None:
    chosen = [m["model"] for m in detail["value_models"] if m.get("chosen")]
    learners = [f"{r['task']} {r['model']}" for r in detail["learners"] if r.get("chosen")]
    console.print(
        f"Run {detail['run_id']} (as of {str(detail['as_of'])[:10]}) {detail['status']} "
        f"through {server} in {detail['seconds'] or 0:.1f} s: value model "
        f"{', '.join(chosen) or 'none'}; learners {', '.join(learners) or 'none'}.",
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip
    for note in detail["notes"]:
        console.print(f"Note ({note['stage']}): {note['note']}", markup=False, soft_wrap=True)
    console.print(f"Segments: valueseg segments --run {detail['run_id']}", highlight=False)


def _print_run(result: Any, db: Any = None) -> None:
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    console.print(
        f"Run {result.run_id} (as of {result.as_of:%Y-%m-%d}, {result.engine}): "
        f"{result.customers:,} customers, {len(result.feature_columns)} features "
        f"written to customer_features ({timing})."
    )
    if result.values is not None:
        _print_models(result.values)
    if result.predict is not None:
        _print_predict(result)
    if result.segments is not None:
        _print_segments(result.run_id, result.segments, db)
    if result.recommend is not None:
        _print_recommend(result)


def _print_predict(result: Any) -> None:
    from valueseg.cli_stages import print_leaderboard

    predicted = result.predict
    board = predicted.leaderboard
    if len(board):
        print_leaderboard(console, board[board["task"] == "churn"], [])
    for note in predicted.notes:
        console.print(f"[yellow]Note:[/yellow] {note}", highlight=False)
    console.print(
        f"Spend and 365-day leaderboards: valueseg predict --run {result.run_id}", highlight=False
    )


def _print_recommend(result: Any) -> None:
    from valueseg.cli_stages import print_recommend_evaluation

    recommended = result.recommend
    if len(recommended.evaluation):
        print_recommend_evaluation(console, recommended.evaluation)
    for note in recommended.notes:
        console.print(f"[yellow]Note:[/yellow] {note}", highlight=False)


def _print_segments(run_id: int, segments: Any, db: Any = None) -> None:
    """The run's behavioural clusters, and how to see the rest."""
    rows = segments.segments
    clusters = rows[rows["lens"] == "cluster"]
    if len(clusters):
        fidelity = segments.fidelity
        title = "Behavioural clusters" + (
            f" (rules place {100 * fidelity:.0f} % of customers right)" if fidelity else ""
        )
        table = Table(title=title, title_justify="left")
        for col in ("cluster", "customers", "share of revenue"):
            table.add_column(col, justify="left" if col == "cluster" else "right")
        for r in clusters.to_dict("records"):
            share = float(r["revenue_share"] or 0.0)
            table.add_row(str(r["segment"]), f"{int(r['size']):,}", f"{100 * share:.1f} %")
        console.print(table)
    for note in segments.notes:
        console.print(f"[yellow]Note:[/yellow] {note}")
    console.print(f"RFM segments, value tiers and cluster rules: valueseg segments --run {run_id}")


def _print_models(values: Any) -> None:
    """The back-test table: how well each purchase model predicted the holdout."""
    table = Table(title="Value models, back-tested on the holdout span", title_justify="left")
    for col in ("model", "holdout RMSE", "MAE", "corr.", "total error", "CLV rank corr.", ""):
        table.add_column(col, justify="left" if col in ("model", "") else "right")

    def num(value: Any, fmt: str) -> str:
        return "–" if value is None else format(value, fmt)

    chosen = values.chosen.name if values.chosen else None
    for r in values.results:
        b = r.backtest
        if not b:
            table.add_row(r.name, "–", "–", "–", "–", "–", f"failed: {r.error or 'not run'}")
            continue
        err = b.get("aggregate_error_pct")
        table.add_row(
            r.name,
            num(b.get("rmse"), ".3f"),
            num(b.get("mae"), ".3f"),
            num(b.get("correlation"), ".2f"),
            "–" if err is None else f"{err:+.1f} %",
            num(b.get("value_spearman"), ".2f"),
            (
                ("chosen" if r.name == chosen else "") + (" (did not converge)" if r.caveat else "")
            ).strip(),
        )
    if values.results and any(r.backtest for r in values.results):
        console.print(table)
    for note in values.notes:
        console.print(f"[yellow]Note:[/yellow] {note}")


@app.command()
def synth(
    customers: Annotated[int, typer.Option("--customers", help="How many customers.")] = 20_000,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the tables to.")] = Path(
        "synth-shop"
    ),
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    start: Annotated[str, typer.Option(help="First day of the shop's history.")] = "2023-01-01",
    end: Annotated[str, typer.Option(help="Last day of the shop's history.")] = "2024-12-31",
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
) -> None:
    """Generate a synthetic shop with known ground truth and write its tables."""
    from valueseg.synth import make_shop

    if fmt not in ("parquet", "csv"):
        raise InputError(f"Unknown --format {fmt!r}. Expected parquet or csv.")
    started = time.perf_counter()
    with console.status(f"Generating {customers:,} customers…"):
        shop = make_shop(customers, start=start, end=end, random_state=seed)
        files = shop.write(out, format=fmt)
    table = Table(title=f"Synthetic shop in {out} ({time.perf_counter() - started:.1f} s)")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("file")
    for name, path in files.items():
        table.add_row(name, f"{len(getattr(shop, name)):,}", str(path))
    console.print(table)


@app.command()
def demo(
    customers: Annotated[
        int,
        typer.Option("--customers", help="Customers in the generated shop (--data synth only)."),
    ] = 20_000,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the sample data and store.")
    ] = Path("valueseg-demo"),
    seed: Annotated[
        int, typer.Option(help="Random seed of the generated shop (--data synth only).")
    ] = 7,
    data: Annotated[
        str,
        typer.Option(
            "--data",
            help="synth: a generated shop; cdnow: CDNOW's real order log (23,570 customers).",
        ),
    ] = "synth",
) -> None:
    """Run valueseg end to end on a sample shop: generated, or CDNOW's real one."""
    from valueseg.demo import DEMO_DATA, run_demo

    if data not in DEMO_DATA:
        raise InputError(f"Unknown --data {data!r}. Expected {' or '.join(DEMO_DATA)}.")
    shop = "CDNOW" if data == "cdnow" else "a generated shop"
    with console.status(f"Running the demo on {shop}…"):
        result = run_demo(customers=customers, out=out, random_state=seed, data=data)
    _print_ingest(result.reports)
    _print_run(result.run, result.db)
    _print_info(result.summary)
    _print_demo_outputs(result)
    console.print(
        f"\nStore written to [bold]{result.db}[/bold]. Next: valueseg info --db {result.db}"
    )


def _print_demo_outputs(result: Any) -> None:
    """Where the demo put its audiences, its experiment and its report."""
    for audience in result.audiences:
        console.print(f"Audience: {audience.path} ({audience.rows:,} customers)", highlight=False)
    design = result.experiment
    if design is not None:
        verdict = "feasible" if design.feasible else "too small for the effect asked"
        console.print(
            f"Experiment {design.experiment_id} '{design.name}': {design.audience_size:,} "
            f"customers, {design.needed_control + design.needed_treatment:,} needed ({verdict})",
            highlight=False,
        )
    if result.report is not None:
        console.print(f"Report: [bold]{result.report.path}[/bold]")


def _register_stages() -> None:
    from valueseg.cli_actions import register as register_actions
    from valueseg.cli_stages import register
    from valueseg.cli_web import register as register_web

    register(app, console)
    register_actions(app, console, err_console)
    register_web(app, console)


_register_stages()


def main() -> None:
    """Entry point of the ``valueseg`` console script: errors as one line, exit code 1."""
    try:
        app()
    except ValuesegError as exc:
        if _STATE["debug"]:
            raise
        _print_error(str(exc))
    except Exception as exc:  # an unexpected failure: still one line unless --debug
        if _STATE["debug"]:
            raise
        _print_error(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)")


def _print_error(message: str) -> None:
    err_console.print(f"Error: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(1)
