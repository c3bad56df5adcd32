"""Fitting machinery shared by the value models (private).

Every model maximises a weighted log-likelihood over log-parameters with an analytic
gradient. Identical summary rows are first collapsed into weights. Candidate starting points
are scored and the best ``n_starts`` optimised with L-BFGS-B; with many customers this
exploration runs on a thinned sample (50k customers), whose optimum and curvature then take
the full data to its optimum in a few gradient steps. Newton steps on a Hessian from finite
differences of the gradient polish the optimum, and the same Hessian (in the natural
parameters) gives the standard errors. A fit whose gradient is not zero, whose Hessian is not
positive definite or whose parameter ran to its bound raises :class:`ConvergenceError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

from valueseg.errors import InputError, ValuesegError
from valueseg.models._util import as_frame, read_column

__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "LikelihoodModel",
    "NotFittedError",
    "PurchaseModel",
]

_FAILURE_MODES = ("raise", "warn")
_EXPLORE = 50_000  # customers in the thinned sample on which large data sets are explored
_BOUND_MARGIN = 0.05  # a log-parameter this close to its bound counts as on the boundary


class NotFittedError(ValuesegError, _SklearnNotFittedError):
    """A model was used before ``fit`` (or ``from_params``)."""


class ConvergenceError(ValuesegError, RuntimeError):
    """Maximum likelihood did not converge, or converged onto a parameter boundary.

    ``reason`` is what went wrong without the advice on what to try.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class ConvergenceWarning(UserWarning):
    """Warned instead of :class:`ConvergenceError` when ``on_failure="warn"``; ``reason``
    as there."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


# --------------------------------------------------------------------------------------
# optimisation


@dataclass
class _Optimum:
    log_theta: np.ndarray
    value: float
    grad: np.ndarray
    n_iter: int
    success: bool
    message: str


def _hessian(
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


def _chord(
    fun: Callable, x: np.ndarray, hess: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> _Optimum | None:
    """Newton's iteration with a fixed Hessian (the sample's) on the full data: one gradient
    per step, converging at the rate the two Hessians differ (a few per cent). None when a
    step fails to improve, for L-BFGS-B to take over."""
    if not _is_pd(hess):
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
            return _Optimum(x, value, grad, i, True, "converged with the sample's curvature")
    return None


def _is_pd(matrix: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(np.isfinite(matrix)))


class LikelihoodModel(BaseEstimator):
    """Base of the models: hyperparameters, ``fit``, ``score`` and the fitted attributes.

    Subclasses declare ``_param_names``, ``_time_params`` (parameters measured in the
    summary's time unit), ``_columns`` and implement ``_prepare`` (validated, collapsed data),
    ``_loglik`` (total log-likelihood and its gradient in the natural parameters) and
    ``_starts`` (candidate starting points).
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    _time_params: ClassVar[tuple[str, ...]] = ()
    _columns: ClassVar[tuple[str, ...]] = ()
    _alternatives: ClassVar[str] = ""
    #: the gradient holds finite differences: take central differences for the Hessian
    _noisy_gradient: ClassVar[bool] = False

    def __init__(
        self,
        *,
        penalizer_coef: float = 0.0,
        n_starts: int = 2,
        tol: float = 1e-7,
        max_iter: int = 1000,
        collapse: bool = True,
        on_failure: str = "raise",
    ) -> None:
        self.penalizer_coef = penalizer_coef
        self.n_starts = n_starts
        self.tol = tol
        self.max_iter = max_iter
        self.collapse = collapse
        self.on_failure = on_failure

    # ---- the pieces a model provides

    def _prepare(self, frame: pd.DataFrame, weights: np.ndarray | None) -> Any:
        raise NotImplementedError

    def _loglik(self, theta: np.ndarray, data: Any) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def _starts(self, data: Any) -> list[np.ndarray]:
        raise NotImplementedError

    def _check_identifiable(self, data: Any) -> None:
        """Refuse (InputError) data that cannot identify the model; checked by fit only."""

    # ---- public

    @classmethod
    def from_params(cls, **params: float) -> Any:
        """A model with known parameters, ready to predict and simulate without fitting.

        Examples
        --------
        >>> from valueseg.models import BetaGeo
        >>> BetaGeo.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5).params_["alpha"]
        4.0
        """
        names = cls._param_names
        if set(params) != set(names):
            raise InputError(
                f"{cls.__name__}.from_params needs exactly the parameters {', '.join(names)}. "
                f"Got {', '.join(params) or 'none'}."
            )
        bad = [k for k in names if not (np.isfinite(params[k]) and params[k] > 0)]
        if bad:
            raise InputError(
                f"{cls.__name__} parameters must be positive and finite. "
                f"Got {', '.join(f'{k}={params[k]!r}' for k in bad)}."
            )
        model = cls()
        model.params_ = {k: float(params[k]) for k in names}
        return model

    def fit(self, summary: Any) -> Any:
        """Fit by maximum likelihood; see the class docstring for the columns."""
        self._check_hyperparameters()
        name = type(self).__name__
        frame = as_frame(summary, name)
        weights = None
        if "weights" in frame.columns:
            weights = read_column(frame, "weights", name, [*self._columns, "weights"])
        data = self._prepare(frame, weights)
        self._check_identifiable(data)
        with _one_blas_thread():
            self._run_fit(data)
        return self

    def score(self, summary: Any) -> float:
        """Mean log-likelihood per customer of ``summary`` at the fitted parameters.

        Higher is better (scikit-learn's convention); comparable across models fitted on the
        same summary, e.g. on a holdout. Same columns and checks as ``fit``.
        """
        self._check_fitted()
        name = type(self).__name__
        frame = as_frame(summary, name)
        weights = None
        if "weights" in frame.columns:
            weights = read_column(frame, "weights", name, [*self._columns, "weights"])
        data = self._prepare(frame, weights)
        ll, _ = self._loglik(self._theta(), data)
        return float(ll) / data.n

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "params_")

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            name = type(self).__name__
            raise NotFittedError(
                f"This {name} is not fitted yet. Call {name}().fit(summary) first, "
                f"or build one from known parameters with {name}.from_params(...)."
            )

    def _theta(self) -> np.ndarray:
        self._check_fitted()
        return np.array([self.params_[k] for k in self._param_names])

    # ---- machinery

    def _check_hyperparameters(self) -> None:
        name = type(self).__name__
        checks = [
            ("penalizer_coef", self.penalizer_coef, "a float >= 0", _nonneg_float),
            ("n_starts", self.n_starts, "an int >= 1", _positive_int),
            ("tol", self.tol, "a float > 0", _positive_float),
            ("max_iter", self.max_iter, "an int >= 1", _positive_int),
        ]
        for param, value, expected, ok in checks:
            if not ok(value):
                raise InputError(
                    f"The '{param}' parameter of {name} must be {expected}. Got {value!r}."
                )
        if self.on_failure not in _FAILURE_MODES:
            raise InputError(
                f"The 'on_failure' parameter of {name} must be 'raise' or 'warn'. "
                f"Got {self.on_failure!r}."
            )

    def _penalty_scale(self, data: Any) -> np.ndarray:
        """Divide time parameters by the longest T, as lifetimes' penalizer does."""
        return np.array(
            [1.0 / data.time_scale if k in self._time_params else 1.0 for k in self._param_names]
        )

    def _natural_scale(self, data: Any) -> np.ndarray:
        """The scale each parameter lives on (time parameters: the longest T)."""
        return np.array(
            [data.time_scale if k in self._time_params else 1.0 for k in self._param_names]
        )

    def _bounds(self, data: Any) -> list[tuple[float, float]]:
        """Log-parameters stay within six orders of magnitude of their natural scale."""
        width = math.log(1e6)
        return [(c - width, c + width) for c in np.log(self._natural_scale(data))]

    def _objective(self, data: Any) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
        n = data.n
        scale = self._penalty_scale(data)
        coef = float(self.penalizer_coef)

        def fun(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
            theta = np.exp(log_theta)
            with np.errstate(all="ignore"):
                ll, grad = self._loglik(theta, data)
            scaled = theta * scale
            value = -ll / n + coef * float(scaled @ scaled)
            g_nat = -grad / n + 2 * coef * scaled * scale
            if not np.isfinite(value) or not np.all(np.isfinite(g_nat)):
                return np.inf, np.zeros_like(theta)
            return value, g_nat * theta

        return fun

    def _optimise(
        self, fun: Callable, start: np.ndarray, bounds: list, rough: bool = False
    ) -> _Optimum:
        gtol, ftol = (max(self.tol, 1e-5), 1e-10) if rough else (self.tol, 1e-13)
        res = minimize(
            fun,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": self.max_iter, "ftol": ftol, "gtol": gtol, "maxcor": 20},
        )
        return _Optimum(
            res.x, float(res.fun), res.jac, int(res.nit), bool(res.success), str(res.message)
        )

    def _newton(self, fun: Callable, opt: _Optimum, bounds: list) -> tuple[_Optimum, np.ndarray]:
        """Polish with Newton steps; return the optimum and the log-scale Hessian there.

        A step below 1e-4 (log scale) leaves an error of about its square, so it is the last,
        and the Hessian it was computed from stands for the standard errors.
        """
        central = self._noisy_gradient

        def hessian(o: _Optimum) -> np.ndarray:
            return _hessian(lambda x: fun(x)[1], o.log_theta, o.grad, central)

        lo, hi = np.array(bounds).T
        hess = hessian(opt)
        for _ in range(6):
            if not _is_pd(hess):
                break
            step = -np.linalg.solve(hess, opt.grad)
            size = float(np.max(np.abs(step)))
            if size < 1e-12:
                break
            x_new = np.clip(opt.log_theta + step, lo, hi)
            value, g = fun(x_new)
            if not value <= opt.value + 1e-14 * abs(opt.value):
                break
            opt = _Optimum(x_new, value, g, opt.n_iter + 1, opt.success, opt.message)
            if size < 1e-4:
                break
            hess = hessian(opt)
        return opt, hess

    def _run_fit(self, data: Any) -> None:
        fun = self._objective(data)
        bounds = self._bounds(data)
        lo, hi = np.array(bounds).T
        # Explore on a thinned sample of customers when there are many: the starts only
        # need to find the right basin; the full data then need a few iterations.
        small = (
            data.thin(_EXPLORE / data.n, np.random.default_rng(0))
            if data.n > 1.5 * _EXPLORE
            else data
        )
        fun_small = fun if small is data else self._objective(small)
        starts = [np.clip(np.log(s), lo + 0.5, hi - 0.5) for s in self._starts(small)]
        scored = sorted(starts, key=lambda s: fun_small(s)[0])
        best: _Optimum | None = None
        for start in scored[: self.n_starts]:
            opt = self._optimise(fun_small, start, bounds, rough=small is not data)
            if best is None or opt.value < best.value:
                best = opt
        assert best is not None
        if small is not data:
            n_iter = best.n_iter
            best = self._optimise(fun_small, best.log_theta, bounds)
            hess = _hessian(
                lambda x: fun_small(x)[1], best.log_theta, best.grad, self._noisy_gradient
            )
            chord = _chord(fun, best.log_theta, hess, lo, hi)
            best = chord or self._optimise(fun, best.log_theta, bounds)
            best.n_iter += n_iter
        best, hess_log = self._newton(fun, best, bounds)
        self._set_fitted(data, best, hess_log, lo, hi)

    def _set_fitted(
        self, data: Any, opt: _Optimum, hess_log: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> None:
        names = self._param_names
        theta = np.exp(opt.log_theta)
        k = len(names)
        ll, _ = self._loglik(theta, data)
        # Hessian of n x (mean objective) in the natural parameters, exact at any point.
        hess_nat = (hess_log - np.diag(opt.grad)) / np.outer(theta, theta) * data.n
        at_bound = [
            names[j]
            for j in range(k)
            if opt.log_theta[j] - lo[j] < _BOUND_MARGIN or hi[j] - opt.log_theta[j] < _BOUND_MARGIN
        ]
        pd_ok = _is_pd(hess_log)
        grad_ok = bool(np.max(np.abs(opt.grad)) < 1e-5)
        self.params_ = dict(zip(names, map(float, theta), strict=True))
        self.loglik_ = float(ll)
        self.n_customers_ = float(data.n)
        self.n_rows_ = int(data.n_rows)
        self.n_iter_ = opt.n_iter
        self.aic_ = 2 * k - 2 * self.loglik_
        self.bic_ = k * math.log(data.n) - 2 * self.loglik_
        if pd_ok:
            cov = np.linalg.inv(hess_nat)
            se = np.sqrt(np.clip(np.diag(cov), 0, None))
        else:
            cov = np.full((k, k), np.nan)
            se = np.full(k, np.nan)
        self.covariance_ = pd.DataFrame(cov, index=list(names), columns=list(names))
        self.standard_errors_ = dict(zip(names, map(float, se), strict=True))
        self.converged_ = bool(pd_ok and grad_ok and not at_bound)
        if not self.converged_:
            self._fail(opt, theta, at_bound, pd_ok)

    def _fail(self, opt: _Optimum, theta: np.ndarray, at_bound: list[str], pd_ok: bool) -> None:
        name = type(self).__name__
        shown = ", ".join(f"{k}={v:.4g}" for k, v in zip(self._param_names, theta, strict=True))
        if at_bound:
            which = ", ".join(repr(b) for b in at_bound)
            what = (
                f"{name} did not converge: parameter {which} ran to the edge of its range "
                f"({shown})."
                if len(at_bound) == 1
                else f"{name} did not converge: parameters {which} ran to the edges of their "
                f"ranges ({shown})."
            )
        elif not pd_ok:
            what = (
                f"{name} did not converge: the likelihood is flat or not concave at the "
                f"optimum found ({shown}), so the parameters are not identified."
            )
        else:
            what = (
                f"{name} did not converge after {opt.n_iter} iterations ({opt.message}; "
                f"largest gradient {np.max(np.abs(opt.grad)):.2g}; {shown})."
            )
        advice = (
            " The data may not identify this model (too few repeat purchases, no sign of "
            "dropout, or no difference between customers). "
            "Try penalizer_coef=0.001 (or larger), a longer observation period"
            + (f", or {self._alternatives}" if self._alternatives else "")
            + "."
        )
        if self.on_failure == "raise":
            raise ConvergenceError(what + advice, reason=what)
        import warnings

        warnings.warn(ConvergenceWarning(what + advice, reason=what), stacklevel=4)


class PurchaseModel(LikelihoodModel):
    """A model of purchase counts: adds ``customer_lifetime_value`` with a spend model."""

    def customer_lifetime_value(
        self,
        spend_model: Any,
        summary: pd.DataFrame,
        *,
        horizon: int = 12,
        discount_rate: float = 0.01,
        freq: str = "D",
    ) -> pd.Series:
        """Discounted CLV over ``horizon`` months with a fitted spend model (GammaGamma).

        The same as ``spend_model.customer_lifetime_value(self, summary, ...)``; see
        :meth:`valueseg.models.GammaGamma.customer_lifetime_value`.
        """
        self._check_fitted()
        return spend_model.customer_lifetime_value(
            self, summary, horizon=horizon, discount_rate=discount_rate, freq=freq
        )


_CONTROLLER: list[Any] = []


def _one_blas_thread() -> Any:
    """Keep BLAS on one thread while optimising: the matrices are tiny (4 x 4 to 40 x 40),
    and a threaded BLAS spinning up for each of L-BFGS-B's calls costs more than the
    likelihood itself on a busy machine (as scikit-learn does for k-means)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def _nonneg_float(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _positive_float(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _positive_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 1
