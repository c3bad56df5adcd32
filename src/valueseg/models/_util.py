"""Input checks and array helpers shared by the value models (private)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from valueseg.errors import InputError

__all__ = [
    "as_float",
    "as_frame",
    "check_integer",
    "check_rows",
    "collapse_rows",
    "dot",
    "log_hyp2f1",
    "random_generator",
    "read_column",
    "softplus_sigmoid",
    "wrap_like",
]


def as_float(value: Any) -> np.ndarray:
    """A float64 array view of a scalar, list, numpy array or pandas Series."""
    return np.asarray(value, dtype=np.float64)


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two 1-d arrays without BLAS (threaded ``ddot`` is slow when busy)."""
    return float(np.einsum("i,i->", a, b))


#: Most terms summed by :func:`log_hyp2f1`'s power series.
_SERIES_TERMS = 2_000
#: Largest term over the sum that :func:`log_hyp2f1` accepts (about 10 digits kept).
_SERIES_CANCELLATION = 1e6


def _series(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The power series of 2F1(a, b; c; z) and where it is good (converged, no cancellation)."""
    term = np.ones_like(z)
    total = np.ones_like(z)
    largest = np.ones_like(z)
    done = np.zeros(z.shape, dtype=bool)
    with np.errstate(all="ignore"):
        for k in range(_SERIES_TERMS):
            term = term * ((a + k) * (b + k) / ((c + k) * (k + 1.0)) * z)
            total = np.where(done, total, total + term)
            largest = np.maximum(largest, np.abs(term))
            done |= np.abs(term) <= 1e-17 * np.abs(total)
            if done.all():
                break
        good = done & np.isfinite(total) & (largest <= _SERIES_CANCELLATION * np.abs(total))
    return total, good


def log_hyp2f1(a: Any, b: Any, c: Any, z: Any) -> np.ndarray:
    """``log 2F1(a, b; c; z)`` for ``0 <= z < 1`` and any size of parameters.

    scipy's ``hyp2f1`` gives NaN or inf for parameters in the hundreds of thousands, even
    where the function is near 1 (a fit of customers who differ little reaches them: a
    model's shape and scale parameters grow together). Where it does, the power series
    ``sum_k (a)_k (b)_k / ((c)_k k!) z^k`` is summed instead, or, where that converges too
    slowly or its terms cancel, the series of Euler's transformation
    ``2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z)``, in log space so that
    a value beyond the floating-point range still has a finite log. Where neither series
    converges within ``_SERIES_TERMS`` terms without cancelling beyond
    ``_SERIES_CANCELLATION``, the value stays NaN.

    Examples
    --------
    >>> from scipy import special
    >>> args = (-2.7e5, 1.46e5, 2.3e5, 4.4e-7)
    >>> bool(np.isnan(special.hyp2f1(*args)))
    True
    >>> round(float(np.exp(log_hyp2f1(*args))), 12)  # to 60 digits: 0.927361170290369862...
    0.92736117029
    >>> bool(np.isfinite(special.hyp2f1(7e5, 2e5, 7e5 + 1, 0.77)))  # beyond the float range
    False
    >>> round(float(log_hyp2f1(7e5, 2e5, 7e5 + 1, 0.77)), 6)  # to 80 digits: 293934.522845066
    293934.522845
    """
    with np.errstate(all="ignore"):
        out = np.array(np.log(special.hyp2f1(a, b, c, z)), dtype=np.float64)
    bad = ~np.isfinite(out)
    if not bad.any():
        return out
    aa, bb, cc, zz = (np.broadcast_to(as_float(v), out.shape)[bad] for v in (a, b, c, z))
    direct, good = _series(aa, bb, cc, zz)
    good &= direct > 0
    fixed = np.full(zz.shape, np.nan)
    with np.errstate(all="ignore"):
        fixed[good] = np.log(direct[good])
        rest = ~good  # Euler's series, where the direct one did not do
        a2, b2, c2, z2 = aa[rest], bb[rest], cc[rest], zz[rest]
        euler, good_euler = _series(c2 - a2, c2 - b2, c2, z2)
        fixed[rest] = np.where(
            good_euler & (euler > 0), (c2 - a2 - b2) * np.log1p(-z2) + np.log(euler), np.nan
        )
    out[bad] = fixed
    return out


def softplus_sigmoid(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log(1 + exp(z))`` and ``1 / (1 + exp(-z))`` from one ``exp`` (several times faster
    than ``np.logaddexp(0, z)`` and ``expit``), exact at both infinities."""
    e = np.exp(-np.abs(z))
    return np.maximum(z, 0.0) + np.log1p(e), np.where(z >= 0, 1.0, e) / (1.0 + e)


def wrap_like(result: np.ndarray, *inputs: Any) -> Any:
    """Return ``result`` as a Series when an input is one, a float when all are scalars."""
    for item in inputs:
        if isinstance(item, pd.Series) and np.shape(result) == (len(item),):
            return pd.Series(result, index=item.index)
    if np.ndim(result) == 0:
        return float(result)
    return result


def as_frame(summary: Any, model: str) -> pd.DataFrame:
    if isinstance(summary, pd.DataFrame):
        return summary
    if isinstance(summary, dict):
        return pd.DataFrame(summary)
    raise InputError(
        f"{model}.fit expects a pandas DataFrame with the summary columns. "
        f"Got {type(summary).__name__}."
    )


def read_column(frame: pd.DataFrame, name: str, model: str, needed: Sequence[str]) -> np.ndarray:
    if name not in frame.columns:
        available = ", ".join(map(str, frame.columns)) or "none"
        raise InputError(
            f"Column '{name}' not found in the summary given to {model}.fit. "
            f"Available: {available}. {model} needs columns {', '.join(needed)} "
            "(and an optional 'weights'); valueseg.features.rfm_summary makes them."
        )
    try:
        values = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"Column '{name}' of the summary must be numeric. Got dtype {frame[name].dtype}."
        ) from exc
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise InputError(
            f"Column '{name}' has {bad:,} missing or infinite values out of {len(values):,} rows. "
            "Drop or fill those customers before fitting."
        )
    negative = int(np.count_nonzero(values < 0))
    if negative:
        raise InputError(
            f"Column '{name}' has {negative:,} negative values out of {len(values):,} rows; "
            f"'{name}' cannot be negative. Check how the summary was built."
        )
    return values


