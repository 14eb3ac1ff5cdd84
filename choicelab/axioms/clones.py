"""Clone axioms A1 (robustness to approximate clones) and A2 (independence of exact clones), contract §3.

A1 [PSZ]
    For an alternative x of M and a point x' at distance eps from it (a fixed random direction,
    inside the region S; its preferences come from the population), fit on M and on M + {x'}
    and measure::

        Delta(eps) = max( max_{y in M} |r'(y) - r(y)|,  |r'(x') - r'(x)| )

    over a log grid of eps (1e-1 ... 1e-4), taking the worst of a few alternatives x. The
    weighted MLE recomputes its Voronoi weights on the enlarged set (exact in 2-D). Every fit
    of one curve gets a fresh generator from the same seed (common random numbers), so a
    neural model starts from the same initialisation and a Monte Carlo weighting uses the same
    samples on M and on M + {x'}: Delta then measures the clone's effect, not seed-to-seed
    training noise.

    Verdict rule (on the worst curve; ``slope`` is the least-squares slope of log Delta
    against log eps over eps <= 1e-2):

    - holds: ``Delta(eps_min) <= A1_HOLD_TOL`` and ``slope >= A1_MIN_SLOPE`` (Delta falls
      towards 0, roughly linearly), or ``Delta(eps_min) <= A1_NOISE`` (already at solver noise);
    - violated: ``Delta(eps_min) > A1_FLOOR`` and ``slope < A1_FLAT_SLOPE`` (Delta levels off
      above zero), confirmed by a brute-force refit of the curve's small-eps end;
    - inconclusive otherwise.

    The curves go into ``Measurement.data["curve"]`` (eps, Delta, per-alternative Deltas).

A2
    Adding k exact clones of x (k = 1, 2, 3) must leave the winner (clones collapsed into x)
    and the relative order of all other alternatives unchanged, and for reward estimators the
    other alternatives' rewards too (relative change at most :data:`A2_REWARD_TOL`). Weighted
    estimators use tie-split Voronoi weights (recomputed on the enlarged set; on a
    matrix-only instance, uniform weights with x's share split evenly among its copies).
    Matrix-level rules get the cloned matrix (rows and columns copied, ``P(x', x) = 1/2``).
"""

from __future__ import annotations

import numpy as np

from choicelab._json import to_jsonable
from choicelab._validation import as_rng
from choicelab.axioms import brute_force as bf
from choicelab.axioms import fitting, search, witness
from choicelab.axioms import generators as gen
from choicelab.axioms.base import HOLDS, INCONCLUSIVE, VIOLATED, Axiom, Measurement, register
from choicelab.axioms.fitting import REWARD_TOL
from choicelab.axioms.search import SearchSource

A1_EPS_QUICK = (1e-1, 1e-2, 1e-3, 1e-4)
A1_EPS = tuple(np.logspace(-1, -4, 7))
A1_HOLD_TOL = 1e-2  # Delta at the smallest eps must be below this for "holds"
A1_NOISE = 1e-8  # Delta at the smallest eps below this holds regardless of slope (solver noise)
A1_FLOOR = 1e-3  # ... and above this for "violated"
A1_MIN_SLOPE = 0.5  # log-log slope for "holds" (theory: about 1)
A1_FLAT_SLOPE = 0.25  # log-log slope below which the curve has levelled off
A1_SLOPE_EPS = 1e-2  # the slope is fitted over eps <= this
A2_REWARD_TOL = 1e-6  # relative change of the other alternatives' rewards allowed by A2
A2_COUNTS = (1, 2, 3)


# ----------------------------------------------------------------------------- A1
def _direction(d: int, rng) -> np.ndarray:
    u = rng.standard_normal(d)
    return u / np.linalg.norm(u)


def _with_clone(instance, index: int, point: np.ndarray):
    from choicelab import sim

    a = instance.alternatives
    alts = sim.Alternatives(
        np.vstack([a.X, point[None, :]]),
        labels=np.concatenate([a.labels, a.labels[index : index + 1]]),
        clone_of=np.concatenate([a.clone_of, [index if a.clone_of[index] < 0 else a.clone_of[index]]]),
    )
    return instance.with_alternatives(alts)


