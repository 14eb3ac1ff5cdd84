"""Importance sampling of the smallest Voronoi cells: the tail phase of precision-targeted weights.

Uniform Monte Carlo puts N w_k samples in cell k, so the last few cells of a precision-targeted
run (:func:`choicelab.estimators.weights.voronoi_weights` with ``n_samples=None``) cost far more
than all the others together: at m = 10^4 points in 16-D, 1% of the cells need four times the
samples that resolved the other 99%. Once few cells are left, this module estimates them with a
defensive mixture proposal instead (Hesterberg 1995; Owen & Zhou 2000):

    q(z) = (N_U / N) u(z) + (1 / N) sum_b A_b phi_b(z),

u the uniform density on S, phi_b a diagonal Gaussian fitted to the uniform samples that fell in
target cell b (mean and per-coordinate variance, the variance inflated by 1.5), A_b the number of
samples drawn from phi_b and N_U the uniform ones, N = N_U + sum_b A_b. A sample's cell is found
by the exact nearest-neighbour search, so membership is never approximated; samples of phi_b that
fall outside S count in N and in no cell. The estimate of a target cell's share is the
deterministic-mixture (balance-heuristic) estimator over all samples drawn in this phase,

    w_hat_k = (1/N) sum_i 1{z_i in cell k} u(z_i) / q(z_i),
    se_k^2  = (1/N^2) sum_s sum_{i in s} (v_ik - mean_{i' in s} v_i'k)^2,   v_ik = 1{z_i in cell k} u(z_i) / q(z_i),

the strata s being the uniform draws and each component's draws (their sizes are fixed, so the
stratified variance is the right one; the i.i.d. formula would overstate it). The estimate is
unbiased for a fixed allocation, and u/q <= N / N_U, so no sample can carry more than N / N_U
times a uniform sample's share (the defensive part). The uniform counts drawn before the phase
(c_k of N_0) are an independent estimate; the two are combined by inverse variance, both
variances taken at w_hat_k (see :func:`_combine`):

    w_k = lam_k w_hat_k + (1 - lam_k) c_k / N_0,   lam_k = V_0 / (V_0 + se_k^2),   V_0 = w_hat_k (1 - w_hat_k) / N_0,
    se(w_k)^2 = V_0 se_k^2 / (V_0 + se_k^2).

A cell leaves the allocation once that standard error is at most the target with at least
``_MIN_HITS`` of the phase's samples in it; its past draws stay in q. Each cell's cost now
scales with how well its Gaussian covers it rather than with 1/w_k: on random points in 16-D
the proposal needs 3 to 10 times fewer nearest-neighbour queries per unit of precision than
unscreened uniform sampling for the 100 smallest cells. Since the caller screens its uniform
samples too (:mod:`choicelab.estimators.voronoi_screen`), that gain mostly pays on cells that
Gaussians fit well, such as those of products of low-dimensional sets. Should the phase need more
work than uniform sampling for the slowest open cell, it gives up and the caller samples
uniformly again (:func:`_worse_than_uniform`). The Gaussian draws are first screened, exactly, against the
targets and their nearest points (:class:`~choicelab.estimators.voronoi_screen.TargetScreen`), so
only the draws that may lie in a target cell pay for the full search; so are the uniform draws
when the caller has already stopped counting the resolved cells.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

__all__ = ["CellMoments", "tail_estimates"]

_UNIFORM_SHARE = 0.2  # the defensive part: every chunk draws this share uniformly from S
_INFLATE = 1.5  # proposal variance / the cell's sample variance (wider than the cell: Voronoi cells are spiky)
_GIVE_UP = 1.0  # give up once the proposal, by the cost model below, is no cheaper than uniform sampling
_MIN_HITS = 30  # a cell's variance estimate needs this many samples in the cell before it may stop
_CHUNK = 1 << 16
# The cost model of the phase's work, in full nearest-neighbour queries over k points in d
# dimensions (measured at d = 8 to 32, k = 10^3 to 10^4; the draws are what uniform sampling
# pays too, so they matter once the searches are screened):
_UNIFORM_DRAW = 8.0  # one uniform draw: about 8 d / k
_GAUSSIAN_DRAW = 18.0  # one Gaussian draw and its check against S: about 18 d / k
_DENSITY = 6.0  # one component's log-density at one stored hit: about 6 / k


class CellMoments:
    """Running count, sum and sum of squares of the uniform samples in a fixed set of cells."""

    def __init__(self, cells: np.ndarray, d: int):
        self.cells = np.asarray(cells, dtype=np.intp)  # sorted distinct-cell indices
        self.n = np.zeros(self.cells.size)
        self.s1 = np.zeros((self.cells.size, d))
        self.s2 = np.zeros((self.cells.size, d))

    def add(self, Z: np.ndarray, idx: np.ndarray) -> None:
        """Add the samples ``Z`` whose nearest distinct point is ``idx``."""
        if self.cells.size == 0:
            return
        pos = np.minimum(np.searchsorted(self.cells, idx), self.cells.size - 1)
        keep = self.cells[pos] == idx
        if keep.any():
            p, z = pos[keep], Z[keep]
            np.add.at(self.n, p, 1.0)
            np.add.at(self.s1, p, z)
            np.add.at(self.s2, p, z * z)

    def proposal(self, targets: np.ndarray, unique: np.ndarray):
        """(mean, sd) of a diagonal Gaussian per target cell.

        Cells seen at least twice get their samples' mean and inflated sample variance; the others
        (too few samples to fit) centre on their own point with the median spread of the rest.
        """
        if self.cells.size == 0:
            return None
        k_t, d = targets.size, unique.shape[1]
        pos = np.minimum(np.searchsorted(self.cells, targets), self.cells.size - 1)
        n = np.where(self.cells[pos] == targets, self.n[pos], 0.0)  # untracked cells: nothing seen
        fit = n >= 2
        mu = unique[targets].astype(float).copy()
        var = np.zeros((k_t, d))
        if fit.any():
            p = pos[fit]
            mean = self.s1[p] / n[fit, None]
            mu[fit] = mean
            var[fit] = np.maximum(self.s2[p] / n[fit, None] - mean * mean, 0.0) * n[fit, None] / (n[fit, None] - 1)
        spread = np.median(var[fit], axis=0) if fit.any() else None
        if spread is None or not np.all(spread > 0):
            return None  # nothing to fit the proposals from: stay with uniform sampling
        var[~fit] = spread
        var = np.maximum(var, 1e-6 * spread)  # a cell seen in a line of samples still gets a full-rank spread
        return mu, np.sqrt(_INFLATE * var)


def _log_phi(Y: np.ndarray, mu: np.ndarray, sd: np.ndarray, log_norm: np.ndarray) -> np.ndarray:
    """log phi_b(y) for every row y of Y and every component b: (len(Y), len(mu))."""
    inv = 1.0 / sd
    # sum_j ((y_j - mu_bj) / sd_bj)^2 expanded into matrix products: (y^2) @ inv^2 - 2 y @ (mu inv^2) + const
    quad = (Y * Y) @ (inv * inv).T - 2.0 * Y @ (mu * inv * inv).T + np.einsum("bj,bj->b", mu * inv, mu * inv)
    return log_norm[None, :] - 0.5 * np.maximum(quad, 0.0)


def _combine(est, var, hits, prior):
    """Inverse-variance combination of the phase's estimate with the earlier uniform counts.

    The uniform estimate c/N of the samples drawn before the phase is independent of the phase's
    draws. Both variances are taken at the phase's estimate p (the uniform one as p(1 - p)/N, not at
    c/N): the weights then do not depend on the uniform count, which keeps the combination unbiased
    on that side. A cell with fewer than 2 draws of the phase in it keeps its uniform estimate
    (or, with no uniform sample either, 0 with the standard error of one uniform sample).
    """
    c, n = prior
    if n <= 0:  # nothing drawn before the phase: its own estimates
        return est, np.sqrt(var)
    uniform = c / n
    informative = (hits >= 2) & (est > 0) & (var > 0)
    p = np.where(informative, est, uniform)
    var_u = np.maximum(p * (1.0 - p), 0.0) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(informative, var_u / (var_u + var), 0.0)  # the phase's share of the combination
        share = lam * est + (1.0 - lam) * uniform
        share_var = np.where(informative, var_u * var / (var_u + var), var_u)
    share_var = np.where(share > 0, share_var, 1.0 / (n * n))
    return share, np.sqrt(share_var)


def _worse_than_uniform(est, var, hits, active, work, uniform_cost) -> bool:
    """Whether the proposal clearly costs more than uniform sampling for the cells still open.

    The cost is work in units of one full nearest-neighbour query: the searches (none for draws
    outside S; what :class:`~choicelab.estimators.voronoi_screen.TargetScreen` counts for screened
    draws) plus drawing and weighting the samples (the cost model's constants above),
    and the work a cell needs scales with its relative variance per unit of work: W se^2 / w^2
    here, ``uniform_cost`` (1 - w)/w for uniform samples costing ``uniform_cost`` each. The slowest
    open cell sets the time, so the phase gives up when its worst relative variance per unit of
    work exceeds ``_GIVE_UP`` times uniform sampling's worst, judged once every open cell has
    ``_MIN_HITS`` draws in it (the minimum keeps a noisy variance estimate of a heavy-tailed
    importance weight from ending a phase that pays). ``_GIVE_UP`` is 1: the cost model is rough in
    both directions, and with 2 a losing phase ran on for 40 s in 32-D once screened uniform sampling
    had made uniform samples cheap. Work counts, not seconds, so the decision, and with it the
    weights, do not depend on the machine's speed.
    """
    open_ = active & (hits >= _MIN_HITS) & (est > 0)
    if not open_.any() or np.any(active & (hits < _MIN_HITS)):
        return False
    w = est[open_]
    return float(np.max(work * var[open_] / (w * w))) > _GIVE_UP * uniform_cost * float(np.max((1.0 - w) / w))


def tail_estimates(
    unique,
    region,
    log_volume,
    rng,
    nearest,
    targets,
    proposal,
    counts,
    rel_stderr,
    deadline,
    clock,
    prior=None,
    subset_search=None,
    count_all=True,
    uniform_cost=1.0,
):
    """Estimate the shares of the ``targets`` cells by defensive importance sampling.

    Parameters
    ----------
    unique : (k, d) ndarray
        The distinct points.
    region
        The region S (``sample``, ``contains``); ``log_volume`` is log vol(S).
    rng : numpy.random.Generator
        Source of every draw of this phase.
    nearest : callable
        The exact nearest-neighbour search, ``nearest(Z) -> (n,) int``.
    targets : (t,) ndarray of int
        The cells to estimate (distinct-cell indices).
    proposal : (mu, sd)
        The Gaussians' means and standard deviations, (t, d) each.
    counts : (k,) ndarray of int
        Uniform counts; the uniform part of every chunk is added to them (in place): to every
        cell's count with ``count_all`` (the other cells keep an unbiased uniform estimate
        counts / N_uniform), to the targets' only without it.
    rel_stderr, deadline, clock
        Stop when every target meets ``rel_stderr`` or the next chunk would end after
        ``deadline`` (judged by the last chunk's time).
    subset_search : callable, optional
        ``subset_search(points) -> nearest`` builds an exact search over a subset of the points;
        with it, the Gaussian draws are screened against the targets and their nearest
        neighbours before the full search
        (:class:`~choicelab.estimators.voronoi_screen.TargetScreen`).
    count_all : bool
        Whether the uniform draws get the full search and count for every cell (True), or are
        screened like the Gaussian ones and count for the targets only (False, which needs
        ``subset_search``: the caller has stopped counting the other cells).
    uniform_cost : float
        The search work of one uniform sample of the caller's own sampling, in full queries (1,
        or less when it screens its samples); the phase adds the cost of drawing it. That is what
        the phase must beat (:func:`_worse_than_uniform`).
    prior : (c, N), optional
        The targets' uniform counts c among N uniform samples drawn before this phase (a copy:
        ``counts`` goes on growing). Combined with the phase's estimates by :func:`_combine`.
        Default: the current ``counts`` and their total.

    Returns
    -------
    est, se : (t,) ndarray
        The shares of the target cells and their standard errors: the phase's importance
        estimates combined with the uniform estimates of ``prior`` (:func:`_combine`).
    n_drawn, n_uniform : int
        Samples drawn in this phase, and how many of them were uniform.
    missed : (t,) bool ndarray or None
        Targets that did not reach ``rel_stderr``; None when the phase gave up because its
        proposal needed more draws than uniform sampling (:func:`_worse_than_uniform`): the caller
        then goes on sampling uniformly, and ``counts`` holds every uniform draw of the phase.
    """
    k, d = unique.shape
    t = targets.size
    mu, sd = proposal
    if prior is None:
        prior = (counts[targets].astype(float), float(counts.sum()))
    if not count_all and subset_search is None:
        raise ValueError("tail_estimates: count_all=False needs subset_search")
    screen = None
    if subset_search is not None:
        from choicelab.estimators.voronoi_screen import TargetScreen

        screen = TargetScreen(unique, targets, nearest, subset_search)
    is_target = np.zeros(k, dtype=bool)
    is_target[targets] = True

    def target_cells(Y):  # the target cell of each draw, -1 for none
        if screen is not None:
            return screen(Y)
        cells = nearest(Y)
        return np.where(is_target[cells], cells, -1)

    # a uniform sample of the caller costs its search (uniform_cost) and its drawing
    uniform_cost = uniform_cost + _UNIFORM_DRAW * d / k
    log_norm = -np.log(sd).sum(axis=1) - 0.5 * d * math.log(2.0 * math.pi)
    where = np.full(k + 1, -1, dtype=np.intp)  # where[k]: a draw in no target cell
    where[targets] = np.arange(t)
    active = np.ones(t, dtype=bool)
    allotted = np.zeros(t)  # A_b
    n_drawn = n_uniform = 0
    work = 0.0  # nearest-neighbour work in full queries
    hit_cell = np.zeros(0, dtype=np.intp)
    hit_logs = np.zeros(0)  # log sum_b A_b phi_b(z) of each stored hit
    hit_Y = np.zeros((0, d))
    hit_src = np.zeros(0, dtype=np.intp)  # the stratum a hit was drawn from: 0 uniform, 1 + b component b
    n_u = int(round(_UNIFORM_SHARE * _CHUNK))
    while True:
        before = clock()
        act = np.flatnonzero(active)
        n_g = _CHUNK - n_u
        per = np.full(act.size, n_g // act.size)
        per[: n_g % act.size] += 1
        U = np.asarray(region.sample(n_u, rng), dtype=float)
        comp = np.repeat(act, per)
        G = mu[comp] + sd[comp] * rng.standard_normal((n_g, d))
        inside = np.asarray(region.contains(G), dtype=bool)
        G = G[inside]
        screen_work = 0.0 if screen is None else screen.work
        if count_all:
            cell_u = nearest(U)
            counts += np.bincount(cell_u, minlength=k)
            work += n_u
        else:
            cell_u = target_cells(U)
            counts += np.bincount(cell_u[cell_u >= 0], minlength=k)
            cell_u[cell_u < 0] = k
        cell_g = target_cells(G) if G.shape[0] else np.zeros(0, dtype=np.intp)
        cell_g[cell_g < 0] = k
        # screened draws cost what the screen counted, unscreened ones a full query each (draws
        # outside S none); every draw costs its drawing, and each stored hit its densities
        work += G.shape[0] if screen is None else screen.work - screen_work
        work += (_UNIFORM_DRAW * d * n_u + _GAUSSIAN_DRAW * d * n_g + _DENSITY * hit_Y.shape[0] * act.size) / k
        # the stored hits gain this chunk's allotment: log S += log(1 + sum_b per_b phi_b / S)
        allotted[act] += per
        if hit_Y.shape[0]:
            add = logsumexp(_log_phi(hit_Y, mu[act], sd[act], log_norm[act]) + np.log(per)[None, :], axis=1)
            hit_logs = np.logaddexp(hit_logs, add)
        Y = np.vstack([U, G])
        cells = np.concatenate([cell_u, cell_g])
        src = np.concatenate([np.zeros(n_u, dtype=np.intp), 1 + comp[inside]])
        sel = where[cells] >= 0
        if sel.any():
            Yn = Y[sel]
            used = allotted > 0
            new_logs = logsumexp(_log_phi(Yn, mu[used], sd[used], log_norm[used]) + np.log(allotted[used]), axis=1)
            hit_Y = np.vstack([hit_Y, Yn])
            hit_cell = np.concatenate([hit_cell, where[cells[sel]]])
            hit_src = np.concatenate([hit_src, src[sel]])
            hit_logs = np.concatenate([hit_logs, new_logs])
        n_drawn += _CHUNK
        n_uniform += n_u
        # N q(z) / u(z) = N_U + vol(S) sum_b A_b phi_b(z); each hit carries N u / (N q) = N / that
        log_nq = np.logaddexp(math.log(n_uniform), log_volume + hit_logs)
        v = np.exp(math.log(n_drawn) - log_nq)
        hits = np.bincount(hit_cell, minlength=t)
        est = np.bincount(hit_cell, weights=v, minlength=t) / n_drawn
        # stratified variance: the uniform part and each component's draws are fixed-size strata
        pair = hit_src * t + hit_cell
        s1 = np.bincount(pair, weights=v, minlength=(t + 1) * t).reshape(t + 1, t)
        s2 = np.bincount(pair, weights=v * v, minlength=(t + 1) * t).reshape(t + 1, t)
        sizes = np.concatenate([[n_uniform], allotted])[:, None]
        within = np.where(sizes > 0, s2 - s1 * s1 / np.maximum(sizes, 1), 0.0)
        var = np.maximum(within.sum(axis=0), 0.0) / (n_drawn * n_drawn)
        share, share_se = _combine(est, var, hits, prior)
        met = (hits >= _MIN_HITS) & (share_se <= rel_stderr * share)
        active = ~met
        if _worse_than_uniform(est, var, hits, active, work, uniform_cost):
            return share, share_se, n_drawn, n_uniform, None
        now = clock()
        if not active.any() or now + (now - before) > deadline:  # the next chunk would overrun
            return share, share_se, n_drawn, n_uniform, active
