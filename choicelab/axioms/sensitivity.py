"""Preference sensitivity of Bradley-Terry and Plackett-Luce models (SPEC §3, X1-X4, [XK]).

Closed forms (X1, X2, X4), the sensitivity map reports draw as a heatmap, the three-option
experiment of X3 (scenarios reuse it) and the checks that register X1-X4.

Notation: three alternatives i, j, k; ``P_ij`` is the probability that i beats j. Under BT,
``logit P_ik = logit P_ij + logit P_jk`` (the rewards telescope), so the untrained pair
(i, k) is fixed by the two trained pairs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, logit

from choicelab.axioms.base import HOLDS, INCONCLUSIVE, VIOLATED, Axiom, Measurement, register

__all__ = [
    "bt_chain", "bt_sensitivity", "sensitivity_bound", "sensitivity_map", "X2Thresholds",
    "x2_thresholds", "pl_first_choice", "pl_tuple_sensitivity", "ThreeOptionCurves",
    "three_option_data", "three_option_experiment", "pairwise_vs_tuple_experiment",
]


# ---------------------------------------------------------------------------------------
# validation helpers

def _open_probabilities(p, name: str) -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    bad = ~((arr > 0) & (arr < 1))
    if np.any(bad):
        first = arr[bad].ravel()[0]
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {first!r}")
    return arr


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def _log_cosh(x: np.ndarray) -> np.ndarray:
    # log cosh x = |x| + log1p(exp(-2|x|)) - log 2, exact for large |x| where cosh overflows
    ax = np.abs(x)
    return ax + np.log1p(np.exp(-2.0 * ax)) - math.log(2.0)


# ---------------------------------------------------------------------------------------
# X1, X2: Bradley-Terry closed forms

def bt_chain(p_ij, p_jk) -> np.ndarray:
    """The BT prediction for the untrained pair (SPEC X1): ``P_ik = sigma(logit P_ij + logit P_jk)``.

    Under BT, ``P_ij = sigma(r_i - r_j)``, so ``logit P_ik = r_i - r_k = (r_i - r_j) + (r_j - r_k)``.
    Broadcasts over array arguments.

    Examples
    --------
    >>> round(float(bt_chain(0.01, 0.99)), 12)
    0.5
    """
    a = logit(_open_probabilities(p_ij, "p_ij"))
    b = logit(_open_probabilities(p_jk, "p_jk"))
    return expit(a + b)


def bt_sensitivity(p_ij, p_jk) -> np.ndarray:
    """``dP_ik/dP_ij`` with ``P_jk`` held fixed, under BT (SPEC X1).

    ``dP_ik/dP_ij = P_ik (1 - P_ik) / (P_ij (1 - P_ij))`` with ``P_ik`` from :func:`bt_chain`
    (chain rule: ``dP_ik/d logit P_ik = P_ik(1 - P_ik)``, ``d logit P_ij/dP_ij = 1/(P_ij(1 - P_ij))``).
    Evaluated as ``cosh^2(a/2) / cosh^2((a + b)/2)`` with ``a = logit P_ij``, ``b = logit P_jk``
    (since ``sigma'(x) = 1/(4 cosh^2(x/2))``), which stays finite for dominant preferences.

    Examples
    --------
    >>> round(float(bt_sensitivity(0.01, 0.99)), 6)   # 0.25 / (0.01 * 0.99)
    25.252525
    """
    a = logit(_open_probabilities(p_ij, "p_ij"))
    b = logit(_open_probabilities(p_jk, "p_jk"))
    return np.exp(2.0 * (_log_cosh(a / 2.0) - _log_cosh((a + b) / 2.0)))


def sensitivity_bound(p_ij) -> np.ndarray:
    """The X2 bound ``dP_ik/dP_ij <= 1 / (4 P_ij (1 - P_ij))`` (SPEC X2, derived: ``P_ik(1 - P_ik) <= 1/4``)."""
    p = _open_probabilities(p_ij, "p_ij")
    return 1.0 / (4.0 * p * (1.0 - p))


def sensitivity_map(grid, p_jk=None) -> np.ndarray:
    """The X1 sensitivity ``dP_ik/dP_ij`` over a grid of ``(P_ij, P_jk)`` (SPEC X1, X2).

    Parameters
    ----------
    grid : (a,) array_like
        Values of ``P_ij`` in (0, 1).
    p_jk : (b,) array_like, optional
        Values of ``P_jk`` in (0, 1); defaults to ``grid``.

    Returns
    -------
    (a, b) ndarray
        ``values[s, t] = bt_sensitivity(grid[s], p_jk[t])``, the layout
        :func:`choicelab.reports.figures.sensitivity_heatmap` expects.
    """
    p_ij = _open_probabilities(grid, "grid")
    p_jk = p_ij if p_jk is None else _open_probabilities(p_jk, "p_jk")
    if p_ij.ndim != 1 or p_jk.ndim != 1:
        raise ValueError(f"sensitivity_map: grid and p_jk must be 1-D, got shapes {p_ij.shape} and {p_jk.shape}")
    return bt_sensitivity(p_ij[:, None], p_jk[None, :])


@dataclass(frozen=True)
class X2Thresholds:
    """Where a sensitivity above ``kappa`` is possible (SPEC X2).

    ``dP_ik/dP_ij > kappa`` requires ``P_ij < p_ij_low`` or ``P_ij > p_ij_high``, and ``P_jk``
    dominant in the opposite direction: ``P_ij < 1/2`` with ``P_jk > p_jk_high``, or
    ``P_ij > 1/2`` with ``P_jk < p_jk_low``.
    """

    kappa: float
    p_ij_low: float
    p_ij_high: float
    p_jk_low: float
    p_jk_high: float

    def allows(self, p_ij, p_jk) -> np.ndarray:
        """True where ``(P_ij, P_jk)`` satisfies the necessary conditions for sensitivity above ``kappa``."""
        p_ij = np.asarray(p_ij, dtype=float)
        p_jk = np.asarray(p_jk, dtype=float)
        low = (p_ij < self.p_ij_low) & (p_jk > self.p_jk_high)
        high = (p_ij > self.p_ij_high) & (p_jk < self.p_jk_low)
        return low | high


def x2_thresholds(kappa: float) -> X2Thresholds:
    """Necessary conditions for ``dP_ik/dP_ij > kappa`` under BT (SPEC X2, derived).

    With ``a = logit P_ij`` and ``b = logit P_jk`` the sensitivity is
    ``S = sigma'(a + b) / sigma'(a) = cosh^2(a/2) / cosh^2((a + b)/2)``.

    * ``P_ij``: ``S <= 1/(4 P_ij (1 - P_ij))`` because ``sigma' <= 1/4``; so ``S > kappa`` needs
      ``P_ij (1 - P_ij) < 1/(4 kappa)``, i.e. ``P_ij`` outside
      ``[(1 - sqrt(1 - 1/kappa))/2, (1 + sqrt(1 - 1/kappa))/2]``.
    * ``P_jk``: ``S > 1`` needs ``|a + b| < |a|``, so ``b`` has the sign opposite to ``a``. For
      fixed ``b`` of that sign, ``d log S / da = tanh(a/2) - tanh((a + b)/2)`` has one sign,
      so ``S`` is monotone in ``a`` and tends to ``e^{|b|}`` as ``|a| -> inf``: ``S < e^{|b|}``.
      Hence ``S > kappa`` needs ``|logit P_jk| > log kappa``: ``P_jk > kappa/(1 + kappa)`` when
      ``P_ij < 1/2`` and ``P_jk < 1/(1 + kappa)`` when ``P_ij > 1/2``.

    Parameters
    ----------
    kappa : float
        Sensitivity level, ``kappa >= 1``.

    Examples
    --------
    >>> t = x2_thresholds(4.0)
    >>> round(t.p_ij_low, 4), round(t.p_ij_high, 4), t.p_jk_high
    (0.067, 0.933, 0.8)
    """
    kappa = float(kappa)
    if not (np.isfinite(kappa) and kappa >= 1.0):
        raise ValueError(f"x2_thresholds: kappa must be a finite number >= 1, got {kappa!r}")
    half = math.sqrt(1.0 - 1.0 / kappa) / 2.0
    return X2Thresholds(kappa=kappa, p_ij_low=0.5 - half, p_ij_high=0.5 + half,
                        p_jk_low=1.0 / (1.0 + kappa), p_jk_high=kappa / (1.0 + kappa))


# ---------------------------------------------------------------------------------------
# X4: Plackett-Luce closed forms

def _as_utilities(utilities) -> np.ndarray:
    u = np.asarray(utilities, dtype=float)
    if u.ndim != 1 or u.size < 2 or not np.all(np.isfinite(u)):
        raise ValueError(f"utilities must be a finite 1-D array of length >= 2, got {u!r}")
    return u


def _tuple_members(members, m: int) -> np.ndarray:
    idx = np.arange(m) if members is None else np.asarray(members)
    if idx.ndim != 1 or idx.size < 2 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"members must be a 1-D integer array of at least 2 alternatives, got {members!r}")
    if np.any((idx < 0) | (idx >= m)) or np.unique(idx).size != idx.size:
        raise ValueError(f"members must be distinct indices in 0..{m - 1}, got {idx.tolist()}")
    return idx


def pl_first_choice(utilities, i: int, members=None) -> float:
    """``q_{i|T}``: the probability that ``i`` is chosen first from the tuple ``T`` under PL (SPEC X4).

    ``q_{i|T} = e^{r_i} / sum_{l in T} e^{r_l} = 1 / (1 + sum_{l in T, l != i} e^{r_l - r_i})``.
    ``members`` lists ``T`` (default: every alternative); it must contain ``i``.
    """
    u = _as_utilities(utilities)
    idx = _tuple_members(members, u.size)
    if int(i) not in set(idx.tolist()):
        raise ValueError(f"pl_first_choice: i={i} is not a member of the tuple {idx.tolist()}")
    z = u[idx] - u[int(i)]
    return float(1.0 / np.sum(np.exp(z)))


def pl_tuple_sensitivity(utilities, i: int, l: int, members=None) -> float:
    """``dq_{i|T}/dP_il = q_{i|T}^2 / P_il^2 <= 1`` under PL (SPEC X4, derived).

    What is held fixed: the utilities of every member of ``T`` except ``l`` (so ``r_i`` and the
    other pairwise probabilities ``P_im``, ``m != l``, are fixed; only ``r_l`` moves). In
    probability coordinates ``q_{i|T} = 1 / (1 + sum_{m != i} (1 - P_im)/P_im)``; the ``l`` term
    has ``d/dP_il [(1 - P_il)/P_il] = -1/P_il^2``, hence ``dq/dP_il = q^2 / P_il^2``. Equivalently in
    utilities: ``dq/dr_l = -q q_l``, ``dP_il/dr_l = -P_il P_li`` and ``q_l/q = P_li/P_il``. The bound
    ``<= 1`` holds because ``q_{i|T} = e^{r_i}/sum_T e^{r_m} <= e^{r_i}/(e^{r_i} + e^{r_l}) = P_il``.
    Moving ``r_i`` instead gives ``q(1 - q)/(P_il(1 - P_il))``, which is not bounded by 1.
    """
    u = _as_utilities(utilities)
    idx = _tuple_members(members, u.size)
    members_set = set(idx.tolist())
    if int(i) not in members_set or int(l) not in members_set or int(i) == int(l):
        raise ValueError(f"pl_tuple_sensitivity: i={i} and l={l} must be distinct members of {idx.tolist()}")
    q = pl_first_choice(u, i, idx)
    p_il = float(expit(u[int(i)] - u[int(l)]))
    return q * q / (p_il * p_il)
