"""Fitting machinery shared by the value models (private).

Every model maximises a weighted log-likelihood over log-parameters with an analytic
gradient. Identical summary rows are first collapsed into weights. Candidate starting points
are scored and the best ``n_starts`` optimised with L-BFGS-B; with many customers this
exploration runs on a thinned sample (50k customers), whose optimum and curvature then take
the full data to its optimum in a few gradient steps. Newton steps on a Hessian from finite
differences of the gradient polish the optimum, and the same Hessian (in the natural
parameters) gives the standard errors. A fit whose gradient is not zero, whose Hessian is not
positive definite or whose parameter ran to its bound raises :class:`ConvergenceError`, as
does a search that fails numerically (a singular matrix, a floating-point error, a start
the optimiser refuses). The fitted attributes are set only once a fit has succeeded, so a
fit that raises leaves the model as it was.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

from valueseg.errors import InputError, ValuesegError
from valueseg.models._search import Bounds, Objective, Optimum, one_blas_thread
from valueseg.models._search import chord as _chord
from valueseg.models._search import hessian as _hessian
from valueseg.models._search import is_pd as _is_pd
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


class FitData(Protocol):
    """What the fitting machinery needs of a model's validated, collapsed data."""

    n: float  # customers (summed weights)
    n_rows: int  # distinct rows
    time_scale: float  # the longest T (1 where no parameter is in time units)

    def thin(self, fraction: float, rng: np.random.Generator) -> Self: ...


DataT = TypeVar("DataT", bound=FitData)


@dataclass
class _Fit:
    """A finished search: the fitted attributes, set on the model only when it is kept."""

    attributes: dict[str, Any]
    opt: Optimum
    theta: np.ndarray
    at_bound: list[str]
    pd_ok: bool


