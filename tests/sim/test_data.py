"""Comparisons / Rankings data, empirical matrices, comparison-graph connectivity (contract §1 Data, §4)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from choicelab import sim


def _comps(rows):
    a, b, w = (np.array(c, dtype=np.int64) for c in zip(*rows))
    return sim.Comparisons(a, b, w, np.full(len(a), -1))


def test_empirical_matrix_by_hand():
    # 0 beats 1 twice, 1 beats 0 once, one tie 1-2, 2 never meets 0, 3 meets nobody
    comps = _comps([(0, 1, 0), (1, 0, 0), (0, 1, 1), (1, 2, -1)])
    P = sim.empirical_matrix(comps, 4)
    assert P[0, 1] == pytest.approx(2 / 3) and P[1, 0] == pytest.approx(1 / 3)
    assert P[1, 2] == 0.5 and P[2, 1] == 0.5
    assert np.isnan(P[0, 2]) and np.isnan(P[2, 0]) and np.all(np.isnan(np.delete(P[3], 3)))
    assert np.all(np.diag(P) == 0.5)


def test_strong_connectivity():
    cycle = _comps([(0, 1, 0), (1, 2, 1), (2, 0, 2)])
    assert sim.comparison_graph_strongly_connected(cycle, 3)
    chain = _comps([(0, 1, 0), (1, 2, 1), (0, 2, 0)])  # 0 beats everyone: no path back to 0
    assert not sim.comparison_graph_strongly_connected(chain, 3)
    ties = _comps([(0, 1, -1), (1, 2, -1)])  # a tie is an edge both ways
    assert sim.comparison_graph_strongly_connected(ties, 3)
    assert not sim.comparison_graph_strongly_connected(ties, 4)  # 3 is isolated


def test_comparisons_equality():
    c = _comps([(0, 1, 0), (2, 1, -1)])
    assert c == _comps([(0, 1, 0), (2, 1, -1)])
    assert not c == _comps([(0, 1, 1), (2, 1, -1)])


def test_rankings_validation_messages():
    with pytest.raises(ValueError, match="alternative 1 appears twice"):
        sim.Rankings(orders=(((0,), (1, 1)),), counts=np.array([1]), m=3)
    with pytest.raises(ValueError, match="alternative 1 appears twice"):
        sim.Rankings(orders=(((0, 1), (1,)),), counts=np.array([1]), m=3)
    with pytest.raises(ValueError, match=r"alternative 5 is not an index in \[0, 3\)"):
        sim.Rankings(orders=(((0,), (5,)),), counts=np.array([1]), m=3)
    with pytest.raises(ValueError, match=r"alternative -1 is not an index"):
        sim.Rankings(orders=(((-1,),),), counts=np.array([1]), m=3)
    with pytest.raises(ValueError, match=r"counts\[1\] = 0 must be positive"):
        sim.Rankings(orders=(((0,),), ((1,),)), counts=np.array([2, 0]), m=3)
    with pytest.raises(ValueError, match=r"counts must have shape \(2,\)"):
        sim.Rankings(orders=(((0,),), ((1,),)), counts=np.array([2]), m=3)
    with pytest.raises(ValueError, match="group 1 is empty"):
        sim.Rankings(orders=(((0,), ()),), counts=np.array([1]), m=3)
    with pytest.raises(ValueError, match="m must be a positive integer, got 0"):
        sim.Rankings(orders=(), counts=np.zeros(0, dtype=int), m=0)


def test_pairwise_counts_by_hand():
    # 2 voters: 2 > {0, 3} > 1 ; 1 voter: 1 > 0 (top-2 list of 4)
    orders = (((2,), (0, 3), (1,)), ((1,), (0,)))
    counts = np.array([2, 1])
    expected_uncompared = np.array(
        [
            [0, 2, 0, 1],
            [1, 0, 0, 0],
            [2, 2, 0, 2],
            [1, 2, 0, 0],
        ],
        dtype=float,
    )
    rk = sim.Rankings(orders=orders, counts=counts, m=4)
    np.testing.assert_array_equal(rk.pairwise_counts(), expected_uncompared)
    # unlisted_last: in the second order, 1 and 0 also beat 2 and 3 (which stay uncompared)
    top = sim.Rankings(orders=orders, counts=counts, m=4, unlisted_last=True)
    expected_top = expected_uncompared.copy()
    expected_top[[1, 1, 0, 0], [2, 3, 2, 3]] += 1
    np.testing.assert_array_equal(top.pairwise_counts(), expected_top)
    assert rk.n_voters == 3 and not rk.strict and not rk.complete


rankings = st.integers(2, 6).flatmap(
    lambda m: st.tuples(
        st.just(m),
        st.lists(
            st.tuples(
                st.permutations(list(range(m))),
                st.integers(1, m),
                st.lists(st.booleans(), min_size=m, max_size=m),
                st.integers(1, 4),
            ),
            min_size=1,
            max_size=5,
        ),
        st.booleans(),
    )
)


def _build(spec):
    m, raw, unlisted_last = spec
    orders, counts = [], []
    for perm, keep, cuts, count in raw:
        groups, current = [], [perm[0]]
        for x, cut in zip(perm[1:keep], cuts):
            if cut:
                groups.append(tuple(current))
                current = [x]
            else:
                current.append(x)
        groups.append(tuple(current))
        orders.append(tuple(groups))
        counts.append(count)
    return sim.Rankings(orders=tuple(orders), counts=np.array(counts), m=m, unlisted_last=unlisted_last)


@settings(max_examples=40, deadline=None)
@given(spec=rankings)
def test_to_comparisons_matches_pairwise_counts(spec):
    rk = _build(spec)
    N = rk.pairwise_counts()
    np.testing.assert_array_equal(sim.win_counts(rk.to_comparisons(), rk.m), N)
    # every voter compares each listed pair once: N + N^T counts voters listing both
    listed = np.zeros((rk.m, rk.m))
    for order, c in zip(rk.orders, rk.counts):
        mask = np.zeros(rk.m, dtype=bool)
        mask[[x for g in order for x in g]] = True
        both = np.outer(mask, mask) | (np.add.outer(mask, mask) > 0 if rk.unlisted_last else False)
        listed += c * (both & ~np.eye(rk.m, dtype=bool))
    np.testing.assert_array_equal(N + N.T, listed)
