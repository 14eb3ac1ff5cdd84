"""Theorems about the (weighted) Bradley-Terry MLE: contracts T1, P4, P5, P6, P7 and P8.

Each statement is measured on one instance at a time by a one-instance measurement
(``_t1_instance``, ``_p4_instance``, ...) that fits through the estimator registry
(:func:`choicelab.axioms.fitting.fit_outcome`, with the exact solvers' tight stopping rule
:data:`FIT_OPTIONS`) and returns a :class:`~choicelab.axioms.base.Measurement` whose witness
replays it (:func:`choicelab.axioms.replay`). The registered checks run it on a given instance,
or search random worlds (:func:`choicelab.axioms.generators.random_world_instances`) with the
search driver; :mod:`choicelab.axioms.api` compares the result with the theory table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from choicelab._validation import as_rng, check_lambda, check_preference_matrix, check_weights
from choicelab.axioms import fitting, search, witness
from choicelab.axioms import generators as gen
from choicelab.axioms.base import INCONCLUSIVE, Axiom, Measurement, register
from choicelab.axioms.fitting import LAM
from choicelab.axioms.generators import clone_matrix
from choicelab.axioms.search import SearchSource

__all__ = [
    "ImpossibilityPair",
    "impossibility_pair",
    "borda_identity_residual",
    "s_space_grid",
    "SSpaceGrid",
    "LAM",
    "IDENTITY_TOL",
    "MATCH_TOL",
    "SOLVER_TOL",
    "FIT_OPTIONS",
]

IDENTITY_TOL = 1e-8  # P4/P5 residual bound (the solver converges far below it)
MATCH_TOL = 1e-7  # P6-P8: two solutions of the same strictly convex problem agree to this
# The exact solvers' relative gradient tolerance here (their default is 1e-10): a tight stopping
# rule, so that the P4/P5 residual (the gradient divided by w_i) measures the theorem rather than
# where the solver chose to stop; at the default the residual reaches ~1e-8 around m = 40.
SOLVER_TOL = 1e-12
FIT_OPTIONS = {"tol": SOLVER_TOL}  # registry options of "mle" / "weighted_mle" in these checks


_random_population = gen.random_population  # older name (benchmarks/bench_theorems_sensitivity.py)


# ---------------------------------------------------------------------------------------
# shared helpers


def _fit(estimator: str, instance, *, weights=None, lam: float = LAM, rng=None):
    """Fit through the registry; the exact BT solvers get :data:`FIT_OPTIONS`."""
    options = FIT_OPTIONS if estimator in ("mle", "weighted_mle") else {}
    return fitting.fit_outcome(estimator, instance, weights=weights, lam=lam, rng=rng, quick=False, **options)


def _matrix_instance(P):
    from choicelab.sim.instance import Instance

    return Instance.from_matrix(P)


def _order_violations(scores: np.ndarray, rewards: np.ndarray, tol: float) -> list[tuple[int, int]]:
    """Pairs (i, j) that the scores separate by more than ``tol`` but the rewards do not order the same way."""
    ds = scores[:, None] - scores[None, :]
    dr = rewards[:, None] - rewards[None, :]
    bad = (ds > tol) & (dr <= 0)
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(bad))]


def _wrong_estimator(axiom_id: str, expected: str, estimator: str) -> Measurement:
    return Measurement(
        INCONCLUSIVE,
        detail=f"{axiom_id} is a statement about estimator {expected!r}; nothing to measure for {estimator!r}",
    )


def _m_range(quick: bool, m_range=(3, 24)) -> tuple[int, int]:
    lo, hi = m_range
    return lo, max(lo, hi // 2 if quick else hi)


def _worlds(rng, quick: bool, m_range=(3, 24)) -> list:
    """The random worlds the theorem checks search (3 when quick, else 20)."""
    return gen.random_world_instances(rng, 3 if quick else 20, m_range=_m_range(quick, m_range))


def _case_weights(instance, rng: np.random.Generator, kind: str) -> tuple[np.ndarray, str]:
    """Voronoi weights when the instance has positions and a region, else random (Dirichlet) weights."""
    if kind == "voronoi" and instance.X is not None and instance.region is not None:
        from choicelab.estimators.weights import DEFAULT_N_SAMPLES, voronoi_weights

        # a fixed sample size, as in fitting.weights_for: bounded time and the checks' recorded draws
        w = np.asarray(voronoi_weights(instance.X, instance.region, n_samples=DEFAULT_N_SAMPLES, rng=rng), dtype=float)
        if np.all(w > 0):
            return w, "voronoi"
    return rng.dirichlet(np.ones(instance.m)), "dirichlet"


def _record(**extra) -> dict:
    """The estimator options these checks' witnesses record."""
    return {"lam": LAM, "fit_options": FIT_OPTIONS, **extra}


