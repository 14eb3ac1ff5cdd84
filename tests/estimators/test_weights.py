"""Voronoi weights and radius-graph weights (contract §2 "Voronoi weights", "Alternative weightings")."""

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from choicelab.estimators.weights import (
    DEFAULT_N_SAMPLES,
    VoronoiEstimate,
    VoronoiResolutionWarning,
    _brute_search,
    _exact_nearest,
    _kdtree_search,
    inverse_kde_weights,
    radius_graph_weights,
    voronoi_weights,
)
from choicelab.sim.regions import Ball, Box

HYP = settings(max_examples=40, deadline=None)


# ---------------------------------------------------------------------------------------------
# Independent references
# ---------------------------------------------------------------------------------------------


def scanline_cell_areas(P, lo, hi):
    """Exact areas of the Voronoi cells of distinct 2-D points clipped to a box, by scanlines.

    On the horizontal line at height y, the part of the box nearest to p_i is an interval
    {x : a_j x <= b_j(y) for all j}, whose end points are linear in y between the candidate
    breakpoints (circumcentres of triples, bisector crossings of the box's vertical sides,
    horizontal bisectors). The midpoint rule is exact on each linear piece.
    """
    P = np.asarray(P, dtype=float)
    k = len(P)
    ys = [lo[1], hi[1]]
    for i, j in itertools.combinations(range(k), 2):
        (xi, yi), (xj, yj) = P[i], P[j]
        if xi == xj:
            ys.append((yi + yj) / 2)
        elif yi != yj:
            c = xj**2 + yj**2 - xi**2 - yi**2
            for xs in (lo[0], hi[0]):
                ys.append((c - 2 * (xj - xi) * xs) / (2 * (yj - yi)))
    for i, j, l in itertools.combinations(range(k), 3):
        A = 2 * np.array([P[j] - P[i], P[l] - P[i]])
        if abs(np.linalg.det(A)) > 1e-14:
            b = np.array([P[j] @ P[j] - P[i] @ P[i], P[l] @ P[l] - P[i] @ P[i]])
            ys.append(np.linalg.solve(A, b)[1])
    ys = np.unique(np.clip(ys, lo[1], hi[1]))
    areas = np.zeros(k)
    for y0, y1 in zip(ys[:-1], ys[1:]):
        y = 0.5 * (y0 + y1)
        for i in range(k):
            left, right = lo[0], hi[0]
            for j in range(k):
                if j == i:
                    continue
                a = 2 * (P[j, 0] - P[i, 0])
                b = P[j, 0] ** 2 - P[i, 0] ** 2 + (y - P[j, 1]) ** 2 - (y - P[i, 1]) ** 2
                if a > 0:
                    right = min(right, b / a)
                elif a < 0:
                    left = max(left, b / a)
                elif b < 0:
                    right = left  # p_j is strictly nearer on this whole line
            areas[i] += max(0.0, right - left) * (y1 - y0)
    return areas


def brute_radius_graph_weights(X, alpha):
    """[BW] weights by brute force: classes from explicit neighbourhood tuples on each interval."""
    X = np.asarray(X, dtype=float).reshape(len(X), -1)
    m = len(X)
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    cuts = np.unique(np.concatenate(([0.0], D[D < alpha], [alpha])))
    total = np.zeros(m)
    for r0, r1 in zip(cuts[:-1], cuts[1:]):
        r = 0.5 * (r0 + r1)
        hoods = [tuple(np.flatnonzero(D[i] <= r)) for i in range(m)]
        classes = {h: hoods.count(h) for h in hoods}
        total += (r1 - r0) * np.array([1.0 / (len(classes) * classes[h]) for h in hoods])
    return total / alpha


# ---------------------------------------------------------------------------------------------
# Exact method: known answers
# ---------------------------------------------------------------------------------------------


def test_exact_1d_midpoints_by_hand():
    # cells [0, 1], [1, 2.25], [2.25, 4] of the box [0, 4]; input order need not be sorted
    w = voronoi_weights([[3.0], [0.5], [1.5]], Box([0.0], [4.0]), method="exact")
    np.testing.assert_allclose(w, [1.75 / 4, 1 / 4, 1.25 / 4], rtol=0, atol=1e-15)


def test_exact_1d_ball_and_points_outside():
    # Ball([1], 2) is [-1, 3]; 5 is outside and owns [2.75, 3]
    w = voronoi_weights(np.array([0.0, 0.5, 5.0]), Ball([1.0], 2.0), method="exact")
    np.testing.assert_allclose(w, [1.25 / 4, 2.5 / 4, 0.25 / 4], atol=1e-15)
    # a point beyond another point outside the box gets an empty cell
    w = voronoi_weights([[0.5], [3.0], [7.0]], Box([0.0], [1.0]), method="exact")
    np.testing.assert_array_equal(w, [1.0, 0.0, 0.0])


def test_exact_2d_rectilinear_grid_cells_are_products_of_1d_cells():
    xs, ys = [0.5, 1.5, 3.0], [1.0, 2.5]
    X = np.array([(x, y) for x in xs for y in ys])
    w = voronoi_weights(X, Box([0.0, 0.0], [4.0, 3.0]), method="exact")
    widths = {0.5: 1.0, 1.5: 1.25, 3.0: 1.75}
    heights = {1.0: 1.75, 2.5: 1.25}
    expected = [widths[x] * heights[y] / 12.0 for x, y in X]
    np.testing.assert_allclose(w, expected, atol=1e-14)


def test_exact_2d_cell_centre_grid_has_equal_cells():
    # cocircular points everywhere: every cell is the unit square around its point
    X = np.array([(i + 0.5, j + 0.5) for i in range(5) for j in range(4)])
    w = voronoi_weights(X, Box([0, 0], [5, 4]), method="exact")
    np.testing.assert_allclose(w, np.full(20, 1 / 20), atol=1e-14)


def test_exact_2d_integer_grid_known_boundary_cells():
    # points on the integer grid of [0, 4]^2: interior cells 1, edge cells 1/2, corners 1/4
    X = np.array([(i, j) for i in range(5) for j in range(5)], dtype=float)
    w = voronoi_weights(X, Box([0, 0], [4, 4]), method="exact")
    on_edge = (X == 0) | (X == 4)
    expected = 0.5 ** on_edge.sum(axis=1) / 16
    np.testing.assert_allclose(w, expected, atol=1e-14)


