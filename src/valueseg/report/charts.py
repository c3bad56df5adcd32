"""The report's own charts, each keeping the numbers it draws (as :mod:`.plots` does).

Bars per label (:class:`BarsDisplay`), orders and revenue per month
(:class:`TimelineDisplay`), an annotated heat map of a small matrix
(:class:`HeatTableDisplay`: flows between segments, cluster profiles) and the R×F grid
with customers and revenue per cell (:class:`RfmGridDisplay`). Every one draws aggregates:
a chart of a million customers has as many marks as one of a thousand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import pandas as pd

from valueseg.errors import InputError
from valueseg.report.plots import AxesLike, _Display, _new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

__all__ = ["BarsDisplay", "HeatTableDisplay", "RfmGridDisplay", "TimelineDisplay", "plain"]

_MAX_ANNOTATED = 400  # cells of a heat map that get their number written in them


def plain(text: Any) -> str:
    """``text`` as matplotlib draws it literally (``$`` would start mathtext).

    Examples
    --------
    >>> plain("Spent $100 or more")
    'Spent \\\\$100 or more'
    """
    return str(text).replace("\\", "\\\\").replace("$", r"\$")


def _axes(ax: AxesLike, width: float, height: float) -> tuple[Figure | SubFigure, Axes]:
    """``ax`` and its figure, or a new Agg figure of ``width`` × ``height`` inches."""
    figure, (axes,) = _new_axes(ax)
    if ax is None:
        from matplotlib.figure import Figure

        assert isinstance(figure, Figure)  # _new_axes made it
        figure.set_size_inches(width, height)
    return figure, axes


def _share(value: float) -> str:
    return f"{100 * value:.0f} %" if abs(value) >= 0.1 else f"{100 * value:.1f} %"


class BarsDisplay(_Display):
    """Horizontal bars, one group per label, one bar per measure.

    Attributes
    ----------
    table_ : pandas.DataFrame
        ``label`` and one column per measure, in drawing order (first on top).
    title_, xlabel_ : str
    percent_ : bool
        Whether the measures are shares (drawn as percentages).

    Examples
    --------
    >>> frame = pd.DataFrame({"tier": ["Top 1%", "Rest"], "customers": [0.01, 0.99],
    ...                       "revenue": [0.2, 0.8]})
    >>> disp = BarsDisplay.from_frame(frame, "tier", ["customers", "revenue"],
    ...                               title="Tiers", percent=True).plot()
    >>> disp.table_.columns.tolist()
    ['label', 'customers', 'revenue']
    """

    table_: pd.DataFrame
    title_: str
    xlabel_: str
    percent_: bool

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        label: str,
        measures: Sequence[str],
        *,
        title: str,
        xlabel: str = "",
        percent: bool = False,
    ) -> BarsDisplay:
        """Take ``label`` and the ``measures`` columns of ``frame`` (one row per bar group)."""
        if frame.empty:
            raise InputError(f"No rows to draw for '{title}'.")
        table = frame[[label, *measures]].rename(columns={label: "label"})
        table = table.assign(label=table["label"].astype(str)).reset_index(drop=True)
        return cls(table=table, title=title, xlabel=xlabel, percent=percent)

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw the bars with their values written at their ends; return ``self``."""
        t = self.table_
        measures = [c for c in t.columns if c != "label"]
        self.figure_, self.ax_ = _axes(ax, 7.5, 1.4 + 0.3 * len(t) * len(measures))
        height = 0.8 / len(measures)
        y = np.arange(len(t))[::-1].astype(float)
        for i, name in enumerate(measures):
            values = t[name].to_numpy(np.float64)
            pos = y + 0.4 - height * (i + 0.5)
            bars = self.ax_.barh(pos, np.nan_to_num(values), height, label=plain(name))
            labels = [
                "" if not np.isfinite(v) else (_share(v) if self.percent_ else f"{v:,.3g}")
                for v in values
            ]
            self.ax_.bar_label(bars, labels, padding=2, fontsize=7)
        self.ax_.set_yticks(y, [plain(s) for s in t["label"]])
        if self.percent_:
            self.ax_.xaxis.set_major_formatter(lambda v, _pos: f"{100 * v:.0f} %")
        self.ax_.margins(x=0.15)
        self.ax_.set_xlabel(plain(self.xlabel_))
        self.ax_.set_title(plain(self.title_))
        if len(measures) > 1:
            self.ax_.legend(loc="best", fontsize=8)
        return self


