"""Intervals and tests against independent computations (scipy.stats, closed forms, simulation)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_h
from hypothesis.extra import numpy as hnp
from scipy import stats as st

from choicelab.stats import (
    equivalence_verdict,
    joint_verdict,
    mcnemar,
    mean_interval,
    rms_ratio_interval,
    wilson_interval,
)


@pytest.mark.parametrize("n", [2, 5, 30])
def test_t_interval_matches_scipy(n):
    x = np.random.default_rng(n).normal(1.0, 2.0, size=n)
    mean, lo, hi, se, k = mean_interval(x)
    ref = st.t.interval(0.95, n - 1, loc=x.mean(), scale=st.sem(x))
    assert k == n and mean == pytest.approx(x.mean()) and se == pytest.approx(st.sem(x))
    assert (lo, hi) == pytest.approx(ref, rel=1e-12)


def test_t_interval_covers_the_mean_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    hits = sum(lo <= 3.0 <= hi for lo, hi in (mean_interval(rng.normal(3.0, 1.5, 12))[1:3] for _ in range(4000)))
    assert abs(hits / 4000 - 0.95) < 0.015


def test_bootstrap_interval_agrees_with_scipy_bootstrap():
    x = np.random.default_rng(1).exponential(2.0, size=40)
    _, lo, hi, _, _ = mean_interval(x, method="bootstrap", rng=0, n_boot=20000)
    ref = st.bootstrap(
        (x,),
        np.mean,
        confidence_level=0.95,
        method="percentile",
        n_resamples=20000,
        random_state=np.random.default_rng(0),
    ).confidence_interval
    assert lo == pytest.approx(ref.low, rel=0.03) and hi == pytest.approx(ref.high, rel=0.03)


@pytest.mark.parametrize("k, n", [(0, 20), (7, 20), (20, 20), (3, 11)])
def test_wilson_matches_scipy(k, n):
    p, lo, hi = wilson_interval(k, n)
    ref = st.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert p == k / n and (lo, hi) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_mcnemar_is_the_binomial_test_of_discordant_runs():
    a = np.array([1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1])
    b = np.array([0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0])
    res = mcnemar(a, b)
    assert (res["a_only"], res["b_only"]) == (7, 0)
    assert res["pvalue"] == pytest.approx(2 * 0.5**7)  # exact two-sided binomial, closed form


def test_equivalence_verdict_follows_the_stated_rule():
    rng = np.random.default_rng(2)
    assert equivalence_verdict(rng.normal(1.0, 0.1, 20), margin=0.2) == "changed"
    assert equivalence_verdict(rng.normal(0.0, 0.05, 40), margin=0.2) == "unchanged"
    assert equivalence_verdict(rng.normal(0.15, 0.5, 5), margin=0.2) == "inconclusive"
    # the boundary cases of the rule, by construction of the intervals
    d = np.array([0.3, 0.31, 0.29, 0.3])
    lo = mean_interval(d, 0.95)[1]
    assert equivalence_verdict(d, margin=lo - 1e-9) == "changed"
    assert equivalence_verdict(d, margin=lo + 1e-3) != "changed"


def _bonferroni_verdict(family, margin):
    """The joint rule written out with scipy's t intervals (an independent computation)."""
    k = len(family)
    inside = True
    for d in family:
        d = np.asarray(d, dtype=float)
        lo, hi = st.t.interval(1 - 0.05 / k, d.size - 1, loc=d.mean(), scale=st.sem(d))
        if lo > margin or hi < -margin:
            return "changed"
        lo, hi = st.t.interval(0.90, d.size - 1, loc=d.mean(), scale=st.sem(d))
        inside = inside and -margin <= lo and hi <= margin
    return "unchanged" if inside else "inconclusive"


@given(
    shifts=hnp.arrays(np.float64, st_h.integers(1, 5), elements=st_h.floats(-0.3, 0.3)),
    seed=st_h.integers(0, 2**32 - 1),
)
@settings(max_examples=60, deadline=None)
def test_joint_verdict_is_bonferroni_for_change_and_intersection_union_for_equivalence(shifts, seed):
    rng = np.random.default_rng(seed)
    family = [rng.normal(s, 0.1, size=15) for s in shifts]
    assert joint_verdict(family, 0.1) == _bonferroni_verdict(family, 0.1)


def test_joint_verdict_keeps_the_familywise_error_rate():
    """Five items with no effect at all: 'changed' in at most about 5% of families (Bonferroni)."""
    rng = np.random.default_rng(3)
    false = sum(joint_verdict([rng.normal(0.0, 1.0, 10) for _ in range(5)], 0.0) == "changed" for _ in range(2000))
    assert false / 2000 <= 0.06
    # one item alone at the same level would be wrong far more often than 5% over five items
    naive = sum(
        any(equivalence_verdict(rng.normal(0.0, 1.0, 10), 0.0) == "changed" for _ in range(5)) for _ in range(2000)
    )
    assert naive / 2000 > 0.15


def test_rms_ratio_interval_agrees_with_the_f_interval_on_normal_draws():
    """Zero-mean normal runs: RMS^2 ratio ~ (s_x^2/s_y^2) F, whose exact interval the bootstrap approximates."""
    rng = np.random.default_rng(5)
    x, y = rng.normal(0.0, 0.6, (400, 1)), rng.normal(0.0, 1.0, (300, 1))
    ratio, lo, hi = rms_ratio_interval(x, y, rng=1, n_boot=8000)
    assert ratio == pytest.approx(np.sqrt(np.mean(x**2) / np.mean(y**2)), rel=1e-12)
    f = np.mean(x**2) / np.mean(y**2)  # chi2(400)/400 over chi2(300)/300 scaled: an F(400, 300) variate
    ref = np.sqrt([f / st.f.ppf(0.975, 400, 300), f / st.f.ppf(0.025, 400, 300)])
    assert lo == pytest.approx(ref[0], rel=0.05) and hi == pytest.approx(ref[1], rel=0.05)
    assert lo < 0.6 < hi  # covers the true ratio of the standard deviations
