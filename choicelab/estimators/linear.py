"""Linear-reward Bradley-Terry MLE, ``r(x) = theta . x`` (contract §2, "Linear reward"; the setting of [GE]).

The loss is the (weighted) Bradley-Terry loss of contract Eq. 1 / Eq. 2 with ``r_i = theta . x_i``.
Comparison data are first collapsed into the win-count matrix ``N`` (ties 1/2 to each side,
contract §4), so both data forms reduce to ``sum_{i != j} w_i w_j Y_ij softplus(-theta.(x_i - x_j))``
over the nonzero entries of ``Y`` (``Y = N`` or ``Y = P``). Gradient and Hessian go through the
alternatives: with ``s = X theta`` and a weighted graph Laplacian ``L`` on the compared pairs,
``H = X^T L X + lam I``, so memory is O(nnz + m d + d^2), never O(n d).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_array
from scipy.special import expit

from choicelab._validation import check_lambda, check_weights
from choicelab.estimators.results import _order_from_scores


@dataclass(frozen=True)
class LinearFit:
    """Outcome of :func:`linear_mle`.

    Attributes
    ----------
    theta : (d,) ndarray
        The fitted parameter; the reward function is ``r(x) = theta . x``.
    rewards : (m,) ndarray
        ``X @ theta`` on the training alternatives.
    converged : bool
        True when the gradient norm fell below the tolerance.
    iterations : int
        Newton steps taken.
    grad_norm : float
        Euclidean norm of the gradient at ``theta``.
    objective : float
        Objective value at ``theta``.
    message : str
        Why the solver stopped.
    info : dict
        Solver extras (``n_pairs``, ``line_search_halvings``, ``gtol``).
    """

    theta: np.ndarray
    rewards: np.ndarray
    converged: bool
    iterations: int
    grad_norm: float
    objective: float = float("nan")
    message: str = ""
    info: dict = field(default_factory=dict)

    def predict(self, X) -> np.ndarray:
        """Rewards ``X @ theta`` of new alternatives ``X`` (k, d)."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.theta.shape[0]:
            raise ValueError(f"X must have shape (k, {self.theta.shape[0]}), got {X.shape}")
        return X @ self.theta

    def order(self, tol: float = 1e-9) -> np.ndarray:
        """Training alternatives best first; ties (within ``tol``) keep index order."""
        return _order_from_scores(self.rewards, tol)


# --------------------------------------------------------------------------- validation
def _check_X(X) -> np.ndarray:
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"X must be a numeric (m, d) array, got {type(X).__name__}") from exc
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must be a non-empty (m, d) array, got shape {X.shape}")
    bad = np.argwhere(~np.isfinite(X))
    if bad.size:
        i, k = bad[0]
        raise ValueError(f"X[{i}, {k}] = {X[i, k]} is not finite")
    return X


def _check_weights(weights, m: int) -> np.ndarray:
    return np.ones(m) if weights is None else check_weights(weights, m)


def _pair_data(comps, m: int):
    """Nonzero off-diagonal entries (i, j, Y_ij) of the win-count or preference matrix."""
    from choicelab.sim.data import Comparisons, win_counts

    if isinstance(comps, Comparisons):
        if len(comps) and max(int(comps.a.max()), int(comps.b.max())) >= m:
            top = max(int(comps.a.max()), int(comps.b.max()))
            raise ValueError(f"comps mention alternative {top}, but X has only m={m} rows")
        Y = win_counts(comps, m, sparse=True).tocoo()
        i, j, y = Y.row, Y.col, Y.data
    else:
        try:
            Y = np.asarray(comps, dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"comps must be a choicelab.sim.Comparisons or an (m, m) matrix, got {type(comps).__name__}"
            ) from exc
        if Y.shape != (m, m):
            raise ValueError(f"the matrix comps must have shape ({m}, {m}) to match X, got {Y.shape}")
        bad = np.argwhere(~np.isfinite(Y) | (Y < 0))
        if bad.size:
            a, b = bad[0]
            raise ValueError(f"comps[{a}, {b}] = {Y[a, b]}; the matrix must be finite and non-negative")
        i, j = np.nonzero(Y)
        y = Y[i, j]
    off = i != j
    return i[off].astype(np.int64), j[off].astype(np.int64), y[off].astype(float)


