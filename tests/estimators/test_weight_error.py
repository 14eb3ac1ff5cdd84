"""Weight error -> reward error: the delta method through Eq. 2's optimality conditions."""

from __future__ import annotations

import numpy as np
import pytest

from choicelab.estimators.bt import bt_mle, bt_mle_counts
from choicelab.estimators.weight_error import propagate_weight_error, voronoi_weight_covariance, weight_jacobian
from choicelab.estimators.weights import voronoi_weights


def _world(seed=4, m=8, d=3):
    from choicelab.axioms import generators as gen

    return gen.random_world_instances(np.random.default_rng(seed), 1, d_choices=(d,), m_range=(m, m))[0]


def _fd_jacobian(fit, w, h=1e-6):
    """Central differences along e_l - 1/m: directions that keep sum(w) = 1."""
    m = w.size
    cols = []
    for k in range(m):
        dw = -np.full(m, h / m)
        dw[k] += h
        cols.append((fit(w + dw) - fit(w - dw)) / (2 * h))
    return np.array(cols).T  # column l = J (e_l - 1/m)


def test_jacobian_matches_finite_differences_for_p_counts_and_zero_weights():
    rng = np.random.default_rng(0)
    m, lam = 6, 0.2
    P = _world(1, m=m, d=2).P
    w = rng.dirichlet(np.ones(m))
    J = weight_jacobian(P, bt_mle(P, w, lam=lam, tol=1e-14).rewards, w, lam)
    fd = _fd_jacobian(lambda v: bt_mle(P, v, lam=lam, tol=1e-14).rewards, w)
    np.testing.assert_allclose(J - J.mean(axis=1, keepdims=True), fd, rtol=1e-4, atol=1e-8)
    # a zero-weight alternative (its reward solves the same stationarity condition, P5)
    w0 = w.copy()
    w0[2] = 0.0
    w0 /= w0.sum()
    J0 = weight_jacobian(P, bt_mle(P, w0, lam=lam, tol=1e-14).rewards, w0, lam)
    h = 1e-6
    for direction in (np.eye(m)[0] - np.eye(m)[1], np.eye(m)[2] - w0):  # keeps w2 = 0; gives it weight
        up = bt_mle(P, w0 + h * direction, lam=lam, tol=1e-14).rewards
        if direction[2] == 0:
            down = bt_mle(P, w0 - h * direction, lam=lam, tol=1e-14).rewards
            fd0 = (up - down) / (2 * h)
        else:  # one-sided: w2 cannot go below 0
            fd0 = (up - bt_mle(P, w0, lam=lam, tol=1e-14).rewards) / h
        np.testing.assert_allclose(J0 @ direction, fd0, rtol=1e-3, atol=1e-6)
    # win counts (ties add 1/2 to both sides; T = N + N^T varies by pair)
    N = rng.integers(0, 20, size=(m, m)).astype(float)
    np.fill_diagonal(N, 0.0)
    v = rng.dirichlet(np.ones(m))
    Jn = weight_jacobian(N, bt_mle_counts(N, v, lam=lam, tol=1e-14).rewards, v, lam)
    fdn = _fd_jacobian(lambda u: bt_mle_counts(N, u, lam=lam, tol=1e-14).rewards, v)
    np.testing.assert_allclose(Jn - Jn.mean(axis=1, keepdims=True), fdn, rtol=1e-4, atol=1e-8)


def test_weight_covariance_is_multinomial_and_copies_share_it():
    from choicelab.sim import Box

    rng = np.random.default_rng(2)
    X = rng.random((5, 3))
    X = np.vstack([X, X[[1]]])
    est = voronoi_weights(X, Box(np.zeros(3), np.ones(3)), n_samples=5000, rng=1, full_output=True)
    C = voronoi_weight_covariance(X, est)
    np.testing.assert_allclose(np.sqrt(np.diag(C)), est.stderr, rtol=1e-12)
    np.testing.assert_allclose(C.sum(axis=1), 0, atol=1e-15)  # the weights always sum to 1
    assert C[1, 5] == pytest.approx(C[1, 1])  # the copies move together
    p0, p2 = est.weights[0], est.weights[2]
    assert C[0, 2] == pytest.approx(-p0 * p2 / 5000)
    exact = voronoi_weights(X[:, :2], Box(np.zeros(2), np.ones(2)), full_output=True)
    assert not voronoi_weight_covariance(X[:, :2], exact).any()


def test_predicted_reward_error_matches_resampled_weights():
    """Independent check: refit with 120 independent Monte Carlo weight vectors; the spread of the
    rewards and the mean Kendall distance to the exact-weight fit match the delta method."""
    from choicelab.sim import Box

    inst = _world(4, m=8, d=3)
    box = Box(np.zeros(3), np.ones(3))
    lam, n = 0.1, 4000
    ref_w = voronoi_weights(inst.X, box, n_samples=4_000_000, rng=99)  # "truth" (error ~ 30x smaller)
    ref = bt_mle(inst.P, ref_w, lam=lam).rewards
    fits, pairs = [], []
    for seed in range(120):
        w = voronoi_weights(inst.X, box, n_samples=n, rng=seed)
        r = bt_mle(inst.P, w, lam=lam).rewards
        fits.append(r)
        s = np.sign(r[:, None] - r[None, :]) != np.sign(ref[:, None] - ref[None, :])
        pairs.append(np.triu(s, 1).sum())
    fits = np.array(fits)
    est = voronoi_weights(inst.X, box, n_samples=n, rng=1000, full_output=True)
    # the covariance at the reference weights, scaled to n samples (multinomial)
    cov = voronoi_weight_covariance(inst.X, est)
    eff = propagate_weight_error(inst.P, ref, ref_w, lam, cov)
    ratio = fits.std(axis=0, ddof=1) / eff.reward_stderr
    assert 0.75 <= np.median(ratio) <= 1.33
    assert np.all((ratio > 0.6) & (ratio < 1.6))
    # expected discordant pairs: same order of magnitude as observed (both can be small)
    assert np.mean(pairs) <= 2 * eff.expected_discordant_pairs + 0.1
    assert eff.expected_discordant_pairs <= 2 * np.mean(pairs) + 0.1
    flips = eff.adjacent_flip_prob
    assert flips.shape == (7,) and np.all((flips >= 0) & (flips <= 0.5))


def test_weighted_mle_output_carries_the_weight_error_only_for_monte_carlo_weights():
    from choicelab.estimators.registry import get_estimator

    inst3 = _world(5, m=7, d=3)
    out = get_estimator("weighted_mle").fit(inst3, data=None, weights=None, lam=0.1, rng=3, quick=True)
    est = voronoi_weights(inst3.X, inst3.region, rng=3, full_output=True)
    np.testing.assert_array_equal(out.weights, est.weights)  # the same weights as before
    direct = propagate_weight_error(inst3.P, out.scores, est.weights, 0.1, voronoi_weight_covariance(inst3.X, est))
    np.testing.assert_allclose(out.weight_error.reward_stderr, direct.reward_stderr, rtol=1e-12)
    assert out.weight_error.reward_stderr.max() > 0
    # exact 2-D weights, or weights given: nothing to propagate
    inst2 = _world(5, m=7, d=2)
    assert get_estimator("weighted_mle").fit(inst2, data=None, weights=None, lam=0.1, rng=3).weight_error is None
    given = np.full(7, 1 / 7)
    assert get_estimator("weighted_mle").fit(inst3, data=None, weights=given, lam=0.1, rng=3).weight_error is None
    with pytest.raises(ValueError, match="lam must be positive"):
        weight_jacobian(inst3.P, out.scores, est.weights, 0.0)
