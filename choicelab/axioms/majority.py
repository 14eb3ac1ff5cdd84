"""Majority axioms A3-A6 (contract §3): Pareto, pairwise majority consistency, Condorcet, monotonicity.

Each axiom has an instance-level check ``_aN_instance(estimator, instance, rng, quick, seed)``
and a registered check that either runs it on a given instance or searches instances (random
worlds, random profiles, planted structures, exhaustive 3-alternative grids of P and every profile
of 3 to 5 voters over 3 alternatives and, for the Bradley-Terry estimators, an adversarial search
over P). Every violation is re-checked by an
independent computation (:func:`choicelab.axioms.brute_force.brute_outcome`) before it is reported.

Tolerances: reward differences within :data:`~choicelab.axioms.fitting.REWARD_TOL` (1e-7) are
ties; a tie where the axiom asks for a strict order makes the instance inconclusive, not
violated. Voting rules are judged on their own ``order`` and ``winners``.
"""

from __future__ import annotations

import numpy as np

from choicelab.axioms import brute_force as bf
from choicelab.axioms import fitting, search, witness
from choicelab.axioms import generators as gen
from choicelab.axioms.base import INCONCLUSIVE, Axiom, Measurement, register
from choicelab.axioms.fitting import REWARD_TOL
from choicelab.axioms.search import SearchSource

PARETO_GAP = 1e-3  # x Pareto-dominates y when every type's reward is higher by at least this
_MAJ_TOL = 1e-12  # P_ij > 1/2 + this is a strict majority (as in choicelab.estimators.voting)


def _is_rule(estimator: str) -> bool:
    return fitting.is_rule(estimator)


def _fit(estimator, instance, weights, rng, quick):
    return fitting.fit_outcome(estimator, instance, weights=weights, rng=rng, quick=quick)


def _not_converged(axiom, out) -> Measurement:
    return Measurement(INCONCLUSIVE, detail=f"{axiom}: the {out.estimator} fit did not converge")


def _positions(order) -> np.ndarray:
    pos = np.empty(len(order), dtype=np.int64)
    pos[np.asarray(order)] = np.arange(len(order))
    return pos


# ----------------------------------------------------------------------------- A3 Pareto
def _pareto_pairs(instance) -> np.ndarray:
    R = instance.population.rewards(instance.X)  # (T, m)
    gap = np.min(R[:, :, None] - R[:, None, :], axis=0)  # gap[x, y] = min_t r_t(x) - r_t(y)
    return np.argwhere(gap >= PARETO_GAP)


def _pareto_margin(pairs, rule: bool):
    def predicate(out):
        if rule:
            pos = _positions(out.order)
            bad = [(int(x), int(y)) for x, y in pairs if pos[x] > pos[y]]
            return bool(bad), float(len(bad))
        margins = out.scores[pairs[:, 0]] - out.scores[pairs[:, 1]]
        return bool(margins.min() < -bf.BRUTE_TOL), float(-margins.min())

    return predicate


def _a3_instance(estimator, instance, rng, quick, seed=None) -> Measurement:
    """A3 on one instance: every Pareto-dominated pair (x, y) must get r(x) > r(y)."""
    if instance.population is None:
        return search.not_applicable("A3", "Pareto needs annotator types; the instance is matrix-only")
    pairs = _pareto_pairs(instance)
    if pairs.size == 0:
        return search.not_applicable("A3", "no pair is Pareto-dominated (every type ahead by >= 1e-3)")
    out = _fit(estimator, instance, None, rng, quick)
    if not out.converged:
        return _not_converged("A3", out)
    rule = out.kind == "rule"
    if rule:
        pos = _positions(out.order)
        bad = [(int(x), int(y)) for x, y in pairs if pos[x] > pos[y]]
        worst, magnitude = (bad[0] if bad else None), float(len(bad))
    else:
        margins = out.scores[pairs[:, 0]] - out.scores[pairs[:, 1]]
        k = int(np.argmin(margins))
        worst, magnitude = (tuple(int(v) for v in pairs[k]), float(-margins[k]))
        if margins[k] > REWARD_TOL:
            worst = None
        elif margins[k] >= -REWARD_TOL:
            return Measurement(
                INCONCLUSIVE, magnitude=magnitude, detail=f"A3: dominated pair {worst} tied within {REWARD_TOL:g}"
            )
    if worst is None:
        return witness.held(
            "A3",
            estimator,
            instance,
            seed,
            quick,
            magnitude,
            f"A3: {len(pairs)} Pareto-dominated pairs all ordered correctly",
            dominated_pairs=pairs,
            outcome=witness.outcome_summary(out),
        )
    check = bf.recheck(estimator, [instance.P], out.weights, _pareto_margin(pairs, rule))
    x, y = worst
    return witness.violation(
        "A3",
        estimator,
        instance,
        seed,
        quick,
        magnitude,
        f"A3: every type prefers {x} to {y}, but {estimator} ranks {y} at least as high",
        check,
        dominated_pair=[x, y],
        outcome=witness.outcome_summary(out),
    )


