"""Instance search: generators plant what they promise, exhaustive enumerations have the right
size, the brute-force re-checks agree with the fast estimators, the driver and adversary work."""

import itertools
import json
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from choicelab import sim
from choicelab.axioms import fitting, majority, search
from choicelab.axioms.base import HOLDS, INCONCLUSIVE, VIOLATED, Measurement
from choicelab.axioms.brute_force import DPO_BETA
from choicelab.estimators.linear import linear_mle
from choicelab.estimators.registry import get_estimator

RULES = ["borda", "copeland", "schulze", "ranked_pairs", "kemeny", "maximal_lottery"]


def _random_matrix(rng, m, grid=False):
    k = m * (m - 1) // 2
    upper = rng.choice([0.1, 0.3, 0.5, 0.7, 0.9], size=k) if grid else rng.uniform(0.02, 0.98, size=k)
    return search._matrix_from_upper(m, upper)


# ----------------------------------------------------------------------------- generators
def test_planted_condorcet_instances_have_a_condorcet_winner_that_borda_misses():
    for inst in search.planted_condorcet_instances(np.random.default_rng(0), 15):
        P = inst.P
        m = P.shape[0]
        winners = [c for c in range(m) if all(P[c, j] > 0.5 for j in range(m) if j != c)]
        assert len(winners) == 1
        assert np.argmax(P.sum(axis=1)) != winners[0]


def test_planted_linear_majority_instances_have_a_linear_majority_that_borda_contradicts():
    for inst in search.planted_linear_majority_instances(np.random.default_rng(1), 15):
        P = inst.P
        m = P.shape[0]
        wins = (P > 0.5).sum(axis=1)
        assert sorted(wins.tolist()) == list(range(m))  # a tournament with distinct scores is transitive
        maj = np.argsort(-wins)
        borda = np.argsort(-P.sum(axis=1), kind="stable")
        assert maj.tolist() != borda.tolist()


def test_exhaustive_matrix_count():
    values = np.round(np.arange(0.05, 1.0, 0.1), 10)
    strengths = [round(max(v, 1 - v), 12) for v in values]
    expected = sum(1 for t in itertools.product(strengths, repeat=3) if len(set(t)) == 3)
    assert len(search.exhaustive_matrices()) == expected == 10 * 8 * 6
    assert len(search.exhaustive_matrices((0.2, 0.5, 0.8), distinct_strengths=False)) == 27


def test_exhaustive_profiles_are_all_multisets_and_give_vote_shares():
    profiles = search.exhaustive_profiles(3)
    assert len(profiles) == comb(3 + 5, 5)  # multisets of 3 of the 6 rankings of 3 alternatives
    mats = {tuple(np.round(p.P, 9).ravel()) for p in profiles}
    assert len(mats) > 1
    for p in profiles:
        off = ~np.eye(3, dtype=bool)
        assert np.all(np.isclose(p.P[off] * 3, np.round(p.P[off] * 3)))  # shares of 3 voters


def test_profile_instance_matrix_by_hand():
    inst = search.profile_instance([[2, 0, 1], [0, 1, 2]], [0.25, 0.75])
    expected = np.array([[0.5, 1.0, 0.75], [0.0, 0.5, 0.75], [0.25, 0.25, 0.5]])
    np.testing.assert_allclose(inst.P, expected, atol=1e-12)
    with pytest.raises(ValueError, match="permutations"):
        search.profile_instance([[0, 0, 1]], [1.0])


def test_random_generators_are_deterministic():
    a = search.random_bt_instances(np.random.default_rng(9), 3)
    b = search.random_bt_instances(np.random.default_rng(9), 3)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.P, y.P)
    c = search.random_profile_instances(7, 2)
    d = search.random_profile_instances(7, 2)
    for x, y in zip(c, d):
        np.testing.assert_array_equal(x.P, y.P)


def test_topic_cluster_instance_lies_in_the_box():
    inst = search.topic_cluster_instance(np.random.default_rng(0), per_topic=4)
    assert inst.m == 12 and np.all(inst.region.contains(inst.X)) and inst.population.T == 3


def test_clone_instance_with_positions_matches_clone_matrix():
    inst = search.random_bt_instances(np.random.default_rng(2), 1, m_range=(4, 4))[0]
    cloned = search.clone_instance(inst, 2, 2)
    np.testing.assert_allclose(cloned.P, search.clone_matrix(inst.P, 2, 2), atol=1e-15)
    assert cloned.alternatives.clone_of.tolist() == [-1, -1, -1, -1, 2, 2]


