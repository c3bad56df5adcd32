"""The statistics of an A/B test: sample size, detectable effect, tests, SRM and CUPED.

Closed forms in numpy/scipy, each checked against statsmodels in the tests:

- **Sample size, conversion**: the normal test of two proportions on Cohen's effect size
  ``h = 2 asin √p₂ − 2 asin √p₁`` (Cohen 1988, §6.2), the power of a two-sided test being
  ``Φ(|h| √ñ − z₁₋α/₂) + Φ(−|h| √ñ − z₁₋α/₂)`` with ``ñ = n₁ n₂ / (n₁ + n₂)``
  (statsmodels' ``NormalIndPower`` with ``proportion_effectsize``).
- **Sample size, revenue**: the two-sample t-test with one standard deviation ``σ`` for both
  arms (the store's history), effect ``d = δ / σ``, power from the noncentral t with
  ``n₁ + n₂ − 2`` degrees of freedom (``TTestIndPower``). With one σ for both arms Welch's
  test, used in the analysis, has the same size to first order.
- **Minimum detectable effect**: the same power equations solved for the effect at the
  sizes there are.
- **Conversion lift**: difference of rates with the unpooled Wald interval, the pooled
  two-proportion z-test for its p-value (``proportions_ztest``,
  ``confint_proportions_2indep(method="wald")``) and Wilson intervals per arm.
- **Revenue lift**: Welch's t-test with Welch–Satterthwaite degrees of freedom (Welch 1947;
  ``scipy.stats.ttest_ind(equal_var=False)``).
- **Sample-ratio mismatch**: Pearson's chi-square of the arm counts against the designed
  split (``scipy.stats.chisquare``); flagged below p = 0.001 (Fabijan et al. 2019).
- **CUPED**: ``Y − θ (X − X̄)`` with ``θ = cov(X, Y) / var(X)`` over both arms, ``X`` the
  pre-period spend (Deng, Xu, Kohavi & Walker 2013); the variance falls by ``ρ²(X, Y)``.

References
----------
Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences, 2nd ed.
Welch, B. L. (1947). The generalization of "Student's" problem when several different
population variances are involved. Biometrika 34, 28-35.
Deng, A., Xu, Y., Kohavi, R., Walker, T. (2013). Improving the sensitivity of online
controlled experiments by utilizing pre-experiment data. WSDM '13.
Fabijan, A. et al. (2019). Diagnosing sample ratio mismatch in online controlled
experiments. KDD '19.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

__all__ = [
    "Arm",
    "Comparison",
    "cuped",
    "mde_means",
    "mde_proportions",
    "sample_ratio_mismatch",
    "sample_size_means",
    "sample_size_proportions",
    "two_proportions",
    "welch",
]


@dataclass(frozen=True)
class Arm:
    """One arm of a comparison: units, the rate or mean, and its confidence interval."""

    units: int
    value: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Comparison:
    """Treatment against control: the difference, its interval, relative lift, p-value."""

    test: str
    control: Arm
    treatment: Arm
    diff: float
    ci_low: float
    ci_high: float
    relative: float | None
    p_value: float


def _z(alpha: float) -> float:
    return float(stats.norm.isf(alpha / 2))


def _normal_power(effect: float, n1: float, ratio: float, alpha: float) -> float:
    """Power of a two-sided z-test at standardized ``effect``, ``n1`` and ``n2 = ratio·n1``."""
    root = abs(effect) * math.sqrt(n1 * ratio / (1.0 + ratio))
    z = _z(alpha)
    return float(stats.norm.cdf(root - z) + stats.norm.cdf(-root - z))


def _t_power(effect: float, n1: float, ratio: float, alpha: float) -> float:
    """Power of a two-sided two-sample t-test (noncentral t), as ``TTestIndPower``."""
    df = n1 * (1.0 + ratio) - 2.0
    crit = float(stats.t.isf(alpha / 2, df))
    nc = abs(effect) * math.sqrt(n1 * ratio / (1.0 + ratio))
    upper = float(stats.nct.sf(crit, df, nc))
    lower = float(stats.nct.cdf(-crit, df, nc))  # scipy gives NaN far in the tail: ~0
    return upper + (0.0 if math.isnan(lower) else lower)


def _solve_n(power_of: object, effect: float, ratio: float, alpha: float, power: float) -> float:
    """The control-arm size at which ``power_of`` reaches ``power`` (a continuous n)."""
    assert callable(power_of)
    guess = (_z(alpha) + float(stats.norm.ppf(power))) ** 2 * (1 + 1 / ratio) / effect**2
    low, high = 2.0 / ratio + 1.0, max(4.0 * guess, 10.0)
    while power_of(effect, high, ratio, alpha) < power:
        high *= 4.0
    return float(
        optimize.brentq(lambda n: power_of(effect, n, ratio, alpha) - power, low, high, xtol=1e-9)
    )


def sample_size_proportions(
    p1: float, p2: float, *, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0
) -> float:
    """Control-arm size to tell conversion ``p2`` from ``p1`` (treatment: ``ratio`` × it).

    Examples
    --------
    >>> round(sample_size_proportions(0.05, 0.06), 1)
    8142.6
    """
    h = 2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1))
    return _solve_n(_normal_power, h, ratio, alpha, power)


def sample_size_means(
    delta: float, sd: float, *, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0
) -> float:
    """Control-arm size to tell a difference ``delta`` in means with deviation ``sd``.

    Examples
    --------
    >>> round(sample_size_means(5.0, 50.0), 1)
    1570.7
    """
    return _solve_n(_t_power, delta / sd, ratio, alpha, power)


def _solve_effect(power_of: object, n1: float, ratio: float, alpha: float, power: float) -> float:
    assert callable(power_of)
    high = 1.0
    while power_of(high, n1, ratio, alpha) < power:
        high *= 2.0
        if high > 1e6:
            return math.inf
    return float(
        optimize.brentq(lambda e: power_of(e, n1, ratio, alpha) - power, 1e-12, high, xtol=1e-12)
    )


def mde_proportions(
    p1: float, n1: float, n2: float, *, alpha: float = 0.05, power: float = 0.8
) -> float | None:
    """The smallest rise from ``p1`` detectable with ``n1`` control and ``n2`` treatment
    units (None: no rise, not even to 100 %, is).

    Examples
    --------
    >>> round(mde_proportions(0.05, 8143, 8143), 4)
    0.01
    """
    h = _solve_effect(_normal_power, n1, n2 / n1, alpha, power)
    angle = math.asin(math.sqrt(p1)) + h / 2
    if angle > math.pi / 2:
        return None
    return math.sin(angle) ** 2 - p1


def mde_means(sd: float, n1: float, n2: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest difference in means detectable at these sizes.

    Examples
    --------
    >>> round(mde_means(50.0, 1571, 1571), 2)
    5.0
    """
    return sd * _solve_effect(_t_power, n1, n2 / n1, alpha, power)


