"""Intervals and tests against independent computations (scipy.stats, closed forms, simulation)."""

import numpy as np
import pytest
from scipy import stats as st

from choicelab.stats import equivalence_verdict, mcnemar, mean_interval, wilson_interval


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