def _separable(X, i, j) -> bool:
    """Is there a direction theta != 0 that never loses a comparison (theta.(x_i - x_j) >= 0)?

    Then the unregularised loss keeps decreasing along theta and the MLE does not exist
    (Albert and Anderson 1984). Linear program: maximise sum_t theta.(x_i - x_j) over the box
    |theta_k| <= 1 subject to theta.(x_i - x_j) >= 0; or theta in the null space of the
    differences (the loss is flat along it and theta is not unique).
    """
    from scipy.optimize import linprog

    D = X[i] - X[j]
    if D.shape[0] == 0 or np.linalg.matrix_rank(D) < X.shape[1]:
        return True
    res = linprog(-D.sum(axis=0), A_ub=-D, b_ub=np.zeros(D.shape[0]), bounds=[(-1, 1)] * X.shape[1], method="highs")
    scale = np.abs(D).sum(axis=1).max()
    return res.status == 0 and -res.fun > 1e-9 * scale


# --------------------------------------------------------------------------- objective and Newton
class _Objective:
    def __init__(self, X, i, j, c, lam):
        self.X, self.i, self.j, self.c, self.lam = X, i, j, c, lam
        self.m, self.d = X.shape

    def value(self, theta):
        s = self.X @ theta
        z = s[self.i] - s[self.j]
        return float(self.c @ np.logaddexp(0.0, -z) + 0.5 * self.lam * theta @ theta)

    def value_grad_hess(self, theta):
        s = self.X @ theta
        z = s[self.i] - s[self.j]
        f = float(self.c @ np.logaddexp(0.0, -z) + 0.5 * self.lam * theta @ theta)
        lose = self.c * expit(-z)  # -d/dz of c softplus(-z)
        a = np.bincount(self.j, lose, self.m) - np.bincount(self.i, lose, self.m)  # dF/ds
        g = self.X.T @ a + self.lam * theta
        h = self.c * expit(z) * expit(-z)
        # weighted Laplacian of the compared pairs: d^2F/ds^2
        rows = np.concatenate([self.i, self.j, self.i, self.j])
        cols = np.concatenate([self.i, self.j, self.j, self.i])
        vals = np.concatenate([h, h, -h, -h])
        L = coo_array((vals, (rows, cols)), shape=(self.m, self.m)).tocsr()
        H = self.X.T @ (L @ self.X)
        H[np.diag_indices(self.d)] += self.lam
        return f, g, H


def _newton(obj: _Objective, theta0, gtol: float, max_iter: int):
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    theta = theta0.copy()
    halvings, it = 0, 0
    message = f"maximum number of iterations ({max_iter}) reached"
    f, g, H = obj.value_grad_hess(theta)
    while True:
        if float(np.linalg.norm(g)) <= gtol:
            message = "gradient norm below tolerance"
            break
        if it >= max_iter:
            break
        try:
            d = cho_solve(cho_factor(H), -g)
        except LinAlgError:
            d = np.linalg.lstsq(H, -g, rcond=None)[0]
        slope = float(g @ d)
        if not slope < 0:
            message = f"Newton direction is not a descent direction (g.d = {slope})"
            break
        t = 1.0
        # when the predicted decrease is at the rounding level of F, Armijo cannot see progress;
        # the full Newton step is then safe
        near_optimum = -slope <= 1e-10 * max(1.0, abs(f))
        while not near_optimum:
            if obj.value(theta + t * d) <= f + 1e-4 * t * slope:
                break
            t *= 0.5
            halvings += 1
            if t < 1e-12:
                break
        if t < 1e-12:
            message = "line search failed to decrease the objective"
            break
        theta = theta + t * d
        it += 1
        f, g, H = obj.value_grad_hess(theta)
    return theta, f, g, it, message, halvings


