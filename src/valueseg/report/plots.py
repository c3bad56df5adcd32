"""Matplotlib displays of the value models, each keeping the numbers it draws.

scikit-learn's ``*Display`` pattern: ``from_...`` computes the numbers (``table_``, ``matrix_``,
``bins_``), ``plot(ax=None)`` draws them (``figure_``, ``ax_``), ``to_png(path)`` writes a PNG.
Figures use matplotlib's object API on an Agg canvas: pyplot is never imported, no window
opens and the global backend is left alone (a notebook's inline backend keeps working).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from valueseg.errors import InputError, did_you_mean

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from valueseg.features._input import DateLike

__all__ = [
    "CalibrationDisplay",
    "ClvDistributionDisplay",
    "RepeatTransactionsDisplay",
]

#: summary time units (rfm_summary's ``freq``) and reporting periods, finest first
_PERIODS = {"h": "h", "D": "D", "W": "W-SUN", "M": "M", "Q": "Q-DEC", "Y": "Y-DEC"}
_FREQS = ("h", "D", "W", "M")
_KINDS = ("both", "cumulative", "incremental")
_TOP_BIN = 7  # calibration frequency 0..6 and 7+
_BACKTEST_KEYS = ["frequency", "customers", "predicted", "actual"]
_CAL_COLUMNS = ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"]

FloatArray: TypeAlias = NDArray[np.float64]
#: Where to draw: an Axes, or as many as the plot draws (a list, or an array of subplots).
AxesLike: TypeAlias = "Axes | list[Axes] | tuple[Axes, ...] | NDArray[np.object_] | None"
#: A back-test's rows by calibration frequency, or the back-test (a dict) holding them.
BacktestRows: TypeAlias = "pd.DataFrame | Sequence[dict[str, object]] | dict[str, Any]"


class PurchaseCurves(Protocol):
    """What the displays ask of a fitted purchase model (any of :mod:`valueseg.models`)."""

    def probability_alive(
        self, frequency: FloatArray, recency: FloatArray, T: float | FloatArray, /
    ) -> ArrayLike: ...

    def expected_purchases(
        self,
        t: float | FloatArray,
        frequency: FloatArray,
        recency: FloatArray,
        T: float | FloatArray,
        /,
    ) -> ArrayLike: ...

    def expected_purchases_new_customer(self, t: FloatArray, /) -> ArrayLike: ...


class _Display:
    """Keeps the numbers (keyword ``name`` becomes attribute ``name_``) and writes PNGs."""

    figure_: Figure | SubFigure
    ax_: Axes

    def __init__(self, **numbers: object) -> None:
        for name, value in numbers.items():
            setattr(self, f"{name}_", value)

    def plot(self, ax: AxesLike = None) -> Self:  # pragma: no cover - every display overrides it
        raise NotImplementedError

    def to_png(self, path: str | Path, *, dpi: int = 100) -> Path:
        """Write the plot (drawn now if ``plot`` was not called) as a PNG file; return its path."""
        from matplotlib.figure import Figure

        if not hasattr(self, "figure_"):
            self.plot()
        if not isinstance(self.figure_, Figure):  # a subfigure cannot be saved on its own
            raise InputError(
                f"{type(self).__name__}.to_png writes a whole figure, and this one was drawn on "
                "a subfigure. Save the figure it belongs to with figure.savefig(path) instead."
            )
        path = Path(path)
        self.figure_.savefig(path, format="png", dpi=dpi)
        return path


def _new_axes(ax: AxesLike, n: int = 1) -> tuple[Figure | SubFigure, list[Axes]]:
    """The figure and ``n`` axes to draw on: those given, or a new Agg figure (no pyplot)."""
    if ax is not None:
        axes = list(np.asarray(ax).ravel()) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        if len(axes) != n:
            raise InputError(f"This plot draws on {n} axes. Got {len(axes)}.")
        return axes[0].figure, axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 4.5 * n), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, [figure.add_subplot(n, 1, i + 1) for i in range(n)]


def _need_columns(frame: object, needed: Sequence[str], where: str, how: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"Expected {where} as a pandas DataFrame. Got {type(frame).__name__}.")
    for name in needed:
        if name not in frame.columns:
            columns = [str(c) for c in frame.columns]
            guess = did_you_mean(name, columns)
            raise InputError(
                f"Column '{name}' not found in {where}. Available: {', '.join(columns) or 'none'}."
                + (f" Did you mean '{guess}'?" if guess else "")
                + f" {how}"
            )


def _timestamp(value: DateLike, name: str) -> pd.Timestamp:
    ts = pd.to_datetime(value, errors="coerce", utc=True)
    if not isinstance(ts, pd.Timestamp) or ts is pd.NaT:
        raise InputError(f"The '{name}' parameter must be a date. Got {value!r}.")
    return ts.tz_localize(None)


def _check_int(value: object, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"The '{name}' parameter of {owner} must be an int >= 1. Got {value!r}.")
    return int(value)


class CalibrationDisplay(_Display):
    """Mean predicted vs actual holdout purchases by calibration frequency 0..6, 7+.

    The back-test chart of the BTYD literature (lifetimes'
    ``plot_calibration_purchases_vs_holdout_purchases``): customers grouped by their repeat
    purchases in the calibration span; a good model tracks the actual mean in every group.

    Attributes
    ----------
    table_ : pandas.DataFrame
        ``frequency`` ("0".."6", "7+"), ``customers``, ``predicted``, ``actual`` (mean holdout
        purchases per customer); groups without customers are left out.
    figure_, ax_ : matplotlib Figure and Axes, set by :meth:`plot`.

    Examples
    --------
    >>> from valueseg.report import CalibrationDisplay
    >>> rows = [{"frequency": "0", "customers": 120, "predicted": 0.21, "actual": 0.18},
    ...         {"frequency": "1", "customers": 40, "predicted": 0.62, "actual": 0.70}]
    >>> disp = CalibrationDisplay.from_backtest(rows).plot()
    >>> disp.table_
      frequency  customers  predicted  actual
    0         0        120       0.21    0.18
    1         1         40       0.62    0.70
    """

    table_: pd.DataFrame

    @classmethod
    def from_backtest(cls, rows: BacktestRows) -> CalibrationDisplay:
        """From a back-test's rows (:func:`valueseg.models.metrics.by_frequency`).

        ``rows``: a list of dicts or a DataFrame with ``frequency, customers, predicted,
        actual``, or a back-test dict holding them under ``by_frequency``.
        """
        table = pd.DataFrame(rows.get("by_frequency", []) if isinstance(rows, dict) else rows)
        if table.empty:
            raise InputError(
                "The back-test has no rows by calibration frequency. CalibrationDisplay needs "
                "rows with frequency, customers, predicted, actual "
                "(valueseg.models.metrics.by_frequency makes them)."
            )
        _need_columns(table, _BACKTEST_KEYS, "the back-test rows", "Pass by_frequency's rows.")
        table = table[_BACKTEST_KEYS].astype(
            {"frequency": str, "customers": "int64", "predicted": float, "actual": float}
        )
        return cls(table=table.reset_index(drop=True))

    @classmethod
    def from_model(cls, model: PurchaseCurves, cal_frame: pd.DataFrame) -> CalibrationDisplay:
        """Predict each customer's holdout purchases with ``model`` and group them.

        ``model`` is fitted on the calibration columns of ``cal_frame``, the output of
        :func:`valueseg.calibration_holdout`.
        """
        how = "valueseg.calibration_holdout makes it."
        _need_columns(cal_frame, _CAL_COLUMNS, "the calibration frame", how)
        if cal_frame.empty:
            raise InputError("The calibration frame has no customers (0 rows).")
        from valueseg.models import BetaGeoBetaBinom

        col = {c: cal_frame[c].to_numpy(np.float64) for c in _CAL_COLUMNS}
        rec, age = col["recency_cal"], col["T_cal"]
        if isinstance(model, BetaGeoBetaBinom):  # discrete opportunities
            rec, age = np.round(rec), np.round(age)
        predicted = model.expected_purchases(
            col["duration_holdout"], col["frequency_cal"], rec, age
        )
        frame = pd.DataFrame(
            {
                "bin": np.minimum(col["frequency_cal"].astype(np.int64), _TOP_BIN),
                "predicted": np.asarray(predicted, dtype=np.float64),
                "actual": np.nan_to_num(col["frequency_holdout"]),
            }
        )
        table = frame.groupby("bin").agg(
            customers=("actual", "size"), predicted=("predicted", "mean"), actual=("actual", "mean")
        )
        labels = [f"{b}+" if b == _TOP_BIN else str(b) for b in table.index]
        return cls(table=table.reset_index(drop=True).assign(frequency=labels)[_BACKTEST_KEYS])

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw actual and predicted means per frequency group; return ``self``."""
        self.figure_, (self.ax_,) = _new_axes(ax)
        t, x = self.table_, np.arange(len(self.table_))
        self.ax_.plot(x, t["actual"], marker="o", label="actual")
        self.ax_.plot(x, t["predicted"], marker="s", linestyle="--", label="predicted")
        ticks = [f"{f}\n({n:,})" for f, n in zip(t["frequency"], t["customers"], strict=True)]
        self.ax_.set_xticks(x, ticks)
        self.ax_.set_xlabel("Purchases in the calibration span (customers)")
        self.ax_.set_ylabel("Mean purchases in the holdout")
        self.ax_.set_title("Predicted vs actual holdout purchases")
        self.ax_.legend()
        return self


