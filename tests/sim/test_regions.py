"""Regions S of the context space (contract §1): Box and Ball volumes, membership, uniform sampling,
input validation and the dict round trip."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from choicelab import sim
from choicelab.sim.regions import region_from_dict, region_to_dict

HYP = settings(max_examples=30, deadline=None)


# --------------------------------------------------------------------------- volume
def test_box_volume_is_product_of_sides():
    assert sim.Box([-1.0, 0.0, 2.0], [1.0, 0.5, 5.0]).volume == pytest.approx(2.0 * 0.5 * 3.0, rel=1e-15)
    assert sim.Box([3.0], [3.25]).volume == pytest.approx(0.25, rel=1e-15)
    assert sim.Box(0.0, 7.0).volume == pytest.approx(7.0, rel=1e-15)  # scalars: d = 1
    assert sim.Box(0.0, 7.0).dim == 1


@pytest.mark.parametrize(
    "d, unit_volume",
    [
        (1, 2.0),  # an interval of length 2r
        (2, math.pi),  # pi r^2
        (3, 4.0 * math.pi / 3.0),  # 4/3 pi r^3
        (5, 8.0 * math.pi**2 / 15.0),  # 8/15 pi^2 r^5
    ],
)
@pytest.mark.parametrize("r", [0.5, 1.0, 2.5])
def test_ball_volume_closed_forms(d, unit_volume, r):
    ball = sim.Ball(np.arange(d, dtype=float), r)
    assert ball.dim == d
    assert ball.volume == pytest.approx(unit_volume * r**d, rel=1e-13)
    # and the general formula pi^(d/2) r^d / Gamma(d/2 + 1)
    assert ball.volume == pytest.approx(math.pi ** (d / 2) * r**d / math.gamma(d / 2 + 1), rel=1e-13)


def test_ball_volume_by_monte_carlo_in_d5():
    # independent of the formula: fraction of the bounding box [-1, 1]^5 inside the unit ball
    rng = np.random.default_rng(123)
    n = 400_000
    Z = rng.uniform(-1.0, 1.0, size=(n, 5))
    frac = np.mean(np.sum(Z**2, axis=1) <= 1.0)
    estimate = 32.0 * frac
    se = 32.0 * math.sqrt(frac * (1 - frac) / n)
    ball = sim.Ball(np.zeros(5), 1.0)
    assert abs(estimate - ball.volume) < 5 * se
    assert np.mean(ball.contains(Z)) == frac  # contains agrees with the squared-norm test here


@HYP
@given(d=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_box_volume_property(d, seed):
    rng = np.random.default_rng(seed)
    lo = rng.uniform(-10, 10, d)
    sides = rng.uniform(0.1, 5.0, d)
    expected = 1.0
    for s in sides:
        expected *= s
    box = sim.Box(lo, lo + sides)
    assert box.volume == pytest.approx(expected, rel=1e-12)
    lo_b, hi_b = box.bounds
    np.testing.assert_array_equal(lo_b, lo)
    np.testing.assert_array_equal(hi_b, lo + sides)


# --------------------------------------------------------------------------- contains
def test_box_contains_hand_picked_points():
    box = sim.Box([0.0, -1.0], [2.0, 1.0])
    X = np.array(
        [
            [1.0, 0.0],  # interior
            [0.0, -1.0],  # corner lo
            [2.0, 1.0],  # corner hi
            [0.0, 0.3],  # on the face x = 0
            [1.7, 1.0],  # on the face y = 1
            [-1e-9, 0.0],  # just left
            [2.0 + 1e-9, 0.0],
            [1.0, np.nextafter(1.0, 2.0)],  # one ulp above the top face
            [3.0, 3.0],  # far outside
            [1.0, -1.5],
        ]
    )
    expected = [True, True, True, True, True, False, False, False, False, False]
    assert box.contains(X).tolist() == expected


def test_box_contains_one_dimensional_points_as_a_column():
    box = sim.Box(0.0, 1.0)
    assert box.contains([0.5, 1.0, 1.5, -0.1, 0.0]).tolist() == [True, True, False, False, True]


def test_ball_contains_hand_picked_points():
    ball = sim.Ball([1.0, 2.0], 3.0)
    s = 3.0 / math.sqrt(2.0)
    X = np.array(
        [
            [1.0, 2.0],  # centre
            [1.0, 5.0],  # boundary, on an axis
            [-2.0, 2.0],  # boundary, on an axis
            [1.0 + s, 2.0 - s],  # boundary, diagonal
            [2.0, 3.0],  # interior (distance sqrt 2)
            [1.0, 5.0 + 1e-9],  # just outside
            [1.0 + 2.2, 2.0 + 2.2],  # distance 3.11: outside the ball, inside its bounding box
            [4.0, 5.0],  # bounding-box corner: outside
        ]
    )
    expected = [True, True, True, True, True, False, False, False]
    assert ball.contains(X).tolist() == expected
    lo, hi = ball.bounds
    np.testing.assert_array_equal(lo, [-2.0, -1.0])
    np.testing.assert_array_equal(hi, [4.0, 5.0])


@HYP
@given(d=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_contains_matches_coordinatewise_brute_force(d, seed):
    rng = np.random.default_rng(seed)
    lo = rng.uniform(-3, 3, d)
    hi = lo + rng.uniform(0.1, 3.0, d)
    box = sim.Box(lo, hi)
    c, r = rng.uniform(-3, 3, d), rng.uniform(0.1, 3.0)
    ball = sim.Ball(c, r)
    X = rng.uniform(-7, 7, size=(60, d))
    box_bf = [all(lo[k] <= x[k] <= hi[k] for k in range(d)) for x in X.tolist()]
    assert box.contains(X).tolist() == box_bf
    sq = [sum((x[k] - c[k]) ** 2 for k in range(d)) for x in X.tolist()]
    keep = [abs(math.sqrt(q) - r) > 1e-9 for q in sq]  # away from the boundary tolerance
    got = ball.contains(X).tolist()
    assert [g for g, ok in zip(got, keep) if ok] == [q <= r * r for q, ok in zip(sq, keep) if ok]


# --------------------------------------------------------------------------- sampling
@HYP
@given(
    kind=st.sampled_from(["box", "ball"]), d=st.integers(1, 5), n=st.integers(0, 200), seed=st.integers(0, 2**32 - 1)
)
def test_samples_lie_inside_and_are_seeded(kind, d, n, seed):
    rng = np.random.default_rng(seed)
    if kind == "box":
        lo = rng.uniform(-5, 5, d)
        region = sim.Box(lo, lo + rng.uniform(0.05, 4.0, d))
    else:
        region = sim.Ball(rng.uniform(-5, 5, d), rng.uniform(0.05, 4.0))
    X = region.sample(n, rng=seed)
    assert X.shape == (n, d)
    assert np.all(region.contains(X))
    lo_b, hi_b = region.bounds
    assert np.all((X >= lo_b) & (X <= hi_b))
    np.testing.assert_array_equal(X, region.sample(n, rng=np.random.default_rng(seed)))  # int seed = Generator
    np.testing.assert_array_equal(X, region.sample(n, rng=seed))
    if n >= 2:
        assert not np.array_equal(X, region.sample(n, rng=seed + 1 if seed < 2**32 - 1 else 0))


def test_sample_with_default_rng_and_numpy_integer_seed():
    box = sim.Box([0.0, 0.0], [1.0, 1.0])
    X = box.sample(np.int64(7), rng=None)
    assert X.shape == (7, 2) and np.all(box.contains(X))
    np.testing.assert_array_equal(box.sample(5, rng=np.int64(3)), box.sample(5, rng=3))


def test_box_marginals_are_uniform_ks():
    box = sim.Box([-1.0, 2.0, 10.0], [3.0, 2.5, 20.0])
    X = box.sample(4000, rng=2024)
    for k in range(3):
        law = stats.uniform(loc=box.lo[k], scale=box.hi[k] - box.lo[k])
        assert stats.kstest(X[:, k], law.cdf).pvalue > 1e-3, k
        # power check: the same sample clearly rejects a wrong law (a box 20% wider)
        wrong = stats.uniform(loc=box.lo[k], scale=1.2 * (box.hi[k] - box.lo[k]))
        assert stats.kstest(X[:, k], wrong.cdf).pvalue < 1e-6, k


def test_box_joint_uniformity_chi_square():
    # the axes are independent: a 5 x 5 grid of equal cells gets equal counts
    box = sim.Box([0.0, -2.0], [1.0, 2.0])
    X = box.sample(10_000, rng=99)
    i = np.floor((X[:, 0] - 0.0) / 1.0 * 5).astype(int).clip(0, 4)
    j = np.floor((X[:, 1] + 2.0) / 4.0 * 5).astype(int).clip(0, 4)
    counts = np.bincount(i * 5 + j, minlength=25)
    assert stats.chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("d, seed", [(2, 11), (3, 12)])
def test_ball_radial_cdf_is_t_to_the_d_ks(d, seed):
    # uniform in a d-ball: P(|x - c| <= t r) = t^d
    ball = sim.Ball(np.linspace(-1.0, 1.0, d), 2.5)
    X = ball.sample(4000, rng=seed)
    t = np.linalg.norm(X - ball.center, axis=1) / ball.radius
    assert np.all(t <= 1.0 + 1e-12)
    assert stats.kstest(t, lambda s: np.clip(s, 0, 1) ** d).pvalue > 1e-3
    # power check: the law t^(d-1) (one dimension too few) is rejected on the same sample
    assert stats.kstest(t, lambda s: np.clip(s, 0, 1) ** (d - 1)).pvalue < 1e-6


def test_ball_directions_are_uniform_ks():
    # d = 2: the polar angle is uniform on (-pi, pi]; d = 3: by Archimedes' hat-box theorem the
    # unit direction's third coordinate is uniform on [-1, 1]
    b2 = sim.Ball([0.5, -0.5], 1.5)
    V = b2.sample(4000, rng=21) - b2.center
    theta = np.arctan2(V[:, 1], V[:, 0])
    assert stats.kstest(theta, stats.uniform(loc=-np.pi, scale=2 * np.pi).cdf).pvalue > 1e-3
    b3 = sim.Ball([0.0, 1.0, 2.0], 0.7)
    V = b3.sample(4000, rng=22) - b3.center
    z = V[:, 2] / np.linalg.norm(V, axis=1)
    assert stats.kstest(z, stats.uniform(loc=-1.0, scale=2.0).cdf).pvalue > 1e-3


def test_ball_coordinate_marginal_in_d3_ks():
    # uniform in the unit 3-ball, a coordinate s has density (3/4)(1 - s^2) on [-1, 1],
    # CDF (2 + 3s - s^3) / 4: checks radius and direction together
    ball = sim.Ball([3.0, -1.0, 0.0], 2.0)
    X = ball.sample(4000, rng=31)
    for k in range(3):
        s = (X[:, k] - ball.center[k]) / ball.radius
        assert stats.kstest(s, lambda u: (2 + 3 * u - u**3) / 4).pvalue > 1e-3, k
        # a coordinate of a uniform point in the cube [-1, 1]^3 is not this law
        assert stats.kstest(s, stats.uniform(loc=-1.0, scale=2.0).cdf).pvalue < 1e-6, k


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "lo, hi, match",
    [
        ([0.0, 1.0], [1.0], r"lo and hi must be 1-D of equal length, got shapes \(2,\) and \(1,\)"),
        ([[0.0, 0.0]], [[1.0, 1.0]], r"lo and hi must be 1-D .* got shapes \(1, 2\) and \(1, 2\)"),
        ([0.0, np.nan], [1.0, 1.0], r"lo=\[0\.0, nan\] and hi=\[1\.0, 1\.0\] must be finite"),
        ([0.0, 0.0], [1.0, np.inf], r"lo=\[0\.0, 0\.0\] and hi=\[1\.0, inf\] must be finite"),
        ([0.0, 2.0], [1.0, 1.0], r"need lo < hi in every coordinate, got lo\[1\]=2\.0 >= hi\[1\]=1\.0"),
        ([0.0, 1.0], [0.0, 2.0], r"lo\[0\]=0\.0 >= hi\[0\]=0\.0"),  # degenerate: equal bounds
        ([5.0, 5.0, 5.0], [6.0, 6.0, -6.0], r"lo\[2\]=5\.0 >= hi\[2\]=-6\.0"),
    ],
)
def test_box_rejects_bad_bounds(lo, hi, match):
    with pytest.raises(ValueError, match=r"^Box: .*" + match):
        sim.Box(lo, hi)


@pytest.mark.parametrize(
    "center, radius, match",
    [
        ([0.0, 0.0], 0.0, r"radius must be positive and finite, got 0\.0"),
        ([0.0, 0.0], -1.5, r"radius must be positive and finite, got -1\.5"),
        ([0.0, 0.0], np.inf, r"radius must be positive and finite, got inf"),
        ([0.0, 0.0], np.nan, r"radius must be positive and finite, got nan"),
        ([0.0, np.inf], 1.0, r"center must be a finite 1-D array, got \[0\.0, inf\]"),
        ([np.nan], 1.0, r"center must be a finite 1-D array, got \[nan\]"),
        ([[0.0, 0.0]], 1.0, r"center must be a finite 1-D array, got \[\[0\.0, 0\.0\]\]"),
    ],
)
def test_ball_rejects_bad_input(center, radius, match):
    with pytest.raises(ValueError, match=r"^Ball: .*" + match):
        sim.Ball(center, radius)


def test_contains_rejects_points_of_the_wrong_dimension():
    box = sim.Box([0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"X must have shape \(k, 2\), got \(3, 3\)"):
        box.contains(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"X must have shape \(k, 2\), got \(2,\)"):
        box.contains([0.5, 0.5])  # a single 2-D point must be passed as one row
    ball = sim.Ball([0.0, 0.0, 0.0], 1.0)
    with pytest.raises(ValueError, match=r"X must have shape \(k, 3\), got \(4, 2\)"):
        ball.contains(np.zeros((4, 2)))


@pytest.mark.parametrize("region", [sim.Box([0.0], [1.0]), sim.Ball([0.0], 1.0)], ids=["box", "ball"])
def test_sample_rejects_bad_n_and_rng(region):
    name = type(region).__name__
    with pytest.raises(ValueError, match=rf"{name}\.sample: n must be a non-negative integer, got -1"):
        region.sample(-1, rng=0)
    with pytest.raises(ValueError, match=rf"{name}\.sample: n must be a non-negative integer, got 2\.5"):
        region.sample(2.5, rng=0)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator.*got str"):
        region.sample(3, rng="seed")
    assert region.sample(0, rng=0).shape == (0, 1)


# --------------------------------------------------------------------------- dict round trip
@pytest.mark.parametrize(
    "region",
    [
        sim.Box([-1.5, 0.0, 2.0], [1.0, 0.25, 9.0]),
        sim.Box(0.0, 1.0),
        sim.Ball([0.1, -0.2], 0.3),
        sim.Ball([1.0, 2.0, 3.0, 4.0, 5.0], 7.0),
    ],
)
def test_region_dict_round_trip(region):
    desc = region_to_dict(region)
    desc = json.loads(json.dumps(desc))  # JSON-serialisable
    back = region_from_dict(desc)
    assert type(back) is type(region)
    if isinstance(region, sim.Box):
        assert desc == {"type": "box", "lo": region.lo.tolist(), "hi": region.hi.tolist()}
        np.testing.assert_array_equal(back.lo, region.lo)
        np.testing.assert_array_equal(back.hi, region.hi)
    else:
        assert desc == {"type": "ball", "center": region.center.tolist(), "radius": region.radius}
        np.testing.assert_array_equal(back.center, region.center)
        assert back.radius == region.radius
    assert back.volume == region.volume
    X = region.sample(50, rng=5)
    np.testing.assert_array_equal(back.sample(50, rng=5), X)


@HYP
@given(d=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_region_dict_round_trip_property(d, seed):
    rng = np.random.default_rng(seed)
    lo = rng.normal(size=d) * 10
    box = sim.Box(lo, lo + rng.uniform(1e-3, 10, d))
    ball = sim.Ball(rng.normal(size=d) * 10, rng.uniform(1e-3, 10))
    b2 = region_from_dict(json.loads(json.dumps(region_to_dict(box))))
    np.testing.assert_array_equal(b2.lo, box.lo)
    np.testing.assert_array_equal(b2.hi, box.hi)
    c2 = region_from_dict(json.loads(json.dumps(region_to_dict(ball))))
    np.testing.assert_array_equal(c2.center, ball.center)
    assert c2.radius == ball.radius


def test_region_dict_rejects_unknown_input():
    with pytest.raises(TypeError, match=r"region must be a Box or a Ball, got str"):
        region_to_dict("box")
    with pytest.raises(ValueError, match=r"type 'box' or 'ball', got \{'type': 'cube'\}"):
        region_from_dict({"type": "cube"})
    with pytest.raises(ValueError, match=r"type 'box' or 'ball', got \['box'\]"):
        region_from_dict(["box"])
    # a description that fails the constructor's own checks names the bad value
    with pytest.raises(ValueError, match=r"radius must be positive and finite, got -2"):
        region_from_dict({"type": "ball", "center": [0.0], "radius": -2})