def test_exact_2d_small_configurations():
    box = Box([0, 0], [1, 1])
    np.testing.assert_array_equal(voronoi_weights([[0.3, 0.7]], box), [1.0])
    # two points: the bisector x = 0.4
    np.testing.assert_allclose(voronoi_weights([[0.2, 0.1], [0.6, 0.1]], box), [0.4, 0.6], atol=1e-15)
    # collinear points on the diagonal: strips x + y = const
    X = np.c_[np.linspace(0, 1, 5), np.linspace(0, 1, 5)]
    np.testing.assert_allclose(voronoi_weights(X, box), [1 / 32, 1 / 4, 7 / 16, 1 / 4, 1 / 32], atol=1e-14)
    # collinear points on a vertical line outside the box: horizontal strips
    X = [[5.0, 0.0], [5.0, 0.5], [5.0, 2.0]]
    np.testing.assert_allclose(voronoi_weights(X, box), [0.25, 0.75, 0.0], atol=1e-15)


@pytest.mark.parametrize("seed", range(6))
def test_exact_2d_matches_scanline_reference(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 10))
    lo, hi = np.array([-1.0, 0.5]), np.array([2.0, 1.5])
    X = rng.uniform(lo - 0.3, hi + 0.3, size=(m, 2))  # some points outside the box
    if seed % 3 == 0:
        X[: m // 2, 1] = 0.9  # collinear subset
    expected = scanline_cell_areas(X, lo, hi) / 3.0
    w = voronoi_weights(X, Box(lo, hi), method="exact")
    np.testing.assert_allclose(w, expected, atol=1e-10)
    assert abs(expected.sum() - 1) < 1e-10  # the reference itself partitions the box


def test_exact_2d_many_points_sum_to_one_and_match_monte_carlo():
    rng = np.random.default_rng(11)
    X = rng.random((3000, 2)) ** 2  # uneven density, many small cells
    box = Box([0, 0], [1, 1])
    w = voronoi_weights(X, box, method="exact")
    assert abs(w.sum() - 1) < 1e-10 and w.min() > 0
    # the largest cells, checked against Monte Carlo
    with pytest.warns(VoronoiResolutionWarning, match="inside the region got no sample"):
        mc = voronoi_weights(X, box, method="kdtree", n_samples=400_000, rng=1, full_output=True)
    big = np.argsort(w)[-20:]
    assert np.all(np.abs(mc.weights[big] - w[big]) <= 4 * mc.stderr[big])


# ---------------------------------------------------------------------------------------------
# Monte Carlo
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("backend", ["kdtree", "brute"])
def test_monte_carlo_within_four_standard_errors_of_exact(seed, backend):
    rng = np.random.default_rng(100 + seed)
    lo, hi = np.array([-1.0, 0.0]), np.array([2.0, 1.0])
    X = rng.uniform(lo - 0.2, hi + 0.2, size=(int(rng.integers(2, 9)), 2))
    exact = scanline_cell_areas(X, lo, hi) / 3.0
    est = voronoi_weights(X, Box(lo, hi), method=backend, n_samples=100_000, rng=seed, full_output=True)
    assert est.method == backend and est.n_samples == 100_000
    np.testing.assert_allclose(est.stderr, np.sqrt(est.weights * (1 - est.weights) / 100_000))
    assert np.all(np.abs(est.weights - exact) <= 4 * est.stderr + 1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_monte_carlo_1d_within_four_standard_errors(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.5, 3.5, size=(6, 1))
    region = Ball([1.0], 2.0)
    exact = voronoi_weights(X, region, method="exact")
    est = voronoi_weights(X, region, method="monte_carlo", n_samples=50_000, rng=seed, full_output=True)
    assert np.all(np.abs(est.weights - exact) <= 4 * est.stderr + 1e-12)


def test_ball_symmetric_points_get_equal_weights():
    # +-e_k in the unit ball of R^3: six congruent cells
    X = np.vstack([np.eye(3), -np.eye(3)]) * 0.5
    est = voronoi_weights(X, Ball(np.zeros(3), 1.0), n_samples=120_000, rng=3, full_output=True)
    assert np.all(np.abs(est.weights - 1 / 6) <= 4 * est.stderr)
    # regular pentagon in a 2-D ball
    t = 2 * np.pi * np.arange(5) / 5
    X = 0.4 * np.c_[np.cos(t), np.sin(t)] + [1.0, -2.0]
    est = voronoi_weights(X, Ball([1.0, -2.0], 2.0), n_samples=100_000, rng=4, full_output=True)
    assert est.method == "kdtree"
    assert np.all(np.abs(est.weights - 0.2) <= 4 * est.stderr)
    # the centre point of a ball of radius 1 with a point at distance 1: a half-disc... minus a cap
    # of the half-plane x <= 1/2: area of {|z| <= 1, z_x >= 1/2} = pi/3 - sqrt(3)/4
    est = voronoi_weights([[0.0, 0.0], [1.0, 0.0]], Ball([0.0, 0.0], 1.0), n_samples=100_000, rng=5, full_output=True)
    cap = (np.pi / 3 - np.sqrt(3) / 4) / np.pi
    assert abs(est.weights[1] - cap) <= 4 * est.stderr[1]


@pytest.mark.parametrize("d", [2, 5, 12, 32])
def test_kdtree_and_brute_give_identical_assignments(d):
    rng = np.random.default_rng(d)
    region = Box(np.full(d, 100.0), np.full(d, 101.0))  # far from the origin: float32 cancellation
    X = region.sample(300, rng)
    Z = region.sample(20_000, rng)
    kd = _kdtree_search(X)(Z)
    np.testing.assert_array_equal(_brute_search(X, region)(Z), kd)
    np.testing.assert_array_equal(_brute_search(X, region, dtype=np.float64)(Z), kd)
    np.testing.assert_array_equal(_exact_nearest(Z[:500], X), kd[:500])
    # and through the public function, with the same samples
    w_kd = voronoi_weights(X, region, method="kdtree", n_samples=20_000, rng=7, warn_rel_stderr=100.0)
    w_bf = voronoi_weights(X, region, method="brute", n_samples=20_000, rng=7, warn_rel_stderr=100.0)
    np.testing.assert_array_equal(w_kd, w_bf)


def test_brute_float32_resolves_near_ties_in_float64():
    # samples 1e-9 either side of the bisector of two points: float32 alone cannot tell them apart
    d = 8
    X = np.zeros((2, d)) + 50.0
    X[1, 0] += 1.0
    side = np.repeat([-1.0, 1.0], 50) * 1e-9 * (1 + np.arange(100) % 7)
    Z = np.tile(X.mean(axis=0), (100, 1))
    Z[:, 0] += side
    Z[:, 1:] += np.linspace(-0.3, 0.3, 100)[:, None]
    expected = (side > 0).astype(int)
    np.testing.assert_array_equal(_brute_search(X)(Z), expected)
    np.testing.assert_array_equal(_kdtree_search(X)(Z), expected)


def test_exact_duplicates_split_the_original_cell_evenly():
    rng = np.random.default_rng(5)
    X = rng.random((6, 2))
    box = Box([0, 0], [1, 1])
    X3 = np.vstack([X, X[[2, 2]]])  # two more copies of point 2 (three in all)
    for method in ("exact", "kdtree", "brute"):
        w = voronoi_weights(X, box, method=method, n_samples=50_000, rng=9)
        w3 = voronoi_weights(X3, box, method=method, n_samples=50_000, rng=9)
        # the same samples fall in the same merged cell, so even Monte Carlo splits it exactly
        np.testing.assert_array_equal(w3[[0, 1, 3, 4, 5]], w[[0, 1, 3, 4, 5]])
        np.testing.assert_allclose(w3[[2, 6, 7]], w[2] / 3, rtol=1e-15)
        assert abs(w3[[2, 6, 7]].sum() - w[2]) < 1e-15
    # stderr of a copy is the merged cell's divided by the number of copies
    est = voronoi_weights(X3, box, method="kdtree", n_samples=50_000, rng=9, full_output=True)
    p = 3 * est.weights[2]
    np.testing.assert_allclose(est.stderr[[2, 6, 7]], np.sqrt(p * (1 - p) / 50_000) / 3)


def test_exact_duplicates_in_high_dimension_share_the_cell():
    rng = np.random.default_rng(8)
    X = rng.random((20, 16))
    X2 = np.vstack([X[:1], X])  # duplicate of point 0 placed first
    region = Box(np.zeros(16), np.ones(16))
    w = voronoi_weights(X, region, n_samples=20_000, rng=2, warn_rel_stderr=100.0)
    w2 = voronoi_weights(X2, region, n_samples=20_000, rng=2, warn_rel_stderr=100.0)
    np.testing.assert_array_equal(w2[2:], w[1:])
    assert w2[0] == w2[1] == w[0] / 2


def test_same_seed_same_weights_and_generator_equals_int_seed():
    rng = np.random.default_rng(0)
    X = rng.random((10, 3))
    region = Box(np.zeros(3), np.ones(3))
    a = voronoi_weights(X, region, n_samples=30_000, rng=42)
    b = voronoi_weights(X, region, n_samples=30_000, rng=np.random.default_rng(42))
    c = voronoi_weights(X, region, n_samples=30_000, rng=43)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # the sample size is honoured across chunk boundaries
    est = voronoi_weights(X, region, n_samples=70_001, rng=1, full_output=True)
    assert est.n_samples == 70_001
    counts = est.weights * 70_001
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)
    assert round(counts.sum()) == 70_001


def test_small_cell_warning_fires_when_cells_are_unresolved():
    rng = np.random.default_rng(1)
    region = Box(np.zeros(10), np.ones(10))
    with pytest.warns(VoronoiResolutionWarning, match="n_samples=2000"):
        voronoi_weights(rng.random((300, 10)), region, n_samples=2000, rng=0)
    # one tiny cell inside the region gets no sample
    X = [[0.5, 0.5], [0.5 + 1e-4, 0.5], [0.5 - 1e-4, 0.5], [0.5, 0.5 + 1e-4], [0.5, 0.5 - 1e-4]]
    with pytest.warns(VoronoiResolutionWarning, match="1 inside the region got no sample"):
        voronoi_weights(X, Ball([0.5, 0.5], 1.0), n_samples=5000, rng=0)
    # well-resolved cells, or an empty cell of a point outside the region: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        voronoi_weights([[0.2, 0.2], [0.8, 0.8], [9.0, 9.0]], Ball([0.5, 0.5], 0.5), n_samples=20_000, rng=0)
        voronoi_weights(rng.random((5, 3)), Box(np.zeros(3), np.ones(3)), n_samples=20_000, rng=0)


def test_auto_method_choice_and_full_output():
    rng = np.random.default_rng(2)
    est = voronoi_weights(rng.random((5, 2)), Box([0, 0], [1, 1]), full_output=True)
    assert isinstance(est, VoronoiEstimate)
    assert est.method == "exact" and est.n_samples == 0
    np.testing.assert_array_equal(est.stderr, np.zeros(5))
    est = voronoi_weights(rng.random((5, 1)), Ball([0.5], 0.5), full_output=True)
    assert est.method == "exact"
    # KD-tree up to d = max(2, 4 log10(m) - 4) distinct points, blocked matrix products above
    cube = Box(np.zeros(3), np.ones(3))
    with pytest.warns(VoronoiResolutionWarning):  # far fewer samples than points
        est = voronoi_weights(rng.random((2000, 3)), cube, n_samples=1000, rng=0, full_output=True)
        assert est.method == "kdtree" and est.n_samples == 1000
        X = rng.random((1000, 9))
        X[500:] = X[:500]  # 500 distinct points: 4 log10(500) - 4 = 6.8 < 9
        est = voronoi_weights(X, Box(np.zeros(9), np.ones(9)), n_samples=1000, rng=0, full_output=True)
        assert est.method == "brute"
        est = voronoi_weights(
            rng.random((20_000, 9)), Box(np.zeros(9), np.ones(9)), n_samples=100, rng=0, full_output=True
        )
    assert est.method == "kdtree"
    est = voronoi_weights(
        rng.random((5, 32)),
        Box(np.zeros(32), np.ones(32)),
        n_samples=1000,
        rng=0,
        full_output=True,
        warn_rel_stderr=100.0,
    )
    assert est.method == "brute"
    est = voronoi_weights(rng.random((5, 3)), Box(np.zeros(3), np.ones(3)), rng=0, full_output=True)
    # n_samples=None is precision-targeted: one chunk already puts > 100 samples in each of 5 cells
    assert est.n_samples == 65536 and est.rel_stderr == 0.1 and est.unresolved.size == 0
    assert np.all(est.stderr <= 0.1 * est.weights)
    assert est.method == "brute"  # 5 points in 3-D: below the KD-tree's crossover
    cube = Box(np.zeros(3), np.ones(3))
    est = voronoi_weights(rng.random((5, 3)), cube, n_samples=DEFAULT_N_SAMPLES, rng=0, full_output=True)
    assert est.n_samples == DEFAULT_N_SAMPLES == 200_000 and est.rel_stderr is None


# ---------------------------------------------------------------------------------------------
# Precision-targeted Monte Carlo (n_samples=None)
# ---------------------------------------------------------------------------------------------


def product_set(factors, lo, hi):
    """Cartesian product of low-dimensional point sets and its exact Voronoi weights.

    ||z - x||^2 is the sum of the factors' squared distances, so the nearest product point
    is the product of the factors' nearest points: each cell is the product of the factors'
    cells (2-D factors give cells that are not axis-aligned) and its weight the product of
    the factors' exact weights.
    """
    weights = [voronoi_weights(F, Box(lo[: F.shape[1]], hi[: F.shape[1]]), method="exact") for F in factors]
    idx = np.array(list(itertools.product(*[range(len(F)) for F in factors])))
    X = np.hstack([F[idx[:, t]] for t, F in enumerate(factors)])
    w = np.prod([weights[t][idx[:, t]] for t in range(len(factors))], axis=0)
    return X, w


def test_product_set_reference_matches_the_exact_2d_method():
    # an independent check of the known-answer construction: a 1-D x 1-D product is a 2-D set
    rng = np.random.default_rng(0)
    X, w = product_set([rng.random((4, 1)), rng.random((3, 1))], np.zeros(2), np.ones(2))
    np.testing.assert_allclose(voronoi_weights(X, Box([0, 0], [1, 1]), method="exact"), w, atol=1e-12)


def test_targeted_run_equals_the_fixed_run_with_as_many_samples():
    rng = np.random.default_rng(3)
    X = rng.random((300, 5))
    region = Box(np.zeros(5), np.ones(5))
    # uniform sampling to the end (the tail phase would estimate the last cells differently)
    est = voronoi_weights(X, region, rng=11, full_output=True, importance=False)
    assert est.n_samples % 65536 == 0 and est.n_samples > 65536  # it needed several chunks
    fixed = voronoi_weights(X, region, n_samples=est.n_samples, rng=11)
    np.testing.assert_array_equal(est.weights, fixed)
    rel = est.stderr / est.weights
    assert rel.max() <= 0.1
    # it stopped at the first chunk that met the target: one chunk fewer misses it
    est_prev = voronoi_weights(X, region, n_samples=est.n_samples - 65536, rng=11, full_output=True)
    assert (est_prev.stderr / est_prev.weights).max() > 0.1
    np.testing.assert_allclose(est.tv_error, 0.5 * np.sqrt(2 / np.pi) * est.stderr.sum())


@pytest.mark.parametrize(
    "shape",
    [
        ("2-D x 2-D", [(9, 2), (9, 2)]),  # 81 cells in 4-D, not axis-aligned
        ("1-D^5", [(2, 1)] * 3 + [(3, 1)] * 2),  # 72 box cells in 5-D, weights over two orders of magnitude
    ],
    ids=lambda s: s[0],
)
def test_targeted_errors_are_calibrated_on_known_answers(shape):
    _, dims = shape
    d = sum(c for _, c in dims)
    z = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        X, w = product_set([rng.random(s) for s in dims], np.zeros(d), np.ones(d))
        est = voronoi_weights(X, Box(np.zeros(d), np.ones(d)), rng=seed, full_output=True)
        assert est.unresolved.size == 0 and np.all(est.stderr <= 0.1 * est.weights)
        z.append((est.weights - w) / est.stderr)
        # the reported total-variation error is the right size
        tv = 0.5 * np.abs(est.weights - w).sum()
        assert 0.5 <= tv / est.tv_error <= 2.0
    z = np.concatenate(z)
    assert abs(z.mean()) < 0.25
    assert 0.8 <= z.std() <= 1.25


def test_targeted_warns_with_the_cells_that_missed_when_time_runs_out():
    rng = np.random.default_rng(1)
    X = rng.random((400, 10)) ** 3  # crowded near the origin: tiny cells there
    X[399] = X[0]  # a duplicate: both copies are listed
    region = Box(np.zeros(10), np.ones(10))
    with pytest.warns(VoronoiResolutionWarning, match=r"rel_stderr=0.1 not reached within max_seconds=1e-09") as rec:
        est = voronoi_weights(X, region, rng=0, full_output=True, max_seconds=1e-9)
    assert est.n_samples == 65536  # one chunk, then the budget is spent
    rel = np.where(est.weights > 0, est.stderr / np.where(est.weights > 0, est.weights, 1), np.inf)
    missed = np.flatnonzero(rel > 0.1)
    np.testing.assert_array_equal(est.unresolved, missed)
    assert f"({missed.size} points) missed it" in str(rec[0].message)
    assert (0 in est.unresolved) == (399 in est.unresolved)  # copies share the verdict
    # an unsampled cell reports the Good-Turing root-mean-square share sqrt(2 n_2 / U) / N, not zero
    counts = np.rint(est.weights * 65536 * np.where(np.isin(np.arange(400), [0, 399]), 2, 1))
    cells = np.delete(counts, 399)  # distinct cells (399 copies 0)
    U, n2 = np.sum(cells == 0), np.sum(cells == 2)
    empty = np.flatnonzero(est.weights == 0)
    assert empty.size > 0 and n2 > 0
    copies = np.where(np.isin(empty, [0, 399]), 2, 1)
    np.testing.assert_allclose(est.stderr[empty], np.sqrt(2 * n2 / U) / 65536 / copies)


def test_targeted_duplicates_split_and_points_outside_are_exempt():
    rng = np.random.default_rng(4)
    X = rng.random((8, 3))
    region = Box(np.zeros(3), np.ones(3))
    w = voronoi_weights(X, region, rng=5)
    w2 = voronoi_weights(np.vstack([X, X[[3]], [[50.0, 50.0, 50.0]]]), region, rng=5)
    np.testing.assert_array_equal(w2[[0, 1, 2, 4, 5, 6, 7]], w[[0, 1, 2, 4, 5, 6, 7]])
    assert w2[3] == w2[8] == w[3] / 2 and w2[9] == 0.0  # the far point's cell is empty: no warning


def test_adding_a_point_changes_only_its_voronoi_neighbours_counts():
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(6)
    X = rng.random((40, 3))
    new = np.array([[0.5, 0.5, 0.5]])
    region = Box(np.zeros(3), np.ones(3))
    n = 2 * 65536
    w = voronoi_weights(X, region, n_samples=n, rng=8)
    w_new = voronoi_weights(np.vstack([X, new]), region, n_samples=n, rng=8)
    changed = np.flatnonzero(w_new[:40] != w)
    tri = Delaunay(np.vstack([X, new]))
    indptr, indices = tri.vertex_neighbor_vertices
    neighbours = set(indices[indptr[40] : indptr[41]].tolist())
    assert changed.size > 0 and set(changed.tolist()) <= neighbours
    # the new cell is made of exactly the samples its neighbours lost
    assert round(w_new[40] * n) == round((w[changed] - w_new[changed]).sum() * n)


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

coord = st.floats(-0.5, 1.5, allow_nan=False, allow_subnormal=False)
grid_coord = st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.25])  # duplicates, collinear, cocircular
point2 = st.tuples(st.one_of(coord, grid_coord), st.one_of(coord, grid_coord))
# multiples of 1/64: moving and scaling by powers of two and multiples of 1/64 is exact in floating
# point, so no two distinct points collapse into one (which would change the weights)
dyadic = st.integers(-32, 96).map(lambda k: k / 64)
scales = st.sampled_from([0.25, 0.5, 2.0, 8.0])
shifts = st.integers(-320, 320).map(lambda k: k / 64)


