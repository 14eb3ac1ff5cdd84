"""Preference sensitivity of Bradley-Terry and Plackett-Luce models (contract §3, X1-X4, [XK]).

Closed forms (X1, X2, X4), the sensitivity map reports draw as a heatmap, the three-option
experiment of X3 (scenarios reuse it) and the checks that register X1-X4. Every fit goes through
the estimator registry; each check measures one world at a time (``_x1_instance``, ...) with a
witness that :func:`choicelab.axioms.replay` re-runs. Worlds that are not a single instance are
documented sub-records of the witness's ``inputs``: X1's ``world`` (three BT rewards), X3's
``three_option`` experiment (grid, ``P_jk``, comparisons per pair, ``lam``), X4's ``utilities``.

Notation: three alternatives i, j, k; ``P_ij`` is the probability that i beats j. Under BT,
``logit P_ik = logit P_ij + logit P_jk`` (the rewards telescope), so the untrained pair
(i, k) is fixed by the two trained pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from choicelab._validation import as_rng
from choicelab.axioms import fitting, search, witness
from choicelab.axioms import generators as gen
from choicelab.axioms.base import HOLDS, INCONCLUSIVE, VIOLATED, Axiom, Measurement, register
from choicelab.axioms.search import SearchSource

__all__ = [
    "bt_chain",
    "bt_sensitivity",
    "sensitivity_bound",
    "sensitivity_map",
    "X2Thresholds",
    "x2_thresholds",
    "pl_first_choice",
    "pl_tuple_sensitivity",
    "ThreeOptionCurves",
    "three_option_data",
    "three_option_experiment",
    "pairwise_vs_tuple_experiment",
    "default_p_ij_grid",
    "pl_ranking_counts",
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


def _log_cosh(x: np.ndarray) -> np.ndarray:
    # log cosh x = |x| + log1p(exp(-2|x|)) - log 2, exact for large |x| where cosh overflows
    ax = np.abs(x)
    return ax + np.log1p(np.exp(-2.0 * ax)) - math.log(2.0)


# ---------------------------------------------------------------------------------------
# X1, X2: Bradley-Terry closed forms


def bt_chain(p_ij, p_jk) -> np.ndarray:
    """The BT prediction for the untrained pair (contract X1): ``P_ik = sigma(logit P_ij + logit P_jk)``.

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
    """``dP_ik/dP_ij`` with ``P_jk`` held fixed, under BT (contract X1).

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
    """The X2 bound ``dP_ik/dP_ij <= 1 / (4 P_ij (1 - P_ij))`` (contract X2, derived: ``P_ik(1 - P_ik) <= 1/4``)."""
    p = _open_probabilities(p_ij, "p_ij")
    return 1.0 / (4.0 * p * (1.0 - p))


def sensitivity_map(grid, p_jk=None) -> np.ndarray:
    """The X1 sensitivity ``dP_ik/dP_ij`` over a grid of ``(P_ij, P_jk)`` (contract X1, X2).

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
    """Where a sensitivity above ``kappa`` is possible (contract X2).

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
    """Necessary conditions for ``dP_ik/dP_ij > kappa`` under BT (contract X2, derived).

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
    return X2Thresholds(
        kappa=kappa,
        p_ij_low=0.5 - half,
        p_ij_high=0.5 + half,
        p_jk_low=1.0 / (1.0 + kappa),
        p_jk_high=kappa / (1.0 + kappa),
    )


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
    """``q_{i|T}``: the probability that ``i`` is chosen first from the tuple ``T`` under PL (contract X4).

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
    """``dq_{i|T}/dP_il = q_{i|T}^2 / P_il^2 <= 1`` under PL (contract X4, derived).

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


# ---------------------------------------------------------------------------------------
# X3: the three-option experiment

I, J, K = 0, 1, 2  # alternative indices of the three-option world


def three_option_data(p_ij: float, p_jk: float, n_per_pair: int):
    """Comparisons on the trained pairs (i, j) and (j, k) only; the pair (i, k) is never shown (contract X3).

    Alternatives are ``i = 0``, ``j = 1``, ``k = 2``. Each trained pair gets ``n_per_pair``
    comparisons, of which ``round(p * n_per_pair)`` are won by the first alternative, so the
    empirical matrix matches ``p`` up to ``1/(2 n_per_pair)``.

    Returns
    -------
    comps : choicelab.sim.Comparisons
    realised : (float, float)
        The empirical ``(P_ij, P_jk)`` of the dataset.
    """
    from choicelab.sim.data import Comparisons

    n = int(n_per_pair)
    if n < 1:
        raise ValueError(f"three_option_data: n_per_pair must be a positive integer, got {n_per_pair!r}")
    _open_probabilities(p_ij, "p_ij")
    _open_probabilities(p_jk, "p_jk")
    a, b, winner, realised = [], [], [], []
    for first, second, p in ((I, J, p_ij), (J, K, p_jk)):
        wins = int(round(float(p) * n))
        if wins in (0, n):
            raise ValueError(
                f"three_option_data: p={p!r} with n_per_pair={n} gives no comparison won by one side; "
                f"increase n_per_pair"
            )
        a.append(np.full(n, first))
        b.append(np.full(n, second))
        winner.append(np.where(np.arange(n) < wins, first, second))
        realised.append(wins / n)
    a, b, winner = (np.concatenate(x).astype(np.int64) for x in (a, b, winner))
    return Comparisons(a=a, b=b, winner=winner, annotator=np.full(a.size, -1, dtype=np.int64)), tuple(realised)


