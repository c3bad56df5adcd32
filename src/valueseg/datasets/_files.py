"""Reading the data files shipped in ``valueseg/datasets/data`` (private)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pandas as pd

#: The package whose ``data`` folder holds the gzip-compressed files.
DATA_PACKAGE = "valueseg.datasets"


def read_data(name: str, **read_csv: Any) -> pd.DataFrame:
    """Read the shipped file ``data/<name>`` (gzip-compressed) with ``pandas.read_csv``.

    Works from a wheel, a source checkout or a zip import alike (``importlib.resources``).

    Examples
    --------
    >>> read_data("donations.csv.gz").shape
    (22, 4)
    """
    resource = resources.files(DATA_PACKAGE).joinpath("data", name)
    with resource.open("rb") as handle:
        return pd.read_csv(handle, compression="gzip", **read_csv)
