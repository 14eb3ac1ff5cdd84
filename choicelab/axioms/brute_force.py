"""Brute-force references for the axiom checks: independent recomputations of estimator outcomes.

A violation the fast check finds is reported only after :func:`brute_outcome` has reproduced
it (:func:`recheck`). These computations share no code with ``choicelab.estimators``: the
Bradley-Terry MLEs by a plain ``scipy.optimize.minimize`` of the objective written term by
term, the voting rules by direct enumeration of their definitions. They sit next to the cvxpy
references of :mod:`choicelab.estimators.reference`, which serve the estimator tests; these
serve the axiom checks (small m, no optional dependency).
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.special import expit

from choicelab._json import to_jsonable
from choicelab.axioms.fitting import LAM
from choicelab.axioms.witness import outcome_summary

__all__ = ["BRUTE_TOL", "BRUTE_ENUM_MAX_M", "BruteForceUnavailable", "brute_outcome", "recheck"]

BRUTE_TOL = 1e-5  # the brute-force minimiser is trusted to this accuracy in the re-checks
BRUTE_ENUM_MAX_M = 8  # brute-force Kemeny / Schulze enumerate m! rankings / all simple paths
_BT_ESTIMATORS = ("mle", "weighted_mle")
# Estimators whose optimum is a Bradley-Terry MLE of contract Eq. 1 / Eq. 2 (the argument is in
# the contract's theory table): the neural MLEs trained to their optimum (an MLP on positions can
# take any values on the finite set M, and its output regulariser is the Eq. 1 / Eq. 2 one),
# and Plackett-Luce on the pairwise data of the A1 check (a 2-item ranking is a BT term).
_OPTIMUM_OF = {"neural_mle": "mle", "neural_weighted_mle": "weighted_mle", "pl_mle": "mle"}
DPO_BETA = 0.1  # the registry's tabular DPO temperature (its default); the DPO reference uses it
_RULES = ("borda", "wawr", "copeland", "schulze", "ranked_pairs", "kemeny", "maximal_lottery")


class BruteForceUnavailable(ValueError):
    """No independent computation exists for this estimator (neural models, DPO, ...)."""


def brute_outcome(estimator: str, X, weights=None, lam: float = LAM, positions=None):
    """Independent recomputation of an estimator's outcome on a data matrix (the re-check).

    ``mle`` / ``weighted_mle``: ``scipy.optimize.minimize`` (BFGS with the analytic gradient) of
    the objective (Eq. 1 / Eq. 2) written term by term with a stable log-sigmoid,
    ``f(r) = sum_{i != j} w_i w_j X_ij log(1 + exp(r_j - r_i)) + (lam/2) sum_i w_i r_i^2``
    (``X`` = P or win counts N); zero-weight alternatives get the root of their P5 identity by
    ``brentq``. Voting rules: direct enumeration from their definitions, written
    independently of ``choicelab.estimators.voting``: Borda/WAWR/Copeland by loops, Schulze
    by enumerating all simple paths, Ranked Pairs by locking with ``networkx.has_path``,
    Kemeny over all permutations, maximal lotteries by an interior-point feasibility LP.

    Estimators whose optimum is one of these objectives are re-checked at that optimum:
    ``neural_mle`` / ``neural_weighted_mle`` by Eq. 1 / Eq. 2 (their training objective, at the
    same lam, over functions that can take any values on M); ``pl_mle`` on pairwise data by the
    BT objective on the win counts ``X`` (a 2-item ranking i > j is the term
    -log sigma(r_i - r_j)); ``dpo`` (tabular, uniform reference, unregularised) by Eq. 1 with
    lam = 0 in DPO's gauge r = beta (log pi - log pi_ref), i.e. shifted so that
    mean_i exp(r_i / beta) = 1; ``linear_mle`` (needs ``positions``) by BFGS on theta of
    ``sum_{i != j} w_i w_j X_ij log(1 + exp(-theta.(x_i - x_j))) + (lam/2) ||theta||^2``.

    Returns an :class:`~choicelab.estimators.registry.EstimatorOutput`; raises
    :class:`BruteForceUnavailable` for estimators without such a computation.
    """
    X = np.asarray(X, dtype=float)
    if estimator in _BT_ESTIMATORS:
        return _brute_bt(estimator, X, weights, lam)
    if estimator in _OPTIMUM_OF:
        out = _brute_bt(_OPTIMUM_OF[estimator], X, weights, lam)
        object.__setattr__(out, "estimator", f"{estimator} at its optimum: {out.estimator}")
        return out
    if estimator == "dpo":
        return _brute_dpo(X)
    if estimator == "linear_mle":
        if positions is None:
            raise BruteForceUnavailable("brute-force linear_mle needs the positions of the alternatives")
        return _brute_linear(np.asarray(positions, dtype=float), X, weights, lam)
    if estimator in _RULES:
        if estimator in ("kemeny", "schulze") and X.shape[0] > BRUTE_ENUM_MAX_M:
            raise BruteForceUnavailable(
                f"brute-force {estimator} enumerates permutations or paths; limited to "
                f"m <= {BRUTE_ENUM_MAX_M}, got m = {X.shape[0]}"
            )
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
    res = minimize(
        lambda r: tuple(v / scale for v in _bt_objective(r, Xs, ws, lam)),
        np.zeros(idx.size),
        jac=True,
        method="BFGS",
        options={"gtol": 1e-11, "maxiter": 20000},
    )
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
    return _reward_output(f"{estimator} (brute force: scipy BFGS)", r, res, converged, None if weights is None else w)


def _brute_dpo(X):
    from choicelab.estimators.registry import _reward_output

    out = _brute_bt("mle", X, None, 0.0)
    s = np.asarray(out.scores, dtype=float)
    # DPO's gauge: pi = exp(r / beta) pi_ref with pi_ref = 1/m sums to 1
    z = s / DPO_BETA
    r = s - DPO_BETA * (np.logaddexp.reduce(z) - np.log(s.size))
    return _reward_output("dpo (brute force: scipy BFGS of Eq. 1, lam = 0, DPO gauge)", r, out.raw, out.converged)


def _brute_linear(F, X, weights, lam):
    from scipy.optimize import minimize

    from choicelab.estimators.registry import _reward_output

    m = X.shape[0]
    w = np.ones(m) if weights is None else np.asarray(weights, dtype=float)
    W = np.outer(w, w) * X
    np.fill_diagonal(W, 0.0)
    scale = max(float(W.sum()), 1e-300)

    def objective(theta):
        r = F @ theta
        d = r[:, None] - r[None, :]
        f = np.sum(W * np.logaddexp(0.0, -d)) + 0.5 * lam * float(theta @ theta)
        s = W * expit(-d)
        g_r = -s.sum(axis=1) + s.sum(axis=0)
        return f / scale, (F.T @ g_r + lam * theta) / scale

    res = minimize(objective, np.zeros(F.shape[1]), jac=True, method="BFGS", options={"gtol": 1e-12, "maxiter": 20000})
    gnorm = float(np.linalg.norm(objective(res.x)[1])) * scale
    converged = gnorm <= 1e-7 * max(1.0, scale)
    return _reward_output("linear_mle (brute force: scipy BFGS on theta)", F @ res.x, res, converged, weights)


def _brute_rule(rule, P, weights):
    from choicelab.estimators.registry import EstimatorOutput

    m = P.shape[0]
    info: dict = {"rule": rule, "method": "brute force"}
    if rule in ("borda", "wawr"):
        w = np.ones(m) if rule == "borda" else np.asarray(weights, dtype=float)
        scores = np.array([sum(w[j] * P[i, j] for j in range(m)) for i in range(m)])
        order, winners = _order_ties(scores, 1e-9), _tops(scores, 1e-9)
    elif rule == "copeland":
        scores = np.array(
            [
                sum(
                    1.0 if P[i, j] > 0.5 + 1e-12 else 0.5 if abs(P[i, j] - 0.5) <= 1e-12 else 0.0
                    for j in range(m)
                    if j != i
                )
                for i in range(m)
            ]
        )
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
    return EstimatorOutput(
        scores=np.asarray(scores, dtype=float),
        order=np.asarray(order, dtype=np.int64),
        kind="rule",
        raw=info,
        converged=True,
        estimator=f"{rule} (brute force)",
        winners=tuple(int(i) for i in winners),
    )


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
    res = linprog(
        np.zeros(m),
        A_ub=-M.T,
        b_ub=np.full(m, 1e-12),
        A_eq=np.ones((1, m)),
        b_eq=[1.0],
        bounds=[(0, None)] * m,
        method="highs-ipm",
    )
    if res.status != 0:
        raise RuntimeError(f"maximal lottery feasibility LP failed: {res.message}")
    return np.asarray(res.x, dtype=float)


def _plugin_refits(estimator: str, matrices, weights):
    """A plugin estimator has no independent computation: its re-check refits the plugin itself on
    fresh matrix-only instances of the witness (a deterministic replay of the finding, so a fast
    path's numerical accident cannot pass as a violation). None for built-ins and for data that is
    not a preference matrix."""
    from choicelab.estimators.registry import get_estimator
    from choicelab.sim.instance import Instance

    try:
        entry = get_estimator(estimator)
    except ValueError:
        return None
    if entry.source == "choicelab":
        return None
    try:
        outs = []
        for X, w in zip(matrices, weights):
            out = entry.fit(Instance.from_matrix(X), weights=None if w is None else np.asarray(w, dtype=float))
            object.__setattr__(out, "estimator", f"{estimator} refitted (a plugin has no independent computation)")
            outs.append(out)
        return outs
    except (ValueError, TypeError):
        return None


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
        outs = _plugin_refits(estimator, matrices, weights)
        if outs is None:
            return {"method": None, "confirmed": None, "note": str(exc)}
    violated, margin = predicate(*outs)
    return to_jsonable(
        {
            "method": outs[0].estimator,
            "confirmed": bool(violated),
            "margin": margin,
            "converged": all(o.converged for o in outs),
            "outcomes": [outcome_summary(o) for o in outs],
        }
    )