def _delta(r: np.ndarray, r2: np.ndarray, index: int) -> float:
    m = r.size
    return float(max(np.max(np.abs(r2[:m] - r)), abs(r2[m] - r2[index])))


def log_slope(eps, delta, upto: float = A1_SLOPE_EPS) -> float:
    """Least-squares slope of log Delta against log eps over ``eps <= upto`` (Delta floored at 1e-300)."""
    eps, delta = np.asarray(eps, dtype=float), np.asarray(delta, dtype=float)
    keep = eps <= upto * (1 + 1e-9)
    if keep.sum() < 2:
        keep = np.ones_like(keep)
    x, y = np.log10(eps[keep]), np.log10(np.maximum(delta[keep], 1e-300))
    return float(np.polyfit(x, y, 1)[0])


def a1_verdict(eps, delta) -> tuple[str, float]:
    """The A1 verdict rule (module docstring) on one curve; returns (outcome, slope)."""
    eps, delta = np.asarray(eps, dtype=float), np.asarray(delta, dtype=float)
    last = float(delta[np.argmin(eps)])
    slope = log_slope(eps, delta)
    if last <= A1_NOISE or (last <= A1_HOLD_TOL and slope >= A1_MIN_SLOPE):
        return HOLDS, slope
    if last > A1_FLOOR and slope < A1_FLAT_SLOPE:
        return VIOLATED, slope
    return INCONCLUSIVE, slope


def clone_curves(instance, eps_grid, indices, rng, fit, who: str = "A1"):
    """The Delta(eps) curves of contract A1 under a given fit: for each alternative k in
    ``indices`` a direction u from ``rng`` and the clone x_k + eps u (or x_k - eps u when the
    first leaves the region) at each eps, refitted with ``fit(instance) -> EstimatorOutput``.

    Returns ``(base, per_index, points, converged)``: the fit on the instance, index -> curve,
    index -> clone points, and whether every fit converged.
    """
    d = instance.X.shape[1]
    base = fit(instance)
    per_index, points, converged = {}, {}, bool(base.converged)
    for k in indices:
        k = int(k)
        u = _direction(d, rng)
        curve, pts = [], []
        for eps in eps_grid:
            point = instance.X[k] + eps * u
            if not instance.region.contains(point[None, :])[0]:
                point = instance.X[k] - eps * u
            if not instance.region.contains(point[None, :])[0]:
                raise ValueError(f"{who}: no clone of alternative {k} at distance {eps} inside the region")
            out = fit(_with_clone(instance, k, point))
            converged &= bool(out.converged)
            curve.append(_delta(base.scores, out.scores, k))
            pts.append(point.tolist())
        per_index[k] = curve
        points[k] = pts
    return base, per_index, points, converged


def a1_curve(estimator: str, instance, eps_grid=A1_EPS, indices=None, rng=None, quick: bool = False) -> dict:
    """Delta(eps) of contract A1 for clones of each alternative in ``indices`` (default: all).

    Returns a dict with ``eps``, ``delta`` (the worst over the alternatives), ``per_index``
    (index -> curve), ``worst_index`` and, per index, the clone points, so that the curve can
    be recomputed independently. Weighted estimators recompute Voronoi weights on every
    enlarged set.
    """
    rng = as_rng(rng)
    eps_grid = np.asarray(eps_grid, dtype=float)
    if instance.X is None or instance.region is None or instance.population is None:
        raise ValueError("A1 needs positions, a region and a population (the clone's preferences come from it)")
    m = instance.m
    indices = range(m) if indices is None else indices
    fit_seed = int(rng.integers(2**63 - 1))  # common random numbers for every fit (module docstring)

    def fit(inst):
        data = fitting.representative_data(estimator, inst)  # pl_mle: the pairwise marginals, not a sample
        return fitting.fit_outcome(estimator, inst, data=data, rng=np.random.default_rng(fit_seed), quick=quick)

    base, per_index, points, converged = clone_curves(instance, eps_grid, indices, rng, fit)
    delta = np.max(np.array(list(per_index.values())), axis=0)
    worst = max(per_index, key=lambda k: per_index[k][int(np.argmin(eps_grid))])
    return {
        "eps": eps_grid.tolist(),
        "delta": delta.tolist(),
        "per_index": {str(k): v for k, v in per_index.items()},
        "worst_index": int(worst),
        "points": {str(k): v for k, v in points.items()},
        "converged": converged,
        "base_weights": None if base.weights is None else base.weights.tolist(),
    }