class TimelineDisplay(_Display):
    """Orders (bars) and revenue (line) per month.

    Attributes
    ----------
    table_ : pandas.DataFrame
        ``month, orders, revenue``.

    Examples
    --------
    >>> frame = pd.DataFrame({"month": pd.to_datetime(["2024-01-01", "2024-02-01"]),
    ...                       "orders": [10, 12], "revenue": [500.0, 640.0]})
    >>> TimelineDisplay.from_frame(frame).plot().table_["orders"].sum()
    np.int64(22)
    """

    table_: pd.DataFrame

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> TimelineDisplay:
        """From ``month, orders, revenue`` rows (one per month)."""
        if frame.empty:
            raise InputError("No months with orders to draw.")
        table = frame[["month", "orders", "revenue"]].reset_index(drop=True)
        return cls(table=table.assign(month=pd.to_datetime(table["month"])))

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw orders per month as bars and revenue as a line on a second axis."""
        self.figure_, self.ax_ = _axes(ax, 7.5, 3.2)
        t = self.table_
        x = np.arange(len(t))
        self.ax_.bar(x, t["orders"], color="#9ab7d3", label="orders")
        self.ax_.set_ylabel("Orders")
        twin = self.ax_.twinx()
        twin.plot(x, t["revenue"], color="#c0392b", marker=".", label="revenue")
        twin.set_ylabel("Revenue")
        twin.set_ylim(bottom=0)
        step = max(1, len(t) // 12)
        self.ax_.set_xticks(x[::step], [f"{m:%Y-%m}" for m in t["month"]][::step], rotation=45)
        self.ax_.set_title("Orders and revenue per month")
        return self


class HeatTableDisplay(_Display):
    """An annotated heat map of a small matrix (rows down, columns across).

    With ``ratio=True`` the values are ratios around 1 (a lift): colours are centred on 1
    on a log scale.

    Attributes
    ----------
    matrix_ : pandas.DataFrame
    title_, xlabel_, ylabel_ : str
    ratio_ : bool

    Examples
    --------
    >>> m = pd.DataFrame([[5, 1], [0, 7]], index=["a", "b"], columns=["a", "b"])
    >>> HeatTableDisplay.from_matrix(m, title="flows").plot().matrix_.to_numpy().sum()
    np.int64(13)
    """

    matrix_: pd.DataFrame
    title_: str
    xlabel_: str
    ylabel_: str
    ratio_: bool

    @classmethod
    def from_matrix(
        cls,
        matrix: pd.DataFrame,
        *,
        title: str,
        xlabel: str = "",
        ylabel: str = "",
        ratio: bool = False,
    ) -> HeatTableDisplay:
        """Keep ``matrix`` (numbers; missing cells are drawn blank)."""
        if matrix.empty:
            raise InputError(f"No cells to draw for '{title}'.")
        return cls(matrix=matrix, title=title, xlabel=xlabel, ylabel=ylabel, ratio=ratio)

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw the heat map with each cell's number (small matrices); return ``self``."""
        m = self.matrix_.astype(float)
        rows, cols = m.shape
        size = (max(6.0, 1.5 + 0.75 * cols), max(3.0, 1.6 + 0.38 * rows))
        self.figure_, self.ax_ = _axes(ax, *size)
        values = m.to_numpy()
        if self.ratio_:
            shown = np.log2(np.clip(values, 1 / 8, 8))
            image = self.ax_.imshow(shown, cmap="RdBu_r", vmin=-3, vmax=3, aspect="auto")
        else:
            image = self.ax_.imshow(values, cmap="Blues", aspect="auto")
        if rows * cols <= _MAX_ANNOTATED:
            top = np.nanmax(values) if np.isfinite(values).any() else 0.0
            for (i, j), v in np.ndenumerate(values):
                if not np.isfinite(v):
                    continue
                text = f"{v:.2g}" if self.ratio_ else f"{v:,.0f}"
                dark = abs(np.log2(np.clip(v, 1 / 8, 8))) > 2 if self.ratio_ else v > 0.6 * top
                colour = "white" if dark else "black"
                self.ax_.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
        self.ax_.set_xticks(range(cols), [plain(c) for c in m.columns], rotation=35, ha="right")
        self.ax_.set_yticks(range(rows), [plain(r) for r in m.index])
        self.ax_.set_xlabel(plain(self.xlabel_))
        self.ax_.set_ylabel(plain(self.ylabel_))
        self.ax_.set_title(plain(self.title_))
        if self.ratio_:
            bar = self.figure_.colorbar(image, ax=self.ax_, label="lift (log scale)")
            bar.set_ticks([-3, -1, 0, 1, 3], labels=["1/8", "1/2", "1", "2", "8"])
        return self