def _search(axiom_id: str, estimator: str, instance, rng, quick: bool, measure, sources, summary, key="instances"):
    """Run ``measure`` on the given instance or search ``sources()``; rows of ``data[key]`` are pooled.

    ``summary(rows, magnitude)`` is the detail line of a search that held.
    """
    rng = as_rng(rng)
    if instance is not None:
        return search.check_given(measure, estimator, instance, rng, quick)
    meas = search.run_search(
        axiom_id, estimator, sources(rng), measure, rng, quick, collect=lambda m: m.data.get(key, [])
    )
    return search.pooled(meas, key, summary)


def _conclude(
    axiom_id: str,
    estimator: str,
    instance,
    seed,
    quick: bool,
    *,
    err: float,
    tol: float,
    converged: bool,
    rows: list,
    what: str,
    record: dict,
    key: str = "instances",
    **details,
) -> Measurement:
    """The outcome of a one-instance measurement whose statement is ``err < tol``."""
    data = {key: rows}
    if err >= tol:
        return witness.violation(
            axiom_id,
            estimator,
            instance,
            seed,
            quick,
            err,
            f"{axiom_id}: {what} (error {err:.2e} >= {tol:g})",
            None,
            data,
            record=record,
            **details,
        )
    if not converged:
        return Measurement(INCONCLUSIVE, magnitude=err, data=data, detail=f"{axiom_id}: a fit did not converge")
    return witness.held(
        axiom_id,
        estimator,
        instance,
        seed,
        quick,
        err,
        f"{axiom_id}: {what} (error {err:.2e} < {tol:g})",
        data,
        **record,
        **details,
    )


# ---------------------------------------------------------------------------------------
# T1: impossibility of recovering the average reward


@dataclass(frozen=True)
class ImpossibilityPair:
    """Two BT populations over ``m = 2`` alternatives with the same preference matrix (contract T1).

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
            return {
                "choice": "bt",
                "beta": 1.0,
                "types": [{"share": float(s), "rewards": [float(v) for v in r]} for s, r in zip(shares, rewards)],
                "P01": p01,
                "average_gap": gap,
            }

        return {
            "m": 2,
            "p": self.p,
            "population_a": pop(self.shares_a, self.rewards_a, self.p_a, self.gap_a),
            "population_b": pop(self.shares_b, self.rewards_b, self.p_b, self.gap_b),
        }


def impossibility_pair(bound: float, p: float = 0.5) -> ImpossibilityPair:
    """Two 2-type BT populations with ``P_01 = p`` whose average gaps differ by more than ``bound`` (contract T1).

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


