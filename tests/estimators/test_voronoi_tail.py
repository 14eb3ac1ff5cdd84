"""The tail phase of precision-targeted Voronoi weights: importance sampling of the smallest cells.

Known answers: products of 1-D sets have product cells whose exact weights are the products of
the factors' interval lengths (see ``product_set`` in test_weights.py).
"""

import time

import numpy as np
import pytest

from choicelab.estimators import weights as W
from choicelab.estimators.voronoi_tail import CellMoments, tail_estimates
from choicelab.sim.regions import Box

# one squeezed point per axis: its cell is 0.02 long, so the product has cells of 8e-6, 8e-5, 8e-4 and ~1e-2
FACTOR = np.array([[0.1], [0.45], [0.47], [0.49], [0.9]])


def cube_product(d):
    X, w = _product([FACTOR] * d)
    return X, w, Box(np.zeros(d), np.ones(d))


def _product(factors):
    import itertools

    lengths = [W.voronoi_weights(F, Box([0.0], [1.0]), method="exact") for F in factors]
    idx = np.array(list(itertools.product(*[range(len(F)) for F in factors])))
    X = np.hstack([F[idx[:, t]] for t, F in enumerate(factors)])
    return X, np.prod([lengths[t][idx[:, t]] for t in range(len(factors))], axis=0)


def _uniform_then_tail(X, region, targets, seed, n_uniform=1 << 18, rel=0.1, seconds=30.0):
    rng = np.random.default_rng(seed)
    nearest = W._brute_search(X, region)
    moments = CellMoments(np.sort(targets), X.shape[1])
    counts = np.zeros(X.shape[0], dtype=np.int64)
    for _ in range(n_uniform >> 16):
        Z = region.sample(1 << 16, rng)
        cells = nearest(Z)
        counts += np.bincount(cells, minlength=X.shape[0])
        moments.add(Z, cells)
    proposal = moments.proposal(np.sort(targets), X)
    out = tail_estimates(
        X,
        region,
        W._log_volume(region),
        rng,
        nearest,
        np.sort(targets),
        proposal,
        counts,
        rel,
        time.perf_counter() + seconds,
        time.perf_counter,
    )
    return np.sort(targets), out, counts


