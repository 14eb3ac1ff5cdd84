"""cvxpy reference (choicelab.estimators.reference) against closed forms, a plain scipy
minimisation, and the fast Newton solvers of bt.py (agreement to 1e-6)."""

import numpy as np
import pytest
from scipy import optimize, sparse

from choicelab.estimators.bt import bt_mle, bt_mle_counts
from choicelab.estimators.reference import bt_mle_cvxpy


def _bt_matrix(rng, m, spread=2.0):
    """Two-type Bradley-Terry population matrix (P_ij + P_ji = 1, P_ii = 1/2)."""
    u = rng.normal(size=(2, m)) * spread
    alpha = rng.uniform(0.2, 0.8)

    def sig(x):
        return 1.0 / (1.0 + np.exp(-x))

    return alpha * sig(u[0][:, None] - u[0][None, :]) + (1 - alpha) * sig(u[1][:, None] - u[1][None, :])


def _naive_objective(r, X, w, lam):
    """-sum_{i != j} w_i w_j X_ij log sigma(r_i - r_j) + lam/2 sum w_i r_i^2, written out term by term."""
    d = r[:, None] - r[None, :]
    log_sig = -np.logaddexp(0.0, -d)
    W = np.outer(w, w) * X
    np.fill_diagonal(W, 0.0)
    return -np.sum(W * log_sig) + 0.5 * lam * np.sum(w * r * r)


def test_two_items_closed_form_unregularized():
    fit = bt_mle_cvxpy(np.array([[0.0, 3.0], [1.0, 0.0]]), lam=0.0)
    assert fit.converged
    np.testing.assert_allclose(fit.rewards, [np.log(3) / 2, -np.log(3) / 2], atol=1e-6)


@pytest.mark.parametrize("lam", [0.05, 0.5, 2.0])
def test_two_items_closed_form_regularized(lam):
    # r = (x, -x) by symmetry; d/dx [3 log(1+e^{-2x}) + log(1+e^{2x}) + lam x^2] = 0
    root = optimize.brentq(
        lambda x: -6 / (1 + np.exp(2 * x)) + 2 / (1 + np.exp(-2 * x)) + 2 * lam * x, -10, 10, xtol=1e-14
    )
    fit = bt_mle_cvxpy(np.array([[0.0, 3.0], [1.0, 0.0]]), lam=lam)
    np.testing.assert_allclose(fit.rewards, [root, -root], atol=1e-6)


def test_matches_plain_scipy_minimisation():
    rng = np.random.default_rng(3)
    m = 6
    P = _bt_matrix(rng, m)
    w = rng.dirichlet(np.ones(m))
    res = optimize.minimize(_naive_objective, np.zeros(m), args=(P, w, 0.3), method="BFGS", options={"gtol": 1e-12})
    fit = bt_mle_cvxpy(P, w, lam=0.3)
    np.testing.assert_allclose(fit.rewards, res.x, atol=1e-6)
    assert fit.objective == pytest.approx(_naive_objective(fit.rewards, P, w, 0.3), rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("lam", [1e-3, 0.1, 1.0])
def test_dense_eq1_agrees_with_newton(seed, lam):
    rng = np.random.default_rng(seed)
    P = _bt_matrix(rng, int(rng.integers(3, 25)), spread=rng.uniform(0.5, 3))
    ref = bt_mle_cvxpy(P, lam=lam)
    assert ref.converged, ref.message
    for method in ("newton", "newton-cg"):
        np.testing.assert_allclose(bt_mle(P, lam=lam, method=method).rewards, ref.rewards, atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("lam", [1e-3, 0.1, 1.0])
def test_dense_eq2_agrees_with_newton(seed, lam):
    rng = np.random.default_rng(100 + seed)
    m = int(rng.integers(3, 25))
    P = _bt_matrix(rng, m, spread=rng.uniform(0.5, 3))
    w = rng.dirichlet(np.full(m, 0.7))
    ref = bt_mle_cvxpy(P, w, lam=lam)
    assert ref.converged, ref.message
    for method in ("newton", "newton-cg"):
        np.testing.assert_allclose(bt_mle(P, w, lam=lam, method=method).rewards, ref.rewards, atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_counts_agree_with_newton(seed, weighted):
    rng = np.random.default_rng(200 + seed)
    m = int(rng.integers(3, 25))
    N = rng.poisson(1.5, size=(m, m)) * (rng.random((m, m)) < 0.4)
    N = N.astype(float)
    np.fill_diagonal(N, 0.0)
    w = rng.dirichlet(np.ones(m)) if weighted else None
    lam = float(rng.choice([1e-2, 0.1, 1.0]))
    ref = bt_mle_cvxpy(sparse.csr_array(N), w, lam=lam)
    assert ref.converged, ref.message
    for method in ("newton", "newton-cg"):
        fit = bt_mle_counts(sparse.csr_array(N), w, lam=lam, method=method)
        np.testing.assert_allclose(fit.rewards, ref.rewards, atol=1e-6)
    np.testing.assert_allclose(bt_mle_counts(N, w, lam=lam).rewards, ref.rewards, atol=1e-6)


def test_unregularized_counts_agree_with_newton():
    rng = np.random.default_rng(7)
    m = 12
    N = rng.poisson(2.0, size=(m, m)).astype(float) + 0.5  # every pair both ways: strongly connected
    np.fill_diagonal(N, 0.0)
    ref = bt_mle_cvxpy(N, lam=0.0)
    fit = bt_mle_counts(sparse.csr_array(N), lam=0.0)
    assert ref.converged and fit.converged
    np.testing.assert_allclose(fit.rewards, ref.rewards, atol=1e-6)
    assert abs(fit.rewards.sum()) < 1e-10


def test_non_complementary_matrix_agrees():
    # an empirical-style P with zeros on uncompared pairs (P_ij + P_ji != 1) is count data:
    # bt_mle refuses it (one preference-matrix rule), bt_mle_counts solves the same objective
    rng = np.random.default_rng(11)
    m = 10
    P = _bt_matrix(rng, m) * (rng.random((m, m)) < 0.5)
    np.fill_diagonal(P, 0.0)
    ref = bt_mle_cvxpy(P, lam=0.2)
    np.testing.assert_allclose(bt_mle_counts(P, lam=0.2).rewards, ref.rewards, atol=1e-6)
    with pytest.raises(ValueError, match="bt_mle: P.*required"):
        bt_mle(P, lam=0.2)


def test_zero_weight_entries_are_nan_and_the_rest_agree():
    rng = np.random.default_rng(5)
    m = 8
    P = _bt_matrix(rng, m)
    w = rng.dirichlet(np.ones(m))
    w[[2, 5]] = 0.0
    w /= w.sum()
    ref = bt_mle_cvxpy(P, w, lam=0.1)
    assert np.isnan(ref.rewards[[2, 5]]).all()
    keep = w > 0
    np.testing.assert_allclose(bt_mle(P, w, lam=0.1).rewards[keep], ref.rewards[keep], atol=1e-6)


def test_reference_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        bt_mle_cvxpy(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="lam"):
        bt_mle_cvxpy(np.full((2, 2), 0.5), lam=-1.0)
    with pytest.raises(ValueError, match="nonnegative"):
        bt_mle_cvxpy(np.array([[0.0, -1.0], [1.0, 0.0]]))
