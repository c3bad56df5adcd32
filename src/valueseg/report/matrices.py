"""Frequency × recency heat maps of a purchase model: P(alive) and expected purchases."""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from valueseg.errors import InputError
from valueseg.report.plots import (
    AxesLike,
    FloatArray,
    PurchaseCurves,
    _check_int,
    _Display,
    _need_columns,
    _new_axes,
)

__all__ = ["ExpectedPurchasesMatrixDisplay", "ProbabilityAliveMatrixDisplay"]


class _MatrixDisplay(_Display):
    """A model quantity on the grid of integer frequencies and recencies at age ``T``."""

    _title: ClassVar[str] = ""
    _label: ClassVar[str] = ""
    matrix_: pd.DataFrame
    T_: float

    @classmethod
    def _grid(
        cls,
        max_frequency: int | None,
        max_recency: int | None,
        T: float | None,
        summary: pd.DataFrame | None,
    ) -> tuple[FloatArray, FloatArray, float]:
        name = cls.__name__
        if summary is not None and (max_frequency is None or max_recency is None):
            age_col = "T" if "T" in getattr(summary, "columns", ()) else "n_periods"
            _need_columns(summary, ["frequency", age_col], "the summary", "Pass rfm_summary's.")
            max_frequency = (
                int(summary["frequency"].max()) if max_frequency is None else max_frequency
            )
            max_recency = int(summary[age_col].max()) if max_recency is None else max_recency
        if max_frequency is None or max_recency is None:
            raise InputError(
                f"{name} needs max_frequency and max_recency, or the summary the model was "
                f"fitted on (summary=...) to take them from. Got max_frequency={max_frequency!r}, "
                f"max_recency={max_recency!r}."
            )
        mf = _check_int(max_frequency, "max_frequency", name)
        mr = _check_int(max_recency, "max_recency", name)
        age = float(mr if T is None else T)
        if not age >= mr:
            raise InputError(
                f"T ({T!r}) must be at least max_recency ({mr}): a customer's last purchase "
                "cannot come after the end of observation."
            )
        freq, rec = np.meshgrid(np.arange(mf + 1.0), np.arange(mr + 1.0), indexing="ij")
        return freq, rec, age

    @staticmethod
    def _frame(values: ArrayLike, freq: FloatArray, rec: FloatArray) -> pd.DataFrame:
        return pd.DataFrame(
            np.asarray(values, dtype=np.float64),
            index=pd.Index(freq[:, 0].astype(np.int64), name="frequency"),
            columns=pd.Index(rec[0].astype(np.int64), name="recency"),
        )

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw the heat map (frequency across, recency up); return ``self``."""
        self.figure_, (self.ax_,) = _new_axes(ax)
        m = self.matrix_
        extent = (-0.5, float(m.index[-1]) + 0.5, -0.5, float(m.columns[-1]) + 0.5)
        image = self.ax_.imshow(
            m.to_numpy().T, origin="lower", aspect="auto", interpolation="none", extent=extent
        )
        self.figure_.colorbar(image, ax=self.ax_, label=self._label)
        # (matplotlib's stubs give Locator.set_params no arguments, though its subclasses
        # take them; the locator here is an AutoLocator, whose set_params takes integer=)
        self.ax_.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
        self.ax_.set_xlabel("Frequency (repeat purchases)")
        self.ax_.set_ylabel("Recency (age at last purchase)")
        self.ax_.set_title(self._title.format(self=self))
        return self


class ProbabilityAliveMatrixDisplay(_MatrixDisplay):
    """P(alive) by frequency and recency, for customers of age ``T``.

    lifetimes' ``plot_probability_alive_matrix``: every integer frequency 0..max_frequency
    and recency 0..max_recency, at age ``T`` (default ``max_recency``).

    Attributes
    ----------
    matrix_ : pandas.DataFrame
        Indexed by ``frequency``, columns ``recency``.
    T_ : float
    figure_, ax_ : set by :meth:`plot`.

    Examples
    --------
    >>> from valueseg.models import BetaGeo
    >>> from valueseg.report import ProbabilityAliveMatrixDisplay
    >>> model = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> disp = ProbabilityAliveMatrixDisplay.from_model(model, max_frequency=3, max_recency=4)
    >>> disp.matrix_.round(2)  # doctest: +NORMALIZE_WHITESPACE
    recency       0     1     2     3     4
    frequency
    0          1.00  1.00  1.00  1.00  1.00
    1          0.58  0.64  0.69  0.72  0.75
    2          0.50  0.62  0.70  0.76  0.81
    3          0.41  0.57  0.70  0.79  0.85
    """

    _title = "Probability alive at age {self.T_:g}"
    _label = "P(alive)"

    @classmethod
    def from_model(
        cls,
        model: PurchaseCurves,
        max_frequency: int | None = None,
        max_recency: int | None = None,
        T: float | None = None,
        *,
        summary: pd.DataFrame | None = None,
    ) -> ProbabilityAliveMatrixDisplay:
        """Evaluate ``model.probability_alive`` on the frequency × recency grid.

        Parameters
        ----------
        model : fitted purchase model
        max_frequency, max_recency : int, optional
            Grid limits; when omitted, the largest frequency and T of ``summary`` (the
            summary the model was fitted on), as lifetimes does.
        T : float, optional
            Customers' age; defaults to ``max_recency``.
        """
        freq, rec, age = cls._grid(max_frequency, max_recency, T, summary)
        return cls(matrix=cls._frame(model.probability_alive(freq, rec, age), freq, rec), T=age)


class ExpectedPurchasesMatrixDisplay(_MatrixDisplay):
    """Expected purchases in the next ``t`` by frequency and recency, at age ``T``.

    lifetimes' ``plot_frequency_recency_matrix``; the grid as in
    :class:`ProbabilityAliveMatrixDisplay`.

    Attributes
    ----------
    matrix_ : pandas.DataFrame
        Indexed by ``frequency``, columns ``recency``.
    t_, T_ : float
    figure_, ax_ : set by :meth:`plot`.

    Examples
    --------
    >>> from valueseg.models import BetaGeo
    >>> from valueseg.report import ExpectedPurchasesMatrixDisplay
    >>> model = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> disp = ExpectedPurchasesMatrixDisplay.from_model(
    ...     model, t=4, max_frequency=2, max_recency=3)
    >>> disp.matrix_.round(3)  # doctest: +NORMALIZE_WHITESPACE
    recency        0      1      2      3
    frequency
    0          0.122  0.122  0.122  0.122
    1          0.374  0.409  0.436  0.457
    2          0.619  0.734  0.816  0.875
    """

    _title = "Expected purchases in the next {self.t_:g} (age {self.T_:g})"
    _label = "Expected purchases"
    t_: float

    @classmethod
    def from_model(
        cls,
        model: PurchaseCurves,
        t: float = 1.0,
        max_frequency: int | None = None,
        max_recency: int | None = None,
        T: float | None = None,
        *,
        summary: pd.DataFrame | None = None,
    ) -> ExpectedPurchasesMatrixDisplay:
        """Evaluate ``model.expected_purchases(t, ...)`` on the frequency × recency grid.

        ``t`` is the horizon in the model's time unit; the other parameters as in
        :meth:`ProbabilityAliveMatrixDisplay.from_model`.
        """
        if isinstance(t, bool) or not isinstance(t, (int, float, np.number)) or not t > 0:
            raise InputError(f"The 't' parameter must be a positive number. Got {t!r}.")
        freq, rec, age = cls._grid(max_frequency, max_recency, T, summary)
        values = model.expected_purchases(float(t), freq, rec, age)
        return cls(matrix=cls._frame(values, freq, rec), t=float(t), T=age)