@HYP
@given(pts=st.lists(point2, min_size=1, max_size=12), data=st.data())
def test_exact_2d_properties(pts, data):
    X = np.array(pts)
    box = Box([0.0, 0.0], [1.0, 1.0])
    w = voronoi_weights(X, box, method="exact")
    assert w.shape == (len(X),) and np.all(w >= 0)
    assert abs(w.sum() - 1) < 1e-9
    # permutation equivariance
    perm = np.array(data.draw(st.permutations(range(len(X)))))
    np.testing.assert_allclose(voronoi_weights(X[perm], box, method="exact"), w[perm], atol=1e-12)
    # copies share equally
    for key in {tuple(p) for p in X}:
        same = np.all(X == key, axis=1)
        assert np.ptp(w[same]) <= 1e-15


@HYP
@given(pts=st.lists(st.tuples(dyadic, dyadic), min_size=1, max_size=12), a=scales, b=st.tuples(shifts, shifts))
def test_exact_2d_translation_and_scale_equivariance(pts, a, b):
    X, b = np.array(pts), np.array(b)
    box = Box([0.0, 0.0], [1.0, 1.0])
    w = voronoi_weights(X, box, method="exact")
    moved = Box(a * box.lo + b, a * box.hi + b)
    np.testing.assert_allclose(voronoi_weights(a * X + b, moved, method="exact"), w, atol=1e-12)


