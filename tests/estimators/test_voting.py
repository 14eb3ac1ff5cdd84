"""Known-answer and property tests for the reference voting rules (contract §2)."""

import itertools

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from choicelab.estimators.voting import (
    borda,
    copeland,
    kemeny,
    kemeny_score,
    majority_graph,
    maximal_lottery,
    ranked_pairs,
    schulze,
    wawr,
)

RULES = {
    "borda": borda,
    "copeland": copeland,
    "schulze": schulze,
    "ranked_pairs": ranked_pairs,
    "kemeny": kemeny,
    "maximal_lottery": maximal_lottery,
}


# --------------------------------------------------------------------------- helpers (independent)
def profile_matrix(rankings, counts, m):
    """P_ij = share of voters ranking i above j, from strict full rankings, by plain loops."""
    P = np.zeros((m, m))
    for ranking, count in zip(rankings, counts):
        for pos, a in enumerate(ranking):
            for b in ranking[pos + 1 :]:
                P[a, b] += count
    P /= sum(counts)
    np.fill_diagonal(P, 0.5)
    return P


def random_matrix(rng, m, grid=None):
    P = np.full((m, m), 0.5)
    for i, j in itertools.combinations(range(m), 2):
        P[i, j] = rng.choice(grid) if grid is not None else rng.uniform(0.01, 0.99)
        P[j, i] = 1.0 - P[i, j]
    return P


def ranked_pairs_bruteforce(P):
    """Ranked Pairs via linear extensions: keep the rankings that agree with each majority pair
    (strongest first, ties by index) whenever some surviving ranking does."""
    m = P.shape[0]
    pairs = sorted(((i, j) for i in range(m) for j in range(m) if P[i, j] > 0.5), key=lambda e: (-P[e], e))
    survivors = list(itertools.permutations(range(m)))
    for i, j in pairs:
        agree = [r for r in survivors if r.index(i) < r.index(j)]
        if agree:
            survivors = agree
    return survivors


def strongest_paths_bruteforce(P):
    """Widest path by enumerating every simple path of the majority graph (winning votes)."""
    m = P.shape[0]
    G = nx.DiGraph()
    G.add_nodes_from(range(m))
    G.add_edges_from((i, j) for i in range(m) for j in range(m) if P[i, j] > 0.5)
    p = np.zeros((m, m))
    for i, j in itertools.permutations(range(m), 2):
        for path in nx.all_simple_paths(G, i, j):
            p[i, j] = max(p[i, j], min(P[a, b] for a, b in zip(path, path[1:])))
    return p


def kemeny_dp(P):
    """Best Kemeny score by dynamic programming over subsets (Held-Karp style)."""
    m = P.shape[0]
    best = {0: 0.0}
    for mask in range(1, 1 << m):
        members = [i for i in range(m) if mask >> i & 1]
        # put i on top of the subset: it is above every other member
        best[mask] = max(best[mask & ~(1 << i)] + sum(P[i, j] for j in members if j != i) for i in members)
    return best[(1 << m) - 1]


def generic_matrices(max_m=6):
    return st.tuples(st.integers(2, max_m), st.integers(0, 2**32 - 1)).map(
        lambda t: random_matrix(np.random.default_rng(t[1]), t[0])
    )


# --------------------------------------------------------------------------- Tennessee capital
M_, N_, C_, K_ = 0, 1, 2, 3
TENNESSEE = profile_matrix(
    [[M_, N_, C_, K_], [N_, C_, K_, M_], [C_, K_, N_, M_], [K_, C_, N_, M_]], [42, 26, 15, 17], 4
)


def test_tennessee_pairwise_matrix_by_hand():
    # M is first only for Memphis (42); N above C and K for Memphis + Nashville (68); C above K
    # for everyone but Knoxville (83)
    expected = np.array(
        [[0.50, 0.42, 0.42, 0.42], [0.58, 0.50, 0.68, 0.68], [0.58, 0.32, 0.50, 0.83], [0.58, 0.32, 0.17, 0.50]]
    )
    np.testing.assert_allclose(TENNESSEE, expected, atol=1e-15)


def test_tennessee_borda_by_hand():
    res = borda(TENNESSEE)
    # classical Borda points (3, 2, 1, 0) / 100 voters + the self-term 1/2:
    # M 126, N 194, C 173, K 107
    np.testing.assert_allclose(res.scores, [1.76, 2.44, 2.23, 1.57], atol=1e-12)
    assert res.winners == (N_,)
    assert res.order.tolist() == [N_, C_, M_, K_]


