"""Exact Bradley-Terry MLE (choicelab.estimators.bt): known answers, the contract identities P4/P5/P7/P8,
properties, convergence reporting and input validation. Agreement with the cvxpy reference
lives in test_reference.py."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, sparse
from scipy.special import expit

from choicelab.estimators.bt import ConvergenceWarning, bt_mle, bt_mle_comparisons, bt_mle_counts
from choicelab.sim.data import Comparisons, win_counts

DATA = Path(__file__).resolve().parents[1] / "data"
HYP = settings(max_examples=30, deadline=None)


def _comparisons(pairs, ties=()):
    """Comparisons from (winner, loser) pairs plus tied pairs."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    ties = np.asarray(ties, dtype=np.int64).reshape(-1, 2)
    a = np.concatenate([pairs[:, 0], ties[:, 0]])
    b = np.concatenate([pairs[:, 1], ties[:, 1]])
    winner = np.concatenate([pairs[:, 0], -np.ones(len(ties), dtype=np.int64)])
    return Comparisons(a, b, winner, -np.ones(a.size, dtype=np.int64))


def _population_matrix(rng, m, types=3, spread=2.0):
    """P_ij = sum_t alpha_t sigma(u_ti - u_tj): P_ij + P_ji = 1, P_ii = 1/2 (contract §1)."""
    u = rng.normal(size=(types, m)) * spread
    alpha = rng.dirichlet(np.ones(types))
    return np.einsum("t,tij->ij", alpha, expit(u[:, :, None] - u[:, None, :]))


def _naive_gradient(r, X, w, lam):
    """Gradient of -sum_{i!=j} w_i w_j X_ij log sigma(r_i - r_j) + lam/2 sum w_i r_i^2, term by term."""
    m = r.size
    g = lam * w * r
    for i in range(m):
        for j in range(m):
            if i != j:
                s = expit(r[i] - r[j])
                g[i] -= w[i] * w[j] * X[i, j] * (1 - s)
                g[j] += w[i] * w[j] * X[i, j] * (1 - s)
    return g


# ----------------------------------------------------------------------------- known answers
def test_two_items_three_wins_to_one_unregularized():
    comps = _comparisons([(0, 1)] * 3 + [(1, 0)])
    for method in ("newton", "newton-cg"):
        fit = bt_mle_comparisons(comps, 2, lam=0.0, method=method)
        assert fit.converged
        np.testing.assert_allclose(fit.rewards, [np.log(3) / 2, -np.log(3) / 2], atol=1e-12)


def test_three_cycle_fixture_is_unregularized():
    # choix testcase-pairwise-2 (winner first); its ML estimate, in log space and centred, is
    # [0.4196176, -0.4196176, 0]: the unregularized MLE (lam = 0)
    comps = _comparisons([(0, 1), (0, 1), (1, 2), (2, 0)])
    fit = bt_mle_comparisons(comps, 3, lam=0.0)
    np.testing.assert_allclose(fit.rewards, [0.4196176, -0.4196176, 0.0], atol=5e-8)
    # independent check: r = (a, -a, 0) solves 2 sigma(2a) + sigma(a) = 2 (wins of item 0)
    a = optimize.brentq(lambda a: 2 * expit(2 * a) + expit(a) - 2, 0, 5, xtol=1e-15)
    np.testing.assert_allclose(fit.rewards, [a, -a, 0.0], atol=1e-12)
    # with regularization the answer moves: the fixture is not the lam > 0 solution
    assert abs(bt_mle_comparisons(comps, 3, lam=0.1).rewards[0] - a) > 1e-2


def test_choix_eight_item_regularized_fixture():
    case = json.loads((DATA / "choix_8random.json").read_text())
    pairs = case["pairs"]
    comps = _comparisons(pairs)
    # choix minimises NLL + alpha ||r||^2; its fixture uses alpha = 0.5, i.e. the contract lam = 1
    fit = bt_mle_comparisons(comps, case["num_items"], lam=1.0)
    assert fit.converged
    np.testing.assert_allclose(fit.rewards, case["estimate"], atol=1e-7)
    import choix

    oracle = choix.opt_pairwise(case["num_items"], [tuple(p) for p in pairs], alpha=0.5, method="BFGS", tol=1e-12)
    np.testing.assert_allclose(fit.rewards, oracle, atol=1e-7)


