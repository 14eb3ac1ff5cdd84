"""cvxpy formulations that verify the fast solvers (contract §2).

Slow, general and independent of the Newton code in ``bt.py``: each function states its
objective directly in cvxpy's disciplined convex form and hands it to an interior-point
solver (Clarabel by default, run with tight tolerances). cvxpy is imported inside the
functions, so importing this module costs nothing.
"""

from __future__ import annotations

import warnings

import numpy as np

from choicelab.estimators.results import FitResult

__all__ = ["bt_mle_cvxpy"]

# Clarabel's default tolerances (1e-8) leave the rewards accurate to about 1e-5 only. At 1e-12
# with a shorter maximal step (0.9) it reaches about 1e-9; when a setting stalls
# ("optimal_inaccurate") the next, looser one is tried.
_CLARABEL_ATTEMPTS = (
    {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12, "max_step_fraction": 0.9},
    {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11, "max_step_fraction": 0.9},
    {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11},
    {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11, "static_regularization_constant": 1e-12},
)


def bt_mle_cvxpy(P_or_N, weights=None, lam=0.1, *, solver="CLARABEL", **solver_opts) -> FitResult:
    """Reference Bradley-Terry MLE, contract Eq. 1 / Eq. 2 (and their count-data form), via cvxpy.

    Minimises::

        - sum_{i != j} w_i w_j X_ij log sigma(r_i - r_j) + (lam / 2) sum_i w_i r_i**2

    written with ``-log sigma(d) = log(1 + exp(-d)) = cp.logistic(-d)`` (cvxpy's stable form),
    with ``w = 1`` when ``weights is None``. ``X`` is a preference matrix ``P`` or a win-count
    matrix ``N`` (dense or scipy.sparse); its diagonal is ignored. ``lam = 0`` adds the
    constraint ``sum_i w_i r_i = 0`` (the contract normalisation; existence needs a strongly
    connected comparison graph, which this reference does not check). The objective is
    divided by the mean positive coefficient ``w_i w_j X_ij`` so that the solver sees terms of
    order one; that leaves the minimiser unchanged.

    Parameters
    ----------
    P_or_N : (m, m) array_like or scipy.sparse matrix
        Nonnegative data matrix.
    weights : (m,) array_like or None
        Nonnegative; Eq. 2 expects them to sum to 1 (not enforced here, the fast solvers do).
    lam : float
        ``lam >= 0``.
    solver : str
        A cvxpy solver name that handles exponential cones (default ``"CLARABEL"``).
    **solver_opts
        Passed to ``problem.solve``. Without them Clarabel runs at tolerances of 1e-12 and,
        should it stall, retries with looser tolerances and other step settings.

    Returns
    -------
    FitResult
        ``rewards`` (``nan`` for zero-weight alternatives, which the objective leaves free;
        ``nan`` everywhere if every attempt failed), ``converged`` (solver status ``"optimal"``),
        ``iterations`` (solver iterations when
        reported, else -1), ``grad_norm`` (``nan``, not computed), ``objective`` (the undivided
        objective at ``rewards``), ``message`` (the status), ``info`` (solver name, solve time).

    Examples
    --------
    >>> fit = bt_mle_cvxpy(np.array([[0.0, 3.0], [1.0, 0.0]]), lam=0.0)
    >>> np.allclose(fit.rewards, [np.log(3) / 2, -np.log(3) / 2], atol=1e-6)
    True
    """
    import cvxpy as cp
    from scipy import sparse

    X = sparse.coo_array(P_or_N) if sparse.issparse(P_or_N) else sparse.coo_array(np.asarray(P_or_N, dtype=float))
    m = X.shape[0]
    if X.ndim != 2 or X.shape != (m, m):
        raise ValueError(f"bt_mle_cvxpy: P_or_N must be square, got shape {X.shape}")
    if np.any(X.data < 0) or not np.all(np.isfinite(X.data)):
        raise ValueError("bt_mle_cvxpy: P_or_N must be finite and nonnegative")
    lam = float(lam)
    if not lam >= 0:
        raise ValueError(f"bt_mle_cvxpy: need lam >= 0, got {lam!r}")
    w = np.ones(m) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (m,) or np.any(w < 0):
        raise ValueError(f"bt_mle_cvxpy: weights must be a nonnegative ({m},) array")

    support = np.flatnonzero(w > 0)
    pos = -np.ones(m, dtype=np.int64)
    pos[support] = np.arange(support.size)
    i, j, x = X.row, X.col, X.data
    keep = (i != j) & (x > 0) & (w[i] > 0) & (w[j] > 0)
    i, j = pos[i[keep]], pos[j[keep]]
    coef = w[support][i] * w[support][j] * x[keep]
    ws = w[support]
    scale = float(coef.mean()) if coef.size else 1.0

    r = cp.Variable(support.size)
    loss = coef @ cp.logistic(r[j] - r[i]) if coef.size else 0
    objective = (loss + (lam / 2) * cp.sum(cp.multiply(ws, cp.square(r)))) / scale
    constraints = [ws @ r == 0] if lam == 0 else []
    problem = cp.Problem(cp.Minimize(objective), constraints)
    if solver.upper() == "CLARABEL" and not solver_opts:
        attempts = [dict(opts, max_iter=500) for opts in _CLARABEL_ATTEMPTS]
    else:
        attempts = [dict(solver_opts)]
    for opts in attempts:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                problem.solve(solver=solver, **opts)
        except cp.error.SolverError:
            continue
        if problem.status == cp.OPTIMAL:
            break

    rewards = np.full(m, np.nan)
    if r.value is not None:
        rewards[support] = r.value
    status = str(problem.status) if problem.status is not None else "solver error"
    if problem.status != cp.OPTIMAL:
        from choicelab.estimators.bt import ConvergenceWarning

        warnings.warn(f"bt_mle_cvxpy: {solver} ended with status {status!r}", ConvergenceWarning, stacklevel=2)
    stats = problem.solver_stats
    iters = getattr(stats, "num_iters", None)
    return FitResult(
        rewards=rewards,
        converged=problem.status == cp.OPTIMAL,
        iterations=int(iters) if iters is not None else -1,
        grad_norm=float("nan"),
        objective=float(problem.value) * scale if problem.value is not None else float("nan"),
        message=status,
        info={"solver": solver, "solve_time": getattr(stats, "solve_time", None)},
    )