@HYP
@given(pts=st.lists(st.one_of(coord, grid_coord), min_size=1, max_size=12), data=st.data())
def test_exact_1d_properties(pts, data):
    X = np.array(pts)[:, None]
    box = Box([0.0], [1.0])
    w = voronoi_weights(X, box)
    assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-12
    perm = np.array(data.draw(st.permutations(range(len(X)))))
    np.testing.assert_allclose(voronoi_weights(X[perm], box), w[perm], atol=1e-15)
    # the 2-D method on a strip agrees with the 1-D method
    X2 = np.c_[X, np.full(len(X), 0.5)]
    np.testing.assert_allclose(voronoi_weights(X2, Box([0.0, 0.0], [1.0, 1.0])), w, atol=1e-12)


@HYP
@given(pts=st.lists(dyadic, min_size=1, max_size=12), a=scales, b=shifts)
def test_exact_1d_translation_and_scale_equivariance(pts, a, b):
    X = np.array(pts)[:, None]
    w = voronoi_weights(X, Box([0.0], [1.0]))
    np.testing.assert_allclose(voronoi_weights(a * X + b, Box([b], [a + b])), w, atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(
    m=st.integers(1, 12),
    d=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    backend=st.sampled_from(["kdtree", "brute"]),
    data=st.data(),
)
def test_monte_carlo_properties(m, d, seed, backend, data):
    rng = np.random.default_rng(seed)
    X = rng.random((m, d))
    if m > 2:
        X[-1] = X[0]
    region = Box(np.zeros(d), np.ones(d))
    n = 4000
    w = voronoi_weights(X, region, method=backend, n_samples=n, rng=seed, warn_rel_stderr=1e9)
    assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-12
    # permutation: the merged points are sorted, so the same samples give the same counts
    perm = np.array(data.draw(st.permutations(range(m))))
    wp = voronoi_weights(X[perm], region, method=backend, n_samples=n, rng=seed, warn_rel_stderr=1e9)
    np.testing.assert_array_equal(wp, w[perm])
    # moving the box with the points moves the samples with them (up to rounding at near-ties)
    moved = Box(2.0 * region.lo + 3.0, 2.0 * region.hi + 3.0)
    wm = voronoi_weights(2.0 * X + 3.0, moved, method=backend, n_samples=n, rng=seed, warn_rel_stderr=1e9)
    assert np.abs(wm - w).max() <= 2.0 / n


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def test_voronoi_validation():
    box = Box([0, 0], [1, 1])
    with pytest.raises(ValueError, match="'auto', 'exact', 'monte_carlo', 'kdtree', 'brute'.*'voronoi'"):
        voronoi_weights([[0.5, 0.5]], box, method="voronoi")
    with pytest.raises(ValueError, match=r"X must be finite, got X\[1, 0\] = nan"):
        voronoi_weights([[0.5, 0.5], [np.nan, 0.1]], box)
    with pytest.raises(ValueError, match="3 columns but the region is 2-D"):
        voronoi_weights(np.zeros((4, 3)), box)
    with pytest.raises(ValueError, match="at least one point"):
        voronoi_weights(np.zeros((0, 2)), box)
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        voronoi_weights(np.zeros(4), box)
    with pytest.raises(TypeError, match="real numeric"):
        voronoi_weights([["a", "b"]], box)
    for bad in (0, -5):
        with pytest.raises(ValueError, match=f"n_samples must be a positive int, got {bad}"):
            voronoi_weights([[0.5, 0.5]], box, n_samples=bad)
    for bad in (1.5, True, "100"):
        with pytest.raises(TypeError, match="n_samples must be a positive int"):
            voronoi_weights([[0.5, 0.5]], box, n_samples=bad)
    with pytest.raises(ValueError, match="method='exact' needs a 1-D region or a 2-D Box, got a 3-D Box"):
        voronoi_weights(np.zeros((2, 3)), Box(np.zeros(3), np.ones(3)), method="exact")
    with pytest.raises(ValueError, match="2-D Ball"):
        voronoi_weights(np.zeros((2, 2)), Ball([0, 0], 1), method="exact")
    with pytest.raises(TypeError, match="region must be a Box, a Ball"):
        voronoi_weights([[0.5, 0.5]], (0, 1))
    with pytest.raises(TypeError, match="rng must be"):
        voronoi_weights(np.zeros((2, 3)), Box(np.zeros(3), np.ones(3)), rng="seed")
    with pytest.raises(ValueError, match="warn_rel_stderr must be positive"):
        voronoi_weights([[0.5, 0.5]], box, warn_rel_stderr=0.0)
    with pytest.raises(ValueError, match="rel_stderr must be positive and finite, got -0.1"):
        voronoi_weights([[0.5, 0.5]], box, rel_stderr=-0.1)
    with pytest.raises(ValueError, match="max_seconds must be positive and finite, got inf"):
        voronoi_weights([[0.5, 0.5]], box, max_seconds=float("inf"))
    with pytest.raises(TypeError, match="max_seconds must be a positive real number, got '60'"):
        voronoi_weights([[0.5, 0.5]], box, max_seconds="60")


# ---------------------------------------------------------------------------------------------
# Radius-graph weights [BW]
# ---------------------------------------------------------------------------------------------


def test_radius_graph_three_points_by_hand():
    X = [0.0, 1.0, 3.0]
    # w^CU: (1/3,1/3,1/3) on [0,1); (1/4,1/4,1/2) on [1,2); (1/3,1/3,1/3) on [2, alpha)
    np.testing.assert_allclose(radius_graph_weights(X, 4.0), [5 / 16, 5 / 16, 3 / 8], atol=1e-15)
    np.testing.assert_allclose(radius_graph_weights(X, 2.5), [0.3, 0.3, 0.4], atol=1e-15)
    np.testing.assert_allclose(radius_graph_weights(X, 0.5), [1 / 3] * 3, atol=1e-15)
    np.testing.assert_allclose(radius_graph_weights(X, 100.0), [0.3325, 0.3325, 0.335], atol=1e-15)
    # the same points embedded in 2-D, rotated
    c, s = np.cos(0.7), np.sin(0.7)
    X2 = np.outer(X, [c, s]) + [1.0, -2.0]
    np.testing.assert_allclose(radius_graph_weights(X2, 4.0), [5 / 16, 5 / 16, 3 / 8], atol=1e-14)


@pytest.mark.parametrize("seed", range(4))
def test_radius_graph_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 4, size=(9, 2)).astype(float)  # many equal distances and duplicates
    for alpha in (0.5, 1.2, 2.0, 10.0):
        np.testing.assert_allclose(radius_graph_weights(X, alpha), brute_radius_graph_weights(X, alpha), atol=1e-13)
    Y = rng.random((12, 3))
    np.testing.assert_allclose(radius_graph_weights(Y, 0.7), brute_radius_graph_weights(Y, 0.7), atol=1e-13)