def _wilson(successes: int, n: int, alpha: float) -> tuple[float, float]:
    z = _z(alpha)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def two_proportions(
    conv_t: int, n_t: int, conv_c: int, n_c: int, *, alpha: float = 0.05
) -> Comparison:
    """Conversion of treatment against control: Wald interval, pooled z-test p-value.

    Examples
    --------
    >>> c = two_proportions(60, 1000, 40, 1000)
    >>> round(c.diff, 3), round(c.p_value, 4), round(c.relative, 2)
    (0.02, 0.0402, 0.5)
    """
    pt, pc = conv_t / n_t, conv_c / n_c
    diff = pt - pc
    se = math.sqrt(pt * (1 - pt) / n_t + pc * (1 - pc) / n_c)
    pooled = (conv_t + conv_c) / (n_t + n_c)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    p_value = float(2 * stats.norm.sf(abs(diff) / se0)) if se0 > 0 else math.nan
    z = _z(alpha)
    return Comparison(
        test="two-proportion z-test",
        control=Arm(n_c, pc, *_wilson(conv_c, n_c, alpha)),
        treatment=Arm(n_t, pt, *_wilson(conv_t, n_t, alpha)),
        diff=diff,
        ci_low=diff - z * se,
        ci_high=diff + z * se,
        relative=diff / pc if pc > 0 else None,
        p_value=p_value,
    )


def _mean_arm(y: np.ndarray, alpha: float) -> Arm:
    mean = float(y.mean())
    half = float(stats.t.isf(alpha / 2, y.size - 1)) * float(y.std(ddof=1)) / math.sqrt(y.size)
    return Arm(int(y.size), mean, mean - half, mean + half)


def welch(treatment: np.ndarray, control: np.ndarray, *, alpha: float = 0.05) -> Comparison:
    """Mean of treatment against control by Welch's t-test (each arm ≥ 2 units).

    Examples
    --------
    >>> c = welch(np.array([3.0, 5.0, 7.0, 9.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    >>> round(c.diff, 2), round(c.p_value, 4)
    (3.5, 0.0665)
    """
    yt, yc = np.asarray(treatment, dtype=float), np.asarray(control, dtype=float)
    vt, vc = yt.var(ddof=1) / yt.size, yc.var(ddof=1) / yc.size
    se = math.sqrt(vt + vc)
    diff = float(yt.mean() - yc.mean())
    if se > 0:
        df = (vt + vc) ** 2 / (vt**2 / (yt.size - 1) + vc**2 / (yc.size - 1))
        p_value = float(2 * stats.t.sf(abs(diff) / se, df))
        half = float(stats.t.isf(alpha / 2, df)) * se
    else:
        p_value, half = math.nan, 0.0
    base = float(yc.mean())
    return Comparison(
        test="Welch's t-test",
        control=_mean_arm(yc, alpha),
        treatment=_mean_arm(yt, alpha),
        diff=diff,
        ci_low=diff - half,
        ci_high=diff + half,
        relative=diff / base if base != 0 else None,
        p_value=p_value,
    )


def sample_ratio_mismatch(n_control: int, n_treatment: int, control_share: float) -> float:
    """The chi-square p-value of the arm counts against the designed split.

    Examples
    --------
    >>> round(sample_ratio_mismatch(5000, 5000, 0.5), 3)
    1.0
    >>> sample_ratio_mismatch(5300, 4700, 0.5) < 1e-3
    True
    """
    total = n_control + n_treatment
    expected = np.array([control_share, 1 - control_share]) * total
    observed = np.array([n_control, n_treatment], dtype=float)
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    return float(stats.chi2.sf(chi2, df=1))


def cuped(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(Y − θ (X − X̄), θ, ρ²)``: the CUPED-adjusted outcome, its θ and the variance cut.

    Examples
    --------
    >>> adjusted, theta, cut = cuped(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    >>> adjusted.tolist(), theta, cut
    ([2.0, 2.0, 2.0], 1.0, 1.0)
    """
    y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    vx = float(x.var(ddof=1))
    if vx == 0 or y.size < 2:
        return y.copy(), 0.0, 0.0
    cov = float(np.cov(x, y, ddof=1)[0, 1])
    theta = cov / vx
    vy = float(y.var(ddof=1))
    rho2 = cov * cov / (vx * vy) if vy > 0 else 0.0
    return y - theta * (x - x.mean()), theta, rho2
