"""Clone-robust weights on the observed alternatives (contract §2, "Voronoi weights", "Alternative weightings").

``voronoi_weights``
    [PSZ] w_i = vol{z in S : x_i is a nearest point of M to z} / vol(S), ties split evenly.
    Exact in d = 1 (interval midpoints) and d = 2 (cells clipped to a box); Monte Carlo with
    nearest-neighbour queries (KD-tree or blocked matrix products) in any dimension.
``radius_graph_weights``
    [BW] f(S)(x) = (1/alpha) * integral_0^alpha w^CU(G_r(S))(x) dr, computed exactly.

``inverse_kde_weights``
    w_i proportional to 1 / sum_j K_h(x_i, x_j), a Gaussian kernel with Scott's bandwidth.

Voronoi and radius-graph weights give exact duplicates equal shares of what one copy alone would
get, which is what makes the weighted MLE (contract Eq. 2) independent of exact clones (A2, P8);
inverse kernel-density weights do not (see :func:`inverse_kde_weights` for the three axioms).
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from choicelab._validation import as_rng
from choicelab.sim.regions import Ball, Box

__all__ = [
    "DEFAULT_MAX_SECONDS",
    "DEFAULT_N_SAMPLES",
    "DEFAULT_REL_STDERR",
    "VoronoiEstimate",
    "VoronoiResolutionWarning",
    "inverse_kde_weights",
    "radius_graph_weights",
    "voronoi_weights",
]

DEFAULT_N_SAMPLES = 200_000
"""The fixed Monte Carlo sample size that scenario files record (``n_samples = 200000``)."""

DEFAULT_REL_STDERR = 0.1
"""Relative standard error per cell that ``voronoi_weights(..., n_samples=None)`` aims at."""

DEFAULT_MAX_SECONDS = 60.0
"""Time budget of the precision-targeted ``voronoi_weights(..., n_samples=None)``."""

# E|e| = sqrt(2/pi) * sigma for a normal error e: turns per-cell standard errors into the
# expected total-variation error (1/2) sum_i E|w_hat_i - w_i|.
_MEAN_ABS_NORMAL = math.sqrt(2.0 / math.pi)

_METHODS = ("auto", "exact", "monte_carlo", "kdtree", "brute")
# Samples are drawn in fixed-size chunks, independent of the backend, so that every backend
# sees the same samples for the same seed (and memory stays bounded for any n_samples).
_SAMPLE_CHUNK = 1 << 16
# Entries of one brute-force distance block: 2^22 float32 = 16 MiB.
_BRUTE_BLOCK_ELEMS = 1 << 22
# Entries of one float64 difference tensor in the exact re-check of near-ties.
_RECHECK_BLOCK_ELEMS = 1 << 21
# The KD-tree beats the blocked brute-force search up to about d = 4 log10(m) - 4 (m distinct
# points): d ~ 4 at m = 100, 8 at m = 10^3, 12 at m = 10^4 (benchmarks/bench_voronoi.py,
# benchmarks/results/voronoi.md). Below d = 2 the tree is never slower in practice.
_KDTREE_CROSSOVER = (4.0, -4.0)  # d_max = a * log10(m) + b
# First KD-tree neighbour batch when clipping exact 2-D cells; doubled for uncertified cells.
_EXACT_2D_FIRST_NEIGHBOURS = 16


# The precision-targeted mode times both nearest-neighbour backends on a pilot of this many
# samples when there are at least this many distinct points (below, the static rule is fine).
_PROBE_SAMPLES = 4096
_PROBE_MIN_POINTS = 2000
_TRACK_CELLS = 1024  # fit the tail proposals to the samples seen once this few cells are unresolved
_TAIL_CELLS = 128  # switch to importance sampling once this few cells are unresolved ...
_TAIL_GAIN = 2.0  # ... and the worst would need at least this many times the samples drawn so far
# Screened uniform sampling (choicelab.estimators.voronoi_screen): once at most 1/_SCREEN_SHARE of
# the cells are open (and there are at least _SCREEN_MIN_POINTS distinct points), uniform samples
# are screened against the open cells; the screen is rebuilt each time the open cells halve.
_SCREEN_SHARE = 4
_SCREEN_MIN_POINTS = 1000
_PROBE_SEED = (0x43484F49, 0x43454C41)  # "CHOICELA": a seed sequence of its own for the pilot

_EXACT_SUM_TOL = 1e-9  # exact cells must tile the region to rounding


class VoronoiResolutionWarning(UserWarning):
    """The Monte Carlo sample is too small to resolve some Voronoi cells.

    Raised by :func:`voronoi_weights` when a distinct point inside the region received no
    sample, or a cell's relative standard error exceeds ``warn_rel_stderr``. Common above
    d ~ 8, where most of the volume of S is far from every observed point and cells are
    very unequal; increase ``n_samples`` or treat the weights as noisy.
    """


@dataclass(frozen=True)
class VoronoiEstimate:
    """Voronoi weights with their uncertainty (``voronoi_weights(..., full_output=True)``).

    Attributes
    ----------
    weights : (m,) ndarray
        w_i, summing to 1 (contract §2, Voronoi weights).
    stderr : (m,) ndarray
        Monte Carlo standard error of each weight; zeros for the exact method. For a point
        with c exact copies it is sqrt(p(1 - p)/N) / c, p the estimated share of the shared cell.
        In the precision-targeted mode the U cells that got no sample (their shares are
        unresolved, not zero) report sqrt(2 n_2 / U) / N / c, n_2 the cells with exactly two
        samples: the root-mean-square share of unsampled cells (a Good-Turing estimate), so their
        z-scores are unit-variance as a group; with a fixed ``n_samples`` they report 0, as they
        always did.
    method : str
        The method actually used: ``"exact"``, ``"kdtree"`` or ``"brute"``.
    n_samples : int
        Monte Carlo samples drawn (0 for the exact method).
    tv_error : float
        Estimated total-variation error of the weights, (1/2) sqrt(2/pi) sum_k se_k over the
        distinct cells k (the expected (1/2) sum abs(w_hat - w) when each cell's error is normal
        with standard error se_k); in the precision-targeted mode the unsampled cells, whose
        errors are -w_k, contribute their estimated total share n_1 / N instead (Good-Turing,
        n_1 the cells with exactly one sample); 0 for the exact method.
    rel_stderr : float or None
        The per-cell relative standard error aimed at (precision-targeted mode), None when the
        sample size was fixed or the method is exact.
    unresolved : (u,) ndarray of int
        Precision-targeted mode: indices of the points of X whose cell missed ``rel_stderr`` when
        the time budget ran out (empty when every cell met it). Empty otherwise.
    seconds : float
        Wall-clock seconds spent sampling (0 for the exact method).
    importance : (v,) ndarray of int
        Precision-targeted mode: indices of the points of X whose weight comes from the tail
        phase's importance sampling (empty when uniform sampling resolved every cell).
    n_uniform : int
        How many of the ``n_samples`` were uniform (equal to ``n_samples`` unless a tail phase
        ran).
    uniform_draws : (m,) ndarray of int
        The N of each point's share c/N: the uniform samples its cell's count is over. Equal to
        ``n_uniform`` everywhere unless the screened phase left resolved cells behind (their
        counts stop where they met the target); for the exact method, 0.
    """

    weights: np.ndarray
    stderr: np.ndarray
    method: str
    n_samples: int
    tv_error: float = 0.0
    rel_stderr: float | None = None
    unresolved: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    seconds: float = 0.0
    importance: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    n_uniform: int | None = None
    uniform_draws: np.ndarray | None = None

    def __post_init__(self):
        if self.n_uniform is None:  # without a tail phase every sample is uniform
            object.__setattr__(self, "n_uniform", self.n_samples)
        if self.uniform_draws is None:  # every cell's count is over all uniform samples
            object.__setattr__(self, "uniform_draws", np.full(np.shape(self.weights)[0], self.n_uniform))


# ---------------------------------------------------------------------------------------------
# Voronoi weights
# ---------------------------------------------------------------------------------------------


def voronoi_weights(
    X,
    region,
    method="auto",
    n_samples=None,
    rng=None,
    *,
    full_output=False,
    warn_rel_stderr=0.25,
    rel_stderr=DEFAULT_REL_STDERR,
    max_seconds=DEFAULT_MAX_SECONDS,
    engine="local",
    scheduler=None,
    importance=True,
):
    """Voronoi weights of the alternatives ``X`` in the region ``S`` (contract §2, [PSZ]).

    w_i = vol{z in S : x_i is a nearest point of M to z} / vol(S), where M = (x_1..x_m).
    Ties are split evenly: k exact copies of a point share its cell, each getting 1/k of it.
    Non-duplicate ties (points of S equidistant from two distinct alternatives) have measure
    zero. A point outside S still gets the part of S nearest to it (possibly empty, weight 0).

    Parameters
    ----------
    X : array_like, shape (m, d)
        Alternatives, finite; ``(m,)`` is accepted when ``region.dim == 1``. Exact duplicates
        are allowed.
    region : Box or Ball (or any object with ``dim``, ``volume``, ``bounds``, ``contains`` and
        ``sample(n, rng)``)
        The space of alternatives S, with the uniform measure.
    method : {"auto", "exact", "monte_carlo", "kdtree", "brute"}
        ``"exact"``: d = 1 (Box or Ball, i.e. an interval; cells are bounded by midpoints) or
        d = 2 with a Box (each cell is the box clipped by the perpendicular bisectors of the
        nearest points, certified complete: clipping stops once every farther point's bisector
        lies beyond the cell). ``"monte_carlo"``: uniform samples of S, each assigned to its
        nearest distinct point; the backend is picked per dimension (a KD-tree at low d, a
        blocked matrix-product search at high d; see Notes). ``"kdtree"`` / ``"brute"``:
        Monte Carlo with that backend. ``"auto"``: exact where available, else Monte Carlo.
    n_samples : int, optional
        None (default): precision-targeted Monte Carlo. Samples are drawn in chunks of 65536
        until every cell's relative standard error sqrt((1 - p)/(p N)) is at most
        ``rel_stderr`` or ``max_seconds`` is spent (then a :class:`VoronoiResolutionWarning`
        lists the cells that missed). An int: exactly that many samples (bit-identical to
        earlier releases, which is what recorded scenario numbers rely on). Validated but unused
        when the exact method runs.
    rng : numpy.random.Generator, int or None
        Source of the Monte Carlo samples; same seed, same samples. Unused by the exact method.
    full_output : bool
        Return a :class:`VoronoiEstimate` (weights, stderr, method, n_samples, tv_error, ...)
        instead of the weights alone.
    warn_rel_stderr : float
        Fixed ``n_samples`` only: warn (:class:`VoronoiResolutionWarning`) when a distinct point
        inside S received no sample, or when a cell's relative standard error
        sqrt((1 - p)/(p N)) exceeds this (0.25 means fewer than about 16 samples in the cell).
    rel_stderr : float
        Precision-targeted mode (``n_samples=None``): the relative standard error every cell
        should reach (0.1: about 100 samples in each cell). Cells of points outside S that got
        no sample are exempt (their cells may be empty).
    max_seconds : float
        Precision-targeted mode: time budget of the call (the backends' pilot and the sampling).
        Sampling stops before a chunk that would overrun it, judged by the last chunk's time
        (with ``engine="dask"``: once a round of chunks has overrun it); one chunk is always drawn.
    engine : {"local", "dask"}
        Monte Carlo only. ``"dask"`` counts the sample chunks on a ``dask.distributed`` cluster
        (the ``dask`` extra): the one at ``scheduler``, or a temporary ``LocalCluster`` (one
        worker per core, one thread each) when ``scheduler`` is None; a ``distributed.Client``
        may also be passed as ``scheduler``. The chunks are the local path's: for a Box and a
        PCG64-family generator each worker rebuilds its chunk's samples by advancing a copy of
        the generator (``bit_generator.advance``) to the chunk's first draw; otherwise the
        samples are drawn here and shipped. The weights are therefore identical to the local
        path's for the same seed (except where the time budget, not the target, stops a run),
        and ``rng`` is left in the same state. The cluster samples uniformly to the end (no tail
        phase): its weights are those of the local path with ``importance=False``.
    scheduler : str or distributed.Client, optional
        The Dask scheduler address (``engine="dask"`` only).
    importance : bool
        Precision-targeted mode, ``engine="local"``: spend the late samples on the open cells
        only. With at least 1000 distinct points, uniform samples are screened against the open
        cells once at most a quarter are left, and the resolved cells stop counting
        (:mod:`choicelab.estimators.voronoi_screen`); in d >= 3 the last few cells (at most 128
        left, the worst needing at least twice the samples drawn so far) are estimated by
        importance sampling with exact membership (:mod:`choicelab.estimators.voronoi_tail`) as
        long as it is cheaper than uniform sampling. False keeps unscreened uniform sampling to
        the end, so that the run equals a fixed-size run.

    Returns
    -------
    (m,) ndarray or VoronoiEstimate
        Weights w >= 0 summing to 1 within 1e-12 (else ValueError). Monte Carlo weights are
        counts / N: every sample falls in exactly one cell, so they sum to 1 by construction and
        each is an unbiased estimate of its cell's share (no ratio, no renormalisation bias).
        Exact weights are the clipped cells' areas over the region's; a rounding remainder below
        1e-9 is divided out, a larger one (cells that fail to tile the region) raises.

    Notes
    -----
    Monte Carlo: exact duplicates are merged before any nearest-neighbour query (an argmin
    gives ties to the first index) and the merged cell's count is split evenly afterwards; the
    standard error of a cell share p is sqrt(p(1 - p)/N). Samples are drawn in chunks of
    65536 and assigned in bounded memory (about 16 MiB of distances per block).

    Precision-targeted mode: the samples are the same stream as with a fixed ``n_samples``, so
    a targeted run with ``importance=False`` that stopped after N samples returns exactly
    ``voronoi_weights(..., n_samples=N)`` with the same seed (N a multiple of 65536). The
    stopping rule looks at the counts after each chunk; with about 100 samples per cell at the
    stop, the binomial standard error stays calibrated (tests/estimators/test_weights.py checks
    z-scores against exactly known cells). The time
    limit makes the sample count, and hence the weights, depend on machine speed only when the
    budget runs out (a warning says so).

    Screened sampling: uniform sampling spends most of its time on the last few cells, since a
    cell of share w gets N w samples, and each sample used to pay a search over all m points for
    them. Once at most a quarter of the cells are open, each sample is screened exactly against
    the open cells (its nearest open point, and that point's 64 nearest points); only the samples
    that may lie in an open cell get the full search, the open cells' counts are unchanged, and a
    resolved cell's share is its count over the N_i samples drawn until it stopped
    (``uniform_draws``). All shares are then divided by their sum. On 10^4 random points this
    brings every cell to 10% in about 35 s in 16-D and 90 s in 32-D on 2 cores, where sampling
    unscreened to the end needs about 3 and 8 minutes (``benchmarks/bench_voronoi_targeted.py``).

    Tail phase: when at most 128 cells are left and the worst would need at least
    twice the samples drawn so far, those cells are estimated by defensive importance sampling,
    a mixture of uniform draws (20%) and a diagonal Gaussian per cell fitted to its uniform
    samples, each draw assigned by the same exact nearest-neighbour search
    (:mod:`choicelab.estimators.voronoi_tail` has the estimator and its stratified variance).
    Their shares replace the uniform ones and all shares are divided by their sum. The phase
    gives up, and screened uniform sampling goes on, once it needs more work per unit of variance
    than uniform sampling (work counted by a fixed cost model, so the same seed gives the same
    weights on any machine). It pays where Gaussians fit the cells (products of low-dimensional
    sets) and gives up where they do not (random points in 32-D).

    Common random numbers: with the same seed and the same N, adding a point changes only the
    counts of the cells it takes samples from, i.e. of its Voronoi neighbours (and its own).

    Backends: ``"kdtree"`` queries ``scipy.spatial.cKDTree`` with all cores; ``"brute"``
    minimises ||x||^2 - 2 z.x over blocks of samples with one float32 matrix product per
    block (coordinates centred and scaled by a power of two first), then recomputes in float64,
    from the differences z - x, every sample whose two smallest float32 values are closer
    than a rigorous bound on the float32 rounding error, (d + 8) u (2 ||z|| R + R^2) with u the
    float32 unit roundoff and R the largest ||x||. Its assignments therefore equal a float64
    search except at float64 near-ties. ``"monte_carlo"``/``"auto"`` use the KD-tree when
    d <= max(2, 4 log10(m') - 4), m' the number of distinct points (d <= 4 at m' = 100, 8 at
    10^3, 12 at 10^4), and the blocked matrix products otherwise: the crossover measured in
    ``benchmarks/bench_voronoi.py``. In the precision-targeted mode, with at least 2000 distinct
    points in d >= 3, both backends are instead timed on a 4096-sample pilot (from a generator of
    its own) and the faster one runs: structured sets such as products of low-dimensional sets
    favour the KD-tree far beyond the random-point crossover. The counts do not depend on the
    choice. Memory is O(m d) plus fixed-size blocks (the counts, one
    chunk of samples, 16 MiB of distances), independent of N.

    The exact 2-D method costs about O(m log m) plus a few bisector clips per cell; the exact
    1-D method O(m log m).

    Examples
    --------
    >>> from choicelab.sim import Box
    >>> voronoi_weights([[0.0], [1.0], [1.0], [4.0]], Box([0.0], [4.0])).tolist()
    [0.125, 0.25, 0.25, 0.375]

    Precision-targeted Monte Carlo in 3-D (every cell to 10% relative standard error):

    >>> import numpy as np
    >>> est = voronoi_weights(np.random.default_rng(0).random((4, 3)), Box([0, 0, 0], [1, 1, 1]),
    ...                       rng=1, full_output=True)
    >>> bool(np.all(est.stderr <= 0.1 * est.weights)), est.unresolved.size, est.n_samples
    (True, 0, 65536)
    """
    region = _check_region(region)
    X = _check_points(X, region.dim, "X")
    method = _check_method(method)
    targeted = n_samples is None
    n = None if targeted else _check_positive_int(n_samples, "n_samples")
    if not isinstance(full_output, (bool, np.bool_)):
        raise TypeError(f"full_output must be a bool, got {full_output!r}")
    warn_rel_stderr = _check_positive_real(warn_rel_stderr, "warn_rel_stderr")
    rel_stderr = _check_positive_real(rel_stderr, "rel_stderr")
    max_seconds = _check_positive_real(max_seconds, "max_seconds")
    if not isinstance(importance, (bool, np.bool_)):
        raise TypeError(f"importance must be a bool, got {importance!r}")
    if engine not in ("local", "dask"):
        raise ValueError(f"engine must be 'local' or 'dask', got {engine!r}")
    if scheduler is not None and engine != "dask":
        raise ValueError(f"scheduler={scheduler!r} is only used with engine='dask'")

    unique, inverse, copies = _merge_duplicates(X)
    exact_ok = _exact_available(region)
    if method == "exact" and not exact_ok:
        raise ValueError(
            f"method='exact' needs a 1-D region or a 2-D Box, got a {region.dim}-D "
            f"{type(region).__name__}; use method='monte_carlo'"
        )
    if method == "auto":
        method = "exact" if exact_ok else "monte_carlo"

    target, unresolved_cells, seconds = None, np.zeros(0, dtype=np.intp), 0.0
    tail_cells, n_uniform, n_cell = np.zeros(0, dtype=np.intp), None, None
    unseen, unseen_mass = None, 0.0  # precision-targeted mode: the cells without a sample
    if method == "exact":
        cell = _exact_cell_volumes(unique, region)
        total = math.fsum(cell)
        if not abs(total - 1.0) <= _EXACT_SUM_TOL:  # the clipped cells must tile the region
            raise ValueError(
                f"voronoi_weights: the exact cells cover {total!r} of the region instead of 1 "
                f"(points {unique.shape[0]}, region {type(region).__name__}); use method='monte_carlo'"
            )
        cell = cell / total  # removes rounding only (below 1e-9), so the weights sum to 1 within 1e-12
        cell_se = np.zeros_like(cell)
        used, n_used = "exact", 0
    else:
        backend = method if method in ("kdtree", "brute") else _auto_backend(*unique.shape)
        started = time.perf_counter()  # the budget covers the backends' pilot too
        if targeted and method not in ("kdtree", "brute"):
            backend = _fastest_backend(unique, region, backend)
        if targeted:
            run = _targeted_counts(
                unique,
                region,
                _as_generator(rng),
                backend,
                rel_stderr,
                max_seconds,
                engine=engine,
                scheduler=scheduler,
                importance=importance,
                started=started,
            )
            target, seconds, unresolved_cells, n = rel_stderr, run.seconds, run.unresolved, run.n_drawn
            n_uniform = run.n_uniform
            nu = n_cell = np.full(unique.shape[0], n_uniform) if run.n_cell is None else run.n_cell
            cell = run.counts / nu
            cell_se = np.sqrt(cell * (1.0 - cell) / nu)
            # an unsampled cell is unresolved, not empty (a tail cell has its importance estimate instead)
            unseen = run.counts == 0
            unseen[run.tail_cells] = False
            unseen_rms, unseen_mass = _unsampled_error(run.counts, unseen, n_uniform)
            cell_se[unseen] = unseen_rms / nu[unseen]
            tail_cells = run.tail_cells
            if tail_cells.size:
                # the tail cells' importance estimates replace their uniform ones
                cell[tail_cells], cell_se[tail_cells] = run.tail_share, run.tail_se
            if tail_cells.size or np.any(n_cell != n_uniform):
                # shares over different samples: divide them by their sum (1 within their errors)
                total = math.fsum(cell)
                cell, cell_se = cell / total, cell_se / total
            if unresolved_cells.size:
                rel = np.where(cell > 0, cell_se / np.where(cell > 0, cell, 1.0), np.inf)
                _warn_missed_target(unique, inverse, cell, rel, n, unresolved_cells, rel_stderr, max_seconds, seconds)
        else:
            if engine == "dask":
                counts = np.zeros(unique.shape[0], dtype=np.int64)
                with _DaskChunks(unique, region, _as_generator(rng), backend, scheduler) as chunks:
                    step = 16 * chunks.n_threads * _SAMPLE_CHUNK  # rounds bound what is in flight
                    for first in range(0, n, step):
                        for c in chunks.counts(_chunk_sizes(first, min(n, first + step))):
                            counts += c
            else:
                counts = _monte_carlo_counts(unique, region, n, _as_generator(rng), backend)
            cell = counts / n
            cell_se = np.sqrt(cell * (1.0 - cell) / n)
            _warn_unresolved(unique, region, counts, n, warn_rel_stderr)
        used, n_used = backend, n

    weights = cell[inverse] / copies[inverse]
    if not (np.all(np.isfinite(weights)) and np.all(weights >= 0) and abs(math.fsum(weights) - 1.0) <= 1e-12):
        raise ValueError(
            f"voronoi_weights: the weights do not form a distribution (sum {math.fsum(weights)!r}); "
            "this is a bug, please report it with the points and region"
        )
    if not full_output:
        return weights
    return VoronoiEstimate(
        weights=weights,
        stderr=cell_se[inverse] / copies[inverse],
        method=used,
        n_samples=n_used,
        tv_error=_tv_error(cell_se, unseen, unseen_mass),
        rel_stderr=target,
        unresolved=np.flatnonzero(np.isin(inverse, unresolved_cells)),
        seconds=seconds,
        importance=np.flatnonzero(np.isin(inverse, tail_cells)),
        n_uniform=n_uniform,
        uniform_draws=None if n_cell is None else n_cell[inverse],
    )


def _exact_available(region) -> bool:
    return (isinstance(region, (Box, Ball)) and region.dim == 1) or (isinstance(region, Box) and region.dim == 2)


def _auto_backend(k: int, d: int) -> str:
    a, b = _KDTREE_CROSSOVER
    return "kdtree" if d <= max(2.0, a * math.log10(k) + b) else "brute"


def _fastest_backend(unique, region, default: str) -> str:
    """The faster nearest-neighbour backend on these points, timed on a pilot sample.

    The static crossover of :func:`_auto_backend` is a rule for random points; structured sets
    (products, grids, clusters) can favour the KD-tree well beyond it. Both backends return the
    float64 nearest neighbour, so the choice changes the time, not the counts (up to exact ties,
    a null set). The pilot comes from a fixed generator of its own, so the caller's stream and
    the weights are those of the fixed-size run. Small problems keep the static rule.
    """
    k, d = unique.shape
    if k < _PROBE_MIN_POINTS or d < 3:
        return default
    # a seed no user passes by habit: the pilot must not replay the points' own draw (seed 0 would)
    Z = np.asarray(region.sample(_PROBE_SAMPLES, np.random.default_rng(_PROBE_SEED)), dtype=float)
    best, best_time = default, float("inf")
    for name in ("kdtree", "brute"):
        query = _kdtree_search(unique) if name == "kdtree" else _brute_search(unique, region)
        query(Z[:64])  # warm-up: thread pools and first-touch memory are not the backend's speed
        start = time.perf_counter()
        query(Z)
        elapsed = time.perf_counter() - start
        if elapsed < best_time:
            best, best_time = name, elapsed
    return best


def _merge_duplicates(X: np.ndarray):
    """Distinct rows (lexicographically sorted), the row of each input point, and copy counts."""
    unique, inverse, copies = np.unique(X, axis=0, return_inverse=True, return_counts=True)
    return unique, inverse.reshape(-1), copies


# -- exact cells -------------------------------------------------------------------------------


def _exact_cell_volumes(unique: np.ndarray, region) -> np.ndarray:
    """Cell volumes as shares of the region, computed in rescaled coordinates.

    Coordinates are divided by a power of two near the region's extent: an exact change of units
    (no rounding), under which the cells and their shares do not change, so regions of any scale
    (±1e300) keep a finite volume. Points are not shifted (a shift would round nearby points
    onto each other); the 2-D clipping works relative to the box centre instead.
    """
    lo, hi = region.bounds  # a 1-D Ball is the interval [c - r, c + r], exactly its bounds
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    extent = float(np.max(0.5 * hi - 0.5 * lo))
    scale = 2.0 ** math.floor(math.log2(extent)) if extent > 0 and math.isfinite(extent) else 1.0
    u = unique / scale
    lo_s, hi_s = lo / scale, hi / scale
    total = float(np.prod(hi_s - lo_s))
    if not (math.isfinite(total) and total > 0):
        raise ValueError(f"region: its volume is not a finite positive number (bounds {lo.tolist()}, {hi.tolist()})")
    if region.dim == 1:
        cells = _interval_cell_lengths(u[:, 0], float(lo_s[0]), float(hi_s[0]))
    else:
        cells = _box_cell_areas(u, lo_s, hi_s)
    return cells / total


def _interval_cell_lengths(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """|[lo, hi] ∩ cell_j| for sorted distinct u; cells are bounded by consecutive midpoints."""
    mids = 0.5 * u[:-1] + 0.5 * u[1:]  # this form cannot overflow
    left = np.concatenate(([-np.inf], mids))
    right = np.concatenate((mids, [np.inf]))
    # a point outside [lo, hi] can have an empty intersection: its length is 0, not negative
    return np.maximum(np.minimum(right, hi) - np.maximum(left, lo), 0.0)


def _box_cell_areas(unique: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Areas of the Voronoi cells of distinct 2-D points clipped to the box [lo, hi]."""
    from scipy.spatial import cKDTree

    k = unique.shape[0]
    if k == 1:
        return np.array([float(np.prod(hi - lo))])
    tree = cKDTree(unique)
    areas = np.full(k, np.nan)
    pending = np.arange(k)
    n_neighbours = min(k, _EXACT_2D_FIRST_NEIGHBOURS)
    while pending.size:
        dist, idx = tree.query(unique[pending], k=n_neighbours)
        complete = n_neighbours == k
        still = []
        for row, i in enumerate(pending):
            area = _clipped_cell_area(unique, int(i), idx[row], dist[row], lo, hi, complete)
            if area is None:
                still.append(i)
            else:
                areas[i] = area
        pending = np.asarray(still, dtype=np.intp)
        n_neighbours = min(k, 2 * n_neighbours)
    return areas


def _clipped_cell_area(points, i, neighbours, distances, lo, hi, complete):
    """Area of the box clipped by the bisectors of ``neighbours`` (sorted by distance to point i).

    Returns None when the neighbours seen do not certify the cell: a point at distance r from
    x_i can only cut the cell where it is farther than r/2 from x_i, so clipping can stop once
    the cell's radius around x_i is at most half the distance of the next candidate.

    The polygon lives in coordinates relative to the box centre (small numbers, so the shoelace
    area keeps its precision even for points far outside the box), and each bisector is the
    half-plane n.z <= n.m with n the unit vector from x_i to x_j and m their midpoint.
    """
    cx, cy = 0.5 * float(lo[0]) + 0.5 * float(hi[0]), 0.5 * float(lo[1]) + 0.5 * float(hi[1])
    ax, ay = float(points[i, 0]), float(points[i, 1])
    px, py = ax - cx, ay - cy
    x0, x1 = float(lo[0]) - cx, float(hi[0]) - cx
    y0, y1 = float(lo[1]) - cy, float(hi[1]) - cy
    poly = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]

    def radius2(poly):
        return max((x - px) ** 2 + (y - py) ** 2 for x, y in poly)

    r2 = radius2(poly)
    last = 0.0
    for j, r in zip(neighbours, distances):
        j = int(j)
        if j == i:
            continue
        last = float(r)
        if r2 <= 0.25 * last * last:
            return _polygon_area(poly)
        bx, by = float(points[j, 0]), float(points[j, 1])
        qx, qy = bx - cx, by - cy
        nx, ny = bx - ax, by - ay  # from the raw points: distinct points keep a nonzero difference
        norm = math.hypot(nx, ny)
        nx, ny = nx / norm, ny / norm
        mx, my = 0.5 * px + 0.5 * qx, 0.5 * py + 0.5 * qy
        poly = _clip_half_plane(poly, nx, ny, nx * mx + ny * my)
        if len(poly) < 3:
            return 0.0
        r2 = radius2(poly)
    if complete or r2 <= 0.25 * last * last:
        return _polygon_area(poly)
    return None


def _clip_half_plane(poly, ax, ay, b):
    """Sutherland-Hodgman: the part of the convex polygon ``poly`` with ax*x + ay*y <= b."""
    s = [ax * x + ay * y - b for x, y in poly]
    if max(s) <= 0.0:
        return poly
    out = []
    n = len(poly)
    for t in range(n):
        (xa, ya), sa = poly[t], s[t]
        (xb, yb), sb = poly[(t + 1) % n], s[(t + 1) % n]
        if sa <= 0.0:
            out.append((xa, ya))
        if (sa < 0.0 < sb) or (sb < 0.0 < sa):
            # interpolate from the end nearer the line: the rounding error scales with the
            # fraction used, which keeps tiny cells relatively accurate
            if abs(sa) <= abs(sb):
                f = sa / (sa - sb)
                out.append((xa + f * (xb - xa), ya + f * (yb - ya)))
            else:
                f = sb / (sb - sa)
                out.append((xb + f * (xa - xb), yb + f * (ya - yb)))
    return out


def _polygon_area(poly) -> float:
    if len(poly) < 3:
        return 0.0
    twice = 0.0
    n = len(poly)
    for t in range(n):
        xa, ya = poly[t]
        xb, yb = poly[(t + 1) % n]
        twice += xa * yb - xb * ya
    return 0.5 * abs(twice)


# -- Monte Carlo -------------------------------------------------------------------------------


def _monte_carlo_counts(unique, region, n, rng, backend) -> np.ndarray:
    """Number of the ``n`` uniform samples of ``region`` nearest to each distinct point."""
    k = unique.shape[0]
    nearest = _kdtree_search(unique) if backend == "kdtree" else _brute_search(unique, region)
    counts = np.zeros(k, dtype=np.int64)
    for start in range(0, n, _SAMPLE_CHUNK):
        Z = np.asarray(region.sample(min(_SAMPLE_CHUNK, n - start), rng), dtype=float)
        counts += np.bincount(nearest(Z), minlength=k)
    return counts


@dataclass(frozen=True)
class _TargetedRun:
    """What the precision-targeted sampler found (see :func:`_targeted_counts`)."""

    counts: np.ndarray  # uniform samples per distinct cell
    n_uniform: int  # uniform samples drawn
    n_drawn: int  # all samples drawn (uniform and, in the tail phase, importance samples)
    seconds: float
    unresolved: np.ndarray  # distinct cells that missed the target
    tail_cells: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    tail_share: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tail_se: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_cell: np.ndarray | None = None  # uniform samples each cell's count is over (None: n_uniform for all)


def _targeted_counts(
    unique,
    region,
    rng,
    backend,
    rel_stderr,
    max_seconds,
    clock=time.perf_counter,
    engine="local",
    scheduler=None,
    importance=True,
    started=None,
):
    """Sample chunk by chunk until every cell meets ``rel_stderr`` or ``max_seconds`` is spent.

    Returns a :class:`_TargetedRun`. The chunks are those of :func:`_monte_carlo_counts` (same
    rng stream, same sizes), so the counts equal a fixed-size run with the same n. A cell is
    resolved when its count c satisfies (1 - c/n)/c <= t^2, i.e. sqrt(p(1 - p)/n)/p <= t; cells
    of points outside S with no sample are exempt. With ``engine="dask"`` the chunks are counted
    in rounds on the cluster, and the rule is still applied chunk by chunk in order, so the
    stopping chunk is the local one.

    Tail phase (``importance``, local engine, d >= 3): once at most ``_TAIL_CELLS`` cells are
    left and the worst of them would need at least ``_TAIL_GAIN`` times the samples drawn so far,
    the remaining cells are estimated by :func:`choicelab.estimators.voronoi_tail.tail_estimates`
    (importance sampling with exact membership) and the run no longer equals a fixed-size one.
    The proposal is fitted to the uniform samples seen in those cells since at most
    ``_TRACK_CELLS`` cells were left.
    """
    k = unique.shape[0]
    outside = ~np.asarray(region.contains(unique), dtype=bool)
    counts = np.zeros(k, dtype=np.int64)
    t2 = rel_stderr * rel_stderr

    def missed_after(n):
        # c (t^2) >= 1 - c/n  <=>  relative standard error <= t (false for c = 0)
        return ~((counts * t2 >= 1.0 - counts / n) & (counts > 0)) & ~((counts == 0) & outside)

    n = 0
    start = clock() if started is None else started
    if engine == "dask":
        with _DaskChunks(unique, region, rng, backend, scheduler, consume=False) as chunks:
            per_round = 2 * chunks.n_threads
            while True:
                for c in chunks.counts(_chunk_sizes(n, n + per_round * _SAMPLE_CHUNK)):
                    counts += c
                    n += _SAMPLE_CHUNK
                    missed = missed_after(n)
                    if not missed.any():
                        chunks.consume(n)
                        return _TargetedRun(counts, n, n, clock() - start, np.flatnonzero(missed))
                seconds = clock() - start
                if seconds >= max_seconds:
                    chunks.consume(n)
                    return _TargetedRun(counts, n, n, seconds, np.flatnonzero(missed))
                per_round = min(2 * per_round, 64 * chunks.n_threads)  # fewer round trips as it goes

    from choicelab.estimators.voronoi_screen import TargetScreen
    from choicelab.estimators.voronoi_tail import CellMoments, tail_estimates

    nearest = _kdtree_search(unique) if backend == "kdtree" else _brute_search(unique, region)
    subset_search = (lambda P: _brute_search(P, region)) if backend == "brute" else _kdtree_search
    log_volume = _log_volume(region)
    tail_ok = importance and unique.shape[1] >= 3 and math.isfinite(log_volume)
    screen_ok = importance and k >= _SCREEN_MIN_POINTS
    moments, abandoned, screen = None, 0, None  # abandoned: importance draws of a tail phase that gave up
    # uniform samples each cell's count is over: n for every cell until the screen leaves the
    # resolved cells behind (their counts and sample sizes stop there)
    n_cell = np.zeros(k, dtype=np.int64)

    def run(missed, seconds, n_drawn, **tail):
        return _TargetedRun(counts, n, n_drawn, seconds, np.flatnonzero(missed), n_cell=n_cell.copy(), **tail)

    while True:
        before = clock()
        Z = np.asarray(region.sample(_SAMPLE_CHUNK, rng), dtype=float)
        if screen is None:
            cells = nearest(Z)
            counts += np.bincount(cells, minlength=k)
            n_cell += _SAMPLE_CHUNK
        else:
            cells = screen(Z)  # -1: in no open cell
            counts += np.bincount(cells[cells >= 0], minlength=k)
            n_cell[screen.targets] += _SAMPLE_CHUNK
        n += _SAMPLE_CHUNK
        missed = missed_after(n_cell)
        now = clock()
        seconds = now - start
        # stop before a chunk that would overrun the budget (one chunk is always drawn)
        if not missed.any() or seconds + (now - before) > max_seconds:
            return run(missed, seconds, n + abandoned)
        left = np.flatnonzero(missed)
        if screen_ok and left.size <= k // _SCREEN_SHARE and (screen is None or 2 * left.size <= screen.targets.size):
            # the open cells are the screen's targets: they all have n_cell == n from here on
            screen = TargetScreen(unique, left, nearest, subset_search)
        if not tail_ok:
            continue
        if moments is not None:
            moments.add(Z, cells)
        elif left.size <= _TRACK_CELLS:
            moments = CellMoments(left, unique.shape[1])
            moments.add(Z, cells)
        if moments is None or left.size > _TAIL_CELLS or moments.n.sum() == 0:
            continue
        c = counts[left]
        # the factor by which n must grow for the worst cell under uniform sampling
        need = np.where(c > 0, (1.0 - c / n) / np.maximum(c, 1) / t2, np.inf).max()
        if need < _TAIL_GAIN:
            continue
        proposal = moments.proposal(left, unique)
        if proposal is None:
            continue
        share, se, n_tail, n_tail_uniform, tail_missed = tail_estimates(
            unique,
            region,
            log_volume,
            rng,
            nearest,
            left,
            proposal,
            counts,
            rel_stderr,
            start + max_seconds,
            clock,
            prior=(counts[left].astype(float), float(n)),  # open cells: n_cell == n
            subset_search=subset_search,
            # screened sampling has stopped counting the resolved cells: so does the phase
            count_all=screen is None,
            # the search work of a uniform sample here: a full query, or what the screen spends
            uniform_cost=1.0 if screen is None else screen.work / max(screen.screened, 1),
        )
        # the phase's uniform draws count for every cell, or for the targets only when screened
        if screen is None:
            n_cell += n_tail_uniform
        else:
            n_cell[left] += n_tail_uniform
        if tail_missed is None:  # the proposal fits these cells worse than uniform sampling: go on uniformly
            n += n_tail_uniform
            abandoned, tail_ok = n_tail - n_tail_uniform, False
            if screen is not None:  # the open cells are the targets (n_cell == n); the others stay resolved
                screen = TargetScreen(unique, left, nearest, subset_search)
            missed = missed_after(n_cell)
            seconds = clock() - start
            if not missed.any() or seconds >= max_seconds:
                return run(missed, seconds, n + abandoned)
            continue
        n_uniform = n + n_tail_uniform
        # the cells resolved before the tail phase keep their uniform estimates; recheck them at their final n
        others = missed_after(n_cell)
        others[left] = False
        unresolved = np.union1d(np.flatnonzero(others), left[tail_missed])
        return _TargetedRun(
            counts, n_uniform, n + n_tail, clock() - start, unresolved, left, share, se, n_cell=n_cell.copy()
        )


def _unsampled_error(counts, unseen, n) -> tuple[float, float]:
    """N times the standard error of a cell without a sample, and the unsampled cells' total share.

    A cell that got none of N uniform samples has estimate 0 and error -w: its share is unknown,
    and no error that ignores w is right for each such cell. It is right for them as a group.
    With P(c_k = 0) = (1 - w_k)^N and P(c_k = r) = C(N, r) w_k^r (1 - w_k)^(N - r),

        E[sum over unsampled k of w_k^2] = sum_k w_k^2 (1 - w_k)^N ~ (2 / N^2) E[n_2],
        E[sum over unsampled k of w_k]   = sum_k w_k (1 - w_k)^N   ~ E[n_1] / N,

    n_r the number of cells with exactly r samples (the second is Good and Turing's estimate of
    the missing mass, Good 1953). Reporting se_0 = sqrt(2 n_2 / U) / N for each of the U unsampled
    cells makes their z-scores (0 - w_k) / se_0 unit-variance as a group, which 1/N (the share of
    one sample) does not: it gives |z| < 1 wherever N w_k < 1. Without doubletons (n_2 = 0) the
    squared errors sum to at most about 1/N^2 and se_0 = sqrt(1 / U) / N.

    ``unseen`` marks the U cells that report se_0; returns (N se_0, n_1 / N).
    """
    U = int(np.count_nonzero(unseen))
    if U == 0:
        return 0.0, 0.0
    n1 = int(np.count_nonzero(counts == 1))
    n2 = int(np.count_nonzero(counts == 2))
    return math.sqrt(max(2 * n2, 1) / U), n1 / n


def _tv_error(cell_se, unseen, unseen_mass) -> float:
    """(1/2) E sum |w_hat - w|: sqrt(2/pi) se per sampled cell (normal errors), and for the
    unsampled cells, whose errors are -w_k, their estimated total share (Good-Turing, see
    :func:`_unsampled_error`)."""
    if unseen is None or not np.any(unseen):
        return 0.5 * _MEAN_ABS_NORMAL * math.fsum(cell_se)
    return 0.5 * (_MEAN_ABS_NORMAL * math.fsum(cell_se[~unseen]) + unseen_mass)


def _log_volume(region) -> float:
    """log vol(S), from the bounds for a Box (no overflow at any scale)."""
    if isinstance(region, Box):
        lo, hi = region.bounds
        with np.errstate(divide="ignore"):
            return float(np.sum(np.log(np.asarray(hi, dtype=float) - np.asarray(lo, dtype=float))))
    volume = float(region.volume)
    return math.log(volume) if volume > 0 and math.isfinite(volume) else float("nan")


def _chunk_sizes(start, stop):
    """(first sample, size) of the chunks covering samples start..stop-1 (start a chunk multiple)."""
    return [(s, min(_SAMPLE_CHUNK, stop - s)) for s in range(start, stop, _SAMPLE_CHUNK)]


class _DaskChunks:
    """Counts of sample chunks computed on a Dask cluster, identical to the local chunks.

    For a Box and a PCG64-family generator a task receives the generator's state at the first
    chunk and advances a copy by (first sample) * d draws (``Box.sample`` draws ``rng.random((n,
    d))``: one 64-bit output per coordinate), so the samples are the local ones without shipping
    them. Otherwise the samples are drawn here, in order, and shipped with the task. ``consume``
    leaves the caller's generator where the local path would have left it.
    """

    def __init__(self, unique, region, rng, backend, scheduler, consume=True):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ValueError("engine='dask' needs the 'distributed' package (pip install choicelab[dask])") from None
        self.rng, self.region, self.k = rng, region, unique.shape[0]
        self._cluster, self._own_client, self._auto_consume = None, False, consume
        if scheduler is None:
            import logging

            for name in ("distributed", "tornado", "asyncio"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
            self._cluster = LocalCluster(threads_per_worker=1, processes=True, dashboard_address=":0")
            self.client, self._own_client = Client(self._cluster), True
        elif isinstance(scheduler, str):
            try:
                self.client, self._own_client = Client(scheduler, timeout="20s"), True
            except (OSError, TimeoutError, ValueError) as exc:
                raise ValueError(f"scheduler: cannot connect to the Dask scheduler at {scheduler!r}: {exc}") from None
        else:
            self.client = scheduler
        self.n_threads = max(1, sum(self.client.nthreads().values()))
        self._points = self.client.scatter(unique, broadcast=True)
        self._backend = backend
        bg = rng.bit_generator
        self._advance = isinstance(region, Box) and hasattr(bg, "advance")
        self._state = bg.state if self._advance else None  # the state at sample 0
        self._drawn = 0  # samples drawn here (shipping path) or accounted for (advance path)
        self._states = {}  # shipping path: the generator's state before the chunk starting at each sample

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None and self._auto_consume:
            self.consume(self._drawn)
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        return False

    def counts(self, chunks):
        """Per-chunk count vectors, in chunk order."""
        d = self.region.dim
        futures = []
        for first, size in chunks:
            if self._advance:
                args = (self._state, first * d, size, None)
            else:  # draw here, in order: the generator's stream is the local one
                self._states[first] = self.rng.bit_generator.state
                args = (None, 0, size, np.asarray(self.region.sample(size, self.rng), dtype=float))
            futures.append(
                self.client.submit(_dask_chunk_counts, self._points, self.region, self._backend, *args, pure=False)
            )
            self._drawn = first + size
        out = []
        for fut in futures:
            idx, cnt = fut.result()
            c = np.zeros(self.k, dtype=np.int64)
            c[idx] = cnt
            out.append(c)
        return out

    def consume(self, n):
        """Leave the caller's generator as the local path would after n samples."""
        if self._advance:
            self.rng.bit_generator.state = self._state
            self.rng.bit_generator.advance(n * self.region.dim)
        elif n in self._states:  # samples were drawn beyond n: rewind to the state there
            self.rng.bit_generator.state = self._states[n]
        self._auto_consume = False


_WORKER_SEARCH: dict = {}


def _dask_chunk_counts(points, region, backend, state, offset, size, samples):
    """A worker's count of one chunk: (cells hit, counts). The search is cached per worker."""
    key = (id(points), backend)
    cached = _WORKER_SEARCH.get(key)
    if cached is None or cached[0] is not points:
        search = _kdtree_search(points, workers=1) if backend == "kdtree" else _brute_search(points, region)
        _WORKER_SEARCH.clear()
        _WORKER_SEARCH[key] = cached = (points, search)
    if samples is None:
        bg = getattr(np.random, state["bit_generator"])()
        bg.state = state
        bg.advance(offset)
        samples = np.asarray(region.sample(size, np.random.Generator(bg)), dtype=float)
    idx, cnt = np.unique(cached[1](samples), return_counts=True)
    return idx, cnt


def _warn_missed_target(unique, inverse, share, rel, n, cells, rel_stderr, max_seconds, seconds):
    points = np.flatnonzero(np.isin(inverse, cells))
    shown = ", ".join(map(str, points[:20].tolist())) + (", ..." if points.size > 20 else "")
    hit = share[cells] > 0
    worst = float(rel[cells][hit].max()) if hit.any() else float("inf")
    warnings.warn(
        f"voronoi_weights: rel_stderr={rel_stderr} not reached within max_seconds={max_seconds} "
        f"({seconds:.1f} s, {n} samples, {unique.shape[0]} distinct points in {unique.shape[1]}-D): "
        f"{cells.size} distinct cells ({points.size} points) missed it, {int(np.count_nonzero(~hit))} of them "
        "with no sample "
        f"(largest relative standard error {worst:.3g}); points of X: {shown}. "
        "Raise max_seconds or rel_stderr; the weights depend on how many samples fitted in the time",
        VoronoiResolutionWarning,
        stacklevel=3,
    )


def _kdtree_search(points, workers=-1):
    """``query(Z) -> (n,) int``: index of the nearest of ``points`` to each row of Z (cKDTree)."""
    from scipy.spatial import cKDTree

    tree = cKDTree(points)

    def query(Z):
        return np.asarray(tree.query(Z, k=1, workers=workers)[1], dtype=np.intp)

    return query


def _brute_search(points, region=None, dtype=np.float32):
    """``query(Z) -> (n,) int``: nearest of ``points`` by blocked matrix products.

    argmin_j ||z - x_j||^2 = argmin_j (||x_j||^2 - 2 z.x_j), one (block, k) matrix product per
    block of samples with the ||x_j||^2 row appended to the right-hand side. In ``dtype``
    (float32 by default) a sample whose smallest and second-smallest values differ by at most
    twice the rounding bound (d + 8) u (2 ||z|| R + R^2) is re-assigned in float64 from the
    differences z - x_j, so the result is the float64 nearest neighbour (first index on exact
    ties). Coordinates are centred and scaled by a power of two (exact) so that float32 neither
    overflows nor underflows.
    """
    points = np.asarray(points, dtype=float)
    k, d = points.shape
    center = points.mean(axis=0)
    extent = float(np.max(np.abs(points - center)))
    if region is not None:
        lo, hi = region.bounds
        extent = max(extent, float(np.max(np.abs(np.stack([lo, hi]) - center))))
    scale = 2.0 ** -math.ceil(math.log2(extent)) if extent > 0 else 1.0
    P = (points - center) * scale
    sq = np.einsum("ij,ij->i", P, P)
    rhs = np.empty((d + 1, k), dtype=dtype)
    rhs[:d] = -2.0 * P.T
    rhs[d] = sq
    R = math.sqrt(float(sq.max()))
    bound_factor = (d + 8) * float(np.finfo(dtype).eps) / 2  # (d + 8) u
    rows = max(1, _BRUTE_BLOCK_ELEMS // k)

    def query(Z):
        Z = np.asarray(Z, dtype=float)
        out = np.empty(Z.shape[0], dtype=np.intp)
        lhs = np.empty((min(rows, Z.shape[0]), d + 1), dtype=dtype)
        lhs[:, d] = 1.0
        for s in range(0, Z.shape[0], rows):
            zb = (Z[s : s + rows] - center) * scale
            b = zb.shape[0]
            lhs[:b, :d] = zb
            D = lhs[:b] @ rhs
            best = D.argmin(axis=1)
            if k > 1:
                r = np.arange(b)
                first = D[r, best].astype(float)
                D[r, best] = np.inf
                second = D.min(axis=1).astype(float)
                bound = bound_factor * (2.0 * np.sqrt(np.einsum("ij,ij->i", zb, zb)) * R + R * R)
                unsure = np.flatnonzero(second - first <= 2.0 * bound)
                if unsure.size:
                    best[unsure] = _exact_nearest(Z[s + unsure], points)
            out[s : s + b] = best
        return out

    return query


def _exact_nearest(Z, points) -> np.ndarray:
    """float64 nearest neighbour from the differences (no cancellation); first index on ties."""
    k, d = points.shape
    rows = max(1, _RECHECK_BLOCK_ELEMS // (k * d))
    out = np.empty(Z.shape[0], dtype=np.intp)
    for s in range(0, Z.shape[0], rows):
        diff = Z[s : s + rows, None, :] - points[None, :, :]
        out[s : s + rows] = np.einsum("ijk,ijk->ij", diff, diff).argmin(axis=1)
    return out


def _warn_unresolved(unique, region, counts, n, max_rel_se):
    inside = np.asarray(region.contains(unique), dtype=bool)
    # a distinct point inside S has a cell of positive volume, so zero samples means unresolved;
    # a point outside S may have an empty cell, so it is not counted
    empty = int(np.count_nonzero((counts == 0) & inside))
    hit = counts > 0
    p = counts[hit] / n
    rel_se = np.sqrt((1.0 - p) / (p * n))
    coarse = int(np.count_nonzero(rel_se > max_rel_se))
    if empty or coarse:
        worst = float(rel_se.max()) if rel_se.size else float("inf")
        warnings.warn(
            f"voronoi_weights: n_samples={n} does not resolve every cell of {unique.shape[0]} "
            f"distinct points in {unique.shape[1]}-D: {empty} inside the region got no sample and "
            f"{coarse} have a relative standard error above warn_rel_stderr={max_rel_se} "
            f"(largest {worst:.3g}); increase n_samples",
            VoronoiResolutionWarning,
            stacklevel=3,
        )


# ---------------------------------------------------------------------------------------------
# Radius-graph class-uniform weights [BW]
# ---------------------------------------------------------------------------------------------


def radius_graph_weights(X, alpha, n_radii=None):
    """Berriaud-Wattenhofer radius-graph class-uniform weights (contract §2, Alternative weightings, [BW]).

    f(S)(x) = (1/alpha) * integral_0^alpha w^CU(G_r(S))(x) dr, where G_r joins points at
    Euclidean distance <= r, ``[x]`` is the class of points with the same closed neighbourhood
    ``N_r[x] = {y : ||x - y|| <= r}`` in G_r, and ``w^CU(G)(x) = 1 / (#classes * |[x]|)``. Exact
    duplicates always share a class, so k copies of x split one share; the weights sum to 1.
    (Berriaud, Wattenhofer, *Clone-Robust Weights in Metric Spaces*, arXiv 2502.03576.)

    Parameters
    ----------
    X : array_like, shape (m, d)
        Points (exact duplicates allowed); ``(m,)`` means m points on a line.
    alpha : float
        Upper radius, > 0. Beyond the largest pairwise distance the graph is complete and the
        integrand is 1/m for every point.
    n_radii : int, optional
        None (default): the exact integral. The integrand is piecewise constant in r and
        changes only at pairwise distances, so it is summed over the intervals between the
        sorted distinct distances below alpha. An int: the midpoint rule at radii
        (j + 1/2) alpha / n_radii, j = 0..n_radii-1 (cheaper when there are very many distinct
        distances below alpha; its error is at most the total length of the quadrature
        intervals that contain a pairwise distance, divided by alpha).

    Returns
    -------
    (m,) ndarray
        Weights >= 0 summing to 1 (up to rounding).

    Notes
    -----
    Cost: O(m^2) memory for the distances; edges are added in order of length while each
    point's closed neighbourhood is kept as an exact bitmask, so the sweep costs
    O(E m / 64) for the E pairs closer than alpha plus O(m) per distinct distance (exact) or
    per radius (midpoint rule): O(m^3) in the worst case, seconds for m ~ 10^3.

    Examples
    --------
    Points 0, 1, 3 on a line, alpha = 4: w^CU is (1/3, 1/3, 1/3) on [0, 1), (1/4, 1/4, 1/2) on
    [1, 2) and (1/3, 1/3, 1/3) on [2, 4), so f = (5/16, 5/16, 3/8).

    >>> np.round(radius_graph_weights([0.0, 1.0, 3.0], alpha=4.0), 12).tolist()
    [0.3125, 0.3125, 0.375]
    """
    X = _check_points(X, None, "X")
    alpha = _check_positive_real(alpha, "alpha")
    if n_radii is not None:
        n_radii = _check_positive_int(n_radii, "n_radii")
    m = X.shape[0]
    if m == 1:
        return np.ones(1)

    from scipy.spatial.distance import pdist

    dist = pdist(X)
    ii, jj = np.triu_indices(m, k=1)  # pdist's pair order
    keep = dist < alpha
    order = np.argsort(dist[keep], kind="stable")
    dist, ii, jj = dist[keep][order], ii[keep][order], jj[keep][order]

    if n_radii is None:
        # integrand on [t_k, t_{k+1}) is w^CU of the graph with all edges of length <= t_k
        starts = np.unique(np.concatenate(([0.0], dist)))
        lengths = np.diff(np.append(starts, alpha))
        evaluate_at, factors = starts, lengths
    else:
        evaluate_at = (np.arange(n_radii) + 0.5) * (alpha / n_radii)
        factors = np.full(n_radii, alpha / n_radii)

    sweep = _ClassSweep(m)
    total = np.zeros(m)
    e = 0
    n_edges = dist.shape[0]
    for r, factor in zip(evaluate_at, factors):
        while e < n_edges and dist[e] <= r:
            sweep.add_edge(int(ii[e]), int(jj[e]))
            e += 1
        total += factor * sweep.class_uniform()
    return total / alpha


def inverse_kde_weights(X, bandwidth=None):
    """Inverse kernel-density weights (contract §2, Alternative weightings).

    w_i = (1 / D_i) / sum_k (1 / D_k),  D_i = sum_j K_h(x_i, x_j),  K_h(x, y) = exp(-||x - y||^2 / (2 h^2)),

    the sum over all points including x_i itself (K_h(x, x) = 1, so D_i >= 1). A point in a crowded
    neighbourhood gets less weight, an isolated one more.

    Parameters
    ----------
    X : array_like, shape (m, d)
        Points (exact duplicates allowed); ``(m,)`` means m points on a line.
    bandwidth : float, optional
        h > 0. None (default): Scott's rule h = s * m^(-1/(d + 4)), with s^2 = trace(Cov(X)) / d
        the mean per-coordinate sample variance (ddof = 1). When all points coincide (s = 0) every
        D_i equals m and the weights are uniform, whatever h.

    Returns
    -------
    (m,) ndarray
        Weights > 0 summing to 1 (up to rounding).

    Notes
    -----
    The three axioms of [BW] (symmetry, continuity, clone-proofness):

    - *Symmetry* holds: D_i depends on X only through the distances ||x_i - x_j|| and s^2 =
      trace(Cov(X))/d, both invariant under permutations, translations and rotations.
    - *Continuity* holds: each D_i is a continuous function of the positions with D_i >= 1, and
      Scott's h is continuous and positive wherever the points do not all coincide, so w is
      continuous there (tests/estimators/test_weights.py checks a linear modulus).
    - *Clone-proofness* fails: adding an exact copy of x_k adds 1 to D_k and K_h(x_i, x_k) to every
      other D_i; the two copies get 2 / (D_k + 1) in place of 1 / D_k before normalisation, which
      equals 1/D_k only when D_k = 1 (an isolated point). Measured counterexample: points 0, 1, 2 on
      a line with Scott's bandwidth; doubling point 0 raises the copies' total weight from 0.359 to
      0.417 and moves the other two (tests/estimators/test_weights.py).

    Cost: O(m^2 d) time in blocks of rows, O(m d + 2^21) memory.

    Examples
    --------
    Two isolated points and a tight pair (h = 0.1): the pair shares one point's weight.

    >>> np.round(inverse_kde_weights([0.0, 1.0, 2.0, 2.0 + 1e-9], bandwidth=0.1), 6).tolist()
    [0.333333, 0.333333, 0.166667, 0.166667]
    """
    from scipy.spatial.distance import cdist

    X = _check_points(X, None, "X")
    m, d = X.shape
    if bandwidth is None:
        s2 = float(np.mean(np.var(X, axis=0, ddof=1))) if m > 1 else 0.0
        if not s2 > 0:
            return np.full(m, 1.0 / m)
        h = math.sqrt(s2) * m ** (-1.0 / (d + 4))
    else:
        h = _check_positive_real(bandwidth, "bandwidth")
    rows = max(1, _RECHECK_BLOCK_ELEMS // m)
    dens = np.empty(m)
    for s in range(0, m, rows):
        sq = cdist(X[s : s + rows], X, "sqeuclidean")
        dens[s : s + rows] = np.exp(-sq / (2.0 * h * h)).sum(axis=1)
    inv = 1.0 / dens
    return inv / inv.sum()


class _ClassSweep:
    """Closed neighbourhoods as exact int bitmasks, grouped into classes as edges are added.

    Class ids are recycled, so there are never more than m of them and ``class_uniform`` is O(m).
    """

    def __init__(self, m: int):
        self.masks = [1 << i for i in range(m)]
        self.class_of_mask = {mask: i for i, mask in enumerate(self.masks)}
        self.label = np.arange(m)
        self.size = np.ones(m, dtype=np.int64)
        self.free = []
        self.n_classes = m

    def add_edge(self, i: int, j: int):
        self._move(i, self.masks[i] | (1 << j))
        self._move(j, self.masks[j] | (1 << i))

    def _move(self, i: int, new_mask: int):
        old = int(self.label[i])
        self.size[old] -= 1
        if self.size[old] == 0:
            del self.class_of_mask[self.masks[i]]
            self.free.append(old)
            self.n_classes -= 1
        new = self.class_of_mask.get(new_mask)
        if new is None:
            new = self.free.pop()  # the class just left, or an older free id: one always exists
            self.class_of_mask[new_mask] = new
            self.n_classes += 1
        self.size[new] += 1
        self.label[i] = new
        self.masks[i] = new_mask

    def class_uniform(self) -> np.ndarray:
        """w^CU(x) = 1 / (#classes * |[x]|)."""
        return 1.0 / (self.n_classes * self.size[self.label])


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _check_region(region):
    if isinstance(region, (Box, Ball)):
        return region
    missing = [a for a in ("dim", "volume", "bounds", "contains", "sample") if not hasattr(region, a)]
    if missing:
        raise TypeError(
            f"region must be a Box, a Ball or a region object; {type(region).__name__} lacks {', '.join(missing)}"
        )
    return region


def _check_points(X, dim, name):
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    arr = arr.astype(float)
    if arr.ndim == 1 and dim in (None, 1):
        arr = arr[:, None]
    if arr.ndim != 2:
        want = f"(m, {dim})" if dim is not None else "(m, d)"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} has {arr.shape[1]} columns but the region is {dim}-D: shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} needs at least one point of dimension >= 1, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"{name} must be finite, got {name}[{row}, {col}] = {arr[row, col]}")
    return arr


def _check_method(method):
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, _METHODS))}; got {method!r}")
    return method


def _check_positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive int, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _check_positive_real(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return float(value)


def _as_generator(rng) -> np.random.Generator:
    return as_rng(rng)
