"""Validated, collapsed ``frequency, recency, T`` data for the continuous-time models (private)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from valueseg.errors import InputError
from valueseg.models._util import check_integer, check_rows, collapse_rows, read_column

RFT_COLUMNS = ("frequency", "recency", "T")


@dataclass
class RFTData:
    """One row per distinct (frequency, recency, T) with its weight (number of customers)."""

    x: np.ndarray
    tx: np.ndarray
    T: np.ndarray
    w: np.ndarray
    xu: np.ndarray  # distinct frequencies
    xi: np.ndarray  # index of each row's frequency in xu
    wx: np.ndarray  # total weight per distinct frequency
    n: float
    n_rows: int
    time_scale: float
    cache: dict = field(default_factory=dict)  # per-model constants derived from the rows

    def thin(self, fraction: float, rng: np.random.Generator) -> RFTData:
        """Keep each customer with probability ``fraction`` (Poisson thinning of weights)."""
        w = rng.poisson(self.w * fraction).astype(np.float64)
        keep = w > 0
        return RFTData.build(self.x[keep], self.tx[keep], self.T[keep], w[keep])

    @classmethod
    def build(cls, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray) -> RFTData:
        xi, xu = pd.factorize(x, sort=True)
        wx = np.bincount(xi, weights=w, minlength=len(xu))
        return cls(
            x=x,
            tx=tx,
            T=T,
            w=w,
            xu=np.asarray(xu, dtype=np.float64),
            xi=xi,
            wx=wx,
            n=float(w.sum()),
            n_rows=len(x),
            time_scale=float(T.max()),
        )


def check_identifiable(data: RFTData, model: str) -> None:
    """Refuse a summary from which no purchase model can be fitted."""
    if not np.any(data.x > 0):
        raise InputError(
            f"All {data.n:,.0f} customers in the summary have frequency 0 (no repeat "
            f"purchases), so {model} cannot tell the purchase rate from dropout. Use a longer "
            "observation period or more customers."
        )
    if not np.any(data.T > 0):
        raise InputError(
            f"Column 'T' is 0 for all {data.n:,.0f} customers: every customer made the first "
            "purchase at the end of observation. Pick a later observation end."
        )


def read_rft(
    frame: pd.DataFrame, weights: np.ndarray | None, model: str, collapse: bool
) -> RFTData:
    """Check the summary columns and collapse identical rows into weights."""
    x, tx, T = (read_column(frame, c, model, RFT_COLUMNS) for c in RFT_COLUMNS)
    if len(x) == 0:
        raise InputError(f"The summary given to {model}.fit has no rows.")
    check_integer(x, "frequency", "repeat purchases")
    check_rows(
        tx > T,
        "Column 'recency' exceeds column 'T' in {n} of {total} rows; recency (time from the "
        "first to the last purchase) cannot exceed T (time from the first purchase to the end "
        "of observation).",
    )
    check_rows(
        (x == 0) & (tx > 0),
        "Column 'recency' is above 0 in {n} of {total} rows whose 'frequency' is 0; "
        "a customer without repeat purchases has recency 0.",
    )
    if weights is not None:
        keep = weights > 0
        if not keep.any():
            raise InputError("Column 'weights' is 0 in every row: there are no customers to fit.")
        if not keep.all():
            x, tx, T, weights = x[keep], tx[keep], T[keep], weights[keep]
    if collapse:
        (x, tx, T), w = collapse_rows([x, tx, T], weights)
    else:
        w = np.ones(len(x)) if weights is None else weights.astype(np.float64)
    return RFTData.build(x, tx, T, w)