def _t1_instance(estimator: str, instance, rng, quick: bool, seed=None) -> Measurement:
    """T1 on the preference ``p = P_01`` of one instance: population pairs with equal data, far average gaps.

    For each bound, :func:`impossibility_pair` builds two populations with ``P_01 = p``; a reward
    estimator is fitted (through the registry) on that common matrix, and its one fitted gap
    misses at least one of the two average gaps by more than half the bound.
    """
    from choicelab.estimators.registry import get_estimator

    P = np.asarray(instance.P, dtype=float)
    if P.shape[0] < 2:
        return search.not_applicable("T1", "two alternatives are needed")
    p = float(P[0, 1])
    if not (0.0 < p < 1.0):
        return Measurement(INCONCLUSIVE, detail=f"T1 needs 0 < P_01 < 1 to build BT populations, got {p}")
    reward = get_estimator(estimator).kind == "reward"
    bounds = [10.0, 1e3] if quick else [1.0, 10.0, 1e2, 1e3, 1e6]
    worst_data_gap, rows, ok, pair = 0.0, [], True, None
    for bound in bounds:
        pair = impossibility_pair(bound, p)
        data_gap = abs(pair.p_a - pair.p_b)
        gap_diff = abs(pair.gap_a - pair.gap_b)
        worst_data_gap = max(worst_data_gap, data_gap)
        row = {
            "p": p,
            "bound": bound,
            "data_difference": data_gap,
            "gap_a": pair.gap_a,
            "gap_b": pair.gap_b,
            "gap_difference": gap_diff,
        }
        if reward:
            # the estimator sees the same P for both populations, so one fitted gap for both
            out = _fit(estimator, _matrix_instance([[0.5, pair.p_a], [1.0 - pair.p_a, 0.5]]), rng=rng)
            fitted = float(out.scores[0] - out.scores[1])
            row["fitted_gap"] = fitted
            row["worst_error"] = max(abs(fitted - pair.gap_a), abs(fitted - pair.gap_b))
        rows.append(row)
        ok &= bool(data_gap <= 1e-12 and gap_diff > bound)
    detail = (
        f"T1: {len(rows)} population pairs (m=2, T=2) with P_01 = {p:.4g}, bounds up to {max(bounds):g}: "
        f"equal P to {worst_data_gap:.1e}, average gaps differ by more than each bound"
    )
    if not ok:
        return Measurement(
            INCONCLUSIVE,
            magnitude=worst_data_gap,
            data={"pairs": rows},
            detail="T1 construction failed to exhibit the impossibility: " + detail,
        )
    return witness.held(
        "T1",
        estimator,
        instance,
        seed,
        quick,
        worst_data_gap,
        detail,
        {"pairs": rows},
        **_record(),
        pair=pair.to_dict() | {"bound": bounds[-1]},
    )


