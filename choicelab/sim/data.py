"""Comparison and ranking datasets (SPEC §1, Data), sampling designs and empirical matrices."""
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
        ``a[k]`` or ``b[k]``; ``-1`` marks a tie (counts 1/2 to each side, SPEC §4).
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


def win_counts(comps: Comparisons, m: int, sparse: bool = False):
    """Win-count matrix ``N`` (SPEC §2, sampled data).

    ``N[i, j]`` is the number of comparisons that ``i`` won against ``j``; a tie adds 1/2 to
    both ``N[i, j]`` and ``N[j, i]`` (SPEC §4). Returns a dense ``(m, m)`` float array, or a
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