def _brute_a1(estimator, instance, curve: dict) -> dict:
    """Recompute the worst alternative's curve for eps <= 1e-2 with the brute-force minimiser."""
    k = curve["worst_index"]
    eps = np.asarray(curve["eps"], dtype=float)
    keep = np.flatnonzero(eps <= A1_SLOPE_EPS * (1 + 1e-9))
    w0 = fitting.weights_for(estimator, instance)
    try:
        base = bf.brute_outcome(
            estimator, fitting.representative_matrix(estimator, instance.P), w0, positions=instance.X
        )
    except bf.BruteForceUnavailable as exc:
        return {"method": None, "confirmed": None, "note": str(exc)}
    deltas = []
    for i in keep:
        inst2 = _with_clone(instance, k, np.asarray(curve["points"][str(k)][i]))
        out = bf.brute_outcome(
            estimator,
            fitting.representative_matrix(estimator, inst2.P),
            fitting.weights_for(estimator, inst2),
            positions=inst2.X,
        )
        deltas.append(_delta(base.scores, out.scores, k))
    outcome, slope = a1_verdict(eps[keep], deltas)
    return to_jsonable(
        {
            "method": base.estimator,
            "confirmed": outcome == VIOLATED,
            "margin": float(deltas[-1]),
            "eps": eps[keep],
            "delta": deltas,
            "slope": slope,
        }
    )


def _a1_instance(estimator, instance, rng, quick, seed=None) -> Measurement:
    """A1 on one instance: the Delta(eps) curve and the verdict rule of the module docstring."""
    if instance.X is None or instance.region is None or instance.population is None:
        return search.not_applicable("A1", "approximate clones need positions, a region and a population")
    m = instance.m
    n_idx = 2 if quick else min(m, 6)
    indices = np.sort(rng.choice(m, size=min(n_idx, m), replace=False))
    curve = a1_curve(estimator, instance, A1_EPS_QUICK if quick else A1_EPS, indices, rng, quick)
    outcome, slope = a1_verdict(curve["eps"], curve["delta"])
    last = float(curve["delta"][-1])
    data = {"curve": {**curve, "slope": slope}}
    summary = (
        f"A1: Delta(eps) from {curve['delta'][0]:.3g} at eps={curve['eps'][0]:.0e} to {last:.3g} at "
        f"eps={curve['eps'][-1]:.0e}, log-log slope {slope:.2f}"
    )
    if not curve["converged"]:
        return Measurement(INCONCLUSIVE, magnitude=last, data=data, detail=summary + "; a fit did not converge")
    if outcome == VIOLATED:
        check = _brute_a1(estimator, instance, curve)
        return witness.violation(
            "A1",
            estimator,
            instance,
            seed,
            quick,
            last,
            summary + " (levels off above zero)",
            check,
            data=data,
            clone_of=curve["worst_index"],
            eps=curve["eps"],
            delta=curve["delta"],
        )
    if outcome == HOLDS:
        return witness.held(
            "A1",
            estimator,
            instance,
            seed,
            quick,
            last,
            summary + " (falls towards zero)",
            data,
            clone_of=curve["worst_index"],
            eps=curve["eps"],
            delta=curve["delta"],
            slope=slope,
        )
    return Measurement(outcome, magnitude=last, data=data, detail=summary + " (neither levels off nor falls clearly)")


def _check_a1(estimator, instance, rng, quick=False) -> Measurement:
    """A1 robustness to approximate clones [PSZ]; default world: topic clusters in the unit square."""
    if instance is not None:
        return search.check_given(_a1_instance, estimator, instance, rng, quick)
    instances = [gen.topic_cluster_instance(rng, per_topic=3 if quick else 4) for _ in range(1 if quick else 3)]
    meas = search.run_search(
        "A1",
        estimator,
        [SearchSource("topic-clusters", instances)],
        _a1_instance,
        rng,
        quick,
        collect=lambda meas: meas.data.get("curve", {}),
    )
    curves = meas.data.get("instances") or []
    if meas.measured == HOLDS and curves:
        worst = max(c["delta"][-1] for c in curves)
        slopes = ", ".join(f"{c['slope']:.2f}" for c in curves)
        detail = (
            f"A1: Delta(eps) falls towards zero on {len(curves)} topic-cluster worlds: at most {worst:.2g} at "
            f"eps={curves[0]['eps'][-1]:.0e}, log-log slopes {slopes}"
        )
        return Measurement(HOLDS, magnitude=meas.magnitude, witness=meas.witness, data=meas.data, detail=detail)
    return meas


