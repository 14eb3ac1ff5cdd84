"""T1, P4-P8: known answers from independent computations, planted violations, the checks."""

import numpy as np
import pytest
from scipy.special import expit

from choicelab.axioms import generators
from choicelab.axioms import theorems as thm
from choicelab.axioms.base import HOLDS, VIOLATED


def _patched_estimator(monkeypatch, name, fit):
    """Replace a registry entry's fit for one test (every theorem check fits through the registry)."""
    import dataclasses

    from choicelab.estimators import registry

    real = registry.get_estimator(name)
    monkeypatch.setitem(registry._ESTIMATORS, name, dataclasses.replace(real, fit=fit))
    return real


def _sig(x):
    return expit(x)


# --------------------------------------------------------------------------------------- T1


@pytest.mark.parametrize("p", [0.02, 0.3, 0.5, 0.7, 0.97])
@pytest.mark.parametrize("bound", [0.5, 50.0, 1e5])
def test_impossibility_pair_equal_data_far_gaps_numpy(p, bound):
    pair = thm.impossibility_pair(bound, p)
    # P_01 of each population recomputed from its types (plain BT mixture)
    pa = float(np.sum(pair.shares_a * _sig(pair.rewards_a[:, 0] - pair.rewards_a[:, 1])))
    pb = float(np.sum(pair.shares_b * _sig(pair.rewards_b[:, 0] - pair.rewards_b[:, 1])))
    assert pa == pytest.approx(p, abs=1e-12)
    assert pb == pytest.approx(p, abs=1e-12)
    gap_a = float(np.sum(pair.shares_a * (pair.rewards_a[:, 0] - pair.rewards_a[:, 1])))
    gap_b = float(np.sum(pair.shares_b * (pair.rewards_b[:, 0] - pair.rewards_b[:, 1])))
    assert abs(gap_a - gap_b) > bound
    # T > 1: both populations have two distinct types with positive shares summing to 1
    for shares, rewards in ((pair.shares_a, pair.rewards_a), (pair.shares_b, pair.rewards_b)):
        assert len(shares) == 2 and np.all(shares > 0) and shares.sum() == pytest.approx(1.0)
        assert not np.allclose(rewards[0], rewards[1])


def test_impossibility_pair_rejects_bad_arguments():
    with pytest.raises(ValueError, match="p must"):
        thm.impossibility_pair(1.0, p=1.0)
    with pytest.raises(ValueError, match="bound"):
        thm.impossibility_pair(-1.0)


def test_t1_check_holds_and_witness_is_json():
    import json

    meas = thm._check_t1("mle", None, np.random.default_rng(0), quick=True)
    assert meas.measured == HOLDS
    assert meas.magnitude <= 1e-12
    json.dumps(meas.witness)
    pair = meas.witness["details"]["pair"]
    a, b = pair["population_a"], pair["population_b"]
    assert abs(a["average_gap"] - b["average_gap"]) > pair["bound"]
    # the registry's MLE sees one matrix for both populations, so it misses one average gap
    assert all(row["worst_error"] > row["bound"] / 2 for row in meas.data["pairs"])


def test_impossibility_pair_through_the_population_api():
    from choicelab import sim

    X = np.array([[0.0], [1.0]])
    for p, bound in ((0.5, 10.0), (0.2, 1e3), (0.85, 1e4)):
        pair = thm.impossibility_pair(bound, p)
        mats, gaps = [], []
        for shares, rewards in ((pair.shares_a, pair.rewards_a), (pair.shares_b, pair.rewards_b)):
            types = [sim.AnnotatorType(float(s), sim.explicit_reward(X, r)) for s, r in zip(shares, rewards)]
            pop = sim.Population(types, choice="bt", beta=1.0)
            assert pop.T == 2
            mats.append(pop.preference_matrix(X))
            R = pop.rewards(X)  # (T, 2)
            gaps.append(float(pop.shares @ (R[:, 0] - R[:, 1])))
        np.testing.assert_allclose(mats[0], mats[1], atol=1e-12, rtol=0)
        assert mats[0][0, 1] == pytest.approx(p, abs=1e-12)
        assert abs(gaps[0] - gaps[1]) > bound