def test_ties_count_half_to_each_side():
    # two wins and a tie: N_01 = 2.5, N_10 = 0.5, so 3 sigma(2x) = 2.5 at r = (x, -x): x = ln(5)/2
    comps = _comparisons([(0, 1), (0, 1)], ties=[(0, 1)])
    fit = bt_mle_comparisons(comps, 2, lam=0.0)
    np.testing.assert_allclose(fit.rewards, [np.log(5) / 2, -np.log(5) / 2], atol=1e-12)


def test_no_comparisons_gives_zero_rewards():
    # the objective is then (lam/2) sum r^2 alone
    for N in (np.zeros((4, 4)), sparse.csr_array((4, 4))):
        fit = bt_mle_counts(N, lam=0.3)
        assert fit.converged
        np.testing.assert_array_equal(fit.rewards, np.zeros(4))


def test_dense_and_sparse_counts_agree():
    rng = np.random.default_rng(0)
    m = 30
    N = rng.poisson(1.0, size=(m, m)).astype(float)
    np.fill_diagonal(N, 0.0)
    for lam in (0.0, 0.3):
        dense = bt_mle_counts(N, lam=lam)
        sp = bt_mle_counts(sparse.csr_array(N), lam=lam)
        cg = bt_mle_counts(sparse.csr_array(N), lam=lam, method="newton-cg")
        np.testing.assert_allclose(sp.rewards, dense.rewards, atol=1e-9)
        np.testing.assert_allclose(cg.rewards, dense.rewards, atol=1e-9)


# ----------------------------------------------------------------------------- the contract identities
@pytest.mark.parametrize("method", ["newton", "newton-cg"])
@pytest.mark.parametrize("lam", [1e-3, 0.1, 2.0])
def test_p4_mle_is_borda(method, lam):
    rng = np.random.default_rng(1)
    P = _population_matrix(rng, 40)
    r = bt_mle(P, lam=lam, method=method).rewards
    borda = P.sum(axis=1)  # includes the self-term P_ii = 1/2
    lhs = expit(r[:, None] - r[None, :]).sum(axis=1) + lam * r
    assert np.max(np.abs(lhs - borda)) < 1e-8
    assert abs(r.sum()) < 1e-8
    np.testing.assert_array_equal(np.argsort(-r, kind="stable"), np.argsort(-borda, kind="stable"))


@pytest.mark.parametrize("method", ["newton", "newton-cg"])
@pytest.mark.parametrize("lam", [1e-3, 0.1, 2.0])
def test_p5_weighted_mle_is_weighted_borda(method, lam):
    rng = np.random.default_rng(2)
    m = 40
    P = _population_matrix(rng, m)
    w = rng.dirichlet(np.full(m, 0.5))
    r = bt_mle(P, w, lam=lam, method=method).rewards
    wawr = P @ w
    lhs = expit(r[:, None] - r[None, :]) @ w + lam * r
    assert np.max(np.abs(lhs - wawr)) < 1e-8
    assert abs(w @ r) < 1e-8


def test_p7_uniform_weights_equal_standard_mle_with_m_lam():
    # (1/m^2) [-sum P log sigma] + (lam/2)(1/m) sum r^2 = (1/m^2) [-sum P log sigma + (m lam / 2) sum r^2]
    rng = np.random.default_rng(3)
    for m, lam in ((5, 0.1), (37, 0.02), (120, 0.5)):
        P = _population_matrix(rng, m)
        weighted = bt_mle(P, np.full(m, 1.0 / m), lam=lam).rewards
        standard = bt_mle(P, lam=m * lam).rewards
        np.testing.assert_allclose(weighted, standard, atol=1e-10)
        assert np.max(np.abs(bt_mle(P, lam=lam).rewards - standard)) > 1e-3  # lam is not rescaled


def _with_exact_clones(P, k, copies):
    """Append `copies` exact clones of alternative k: same row/column, 1/2 against x_k and each other."""
    m = P.shape[0]
    idx = np.concatenate([np.arange(m), np.full(copies, k)])
    return P[np.ix_(idx, idx)]  # P[k, k] = 1/2 supplies the clone-vs-original entries


@pytest.mark.parametrize("split", [[1.0, 0.0], [0.0, 1.0], [0.3, 0.7], [0.5, 0.25, 0.25], [0.0, 0.0, 1.0]])
def test_p8_exact_clones_splitting_the_weight(split):
    rng = np.random.default_rng(4)
    m, k, lam = 12, 4, 0.1
    P = _population_matrix(rng, m)
    w = rng.dirichlet(np.ones(m))
    base = bt_mle(P, w, lam=lam).rewards
    P2 = _with_exact_clones(P, k, len(split) - 1)
    w2 = np.concatenate([w, np.zeros(len(split) - 1)])
    w2[[k] + list(range(m, m + len(split) - 1))] = w[k] * np.asarray(split)
    fit = bt_mle(P2, w2, lam=lam)
    assert fit.converged
    np.testing.assert_allclose(fit.rewards[:m], base, atol=1e-9)
    np.testing.assert_allclose(fit.rewards[m:], base[k], atol=1e-9)