def _check_a3(estimator, instance, rng, quick=False) -> Measurement:
    """A3 Pareto (derived: P(x > z) > P(y > z) for all z, hence B(x) > B(y) and r(x) > r(y), P4/P5)."""
    if instance is not None:
        return search.check_given(_a3_instance, estimator, instance, rng, quick)
    n = 6 if quick else 40
    sources = [
        SearchSource("random", gen.random_bt_instances(rng, n, m_range=(3, 8), aligned=3.0)),
        SearchSource("random-profile", gen.random_profile_instances(rng, n // 2, n_types=(2, 4))),
    ]
    return search.run_search("A3", estimator, sources, _a3_instance, rng, quick)


# ----------------------------------------------------------------------------- A4 majority consistency
def _majority_order(P) -> np.ndarray | None:
    """The majority relation as a best-first order when it is a linear order, else None."""
    m = P.shape[0]
    beats = P > 0.5 + _MAJ_TOL
    complete = np.all(beats | beats.T | np.eye(m, dtype=bool))
    wins = beats.sum(axis=1)
    if not complete or not np.array_equal(np.sort(wins), np.arange(m)):
        return None
    return np.argsort(-wins, kind="stable")


def _a4_predicate(maj, rule: bool):
    pairs = [(int(maj[a]), int(maj[b])) for a in range(len(maj)) for b in range(a + 1, len(maj))]

    def predicate(out):
        if rule:
            pos = _positions(out.order)
            bad = [(i, j) for i, j in pairs if pos[i] > pos[j]]
            return bool(bad), float(len(bad))
        worst = max(out.scores[j] - out.scores[i] for i, j in pairs)
        return bool(worst > bf.BRUTE_TOL), float(worst)

    return predicate


def _a4_instance(estimator, instance, rng, quick, seed=None, weights=None) -> Measurement:
    """A4 on one instance: when the majority relation is a linear order, the output follows it."""
    P = np.asarray(instance.P, dtype=float)
    maj = _majority_order(P)
    if maj is None:
        return search.not_applicable("A4", "the majority relation is not a linear order")
    out = _fit(estimator, instance, weights, rng, quick)
    if not out.converged:
        return _not_converged("A4", out)
    # explicit weights are an input of the measurement: the witness records them and replay passes them back
    record = {} if weights is None else {"weights": weights, "inputs": {"weights": weights}}
    rule = out.kind == "rule"
    pairs = [(int(maj[a]), int(maj[b])) for a in range(len(maj)) for b in range(a + 1, len(maj))]
    if rule:
        pos = _positions(out.order)
        bad = [(i, j) for i, j in pairs if pos[i] > pos[j]]
        magnitude = float(len(bad))
        worst = bad[0] if bad else None
    else:
        diffs = [(out.scores[j] - out.scores[i], (i, j)) for i, j in pairs]
        d, pair = max(diffs)
        magnitude, worst = float(d), pair
        if d < -REWARD_TOL:
            worst = None
        elif d <= REWARD_TOL:
            return Measurement(
                INCONCLUSIVE, magnitude=magnitude, detail=f"A4: majority pair {pair} tied within {REWARD_TOL:g}"
            )
    if worst is None:
        return witness.held(
            "A4",
            estimator,
            instance,
            seed,
            quick,
            magnitude,
            f"A4: output follows the majority order {maj.tolist()}",
            **record,
            majority_order=maj,
            outcome=witness.outcome_summary(out),
        )
    check = bf.recheck(estimator, [P], out.weights, _a4_predicate(maj, rule))
    i, j = worst
    return witness.violation(
        "A4",
        estimator,
        instance,
        seed,
        quick,
        magnitude,
        f"A4: majority order {maj.tolist()} ({i} beats {j}, P = {P[i, j]:.3g}), but {estimator} ranks {j} "
        f"above {i} (order {out.order.tolist()})",
        check,
        record=record,
        majority_order=maj,
        reversed_pair=[i, j],
        outcome=witness.outcome_summary(out),
    )


def _adversarial(axiom, estimator, instance_check, margin_of, mode, quick):
    """Adversarial search over P for the BT estimators (uniform weights for weighted_mle)."""
    return search.adversary(axiom, estimator, instance_check, margin_of, mode, quick)


def _a4_margin(P, out):
    maj = _majority_order(P)
    if maj is None:
        return -np.inf
    return max(out.scores[maj[b]] - out.scores[maj[a]] for a in range(len(maj)) for b in range(a + 1, len(maj)))


def _bt_adversary(estimator):
    return estimator in ("mle", "weighted_mle")


def _exhaustive(quick):
    values = (0.1, 0.3, 0.45, 0.6, 0.8) if quick else None
    return gen.exhaustive_matrices(values)


def _check_a4(estimator, instance, rng, quick=False) -> Measurement:
    """A4 pairwise majority consistency [GE]."""
    if instance is not None:
        return search.check_given(_a4_instance, estimator, instance, rng, quick)
    n = 4 if quick else 20
    sources = [
        SearchSource("planted", gen.planted_linear_majority_instances(rng, n)),
        SearchSource("exhaustive", _exhaustive(quick)),
        SearchSource("exhaustive-profile", gen.small_profiles(quick)),
        SearchSource("random-profile", gen.random_profile_instances(rng, 2 * n)),
        SearchSource("random", gen.random_bt_instances(rng, n)),
    ]
    adv = _adversarial("A4", estimator, _a4_instance, _a4_margin, "linear", quick) if _bt_adversary(estimator) else None
    return search.run_search("A4", estimator, sources, _a4_instance, rng, quick, adversarial=adv)


# ----------------------------------------------------------------------------- A5 Condorcet
def condorcet_winner(P) -> int | None:
    """The alternative that beats every other by a strict majority, or None."""
    P = np.asarray(P, dtype=float)
    m = P.shape[0]
    for c in range(m):
        if all(P[c, j] > 0.5 + _MAJ_TOL for j in range(m) if j != c):
            return c
    return None


def _a5_predicate(c, rule: bool):
    def predicate(out):
        if rule:
            return tuple(out.winners) != (c,), float(tuple(out.winners) != (c,))
        others = np.delete(out.scores, c)
        margin = float(others.max() - out.scores[c])
        return bool(margin > bf.BRUTE_TOL), margin

    return predicate


def _a5_instance(estimator, instance, rng, quick, seed=None) -> Measurement:
    """A5 on one instance: a Condorcet winner gets the top score (the sole winner, for rules)."""
    P = np.asarray(instance.P, dtype=float)
    c = condorcet_winner(P)
    if c is None:
        return search.not_applicable("A5", "no Condorcet winner")
    out = _fit(estimator, instance, None, rng, quick)
    if not out.converged:
        return _not_converged("A5", out)
    rule = out.kind == "rule"
    if rule:
        ok = tuple(out.winners) == (c,)
        magnitude = 0.0 if ok else 1.0
    else:
        others = np.delete(out.scores, c)
        magnitude = float(others.max() - out.scores[c])
        if abs(magnitude) <= REWARD_TOL:
            return Measurement(
                INCONCLUSIVE,
                magnitude=magnitude,
                detail=f"A5: Condorcet winner {c} tied with the top within {REWARD_TOL:g}",
            )
        ok = magnitude < 0
    if ok:
        return witness.held(
            "A5",
            estimator,
            instance,
            seed,
            quick,
            magnitude,
            f"A5: Condorcet winner {c} is ranked first",
            condorcet_winner=c,
            outcome=witness.outcome_summary(out),
        )
    check = bf.recheck(estimator, [P], out.weights, _a5_predicate(c, rule))
    top = int(out.order[0])
    return witness.violation(
        "A5",
        estimator,
        instance,
        seed,
        quick,
        magnitude,
        f"A5: {c} is the Condorcet winner, but {estimator} puts {top} first (winners {list(out.winners)})",
        check,
        condorcet_winner=c,
        outcome=witness.outcome_summary(out),
    )


def _a5_margin(P, out):
    c = condorcet_winner(P)
    if c is None:
        return -np.inf
    return float(np.delete(out.scores, c).max() - out.scores[c])


def _check_a5(estimator, instance, rng, quick=False) -> Measurement:
    """A5 Condorcet consistency (counterexample for the MLEs: P_ab = P_ac = 0.51, P_bc = 0.99)."""
    if instance is not None:
        return search.check_given(_a5_instance, estimator, instance, rng, quick)
    n = 4 if quick else 20
    sources = [
        SearchSource("planted", gen.planted_condorcet_instances(rng, n)),
        SearchSource("exhaustive", _exhaustive(quick)),
        SearchSource("exhaustive-profile", gen.small_profiles(quick)),
        SearchSource("random-profile", gen.random_profile_instances(rng, 2 * n)),
        SearchSource("random", gen.random_bt_instances(rng, n)),
    ]
    adv = (
        _adversarial("A5", estimator, _a5_instance, _a5_margin, "condorcet", quick)
        if _bt_adversary(estimator)
        else None
    )
    return search.run_search("A5", estimator, sources, _a5_instance, rng, quick, adversarial=adv)


# ----------------------------------------------------------------------------- A6 monotonicity
def _rank(scores, x, tol) -> int:
    """How many alternatives score strictly above x (beyond ``tol``)."""
    return int(np.sum(scores > scores[x] + tol))


def raise_preference(P, x: int, y: int, delta: float) -> np.ndarray:
    """``P`` with ``P_xy`` raised and ``P_yx`` lowered by ``delta`` (contract A6)."""
    P = np.array(P, dtype=float)
    if not 0 < delta <= 1.0 - P[x, y] + 1e-15:
        raise ValueError(f"delta must lie in (0, 1 - P[{x}, {y}]] = (0, {1.0 - P[x, y]}], got {delta}")
    P[x, y] = min(1.0, P[x, y] + delta)
    P[y, x] = 1.0 - P[x, y]
    return P


def _rank_of(out, x, rule: bool) -> int:
    if rule:
        return int(_positions(out.order)[x])
    return _rank(out.scores, x, REWARD_TOL)


def _a6_predicate(x, rule: bool):
    def predicate(before, after):
        if rule:
            drop = int(_positions(after.order)[x]) - int(_positions(before.order)[x])
        else:
            drop = _rank(after.scores, x, bf.BRUTE_TOL) - _rank(before.scores, x, -bf.BRUTE_TOL)
        return drop > 0, float(drop)

    return predicate


def _a6_instance(estimator, instance, rng, quick, seed=None) -> Measurement:
    """A6 on one instance: raising P_xy (lowering P_yx) never lowers x's rank.

    A few random ordered pairs (x, y), each raised by half and by all of its headroom
    ``1 - P_xy``. Weighted estimators keep the instance's weights (they do not depend on P).
    """
    from choicelab import sim

    P = np.asarray(instance.P, dtype=float)
    m = P.shape[0]
    out = _fit(estimator, instance, None, rng, quick)
    if not out.converged:
        return _not_converged("A6", out)
    rule = out.kind == "rule"
    pairs = [(x, y) for x in range(m) for y in range(m) if x != y and P[x, y] < 1.0 - 1e-9]
    if not pairs:
        return search.not_applicable("A6", "every P_xy is already 1")
    chosen = rng.permutation(len(pairs))[: (3 if quick else 8)]
    worst, tried, nonconv = (-np.inf, None), 0, 0
    for k in chosen:
        x, y = pairs[k]
        for frac in (0.5, 1.0):
            delta = frac * (1.0 - P[x, y])
            P2 = raise_preference(P, x, y, delta)
            out2 = _fit(estimator, sim.Instance.from_matrix(P2), out.weights, rng, quick)
            tried += 1
            if not out2.converged:
                nonconv += 1
                continue
            drop = _rank_of(out2, x, rule) - _rank_of(out, x, rule)
            if drop > worst[0]:
                worst = (drop, (x, y, float(delta), P2, out2))
    if worst[1] is None:
        return Measurement(INCONCLUSIVE, detail=f"A6: {nonconv} of {tried} perturbed fits did not converge")
    drop, (x, y, delta, P2, out2) = worst
    if drop <= 0:
        if nonconv:
            return Measurement(
                INCONCLUSIVE, magnitude=float(drop), detail=f"A6: {nonconv} of {tried} perturbed fits did not converge"
            )
        return witness.held(
            "A6",
            estimator,
            instance,
            seed,
            quick,
            float(drop),
            f"A6: {tried} raised preferences never lowered the raised alternative's rank",
            raised_pair=[x, y],
            delta=delta,
            outcome_before=witness.outcome_summary(out),
            outcome_after=witness.outcome_summary(out2),
        )
    check = bf.recheck(estimator, [P, P2], out.weights, _a6_predicate(x, rule))
    return witness.violation(
        "A6",
        estimator,
        instance,
        seed,
        quick,
        float(drop),
        f"A6: raising P[{x}, {y}] by {delta:.3g} lowered {x}'s rank by {drop} under {estimator}",
        check,
        raised_pair=[x, y],
        delta=delta,
        outcome_before=witness.outcome_summary(out),
        outcome_after=witness.outcome_summary(out2),
        weights_used=out.weights,
    )


def _a6_margin_factory(estimator, quick, rng):
    from choicelab import sim

    def margin(P, out):
        # raise P_01 by half its headroom; positive when someone below 0 overtakes it
        P2 = raise_preference(P, 0, 1, 0.5 * (1.0 - P[0, 1]))
        out2 = _fit(estimator, sim.Instance.from_matrix(P2), out.weights, rng, quick)
        below = out.scores < out.scores[0] - REWARD_TOL
        if not below.any():
            return -np.inf
        return float(np.max(out2.scores[below]) - out2.scores[0])

    return margin


def _check_a6(estimator, instance, rng, quick=False) -> Measurement:
    """A6 monotonicity (derived from P5: raising P_xy raises WAWR(x) and lowers WAWR(y) only)."""
    if instance is not None:
        return search.check_given(_a6_instance, estimator, instance, rng, quick)
    n = 5 if quick else 30
    sources = [
        SearchSource("random", gen.random_bt_instances(rng, n)),
        SearchSource("random-profile", gen.random_profile_instances(rng, n)),
        SearchSource(
            "exhaustive",
            gen.exhaustive_matrices((0.1, 0.5, 0.9) if quick else (0.1, 0.3, 0.5, 0.7, 0.9), distinct_strengths=False),
        ),
    ]
    adv = None
    if _bt_adversary(estimator):
        adv = _adversarial("A6", estimator, _a6_instance, _a6_margin_factory(estimator, quick, rng), "free", quick)
    return search.run_search("A6", estimator, sources, _a6_instance, rng, quick, adversarial=adv)


# ----------------------------------------------------------------------------- registration
register(
    Axiom(
        "A3",
        "Pareto",
        "If every annotator type strictly prefers x to y then r(x) > r(y).",
        "derived: P(x > z) > P(y > z) for all z",
        _check_a3,
        needs_positions=True,
        measure=_a3_instance,
    )
)
register(
    Axiom(
        "A4",
        "Pairwise majority consistency",
        "If the majority relation (P_ij > 1/2) is a linear order, the output ranking is that order.",
        "[GE]",
        _check_a4,
        measure=_a4_instance,
    )
)
register(
    Axiom(
        "A5",
        "Condorcet consistency",
        "An alternative that beats every other by majority gets the top reward.",
        "derived counterexample P_ab = P_ac = 0.51, P_bc = 0.99",
        _check_a5,
        measure=_a5_instance,
    )
)
register(
    Axiom(
        "A6",
        "Monotonicity",
        "Raising P_xy (and lowering P_yx by the same amount) never lowers x's rank.",
        "derived from P5",
        _check_a6,
        measure=_a6_instance,
    )
)