class LikelihoodModel(BaseEstimator, Generic[DataT]):
    """Base of the models: hyperparameters, ``fit``, ``score`` and the fitted attributes.

    Generic in the model's data (``DataT``, see :class:`FitData`). Subclasses declare
    ``_param_names``, ``_time_params`` (parameters measured in the summary's time unit),
    ``_columns`` and implement ``_prepare`` (validated, collapsed data), ``_loglik`` (total
    log-likelihood and its gradient in the natural parameters) and ``_starts`` (candidate
    starting points).
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    _time_params: ClassVar[tuple[str, ...]] = ()
    _columns: ClassVar[tuple[str, ...]] = ()
    _alternatives: ClassVar[str] = ""
    #: the gradient holds finite differences: take central differences for the Hessian
    _noisy_gradient: ClassVar[bool] = False

    # fitted attributes: set together by a fit that succeeds (params_ also by from_params)
    params_: dict[str, float]
    loglik_: float
    n_customers_: float
    n_rows_: int
    n_iter_: int
    aic_: float
    bic_: float
    covariance_: pd.DataFrame
    standard_errors_: dict[str, float]
    converged_: bool

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

    def _prepare(self, frame: pd.DataFrame, weights: np.ndarray | None) -> DataT:
        raise NotImplementedError

    def _loglik(self, theta: np.ndarray, data: DataT) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def _starts(self, data: DataT) -> list[np.ndarray]:
        raise NotImplementedError

    def _check_identifiable(self, data: DataT) -> None:
        """Refuse (InputError) data that cannot identify the model; checked by fit only."""

    # ---- public

    @classmethod
    def from_params(cls, **params: float) -> Self:
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

    def fit(self, X: pd.DataFrame, y: object = None) -> Self:
        """Fit by maximum likelihood.

        Parameters
        ----------
        X : pandas.DataFrame
            The customer summary (e.g. from :func:`valueseg.features.rfm_summary`), one row
            per customer, or per pattern with a ``weights`` column counting its customers.
            Columns: ``frequency, recency, T`` (BetaGeo, ModifiedBetaGeo, ParetoNBD),
            ``frequency, recency, n_periods`` (BetaGeoBetaBinom) or ``frequency,
            monetary_value`` (GammaGamma).
        y : None
            Ignored: there so that a model can end a scikit-learn ``Pipeline``.

        Returns
        -------
        self
            The fitted model. A fit that raises (:class:`ConvergenceError`, an input
            error) leaves the model as it was: unfitted, or with its previous fit.
        """
        self._check_hyperparameters()
        data = self._read(X)
        self._check_identifiable(data)
        try:
            with one_blas_thread():
                fit = self._run_fit(data)
        except (FloatingPointError, np.linalg.LinAlgError) as exc:
            raise self._numeric_failure(exc) from exc
        if not fit.attributes["converged_"]:
            self._fail(fit)
        for name, value in fit.attributes.items():
            setattr(self, name, value)
        return self

    def score(self, X: pd.DataFrame, y: object = None) -> float:
        """Mean log-likelihood per customer of ``X`` at the fitted parameters.

        Higher is better (scikit-learn's convention); comparable across models fitted on the
        same summary, e.g. on a holdout. Same columns and checks as ``fit``; ``y`` is
        ignored.
        """
        self._check_fitted()
        data = self._read(X)
        ll, _ = self._loglik(self._theta(), data)
        return float(ll) / data.n

    def _read(self, summary: Any) -> DataT:
        """The summary checked and collapsed into the model's data."""
        name = type(self).__name__
        frame = as_frame(summary, name)
        weights = None
        if "weights" in frame.columns:
            weights = read_column(frame, "weights", name, [*self._columns, "weights"])
        return self._prepare(frame, weights)

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

    def _penalty_scale(self, data: DataT) -> np.ndarray:
        """Divide time parameters by the longest T, as lifetimes' penalizer does."""
        return np.array(
            [1.0 / data.time_scale if k in self._time_params else 1.0 for k in self._param_names]
        )

    def _natural_scale(self, data: DataT) -> np.ndarray:
        """The scale each parameter lives on (time parameters: the longest T)."""
        return np.array(
            [data.time_scale if k in self._time_params else 1.0 for k in self._param_names]
        )

    def _bounds(self, data: DataT) -> Bounds:
        """Log-parameters stay within six orders of magnitude of their natural scale."""
        width = math.log(1e6)
        return [(c - width, c + width) for c in np.log(self._natural_scale(data))]

    def _objective(self, data: DataT) -> Objective:
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
        self, fun: Objective, start: np.ndarray, bounds: Bounds, rough: bool = False
    ) -> Optimum:
        gtol, ftol = (max(self.tol, 1e-5), 1e-10) if rough else (self.tol, 1e-13)
        own: list[BaseException] = []  # raised by the objective itself: passed on as it is

        def objective(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
            try:
                return fun(log_theta)
            except BaseException as exc:
                own.append(exc)
                raise

        try:
            res = minimize(
                objective,
                start,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": self.max_iter, "ftol": ftol, "gtol": gtol, "maxcor": 20},
            )
        except ValueError as exc:
            if any(exc is e for e in own):
                raise
            raise self._numeric_failure(exc) from exc  # SciPy refused the problem it was given
        return Optimum(
            res.x, float(res.fun), res.jac, int(res.nit), bool(res.success), str(res.message)
        )

    def _newton(self, fun: Objective, opt: Optimum, bounds: Bounds) -> tuple[Optimum, np.ndarray]:
        """Polish with Newton steps; return the optimum and the log-scale Hessian there.

        Once a step is below 1e-4 (log scale) the Hessian is not computed again: the steps
        that follow reuse it (a gradient each) until one is below 1e-10 or the gradient
        stops halving, and that Hessian stands for the standard errors. Near the optimum
        the mean log-likelihood is flat to within its rounding (about 1e-13 here), so a
        step is also taken when it halves the gradient with the value within 1e-10 of the
        last: judged by the value alone, a fit could stop 1e-7 away from the optimum,
        wherever L-BFGS-B happened to stop, and two fits of one likelihood summed in
        another order (the DuckDB run over customers, the lake run over patterns) differed
        by that much.
        """
        central = self._noisy_gradient

        def hessian(o: Optimum) -> np.ndarray:
            return _hessian(lambda x: fun(x)[1], o.log_theta, o.grad, central)

        lo, hi = np.array(bounds).T
        hess = hessian(opt)
        near = False
        for _ in range(10):
            if not _is_pd(hess):
                break
            step = -np.linalg.solve(hess, opt.grad)
            size = float(np.max(np.abs(step)))
            if size < (1e-10 if near else 1e-12):
                break
            x_new = np.clip(opt.log_theta + step, lo, hi)
            value, g = fun(x_new)
            lower = value <= opt.value + 1e-14 * abs(opt.value)
            flatter = bool(
                value <= opt.value + 1e-10 * abs(opt.value)
                and np.max(np.abs(g)) < 0.5 * np.max(np.abs(opt.grad))
            )
            if not (lower or flatter):
                break
            opt = Optimum(x_new, value, g, opt.n_iter + 1, opt.success, opt.message)
            if near and not flatter:
                break  # the gradient has reached its noise (Pareto/NBD's is partly numerical)
            near = near or size < 1e-4
            if not near:
                hess = hessian(opt)
        return opt, hess

    def _run_fit(self, data: DataT) -> _Fit:
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
        best: Optimum | None = None
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
        return self._fitted(data, best, hess_log, lo, hi)

    def _fitted(
        self, data: DataT, opt: Optimum, hess_log: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> _Fit:
        """The fitted attributes at the optimum found, and whether it converged."""
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
        loglik = float(ll)
        if pd_ok:
            cov = np.linalg.inv(hess_nat)
            se = np.sqrt(np.clip(np.diag(cov), 0, None))
        else:
            cov = np.full((k, k), np.nan)
            se = np.full(k, np.nan)
        attributes = {
            "params_": dict(zip(names, map(float, theta), strict=True)),
            "loglik_": loglik,
            "n_customers_": float(data.n),
            "n_rows_": int(data.n_rows),
            "n_iter_": opt.n_iter,
            "aic_": 2 * k - 2 * loglik,
            "bic_": k * math.log(data.n) - 2 * loglik,
            "covariance_": pd.DataFrame(cov, index=list(names), columns=list(names)),
            "standard_errors_": dict(zip(names, map(float, se), strict=True)),
            "converged_": bool(pd_ok and grad_ok and not at_bound),
        }
        return _Fit(attributes, opt, theta, at_bound, pd_ok)

    def _fail(self, fit: _Fit) -> None:
        """Raise :class:`ConvergenceError`, or warn (``on_failure="warn"``), with the reason."""
        name = type(self).__name__
        opt, at_bound = fit.opt, fit.at_bound
        shown = ", ".join(f"{k}={v:.4g}" for k, v in zip(self._param_names, fit.theta, strict=True))
        if at_bound:
            which = ", ".join(repr(b) for b in at_bound)
            what = (
                f"{name} did not converge: parameter {which} ran to the edge of its range "
                f"({shown})."
                if len(at_bound) == 1
                else f"{name} did not converge: parameters {which} ran to the edges of their "
                f"ranges ({shown})."
            )
        elif not fit.pd_ok:
            what = (
                f"{name} did not converge: the likelihood is flat or not concave at the "
                f"optimum found ({shown}), so the parameters are not identified."
            )
        else:
            what = (
                f"{name} did not converge after {opt.n_iter} iterations ({opt.message}; "
                f"largest gradient {np.max(np.abs(opt.grad)):.2g}; {shown})."
            )
        if self.on_failure == "raise":
            raise ConvergenceError(what + self._advice(), reason=what)
        warnings.warn(ConvergenceWarning(what + self._advice(), reason=what), stacklevel=3)

    def _numeric_failure(self, exc: Exception) -> ConvergenceError:
        """A search that failed numerically, as the :class:`ConvergenceError` it is (raised
        with either ``on_failure``: there are no parameters to keep)."""
        what = (
            f"{type(self).__name__} did not converge: the numerical search failed "
            f"({type(exc).__name__}: {exc})."
        )
        return ConvergenceError(what + self._advice(), reason=what)

    def _advice(self) -> str:
        return (
            " The data may not identify this model (too few repeat purchases, no sign of "
            "dropout, or no difference between customers). "
            "Try penalizer_coef=0.001 (or larger), a longer observation period"
            + (f", or {self._alternatives}" if self._alternatives else "")
            + "."
        )


class PurchaseModel(LikelihoodModel[DataT]):
    """A model of purchase counts: adds ``customer_lifetime_value`` with a spend model.

    Every purchase model predicts ``expected_purchases(t, frequency, recency, T)`` and
    ``probability_alive(frequency, recency, T)``; BG/BB's third column is ``n_periods``.
    """

    def expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any) -> Any:
        """Expected number of purchases in the next ``t`` time units, given the history."""
        raise NotImplementedError

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        """Probability that a customer with this history is still alive."""
        raise NotImplementedError

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


def _nonneg_float(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _positive_float(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _positive_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and bool(value >= 1)