# --------------------------------------------------------------------------------------- reference solver


def _newton_eq2(P, w=None, lam=0.1, tol=1e-13):
    """Plain dense Newton on contract Eq. 2 (w = 1 gives Eq. 1), independent of choicelab's solver."""
    P = np.asarray(P, dtype=float)
    m = P.shape[0]
    w = np.ones(m) if w is None else np.asarray(w, dtype=float)
    W = np.outer(w, w)
    np.fill_diagonal(W, 0.0)
    r = np.zeros(m)
    for _ in range(200):
        sig = expit(r[:, None] - r[None, :])
        # d/dr_i of -P_ij log s(r_i - r_j) - P_ji log s(r_j - r_i) = (P_ij + P_ji) s(r_i - r_j) - P_ij
        g = (W * ((P + P.T) * sig - P)).sum(axis=1) + lam * w * r
        if np.linalg.norm(g) < tol:
            return r
        c = W * (P + P.T) * sig * (1 - sig)
        H = -c
        H[np.diag_indices(m)] = c.sum(axis=1) + lam * w
        r = r - np.linalg.solve(H, g)
    raise AssertionError("reference Newton did not converge")


def _random_P(m, rng, T=3):
    R = rng.normal(0, 2, size=(T, m))
    a = rng.dirichlet(np.ones(T))
    P = sum(a[t] * expit(R[t][:, None] - R[t][None, :]) for t in range(T))
    P = (P + 1.0 - P.T) / 2.0  # exact P_ij + P_ji = 1 and P_ii = 1/2 despite rounding in the shares
    return P


def _matrix_instance(P):
    from choicelab import sim

    return sim.Instance.from_matrix(P)


def _positional_instance(m, d, seed):
    from choicelab import sim

    rng = np.random.default_rng(seed)
    region = sim.Box(np.zeros(d), np.ones(d))
    alts = sim.uniform_alternatives(region, m, rng=rng)
    return sim.Instance(alts, generators.random_population(d, rng), region)


def test_reference_newton_matches_a_hand_solution():
    # m = 2, w = 1: the gradient condition is s(d) - P_01 + lam r_0 = 0 with r_1 = -r_0, d = 2 r_0
    P = np.array([[0.5, 0.8], [0.2, 0.5]])
    r = _newton_eq2(P, lam=0.3)
    assert r[0] == pytest.approx(-r[1], abs=1e-14)
    assert expit(2 * r[0]) - 0.8 + 0.3 * r[0] == pytest.approx(0.0, abs=1e-12)


# --------------------------------------------------------------------------------------- P4, P5


@pytest.mark.parametrize("seed", range(4))
def test_p4_borda_identity_computed_in_the_test(seed):
    from choicelab.estimators import bt_mle

    rng = np.random.default_rng(seed)
    m = int(rng.integers(3, 15))
    P = _random_P(m, rng)
    lam = 0.1
    r = bt_mle(P, lam=lam, tol=1e-12).rewards
    np.testing.assert_allclose(r, _newton_eq2(P, lam=lam), atol=1e-9)
    borda = P.sum(axis=1)  # self-term 1/2 included
    lhs = expit(r[:, None] - r[None, :]).sum(axis=1) + lam * r
    assert np.max(np.abs(lhs - borda)) < 1e-8
    assert abs(r.sum()) < 1e-8
    assert list(np.argsort(-r)) == list(np.argsort(-borda))
    # the module's residual function is the same quantity
    np.testing.assert_allclose(thm.borda_identity_residual(P, r, lam), lhs - borda, atol=1e-13)


