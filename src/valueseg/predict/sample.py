"""A sample of the validation fold's predictions, kept with the run for the report.

The report draws every model's ROC, precision-recall, calibration and gain curves from it
(:mod:`valueseg.report.predict_plots`); a uniform sample of at most :data:`SAMPLE_ROWS`
validation rows per task draws them to within a pixel and keeps the store small.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
import pandas as pd

from valueseg.predict.evaluate import CrossValidation

__all__ = ["SAMPLE_ROWS", "validation_sample"]

#: Validation rows kept per task.
SAMPLE_ROWS: Final = 5_000
_COLUMNS = ["task", "row", "target", "model", "prediction"]


def validation_sample(
    validation: Mapping[str, CrossValidation], n: int = SAMPLE_ROWS, random_state: int = 0
) -> pd.DataFrame:
    """``task, row, target, model, prediction``: the same ``n`` rows for every model.

    Examples
    --------
    >>> cv = CrossValidation("churn", np.arange(3), np.array([0.0, 1.0, 1.0]),
    ...     pd.DataFrame({"lr": [0.2, 0.7, 0.9], "btyd": [0.4, 0.5, 0.6]}), {}, {})
    >>> validation_sample({"churn": cv}, n=2).groupby("model").size().tolist()
    [2, 2]
    """
    parts = []
    for task, cv in validation.items():
        size = len(cv.target)
        rng = np.random.default_rng(random_state)
        rows = np.sort(rng.choice(size, size=min(n, size), replace=False))
        for model in cv.predictions.columns:
            parts.append(
                pd.DataFrame(
                    {
                        "task": task,
                        "row": rows.astype(np.int32),
                        "target": np.asarray(cv.target, np.float64)[rows],
                        "model": str(model),
                        "prediction": cv.predictions[model].to_numpy(np.float64)[rows],
                    }
                )
            )
    if not parts:
        return pd.DataFrame(columns=_COLUMNS)
    return pd.concat(parts, ignore_index=True)[_COLUMNS]
