"""Observed alternatives M = (x_1..x_m) in R^d and clone injection (contract §1, World and Clones)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from choicelab.sim.regions import Ball, Box, _as_rng

# Rejection sampling of approximate clones inside a region gives up after this many proposals
# per requested point (and at least _MIN_PROPOSALS in total): beyond that the acceptance rate
# is so low that the caller almost surely passed an eps-ball that barely meets the region.
_PROPOSALS_PER_POINT = 1000
_MIN_PROPOSALS = 100_000


def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_finite_points(X, name: str = "X") -> np.ndarray:
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric (m, d) array: {exc}") from None
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (m, d) array, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        i, j = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{name} must be finite, got {name}[{i}, {j}] = {X[i, j]}")
    # -0.0 and 0.0 are the same point; make their bytes equal too (exact-row lookups hash bytes)
    return X + 0.0


@dataclass(frozen=True, eq=False)
class Alternatives:
    """A finite multiset of observed alternatives M = (x_1..x_m) in R^d (contract §1).

    Parameters
    ----------
    X : array_like, shape (m, d)
        Finite coordinates, one alternative per row.
    labels : array_like, shape (m,), optional
        Topic names or ints; default ``np.arange(m)``.
    clone_of : array_like of int, shape (m,), optional
        ``-1`` for an original, else the index of the original row this row clones (exact or
        approximate clone, contract §1 Clones). Default: all ``-1``. A clone must point at an
        original (no chains).

    Examples
    --------
    >>> alts = Alternatives([[0.0, 0.0], [1.0, 0.5]])
    >>> alts.m, alts.d, alts.labels.tolist()
    (2, 2, [0, 1])
    """

    X: np.ndarray
    labels: np.ndarray | None = None
    clone_of: np.ndarray | None = None

    def __post_init__(self):
        X = _check_finite_points(self.X, "X")
        m = X.shape[0]
        if m == 0:
            raise ValueError("X must hold at least one alternative, got shape (0, d)")
        if self.labels is None:
            labels = np.arange(m)
        else:
            labels = np.asarray(self.labels)
            if labels.shape != (m,):
                raise ValueError(f"labels must have shape ({m},), got {labels.shape}")
        if self.clone_of is None:
            clone_of = np.full(m, -1, dtype=np.int64)
        else:
            clone_of = np.asarray(self.clone_of)
            if clone_of.shape != (m,):
                raise ValueError(f"clone_of must have shape ({m},), got {clone_of.shape}")
            if clone_of.size and not np.issubdtype(clone_of.dtype, np.integer):
                raise ValueError(f"clone_of must hold integers, got dtype {clone_of.dtype}")
            clone_of = clone_of.astype(np.int64)
            bad = np.flatnonzero((clone_of < -1) | (clone_of >= m) | (clone_of == np.arange(m)))
            if bad.size:
                i = int(bad[0])
                raise ValueError(f"clone_of[{i}] = {clone_of[i]} must be -1 or the index of another row in [0, {m})")
            chained = np.flatnonzero((clone_of >= 0) & (clone_of[np.maximum(clone_of, 0)] != -1))
            if chained.size:
                i = int(chained[0])
                raise ValueError(
                    f"clone_of[{i}] = {clone_of[i]} points at a row that is itself a clone "
                    f"(clone_of[{clone_of[i]}] = {clone_of[clone_of[i]]}); point at the original"
                )
        for name, value in (("X", X), ("labels", labels), ("clone_of", clone_of)):
            value = np.array(value, copy=True)
            value.flags.writeable = False
            object.__setattr__(self, name, value)

    @property
    def m(self) -> int:
        """Number of alternatives (rows of ``X``)."""
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        """Dimension of the context space."""
        return int(self.X.shape[1])

    @property
    def originals(self) -> np.ndarray:
        """Indices of the rows that are not clones."""
        return np.flatnonzero(self.clone_of == -1)

    def __len__(self) -> int:
        return self.m

    def equals(self, other) -> bool:
        """Exact equality of coordinates, labels and clone markers."""
        return (
            isinstance(other, Alternatives)
            and self.X.shape == other.X.shape
            and bool(np.array_equal(self.X, other.X))
            and self.labels.shape == other.labels.shape
            and bool(np.all(self.labels == other.labels))
            and bool(np.array_equal(self.clone_of, other.clone_of))
        )


def _check_region(region, name: str = "region"):
    if not isinstance(region, (Box, Ball)):
        raise TypeError(f"{name} must be a choicelab.sim.Box or Ball, got {type(region).__name__}")
    return region


def uniform_alternatives(region, m: int, rng=None) -> Alternatives:
    """``m`` alternatives drawn independently and uniformly from ``region`` (contract §1, World).

    Parameters
    ----------
    region : Box or Ball
    m : int, >= 1
    rng : numpy.random.Generator, int seed or None
    """
    region = _check_region(region)
    m = _check_count(m, "m", 1)
    return Alternatives(region.sample(m, _as_rng(rng)))


def topic_clusters(centers, per_topic, spread, rng=None, names=None) -> Alternatives:
    """Gaussian clusters of alternatives around topic centres (the [PSZ] case-study world).

    Topic k contributes ``per_topic[k]`` points ``c_k + spread * N(0, I_d)``; their labels are
    the topic's name.

    Parameters
    ----------
    centers : (K, d) array_like or dict name -> centre
        Topic centres; a dict supplies the names in its iteration order.
    per_topic : int or sequence of K ints (>= 1)
        Points per topic.
    spread : float >= 0 or sequence of K floats
        Standard deviation of every coordinate around the centre (0 puts every point of the
        topic exactly on its centre, i.e. exact duplicates that are *not* marked as clones).
    rng : numpy.random.Generator, int seed or None
    names : sequence of K labels, optional
        Topic names; default the dict keys, else ``0..K-1``. Not allowed together with a dict.

    Examples
    --------
    >>> alts = topic_clusters({"math": [0, 0], "poetry": [3, 0]}, 2, 0.1, rng=0)
    >>> alts.labels.tolist()
    ['math', 'math', 'poetry', 'poetry']
    """
    if isinstance(centers, dict):
        if names is not None:
            raise ValueError("names must be None when centers is a dict (the keys are the names)")
        if not centers:
            raise ValueError("centers must name at least one topic, got an empty dict")
        names = list(centers.keys())
        centers = [np.atleast_1d(np.asarray(c, dtype=float)) for c in centers.values()]
        lengths = {c.shape for c in centers}
        if len(lengths) != 1:
            raise ValueError(f"centers: every centre must have the same shape (d,), got shapes {sorted(lengths)}")
    C = _check_finite_points(centers, "centers")
    K = C.shape[0]
    if K == 0:
        raise ValueError("centers must hold at least one topic, got shape (0, d)")
    if names is None:
        names = list(range(K))
    names = list(names)
    if len(names) != K:
        raise ValueError(f"names must have one entry per topic ({K}), got {len(names)}")
    if isinstance(per_topic, (int, np.integer)) and not isinstance(per_topic, bool):
        counts = [_check_count(per_topic, "per_topic", 1)] * K
    else:
        counts = list(per_topic)
        if len(counts) != K:
            raise ValueError(f"per_topic must be an int or have one entry per topic ({K}), got {len(counts)}")
        counts = [_check_count(c, f"per_topic[{k}]", 1) for k, c in enumerate(counts)]
    spreads = (
        np.broadcast_to(np.asarray(spread, dtype=float), (K,))
        if np.ndim(spread) == 0
        else np.asarray(spread, dtype=float)
    )
    if spreads.shape != (K,):
        raise ValueError(f"spread must be a float or have one entry per topic ({K}), got shape {spreads.shape}")
    bad = np.flatnonzero(~np.isfinite(spreads) | (spreads < 0))
    if bad.size:
        raise ValueError(f"spread must be finite and >= 0, got {spreads[bad[0]]} (topic {bad[0]})")
    rng = _as_rng(rng)
    blocks, labels = [], []
    for k in range(K):
        blocks.append(C[k] + spreads[k] * rng.standard_normal((counts[k], C.shape[1])))
        labels.extend([names[k]] * counts[k])
    return Alternatives(np.vstack(blocks), labels=np.asarray(labels))


def grid_alternatives(region, per_axis) -> Alternatives:
    """Cell-centred regular grid over ``region``.

    The bounding box ``[lo, hi]`` is cut into ``per_axis`` equal cells along each axis and the
    alternatives are the cell centres ``lo + (i + 1/2) (hi - lo) / per_axis``, in C order
    (last axis fastest). For a Box every point then owns a Voronoi cell of equal volume
    (weights exactly ``1/m``, contract §2 Voronoi weights). For a Ball, only the centres that lie
    in the ball are kept.

    Parameters
    ----------
    region : Box or Ball
    per_axis : int or sequence of d ints (>= 1)
    """
    region = _check_region(region)
    lo, hi = region.bounds
    d = lo.shape[0]
    if np.ndim(per_axis) == 0:
        counts = [_check_count(per_axis, "per_axis", 1)] * d
    else:
        counts = list(per_axis)
        if len(counts) != d:
            raise ValueError(f"per_axis must be an int or have one entry per axis ({d}), got {len(counts)}")
        counts = [_check_count(c, f"per_axis[{k}]", 1) for k, c in enumerate(counts)]
    axes = [lo[k] + (np.arange(counts[k]) + 0.5) * (hi[k] - lo[k]) / counts[k] for k in range(d)]
    X = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
    if isinstance(region, Ball):
        X = X[region.contains(X)]
        if X.shape[0] == 0:
            raise ValueError(f"per_axis={per_axis!r} leaves no grid point inside the ball")
    return Alternatives(X)


def _check_alts_index(alts, index) -> int:
    if not isinstance(alts, Alternatives):
        raise TypeError(f"alts must be a choicelab.sim.Alternatives, got {type(alts).__name__}")
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < alts.m:
        raise ValueError(f"index must be an integer in [0, {alts.m}), got {index!r}")
    return int(index)


def _append(alts: Alternatives, index: int, points: np.ndarray) -> Alternatives:
    root = int(alts.clone_of[index]) if alts.clone_of[index] >= 0 else index
    count = points.shape[0]
    return Alternatives(
        np.vstack([alts.X, points]),
        labels=np.concatenate([alts.labels, np.repeat(alts.labels[index : index + 1], count)]),
        clone_of=np.concatenate([alts.clone_of, np.full(count, root, dtype=np.int64)]),
    )


def add_exact_clones(alts: Alternatives, index: int, count: int) -> Alternatives:
    """Append ``count`` exact copies of row ``index`` (contract §1 Clones, axiom A2).

    The copies go at the end, carry the label of ``index`` and ``clone_of`` = the original
    (``index`` itself, or the original ``index`` clones when it is a clone already).

    Examples
    --------
    >>> alts = add_exact_clones(Alternatives([[0.0], [1.0]]), index=0, count=2)
    >>> alts.X.ravel().tolist(), alts.clone_of.tolist()
    ([0.0, 1.0, 0.0, 0.0], [-1, -1, 0, 0])
    """
    index = _check_alts_index(alts, index)
    count = _check_count(count, "count", 0)
    return _append(alts, index, np.repeat(alts.X[index : index + 1], count, axis=0))


def add_approximate_clones(
    alts: Alternatives, index: int, count: int, eps: float, rng=None, region=None
) -> Alternatives:
    """Append ``count`` eps-approximate clones of row ``index`` (contract §1 Clones, axiom A1).

    Each new point is uniform in the closed ball ``{x : ||x - x_index|| <= eps}`` (a Gaussian
    direction times ``eps * U^(1/d)``). Its preferences come from the population, not from
    ``x_index``. ``eps = 0`` gives exact copies (and draws nothing from ``rng``).

    When ``region`` is given the clones must lie in S (the contract: "any x' in S"): proposals outside
    ``region`` are rejected and redrawn, which keeps the draw uniform on the ball ∩ S. If
    fewer than ``count`` points are accepted after ``max(100000, 1000 * count)`` proposals the
    function raises ValueError reporting the acceptance rate instead of looping for ever.

    Parameters
    ----------
    alts : Alternatives
    index : int, the row to clone
    count : int >= 0
    eps : float >= 0
    rng : numpy.random.Generator, int seed or None
    region : Box or Ball, optional
    """
    index = _check_alts_index(alts, index)
    count = _check_count(count, "count", 0)
    try:
        eps = float(eps)
    except (TypeError, ValueError):
        raise TypeError(f"eps must be a real number, got {eps!r}") from None
    if not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be finite and >= 0, got {eps}")
    if region is not None:
        _check_region(region)
        if region.dim != alts.d:
            raise ValueError(f"region has dimension {region.dim}, but the alternatives have d={alts.d}")
    x = alts.X[index]
    if eps == 0.0 or count == 0:
        points = np.repeat(x[None, :], count, axis=0)
        if region is not None and count and not bool(region.contains(points[:1])[0]):
            raise ValueError(f"eps=0 clones of row {index} would lie at {x.tolist()}, outside region {region}")
        return _append(alts, index, points)
    rng = _as_rng(rng)
    d = alts.d
    accepted, proposals = [], 0
    budget = max(_MIN_PROPOSALS, _PROPOSALS_PER_POINT * count)
    n_acc = 0
    while n_acc < count:
        if proposals >= budget:
            rate = n_acc / proposals
            raise ValueError(
                f"add_approximate_clones: only {n_acc} of {count} points accepted after {proposals} proposals "
                f"(acceptance rate {rate:.2e}); the eps={eps} ball around row {index} barely meets region {region}"
            )
        batch = min(budget - proposals, max(64, 2 * (count - n_acc)))
        g = rng.standard_normal((batch, d))
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        pts = x + eps * (rng.random(batch) ** (1.0 / d))[:, None] * g
        proposals += batch
        if region is not None:
            pts = pts[region.contains(pts)]
        accepted.append(pts)
        n_acc += pts.shape[0]
    return _append(alts, index, np.vstack(accepted)[:count])
