"""Symmetry axioms A7 (anonymity) and A8 (neutrality), contract §3.

A7 permutes the annotator types of a population and refits (representative data), and
relabels the annotators of a sampled comparison set while shuffling its records (sampled
data): the output must not change. A8 relabels the alternatives, positions moving with their
labels (so the weighted MLE's Voronoi weights move too): the output must be permuted the same
way. "Unchanged" means rewards within :data:`SYMMETRY_TOL` (relative to the reward scale);
voting rules must give the same scores and winners (their index tie-breaks may reorder tied
alternatives, so ``order`` is not compared).
"""

from __future__ import annotations

import numpy as np

from choicelab.axioms import brute_force as bf
from choicelab.axioms import fitting, search, witness
from choicelab.axioms import generators as gen
from choicelab.axioms.base import INCONCLUSIVE, Axiom, Measurement, register
from choicelab.axioms.search import SearchSource

SYMMETRY_TOL = 1e-7  # |r - r'| / max(1, |r|_inf); P itself changes by rounding (~1e-16) when types move
SAMPLE_SIZE = {True: 300, False: 2000}  # comparisons sampled per instance for the data-level A7 check


def _scale(out) -> float:
    return max(1.0, float(np.max(np.abs(out.scores))))


def _difference(a, b, perm=None) -> float:
    """Largest score difference of b against a (a's scores permuted by ``perm`` first)."""
    sa = a.scores if perm is None else a.scores[perm]
    return float(np.max(np.abs(sa - b.scores))) / _scale(a)


def _same_winners(a, b, perm=None) -> bool:
    wa = set(a.winners) if perm is None else {int(k) for k in np.flatnonzero(np.isin(perm, list(a.winners)))}
    return wa == set(b.winners)


def _changed(a, b, perm=None, tol=SYMMETRY_TOL) -> tuple[bool, float]:
    diff = _difference(a, b, perm)
    if a.kind == "rule":
        return (diff > 1e-9 or not _same_winners(a, b, perm)), diff
    return diff > tol, diff


# ----------------------------------------------------------------------------- A7 anonymity
def _permuted_population(pop, perm):
    from choicelab import sim

    return sim.Population([pop.types[t] for t in perm], choice=pop.choice, beta=pop.beta)


def _relabel_annotators(comps, perm, rng):
    """The same answers, attributed to permuted annotators, in a shuffled record order."""
    from choicelab import sim

    inverse = np.argsort(perm)
    ann = np.where(comps.annotator >= 0, inverse[np.maximum(comps.annotator, 0)], comps.annotator)
    order = rng.permutation(len(comps))
    return sim.Comparisons(comps.a[order], comps.b[order], comps.winner[order], ann[order])


def _a7_instance(estimator, instance, rng, quick, seed=None) -> Measurement:
    """A7 on one instance: permuting annotator types (P) and annotator labels (sampled data)."""
    from choicelab import sim
    from choicelab.sim.data import win_counts

    pop = instance.population
    if pop is None or instance.X is None:
        return search.not_applicable("A7", "anonymity needs a population of annotator types")
    if pop.T < 2:
        return search.not_applicable("A7", "a single annotator type has nothing to permute")
    perm = rng.permutation(pop.T)
    if np.array_equal(perm, np.arange(pop.T)):
        perm = np.roll(perm, 1)
    permuted = sim.Instance(instance.alternatives, _permuted_population(pop, perm), instance.region)
    weights = fitting.weights_for(estimator, instance, rng)
    a = fitting.fit_outcome(estimator, instance, weights=weights, rng=np.random.default_rng(seed), quick=quick)
    b = fitting.fit_outcome(estimator, permuted, weights=weights, rng=np.random.default_rng(seed), quick=quick)
    comps = pop.sample_comparisons(instance.X, SAMPLE_SIZE[bool(quick)], rng=rng)
    relabelled = _relabel_annotators(comps, perm, rng)
    fits = [("types permuted (representative P)", a, b, instance.P, permuted.P)]
    # a voting rule needs every pair in the sampled data; small samples may miss one
    incomplete = bool(np.any(np.isnan(_empirical(comps, instance.m))))
    if not (a.kind == "rule" and incomplete):
        c = fitting.fit_outcome(
            estimator, instance, weights=weights, data=comps, rng=np.random.default_rng(seed), quick=quick
        )
        d = fitting.fit_outcome(
            estimator, instance, weights=weights, data=relabelled, rng=np.random.default_rng(seed), quick=quick
        )
        fits.append(
            (
                "annotators relabelled and records shuffled (sampled data)",
                c,
                d,
                win_counts(comps, instance.m),
                win_counts(relabelled, instance.m),
            )
        )
    if not all(f[1].converged and f[2].converged for f in fits):
        return Measurement(INCONCLUSIVE, detail="A7: a fit did not converge")
    worst = max(fits, key=lambda f: _changed(f[1], f[2])[1])
    changed, diff = _changed(worst[1], worst[2])
    record = {"data": comps}  # the sampled comparisons (drawn from the seed again on replay)
    if not any(_changed(f[1], f[2])[0] for f in fits):
        return witness.held(
            "A7",
            estimator,
            instance,
            seed,
            quick,
            diff,
            f"A7: output unchanged under {len(fits)} annotator permutations (relative difference {diff:.1e})",
            **record,
            type_permutation=perm,
        )
    what, x, y, M1, M2 = next(f for f in fits if _changed(f[1], f[2])[0])
    kind = "counts" if "sampled" in what else "P"
    if x.kind == "rule" and kind == "counts":
        M1, M2 = _empirical(comps, instance.m), _empirical(relabelled, instance.m)

    def predicate(o1, o2):
        return _changed(o1, o2, tol=max(SYMMETRY_TOL, 10 * bf.BRUTE_TOL))

    check = bf.recheck(estimator, [M1, M2], weights, predicate)
    return witness.violation(
        "A7",
        estimator,
        instance,
        seed,
        quick,
        diff,
        f"A7: {estimator} output changed when {what} (relative difference {diff:.2e})",
        check,
        record=record,
        type_permutation=perm,
        change=what,
        outcome=witness.outcome_summary(x),
        outcome_permuted=witness.outcome_summary(y),
    )