@HYP
@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.integers(3, 7),
    types=st.integers(2, 3),
    copies=st.integers(1, 3),
    data=st.data(),
)
def test_p8_exact_clones_random_split_property(seed, m, types, copies, data):
    # contract P8: the clones share x_k's preferences, so r' = (r, r_k, ..., r_k) satisfies the
    # enlarged first-order conditions whenever the clones' weights sum to w_k
    k = data.draw(st.integers(0, m - 1), label="k")
    rng = np.random.default_rng(seed)
    lam = 0.1
    P = _population_matrix(rng, m, types=types)
    np.fill_diagonal(P, 0.5)  # sum(alpha) = 1 only up to rounding; clone entries must be exactly 1/2
    w = rng.dirichlet(np.ones(m))
    base = bt_mle(P, w, lam=lam)
    P2 = _with_exact_clones(P, k, copies)
    assert P2.shape == (m + copies, m + copies)
    np.testing.assert_array_equal(P2[m:, k], 0.5)
    np.testing.assert_array_equal(P2[k, m:], 0.5)
    np.testing.assert_allclose(P2 + P2.T, 1.0, atol=1e-12)
    split = rng.dirichlet(np.ones(copies + 1))
    w2 = np.concatenate([w, np.zeros(copies)])
    w2[[k] + list(range(m, m + copies))] = w[k] * split
    w2 /= w2.sum()  # guards against the last-ulp rounding of w[k] * split; sum is already 1
    fit = bt_mle(P2, w2, lam=lam)
    assert base.converged and fit.converged
    np.testing.assert_allclose(fit.rewards[:m], base.rewards, atol=1e-7)
    np.testing.assert_allclose(fit.rewards[m:], base.rewards[k], atol=1e-7)


def test_zero_weight_reward_is_p5_root_and_the_small_weight_limit():
    rng = np.random.default_rng(5)
    m, z, lam = 15, 6, 0.2
    P = _population_matrix(rng, m)
    w = rng.dirichlet(np.ones(m))
    w[z] = 0.0
    w /= w.sum()
    r = bt_mle(P, w, lam=lam).rewards
    # the documented convention: r_z solves sum_j w_j sigma(r_z - r_j) + lam r_z = sum_j w_j P_zj
    root = optimize.brentq(lambda x: w @ expit(x - r) + lam * x - w @ P[z], -50, 50, xtol=1e-14)
    assert abs(r[z] - root) < 1e-10
    # and it is the limit of a vanishing positive weight
    eps = 1e-7
    w_eps = w * (1 - eps)
    w_eps[z] = eps
    assert np.max(np.abs(bt_mle(P, w_eps, lam=lam).rewards - r)) < 1e-5


def test_zero_weight_counts_and_lam_zero():
    rng = np.random.default_rng(6)
    m = 10
    N = rng.poisson(2.0, size=(m, m)).astype(float) + 1.0
    np.fill_diagonal(N, 0.0)
    w = rng.dirichlet(np.ones(m))
    w[[1, 7]] = 0.0
    w /= w.sum()
    fit = bt_mle_counts(sparse.csr_array(N), w, lam=0.0)
    r = fit.rewards
    assert fit.converged and abs(w @ r) < 1e-12
    S = N + N.T
    resid = (S * expit(r[:, None] - r[None, :])) @ w - N @ w  # the count-data identity
    assert np.max(np.abs(resid)) < 1e-8
    np.testing.assert_allclose(bt_mle_counts(N, w, lam=0.0).rewards, r, atol=1e-9)


def test_lam_zero_zero_weight_without_a_loss_is_rejected():
    N = np.array([[0, 1, 0], [1, 0, 0], [1, 0, 0.0]])  # item 2 beat 0 and never lost
    with pytest.raises(ValueError, match="alternative 2 has zero weight and no loss"):
        bt_mle_counts(N, np.array([0.5, 0.5, 0.0]), lam=0.0)


