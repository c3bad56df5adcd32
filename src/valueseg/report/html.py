"""``valueseg report``: one self-contained HTML file of a run, readable offline and printable
(the analyst's journey of docs/design.md §1).

The charts are the report's matplotlib Displays (:mod:`valueseg.report.plots`,
:mod:`~valueseg.report.matrices`, :mod:`~valueseg.report.charts`) written inline as SVG:
no script, no stylesheet or font from the network, the CSS embedded once. The same figures
are written as PNG files for slides with ``images=DIR`` (``--images DIR``). Every value
from the data goes through Jinja2's autoescaping; the SVG comes from matplotlib, which
escapes the text it draws.

Every chart draws aggregates (or a sample, said in its caption), so the report of a
million customers is about as large as the report of a thousand (docs/report.md).
"""

from __future__ import annotations

import contextlib
import io
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from valueseg.errors import InputError
from valueseg.report import (
    sections_clusters,
    sections_models,
    sections_more,
    sections_overview,
)
from valueseg.report.section import Context, Section
from valueseg.store import Store
from valueseg.store import report as q

__all__ = [
    "SECTIONS",
    "SECTION_KEYS",
    "ReportResult",
    "ReportSection",
    "SectionCharts",
    "report_text",
    "section_charts",
    "write_report",
]

#: The section builders by key, in the order the report shows them.
_BUILDERS: dict[str, Callable[[Context], Section]] = {
    "data": sections_overview.data_quality,
    "kpis": sections_overview.headline,
    "rfm": sections_overview.rfm,
    "value": sections_overview.value,
    "models": sections_models.value_models,
    "predict": sections_models.predictions,
    "clusters": sections_clusters.clusters,
    "migration": sections_more.migration,
    "recommend": sections_more.recommendations,
    "actions": sections_more.actions,
}
#: The section builders, in the order the report shows them.
SECTIONS: tuple[Callable[[Context], Section], ...] = tuple(_BUILDERS.values())
#: The sections' keys, in the same order.
SECTION_KEYS: tuple[str, ...] = tuple(_BUILDERS)
_PNG_DPI = 120


@dataclass(frozen=True)
class ReportSection:
    """One section as written: its reading, whether its stage ran, what fills it."""

    key: str
    title: str
    reading: str
    filled: bool
    fill: str | None = None
    numbers: dict[str, float] = field(default_factory=dict)
    charts: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportResult:
    """What :func:`write_report` wrote."""

    path: Path
    size_bytes: int
    sections: list[ReportSection]
    seconds: float
    run_id: int | None = None
    images: list[Path] = field(default_factory=list)


def write_report(
    db: str | Path | Store,
    *,
    run_id: int | None = None,
    out: str | Path = "report.html",
    images: str | Path | None = None,
) -> ReportResult:
    """Write the HTML report of a run: one file that works offline.

    Parameters
    ----------
    db : path or Store
        The store (opened read-only when a path is given).
    run_id : int, optional (``--run``)
        The run to show; default the newest succeeded run. Without any run, the report
        shows the data loaded and says which command fills each other section.
    out : path, default "report.html" (``--out``)
        The HTML file written (its folder is created).
    images : path, optional (``--images``)
        A folder to write every chart into as PNG too (``<section>-<chart>.png``).

    Returns
    -------
    ReportResult
        ``path``, ``size_bytes``, ``sections`` (key, title, reading, filled …), ``seconds``.

    Raises
    ------
    InputError
        ``run_id`` names no run of the store.

    Examples
    --------
    >>> import tempfile
    >>> from valueseg.store import Store
    >>> with Store(":memory:") as store, tempfile.TemporaryDirectory() as tmp:
    ...     result = write_report(store, out=Path(tmp) / "report.html")
    ...     [s.filled for s in result.sections][:2], result.sections[0].fill
    ([False, False], 'valueseg ingest FILE --db :memory:')
    """
    started = time.perf_counter()
    with _opened(db) as store:
        ctx = _context(store, run_id)
        sections = [build(ctx) for build in SECTIONS]
        html, written = _render(ctx, sections, Path(images) if images is not None else None)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    summary = [
        ReportSection(
            s.key,
            s.title,
            s.reading,
            s.filled,
            s.fill,
            dict(s.numbers),
            tuple(c.key for c in s.charts),
        )
        for s in sections
    ]
    return ReportResult(
        path,
        path.stat().st_size,
        summary,
        time.perf_counter() - started,
        ctx.run_id if ctx.run else None,
        written,
    )


