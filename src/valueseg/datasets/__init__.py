"""Real shops shipped with valueseg: the BTYD literature's CDNOW and donations data.

The files travel inside the package (``valueseg/datasets/data``, gzip-compressed, with a
README that keeps their provenance), so examples, tests and the demo need no download.

- :func:`load_cdnow`: CDNOW's order log (``"master"``: 23,570 customers; ``"sample"``:
  2,357) in the transactions contract (``customer_id, timestamp, amount, quantity``).
- :func:`load_cdnow_summary`: the published 39-week calibration summary of the sample
  (``customer_id, frequency, recency, T, monetary_value``, time in weeks).
- :func:`load_donations`: the BG/BB donation patterns (``frequency, recency, n_periods,
  weights``).

Examples
--------
>>> from valueseg.datasets import load_cdnow_summary
>>> from valueseg.models import BetaGeo
>>> bg = BetaGeo().fit(load_cdnow_summary())
>>> {k: round(v, 3) for k, v in bg.params_.items()}
{'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
"""

from __future__ import annotations

from valueseg.datasets.cdnow import load_cdnow, load_cdnow_summary
from valueseg.datasets.donations import load_donations

__all__ = ["load_cdnow", "load_cdnow_summary", "load_donations"]
