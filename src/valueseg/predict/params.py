"""The predict stage's parameters, checked before a run starts (``--horizon``, ``--learners``).

Each message names the command-line flag, what it got and what it accepts, as
:mod:`valueseg.params` does for the run's other flags.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from valueseg.errors import InputError, did_you_mean
from valueseg.predict.learners import EXTRA_LEARNERS, LEARNERS, SEQUENCE, SEQUENCE_NEEDS_TORCH

__all__ = ["MAX_HORIZON_DAYS", "check_predict_params"]

#: The longest horizon accepted (ten years).
MAX_HORIZON_DAYS: Final = 3650


def check_predict_params(horizon_days: Any, learners: Any) -> tuple[int, tuple[str, ...]]:
    """(horizon in days, learner names): checked, duplicates dropped, order kept.

    ``learners`` is a comma-separated string (the CLI's ``--learners lr,rf``) or a
    sequence of names, among the defaults (``lr, tree, rf, lgbm``) and ``sequence``; a
    leading ``+`` adds the names to the defaults (``--learners +sequence``). Asking for
    ``sequence`` without PyTorch installed is refused here, naming the ``deep`` extra.

    Examples
    --------
    >>> check_predict_params(90, "lgbm, lr,lgbm")
    (90, ('lgbm', 'lr'))
    >>> check_predict_params(90, "+sequence")[1]  # needs PyTorch  # doctest: +SKIP
    ('lr', 'tree', 'rf', 'lgbm', 'sequence')
    >>> check_predict_params(90, "xgb")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    valueseg.errors.InputError: Unknown learner 'xgb' in --learners. Expected a comma-...
    """
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int):
        raise InputError(
            f"--horizon must be a whole number of days, such as --horizon 90. Got {horizon_days!r}."
        )
    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise InputError(
            f"--horizon must be from 1 to {MAX_HORIZON_DAYS:,} days. Got {horizon_days:,}."
        )
    return horizon_days, _learners(learners)


def _learners(value: Any) -> tuple[str, ...]:
    expected = (
        f"Expected a comma-separated list of: {', '.join(LEARNERS)} (default: all of them)."
        f" A leading + adds to them: --learners +{SEQUENCE}."
    )
    if isinstance(value, str):
        names: list[Any] = value.split(",")
    elif isinstance(value, Iterable):
        names = list(value)
    else:
        raise InputError(f"--learners must be a list of learner names. Got {value!r}. {expected}")
    known = (*LEARNERS, *EXTRA_LEARNERS)
    plus = bool(names) and str(names[0]).strip().startswith("+")
    out: list[str] = list(LEARNERS) if plus else []
    for raw in names:
        name = str(raw).strip().lower().removeprefix("+").strip()
        if not name:
            continue
        if name not in known:
            guess = did_you_mean(name, known)
            hint = f" Did you mean '{guess}'?" if guess else ""
            raise InputError(f"Unknown learner {name!r} in --learners.{hint} {expected}")
        if name not in out:
            out.append(name)
    if not out:
        raise InputError(f"--learners names no learner. Got {value!r}. {expected}")
    if SEQUENCE in out and not _torch_installed():
        raise InputError(SEQUENCE_NEEDS_TORCH)
    return tuple(out)


def _torch_installed() -> bool:
    """Whether PyTorch can be imported, without importing it."""
    import importlib.util

    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False
