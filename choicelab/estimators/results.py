"""Result objects shared by all estimators (modelled on ``scipy.optimize.OptimizeResult``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FitResult:
    """Outcome of a reward estimator solved by an iterative method.

    Attributes
    ----------
    rewards : (m,) ndarray
        The fitted reward vector (on the unique regularized solution when ``lam > 0``).
    converged : bool
        True when the gradient norm fell below the solver's documented tolerance.
    iterations : int
        Outer iterations (Newton steps) taken.
    grad_norm : float
        Euclidean norm of the objective's gradient at ``rewards``.
    objective : float
        Objective value at ``rewards``.
    message : str
        Human-readable reason the solver stopped.
    info : dict
        Solver-specific extras (method used, line-search counts, ...).
    """

    rewards: np.ndarray
    converged: bool
    iterations: int
    grad_norm: float
    objective: float = float("nan")
    message: str = ""
    info: dict = field(default_factory=dict)

    def order(self, tol: float = 1e-9) -> np.ndarray:
        """Indices best first; ties (within ``tol``) keep index order."""
        return _order_from_scores(self.rewards, tol)


@dataclass(frozen=True)
class RuleResult:
    """Outcome of a voting rule on a preference matrix.

    Attributes
    ----------
    scores : (m,) ndarray
        Rule-specific scores, larger is better (Borda score, Copeland score, ...).
    order : (m,) ndarray of int
        Alternatives best first, after the rule's documented tie-break.
    winners : tuple of int
        All alternatives the rule declares winners (several when tied).
    """

    scores: np.ndarray
    order: np.ndarray
    winners: tuple
    info: dict = field(default_factory=dict)


def _order_from_scores(scores: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    # round to the tolerance grid so near-equal scores tie and the stable sort keeps index order
    key = -np.round(scores / tol) if tol > 0 else -scores
    return np.argsort(key, kind="stable")
