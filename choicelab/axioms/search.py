"""Instance search for the axiom checks: random, planted, exhaustive, adversarial (SPEC §3).

Random instances almost never contain clones, Condorcet winners that Borda misses, or
majority orders that Borda contradicts, so besides random worlds from the ``sim`` generators
this module plants such structures, enumerates small cases exhaustively, and runs an
adversarial search (``scipy.optimize`` over the entries of P) that maximises a violation
margin. A violation is reported only after :func:`brute_outcome`, an independent
computation (a plain ``scipy.optimize.minimize`` of SPEC Eq. 1 / Eq. 2, or a direct
enumeration for the voting rules), has reproduced it; the re-check goes into the witness.

A witness (:func:`make_witness`) is a JSON-serialisable dict: the instance
(``Instance.to_dict()``), the estimator, the seed and the axiom-specific details. Running the
axiom's check on that instance with that seed reproduces the measurement
(:func:`choicelab.axioms.api.replay`).
"""
from __future__ import annotations

import itertools
import numbers
import zlib
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from choicelab.axioms.base import HOLDS, INCONCLUSIVE, VIOLATED, Measurement

__all__ = [
    "WITNESS_FORMAT", "LAM", "REWARD_TOL", "BRUTE_TOL", "make_witness", "jsonable",
    "fit_outcome", "brute_outcome", "EstimatorNotApplicable", "applicability", "BruteForceUnavailable", "weights_for",
    "random_bt_instances", "random_profile_instances", "profile_instance", "tennessee_instance",
    "planted_condorcet_instances", "planted_linear_majority_instances", "exhaustive_matrices",
    "exhaustive_profiles", "small_profiles", "clone_matrix", "clone_instance", "permute_instance", "topic_cluster_instance",
    "adversarial_matrix_search", "run_search", "cell_seed", "SearchSource", "check_given",
    "register_instance_check", "INSTANCE_CHECKS", "as_instance", "outcome_summary", "recheck", "violation",
    "not_applicable",
]

WITNESS_FORMAT = "choicelab.witness/1"
LAM = 0.1  # SPEC §2 default: (lam/2) sum_i w_i r_i^2
REWARD_TOL = 1e-7  # reward differences below this are ties / "unchanged" (solvers stop near 1e-10)
BRUTE_TOL = 1e-5  # the brute-force minimiser is trusted to this accuracy in the re-checks
BRUTE_ENUM_MAX_M = 8  # brute-force Kemeny / Schulze enumerate m! rankings / all simple paths
WEIGHTED = ("weighted_mle", "neural_weighted_mle", "wawr")
_BT_ESTIMATORS = ("mle", "weighted_mle")
_RULES = ("borda", "wawr", "copeland", "schulze", "ranked_pairs", "kemeny", "maximal_lottery")


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def cell_seed(seed: int, *keys: str) -> np.random.Generator:
    """A generator for one (axiom, estimator) cell that does not depend on which other cells run."""
    spawn = tuple(zlib.crc32(k.encode()) for k in keys)
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=spawn))


