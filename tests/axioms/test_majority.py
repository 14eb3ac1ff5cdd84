"""A3-A6: known violations (Tennessee, the contract A5 counterexample), theory holding on many random
instances, the premises computed independently, and the brute-force re-check in every witness."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from choicelab import sim
from choicelab.axioms import majority, search
from choicelab.axioms.api import check
from choicelab.axioms.base import HOLDS, VIOLATED

MAJORITY_RULES = ["copeland", "schulze", "ranked_pairs", "kemeny"]


def _tennessee_matrix():
    """Pairwise shares of the Tennessee profile, counted by hand (M=0, N=1, C=2, K=3)."""
    P = np.full((4, 4), 0.5)
    share = {"M": 0.42, "N": 0.26, "C": 0.15, "K": 0.17}
    # M>N>C>K (0.42), N>C>K>M (0.26), C>K>N>M (0.15), K>C>N>M (0.17)
    P[0, 1] = P[0, 2] = P[0, 3] = share["M"]
    P[1, 2] = share["M"] + share["N"]
    P[1, 3] = share["M"] + share["N"]
    P[2, 3] = share["M"] + share["N"] + share["C"]
    iu = np.triu_indices(4, 1)
    P[iu[1], iu[0]] = 1.0 - P[iu]
    return P


def _spec_a5_matrix():
    return np.array([[0.5, 0.51, 0.51], [0.49, 0.5, 0.99], [0.49, 0.01, 0.5]])


def test_tennessee_instance_has_the_hand_counted_matrix():
    np.testing.assert_allclose(search.tennessee_instance().P, _tennessee_matrix(), atol=1e-12)
    assert majority._majority_order(_tennessee_matrix()).tolist() == [1, 2, 3, 0]


@pytest.mark.parametrize("estimator", ["mle", "weighted_mle"])
def test_tennessee_bt_ranks_memphis_above_knoxville(estimator):
    for inst in (sim.Instance.from_matrix(_tennessee_matrix()), search.tennessee_instance()):
        v = check("A4", estimator, instance=inst, rng=0)
        assert v.measured == VIOLATED and v.expected == VIOLATED and v.agrees is True
        assert v.witness["details"]["reversed_pair"] == [3, 0]  # Knoxville beats Memphis 58-42 ...
        order = v.witness["details"]["outcome"]["order"]
        assert order.index(0) < order.index(3)  # ... but Memphis is ranked above Knoxville
        assert v.witness["details"]["recheck"]["confirmed"] is True
        assert v.witness["details"]["recheck"]["margin"] == pytest.approx(v.magnitude, abs=1e-5)
        json.dumps(v.witness)


def test_tennessee_borda_scores_by_hand_explain_the_violation():
    # P4: the MLE order is the Borda order; Borda(M) = 0.5 + 3 * 0.42 > Borda(K) = 0.5 + 0.58 + 0.32 + 0.17
    B = _tennessee_matrix().sum(axis=1)
    np.testing.assert_allclose(B, [1.76, 2.44, 2.23, 1.57], atol=1e-12)


@pytest.mark.parametrize("rule", MAJORITY_RULES)
def test_tennessee_majority_rules_follow_the_majority_order(rule):
    v = check("A4", rule, instance=_tennessee_matrix(), rng=0)
    assert v.measured == HOLDS and v.agrees is True


@pytest.mark.parametrize("estimator", ["mle", "weighted_mle"])
def test_spec_a5_counterexample_for_the_mles(estimator):
    # weighted_mle on a matrix-only instance uses uniform weights (contract P7)
    v = check("A5", estimator, instance=_spec_a5_matrix(), rng=0)
    assert v.measured == VIOLATED and v.agrees is True
    assert v.witness["details"]["condorcet_winner"] == 0
    assert v.witness["details"]["outcome"]["order"][0] == 1  # b has Borda 1.98 > a's 1.52
    assert v.witness["details"]["recheck"]["confirmed"] is True and v.witness["details"]["recheck"]["margin"] > 0.1


def test_spec_a5_counterexample_with_explicit_uniform_weights_matches():
    from choicelab.estimators.registry import get_estimator

    P = _spec_a5_matrix()
    out = get_estimator("weighted_mle").fit(P, weights=np.full(3, 1 / 3))
    assert out.order[0] == 1
    assert out.weights.tolist() == search.fit_outcome("weighted_mle", sim.Instance.from_matrix(P)).weights.tolist()


@pytest.mark.parametrize("rule", MAJORITY_RULES + ["maximal_lottery"])
def test_spec_a5_counterexample_majority_rules_pass(rule):
    v = check("A5", rule, instance=_spec_a5_matrix(), rng=0)
    assert v.measured == HOLDS and v.agrees is True


def test_condorcet_winner_and_majority_order_against_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = int(rng.integers(2, 6))
        P = search._matrix_from_upper(m, rng.choice([0.2, 0.4, 0.5, 0.6, 0.8], size=m * (m - 1) // 2))
        beats = {(i, j) for i in range(m) for j in range(m) if P[i, j] > 0.5}
        cw = [c for c in range(m) if all((c, j) in beats for j in range(m) if j != c)]
        assert majority.condorcet_winner(P) == (cw[0] if cw else None)
        linear = None
        import itertools

        for perm in itertools.permutations(range(m)):
            if all((perm[a], perm[b]) in beats for a in range(m) for b in range(a + 1, m)):
                linear = list(perm)
        got = majority._majority_order(P)
        assert (got.tolist() if got is not None else None) == linear


def test_premise_failures_are_not_applicable():
    cycle = [[0.5, 0.6, 0.4], [0.4, 0.5, 0.6], [0.6, 0.4, 0.5]]
    for axiom in ("A4", "A5"):
        v = check(axiom, "mle", instance=cycle, rng=0)
        assert v.measured == "inconclusive" and v.agrees is None and v.data["applicable"] is False
    v = check("A3", "mle", instance=cycle, rng=0)
    assert v.data["applicable"] is False  # Pareto needs types


def test_raise_preference_and_its_validation():
    P = _spec_a5_matrix()
    Q = majority.raise_preference(P, 1, 0, 0.2)
    assert Q[1, 0] == pytest.approx(0.69) and Q[0, 1] == pytest.approx(0.31)
    assert np.array_equal(np.delete(np.delete(Q, [0, 1], 0), [0, 1], 1), np.delete(np.delete(P, [0, 1], 0), [0, 1], 1))
    with pytest.raises(ValueError, match="delta must lie in"):
        majority.raise_preference(P, 1, 2, 0.5)


def test_pareto_pairs_from_the_types():
    X = np.array([[0.0], [1.0], [2.0]])
    pop = sim.Population(
        [
            sim.AnnotatorType(0.5, sim.explicit_reward(X, [0.0, 1.0, 5.0])),
            sim.AnnotatorType(0.5, sim.explicit_reward(X, [0.0, 2.0, 1.0])),
        ]
    )
    inst = sim.Instance(sim.Alternatives(X), pop, sim.Box([-0.5], [2.5]))
    # both types prefer 1 and 2 to 0; they disagree on 1 vs 2
    assert sorted(map(tuple, majority._pareto_pairs(inst).tolist())) == [(1, 0), (2, 0)]
    for est in ("mle", "weighted_mle"):
        assert check("A3", est, instance=inst, rng=0).measured == HOLDS


@pytest.mark.parametrize("estimator", ["mle", "weighted_mle"])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_pareto_and_monotonicity_hold_on_random_worlds(estimator, seed):
    rng = np.random.default_rng(seed)
    inst = search.random_bt_instances(rng, 1, m_range=(3, 7), aligned=3.0)[0]
    a3 = check("A3", estimator, instance=inst, rng=rng)
    assert a3.measured == HOLDS or a3.data.get("applicable") is False
    assert check("A6", estimator, instance=inst, rng=rng, quick=True).measured == HOLDS


@pytest.mark.parametrize("rule", MAJORITY_RULES)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_majority_rules_hold_on_random_profiles(rule, seed):
    inst = search.random_profile_instances(np.random.default_rng(seed), 1, m_range=(3, 6))[0]
    for axiom in ("A4", "A5"):
        v = check(axiom, rule, instance=inst, rng=0)
        assert v.measured == HOLDS or v.data.get("applicable") is False


@pytest.mark.parametrize(
    "cell",
    [
        ("A3", "mle"),
        ("A6", "weighted_mle"),
        ("A4", "copeland"),
        ("A5", "kemeny"),
        ("A4", "mle"),
        ("A5", "weighted_mle"),
    ],
)
def test_searches_agree_with_theory(cell):
    axiom, est = cell
    v = check(axiom, est, rng=1, quick=True)
    assert v.agrees is True, v.detail


def test_a6_adversarial_search_runs_and_finds_no_violation_for_the_mle():
    run = majority._adversarial(
        "A6",
        "mle",
        majority._a6_instance,
        majority._a6_margin_factory("mle", True, np.random.default_rng(0)),
        "free",
        True,
    )
    meas = run(np.random.default_rng(0))
    assert meas.measured == HOLDS and meas.magnitude < 0


def test_a5_adversarial_search_finds_a_violation_for_the_mle():
    run = majority._adversarial("A5", "mle", majority._a5_instance, majority._a5_margin, "condorcet", True)
    meas = run(np.random.default_rng(0))
    assert meas.measured == VIOLATED and meas.witness["details"]["recheck"]["confirmed"] is True
    P = np.asarray(meas.witness["instance"]["P"])
    assert majority.condorcet_winner(P) == 0
