"""Reference voting rules on a preference matrix P (contract §2, "Reference voting rules on P").

Every rule takes the population preference matrix ``P`` (``P[i, j]`` = probability, or share
of voters, preferring ``i`` to ``j``; ``P[i, i] = 1/2``; ``P + P.T = 1``) and returns a
:class:`~choicelab.estimators.results.RuleResult` ``(scores, order, winners, info)``:
larger scores are better, ``order`` lists alternatives best first and ``winners`` is the
tuple of all alternatives the rule declares winners. Each rule documents its ties.

Several rules only look at the majority relation ``i -> j  iff  P[i, j] > 1/2 + tol``; a pair
with ``|P[i, j] - 1/2| <= tol`` is a majority tie.
"""

from __future__ import annotations

import itertools
import warnings
from functools import lru_cache

import numpy as np

from choicelab._validation import check_preference_matrix, check_weights
from choicelab.estimators.results import RuleResult, _order_from_scores

_SCORE_TOL = 1e-9  # scores this close count as tied (sums of P entries carry rounding error)
_KEMENY_ENUMERATION_MAX = 8


# --------------------------------------------------------------------------- validation
def _check_preference_matrix(P, name: str = "P") -> np.ndarray:
    """Return ``P`` as a float array after checking the preference-matrix rules (one rule for all of
    choicelab: :func:`choicelab._validation.check_preference_matrix`)."""
    return check_preference_matrix(P, name)


def _check_tol(tol, name: str = "tol") -> float:
    tol = float(tol)
    if not np.isfinite(tol) or tol < 0 or tol >= 0.5:
        raise ValueError(f"{name} must be a finite number in [0, 1/2), got {tol}")
    return tol


def _majority(P: np.ndarray, tol: float) -> np.ndarray:
    """Boolean matrix ``beats[i, j] = P[i, j] > 1/2 + tol`` (never on the diagonal)."""
    return P > 0.5 + tol


def _result(scores, winners, info, order=None, tol: float = _SCORE_TOL) -> RuleResult:
    scores = np.asarray(scores, dtype=float)
    if order is None:
        order = _order_from_scores(scores, tol)
    return RuleResult(
        scores=scores,
        order=np.asarray(order, dtype=np.int64),
        winners=tuple(int(i) for i in sorted(winners)),
        info=info,
    )


def _top_scorers(scores: np.ndarray, tol: float) -> np.ndarray:
    return np.flatnonzero(scores >= scores.max() - tol)


# --------------------------------------------------------------------------- majority graph
def majority_graph(P, tol: float = 1e-12):
    """The majority relation of ``P`` as a ``networkx.DiGraph``.

    Nodes are ``0..m-1``; there is an edge ``i -> j`` when ``P[i, j] > 1/2 + tol``, carrying the
    attributes ``weight = P[i, j]`` (winning share) and ``margin = P[i, j] - P[j, i]``. Pairs
    within ``tol`` of 1/2 are majority ties and have no edge.

    Examples
    --------
    >>> G = majority_graph([[0.5, 0.7], [0.3, 0.5]])
    >>> list(G.edges(data="margin"))  # doctest: +SKIP
    [(0, 1, 0.4)]
    """
    import networkx as nx

    P = _check_preference_matrix(P)
    tol = _check_tol(tol)
    G = nx.DiGraph()
    G.add_nodes_from(range(P.shape[0]))
    for i, j in zip(*np.nonzero(_majority(P, tol))):
        G.add_edge(int(i), int(j), weight=float(P[i, j]), margin=float(P[i, j] - P[j, i]))
    return G


