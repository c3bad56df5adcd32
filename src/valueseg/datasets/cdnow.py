"""CDNOW: the order log and 39-week summary of the BTYD literature's online music shop.

CDNOW was an online music retailer. The data follow the 23,570 customers who made their
first purchase there in the first quarter of 1997 to the end of June 1998; the 1/10
systematic sample of them (2,357 customers) is the data set of the BG/NBD paper and of much
of the "buy 'til you die" literature after it, with weeks 1-39 (1997-01-01 to 1997-09-30)
for calibration and weeks 40-78 as holdout.

Provenance and licence: Peter S. Fader and Bruce G. S. Hardie's data, made public with their
papers; the files shipped here are, decompressed, byte-identical to those in the open-source
lifetimes package (0.11.3, MIT licence), whose terms valueseg redistributes them under. See
``valueseg/datasets/data/README.md`` for the checksums.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way:
An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
"""

from __future__ import annotations

import functools
from typing import Final, Literal

import pandas as pd

from valueseg.datasets._files import read_data
from valueseg.errors import InputError

__all__ = ["load_cdnow", "load_cdnow_summary"]

_FILES: Final = {"master": "CDNOW_master.txt.gz", "sample": "CDNOW_sample.txt.gz"}
_RAW_COLUMNS: Final = {
    "master": ["customer_id", "date", "quantity", "amount"],
    "sample": ["master_customer_id", "customer_id", "date", "quantity", "amount"],
}


def load_cdnow(kind: Literal["master", "sample"] = "master") -> pd.DataFrame:
    """Return CDNOW's order log: one row per purchase line, in the file's order.

    Parameters
    ----------
    kind : {"master", "sample"}, default "master"
        ``"master"``: all 23,570 customers of the Q1 1997 cohort, 69,659 lines.
        ``"sample"``: the literature's 1/10 systematic sample, 2,357 customers, 6,919 lines.

    Returns
    -------
    pandas.DataFrame
        The transactions contract that :func:`valueseg.ingest` and
        :func:`valueseg.features.rfm_summary` take:

        - ``customer_id`` (str): the customer's number without leading zeros; for the
          sample, the sample's own id (1 to 2,357), which is the ``ID`` of the published
          summary (:func:`load_cdnow_summary`).
        - ``order_id`` (str): the line's number in the file (1 = first purchase line). The
          data have no order numbers and each line is one purchase, so without it two
          purchases of one customer on one day for the same amount would read as one line
          loaded twice (255 master lines are such pairs).
        - ``timestamp`` (datetime64): the purchase day (the data have no time of day).
        - ``amount`` (float): the line's value in US dollars (80 master lines are 0).
        - ``quantity`` (int): the number of CDs bought.
        - ``master_customer_id`` (str, sample only): the customer's id in the master log.

        Several lines may share a customer and a day; the literature counts them as one
        transaction. Each call returns a new frame, free to change.

    Raises
    ------
    InputError
        ``kind`` is not ``"master"`` or ``"sample"``.

    Notes
    -----
    Provenance: Fader & Hardie's CDNOW data, as shipped by lifetimes (MIT licence); see
    the module docstring and ``docs/datasets.md``.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.

    Examples
    --------
    >>> from valueseg.datasets import load_cdnow
    >>> orders = load_cdnow()
    >>> len(orders), orders["customer_id"].nunique()
    (69659, 23570)
    >>> list(orders.columns)
    ['customer_id', 'order_id', 'timestamp', 'amount', 'quantity']
    >>> str(orders["timestamp"].min().date()), str(orders["timestamp"].max().date())
    ('1997-01-01', '1998-06-30')
    >>> sample = load_cdnow("sample")
    >>> len(sample), sample["customer_id"].nunique()
    (6919, 2357)
    >>> sample.iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'customer_id': '1', 'order_id': '1', 'timestamp': Timestamp('1997-01-01 00:00:00'),
     'amount': 29.33, 'quantity': 2, 'master_customer_id': '4'}
    """
    if kind not in _FILES:
        raise InputError(
            f"The 'kind' parameter of load_cdnow must be 'master' or 'sample'. Got {kind!r}."
        )
    return _orders(kind).copy()


@functools.lru_cache(maxsize=2)
def _orders(kind: str) -> pd.DataFrame:
    # Parsed once per process (about 50 ms for the master); callers get copies.
    raw = read_data(_FILES[kind], sep=r"\s+", header=None, skiprows=1 if kind == "master" else 0)
    raw.columns = _RAW_COLUMNS[kind]
    frame = pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype(str),
            "order_id": pd.RangeIndex(1, len(raw) + 1).astype(str),
            "timestamp": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
            "amount": raw["amount"].astype(float),
            "quantity": raw["quantity"].astype("int64"),
        }
    )
    if kind == "sample":
        frame["master_customer_id"] = raw["master_customer_id"].astype(str)
    return frame


def load_cdnow_summary() -> pd.DataFrame:
    """Return the published 39-week calibration summary of the CDNOW sample.

    One row per customer of the 2,357-customer sample, time in weeks from
    1997-01-01, calibration to 1997-09-30 (weeks 1-39). This is the table the BG/NBD paper
    fits; :func:`valueseg.features.calibration_holdout` on ``load_cdnow("sample")`` (daily
    periods, ``freq_multiplier=7``) gives the same numbers.

    Returns
    -------
    pandas.DataFrame
        The summary contract of :func:`valueseg.features.rfm_summary`, which the models in
        :mod:`valueseg.models` take, renamed from the published ``ID, x, t_x, T, zbar``:

        - ``customer_id`` (str): the sample's customer id (``ID``), as in
          ``load_cdnow("sample")``.
        - ``frequency`` (int): repeat purchases in the calibration period (``x``); purchases
          on one day count as one.
        - ``recency`` (float): weeks from the first to the last purchase (``t_x``).
        - ``T`` (float): weeks from the first purchase to the end of calibration.
        - ``monetary_value`` (float): mean value of the repeat purchases in dollars
          (``zbar``), 0 without repeat purchases.

    Notes
    -----
    Provenance: Fader & Hardie's CDNOW data, as shipped by lifetimes (MIT licence) in
    ``cdnow_customers_summary_with_transactions.csv``.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.

    Examples
    --------
    >>> from valueseg.datasets import load_cdnow_summary
    >>> summary = load_cdnow_summary()
    >>> summary.shape
    (2357, 5)
    >>> summary.head(2)
      customer_id  frequency  recency      T  monetary_value
    0           1          2    30.43  38.86           22.35
    1           2          1     1.71  38.86           11.77
    >>> int(summary["frequency"].sum())
    2457
    """
    return _summary().copy()


@functools.lru_cache(maxsize=1)
def _summary() -> pd.DataFrame:
    raw = read_data("cdnow_customers_summary_with_transactions.csv.gz")
    return pd.DataFrame(
        {
            "customer_id": raw["ID"].astype(str),
            "frequency": raw["x"].astype("int64"),
            "recency": raw["t_x"].astype(float),
            "T": raw["T"].astype(float),
            "monetary_value": raw["zbar"].astype(float),
        }
    )