# --------------------------------------------------------------------------- Plackett-Luce and linear
__all__ += ["pl_mle_cvxpy", "linear_mle_cvxpy"]


def _solve_tight(problem, variable, name: str) -> str:
    import cvxpy as cp

    # Objective-gap tolerances bound the minimiser's error only by sqrt(gap / curvature), and
    # at cvxpy's default 1e-8 the rewards are often off by 1e-6..1e-5. So aim at 1e-12. Clarabel
    # sometimes stalls there on these exponential-cone problems ("almost solved", cvxpy:
    # optimal_inaccurate, or a numerical failure); SCS at the same target is then tried, and an
    # almost-solved Clarabel point (its reduced tolerances certify a 1e-9 gap) is the last resort.
    attempts = [
        (
            "CLARABEL",
            dict(
                max_iter=500,
                tol_gap_abs=1e-12,
                tol_gap_rel=1e-12,
                tol_feas=1e-12,
                reduced_tol_gap_abs=1e-9,
                reduced_tol_gap_rel=1e-9,
                reduced_tol_feas=1e-9,
            ),
        ),
        ("SCS", dict(eps_abs=1e-12, eps_rel=1e-12, max_iters=200_000)),
        (
            "CLARABEL",
            dict(
                max_iter=500,
                tol_gap_abs=1e-10,
                tol_gap_rel=1e-10,
                tol_feas=1e-10,
                reduced_tol_gap_abs=1e-9,
                reduced_tol_gap_rel=1e-9,
                reduced_tol_feas=1e-9,
            ),
        ),
    ]
    fallback = None
    for solver, opts in attempts:
        try:
            problem.solve(solver=solver, **opts)
        except cp.error.SolverError:
            continue
        tol = opts.get("tol_gap_abs", opts.get("eps_abs"))
        if problem.status == cp.OPTIMAL:
            return f"optimal ({solver}, tolerance {tol:g})"
        if problem.status == cp.OPTIMAL_INACCURATE and solver == "CLARABEL" and fallback is None:
            fallback = (variable.value.copy(), tol)
    if fallback is None:
        raise RuntimeError(f"{name}: no cvxpy solver reached optimality (last status {problem.status!r})")
    # restore the first almost-solved point (later attempts may have overwritten it)
    values, tol = fallback
    variable.value = values
    return f"optimal_inaccurate (CLARABEL, tolerance {tol:g}, gap certified to 1e-9)"


