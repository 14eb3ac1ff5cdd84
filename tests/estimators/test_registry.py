"""The estimator registry: same numbers as the estimators called directly, uniform argument
handling, weights, data, orders and laziness."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from choicelab import sim
from choicelab.estimators import registry
from choicelab.estimators.bt import bt_mle, bt_mle_comparisons
from choicelab.estimators.registry import ORDER_TOL, get_estimator, list_estimators
from choicelab.estimators.weights import voronoi_weights

NAMES = [
    "mle",
    "weighted_mle",
    "neural_mle",
    "neural_weighted_mle",
    "pl_mle",
    "linear_mle",
    "borda",
    "wawr",
    "copeland",
    "schulze",
    "ranked_pairs",
    "kemeny",
    "maximal_lottery",
    "dpo",
]


def _bt_mixture(rng, m, T=2):
    u = rng.normal(size=(T, m)) * 2.0
    alpha = rng.dirichlet(np.ones(T))
    P = sum(a * expit(r[:, None] - r[None, :]) for a, r in zip(alpha, u))
    np.fill_diagonal(P, 0.5)
    return P


def _world(seed=0, m=6):
    rng = np.random.default_rng(seed)
    region = sim.Box([0.0, 0.0], [1.0, 1.0])
    alts = sim.uniform_alternatives(region, m, rng=rng)
    pop = sim.Population(
        [
            sim.AnnotatorType(0.6, sim.linear_reward([2.0, -1.0])),
            sim.AnnotatorType(0.4, sim.ideal_point_reward([0.3, 0.7])),
        ]
    )
    return sim.Instance(alts, pop, region)


def test_every_design_name_is_registered_with_valid_fields():
    builtin = [e for e in list_estimators() if e.source == "choicelab"]  # plugins a test loaded are not counted
    names = [e.name for e in builtin]
    assert sorted(names) == sorted(NAMES)
    for e in builtin:
        assert e.kind in ("reward", "rule") and e.needs in ("matrix", "positions", "comparisons")
        assert e.description and callable(e.fit)
    assert {e.name for e in builtin if e.kind == "rule"} == {
        "borda",
        "wawr",
        "copeland",
        "schulze",
        "ranked_pairs",
        "kemeny",
        "maximal_lottery",
    }


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown estimator 'mle2'.*weighted_mle"):
        get_estimator("mle2")


@pytest.mark.parametrize("seed", range(3))
def test_mle_matches_bt_mle_called_directly(seed):
    rng = np.random.default_rng(seed)
    P = _bt_mixture(rng, int(rng.integers(3, 12)))
    out = get_estimator("mle").fit(sim.Instance.from_matrix(P), lam=0.3)
    direct = bt_mle(P, lam=0.3)
    np.testing.assert_array_equal(out.scores, direct.rewards)
    assert out.kind == "reward" and out.converged and out.estimator == "mle" and out.weights is None
    assert out.raw.objective == direct.objective


def test_mle_on_a_raw_matrix_and_on_an_instance_agree():
    P = _bt_mixture(np.random.default_rng(5), 5)
    a = get_estimator("mle").fit(P)
    b = get_estimator("mle").fit(sim.Instance.from_matrix(P))
    np.testing.assert_array_equal(a.scores, b.scores)


def test_mle_on_comparisons_uses_the_count_objective():
    inst = _world(1)
    comps = inst.population.sample_comparisons(inst.X, 400, rng=3)
    out = get_estimator("mle").fit(inst, data=comps, lam=0.5)
    np.testing.assert_array_equal(out.scores, bt_mle_comparisons(comps, inst.m, lam=0.5).rewards)


def test_mle_closed_form_two_alternatives():
    # r = (x, -x): d/dx [ -P log s(2x) - (1-P) log s(-2x) + lam x^2 ] = 0
    from scipy.optimize import brentq

    p, lam = 0.8, 0.1
    root = brentq(lambda x: -2 * p * expit(-2 * x) + 2 * (1 - p) * expit(2 * x) + 2 * lam * x, -20, 20, xtol=1e-14)
    out = get_estimator("mle").fit([[0.5, p], [1 - p, 0.5]], lam=lam)
    np.testing.assert_allclose(out.scores, [root, -root], atol=1e-9)


def test_weighted_mle_computes_exact_voronoi_weights_of_the_instance():
    inst = _world(2)
    out = get_estimator("weighted_mle").fit(inst)
    w = voronoi_weights(inst.X, inst.region, method="exact")
    np.testing.assert_allclose(out.weights, w, rtol=0, atol=1e-15)
    np.testing.assert_allclose(out.scores, bt_mle(inst.P, weights=w).rewards, rtol=0, atol=1e-12)


def test_weighted_mle_recomputes_weights_on_enlarged_sets_and_exact_clones_split_cells():
    # 1-D box [0, 3] with points 0.5, 1.5, 2.5: cells of length 1, weights 1/3 each (hand computation)
    pop = sim.Population([sim.AnnotatorType(1.0, sim.linear_reward([1.0]))])
    alts = sim.Alternatives([[0.5], [1.5], [2.5]])
    inst = sim.Instance(alts, pop, sim.Box([0.0], [3.0]))
    out = get_estimator("weighted_mle").fit(inst)
    np.testing.assert_allclose(out.weights, [1 / 3] * 3, atol=1e-15)
    cloned = inst.with_alternatives(sim.add_exact_clones(alts, 1, 1))
    out2 = get_estimator("weighted_mle").fit(cloned)
    np.testing.assert_allclose(out2.weights, [1 / 3, 1 / 6, 1 / 3, 1 / 6], atol=1e-15)
    # P8: the tie-split weighted MLE does not move under exact clones
    np.testing.assert_allclose(out2.scores[:3], out.scores, atol=1e-8)
    assert out2.scores[3] == pytest.approx(out.scores[1], abs=1e-8)


def test_weighted_mle_given_weights_and_matrix_only_error():
    P = _bt_mixture(np.random.default_rng(1), 4)
    w = np.array([0.1, 0.2, 0.3, 0.4])
    out = get_estimator("weighted_mle").fit(P, weights=w, lam=0.2)
    np.testing.assert_array_equal(out.scores, bt_mle(P, weights=w, lam=0.2).rewards)
    with pytest.raises(ValueError, match="weighted_mle: .*matrix-only.*weights"):
        get_estimator("weighted_mle").fit(P)
    with pytest.raises(ValueError, match=r"weights must have shape \(4,\)"):
        get_estimator("weighted_mle").fit(P, weights=[0.5, 0.5])


def test_unweighted_estimators_refuse_weights():
    P = _bt_mixture(np.random.default_rng(1), 3)
    for name in ("mle", "borda", "copeland"):
        with pytest.raises(ValueError, match=f"{name} is unweighted"):
            get_estimator(name).fit(P, weights=np.full(3, 1 / 3))


def test_bad_arguments_raise_clear_errors():
    P = _bt_mixture(np.random.default_rng(1), 3)
    est = get_estimator("mle")
    with pytest.raises(TypeError, match="instance must be"):
        est.fit("not an instance")
    with pytest.raises(ValueError, match="lam must be finite and >= 0, got -1.0"):
        est.fit(P, lam=-1.0)
    with pytest.raises(TypeError, match="data must be None"):
        est.fit(P, data=np.zeros(3))
    with pytest.raises(TypeError, match="rng must be"):
        est.fit(P, rng="seed")
    with pytest.raises(TypeError, match="quick must be a bool"):
        est.fit(P, quick=1)
    with pytest.raises(ValueError, match=r"P\[0, 1\]"):
        est.fit([[0.5, 0.7], [0.7, 0.5]])
    with pytest.raises(TypeError, match="unexpected keyword argument 'method'"):
        get_estimator("borda").fit(P, method="x")


def test_borda_scores_are_row_sums_and_order_is_best_first():
    P = np.array([[0.5, 0.7, 0.9], [0.3, 0.5, 0.2], [0.1, 0.8, 0.5]])
    out = get_estimator("borda").fit(P)
    np.testing.assert_allclose(out.scores, [2.1, 1.0, 1.4])
    assert out.order.tolist() == [0, 2, 1] and out.winners == (0,) and out.kind == "rule" and out.converged


def test_rules_match_the_voting_module():
    from choicelab.estimators import voting

    P = _bt_mixture(np.random.default_rng(7), 5)
    for name in ("borda", "copeland", "schulze", "ranked_pairs", "kemeny", "maximal_lottery"):
        out = get_estimator(name).fit(P)
        res = getattr(voting, name)(P)
        np.testing.assert_array_equal(out.scores, res.scores)
        np.testing.assert_array_equal(out.order, res.order)
        assert out.winners == res.winners and out.raw.info["rule"] == name


def test_wawr_uses_voronoi_weights_by_default():
    inst = _world(4)
    out = get_estimator("wawr").fit(inst)
    w = voronoi_weights(inst.X, inst.region)
    np.testing.assert_allclose(out.scores, inst.P @ w, atol=1e-14)


def test_ties_resolved_by_index_at_the_stated_tolerance():
    out = get_estimator("mle").fit(np.full((4, 4), 0.5))
    assert out.order.tolist() == [0, 1, 2, 3] and out.winners == (0, 1, 2, 3)
    assert ORDER_TOL == out.order_tol == 1e-9


def test_rules_on_sampled_data_use_the_empirical_matrix():
    a = np.array([0, 0, 1, 2, 2])
    b = np.array([1, 1, 2, 0, 1])
    comps = sim.Comparisons(a, b, np.array([0, 1, 1, 2, 2]), np.full(5, -1))
    inst = sim.Instance.from_matrix(np.full((3, 3), 0.5))
    out = get_estimator("borda").fit(inst, data=comps)
    # P-hat: 0 vs 1: 1 of 2; 1 vs 2: 1 of 2; 2 vs 0: 2 beats 0 once of once
    np.testing.assert_allclose(out.scores, [0.5 + 0.5 + 0.0, 0.5 + 0.5 + 0.5, 1.0 + 0.5 + 0.5])
    missing = sim.Comparisons(np.array([0]), np.array([1]), np.array([0]), np.array([-1]))
    with pytest.raises(ValueError, match="never compare alternatives 0 and 2"):
        get_estimator("copeland").fit(inst, data=missing)


def test_pl_mle_on_pairwise_data_is_the_bt_mle_on_counts():
    # pl_mle's docstring: length-2 rankings give the Bradley-Terry MLE on win counts
    inst = _world(5, m=4)
    comps = inst.population.sample_comparisons(inst.X, 300, rng=1)
    out = get_estimator("pl_mle").fit(inst, data=comps, lam=0.4)
    np.testing.assert_allclose(out.scores, bt_mle_comparisons(comps, inst.m, lam=0.4).rewards, atol=1e-7)


def test_pl_mle_samples_rankings_from_the_population_deterministically():
    inst = _world(6, m=4)
    a = get_estimator("pl_mle").fit(inst, rng=3, quick=True)
    b = get_estimator("pl_mle").fit(inst, rng=3, quick=True)
    np.testing.assert_array_equal(a.scores, b.scores)
    with pytest.raises(ValueError, match="Plackett-Luce needs rankings"):
        get_estimator("pl_mle").fit(sim.Instance.from_matrix(inst.P))


def test_registry_import_and_exact_fits_load_neither_torch_nor_cvxpy():
    code = (
        "import sys, numpy as np\n"
        "from choicelab.estimators.registry import get_estimator\n"
        "P = np.array([[0.5, 0.7], [0.3, 0.5]])\n"
        "for n in ('mle', 'borda', 'kemeny', 'maximal_lottery'): get_estimator(n).fit(P)\n"
        "get_estimator('weighted_mle').fit(P, weights=[0.5, 0.5])\n"
        "print('torch' in sys.modules, 'cvxpy' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "False"]


def test_neural_mle_quick_is_seeded_and_one_hot_on_matrix_only_instances():
    P = np.array([[0.5, 0.9, 0.95], [0.1, 0.5, 0.8], [0.05, 0.2, 0.5]])
    est = get_estimator("neural_mle")
    a = est.fit(P, rng=7, quick=True, steps=30, lr=0.05, batch_size=None)
    b = est.fit(P, rng=7, quick=True, steps=30, lr=0.05, batch_size=None)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.raw.X_train.tolist() == np.eye(3).tolist()
    assert len(a.raw.seed_ids) == registry.QUICK_NEURAL["seeds"] and a.raw.loss_curves.shape[1] == 30
    assert a.converged and a.scores[0] > a.scores[2]  # 30 full-batch Adam steps at lr 0.05 order the clear winner


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), m=st.integers(2, 9))
def test_mle_order_is_the_borda_order(seed, m):
    # P4: the order of the regularized MLE is the Borda order (independent: row sums)
    P = _bt_mixture(np.random.default_rng(seed), m)
    out = get_estimator("mle").fit(P)
    B = P.sum(axis=1)
    gaps = np.abs(B[:, None] - B[None, :]) + np.eye(m)
    if gaps.min() > 1e-6:
        assert out.order.tolist() == np.argsort(-B).tolist()


def test_linear_mle_matches_the_direct_call_and_needs_positions():
    from choicelab.estimators.linear import linear_mle

    inst = _world(8, m=5)
    out = get_estimator("linear_mle").fit(inst, lam=0.2)
    direct = linear_mle(inst.X, inst.P, lam=0.2)
    np.testing.assert_array_equal(out.scores, direct.rewards)
    np.testing.assert_allclose(out.scores, inst.X @ direct.theta, atol=1e-14)
    assert out.converged and out.kind == "reward"
    with pytest.raises(ValueError, match="linear_mle: .*needs positions"):
        get_estimator("linear_mle").fit(sim.Instance.from_matrix(inst.P))
