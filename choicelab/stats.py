"""Statistics that verdicts on noisy measurements rest on: intervals over runs and the stated tests.

Every finding a report presents is an effect with an interval and a control, decided by a rule
stated here:

* :func:`mean_interval`: the mean of per-run values with a 95% interval, Student's t (the runs
  are independent draws; the t-interval is exact for normal values and close for n >= 10) or a
  percentile bootstrap over runs (no normality assumed).
* :func:`wilson_interval`: a rate (runs in which something changed) with Wilson's score
  interval, which keeps its coverage near 0 and 1 where the normal interval does not.
* :func:`mcnemar`: two estimators' change indicators on the same runs, compared by McNemar's
  exact test (a binomial test on the discordant runs).
* :func:`equivalence_verdict`: the verdict on a per-run paired difference D = effect - control
  with margin δ: ``"changed"`` when the 95% interval of D lies outside [-δ, δ]; ``"unchanged"``
  when the 90% interval lies inside it (two one-sided tests at 5% each, TOST); ``"inconclusive"``
  otherwise.

Examples
--------
>>> m, lo, hi = mean_interval([1.0, 2.0, 3.0])[:3]
>>> round(m, 3), round(lo, 3), round(hi, 3)
(2.0, -0.484, 4.484)
>>> equivalence_verdict([0.5, 0.6, 0.55, 0.52], margin=0.1)
'changed'
>>> equivalence_verdict([0.001, -0.002, 0.0, 0.001, -0.001], margin=0.1)
'unchanged'
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["mean_interval", "wilson_interval", "mcnemar", "equivalence_verdict", "VERDICTS"]

VERDICTS = ("changed", "unchanged", "inconclusive")


def mean_interval(values, level: float = 0.95, method: str = "t", rng=None, n_boot: int = 4000):
    """``(mean, low, high, stderr, n)`` of the per-run ``values`` (NaNs dropped).

    ``method="t"``: mean ± t_{n-1, (1+level)/2} · s / sqrt(n). ``method="bootstrap"``: the
    percentile interval of ``n_boot`` resampled means (a seeded generator, ``rng``). With one
    value the interval is (nan, nan).
    """
    from scipy import stats

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), float("nan"), 0
    mean = float(x.mean())
    if n == 1:
        return mean, float("nan"), float("nan"), float("nan"), 1
    se = float(x.std(ddof=1) / math.sqrt(n))
    if method == "t":
        if se == 0:
            return mean, mean, mean, 0.0, n
        q = float(stats.t.ppf(0.5 + level / 2, n - 1))
        return mean, mean - q * se, mean + q * se, se, n
    if method == "bootstrap":
        gen = np.random.default_rng(rng)
        means = x[gen.integers(0, n, size=(n_boot, n))].mean(axis=1)
        lo, hi = np.quantile(means, [0.5 - level / 2, 0.5 + level / 2])
        return mean, float(lo), float(hi), se, n
    raise ValueError(f"method must be 't' or 'bootstrap', got {method!r}")


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple:
    """Wilson's score interval for a rate k / n: ``(rate, low, high)``."""
    from scipy import stats

    if n <= 0:
        return float("nan"), float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def mcnemar(a, b) -> dict:
    """McNemar's exact test of paired binary outcomes ``a``, ``b`` (one pair per run).

    Returns the discordant counts (``a_only``: a is 1 and b is 0; ``b_only``) and the two-sided
    p-value of the binomial test of ``a_only`` against Binomial(a_only + b_only, 1/2).
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"a and b must be paired (the same runs), got shapes {a.shape} and {b.shape}")
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = a_only + b_only
    p = 1.0 if n == 0 else float(stats.binomtest(a_only, n, 0.5).pvalue)
    return {"a_only": a_only, "b_only": b_only, "pvalue": p}


def equivalence_verdict(diffs, margin: float) -> str:
    """The stated rule (module docstring) on per-run paired differences D with margin δ."""
    if not (margin >= 0 and math.isfinite(margin)):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    _, lo95, hi95, _, n = mean_interval(diffs, 0.95)
    if n < 2:
        return "inconclusive"
    if lo95 > margin or hi95 < -margin:
        return "changed"
    _, lo90, hi90, _, _ = mean_interval(diffs, 0.90)
    if -margin <= lo90 and hi90 <= margin:
        return "unchanged"
    return "inconclusive"