def test_unweighted_counts_gradient_is_zero_by_independent_formula():
    rng = np.random.default_rng(8)
    m = 9
    N = rng.poisson(1.5, size=(m, m)).astype(float)
    np.fill_diagonal(N, 0.0)
    w = rng.dirichlet(np.ones(m))
    for weights, ww in ((None, np.ones(m)), (w, w)):
        fit = bt_mle_counts(N, weights, lam=0.05)
        assert np.linalg.norm(_naive_gradient(fit.rewards, N, ww, 0.05)) < 1e-9
        assert fit.grad_norm <= fit.info["tol"] * fit.info["scale"]


def test_larger_sparse_problem_solves():
    rng = np.random.default_rng(9)
    m, n = 2000, 100_000
    u = rng.normal(size=m)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    win = rng.random(n) < expit(u[a] - u[b])
    comps = Comparisons(a, b, np.where(win, a, b), -np.ones(n, dtype=np.int64))
    fit = bt_mle_comparisons(comps, m, lam=0.5)
    assert fit.converged and fit.info["method"] == "newton-cg" and fit.info["backend"] == "sparse"
    N = win_counts(comps, m, sparse=True)
    S = (N + N.T).tocoo()
    r = fit.rewards
    # sum_j S_ij sigma(r_i - r_j) + lam r_i = wins_i (count form of P4)
    lhs = np.bincount(S.row, S.data * expit(r[S.row] - r[S.col]), minlength=m) + 0.5 * r
    assert np.max(np.abs(lhs - N.sum(axis=1))) < 1e-8
    assert np.corrcoef(r, u)[0, 1] > 0.9


# ----------------------------------------------------------------------------- properties
@st.composite
def _instances(draw, weighted=None):
    seed = draw(st.integers(0, 2**32 - 1))
    m = draw(st.integers(2, 14))
    rng = np.random.default_rng(seed)
    P = _population_matrix(rng, m, types=draw(st.integers(1, 3)), spread=draw(st.floats(0.1, 4.0)))
    use_w = draw(st.booleans()) if weighted is None else weighted
    w = rng.dirichlet(np.full(m, 0.5)) if use_w else None
    lam = draw(st.sampled_from([1e-3, 0.05, 0.5, 3.0]))
    return P, w, lam, rng


@HYP
@given(_instances())
def test_permutation_equivariance(inst):
    P, w, lam, rng = inst
    perm = rng.permutation(P.shape[0])
    fit = bt_mle(P, w, lam=lam)
    permuted = bt_mle(P[np.ix_(perm, perm)], None if w is None else w[perm], lam=lam)
    np.testing.assert_allclose(permuted.rewards, fit.rewards[perm], atol=1e-9)


@HYP
@given(_instances())
def test_newton_and_newton_cg_agree_and_converge(inst):
    P, w, lam, _ = inst
    a = bt_mle(P, w, lam=lam, method="newton")
    b = bt_mle(P, w, lam=lam, method="newton-cg")
    for fit in (a, b):
        assert fit.converged
        assert fit.grad_norm <= 1e-10 * fit.info["scale"]
        ww = np.ones(P.shape[0]) if w is None else w
        assert np.linalg.norm(_naive_gradient(fit.rewards, P, ww, lam)) <= 1e-9 * max(1.0, fit.info["scale"])
    np.testing.assert_allclose(a.rewards, b.rewards, atol=1e-7)


@HYP
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(2, 12), lam=st.sampled_from([0.0, 0.01, 1.0]))
def test_sparse_methods_agree(seed, m, lam):
    rng = np.random.default_rng(seed)
    N = rng.poisson(2.0, size=(m, m)).astype(float) + 0.5  # strongly connected
    np.fill_diagonal(N, 0.0)
    a = bt_mle_counts(sparse.csr_array(N), lam=lam, method="newton")
    b = bt_mle_counts(sparse.csr_array(N), lam=lam, method="newton-cg")
    assert a.converged and b.converged
    np.testing.assert_allclose(a.rewards, b.rewards, atol=1e-8)


