"""The contract every estimator of the registry passes, as a function researchers can call.

:func:`check_estimator` runs, on small instances it builds itself, the checks that any
registry entry must pass whatever it computes, in the spirit of scikit-learn's
``check_estimator``: every built-in passes them in choicelab's test suite, and a plugin's author
runs them on their own estimator::

    from choicelab.testing import check_estimator
    check_estimator("my_rule")            # a registered name
    check_estimator(my_function)          # or a function fn(P, weights=None, lam=0.1) -> scores

Checks
------
``shapes``
    ``scores`` is a finite (m,) vector; ``order`` a permutation of 0..m-1, best
    first (non-increasing scores for reward estimators); ``winners`` non-empty and
    among the alternatives.
``determinism``
    the same instance and the same seed give the same scores.
``relabelling``
    permuting the alternatives permutes the scores (neutrality; on representative
    data of a matrix-only instance, for estimators that need no positions).
``bad input``
    a non-square matrix, a matrix with P + P^T != 1, and a negative lambda are
    refused with ValueError or TypeError (never a silent answer).
``comparisons``
    estimators that consume sampled comparisons accept them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_estimator", "ContractFailure"]


class ContractFailure(AssertionError):
    """An estimator broke the registry's contract; the message names the estimator and the check."""


def _instance(m: int, seed: int):
    from choicelab import sim

    rng = np.random.default_rng(seed)
    region = sim.Box(np.zeros(2), np.ones(2))
    alts = sim.uniform_alternatives(region, m, rng=rng)
    pop = sim.Population(
        [
            sim.AnnotatorType(0.6, sim.ideal_point_reward([0.2, 0.3])),
            sim.AnnotatorType(0.4, sim.linear_reward([1.0, -0.5])),
        ],
        beta=2.0,
    )
    return sim.Instance(alts, pop, region)


def _entry(name_or_callable):
    from choicelab.estimators.registry import get_estimator, register, unregister

    if isinstance(name_or_callable, str):
        return get_estimator(name_or_callable), None
    if not callable(name_or_callable):
        raise TypeError(f"check_estimator takes a registry name or a function, got {type(name_or_callable).__name__}")
    import re

    base = re.sub(r"[^A-Za-z0-9_.-]+", "", getattr(name_or_callable, "__name__", "") or "") or "estimator"
    name = f"contract-check.{base}"
    unregister(name)
    register(name, kind="rule", consumes=("matrix",))(name_or_callable)
    return get_estimator(name), name


def check_estimator(name_or_callable, *, quick: bool = True, seed: int = 0) -> list[str]:
    """Run the contract (module docstring) on one estimator; returns the names of the checks passed.

    Parameters
    ----------
    name_or_callable : str or callable
        A registry name, or a function of the preference matrix (registered temporarily).
    quick : bool
        Fit with the registry's quick budgets (neural estimators train briefly).
    seed : int

    Raises
    ------
    ContractFailure
        On the first check that fails, naming the estimator, the check and what was wrong.
    """
    from choicelab import sim
    from choicelab.estimators.registry import unregister

    entry, temporary = _entry(name_or_callable)
    name = entry.name
    passed = []

    def fail(check, message):
        raise ContractFailure(f"estimator {name!r} fails the {check} check: {message}")

    try:
        inst = _instance(6, seed)
        m = inst.m
        data = None if "matrix" in entry.consumes else inst.population.sample_comparisons(inst.X, 3000, rng=seed)
        if data is None and "comparisons" not in entry.consumes and "rankings" in entry.consumes:
            data = inst.population.sample_rankings(inst.X, 2000, rng=seed)
        out = entry.fit(inst, data=data, rng=np.random.default_rng(seed), quick=quick)
        scores = np.asarray(out.scores, dtype=float)
        if scores.shape != (m,) or not np.all(np.isfinite(scores)):
            fail("shapes", f"scores must be {m} finite numbers, got shape {scores.shape}: {scores.tolist()}")
        order = np.asarray(out.order)
        if sorted(order.tolist()) != list(range(m)):
            fail("shapes", f"order must be a permutation of 0..{m - 1}, got {order.tolist()}")
        if out.kind == "reward" and np.any(np.diff(scores[order]) > 1e-9):
            fail("shapes", f"order must list scores best first, got scores {scores[order].tolist()} along it")
        if not out.winners or not set(out.winners) <= set(range(m)):
            fail("shapes", f"winners must be a non-empty set of alternatives, got {out.winners}")
        passed.append("shapes")

        again = entry.fit(inst, data=data, rng=np.random.default_rng(seed), quick=quick)
        if not np.array_equal(np.asarray(again.scores), scores):
            fail("determinism", "the same instance and seed gave different scores")
        passed.append("determinism")

        # relabelling applies where the output does not depend on the seed (a trained network's
        # minibatch order, a sampled data set do): permuting the alternatives permutes the scores
        other_seed = entry.fit(inst, data=data, rng=np.random.default_rng(seed + 7), quick=quick)
        if data is None and np.allclose(np.asarray(other_seed.scores), scores, atol=1e-9, rtol=0):
            perm = np.random.default_rng(seed + 1).permutation(m)
            if entry.needs == "matrix" and not entry.weighted:
                P = np.asarray(inst.P)
                base = entry.fit(sim.Instance.from_matrix(P), rng=np.random.default_rng(seed), quick=quick).scores
                moved = entry.fit(
                    sim.Instance.from_matrix(P[np.ix_(perm, perm)]), rng=np.random.default_rng(seed), quick=quick
                ).scores
            else:  # positions move with their labels
                base = scores
                moved = entry.fit(
                    sim.Instance(sim.Alternatives(inst.X[perm]), inst.population, inst.region),
                    rng=np.random.default_rng(seed),
                    quick=quick,
                ).scores
            if not np.allclose(np.asarray(moved), np.asarray(base)[perm], atol=1e-6, rtol=1e-6):
                fail("relabelling", "permuting the alternatives did not permute the scores")
            passed.append("relabelling")

        bad_inputs = [
            ("a non-square matrix", np.full((2, 3), 0.5)),
            ("a matrix with P + P^T != 1", np.array([[0.5, 0.9], [0.9, 0.5]])),
        ]
        for what, P in bad_inputs:
            try:
                entry.fit(P, rng=np.random.default_rng(seed), quick=quick)
            except (ValueError, TypeError):
                continue
            fail("bad input", f"{what} was accepted")
        try:
            entry.fit(inst, data=data, lam=-1.0, rng=np.random.default_rng(seed), quick=quick)
        except (ValueError, TypeError):
            pass
        else:
            fail("bad input", "lam = -1 was accepted")
        passed.append("bad input")

        if "comparisons" in entry.consumes:
            comps = inst.population.sample_comparisons(inst.X, 4000, rng=seed)
            out = entry.fit(inst, data=comps, rng=np.random.default_rng(seed), quick=quick)
            if np.asarray(out.scores).shape != (m,) or not np.all(np.isfinite(out.scores)):
                fail("comparisons", "sampled comparisons gave no finite (m,) scores")
            passed.append("comparisons")
    finally:
        if temporary is not None:
            unregister(temporary)
    return passed
