"""What a report section is: a heading, a reading, charts, tables, and what fills it.

Each section builder (:mod:`valueseg.report.sections_overview`,
:mod:`~valueseg.report.sections_models`, :mod:`~valueseg.report.sections_clusters`,
:mod:`~valueseg.report.sections_more`) takes the :class:`Context` of one report and returns
a :class:`Section`; :mod:`valueseg.report.html` turns the sections into one HTML file.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from valueseg.report.readings import NONE, missing
from valueseg.store import Store

__all__ = ["Chart", "Context", "Section", "Table", "empty", "first", "unrun"]


@dataclass
class Chart:
    """One chart: a Display (``figure_`` drawn) and what it shows, in words."""

    key: str
    title: str
    display: Any
    caption: str = ""


@dataclass
class Table:
    """A small table of formatted cells (``numeric``: right-aligned columns)."""

    caption: str
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool] = field(default_factory=list)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        caption: str,
        formats: dict[str, Callable[[Any], str]] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> Table:
        """Cells of ``frame`` formatted per column (``str`` by default, ``–`` if missing).

        Examples
        --------
        >>> t = Table.from_frame(pd.DataFrame({"a": [1, None]}), "x", {"a": "{:.1f}".format})
        >>> t.rows, t.numeric
        ([['1.0'], ['–']], [True])
        """
        formats = formats or {}
        headers = headers or {}
        rows = [
            [
                NONE if missing(value) else formats.get(str(col), str)(value)
                for col, value in zip(frame.columns, values, strict=True)
            ]
            for values in frame.itertuples(index=False, name=None)
        ]
        numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
        columns = [headers.get(str(c), str(c).replace("_", " ")) for c in frame.columns]
        return cls(caption, columns, rows, numeric)


@dataclass
class Section:
    """One section of the report.

    ``reading``: one sentence computed from the numbers; ``filled``: whether the stage
    behind it has run; ``fill``: the command that fills it when it has not; ``numbers``:
    what the reading says, as numbers (tests compare them with the store).
    """

    key: str
    title: str
    reading: str
    filled: bool
    fill: str | None = None
    numbers: dict[str, float] = field(default_factory=dict)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Context:
    """What every section builder needs: the store, the run shown and the one before it."""

    store: Store
    run: dict[str, Any] | None
    previous: dict[str, Any] | None
    currency: str | None = None

    @property
    def run_id(self) -> int:
        """The id of the run shown (call only when there is one)."""
        assert self.run is not None
        return int(self.run["run_id"])

    @property
    def params(self) -> dict[str, Any]:
        """The run's parameters (empty without a run)."""
        return dict(self.run["parameters"]) if self.run else {}

    def command(self, *words: str) -> str:
        """A valueseg command line on this store.

        Examples
        --------
        >>> with Store(":memory:") as store:
        ...     Context(store, None, None).command("run")
        'valueseg run --db :memory:'
        """
        return " ".join(["valueseg", *words, "--db", shlex.quote(self.store.path)])

    def notes(self, stage: str) -> list[str]:
        """The run's notes of one stage (``models``, ``predict``, ``segments``, ...)."""
        if self.run is None:
            return []
        from valueseg.store.runs import run_notes

        notes = run_notes(self.store, self.run_id)
        return [str(n) for n in notes.loc[notes["stage"] == stage, "note"]]


def first(rows: Iterable[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    """The first row whose keys hold the values of ``match`` (None: none does).

    Examples
    --------
    >>> first([{"a": 1, "b": 2}, {"a": 3, "b": 4}], a=3)
    {'a': 3, 'b': 4}
    """
    for row in rows:
        if all(row.get(k) == v for k, v in match.items()):
            return row
    return None


def unrun(ctx: Context, key: str, title: str) -> Section | None:
    """The empty section of a report without a succeeded run (None: the run succeeded).

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     unrun(Context(store, None, None), "kpis", "KPIs").reading
    'No run yet: valueseg run --db :memory: fills this section.'
    """
    run = ctx.run
    if run is not None and run["status"] == "succeeded":
        return None
    what = "No run yet"
    if run is not None:
        what = f"Run {run['run_id']} {run['status']} ({run['message'] or 'no message'})"
    return empty(key, title, ctx.command("run"), what)


def empty(
    key: str, title: str, fill: str, what: str, notes: Sequence[str] = (), **numbers: float
) -> Section:
    """A section whose stage has not run: the reading says what is missing and ``fill``
    the command that fills it.

    Examples
    --------
    >>> s = empty("kpis", "KPIs", "valueseg run --db x", "No run yet")
    >>> s.reading, s.filled
    ('No run yet: valueseg run --db x fills this section.', False)
    """
    reading = f"{what}: {fill} fills this section."
    return Section(key, title, reading, False, fill, dict(numbers), notes=list(notes))