# --------------------------------------------------------------------------- positional rules
def borda(P, *, tol: float = _SCORE_TOL) -> RuleResult:
    """Borda score / average win rate (contract §2): ``B(i) = sum_j P_ij``, self-term 1/2 included.

    With voters' strict rankings, ``B(i) - 1/2`` is the classical Borda count divided by the
    number of voters. By P4 the order of the standard MLE is the Borda order.

    Ties: alternatives whose scores are within ``tol`` of the maximum are all winners; ``order``
    sorts by score and keeps index order among scores within ``tol``.

    Examples
    --------
    >>> borda([[0.5, 0.7], [0.3, 0.5]]).scores
    array([1.2, 0.8])
    """
    P = _check_preference_matrix(P)
    scores = P.sum(axis=1)
    return _result(scores, _top_scorers(scores, tol), {"rule": "borda"}, tol=tol)


def wawr(P, w, *, tol: float = _SCORE_TOL) -> RuleResult:
    """Weighted average win rate (contract §2, P5): ``WAWR(i) = sum_j w_j P_ij`` incl. ``w_i / 2``.

    ``w`` must be non-negative and sum to 1 (the weights of contract Eq. 2). By P5 the order of the
    weighted MLE is the WAWR order. Ties as in :func:`borda`.
    """
    P = _check_preference_matrix(P)
    w = check_weights(w, P.shape[0], "w")
    scores = P @ w
    return _result(scores, _top_scorers(scores, tol), {"rule": "wawr"}, tol=tol)


# --------------------------------------------------------------------------- majority rules
def copeland(P, tol: float = 1e-12) -> RuleResult:
    """Copeland score (contract §2): 1 per majority win ``P_ij > 1/2``, 1/2 per majority tie.

    ``score(i) = #{j != i : P_ij > 1/2 + tol} + 1/2 #{j != i : |P_ij - 1/2| <= tol}``.
    Scores are exact multiples of 1/2, so ties are exact: every alternative with the maximal
    score is a winner and ``order`` keeps index order among equal scores.
    """
    P = _check_preference_matrix(P)
    tol = _check_tol(tol)
    beats = _majority(P, tol)
    ties = np.abs(P - 0.5) <= tol
    np.fill_diagonal(ties, False)
    scores = beats.sum(axis=1) + 0.5 * ties.sum(axis=1)
    return _result(scores, _top_scorers(scores, 0.0), {"rule": "copeland", "tol": tol}, tol=0.25)


def _widest_paths(d: np.ndarray) -> np.ndarray:
    """Strongest (bottleneck) path strengths by Floyd-Warshall over max-min."""
    p = d.copy()
    np.fill_diagonal(p, 0.0)
    for k in range(p.shape[0]):
        # a path through k is as strong as its weakest half; the diagonal stays 0 since d >= 0
        p = np.maximum(p, np.minimum(p[:, k : k + 1], p[k : k + 1, :]))
        np.fill_diagonal(p, 0.0)
    return p


def schulze(P, tol: float = 1e-12) -> RuleResult:
    """Schulze's beatpath method (contract §2) on winning votes.

    Strength measure ("winning votes"): ``d[i, j] = P_ij`` if ``P_ij > 1/2 + tol`` (an edge of
    the majority graph), else 0. Because ``P_ij + P_ji = 1`` the margin ``P_ij - P_ji = 2 P_ij - 1``
    is an increasing function of ``P_ij`` on majority edges, so winning votes and margins give
    the same strongest-path comparisons here. The strength of a path is its weakest edge and
    ``p[i, j]`` is the strongest path from ``i`` to ``j`` (widest path, Floyd-Warshall).
    ``i`` beats ``j`` when ``p[i, j] > p[j, i] + tol``; this relation is transitive (Schulze 2011).

    Returns ``scores[i]`` = number of alternatives ``i`` beats in this sense; ``winners`` = all
    ``i`` beaten by nobody (``p[i, j] >= p[j, i] - tol`` for all ``j``: the Schulze winners,
    several under ties); ``order`` sorts by score, index order among equal scores (by
    transitivity, ``i`` beating ``j`` implies ``score(i) > score(j)``, so the order extends the
    Schulze relation). ``info["d"]`` and ``info["strongest_paths"]`` hold ``d`` and ``p``
    (in units of P; multiply by the number of voters for vote counts).
    """
    P = _check_preference_matrix(P)
    tol = _check_tol(tol)
    d = np.where(_majority(P, tol), P, 0.0)
    p = _widest_paths(d)
    wins = p > p.T + tol
    scores = wins.sum(axis=1).astype(float)
    winners = np.flatnonzero(~wins.any(axis=0))
    return _result(
        scores,
        winners,
        {"rule": "schulze", "strength": "winning votes", "d": d, "strongest_paths": p, "tol": tol},
        tol=0.25,
    )