# ----------------------------------------------------------------------------- brute force
@pytest.mark.parametrize("estimator", ["mle", "weighted_mle"])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), m=st.integers(2, 8))
def test_brute_force_bt_agrees_with_newton(estimator, seed, m):
    rng = np.random.default_rng(seed)
    P = _random_matrix(rng, m)
    w = rng.dirichlet(np.ones(m)) if estimator == "weighted_mle" else None
    fast = get_estimator(estimator).fit(P, weights=w)
    brute = search.brute_outcome(estimator, P, w)
    assert brute.converged
    np.testing.assert_allclose(brute.scores, fast.scores, atol=1e-6)


def test_brute_force_bt_handles_zero_weights_like_bt_mle():
    rng = np.random.default_rng(4)
    P = _random_matrix(rng, 5)
    w = np.array([0.3, 0.0, 0.3, 0.4, 0.0])
    fast = get_estimator("weighted_mle").fit(P, weights=w)
    np.testing.assert_allclose(search.brute_outcome("weighted_mle", P, w).scores, fast.scores, atol=1e-6)


@pytest.mark.parametrize("rule", RULES)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), m=st.integers(2, 6), grid=st.booleans())
def test_brute_force_rules_agree_with_the_voting_module(rule, seed, m, grid):
    P = _random_matrix(np.random.default_rng(seed), m, grid)
    fast = get_estimator(rule).fit(P)
    brute = search.brute_outcome(rule, P)
    if rule != "maximal_lottery" or not grid:  # grid matrices can have many maximal lotteries
        assert set(brute.winners) == set(fast.winners)
    if rule == "maximal_lottery":
        # several maximal lotteries may exist on grid matrices; each must be unbeaten in expectation
        M = P - P.T
        assert np.min(M.T @ brute.scores) >= -1e-7 and np.min(M.T @ fast.scores) >= -1e-7
        if not grid:
            np.testing.assert_allclose(brute.scores, fast.scores, atol=1e-6)
    else:
        np.testing.assert_allclose(brute.scores, fast.scores, atol=1e-9)
        if rule != "borda" or not grid:
            assert brute.order.tolist() == fast.order.tolist()


def test_brute_force_is_unavailable_for_unknown_estimators_and_large_enumerations():
    with pytest.raises(search.BruteForceUnavailable):
        search.brute_outcome("no_such_estimator", np.full((3, 3), 0.5))
    with pytest.raises(search.BruteForceUnavailable, match="m <= 8"):
        search.brute_outcome("kemeny", np.full((9, 9), 0.5))
    with pytest.raises(search.BruteForceUnavailable, match="positions"):
        search.brute_outcome("linear_mle", np.full((3, 3), 0.5))
    check = search.recheck("no_such_estimator", [np.full((3, 3), 0.5)], None, lambda o: (True, 1.0))
    assert check["confirmed"] is None and check["method"] is None


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), m=st.integers(2, 6))
def test_brute_force_linear_mle_matches_the_newton_solver(seed, m):
    rng = np.random.default_rng(seed)
    P = _random_matrix(rng, m, False)
    X = rng.normal(size=(m, 3))
    fit = linear_mle(X, P, lam=0.1)
    brute = search.brute_outcome("linear_mle", P, positions=X, lam=0.1)
    assert fit.converged and brute.converged
    np.testing.assert_allclose(brute.scores, fit.rewards, atol=1e-7)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), m=st.integers(2, 5))
def test_brute_force_dpo_is_eq1_without_regularisation_in_dpo_gauge(seed, m):
    pytest.importorskip("torch")
    P = _random_matrix(np.random.default_rng(seed), m, False)
    P = np.clip(P, 0.05, 0.95)  # no unanimous pair: the unregularised optimum is finite
    P = P / (P + P.T)
    np.fill_diagonal(P, 0.5)
    fast = get_estimator("dpo").fit(P, steps=40000)
    brute = search.brute_outcome("dpo", P)
    assert fast.converged and brute.converged
    np.testing.assert_allclose(brute.scores, fast.scores, atol=2e-5)
    # the DPO gauge: the policy exp(r / beta) / m sums to one
    assert np.exp(brute.scores / DPO_BETA).mean() == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), m=st.integers(2, 6))
def test_pl_mle_on_the_representative_pairs_is_bt_on_the_win_counts(seed, m):
    P = _random_matrix(np.random.default_rng(seed), m, False)
    inst = sim.Instance.from_matrix(P)
    data = fitting.representative_data("pl_mle", inst)
    fast = get_estimator("pl_mle").fit(inst, data=data)
    C = fitting.representative_matrix("pl_mle", P)
    assert np.array_equal(C, np.where(np.eye(m, dtype=bool), 0.0, np.rint(fitting.PAIRWISE_COUNTS * P)))
    brute = search.brute_outcome("pl_mle", C)
    np.testing.assert_allclose(brute.scores, fast.scores, atol=1e-6)
    # and the neural MLEs' reference is the exact MLE of the same objective
    np.testing.assert_array_equal(search.brute_outcome("neural_mle", P).scores, search.brute_outcome("mle", P).scores)