def _reference_weights(weights, m: int, name: str) -> np.ndarray:
    if weights is None:
        return np.ones(m)
    w = np.asarray(weights, dtype=float)
    if w.shape != (m,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{name}: weights must be a finite nonnegative ({m},) array, got {weights!r}")
    return w


def _reference_fit(values, objective, status, **info) -> FitResult:
    return FitResult(
        rewards=np.asarray(values, dtype=float),
        converged=True,
        iterations=-1,
        grad_norm=float("nan"),
        objective=float(objective),
        message=status,
        info=info,
    )


def pl_mle_cvxpy(rankings, m, weights=None, lam=0.1) -> FitResult:
    """Reference Plackett-Luce MLE via cvxpy (``cp.log_sum_exp``), contract §2 "Plackett-Luce".

    Transcribes the objective of :func:`choicelab.estimators.plackett_luce.pl_mle` stage by
    stage::

        - sum_n c_n sum_k omega_nk [ r(pi_nk) - log sum_{l in S_nk} exp(r_l) ]
        + (lam / 2) sum_i w_i r_i**2,   omega_nk = w(pi_nk) mean_{l in S_nk, l != pi_nk} w_l

    (``w = 1`` when ``weights`` is None; unlisted items join every ``S_nk`` when
    ``rankings.unlisted_last``; stages with one item left are dropped), subject to
    ``sum_i w_i r_i = 0``. The optimum satisfies that constraint anyway for ``lam > 0`` (sum
    the optimality conditions; the likelihood is shift invariant), and imposing it removes the
    flat direction along which the conic solver is least accurate; for ``lam = 0`` it fixes
    the shift. Returns a FitResult (``converged`` once the solver certifies optimality, else
    ``RuntimeError``).
    """
    import cvxpy as cp

    m = int(m)
    w = _reference_weights(weights, m, "pl_mle_cvxpy")
    r = cp.Variable(m)
    terms, total = [], 0.0
    for order, count in zip(rankings.orders, np.asarray(rankings.counts, dtype=float)):
        if any(len(group) != 1 for group in order):
            raise ValueError(f"pl_mle_cvxpy: tied group in ranking {order}; strict rankings only")
        items = [int(group[0]) for group in order]
        rest = [i for i in range(m) if i not in items] if rankings.unlisted_last else []
        for k, item in enumerate(items):
            offered = items[k:] + rest
            if len(offered) < 2:
                continue
            omega = w[item] * np.mean([w[l] for l in offered if l != item])
            terms.append(count * omega * (r[item] - cp.log_sum_exp(r[offered])))
            total += count * omega
    loglik = cp.sum(cp.hstack(terms)) if terms else 0
    objective = -loglik + 0.5 * float(lam) * cp.sum(cp.multiply(w, cp.square(r)))
    # dividing by a positive constant keeps the minimiser; O(1) coefficients let Clarabel reach
    # its tight tolerances (unscaled, it often stalls about 1e-5 away from the optimum)
    scale = total + float(lam) * w.sum() or 1.0
    problem = cp.Problem(cp.Minimize(objective / scale), [w @ r == 0])
    status = _solve_tight(problem, r, "pl_mle_cvxpy")
    return _reference_fit(r.value, objective.value, status)


def linear_mle_cvxpy(X, comps_or_P, weights=None, lam=0.1) -> FitResult:
    """Reference linear-reward MLE via cvxpy (``cp.logistic``), contract §2 "Linear reward".

    For comparisons: ``sum_k omega_k log(1 + exp(-theta.(x_win - x_lose))) + (lam/2)||theta||^2``
    with ``omega_k = w(a_k) w(b_k)``, a tie entering once in each direction with weight
    ``omega_k / 2``. For a matrix ``P`` (m, m): ``sum_{i != j} w_i w_j P_ij log(1 + exp(-theta.
    (x_i - x_j))) + (lam/2)||theta||^2``. ``w = 1`` when ``weights`` is None. Returns a
    FitResult with ``rewards = X theta`` and ``info["theta"]``.
    """
    import cvxpy as cp

    from choicelab.sim.data import Comparisons

    X = np.asarray(X, dtype=float)
    m, d = X.shape
    w = _reference_weights(weights, m, "linear_mle_cvxpy")
    diffs, coefs = [], []
    if isinstance(comps_or_P, Comparisons):
        for a, b, win in zip(comps_or_P.a, comps_or_P.b, comps_or_P.winner):
            omega = w[a] * w[b]
            if win == -1:
                diffs += [X[a] - X[b], X[b] - X[a]]
                coefs += [omega / 2, omega / 2]
            else:
                lose = b if win == a else a
                diffs.append(X[win] - X[lose])
                coefs.append(omega)
    else:
        P = np.asarray(comps_or_P, dtype=float)
        for i in range(m):
            for j in range(m):
                if i != j:
                    diffs.append(X[i] - X[j])
                    coefs.append(w[i] * w[j] * P[i, j])
    theta = cp.Variable(d)
    D = np.array(diffs, dtype=float).reshape(-1, d)
    coefs = np.array(coefs, dtype=float)
    objective = coefs @ cp.logistic(-(D @ theta)) + 0.5 * float(lam) * cp.sum_squares(theta)
    scale = float(coefs.sum() + lam) or 1.0  # positive rescaling for the solver, as in pl_mle_cvxpy
    problem = cp.Problem(cp.Minimize(objective / scale))
    status = _solve_tight(problem, theta, "linear_mle_cvxpy")
    return _reference_fit(X @ theta.value, objective.value, status, theta=np.asarray(theta.value, dtype=float))