def ranked_pairs(P, tol: float = 1e-12) -> RuleResult:
    """Tideman's Ranked Pairs (contract §2).

    The majority pairs ``(i, j)`` with ``P_ij > 1/2 + tol`` are taken in decreasing strength
    ``P_ij`` (equivalently decreasing margin ``P_ij - P_ji``); each is locked unless ``j``
    already reaches ``i`` through locked pairs, which would close a cycle. Tie-break among pairs
    of equal strength (within ``tol``): the fixed index order, ``(i, j)`` lexicographically
    smallest first. ``info["strength_ties"]`` says whether any two majority pairs had equal
    strength, i.e. whether the tie-break could matter (it can break neutrality).

    The locked pairs form an acyclic graph. ``scores[i]`` = number of alternatives reachable
    from ``i`` (its descendants), which is strictly larger for ``i`` than for anything ``i``
    reaches, so ``order`` (by score, index order among equal scores) is a topological order of
    the locked graph. ``winners`` = the sources of the locked graph (nobody locked above them);
    with a complete strict majority relation the locked pairs' transitive closure is a linear
    order and the winner is unique. ``info["locked"]`` and ``info["skipped"]`` list the pairs.
    """
    P = _check_preference_matrix(P)
    tol = _check_tol(tol)
    m = P.shape[0]
    ii, jj = np.nonzero(_majority(P, tol))
    strength = P[ii, jj]
    # np.lexsort: last key is primary; ties fall back to (i, j) in index order
    rank = np.lexsort((jj, ii, -strength))
    ordered = strength[rank]
    strength_ties = bool(np.any(np.abs(np.diff(ordered)) <= tol)) if ordered.size > 1 else False
    if strength_ties:
        # equal strengths within tol must use the index order, not float noise: regroup them
        groups = np.concatenate([[0], np.cumsum(np.abs(np.diff(ordered)) > tol)])
        rank = rank[np.lexsort((jj[rank], ii[rank], groups))]
    reach = np.zeros((m, m), dtype=bool)  # reach[a, b]: b is reachable from a by locked pairs
    locked, skipped = [], []
    for i, j in zip(ii[rank].tolist(), jj[rank].tolist()):
        if reach[j, i]:
            skipped.append((i, j))
            continue
        locked.append((i, j))
        src = reach[:, i].copy()
        src[i] = True
        dst = reach[j, :].copy()
        dst[j] = True
        reach |= np.outer(src, dst)
    scores = reach.sum(axis=1).astype(float)
    winners = np.flatnonzero(~reach.any(axis=0))
    return _result(
        scores,
        winners,
        {"rule": "ranked_pairs", "locked": locked, "skipped": skipped, "strength_ties": strength_ties, "tol": tol},
        tol=0.25,
    )


# --------------------------------------------------------------------------- Kemeny
def _permutations(m: int) -> np.ndarray:
    # keep the small tables (m <= 8: at most 40320 rows) for repeated calls; build 9! afresh
    if m <= _KEMENY_ENUMERATION_MAX:
        return _cached_permutations(m)
    return np.array(list(itertools.permutations(range(m))), dtype=np.int64).reshape(-1, m)


@lru_cache(maxsize=_KEMENY_ENUMERATION_MAX + 1)
def _cached_permutations(m: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(m))), dtype=np.int64).reshape(-1, m)


