"""One witness format for every axiom: each id's witness survives JSON and replays to the same measurement."""

import json

import numpy as np
import pytest

from choicelab import axioms, sim
from choicelab.axioms import generators as gen
from choicelab.axioms.base import HOLDS, VIOLATED, list_axioms
from choicelab.axioms.witness import WITNESS_FORMAT, WITNESS_KEYS, decode_data, encode_data

A5_P = [[0.5, 0.51, 0.51], [0.49, 0.5, 0.99], [0.49, 0.01, 0.5]]


def _world(seed, m=5, d=2):
    """A random Bradley-Terry world with positions in the unit box (2-4 annotator types)."""
    return gen.random_world_instances(np.random.default_rng(seed), 1, d_choices=(d,), m_range=(m, m))[0]


def _pareto_world():
    """Three alternatives in the unit square; every type's reward grows in both coordinates."""
    X = np.array([[0.1, 0.1], [0.5, 0.6], [0.9, 0.8]])
    types = [
        sim.AnnotatorType(0.5, sim.linear_reward([1.0, 2.0])),
        sim.AnnotatorType(0.5, sim.linear_reward([2.0, 1.0])),
    ]
    return sim.Instance(sim.Alternatives(X), sim.Population(types, choice="bt"), sim.Box([0.0, 0.0], [1.0, 1.0]))


def _replayed(axiom_id, estimator, instance, expected, rng=0):
    """Check, round-trip the witness through JSON, replay it; return (verdict, witness, replayed measurement)."""
    v = axioms.check(axiom_id, estimator, instance=instance, rng=rng, quick=True)
    assert v.measured == expected, v.detail
    assert v.witness is not None, f"{axiom_id}/{estimator}: no witness for a {v.measured} measurement"
    w = json.loads(json.dumps(v.witness, allow_nan=False))
    assert w["format"] == WITNESS_FORMAT and tuple(w) == WITNESS_KEYS
    assert (w["axiom"], w["estimator"], w["measured"]) == (axiom_id, estimator, v.measured)
    again = axioms.replay(w)
    assert again.measured == w["measured"] == v.measured
    assert again.magnitude == w["magnitude"] == v.magnitude  # exactly: the same computation from the same seed
    assert again.witness == w
    return v, w, again


# ----------------------------------------------------------------------------- one test per theory-table id
def test_a1_violation_of_the_mle_replays():
    _, w, _ = _replayed("A1", "mle", gen.topic_cluster_instance(np.random.default_rng(3), per_topic=3), VIOLATED)
    assert w["details"]["recheck"]["confirmed"] is True and len(w["details"]["delta"]) == 4


def test_a2_violation_of_borda_replays():
    from choicelab.axioms.clones import borda_clone_profile

    _, w, _ = _replayed("A2", "borda", borda_clone_profile(), VIOLATED)
    assert w["details"]["clone_of"] == 0 and w["instance"]["population"] is not None


def test_a3_holds_record_of_the_mle_replays():
    _, w, _ = _replayed("A3", "mle", _pareto_world(), HOLDS)
    assert [2, 0] in w["details"]["dominated_pairs"]


def test_a4_violation_of_the_mle_on_tennessee_replays():
    _, w, _ = _replayed("A4", "mle", gen.tennessee_instance(), VIOLATED)
    assert w["details"]["reversed_pair"] == [3, 0]


def test_a4_explicit_weights_are_an_input_of_the_witness():
    # the one-instance measurement takes explicit weights; the witness records them and replay passes them back
    from choicelab.axioms import majority

    inst = gen.tennessee_instance()
    meas = majority._a4_instance(
        "weighted_mle", inst, np.random.default_rng(5), True, seed=5, weights=[0.1, 0.2, 0.3, 0.4]
    )
    w = json.loads(json.dumps(meas.witness))
    assert w["inputs"]["weights"] == w["options"]["weights"] == [0.1, 0.2, 0.3, 0.4]
    again = axioms.replay(w)
    assert (again.measured, again.magnitude) == (meas.measured, meas.magnitude)


def test_a5_violation_of_the_mle_replays():
    _, w, _ = _replayed("A5", "mle", A5_P, VIOLATED)
    assert w["instance"]["P"] == A5_P and w["details"]["condorcet_winner"] == 0


def test_a6_holds_record_of_the_mle_replays():
    _, w, _ = _replayed("A6", "mle", _world(6), HOLDS)
    assert len(w["details"]["raised_pair"]) == 2


def test_a7_holds_record_with_sampled_data_replays():
    _, w, _ = _replayed("A7", "mle", _world(7), HOLDS)
    comps = decode_data(w["options"]["data"])  # the sampled comparisons, as lists
    assert isinstance(comps, sim.Comparisons) and len(comps) == 300


def test_a8_holds_record_of_the_weighted_mle_replays():
    _, w, _ = _replayed("A8", "weighted_mle", _world(8), HOLDS)
    assert sorted(w["details"]["permutation"]) == list(range(5))


def test_t1_holds_record_replays():
    _, w, again = _replayed("T1", "mle", [[0.5, 0.3], [0.7, 0.5]], HOLDS)
    pair = w["details"]["pair"]
    assert pair["p"] == 0.3 and abs(pair["population_a"]["average_gap"] - pair["population_b"]["average_gap"]) > 1e3
    assert all("fitted_gap" in row for row in again.data["pairs"])  # the registry's MLE was fitted