# ----------------------------------------------------------------------------- witnesses
def jsonable(value):
    """Numpy arrays and scalars (also nested in dicts, lists, tuples) as plain JSON types."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return v if np.isfinite(v) else None
    if isinstance(value, np.str_):
        return str(value)
    return value


def make_witness(axiom: str, estimator: str, instance, seed: int, quick: bool, **details) -> dict:
    """JSON-serialisable witness: re-running ``axiom`` on ``instance`` with ``seed`` reproduces it."""
    return jsonable({"format": WITNESS_FORMAT, "axiom": axiom, "estimator": estimator,
                     "instance": instance.to_dict(), "seed": int(seed), "quick": bool(quick), **details})


def outcome_summary(out) -> dict:
    """Scores, order and winners of an :class:`EstimatorOutput`, for witnesses."""
    return jsonable({"scores": out.scores, "order": out.order, "winners": list(out.winners),
                     "converged": out.converged})


# ----------------------------------------------------------------------------- fitting
def weights_for(estimator: str, instance, rng=None) -> np.ndarray | None:
    """Weights a weighted estimator uses on ``instance`` in the checks.

    Voronoi weights of the instance's positions in its region (exact in 1-D and 2-D boxes);
    on a matrix-only instance the checker uses uniform weights ``1/m`` (so the weighted MLE
    is the standard MLE with ``lam_std = m lam``, SPEC P7). None for unweighted estimators.
    """
    if estimator not in WEIGHTED:
        return None
    if instance.X is None or instance.region is None:
        return np.full(instance.m, 1.0 / instance.m)
    from choicelab.estimators.weights import voronoi_weights

    return np.asarray(voronoi_weights(instance.X, instance.region, rng=_rng(rng)), dtype=float)


class EstimatorNotApplicable(ValueError):
    """The estimator cannot run on this instance (the checks then skip it as premise-failed)."""


def applicability(estimator: str, instance, data=None) -> str | None:
    """Why ``estimator`` cannot be fitted on ``instance`` in the checks, or None when it can.

    ``linear_mle`` needs positions; ``pl_mle`` without data samples rankings, so it needs a
    population whose choice model is not deterministic (deterministic ties, e.g. between exact
    clones, would give tied rankings, which Plackett-Luce has no model for).
    """
    if estimator == "linear_mle" and instance.X is None:
        return "linear_mle needs positions; the instance is matrix-only"
    if estimator == "pl_mle" and data is None:
        if instance.population is None or instance.X is None:
            return "pl_mle samples rankings from a population; the instance is matrix-only"
        if instance.population.choice == "deterministic":
            return "pl_mle has no tie model; a deterministic population ranks equal rewards as ties"
    return None


def fit_outcome(estimator: str, instance, *, weights=None, data=None, rng=None, quick=False, lam=LAM):
    """Fit ``estimator`` through the registry; weighted estimators get :func:`weights_for` by default.

    Raises :class:`EstimatorNotApplicable` when :func:`applicability` gives a reason.
    """
    from choicelab.estimators.registry import get_estimator

    why = applicability(estimator, instance, data)
    if why is not None:
        raise EstimatorNotApplicable(why)
    if weights is None and estimator in WEIGHTED:
        weights = weights_for(estimator, instance, rng)
    return get_estimator(estimator).fit(instance, data=data, weights=weights, lam=lam, rng=rng, quick=quick)


class BruteForceUnavailable(ValueError):
    """No independent computation exists for this estimator (neural models, DPO, ...)."""


def brute_outcome(estimator: str, X, weights=None, lam: float = LAM):
    """Independent recomputation of an estimator's outcome on a data matrix (the re-check).

    ``mle`` / ``weighted_mle``: ``scipy.optimize.minimize`` (BFGS with the analytic gradient) of
    SPEC Eq. 1 / Eq. 2 written term by term with a stable log-sigmoid,
    ``f(r) = sum_{i != j} w_i w_j X_ij log(1 + exp(r_j - r_i)) + (lam/2) sum_i w_i r_i^2``
    (``X`` = P or win counts N); zero-weight alternatives get the root of their P5 identity by
    ``brentq``. Voting rules: direct enumeration from their definitions (SPEC §2), written
    independently of ``choicelab.estimators.voting``: Borda/WAWR/Copeland by loops, Schulze
    by enumerating all simple paths, Ranked Pairs by locking with ``networkx.has_path``,
    Kemeny over all permutations, maximal lotteries by an interior-point feasibility LP.

    Returns an :class:`~choicelab.estimators.registry.EstimatorOutput`; raises
    :class:`BruteForceUnavailable` for estimators without such a computation.
    """
    X = np.asarray(X, dtype=float)
    if estimator in _BT_ESTIMATORS:
        return _brute_bt(estimator, X, weights, lam)
    if estimator in _RULES:
        if estimator in ("kemeny", "schulze") and X.shape[0] > BRUTE_ENUM_MAX_M:
            raise BruteForceUnavailable(f"brute-force {estimator} enumerates permutations or paths; limited to "
                                        f"m <= {BRUTE_ENUM_MAX_M}, got m = {X.shape[0]}")
        return _brute_rule(estimator, X, weights)
    raise BruteForceUnavailable(f"no independent brute-force computation for estimator {estimator!r}")


def _bt_objective(r, X, w, lam):
    d = r[:, None] - r[None, :]
    W = np.outer(w, w) * X
    np.fill_diagonal(W, 0.0)
    f = np.sum(W * np.logaddexp(0.0, -d)) + 0.5 * lam * np.sum(w * r * r)
    s = expit(-d)  # d/dd of log(1 + e^{-d}) is -sigma(-d)
    g = -np.sum(W * s, axis=1) + np.sum(W * s, axis=0) + lam * w * r
    return f, g


def _brute_bt(estimator, X, weights, lam):
    from scipy.optimize import brentq, minimize

    from choicelab.estimators.registry import _reward_output

    m = X.shape[0]
    w = np.ones(m) if weights is None else np.asarray(weights, dtype=float)
    pos = w > 0
    idx = np.flatnonzero(pos)
    Xs, ws = X[np.ix_(idx, idx)], w[idx]
    scale = max(float(np.sum(np.outer(ws, ws) * Xs)), 1e-300)  # keep the objective of order one for BFGS
    res = minimize(lambda r: tuple(v / scale for v in _bt_objective(r, Xs, ws, lam)), np.zeros(idx.size),
                   jac=True, method="BFGS", options={"gtol": 1e-11, "maxiter": 20000})
    r = np.zeros(m)
    r[idx] = res.x
    gnorm = float(np.linalg.norm(_bt_objective(res.x, Xs, ws, lam)[1]))
    for i in np.flatnonzero(~pos):
        # w_i -> 0+ limit: sum_j w_j (S_ij sigma(r_i - r_j) - X_ij) + lam r_i = 0 (see bt_mle)
        S = X[i, idx] + X[idx, i]

        def identity(x, i=i, S=S):
            return float(np.sum(ws * (S * expit(x - r[idx]) - X[i, idx])) + lam * x)

        r[i] = brentq(identity, -1e3, 1e3, xtol=1e-13)
    converged = gnorm <= 1e-7 * max(1.0, scale)
    return _reward_output(f"{estimator} (brute force: scipy BFGS)", r, res, converged,
                          None if weights is None else w)


def _brute_rule(rule, P, weights):
    from choicelab.estimators.registry import EstimatorOutput

    m = P.shape[0]
    info: dict = {"rule": rule, "method": "brute force"}
    if rule in ("borda", "wawr"):
        w = np.ones(m) if rule == "borda" else np.asarray(weights, dtype=float)
        scores = np.array([sum(w[j] * P[i, j] for j in range(m)) for i in range(m)])
        order, winners = _order_ties(scores, 1e-9), _tops(scores, 1e-9)
    elif rule == "copeland":
        scores = np.array([sum(1.0 if P[i, j] > 0.5 + 1e-12 else 0.5 if abs(P[i, j] - 0.5) <= 1e-12 else 0.0
                               for j in range(m) if j != i) for i in range(m)])
        order, winners = _order_ties(scores, 0.25), _tops(scores, 0.0)
    elif rule == "schulze":
        p = _schulze_paths(P)
        beats = [[p[i][j] > p[j][i] + 1e-12 for j in range(m)] for i in range(m)]
        scores = np.array([float(sum(beats[i])) for i in range(m)])
        winners = tuple(i for i in range(m) if not any(beats[j][i] for j in range(m)))
        order = _order_ties(scores, 0.25)
    elif rule == "ranked_pairs":
        scores, winners = _ranked_pairs_enum(P)
        order = _order_ties(scores, 0.25)
    elif rule == "kemeny":
        order, winners, best = _kemeny_enum(P)
        scores = np.empty(m)
        scores[order] = m - 1 - np.arange(m)
        info["kemeny_score"] = best
    elif rule == "maximal_lottery":
        scores = _lottery_feasibility(P)
        order, winners = _order_ties(scores, 1e-7), tuple(int(i) for i in np.flatnonzero(scores > 1e-7))
    else:  # pragma: no cover - guarded by brute_outcome
        raise BruteForceUnavailable(rule)
    return EstimatorOutput(scores=np.asarray(scores, dtype=float), order=np.asarray(order, dtype=np.int64),
                           kind="rule", raw=info, converged=True, estimator=f"{rule} (brute force)",
                           winners=tuple(int(i) for i in winners))


def _order_ties(scores, tol) -> np.ndarray:
    # sort by score, index order within tol: compare every pair explicitly (m is small here)
    m = len(scores)
    keys = [sum(1 for j in range(m) if scores[j] > scores[i] + tol) for i in range(m)]
    return np.array(sorted(range(m), key=lambda i: (keys[i], i)), dtype=np.int64)


def _tops(scores, tol) -> tuple:
    best = max(scores)
    return tuple(i for i in range(len(scores)) if scores[i] >= best - tol)


def _schulze_paths(P):
    m = P.shape[0]
    d = [[P[i, j] if P[i, j] > 0.5 + 1e-12 else 0.0 for j in range(m)] for i in range(m)]
    p = [[0.0] * m for _ in range(m)]

    def walk(node, target, visited, weakest):
        for nxt in range(m):
            if nxt in visited or d[node][nxt] <= 0.0:
                continue
            strength = min(weakest, d[node][nxt])
            if nxt == target:
                p[visited[0]][target] = max(p[visited[0]][target], strength)
            else:
                walk(nxt, target, visited + (nxt,), strength)

    for i in range(m):
        for j in range(m):
            if i != j:
                walk(i, j, (i,), np.inf)
    return p


def _ranked_pairs_enum(P):
    import networkx as nx

    m = P.shape[0]
    pairs = [(P[i, j], i, j) for i in range(m) for j in range(m) if i != j and P[i, j] > 0.5 + 1e-12]
    # decreasing strength; equal strengths (within 1e-12) in lexicographic (i, j) order
    pairs.sort(key=lambda t: (-round(t[0] / 1e-12), t[1], t[2]))
    G = nx.DiGraph()
    G.add_nodes_from(range(m))
    for _, i, j in pairs:
        if not nx.has_path(G, j, i):
            G.add_edge(i, j)
    scores = np.array([float(len(nx.descendants(G, i))) for i in range(m)])
    winners = tuple(i for i in range(m) if G.in_degree(i) == 0)
    return scores, winners


def _kemeny_enum(P):
    m = P.shape[0]
    best, rankings = -np.inf, []
    for perm in itertools.permutations(range(m)):
        total = sum(P[perm[a], perm[b]] for a in range(m) for b in range(a + 1, m))
        if total > best + 1e-9:
            best, rankings = total, [perm]
        elif total >= best - 1e-9:
            rankings.append(perm)
    rankings.sort()
    return np.array(rankings[0]), tuple(sorted({r[0] for r in rankings})), float(best)


def _lottery_feasibility(P):
    from scipy.optimize import linprog

    m = P.shape[0]
    M = P - P.T
    # p >= 0, sum p = 1, (M^T p)_j >= 0 for all j: the maximal lotteries (the game value is 0)
    res = linprog(np.zeros(m), A_ub=-M.T, b_ub=np.full(m, 1e-12), A_eq=np.ones((1, m)), b_eq=[1.0],
                  bounds=[(0, None)] * m, method="highs-ipm")
    if res.status != 0:
        raise RuntimeError(f"maximal lottery feasibility LP failed: {res.message}")
    return np.asarray(res.x, dtype=float)


# ----------------------------------------------------------------------------- generators
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

    rng = _rng(rng)
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
    rng = _rng(rng)
    out = []
    for _ in range(int(count)):
        m = int(rng.integers(m_range[0], m_range[1] + 1))
        T = int(rng.integers(n_types[0], n_types[1] + 1))
        out.append(profile_instance([rng.permutation(m) for _ in range(T)], rng.dirichlet(np.ones(T))))
    return out


def _matrix_from_upper(m: int, upper) -> np.ndarray:
    P = np.full((m, m), 0.5)
    iu, ju = np.triu_indices(m, k=1)
    P[iu, ju] = upper
    P[ju, iu] = 1.0 - np.asarray(upper, dtype=float)
    return P


def planted_condorcet_instances(rng, count: int, m_range=(3, 6)) -> list:
    """Matrices with a planted Condorcet winner c that Borda does not rank first.

    c beats everyone narrowly (``P_cj`` in (0.5, 0.56)); one rival beats everyone else by a
    wide margin, so its Borda score exceeds c's. The SPEC A5 example (0.51, 0.51, 0.99) is the
    m = 3 case.
    """
    from choicelab import sim

    rng = _rng(rng)
    out = [sim.Instance.from_matrix(_matrix_from_upper(3, [0.51, 0.51, 0.99]))]
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

    rng = _rng(rng)
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
        out.append(sim.Instance.from_matrix(_matrix_from_upper(3, upper)))
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

    rng = _rng(rng)
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


# ----------------------------------------------------------------------------- transformations
def clone_matrix(P, index: int, count: int) -> np.ndarray:
    """``P`` with ``count`` exact clones of ``index`` appended: rows and columns copied,
    ``P(x', x) = 1/2`` between copies (SPEC §1 Clones)."""
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


# ----------------------------------------------------------------------------- adversarial
def adversarial_matrix_search(margin, m: int, rng, *, mode: str = "free", restarts: int = 4,
                              maxiter: int = 300, stop_at: float = 0.0):
    """Maximise ``margin(P)`` over m x m preference matrices (Nelder-Mead from random starts).

    The free upper entries are ``P_ij = sigma(u_ij)``. ``mode`` keeps an axiom's premise true
    while the search runs: ``"linear"`` sets ``P_ij = 1/2 + sigma(u_ij)/2`` for all i < j (the
    majority relation is the linear order 0 > 1 > ...); ``"condorcet"`` does so for row 0 only
    (alternative 0 is a Condorcet winner). A positive margin is a violation; the search stops
    as soon as one exceeds ``stop_at``.

    Returns
    -------
    (P, value) : the best matrix found and its margin.
    """
    from scipy.optimize import minimize

    if mode not in ("free", "linear", "condorcet"):
        raise ValueError(f"mode must be 'free', 'linear' or 'condorcet', got {mode!r}")
    rng = _rng(rng)
    k = m * (m - 1) // 2
    iu, _ = np.triu_indices(m, k=1)
    oriented = np.ones(k, dtype=bool) if mode == "linear" else (iu == 0) if mode == "condorcet" else np.zeros(k, bool)

    def to_P(u):
        p = expit(np.clip(u, -8.0, 8.0))
        return _matrix_from_upper(m, np.where(oriented, 0.5 + 0.5 * p, p))

    best = (None, -np.inf)

    class _Found(Exception):
        pass

    def objective(u):
        nonlocal best
        P = to_P(u)
        value = float(margin(P))
        if not np.isfinite(value):
            value = -1e3  # premise lost or no comparison possible: a flat penalty keeps Nelder-Mead finite
        if value > best[1]:
            best = (P, value)
            if value > stop_at:
                raise _Found
        return -value

    for _ in range(int(restarts)):
        try:
            minimize(objective, rng.normal(0.0, 2.0, size=k), method="Nelder-Mead",
                     options={"maxiter": int(maxiter), "xatol": 1e-6, "fatol": 1e-12})
        except _Found:
            break
    return best


# ----------------------------------------------------------------------------- search driver
# axiom id -> check_instance(estimator, instance, rng, quick, seed=...) of the instance-level
# checks, so that api.replay can re-run exactly what produced a witness
INSTANCE_CHECKS: dict = {}


def register_instance_check(axiom: str, fn):
    """Record the instance-level check of ``axiom`` (used by :func:`choicelab.axioms.api.replay`)."""
    INSTANCE_CHECKS[axiom] = fn
    return fn


def as_instance(instance):
    """An Instance, or an (m, m) matrix wrapped by ``Instance.from_matrix``."""
    from choicelab.sim.instance import Instance

    if isinstance(instance, Instance):
        return instance
    if isinstance(instance, (np.ndarray, list, tuple)):
        return Instance.from_matrix(instance)
    raise TypeError(f"instance must be a choicelab.sim.Instance, an (m, m) matrix or None, got {type(instance).__name__}")


def check_given(check_instance, estimator: str, instance, rng, quick: bool) -> Measurement:
    """Run an instance-level check on a given instance with a fresh seed drawn from ``rng``."""
    seed = int(_rng(rng).integers(2**62))
    return _guarded(check_instance, estimator, as_instance(instance), np.random.default_rng(seed), bool(quick), seed)


def _guarded(check_instance, estimator, instance, rng, quick, seed) -> Measurement:
    try:
        return check_instance(estimator, instance, rng, quick, seed=seed)
    except EstimatorNotApplicable as exc:
        return not_applicable("check", str(exc))


@dataclass(frozen=True)
class SearchSource:
    """A named batch of candidate instances (random, planted, exhaustive, ...)."""

    name: str
    instances: list


def run_search(axiom: str, estimator: str, sources, check_instance, rng, quick: bool,
               adversarial=None, collect=None) -> Measurement:
    """Run ``check_instance(estimator, instance, rng, quick)`` on candidates until a violation.

    Each candidate gets its own seed drawn from ``rng`` (recorded in the witness), so the
    violating instance can be replayed alone. ``adversarial``, if given, is called last as
    ``adversarial(rng) -> Measurement`` (it does its own search). Returns the first
    violation; otherwise HOLDS when every candidate held, else INCONCLUSIVE with the count of
    inconclusive candidates. ``magnitude`` is the worst per-candidate magnitude.
    ``collect(measurement) -> dict``, if given, gathers per-instance data into
    ``data["instances"]`` (e.g. the A1 curves).
    """
    rng = _rng(rng)
    counts = {HOLDS: 0, VIOLATED: 0, INCONCLUSIVE: 0}
    per_source, notes, worst = {}, [], 0.0
    skipped, collected = 0, []
    for source in sources:
        n = 0
        for instance in source.instances:
            seed = int(rng.integers(2**62))
            meas = _guarded(check_instance, estimator, instance, np.random.default_rng(seed), quick, seed)
            n += 1
            if meas.data.get("applicable") is False:
                skipped += 1  # the axiom's premise fails here (no Condorcet winner, ...)
                continue
            counts[meas.measured] += 1
            if collect is not None:
                collected.append(collect(meas))
            if np.isfinite(meas.magnitude):
                worst = max(worst, float(meas.magnitude))
            if meas.measured == VIOLATED:
                per_source[source.name] = n
                return _found(meas, axiom, source.name, per_source, counts)
            if meas.measured == INCONCLUSIVE and len(notes) < 3:
                notes.append(meas.detail)
        per_source[source.name] = n
    if adversarial is not None:
        meas = adversarial(rng)
        counts[meas.measured] += 1
        per_source["adversarial"] = 1
        if meas.measured == VIOLATED:
            return _found(meas, axiom, "adversarial", per_source, counts)
        if meas.measured == INCONCLUSIVE and len(notes) < 3:
            notes.append(meas.detail)
    searched = ", ".join(f"{n} {name}" for name, n in per_source.items())
    data = {"searched": per_source, "outcomes": counts, "premise_failed": skipped}
    if collect is not None:
        data["instances"] = collected
    if sum(counts.values()) == 0:
        return Measurement(INCONCLUSIVE, data=data,
                           detail=f"{axiom}: the premise failed on every one of {searched} instances")
    if counts[INCONCLUSIVE]:
        return Measurement(INCONCLUSIVE, magnitude=worst, data=data,
                           detail=f"{axiom}: no violation in {searched} instances, but {counts[INCONCLUSIVE]} "
                                  f"inconclusive (e.g. {notes[0] if notes else '?'})")
    return Measurement(HOLDS, magnitude=worst, data=data,
                       detail=f"{axiom}: no violation in {searched} instances")


def not_applicable(axiom: str, why: str) -> Measurement:
    """The axiom's premise fails on this instance (searches skip it)."""
    return Measurement(INCONCLUSIVE, detail=f"{axiom}: premise fails: {why}", data={"applicable": False})


def recheck(estimator: str, matrices, weights, predicate) -> dict:
    """Re-run a violation predicate on :func:`brute_outcome` fits of ``matrices``.

    ``predicate(*outcomes) -> (violated, margin)`` is the same test the fast check applied.
    Returns a JSON-ready dict: ``method``, ``confirmed`` (None when no brute force exists),
    ``margin`` and the brute-force outcomes.
    """
    if not isinstance(weights, (list, tuple)):
        weights = [weights] * len(matrices)
    try:
        outs = [brute_outcome(estimator, X, w) for X, w in zip(matrices, weights)]
    except BruteForceUnavailable as exc:
        return {"method": None, "confirmed": None, "note": str(exc)}
    violated, margin = predicate(*outs)
    return jsonable({"method": outs[0].estimator, "confirmed": bool(violated), "margin": margin,
                     "converged": all(o.converged for o in outs),
                     "outcomes": [outcome_summary(o) for o in outs]})


def violation(axiom: str, estimator: str, instance, seed: int, quick: bool, magnitude: float, detail: str,
              check: dict, data: dict | None = None, **details) -> Measurement:
    """A violation the fast check found, reported as VIOLATED only when ``check`` (from
    :func:`recheck`) confirmed it; otherwise INCONCLUSIVE with the finding in the witness."""
    witness = make_witness(axiom, estimator, instance, seed, quick, recheck=check, **details)
    if check.get("confirmed") is True:
        return Measurement(VIOLATED, magnitude=float(magnitude), witness=witness, data=data or {},
                           detail=f"{detail}; confirmed by {check['method']} (margin {check['margin']:.3g})")
    why = ("no independent brute-force computation exists for this estimator" if check.get("confirmed") is None
           else f"{check['method']} did not reproduce it (margin {check.get('margin')})")
    return Measurement(INCONCLUSIVE, magnitude=float(magnitude), data={**(data or {}), "unconfirmed": witness},
                       detail=f"{detail}; not reported as a violation: {why}")


def _found(meas: Measurement, axiom: str, source: str, per_source: dict, counts: dict) -> Measurement:
    data = dict(meas.data)
    data.update(searched=per_source, outcomes=counts, found_in=source)
    return Measurement(VIOLATED, magnitude=meas.magnitude, witness=meas.witness, data=data,
                       detail=f"{meas.detail} (found by the {source} search)")