@pytest.mark.parametrize("seed", range(4))
def test_p5_wawr_identity_computed_in_the_test(seed):
    from choicelab.estimators import bt_mle, voronoi_weights

    inst = _positional_instance(int(3 + seed * 3), 2, seed)
    P = np.asarray(inst.P)
    lam = 0.1
    for w in (voronoi_weights(inst.X, inst.region), np.random.default_rng(seed).dirichlet(np.ones(inst.m))):
        r = bt_mle(P, weights=w, lam=lam, tol=1e-12).rewards
        np.testing.assert_allclose(r, _newton_eq2(P, w, lam), atol=1e-9)
        wawr = P @ w
        lhs = expit(r[:, None] - r[None, :]) @ w + lam * r
        assert np.max(np.abs(lhs - wawr)) < 1e-8
        assert abs(w @ r) < 1e-10
        assert list(np.argsort(-r)) == list(np.argsort(-wawr))


def test_p4_p5_checks_hold_on_random_instances():
    rng = np.random.default_rng(11)
    for check, est in ((thm._check_p4, "mle"), (thm._check_p5, "weighted_mle")):
        meas = check(est, None, rng, quick=True)
        assert meas.measured == HOLDS, meas.detail
        assert meas.magnitude < 1e-8
        assert len(meas.data["instances"]) >= 3


def test_p4_check_on_a_given_matrix_instance():
    P = _random_P(6, np.random.default_rng(2))
    meas = thm._check_p4("mle", _matrix_instance(P), np.random.default_rng(0))
    assert meas.measured == HOLDS and len(meas.data["instances"]) == 1


def test_borda_measure_flags_a_perturbed_reward_vector():
    P = _random_P(5, np.random.default_rng(4))
    r = _newton_eq2(P, lam=thm.LAM)
    assert thm._borda_measure(P, r, thm.LAM, None)["ok"]
    bad = r.copy()
    bad[2] += 1e-4
    meas = thm._borda_measure(P, bad, thm.LAM, None)
    assert not meas["ok"] and meas["residual"] > 1e-6
    # swapping two rewards keeps the sum but breaks the order (and the identity)
    order = np.argsort(-P.sum(axis=1))
    swapped = r.copy()
    swapped[[order[0], order[-1]]] = swapped[[order[-1], order[0]]]
    assert thm._borda_measure(P, swapped, thm.LAM, None)["order_violations"]


def test_p4_check_reports_a_planted_wrong_solver(monkeypatch):
    import json

    from choicelab.estimators import registry

    def wrong(instance, **kw):
        out = real.fit(instance, **kw)
        r = out.scores.copy()
        r[0] += 0.01  # off the optimum
        return registry._reward_output("mle", r, out.raw, True)

    real = _patched_estimator(monkeypatch, "mle", wrong)
    meas = thm._check_p4("mle", None, np.random.default_rng(1), quick=True)
    assert meas.measured == VIOLATED
    assert meas.magnitude > 1e-4
    json.dumps(meas.witness)
    from choicelab import sim

    inst = sim.Instance.from_dict(meas.witness["instance"])
    assert inst.m == len(meas.witness["details"]["rewards"])
    # replay runs the same (wrong) registry fit and reproduces the violation
    from choicelab.axioms import replay

    again = replay(json.loads(json.dumps(meas.witness)))
    assert again.measured == VIOLATED and again.magnitude == meas.magnitude


def test_checks_refuse_other_estimators():
    for check in (thm._check_p5, thm._check_p6, thm._check_p7, thm._check_p8):
        assert check("mle", None, np.random.default_rng(0), quick=True).measured == "inconclusive"
    assert thm._check_p4("weighted_mle", None, np.random.default_rng(0), quick=True).measured == "inconclusive"


# --------------------------------------------------------------------------------------- P6


def _brute_grid(X, lo, hi, n):
    """Cell centres of an n^d grid over [lo, hi]^d and the index of the nearest row of X (brute force)."""
    d = X.shape[1]
    ticks = [lo + (hi - lo) * (np.arange(n) + 0.5) / n for _ in range(d)]
    Z = np.array(np.meshgrid(*ticks, indexing="ij")).reshape(d, -1).T
    dist = ((Z[:, None, :] - X[None, :, :]) ** 2).sum(axis=2)
    return Z, np.argmin(dist, axis=1)