def test_unconfirmed_violations_are_not_reported():
    inst = sim.Instance.from_matrix(np.full((3, 3), 0.5))
    check = {"method": "brute", "confirmed": False, "margin": -1.0}
    meas = search.violation("A5", "mle", inst, 0, True, 0.5, "A5: something", check)
    assert meas.measured == INCONCLUSIVE and meas.witness is None and "did not reproduce" in meas.detail
    check = {"method": "brute", "confirmed": True, "margin": 0.4}
    meas = search.violation("A5", "mle", inst, 0, True, 0.5, "A5: something", check)
    assert meas.measured == VIOLATED and meas.witness["details"]["recheck"] == check


# ----------------------------------------------------------------------------- adversarial and driver
def test_adversarial_search_keeps_the_premise_and_finds_the_a5_violation():
    seen = []

    def margin(P):
        seen.append(P)
        out = get_estimator("mle").fit(P)
        return float(np.delete(out.scores, 0).max() - out.scores[0])

    P, value = search.adversarial_matrix_search(
        margin, 3, np.random.default_rng(0), mode="condorcet", restarts=3, maxiter=200
    )
    assert all(majority.condorcet_winner(Q) == 0 for Q in seen)
    assert value > 0 and majority.condorcet_winner(P) == 0
    brute = search.brute_outcome("mle", P)
    assert np.argmax(brute.scores) != 0


def test_adversarial_linear_mode_keeps_the_majority_order():
    seen = []

    def margin(P):
        seen.append(majority._majority_order(P).tolist())
        return -1.0

    search.adversarial_matrix_search(margin, 4, 0, mode="linear", restarts=1, maxiter=20)
    assert all(order == [0, 1, 2, 3] for order in seen)
    with pytest.raises(ValueError, match="mode must be"):
        search.adversarial_matrix_search(margin, 3, 0, mode="other")


def test_run_search_stops_at_the_first_violation_and_skips_failed_premises():
    insts = [sim.Instance.from_matrix(np.full((2, 2), 0.5)) for _ in range(5)]
    outcomes = iter(
        [
            search.not_applicable("A9", "no"),
            Measurement(HOLDS, 0.1),
            Measurement(VIOLATED, 2.0, witness={"x": 1}, detail="bad"),
            Measurement(HOLDS),
        ]
    )
    calls = []

    def check_instance(est, inst, rng, quick, seed=None):
        calls.append(seed)
        return next(outcomes)

    meas = search.run_search("A9", "mle", [search.SearchSource("s", insts)], check_instance, 0, True)
    assert meas.measured == VIOLATED and len(calls) == 3 and meas.data["found_in"] == "s"
    assert meas.data["outcomes"] == {HOLDS: 1, VIOLATED: 1, INCONCLUSIVE: 0}

    all_skipped = search.run_search(
        "A9", "mle", [search.SearchSource("s", insts[:2])], lambda *a, **k: search.not_applicable("A9", "no"), 0, True
    )
    assert all_skipped.measured == INCONCLUSIVE and "premise failed" in all_skipped.detail


def test_cell_seeds_are_independent_of_other_cells_and_reproducible():
    a = search.cell_seed(0, "A1", "mle").integers(1 << 30, size=3)
    b = search.cell_seed(0, "A1", "mle").integers(1 << 30, size=3)
    c = search.cell_seed(0, "A1", "weighted_mle").integers(1 << 30, size=3)
    d = search.cell_seed(1, "A1", "mle").integers(1 << 30, size=3)
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist() and a.tolist() != d.tolist()


def test_jsonable_and_witness():
    data = {"a": np.arange(3), "b": np.float64(np.nan), "c": (np.int64(2), np.bool_(True)), "d": np.str_("x")}
    assert search.jsonable(data) == {"a": [0, 1, 2], "b": None, "c": [2, True], "d": "x"}
    inst = search.tennessee_instance()
    w = search.make_witness("A4", "mle", inst, 5, True, extra=np.array([1.5]))
    assert json.loads(json.dumps(w))["details"]["extra"] == [1.5]
    assert sim.Instance.from_dict(w["instance"]).P.tolist() == inst.P.tolist()


def test_estimators_that_cannot_run_on_an_instance_are_skipped_not_errors():
    P = np.full((3, 3), 0.5)
    assert "matrix-only" in search.applicability("linear_mle", sim.Instance.from_matrix(P))
    assert search.applicability("pl_mle", search.tennessee_instance()).startswith("pl_mle has no tie model")
    assert search.applicability("mle", sim.Instance.from_matrix(P)) is None
    with pytest.raises(search.EstimatorNotApplicable):
        search.fit_outcome("pl_mle", sim.Instance.from_matrix(P))
    from choicelab.axioms.api import check

    v = check("A5", "pl_mle", instance=P, rng=0)
    assert v.measured == INCONCLUSIVE and v.data["applicable"] is False
