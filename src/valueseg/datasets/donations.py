"""Donations: the discrete-time repeat-donation data of the BG/BB paper.

The 1995 cohort of a non-profit organisation's first-time donors (11,104 people), followed
over the next 6 yearly donation opportunities. Each donor is summarised by frequency (years
with a repeat donation) and recency (the last such year), and donors with the same pattern
are counted in ``weights``: 22 patterns in all.

Provenance and licence: Peter S. Fader and Bruce G. S. Hardie's data, made public with the
BG/BB paper; the file shipped here is, decompressed, byte-identical to ``donations.csv`` in
the open-source lifetimes package (0.11.3, MIT licence), whose terms valueseg redistributes
it under. See ``valueseg/datasets/data/README.md`` for the checksum.

References
----------
Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-Base Analysis in a Discrete-Time
Noncontractual Setting. Marketing Science 29(6), 1086-1108.
"""

from __future__ import annotations

import functools

import pandas as pd

from valueseg.datasets._files import read_data

__all__ = ["load_donations"]


def load_donations() -> pd.DataFrame:
    """Return the BG/BB donation patterns: one row per (frequency, recency) pattern.

    Returns
    -------
    pandas.DataFrame
        The summary :class:`valueseg.models.BetaGeoBetaBinom` fits, all columns int:

        - ``frequency``: years, of the 6, in which the donor gave again.
        - ``recency``: the last year (1 to 6) in which they gave; 0 if they never did.
        - ``n_periods``: the donation opportunities observed, 6 for everyone (published
          as ``periods``).
        - ``weights``: the number of donors with this pattern.

    Notes
    -----
    Provenance: Fader & Hardie's donation data, as shipped by lifetimes (MIT licence).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-Base Analysis in a
    Discrete-Time Noncontractual Setting. Marketing Science 29(6), 1086-1108.

    Examples
    --------
    >>> from valueseg.datasets import load_donations
    >>> donations = load_donations()
    >>> donations.shape, int(donations["weights"].sum())
    ((22, 4), 11104)
    >>> donations.head(3)
       frequency  recency  n_periods  weights
    0          0        0          6     3464
    1          1        1          6     1091
    2          1        2          6      277
    """
    return _donations().copy()


@functools.lru_cache(maxsize=1)
def _donations() -> pd.DataFrame:
    raw = read_data("donations.csv.gz").rename(columns={"periods": "n_periods"})
    return raw[["frequency", "recency", "n_periods", "weights"]].astype("int64")