@dataclass(frozen=True)
class ThreeOptionCurves:
    """Learned versus predicted ``P_ik`` along a sweep of ``P_ij`` with ``P_jk`` fixed (contract X3).

    Attributes
    ----------
    estimator : str
    p_jk : float
        The nominal ``P_jk`` held fixed.
    p_ij : (g,) ndarray
        The nominal ``P_ij`` grid.
    realised_p_ij, realised_p_jk : (g,) ndarray
        The empirical probabilities of each dataset (what the closed form is evaluated at).
    learned_p_ik : (g,) ndarray
        ``sigma(s_i - s_k)`` from the fitted scores ``s`` (the untrained pair).
    learned_p_ij, learned_p_jk : (g,) ndarray
        The fitted model's probabilities on the trained pairs.
    closed_form_p_ik : (g,) ndarray
        The X1 prediction ``sigma(logit P_ij + logit P_jk)`` from the realised data.
    converged : (g,) bool ndarray
    """

    estimator: str
    p_jk: float
    p_ij: np.ndarray
    realised_p_ij: np.ndarray
    realised_p_jk: np.ndarray
    learned_p_ik: np.ndarray
    learned_p_ij: np.ndarray
    learned_p_jk: np.ndarray
    closed_form_p_ik: np.ndarray
    converged: np.ndarray

    @property
    def max_error(self) -> float:
        """``max |learned P_ik - closed form|`` over the grid."""
        return float(np.max(np.abs(self.learned_p_ik - self.closed_form_p_ik)))

    def to_dict(self) -> dict:
        return {
            "estimator": self.estimator,
            "p_jk": self.p_jk,
            **{
                k: getattr(self, k).tolist()
                for k in (
                    "p_ij",
                    "realised_p_ij",
                    "realised_p_jk",
                    "learned_p_ik",
                    "learned_p_ij",
                    "learned_p_jk",
                    "closed_form_p_ik",
                    "converged",
                )
            },
        }


def default_p_ij_grid(p_jk: float, points: int = 9, half_width: float = 3.0) -> np.ndarray:
    """``P_ij`` values where the X1 prediction for ``P_ik`` sweeps from near 0 to near 1.

    The grid is uniform in ``logit P_ij`` on ``-logit P_jk +- half_width``: there
    ``P_ik = sigma(logit P_ij + logit P_jk)`` runs over ``sigma(+-half_width)``.
    """
    centre = -float(logit(_open_probabilities(p_jk, "p_jk")))
    return expit(np.linspace(centre - half_width, centre + half_width, int(points)))


def _world_matrix(p_ij: float, p_jk: float) -> np.ndarray:
    """The BT world behind the data: ``r_k = 0``, ``r_j = logit P_jk``, ``r_i = r_j + logit P_ij``."""
    r = np.array([logit(p_jk) + logit(p_ij), logit(p_jk), 0.0])
    return expit(r[:, None] - r[None, :])


# Per-estimator settings of the three-option experiment. The contract neural defaults (lr 1e-4,
# 500 steps, 20 seeds) are for the case study; on three one-hot alternatives full-batch Adam at
# lr 0.05 reaches the optimum in a few hundred steps. DPO's beta only rescales its logits
# (P = sigma(beta (theta_i - theta_j))); beta = 1 needs ~10x fewer Adam steps than 0.1.
X3_FIT_OPTIONS = {
    "neural_mle": {"seeds": 4, "steps": 300, "lr": 0.05, "batch_size": None},
    "dpo": {"beta": 1.0, "lr": 0.1},
}
X3_QUICK_OPTIONS = {"neural_mle": {"seeds": 2}}
# estimators that train on the representative matrix restricted to the trained pairs (their
# registry fit forwards ``pairs=``); the others get the comparisons
_MATRIX_DATA = ("neural_mle", "dpo")


