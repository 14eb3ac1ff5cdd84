"""How far Monte Carlo weights can move the weighted MLE (contract §2, Eq. 2 and "Voronoi weights").

The weighted MLE r_hat(w) is a smooth function of the weights. At the optimum every alternative
satisfies the stationarity condition of Eq. 2 divided by w_i (the P5 identity; zero-weight
alternatives are defined by the same equation, see :func:`choicelab.estimators.bt.bt_mle`):

    h_i(r, w) = sum_j w_j (T_ij sigma(r_i - r_j) - X_ij) + lam r_i = 0,   T_ij = X_ij + X_ji,

with X the preference matrix P (then T = 1) or the win-count matrix N. By the implicit-function
theorem (the delta method through Eq. 2's optimality conditions)

    dr/dw = -(dh/dr)^{-1} dh/dw,
    (dh/dr)_ik = delta_ik (lam + sum_{j != i} w_j T_ij q_ij) - [k != i] w_k T_ik q_ik,
    (dh/dw)_il = T_il sigma(r_i - r_l) - X_il,      q_ij = sigma(r_i - r_j) sigma(r_j - r_i).

dh/dr has positive diagonal, non-positive off-diagonal entries and row sums lam > 0, so it is
strictly diagonally dominant and invertible. With Cov(w) the covariance of the estimated weights,
Cov(r) ~= J Cov(w) J^T. For Monte Carlo Voronoi weights from N uniform samples the cell shares p
are multinomial, Cov(p_hat) = (diag(p) - p p^T) / N, and k exact copies of a point split their
cell, so each copy's weight is the cell's share over k (:func:`voronoi_weight_covariance`).

Order: for two alternatives with r_i > r_j the chance that weight noise swaps them is, to first
order, Phi(-(r_i - r_j) / sd(r_i - r_j)); their sum over all pairs is the expected number of
discordant pairs (the Kendall distance) between the fit and the fit with exact weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["WeightErrorEffect", "weight_jacobian", "propagate_weight_error", "voronoi_weight_covariance"]


@dataclass(frozen=True)
class WeightErrorEffect:
    """The weighted MLE's sensitivity to the uncertainty of its weights.

    Attributes
    ----------
    reward_stderr : (m,) ndarray
        sqrt(diag(Cov(r))): the standard deviation of each reward due to the weights alone.
    reward_cov : (m, m) ndarray
        J Cov(w) J^T.
    jacobian : (m, m) ndarray
        J = dr/dw at the fit.
    expected_discordant_pairs : float
        sum over pairs i < j of Phi(-abs(r_i - r_j) / sd(r_i - r_j)) (pairs with sd = 0 count 0):
        the expected Kendall distance between this fit's order and the exact-weight fit's.
    adjacent_flip_prob : (m - 1,) ndarray
        For consecutive alternatives of the order (best first), the chance that they swap.
    """

    reward_stderr: np.ndarray
    reward_cov: np.ndarray
    jacobian: np.ndarray
    expected_discordant_pairs: float
    adjacent_flip_prob: np.ndarray


def weight_jacobian(X, rewards, weights, lam) -> np.ndarray:
    """J = dr/dw of the weighted MLE (module docstring), for a preference or win-count matrix ``X``.

    Only perturbations with sum(dw) = 0 keep the weights a distribution; J applied to any such dw
    is the first-order change of the fitted rewards.

    Examples
    --------
    >>> import numpy as np
    >>> from choicelab.estimators.bt import bt_mle
    >>> P = np.array([[0.5, 0.8, 0.6], [0.2, 0.5, 0.7], [0.4, 0.3, 0.5]])
    >>> w = np.array([0.5, 0.3, 0.2]); dw = np.array([1e-6, -1e-6, 0.0])
    >>> J = weight_jacobian(P, bt_mle(P, w, lam=0.1, tol=1e-14).rewards, w, 0.1)
    >>> fd = (bt_mle(P, w + dw, lam=0.1, tol=1e-14).rewards - bt_mle(P, w - dw, lam=0.1, tol=1e-14).rewards) / 2
    >>> bool(np.allclose(J @ dw, fd, rtol=1e-5, atol=1e-12))
    True
    """
    X = np.asarray(X, dtype=float)
    r = np.asarray(rewards, dtype=float)
    w = np.asarray(weights, dtype=float)
    m = r.size
    if X.shape != (m, m) or w.shape != (m,):
        raise ValueError(f"weight_jacobian: X must be ({m}, {m}) and weights ({m},), got {X.shape} and {w.shape}")
    if not lam > 0:
        raise ValueError(f"weight_jacobian: lam must be positive, got {lam!r}")
    T = X + X.T
    S = 1.0 / (1.0 + np.exp(-(r[:, None] - r[None, :])))  # S_ij = sigma(r_i - r_j)
    TQ = T * S * S.T
    np.fill_diagonal(TQ, 0.0)
    A = -TQ * w[None, :]
    A[np.diag_indices(m)] = lam + TQ @ w
    G = T * S - X
    return -np.linalg.solve(A, G)


def propagate_weight_error(X, rewards, weights, lam, weight_cov) -> WeightErrorEffect:
    """Reward covariance and order instability caused by weights with covariance ``weight_cov``.

    Parameters
    ----------
    X : (m, m) array_like
        The matrix the weighted MLE was fitted on (P, or the win counts N).
    rewards, weights : (m,) array_like
        The fit and its weights.
    lam : float
        Its regularisation.
    weight_cov : (m, m) array_like
        Covariance of the weights (e.g. :func:`voronoi_weight_covariance`).

    Returns
    -------
    WeightErrorEffect
    """
    from scipy.special import ndtr

    J = weight_jacobian(X, rewards, weights, lam)
    C = J @ np.asarray(weight_cov, dtype=float) @ J.T
    C = 0.5 * (C + C.T)
    var = np.maximum(np.diag(C), 0.0)
    r = np.asarray(rewards, dtype=float)
    diff_var = np.maximum(var[:, None] + var[None, :] - 2.0 * C, 0.0)
    gap = np.abs(r[:, None] - r[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(diff_var > 0, gap / np.sqrt(diff_var), np.inf)
    flip = np.where(np.isfinite(z), ndtr(-z), 0.0)
    iu = np.triu_indices(r.size, k=1)
    order = np.argsort(-r, kind="stable")
    adjacent = flip[order[:-1], order[1:]]
    return WeightErrorEffect(
        reward_stderr=np.sqrt(var),
        reward_cov=C,
        jacobian=J,
        expected_discordant_pairs=float(flip[iu].sum()),
        adjacent_flip_prob=adjacent,
    )


def voronoi_weight_covariance(X, estimate) -> np.ndarray:
    """Covariance of Monte Carlo Voronoi weights (``voronoi_weights(..., full_output=True)``).

    The distinct cells' shares p_hat = counts / N are multinomial: Cov = (diag(p) - p p^T) / N,
    with p estimated by p_hat. The k exact copies of a point each carry p_hat / k, so their
    weights are perfectly correlated. Zero for exact weights (``n_samples == 0``). Cells estimated
    by the tail phase's importance sampling (``estimate.importance``) carry their reported
    variance and no covariance (their draws are separate from the uniform counts). A cell whose
    count covers only the first N_k of the uniform samples (``estimate.uniform_draws``: the
    screened phase stops counting resolved cells) has variance p_k (1 - p_k) / N_k and
    covariance -p_i p_j / max(N_i, N_j) (the samples two cells share are the first min(N_i, N_j)).

    Examples
    --------
    >>> import numpy as np
    >>> from choicelab.estimators.weights import voronoi_weights
    >>> from choicelab.sim import Box
    >>> X = np.array([[0.1, 0.1, 0.1], [0.9, 0.9, 0.9], [0.9, 0.9, 0.9]])
    >>> est = voronoi_weights(X, Box([0, 0, 0], [1, 1, 1]), n_samples=1000, rng=0, full_output=True)
    >>> C = voronoi_weight_covariance(X, est)
    >>> bool(np.allclose(np.sqrt(np.diag(C)), est.stderr)), bool(np.allclose(C.sum(axis=1), 0))
    (True, True)
    """
    X = np.asarray(X, dtype=float)
    m = X.shape[0] if X.ndim > 1 else X.size
    if estimate.n_samples == 0:
        return np.zeros((m, m))
    _, inverse, copies = np.unique(X.reshape(m, -1), axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    k = copies.size
    p = np.zeros(k)
    np.add.at(p, inverse, estimate.weights)
    A = np.zeros((m, k))
    A[np.arange(m), inverse] = 1.0 / copies[inverse]
    # each cell's count is over its own first N_k uniform samples (N_k = n_uniform unless the
    # screened phase left the cell behind): Cov(c_i/N_i, c_j/N_j) = -p_i p_j min(N_i, N_j)/(N_i N_j)
    n_cell = np.zeros(k)
    n_cell[inverse] = estimate.uniform_draws
    cov_cells = -np.outer(p, p) / np.maximum.outer(n_cell, n_cell)
    cov_cells[np.diag_indices(k)] = p * (1.0 - p) / n_cell
    tail = estimate.importance
    if tail.size:
        # cells of the tail phase were estimated apart from the uniform counts: their own variance, no covariance
        cells = np.unique(inverse[tail])
        cov_cells[cells, :] = 0.0
        cov_cells[:, cells] = 0.0
        se_cell = np.zeros(k)
        np.add.at(se_cell, inverse[tail], estimate.stderr[tail])  # copies share a cell: their errors add up
        cov_cells[cells, cells] = se_cell[cells] ** 2
    return A @ cov_cells @ A.T
