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
* :func:`joint_verdict`: one verdict for a family of k items (the topic rewards of one
  estimator): ``"changed"`` when some item's 1 - 0.05/k interval lies outside [-δ, δ]
  (Bonferroni, so the family's error rate stays at 5%), ``"unchanged"`` when every item's 90%
  interval lies inside it (an intersection-union test: equivalence of all items at 5% needs no
  correction), ``"inconclusive"`` otherwise.
* :func:`rms_ratio_interval`: the ratio of the root-mean-square sizes of two independent
  groups of runs (the A/A spread under two designs) with a percentile-bootstrap interval.

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

__all__ = [
    "mean_interval",
    "wilson_interval",
    "mcnemar",
    "equivalence_verdict",
    "joint_verdict",
    "rms_ratio_interval",
    "VERDICTS",
]

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


def joint_verdict(family, margin: float) -> str:
    """One verdict for a family of items, each a list of per-run paired differences (module docstring).

    ``"changed"``: some item's two-sided 1 - 0.05/k interval (k items, Bonferroni) lies outside
    [-δ, δ]. ``"unchanged"``: every item's 90% interval lies inside [-δ, δ] (each item's TOST at
    5%; the family is equivalent only if all are, an intersection-union test at 5%).
    ``"inconclusive"`` otherwise, and for an empty family.

    Examples
    --------
    >>> joint_verdict([[0.5, 0.6, 0.55, 0.52], [0.0, 0.01, -0.01, 0.0]], margin=0.1)
    'changed'
    >>> joint_verdict([[0.001, -0.002, 0.0, 0.001], [0.0, 0.01, -0.01, 0.0]], margin=0.1)
    'unchanged'
    """
    if not (margin >= 0 and math.isfinite(margin)):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    family = [np.asarray(d, dtype=float) for d in family]
    k = len(family)
    if k == 0:
        return "inconclusive"
    level = 1.0 - 0.05 / k
    inside = True
    for d in family:
        _, lo, hi, _, n = mean_interval(d, level)
        if n >= 2 and (lo > margin or hi < -margin):
            return "changed"
        _, lo90, hi90, _, n = mean_interval(d, 0.90)
        inside = inside and n >= 2 and -margin <= lo90 and hi90 <= margin
    return "unchanged" if inside else "inconclusive"


def rms_ratio_interval(x, y, level: float = 0.95, rng=None, n_boot: int = 4000) -> tuple:
    """RMS(x) / RMS(y) for two independent groups of runs, with a percentile-bootstrap interval.

    ``x`` and ``y`` are (runs, items) arrays of differences that should be zero (an A/A
    control); RMS = sqrt(mean of squares over runs and items). Runs are resampled with
    replacement within each group (items of one run stay together, since they share its draw).

    Returns
    -------
    (ratio, low, high)

    Examples
    --------
    >>> r, lo, hi = rms_ratio_interval([[1.0], [-1.0], [1.0]], [[2.0], [-2.0], [2.0], [-2.0]], rng=0)
    >>> r
    0.5
    """
    from choicelab._validation import as_rng

    x = np.atleast_2d(np.asarray(x, dtype=float).reshape(len(x), -1))
    y = np.atleast_2d(np.asarray(y, dtype=float).reshape(len(y), -1))
    if x.shape[0] < 2 or y.shape[0] < 2:
        return (float("nan"),) * 3
    ratio = math.sqrt(float(np.mean(x**2)) / float(np.mean(y**2)))
    rng = as_rng(0 if rng is None else rng)
    sx = np.mean(x**2, axis=1)  # each run's mean square: runs are the resampled units
    sy = np.mean(y**2, axis=1)
    bx = sx[rng.integers(0, sx.size, (n_boot, sx.size))].mean(axis=1)
    by = sy[rng.integers(0, sy.size, (n_boot, sy.size))].mean(axis=1)
    boot = np.sqrt(bx / by)
    lo, hi = np.quantile(boot, [0.5 - level / 2, 0.5 + level / 2])
    return ratio, float(lo), float(hi)