def _orders(
    transactions: pd.DataFrame, cid: str, dt: str
) -> tuple[NDArray[np.intp], pd.Series[pd.Timestamp]]:
    """Customer codes and naive UTC timestamps of the orders, validated."""
    how = "Name the columns with customer_id_col= and datetime_col=."
    _need_columns(transactions, [cid, dt], "the transactions", how)
    if transactions.empty:
        raise InputError("The transactions are empty (0 rows); there is nothing to plot.")
    try:
        ts = pd.to_datetime(transactions[dt])
    except (TypeError, ValueError) as exc:
        raise InputError(f"Column '{dt}' could not be read as dates: {exc}") from exc
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    codes, _ = pd.factorize(transactions[cid])
    for name, bad in ((dt, ts.isna().to_numpy()), (cid, codes < 0)):
        if bad.any():
            raise InputError(
                f"Column '{name}' has {int(bad.sum()):,} missing values out of {len(bad):,} "
                "rows. Drop those orders first."
            )
    return codes, ts


def _check_periods(freq: str, period: str, freq_multiplier: float) -> None:
    names = list(_PERIODS)
    if freq not in _FREQS:
        raise InputError(
            f"The 'freq' parameter must be one of {', '.join(_FREQS)} (the model's time unit, "
            f"as given to rfm_summary). Got {freq!r}."
        )
    if period not in _PERIODS or names.index(period) < names.index(freq):
        raise InputError(
            f"The 'period' parameter must be one of {', '.join(names[names.index(freq) :])} "
            f"(no finer than freq={freq!r}). Got {period!r}."
        )
    if not freq_multiplier > 0:
        raise InputError(
            f"The 'freq_multiplier' parameter must be a positive number. Got {freq_multiplier!r}."
        )