def test_tail_estimates_are_unbiased_and_their_errors_calibrated_on_known_cells():
    X, w, region = cube_product(3)
    targets = np.argsort(w)[:13]  # the cells of 8e-6 (one) and 8e-5 (twelve)
    z = []
    for seed in range(6):
        cells, (est, se, n_drawn, n_uniform, missed), _ = _uniform_then_tail(X, region, targets, seed)
        assert not missed.any() and np.all(se <= 0.1 * est)
        assert n_uniform == int(round(0.2 * 65536)) * (n_drawn // 65536)  # the defensive share
        z.append((est - w[cells]) / se)
    z = np.concatenate(z)
    assert abs(z.mean()) < 0.35
    assert 0.75 <= z.std() <= 1.3


def test_the_tail_phase_costs_fewer_samples_than_uniform_sampling_would():
    X, w, region = cube_product(3)
    targets = np.argsort(w)[:13]
    cells, (est, se, n_drawn, _, missed), _ = _uniform_then_tail(X, region, targets, 7)
    assert not missed.any()
    # uniform sampling needs (1 - w)/(w t^2) samples for cell w at relative error t: 1.25e7 for 8e-6
    uniform_needed = (1 - w[cells].min()) / (w[cells].min() * 0.01)
    assert n_drawn < uniform_needed / 10


def test_voronoi_weights_switches_to_the_tail_phase_and_stays_calibrated():
    X, w, region = cube_product(3)
    z, tail_z = [], []
    for seed in range(3):
        est = W.voronoi_weights(X, region, rng=seed, full_output=True)
        assert est.unresolved.size == 0 and np.all(est.stderr <= 0.1 * est.weights)
        assert 0 < est.importance.size <= 128 and np.argmin(w) in est.importance
        assert abs(est.weights.sum() - 1.0) < 1e-12
        assert est.n_samples < 4_000_000  # uniform alone: 1.25e7 samples
        z.append((est.weights - w) / est.stderr)
        tail_z.append(z[-1][est.importance])
    z, tail_z = np.concatenate(z), np.concatenate(tail_z)
    assert abs(z.mean()) < 0.25 and 0.8 <= z.std() <= 1.25
    assert np.abs(tail_z).max() < 4.5


def test_importance_false_keeps_uniform_sampling_equal_to_a_fixed_run():
    X, w, region = cube_product(3)
    with pytest.warns(W.VoronoiResolutionWarning, match="not reached"):  # 2 s of uniform sampling is too short
        est = W.voronoi_weights(X, region, rng=3, full_output=True, importance=False, max_seconds=2.0)
    assert est.importance.size == 0
    fixed = W.voronoi_weights(X, region, rng=3, n_samples=est.n_samples, warn_rel_stderr=100.0)
    np.testing.assert_array_equal(est.weights, fixed)
    with pytest.raises(TypeError, match="importance must be a bool"):
        W.voronoi_weights(X, region, importance="yes")


def test_cell_moments_match_numpy_and_unseen_cells_get_the_median_spread():
    rng = np.random.default_rng(0)
    X = rng.random((20, 3))
    Z = rng.random((5000, 3))
    cells = W._exact_nearest(Z, X)
    tracked = np.array([2, 5, 11])
    m = CellMoments(tracked, 3)
    m.add(Z[:2500], cells[:2500])
    m.add(Z[2500:], cells[2500:])
    mu, sd = m.proposal(np.array([2, 5, 11, 17]), X)  # 17 is not tracked
    for row, k in enumerate(tracked):
        np.testing.assert_allclose(mu[row], Z[cells == k].mean(axis=0))
        np.testing.assert_allclose(sd[row] ** 2, 1.5 * Z[cells == k].var(axis=0, ddof=1))
    np.testing.assert_array_equal(mu[3], X[17])
    spread = np.median([Z[cells == k].var(axis=0, ddof=1) for k in tracked], axis=0)
    np.testing.assert_allclose(sd[3] ** 2, 1.5 * spread)


def test_the_weight_covariance_uses_the_tail_cells_own_errors():
    from choicelab.estimators.weight_error import voronoi_weight_covariance

    X, w, region = cube_product(3)
    est = W.voronoi_weights(X, region, rng=4, full_output=True)
    assert est.importance.size and est.n_uniform < est.n_samples
    C = voronoi_weight_covariance(X, est)
    # the shares were divided by their sum (1 within the tail's errors): the standard errors agree to that
    np.testing.assert_allclose(np.sqrt(np.diag(C)), est.stderr, rtol=1e-3)
    tail, rest = est.importance, np.setdiff1d(np.arange(len(w)), est.importance)
    assert np.all(C[np.ix_(tail, rest)] == 0.0)
    p = est.weights[rest]
    np.testing.assert_allclose(C[rest[0], rest[1]], -p[0] * p[1] / est.n_uniform, rtol=1e-3)


def _corner_proposal(self, targets, unique):
    """A proposal that misses every target: all its draws land in the far corner."""
    return np.full((targets.size, unique.shape[1]), 0.995), np.full((targets.size, unique.shape[1]), 1e-3)


def test_a_proposal_worse_than_uniform_sampling_is_abandoned(monkeypatch):
    X, w, region = cube_product(3)
    targets = np.sort(np.flatnonzero((w > 5e-4) & (w < 1e-3)))  # the 48 cells of ~8e-4
    rng = np.random.default_rng(0)
    counts = np.zeros(len(w), dtype=np.int64)
    out = tail_estimates(
        X,
        region,
        0.0,
        rng,
        W._brute_search(X, region),
        targets,
        _corner_proposal(None, targets, X),
        counts,
        0.1,
        time.perf_counter() + 60,
        time.perf_counter,
    )
    est, se, n_drawn, n_uniform, missed = out
    assert missed is None  # gave up: only the uniform fifth of the draws can hit the targets
    assert n_drawn < 10 * 65536 and counts.sum() == n_uniform  # the uniform draws were all counted
    # the whole call then goes on uniformly, and its weights are the uniform counts' (calibrated)
    monkeypatch.setattr(CellMoments, "proposal", _corner_proposal)
    est = W.voronoi_weights(X, region, rng=1, full_output=True, max_seconds=60.0)
    assert est.importance.size == 0 and est.unresolved.size == 0
    assert est.n_uniform < est.n_samples  # the abandoned importance draws are counted, not used
    np.testing.assert_allclose(est.weights * est.n_uniform, np.round(est.weights * est.n_uniform), atol=1e-6)
    z = (est.weights - w) / est.stderr
    assert abs(z.mean()) < 0.3 and 0.75 <= z.std() <= 1.3


def test_counting_only_the_targets_needs_a_screen():
    X, _, region = cube_product(3)
    targets = np.array([0, 1])
    with pytest.raises(ValueError, match="count_all=False needs subset_search"):
        tail_estimates(
            X,
            region,
            0.0,
            np.random.default_rng(0),
            W._brute_search(X, region),
            targets,
            (X[targets], np.full((2, 3), 0.01)),
            np.zeros(X.shape[0], dtype=np.int64),
            0.1,
            time.perf_counter() + 5,
            time.perf_counter,
            count_all=False,
        )
