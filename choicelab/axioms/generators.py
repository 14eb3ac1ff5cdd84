"""Instances for the axiom checks: random worlds, planted structures, exhaustive small cases, and
the transformations the axioms apply to an instance (exact clones, relabelling).

Random instances almost never contain clones, Condorcet winners that Borda misses, or majority
orders that Borda contradicts, so besides random worlds from the ``sim`` generators this module
plants such structures and enumerates small cases exhaustively. Every generator draws from the
generator it is given (:func:`choicelab._validation.as_rng`), so a search is reproducible from
its seed; every instance is a :class:`choicelab.sim.Instance`, the one instance type a witness
encodes.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.special import expit

from choicelab._validation import as_rng

__all__ = [
    "random_bt_instances",
    "random_world_instances",
    "random_population",
    "random_profile_instances",
    "profile_instance",
    "tennessee_instance",
    "matrix_from_upper",
    "planted_condorcet_instances",
    "planted_linear_majority_instances",
    "exhaustive_matrices",
    "exhaustive_profiles",
    "small_profiles",
    "topic_cluster_instance",
    "bt_world_instance",
    "clone_matrix",
    "clone_instance",
    "permute_instance",
]


# ----------------------------------------------------------------------------- random worlds
def _random_bt_population(d: int, rng: np.random.Generator, n_types: int | None = None, aligned: float = 0.0):
    from choicelab import sim

    T = int(rng.integers(2, 5)) if n_types is None else int(n_types)
    shares = rng.dirichlet(np.ones(T))
    base = rng.normal(size=d)
    types = []
    for t in range(T):
        if rng.random() < 0.6:
            theta = aligned * base + rng.normal(0.0, 2.0, size=d)
            reward = sim.linear_reward(theta)
        else:
            reward = sim.ideal_point_reward(rng.random(d))
        types.append(sim.AnnotatorType(float(shares[t]), reward))
    return sim.Population(types, choice="bt", beta=float(rng.uniform(1.0, 4.0)))


def random_bt_instances(rng, count: int, m_range=(3, 8), d: int = 2, aligned: float = 0.0) -> list:
    """Random worlds: ``m`` uniform alternatives in the unit box, a 2-4 type BT mixture (linear and
    ideal-point rewards); ``aligned > 0`` tilts the linear types towards a common direction (more
    Pareto-dominated pairs)."""
    from choicelab import sim

    rng = as_rng(rng)
    out = []
    for _ in range(int(count)):
        m = int(rng.integers(m_range[0], m_range[1] + 1))
        region = sim.Box(np.zeros(d), np.ones(d))
        alts = sim.uniform_alternatives(region, m, rng=rng)
        out.append(sim.Instance(alts, _random_bt_population(d, rng, aligned=aligned), region))
    return out


def profile_instance(rankings, shares):
    """Instance whose P is the pairwise share matrix of a profile of strict rankings.

    ``rankings[t]`` lists alternatives best first, cast by the share ``shares[t]``. Each ranking
    is an annotator type with explicit rewards (``-position``) under the deterministic choice
    model, so ``P_ij`` = the share of voters ranking i above j. Alternatives sit at 0..m-1 on a
    line with region ``[-1/2, m - 1/2]``, so their Voronoi weights are uniform.
    """
    from choicelab import sim

    rankings = [list(map(int, r)) for r in rankings]
    m = len(rankings[0])
    X = np.arange(m, dtype=float)[:, None]
    types = []
    for r, share in zip(rankings, shares):
        if sorted(r) != list(range(m)):
            raise ValueError(f"rankings must be permutations of 0..{m - 1}, got {r}")
        values = np.empty(m)
        values[r] = -np.arange(m, dtype=float)
        types.append(sim.AnnotatorType(float(share), sim.explicit_reward(X, values)))
    pop = sim.Population(types, choice="deterministic")
    return sim.Instance(sim.Alternatives(X), pop, sim.Box([-0.5], [m - 0.5]))


def tennessee_instance():
    """The Tennessee capital profile: Memphis 0, Nashville 1, Chattanooga 2, Knoxville 3.

    Shares 0.42 (M > N > C > K), 0.26 (N > C > K > M), 0.15 (C > K > N > M), 0.17 (K > C > N > M).
    The majority relation is the linear order N > C > K > M, while Borda (hence the MLE, P4)
    ranks Memphis above Knoxville although Knoxville wins that pair 58-42.
    """
    return profile_instance([[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 1, 0], [3, 2, 1, 0]], [0.42, 0.26, 0.15, 0.17])


def random_profile_instances(rng, count: int, m_range=(3, 5), n_types=(3, 7)) -> list:
    """Profiles of random strict rankings with random (Dirichlet, hence generic) shares."""
    rng = as_rng(rng)
    out = []
    for _ in range(int(count)):
        m = int(rng.integers(m_range[0], m_range[1] + 1))
        T = int(rng.integers(n_types[0], n_types[1] + 1))
        out.append(profile_instance([rng.permutation(m) for _ in range(T)], rng.dirichlet(np.ones(T))))
    return out


def matrix_from_upper(m: int, upper) -> np.ndarray:
    """The (m, m) preference matrix with upper triangle ``upper`` (row-major), ``P_ji = 1 - P_ij``."""
    P = np.full((m, m), 0.5)
    iu, ju = np.triu_indices(m, k=1)
    P[iu, ju] = upper
    P[ju, iu] = 1.0 - np.asarray(upper, dtype=float)
    return P


def planted_condorcet_instances(rng, count: int, m_range=(3, 6)) -> list:
    """Matrices with a planted Condorcet winner c that Borda does not rank first.

    c beats everyone narrowly (``P_cj`` in (0.5, 0.56)); one rival beats everyone else by a
    wide margin, so its Borda score exceeds c's. The contract A5 example (0.51, 0.51, 0.99) is the
    m = 3 case.
    """
    from choicelab import sim

    rng = as_rng(rng)
    out = [sim.Instance.from_matrix(matrix_from_upper(3, [0.51, 0.51, 0.99]))]
    for _ in range(int(count) - 1):
        m = int(rng.integers(m_range[0], m_range[1] + 1))
        P = np.full((m, m), 0.5)
        for i in range(m):
            for j in range(i + 1, m):
                P[i, j] = rng.uniform(0.05, 0.95)
        c, rival = 0, 1
        P[c, 1:] = rng.uniform(0.5005, 0.56, size=m - 1)
        P[rival, 2:] = rng.uniform(0.9, 0.995, size=m - 2)
        iu, ju = np.triu_indices(m, k=1)
        P[ju, iu] = 1.0 - P[iu, ju]
        perm = rng.permutation(m)
        out.append(sim.Instance.from_matrix(P[np.ix_(perm, perm)]))
    return out


def planted_linear_majority_instances(rng, count: int, m_range=(3, 6)) -> list:
    """Matrices whose majority relation is a linear order but whose Borda order differs.

    Order 0 > 1 > ... > m-1 by majority; the last alternative loses narrowly to everyone but
    one, while the second-to-last loses heavily, so Borda swaps them (Tennessee pattern).
    """
    from choicelab import sim

    rng = as_rng(rng)
    out = [tennessee_instance()]
    for _ in range(int(count) - 1):
        m = int(rng.integers(m_range[0], m_range[1] + 1))
        P = np.full((m, m), 0.5)
        for i in range(m):
            for j in range(i + 1, m):
                P[i, j] = rng.uniform(0.5005, 0.6)
        a, b = m - 2, m - 1  # a beats b narrowly, but a loses heavily to the rest
        P[:a, a] = rng.uniform(0.9, 0.99, size=a)
        P[:a, b] = rng.uniform(0.5005, 0.55, size=a)
        P[a, b] = rng.uniform(0.5005, 0.52)
        iu, ju = np.triu_indices(m, k=1)
        P[ju, iu] = 1.0 - P[iu, ju]
        perm = rng.permutation(m)
        out.append(sim.Instance.from_matrix(P[np.ix_(perm, perm)]))
    return out


def exhaustive_matrices(values=None, distinct_strengths: bool = True) -> list:
    """Every 3 x 3 preference matrix whose upper entries come from a grid (default 0.05 ... 0.95).

    With ``distinct_strengths`` the matrices where two pairs have the same strength
    ``max(P_ij, P_ji)`` are left out: there tie-breaking by index, not the rule, decides
    Ranked Pairs and Schulze.
    """
    from choicelab import sim

    values = np.round(np.arange(0.05, 1.0, 0.1), 10) if values is None else np.asarray(values, dtype=float)
    out = []
    for upper in itertools.product(values, repeat=3):
        strengths = [round(max(v, 1.0 - v), 12) for v in upper]
        if distinct_strengths and len(set(strengths)) < 3:
            continue
        out.append(sim.Instance.from_matrix(matrix_from_upper(3, upper)))
    return out


def exhaustive_profiles(n_voters: int, m: int = 3) -> list:
    """Every profile of ``n_voters`` strict rankings over ``m`` alternatives (as multisets)."""
    perms = list(itertools.permutations(range(m)))
    out = []
    for combo in itertools.combinations_with_replacement(range(len(perms)), int(n_voters)):
        kinds, counts = np.unique(combo, return_counts=True)
        out.append(profile_instance([perms[k] for k in kinds], counts / n_voters))
    return out


def small_profiles(quick: bool) -> list:
    """Every profile of 3 (quick) or of 3, 4 and 5 voters over 3 alternatives (56 or 434 profiles)."""
    sizes = (3,) if quick else (3, 4, 5)
    return [inst for n in sizes for inst in exhaustive_profiles(n)]


def topic_cluster_instance(rng, per_topic: int = 3, n_types: int = 3, spread: float = 0.05):
    """A1 world: three topic clusters in the unit square and a topic-table (Lipschitz) population.

    Topic centres (0.25, 0.3), (0.75, 0.3), (0.5, 0.75); ``per_topic`` alternatives around each
    (Gaussian, ``spread``; points outside the box are redrawn); ``n_types`` types with random
    topic utilities ``U[t, k] ~ N(0, 2)`` and temperature 0.05.
    """
    from choicelab import sim

    rng = as_rng(rng)
    region = sim.Box([0.0, 0.0], [1.0, 1.0])
    centers = np.array([[0.25, 0.3], [0.75, 0.3], [0.5, 0.75]])
    for _ in range(100):
        alts = sim.topic_clusters(centers, per_topic, spread, rng=rng)
        if np.all(region.contains(alts.X)):
            break
    else:  # pragma: no cover - spread 0.05 leaves the box with negligible probability
        raise RuntimeError("could not draw topic clusters inside the unit box")
    shares = rng.dirichlet(np.full(n_types, 2.0))
    U = rng.normal(0.0, 2.0, size=(n_types, centers.shape[0]))
    types = [sim.AnnotatorType(float(shares[t]), sim.topic_table_reward(centers, U[t], 0.05)) for t in range(n_types)]
    return sim.Instance(alts, sim.Population(types, choice="bt"), region)


def random_population(d: int, rng):
    """A 2-4 type Bradley-Terry mixture on R^d: each type linear (``theta ~ N(0, 3^2)``) or ideal-point
    (centre uniform in the unit box), with probability 1/2 each; rationality ``beta ~ U(1, 4)``."""
    from choicelab import sim

    rng = as_rng(rng)
    n_types = int(rng.integers(2, 5))
    shares = rng.dirichlet(np.ones(n_types))
    types = []
    for t in range(n_types):
        if rng.random() < 0.5:
            reward = sim.linear_reward(rng.normal(0.0, 3.0, size=d))
        else:
            reward = sim.ideal_point_reward(rng.random(d))
        types.append(sim.AnnotatorType(float(shares[t]), reward))
    return sim.Population(types, choice="bt", beta=float(rng.uniform(1.0, 4.0)))


def random_world_instances(rng, count: int, *, d_choices=(1, 2), m_range=(3, 24)) -> list:
    """Random worlds for the theorems (T1, P4-P8): ``d`` drawn from ``d_choices``, ``m`` uniform
    alternatives in the unit box (``m`` in ``m_range``), a :func:`random_population`."""
    from choicelab import sim

    rng = as_rng(rng)
    out = []
    for _ in range(int(count)):
        d = int(rng.choice(d_choices))
        m = max(int(rng.integers(m_range[0], m_range[1] + 1)), m_range[0])
        region = sim.Box(np.zeros(d), np.ones(d))
        alts = sim.uniform_alternatives(region, m, rng=rng)
        out.append(sim.Instance(alts, random_population(d, rng), region))
    return out


def bt_world_instance(rewards):
    """The matrix-only instance of a Bradley-Terry world: ``P_ij = sigma(r_i - r_j)``."""
    from choicelab import sim

    r = np.asarray(rewards, dtype=float)
    P = expit(r[:, None] - r[None, :])
    P = (P + 1.0 - P.T) / 2.0  # exact P_ij + P_ji = 1 despite rounding in expit
    return sim.Instance.from_matrix(P)


# ----------------------------------------------------------------------------- transformations
def clone_matrix(P, index: int, count: int) -> np.ndarray:
    """``P`` with ``count`` exact clones of ``index`` appended: rows and columns copied,
    ``P(x', x) = 1/2`` between copies (an exact clone)."""
    P = np.asarray(P, dtype=float)
    src = np.concatenate([np.arange(P.shape[0]), np.full(int(count), int(index))])
    return P[np.ix_(src, src)]


def clone_instance(instance, index: int, count: int):
    """``instance`` with ``count`` exact clones of alternative ``index`` appended at the end."""
    from choicelab import sim

    if instance.population is not None and instance.alternatives is not None:
        return instance.with_alternatives(sim.add_exact_clones(instance.alternatives, index, count))
    return sim.Instance.from_matrix(clone_matrix(instance.P, index, count))


def permute_instance(instance, perm):
    """Relabel alternatives: new alternative ``k`` is old ``perm[k]`` (positions move with labels)."""
    from choicelab import sim

    perm = np.asarray(perm, dtype=np.int64)
    if instance.population is not None and instance.alternatives is not None:
        a = instance.alternatives
        clone_of = np.where(a.clone_of[perm] >= 0, np.argsort(perm)[np.maximum(a.clone_of[perm], 0)], -1)
        alts = sim.Alternatives(a.X[perm], labels=a.labels[perm], clone_of=clone_of)
        return instance.with_alternatives(alts)
    P = np.asarray(instance.P, dtype=float)
    return sim.Instance.from_matrix(P[np.ix_(perm, perm)])