class RepeatTransactionsDisplay(_Display):
    """Repeat transactions per period, actual vs expected by the model, over time.

    lifetimes' ``expected_cumulative_transactions`` semantics: orders count once per customer
    and ``freq`` period (as in the summary); a customer's first period is the acquisition, not
    a repeat; from the start of that period on each customer, also one acquired after the
    calibration end, adds ``E[N(t)]`` (``expected_purchases_new_customer``). By the end of
    ``freq`` period ``j`` that is ``sum_b n_b E[N(j + 1 - b)]`` over acquisition periods ``b``
    with ``n_b`` customers.

    Attributes
    ----------
    table_ : pandas.DataFrame
        Per reporting period: ``period`` (its start), ``actual``, ``expected`` (repeat
        transactions in the period), ``cumulative_actual``, ``cumulative_expected``.
    calibration_end_, observation_end_ : pandas.Timestamp
    n_customers_ : int
        Customers acquired by the observation end.
    figure_, ax_, axes_ : set by :meth:`plot` (``axes_`` lists every axis drawn).

    Examples
    --------
    >>> import pandas as pd
    >>> from valueseg.models import BetaGeo
    >>> from valueseg.report import RepeatTransactionsDisplay
    >>> model = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> orders = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "a"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-01-03",
    ...                                  "2024-01-03", "2024-01-24"])})
    >>> disp = RepeatTransactionsDisplay.from_transactions(
    ...     model, orders, calibration_end="2024-01-14", observation_end="2024-01-28",
    ...     freq="W")
    >>> disp.table_.round({"expected": 3, "cumulative_expected": 3})
          period  actual  expected  cumulative_actual  cumulative_expected
    0 2024-01-01       0     0.107                  0                0.107
    1 2024-01-08       1     0.100                  1                0.207
    2 2024-01-15       0     0.095                  1                0.302
    3 2024-01-22       1     0.090                  2                0.392
    """

    table_: pd.DataFrame
    calibration_end_: pd.Timestamp
    observation_end_: pd.Timestamp
    n_customers_: int
    axes_: list[Axes]

    @classmethod
    def from_transactions(
        cls,
        model: PurchaseCurves,
        transactions: pd.DataFrame,
        *,
        calibration_end: DateLike,
        observation_end: DateLike,
        freq: str = "D",
        freq_multiplier: float = 1,
        customer_id_col: str = "customer_id",
        datetime_col: str = "timestamp",
        period: str = "W",
    ) -> RepeatTransactionsDisplay:
        """Count actual and expected repeat transactions per ``period``.

        Parameters
        ----------
        model : fitted purchase model with ``expected_purchases_new_customer(t)``
        transactions : pandas.DataFrame
            One row per order, columns ``customer_id_col`` and ``datetime_col``.
        calibration_end, observation_end : date-like
            End of the span the model was fitted on (marked), and of the history shown
            (whole ``freq`` periods, as in the summary: the last may be partly observed).
        freq, freq_multiplier : {"h", "D", "W", "M"}, float
            The model's time unit as given to ``rfm_summary`` (weeks start on Monday).
        period : {"h", "D", "W", "M", "Q", "Y"}, default "W"
            Reporting period, no finer than ``freq``; a ``freq`` period belongs to the
            reporting period its start falls in.
        """
        _check_periods(freq, period, freq_multiplier)
        cal_end = _timestamp(calibration_end, "calibration_end")
        obs_end = _timestamp(observation_end, "observation_end")
        if obs_end <= cal_end:
            raise InputError(
                f"observation_end ({obs_end}) must be after calibration_end ({cal_end})."
            )
        codes, ts = _orders(transactions, customer_id_col, datetime_col)
        ords = pd.PeriodIndex(ts.dt.to_period(_PERIODS[freq])).asi8
        last = pd.Period(obs_end, _PERIODS[freq]).ordinal
        keep = ords <= last
        if not keep.any():
            raise InputError(
                f"No order on or before observation_end {obs_end}: the {len(ts):,} orders run "
                f"from {ts.min()} to {ts.max()}."
            )
        if cal_end < ts[keep].min():
            raise InputError(
                f"calibration_end ({cal_end}) is before the first order ({ts[keep].min()}); "
                "pass the end of the span the model was fitted on."
            )
        first = int(ords[keep].min())
        n = last - first + 1
        # one (customer, period) pair per purchase period, packed in one int64
        pairs = pd.unique((codes[keep].astype(np.int64) << 32) | (ords[keep] - first))
        index = pairs & 0xFFFFFFFF
        birth = pd.Series(index).groupby(pairs >> 32).min().to_numpy()
        births = np.bincount(birth, minlength=n).astype(np.float64)
        repeats = np.bincount(index, minlength=n) - births
        # grown[k] = E[N(k + 1)]: a customer acquired in period b adds grown[j - b] by period j
        times = np.arange(1.0, n + 1) / freq_multiplier
        grown = np.asarray(model.expected_purchases_new_customer(times), dtype=np.float64)
        starts = pd.period_range(pd.Period(ordinal=first, freq=_PERIODS[freq]), periods=n)
        buckets = starts.start_time.to_period(_PERIODS[period])
        ends = np.flatnonzero(np.r_[buckets[1:] != buckets[:-1], True])
        cum_expected = np.array([births[: j + 1] @ grown[j::-1] for j in ends])
        cum_actual = np.cumsum(repeats)[ends].astype(np.int64)
        table = pd.DataFrame(
            {
                "period": buckets[ends].start_time,
                "actual": np.diff(cum_actual, prepend=0),
                "expected": np.diff(cum_expected, prepend=0.0),
                "cumulative_actual": cum_actual,
                "cumulative_expected": cum_expected,
            }
        )
        return cls(
            table=table, calibration_end=cal_end, observation_end=obs_end, n_customers=len(birth)
        )

    def plot(self, ax: AxesLike = None, *, kind: str = "both") -> Self:
        """Draw the curves, ``kind`` "cumulative", "incremental" or "both" (two axes)."""
        if kind not in _KINDS:
            raise InputError(
                f"The 'kind' parameter must be one of {', '.join(_KINDS)}. Got {kind!r}."
            )
        drawn = _KINDS[1:] if kind == "both" else (kind,)
        self.figure_, self.axes_ = _new_axes(ax, len(drawn))
        self.ax_, t = self.axes_[0], self.table_
        for axis, which in zip(self.axes_, drawn, strict=True):
            prefix = "cumulative_" if which == "cumulative" else ""
            axis.plot(t["period"], t[prefix + "actual"], label="actual")
            axis.plot(t["period"], t[prefix + "expected"], linestyle="--", label="expected")
            # (the stubs take x as a float only; matplotlib converts dates by their units)
            end = self.calibration_end_
            axis.axvline(end, color="grey", linestyle=":", label="calib. end")  # type: ignore[arg-type]
            axis.set_ylabel(f"Repeat transactions ({which})")
            axis.legend()
        self.ax_.set_title("Repeat transactions: actual vs expected")
        return self


