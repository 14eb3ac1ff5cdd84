"""Exact screening of samples against a few target Voronoi cells.

Once most cells of a precision-targeted run (:func:`choicelab.estimators.weights.voronoi_weights`
with ``n_samples=None``) have met their target, a uniform sample only matters if it falls in one
of the cells still open, the targets T. Finding a sample's nearest point among all m points costs
O(m d); :class:`TargetScreen` decides for most samples, exactly and far more cheaply, that they
lie in no target cell, and sends only the rest to the full search:

1. t = the nearest target to z (an exact search over T alone, costing d operations per target).
2. z is rejected when one of t's ``K`` nearest points x_j is strictly closer to z than x_t is:

       ||z - x_j||^2 - ||z - x_t||^2 = ||a_j||^2 - 2 (z - x_t).a_j < 0,   a_j = x_j - x_t,

   evaluated in float64 from the differences, and counted as "closer" only below minus a bound
   on its rounding error, so that a rounding error can only let a sample through, never reject it.
3. The samples left get the full search; a sample whose nearest point is not a target counts for
   no cell.

The screen keeps count of its work in units of one full query, (n_T + K + 500)/m per sample
screened (n_T targets) plus one per sample passed: a cost model (both searches scale with the points searched;
500 is the measured per-sample overhead, in points), so that decisions taken on it do not depend
on the machine's speed.

Why it is exact: if z lies in a target cell, that target is z's nearest point of all, hence its
nearest target (step 1 finds it) and no point is strictly closer (step 2 keeps it). So every
sample of a target cell reaches the full search, which assigns it as before: the counts of the
target cells are those of the full search on every sample, and the cells outside T are simply
not counted any more. In 16-D at m = 10^4 with about 1000 open cells, step 2 with K = 64 passes
about 4% of the samples (3% are in a target cell), so a chunk costs about a tenth of the full
search.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TargetScreen"]

_NEIGHBOURS = 64  # each target's nearest points used to reject samples (step 2)
_ROUNDING = 1e-12  # relative bound on the rounding error of the float64 distance difference
# Per-sample overhead of screening (the subset search's bookkeeping, the differences), in points
# of a full search: about 500 / k full queries at d = 8 to 32 (benchmarks/bench_voronoi_targeted.py
# machine), whatever the number of targets.
_OVERHEAD = 500.0


class TargetScreen:
    """Target cell of each sample, or -1, by exact screening (see the module docstring).

    Parameters
    ----------
    unique : (k, d) ndarray
        The distinct points.
    targets : (t,) ndarray of int
        The target cells (distinct-point indices), sorted.
    nearest : callable
        The exact nearest-neighbour search over all points, ``nearest(Z) -> (n,) int``.
    subset_search : callable
        ``subset_search(points) -> nearest`` builds an exact search over a subset of the points.
    neighbours : int
        K, the nearest points of each target checked in step 2.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial import cKDTree
    >>> def search(P):
    ...     tree = cKDTree(P)
    ...     return lambda Z: tree.query(Z)[1]
    >>> X = np.random.default_rng(0).random((200, 4))
    >>> Z = np.random.default_rng(1).random((5000, 4))
    >>> targets = np.arange(0, 200, 10)
    >>> screen = TargetScreen(X, targets, search(X), search, neighbours=8)
    >>> full = search(X)(Z)
    >>> bool(np.array_equal(screen(Z), np.where(np.isin(full, targets), full, -1)))
    True
    """

    def __init__(self, unique, targets, nearest, subset_search, neighbours=_NEIGHBOURS):
        self.unique = np.asarray(unique, dtype=float)
        self.targets = np.asarray(targets, dtype=np.intp)
        k = self.unique.shape[0]
        self._nearest = nearest
        self._is_target = np.zeros(k, dtype=bool)
        self._is_target[self.targets] = True
        self._nearest_target = subset_search(self.unique[self.targets])
        K = min(int(neighbours), k - 1)
        self._neighbours = _nearest_others(self.unique, self.targets, K)
        self.passed = 0  # samples sent to the full search so far
        self.screened = 0  # samples screened so far
        # the work of screening one sample, in full queries: a search over the targets, K distance
        # differences and a fixed per-sample overhead worth about _OVERHEAD points (measured),
        # against a search over all k points
        self.unit_cost = (self.targets.size + K + _OVERHEAD) / k
        self.work = 0.0  # all the work so far, in full queries (screening plus full searches)

    def __call__(self, Z) -> np.ndarray:
        Z = np.asarray(Z, dtype=float)
        n = Z.shape[0]
        out = np.full(n, -1, dtype=np.intp)
        if n == 0:
            return out
        g = np.asarray(self._nearest_target(Z), dtype=np.intp)  # step 1: index into targets
        keep = np.ones(n, dtype=bool)
        if self._neighbours.shape[1]:
            order = np.argsort(g, kind="stable")
            bounds = np.searchsorted(g[order], np.arange(self.targets.size + 1))
            for b in np.flatnonzero(np.diff(bounds)):
                rows = order[bounds[b] : bounds[b + 1]]
                x_t = self.unique[self.targets[b]]
                A = self.unique[self._neighbours[b]] - x_t  # (K, d)
                Y = Z[rows] - x_t  # (r, d)
                a2 = np.einsum("ij,ij->i", A, A)
                gap = a2[None, :] - 2.0 * (Y @ A.T)  # ||z - x_j||^2 - ||z - x_t||^2
                # one rounding bound per sample, the largest over its K differences (only more permissive)
                bound = _ROUNDING * (a2.max() + 2.0 * np.sqrt(np.einsum("ij,ij->i", Y, Y) * a2.max()))
                keep[rows] = gap.min(axis=1) >= -bound
        passed = np.flatnonzero(keep)
        self.screened += n
        self.passed += passed.size
        self.work += n * self.unit_cost + passed.size
        if passed.size:
            cells = np.asarray(self._nearest(Z[passed]), dtype=np.intp)
            out[passed] = np.where(self._is_target[cells], cells, -1)
        return out


def _nearest_others(points, targets, K) -> np.ndarray:
    """(t, K) indices of the K nearest other points of each target (approximate order is fine).

    Any K points keep the screen exact (they only reject samples that are closer to them than
    to the target); the nearest ones reject the most. A KD-tree up to 8 dimensions, above that
    blocked float32 matrix products (a KD-tree degrades to a slow brute force in high d).
    """
    t = targets.size
    if K <= 0:
        return np.zeros((t, 0), dtype=np.intp)
    k, d = points.shape
    if d <= 8:
        from scipy.spatial import cKDTree

        # the target itself is its own nearest point (duplicates are merged), so drop column 0
        idx = cKDTree(points).query(points[targets], k=K + 1)[1]
        return np.asarray(idx, dtype=np.intp).reshape(t, K + 1)[:, 1:]
    P = points.astype(np.float32)
    sq = np.einsum("ij,ij->i", P, P)
    out = np.empty((t, K), dtype=np.intp)
    rows = max(1, (1 << 22) // k)  # 16 MiB of float32 distances per block
    for s in range(0, t, rows):
        tb = targets[s : s + rows]
        D = sq[None, :] - 2.0 * (P[tb] @ P.T)  # ||x_j||^2 - 2 x_t.x_j: the order of ||x_t - x_j||^2
        D[np.arange(tb.size), tb] = np.inf  # not the target itself
        part = np.argpartition(D, K - 1, axis=1)[:, :K]
        out[s : s + rows] = part
    return out