def test_radius_graph_exact_clone_splits_weight():
    X = np.array([[0.0, 0.0], [1.0, 0.2], [0.3, 1.4], [2.0, 2.0]])
    alpha = 0.9  # below the distance from point 0 to every other point
    w = radius_graph_weights(X, alpha)
    for copies in (1, 3):
        Xc = np.vstack([X] + [X[:1]] * copies)
        wc = radius_graph_weights(Xc, alpha)
        np.testing.assert_allclose(wc[1:4], w[1:4], atol=1e-15)
        np.testing.assert_allclose(wc[[0, *range(4, 4 + copies)]], w[0] / (copies + 1), atol=1e-15)


@HYP
@given(pts=st.lists(st.tuples(grid_coord, coord), min_size=1, max_size=10), alpha=st.floats(0.01, 3.0), data=st.data())
def test_radius_graph_properties(pts, alpha, data):
    X = np.array(pts)
    w = radius_graph_weights(X, alpha)
    assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-12
    perm = np.array(data.draw(st.permutations(range(len(X)))))
    np.testing.assert_allclose(radius_graph_weights(X[perm], alpha), w[perm], atol=1e-13)
    np.testing.assert_allclose(radius_graph_weights(4.0 * X - 1.0, 4.0 * alpha), w, atol=1e-12)
    for key in {tuple(p) for p in X}:
        same = np.all(X == key, axis=1)
        assert np.ptp(w[same]) <= 1e-15


