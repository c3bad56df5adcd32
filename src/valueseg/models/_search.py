"""Numerical pieces of the likelihood search (private): finite-difference Hessians, the
chord iteration that takes a sample's optimum to the full data's, and one BLAS thread.

See :mod:`valueseg.models._base` for how a fit uses them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Bounds", "Objective", "Optimum", "chord", "hessian", "is_pd", "one_blas_thread"]

#: Mean penalised negative log-likelihood and its gradient, over the log-parameters.
Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]
Bounds = list[tuple[float, float]]


@dataclass
class Optimum:
    """A point the search reached: log-parameters, objective, its gradient, iterations."""

    log_theta: np.ndarray
    value: float
    grad: np.ndarray
    n_iter: int
    success: bool
    message: str


def hessian(
    grad: Callable[[np.ndarray], np.ndarray], x: np.ndarray, g0: np.ndarray, central: bool
) -> np.ndarray:
    """Finite differences of an analytic gradient (forward, or central when it is noisy)."""
    k = len(x)
    hess = np.empty((k, k))
    for j in range(k):
        h = (1e-4 if central else 1e-6) * max(1.0, abs(x[j]))
        up = x.copy()
        up[j] += h
        if central:
            down = x.copy()
            down[j] -= h
            hess[:, j] = (grad(up) - grad(down)) / (2 * h)
        else:
            hess[:, j] = (grad(up) - g0) / h
    return (hess + hess.T) / 2


def chord(
    fun: Objective, x: np.ndarray, hess: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> Optimum | None:
    """Newton's iteration with a fixed Hessian (the sample's) on the full data: one gradient
    per step, converging at the rate the two Hessians differ (a few per cent). None when a
    step fails to improve, for L-BFGS-B to take over."""
    if not is_pd(hess):
        return None
    value, grad = fun(x)
    for i in range(1, 30):
        step = -np.linalg.solve(hess, grad)
        x_new = np.clip(x + step, lo, hi)
        new_value, new_grad = fun(x_new)
        if not new_value <= value + 1e-14 * abs(value):
            return None
        x, value, grad = x_new, new_value, new_grad
        if np.max(np.abs(step)) < 1e-7:
            return Optimum(x, value, grad, i, True, "converged with the sample's curvature")
    return None


def is_pd(matrix: np.ndarray) -> bool:
    """Positive definite and finite (Cholesky succeeds)."""
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(np.isfinite(matrix)))


_CONTROLLER: list[Any] = []


def one_blas_thread() -> AbstractContextManager[object]:
    """Keep BLAS on one thread while optimising: the matrices are tiny (4 x 4 to 40 x 40),
    and a threaded BLAS spinning up for each of L-BFGS-B's calls costs more than the
    likelihood itself on a busy machine (as scikit-learn does for k-means)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    limiter: AbstractContextManager[object] = _CONTROLLER[0].limit(limits=1, user_api="blas")
    return limiter
