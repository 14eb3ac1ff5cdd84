"""Alternatives, generators and clone injection (contract §1 World, Clones)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from choicelab import sim

BOX = sim.Box([0.0, 0.0], [1.0, 2.0])


def test_defaults_and_shape():
    alts = sim.Alternatives([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    assert (alts.m, alts.d) == (3, 2)
    assert alts.labels.tolist() == [0, 1, 2]
    assert alts.clone_of.tolist() == [-1, -1, -1]
    with pytest.raises(ValueError):
        alts.X[0, 0] = 1.0  # read-only


def test_alternatives_validation():
    with pytest.raises(ValueError, match=r"X\[1, 0\] = nan"):
        sim.Alternatives([[0.0], [np.nan]])
    with pytest.raises(ValueError, match=r"X\[0, 1\] = -inf"):
        sim.Alternatives([[0.0, -np.inf]])
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\), got \(3,\)"):
        sim.Alternatives([[0.0], [1.0]], labels=[1, 2, 3])
    with pytest.raises(ValueError, match=r"clone_of\[1\] = 5"):
        sim.Alternatives([[0.0], [1.0]], clone_of=[-1, 5])
    with pytest.raises(ValueError, match=r"clone_of\[0\] = 0"):
        sim.Alternatives([[0.0], [1.0]], clone_of=[0, -1])
    with pytest.raises(ValueError, match=r"clone_of\[2\] = 1 points at a row that is itself a clone"):
        sim.Alternatives([[0.0], [0.0], [0.0]], clone_of=[-1, 0, 1])
    with pytest.raises(ValueError, match="2-D"):
        sim.Alternatives([0.0, 1.0])


def test_uniform_alternatives_in_region_and_seeded():
    a = sim.uniform_alternatives(BOX, 500, rng=4)
    assert a.m == 500 and np.all(BOX.contains(a.X))
    assert np.array_equal(a.X, sim.uniform_alternatives(BOX, 500, rng=np.random.default_rng(4)).X)
    # uniform on [0, 1] x [0, 2]: coordinate means 1/2 and 1
    assert np.all(np.abs(a.X.mean(axis=0) - [0.5, 1.0]) <= 4.5 * np.array([1, 2]) / np.sqrt(12 * 500))
    with pytest.raises(ValueError, match="m must be an integer >= 1, got 0"):
        sim.uniform_alternatives(BOX, 0)


def test_topic_clusters_labels_and_spread():
    alts = sim.topic_clusters({"math": [0.0, 0.0], "poetry": [10.0, 0.0]}, [3000, 2], 0.5, rng=0)
    assert alts.labels.tolist()[2998:] == ["math", "math", "poetry", "poetry"]
    maths = alts.X[alts.labels == "math"]
    np.testing.assert_allclose(maths.mean(axis=0), [0, 0], atol=4.5 * 0.5 / np.sqrt(3000))
    np.testing.assert_allclose(maths.std(axis=0), [0.5, 0.5], rtol=0.06)
    alts2 = sim.topic_clusters(np.array([[0.0], [1.0], [2.0]]), 2, [0.0, 0.0, 0.0], names=["a", "b", "c"])
    assert alts2.X.ravel().tolist() == [0, 0, 1, 1, 2, 2]
    assert alts2.labels.tolist() == ["a", "a", "b", "b", "c", "c"]
    assert sim.topic_clusters([[0.0]], 2, 1.0, rng=0).labels.tolist() == [0, 0]
    with pytest.raises(ValueError, match=r"spread must be finite and >= 0, got -1\.0"):
        sim.topic_clusters([[0.0]], 2, -1.0)
    with pytest.raises(ValueError, match=r"per_topic\[1\] must be an integer >= 1, got 0"):
        sim.topic_clusters([[0.0], [1.0]], [2, 0], 1.0)


def test_grid_alternatives_cell_centres():
    g = sim.grid_alternatives(BOX, [2, 4])
    expected = [[x, y] for x in (0.25, 0.75) for y in (0.25, 0.75, 1.25, 1.75)]
    np.testing.assert_allclose(g.X, expected)
    ball = sim.grid_alternatives(sim.Ball([0.0, 0.0], 1.0), 2)
    np.testing.assert_allclose(ball.X, [[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match="per_axis must be an integer >= 1, got 0"):
        sim.grid_alternatives(BOX, 0)


def test_add_exact_clones():
    base = sim.Alternatives([[0.0, 1.0], [2.0, 3.0]], labels=["a", "b"])
    alts = sim.add_exact_clones(base, 1, 3)
    assert alts.m == 5
    assert np.array_equal(alts.X[2:], np.repeat(base.X[1:2], 3, axis=0))
    assert alts.labels.tolist() == ["a", "b", "b", "b", "b"]
    assert alts.clone_of.tolist() == [-1, -1, 1, 1, 1]
    # cloning a clone points at the original
    again = sim.add_exact_clones(alts, 3, 1)
    assert again.clone_of.tolist()[-1] == 1 and np.array_equal(again.X[-1], base.X[1])
    assert sim.add_exact_clones(base, 0, 0).equals(base)
    with pytest.raises(ValueError, match=r"index must be an integer in \[0, 2\), got 2"):
        sim.add_exact_clones(base, 2, 1)
    with pytest.raises(ValueError, match="count must be an integer >= 0, got -1"):
        sim.add_exact_clones(base, 0, -1)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 4), eps=st.floats(1e-6, 2.0))
def test_approximate_clones_lie_in_eps_ball(seed, d, eps):
    rng = np.random.default_rng(seed)
    base = sim.Alternatives(rng.normal(size=(3, d)))
    alts = sim.add_approximate_clones(base, 1, 20, eps, rng=rng)
    dist = np.linalg.norm(alts.X[3:] - base.X[1], axis=1)
    assert np.all(dist <= eps * (1 + 1e-12))
    assert alts.clone_of.tolist() == [-1] * 3 + [1] * 20


def test_approximate_clones_uniform_in_ball():
    # uniform in a d-ball: P(||x' - x|| <= eps / 2) = 2^-d
    base = sim.Alternatives(np.zeros((1, 3)))
    n = 20_000
    alts = sim.add_approximate_clones(base, 0, n, 0.4, rng=1)
    frac = np.mean(np.linalg.norm(alts.X[1:], axis=1) <= 0.2)
    assert abs(frac - 1 / 8) <= 4.5 * np.sqrt(1 / 8 * 7 / 8 / n)
    # and isotropic: the mean is the centre
    np.testing.assert_allclose(alts.X[1:].mean(axis=0), 0.0, atol=4.5 * 0.4 / np.sqrt(5 * n))


def test_approximate_clones_with_region():
    base = sim.Alternatives([[0.0, 0.0], [0.5, 1.0]])  # row 0 sits on the corner of BOX
    alts = sim.add_approximate_clones(base, 0, 200, 0.3, rng=2, region=BOX)
    assert np.all(BOX.contains(alts.X[2:]))
    assert np.all(np.linalg.norm(alts.X[2:], axis=1) <= 0.3 * (1 + 1e-12))
    # only a quarter disc is inside, so points fill it: some have both coordinates > 0.15
    assert np.any(np.all(alts.X[2:] > 0.15, axis=1))
    far = sim.Alternatives([[5.0, 5.0]])
    with pytest.raises(ValueError, match=r"acceptance rate 0\.00e\+00"):
        sim.add_approximate_clones(far, 0, 3, 0.5, rng=0, region=BOX)


def test_approximate_clones_eps_zero_and_errors():
    base = sim.Alternatives([[0.3, 0.7]])
    alts = sim.add_approximate_clones(base, 0, 2, 0.0, rng=0)
    assert np.array_equal(alts.X, np.repeat(base.X, 3, axis=0))
    assert np.array_equal(
        sim.add_approximate_clones(base, 0, 5, 0.1, rng=8).X, sim.add_approximate_clones(base, 0, 5, 0.1, rng=8).X
    )
    with pytest.raises(ValueError, match=r"eps must be finite and >= 0, got -0\.1"):
        sim.add_approximate_clones(base, 0, 1, -0.1)
    with pytest.raises(ValueError, match="eps must be finite and >= 0, got nan"):
        sim.add_approximate_clones(base, 0, 1, float("nan"))
    with pytest.raises(ValueError, match=r"index must be an integer in \[0, 1\), got -1"):
        sim.add_approximate_clones(base, -1, 1, 0.1)
    with pytest.raises(TypeError, match="Box or Ball"):
        sim.add_approximate_clones(base, 0, 1, 0.1, region=[0, 1])
