"""Screened uniform sampling of precision-targeted Voronoi weights.

Exactness of the screen is checked against the full nearest-neighbour search; the screened runs
against exactly known cells of product sets (the nearest product point is the product of the
factors' nearest points, so each cell is the product of the factors' cells).
"""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from choicelab.estimators import weights as W
from choicelab.estimators.voronoi_screen import TargetScreen
from choicelab.estimators.weight_error import voronoi_weight_covariance
from choicelab.sim.regions import Box


def _kdtree(P):
    tree = cKDTree(P)
    return lambda Z: np.asarray(tree.query(Z)[1], dtype=np.intp)


def _expected(full, targets, Y):
    truth = full(Y)
    return np.where(np.isin(truth, targets), truth, -1)


@pytest.mark.parametrize("subset", ["brute", "kdtree"])
def test_the_screen_finds_exactly_the_draws_in_target_cells(subset):
    X = np.random.default_rng(2).random((3000, 6))
    region = Box(np.zeros(6), np.ones(6))
    targets = np.array([5, 17, 400, 2999])
    nearest = W._brute_search(X, region)
    search = (lambda P: W._brute_search(P, region)) if subset == "brute" else _kdtree
    screen = TargetScreen(X, targets, nearest, search)
    # draws near the targets (where the screen has work to do) and uniform ones
    rng = np.random.default_rng(3)
    Y = np.vstack(
        [X[targets][rng.integers(0, 4, 20_000)] + 0.08 * rng.standard_normal((20_000, 6)), rng.random((5000, 6))]
    )
    expected = _expected(nearest, targets, Y)
    np.testing.assert_array_equal(screen(Y), expected)
    assert 0.05 < np.mean(expected >= 0) < 0.95  # both kinds of draw occur
    # it rejected most draws outside the target cells without the full search, and by its own cost
    # model it did less work than a full search of every draw
    inside = int(np.sum(expected >= 0))
    assert screen.passed - inside < 0.5 * (Y.shape[0] - inside)
    assert screen.passed < screen.work < Y.shape[0]


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(2, 60),
    d=st.integers(1, 5),
    n_targets=st.integers(1, 8),
    neighbours=st.integers(0, 10),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_screen_equals_the_full_search_on_any_point_set(m, d, n_targets, neighbours, seed):
    rng = np.random.default_rng(seed)
    X = np.unique(np.round(rng.random((m, d)), 2), axis=0)  # rounded: near-ties and lattice points occur
    targets = np.sort(rng.choice(X.shape[0], min(n_targets, X.shape[0]), replace=False))
    Y = np.vstack([rng.random((400, d)), X[targets] + 0.02 * rng.standard_normal((targets.size, d))])
    full = _kdtree(X)
    screen = TargetScreen(X, targets, full, _kdtree, neighbours=neighbours)
    np.testing.assert_array_equal(screen(Y), _expected(full, targets, Y))


