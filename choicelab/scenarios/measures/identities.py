"""Contract P4 / P5 measured on each fit: the MLE is Borda, the weighted MLE is weighted Borda."""

from __future__ import annotations

import numpy as np

from choicelab.scenarios.measures import Row, register, verdict
from choicelab.scenarios.measures.basic import kendall_tau_value


@register("identity_residual", needs=("fits", "reward"), effect=False)
def identity_residual(ctx):
    """Contract P4 / P5 on this fit: max_i |sum_j w_j s(r_i - r_j) + lam r_i - sum_j w_j P_ij| and |sum_i w_i r_i|.

    ``w`` is uniform (1 each) for an unweighted estimator (P4, Borda) and the fit's weights for a
    weighted one (P5, WAWR). Rows ``residual``, ``weighted_sum``, ``order_agreement`` (Kendall tau
    between the rewards and the Borda / WAWR scores), ``converged``, and the verdict: holds when
    the fit converged and both numbers are below the identity tolerance, inconclusive when it did
    not converge, violated otherwise.
    """
    from choicelab.axioms.theorems import IDENTITY_TOL, borda_identity_residual

    out = ctx.output
    P = np.asarray(ctx.conditions[ctx.condition].instance.P, dtype=float)
    r = np.asarray(out.scores, dtype=float)
    lam = ctx.spec.estimators.lam
    weights = None if out.weights is None else np.asarray(out.weights, dtype=float)
    ww = np.ones(len(r)) if weights is None else weights
    res = borda_identity_residual(P, r, lam, weights)
    worst, centre = float(np.max(np.abs(res))), abs(float(ww @ r))
    yield Row("residual", "max_i |residual_i|", worst)
    yield Row("weighted_sum", "|sum_i w_i r_i|", centre)
    yield Row("order_agreement", "Kendall tau vs Borda / WAWR", kendall_tau_value(r, P @ ww))
    yield Row("converged", "converged", float(bool(out.converged)))
    yield Row("tolerance", "the identity holds below this", float(IDENTITY_TOL))
    axiom_id = "P4" if weights is None else "P5"
    measured = "inconclusive" if not out.converged else "holds" if max(worst, centre) < IDENTITY_TOL else "violated"
    from choicelab.axioms.witness import make_witness

    # the witness format every check writes, so axioms.replay can re-measure this fit
    witness = make_witness(
        axiom_id,
        ctx.estimator,
        ctx.conditions[ctx.condition].instance,
        0,
        False,
        measured=measured,
        magnitude=max(worst, centre),
        lam=lam,
        weights=None if weights is None else weights.tolist(),
    )
    yield verdict(axiom_id, ctx.estimator, measured, max(worst, centre), witness)