def three_option_experiment(
    estimator: str,
    p_ij_grid,
    p_jk: float,
    rng=None,
    *,
    n_per_pair: int = 20000,
    lam: float = 0.1,
    quick: bool = False,
    **fit_options,
) -> ThreeOptionCurves:
    """Fit ``estimator`` on three-option data for each ``P_ij`` in the grid (contract X3, [XK]).

    For each ``P_ij`` the data hold the trained pairs (i, j) and (j, k) only, with empirical
    probabilities from :func:`three_option_data` (``n_per_pair`` comparisons each); (i, k) is never
    shown. The estimator is fitted through the registry on the BT world instance whose trained
    pairs match the data, and the learned ``P_ik = sigma(s_i - s_k)`` is read from its scores:

    * ``"neural_mle"`` and ``"dpo"`` train on the representative matrix restricted to the trained
      pairs (``data=None, pairs=[(i, j), (j, k)]``): the same objective as the comparisons up to
      the factor ``n_per_pair``, so ``lam / n_per_pair`` is passed to keep the regulariser's weight
      (DPO is unregularised) and each step costs two items instead of ``2 n_per_pair``;
    * every other estimator (``"mle"``, ...) gets the comparisons (``data=comps``) with ``lam``,
      the count objective of contract §2 where ``lam``'s pull on the rewards is ``O(lam / n_per_pair)``.

    Fit options default to :data:`X3_FIT_OPTIONS` (smaller with ``quick``), overridden by
    ``fit_options``; the registry itself is called with ``quick=False`` so these budgets apply.

    Parameters
    ----------
    estimator : str
        A registry name: ``"mle"``, ``"neural_mle"``, ``"dpo"``, ...
    p_ij_grid : (g,) array_like
        Values of ``P_ij`` in (0, 1); :func:`default_p_ij_grid` gives the interesting range.
    p_jk : float
        The value of ``P_jk`` held fixed (dominant, e.g. 0.99).
    rng : Generator, int or None
        Passed to the estimator (neural fits draw their seeds from it).
    n_per_pair : int
        Comparisons per trained pair (sets the resolution of the empirical probabilities).
    lam : float
        contract §2 regularisation at the scale of the comparison counts.
    quick : bool
        Smaller training budgets (:data:`X3_QUICK_OPTIONS`).

    Returns
    -------
    ThreeOptionCurves

    Examples
    --------
    >>> curves = three_option_experiment("mle", default_p_ij_grid(0.99, 5), 0.99, rng=0)
    >>> bool(curves.max_error < 0.01)
    True
    """
    from choicelab import sim
    from choicelab.estimators.registry import get_estimator

    rng = as_rng(rng)
    grid = _open_probabilities(p_ij_grid, "p_ij_grid")
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError(
            f"three_option_experiment: p_ij_grid must be 1-D with at least 2 values, got shape {grid.shape}"
        )
    p_jk = float(_open_probabilities(p_jk, "p_jk"))
    est = get_estimator(estimator)
    options = dict(X3_FIT_OPTIONS.get(estimator, {}))
    if quick:
        options.update(X3_QUICK_OPTIONS.get(estimator, {}))
    options.update(fit_options)
    matrix_data = estimator in _MATRIX_DATA
    cols = {
        k: [] for k in ("realised_p_ij", "realised_p_jk", "learned_p_ik", "learned_p_ij", "learned_p_jk", "converged")
    }
    for p_ij in grid:
        comps, (rp_ij, rp_jk) = three_option_data(float(p_ij), p_jk, n_per_pair)
        inst = sim.Instance.from_matrix(_world_matrix(rp_ij, rp_jk))
        if matrix_data:
            out = est.fit(
                inst, data=None, lam=lam / n_per_pair, rng=rng, quick=False, pairs=np.array([[I, J], [J, K]]), **options
            )
        else:
            out = est.fit(inst, data=comps, lam=lam, rng=rng, quick=False, **options)
        s = np.asarray(out.scores, dtype=float)
        cols["realised_p_ij"].append(rp_ij)
        cols["realised_p_jk"].append(rp_jk)
        cols["learned_p_ik"].append(float(expit(s[I] - s[K])))
        cols["learned_p_ij"].append(float(expit(s[I] - s[J])))
        cols["learned_p_jk"].append(float(expit(s[J] - s[K])))
        cols["converged"].append(bool(out.converged))
    arrays = {k: np.asarray(v) for k, v in cols.items()}
    return ThreeOptionCurves(
        estimator=estimator,
        p_jk=p_jk,
        p_ij=grid,
        closed_form_p_ik=bt_chain(arrays["realised_p_ij"], arrays["realised_p_jk"]),
        **arrays,
    )


# ---------------------------------------------------------------------------------------
# checks

LAM_X1 = 1e-6  # X1 fits: small enough that the fitted model reproduces the world to ~1e-6
X1_TOL = 1e-3  # relative error allowed between finite differences and the closed form
X1_STEP = 1e-3  # the finite-difference step in r_i