class ClvDistributionDisplay(_Display):
    """Histogram of predicted customer lifetime values, with quantiles marked.

    With ``log_x=None`` the x axis is logarithmic when the positive values span more than two
    decades between their 1st and 99th percentiles; log bins are evenly spaced in log, and
    customers at 0 are counted in ``n_zero_`` instead of a bin.

    Attributes
    ----------
    bins_ : pandas.DataFrame
        ``left, right, customers`` per bin (left-closed; the last bin closed).
    quantiles_ : pandas.Series
        Quantiles of the finite values (zeros included), indexed by level.
    log_x_ : bool
    n_zero_, n_missing_ : int
        Values at 0, and non-finite values (left out of everything).
    figure_, ax_ : set by :meth:`plot`.

    Examples
    --------
    >>> from valueseg.report import ClvDistributionDisplay
    >>> disp = ClvDistributionDisplay.from_values([0.0, 5.0, 10.0, 20.0, 35.0], bins=2)
    >>> disp.bins_
       left  right  customers
    0   0.0   17.5          3
    1  17.5   35.0          2
    >>> disp.quantiles_.tolist()
    [10.0, 29.0, 34.4]
    """

    bins_: pd.DataFrame
    quantiles_: pd.Series[float]
    log_x_: bool
    n_zero_: int
    n_missing_: int

    @classmethod
    def from_values(
        cls,
        clv: ArrayLike,
        *,
        bins: int = 40,
        quantiles: Sequence[float] = (0.5, 0.9, 0.99),
        log_x: bool | None = None,
    ) -> ClvDistributionDisplay:
        """Bin one value per customer (e.g. ``customer_scores.predicted_clv_365d``).

        NaN (no spend model) is left out and counted; ``quantiles`` are levels in [0, 1];
        ``log_x`` forces the x scale.
        """
        values = np.asarray(clv, dtype=np.float64).ravel()
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            raise InputError(
                f"clv has no finite values ({values.size:,} rows, all missing or infinite); "
                "was a spend model fitted?"
            )
        bins = _check_int(bins, "bins", cls.__name__)
        levels = np.asarray(quantiles, dtype=np.float64)
        if levels.ndim != 1 or not np.all((levels >= 0) & (levels <= 1)):
            raise InputError(
                f"The 'quantiles' parameter must be levels in [0, 1]. Got {quantiles!r}."
            )
        positive = finite[finite > 0]
        possible = positive.size >= 2 and bool(np.all(finite >= 0))
        if log_x is None:
            lo, hi = np.quantile(positive, [0.01, 0.99]) if possible else (1.0, 1.0)
            log_x = bool(possible and hi > 100 * lo)
        elif log_x and not possible:
            raise InputError(
                "A log x axis needs at least two positive values and none negative. "
                f"Got {positive.size:,} positive and {int((finite < 0).sum()):,} negative."
            )
        shown = positive if log_x else finite
        if log_x:
            edges = np.geomspace(shown.min(), shown.max(), bins + 1)
        else:
            edges = np.histogram_bin_edges(shown, bins)
        counts, edges = np.histogram(shown, edges)
        return cls(
            bins=pd.DataFrame({"left": edges[:-1], "right": edges[1:], "customers": counts}),
            quantiles=pd.Series(
                np.quantile(finite, levels), index=pd.Index(levels, name="quantile"), name="clv"
            ),
            log_x=bool(log_x),
            n_zero=int((finite == 0).sum()),
            n_missing=int(values.size - finite.size),
        )

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw the histogram and the quantile lines; return ``self``."""
        self.figure_, (self.ax_,) = _new_axes(ax)
        b = self.bins_
        edges = np.r_[b["left"].to_numpy(), b["right"].iloc[-1]]
        self.ax_.stairs(b["customers"].to_numpy(), edges, fill=True, alpha=0.6)
        if self.log_x_:
            self.ax_.set_xscale("log")
        for i, (level, value) in enumerate(self.quantiles_.items()):
            if value > 0 or not self.log_x_:
                style = ("--", "-.", ":")[i % 3]
                label = f"{level:.0%}: {value:,.2f}"
                self.ax_.axvline(value, color="black", linestyle=style, label=label)
        self.ax_.legend(title="quantiles")
        self.ax_.set_xlabel("Predicted CLV" + (" (log scale)" if self.log_x_ else ""))
        self.ax_.set_ylabel("Customers")
        note = f" ({self.n_zero_:,} at 0 not shown)" if self.log_x_ and self.n_zero_ else ""
        self.ax_.set_title("Predicted CLV distribution" + note)
        return self
