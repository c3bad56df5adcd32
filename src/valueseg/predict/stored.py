"""What ``valueseg predict --run N`` prints: a stored run's leaderboard and its reasons.

Reads the ``predict_fits`` rows a run wrote (:func:`valueseg.store.predict.read_predict_fits`)
back into the leaderboard frame :func:`valueseg.predict.evaluate.leaderboard_frame` builds,
and the reason of each chosen model or fallback.
"""

from __future__ import annotations

import pandas as pd

from valueseg.predict.evaluate import leaderboard_frame
from valueseg.store import Store
from valueseg.store.predict import read_predict_fits

__all__ = ["stored_leaderboard", "stored_reasons"]


def stored_leaderboard(store: Store, run_id: int) -> pd.DataFrame:
    """``task, model, <metrics>, chosen`` of run ``run_id`` (no rows: the run has none)."""
    return leaderboard_frame(read_predict_fits(store, run_id))


def stored_reasons(store: Store, run_id: int) -> list[str]:
    """One line per task: the chosen model and why (a fallback's reason included)."""
    lines = []
    for fit in read_predict_fits(store, run_id):
        if fit["chosen"]:
            lines.append(f"{fit['task']}: {fit['model']} ({fit['reason'] or 'chosen'})")
    return lines