def test_radius_graph_midpoint_rule_within_its_error_bound():
    rng = np.random.default_rng(3)
    X = rng.random((15, 2))
    alpha = 0.6
    exact = radius_graph_weights(X, alpha)
    dists = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))[np.triu_indices(15, 1)]
    for n in (10, 100, 1000):
        h = alpha / n
        touched = np.unique(np.floor(dists[dists < alpha] / h)).size  # intervals holding a breakpoint
        quad = radius_graph_weights(X, alpha, n_radii=n)
        assert abs(quad.sum() - 1) < 1e-12
        assert np.abs(quad - exact).max() <= touched * h / alpha
    assert np.abs(radius_graph_weights(X, alpha, n_radii=1000) - exact).max() < 0.05


def test_radius_graph_validation_and_single_point():
    np.testing.assert_array_equal(radius_graph_weights([[1.0, 2.0]], 0.5), [1.0])
    for bad in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="alpha must be positive and finite"):
            radius_graph_weights([0.0, 1.0], bad)
    with pytest.raises(TypeError, match="alpha must be a positive real"):
        radius_graph_weights([0.0, 1.0], "1")
    with pytest.raises(ValueError, match="n_radii must be a positive int, got 0"):
        radius_graph_weights([0.0, 1.0], 1.0, n_radii=0)
    with pytest.raises(ValueError, match="X must be finite"):
        radius_graph_weights([0.0, np.inf], 1.0)


def test_signed_zero_coordinates_are_the_same_point():
    # -0.0 == 0.0: the two rows are exact duplicates and must share one cell, not both own it
    for method in ("exact", "kdtree", "brute"):
        w = voronoi_weights(
            [[0.0, 1.0], [-0.0, 1.0], [1.0, 0.0]], Box([-1, -1], [1, 1]), method=method, n_samples=1000, rng=0
        )
        assert w[0] == w[1] and abs(w.sum() - 1) < 1e-12
    np.testing.assert_array_equal(radius_graph_weights([[0.0], [-0.0], [1.0]], 0.5), [0.25, 0.25, 0.5])


# ----------------------------------------------------------------------------- scale (hardening)


@pytest.mark.parametrize("far", [1e8, 1e10, 1e15])
def test_far_away_points_keep_exact_weights(far):
    """Two points far outside the unit box: the bisector x + y = 0 leaves the whole box to the first."""
    from choicelab.sim import Box

    w = voronoi_weights([[far, far], [-far, -far]], Box([0, 0], [1, 1]))
    assert w.tolist() == [1.0, 0.0]
    w = voronoi_weights([[far, 0.5], [-far, 0.5]], Box([-1, 0], [1, 1]))  # bisector x = 0 splits the box
    np.testing.assert_allclose(w, [0.5, 0.5], atol=1e-12)