def jittered_product(seed):
    """A 2-D x 1-D x 1-D product (1200 points in [0, 1]^4) with cells of 2.5e-4 to 2e-3."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(4), np.arange(3)), -1).reshape(-1, 2)
    factors = [(grid + 0.5 + 0.9 * (rng.random(grid.shape) - 0.5)) / np.array([4, 3])]
    factors += [((np.arange(10) + 0.5 + 0.95 * (rng.random(10) - 0.5)) / 10)[:, None] for _ in range(2)]
    cells = [W.voronoi_weights(F, Box(np.zeros(F.shape[1]), np.ones(F.shape[1])), method="exact") for F in factors]
    idx = np.array(list(itertools.product(*[range(len(F)) for F in factors])))
    X = np.hstack([F[idx[:, t]] for t, F in enumerate(factors)])
    return X, np.prod([cells[t][idx[:, t]] for t in range(len(factors))], axis=0), Box(np.zeros(4), np.ones(4))


def test_screened_sampling_is_calibrated_on_known_cells(monkeypatch):
    monkeypatch.setattr(W, "_TAIL_CELLS", 0)  # screened uniform sampling alone, to the end
    z, frozen = [], []
    for seed in range(4):
        X, w, box = jittered_product(seed)
        est = W.voronoi_weights(X, box, rng=seed, full_output=True)
        assert est.unresolved.size == 0 and est.importance.size == 0
        assert abs(est.weights.sum() - 1.0) <= 1e-12
        # the screen left resolved cells behind: their shares are over fewer samples
        assert est.uniform_draws.min() < est.uniform_draws.max() == est.n_uniform == est.n_samples
        frozen.append(np.mean(est.uniform_draws < est.n_samples))
        z.append((est.weights - w) / est.stderr)
    z = np.concatenate(z)
    assert min(frozen) > 0.5  # most cells stopped counting before the end
    assert abs(z.mean()) < 0.1 and 0.8 <= z.std() <= 1.25


def test_screened_runs_with_the_tail_phase_are_reproducible_and_calibrated():
    X, w, box = jittered_product(1)
    a = W.voronoi_weights(X, box, rng=0, full_output=True)
    b = W.voronoi_weights(X, box, rng=np.random.default_rng(0), full_output=True)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.stderr, b.stderr)
    # with this seed both late phases run: the screen, then the tail phase on the last 71 cells
    assert a.importance.size > 0 and a.uniform_draws.min() < a.n_uniform
    assert np.all(a.stderr <= 0.1 * a.weights * (1 + 1e-9))
    z = (a.weights - w) / a.stderr
    assert abs(z.mean()) < 0.2 and 0.8 <= z.std() <= 1.25


def test_without_importance_the_run_is_unscreened_and_equals_a_fixed_size_run():
    X, _, box = jittered_product(2)
    est = W.voronoi_weights(X, box, rng=3, full_output=True, importance=False)
    assert np.all(est.uniform_draws == est.n_samples)
    fixed = W.voronoi_weights(X, box, n_samples=est.n_samples, rng=3)
    np.testing.assert_array_equal(est.weights, fixed)


def test_covariance_of_shares_counted_over_different_sample_sizes():
    # cell i counts the first N_i of N multinomial draws: simulate many replicates and compare the
    # empirical covariance of c_i / N_i with voronoi_weight_covariance
    p = np.array([0.5, 0.3, 0.15, 0.05])
    N = np.array([4000, 1000, 4000, 2500])
    rng = np.random.default_rng(0)
    reps = 20_000
    draws = rng.choice(4, size=(reps, N.max()), p=p)
    shares = np.stack([(draws[:, : N[i]] == i).sum(axis=1) / N[i] for i in range(4)], axis=1)
    empirical = np.cov(shares, rowvar=False)
    X = np.arange(4.0)[:, None]
    est = W.VoronoiEstimate(weights=p, stderr=np.sqrt(p * (1 - p) / N), method="brute", n_samples=4000, uniform_draws=N)
    C = voronoi_weight_covariance(X, est)
    scale = np.sqrt(np.outer(np.diag(empirical), np.diag(empirical)))
    np.testing.assert_allclose(C / scale, empirical / scale, atol=0.03)  # correlations within ~4 MC sd
    assert C[0, 1] == pytest.approx(-p[0] * p[1] / 4000) and C[1, 3] == pytest.approx(-p[1] * p[3] / 2500)


def test_screened_weights_do_not_depend_on_the_backend():
    # the screen searches the targets with the run's backend; both are exact, so the counts agree
    X, _, box = jittered_product(3)
    kd = W.voronoi_weights(X, box, method="kdtree", rng=5, full_output=True)
    brute = W.voronoi_weights(X, box, method="brute", rng=5, full_output=True)
    assert kd.uniform_draws.min() < kd.n_uniform  # screened
    np.testing.assert_array_equal(kd.weights, brute.weights)
    np.testing.assert_array_equal(kd.uniform_draws, brute.uniform_draws)


@pytest.mark.parametrize("d", [3, 12])
def test_the_screen_uses_each_targets_nearest_other_points(d):
    # the KD-tree (d <= 8) and the blocked float32 products (d > 8) find the K nearest other points
    from choicelab.estimators.voronoi_screen import _nearest_others

    X = np.random.default_rng(d).random((700, d))
    targets = np.array([0, 3, 350, 699])
    got = _nearest_others(X, targets, 10)
    dist = np.linalg.norm(X[targets][:, None, :] - X[None, :, :], axis=2)
    dist[np.arange(4), targets] = np.inf
    want = np.sort(dist, axis=1)[:, :10]
    np.testing.assert_allclose(np.sort(np.take_along_axis(dist, got, axis=1), axis=1), want, rtol=1e-5)
