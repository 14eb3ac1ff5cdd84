"""T1, P4-P8: known answers from independent computations, planted violations, the checks."""
import numpy as np
import pytest
from scipy.special import expit

from choicelab.axioms import theorems as thm
from choicelab.axioms.base import HOLDS, VIOLATED


def _sig(x):
    return expit(x)


# --------------------------------------------------------------------------------------- T1

@pytest.mark.parametrize("p", [0.02, 0.3, 0.5, 0.7, 0.97])
@pytest.mark.parametrize("bound", [0.5, 50.0, 1e5])
def test_impossibility_pair_equal_data_far_gaps_numpy(p, bound):
    pair = thm.impossibility_pair(bound, p)
    # P_01 of each population recomputed from its types (plain BT mixture)
    pa = float(np.sum(pair.shares_a * _sig(pair.rewards_a[:, 0] - pair.rewards_a[:, 1])))
    pb = float(np.sum(pair.shares_b * _sig(pair.rewards_b[:, 0] - pair.rewards_b[:, 1])))
    assert pa == pytest.approx(p, abs=1e-12)
    assert pb == pytest.approx(p, abs=1e-12)
    gap_a = float(np.sum(pair.shares_a * (pair.rewards_a[:, 0] - pair.rewards_a[:, 1])))
    gap_b = float(np.sum(pair.shares_b * (pair.rewards_b[:, 0] - pair.rewards_b[:, 1])))
    assert abs(gap_a - gap_b) > bound
    # T > 1: both populations have two distinct types with positive shares summing to 1
    for shares, rewards in ((pair.shares_a, pair.rewards_a), (pair.shares_b, pair.rewards_b)):
        assert len(shares) == 2 and np.all(shares > 0) and shares.sum() == pytest.approx(1.0)
        assert not np.allclose(rewards[0], rewards[1])


def test_impossibility_pair_rejects_bad_arguments():
    with pytest.raises(ValueError, match="p must"):
        thm.impossibility_pair(1.0, p=1.0)
    with pytest.raises(ValueError, match="bound"):
        thm.impossibility_pair(-1.0)


def test_t1_check_holds_and_witness_is_json():
    import json

    meas = thm._check_t1("mle_free", None, np.random.default_rng(0), quick=True)
    assert meas.measured == HOLDS
    assert meas.magnitude <= 1e-12
    json.dumps(meas.witness)
    a, b = meas.witness["population_a"], meas.witness["population_b"]
    assert abs(a["average_gap"] - b["average_gap"]) > meas.witness["bound"]
