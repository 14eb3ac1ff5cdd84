"""Theorems about the (weighted) Bradley-Terry MLE (SPEC §3: T1, P4, P5, P6, P7, P8).

Each check measures one statement on instances it is given or builds itself, and returns a
:class:`~choicelab.axioms.base.Measurement`; :mod:`choicelab.axioms.api` compares it with the
theory table. The fits call :func:`choicelab.estimators.bt_mle` directly, since every statement
here is about that solver's optimum (SPEC Eq. 1 and Eq. 2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from choicelab.axioms.base import HOLDS, INCONCLUSIVE, VIOLATED, Axiom, Measurement, register

__all__ = [
    "ImpossibilityPair", "impossibility_pair", "borda_identity_residual", "s_space_grid",
    "SSpaceGrid", "LAM",
]

LAM = 0.1  # SPEC §2 default regularisation (lambda/2) sum_i w_i r_i^2
IDENTITY_TOL = 1e-8  # P4/P5 residual bound (the solver converges far below it)
MATCH_TOL = 1e-7  # P6-P8: two solutions of the same strictly convex problem agree to this


# ---------------------------------------------------------------------------------------
# shared helpers

def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


SOLVER_TOL = 1e-12  # bt_mle's relative gradient tolerance here (its default is 1e-10)


def _bt_mle(P, weights=None, lam=LAM):
    from choicelab.estimators.bt import bt_mle

    # A tight stopping rule, so that the P4/P5 residual (the gradient divided by w_i) measures
    # the theorem rather than where the solver chose to stop: at the default 1e-10 the residual
    # reaches ~1e-8 around m = 40.
    return bt_mle(P, weights=weights, lam=lam, tol=SOLVER_TOL)


def _preference_matrix(P, name: str = "P") -> np.ndarray:
    P = np.asarray(P, dtype=float)
    if P.ndim != 2 or P.shape[0] != P.shape[1] or P.shape[0] < 2:
        raise ValueError(f"{name} must be a square (m, m) matrix with m >= 2, got shape {P.shape}")
    if not np.all(np.isfinite(P)):
        raise ValueError(f"{name} must be finite")
    return P


def _weights(weights, m: int) -> np.ndarray:
    if weights is None:
        return np.ones(m)
    w = np.asarray(weights, dtype=float)
    if w.shape != (m,):
        raise ValueError(f"weights must have shape ({m},), got {w.shape}")
    if np.any(~np.isfinite(w)) or np.any(w <= 0):
        k = int(np.flatnonzero(~(np.isfinite(w) & (w > 0)))[0])
        raise ValueError(f"weights must be positive and finite, got weights[{k}] = {w[k]!r}")
    return w


def _order_violations(scores: np.ndarray, rewards: np.ndarray, tol: float) -> list[tuple[int, int]]:
    """Pairs (i, j) that the scores separate by more than ``tol`` but the rewards do not order the same way."""
    ds = scores[:, None] - scores[None, :]
    dr = rewards[:, None] - rewards[None, :]
    bad = (ds > tol) & (dr <= 0)
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(bad))]


def _wrong_estimator(axiom_id: str, expected: str, estimator: str) -> Measurement:
    return Measurement(INCONCLUSIVE, detail=f"{axiom_id} is a statement about estimator {expected!r}; "
                       f"nothing to measure for {estimator!r}")


# ---------------------------------------------------------------------------------------
# random instances (the checks search their own when instance is None)

@dataclass(frozen=True)
class _Case:
    P: np.ndarray
    X: np.ndarray | None = None
    region: object | None = None
    instance: object | None = None


def _random_population(d: int, rng: np.random.Generator):
    from choicelab import sim

    n_types = int(rng.integers(2, 5))
    shares = rng.dirichlet(np.ones(n_types))
    types = []
    for t in range(n_types):
        if rng.random() < 0.5:
            reward = sim.linear_reward(rng.normal(0.0, 3.0, size=d))
        else:
            reward = sim.ideal_point_reward(rng.random(d))
        types.append(sim.AnnotatorType(float(shares[t]), reward))
    return sim.Population(types, choice="bt", beta=float(rng.uniform(1.0, 4.0)))


def _random_cases(rng: np.random.Generator, quick: bool, *, d_choices=(1, 2), m_range=(3, 24),
                  count: int | None = None) -> list[_Case]:
    """Random instances from the sim generators: uniform alternatives in a unit box, a BT mixture."""
    from choicelab import sim

    count = (3 if quick else 20) if count is None else count
    cases = []
    for _ in range(count):
        d = int(rng.choice(d_choices))
        m = int(rng.integers(m_range[0], (m_range[1] // 2 if quick else m_range[1]) + 1))
        m = max(m, m_range[0])
        region = sim.Box(np.zeros(d), np.ones(d))
        alts = sim.uniform_alternatives(region, m, rng=rng)
        pop = _random_population(d, rng)
        inst = sim.Instance(alts, pop, region)
        cases.append(_Case(P=np.asarray(inst.P, dtype=float), X=np.asarray(alts.X, dtype=float),
                           region=region, instance=inst))
    return cases


def _case_from_instance(instance) -> _Case:
    P = _preference_matrix(instance.P, "instance.P")
    X = getattr(instance, "X", None)
    region = getattr(instance, "region", None)
    return _Case(P=P, X=None if X is None else np.asarray(X, dtype=float), region=region, instance=instance)


def _cases(instance, rng, quick, **kwargs) -> list[_Case]:
    if instance is not None:
        return [_case_from_instance(instance)]
    return _random_cases(rng, quick, **kwargs)


def _case_weights(case: _Case, rng: np.random.Generator, kind: str) -> tuple[np.ndarray, str]:
    """Voronoi weights when the case has positions and a region, else random (Dirichlet) weights."""
    m = case.P.shape[0]
    if kind == "voronoi" and case.X is not None and case.region is not None:
        from choicelab.estimators.weights import voronoi_weights

        w = np.asarray(voronoi_weights(case.X, case.region, rng=rng), dtype=float)
        if np.all(w > 0):
            return w, "voronoi"
    return rng.dirichlet(np.ones(m)), "dirichlet"


def _witness(case: _Case, **extra) -> dict:
    out = {"P": case.P.tolist()}
    if case.X is not None:
        out["X"] = case.X.tolist()
    if case.instance is not None and hasattr(case.instance, "to_dict"):
        try:
            out["instance"] = case.instance.to_dict()
        except (TypeError, ValueError):
            pass  # a population with custom reward callables has no dict form; P (and X) still reproduce the fit
    for key, value in extra.items():
        out[key] = value.tolist() if isinstance(value, np.ndarray) else value
    return out


# ---------------------------------------------------------------------------------------
# T1: impossibility of recovering the average reward

@dataclass(frozen=True)
class ImpossibilityPair:
    """Two BT populations over ``m = 2`` alternatives with the same preference matrix (SPEC T1).

    Attributes
    ----------
    p : float
        The common ``P_01``.
    shares_a, shares_b : (T,) ndarray
        Type shares of population A and B (``T = 2`` each).
    rewards_a, rewards_b : (T, 2) ndarray
        ``rewards[t] = (r_t(x_0), r_t(x_1))``, explicit rewards on the two alternatives.
    """

    p: float
    shares_a: np.ndarray
    rewards_a: np.ndarray
    shares_b: np.ndarray
    rewards_b: np.ndarray

    @staticmethod
    def _p01(shares, rewards) -> float:
        return float(np.sum(shares * expit(rewards[:, 0] - rewards[:, 1])))

    @staticmethod
    def _gap(shares, rewards) -> float:
        return float(np.sum(shares * (rewards[:, 0] - rewards[:, 1])))

    @property
    def p_a(self) -> float:
        """``P_01`` of population A: ``sum_t alpha_t sigma(r_t(x_0) - r_t(x_1))``."""
        return self._p01(self.shares_a, self.rewards_a)

    @property
    def p_b(self) -> float:
        return self._p01(self.shares_b, self.rewards_b)

    @property
    def gap_a(self) -> float:
        """Average-reward gap ``sum_t alpha_t (r_t(x_0) - r_t(x_1))`` of population A."""
        return self._gap(self.shares_a, self.rewards_a)

    @property
    def gap_b(self) -> float:
        return self._gap(self.shares_b, self.rewards_b)

    def to_dict(self) -> dict:
        def pop(shares, rewards, p01, gap):
            return {"choice": "bt", "beta": 1.0,
                    "types": [{"share": float(s), "rewards": [float(v) for v in r]} for s, r in zip(shares, rewards)],
                    "P01": p01, "average_gap": gap}

        return {"m": 2, "p": self.p,
                "population_a": pop(self.shares_a, self.rewards_a, self.p_a, self.gap_a),
                "population_b": pop(self.shares_b, self.rewards_b, self.p_b, self.gap_b)}


def impossibility_pair(bound: float, p: float = 0.5) -> ImpossibilityPair:
    """Two 2-type BT populations with ``P_01 = p`` whose average gaps differ by more than ``bound`` (SPEC T1).

    Construction. Population A has shares ``(1/2, 1/2)`` and gaps ``a_1 = logit p + 1/2`` and
    ``a_2 = logit(2p - sigma(a_1))``, so ``(sigma(a_1) + sigma(a_2))/2 = p`` (``0 < 2p - sigma(a_1) < 1``
    for every ``p`` in (0, 1)). Population B has a minority type of share ``alpha`` with a huge
    gap ``+D`` (``-D`` when ``p > 1/2``) and a majority type whose gap ``c`` solves
    ``alpha sigma(+-D) + (1 - alpha) sigma(c) = p``; with ``alpha = p/2`` (resp. ``(1 - p)/2``) the
    solution exists for every ``D``. B's average gap ``+-alpha D + (1 - alpha) c`` is unbounded in
    ``D`` while ``c`` stays bounded, so ``D`` is doubled until the gaps differ by more than
    ``bound``. Any algorithm that sees only ``P`` answers the same on A and B, so it misses one
    average gap (hence the average reward up to a constant) by more than ``bound / 2``.

    Examples
    --------
    >>> pair = impossibility_pair(100.0, p=0.3)
    >>> abs(pair.p_a - pair.p_b) < 1e-12, abs(pair.gap_a - pair.gap_b) > 100
    (True, True)
    """
    bound = float(bound)
    if not (np.isfinite(bound) and bound >= 0):
        raise ValueError(f"impossibility_pair: bound must be a finite number >= 0, got {bound!r}")
    p = float(p)
    if not (0.0 < p < 1.0):
        raise ValueError(f"impossibility_pair: p must lie strictly between 0 and 1, got {p!r}")
    a1 = logit(p) + 0.5
    a2 = logit(2.0 * p - expit(a1))
    shares_a = np.array([0.5, 0.5])
    rewards_a = np.array([[a1, 0.0], [a2, 0.0]])
    gap_a = float(np.sum(shares_a * rewards_a[:, 0]))

    sign = 1.0 if p <= 0.5 else -1.0
    alpha = p / 2.0 if sign > 0 else (1.0 - p) / 2.0
    D = 1.0
    while True:
        c = logit((p - alpha * expit(sign * D)) / (1.0 - alpha))
        gap_b = alpha * sign * D + (1.0 - alpha) * c
        if abs(gap_b - gap_a) > bound:
            break
        D *= 2.0
    shares_b = np.array([alpha, 1.0 - alpha])
    rewards_b = np.array([[sign * D, 0.0], [c, 0.0]])
    return ImpossibilityPair(p=p, shares_a=shares_a, rewards_a=rewards_a, shares_b=shares_b, rewards_b=rewards_b)


def _check_t1(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """T1: exhibit populations with equal data and average gaps further apart than each bound."""
    rng = _rng(rng)
    if instance is not None:
        P = _preference_matrix(instance.P, "instance.P")
        ps = [float(P[0, 1])]
        if not (0.0 < ps[0] < 1.0):
            return Measurement(INCONCLUSIVE, detail=f"T1 needs 0 < P_01 < 1 to build BT populations, got {ps[0]}")
    else:
        ps = [0.5] + rng.uniform(0.02, 0.98, size=2 if quick else 6).tolist()
    bounds = [10.0, 1e3] if quick else [1.0, 10.0, 1e2, 1e3, 1e6]
    worst_data_gap, rows, witness = 0.0, [], None
    ok = True
    for p in ps:
        for bound in bounds:
            pair = impossibility_pair(bound, p)
            data_gap = abs(pair.p_a - pair.p_b)
            gap_diff = abs(pair.gap_a - pair.gap_b)
            worst_data_gap = max(worst_data_gap, data_gap)
            row = {"p": p, "bound": bound, "data_difference": data_gap, "gap_a": pair.gap_a,
                   "gap_b": pair.gap_b, "gap_difference": gap_diff}
            if estimator == "mle":
                # the estimator sees the same P for both populations, so one fitted gap for both
                P2 = np.array([[0.5, pair.p_a], [1.0 - pair.p_a, 0.5]])
                r = _bt_mle(P2, lam=LAM).rewards
                fitted = float(r[0] - r[1])
                row["fitted_gap"] = fitted
                row["worst_error"] = max(abs(fitted - pair.gap_a), abs(fitted - pair.gap_b))
            rows.append(row)
            if not (data_gap <= 1e-12 and gap_diff > bound):
                ok = False
            witness = pair.to_dict() | {"bound": bound}
    detail = (f"{len(rows)} population pairs (m=2, T=2), bounds up to {max(bounds):g}: equal P to "
              f"{worst_data_gap:.1e}, average gaps differ by more than each bound")
    if not ok:
        return Measurement(INCONCLUSIVE, magnitude=worst_data_gap, witness=witness,
                           detail="T1 construction failed to exhibit the impossibility: " + detail,
                           data={"pairs": rows})
    return Measurement(HOLDS, magnitude=worst_data_gap, witness=witness, detail=detail, data={"pairs": rows})


# ---------------------------------------------------------------------------------------
# P4, P5: the (weighted) MLE is (weighted) Borda

def borda_identity_residual(P, rewards, lam: float, weights=None) -> np.ndarray:
    """Residual of the first-order condition of SPEC Eq. 1 / Eq. 2 in Borda form (SPEC P4, P5).

    ``res_i = sum_j w_j sigma(r_i - r_j) + lam r_i - sum_j w_j P_ij`` with the sums over all j,
    self-term included (``sigma(0) = P_ii = 1/2``); ``w = 1`` for the standard MLE (P4, where the
    last sum is the Borda score B(i)) and the given weights for the weighted MLE (P5, where it is
    WAWR(i)). Derivation: the gradient of Eq. 2 in ``r_i`` is
    ``w_i [sum_{j != i} w_j (sigma(r_i - r_j) - P_ij) + lam r_i]`` (using ``P_ji = 1 - P_ij``),
    so at the optimum ``res = 0`` wherever ``w_i > 0``; adding ``w_i/2`` to both sides brings in the
    self-terms.
    """
    P = _preference_matrix(P)
    m = P.shape[0]
    r = np.asarray(rewards, dtype=float)
    if r.shape != (m,):
        raise ValueError(f"rewards must have shape ({m},), got {r.shape}")
    w = _weights(weights, m)
    lam = float(lam)
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    sig = expit(r[:, None] - r[None, :])
    return sig @ w + lam * r - P @ w


def _borda_measure(case: _Case, rewards: np.ndarray, lam: float, weights: np.ndarray | None,
                   tol: float = IDENTITY_TOL) -> dict:
    """Everything P4 / P5 assert about one fitted reward vector, as numbers."""
    m = case.P.shape[0]
    w = np.ones(m) if weights is None else weights
    res = borda_identity_residual(case.P, rewards, lam, weights)
    scores = case.P @ w  # Borda (w = 1) or WAWR, self-terms included
    centre = float(np.dot(w, rewards))
    # Order claims are checked where the scores separate clearly; the identity makes reward
    # order and score order equal, and a residual of size tol can blur gaps below ~tol.
    viol = _order_violations(scores, np.asarray(rewards, dtype=float), tol=10 * tol)
    return {"residual": float(np.max(np.abs(res))), "weighted_sum": abs(centre), "order_violations": viol,
            "worst": max(float(np.max(np.abs(res))), abs(centre)),
            "ok": bool(np.max(np.abs(res)) < tol and abs(centre) < tol and not viol)}


def _borda_check(axiom_id: str, items: list, fit, tol: float = IDENTITY_TOL) -> Measurement:
    """Fit every ``(case, weights, how)`` item and measure the P4 / P5 claims on it."""
    worst, rows, witness, nonconv = 0.0, [], None, 0
    for case, w, how in items:
        result = fit(case.P, w)
        nonconv += not result.converged
        rewards = np.asarray(result.rewards, dtype=float)
        meas = _borda_measure(case, rewards, LAM, w, tol)
        rows.append({"m": int(case.P.shape[0]), "weights": how, "residual": meas["residual"],
                     "weighted_sum": meas["weighted_sum"], "order_violations": len(meas["order_violations"]),
                     "converged": bool(result.converged)})
        worst = max(worst, meas["worst"])
        if not meas["ok"] and witness is None:
            witness = _witness(case, weights=w, lam=LAM, rewards=rewards, residual=meas["residual"],
                               order_violations=meas["order_violations"])
    what = "Borda" if axiom_id == "P4" else "WAWR"
    if witness is not None:
        return Measurement(VIOLATED, magnitude=worst, witness=witness, data={"instances": rows},
                           detail=f"{axiom_id}: the fitted rewards break the {what} identity, sum or order "
                                  f"(worst residual {worst:.2e}, bound {tol:g})")
    if nonconv:
        return Measurement(INCONCLUSIVE, magnitude=worst, data={"instances": rows},
                           detail=f"{axiom_id}: {nonconv} of {len(items)} fits did not converge")
    return Measurement(HOLDS, magnitude=worst, data={"instances": rows},
                       detail=f"{axiom_id}: {what} identity, weighted sum 0 and {what} order on {len(items)} "
                              f"fits; worst residual {worst:.2e} < {tol:g}")


def _check_p4(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """P4: the standard MLE satisfies sum_j sigma(r_i - r_j) + lam r_i = B(i)."""
    if estimator != "mle":
        return _wrong_estimator("P4", "mle", estimator)
    rng = _rng(rng)
    items = [(case, None, "none") for case in _cases(instance, rng, quick)]
    return _borda_check("P4", items, lambda P, w: _bt_mle(P, lam=LAM))


def _check_p5(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """P5: the weighted MLE satisfies sum_j w_j sigma(r_i - r_j) + lam r_i = WAWR(i).

    Every instance is fitted with random (Dirichlet) weights, and also with its Voronoi weights
    when it has positions and a region.
    """
    if estimator != "weighted_mle":
        return _wrong_estimator("P5", "weighted_mle", estimator)
    rng = _rng(rng)
    items = []
    for case in _cases(instance, rng, quick):
        if case.X is not None and case.region is not None:
            items.append((case, *_case_weights(case, rng, "voronoi")))
        items.append((case, *_case_weights(case, rng, "dirichlet")))
    return _borda_check("P5", items, lambda P, w: _bt_mle(P, weights=w, lam=LAM))


# ---------------------------------------------------------------------------------------
# P6: the S-space MLE, by discretising S

@dataclass(frozen=True)
class SSpaceGrid:
    """A discretisation of the region S for P6.

    Attributes
    ----------
    points : (G, d) ndarray
        Grid points (cell centres of a regular grid over the region, those inside it).
    nearest : (G,) int ndarray
        Index of the nearest alternative of each grid point (exact duplicates merged first).
    weights : (m,) ndarray
        Empirical Voronoi weights: the fraction of grid points nearest to each alternative.
    """

    points: np.ndarray
    nearest: np.ndarray
    weights: np.ndarray


def s_space_grid(X, region, per_axis: int) -> SSpaceGrid:
    """Regular grid over ``region`` with each point assigned to its nearest alternative (SPEC P6).

    The ``per_axis`` cell centres along each axis of the region's bounding box are kept where they
    lie in the region; every point carries the uniform measure ``1/G``. Exact duplicate
    alternatives split their shared cell's points evenly by index order, mirroring the tie-split
    of SPEC §2 (an argmin would give every tie to the first copy).
    """
    from scipy.spatial import cKDTree

    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"s_space_grid: X must have shape (m, d), got {X.shape}")
    per_axis = int(per_axis)
    if per_axis < 1:
        raise ValueError(f"s_space_grid: per_axis must be a positive integer, got {per_axis}")
    lo, hi = (np.asarray(b, dtype=float) for b in region.bounds)
    if lo.shape != (X.shape[1],):
        raise ValueError(f"s_space_grid: region has dimension {lo.shape[0]}, X has {X.shape[1]}")
    axes = [lo[k] + (hi[k] - lo[k]) * (np.arange(per_axis) + 0.5) / per_axis for k in range(X.shape[1])]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, X.shape[1])
    pts = pts[region.contains(pts)]
    uniq, inverse = np.unique(X, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    _, cell = cKDTree(uniq).query(pts)
    nearest = np.empty(pts.shape[0], dtype=np.int64)
    for u in range(uniq.shape[0]):
        owners = np.flatnonzero(inverse == u)
        members = np.flatnonzero(cell == u)
        nearest[members] = owners[np.arange(members.size) % owners.size]
    counts = np.bincount(nearest, minlength=X.shape[0])
    return SSpaceGrid(points=pts, nearest=nearest, weights=counts / pts.shape[0])


def _check_p6(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """P6: the MLE over a grid on S (each point with its nearest alternative's preferences).

    The S-space problem ``min_r -int int P(z, z') log sigma(r(z) - r(z')) dmu dmu + (lam/2) int r^2 dmu``
    with ``mu`` the uniform probability on S becomes, on ``G`` grid points of measure ``1/G``,
    ``(1/G^2) [ -sum_{a != b} Q_ab log sigma(s_a - s_b) + (G lam / 2) sum_a s_a^2 ]`` with
    ``Q_ab = P_{n(a) n(b)}`` (``1/2`` inside a cell): the standard MLE (Eq. 1) on the grid with
    ``lam_std = G lam`` (the P7 scaling with m = G). The claim: its solution is constant on each
    cell and equals the weighted MLE (Eq. 2, same ``lam``) on M with the grid's empirical Voronoi
    weights.
    """
    if estimator != "weighted_mle":
        return _wrong_estimator("P6", "weighted_mle", estimator)
    rng = _rng(rng)
    cases = [c for c in _cases(instance, rng, quick, m_range=(3, 10)) if c.X is not None and c.region is not None]
    if not cases:
        return Measurement(INCONCLUSIVE, detail="P6 needs alternatives with positions and a region")
    worst, rows, witness, nonconv = 0.0, [], None, 0
    for case in cases:
        d = case.X.shape[1]
        per_axis = (12 if quick else 20) if d >= 2 else (120 if quick else 300)
        grid = s_space_grid(case.X, case.region, per_axis)
        if np.any(grid.weights == 0):
            # an alternative too close to another to own a grid point: refine once
            grid = s_space_grid(case.X, case.region, 2 * per_axis)
        if np.any(grid.weights == 0):
            rows.append({"m": int(case.P.shape[0]), "skipped": "an alternative owns no grid point"})
            continue
        G = grid.points.shape[0]
        Q = case.P[np.ix_(grid.nearest, grid.nearest)]
        s_fit = _bt_mle(Q, lam=G * LAM)
        r_fit = _bt_mle(case.P, weights=grid.weights, lam=LAM)
        nonconv += (not s_fit.converged) + (not r_fit.converged)
        s = np.asarray(s_fit.rewards, dtype=float)
        r = np.asarray(r_fit.rewards, dtype=float)
        spread = max(float(np.ptp(s[grid.nearest == i])) for i in range(case.P.shape[0]))
        mismatch = float(np.max(np.abs(s - r[grid.nearest])))
        scale = max(1.0, float(np.max(np.abs(r))))
        err = max(spread, mismatch) / scale
        rows.append({"m": int(case.P.shape[0]), "d": d, "grid_points": G, "cell_spread": spread,
                     "mismatch": mismatch, "converged": bool(s_fit.converged and r_fit.converged)})
        worst = max(worst, err)
        if err >= MATCH_TOL and witness is None:
            witness = _witness(case, lam=LAM, per_axis=per_axis, grid_weights=grid.weights,
                               weighted_rewards=r, cell_spread=spread, mismatch=mismatch)
    if witness is not None:
        return Measurement(VIOLATED, magnitude=worst, witness=witness, data={"instances": rows},
                           detail=f"P6: the grid MLE is not constant on cells or differs from r^w "
                                  f"(relative error {worst:.2e} >= {MATCH_TOL:g})")
    if nonconv or not any("mismatch" in r for r in rows):
        return Measurement(INCONCLUSIVE, magnitude=worst, data={"instances": rows},
                           detail=f"P6: {nonconv} fits did not converge or no usable grid")
    return Measurement(HOLDS, magnitude=worst, data={"instances": rows},
                       detail=f"P6: grid MLE (lam_std = G lam) constant on Voronoi cells and equal to r^w "
                              f"with the grid's weights on {len(rows)} instances; relative error {worst:.2e}")


# ---------------------------------------------------------------------------------------
# P7: uniform weights

def _check_p7(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """P7: ``w = 1/m`` gives the standard MLE with ``lam_std = m lam``.

    Derivation: with ``w_i = 1/m``, Eq. 2 reads
    ``(1/m^2) sum_{i != j} -P_ij log sigma(r_i - r_j) + (lam/(2m)) sum_i r_i^2
    = (1/m^2) [ -sum_{i != j} P_ij log sigma(r_i - r_j) + (m lam / 2) sum_i r_i^2 ]``,
    a positive multiple of Eq. 1 with ``lam_std = m lam``; the minimisers coincide. This agrees
    with SPEC P7. The check also records how far the literal ``lam_std = lam`` lands (data).
    """
    if estimator != "weighted_mle":
        return _wrong_estimator("P7", "weighted_mle", estimator)
    rng = _rng(rng)
    worst, rows, witness, nonconv = 0.0, [], None, 0
    for case in _cases(instance, rng, quick):
        m = case.P.shape[0]
        rw = _bt_mle(case.P, weights=np.full(m, 1.0 / m), lam=LAM)
        rs = _bt_mle(case.P, lam=m * LAM)
        rl = _bt_mle(case.P, lam=LAM)
        nonconv += (not rw.converged) + (not rs.converged)
        a, b = np.asarray(rw.rewards, dtype=float), np.asarray(rs.rewards, dtype=float)
        scale = max(1.0, float(np.max(np.abs(b))))
        err = float(np.max(np.abs(a - b))) / scale
        rows.append({"m": m, "difference_m_lam": err,
                     "difference_lam": float(np.max(np.abs(a - np.asarray(rl.rewards, dtype=float)))) / scale})
        worst = max(worst, err)
        if err >= MATCH_TOL and witness is None:
            witness = _witness(case, lam=LAM, weighted_rewards=a, standard_rewards_m_lam=b)
    if witness is not None:
        return Measurement(VIOLATED, magnitude=worst, witness=witness, data={"instances": rows},
                           detail=f"P7: uniform-weight MLE differs from the standard MLE with lam_std = m lam "
                                  f"(relative {worst:.2e})")
    if nonconv:
        return Measurement(INCONCLUSIVE, magnitude=worst, data={"instances": rows},
                           detail=f"P7: {nonconv} fits did not converge")
    return Measurement(HOLDS, magnitude=worst, data={"instances": rows},
                       detail=f"P7: w = 1/m equals the standard MLE with lam_std = m lam on {len(rows)} instances "
                              f"(relative difference {worst:.2e})")


# ---------------------------------------------------------------------------------------
# P8: exact-clone invariance of the weighted MLE

def _clone_matrix(P: np.ndarray, index: int, count: int) -> np.ndarray:
    """``P`` with ``count`` exact clones of ``index`` appended (SPEC §1: same rows, ``1/2`` among copies)."""
    src = np.concatenate([np.arange(P.shape[0]), np.full(count, index)])
    return P[np.ix_(src, src)]


def _check_p8(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """P8: cloning ``x_k`` and splitting ``w_k`` among the copies in any proportion leaves ``r^w`` unchanged.

    Each instance gets clones of a random alternative and several random splits of its weight
    (Dirichlet, plus a very uneven one); the fit on the enlarged matrix must give the original
    rewards on M and the clone's reward to every copy.
    """
    if estimator != "weighted_mle":
        return _wrong_estimator("P8", "weighted_mle", estimator)
    rng = _rng(rng)
    worst, rows, witness, nonconv = 0.0, [], None, 0
    for case in _cases(instance, rng, quick):
        m = case.P.shape[0]
        w, how = _case_weights(case, rng, "voronoi")
        base = _bt_mle(case.P, weights=w, lam=LAM)
        nonconv += not base.converged
        r = np.asarray(base.rewards, dtype=float)
        k = int(rng.integers(m))
        count = int(rng.integers(1, 4))
        splits = [rng.dirichlet(np.ones(count + 1)) for _ in range(1 if quick else 3)]
        splits.append(np.array([1.0 - 1e-3 * count] + [1e-3] * count))
        for split in splits:
            Pc = _clone_matrix(case.P, k, count)
            wc = np.concatenate([w, np.zeros(count)])
            wc[k] = w[k] * split[0]
            wc[m:] = w[k] * split[1:]
            fit = _bt_mle(Pc, weights=wc, lam=LAM)
            nonconv += not fit.converged
            rc = np.asarray(fit.rewards, dtype=float)
            expected = np.concatenate([r, np.full(count, r[k])])
            scale = max(1.0, float(np.max(np.abs(r))))
            err = float(np.max(np.abs(rc - expected))) / scale
            rows.append({"m": m, "clone_of": k, "clones": count, "split": split.tolist(), "weights": how,
                         "difference": err})
            worst = max(worst, err)
            if err >= MATCH_TOL and witness is None:
                witness = _witness(case, weights=w, lam=LAM, clone_of=k, clones=count, split=split,
                                   rewards=r, rewards_with_clones=rc)
    if witness is not None:
        return Measurement(VIOLATED, magnitude=worst, witness=witness, data={"instances": rows},
                           detail=f"P8: splitting a cloned cell's weight changed r^w (relative {worst:.2e})")
    if nonconv:
        return Measurement(INCONCLUSIVE, magnitude=worst, data={"instances": rows},
                           detail=f"P8: {nonconv} fits did not converge")
    return Measurement(HOLDS, magnitude=worst, data={"instances": rows},
                       detail=f"P8: r^w unchanged by exact clones under {len(rows)} weight splits "
                              f"(relative difference {worst:.2e})")


# ---------------------------------------------------------------------------------------
# registration

register(Axiom(
    "T1", "Impossibility of recovering the average reward",
    "With T > 1 types no algorithm recovers sum_t alpha_t r_t up to a constant from representative "
    "data, already for m = 2: two populations can give identical P while their average gaps differ "
    "by an arbitrarily large amount.",
    "[PSZ]", _check_t1))
register(Axiom(
    "P4", "MLE is Borda",
    "sum_j sigma(r_i - r_j) + lam r_i = B(i) for every i (sums include j = i), so the order of r is "
    "the Borda order and sum_i r_i = 0.",
    "[SLH]; derived with the regulariser", _check_p4))
register(Axiom(
    "P5", "Weighted MLE is weighted Borda",
    "sum_j w_j sigma(r_i - r_j) + lam r_i = WAWR(i); the order of r^w is the WAWR order and "
    "sum_i w_i r_i = 0.",
    "[PSZ]", _check_p5))
register(Axiom(
    "P6", "S-space MLE",
    "The MLE over all of S, each z carrying the preferences of its nearest alternative, is constant "
    "on Voronoi cells and equals r^w on M (checked on a grid over S, lam_std = G lam).",
    "[PSZ]", _check_p6, needs_positions=True))
register(Axiom(
    "P7", "Uniform weights",
    "w = 1/m gives the standard MLE with lam_std = m lam.",
    "derived", _check_p7))
register(Axiom(
    "P8", "Exact-clone invariance of the weighted MLE",
    "Splitting the cloned cell's weight among exact clones in any proportion leaves r^w unchanged "
    "on M and gives every clone the original's reward.",
    "[PSZ]", _check_p8))