@pytest.mark.parametrize("rule", ["copeland", "schulze", "ranked_pairs", "kemeny"])
def test_tennessee_condorcet_rules_pick_nashville(rule):
    res = RULES[rule](TENNESSEE)
    assert res.winners == (N_,)
    # the majority relation N > C > K > M is a linear order: these rules return it (A4)
    assert res.order.tolist() == [N_, C_, K_, M_]


def test_tennessee_copeland_scores_by_hand():
    np.testing.assert_array_equal(copeland(TENNESSEE).scores, [0, 3, 2, 1])


def test_tennessee_maximal_lottery_is_point_mass_on_nashville():
    res = maximal_lottery(TENNESSEE)
    np.testing.assert_allclose(res.scores, [0, 1, 0, 0], atol=1e-9)
    assert res.winners == (N_,)


# --------------------------------------------------------------------------- Wikipedia Schulze example
A, B, C, D, E = range(5)
WIKI_BALLOTS = [
    ("ACBED", 5),
    ("ADECB", 5),
    ("BEDAC", 8),
    ("CABED", 3),
    ("CAEBD", 7),
    ("CBADE", 2),
    ("DCEBA", 7),
    ("EBADC", 8),
]
WIKI = profile_matrix([["ABCDE".index(c) for c in s] for s, _ in WIKI_BALLOTS], [n for _, n in WIKI_BALLOTS], 5)
# published pairwise preferences d[X, Y] (voters preferring X to Y) and strongest paths p[X, Y]
WIKI_D = np.array(
    [[0, 20, 26, 30, 22], [25, 0, 16, 33, 18], [19, 29, 0, 17, 24], [15, 12, 28, 0, 14], [23, 27, 21, 31, 0]]
)
WIKI_P = np.array(
    [[0, 28, 28, 30, 24], [25, 0, 28, 33, 24], [25, 29, 0, 29, 24], [25, 28, 28, 0, 24], [25, 28, 28, 31, 0]]
)


def test_wikipedia_profile_pairwise_counts():
    off = ~np.eye(5, dtype=bool)
    np.testing.assert_allclose((45 * WIKI)[off], WIKI_D[off], atol=1e-9)


def test_wikipedia_schulze_strongest_paths_and_winner():
    res = schulze(WIKI)
    np.testing.assert_allclose(45 * res.info["strongest_paths"], WIKI_P, atol=1e-9)
    assert res.winners == (E,)
    assert res.order.tolist() == [E, A, C, B, D]  # the published Schulze ranking
    np.testing.assert_array_equal(res.scores, [3, 1, 2, 0, 4])


def test_wikipedia_ranked_pairs():
    # by hand: lock B>D 33, E>D 31, A>D 30, C>B 29; skip D>C 28 (C>B>D); lock E>B 27, A>C 26;
    # skip B>A 25 (A>C>B); lock C>E 24; skip E>A 23 (A>C>E): ranking A > C > E > B > D
    res = ranked_pairs(WIKI)
    assert res.winners == (A,)
    assert res.order.tolist() == [A, C, E, B, D]
    assert ranked_pairs_bruteforce(WIKI) == [(A, C, E, B, D)]
    assert res.info["skipped"] == [(D, C), (B, A), (E, A)]
    assert res.info["strength_ties"] is False


