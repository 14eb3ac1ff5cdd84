"""Comparison and ranking datasets (contract §1, Data), sampling designs and empirical matrices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Comparisons:
    """A dataset of pairwise comparisons over alternatives ``0..m-1``.

    Attributes
    ----------
    a, b : (n,) int arrays
        The two alternatives shown in comparison k (``a[k] != b[k]``).
    winner : (n,) int array
        ``a[k]`` or ``b[k]``; ``-1`` marks a tie (counts 1/2 to each side, contract §4).
    annotator : (n,) int array
        The annotator type that answered (``-1`` when unknown).
    """

    a: np.ndarray
    b: np.ndarray
    winner: np.ndarray
    annotator: np.ndarray

    def __post_init__(self):
        arrays = {}
        for name in ("a", "b", "winner", "annotator"):
            arr = np.asarray(getattr(self, name))
            if arr.ndim != 1:
                raise ValueError(f"Comparisons.{name} must be 1-D, got shape {arr.shape}")
            if arr.size and not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"Comparisons.{name} must hold integers, got dtype {arr.dtype}")
            arrays[name] = arr.astype(np.int64, copy=False)
            object.__setattr__(self, name, arrays[name])
        n = arrays["a"].shape[0]
        for name, arr in arrays.items():
            if arr.shape[0] != n:
                raise ValueError(f"Comparisons.{name} has length {arr.shape[0]}, expected {n} (length of a)")
        a, b, w = arrays["a"], arrays["b"], arrays["winner"]
        if np.any(a < 0) or np.any(b < 0):
            k = int(np.flatnonzero((a < 0) | (b < 0))[0])
            raise ValueError(f"Comparisons: negative alternative index at k={k}: a={a[k]}, b={b[k]}")
        same = np.flatnonzero(a == b)
        if same.size:
            k = int(same[0])
            raise ValueError(f"Comparisons: a[{k}] == b[{k}] == {a[k]}; a comparison needs two distinct alternatives")
        bad = np.flatnonzero((w != a) & (w != b) & (w != -1))
        if bad.size:
            k = int(bad[0])
            raise ValueError(f"Comparisons.winner[{k}] = {w[k]} is neither a[{k}]={a[k]}, b[{k}]={b[k]} nor -1 (tie)")

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def __eq__(self, other):
        if not isinstance(other, Comparisons):
            return NotImplemented
        return all(np.array_equal(getattr(self, k), getattr(other, k)) for k in ("a", "b", "winner", "annotator"))

    __hash__ = None

    @property
    def n(self) -> int:
        return len(self)

    @property
    def loser(self) -> np.ndarray:
        """The other alternative of each comparison (for ties: ``b``)."""
        return np.where(self.winner == self.a, self.b, self.a)


@dataclass(frozen=True)
class Rankings:
    """A profile of (possibly tied, possibly incomplete) rankings over ``0..m-1``.

    Attributes
    ----------
    orders : tuple of orders
        Each order is a tuple of groups best first; a group is a tuple of alternatives tied
        with each other. A strict ranking has groups of size 1.
    counts : (len(orders),) int array
        How many voters cast each order.
    m : int
        Number of alternatives.
    names : tuple of str or None
        Optional alternative names (index i -> names[i]).
    unlisted_last : bool
        If True, alternatives missing from an order are ranked below every listed one
        (top-k rankings); if False they are simply not compared (PrefLib ``.soi``/``.toi``).
    """

    orders: tuple
    counts: np.ndarray
    m: int
    names: tuple | None = None
    unlisted_last: bool = False

    def __post_init__(self):
        if isinstance(self.m, bool) or not isinstance(self.m, (int, np.integer)) or self.m < 1:
            raise ValueError(f"Rankings.m must be a positive integer, got {self.m!r}")
        m = int(self.m)
        orders = []
        for o, order in enumerate(self.orders):
            groups, seen = [], set()
            for g, group in enumerate(order):
                group = tuple(np.atleast_1d(np.asarray(group)).tolist())
                if not group:
                    raise ValueError(f"Rankings.orders[{o}] group {g} is empty")
                for x in group:
                    if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < m:
                        raise ValueError(
                            f"Rankings.orders[{o}] group {g}: alternative {x!r} is not an index in [0, {m})"
                        )
                    if x in seen:
                        raise ValueError(
                            f"Rankings.orders[{o}]: alternative {x} appears twice (groups must be disjoint)"
                        )
                    seen.add(x)
                groups.append(group)
            orders.append(tuple(groups))
        counts = np.asarray(self.counts)
        if counts.shape != (len(orders),):
            raise ValueError(f"Rankings.counts must have shape ({len(orders)},) (one per order), got {counts.shape}")
        if counts.size and not np.issubdtype(counts.dtype, np.integer):
            raise ValueError(f"Rankings.counts must hold integers, got dtype {counts.dtype}")
        counts = counts.astype(np.int64)
        if np.any(counts <= 0):
            k = int(np.flatnonzero(counts <= 0)[0])
            raise ValueError(f"Rankings.counts[{k}] = {counts[k]} must be positive")
        names = self.names
        if names is not None:
            names = tuple(str(x) for x in names)
            if len(names) != m:
                raise ValueError(f"Rankings.names must have m={m} entries, got {len(names)}")
        object.__setattr__(self, "orders", tuple(orders))
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "m", m)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "unlisted_last", bool(self.unlisted_last))

    def __eq__(self, other):
        if not isinstance(other, Rankings):
            return NotImplemented
        return (
            self.orders == other.orders
            and np.array_equal(self.counts, other.counts)
            and self.m == other.m
            and self.names == other.names
            and self.unlisted_last == other.unlisted_last
        )

    __hash__ = None

    @property
    def n_voters(self) -> int:
        """Total number of rankings (sum of counts)."""
        return int(self.counts.sum())

    @property
    def strict(self) -> bool:
        """True when no order has a tied group."""
        return all(len(g) == 1 for order in self.orders for g in order)

    @property
    def complete(self) -> bool:
        """True when every order lists all m alternatives."""
        return all(sum(len(g) for g in order) == self.m for order in self.orders)

    def pairwise_counts(self) -> np.ndarray:
        """(m, m) win counts ``N[i, j]``: how many voters rank i above j (contract §1 Data, §4).

        A tie inside a group adds 1/2 each way. With ``unlisted_last=True`` every listed
        alternative beats every unlisted one; unlisted alternatives are never compared with
        each other, nor (with ``unlisted_last=False``) with anyone.
        """
        m = self.m
        N = np.zeros((m, m))
        for order, c in zip(self.orders, self.counts.tolist()):
            # position of each alternative: group index, unlisted get len(order)
            pos = np.full(m, len(order))
            for g, group in enumerate(order):
                pos[list(group)] = g
            listed = pos < len(order)
            above = pos[:, None] < pos[None, :]
            if self.unlisted_last:
                above &= listed[:, None]
            else:
                above &= listed[:, None] & listed[None, :]
            tied = (pos[:, None] == pos[None, :]) & listed[:, None]
            np.fill_diagonal(tied, False)
            N += c * above + (0.5 * c) * tied
        return N

    def to_comparisons(self) -> Comparisons:
        """Expand every ranking into the pairwise comparisons it implies (``annotator = -1``).

        For each voter and each compared pair as in :meth:`pairwise_counts`: ``a`` is the
        higher-ranked alternative and ``winner = a``; a tied pair gives ``a < b`` and
        ``winner = -1``. The win-count matrix of the result equals :meth:`pairwise_counts`.
        """
        a_all, b_all, w_all = [], [], []
        for order, c in zip(self.orders, self.counts.tolist()):
            listed = [x for g in order for x in g]
            unlisted = sorted(set(range(self.m)) - set(listed)) if self.unlisted_last else []
            a, b, w = [], [], []
            for g, group in enumerate(order):
                members = sorted(group)
                for i, x in enumerate(members):
                    for y in members[i + 1 :]:
                        a.append(x), b.append(y), w.append(-1)
                below = [y for h in order[g + 1 :] for y in h] + unlisted
                for x in group:
                    for y in below:
                        a.append(x), b.append(y), w.append(x)
            a_all.append(np.tile(a, c)), b_all.append(np.tile(b, c)), w_all.append(np.tile(w, c))
        if not a_all:
            empty = np.zeros(0, dtype=np.int64)
            return Comparisons(empty, empty, empty, empty)
        a, b, w = (np.concatenate(x).astype(np.int64) for x in (a_all, b_all, w_all))
        return Comparisons(a, b, w, np.full(a.shape[0], -1, dtype=np.int64))


def win_counts(comps: Comparisons, m: int, sparse: bool = False):
    """Win-count matrix ``N`` (contract §2, sampled data).

    ``N[i, j]`` is the number of comparisons that ``i`` won against ``j``; a tie adds 1/2 to
    both ``N[i, j]`` and ``N[j, i]`` (contract §4). Returns a dense ``(m, m)`` float array, or a
    ``scipy.sparse.csr_array`` when ``sparse=True`` (duplicates summed).
    """
    m = int(m)
    if m <= 0:
        raise ValueError(f"win_counts: m must be a positive integer, got {m}")
    if len(comps) and max(int(comps.a.max()), int(comps.b.max())) >= m:
        top = max(int(comps.a.max()), int(comps.b.max()))
        raise ValueError(f"win_counts: comparisons mention alternative {top}, but m={m}")
    tie = comps.winner == -1
    win = ~tie
    rows = np.concatenate([comps.winner[win], comps.a[tie], comps.b[tie]])
    cols = np.concatenate([comps.loser[win], comps.b[tie], comps.a[tie]])
    vals = np.concatenate([np.ones(int(win.sum())), np.full(2 * int(tie.sum()), 0.5)])
    if sparse:
        from scipy.sparse import coo_array

        return coo_array((vals, (rows, cols)), shape=(m, m)).tocsr()
    N = np.zeros((m, m))
    np.add.at(N, (rows, cols), vals)
    return N


def empirical_matrix(comps: Comparisons, m: int) -> np.ndarray:
    """Empirical preference matrix ``P-hat_ij = N_ij / (N_ij + N_ji)`` (contract §1, Data).

    ``N`` is :func:`win_counts` (ties count 1/2 each way). Pairs never compared get NaN; the
    diagonal is 1/2, so on compared pairs ``P-hat + P-hat^T = 1``.
    """
    N = win_counts(comps, m)
    n = N + N.T
    with np.errstate(invalid="ignore", divide="ignore"):
        P = np.where(n > 0, N / n, np.nan)
    np.fill_diagonal(P, 0.5)
    return P


def comparison_graph_strongly_connected(comps: Comparisons, m: int) -> bool:
    """True when the directed graph "i beat j at least once" on ``0..m-1`` is strongly connected.

    This is Zermelo's / Ford's condition for the unregularized (lambda = 0) Bradley-Terry MLE
    to exist (contract §2, sampled data); a tie gives an edge in both directions.
    """
    from scipy.sparse.csgraph import connected_components

    N = win_counts(comps, m, sparse=True)
    n_comp, _ = connected_components(N, directed=True, connection="strong")
    return bool(n_comp == 1)
