"""Every statistic of actions.stats against statsmodels (or scipy) on the same numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from valueseg.actions.stats import (
    cuped,
    mde_means,
    mde_proportions,
    sample_ratio_mismatch,
    sample_size_means,
    sample_size_proportions,
    two_proportions,
    welch,
)

sm_power = pytest.importorskip("statsmodels.stats.power")
sm_prop = pytest.importorskip("statsmodels.stats.proportion")
sm_weight = pytest.importorskip("statsmodels.stats.weightstats")


@pytest.mark.parametrize(
    ("p1", "p2", "alpha", "power", "ratio"),
    [(0.05, 0.06, 0.05, 0.8, 1.0), (0.2, 0.15, 0.01, 0.9, 1.0), (0.5, 0.55, 0.05, 0.8, 0.25),
     (0.02, 0.03, 0.1, 0.95, 3.0)],
)  # fmt: skip
def test_sample_size_for_two_proportions_matches_normal_ind_power(p1, p2, alpha, power, ratio):
    effect = sm_prop.proportion_effectsize(p2, p1)
    expected = sm_power.NormalIndPower().solve_power(
        effect_size=effect, alpha=alpha, power=power, ratio=ratio
    )
    got = sample_size_proportions(p1, p2, alpha=alpha, power=power, ratio=ratio)
    assert got == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("delta", "sd", "alpha", "power", "ratio"),
    [(5.0, 50.0, 0.05, 0.8, 1.0), (2.0, 10.0, 0.01, 0.9, 1.0), (30.0, 45.0, 0.05, 0.8, 0.5),
     (1.0, 3.0, 0.1, 0.8, 4.0)],
)  # fmt: skip
def test_sample_size_for_means_matches_ttest_ind_power(delta, sd, alpha, power, ratio):
    expected = sm_power.TTestIndPower().solve_power(
        effect_size=delta / sd, alpha=alpha, power=power, ratio=ratio
    )
    got = sample_size_means(delta, sd, alpha=alpha, power=power, ratio=ratio)
    assert got == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(("n1", "n2"), [(500, 500), (2000, 600), (120, 4000)])
def test_detectable_effects_match_statsmodels_solving_for_the_effect(n1, n2):
    # statsmodels' own solver stops near the root (its power there can be 0.80001): the
    # effect agrees to 1e-4, and statsmodels' power at ours is 0.8 to 1e-9
    normal, student = sm_power.NormalIndPower(), sm_power.TTestIndPower()
    p1, ratio = 0.1, n2 / n1
    h = normal.solve_power(effect_size=None, nobs1=n1, alpha=0.05, power=0.8, ratio=ratio)
    got = mde_proportions(p1, n1, n2)
    assert got is not None
    assert p1 + got == pytest.approx(math.sin(math.asin(math.sqrt(p1)) + h / 2) ** 2, rel=1e-4)
    ours = sm_prop.proportion_effectsize(p1 + got, p1)
    assert normal.power(ours, n1, 0.05, ratio=ratio) == pytest.approx(0.8, abs=1e-9)
    d = student.solve_power(effect_size=None, nobs1=n1, alpha=0.05, power=0.8, ratio=ratio)
    assert mde_means(40.0, n1, n2) == pytest.approx(40.0 * d, rel=1e-4)
    assert student.power(mde_means(1.0, n1, n2), n1, 0.05, ratio=ratio) == pytest.approx(
        0.8, abs=1e-9
    )


def test_no_rise_is_detectable_from_a_high_rate_in_a_tiny_test():
    assert mde_proportions(0.9, 3, 3) is None


@pytest.mark.parametrize(
    ("ct", "nt", "cc", "nc"), [(60, 1000, 40, 1000), (130, 2400, 180, 2600), (3, 40, 9, 35)]
)
def test_two_proportions_match_ztest_and_intervals(ct, nt, cc, nc):
    got = two_proportions(ct, nt, cc, nc, alpha=0.05)
    _, p = sm_prop.proportions_ztest([ct, cc], [nt, nc])
    assert got.p_value == pytest.approx(p, rel=1e-9)
    low, high = sm_prop.confint_proportions_2indep(ct, nt, cc, nc, method="wald", compare="diff")
    assert (got.ci_low, got.ci_high) == pytest.approx((low, high), rel=1e-9)
    for arm, (k, n) in ((got.treatment, (ct, nt)), (got.control, (cc, nc))):
        wl, wh = sm_prop.proportion_confint(k, n, alpha=0.05, method="wilson")
        assert (arm.ci_low, arm.ci_high) == pytest.approx((wl, wh), rel=1e-9)
        assert arm.value == k / n
    assert got.diff == pytest.approx(ct / nt - cc / nc)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_welch_matches_scipy_and_statsmodels(seed):
    rng = np.random.default_rng(seed)
    t = rng.gamma(2.0, 30.0, 300) + 5
    c = rng.gamma(1.5, 30.0, 420)
    got = welch(t, c, alpha=0.05)
    ref = sps.ttest_ind(t, c, equal_var=False)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    cm = sm_weight.CompareMeans(sm_weight.DescrStatsW(t), sm_weight.DescrStatsW(c))
    low, high = cm.tconfint_diff(alpha=0.05, usevar="unequal")
    assert (got.ci_low, got.ci_high) == pytest.approx((low, high), rel=1e-9)
    tl, th = sm_weight.DescrStatsW(t).tconfint_mean(alpha=0.05)
    assert (got.treatment.ci_low, got.treatment.ci_high) == pytest.approx((tl, th), rel=1e-9)


@pytest.mark.parametrize(("nc", "nt", "share"), [(5000, 5000, 0.5), (5210, 4790, 0.5),
                                                  (2100, 7900, 0.2), (300, 700, 0.5)])  # fmt: skip
def test_srm_matches_the_chi_square_test(nc, nt, share):
    total = nc + nt
    ref = sps.chisquare([nc, nt], [share * total, (1 - share) * total])
    assert sample_ratio_mismatch(nc, nt, share) == pytest.approx(ref.pvalue, rel=1e-9)


def test_a_planted_imbalance_is_flagged_and_a_fair_split_is_not():
    rng = np.random.default_rng(4)
    fair = rng.uniform(size=20_000) < 0.5
    assert sample_ratio_mismatch(int(fair.sum()), int((~fair).sum()), 0.5) > 0.001
    kept = fair | (rng.uniform(size=20_000) < 0.94)  # 12 % of control's units lost
    control = int((fair & kept).sum())
    assert sample_ratio_mismatch(control, int((~fair & kept).sum()), 0.5) < 0.001


def test_cuped_removes_the_share_of_variance_the_pre_period_explains():
    rng = np.random.default_rng(5)
    x = rng.gamma(2.0, 30.0, 5000)
    y = 0.8 * x + rng.normal(0, 20, 5000)
    adjusted, theta, cut = cuped(y, x)
    ols = np.polyfit(x, y, 1)[0]
    assert theta == pytest.approx(ols, rel=1e-9)
    rho = np.corrcoef(x, y)[0, 1]
    assert cut == pytest.approx(rho**2, rel=1e-9)
    assert adjusted.var(ddof=1) == pytest.approx((1 - rho**2) * y.var(ddof=1), rel=1e-9)
    assert adjusted.mean() == pytest.approx(y.mean())
    same, zero, none = cuped(y, np.ones_like(y))
    assert (zero, none) == (0.0, 0.0) and np.array_equal(same, y)
