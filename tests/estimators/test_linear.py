"""Tests for the linear-reward Bradley-Terry MLE (contract §2, "Linear reward")."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from choicelab.estimators.linear import LinearFit, linear_mle
from choicelab.estimators.reference import linear_mle_cvxpy
from choicelab.sim.data import Comparisons


def bt_matrix(X, theta):
    """Representative data of a linear BT model: P_ij = sigma(theta.(x_i - x_j)), P_ii = 1/2."""
    s = X @ theta
    return 1.0 / (1.0 + np.exp(-(s[:, None] - s[None, :])))


def sample_comparisons(rng, X, theta, n, tie_rate=0.0):
    m = X.shape[0]
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    p = 1.0 / (1.0 + np.exp(-(X[a] - X[b]) @ theta))
    winner = np.where(rng.uniform(size=n) < p, a, b)
    winner[rng.uniform(size=n) < tie_rate] = -1
    return Comparisons(a=a, b=b, winner=winner, annotator=-np.ones(n, dtype=int))


# --------------------------------------------------------------------------- against cvxpy
@pytest.mark.parametrize("data", ["comparisons", "matrix"])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_cvxpy_reference(data, weighted):
    rng = np.random.default_rng([weighted, data == "matrix"])
    m, d = 10, 3
    X = rng.normal(size=(m, d))
    theta = np.array([1.0, -0.5, 0.3])
    comps = sample_comparisons(rng, X, theta, 200, tie_rate=0.1) if data == "comparisons" else bt_matrix(X, theta)
    w = rng.dirichlet(np.ones(m)) if weighted else None
    fit = linear_mle(X, comps, weights=w, lam=0.1)
    ref = linear_mle_cvxpy(X, comps, weights=w, lam=0.1)
    assert fit.converged
    np.testing.assert_allclose(fit.theta, ref.info["theta"], atol=1e-6)
    np.testing.assert_allclose(fit.rewards, X @ fit.theta)
    assert fit.objective == pytest.approx(ref.objective, rel=1e-9)


# --------------------------------------------------------------------------- known answers
def test_one_feature_closed_form():
    X = np.array([[1.0], [0.0]])
    # 3 wins to 1 and lam = 0: sigma(theta) = 3/4, theta = log 3
    fit = linear_mle(X, np.array([[0.0, 3.0], [1.0, 0.0]]), lam=0.0)
    assert fit.theta[0] == pytest.approx(np.log(3), abs=1e-10)
    # lam > 0 stationarity: -3 sigma(-theta) + 1 sigma(theta) + lam theta = 0
    t = linear_mle(X, np.array([[0.0, 3.0], [1.0, 0.0]]), lam=0.7).theta[0]
    assert -3 / (1 + np.exp(t)) + 1 / (1 + np.exp(-t)) + 0.7 * t == pytest.approx(0.0, abs=1e-10)


def test_ties_count_half_each_way():
    X = np.array([[1.0], [0.0]])
    # one win of 0 and two ties: N_01 = 2, N_10 = 1, so theta = log 2 at lam = 0
    comps = Comparisons(
        a=np.array([0, 0, 1]), b=np.array([1, 1, 0]), winner=np.array([0, -1, -1]), annotator=np.array([-1, -1, -1])
    )
    assert linear_mle(X, comps, lam=0.0).theta[0] == pytest.approx(np.log(2), abs=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_representative_data_recovers_theta_exactly(weighted):
    # at lam = 0 the true theta zeroes every pair's gradient term: P_ij sigma(-z) = P_ji sigma(z)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(15, 4))
    theta = np.array([0.8, -1.1, 0.0, 0.4])
    w = rng.dirichlet(np.ones(15)) if weighted else None
    fit = linear_mle(X, bt_matrix(X, theta), weights=w, lam=0.0)
    np.testing.assert_allclose(fit.theta, theta, atol=1e-9)


def test_one_hot_features_give_the_tabular_mle():
    from choicelab.estimators.bt import bt_mle, bt_mle_comparisons

    rng = np.random.default_rng(2)
    m = 6
    u = rng.normal(size=m)
    comps = sample_comparisons(rng, np.eye(m), u, 300, tie_rate=0.05)
    fit = linear_mle(np.eye(m), comps, lam=0.3)
    np.testing.assert_allclose(fit.rewards, bt_mle_comparisons(comps, m, lam=0.3).rewards, atol=1e-8)
    # weighted: features x_i = e_i / sqrt(w_i) make ||theta||^2 = sum_i w_i r_i^2 (contract Eq. 2)
    P = bt_matrix(np.eye(m), u)
    w = rng.dirichlet(np.ones(m))
    fit_w = linear_mle(np.diag(1 / np.sqrt(w)), P, weights=w, lam=0.3)
    np.testing.assert_allclose(fit_w.rewards, bt_mle(P, weights=w, lam=0.3).rewards, atol=1e-8)


def test_recovers_theta_from_sampled_comparisons():
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, size=(40, 3))
    theta = np.array([2.0, -1.0, 0.5])
    fit = linear_mle(X, sample_comparisons(rng, X, theta, 30000), lam=1e-3)
    assert fit.converged
    np.testing.assert_allclose(fit.theta, theta, atol=0.1)


# --------------------------------------------------------------------------- properties
@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1), d=st.integers(1, 4), lam=st.sampled_from([0.01, 0.1, 1.0]), weighted=st.booleans()
)
def test_rotation_and_translation_equivariance(seed, d, lam, weighted):
    rng = np.random.default_rng(seed)
    m = 8
    X = rng.normal(size=(m, d))
    P = bt_matrix(X, rng.normal(size=d))
    w = rng.dirichlet(np.ones(m)) if weighted else None
    fit = linear_mle(X, P, weights=w, lam=lam)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    shift = rng.normal(size=d)
    moved = linear_mle(X @ Q.T + shift, P, weights=w, lam=lam)
    # x -> Q x + b: the loss sees only differences and the ridge is rotation invariant
    np.testing.assert_allclose(moved.theta, Q @ fit.theta, atol=1e-8)
    np.testing.assert_allclose(moved.rewards - moved.rewards.mean(), fit.rewards - fit.rewards.mean(), atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_gradient_vanishes_at_the_fit(seed):
    # stationarity checked by central finite differences of an independent objective
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(6, 2))
    comps = sample_comparisons(rng, X, rng.normal(size=2), 40, tie_rate=0.2)
    w = rng.dirichlet(np.ones(6))
    fit = linear_mle(X, comps, weights=w, lam=0.2)

    def objective(t):
        total = 0.0
        for a, b, win in zip(comps.a, comps.b, comps.winner):
            z = (X[a] - X[b]) @ t
            loss = {a: np.logaddexp(0, -z), b: np.logaddexp(0, z)}
            total += w[a] * w[b] * (loss[win] if win != -1 else 0.5 * (loss[a] + loss[b]))
        return total + 0.1 * t @ t

    h = 1e-5
    grad = [(objective(fit.theta + h * e) - objective(fit.theta - h * e)) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(grad, 0.0, atol=1e-8)


# --------------------------------------------------------------------------- failures and validation
def test_non_convergence_is_reported():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(10, 3))
    with pytest.warns(RuntimeWarning, match="did not converge"):
        fit = linear_mle(X, bt_matrix(X, np.array([3.0, -2.0, 1.0])), lam=0.01, max_iter=1)
    assert isinstance(fit, LinearFit) and not fit.converged and fit.iterations == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert linear_mle(X, bt_matrix(X, np.array([3.0, -2.0, 1.0])), lam=0.01).converged


def test_lam_zero_rejects_separable_or_degenerate_data():
    X = np.array([[0.0], [1.0], [2.0]])
    separable = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0]], dtype=float)  # higher x always wins
    with pytest.raises(ValueError, match="separable"):
        linear_mle(X, separable, lam=0.0)
    assert linear_mle(X, separable, lam=0.1).converged
    X2 = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])  # second feature constant: theta_2 is free
    with pytest.raises(ValueError, match="unconstrained"):
        linear_mle(X2, bt_matrix(X2, np.array([1.0, 0.0])), lam=0.0)


def test_bad_input_is_rejected():
    X = np.zeros((3, 2))
    P = np.full((3, 3), 0.5)
    with pytest.raises(ValueError, match=r"X\[1, 0\] = nan"):
        linear_mle(np.array([[0.0, 1.0], [np.nan, 0.0], [1.0, 1.0]]), P)
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        linear_mle(X, np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match=r"comps\[0, 1\] = -0.5"):
        linear_mle(X, [[0.5, -0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])
    with pytest.raises(ValueError, match=r"weights must sum to 1"):
        linear_mle(X, P, weights=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"lam must be finite and >= 0, got -0.1"):
        linear_mle(X, P, lam=-0.1)
    comps = Comparisons(a=np.array([0]), b=np.array([5]), winner=np.array([0]), annotator=np.array([-1]))
    with pytest.raises(ValueError, match=r"alternative 5, but X has only m=3"):
        linear_mle(X, comps)
    with pytest.raises(ValueError, match=r"shape \(k, 2\)"):
        linear_mle(np.eye(3)[:, :2], P).predict(np.ones((2, 3)))