def kemeny_score(P, ranking) -> float:
    """Kemeny score of a ranking (contract §2): ``sum over i ranked above j of P_ij``."""
    P = _check_preference_matrix(P)
    ranking = np.asarray(ranking, dtype=np.int64)
    m = P.shape[0]
    if ranking.shape != (m,) or not np.array_equal(np.sort(ranking), np.arange(m)):
        raise ValueError(f"ranking must be a permutation of 0..{m - 1}, got {ranking.tolist()}")
    above, below = np.triu_indices(m, k=1)
    return float(P[ranking[above], ranking[below]].sum())


def _kemeny_enumerate(P: np.ndarray, tol: float):
    m = P.shape[0]
    perms = _permutations(m)
    above, below = np.triu_indices(m, k=1)
    totals = np.zeros(perms.shape[0])
    for a, b in zip(above, below):  # at most 28 position pairs; vectorised over the permutations
        totals += P[perms[:, a], perms[:, b]]
    best = totals.max()
    optimal = np.flatnonzero(totals >= best - tol)
    # permutations come in lexicographic order, so optimal[0] is the lexicographically first
    ranking = perms[optimal[0]]
    tops = np.unique(perms[optimal, 0])
    return ranking, tops, {"n_optimal": int(optimal.size), "winners_exhaustive": True}


def _kemeny_milp(P: np.ndarray, time_limit):
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_array

    m = P.shape[0]
    iu, ju = np.triu_indices(m, k=1)
    var = -np.ones((m, m), dtype=np.int64)
    var[iu, ju] = np.arange(iu.size)
    # x_ij = 1 (i < j) means i above j and x_ji = 1 - x_ij (antisymmetry built in); the Kemeny
    # score is then const + sum_{i<j} (P_ij - P_ji) x_ij.
    c = -(P[iu, ju] - P[ju, iu])
    triples = np.array(list(itertools.combinations(range(m), 3)), dtype=np.int64).reshape(-1, 3)
    rows, cols, vals = [], [], []
    if triples.size:
        i, j, k = triples.T
        n = np.arange(triples.shape[0])
        # transitivity for i<j<k: both 3-cycles i>j>k>i and i>k>j>i are excluded iff
        # 0 <= x_ij + x_jk - x_ik <= 1
        rows = np.concatenate([n, n, n])
        cols = np.concatenate([var[i, j], var[j, k], var[i, k]])
        vals = np.concatenate([np.ones(n.size), np.ones(n.size), -np.ones(n.size)])
    A = coo_array((vals, (rows, cols)), shape=(triples.shape[0], iu.size)).tocsr()
    constraints = [LinearConstraint(A, 0, 1)] if triples.size else []
    options = {"mip_rel_gap": 0.0}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    res = milp(c, integrality=np.ones(iu.size), bounds=Bounds(0, 1), constraints=constraints, options=options)
    info = {"milp_status": int(res.status), "milp_message": str(res.message), "winners_exhaustive": False}
    if res.x is None:
        raise RuntimeError(f"kemeny: the integer program found no ranking ({res.message})")
    x = np.rint(res.x).astype(bool)
    above = np.zeros((m, m), dtype=bool)
    above[iu, ju] = x
    above[ju, iu] = ~x
    wins = above.sum(axis=1)
    if not np.array_equal(np.sort(wins), np.arange(m)):
        raise RuntimeError(
            f"kemeny: the integer program returned an intransitive relation (win counts {wins.tolist()}); {res.message}"
        )
    info["optimal"] = res.status == 0
    if not info["optimal"]:
        warnings.warn(
            f"kemeny: integer program stopped before proving optimality ({res.message}); "
            "the returned ranking may not be a Kemeny ranking",
            RuntimeWarning,
            stacklevel=3,
        )
    ranking = np.argsort(-wins, kind="stable")
    return ranking, ranking[:1], info