# ----------------------------------------------------------------------------- A2
def _collapse(indices, m: int, x: int) -> set:
    return {x if int(i) >= m else int(i) for i in indices}


def _others_order(order, m: int, x: int) -> list:
    return [int(i) for i in order if int(i) < m and int(i) != x]


def _reward_winners(scores, tol) -> tuple:
    return tuple(int(i) for i in np.flatnonzero(scores >= scores.max() - tol))


def a2_compare(before, after, m: int, x: int, tol: float = REWARD_TOL, reward_tol: float = A2_REWARD_TOL) -> dict:
    """What changed between the outcome on M and on M with clones of x (indices >= m are clones)."""
    rule = before.kind == "rule"
    if rule:
        w0, w1 = set(before.winners), _collapse(after.winners, m, x)
        o0, o1 = _others_order(before.order, m, x), _others_order(after.order, m, x)
        change = 0.0
    else:
        w0 = set(_reward_winners(before.scores, tol))
        w1 = _collapse(_reward_winners(after.scores, tol), m, x)
        others = [i for i in range(m) if i != x]
        s0, s1 = before.scores[others], after.scores[others]
        # order of the others with ties at tol, compared as pairwise signs
        sign0 = np.sign(np.where(np.abs(s0[:, None] - s0[None, :]) > tol, s0[:, None] - s0[None, :], 0.0))
        sign1 = np.sign(np.where(np.abs(s1[:, None] - s1[None, :]) > tol, s1[:, None] - s1[None, :], 0.0))
        o0 = o1 = None
        order_changed = bool(np.any(sign0 != sign1))
        change = float(np.max(np.abs(s1 - s0))) / max(1.0, float(np.max(np.abs(s0)))) if others else 0.0
    result = {
        "winners_before": sorted(w0),
        "winners_after": sorted(w1),
        "winner_changed": w0 != w1,
        "reward_change": change,
    }
    if rule:
        result.update(order_before=o0, order_after=o1, order_changed=o0 != o1, rewards_changed=False)
    else:
        result.update(order_changed=order_changed, rewards_changed=change > reward_tol)
    result["violated"] = bool(result["winner_changed"] or result["order_changed"] or result["rewards_changed"])
    return result


def _clone_weights(estimator, instance, cloned, base_weights, x, count):
    if not fitting.is_weighted(estimator):
        return None
    if instance.X is not None and instance.region is not None and cloned.X is not None:
        return fitting.weights_for(estimator, cloned)  # Voronoi on the enlarged set: copies split the cell
    w = np.concatenate([base_weights, np.zeros(count)])
    w[x] = base_weights[x] / (count + 1)
    w[instance.m :] = base_weights[x] / (count + 1)
    return w