def _x1_instance(estimator: str, instance, rng, quick: bool, seed=None, world=None) -> Measurement:
    """X1 on one BT world ``r`` (three rewards): the logit identity and the derivative, by finite differences.

    The estimator is fitted (registry, ``lam = LAM_X1``) on the world's matrix and on the worlds
    with ``r_i +- h`` (which moves ``P_ij`` and ``P_ik`` but not ``P_jk``); the central difference
    ``(P_ik(+) - P_ik(-)) / (P_ij(+) - P_ij(-))`` of the fitted probabilities is compared with
    ``P_ik(1 - P_ik) / (P_ij(1 - P_ij))`` at the base fit. Without ``world`` the world is the
    estimator's fit (``lam = 0.1``) on alternatives 0, 1, 2 of ``instance``.
    """
    if world is None:
        if instance is None or instance.m < 3:
            return search.not_applicable("X1", f"X1 needs at least 3 alternatives, got {getattr(instance, 'm', 0)}")
        fitted = np.asarray(fitting.fit_outcome(estimator, instance, lam=0.1, rng=rng, quick=quick).scores, dtype=float)
        world = fitted[:3] - fitted[:3].mean()
    r = np.asarray(world, dtype=float)
    if instance is None:
        instance = gen.bt_world_instance(r)
    h = X1_STEP
    fits, converged = {}, True
    for tag, shift in (("base", 0.0), ("plus", h), ("minus", -h)):
        rr = r.copy()
        rr[I] += shift
        out = fitting.fit_outcome(estimator, gen.bt_world_instance(rr), lam=LAM_X1, rng=rng, quick=quick)
        converged &= bool(out.converged)
        fits[tag] = np.asarray(out.scores, dtype=float)
    s = fits["base"]
    p_ij, p_jk, p_ik = (float(expit(s[a] - s[b])) for a, b in ((I, J), (J, K), (I, K)))
    identity = abs(float(logit(p_ik) - logit(p_ij) - logit(p_jk)))
    dp_ik = expit(fits["plus"][I] - fits["plus"][K]) - expit(fits["minus"][I] - fits["minus"][K])
    dp_ij = expit(fits["plus"][I] - fits["plus"][J]) - expit(fits["minus"][I] - fits["minus"][J])
    with np.errstate(invalid="ignore", divide="ignore"):
        fd = float(dp_ik / dp_ij)
    closed = float(bt_sensitivity(p_ij, p_jk))
    rel = abs(fd - closed) / closed
    err = max(rel, identity) if np.isfinite(rel) else float("nan")
    rows = [
        {
            "world": r.tolist(),
            "p_ij": p_ij,
            "p_jk": p_jk,
            "p_ik": p_ik,
            "identity_residual": identity,
            "finite_difference": fd,
            "closed_form": closed,
            "relative_error": rel,
        }
    ]
    data = {"worlds": rows}
    record = {"lam": LAM_X1, "inputs": {"world": r}}
    details = {
        "world_rewards": r,
        "fitted_rewards": s,
        "step": h,
        "finite_difference": fd,
        "closed_form": closed,
        "identity_residual": identity,
    }
    if not np.isfinite(err):
        # a rule's scores do not move under a small change of P_ij: X1 speaks about smooth (BT-type) models
        return Measurement(
            INCONCLUSIVE,
            data=data,
            detail=f"X1: the fitted P_ij and P_ik do not respond to r_i +- {h:g} (finite difference "
            f"{dp_ik:.3g} / {dp_ij:.3g}); no derivative to compare",
        )
    if err > X1_TOL:
        return witness.violation(
            "X1",
            estimator,
            instance,
            seed,
            quick,
            err,
            f"X1: fitted model departs from the BT sensitivity (relative error {err:.2e} > {X1_TOL:g})",
            None,
            data,
            record=record,
            **details,
        )
    if not converged:
        return Measurement(INCONCLUSIVE, magnitude=err, data=data, detail="X1: a fit did not converge")
    return witness.held(
        "X1",
        estimator,
        instance,
        seed,
        quick,
        err,
        f"X1: logit identity and dP_ik/dP_ij = P_ik(1-P_ik)/(P_ij(1-P_ij)) on the world {r.round(3)} "
        f"(relative error {err:.2e})",
        data,
        **record,
        **details,
    )


