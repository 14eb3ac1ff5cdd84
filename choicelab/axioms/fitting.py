"""The axiom checks' one way to fit an estimator: the estimator registry.

Every fit of every check (A1-A8, T1, P4-P8, X1-X4) is a call of
``choicelab.estimators.registry.get_estimator(name).fit(instance, data=..., weights=...,
lam=..., rng=..., quick=...)`` made through :func:`fit_outcome`, so a registered plugin can be
checked exactly like a built-in estimator, and a witness's estimator options are the arguments
of that call.
"""

from __future__ import annotations

import numpy as np

from choicelab._validation import as_rng

__all__ = [
    "LAM",
    "REWARD_TOL",
    "WEIGHTED",
    "EstimatorNotApplicable",
    "applicability",
    "weights_for",
    "fit_outcome",
    "is_weighted",
    "is_rule",
]

LAM = 0.1  # default regularisation (lam/2) sum_i w_i r_i^2 of the checks
REWARD_TOL = 1e-7  # reward differences below this are ties / "unchanged" (solvers stop near 1e-10)
WEIGHTED = ("weighted_mle", "neural_weighted_mle", "wawr")  # the built-in weighted estimators


class EstimatorNotApplicable(ValueError):
    """The estimator cannot run on this instance (the checks then skip it as premise-failed)."""


def is_weighted(estimator: str) -> bool:
    """Whether the registry entry ``estimator`` takes clone-robust weights."""
    from choicelab.estimators.registry import get_estimator

    return bool(get_estimator(estimator).weighted)


def is_rule(estimator: str) -> bool:
    """Whether the registry entry ``estimator`` is a voting rule (judged on order and winners)."""
    from choicelab.estimators.registry import get_estimator

    return get_estimator(estimator).kind == "rule"


def weights_for(estimator: str, instance, rng=None) -> np.ndarray | None:
    """Weights a weighted estimator uses on ``instance`` in the checks.

    Voronoi weights of the instance's positions in its region (exact in 1-D and 2-D boxes);
    on a matrix-only instance the checker uses uniform weights ``1/m`` (so the weighted MLE
    is the standard MLE with ``lam_std = m lam``, contract P7). None for unweighted estimators.

    Monte Carlo weights (d >= 3) use the fixed sample size ``DEFAULT_N_SAMPLES``, not the
    precision-targeted default: the checks compare fits on M and on M plus a clone, and with the
    same seed and the same N only the clone's Voronoi neighbours change (common random numbers),
    whereas a precision target would draw more samples for the clone's tiny cell, change every
    weight and spend up to the time budget on each fit.
    """
    if not is_weighted(estimator):
        return None
    if instance.X is None or instance.region is None:
        return np.full(instance.m, 1.0 / instance.m)
    from choicelab.estimators.weights import DEFAULT_N_SAMPLES, voronoi_weights

    w = voronoi_weights(instance.X, instance.region, n_samples=DEFAULT_N_SAMPLES, rng=as_rng(rng))
    return np.asarray(w, dtype=float)


def applicability(estimator: str, instance, data=None) -> str | None:
    """Why ``estimator`` cannot be fitted on ``instance`` in the checks, or None when it can.

    ``linear_mle`` needs positions; ``pl_mle`` without data samples rankings, so it needs a
    population whose choice model is not deterministic (deterministic ties, e.g. between exact
    clones, would give tied rankings, which Plackett-Luce has no model for).
    """
    if estimator == "linear_mle" and instance.X is None:
        return "linear_mle needs positions; the instance is matrix-only"
    if estimator == "pl_mle" and data is None:
        if instance.population is None or instance.X is None:
            return "pl_mle samples rankings from a population; the instance is matrix-only"
        if instance.population.choice == "deterministic":
            return "pl_mle has no tie model; a deterministic population ranks equal rewards as ties"
    return None


PAIRWISE_COUNTS = 10_000  # comparisons per pair standing for the population in representative_data


def representative_matrix(estimator: str, P) -> np.ndarray:
    """The matrix an estimator's representative fit reads: ``P`` itself, or for ``pl_mle`` the win
    counts ``C_ij = round(PAIRWISE_COUNTS * P_ij)`` (i != j) of :func:`representative_data`."""
    P = np.asarray(P, dtype=float)
    if estimator != "pl_mle":
        return P
    C = np.rint(PAIRWISE_COUNTS * P)
    np.fill_diagonal(C, 0.0)
    return C


def representative_data(estimator: str, instance):
    """Data standing for the population itself, for an estimator that cannot read ``instance.P``.

    ``pl_mle`` (which otherwise samples rankings, so that two fits differ by sampling noise)
    gets every ordered pair as a 2-item ranking i > j cast by ``round(PAIRWISE_COUNTS * P_ij)``
    voters: a deterministic function of P, on which the Plackett-Luce likelihood is the
    Bradley-Terry likelihood of the win counts (contract Eq. 1 on C). None for every other
    estimator (they fit P directly).
    """
    if estimator != "pl_mle":
        return None
    from choicelab.sim.data import Rankings

    C = representative_matrix(estimator, instance.P)
    i, j = np.nonzero(C > 0)
    return Rankings(
        orders=tuple(((int(a),), (int(b),)) for a, b in zip(i, j)),
        counts=C[i, j].astype(np.int64),
        m=instance.m,
        unlisted_last=False,
    )


def fit_outcome(estimator: str, instance, *, weights=None, data=None, rng=None, quick=False, lam=LAM, **options):
    """Fit ``estimator`` through the registry (the only way the checks fit anything).

    Parameters
    ----------
    estimator : str
        A registry name.
    instance : choicelab.sim.Instance
    weights : (m,) array_like or None
        Explicit weights; weighted estimators default to :func:`weights_for`.
    data : Comparisons, Rankings or None
        Sampled data; None fits the representative matrix ``instance.P``.
    rng, quick, lam
        Passed to the registry fit.
    **options
        Estimator options passed on (e.g. ``tol`` of the exact solvers, ``pairs`` of the neural ones).

    Returns
    -------
    EstimatorOutput

    Raises
    ------
    EstimatorNotApplicable
        When :func:`applicability` gives a reason.
    """
    from choicelab.estimators.registry import get_estimator

    why = applicability(estimator, instance, data)
    if why is not None:
        raise EstimatorNotApplicable(why)
    if weights is None and is_weighted(estimator):
        weights = weights_for(estimator, instance, rng)
    return get_estimator(estimator).fit(instance, data=data, weights=weights, lam=lam, rng=rng, quick=quick, **options)
