"""The typed world model: building worlds, the Python API, round trips with instances (witnesses)."""

import numpy as np
import pytest
from pydantic import ValidationError

from choicelab import sim
from choicelab.scenarios.world import WorldSpec, world_problems


def _instance():
    rng = np.random.default_rng(5)
    region = sim.Box([0.0, 0.0], [2.0, 1.0])
    alts = sim.add_approximate_clones(sim.uniform_alternatives(region, 5, rng=rng), 1, 2, 0.01, rng=rng, region=region)
    pop = sim.Population(
        [
            sim.AnnotatorType(0.3, sim.linear_reward([1.0, -0.5])),
            sim.AnnotatorType(0.3, sim.ideal_point_reward([0.4, 0.6])),
            sim.AnnotatorType(0.2, sim.topic_table_reward([[0.0, 0.0], [2.0, 1.0]], [1.0, 3.0], 0.5)),
            sim.AnnotatorType(0.2, sim.rbf_mixture_reward([[1.0, 0.5]], [2.0], 0.3)),
        ],
        choice="thurstone",
        beta=1.7,
    )
    return sim.Instance(alts, pop, region)


def test_instance_round_trips_through_the_world_model_with_the_same_matrix():
    inst = _instance()
    spec = WorldSpec.from_instance(inst)
    again = spec.to_instance(rng=0)
    np.testing.assert_array_equal(again.alternatives.X, inst.alternatives.X)
    np.testing.assert_array_equal(again.alternatives.clone_of, inst.alternatives.clone_of)
    np.testing.assert_allclose(again.P, inst.P, atol=1e-15)
    # and through JSON, as a stored witness would travel
    back = WorldSpec.model_validate_json(spec.model_dump_json()).to_instance(rng=0)
    np.testing.assert_allclose(back.P, inst.P, atol=1e-15)


def test_explicit_reward_round_trip_keeps_its_reference_points():
    X = np.array([[0.0], [1.0], [2.0]])
    pop = sim.Population([sim.AnnotatorType(1.0, sim.explicit_reward(X, [3.0, 1.0, 2.0]))])
    inst = sim.Instance(sim.add_exact_clones(sim.Alternatives(X), 0, 1), pop, sim.Box([-1.0], [3.0]))
    again = WorldSpec.from_instance(inst).to_instance()
    np.testing.assert_allclose(again.P, inst.P, atol=1e-15)


def test_python_api_builds_the_same_world_as_the_sim_calls():
    spec = WorldSpec.model_validate(
        {
            "region": {"type": "box", "lo": [0, 0], "hi": [1, 1]},
            "alternatives": {"generator": "uniform", "m": 6},
            "population": {"beta": 2.0, "types": [{"share": 1.0, "reward": "ideal_point", "center": [0.3, 0.3]}]},
            "clones": {"type": "exact", "index": 2, "count": 3},
        }
    )
    world = spec.build(np.random.default_rng(9))
    ref = sim.uniform_alternatives(sim.Box([0, 0], [1, 1]), 6, rng=np.random.default_rng(9))
    np.testing.assert_array_equal(world.alternatives.X, ref.X)
    cloned = world.with_clones(np.random.default_rng(0))
    assert cloned.m == 9 and cloned.clone_of.tolist() == [-1] * 6 + [2, 2, 2]


@pytest.mark.parametrize(
    "bad, needle",
    [
        ({"region": {"type": "box", "lo": [0, 0], "hi": [1, 1], "centre": [0]}}, "Extra inputs"),
        ({"region": {"type": "box", "lo": ["0"], "hi": [1]}}, "valid number"),  # strict: no string coercion
        ({"alternatives": {"generator": "uniform", "m": 0}}, "greater than 0"),
        ({"population": {"types": []}}, "at least 1"),
    ],
)
def test_schema_refuses_bad_values(bad, needle):
    with pytest.raises(ValidationError, match=needle):
        WorldSpec.model_validate(bad)


def test_cross_key_problems_are_named():
    spec = WorldSpec.model_validate(
        {
            "region": {"type": "box", "lo": [0, 0, 0], "hi": [1, 1, 1]},
            "alternatives": {"generator": "points", "X": [[0.0, 0.0], [1.0, 1.0]]},
            "population": {"types": [{"share": 0.5, "reward": "linear", "theta": [1.0]}]},
            "clones": {"type": "exact", "index": 4, "count": 1, "eps": 0.1},
        }
    )
    found = {key: message for key, _, message in world_problems(spec)}
    assert "dimension 3" in found["region"]
    assert found["clones.index"] == "must be < m = 2"
    assert found["clones.eps"] == "does not apply to exact clones"
    assert "sum to 1" in found["population.types"]
    assert found["population.types.0.theta"] == "must have length d = 2"