def test_p4_holds_record_replays():
    _, w, _ = _replayed("P4", "mle", _world(4, m=6), HOLDS)
    assert w["options"]["fit_options"] == {"tol": 1e-12} and w["options"]["lam"] == 0.1


def test_p5_holds_record_replays():
    _, w, _ = _replayed("P5", "weighted_mle", _world(5, m=6), HOLDS)
    assert [f["weights"] for f in w["details"]["fits"]] == ["voronoi", "dirichlet"]


def test_p6_holds_record_replays():
    _, w, _ = _replayed("P6", "weighted_mle", _world(6, m=4), HOLDS)
    assert w["details"]["per_axis"] == 12 and abs(sum(w["details"]["grid_weights"]) - 1.0) < 1e-12


def test_p7_holds_record_replays():
    _, w, _ = _replayed("P7", "weighted_mle", _world(7, m=5), HOLDS)
    assert w["options"]["weights"] == [0.2] * 5


def test_p8_holds_record_replays():
    _, w, _ = _replayed("P8", "weighted_mle", _world(8, m=5), HOLDS)
    assert 1 <= w["details"]["clones"] <= 3


def test_x1_holds_record_replays_from_the_world_rewards():
    _, w, _ = _replayed("X1", "mle", _world(1, m=4), HOLDS)
    assert len(w["inputs"]["world"]) == 3 and w["options"]["lam"] == 1e-6


def test_x2_holds_record_replays():
    _, w, _ = _replayed("X2", "mle", None, HOLDS)
    assert w["instance"] is None and w["details"]["grid_points_per_axis"] == 201


def test_x3_holds_record_replays_from_the_three_option_sub_record():
    _, w, _ = _replayed("X3", "mle", None, HOLDS)
    setup = w["inputs"]["three_option"]
    assert w["instance"] is None and setup["p_jk"] == 0.99 and len(setup["p_ij_grid"]) == 5
    assert setup["n_per_pair"] == 20000


def test_x4_holds_record_replays():
    _, w, _ = _replayed("X4", "pl_mle", None, HOLDS)
    assert w["inputs"]["source"] in ("random", "pl_mle") and w["instance"]["P"] is not None


def test_every_theory_table_id_has_a_one_instance_measurement():
    ids = {a.id for a in list_axioms()}
    theory_ids = (
        {f"A{k}" for k in range(1, 9)} | {"T1"} | {f"P{k}" for k in range(4, 9)} | {f"X{k}" for k in range(1, 5)}
    )
    assert ids == theory_ids
    assert all(a.measure is not None for a in list_axioms())


# ----------------------------------------------------------------------------- format details
def test_a_search_that_holds_keeps_the_record_of_its_worst_instance():
    v = axioms.check("P7", "weighted_mle", rng=2, quick=True)  # a search over 3 random worlds
    assert v.measured == HOLDS and v.witness["magnitude"] == v.magnitude
    again = axioms.replay(json.loads(json.dumps(v.witness)))
    assert again.magnitude == v.magnitude


def test_the_a1_search_that_holds_keeps_its_witness():
    v = axioms.check("A1", "weighted_mle", rng=0, quick=True)  # the topic-cluster search of the theory table
    assert v.measured == HOLDS and v.witness is not None and "curve" not in v.witness["details"]
    again = axioms.replay(json.loads(json.dumps(v.witness)))
    assert again.measured == HOLDS and again.magnitude == v.witness["magnitude"] == v.magnitude


def test_older_witnesses_still_replay():
    v = axioms.check("A5", "mle", instance=A5_P, rng=0)
    w = v.witness
    legacy = {
        "format": "choicelab.witness/1",
        "axiom": "A5",
        "estimator": "mle",
        "instance": w["instance"],
        "seed": w["seed"],
        "quick": w["quick"],
        **w["details"],
    }
    again = axioms.replay(legacy)
    assert again.measured == VIOLATED and again.magnitude == v.magnitude


def test_replay_needs_a_seed():
    v = axioms.check("A5", "mle", instance=A5_P, rng=0)
    with pytest.raises(ValueError, match="no seed"):
        axioms.replay({**v.witness, "seed": None})


def test_data_encoding_round_trips():
    comps = sim.Comparisons(np.array([0, 1, 2]), np.array([1, 2, 0]), np.array([0, -1, 0]), np.array([-1, 0, 1]))
    assert decode_data(json.loads(json.dumps(encode_data(comps)))) == comps
    rk = sim.Rankings(orders=(((0,), (1, 2)), ((2,), (0,))), counts=np.array([3, 1]), m=3, unlisted_last=True)
    assert decode_data(json.loads(json.dumps(encode_data(rk)))) == rk
    assert encode_data(None) is None and decode_data(None) is None
    with pytest.raises(TypeError, match="data must be"):
        encode_data([1, 2])
    with pytest.raises(ValueError, match="kind"):
        decode_data({"kind": "matrix"})


def test_verdict_to_dict_uses_the_one_json_encoding():
    from choicelab._json import to_jsonable

    v = axioms.check("A4", "mle", instance=gen.tennessee_instance(), rng=0)
    d = v.to_dict()
    assert d == to_jsonable(d) and json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["witness"] == v.witness