def kemeny(P, *, method: str = "auto", tol: float = 1e-9, time_limit=None) -> RuleResult:
    """Kemeny ranking weighted by P (contract §2).

    The Kemeny ranking maximises ``K(pi) = sum over ordered pairs (i above j in pi) of P_ij``.

    ``method="enumerate"`` checks all ``m!`` rankings (the default for ``m <= 8``); rankings
    within ``tol`` of the best score are all optimal, ``order`` is the lexicographically first
    optimal ranking and ``winners`` are all alternatives that top some optimal ranking.
    ``method="milp"`` (the default above 8) solves the integer program with binaries ``x_ij``
    (``i < j``; ``x_ji = 1 - x_ij``) and transitivity ``0 <= x_ij + x_jk - x_ik <= 1`` for every
    triple, with ``scipy.optimize.milp`` (HiGHS, relative gap 0); it returns one optimal ranking
    and ``winners`` is its top only (``info["winners_exhaustive"] = False``). If HiGHS stops
    early (``time_limit`` in seconds) a ``RuntimeWarning`` is issued and ``info["optimal"]`` is
    False.

    ``scores[i] = m - 1 - position of i`` in ``order``; ``info["kemeny_score"] = K(order)``.
    """
    P = _check_preference_matrix(P)
    m = P.shape[0]
    if method == "auto":
        method = "enumerate" if m <= _KEMENY_ENUMERATION_MAX else "milp"
    if m == 1:
        ranking, tops = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
        info = {"n_optimal": 1, "winners_exhaustive": True}
    elif method == "enumerate":
        if m > 9:
            raise ValueError(f"kemeny: method='enumerate' is limited to m <= 9 (m! rankings), got m={m}")
        ranking, tops, info = _kemeny_enumerate(P, float(tol))
    elif method == "milp":
        ranking, tops, info = _kemeny_milp(P, time_limit)
    else:
        raise ValueError(f"kemeny: method must be 'auto', 'enumerate' or 'milp', got {method!r}")
    scores = np.empty(m)
    scores[ranking] = m - 1 - np.arange(m)
    info.update(rule="kemeny", method=method, kemeny_score=kemeny_score(P, ranking))
    return _result(scores, tops, info, order=ranking)


# --------------------------------------------------------------------------- maximal lotteries
def maximal_lottery(P, *, tol: float = 1e-9) -> RuleResult:
    """Fishburn's maximal lottery (contract §2), a linear program.

    With the skew-symmetric margin matrix ``M = P - P^T``, a maximal lottery is a probability
    vector ``p`` with ``p^T M >= 0`` (no alternative beats the lottery in expectation): an
    optimal strategy of the symmetric zero-sum game ``M``, whose value is 0. Solved as
    ``max v  s.t.  (M^T p)_j >= v for all j, sum(p) = 1, p >= 0`` with
    ``scipy.optimize.linprog`` (HiGHS); ``info["value"]`` is ``v`` (0 up to solver accuracy).

    ``scores = p``, ``winners`` = the support ``{i : p_i > tol}``, ``order`` by probability
    (index order within ``tol``). The maximal lottery is unique when ``P`` comes from an odd
    number of voters with strict preferences (Laffond, Laslier and Le Breton 1997) and for
    generic ``P``; otherwise the maximal lotteries form a polytope and HiGHS returns one vertex.
    A Condorcet winner gets probability 1.
    """
    from scipy.optimize import linprog

    P = _check_preference_matrix(P)
    m = P.shape[0]
    M = P - P.T
    c = np.zeros(m + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-M.T, np.ones((m, 1))])  # v - (M^T p)_j <= 0
    A_eq = np.concatenate([np.ones(m), [0.0]])[None, :]
    bounds = [(0, None)] * m + [(None, None)]
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(m), A_eq=A_eq, b_eq=[1.0], bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"maximal_lottery: linear program failed ({res.message})")
    p = res.x[:m]
    value = float(res.x[-1])
    if abs(value) > 1e-7:
        warnings.warn(
            f"maximal_lottery: game value {value} should be 0 for a skew-symmetric margin "
            "matrix; the solver result may be inaccurate",
            RuntimeWarning,
            stacklevel=2,
        )
    winners = np.flatnonzero(p > tol)
    return _result(p, winners, {"rule": "maximal_lottery", "value": value, "solver_message": str(res.message)}, tol=tol)