def report_text(db: str | Path | Store, *, run_id: int | None = None) -> str:
    """The HTML text :func:`write_report` writes, without writing it (the web app serves it).

    Examples
    --------
    >>> from valueseg.store import Store
    >>> with Store(":memory:") as store:
    ...     report_text(store).startswith("<!DOCTYPE html>")
    True
    """
    with _opened(db) as store:
        ctx = _context(store, run_id)
        html, _ = _render(ctx, [build(ctx) for build in SECTIONS], None)
    return html


@dataclass(frozen=True)
class SectionCharts:
    """One section of a run's report with its charts drawn as inline SVG markup:
    ``charts`` holds ``(title, svg, caption)`` per chart."""

    key: str
    title: str
    reading: str
    filled: bool
    fill: str | None
    charts: tuple[tuple[str, str, str], ...]


def section_charts(
    db: str | Path | Store, *, run_id: int | None = None, keys: Iterable[str] = SECTION_KEYS
) -> list[SectionCharts]:
    """The sections ``keys`` of a run's report, their charts as SVG (the web app's pages
    show them); the same builders and drawing as :func:`write_report`.

    Examples
    --------
    >>> from valueseg.store import Store
    >>> with Store(":memory:") as store:
    ...     [(s.key, s.filled, s.charts) for s in section_charts(store, keys=["rfm"])]
    [('rfm', False, ())]
    """
    wanted = list(keys)
    unknown = [k for k in wanted if k not in _BUILDERS]
    if unknown:
        raise InputError(
            f"Unknown report section {unknown[0]!r}. Expected some of: {', '.join(_BUILDERS)}."
        )
    out = []
    with _opened(db) as store:
        ctx = _context(store, run_id)
        for key in wanted:
            section = _BUILDERS[key](ctx)
            drawn = []
            for chart in section.charts:
                svg = _svg(chart.display.figure_, f"{section.key}-{chart.key}")
                drawn.append((chart.title, svg, chart.caption))
                chart.display = None
            out.append(
                SectionCharts(
                    section.key,
                    section.title,
                    section.reading,
                    section.filled,
                    section.fill,
                    tuple(drawn),
                )
            )
    return out


@contextlib.contextmanager
def _opened(db: str | Path | Store) -> Iterator[Store]:
    if isinstance(db, Store):
        yield db
        return
    with Store(db, read_only=True) as store:
        yield store


def _context(store: Store, run_id: int | None) -> Context:
    run = q.report_run(store, run_id)
    if run_id is not None and run is None:
        runs = ", ".join(f"{r} ({s})" for r, s in q.run_ids(store)) or "none"
        raise InputError(
            f"Run {run_id} not found in {store.path}. Runs: {runs}. Pass --run with one of "
            "them, or leave it out for the latest succeeded run."
        )
    previous = q.previous_run(store, int(run["run_id"])) if run else None
    return Context(store, run, previous, q.currency(store))


# -- rendering --------------------------------------------------------------------------------
def _render(ctx: Context, sections: list[Section], images: Path | None) -> tuple[str, list[Path]]:
    """The HTML text, and the PNG files written to ``images``."""
    from valueseg import __version__

    written: list[Path] = []
    if images is not None:
        images.mkdir(parents=True, exist_ok=True)
    charts: dict[tuple[str, str], str] = {}
    for section in sections:
        for chart in section.charts:
            figure = chart.display.figure_
            charts[section.key, chart.key] = _svg(figure, f"{section.key}-{chart.key}")
            if images is not None:
                png = images / f"{section.key}-{chart.key}.png"
                figure.savefig(png, format="png", dpi=_PNG_DPI)
                written.append(png)
            chart.display = None  # let the figure go: a report holds SVG text only
    run = ctx.run
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(
            store=ctx.store.path,
            run=run,
            previous=ctx.previous,
            sections=sections,
            charts=charts,
            version=__version__,
            generated=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        )
    )
    return html, written


def _svg(figure: Any, prefix: str) -> str:
    """The figure as inline SVG: text kept as text, ids made unique within the page."""
    import matplotlib
    from markupsafe import Markup

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "valueseg"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # once for the page (the CSS has it), not once per chart; no metadata block
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'<style type="text/css">.*?</style>\s*', "", text, flags=re.S)
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    return Markup(text)  # matplotlib escaped the text it drew


_ENV: list[Any] = []


def _environment() -> Any:
    """The Jinja2 environment of the packaged templates (autoescaping on)."""
    if not _ENV:
        import jinja2

        env = jinja2.Environment(
            loader=jinja2.PackageLoader("valueseg.report", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _ENV.append(env)
    return _ENV[0]