def check_integer(values: np.ndarray, name: str, why: str) -> None:
    """Refuse non-integer values in a count column."""
    bad = int(np.count_nonzero(values != np.round(values)))
    if bad:
        raise InputError(
            f"Column '{name}' has {bad:,} non-integer values out of {len(values):,} rows; "
            f"it counts {why}."
        )


def check_rows(mask: np.ndarray, message: str) -> None:
    """Refuse the rows where ``mask`` holds; ``message`` gets ``{n}`` and ``{total}``."""
    bad = int(np.count_nonzero(mask))
    if bad:
        raise InputError(message.format(n=f"{bad:,}", total=f"{len(mask):,}"))


def collapse_rows(
    columns: Sequence[np.ndarray], weights: np.ndarray | None
) -> tuple[list[np.ndarray], np.ndarray]:
    """Merge identical rows of ``columns`` into one row each, summing their weights.

    Hash-based (``pandas.factorize``), so linear in the number of rows; the order of the
    distinct rows is that of their first appearance.

    Examples
    --------
    >>> import numpy as np
    >>> cols, w = collapse_rows([np.array([1.0, 2, 1]), np.array([5.0, 6, 5])], None)
    >>> [c.tolist() for c in cols], w.tolist()
    ([[1.0, 2.0], [5.0, 6.0]], [2.0, 1.0])
    """
    spans = _integer_spans(columns)
    if spans is not None:  # small whole numbers (daily summaries): one arithmetic key
        packed = np.zeros(len(columns[0]), dtype=np.int64)
        for col, span in zip(columns, spans, strict=True):
            packed *= span
            packed += col.astype(np.int64)
        groups, kept = pd.factorize(packed, sort=False)
        summed = np.bincount(groups, weights=weights, minlength=len(kept)).astype(np.float64)
        out = []
        for span in spans[::-1]:
            kept, digit = np.divmod(kept, span)
            out.append(digit.astype(np.float64))
        return out[::-1], summed
    key: np.ndarray | None = None
    n_keys = 1
    for col in columns:
        codes, uniques = pd.factorize(col, sort=False)
        if key is None:
            key, n_keys = codes.astype(np.int64), len(uniques)
            continue
        if n_keys * len(uniques) >= 2**62:
            key, kept = pd.factorize(key, sort=False)
            key, n_keys = key.astype(np.int64), len(kept)
        key = key * len(uniques) + codes
        n_keys *= len(uniques)
    assert key is not None
    groups, kept = pd.factorize(key, sort=False)
    n = len(groups)
    summed = np.bincount(groups, weights=weights, minlength=len(kept)).astype(np.float64)
    first = np.empty(len(kept), dtype=np.intp)
    first[groups[::-1]] = np.arange(n - 1, -1, -1)
    return [np.ascontiguousarray(col[first]) for col in columns], summed


def _integer_spans(columns: Sequence[np.ndarray]) -> list[int] | None:
    """``max + 1`` of each column when all hold non-negative whole numbers whose combined
    range fits an int64 key; None otherwise."""
    spans, total = [], 1
    for col in columns:
        span = int(col.max(initial=0.0)) + 1
        total *= span
        if total >= 2**62 or col.min(initial=0.0) < 0 or not np.array_equal(col, np.floor(col)):
            return None
        spans.append(span)
    return spans


def random_generator(random_state: Any) -> np.random.Generator:
    """A numpy Generator from None, an int seed or a Generator (never the global RNG)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, int | np.integer):
        return np.random.default_rng(random_state)
    raise InputError(
        "random_state must be None, an int or a numpy Generator. "
        f"Got {type(random_state).__name__}."
    )