@pytest.mark.parametrize("d,n,seed", [(1, 60, 0), (2, 9, 1), (2, 11, 2)])
def test_p6_against_a_brute_force_grid(d, n, seed):
    from choicelab.estimators import bt_mle

    inst = _positional_instance(4, d, seed)
    X, P = inst.X, np.asarray(inst.P)
    Z, near = _brute_grid(X, 0.0, 1.0, n)
    G = Z.shape[0]
    frac = np.bincount(near, minlength=inst.m) / G
    assert np.all(frac > 0)
    lam = 0.1
    # the S-space problem on the grid: every point has measure 1/G and its nearest alternative's preferences
    Q = P[np.ix_(near, near)]
    s = _newton_eq2(Q, np.full(G, 1.0 / G), lam)
    r = _newton_eq2(P, frac, lam)
    for i in range(inst.m):
        assert np.ptp(s[near == i]) < 1e-9  # constant on the Voronoi cell
    np.testing.assert_allclose(s, r[near], atol=1e-9)  # equal to r^w on M with the grid's weights
    # lambda mapping: the same grid problem in standard form has lam_std = G lam
    np.testing.assert_allclose(_newton_eq2(Q, None, G * lam), s, atol=1e-9)
    # the module's grid agrees with the brute-force one, and choicelab's solver with the reference
    grid = thm.s_space_grid(X, inst.region, n)
    np.testing.assert_array_equal(grid.nearest, near)
    np.testing.assert_allclose(grid.weights, frac)
    np.testing.assert_allclose(bt_mle(Q, lam=G * lam, tol=1e-12).rewards, s, atol=1e-8)


def test_s_space_grid_weights_converge_to_exact_voronoi_weights_in_1d():
    from choicelab import sim

    X = np.array([[0.1], [0.35], [0.9]])
    grid = thm.s_space_grid(X, sim.Box([0.0], [1.0]), 1000)
    # interval midpoints: cells [0, .225], [.225, .625], [.625, 1]
    np.testing.assert_allclose(grid.weights, [0.225, 0.4, 0.375], atol=1e-3)


def test_s_space_grid_splits_exact_duplicates_evenly():
    from choicelab import sim

    X = np.array([[0.2, 0.2], [0.8, 0.8], [0.2, 0.2]])
    grid = thm.s_space_grid(X, sim.Box([0, 0], [1, 1]), 20)
    assert grid.weights[0] == pytest.approx(grid.weights[2], abs=1.0 / 400)
    assert grid.weights.sum() == pytest.approx(1.0)


def test_p6_check_holds_and_detects_a_wrong_lambda_mapping(monkeypatch):
    rng = np.random.default_rng(7)
    meas = thm._check_p6("weighted_mle", None, rng, quick=True)
    assert meas.measured == HOLDS, meas.detail
    assert meas.magnitude < 1e-7
    # planted: solve the grid problem with lam_std = lam instead of G lam
    # the S-space side is the registry's standard MLE: make it ignore lam_std = G lam
    real = _patched_estimator(
        monkeypatch,
        "mle",
        lambda instance, lam=thm.LAM, **kw: real.fit(instance, lam=thm.LAM if lam > thm.LAM else lam, **kw),
    )
    bad = thm._check_p6("weighted_mle", None, np.random.default_rng(7), quick=True)
    assert bad.measured == VIOLATED and bad.magnitude > 1e-3


# --------------------------------------------------------------------------------------- P7


@pytest.mark.parametrize("seed", range(3))
def test_p7_uniform_weights_equal_standard_mle_with_m_lam(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(3, 10))
    P = _random_P(m, rng)
    lam = 0.1
    rw = _newton_eq2(P, np.full(m, 1.0 / m), lam)
    np.testing.assert_allclose(rw, _newton_eq2(P, None, m * lam), atol=1e-10)
    # the literal lam_std = lam is a different problem (so the test above can fail)
    assert np.max(np.abs(rw - _newton_eq2(P, None, lam))) > 1e-3


def test_p7_check_holds():
    meas = thm._check_p7("weighted_mle", None, np.random.default_rng(3), quick=True)
    assert meas.measured == HOLDS and meas.magnitude < 1e-7
    assert all(row["difference_lam"] > 1e-4 for row in meas.data["instances"])