def _a2_instance(estimator, instance, rng, quick, seed=None) -> Measurement:
    """A2 on one instance: exact clones (k = 1, 2, 3) of a few alternatives (all of them when m <= 5)."""
    m = instance.m
    base = fitting.fit_outcome(estimator, instance, rng=rng, quick=quick)
    if not base.converged:
        return Measurement(INCONCLUSIVE, detail="A2: the fit on M did not converge")
    xs = range(m) if m <= 5 else np.sort(rng.choice(m, size=3 if quick else 5, replace=False))
    worst, nonconv, tried = None, 0, 0
    for x in xs:
        x = int(x)
        for count in A2_COUNTS:
            cloned = gen.clone_instance(instance, x, count)
            w = _clone_weights(estimator, instance, cloned, base.weights, x, count)
            out = fitting.fit_outcome(estimator, cloned, weights=w, rng=rng, quick=quick)
            tried += 1
            if not out.converged:
                nonconv += 1
                continue
            cmp = a2_compare(base, out, m, x)
            if cmp["violated"]:
                worst = (x, count, w, out, cmp)
                break
        if worst is not None:
            break
    if worst is None:
        if nonconv:
            return Measurement(INCONCLUSIVE, detail=f"A2: {nonconv} of {tried} fits with clones did not converge")
        return witness.held(
            "A2",
            estimator,
            instance,
            seed,
            quick,
            0.0,
            f"A2: {tried} clone insertions left winner, order and rewards unchanged",
            clones=list(A2_COUNTS),
            outcome=witness.outcome_summary(base),
        )
    x, count, w, out, cmp = worst
    what = [k for k in ("winner_changed", "order_changed", "rewards_changed") if cmp[k]]
    magnitude = cmp["reward_change"] if base.kind == "reward" else float(len(what))

    def predicate(b0, b1):
        brute = a2_compare(b0, b1, m, x, tol=10 * bf.BRUTE_TOL, reward_tol=10 * bf.BRUTE_TOL)
        return brute["violated"], brute["reward_change"] if b0.kind == "reward" else float(brute["violated"])

    check = bf.recheck(estimator, [instance.P, gen.clone_matrix(instance.P, x, count)], [base.weights, w], predicate)
    detail = (
        f"A2: adding {count} exact clone(s) of {x} changed {', '.join(k.replace('_changed', '') for k in what)} "
        f"under {estimator} (winners {cmp['winners_before']} -> {cmp['winners_after']}, "
        f"reward change {cmp['reward_change']:.3g})"
    )
    return witness.violation(
        "A2",
        estimator,
        instance,
        seed,
        quick,
        magnitude,
        detail,
        check,
        clone_of=x,
        clones=count,
        comparison=cmp,
        outcome=witness.outcome_summary(base),
        outcome_with_clones=witness.outcome_summary(out),
        weights_with_clones=w,
    )


def borda_clone_profile():
    """The profile [[0, 1, 2], [1, 2, 0]] with counts [3, 2]: Borda's winner changes under clones of 0."""
    return gen.profile_instance([[0, 1, 2], [1, 2, 0]], [0.6, 0.4])


def _planted_a2():
    from choicelab import sim

    cycle = sim.Instance.from_matrix([[0.5, 0.6, 0.4], [0.4, 0.5, 0.6], [0.6, 0.4, 0.5]])
    kemeny = sim.Instance.from_matrix([[0.5, 0.9, 0.4], [0.1, 0.5, 0.65], [0.6, 0.35, 0.5]])
    return [borda_clone_profile(), cycle, kemeny]


def _check_a2(estimator, instance, rng, quick=False) -> Measurement:
    """A2 independence of exact clones; searches planted, random and exhaustive (m = 3 grids of P and
    every profile of 3 to 5 voters) instances."""
    if instance is not None:
        return search.check_given(_a2_instance, estimator, instance, rng, quick)
    n = 4 if quick else 20
    sources = [
        SearchSource("planted", _planted_a2()),
        SearchSource("random", gen.random_bt_instances(rng, n, m_range=(3, 7))),
        SearchSource("random-profile", gen.random_profile_instances(rng, 2 * n)),
        SearchSource("exhaustive", gen.exhaustive_matrices((0.1, 0.3, 0.45, 0.6, 0.8) if quick else None)),
        SearchSource("exhaustive-profile", gen.small_profiles(quick)),
    ]
    return search.run_search("A2", estimator, sources, _a2_instance, rng, quick)


# ----------------------------------------------------------------------------- registration
register(
    Axiom(
        "A1",
        "Robustness to approximate clones",
        "For every M, L-Lipschitz population and delta > 0 there is eps > 0 such that a clone x' within eps of x "
        "moves every reward on M by at most delta and r(x') is within delta of r(x); measured as the curve "
        "Delta(eps) for eps -> 0.",
        "[PSZ]",
        _check_a1,
        needs_positions=True,
        measure=_a1_instance,
    )
)
register(
    Axiom(
        "A2",
        "Independence of exact clones",
        "Adding exact clones of x leaves the winner (clones collapsed into x) and the relative order of all other "
        "alternatives unchanged; for reward estimators, the other alternatives' rewards too.",
        "[PSZ]; classical (Tideman)",
        _check_a2,
        measure=_a2_instance,
    )
)
