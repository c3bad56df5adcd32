"""A run's parameters, checked before the run leaves a trace in the store.

Every message names the command-line flag a user typed and what it accepts, because the
CLI passes its flags straight through; a notebook user reads the same flag names in the
docstring of :func:`valueseg.pipeline.run`.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import pandas as pd

from valueseg.actions.playbooks import Playbook, load_playbooks
from valueseg.errors import InputError, ValuesegError
from valueseg.features.rfm import FREQS as _RFM_FREQS
from valueseg.predict.learners import LEARNERS, SEQUENCE
from valueseg.predict.params import check_predict_params
from valueseg.segment.grid import RfmGrid, load_rfm_grid

#: Engines a run computes its features on.
ENGINES: Final = ("duckdb", "spark")
#: Periods of the RFM summary (the features' own list), most used first.
FREQS: Final = tuple(sorted(_RFM_FREQS, key=("D", "W", "M", "h").index))
#: Recommenders a run may fix (``--recommender``); "auto" tunes them all.
RECOMMENDERS: Final = ("auto", "als", "bpr", "item_item", "segment_popularity", "popularity")
#: What the behavioural clusters may read besides the feature table (``--cluster-features``).
CLUSTER_FEATURES: Final = ("default", "+embedding")
#: Seeds numpy's generators take.
MAX_SEED: Final = 2**32 - 1
#: Behavioural clusters looked for by default, and the most ever (``--clusters``).
CLUSTERS: Final = (3, 8)
MAX_CLUSTERS: Final = 30


@dataclass(frozen=True)
class RunParams:
    """The checked parameters of one run (``as_of`` None: the day after the last order)."""

    as_of: datetime | None
    engine: str
    freq: str
    spark_master: str
    grid: RfmGrid
    segments_config: str | None
    random_state: int
    clusters: tuple[int, int] = CLUSTERS
    horizon_days: int = 90
    learners: tuple[str, ...] = LEARNERS
    recommender: str = "auto"
    playbook: Playbook | None = None
    playbooks: str | None = None
    cluster_embedding: bool = False

    def record(self, as_of: datetime) -> dict[str, Any]:
        """The parameters as ``runs.parameters`` keeps them (JSON-ready)."""
        return {
            "as_of": as_of.isoformat(),
            "engine": self.engine,
            "freq": self.freq,
            "segments_config": self.segments_config,
            "seed": self.random_state,
            "clusters": f"{self.clusters[0]}-{self.clusters[1]}",
            "horizon": self.horizon_days,
            "learners": ",".join(self.learners),
            "recommender": self.recommender,
            "playbooks": self.playbooks,
            "cluster_features": CLUSTER_FEATURES[int(self.cluster_embedding)],
        }


def check_run_params(
    *,
    as_of: Any = None,
    engine: str = "duckdb",
    freq: str = "D",
    spark_master: str = "local[2]",
    segments_config: str | Path | None = None,
    random_state: Any = 0,
    clusters: Any = CLUSTERS,
    horizon_days: Any = 90,
    learners: Any = LEARNERS,
    recommender: Any = "auto",
    playbooks: str | Path | None = None,
    cluster_features: Any = "default",
) -> RunParams:
    """Check every parameter of a run; the first bad one raises :class:`InputError`.

    Examples
    --------
    >>> check_run_params(freq="W", as_of="2024-06-30").as_of
    datetime.datetime(2024, 6, 30, 0, 0)
    >>> check_run_params(freq="X")
    Traceback (most recent call last):
    ...
    valueseg.errors.InputError: Unknown --freq 'X'. Expected one of: D, W, M, h.
    """
    if engine not in ENGINES:
        raise InputError(f"Unknown --engine {engine!r}. Expected one of: {', '.join(ENGINES)}.")
    if engine == "spark" and importlib.util.find_spec("pyspark") is None:
        raise InputError(
            "--engine spark needs PySpark, which is not installed. "
            "Install the extra: pip install 'valueseg[spark]'."
        )
    if freq not in FREQS:
        raise InputError(f"Unknown --freq {freq!r}. Expected one of: {', '.join(FREQS)}.")
    if not isinstance(spark_master, str) or not spark_master.strip():
        raise InputError(
            f"--spark-master must be a Spark master URL such as local[2]. Got {spark_master!r}."
        )
    if isinstance(random_state, bool) or not isinstance(random_state, int):
        raise InputError(f"--seed must be a whole number. Got {random_state!r}.")
    if not 0 <= random_state <= MAX_SEED:
        raise InputError(f"--seed must be from 0 to {MAX_SEED:,}. Got {random_state:,}.")
    k_range = parse_clusters(clusters)
    embedding = _cluster_features(cluster_features)
    horizon_days, learners = check_predict_params(horizon_days, learners)
    if embedding and SEQUENCE not in learners:  # the embedding is the sequence learner's
        horizon_days, learners = check_predict_params(horizon_days, (*learners, SEQUENCE))
    if recommender not in RECOMMENDERS:
        raise InputError(
            f"Unknown --recommender {recommender!r}. Expected one of: {', '.join(RECOMMENDERS)} "
            "(auto: tune them all and keep the best)."
        )
    return RunParams(
        as_of=parse_as_of(as_of),
        engine=engine,
        freq=freq,
        spark_master=spark_master,
        grid=_grid(segments_config),
        segments_config=None if segments_config is None else str(segments_config),
        random_state=random_state,
        clusters=k_range,
        horizon_days=horizon_days,
        learners=learners,
        recommender=recommender,
        playbook=_playbook(playbooks),
        playbooks=None if playbooks is None else str(playbooks),
        cluster_embedding=embedding,
    )


def _cluster_features(value: Any) -> bool:
    """Whether ``--cluster-features`` adds the sequence learner's customer embedding."""
    text = str(value).strip().lower() if isinstance(value, str) else value
    if text not in CLUSTER_FEATURES:
        raise InputError(
            f"Unknown --cluster-features {value!r}. Expected one of: "
            f"{', '.join(CLUSTER_FEATURES)} (+embedding: the sequence learner's customer "
            "embedding beside the feature table; it needs the deep extra)."
        )
    return text == "+embedding"