def test_wikipedia_borda_and_copeland_by_brute_force_from_ballots():
    # Computed here from the ballots (the Wikipedia example is about Schulze, winner E): Borda points
    # (4, 3, 2, 1, 0) give A 98, B 92, C 89, D 69, E 102; pairwise wins (d[X, Y] > d[Y, X])
    # give Copeland A 2 (beats C, D), B 2 (A, D), C 2 (B, E), D 1 (C), E 3 (A, B, D).
    # So Borda and Copeland both elect E, the Schulze winner, while Ranked Pairs elects A.
    m, n_voters = 5, sum(n for _, n in WIKI_BALLOTS)
    points = [0] * m
    beats = [[0] * m for _ in range(m)]  # beats[x][y] = voters ranking x above y
    for ballot, count in WIKI_BALLOTS:
        ranking = ["ABCDE".index(c) for c in ballot]
        for pos, x in enumerate(ranking):
            points[x] += count * (m - 1 - pos)
            for y in ranking[pos + 1 :]:
                beats[x][y] += count
    assert points == [98, 92, 89, 69, 102]
    copeland_count = [
        sum(
            1.0 if beats[x][y] > beats[y][x] else 0.5 if beats[x][y] == beats[y][x] else 0.0 for y in range(m) if y != x
        )
        for x in range(m)
    ]
    assert copeland_count == [2, 2, 2, 1, 3]
    borda_winners = tuple(x for x in range(m) if points[x] == max(points))
    copeland_winners = tuple(x for x in range(m) if copeland_count[x] == max(copeland_count))
    assert borda_winners == copeland_winners == (E,)

    res_b = borda(WIKI)
    # contract Borda B(i) = sum_j P_ij with the self-term 1/2 = points / voters + 1/2
    np.testing.assert_allclose(res_b.scores, np.array(points) / n_voters + 0.5, atol=1e-12)
    assert res_b.winners == borda_winners
    assert res_b.order.tolist() == sorted(range(m), key=lambda x: -points[x])  # E, A, B, C, D
    res_c = copeland(WIKI)
    np.testing.assert_array_equal(res_c.scores, copeland_count)
    assert res_c.winners == copeland_winners


# --------------------------------------------------------------------------- Condorcet and clones
def test_condorcet_counterexample():
    a, b = 0, 1
    P = np.array([[0.5, 0.51, 0.51], [0.49, 0.5, 0.99], [0.49, 0.01, 0.5]])
    res = borda(P)
    np.testing.assert_allclose(res.scores, [1.52, 1.98, 1.00], atol=1e-12)
    assert res.winners == (b,)
    for rule in ("copeland", "schulze", "ranked_pairs", "kemeny", "maximal_lottery"):
        assert RULES[rule](P).winners == (a,), rule
    np.testing.assert_allclose(maximal_lottery(P).scores, [1, 0, 0], atol=1e-9)


def test_borda_clone_violation():
    # 3 voters 0 > 1 > 2, 2 voters 1 > 2 > 0: Borda B = (1.7, 1.9, 0.9) elects 1 (0 is the
    # Condorcet winner). Clone 0 as 3, placed right below 0 on every ballot: B(0) = 2.7 > B(1) = 2.3
    before = profile_matrix([[0, 1, 2], [1, 2, 0]], [3, 2], 3)
    after = profile_matrix([[0, 3, 1, 2], [1, 2, 0, 3]], [3, 2], 4)
    np.testing.assert_allclose(borda(before).scores, [1.7, 1.9, 0.9], atol=1e-12)
    np.testing.assert_allclose(borda(after).scores, [2.7, 2.3, 1.3, 1.7], atol=1e-12)
    assert borda(before).winners == (1,)
    assert borda(after).winners == (0,)
    # the clone-proof rules elect 0 both times
    for rule in ("schulze", "ranked_pairs"):
        assert RULES[rule](before).winners == (0,)
        assert RULES[rule](after).winners == (0,)


def test_borda_exact_clones_change_winner():
    # contract §1 exact clones of 0 (P(clone > 0) = 1/2): with three of them B(0) = 3.2 > B(1) = 3.1
    before = profile_matrix([[0, 1, 2], [1, 2, 0]], [3, 2], 3)
    idx = [0, 1, 2, 0, 0, 0]
    after = before[np.ix_(idx, idx)].copy()
    np.fill_diagonal(after, 0.5)
    res = borda(after)
    np.testing.assert_allclose(res.scores[:2], [3.2, 3.1], atol=1e-12)
    assert res.winners == (0, 3, 4, 5)


# --------------------------------------------------------------------------- ties
def test_equal_strength_cycle():
    P = np.array([[0.5, 0.6, 0.4], [0.4, 0.5, 0.6], [0.6, 0.4, 0.5]])
    rp = ranked_pairs(P)
    assert rp.info["strength_ties"] is True
    assert rp.info["locked"] == [(0, 1), (1, 2)]  # index order among the three 0.6 pairs
    assert rp.order.tolist() == [0, 1, 2]
    sch = schulze(P)
    assert sch.winners == (0, 1, 2)
    np.testing.assert_array_equal(sch.scores, [0, 0, 0])
    assert copeland(P).winners == (0, 1, 2)
    km = kemeny(P)
    assert km.winners == (0, 1, 2) and km.info["n_optimal"] == 3
    assert km.order.tolist() == [0, 1, 2]
    np.testing.assert_allclose(maximal_lottery(P).scores, [1 / 3] * 3, atol=1e-9)