def linear_mle(X, comps, weights=None, lam: float = 0.1, *, tol: float = 1e-10, max_iter: int = 100) -> LinearFit:
    """Linear-reward (weighted) Bradley-Terry MLE (contract §2 "Linear reward", Eq. 1 / Eq. 2 losses).

    Fits ``r(x) = theta . x`` by minimising, for comparison data (``choicelab.sim.Comparisons``)::

        F(theta) = - sum_k omega_k log sigma(theta.(x_win_k - x_lose_k)) + (lam / 2) ||theta||^2,

    ``omega_k = w(a_k) w(b_k)``, a tie counting 1/2 in each direction (contract §4); equivalently
    ``- sum_{i != j} w_i w_j N_ij log sigma(theta.(x_i - x_j)) + (lam/2)||theta||^2`` with the win
    counts ``N``. For representative data pass the matrix ``P`` (m, m) instead:
    ``- sum_{i != j} w_i w_j P_ij log sigma(theta.(x_i - x_j)) + (lam/2)||theta||^2`` (any
    non-negative matrix is accepted; the diagonal is ignored). ``weights=None`` means ``w = 1``
    (no normalisation, as in Eq. 1).

    Regulariser: ridge on ``theta``, not the contract's ``sum_i w_i r_i^2 = theta^T X^T W X theta``,
    because the latter is not strictly convex when ``X^T W X`` is singular (``d > m`` or
    collinear features, common with embeddings), so it would not make the fit unique; the ridge
    always does for ``lam > 0`` and, like the loss, is unchanged by translating all ``x``. With
    one-hot features ``X = I`` the two coincide for ``w = 1``: the fit is the tabular MLE.
    ``lam = 0`` is allowed only when the MLE exists and is unique: no ``theta != 0`` may satisfy
    ``theta.(x_i - x_j) >= 0`` on every compared pair (no separation; checked by a linear
    program), otherwise ``ValueError``.

    Solver: Newton's method on ``theta`` with Hessian ``X^T L X + lam I`` (``L`` the Laplacian of
    the pairs weighted by ``w_i w_j Y_ij sigma(z)(1 - sigma(z))``), Armijo backtracking, from
    ``theta = 0``. Converged when ``||grad F|| <= tol * max(1, sum_{i != j} w_i w_j Y_ij)``;
    otherwise ``converged=False`` and a ``RuntimeWarning``.

    Parameters
    ----------
    X : (m, d) array_like
        Features of the alternatives.
    comps : choicelab.sim.Comparisons or (m, m) array_like
        Comparisons over ``0..m-1`` or a preference / win-count matrix.
    weights : (m,) array_like, optional
        Alternative weights ``w >= 0`` summing to 1 (e.g. Voronoi weights); ``None``: ``w = 1``.
    lam : float
        Ridge strength ``lam >= 0``.
    tol, max_iter : float, int
        Relative gradient tolerance and maximum number of Newton steps.

    Returns
    -------
    LinearFit

    Examples
    --------
    >>> X = np.array([[1.0], [0.0]])
    >>> fit = linear_mle(X, np.array([[0.0, 3.0], [1.0, 0.0]]), lam=0.0)  # 3 wins to 1
    >>> round(float(fit.theta[0]), 6) == round(float(np.log(3)), 6)
    True
    """
    X = _check_X(X)
    m, d = X.shape
    w = _check_weights(weights, m)
    lam = check_lambda(lam)
    tol = float(tol)
    if not np.isfinite(tol) or tol <= 0:
        raise ValueError(f"tol must be a positive number, got {tol}")
    if int(max_iter) < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")
    i, j, y = _pair_data(comps, m)
    c = w[i] * w[j] * y
    keep = c > 0
    i, j, c = i[keep], j[keep], c[keep]
    if lam == 0 and _separable(X, i, j):
        raise ValueError(
            "lam = 0: the data are separable or leave a direction of theta unconstrained "
            "(some theta != 0 never loses a comparison), so the MLE does not exist or is "
            "not unique. Use lam > 0"
        )
    obj = _Objective(X, i, j, c, lam)
    gtol = tol * max(1.0, float(c.sum()))
    theta, f, g, it, message, halvings = _newton(obj, np.zeros(d), gtol, int(max_iter))
    gnorm = float(np.linalg.norm(g))
    converged = gnorm <= gtol
    if not converged:
        warnings.warn(
            f"linear_mle did not converge: {message} (gradient norm {gnorm:.3g} > {gtol:.3g})",
            RuntimeWarning,
            stacklevel=2,
        )
    return LinearFit(
        theta=theta,
        rewards=X @ theta,
        converged=bool(converged),
        iterations=it,
        grad_norm=gnorm,
        objective=f,
        message=message,
        info={"method": "newton", "n_pairs": int(c.size), "line_search_halvings": halvings, "gtol": gtol},
    )
