"""Exact Bradley-Terry maximum likelihood, standard (contract Eq. 1) and weighted (contract Eq. 2).

One objective covers every case. With weights ``w`` (``w = 1`` for the standard MLE) and a
nonnegative data matrix ``X`` (the preference matrix ``P`` or the win counts ``N``)::

    f(r) = - sum_{i != j} w_i w_j X_ij log sigma(r_i - r_j) + (lam / 2) sum_i w_i r_i**2

The solvers never evaluate ``log sigma`` directly. Pairing the terms (i, j) and (j, i) gives
the exact, overflow-free form used everywhere below::

    f(r) = 1/2 sum_{i != j} w_i w_j S_ij l(r_i - r_j) - sum_i w_i r_i a_i + (lam / 2) sum_i w_i r_i**2
    S_ij = X_ij + X_ji,   a_i = 1/2 sum_j w_j (X_ij - X_ji),
    l(d) = log(2 cosh(d / 2)) = |d| / 2 + log1p(exp(-|d|))

so that ``-X_ij log sigma(d) - X_ji log sigma(-d) = S_ij l(d) - (X_ij - X_ji) d / 2``. The gradient
and Hessian follow from ``l'(d) = tanh(d / 2) / 2`` and ``l''(d) = sigma(d) sigma(-d)``::

    grad_i = w_i (1/2 sum_j w_j S_ij tanh((r_i - r_j) / 2) - a_i + lam r_i)
    H      = weighted graph Laplacian with edge weights w_i w_j S_ij sigma(d_ij) sigma(-d_ij),
             plus lam diag(w)

Two linear-algebra back ends share one damped Newton loop: a dense one (row blocks that stay in
cache, O(m^2) per evaluation) and a sparse one over the compared pairs (O(nnz)). Each solves the
Newton system either by Cholesky on the explicit Hessian (``method="newton"``) or by Jacobi
preconditioned conjugate gradients on Hessian-vector products (``method="newton-cg"``), which
never forms nor factors an m x m Hessian.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
from scipy import sparse as _sp

from choicelab._validation import check_lambda, check_preference_matrix, check_weights
from choicelab.estimators.results import FitResult

__all__ = ["bt_mle", "bt_mle_counts", "bt_mle_comparisons", "ConvergenceWarning"]

_METHODS = ("auto", "newton", "newton-cg")
# "auto" uses Cholesky up to this size and Newton-CG above (timing both on BT population
# matrices, m = 20..500, Newton-CG was as fast from m = 100 on and several times faster beyond),
# switching to Cholesky for ill-conditioned Hessians while an explicit Hessian is cheap to factor.
_CHOLESKY_MAX_M = 100
_DENSE_SWITCH_MAX_M = 5000
_SPARSE_SWITCH_MAX_M = 3000
# a sparse count matrix with at least this fill (nnz / m^2) is solved by the dense back end
_DENSE_FILL = 0.25
# Dense evaluations work on row blocks of about this many entries, so temporaries stay in cache.
_BLOCK_ENTRIES = 1 << 16
_MATVEC_ROWS = 64
_ARMIJO_C1 = 1e-4
_MAX_BACKTRACKS = 50
_EPS = np.finfo(float).eps


class ConvergenceWarning(RuntimeWarning):
    """An iterative estimator stopped before reaching its convergence tolerance."""


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def bt_mle(P, weights=None, lam=0.1, *, tol=1e-10, max_iter=100, method="auto", x0=None) -> FitResult:
    """Regularized Bradley-Terry MLE on a preference matrix (contract Eq. 1 and Eq. 2).

    Solves exactly (to the gradient tolerance below)::

        r_hat = argmin_r  - sum_{i != j} w_i w_j P_ij log sigma(r_i - r_j) + (lam / 2) sum_i w_i r_i**2

    with ``w_i = 1`` when ``weights is None`` (contract Eq. 1, the standard MLE) and the given
    weights otherwise (contract Eq. 2, the weighted MLE). ``lam`` enters exactly as written; it is
    never rescaled (P7: ``weights = 1/m`` reproduces Eq. 1 with ``lam_std = m * lam``).

    Parameters
    ----------
    P : (m, m) array_like
        Preference matrix, validated like every preference matrix in choicelab
        (:func:`choicelab._validation.check_preference_matrix`): entries in [0, 1], ``P_ii = 1/2``
        and ``P_ij + P_ji = 1`` within 1e-9. Data that do not satisfy this (e.g. an empirical
        matrix with zeros on uncompared pairs) are counts: use :func:`bt_mle_counts`.
    weights : (m,) array_like or None
        ``None`` for Eq. 1. Otherwise ``w >= 0`` with ``|sum(w) - 1| <= 1e-9`` (never rescaled;
        :func:`choicelab._validation.check_weights`).
    lam : float
        Regularization strength, ``lam > 0`` (it makes the objective strictly convex on the
        alternatives with positive weight, hence the solution unique).
    tol : float
        Converged when ``||grad f(r)||_2 <= tol * s`` with the data scale
        ``s = ||w * u||_2 + lam * ||w||_2``, ``u_i = sum_{j != i} w_j P_ij`` (the gradient's
        data term). Default ``1e-10``.
    max_iter : int
        Maximum number of Newton steps.
    method : {"auto", "newton", "newton-cg"}
        ``"newton"``: exact Hessian and Cholesky, O(m^3) per step. ``"newton-cg"``: Hessian-free
        Newton-CG with a Jacobi preconditioner, O(m^2) per Hessian-vector product.
        ``"auto"`` uses Cholesky for ``m <= 100`` (counting positive-weight alternatives),
        Newton-CG above, and switches to Cholesky when a CG solve needs more than
        ``max(50, m / 15)`` iterations (ill-conditioned Hessians: near-deterministic data with a
        tiny ``lam``) and ``m <= 5000``. ``info["method"]`` reports the method that finished.
    x0 : (m,) array_like, optional
        Starting point (default: zeros). Entries of zero-weight alternatives are ignored.

    Returns
    -------
    FitResult
        ``rewards``, ``converged``, ``iterations`` (Newton steps), ``grad_norm``, ``objective``
        (``f`` above at ``rewards``), ``message`` and ``info`` (``method``, ``backend``,
        ``cg_iterations``, ``backtracks``, ``tol``, ``scale``, ``lam``, ``zero_weight``).

    Notes
    -----
    At the optimum, for every ``i`` with ``w_i > 0`` (P4 / P5; the sums include ``j = i``,
    with ``sigma(0) = 1/2``)::

        sum_j w_j sigma(r_i - r_j) + lam r_i = sum_j w_j P_ij   (= WAWR(i); Borda B(i) when w = 1)

    whenever ``P_ij + P_ji = 1`` and ``P_ii = 1/2``; summing over ``i`` gives ``sum_i w_i r_i = 0``.

    **Zero-weight alternatives.** When ``w_i = 0`` the objective does not depend on ``r_i``.
    Its reward is defined as the unique root ``x`` of the stationarity condition the other
    alternatives satisfy, ``sum_j w_j ((P_ij + P_ji) sigma(x - r_j) - P_ij) + lam x = 0``
    (the P5 identity above when ``P_ij + P_ji = 1``). It is the limit of ``r_i`` as
    ``w_i -> 0+``: the alternative is scored against the positive-weight ones exactly as the
    weighted MLE scores every alternative, and an exact clone with zero weight gets the reward
    of its original (P8).

    Non-convergence (iteration limit, failed line search) returns ``converged=False`` with a
    message and emits a :class:`ConvergenceWarning`.

    Examples
    --------
    >>> P = np.array([[0.5, 0.75], [0.25, 0.5]])
    >>> fit = bt_mle(P, lam=0.1)
    >>> bool(fit.converged), bool(fit.rewards[0] > 0 > fit.rewards[1])
    (True, True)
    """
    if _sp.issparse(P):
        raise TypeError(f"P must be a dense array here, got a sparse {type(P).__name__} (use bt_mle_counts)")
    P = check_preference_matrix(P, "P", who="bt_mle")
    lam = _check_lam(lam, allow_zero=False, name="bt_mle")
    m = P.shape[0]
    w, weighted = _check_weights(weights, m, "bt_mle")
    _check_solver_args(tol, max_iter, method, "bt_mle")
    x0 = _check_x0(x0, m, "bt_mle")
    return _solve(P, w, weighted, lam, tol, max_iter, method, x0)


def bt_mle_counts(N, weights=None, lam=0.1, *, tol=1e-10, max_iter=100, method="auto", x0=None) -> FitResult:
    """Bradley-Terry MLE on a win-count matrix (contract §2, "Sampled data, exact estimators").

    Solves::

        r_hat = argmin_r  - sum_{i != j} w_i w_j N_ij log sigma(r_i - r_j) + (lam / 2) sum_i w_i r_i**2

    with ``w = 1`` when ``weights is None``. Unweighted with ``lam = 1`` this is choix's
    ``opt_pairwise(..., alpha=0.5)`` (choix penalises ``alpha * ||r||^2``).

    Parameters
    ----------
    N : (m, m) ndarray or scipy.sparse matrix/array
        ``N[i, j]`` = number of comparisons ``i`` won against ``j`` (ties add 1/2 to both sides,
        contract §4). Nonnegative, finite, zero diagonal. A sparse ``N`` is solved by the sparse back
        end in O(nnz) per evaluation; a dense one by the dense back end.
    weights : (m,) array_like or None
        As in :func:`bt_mle`.
    lam : float
        ``lam >= 0``. ``lam = 0`` is allowed only when the comparison graph (edge ``i -> j``
        when ``N[i, j] > 0``) restricted to the positive-weight alternatives is strongly
        connected, else the MLE does not exist (``ValueError``). With ``lam = 0`` the solution
        is unique up to a constant, fixed by ``sum_i w_i r_i = 0``; every zero-weight alternative
        then needs at least one win and one loss against positive-weight alternatives.
    tol, max_iter, method, x0
        As in :func:`bt_mle`, with ``u_i = sum_j w_j N_ij`` in the scale ``s``. A sparse ``N``
        switches from Newton-CG to Cholesky only for ``m <= 3000``; a sparse ``N`` filled to at
        least a quarter (``nnz >= m^2 / 4``) with ``m <= 5000`` is solved by the dense back end.

    Returns
    -------
    FitResult
        As in :func:`bt_mle`. Zero-weight alternatives get the root of the identity
        ``sum_j w_j (S_ij sigma(r_i - r_j) - N_ij) + lam r_i = 0`` (the ``w_i -> 0+`` limit).

    Examples
    --------
    >>> fit = bt_mle_counts(np.array([[0.0, 3.0], [1.0, 0.0]]), lam=0.0)
    >>> np.allclose(fit.rewards, [np.log(3) / 2, -np.log(3) / 2])
    True
    """
    is_sparse = _sp.issparse(N)
    if is_sparse:
        N = _sp.csr_array(N, dtype=float, copy=True)
        if N.ndim != 2 or N.shape[0] != N.shape[1]:
            raise ValueError(f"bt_mle_counts: N must be a square matrix, got shape {N.shape}")
        N.sum_duplicates()
        data = N.data
    else:
        N = _as_square_matrix(N, "N")
        data = N
    if np.any(~np.isfinite(data)):
        raise ValueError(f"bt_mle_counts: N has a non-finite entry ({data[~np.isfinite(data)].flat[0]})")
    if np.any(data < 0):
        raise ValueError(f"bt_mle_counts: N must be nonnegative; found {data[data < 0].flat[0]}")
    diag = N.diagonal()
    if np.any(diag != 0):
        i = int(np.flatnonzero(diag)[0])
        raise ValueError(f"bt_mle_counts: N must have a zero diagonal (no self-comparisons); N[{i}, {i}] = {diag[i]}")
    lam = _check_lam(lam, allow_zero=True, name="bt_mle_counts")
    m = N.shape[0]
    w, weighted = _check_weights(weights, m, "bt_mle_counts")
    _check_solver_args(tol, max_iter, method, "bt_mle_counts")
    x0 = _check_x0(x0, m, "bt_mle_counts")
    if is_sparse:
        N.eliminate_zeros()
    return _solve(N, w, weighted, lam, tol, max_iter, method, x0)


def bt_mle_comparisons(
    comps, m, weights=None, lam=0.1, *, tol=1e-10, max_iter=100, method="auto", x0=None
) -> FitResult:
    """Bradley-Terry MLE on a comparison dataset (contract §2, "Sampled data, exact estimators").

    Builds the sparse win-count matrix ``N = win_counts(comps, m, sparse=True)`` (a tie adds
    1/2 to both sides) and solves, exactly as :func:`bt_mle_counts`::

        r_hat = argmin_r  - sum_{i != j} w_i w_j N_ij log sigma(r_i - r_j) + (lam / 2) sum_i w_i r_i**2

    Everything stays sparse, so ``n = 10**6`` comparisons over ``m = 10**4`` alternatives cost
    O(n) memory and a few seconds. ``lam = 0`` requires a strongly connected comparison graph
    and then fixes ``sum_i w_i r_i = 0``.

    Parameters
    ----------
    comps : choicelab.sim.Comparisons
    m : int
        Number of alternatives (indices ``0..m-1``).
    weights, lam, tol, max_iter, method, x0
        As in :func:`bt_mle_counts`.

    Examples
    --------
    >>> from choicelab.sim.data import Comparisons
    >>> a = np.array([0, 0, 1, 2]); b = np.array([1, 1, 2, 0])
    >>> comps = Comparisons(a, b, winner=a.copy(), annotator=-np.ones(4, dtype=int))
    >>> np.round(bt_mle_comparisons(comps, 3, lam=0.0).rewards, 7)
    array([ 0.4196176, -0.4196176,  0.       ])
    """
    from choicelab.sim.data import Comparisons, win_counts

    if not isinstance(comps, Comparisons):
        raise TypeError(f"bt_mle_comparisons: comps must be a choicelab.sim.Comparisons, got {type(comps).__name__}")
    if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1:
        raise ValueError(f"bt_mle_comparisons: m must be a positive integer, got {m!r}")
    N = win_counts(comps, int(m), sparse=True)
    return bt_mle_counts(N, weights, lam, tol=tol, max_iter=max_iter, method=method, x0=x0)


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
def _as_square_matrix(X, name):
    if _sp.issparse(X):
        raise TypeError(f"{name} must be a dense array here, got a sparse {type(X).__name__} (use bt_mle_counts)")
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric (m, m) array: {exc}") from None
    if X.ndim != 2 or X.shape[0] != X.shape[1] or X.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square (m, m) matrix, got shape {X.shape}")
    return X


def _check_lam(lam, allow_zero, name):
    return check_lambda(lam, who=name, allow_zero=allow_zero)


def _check_weights(weights, m, name):
    if weights is None:
        return np.ones(m), False
    return check_weights(weights, m, who=name), True


def _check_solver_args(tol, max_iter, method, name):
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (tol > 0) or not math.isfinite(tol):
        raise ValueError(f"{name}: tol must be a positive finite number, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"{name}: max_iter must be a positive integer, got {max_iter!r}")
    if method not in _METHODS:
        raise ValueError(f"{name}: method must be one of {_METHODS}, got {method!r}")


def _check_x0(x0, m, name):
    if x0 is None:
        return None
    x0 = np.asarray(x0, dtype=float)
    if x0.shape != (m,):
        raise ValueError(f"{name}: x0 must have shape ({m},), got {x0.shape}")
    if np.any(~np.isfinite(x0)):
        raise ValueError(f"{name}: x0 must be finite")
    return x0


# --------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------
def _solve(X, w, weighted, lam, tol, max_iter, method, x0):
    m = X.shape[0]
    is_sparse = _sp.issparse(X)
    support = np.flatnonzero(w > 0)
    zero = np.flatnonzero(w == 0)
    if support.size == m:
        Xs, ws = X, w
    else:
        Xs = X[support][:, support] if is_sparse else X[np.ix_(support, support)]
        ws = w[support]
    if lam == 0:
        _require_strongly_connected(Xs, support)

    if is_sparse and support.size <= _DENSE_SWITCH_MAX_M and Xs.nnz >= _DENSE_FILL * support.size**2:
        # most pairs compared: the cache-blocked dense back end beats gathers and scatters
        Xs, is_sparse = Xs.toarray(), False
    if is_sparse:
        model = _SparseModel(Xs, ws, lam)
    else:
        model = _DenseModel(Xs, ws, lam, complementary=_is_complementary(Xs))
    if method == "auto" and support.size <= _CHOLESKY_MAX_M:
        method = "newton"
    switch_limit = _SPARSE_SWITCH_MAX_M if is_sparse else _DENSE_SWITCH_MAX_M
    r0 = np.zeros(support.size) if x0 is None else _recentre(x0[support], ws)
    out = _newton(model, r0, tol, max_iter, method, switch_limit)

    rewards = np.zeros(m)
    rewards[support] = out["r"]
    message = out["message"]
    converged = out["converged"]
    if zero.size:
        rz, ok = _zero_weight_rewards(X, w, support, zero, out["r"], lam)
        rewards[zero] = rz
        if not ok:
            converged = False
            message += "; the P5 identity for some zero-weight alternatives did not converge"
    if not converged:
        warnings.warn(f"Bradley-Terry MLE did not converge: {message}", ConvergenceWarning, stacklevel=3)
    info = {
        "method": out["solver"],
        "switched_to_cholesky_at": out["switched_to_cholesky_at"],
        "backend": "sparse" if is_sparse else "dense",
        "weighted": weighted,
        "cg_iterations": out["cg_iterations"],
        "backtracks": out["backtracks"],
        "tol": tol,
        "scale": model.scale,
        "lam": lam,
        "zero_weight": zero,
    }
    return FitResult(
        rewards=rewards,
        converged=bool(converged),
        iterations=out["iterations"],
        grad_norm=out["grad_norm"],
        objective=out["f"],
        message=message,
        info=info,
    )


def _is_complementary(P):
    """True when ``P_ij + P_ji = 1`` off the diagonal (to 1e-12), checked tile by tile."""
    m = P.shape[0]
    tile = 256  # square tiles keep the transposed reads cache friendly
    for s in range(0, m, tile):
        for t in range(s, m, tile):
            block = P[s : s + tile, t : t + tile] + P[t : t + tile, s : s + tile].T - 1.0
            if s == t:
                np.fill_diagonal(block, 0.0)
            if np.max(np.abs(block)) > 1e-12:
                return False
    return True


def _require_strongly_connected(X, support):
    from scipy.sparse.csgraph import connected_components

    m = X.shape[0]
    if m <= 1:
        return
    # every ordered pair compared (e.g. a full preference matrix): strongly connected, and
    # counting is far cheaper than building the graph
    if _sp.issparse(X):
        off_diagonal = np.count_nonzero(X.data) - np.count_nonzero(X.diagonal())
    else:
        off_diagonal = np.count_nonzero(X) - np.count_nonzero(np.diagonal(X))
    if off_diagonal == m * (m - 1):
        return
    graph = _sp.csr_array(X > 0)
    n_comp, labels = connected_components(graph, directed=True, connection="strong")
    if n_comp > 1:
        sizes = np.bincount(labels)
        small = int(np.argmin(sizes))
        members = support[labels == small][:5].tolist()
        raise ValueError(
            "lam=0 requires a strongly connected comparison graph (edge i -> j when i beat j) on the "
            f"positive-weight alternatives, but it has {n_comp} strongly connected components "
            f"(e.g. alternatives {members} form one); the unregularized MLE does not exist. Use lam > 0."
        )


# --------------------------------------------------------------------------------------------
# damped Newton
# --------------------------------------------------------------------------------------------
def _newton(model, r, tol, max_iter, method, switch_limit):
    """Newton's method with Armijo backtracking and the gradient-norm stopping rule of bt_mle.

    ``method="auto"`` runs Newton-CG and, when one CG solve needs more than ``m / 15``
    iterations (ill-conditioned Hessians, e.g. near-deterministic data with a tiny ``lam``),
    switches to Cholesky provided ``m <= switch_limit``.
    """
    solver = "newton" if method == "newton" else "newton-cg"
    switched_at = None
    f, fmag, g, curv = model.evaluate(r, _WANT[solver])
    gnorm = float(np.linalg.norm(g))
    target = tol * model.scale
    cg_total = backtracks = iters = 0
    message = ""
    converged = gnorm <= target
    while not converged and iters < max_iter:
        if curv.explicit:
            p = curv.solve(-g)
        else:
            rtol = min(0.1, math.sqrt(gnorm / max(model.scale, 1e-300)))
            p, k = _pcg(curv.matvec, -g, curv.diagonal(), rtol, min(2 * r.size + 10, 2000))
            cg_total += k
            if method == "auto" and k > max(50, r.size // 15) and r.size <= switch_limit:
                solver, switched_at = "newton", iters + 1
        slope = float(g @ p)
        if not slope < 0:  # cannot happen for a positive definite Hessian; guard against round-off
            p = -g / curv.diagonal()
            slope = float(g @ p)
        # round-off in f grows with its magnitude; below this level Armijo cannot see decrease
        ftol = 1e3 * _EPS * fmag
        t = 1.0
        for _ in range(_MAX_BACKTRACKS):
            r_new = _recentre(r + t * p, model.w)
            f_new, fmag_new, g_new, curv_new = model.evaluate(r_new, _WANT[solver])
            if f_new <= f + _ARMIJO_C1 * t * slope + ftol:
                break
            t *= 0.5
            backtracks += 1
        else:
            message = f"line search failed after {_MAX_BACKTRACKS} halvings at iteration {iters + 1}"
            break
        iters += 1
        r, f, fmag, g, curv = r_new, f_new, fmag_new, g_new, curv_new
        gnorm = float(np.linalg.norm(g))
        converged = gnorm <= target
    if converged:
        message = f"converged: ||grad|| = {gnorm:.3g} <= tol * scale = {target:.3g}"
    elif not message:
        message = f"reached max_iter={max_iter} with ||grad|| = {gnorm:.3g} > tol * scale = {target:.3g}"
    return {
        "r": r,
        "f": float(f),
        "grad_norm": gnorm,
        "iterations": iters,
        "converged": bool(converged),
        "message": message,
        "cg_iterations": cg_total,
        "backtracks": backtracks,
        "solver": solver,
        "switched_to_cholesky_at": switched_at,
    }


def _recentre(r, w):
    """Shift ``r`` so that ``sum_i w_i r_i = 0``.

    The likelihood is invariant to a common shift and ``(lam/2) sum_i w_i (r_i - c)^2`` is
    minimised at ``c = sum_i w_i r_i / sum_i w_i``, so this is the exact minimiser along the
    constant direction, the one a small ``lam`` makes badly conditioned (P4 / P5 give
    ``sum_i w_i r_i = 0`` at the optimum; with ``lam = 0`` it is the normalisation).
    """
    return r - (w @ r) / w.sum()


def _pcg(matvec, b, diag, rtol, maxiter):
    """Jacobi-preconditioned conjugate gradients for ``H x = b`` (H symmetric positive semidefinite)."""
    x = np.zeros_like(b)
    res = b.copy()
    dinv = 1.0 / diag
    z = dinv * res
    p = z.copy()
    rz = float(res @ z)
    stop = rtol * float(np.linalg.norm(b))
    k = 0
    for k in range(1, maxiter + 1):  # noqa: B007 (k is reported after the loop)
        hp = matvec(p)
        php = float(p @ hp)
        if not php > 0:
            break
        alpha = rz / php
        x += alpha * p
        res -= alpha * hp
        if np.linalg.norm(res) <= stop:
            break
        z = dinv * res
        rz_new = float(res @ z)
        p *= rz_new / rz
        p += z
        rz = rz_new
    if not np.any(x):
        x = z  # the preconditioned gradient is still a descent direction
    return x, k


_WANT = {"newton": "dense", "newton-cg": "operator"}


class _DenseCurvature:
    """Hessian of the dense model, from the upper triangle ``U`` of the curvature matrix.

    ``C = U + U^T`` holds ``S_ij sigma(d_ij) sigma(-d_ij)``; the Hessian is
    ``H v = w * ((C w) * v - C (w * v) + lam v)``. Explicit (Cholesky) or as an O(m^2) operator.
    """

    def __init__(self, U, w, lam, cdiag, explicit):
        self.w, self.lam, self.explicit = w, lam, explicit
        if explicit:
            C = U + U.T
            Cw = C @ w
            diag = w * (Cw - w * cdiag) + lam * w
            H = C
            H *= -w[:, None]
            H *= w[None, :]
            H[np.diag_indices_from(H)] = diag
            if lam == 0:
                # singular along the constant vector; the gradient is orthogonal to it, so adding
                # a multiple of 11^T selects the step with sum(p) = 0 without changing H p
                H += diag.mean() / H.shape[0]
            self.H, self.diag = H, diag
        else:
            self.U = U
            self.w32 = w.astype(U.dtype)
            self.Cw = self._C_times(self.w32)
            self.diag = w * (self.Cw - w * cdiag) + lam * w

    def _C_times(self, z):
        # (U + U^T) z over the upper triangle only, in row blocks that stay in cache between the
        # two products; einsum keeps it single-threaded, which is predictable on a busy machine
        # where multi-threaded BLAS gemv can stall
        U, m = self.U, self.U.shape[0]
        y = np.zeros(m, dtype=U.dtype)
        for s in range(0, m, _MATVEC_ROWS):
            e = min(s + _MATVEC_ROWS, m)
            block = U[s:e, s:]
            y[s:e] += np.einsum("ij,j->i", block, z[s:])
            y[s:] += np.einsum("ij,i->j", block, z[s:e])
        return y.astype(float)

    def diagonal(self):
        return self.diag

    def matvec(self, v):
        w = self.w
        Cv = self._C_times(self.w32 * v.astype(self.U.dtype))
        return w * (self.Cw * v - Cv + self.lam * v)

    def solve(self, b):
        return _cholesky_solve(self.H, b)


def _cholesky_solve(H, b):
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    try:
        return cho_solve(cho_factor(H, lower=True, check_finite=False), b, check_finite=False)
    except LinAlgError:
        # positive definite in exact arithmetic; round-off at extreme rewards can break it
        return np.linalg.lstsq(H, b, rcond=None)[0]


class _DenseModel:
    """Objective, gradient and curvature for a dense data matrix, evaluated in cached row blocks.

    With ``complementary`` (``X_ij + X_ji = 1`` off the diagonal) ``S`` is the all-ones matrix
    and is never stored; otherwise ``S = X + X^T`` with a zero diagonal.
    """

    def __init__(self, X, w, lam, complementary):
        m = X.shape[0]
        self.m, self.w, self.lam = m, w, lam
        Xw, XTw = X @ w, X.T @ w
        dX = np.diagonal(X)
        self.a = 0.5 * (Xw - XTw)  # the diagonal cancels
        u = Xw - dX * w
        self.scale = float(np.linalg.norm(w * u) + lam * np.linalg.norm(w))
        if complementary:
            self.S = None
            self.cdiag = 0.25  # sigma(0) sigma(0) on the (implicit, unit) diagonal of S
            self.fdiag = 0.5 * math.log(2.0) * float(w @ w)  # l(0) = log 2 terms with i = j
        else:
            S = X + X.T
            np.fill_diagonal(S, 0.0)
            self.S, self.cdiag, self.fdiag = S, 0.0, 0.0
        self.bs = max(1, min(m, _BLOCK_ENTRIES // m))
        self._buf = np.empty((5, self.bs, m))
        self._U = None
        self._tril = {}

    def evaluate(self, r, want):
        """Objective, gradient and curvature, visiting each unordered pair once.

        Row block ``I = [s, e)`` is paired with columns ``[s, m)``: the square ``I x I`` holds
        both orders of its pairs, the rectangle ``I x [e, m)`` one order, mirrored with the
        symmetry of ``l`` and ``sigma sigma`` and the antisymmetry of ``tanh``.
        """
        m, w, bs, S = self.m, self.w, self.bs, self.S
        if want == "dense":
            U = np.zeros((m, m))
        else:
            # float32 curvature halves the memory traffic of each Hessian-vector product; the
            # Newton direction only needs a few digits, the gradient stays in float64
            if self._U is None:
                self._U = np.zeros((m, m), dtype=np.float32)  # the strict lower triangle stays 0
            U = self._U
        even = 0.0
        hw = np.zeros(m)
        for s in range(0, m, bs):
            e = min(s + bs, m)
            k = e - s
            d, ab, t, q, x = (buf[:k, : m - s] for buf in self._buf)
            wI, wJ, wR = w[s:e], w[s:], w[e:]
            np.subtract(r[s:e, None], r[None, s:], out=d)
            np.abs(d, out=ab)
            np.negative(ab, out=t)
            np.exp(t, out=t)  # t = exp(-|d|) <= 1: no overflow
            np.log1p(t, out=x)
            ab *= 0.5
            x += ab  # x = l(d) = |d|/2 + log1p(exp(-|d|))
            if S is not None:
                Sb = S[s:e, s:]
                x *= Sb
            # einsum, not BLAS: on these thin blocks BLAS threading costs more than the product;
            # the rectangle's pairs count twice (both orders), the square's once per order
            even += float(wI @ (np.einsum("ij,j->i", x, wJ) + np.einsum("ij,j->i", x[:, k:], wR)))
            np.add(t, 1.0, out=q)
            np.reciprocal(q, out=q)  # q = sigma(|d|)
            np.multiply(q, 2.0, out=x)
            x -= 1.0
            np.copysign(x, d, out=x)  # x = tanh(d/2) = sign(d) (2 sigma(|d|) - 1)
            if S is not None:
                x *= Sb
            hw[s:e] += np.einsum("ij,j->i", x, wJ)
            hw[e:] -= np.einsum("ij,i->j", x[:, k:], wI)
            t *= q
            t *= q  # t = sigma(d) sigma(-d) = exp(-|d|) sigma(|d|)^2
            if S is not None:
                t *= Sb
            square = t[:, :k]
            square[self._strict_lower(k)] = 0.0
            square[np.arange(k), np.arange(k)] *= 0.5  # so that U + U^T has the true diagonal
            U[s:e, s:] = t
        even = 0.5 * even - self.fdiag
        lin = float((w * r) @ self.a)
        reg = 0.5 * self.lam * float(w @ (r * r))
        f = even - lin + reg
        g = w * (0.5 * hw - self.a + self.lam * r)
        curv = _DenseCurvature(U, w, self.lam, self.cdiag, explicit=(want == "dense"))
        return f, even + abs(lin) + reg, g, curv

    def _strict_lower(self, k):
        if k not in self._tril:
            self._tril[k] = np.tril_indices(k, -1)
        return self._tril[k]


class _SparseCurvature:
    """Hessian of the sparse model: a weighted graph Laplacian plus ``lam diag(w)``.

    The edge weights live in an upper-triangular CSR matrix ``U`` (pairs i < j), so that
    ``H v = diag(H) v - U v - U^T v`` costs O(number of compared pairs).
    """

    def __init__(self, model, e, explicit):
        self.model, self.explicit, self.e = model, explicit, e
        m = model.m
        self.U = _sp.csr_array((e, model.J, model.indptr), shape=(m, m))
        self.diag = np.bincount(model.I, e, minlength=m) + np.bincount(model.J, e, minlength=m) + model.lam * model.w

    def diagonal(self):
        return self.diag

    def matvec(self, v):
        return self.diag * v - self.U @ v - self.U.T @ v

    def solve(self, b):
        model = self.model
        m = model.m
        H = np.zeros((m, m))
        H[model.I, model.J] = -self.e
        H[model.J, model.I] = -self.e
        H[np.diag_indices(m)] = self.diag
        if model.lam == 0:
            H += self.diag.mean() / m  # see _DenseCurvature
        return _cholesky_solve(H, b)


class _SparseModel:
    """Objective, gradient and curvature over the compared pairs of a sparse count matrix."""

    def __init__(self, N, w, lam):
        m = N.shape[0]
        self.m, self.w, self.lam = m, w, lam
        N = _sp.csr_array(N)
        NT = N.T.tocsr()
        Nw, NTw = N @ w, NT @ w
        self.a = 0.5 * (Nw - NTw)
        self.scale = float(np.linalg.norm(w * Nw) + lam * np.linalg.norm(w))
        upper = _sp.csr_array(_sp.triu(N + NT, k=1, format="csr"))
        upper.sum_duplicates()  # canonical: sorted, unique column indices per row
        self.indptr = upper.indptr.astype(np.int64)
        self.J = upper.indices.astype(np.int64)
        self.I = np.repeat(np.arange(m, dtype=np.int64), np.diff(self.indptr))
        self.wS = w[self.I] * w[self.J] * upper.data

    def evaluate(self, r, want):
        w, lam, m = self.w, self.lam, self.m
        d = r[self.I]
        d -= r[self.J]
        ab = np.abs(d)
        t = np.negative(ab)
        np.exp(t, out=t)  # exp(-|d|) <= 1
        x = np.log1p(t)
        ab *= 0.5
        x += ab  # l(d) = |d|/2 + log1p(exp(-|d|))
        even = float(self.wS @ x)
        q = np.add(t, 1.0)
        np.reciprocal(q, out=q)  # sigma(|d|)
        np.multiply(q, 2.0, out=x)
        x -= 1.0
        np.copysign(x, d, out=x)  # tanh(d/2)
        x *= self.wS
        x *= 0.5
        g = np.bincount(self.I, x, minlength=m).astype(float)  # int64 when there are no pairs
        g -= np.bincount(self.J, x, minlength=m)
        g += w * (lam * r - self.a)
        lin = float((w * r) @ self.a)
        reg = 0.5 * lam * float(w @ (r * r))
        f = even - lin + reg
        t *= q
        t *= q
        t *= self.wS  # edge weights w_i w_j S_ij sigma(d) sigma(-d)
        curv = _SparseCurvature(self, t, explicit=(want == "dense"))
        return f, even + abs(lin) + reg, g, curv


# --------------------------------------------------------------------------------------------
# zero-weight alternatives: the P5 identity, one monotone equation each
# --------------------------------------------------------------------------------------------
def _zero_weight_rewards(X, w, support, zero, r_support, lam, max_iter=200):
    """Root of ``phi_i(x) = sum_j w_j (S_ij sigma(x - r_j) - X_ij) + lam x`` for each zero-weight i.

    ``j`` runs over the positive-weight alternatives. ``phi_i`` is strictly increasing, so a
    bracketed (safeguarded) Newton iteration finds the unique root.
    """
    from scipy.special import expit

    ws = w[support]
    if _sp.issparse(X):
        X = _sp.csr_array(X)
        A = X[zero][:, support]
        B = X[support][:, zero].T
        S = _sp.csr_array(A + B).tocoo()
        rows, cols, sv = S.row, S.col, S.data * ws[S.col]
        u = A @ ws
    else:
        A = X[np.ix_(zero, support)]
        S = A + X[np.ix_(support, zero)].T
        rows, cols = np.nonzero(S)
        sv = S[rows, cols] * ws[cols]
        u = A @ ws
    k = zero.size
    T = np.bincount(rows, sv, minlength=k)
    if lam == 0:
        bad = np.flatnonzero((u <= 0) | (u >= T))
        if bad.size:
            i = int(zero[bad[0]])
            raise ValueError(
                f"lam=0: alternative {i} has zero weight and no {'win' if u[bad[0]] <= 0 else 'loss'} against "
                "positive-weight alternatives, so its reward (the P5 identity / w_i -> 0 limit) is infinite. "
                "Use lam > 0."
            )
    with np.errstate(divide="ignore", invalid="ignore"):
        logit = np.log(u) - np.log(T - u)
    lo0 = r_support.min() + logit if r_support.size else np.zeros(k)
    hi0 = r_support.max() + logit if r_support.size else np.zeros(k)
    if lam > 0:
        lo = np.maximum((u - T) / lam, np.where(np.isfinite(lo0), np.minimum(lo0, 0.0), -np.inf))
        hi = np.minimum(u / lam, np.where(np.isfinite(hi0), np.maximum(hi0, 0.0), np.inf))
    else:
        lo, hi = lo0, hi0
    x = 0.5 * (lo + hi)
    tol_i = 1e-13 * (T + u + 1.0)
    done = np.zeros(k, dtype=bool)
    for _ in range(max_iter):
        z = x[rows] - r_support[cols]
        sig = expit(z)
        phi = np.bincount(rows, sv * sig, minlength=k) - u + lam * x
        dphi = np.bincount(rows, sv * sig * (1.0 - sig), minlength=k) + lam
        done = (np.abs(phi) <= tol_i) | (hi - lo <= 4 * _EPS * np.maximum(1.0, np.abs(x)))
        if done.all():
            break
        lo = np.where(phi < 0, x, lo)
        hi = np.where(phi > 0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = x - phi / dphi
        outside = ~((xn > lo) & (xn < hi)) | ~np.isfinite(xn)
        xn = np.where(outside, 0.5 * (lo + hi), xn)
        x = np.where(done, x, xn)
    return x, bool(done.all())