class RfmGridDisplay(_Display):
    """The R×F grid: each cell's segment, share of customers and share of revenue.

    Cells are coloured by their share of revenue; thick lines part the segments.

    Attributes
    ----------
    cells_ : pandas.DataFrame
        25 rows ``r, f, segment, customers, revenue, customer_share, revenue_share``.

    Examples
    --------
    >>> cells = pd.DataFrame({"r": [5, 1], "f": [5, 1], "segment": ["Champions", "Hibernating"],
    ...                       "customers": [10, 30], "revenue": [900.0, 100.0]})
    >>> disp = RfmGridDisplay.from_cells(cells).plot()
    >>> disp.cells_.query("r == 5 and f == 5")[["customer_share", "revenue_share"]].values
    array([[0.25, 0.9 ]])
    """

    cells_: pd.DataFrame

    @classmethod
    def from_cells(cls, cells: pd.DataFrame, names: Any = None) -> RfmGridDisplay:
        """From ``r, f, segment, customers, revenue`` of the occupied cells; ``names``
        (a 5×5 array, ``names[r - 1, f - 1]``) names the empty ones."""
        full = pd.DataFrame(
            [(r, f) for r in range(5, 0, -1) for f in range(1, 6)], columns=["r", "f"]
        )
        given = cells[["r", "f", "segment", "customers", "revenue"]].astype({"r": int, "f": int})
        out = full.merge(given, on=["r", "f"], how="left")
        if names is not None:
            named = [names[r - 1, f - 1] for r, f in zip(out["r"], out["f"], strict=True)]
            out["segment"] = out["segment"].fillna(pd.Series(named, index=out.index))
        out = out.fillna({"customers": 0, "revenue": 0.0, "segment": ""})
        out["customers"] = out["customers"].astype(np.int64)
        total, revenue = out["customers"].sum(), out["revenue"].sum()
        out["customer_share"] = out["customers"] / total if total else 0.0
        out["revenue_share"] = out["revenue"] / revenue if revenue > 0 else 0.0
        return cls(cells=out)

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw the grid (R up, F across); return ``self``."""
        self.figure_, self.ax_ = _axes(ax, 7.5, 6.2)
        c = self.cells_
        r_of, f_of = c["r"].to_numpy(np.int64), c["f"].to_numpy(np.int64)
        customers = c["customer_share"].to_numpy(np.float64)
        revenue = c["revenue_share"].to_numpy(np.float64)
        segments = [str(s) for s in c["segment"]]
        share = np.zeros((5, 5))
        names = np.empty((5, 5), dtype=object)
        share[r_of - 1, f_of - 1] = revenue
        names[r_of - 1, f_of - 1] = segments
        image = self.ax_.imshow(
            share, origin="lower", cmap="YlOrRd", extent=(0.5, 5.5, 0.5, 5.5), vmin=0
        )
        self.figure_.colorbar(image, ax=self.ax_, label="Share of revenue")
        for r, f, name, cust, rev in zip(r_of, f_of, segments, customers, revenue, strict=True):
            text = f"{plain(name)}\n{_share(cust)} cust.\n{_share(rev)} rev."
            self.ax_.text(float(f), float(r), text, ha="center", va="center", fontsize=6.5)
        for r in range(5):  # a thick line where the segment changes
            for f in range(5):
                if f < 4 and names[r, f] != names[r, f + 1]:
                    self.ax_.plot([f + 1.5] * 2, [r + 0.5, r + 1.5], color="black", lw=2)
                if r < 4 and names[r, f] != names[r + 1, f]:
                    self.ax_.plot([f + 0.5, f + 1.5], [r + 1.5] * 2, color="black", lw=2)
        self.ax_.set_xticks(range(1, 6))
        self.ax_.set_yticks(range(1, 6))
        self.ax_.set_xlabel("F: frequency score (5 = most orders)")
        self.ax_.set_ylabel("R: recency score (5 = most recent)")
        self.ax_.set_title("RFM grid: customers and revenue per cell")
        return self
