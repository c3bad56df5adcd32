"""The report's own charts, each keeping the numbers it draws (as :mod:`.plots` does).

Bars per label (:class:`BarsDisplay`), orders and revenue per month
(:class:`TimelineDisplay`), an annotated heat map of a small matrix
(:class:`HeatTableDisplay`: flows between segments, cluster profiles), the R×F grid
with customers and revenue per cell (:class:`RfmGridDisplay`), the criteria that chose the
number of clusters (:class:`KCriteriaDisplay`) and a 2-D projection of a sample of the
clustered customers (:class:`ClusterProjectionDisplay`). Every one draws aggregates or a
bounded sample: a chart of a million customers has as many marks as one of a thousand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import pandas as pd

from valueseg.errors import InputError
from valueseg.report.plots import AxesLike, _Display, _new_axes
from valueseg.report.readings import plural

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

__all__ = [
    "BarsDisplay",
    "ClusterProjectionDisplay",
    "HeatTableDisplay",
    "KCriteriaDisplay",
    "RfmGridDisplay",
    "TimelineDisplay",
    "plain",
]

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


#: The k criteria drawn, in order: criterion (``k_votes_`` key), score column, panel title.
_K_CRITERIA = (
    ("elbow", "inertia", "Elbow: within-cluster sum of squares"),
    ("silhouette", "silhouette", "Silhouette (higher is better)"),
    ("davies_bouldin", "davies_bouldin", "Davies–Bouldin (lower is better)"),
    ("calinski_harabasz", "calinski_harabasz", "Calinski–Harabasz (higher is better)"),
    ("gap", "gap", "Gap statistic (higher is better)"),
)
_K_SE = {
    "silhouette": "silhouette_se",
    "davies_bouldin": "davies_bouldin_se",
    "calinski_harabasz": "calinski_harabasz_se",
    "gap": "gap_se",
}


def _grid(ax: AxesLike, n: int, height: float) -> tuple[Figure | SubFigure, list[Axes]]:
    """``n`` axes: those given, or a new Agg figure of up to three panels per row."""
    if ax is not None:
        return _new_axes(ax, n)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = min(3, n)
    rows = -(-n // cols)
    figure = Figure(figsize=(7.5, 0.7 + height * rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = list(figure.subplots(rows, cols, squeeze=False).ravel())
    for spare in axes[n:]:
        figure.delaxes(spare)
    return figure, axes[:n]


class KCriteriaDisplay(_Display):
    """The criteria that chose the number of clusters k, one small panel per criterion.

    Each panel draws one criterion's score per k (the mean over the Segmenter's selection
    samples, ± one standard error where it kept one), a dashed line at the chosen k and a
    ring on the smallest k the criterion accepts (its vote). With ``accepted``, a last
    panel counts the criteria that accept each k: the Segmenter takes the smallest k a
    majority accepts (:mod:`valueseg.segment._ksel`).

    Attributes
    ----------
    scores_ : pandas.DataFrame
        One row per k tried (index ``k``): ``Segmenter.k_scores_`` as it is.
    k_ : int or None
        The chosen k.
    votes_ : dict of str to int or None
        The smallest k each criterion accepts (``Segmenter.k_votes_``).
    accepted_ : dict of str to list of int
        The ks each criterion accepts (``Segmenter.k_accepted_``; empty: not known).
    axes_ : list of Axes
        The panels, in the order above (``ax_`` is the first).

    Examples
    --------
    >>> scores = pd.DataFrame({"inertia": [90.0, 40, 35], "silhouette": [0.3, 0.5, 0.4]},
    ...                       index=pd.Index([2, 3, 4], name="k"))
    >>> disp = KCriteriaDisplay.from_scores(scores, k=3, votes={"elbow": 3}).plot()
    >>> int(disp.scores_["silhouette"].idxmax()), len(disp.axes_)
    (3, 2)
    """

    scores_: pd.DataFrame
    k_: int | None
    votes_: dict[str, int | None]
    accepted_: dict[str, list[int]]
    axes_: list[Axes]

    @classmethod
    def from_scores(
        cls,
        scores: pd.DataFrame,
        *,
        k: int | None = None,
        votes: dict[str, int | None] | None = None,
        accepted: dict[str, list[int]] | None = None,
    ) -> KCriteriaDisplay:
        """Keep ``scores`` (one row per k, the criteria's columns) and what they chose."""
        columns = [c for _, c, _ in _K_CRITERIA]
        if not isinstance(scores, pd.DataFrame) or scores.empty:
            raise InputError("No k scores to draw: expected one row per k tried.")
        if not set(columns) & set(map(str, scores.columns)):
            raise InputError(
                f"No k criterion to draw. Expected a column among {', '.join(columns)}; got "
                f"{', '.join(map(str, scores.columns)) or 'none'}."
            )
        return cls(
            scores=scores.copy(),
            k=None if k is None else int(k),
            votes=dict(votes or {}),
            accepted={str(c): [int(v) for v in ks] for c, ks in (accepted or {}).items()},
        )

    @classmethod
    def from_segmenter(cls, segmenter: Any) -> KCriteriaDisplay:
        """From a fitted :class:`~valueseg.segment.Segmenter` that chose k itself."""
        scores = getattr(segmenter, "k_scores_", None)
        if scores is None:
            reason = getattr(segmenter, "k_reason_", None) or "k was not chosen (HDBSCAN)."
            raise InputError(
                f"The Segmenter scored no k; its reason: {reason} Fit it with "
                "n_clusters='auto' and a k_range of two ks or more to draw the criteria."
            )
        return cls.from_scores(
            scores,
            k=getattr(segmenter, "n_clusters_", None),
            votes=getattr(segmenter, "k_votes_", None),
            accepted=getattr(segmenter, "k_accepted_", None),
        )

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw one panel per criterion (and the count of votes); return ``self``."""
        drawn = [c for c in _K_CRITERIA if c[1] in self.scores_.columns]
        n = len(drawn) + (1 if self.accepted_ else 0)
        self.figure_, self.axes_ = _grid(ax, n, 2.1)
        self.ax_ = self.axes_[0]
        ks = self.scores_.index.to_numpy(np.int64)
        for axes, (criterion, column, title) in zip(self.axes_, drawn, strict=False):
            values = self.scores_[column].to_numpy(np.float64)
            se = self.scores_.get(_K_SE.get(column, ""))
            yerr = None if se is None else np.nan_to_num(se.to_numpy(np.float64))
            axes.errorbar(ks, values, yerr=yerr, marker="o", markersize=3, capsize=2, lw=1.2)
            vote = self.votes_.get(criterion)
            if vote is not None and vote in ks:
                at = values[int(np.flatnonzero(ks == vote)[0])]
                axes.plot([vote], [at], "o", ms=9, mfc="none", mec="#c0392b", mew=1.5)
            self._dress(axes, ks, title)
        if self.accepted_:
            axes = self.axes_[-1]
            votes = [sum(int(k) in v for v in self.accepted_.values()) for k in ks]
            colours = ["#1d4e89" if k == self.k_ else "#9ab7d3" for k in ks]
            axes.bar(ks, votes, color=colours, width=0.6)
            majority = len(self.accepted_) // 2 + 1
            axes.axhline(majority, color="#c0392b", linestyle=":", lw=1)
            axes.set_ylim(0, len(self.accepted_) + 0.3)
            axes.set_yticks(range(len(self.accepted_) + 1))
            self._dress(axes, ks, f"Criteria accepting k (majority: {majority})", line=False)
        self.figure_.suptitle(
            "Choosing k: each criterion per k (dashed: chosen k; ring: the criterion's vote)",
            fontsize=10,
        )
        self.figure_.supxlabel("k (number of clusters)", fontsize=8)
        return self

    def _dress(self, axes: Axes, ks: np.ndarray, title: str, *, line: bool = True) -> None:
        if line and self.k_ is not None:
            axes.axvline(self.k_, color="grey", linestyle="--", lw=1)
        axes.set_xticks(ks)
        axes.tick_params(labelsize=7)
        axes.yaxis.get_offset_text().set_fontsize(7)
        axes.set_title(title, fontsize=8.5)


class ClusterProjectionDisplay(_Display):
    """Customers on the first two principal components of the clustered matrix.

    Each dot is a customer (a seeded sample of at most ``max_points``), coloured by its
    cluster; the components are those of the sample, so the chart shows how far apart the
    clusters lie in the space the algorithm clustered, flattened to two dimensions. The
    dots are drawn as one image inside the SVG (axes and text stay vector): 2,000 vector
    dots would weigh four times as much.

    Attributes
    ----------
    points_ : pandas.DataFrame
        ``pc1, pc2, cluster``: one row per customer drawn.
    explained_ : numpy.ndarray
        The share of the matrix's variance each of the two components explains.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = np.vstack([rng.normal(0, 1, (50, 3)), rng.normal(6, 1, (50, 3))])
    >>> disp = ClusterProjectionDisplay.from_matrix(z, ["a"] * 50 + ["b"] * 50).plot()
    >>> disp.points_.shape, bool(disp.explained_[0] > 0.8)
    ((100, 3), True)
    """

    points_: pd.DataFrame
    explained_: np.ndarray

    @classmethod
    def from_matrix(
        cls,
        z: Any,
        clusters: Sequence[Any] | pd.Series,
        *,
        max_points: int = 2000,
        random_state: int = 0,
    ) -> ClusterProjectionDisplay:
        """Project the rows of ``z`` (the clustered matrix) labelled by ``clusters``."""
        from sklearn.decomposition import PCA

        matrix = np.asarray(z, np.float64)
        labels = np.asarray([str(c) for c in clusters], dtype=object)
        if matrix.ndim != 2 or len(matrix) != len(labels):
            raise InputError(
                f"Expected one cluster per row of the matrix. Got {len(labels):,} clusters "
                f"for a matrix of shape {matrix.shape}."
            )
        if len(matrix) < 3 or matrix.shape[1] < 2:
            raise InputError(
                "A 2-D projection needs at least 3 customers and 2 clustered columns. Got "
                f"{plural(len(matrix), 'customer')} and {plural(matrix.shape[1], 'column')}."
            )
        if len(matrix) > max_points:
            rng = np.random.default_rng(random_state)
            keep = np.sort(rng.choice(len(matrix), max_points, replace=False))
            matrix, labels = matrix[keep], labels[keep]
        pca = PCA(n_components=2, svd_solver="full").fit(matrix)
        xy = pca.transform(matrix)
        points = pd.DataFrame({"pc1": xy[:, 0], "pc2": xy[:, 1], "cluster": labels})
        return cls(points=points, explained=np.asarray(pca.explained_variance_ratio_))

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw the dots, one colour per cluster (largest first); return ``self``."""
        self.figure_, self.ax_ = _axes(ax, 7.5, 4.8)
        p = self.points_
        for name in p["cluster"].value_counts().index:
            part = p[p["cluster"] == name]
            self.ax_.scatter(
                part["pc1"],
                part["pc2"],
                s=5,
                alpha=0.6,
                linewidths=0,
                label=f"{plain(name)} ({len(part):,})",
                rasterized=True,  # the dots as one image in the SVG: a quarter of the bytes
            )
        first, second = self.explained_
        self.ax_.set_xlabel(f"First principal component ({_share(float(first))} of variance)")
        self.ax_.set_ylabel(f"Second principal component ({_share(float(second))})")
        self.ax_.set_title(f"Clusters of {len(p):,} customers on two principal components")
        self.ax_.legend(loc="best", fontsize=7, markerscale=2.5)
        return self