def parse_clusters(value: Any) -> tuple[int, int]:
    """A ``--clusters`` range as ``(low, high)``: text ``LOW-HIGH`` (``3-8``) or one number
    (``5``: exactly five), or a pair of whole numbers.

    Examples
    --------
    >>> parse_clusters("3-8"), parse_clusters("5"), parse_clusters((2, 12))
    ((3, 8), (5, 5), (2, 12))
    >>> parse_clusters("9-3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    valueseg.errors.InputError: --clusters '9-3' must be LOW-HIGH with 2 <= LOW <= HIGH ...
    """
    bounds: list[Any] = []
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", value)
        if match:
            bounds = [int(match[1]), int(match[2] if match[2] is not None else match[1])]
    elif isinstance(value, tuple | list) and len(value) == 2:
        bounds = list(value)
    whole = len(bounds) == 2 and all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)
    if not whole or not 2 <= bounds[0] <= bounds[1] <= MAX_CLUSTERS:
        raise InputError(
            f"--clusters {_shown(value)} must be LOW-HIGH with 2 <= LOW <= HIGH <= "
            f"{MAX_CLUSTERS}. Got {value!r}."
        )
    return int(bounds[0]), int(bounds[1])


def _shown(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "-".join(map(str, value))
    return repr(value) if isinstance(value, str) else str(value)


def parse_as_of(value: Any) -> datetime | None:
    """An ``--as-of`` as a naive UTC datetime (None stays None: the default).

    Text must be an ISO 8601 date or date-time (``2024-06-30``, ``2024-06-30T12:00+02:00``);
    a day-first or month-first date such as ``05/01/2024`` is refused as ambiguous.
    """
    if value is None:
        return None
    stamp = _timestamp(value)
    if stamp is None:
        raise InputError(
            f"--as-of {value!r} is not a date. Expected an ISO date or date-time, "
            "e.g. --as-of 2024-06-30 or --as-of '2024-06-30 18:00'."
        )
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    result: datetime = stamp.to_pydatetime()
    return result


def _timestamp(value: Any) -> pd.Timestamp | None:
    try:
        if isinstance(value, str):
            stamp = pd.to_datetime(value.strip(), format="ISO8601")
        elif isinstance(value, datetime | date | pd.Timestamp):
            stamp = pd.Timestamp(value)
        else:
            return None
    except (ValueError, TypeError):
        return None
    return None if pd.isna(stamp) else stamp


def _playbook(path: str | Path | None) -> Playbook:
    try:
        return load_playbooks(path)
    except ValuesegError as exc:
        one_line = re.sub(r"\s+", " ", str(exc)).strip()
        raise InputError(f"Cannot use --playbooks: {one_line}") from None


def _grid(path: str | Path | None) -> RfmGrid:
    try:
        return load_rfm_grid(path)
    except ValuesegError as exc:
        one_line = re.sub(r"\s+", " ", str(exc)).strip()
        raise InputError(f"Cannot use --segments-config: {one_line}") from None
