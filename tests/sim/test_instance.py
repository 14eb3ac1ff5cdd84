"""Instance: P computed once, matrix-only instances, JSON round trips (contract §1)."""

import json

import numpy as np
import pytest

from choicelab import sim

BOX = sim.Box([0.0, 0.0], [1.0, 1.0])


def _population(reward2):
    return sim.Population(
        [sim.AnnotatorType(0.4, sim.linear_reward([1.0, -1.0])), sim.AnnotatorType(0.6, reward2)],
        choice="thurstone",
        beta=1.5,
    )


def test_instance_matrix_and_properties():
    alts = sim.add_exact_clones(sim.uniform_alternatives(BOX, 5, rng=0), 2, 2)
    pop = _population(sim.ideal_point_reward([0.3, 0.3], BOX))
    inst = sim.Instance(alts, pop, BOX)
    assert inst.m == 7 and inst.X is alts.X and not inst.matrix_only
    np.testing.assert_array_equal(inst.P, pop.preference_matrix(alts.X))
    with pytest.raises(ValueError):
        inst.P[0, 1] = 0.0
    bigger = inst.with_alternatives(sim.add_exact_clones(alts, 0, 1))
    assert bigger.m == 8 and bigger.population is pop and bigger.region is BOX
    np.testing.assert_array_equal(bigger.P[:7, :7], inst.P)


def test_instance_validation():
    alts = sim.uniform_alternatives(BOX, 3, rng=0)
    pop = _population(sim.linear_reward([0.0, 1.0]))
    with pytest.raises(TypeError, match="population must be a Population"):
        sim.Instance(alts, None)
    with pytest.raises(ValueError, match="region has dimension 3"):
        sim.Instance(alts, pop, sim.Box([0, 0, 0], [1, 1, 1]))


def test_from_matrix_validation_names_entries():
    P = np.array([[0.5, 0.7, 0.2], [0.3, 0.5, 0.6], [0.8, 0.4, 0.5]])
    inst = sim.Instance.from_matrix(P, labels=["x", "y", "z"])
    assert inst.m == 3 and inst.X is None and inst.matrix_only and inst.labels.tolist() == ["x", "y", "z"]
    np.testing.assert_array_equal(inst.P, P)
    with pytest.raises(ValueError, match=r"square.*\(2, 3\)"):
        sim.Instance.from_matrix(np.full((2, 3), 0.5))
    bad = P.copy()
    bad[0, 1], bad[1, 0] = 1.2, -0.2
    with pytest.raises(ValueError, match=r"P\[0, 1\] = 1\.2"):
        sim.Instance.from_matrix(bad)
    bad = P.copy()
    bad[2, 2] = 0.4
    with pytest.raises(ValueError, match=r"P\[2, 2\] = 0\.4"):
        sim.Instance.from_matrix(bad)
    bad = P.copy()
    bad[1, 2] = 0.65
    with pytest.raises(ValueError, match=r"P\[1, 2\] = 0\.65 and P\[2, 1\] = 0\.4"):
        sim.Instance.from_matrix(bad)
    with pytest.raises(ValueError, match="needs a population"):
        inst.with_alternatives(sim.uniform_alternatives(BOX, 3, rng=0))


@pytest.mark.parametrize(
    "reward",
    [
        sim.linear_reward([0.5, 2.0]),
        sim.ideal_point_reward([0.2, 0.9], BOX),
        sim.ideal_point_reward([0.2, 0.9]),
        sim.topic_table_reward([[0, 0], [1, 1], [0, 1]], [1.0, -1.0, 0.5], 0.2),
        sim.rbf_mixture_reward([[0, 0], [1, 1]], [1.0, 2.0], [0.3, 0.6]),
    ],
)
def test_to_dict_round_trip_builtin_families(reward):
    alts = sim.topic_clusters({"a": [0.2, 0.2], "b": [0.7, 0.7]}, 3, 0.1, rng=1)
    alts = sim.add_approximate_clones(alts, 4, 2, 0.05, rng=2, region=BOX)
    inst = sim.Instance(alts, _population(reward), BOX)
    desc = json.loads(json.dumps(inst.to_dict()))
    assert desc["P"] is None and desc["population"] is not None
    back = sim.Instance.from_dict(desc)
    np.testing.assert_array_equal(back.P, inst.P)
    assert back.alternatives.equals(alts)
    assert back.population.choice == "thurstone" and back.population.beta == 1.5
    assert isinstance(back.region, sim.Box) and np.array_equal(back.region.hi, BOX.hi)


def test_to_dict_with_explicit_reward_and_ball():
    alts = sim.uniform_alternatives(sim.Ball([0.0, 0.0], 1.0), 4, rng=3)
    reward = sim.explicit_reward(alts.X, [3.0, 1.0, 2.0, 0.0])
    inst = sim.Instance(alts, _population(reward), sim.Ball([0.0, 0.0], 1.0))
    back = sim.Instance.from_dict(json.loads(json.dumps(inst.to_dict())))
    np.testing.assert_array_equal(back.P, inst.P)
    assert isinstance(back.region, sim.Ball) and back.region.radius == 1.0


def test_to_dict_plain_callable_stores_matrix():
    alts = sim.uniform_alternatives(BOX, 4, rng=3)
    inst = sim.Instance(alts, _population(lambda Z: np.cos(3 * Z[:, 0])), BOX)
    desc = json.loads(json.dumps(inst.to_dict()))
    assert desc["population"] is None and "plain callables" in desc["note"]
    back = sim.Instance.from_dict(desc)
    assert back.population is None and back.matrix_only and back.alternatives.equals(alts)
    np.testing.assert_array_equal(back.P, inst.P)
    m_only = sim.Instance.from_dict(json.loads(json.dumps(sim.Instance.from_matrix(inst.P).to_dict())))
    assert m_only.alternatives is None
    np.testing.assert_array_equal(m_only.P, inst.P)
    with pytest.raises(ValueError, match="not an Instance description"):
        sim.Instance.from_dict({"P": [[0.5]]})