def test_rock_paper_scissors_lottery_is_uniform():
    P = np.array([[0.5, 1.0, 0.0], [0.0, 0.5, 1.0], [1.0, 0.0, 0.5]])
    res = maximal_lottery(P)
    np.testing.assert_allclose(res.scores, [1 / 3] * 3, atol=1e-9)
    assert res.winners == (0, 1, 2)
    assert abs(res.info["value"]) < 1e-9


def test_copeland_majority_ties_count_half():
    P = np.array([[0.5, 0.5, 0.7], [0.5, 0.5, 0.2], [0.3, 0.8, 0.5]])
    np.testing.assert_array_equal(copeland(P).scores, [1.5, 0.5, 1.0])
    G = majority_graph(P)
    assert sorted(G.edges) == [(0, 2), (2, 1)]
    assert G[2][1]["margin"] == pytest.approx(0.6)


# --------------------------------------------------------------------------- Kemeny
@pytest.mark.parametrize("m,seed", [(6, 0), (6, 1), (7, 2), (7, 3), (8, 4)])
def test_kemeny_enumeration_matches_integer_program(m, seed):
    P = random_matrix(np.random.default_rng(seed), m)
    enum = kemeny(P, method="enumerate")
    ip = kemeny(P, method="milp")
    assert ip.info["optimal"]
    assert enum.info["kemeny_score"] == pytest.approx(ip.info["kemeny_score"], abs=1e-9)
    assert enum.info["kemeny_score"] == pytest.approx(kemeny_dp(P), abs=1e-9)
    assert enum.order.tolist() == ip.order.tolist()  # generic P: the optimum is unique
    assert kemeny_score(P, ip.order) == pytest.approx(ip.info["kemeny_score"])


def test_kemeny_above_enumeration_limit_uses_milp():
    P = random_matrix(np.random.default_rng(7), 10)
    res = kemeny(P)
    assert res.info["method"] == "milp"
    assert res.info["kemeny_score"] == pytest.approx(kemeny_dp(P), abs=1e-9)


def test_kemeny_ties_among_rankings_from_a_profile():
    # 0 > 1 > 2 and 1 > 0 > 2 once each: both are optimal (score 2.5)
    P = profile_matrix([[0, 1, 2], [1, 0, 2]], [1, 1], 3)
    res = kemeny(P)
    assert res.info["n_optimal"] == 2
    assert res.winners == (0, 1)
    assert res.info["kemeny_score"] == pytest.approx(2.5)


# --------------------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(P=generic_matrices(), perm_seed=st.integers(0, 2**32 - 1))
def test_neutrality(P, perm_seed):
    m = P.shape[0]
    sigma = np.random.default_rng(perm_seed).permutation(m)
    inv = np.argsort(sigma)
    Q = P[np.ix_(sigma, sigma)]  # new alternative k is old sigma[k]
    for name, rule in RULES.items():
        old, new = rule(P), rule(Q)
        np.testing.assert_allclose(new.scores, old.scores[sigma], atol=1e-7, err_msg=name)
        assert new.winners == tuple(sorted(int(inv[w]) for w in old.winners)), name
        gaps = np.diff(np.sort(old.scores))
        if gaps.size == 0 or gaps.min() > 1e-6:  # the order is label-free only without score ties
            assert new.order.tolist() == inv[old.order].tolist(), name


@settings(max_examples=40, deadline=None)
@given(P=generic_matrices())
def test_ranked_pairs_matches_bruteforce(P):
    res = ranked_pairs(P)
    assert ranked_pairs_bruteforce(P) == [tuple(res.order.tolist())]