def test_huge_regions_are_rescaled_exactly():
    """A box of side 2e300 (its volume overflows) gives the same shares as the same picture at unit scale."""
    from choicelab.sim import Box

    pts = np.array([[0.2, 0.3], [0.5, 0.5], [-0.3, 0.2], [0.7, -0.6]])
    small = voronoi_weights(pts, Box([-1, -1], [1, 1]))
    huge = voronoi_weights(pts * 1e300, Box([-1e300, -1e300], [1e300, 1e300]))
    np.testing.assert_allclose(huge, small, rtol=1e-12)
    assert abs(huge.sum() - 1.0) <= 1e-12


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12), st.integers(0, 10**6), st.floats(-6, 6))
def test_exact_weights_sum_to_one_within_1e_12_at_any_scale(m, seed, log_scale):
    from choicelab.sim import Box

    scale = 10.0**log_scale
    pts = np.random.default_rng(seed).uniform(-2, 2, size=(m, 2)) * scale
    w = voronoi_weights(pts, Box([-scale, -scale], [scale, scale]))
    assert np.all(w >= 0) and abs(w.sum() - 1.0) <= 1e-12


# ---------------------------------------------------------------------------------------------
# Inverse kernel-density weights and the three axioms of [BW], side by side
# ---------------------------------------------------------------------------------------------


def kde_reference(X, h):
    """w_i proportional to 1 / sum_j exp(-|x_i - x_j|^2 / (2 h^2)), by explicit double loop."""
    X = np.asarray(X, dtype=float).reshape(len(X), -1)
    dens = [sum(np.exp(-np.sum((a - b) ** 2) / (2 * h * h)) for b in X) for a in X]
    inv = 1 / np.array(dens)
    return inv / inv.sum()


def test_inverse_kde_matches_the_formula_and_scotts_rule():
    rng = np.random.default_rng(0)
    X = rng.random((30, 3))
    np.testing.assert_allclose(inverse_kde_weights(X, bandwidth=0.2), kde_reference(X, 0.2), rtol=1e-12)
    s = np.sqrt(np.mean(np.var(X, axis=0, ddof=1)))
    np.testing.assert_allclose(inverse_kde_weights(X), kde_reference(X, s * 30 ** (-1 / 7)), rtol=1e-12)
    np.testing.assert_allclose(inverse_kde_weights(np.full((4, 2), 0.3)), 0.25)  # all equal: uniform
    assert inverse_kde_weights([[1.0, 2.0]]).tolist() == [1.0]
    with pytest.raises(ValueError, match="bandwidth must be positive and finite, got -1"):
        inverse_kde_weights(X, bandwidth=-1.0)


def test_inverse_kde_is_symmetric_under_isometries_and_permutations():
    rng = np.random.default_rng(1)
    X = rng.random((25, 4))
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    perm = rng.permutation(25)
    moved = (X @ Q.T + rng.standard_normal(4))[perm]
    np.testing.assert_allclose(inverse_kde_weights(moved), inverse_kde_weights(X)[perm], rtol=1e-10)


def test_inverse_kde_is_continuous_but_voronoi_is_not_at_coincident_points():
    rng = np.random.default_rng(2)
    X = rng.random((12, 2))
    U = rng.standard_normal((12, 2))
    w0 = inverse_kde_weights(X)
    changes = [np.abs(inverse_kde_weights(X + t * U) - w0).max() for t in (1e-3, 1e-5, 1e-7)]
    assert changes[0] < 0.05 and changes[1] < changes[0] / 50 and changes[2] < changes[1] / 50  # linear modulus
    # inverse KDE: a copy approaching point 2 takes the coincident weights in the limit
    Xc = np.vstack([X, X[[2]]])
    near = np.vstack([X, X[[2]] + 1e-9])
    np.testing.assert_allclose(inverse_kde_weights(near), inverse_kde_weights(Xc), atol=1e-8)
    # Voronoi (exact, 1-D): a point approaching 1 from the right keeps [1, 1.5] of [0, 2] while the
    # coincident pair splits [0.5, 2] evenly: 0.25 and 0.5 in the limit against 0.375 each
    box = Box([0.0], [2.0])
    lim = voronoi_weights([0.0, 1.0, 1.0 + 1e-12], box)
    at = voronoi_weights([0.0, 1.0, 1.0], box)
    np.testing.assert_allclose(lim, [0.25, 0.25, 0.5], atol=1e-9)
    np.testing.assert_allclose(at, [0.25, 0.375, 0.375], atol=1e-15)


def test_inverse_kde_is_not_clone_proof_unlike_voronoi_and_radius_graph():
    X = np.array([[0.0], [1.0], [2.0]])
    X2 = np.vstack([X, X[[0]]])
    w, w2 = inverse_kde_weights(X), inverse_kde_weights(X2)
    np.testing.assert_allclose(w2, kde_reference(X2, np.sqrt(np.var(X2, ddof=1)) * 4 ** (-1 / 5)), rtol=1e-12)
    assert w2[0] == pytest.approx(w2[3])
    # the copies' total grows from 0.359 to 0.417 and the others' weights move
    assert w[0] == pytest.approx(0.3592327, abs=1e-6) and w2[0] + w2[3] == pytest.approx(0.4168452, abs=1e-6)
    assert abs(w2[1] - w[1]) > 0.04
    # the clone-proof weightings give the copies the original's weight and leave the others alone
    box = Box([0.0], [2.0])
    for weigh in (lambda P: voronoi_weights(P, box), lambda P: radius_graph_weights(P, alpha=1.5)):
        a, b = weigh(X), weigh(X2)
        np.testing.assert_allclose(b[[1, 2]], a[[1, 2]], rtol=1e-12)
        np.testing.assert_allclose(b[0] + b[3], a[0], rtol=1e-12)


def test_inverse_kde_is_registered_as_a_weighting():
    from choicelab.estimators.weightings import get_weighting

    X = np.random.default_rng(3).random((10, 3))
    entry = get_weighting("inverse_kde")
    np.testing.assert_array_equal(entry.compute(X, None, None), inverse_kde_weights(X))
    np.testing.assert_array_equal(entry.compute(X, None, None, bandwidth=0.3), inverse_kde_weights(X, bandwidth=0.3))
    with pytest.raises(Exception, match="bandwidth"):
        entry.compute(X, None, None, bandwidth=-0.3)


