"""Plackett-Luce maximum likelihood for full and top-k rankings (contract §2, "Plackett-Luce").

A strict ranking ``pi = (pi_1, ..., pi_L)`` is read as a sequence of choices: at stage ``k`` the
item ``pi_k`` is chosen from the set ``S_k`` of items not yet ranked, with Luce probability
``e^{r(pi_k)} / sum_{l in S_k} e^{r_l}``. The fit is a Newton method on the exact Hessian of the
convex negative log-likelihood; every stage of every ranking is one row of a dense
``(stages, m)`` membership mask, so the hot path has no Python loop over rankings.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import logsumexp

from choicelab._validation import check_lambda, check_weights
from choicelab.estimators.results import FitResult


# --------------------------------------------------------------------------- data preparation
def _check_lam(lam) -> float:
    return check_lambda(lam)


def _check_weights(weights, m: int) -> np.ndarray:
    """Weights of the weighted objective, strictly positive here (see :func:`pl_mle`)."""
    if weights is None:
        return np.ones(m)
    return check_weights(weights, m, positive=True)


def _check_rankings(rankings, m):
    """Validate a :class:`choicelab.sim.Rankings`; return m, the listed items of all orders
    concatenated, each order's length and the counts."""
    from choicelab.sim.data import Rankings

    if not isinstance(rankings, Rankings):
        raise TypeError(f"rankings must be a choicelab.sim.Rankings, got {type(rankings).__name__}")
    m_data = int(rankings.m)
    if m is None:
        m = m_data
    elif int(m) != m_data:
        raise ValueError(f"m = {m} does not match rankings.m = {m_data}")
    m = int(m)
    if m < 1:
        raise ValueError(f"rankings.m must be a positive integer, got {m}")
    counts = np.asarray(rankings.counts, dtype=float)
    if counts.shape != (len(rankings.orders),):
        raise ValueError(f"rankings.counts has shape {counts.shape}, expected ({len(rankings.orders)},)")
    bad = np.flatnonzero(~np.isfinite(counts) | (counts < 0))
    if bad.size:
        raise ValueError(f"rankings.counts[{bad[0]}] = {counts[bad[0]]}; counts must be finite and >= 0")
    groups = [tuple(g) for order in rankings.orders for g in order]
    lengths = np.array([len(order) for order in rankings.orders], dtype=np.int64)
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    if np.any(sizes != 1):
        k = int(np.flatnonzero(sizes != 1)[0])
        n = int(np.searchsorted(np.cumsum(lengths), k, side="right"))
        raise ValueError(
            f"rankings.orders[{n}] has the tied group {groups[k]}; pl_mle supports strict rankings "
            "only (groups of size 1). Break ties or drop the tied part of the ranking"
        )
    items = np.array([g[0] for g in groups], dtype=np.int64)
    rows = np.repeat(np.arange(lengths.size), lengths)
    bad = np.flatnonzero((items < 0) | (items >= m))
    if bad.size:
        n = int(rows[bad[0]])
        raise ValueError(f"rankings.orders[{n}] = {rankings.orders[n]} mentions an alternative outside 0..{m - 1}")
    keys = rows * m + items
    if np.unique(keys).size != keys.size:
        dup = np.sort(keys)[np.flatnonzero(np.diff(np.sort(keys)) == 0)[0]]
        n = int(dup // m)
        raise ValueError(f"rankings.orders[{n}] = {rankings.orders[n]} lists an alternative twice")
    return m, items, lengths, counts


def _stages(items, lengths, counts, m: int, unlisted_last: bool):
    """Choice stages: chosen item, membership mask of the choice set, count of the ranking.

    ``pos[n, i]`` is the position of item ``i`` in ranking ``n`` (``m`` for an unlisted item
    that stays in every choice set, ``-1`` for one that is absent); stage ``k`` of ranking ``n``
    offers exactly the items with ``pos[n, i] >= k``.
    """
    n = lengths.size
    pos = np.full((n, m), m if unlisted_last else -1, dtype=np.int64)
    rows = np.repeat(np.arange(n), lengths)
    starts = np.cumsum(lengths) - lengths
    ranks = np.arange(items.size) - np.repeat(starts, lengths)
    pos[rows, items] = ranks
    # the last listed item is a trivial choice unless unlisted items remain below it
    n_stages = np.where(unlisted_last & (lengths < m), lengths, np.maximum(lengths - 1, 0))
    stage_rank = np.repeat(np.arange(n), n_stages)
    stage_k = np.arange(n_stages.sum()) - np.repeat(np.cumsum(n_stages) - n_stages, n_stages)
    chosen = items[starts[stage_rank] + stage_k] if stage_rank.size else np.zeros(0, dtype=np.int64)
    mask = pos[stage_rank] >= stage_k[:, None]
    return chosen, mask, counts[stage_rank]


def _stage_weights(chosen, mask, w):
    """Mean contract Eq. 2 weight ``w(chosen) w(l)`` over the items ``l`` the stage chooses against."""
    others = mask @ w - w[chosen]
    return w[chosen] * others / (mask.sum(axis=1) - 1)


def _strongly_connected(chosen, mask, c, m: int) -> bool:
    """Is the implied comparison graph (chosen -> every other item offered) strongly connected?"""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    rows, cols = np.nonzero(mask & (c > 0)[:, None])
    graph = coo_array((np.ones(rows.size), (chosen[rows], cols)), shape=(m, m))
    return connected_components(graph, directed=True, connection="strong")[0] == 1


# --------------------------------------------------------------------------- objective and Newton
class _Objective:
    def __init__(self, chosen, mask, c, w, lam, m):
        self.chosen, self.mask, self.c, self.w, self.lam, self.m = chosen, mask, c, w, lam, m
        self.mask_f = mask.astype(float)
        self.sqrt_c = np.sqrt(c)[:, None]
        self.chosen_weight = np.bincount(chosen, weights=c, minlength=m)

    def _lse_prob(self, r, with_prob: bool = True):
        """Per-stage log-sum-exp over the choice set and the Luce probabilities (S, m)."""
        # shifting by the global max turns every stage's sum into one matrix-vector product;
        # a stage whose items all sit ~700 below the max would underflow, so it falls back to
        # the per-stage shift (scipy's logsumexp over masked rows)
        top = r.max()
        e = np.exp(r - top)
        total = self.mask_f @ e
        if total.size == 0 or total.min() > 1e-250:
            lse = top + np.log(total)
            if not with_prob:
                return lse, None
            prob = self.mask_f * e  # in-place division below: one (S, m) temporary only
            prob /= total[:, None]
            return lse, prob
        Z = np.where(self.mask, r[None, :], -np.inf)
        lse = logsumexp(Z, axis=1)
        return lse, (np.exp(Z - lse[:, None]) if with_prob else None)

    def value(self, r):
        lse, _ = self._lse_prob(r, with_prob=False)
        return float(self.c @ (lse - r[self.chosen]) + 0.5 * self.lam * np.sum(self.w * r * r))

    def value_grad_hess(self, r):
        lse, prob = self._lse_prob(r)  # prob: Luce choice probabilities, 0 outside the choice set
        f = float(self.c @ (lse - r[self.chosen]) + 0.5 * self.lam * np.sum(self.w * r * r))
        expected = self.c @ prob  # sum_s c_s p_s
        g = expected - self.chosen_weight + self.lam * self.w * r
        q = prob * self.sqrt_c  # sum_s c_s p_s p_s^T = q^T q
        H = -(q.T @ q)
        H[np.diag_indices(self.m)] += expected + self.lam * self.w
        return f, g, H


def _newton_direction(H, g, singular_gauge: bool):
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    if singular_gauge:
        # lam = 0: H has the constant vector in its kernel and g is orthogonal to it, so adding
        # 1 1^T changes nothing on the solution of H d = -g except fixing 1^T d = 0
        H = H + np.ones_like(H) / H.shape[0]
    try:
        return cho_solve(cho_factor(H), -g)
    except LinAlgError:
        return np.linalg.lstsq(H, -g, rcond=None)[0]


def _newton(obj: _Objective, r0, gtol: float, max_iter: int, singular_gauge: bool):
    r = r0.copy()
    halvings = 0
    message = f"maximum number of iterations ({max_iter}) reached"
    it = 0
    f, g, H = obj.value_grad_hess(r)
    while True:
        gnorm = float(np.linalg.norm(g))
        if gnorm <= gtol:
            message = "gradient norm below tolerance"
            break
        if it >= max_iter:
            break
        d = _newton_direction(H, g, singular_gauge)
        slope = float(g @ d)
        if not slope < 0:
            message = f"Newton direction is not a descent direction (g.d = {slope})"
            break
        t = 1.0
        # once the predicted decrease -g.d ~ 2 (F - F*) is at the rounding level of F, Armijo can
        # no longer see progress; Newton's full step is then safe (quadratic convergence region)
        near_optimum = -slope <= 1e-10 * max(1.0, abs(f))
        while not near_optimum:  # Armijo backtracking
            f_new = obj.value(r + t * d)
            if f_new <= f + 1e-4 * t * slope:
                break
            t *= 0.5
            halvings += 1
            if t < 1e-12:
                break
        if t < 1e-12:
            message = "line search failed to decrease the objective"
            break
        r = r + t * d
        it += 1
        f, g, H = obj.value_grad_hess(r)
    return r, f, g, it, message, halvings


def pl_mle(rankings, m=None, weights=None, lam: float = 0.1, *, tol: float = 1e-10, max_iter: int = 100) -> FitResult:
    """Regularized (weighted) Plackett-Luce MLE (contract §2, "Plackett-Luce"; weights as contract Eq. 2).

    Minimises the convex objective::

        F(r) = - sum_n c_n sum_k omega_nk [ r(pi_nk) - log sum_{l in S_nk} exp(r_l) ]
               + (lam / 2) sum_i w_i r_i^2

    over rankings ``n`` (cast by ``c_n = rankings.counts[n]`` voters) and their stages ``k``:
    ``pi_nk`` is the item placed at position ``k`` and ``S_nk`` the items still available. With
    ``rankings.unlisted_last=True`` (top-k rankings) the items missing from a ranking stay in
    every ``S_nk`` (they are ranked below all listed ones, so the stage after the last listed
    item is not part of the data); with ``False`` a ranking ranks only its listed items, which
    PL models consistently by marginalisation. A stage with a single available item is trivial
    and dropped. Tied groups are rejected with a ``ValueError`` (no tie model).

    Stage weight: ``omega_nk = w(pi_nk) * mean_{l in S_nk, l != pi_nk} w_l``, the average of the
    contract Eq. 2 weights ``w_i w_j`` of the pairwise wins the stage implies. This choice makes
    ``weights=None`` (``w = 1``) the plain PL likelihood; makes a ranking of two items ``i > j``
    exactly the Eq. 2 term ``-w_i w_j log sigma(r_i - r_j)`` (so length-2 rankings give the
    weighted Bradley-Terry MLE on win counts); and makes uniform weights ``w = 1/m`` equal to
    the unweighted fit with ``lam_std = m lam`` (the P7 analogue). Weights must be strictly
    positive and sum to 1: an item of weight 0 would have no regularisation yet still sit in
    other stages' denominators, and the objective would be unbounded below.

    Because the likelihood is shift invariant, the optimum satisfies ``sum_i w_i r_i = 0``
    (``lam > 0``). ``lam = 0`` is allowed; the solution is then reported with that same
    normalisation and exists only when the implied comparison graph (an edge from each chosen
    item to every other item of its choice set) is strongly connected; otherwise ``lam = 0``
    raises a ``ValueError``.

    Solver: Newton's method with the exact Hessian ``sum_s c_s omega_s (diag(p_s) - p_s p_s^T)
    + lam diag(w)`` (``p_s`` the Luce probabilities over ``S_s``) and Armijo backtracking, from
    ``r = 0``. Converged when ``||grad F||_2 <= tol * max(1, sum_s c_s omega_s)``; otherwise
    ``converged=False`` and a ``RuntimeWarning``.

    Parameters
    ----------
    rankings : choicelab.sim.Rankings
        Strict full or partial rankings (groups of size 1) with counts.
    m : int, optional
        Number of alternatives; must equal ``rankings.m`` when given.
    weights : (m,) array_like, optional
        Alternative weights ``w > 0``, ``sum(w) = 1``; ``None`` means ``w = 1``.
    lam : float
        Regularisation strength ``lam >= 0`` in ``(lam / 2) sum_i w_i r_i^2``.
    tol : float
        Relative gradient-norm tolerance (see above).
    max_iter : int
        Maximum number of Newton steps.

    Returns
    -------
    FitResult
        ``rewards`` (m,), ``converged``, ``iterations``, ``grad_norm``, ``objective``,
        ``message``; ``info`` has ``n_stages`` and ``line_search_halvings``.

    Examples
    --------
    >>> from choicelab.sim import Rankings
    >>> rk = Rankings(orders=(((0,), (1,), (2,)), ((1,), (0,), (2,))), counts=np.array([3, 1]), m=3)
    >>> fit = pl_mle(rk, lam=0.1)
    >>> fit.order().tolist()
    [0, 1, 2]
    """
    m, items, lengths, counts = _check_rankings(rankings, m)
    w = _check_weights(weights, m)
    lam = _check_lam(lam)
    tol = float(tol)
    if not np.isfinite(tol) or tol <= 0:
        raise ValueError(f"tol must be a positive number, got {tol}")
    if int(max_iter) < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")
    chosen, mask, stage_counts = _stages(items, lengths, counts, m, bool(rankings.unlisted_last))
    c = stage_counts * _stage_weights(chosen, mask, w)
    if lam == 0 and m > 1 and not _strongly_connected(chosen, mask, c, m):
        raise ValueError(
            "lam = 0 needs a strongly connected comparison graph (every alternative must "
            "beat and be beaten, through chains of choices); without it the MLE does not "
            "exist. Use lam > 0"
        )
    obj = _Objective(chosen, mask, c, w, lam, m)
    gtol = tol * max(1.0, float(c.sum()))
    r, f, g, it, message, halvings = _newton(obj, np.zeros(m), gtol, int(max_iter), lam == 0)
    gnorm = float(np.linalg.norm(g))
    converged = gnorm <= gtol
    if lam == 0:
        r = r - (w @ r) / w.sum()
    if not converged:
        warnings.warn(
            f"pl_mle did not converge: {message} (gradient norm {gnorm:.3g} > {gtol:.3g})", RuntimeWarning, stacklevel=2
        )
    return FitResult(
        rewards=r,
        converged=bool(converged),
        iterations=it,
        grad_norm=gnorm,
        objective=f,
        message=message,
        info={"method": "newton", "n_stages": int(chosen.size), "line_search_halvings": halvings, "gtol": gtol},
    )