@settings(max_examples=30, deadline=None)
@given(P=generic_matrices(max_m=5))
def test_schulze_strongest_paths_match_path_enumeration(P):
    np.testing.assert_allclose(schulze(P).info["strongest_paths"], strongest_paths_bruteforce(P), atol=0)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 7).flatmap(
        lambda m: st.tuples(
            st.just(m),
            st.lists(st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0]), min_size=m * (m - 1) // 2, max_size=m * (m - 1) // 2),
        )
    )
)
def test_borda_and_copeland_by_brute_force(args):
    m, upper = args
    P = np.full((m, m), 0.5)
    for (i, j), v in zip(itertools.combinations(range(m), 2), upper):
        P[i, j], P[j, i] = v, 1 - v
    np.testing.assert_allclose(borda(P).scores, [sum(row) for row in P.tolist()], atol=1e-12)
    count = [
        sum(1.0 if P[i, j] > 0.5 else 0.5 if P[i, j] == 0.5 else 0.0 for j in range(m) if j != i) for i in range(m)
    ]
    res = copeland(P)
    np.testing.assert_array_equal(res.scores, count)
    assert res.winners == tuple(i for i in range(m) if count[i] == max(count))


@settings(max_examples=40, deadline=None)
@given(P=generic_matrices(max_m=7))
def test_maximal_lottery_is_a_maximal_lottery(P):
    p = maximal_lottery(P).scores
    M = P - P.T
    assert np.all(p >= -1e-12)
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(p @ M >= -1e-9)


@settings(max_examples=30, deadline=None)
@given(P=generic_matrices(max_m=5), seed=st.integers(0, 2**32 - 1))
def test_wawr_is_weighted_row_sum(P, seed):
    w = np.random.default_rng(seed).dirichlet(np.ones(P.shape[0]))
    expected = [sum(w[j] * P[i, j] for j in range(len(w))) for i in range(len(w))]
    np.testing.assert_allclose(wawr(P, w).scores, expected, atol=1e-12)
    np.testing.assert_allclose(wawr(P, np.full(len(w), 1 / len(w))).scores, borda(P).scores / len(w))


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "P,match",
    [
        (np.ones((2, 3)) / 2, r"square"),
        ([[0.5, np.nan], [0.5, 0.5]], r"P\[0, 1\] = nan"),
        ([[0.5, 1.2], [-0.2, 0.5]], r"P\[0, 1\] = 1.2 is outside \[0, 1\]"),
        ([[0.4, 0.6], [0.4, 0.5]], r"P\[0, 0\] = 0.4"),
        ([[0.5, 0.6], [0.6, 0.5]], r"P\[0, 1\] \+ P\[1, 0\]"),
    ],
)
@pytest.mark.parametrize("rule", sorted(RULES))
def test_bad_matrix_is_rejected(P, match, rule):
    with pytest.raises(ValueError, match=match):
        RULES[rule](P)


def test_bad_weights_and_options_are_rejected():
    P = np.array([[0.5, 0.7], [0.3, 0.5]])
    with pytest.raises(ValueError, match=r"w must sum to 1"):
        wawr(P, [0.5, 0.6])
    with pytest.raises(ValueError, match=r"w\[1\] = -0.5"):
        wawr(P, [1.5, -0.5])
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        wawr(P, [1.0])
    with pytest.raises(ValueError, match=r"method must be"):
        kemeny(P, method="greedy")
    with pytest.raises(ValueError, match=r"tol must be"):
        copeland(P, tol=-1)
    with pytest.raises(ValueError, match=r"permutation of 0..1"):
        kemeny_score(P, [0, 0])


# --------------------------------------------------------------------------- tiny profiles
@pytest.mark.parametrize("rule", sorted(RULES))
def test_single_alternative(rule):
    res = RULES[rule]([[0.5]])
    assert res.winners == (0,) and res.order.tolist() == [0]


def test_two_alternatives_with_a_tie():
    P = np.full((2, 2), 0.5)
    for rule in ("borda", "copeland", "schulze", "ranked_pairs"):
        assert RULES[rule](P).winners == (0, 1), rule
    # M = 0: every lottery is maximal and the LP returns one of them; winners = its support
    ml = maximal_lottery(P)
    assert ml.scores.sum() == pytest.approx(1.0) and np.all(ml.scores >= 0)
    assert ml.winners == tuple(np.flatnonzero(ml.scores > 1e-9))
    assert kemeny(P).winners == (0, 1)  # enumeration finds both optimal rankings
    assert kemeny(P, method="milp").info["winners_exhaustive"] is False
    np.testing.assert_allclose(maximal_lottery([[0.5, 0.9], [0.1, 0.5]]).scores, [1, 0], atol=1e-12)
    for method in ("enumerate", "milp"):
        assert kemeny([[0.5, 0.3], [0.7, 0.5]], method=method).order.tolist() == [1, 0]
