"""The named R×F grid as data: a TOML table shipped in the package, overridable by a file.

The default grid (``rfm_grid.toml`` next to this module) is the one used across the
industry (docs/design.md §6):

===================  =======  =======
segment              R        F
===================  =======  =======
Champions            5        4–5
Loyal Customers      3–4      4–5
Potential Loyalists  4–5      2–3
New Customers        5        1
Promising            4        1
Need Attention       3        3
About to Sleep       3        1–2
At Risk              1–2      3–4
Can't Lose Them      1–2      5
Hibernating          1–2      1–2
===================  =======  =======

A grid file lists ``[[segment]]`` tables with a ``name``, the ``r`` and ``f`` scores the
segment takes (lists of ints in 1..5; it owns every pair of them) and an optional
``description``. :func:`load_rfm_grid` refuses a grid that leaves a cell without a segment
or gives a cell two, naming the cells.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from valueseg.errors import InputError, SourceNotFoundError

__all__ = ["GridSegment", "RfmGrid", "load_rfm_grid", "plot_rfm_grid"]

SCORES = (1, 2, 3, 4, 5)
_DEFAULT = "rfm_grid.toml"


@dataclass(frozen=True)
class GridSegment:
    """One named segment of the grid: the R and F scores it owns."""

    name: str
    r: tuple[int, ...]
    f: tuple[int, ...]
    description: str = ""


@dataclass(frozen=True)
class RfmGrid:
    """A validated R×F grid: every (R, F) cell belongs to exactly one segment.

    Attributes
    ----------
    segments : tuple of GridSegment
        In display order (the order of the file).
    source : str
        Where the grid was read from (``"valueseg default"`` or a path).

    Examples
    --------
    >>> grid = load_rfm_grid()
    >>> grid.lookup(5, 5), grid.lookup(1, 1)
    ('Champions', 'Hibernating')
    >>> grid.names[:3]
    ('Champions', 'Loyal Customers', 'Potential Loyalists')
    """

    segments: tuple[GridSegment, ...]
    source: str

    @property
    def names(self) -> tuple[str, ...]:
        """Segment names in display order."""
        return tuple(s.name for s in self.segments)

    def table(self) -> np.ndarray:
        """A 5×5 array of names: ``table()[r - 1, f - 1]`` is the segment of cell (r, f)."""
        out = np.empty((5, 5), dtype=object)
        for seg in self.segments:
            for r in seg.r:
                for f in seg.f:
                    out[r - 1, f - 1] = seg.name
        return out

    def lookup(self, r: Any, f: Any) -> Any:
        """Segment name(s) of R and F scores (scalars or arrays of ints in 1..5)."""
        if np.ndim(r) == 0 and np.ndim(f) == 0:
            return self.table()[int(r) - 1, int(f) - 1]
        return self.table()[np.asarray(r, dtype=int) - 1, np.asarray(f, dtype=int) - 1]

    def cells(self) -> pd.DataFrame:
        """One row per cell: ``r, f, segment`` (25 rows, R descending then F ascending)."""
        rows = [(r, f, self.lookup(r, f)) for r in reversed(SCORES) for f in SCORES]
        return pd.DataFrame(rows, columns=["r", "f", "segment"])


def load_rfm_grid(path: str | Path | None = None) -> RfmGrid:
    """Read and validate an R×F grid; the packaged default when ``path`` is None.

    Parameters
    ----------
    path : str or Path, optional
        A TOML file laid out like the packaged ``rfm_grid.toml`` (``--segments-config``).

    Returns
    -------
    RfmGrid

    Raises
    ------
    SourceNotFoundError
        If ``path`` does not exist.
    InputError
        If the file is not TOML, a segment is malformed, two segments share a name, or the
        segments do not cover each of the 25 cells exactly once (the message names the
        cells).

    Examples
    --------
    >>> load_rfm_grid().lookup(4, 1)
    'Promising'
    """
    if path is None:
        text = resources.files("valueseg.segment").joinpath(_DEFAULT).read_text("utf-8")
        source = "valueseg default"
    else:
        file = Path(path)
        if not file.is_file():
            raise SourceNotFoundError(
                f"Segments config {file} not found. Pass the path of a TOML file laid out "
                f"like valueseg/segment/{_DEFAULT}."
            )
        text, source = file.read_text("utf-8"), str(file)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"Segments config {source} is not valid TOML: {exc}.") from None
    return _validate(data, source)


def _scores(value: Any, key: str, name: str, source: str) -> tuple[int, ...]:
    ok = (
        isinstance(value, list)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5 for v in value)
    )
    if not ok:
        raise InputError(
            f"Segment {name!r} in {source}: '{key}' must be a non-empty list of scores "
            f"from 1 to 5, such as [4, 5]. Got {value!r}."
        )
    return tuple(sorted(set(value)))


def _segment(entry: Any, i: int, source: str) -> GridSegment:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise InputError(f"Segment {i + 1} in {source} needs a 'name' (text). Got {entry!r}.")
    name = entry["name"]
    unknown = sorted(set(entry) - {"name", "r", "f", "description"})
    if unknown:
        raise InputError(
            f"Segment {name!r} in {source} has unknown keys: {', '.join(unknown)}. "
            f"Expected: name, r, f, description."
        )
    return GridSegment(
        name=name,
        r=_scores(entry.get("r"), "r", name, source),
        f=_scores(entry.get("f"), "f", name, source),
        description=str(entry.get("description", "")),
    )


def _validate(data: dict[str, Any], source: str) -> RfmGrid:
    entries = data.get("segment")
    if not isinstance(entries, list) or not entries:
        raise InputError(
            f"Segments config {source} has no [[segment]] tables. Each segment needs a "
            f"name and the R and F scores it takes, such as name = 'Champions', r = [5], "
            f"f = [4, 5]."
        )
    segments = tuple(_segment(e, i, source) for i, e in enumerate(entries))
    names = [s.name for s in segments]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"Segments config {source} names a segment twice: {', '.join(twice)}.")
    owners: dict[tuple[int, int], list[str]] = {(r, f): [] for r in SCORES for f in SCORES}
    for seg in segments:
        for r in seg.r:
            for f in seg.f:
                owners[r, f].append(seg.name)
    missing = [f"(R{r}, F{f})" for (r, f), who in sorted(owners.items()) if not who]
    shared = [
        f"(R{r}, F{f}) in {' and '.join(who)}"
        for (r, f), who in sorted(owners.items())
        if len(who) > 1
    ]
    problems = []
    if missing:
        problems.append(f"leaves {len(missing)} cell(s) without a segment: {', '.join(missing)}")
    if shared:
        problems.append(f"gives {len(shared)} cell(s) more than one segment: {'; '.join(shared)}")
    if problems:
        raise InputError(
            f"The R×F grid in {source} {' and '.join(problems)}. Every (R, F) pair with R "
            f"and F from 1 to 5 must belong to exactly one segment."
        )
    return RfmGrid(segments, source)


def plot_rfm_grid(
    grid: RfmGrid | None = None,
    *,
    scores: pd.DataFrame | None = None,
    path: str | Path | None = None,
) -> pd.DataFrame:
    """Draw the grid (R up, F right), one colour per segment; write a PNG if ``path``.

    Parameters
    ----------
    grid : RfmGrid, optional
        The default grid when None.
    scores : DataFrame, optional
        Output of :func:`~valueseg.segment.rfm_segments`; when given, each cell also shows
        its share of customers.
    path : str or Path, optional
        Where to write the PNG.

    Returns
    -------
    DataFrame
        What was drawn: one row per cell, ``r, f, segment`` (and ``customers, share`` with
        ``scores``).

    Examples
    --------
    >>> cells = plot_rfm_grid()
    >>> cells.loc[(cells.r == 5) & (cells.f == 1), "segment"].item()
    'New Customers'
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    grid = grid or load_rfm_grid()
    cells = grid.cells()
    if scores is not None:
        counts = scores.groupby(["rfm_r", "rfm_f"]).size()
        cells["customers"] = [
            int(counts.get((r, f), 0)) for r, f in zip(cells.r, cells.f, strict=True)
        ]
        cells["share"] = cells["customers"] / max(len(scores), 1)
    fig = Figure(figsize=(8, 6.5))
    ax = fig.add_subplot()
    colours = {n: matplotlib.colormaps["tab10"](i % 10) for i, n in enumerate(grid.names)}
    for cell in cells.to_dict("records"):
        f, r, segment = float(cell["f"]), float(cell["r"]), str(cell["segment"])
        ax.add_patch(
            matplotlib.patches.Rectangle(
                (f - 0.5, r - 0.5), 1, 1, color=colours[segment], alpha=0.55
            )
        )
        text = segment.replace(" ", "\n", 1)
        if scores is not None:
            text += f"\n{cell['share']:.1%}"
        ax.text(f, r, text, ha="center", va="center", fontsize=7.5)
    ax.set(xlim=(0.5, 5.5), ylim=(0.5, 5.5), xticks=SCORES, yticks=SCORES)
    ax.set_xlabel("F: frequency score (5 = most orders)")
    ax.set_ylabel("R: recency score (5 = most recent)")
    ax.set_title("RFM segments on the R×F grid")
    ax.set_aspect("equal")
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return cells
