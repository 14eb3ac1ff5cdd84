"""Population: reward families, choice models, preference matrix, samplers (contract §1)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from choicelab import sim
from choicelab.sim.population import reward_from_dict

BOX = sim.Box([-1.0, 0.0], [2.0, 1.0])


# ----------------------------------------------------------------------------- helpers


def _random_reward(rng, d, region=None):
    kind = int(rng.integers(4))
    if kind == 0:
        return sim.linear_reward(rng.normal(size=d))
    if kind == 1:
        return sim.ideal_point_reward(rng.normal(size=d), region)
    K = int(rng.integers(1, 4))
    if kind == 2:
        return sim.topic_table_reward(rng.normal(size=(K, d)), rng.normal(size=K) * 3, rng.uniform(0.1, 2))
    return sim.rbf_mixture_reward(rng.normal(size=(K, d)), rng.normal(size=K) * 3, rng.uniform(0.2, 2))


def _random_population(seed, choice=None, region=None, d=2):
    rng = np.random.default_rng(seed)
    T = int(rng.integers(1, 5))
    raw = rng.uniform(0.1, 1.0, size=T)
    shares = raw / raw.sum()
    shares[-1] = 1.0 - shares[:-1].sum()
    choice = choice or str(rng.choice(sim.population.CHOICE_MODELS))
    types = [sim.AnnotatorType(float(s), _random_reward(rng, d, region)) for s in shares]
    return sim.Population(types, choice=choice, beta=float(rng.uniform(0.2, 5.0)))


def _pairwise_python(rewards, shares, X, choice, beta):
    """Independent per-pair reference: plain Python floats and the math module."""
    m = len(X)
    R = [[float(r(X[i : i + 1])[0]) for i in range(m)] for r in rewards]
    P = [[0.0] * m for _ in range(m)]
    for i in range(m):
        for j in range(m):
            total = 0.0
            for t, alpha in enumerate(shares):
                z = R[t][i] - R[t][j]
                if choice == "bt":
                    p = 1.0 / (1.0 + math.exp(-beta * z))
                elif choice == "thurstone":
                    p = 0.5 * (1.0 + math.erf(beta * z / 2.0))  # Phi(beta z / sqrt 2)
                else:
                    p = 1.0 if z > 0 else (0.0 if z < 0 else 0.5)
                total += alpha * p
            P[i][j] = total
    return np.array(P)


# ----------------------------------------------------------------------------- reward families


def test_family_values_by_hand():
    x = np.array([[1.0, 2.0]])
    assert sim.linear_reward([3.0, -1.0])(x)[0] == pytest.approx(1.0)
    assert sim.ideal_point_reward([0.0, 0.0])(x)[0] == pytest.approx(-5.0)
    # softmax(0, -1) = (1, e^-1) / (1 + e^-1)
    r = sim.topic_table_reward([[0.0], [1.0]], [1.0, 0.0], 1.0)(np.array([[0.0]]))[0]
    assert r == pytest.approx(1.0 / (1.0 + math.exp(-1.0)), rel=1e-14)
    r = sim.rbf_mixture_reward([[0.0]], [2.0], 1.0)(np.array([[1.0]]))[0]
    assert r == pytest.approx(2.0 * math.exp(-0.5), rel=1e-14)


def test_family_lipschitz_by_hand():
    assert sim.linear_reward([3.0, 4.0]).lipschitz == pytest.approx(5.0)
    # farthest point of [-1, 2] x [0, 1] from the origin is (2, 1)
    assert sim.ideal_point_reward([0.0, 0.0], BOX).lipschitz == pytest.approx(2 * math.sqrt(5))
    assert sim.ideal_point_reward([0.0, 0.0], sim.Ball([3.0, 4.0], 1.0)).lipschitz == pytest.approx(12.0)
    assert sim.ideal_point_reward([0.0, 0.0]).lipschitz is None
    # (max U - min U) * diam / (2 tau) = 3 * 5 / 1
    assert sim.topic_table_reward([[0, 0], [3, 4]], [1.0, -2.0], 0.5).lipschitz == pytest.approx(15.0)
    assert sim.rbf_mixture_reward([[0], [1]], [2.0, -1.0], [1.0, 0.5]).lipschitz == pytest.approx(
        4.0 / math.sqrt(math.e)
    )
    assert sim.explicit_reward([[0.0]], [1.0]).lipschitz is None


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_family_lipschitz_constants_hold(seed):
    rng = np.random.default_rng(seed)
    reward = _random_reward(rng, 2, BOX)
    X = BOX.sample(200, rng)
    # tiny steps probe the gradient norm, where the constants are tightest
    Y = np.clip(X + rng.normal(size=X.shape) * 10.0 ** rng.uniform(-6, 0), BOX.lo, BOX.hi)
    gap = np.abs(reward(X) - reward(Y))
    bound = reward.lipschitz * np.linalg.norm(X - Y, axis=1)
    assert np.all(gap <= bound * (1 + 1e-9) + 1e-12)


def test_rbf_lipschitz_is_attained_at_one_bandwidth():
    # the bound for a single bump is tight: slope at ||x - c|| = h equals 1 / (h sqrt e)
    r = sim.rbf_mixture_reward([[0.0]], [1.0], 0.7)
    h = 1e-7
    slope = (r(np.array([[0.7 + h]]))[0] - r(np.array([[0.7 - h]]))[0]) / (2 * h)
    assert abs(slope) == pytest.approx(r.lipschitz, rel=1e-6)


def test_explicit_reward_lookup_and_errors():
    r = sim.explicit_reward([[0.0, 1.0], [2.0, 3.0]], [5.0, -1.0])
    assert r(np.array([[2.0, 3.0], [0.0, 1.0], [2.0, 3.0], [-0.0, 1.0]])).tolist() == [-1.0, 5.0, -1.0, 5.0]
    with pytest.raises(ValueError, match=r"\[2.0, 3.5\] is not a row of X_ref"):
        r(np.array([[2.0, 3.5]]))
    with pytest.raises(ValueError, match="different value"):
        sim.explicit_reward([[0.0], [0.0]], [1.0, 2.0])


def test_reward_to_dict_round_trip():
    rng = np.random.default_rng(3)
    X = BOX.sample(30, rng)
    for reward in [
        sim.linear_reward([1.0, 2.0]),
        sim.ideal_point_reward([0.5, 0.5], BOX),
        sim.topic_table_reward([[0, 0], [1, 1]], [1.0, 2.0], 0.3),
        sim.rbf_mixture_reward([[0, 0]], [1.5], 0.4),
        sim.explicit_reward(X, np.arange(30.0)),
    ]:
        again = reward_from_dict(reward.to_dict())
        assert type(again) is type(reward)
        assert np.array_equal(again(X), reward(X))
        assert again.lipschitz == reward.lipschitz


# ----------------------------------------------------------------------------- preference matrix


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 25))
def test_preference_matrix_is_a_preference_matrix(seed, m):
    pop = _random_population(seed)
    X = np.random.default_rng(seed + 1).normal(size=(m, 2))
    P = pop.preference_matrix(X)
    assert P.shape == (m, m)
    assert np.all(np.diag(P) == 0.5)
    assert np.max(np.abs(P + P.T - 1.0)) <= 1e-15
    assert np.all((P >= 0) & (P <= 1))


@pytest.mark.parametrize("choice", ["bt", "thurstone", "deterministic"])
def test_preference_matrix_matches_per_pair_python(choice):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(9, 3))
    X[5] = X[2]  # an exact duplicate: a tie for every type
    rewards = [lambda Z: np.sin(Z[:, 0]) + Z[:, 1] ** 2, lambda Z: -np.abs(Z).sum(axis=1), lambda Z: 2.0 * Z[:, 2]]
    shares = [0.5, 0.3, 0.2]
    pop = sim.Population([sim.AnnotatorType(s, r) for s, r in zip(shares, rewards)], choice=choice, beta=1.7)
    expected = _pairwise_python(rewards, shares, X, choice, 1.7)
    np.testing.assert_allclose(pop.preference_matrix(X), expected, rtol=0, atol=1e-14)
    T = pop.type_matrices(X)
    assert T.shape == (3, 9, 9)
    np.testing.assert_allclose(np.tensordot(pop.shares, T, axes=1), expected, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(pop.rewards(X)[1], -np.abs(X).sum(axis=1))


def test_small_probabilities_keep_relative_precision():
    # sigma(-40) = 4.25e-18 is far below the rounding error of 1 - sigma(40)
    pop = sim.Population([sim.AnnotatorType(1.0, sim.linear_reward([1.0]))], beta=1.0)
    P = pop.preference_matrix(np.array([[0.0], [40.0]]))
    assert P[0, 1] == pytest.approx(1.0 / (1.0 + math.exp(40.0)), rel=1e-13)
    assert P[1, 0] == 1.0 - P[0, 1]


def test_two_point_known_answer_and_beta():
    pop = sim.Population(
        [sim.AnnotatorType(0.25, sim.linear_reward([1.0])), sim.AnnotatorType(0.75, sim.linear_reward([-2.0]))],
        beta=0.5,
    )
    P = pop.preference_matrix(np.array([[1.0], [0.0]]))
    expected = 0.25 / (1 + math.exp(-0.5)) + 0.75 / (1 + math.exp(1.0))
    assert P[0, 1] == pytest.approx(expected, rel=1e-14)


def test_exact_clone_has_identical_row_and_column():
    rng = np.random.default_rng(5)
    alts = sim.add_exact_clones(sim.uniform_alternatives(BOX, 7, rng), index=3, count=2)
    for seed in range(5):
        P = _random_population(seed, region=BOX).preference_matrix(alts.X)
        for c in (7, 8):
            np.testing.assert_array_equal(np.delete(P[c], [3, 7, 8]), np.delete(P[3], [3, 7, 8]))
            np.testing.assert_array_equal(np.delete(P[:, c], [3, 7, 8]), np.delete(P[:, 3], [3, 7, 8]))
            assert P[c, 3] == P[3, c] == 0.5


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), choice=st.sampled_from(["bt", "thurstone"]))
def test_lipschitz_bound_on_preference_probabilities(seed, choice):
    """contract §1 Lipschitz: |P(x' > z) - P(x > z)| <= K ||x - x'||, K = beta L / 4 for BT."""
    rng = np.random.default_rng(seed)
    pop = _random_population(seed, choice=choice, region=BOX)
    alts = sim.uniform_alternatives(BOX, 6, rng)
    eps = 10.0 ** rng.uniform(-5, -0.5)
    alts = sim.add_approximate_clones(alts, int(rng.integers(6)), 4, eps, rng=rng, region=BOX)
    P = pop.preference_matrix(alts.X)
    K = pop.lipschitz_bound
    L = max(t.reward.lipschitz for t in pop.types)
    assert K == pytest.approx(pop.beta * L / 4 if choice == "bt" else pop.beta * L / (2 * math.sqrt(math.pi)))
    src = alts.clone_of[6]
    for c in range(6, 10):
        dist = np.linalg.norm(alts.X[c] - alts.X[src])
        assert np.all(np.abs(P[c, :6] - P[src, :6]) <= K * dist * (1 + 1e-9) + 1e-14)


def test_lipschitz_bound_unknown_or_deterministic():
    assert sim.Population([sim.AnnotatorType(1.0, lambda Z: Z[:, 0])]).lipschitz_bound is None
    assert (
        sim.Population([sim.AnnotatorType(1.0, sim.linear_reward([1.0]))], choice="deterministic").lipschitz_bound
        is None
    )
    pop = sim.Population(
        [sim.AnnotatorType(0.5, sim.linear_reward([3.0, 4.0])), sim.AnnotatorType(0.5, sim.linear_reward([1.0, 0.0]))],
        beta=2.0,
    )
    assert pop.lipschitz_bound == pytest.approx(2.0 * 5.0 / 4.0)


# ----------------------------------------------------------------------------- sampling


def _binomial_ok(p_hat, p, n, z=4.5):
    return np.abs(p_hat - p) <= z * np.sqrt(np.maximum(p * (1 - p), 1e-12) / n) + 1e-12


@pytest.mark.parametrize("choice", ["bt", "thurstone"])
def test_sampled_win_frequencies_match_P(choice):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 2))
    pop = sim.Population(
        [
            sim.AnnotatorType(0.7, sim.linear_reward([1.0, 0.5])),
            sim.AnnotatorType(0.3, sim.ideal_point_reward([0.0, 1.0])),
        ],
        choice=choice,
        beta=1.3,
    )
    P = pop.preference_matrix(X)
    comps = pop.sample_comparisons(X, 40_000, rng=7)
    N = sim.win_counts(comps, 5)
    n = N + N.T
    iu = np.triu_indices(5, 1)
    # uniform design: each of the 10 unordered pairs about n / 10 times
    assert np.all(_binomial_ok(n[iu] / 40_000, 0.1, 40_000))
    assert np.all(_binomial_ok(N[iu] / n[iu], P[iu], n[iu]))
    # annotator types drawn from the shares
    assert _binomial_ok(np.mean(comps.annotator == 0), 0.7, 40_000)
    assert set(np.unique(comps.annotator)) == {0, 1}


def test_deterministic_sampling_records_ties():
    X = np.array([[0.0], [1.0], [1.0]])
    pop = sim.Population([sim.AnnotatorType(1.0, sim.linear_reward([1.0]))], choice="deterministic")
    comps = pop.sample_comparisons(X, 300, rng=1)
    tie_pair = ((comps.a == 1) & (comps.b == 2)) | ((comps.a == 2) & (comps.b == 1))
    assert tie_pair.any() and np.all(comps.winner[tie_pair] == -1)
    other = ~tie_pair
    assert np.all(comps.winner[other] == np.maximum(comps.a[other], comps.b[other]))


def test_probability_vector_design_pair_frequencies():
    q = np.array([0.5, 0.3, 0.15, 0.05, 0.0])
    pop = sim.Population([sim.AnnotatorType(1.0, sim.linear_reward([1.0]))])
    n = 40_000
    comps = pop.sample_comparisons(np.arange(5.0)[:, None], n, rng=3, design=q)
    assert np.all(comps.a != comps.b)
    assert not np.any((comps.a == 4) | (comps.b == 4))
    Z = 1.0 - np.sum(q**2)
    for i in range(4):
        for j in range(i + 1, 4):
            freq = np.mean(((comps.a == i) & (comps.b == j)) | ((comps.a == j) & (comps.b == i)))
            assert _binomial_ok(freq, 2 * q[i] * q[j] / Z, n)


def test_explicit_pair_design_and_determinism():
    X = np.random.default_rng(0).normal(size=(4, 2))
    pop = _random_population(2)
    pairs = np.array([[0, 1], [3, 2], [1, 3]])
    comps = pop.sample_comparisons(X, 3, rng=0, design=pairs)
    assert comps.a.tolist() == [0, 3, 1] and comps.b.tolist() == [1, 2, 3]
    assert pop.sample_comparisons(X, 500, rng=9) == pop.sample_comparisons(X, 500, rng=np.random.default_rng(9))
    assert not pop.sample_comparisons(X, 500, rng=9) == pop.sample_comparisons(X, 500, rng=10)
    assert pop.sample_rankings(X, 50, rng=4) == pop.sample_rankings(X, 50, rng=4)


@pytest.mark.parametrize("choice", ["bt", "thurstone", "deterministic"])
def test_ranking_pairwise_frequencies_match_choice_model(choice):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(5, 2))
    X[4] = X[1]  # a tie for the deterministic model
    pop = sim.Population(
        [
            sim.AnnotatorType(0.6, sim.linear_reward([1.0, -0.5])),
            sim.AnnotatorType(0.4, sim.topic_table_reward([[0, 0], [1, 1]], [2.0, -1.0], 0.5)),
        ],
        choice=choice,
        beta=1.5,
    )
    n = 20_000
    rk = pop.sample_rankings(X, n, rng=5)
    assert rk.n_voters == n and rk.complete and not rk.unlisted_last
    assert rk.strict == (choice != "deterministic")
    freq = rk.pairwise_counts() / n
    assert np.all(_binomial_ok(freq, pop.preference_matrix(X), n) | np.eye(5, dtype=bool))


def test_topk_rankings_first_choice_is_plackett_luce():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(4, 1))
    pop = sim.Population(
        [sim.AnnotatorType(0.5, sim.linear_reward([2.0])), sim.AnnotatorType(0.5, sim.linear_reward([-1.0]))], beta=0.8
    )
    n = 20_000
    rk = pop.sample_rankings(X, n, k=1, rng=3)
    assert rk.unlisted_last and all(len(o) == 1 for o in rk.orders)
    first = np.zeros(4)
    for order, c in zip(rk.orders, rk.counts):
        first[order[0][0]] += c
    R = pop.rewards(X)
    expected = sum(0.5 * np.exp(0.8 * r) / np.exp(0.8 * r).sum() for r in R)
    assert np.all(_binomial_ok(first / n, expected, n))
    # listed beats unlisted: each ranking gives its top alternative 3 wins
    assert rk.pairwise_counts().sum() == 3 * n


# ----------------------------------------------------------------------------- validation


def test_validation_errors_name_the_value():
    r = sim.linear_reward([1.0])
    with pytest.raises(ValueError, match=r"sum 0\.9"):
        sim.Population([sim.AnnotatorType(0.5, r), sim.AnnotatorType(0.4, r)])
    with pytest.raises(ValueError, match="share must be positive.*-0.2"):
        sim.AnnotatorType(-0.2, r)
    with pytest.raises(ValueError, match="beta must be positive.*-1"):
        sim.Population([sim.AnnotatorType(1.0, r)], beta=-1)
    with pytest.raises(ValueError, match="beta must be positive.*0"):
        sim.Population([sim.AnnotatorType(1.0, r)], beta=0.0)
    with pytest.raises(ValueError, match="'logit'"):
        sim.Population([sim.AnnotatorType(1.0, r)], choice="logit")
    with pytest.raises(TypeError, match="callable"):
        sim.AnnotatorType(1.0, 3.0)
    pop = sim.Population([sim.AnnotatorType(1.0, r)])
    with pytest.raises(ValueError, match=r"X\[1, 0\] = nan"):
        pop.preference_matrix(np.array([[0.0], [np.nan]]))
    with pytest.raises(ValueError, match=r"X\[0, 0\] = inf"):
        pop.sample_comparisons(np.array([[np.inf], [0.0]]), 3)
    with pytest.raises(ValueError, match="dimension 1, but X has d=2"):
        pop.rewards(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"design\[1\] = \[2, 2\]"):
        pop.sample_comparisons(np.zeros((3, 1)), 2, design=np.array([[0, 1], [2, 2]]))
    with pytest.raises(ValueError, match=r"design\[0\] = \[0, 7\]"):
        pop.sample_comparisons(np.zeros((3, 1)), 1, design=np.array([[0, 7]]))
    with pytest.raises(ValueError, match=r"sum to 1.*0\.8"):
        pop.sample_comparisons(np.zeros((3, 1)), 2, design=[0.4, 0.4, 0.0])
    with pytest.raises(ValueError, match="k must be.*7"):
        pop.sample_rankings(np.zeros((3, 1)), 2, k=7)
    with pytest.raises(ValueError, match="n must be.*-3"):
        pop.sample_comparisons(np.zeros((3, 1)), -3)
    bad = sim.Population([sim.AnnotatorType(1.0, lambda Z: np.full(len(Z), np.inf))])
    with pytest.raises(ValueError, match="non-finite value inf"):
        bad.preference_matrix(np.zeros((2, 1)))


def test_large_instance_across_tiles_matches_direct_formula():
    # m > 256 exercises the tiled antisymmetrisation; clones of row 0 sit in different tiles
    rng = np.random.default_rng(8)
    alts = sim.add_exact_clones(sim.uniform_alternatives(BOX, 290, rng), 0, 3)
    pop = _random_population(4, choice="bt", region=BOX)
    P = pop.preference_matrix(alts.X)
    R = np.array([t.reward(alts.X) for t in pop.types])
    direct = sum(t.share / (1.0 + np.exp(-pop.beta * (r[:, None] - r[None, :]))) for t, r in zip(pop.types, R))
    np.testing.assert_allclose(P, direct, rtol=1e-12, atol=1e-15)
    assert np.max(np.abs(P + P.T - 1.0)) <= 1e-15 and np.all(np.diag(P) == 0.5)
    group = [0, 290, 291, 292]
    assert np.all(P[np.ix_(group, group)] == 0.5)
    others = np.setdiff1d(np.arange(293), group)
    for c in group[1:]:
        np.testing.assert_array_equal(P[c, others], P[0, others])
        np.testing.assert_array_equal(P[others, c], P[others, 0])