def _empirical(comps, m):
    from choicelab.sim.data import empirical_matrix

    return empirical_matrix(comps, m)


def _check_a7(estimator, instance, rng, quick=False) -> Measurement:
    """A7 anonymity: the output depends on P (or on the multiset of answers) only."""
    if instance is not None:
        return search.check_given(_a7_instance, estimator, instance, rng, quick)
    n = 3 if quick else 15
    sources = [
        SearchSource("random", gen.random_bt_instances(rng, n, m_range=(3, 8))),
        SearchSource("random-profile", gen.random_profile_instances(rng, n)),
    ]
    return search.run_search("A7", estimator, sources, _a7_instance, rng, quick)


# ----------------------------------------------------------------------------- A8 neutrality
def _a8_instance(estimator, instance, rng, quick, seed=None) -> Measurement:
    """A8 on one instance: relabelling alternatives by ``perm`` permutes the output."""
    m = instance.m
    perm = rng.permutation(m)
    if m > 1 and np.array_equal(perm, np.arange(m)):
        perm = np.roll(perm, 1)
    relabelled = gen.permute_instance(instance, perm)
    a = fitting.fit_outcome(estimator, instance, rng=np.random.default_rng(seed), quick=quick)
    b = fitting.fit_outcome(estimator, relabelled, rng=np.random.default_rng(seed), quick=quick)
    if not (a.converged and b.converged):
        return Measurement(INCONCLUSIVE, detail="A8: a fit did not converge")
    changed, diff = _changed(a, b, perm)
    if not changed:
        return witness.held(
            "A8",
            estimator,
            instance,
            seed,
            quick,
            diff,
            f"A8: relabelling permuted the output (relative difference {diff:.1e})",
            permutation=perm,
        )
    P = np.asarray(instance.P, dtype=float)

    def predicate(o1, o2):
        return _changed(o1, o2, perm, tol=max(SYMMETRY_TOL, 10 * bf.BRUTE_TOL))

    check = bf.recheck(estimator, [P, P[np.ix_(perm, perm)]], [a.weights, b.weights], predicate)
    return witness.violation(
        "A8",
        estimator,
        instance,
        seed,
        quick,
        diff,
        f"A8: relabelling alternatives by {perm.tolist()} did not permute the {estimator} output "
        f"(relative difference {diff:.2e})",
        check,
        permutation=perm,
        outcome=witness.outcome_summary(a),
        outcome_relabelled=witness.outcome_summary(b),
    )


def _check_a8(estimator, instance, rng, quick=False) -> Measurement:
    """A8 neutrality; for the weighted MLE the positions move with the labels."""
    if instance is not None:
        return search.check_given(_a8_instance, estimator, instance, rng, quick)
    n = 3 if quick else 15
    sources = [
        SearchSource("random", gen.random_bt_instances(rng, n, m_range=(3, 9))),
        SearchSource("random-profile", gen.random_profile_instances(rng, n)),
        SearchSource("planted", gen.planted_condorcet_instances(rng, 2) + [gen.tennessee_instance()]),
    ]
    return search.run_search("A8", estimator, sources, _a8_instance, rng, quick)


# ----------------------------------------------------------------------------- registration
register(
    Axiom(
        "A7",
        "Anonymity",
        "Permuting annotators changes nothing: the output depends on P (or on the multiset of answers) only.",
        "derived: the estimators read P or win counts",
        _check_a7,
        needs_positions=True,
        measure=_a7_instance,
    )
)
register(
    Axiom(
        "A8",
        "Neutrality",
        "Relabelling alternatives permutes the output (for the weighted MLE, positions move with labels).",
        "derived",
        _check_a8,
        measure=_a8_instance,
    )
)