# ----------------------------------------------------------------------------- convergence reporting
def test_max_iter_one_reports_non_convergence():
    rng = np.random.default_rng(10)
    P = _population_matrix(rng, 20, spread=4.0)
    assert issubclass(ConvergenceWarning, RuntimeWarning)
    for method in ("newton", "newton-cg"):
        with pytest.warns(ConvergenceWarning, match="did not converge"):
            fit = bt_mle(P, lam=0.01, max_iter=1, method=method)
        assert not fit.converged and fit.iterations == 1
        assert "max_iter=1" in fit.message
        assert fit.grad_norm > 1e-10 * fit.info["scale"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bt_mle(P, lam=0.01).converged  # no warning when it converges


def test_warm_start_at_the_optimum_takes_no_step():
    rng = np.random.default_rng(11)
    P = _population_matrix(rng, 10)
    fit = bt_mle(P, lam=0.1)
    again = bt_mle(P, lam=0.1, x0=fit.rewards)
    assert again.converged and again.iterations == 0
    np.testing.assert_allclose(again.rewards, fit.rewards, atol=1e-12)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(P=np.full((2, 3), 0.5)), ValueError, r"square .*\(2, 3\)"),
        (dict(P=np.array([[0.5, 1.2], [-0.2, 0.5]])), ValueError, r"\[0, 1\].*1\.2"),
        (dict(P=np.array([[0.5, np.nan], [0.5, 0.5]])), ValueError, "not finite"),
        (dict(weights=[1.5, -0.5]), ValueError, r"weights\[1\] = -0\.5"),
        (dict(weights=[0.5, 0.6]), ValueError, r"sum to 1.*1\.1"),
        (dict(weights=[1.0]), ValueError, r"shape \(2,\)"),
        (dict(lam=-0.1), ValueError, "lam must be finite and > 0, got -0.1"),
        (dict(lam=0.0), ValueError, "lam must be finite and > 0, got 0.0"),
        (dict(lam="big"), TypeError, "'big'"),
        (dict(method="lbfgs"), ValueError, "'lbfgs'"),
        (dict(tol=0.0), ValueError, "tol"),
        (dict(max_iter=0), ValueError, "max_iter"),
        (dict(x0=[0.0]), ValueError, "x0"),
    ],
)
def test_bt_mle_rejects_bad_input(kwargs, exc, match):
    args = dict(P=np.array([[0.5, 0.7], [0.3, 0.5]]), weights=None, lam=0.1)
    args.update(kwargs)
    P = args.pop("P")
    with pytest.raises(exc, match=match):
        bt_mle(P, **args)


def test_bt_mle_rejects_a_matrix_that_is_not_complementary():
    # one preference-matrix rule for bt, voting, neural and Instance (choicelab._validation)
    P = np.array([[0.5, 0.7, 0.4], [0.3, 0.5, 0.65], [0.6, 0.4, 0.5]])
    with pytest.raises(ValueError, match=r"bt_mle: P\[1, 2\] \+ P\[2, 1\] = 1\.05.*P_ij \+ P_ji = 1"):
        bt_mle(P)
    Q = np.array([[0.5, 0.7], [0.3, 0.4]])
    with pytest.raises(ValueError, match=r"bt_mle: P\[1, 1\] = 0\.4, but P_ii = 1/2"):
        bt_mle(Q)
    # uncompared pairs are count data: bt_mle_counts takes them
    N = np.array([[0.0, 0.7, 0.0], [0.3, 0.0, 0.6], [0.0, 0.4, 0.0]])
    assert bt_mle_counts(N, lam=0.1).converged


def test_counts_reject_bad_input():
    with pytest.raises(ValueError, match="nonnegative.*-1"):
        bt_mle_counts(np.array([[0.0, -1.0], [1.0, 0.0]]))
    with pytest.raises(ValueError, match=r"zero diagonal.*N\[0, 0\] = 2"):
        bt_mle_counts(sparse.csr_array(np.array([[2.0, 1.0], [1.0, 0.0]])))
    with pytest.raises(ValueError, match="lam must be finite and >= 0, got -1"):
        bt_mle_counts(np.array([[0.0, 1.0], [1.0, 0.0]]), lam=-1)
    with pytest.raises(TypeError, match="Comparisons"):
        bt_mle_comparisons([(0, 1)], 2)
    with pytest.raises(ValueError, match="m must be a positive integer"):
        bt_mle_comparisons(_comparisons([(0, 1)]), 0)


def test_lam_zero_on_a_graph_that_is_not_strongly_connected():
    # 0 beats 1 and 1 beats 2, never the other way: the MLE runs off to infinity
    comps = _comparisons([(0, 1), (1, 2), (0, 2)])
    with pytest.raises(ValueError, match="strongly connected.*3 strongly connected components"):
        bt_mle_comparisons(comps, 3, lam=0.0)
    with pytest.raises(ValueError, match="strongly connected"):
        bt_mle_comparisons(_comparisons([(0, 1), (1, 0)]), 3, lam=0.0)  # item 2 never compared
    assert bt_mle_comparisons(comps, 3, lam=0.1).converged  # fine once regularized