def _check_t1(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """T1: exhibit populations with equal data and average gaps further apart than each bound.

    On a given instance its ``P_01`` is used; otherwise ``P_01 = 1/2`` and 2 (quick) or 6 random values.
    """

    def sources(rng):
        ps = [0.5] + rng.uniform(0.02, 0.98, size=2 if quick else 6).tolist()
        return [SearchSource("p01", [_matrix_instance([[0.5, p], [1.0 - p, 0.5]]) for p in ps])]

    def summary(rows, magnitude):
        return (
            f"{len(rows)} population pairs (m=2, T=2), bounds up to {max(r['bound'] for r in rows):g}: equal P "
            f"to {magnitude:.1e}, average gaps differ by more than each bound"
        )

    return _search("T1", estimator, instance, rng, quick, _t1_instance, sources, summary, key="pairs")


# ---------------------------------------------------------------------------------------
# P4, P5: the (weighted) MLE is (weighted) Borda


def borda_identity_residual(P, rewards, lam: float, weights=None) -> np.ndarray:
    """Residual of the first-order condition of Eq. 1 / Eq. 2 in Borda form (contracts P4, P5).

    ``res_i = sum_j w_j sigma(r_i - r_j) + lam r_i - sum_j w_j P_ij`` with the sums over all j,
    self-term included (``sigma(0) = P_ii = 1/2``); ``w = 1`` for the standard MLE (P4, where the
    last sum is the Borda score B(i)) and the given weights for the weighted MLE (P5, where it is
    WAWR(i)). Derivation: the gradient of Eq. 2 in ``r_i`` is
    ``w_i [sum_{j != i} w_j (sigma(r_i - r_j) - P_ij) + lam r_i]`` (using ``P_ji = 1 - P_ij``),
    so at the optimum ``res = 0`` wherever ``w_i > 0`` (and, by the definition of the solvers, at
    zero-weight alternatives too); adding ``w_i/2`` to both sides brings in the self-terms.

    ``P``, ``weights`` and ``lam`` follow the rules of :mod:`choicelab._validation`.
    """
    P = check_preference_matrix(P, "P")
    m = P.shape[0]
    r = np.asarray(rewards, dtype=float)
    if r.shape != (m,):
        raise ValueError(f"rewards must have shape ({m},), got {r.shape}")
    w = np.ones(m) if weights is None else check_weights(weights, m)
    lam = check_lambda(lam)
    sig = expit(r[:, None] - r[None, :])
    return sig @ w + lam * r - P @ w


def _borda_measure(P, rewards: np.ndarray, lam: float, weights: np.ndarray | None, tol: float = IDENTITY_TOL) -> dict:
    """Everything P4 / P5 assert about one fitted reward vector, as numbers."""
    P = np.asarray(P, dtype=float)
    m = P.shape[0]
    w = np.ones(m) if weights is None else weights
    res = borda_identity_residual(P, rewards, lam, weights)
    scores = P @ w  # Borda (w = 1) or WAWR, self-terms included
    centre = float(np.dot(w, rewards))
    # Order claims are checked where the scores separate clearly; the identity makes reward
    # order and score order equal, and a residual of size tol can blur gaps below ~tol.
    viol = _order_violations(scores, np.asarray(rewards, dtype=float), tol=10 * tol)
    return {
        "residual": float(np.max(np.abs(res))),
        "weighted_sum": abs(centre),
        "order_violations": viol,
        "worst": max(float(np.max(np.abs(res))), abs(centre)),
        "ok": bool(np.max(np.abs(res)) < tol and abs(centre) < tol and not viol),
    }


def _borda_instance(axiom_id: str, estimator: str, instance, items, seed, quick: bool) -> Measurement:
    """Fit ``estimator`` with each ``(weights, how)`` of ``items`` and measure the P4 / P5 claims."""
    what = "Borda" if axiom_id == "P4" else "WAWR"
    worst, rows, nonconv, bad = 0.0, [], 0, None
    for w, how in items:
        out = _fit(estimator, instance, weights=w)
        nonconv += not out.converged
        rewards = np.asarray(out.scores, dtype=float)
        meas = _borda_measure(instance.P, rewards, LAM, w)
        rows.append(
            {
                "m": instance.m,
                "weights": how,
                "residual": meas["residual"],
                "weighted_sum": meas["weighted_sum"],
                "order_violations": len(meas["order_violations"]),
                "converged": bool(out.converged),
            }
        )
        worst = max(worst, meas["worst"])
        if not meas["ok"] and bad is None:
            bad = {
                "weights_used": w,
                "rewards": rewards,
                "residual": meas["residual"],
                "order_violations": meas["order_violations"],
            }
    data = {"instances": rows}
    if bad is not None:
        return witness.violation(
            axiom_id,
            estimator,
            instance,
            seed,
            quick,
            worst,
            f"{axiom_id}: the fitted rewards break the {what} identity, sum or order "
            f"(worst residual {worst:.2e}, bound {IDENTITY_TOL:g})",
            None,
            data,
            record=_record(),
            **bad,
        )
    if nonconv:
        return Measurement(
            INCONCLUSIVE,
            magnitude=worst,
            data=data,
            detail=f"{axiom_id}: {nonconv} of {len(items)} fits did not converge",
        )
    return witness.held(
        axiom_id,
        estimator,
        instance,
        seed,
        quick,
        worst,
        f"{axiom_id}: {what} identity, weighted sum 0 and {what} order on {len(items)} fits; "
        f"worst residual {worst:.2e} < {IDENTITY_TOL:g}",
        data,
        **_record(),
        fits=[{"weights": how, "weights_used": w} for w, how in items],
    )


def _p4_instance(estimator: str, instance, rng, quick: bool, seed=None) -> Measurement:
    """P4 on one instance: the standard MLE's rewards satisfy the Borda identity."""
    if estimator != "mle":
        return _wrong_estimator("P4", "mle", estimator)
    return _borda_instance("P4", estimator, instance, [(None, "none")], seed, quick)


def _p5_instance(estimator: str, instance, rng, quick: bool, seed=None) -> Measurement:
    """P5 on one instance: fitted with random (Dirichlet) weights, and with its Voronoi weights when it
    has positions and a region."""
    if estimator != "weighted_mle":
        return _wrong_estimator("P5", "weighted_mle", estimator)
    items = []
    if instance.X is not None and instance.region is not None:
        items.append(_case_weights(instance, rng, "voronoi"))
    items.append(_case_weights(instance, rng, "dirichlet"))
    return _borda_instance("P5", estimator, instance, items, seed, quick)


def _borda_summary(axiom_id: str):
    what = "Borda" if axiom_id == "P4" else "WAWR"

    def summary(rows, magnitude):
        return (
            f"{axiom_id}: {what} identity, weighted sum 0 and {what} order on {len(rows)} fits; worst residual "
            f"{magnitude:.2e} < {IDENTITY_TOL:g}"
        )

    return summary


def _check_p4(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """P4: the standard MLE satisfies sum_j sigma(r_i - r_j) + lam r_i = B(i)."""
    if estimator != "mle":
        return _wrong_estimator("P4", "mle", estimator)
    return _search(
        "P4",
        estimator,
        instance,
        rng,
        quick,
        _p4_instance,
        lambda rng: [SearchSource("random", _worlds(rng, quick))],
        _borda_summary("P4"),
    )


def _check_p5(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """P5: the weighted MLE satisfies sum_j w_j sigma(r_i - r_j) + lam r_i = WAWR(i).

    Every instance is fitted with random (Dirichlet) weights, and also with its Voronoi weights
    when it has positions and a region.
    """
    if estimator != "weighted_mle":
        return _wrong_estimator("P5", "weighted_mle", estimator)
    return _search(
        "P5",
        estimator,
        instance,
        rng,
        quick,
        _p5_instance,
        lambda rng: [SearchSource("random", _worlds(rng, quick))],
        _borda_summary("P5"),
    )


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
    """Regular grid over ``region`` with each point assigned to its nearest alternative (contract P6).

    The ``per_axis`` cell centres along each axis of the region's bounding box are kept where they
    lie in the region; every point carries the uniform measure ``1/G``. Exact duplicate
    alternatives split their shared cell's points evenly by index order, mirroring the tie-split
    of the Voronoi weights (an argmin would give every tie to the first copy).
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


def _p6_instance(estimator: str, instance, rng, quick: bool, seed=None) -> Measurement:
    """P6 on one instance: the MLE over a grid on S against the weighted MLE with the grid's weights.

    The S-space problem ``min_r -int int P(z, z') log sigma(r(z) - r(z')) dmu dmu + (lam/2) int r^2 dmu``
    with ``mu`` the uniform probability on S becomes, on ``G`` grid points of measure ``1/G``,
    ``(1/G^2) [ -sum_{a != b} Q_ab log sigma(s_a - s_b) + (G lam / 2) sum_a s_a^2 ]`` with
    ``Q_ab = P_{n(a) n(b)}`` (``1/2`` inside a cell): the standard MLE (Eq. 1, registry ``"mle"``) on
    the grid with ``lam_std = G lam`` (the P7 scaling with m = G). The claim: its solution is
    constant on each cell and equals the weighted MLE (Eq. 2, same ``lam``) on M with the grid's
    empirical Voronoi weights.
    """
    if estimator != "weighted_mle":
        return _wrong_estimator("P6", "weighted_mle", estimator)
    if instance.X is None or instance.region is None:
        return search.not_applicable("P6", "P6 needs alternatives with positions and a region")
    P, m, d = np.asarray(instance.P, dtype=float), instance.m, instance.X.shape[1]
    per_axis = (12 if quick else 20) if d >= 2 else (120 if quick else 300)
    grid = s_space_grid(instance.X, instance.region, per_axis)
    if np.any(grid.weights == 0):
        # an alternative too close to another to own a grid point: refine once
        per_axis *= 2
        grid = s_space_grid(instance.X, instance.region, per_axis)
    if np.any(grid.weights == 0):
        return search.not_applicable("P6", "an alternative owns no grid point")
    G = grid.points.shape[0]
    s_fit = _fit("mle", _matrix_instance(P[np.ix_(grid.nearest, grid.nearest)]), lam=G * LAM)
    r_fit = _fit(estimator, instance, weights=grid.weights)
    s = np.asarray(s_fit.scores, dtype=float)
    r = np.asarray(r_fit.scores, dtype=float)
    spread = max(float(np.ptp(s[grid.nearest == i])) for i in range(m))
    mismatch = float(np.max(np.abs(s - r[grid.nearest])))
    err = max(spread, mismatch) / max(1.0, float(np.max(np.abs(r))))
    rows = [
        {
            "m": m,
            "d": d,
            "grid_points": G,
            "cell_spread": spread,
            "mismatch": mismatch,
            "converged": bool(s_fit.converged and r_fit.converged),
        }
    ]
    return _conclude(
        "P6",
        estimator,
        instance,
        seed,
        quick,
        err=err,
        tol=MATCH_TOL,
        rows=rows,
        converged=bool(s_fit.converged and r_fit.converged),
        what=f"grid MLE (lam_std = G lam, G = {G}) against r^w with the grid's weights",
        record=_record(),
        per_axis=per_axis,
        grid_weights=grid.weights,
        weighted_rewards=r,
        cell_spread=spread,
        mismatch=mismatch,
    )


def _check_p6(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """P6: the MLE over a grid on S (each point with its nearest alternative's preferences), see ``_p6_instance``."""
    if estimator != "weighted_mle":
        return _wrong_estimator("P6", "weighted_mle", estimator)

    def summary(rows, magnitude):
        return (
            f"P6: grid MLE (lam_std = G lam) constant on Voronoi cells and equal to r^w with the grid's "
            f"weights on {len(rows)} instances; relative error {magnitude:.2e}"
        )

    return _search(
        "P6",
        estimator,
        instance,
        rng,
        quick,
        _p6_instance,
        lambda rng: [SearchSource("random", _worlds(rng, quick, m_range=(3, 10)))],
        summary,
    )


# ---------------------------------------------------------------------------------------
# P7: uniform weights


def _p7_instance(estimator: str, instance, rng, quick: bool, seed=None) -> Measurement:
    """P7 on one instance: ``w = 1/m`` gives the standard MLE with ``lam_std = m lam``.

    Derivation: with ``w_i = 1/m``, Eq. 2 reads
    ``(1/m^2) sum_{i != j} -P_ij log sigma(r_i - r_j) + (lam/(2m)) sum_i r_i^2
    = (1/m^2) [ -sum_{i != j} P_ij log sigma(r_i - r_j) + (m lam / 2) sum_i r_i^2 ]``,
    a positive multiple of Eq. 1 with ``lam_std = m lam``; the minimisers coincide. The
    measurement also records how far the literal ``lam_std = lam`` lands (``difference_lam``).
    """
    if estimator != "weighted_mle":
        return _wrong_estimator("P7", "weighted_mle", estimator)
    m = instance.m
    uniform = np.full(m, 1.0 / m)
    rw = _fit(estimator, instance, weights=uniform)
    rs = _fit("mle", instance, lam=m * LAM)
    rl = _fit("mle", instance, lam=LAM)
    a, b = np.asarray(rw.scores, dtype=float), np.asarray(rs.scores, dtype=float)
    scale = max(1.0, float(np.max(np.abs(b))))
    err = float(np.max(np.abs(a - b))) / scale
    rows = [
        {
            "m": m,
            "difference_m_lam": err,
            "difference_lam": float(np.max(np.abs(a - np.asarray(rl.scores, dtype=float)))) / scale,
        }
    ]
    return _conclude(
        "P7",
        estimator,
        instance,
        seed,
        quick,
        err=err,
        tol=MATCH_TOL,
        rows=rows,
        converged=bool(rw.converged and rs.converged),
        what="uniform-weight MLE against the standard MLE with lam_std = m lam",
        record=_record(weights=uniform),
        weighted_rewards=a,
        standard_rewards_m_lam=b,
    )


def _check_p7(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """P7: ``w = 1/m`` gives the standard MLE with ``lam_std = m lam`` (see ``_p7_instance``)."""
    if estimator != "weighted_mle":
        return _wrong_estimator("P7", "weighted_mle", estimator)

    def summary(rows, magnitude):
        return (
            f"P7: w = 1/m equals the standard MLE with lam_std = m lam on {len(rows)} instances "
            f"(relative difference {magnitude:.2e})"
        )

    return _search(
        "P7",
        estimator,
        instance,
        rng,
        quick,
        _p7_instance,
        lambda rng: [SearchSource("random", _worlds(rng, quick))],
        summary,
    )


# ---------------------------------------------------------------------------------------
# P8: exact-clone invariance of the weighted MLE


def _p8_instance(estimator: str, instance, rng, quick: bool, seed=None) -> Measurement:
    """P8 on one instance: cloning ``x_k`` and splitting ``w_k`` among the copies leaves ``r^w`` unchanged.

    A random alternative gets 1-3 exact clones (:func:`~choicelab.axioms.generators.clone_matrix`)
    and several random splits of its weight (Dirichlet, plus a very uneven one); the fit on the
    enlarged matrix must give the original rewards on M and the clone's reward to every copy.
    """
    if estimator != "weighted_mle":
        return _wrong_estimator("P8", "weighted_mle", estimator)
    m = instance.m
    w, how = _case_weights(instance, rng, "voronoi")
    base = _fit(estimator, instance, weights=w)
    converged = bool(base.converged)
    r = np.asarray(base.scores, dtype=float)
    k = int(rng.integers(m))
    count = int(rng.integers(1, 4))
    splits = [rng.dirichlet(np.ones(count + 1)) for _ in range(1 if quick else 3)]
    splits.append(np.array([1.0 - 1e-3 * count] + [1e-3] * count))
    worst, rows, bad = 0.0, [], None
    for split in splits:
        cloned = _matrix_instance(clone_matrix(instance.P, k, count))
        wc = np.concatenate([w, np.zeros(count)])
        wc[k] = w[k] * split[0]
        wc[m:] = w[k] * split[1:]
        fit = _fit(estimator, cloned, weights=wc)
        converged &= bool(fit.converged)
        rc = np.asarray(fit.scores, dtype=float)
        expected = np.concatenate([r, np.full(count, r[k])])
        err = float(np.max(np.abs(rc - expected))) / max(1.0, float(np.max(np.abs(r))))
        rows.append(
            {"m": m, "clone_of": k, "clones": count, "split": split.tolist(), "weights": how, "difference": err}
        )
        worst = max(worst, err)
        if err >= MATCH_TOL and bad is None:
            bad = {"split": split, "rewards_with_clones": rc}
    return _conclude(
        "P8",
        estimator,
        instance,
        seed,
        quick,
        err=worst,
        tol=MATCH_TOL,
        rows=rows,
        converged=converged,
        what=f"r^w under {count} exact clone(s) of {k} and {len(splits)} splits of its weight",
        record=_record(weights=w),
        clone_of=k,
        clones=count,
        rewards=r,
        **(bad or {}),
    )


def _check_p8(estimator: str, instance, rng, quick: bool = False) -> Measurement:
    """P8: splitting a cloned cell's weight among exact clones leaves ``r^w`` unchanged (see ``_p8_instance``)."""
    if estimator != "weighted_mle":
        return _wrong_estimator("P8", "weighted_mle", estimator)

    def summary(rows, magnitude):
        return (
            f"P8: r^w unchanged by exact clones under {len(rows)} weight splits (relative difference {magnitude:.2e})"
        )

    return _search(
        "P8",
        estimator,
        instance,
        rng,
        quick,
        _p8_instance,
        lambda rng: [SearchSource("random", _worlds(rng, quick))],
        summary,
    )


# ---------------------------------------------------------------------------------------
# registration

register(
    Axiom(
        "T1",
        "Impossibility of recovering the average reward",
        "With T > 1 types no algorithm recovers sum_t alpha_t r_t up to a constant from representative "
        "data, already for m = 2: two populations can give identical P while their average gaps differ "
        "by an arbitrarily large amount.",
        "[PSZ]",
        _check_t1,
        measure=_t1_instance,
    )
)
register(
    Axiom(
        "P4",
        "MLE is Borda",
        "sum_j sigma(r_i - r_j) + lam r_i = B(i) for every i (sums include j = i), so the order of r is "
        "the Borda order and sum_i r_i = 0.",
        "[SLH]; derived with the regulariser",
        _check_p4,
        measure=_p4_instance,
    )
)
register(
    Axiom(
        "P5",
        "Weighted MLE is weighted Borda",
        "sum_j w_j sigma(r_i - r_j) + lam r_i = WAWR(i); the order of r^w is the WAWR order and sum_i w_i r_i = 0.",
        "[PSZ]",
        _check_p5,
        measure=_p5_instance,
    )
)
register(
    Axiom(
        "P6",
        "S-space MLE",
        "The MLE over all of S, each z carrying the preferences of its nearest alternative, is constant "
        "on Voronoi cells and equals r^w on M (checked on a grid over S, lam_std = G lam).",
        "[PSZ]",
        _check_p6,
        needs_positions=True,
        measure=_p6_instance,
    )
)
register(
    Axiom(
        "P7",
        "Uniform weights",
        "w = 1/m gives the standard MLE with lam_std = m lam.",
        "derived",
        _check_p7,
        measure=_p7_instance,
    )
)
register(
    Axiom(
        "P8",
        "Exact-clone invariance of the weighted MLE",
        "Splitting the cloned cell's weight among exact clones in any proportion leaves r^w unchanged "
        "on M and gives every clone the original's reward.",
        "[PSZ]",
        _check_p8,
        measure=_p8_instance,
    )
)