# --------------------------------------------------------------------------------------- P8


def test_p8_clone_invariance_with_reference_solver():
    rng = np.random.default_rng(8)
    P = _random_P(5, rng)
    w = rng.dirichlet(np.ones(5))
    r = _newton_eq2(P, w, 0.1)
    k, count = 3, 2
    idx = [0, 1, 2, 3, 4, 3, 3]
    Pc = P[np.ix_(idx, idx)]
    assert np.all(Pc[np.ix_([3, 5, 6], [3, 5, 6])] == 0.5)
    for split in ([0.2, 0.3, 0.5], [0.98, 0.01, 0.01]):
        wc = np.concatenate([w, np.zeros(count)])
        wc[[k, 5, 6]] = w[k] * np.array(split)
        np.testing.assert_allclose(_newton_eq2(Pc, wc, 0.1), np.concatenate([r, [r[k], r[k]]]), atol=1e-10)
    np.testing.assert_allclose(generators.clone_matrix(P, k, count), Pc)


def test_p8_check_holds_and_detects_a_broken_clone(monkeypatch):
    meas = thm._check_p8("weighted_mle", None, np.random.default_rng(9), quick=True)
    assert meas.measured == HOLDS and meas.magnitude < 1e-7
    real = generators.clone_matrix

    def not_a_clone(P, index, count):
        Pc = real(P, index, count).copy()
        Pc[-1, 0], Pc[0, -1] = 0.95, 0.05  # the "clone" now differs from its original against x_0
        return Pc

    monkeypatch.setattr(thm, "clone_matrix", not_a_clone)
    bad = thm._check_p8("weighted_mle", None, np.random.default_rng(9), quick=True)
    assert bad.measured == VIOLATED and bad.witness is not None


# ------------------------------------------------------------------------------- properties, determinism, errors

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.floats(1e-4, 1 - 1e-4), st.floats(0.0, 1e4))
def test_impossibility_pair_property(p, bound):
    pair = thm.impossibility_pair(bound, p)
    assert abs(pair.p_a - p) <= 1e-12 and abs(pair.p_b - p) <= 1e-12
    assert abs(pair.gap_a - pair.gap_b) > bound
    assert np.all(pair.shares_b > 0) and pair.shares_b.sum() == pytest.approx(1.0)


def test_checks_are_deterministic_given_the_seed():
    for check, est in ((thm._check_p5, "weighted_mle"), (thm._check_p8, "weighted_mle"), (thm._check_t1, "mle")):
        a = check(est, None, np.random.default_rng(123), quick=True)
        b = check(est, None, np.random.default_rng(123), quick=True)
        assert a.data == b.data and a.magnitude == b.magnitude


def test_bad_inputs_raise_clear_errors():
    P = _random_P(3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="rewards"):
        thm.borda_identity_residual(P, np.zeros(4), 0.1)
    with pytest.raises(ValueError, match="weights must sum to 1"):  # the one weights rule (choicelab._validation)
        thm.borda_identity_residual(P, np.zeros(3), 0.1, weights=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="lam"):
        thm.borda_identity_residual(P, np.zeros(3), -1.0)
    with pytest.raises(ValueError, match="square"):
        thm.borda_identity_residual(np.ones((2, 3)), np.zeros(2), 0.1)
    from choicelab import sim

    with pytest.raises(ValueError, match="per_axis"):
        thm.s_space_grid(np.zeros((2, 1)), sim.Box([0.0], [1.0]), 0)
    with pytest.raises(TypeError, match="rng"):
        thm._check_p4("mle", None, rng="seed")


def test_registered_axioms_are_the_theory_rows():
    from choicelab.axioms import base

    for axiom_id in ("T1", "P4", "P5", "P6", "P7", "P8"):
        ax = base.get_axiom(axiom_id)
        assert ax.id == axiom_id and ax.check is getattr(thm, f"_check_{axiom_id.lower()}")
    assert base.get_axiom("P6").needs_positions