# ---------------------------------------------------------------------------------------------
# Beyond one machine: sample chunks on a Dask cluster
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_chunks_give_the_local_weights_and_leave_the_rng_where_the_local_path_does(dask_client):
    X = np.random.default_rng(0).random((200, 4))
    box = Box(np.zeros(4), np.ones(4))
    cases = [
        (box, np.random.default_rng, {}),  # targeted, PCG64: workers advance a copy of the generator
        (box, np.random.default_rng, {"n_samples": 150_001}),  # fixed size, a partial last chunk
        (box, lambda s: np.random.Generator(np.random.MT19937(s)), {"n_samples": 70_000}),  # no advance: shipped
        (Ball(np.full(4, 0.5), 1.0), np.random.default_rng, {}),  # not a Box: shipped
    ]
    for region, make, kw in cases:
        r_local, r_dask = make(5), make(5)
        # the cluster samples uniformly to the end: the local path without its tail phase
        a = voronoi_weights(X, region, rng=r_local, full_output=True, importance=False, **kw)
        b = voronoi_weights(X, region, rng=r_dask, full_output=True, engine="dask", scheduler=dask_client, **kw)
        assert a.n_samples == b.n_samples
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.stderr, b.stderr)
        assert r_local.random() == r_dask.random()
    assert voronoi_weights(X, box, rng=1).tolist() != voronoi_weights(X, box, rng=2).tolist()  # not a constant


def test_dask_engine_with_its_own_local_cluster_and_validation():
    pytest.importorskip("distributed")
    X = np.random.default_rng(1).random((30, 3))
    box = Box(np.zeros(3), np.ones(3))
    w = voronoi_weights(X, box, n_samples=65_536, rng=3, engine="dask")  # a temporary LocalCluster
    np.testing.assert_array_equal(w, voronoi_weights(X, box, n_samples=65_536, rng=3))
    with pytest.raises(ValueError, match="engine must be 'local' or 'dask', got 'spark'"):
        voronoi_weights(X, box, engine="spark")
    with pytest.raises(ValueError, match="scheduler='tcp://x:1' is only used with engine='dask'"):
        voronoi_weights(X, box, scheduler="tcp://x:1")


def test_the_voronoi_weighting_asks_for_the_precision_target_when_given_rel_stderr():
    from choicelab.estimators.weightings import get_weighting

    X = np.random.default_rng(3).random((15, 3))
    box = Box([0.0] * 3, [1.0] * 3)
    voronoi = get_weighting("voronoi")
    w = voronoi.compute(X, box, np.random.default_rng(1), rel_stderr=0.2, max_seconds=60.0)
    ref = voronoi_weights(X, box, rng=np.random.default_rng(1), rel_stderr=0.2, max_seconds=60.0, full_output=True)
    np.testing.assert_array_equal(w, ref.weights)
    assert np.max(ref.rel_stderr) <= 0.2 and ref.n_samples != 200_000
    # the fixed sample size stays the default, as recorded scenarios use it
    fixed = voronoi.compute(X, box, np.random.default_rng(1))
    np.testing.assert_array_equal(fixed, voronoi_weights(X, box, n_samples=200_000, rng=np.random.default_rng(1)))
    with pytest.raises(ValueError, match="not both"):
        voronoi.compute(X, box, np.random.default_rng(1), n_samples=1000, rel_stderr=0.1)
    with pytest.raises(ValueError, match="give rel_stderr too"):
        voronoi.compute(X, box, np.random.default_rng(1), max_seconds=5.0)


def test_the_targeted_mode_times_the_backends_and_the_weights_do_not_depend_on_the_choice():
    from choicelab.estimators import weights as W

    X = np.random.default_rng(4).random((2500, 3))
    box = Box([0.0] * 3, [1.0] * 3)
    chosen = W._fastest_backend(X, box, "kdtree")
    assert chosen in ("kdtree", "brute")
    Z = box.sample(5000, np.random.default_rng(9))
    np.testing.assert_array_equal(W._kdtree_search(X)(Z), W._brute_search(X, box)(Z))
    est = voronoi_weights(
        X, box, rng=np.random.default_rng(2), rel_stderr=0.5, max_seconds=120.0, full_output=True, importance=False
    )
    assert est.unresolved.size == 0 and est.method in ("kdtree", "brute")  # timed: either may win
    for backend in ("kdtree", "brute"):  # a fixed-size run of the same samples, with either backend
        fixed = voronoi_weights(X, box, method=backend, n_samples=est.n_samples, rng=np.random.default_rng(2))
        np.testing.assert_array_equal(est.weights, fixed)


def test_targeted_sampling_stops_before_a_chunk_that_would_overrun_the_budget():
    from choicelab.estimators import weights as W

    X = np.random.default_rng(1).random((400, 6))
    box = Box(np.zeros(6), np.ones(6))
    ticks = iter(range(0, 10_000, 10))  # every clock reading is 10 s after the last: one chunk takes 10 s

    def clock():
        return float(next(ticks))

    # start 0, the first chunk from 10 to 20: 20 s spent, and another 10 s chunk would end at 30 > 25
    run = W._targeted_counts(X, box, np.random.default_rng(0), "brute", 0.01, 25.0, clock=clock, importance=False)
    assert run.n_drawn == 65536 and run.seconds == 20.0 and run.unresolved.size > 0
    ticks = iter(range(0, 10_000, 10))
    run = W._targeted_counts(X, box, np.random.default_rng(0), "brute", 0.01, 45.0, clock=clock, importance=False)
    assert run.n_drawn == 2 * 65536  # 20 + 10 <= 45, then 40 + 10 > 45


def test_unsampled_cells_report_errors_calibrated_as_a_group():
    # 1-D^14 products (2 random points per axis, 16,384 cells over five orders of magnitude) after
    # one chunk of samples: 34% to 71% of the cells are unsampled. Their Good-Turing error
    # sqrt(2 n_2 / U) / N makes the z-scores over all cells unit-variance; the share of one
    # sample (1/N) would not (z sd 0.58 where 71% are unsampled)
    d = 14
    for seed in range(4):
        rng = np.random.default_rng(seed)
        X, w = product_set([rng.random((2, 1)) for _ in range(d)], np.zeros(d), np.ones(d))
        with pytest.warns(VoronoiResolutionWarning):
            est = voronoi_weights(X, Box(np.zeros(d), np.ones(d)), rng=seed, full_output=True, max_seconds=1e-9)
        empty = est.weights == 0
        assert empty.mean() > 0.3
        z = (est.weights - w) / est.stderr
        # (an unsampled cell's error is -w_k, one-signed: z has a negative mean there, so check the
        # root mean square as well as the standard deviation)
        assert 0.85 <= z.std() <= 1.15 and 0.85 <= np.sqrt(np.mean(z * z)) <= 1.15
        if seed == 0:
            one_sample = np.where(empty, 1.0 / est.n_samples, est.stderr)
            assert empty.mean() > 0.6 and ((est.weights - w) / one_sample).std() < 0.7
        # the reported total-variation error, with the unsampled cells' Good-Turing mass
        assert 0.85 <= est.tv_error / (0.5 * np.abs(est.weights - w).sum()) <= 1.15