def _check_x1(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """X1 on fitted BT models (see ``_x1_instance``): 3 (quick) or 10 random 3-alternative BT worlds
    (rewards ``N(0, 1.5^2)``), or the world of the estimator's fit on a given instance."""
    rng = as_rng(rng)
    if instance is not None:
        return search.check_given(_x1_instance, estimator, instance, rng, quick)
    worlds = [rng.normal(0.0, 1.5, size=3) for _ in range(3 if quick else 10)]
    candidates = [(gen.bt_world_instance(r), {"world": r}) for r in worlds]
    meas = search.run_search(
        "X1",
        estimator,
        [SearchSource("bt-worlds", candidates)],
        _x1_instance,
        rng,
        quick,
        collect=lambda m: m.data.get("worlds", []),
    )

    def summary(rows, magnitude):
        return (
            f"X1: logit identity and dP_ik/dP_ij = P_ik(1-P_ik)/(P_ij(1-P_ij)) on {len(rows)} fitted worlds "
            f"(finite differences, worst relative error {magnitude:.2e})"
        )

    return search.pooled(meas, "worlds", summary)


X2_KAPPAS = (1.0, 2.0, 5.0, 25.0, 100.0, 1000.0)


def _sigmoid_difference(x: np.ndarray, h: float) -> np.ndarray:
    """``sigma(x + h) - sigma(x - h)``, evaluated at ``-|x|`` (same value) where it is accurate."""
    y = -np.abs(x)
    return expit(y + h) - expit(y - h)


def _x2_instance(estimator: str, instance, rng, quick: bool, seed=None) -> Measurement:
    """X2 over a fine grid of ``(P_ij, P_jk)``: the bound and the thresholds for several ``kappa``.

    The grid is uniform in logit space on [-12, 12]^2 (dominant preferences included), 201 (quick)
    or 801 points per axis: the grid is the world, so the witness has no instance. At every
    point the sensitivity map is cross-checked against a central difference of
    :func:`bt_chain` in ``P_ij``, compared with ``1/(4 P_ij (1 - P_ij))``, and, for each ``kappa``,
    every point with sensitivity above ``kappa`` must satisfy :func:`x2_thresholds`. The statement
    is about BT itself; ``estimator`` and ``instance`` do not enter.
    """
    n = 201 if quick else 801
    grid = expit(np.linspace(-12.0, 12.0, n))
    S = sensitivity_map(grid)
    p_ij, p_jk = np.meshgrid(grid, grid, indexing="ij")
    # central differences of the BT composition in logit coordinates: moving logit P_ij by +-h
    # moves logit P_ik by the same amount, so the ratio of the two probability differences is the
    # derivative; each difference is taken on the side where sigma is small (no cancellation near 1)
    a, b = logit(p_ij), logit(p_jk)
    h = 1e-5
    fd = _sigmoid_difference(a + b, h) / _sigmoid_difference(a, h)
    fd_error = float(np.max(np.abs(fd - S) / S))
    excess = float(np.max(S / sensitivity_bound(p_ij))) - 1.0
    per_kappa, bad = [], None
    for kappa in X2_KAPPAS:
        t = x2_thresholds(kappa)
        high = S > kappa
        outside = ~t.allows(p_ij, p_jk) & high
        lows = p_ij[high & (p_ij < 0.5)]
        per_kappa.append(
            {
                "kappa": kappa,
                "points_above": int(high.sum()),
                "violations": int(outside.sum()),
                "p_ij_low": t.p_ij_low,
                "largest_p_ij_below_half_above_kappa": float(lows.max()) if lows.size else None,
                "p_jk_high": t.p_jk_high,
            }
        )
        if outside.any() and bad is None:
            a, b = np.argwhere(outside)[0]
            bad = {"kappa": kappa, "p_ij": float(grid[a]), "p_jk": float(grid[b]), "sensitivity": float(S[a, b])}
    coarse = np.linspace(0, n - 1, 41).astype(int)
    data = {
        "per_kappa": per_kappa,
        "finite_difference_error": fd_error,
        "bound_excess": excess,
        "map": {
            "p_ij": grid[coarse].tolist(),
            "p_jk": grid[coarse].tolist(),
            "values": S[np.ix_(coarse, coarse)].tolist(),
        },
    }
    magnitude = max(excess, 0.0)
    details = {"grid_points_per_axis": n, "bound_excess": excess, "finite_difference_error": fd_error}
    if bad is not None or excess > 1e-9:
        return witness.violation(
            "X2",
            estimator,
            None,
            seed,
            quick,
            magnitude,
            "X2: a grid point exceeds the bound or a threshold",
            None,
            data,
            record={"lam": None},
            **details,
            point=bad,
        )
    if fd_error > 1e-4:
        return Measurement(
            INCONCLUSIVE,
            magnitude=fd_error,
            data=data,
            detail=f"X2: sensitivity map and finite differences disagree ({fd_error:.1e})",
        )
    return witness.held(
        "X2",
        estimator,
        None,
        seed,
        quick,
        magnitude,
        f"X2: on a {n}x{n} grid the sensitivity stays below 1/(4 P_ij(1-P_ij)) and exceeds "
        f"kappa in {X2_KAPPAS} only outside the thresholds",
        data,
        lam=None,
        **details,
    )


def _check_x2(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """X2 on the grid of ``_x2_instance`` (a given instance is not used)."""
    return search.measure_once(_x2_instance, estimator, None, rng, quick)


# ---------------------------------------------------------------------------------------
# X4: Plackett-Luce, K-tuples

X4_TOL = 1e-5  # relative error allowed between finite differences and q^2 / P_il^2


def pl_ranking_counts(utilities, n: int):
    """Full rankings of all alternatives with counts proportional to their PL probabilities.

    ``P(pi) = prod_k e^{r(pi_k)} / sum_{l >= k} e^{r(pi_l)}`` (contract §2, Plackett-Luce); each of the
    ``m!`` rankings gets ``round(n P(pi))`` voters (rankings rounding to 0 are left out), so the
    profile is representative data up to ``1/(2n)``. Meant for small ``m``.
    """
    from itertools import permutations

    from choicelab.sim.data import Rankings

    u = _as_utilities(utilities)
    n = int(n)
    if n < 1:
        raise ValueError(f"pl_ranking_counts: n must be a positive integer, got {n!r}")
    orders, counts = [], []
    for perm in permutations(range(u.size)):
        v = u[list(perm)]
        # log P(pi) = sum_k v_k - logsumexp(v_k..v_end)
        tails = np.logaddexp.accumulate(v[::-1])[::-1]
        c = int(round(n * math.exp(float(np.sum(v - tails)))))
        if c > 0:
            orders.append(tuple((int(x),) for x in perm))
            counts.append(c)
    return Rankings(orders=tuple(orders), counts=np.asarray(counts, dtype=np.int64), m=int(u.size))


def _pl_fit(rankings, lam: float, estimator: str = "pl_mle", rng=None):
    """A Plackett-Luce fit (registry) on rankings over ``rankings.m`` alternatives."""
    from choicelab.sim.instance import Instance

    instance = Instance.from_matrix(np.full((rankings.m, rankings.m), 0.5))  # only m matters with data given
    out = fitting.fit_outcome(estimator, instance, data=rankings, lam=lam, rng=rng)
    return np.asarray(out.scores, dtype=float), bool(out.converged)


def _bt_fit_comparisons(comps, m: int, lam: float):
    """The standard BT MLE (registry ``"mle"``) on sampled comparisons over ``m`` alternatives."""
    from choicelab.sim.instance import Instance

    out = fitting.fit_outcome("mle", Instance.from_matrix(np.full((m, m), 0.5)), data=comps, lam=lam)
    return np.asarray(out.scores, dtype=float), bool(out.converged)


def _x4_bound_errors(u: np.ndarray, h: float = 1e-4) -> tuple[float, float]:
    """Worst relative error of q^2/P_il^2 against finite differences, and the largest value, over all (i, l)."""
    worst_err, worst_val = 0.0, 0.0
    K = u.size
    for i in range(K):
        for l in range(K):
            if i == l:
                continue
            vals = []
            for shift in (h, -h):
                v = u.copy()
                v[l] += shift
                e = np.exp(v - v.max())
                vals.append((e[i] / e.sum(), float(expit(v[i] - v[l]))))
            fd = (vals[0][0] - vals[1][0]) / (vals[0][1] - vals[1][1])
            closed = pl_tuple_sensitivity(u, i, l)
            worst_err = max(worst_err, abs(fd - closed) / closed)
            worst_val = max(worst_val, closed)
    return worst_err, worst_val


def pairwise_vs_tuple_experiment(p_ij_grid, p_jk: float, *, n: int = 20000, lam: float = 0.1) -> dict:
    """Chained pairwise versus K = 3 tuple sensitivity on the three-option world (contract X4, measurement).

    The world: ``r_k = 0``, ``r_j = logit P_jk`` (fixed), ``r_i = r_j + logit P_ij`` over the grid.

    * pairwise: the BT MLE on comparisons of the trained pairs (i, j), (j, k) only
      (:func:`three_option_data`, ``n`` per pair) predicts the untrained ``P_ik``;
    * tuple: the PL MLE on ``n`` full rankings of {i, j, k} (:func:`pl_ranking_counts`) gives
      ``q_{i|T}``, the probability that i is chosen first from the tuple.

    Both curves are differentiated along the grid with respect to the realised ``P_ij``.
    Returns a JSON-serialisable dict of the curves and their largest sensitivities; no verdict.
    """
    grid = _open_probabilities(p_ij_grid, "p_ij_grid")
    p_jk = float(_open_probabilities(p_jk, "p_jk"))
    rows = {k: [] for k in ("p_ij", "pairwise_p_ik", "tuple_q_i", "tuple_p_ik", "closed_form_p_ik", "converged")}
    for p_ij in grid:
        comps, (rp_ij, rp_jk) = three_option_data(float(p_ij), p_jk, n)
        s, ok1 = _bt_fit_comparisons(comps, 3, lam)
        u = np.array([logit(rp_jk) + logit(rp_ij), logit(rp_jk), 0.0])
        t, ok2 = _pl_fit(pl_ranking_counts(u, n), lam)
        rows["p_ij"].append(rp_ij)
        rows["pairwise_p_ik"].append(float(expit(s[I] - s[K])))
        rows["tuple_q_i"].append(pl_first_choice(t, I))
        rows["tuple_p_ik"].append(float(expit(t[I] - t[K])))
        rows["closed_form_p_ik"].append(float(bt_chain(rp_ij, rp_jk)))
        rows["converged"].append(ok1 and ok2)
    x = np.asarray(rows["p_ij"])

    def slope(y):
        return np.diff(np.asarray(y)) / np.diff(x)

    return {
        "p_jk": p_jk,
        **rows,
        "pairwise_sensitivity": slope(rows["pairwise_p_ik"]).tolist(),
        "tuple_sensitivity": slope(rows["tuple_q_i"]).tolist(),
        "max_pairwise_sensitivity": float(np.max(np.abs(slope(rows["pairwise_p_ik"])))),
        "max_tuple_sensitivity": float(np.max(np.abs(slope(rows["tuple_q_i"])))),
    }


X4_RANKINGS = 100000  # voters of the representative rankings a fitted X4 world is learned from


def _x4_instance(
    estimator: str, instance, rng, quick: bool, seed=None, utilities=None, source: str = "random"
) -> Measurement:
    """X4 on one PL world: ``dq_{i|T}/dP_il = q_{i|T}^2 / P_il^2 <= 1`` for every ordered pair (i, l).

    ``utilities`` (input) are the world; with ``source="pl_mle"`` the estimator is first fitted
    (registry) on :data:`X4_RANKINGS` representative rankings of the world
    (:func:`pl_ranking_counts`) and the fitted utilities are differentiated instead. Without
    ``utilities``, a given instance's world is the estimator's fit on it.
    """
    converged = True
    if utilities is None:
        if instance is None:
            return search.not_applicable("X4", "no world: neither utilities nor an instance")
        out = fitting.fit_outcome(estimator, instance, rng=rng, quick=quick)
        utilities, converged = np.asarray(out.scores, dtype=float), bool(out.converged)
    u = np.asarray(utilities, dtype=float)
    if instance is None:
        instance = gen.bt_world_instance(u)  # PL pairwise probabilities are BT: P_il = sigma(u_i - u_l)
    if source == "pl_mle":
        u_eval, ok = _pl_fit(pl_ranking_counts(u, X4_RANKINGS), 0.1, estimator, rng)
        converged &= ok
    else:
        u_eval = u
    err, val = _x4_bound_errors(u_eval)
    rows = [{"source": source, "K": int(u_eval.size), "relative_error": err, "largest": val}]
    magnitude = max(err, val - 1.0, 0.0)
    data = {"tuples": rows}
    record = {"lam": 0.1 if source == "pl_mle" else None, "inputs": {"utilities": u, "source": source}}
    details = {"utilities": u_eval, "relative_error": err, "largest": val}
    if err > X4_TOL or val > 1.0 + 1e-12:
        return witness.violation(
            "X4",
            estimator,
            instance,
            seed,
            quick,
            magnitude,
            f"X4: q^2/P_il^2 disagrees with finite differences ({err:.1e}) or exceeds 1 ({val:.6f})",
            None,
            data,
            record=record,
            **details,
        )
    if not converged:
        return Measurement(INCONCLUSIVE, magnitude=magnitude, data=data, detail="X4: a PL fit did not converge")
    return witness.held(
        "X4",
        estimator,
        instance,
        seed,
        quick,
        magnitude,
        f"X4: dq_i|T/dP_il = q^2/P_il^2 <= 1 on a K = {u_eval.size} tuple ({source}; relative error "
        f"{err:.1e}, largest {val:.4f})",
        data,
        **record,
        **details,
    )


def _check_x4(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """X4: ``dq_{i|T}/dP_il = q_{i|T}^2 / P_il^2 <= 1`` under PL, by finite differences.

    Checked on random utilities (tuples of K = 3..6) and on PL models fitted (registry) to
    representative full rankings of random K = 3, 4 worlds (``_x4_instance``); every ordered
    pair (i, l) of the tuple is differentiated (``r_l +- h``, all other utilities fixed). The
    pairwise-versus-tuple experiment is attached as ``data["experiment"]`` without a verdict. A
    given instance is not used.
    """
    if estimator != "pl_mle":
        return Measurement(
            INCONCLUSIVE, detail=f"X4 is checked on estimator 'pl_mle'; nothing to measure for {estimator!r}"
        )
    rng = as_rng(rng)
    worlds = [("random", rng.normal(0.0, 2.5, size=int(rng.integers(3, 7)))) for _ in range(5 if quick else 20)]
    worlds += [("pl_mle", rng.normal(0.0, 1.5, size=int(rng.integers(3, 5)))) for _ in range(2 if quick else 5)]
    candidates = [(gen.bt_world_instance(u), {"utilities": u, "source": source}) for source, u in worlds]
    meas = search.run_search(
        "X4",
        estimator,
        [SearchSource("pl-worlds", candidates)],
        _x4_instance,
        rng,
        quick,
        collect=lambda m: m.data.get("tuples", []),
    )
    if meas.measured == VIOLATED:
        return meas
    grid = default_p_ij_grid(0.99, points=5 if quick else 13)
    experiment = pairwise_vs_tuple_experiment(grid, 0.99, n=20000)

    def summary(rows, magnitude):
        worst_err = max(r["relative_error"] for r in rows)
        worst_val = max(r["largest"] for r in rows)
        return (
            f"X4: dq_i|T/dP_il = q^2/P_il^2 <= 1 on {len(rows)} tuples (finite differences, relative error "
            f"{worst_err:.1e}, largest {worst_val:.4f}); experiment: max pairwise sensitivity "
            f"{experiment['max_pairwise_sensitivity']:.3g}, tuple {experiment['max_tuple_sensitivity']:.3g}"
        )

    meas = search.pooled(meas, "tuples", summary)
    return Measurement(
        meas.measured,
        magnitude=meas.magnitude,
        witness=meas.witness,
        data={**meas.data, "experiment": experiment},
        detail=meas.detail,
    )


# ---------------------------------------------------------------------------------------
# X3 check

X3_P_JK = 0.99
X3_TOL = {"mle": 0.02, "dpo": 0.02}  # max |learned - closed form| for exact solvers; learned models: X3_DEFAULT_TOL
X3_DEFAULT_TOL = 0.1
X3_SWING = (0.1, 0.9)  # the learned P_ik must reach below the first and above the second value


def x3_outcome(estimator: str, curves: ThreeOptionCurves) -> tuple[str, str]:
    """The X3 verdict rule on a three-option experiment: ``(outcome, one-line summary)``.

    Holds when every fit converged, the learned ``P_ik`` stays within the estimator's tolerance
    (:data:`X3_TOL`, else :data:`X3_DEFAULT_TOL`) of the X1 closed form and crosses from below
    ``X3_SWING[0]`` to above ``X3_SWING[1]``; inconclusive when a fit did not converge.
    """
    tol = X3_TOL.get(estimator, X3_DEFAULT_TOL)
    err = curves.max_error
    lo, hi = float(curves.learned_p_ik.min()), float(curves.learned_p_ik.max())
    grid = np.asarray(curves.p_ij, dtype=float)
    width = float(grid.max() - grid.min())
    summary = (
        f"learned P_ik from {lo:.3f} to {hi:.3f} as P_ij moves over an interval of width {width:.3f}; "
        f"max |learned - X1 closed form| = {err:.3f} (tolerance {tol:g})"
    )
    if not np.all(curves.converged):
        return INCONCLUSIVE, f"{int((~np.asarray(curves.converged)).sum())} fits did not converge; " + summary
    if err > tol or not (lo < X3_SWING[0] and hi > X3_SWING[1]):
        return VIOLATED, summary
    return HOLDS, summary


def _x3_instance(estimator: str, instance, rng, quick: bool, seed=None, three_option=None) -> Measurement:
    """X3 on one three-option experiment (:func:`three_option_experiment`, verdict :func:`x3_outcome`).

    ``three_option`` (input; the witness's documented sub-record) holds ``p_ij_grid``, ``p_jk``,
    ``n_per_pair`` and ``lam``; by default ``P_jk = 0.99`` and :func:`default_p_ij_grid` with 5
    (quick) or 11 points. The experiment builds its own worlds, so the witness has no instance.
    """
    setup = dict(three_option or {})
    setup.setdefault("p_jk", X3_P_JK)
    setup.setdefault("p_ij_grid", default_p_ij_grid(setup["p_jk"], points=5 if quick else 11))
    setup.setdefault("n_per_pair", 20000)
    setup.setdefault("lam", 0.1)
    grid = np.asarray(setup["p_ij_grid"], dtype=float)
    curves = three_option_experiment(
        estimator,
        grid,
        float(setup["p_jk"]),
        rng,
        n_per_pair=int(setup["n_per_pair"]),
        lam=float(setup["lam"]),
        quick=quick,
    )
    outcome, summary = x3_outcome(estimator, curves)
    err = curves.max_error
    data = {
        "curves": curves.to_dict(),
        "tolerance": X3_TOL.get(estimator, X3_DEFAULT_TOL),
        "p_ij_interval": float(grid.max() - grid.min()),
    }
    detail = f"X3 (P_jk = {setup['p_jk']}): {summary}"
    record = {"lam": float(setup["lam"]), "inputs": {"three_option": setup}}
    if outcome == VIOLATED:
        return witness.violation(
            "X3", estimator, None, seed, quick, err, detail, None, data, record=record, curves=curves.to_dict()
        )
    if outcome == HOLDS:
        return witness.held(
            "X3",
            estimator,
            None,
            seed,
            quick,
            err,
            detail,
            data,
            **record,
            learned_p_ik=curves.learned_p_ik,
            closed_form_p_ik=curves.closed_form_p_ik,
        )
    return Measurement(outcome, magnitude=err, data=data, detail=detail)


def _check_x3(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """X3: the learned untrained-pair probability follows X1 and swings from near 0 to near 1.

    ``P_jk = 0.99`` is held fixed and ``P_ij`` sweeps :func:`default_p_ij_grid` (where the X1
    prediction runs from 0.05 to 0.95, an interval of ``P_ij`` of width about 0.17). Holds when the
    learned ``P_ik`` stays within the tolerance of ``sigma(logit P_ij + logit P_jk)`` (0.02 for the
    tabular MLE and DPO, 0.1 for neural models) and crosses from below 0.1 to above 0.9.
    The check builds its own three-option worlds; ``instance`` is not used.
    """
    return search.measure_once(_x3_instance, estimator, None, rng, quick)


# ---------------------------------------------------------------------------------------
# registration

register(
    Axiom(
        "X1",
        "BT sensitivity",
        "Under BT, logit P_ik = logit P_ij + logit P_jk and dP_ik/dP_ij (P_jk fixed) = "
        "P_ik(1 - P_ik) / (P_ij(1 - P_ij)).",
        "[XK]",
        _check_x1,
        measure=_x1_instance,
    )
)
register(
    Axiom(
        "X2",
        "Strong preferences drive sensitivity",
        "dP_ik/dP_ij <= 1/(4 P_ij(1 - P_ij)); sensitivity above kappa >= 1 needs P_ij outside "
        "[(1 - sqrt(1 - 1/kappa))/2, (1 + sqrt(1 - 1/kappa))/2] and P_jk dominant in the opposite "
        "direction (|logit P_jk| > log kappa).",
        "[XK]; derived bound",
        _check_x2,
        measure=_x2_instance,
    )
)
register(
    Axiom(
        "X3",
        "Learned models inherit the sensitivity",
        "Fitting BT (tabular, neural) or DPO to data whose trained pairs hold one dominant preference "
        "moves the untrained pair's predicted probability from near 0 to near 1 under small changes of "
        "the other trained pair, as X1 predicts.",
        "[XK]",
        _check_x3,
        measure=_x3_instance,
    )
)
register(
    Axiom(
        "X4",
        "Plackett-Luce / K-tuples",
        "Under PL, within a tuple T containing i and l, dq_{i|T}/dP_il = q_{i|T}^2 / P_il^2 <= 1 "
        "(utilities other than r_l fixed); the pairwise-versus-tuple experiment is reported as a "
        "measurement.",
        "[XK]; derived bound",
        _check_x4,
        measure=_x4_instance,
    )
)
