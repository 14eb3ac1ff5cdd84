"""How much a fit's rewards and order could move because its weights were estimated by Monte Carlo.

For the weighted MLE with Monte Carlo Voronoi weights (a region without an exact method, d >= 3,
or ``method = "monte_carlo"``), the delta method through Eq. 2's optimality conditions gives each
reward's standard deviation due to the weights alone and the expected number of pairs whose order
the weight noise swaps (:mod:`choicelab.estimators.weight_error`). The weights' covariance is the
multinomial one of the ``n_samples`` uniform samples that produced them; for precision-targeted
weights (``rel_stderr``) it is bounded by diag((rel_stderr w)^2). Fits with exact weights,
other weightings, or other estimators yield no rows.
"""

from __future__ import annotations

import numpy as np

from choicelab.scenarios.measures import Row, register


def _effect(ctx):
    """The fit's own WeightErrorEffect, or one computed from the scenario's Voronoi weighting."""
    own = getattr(ctx.output, "weight_error", None)
    if own is not None:
        return own
    from choicelab.estimators.weight_error import propagate_weight_error, voronoi_weight_covariance
    from choicelab.estimators.weights import VoronoiEstimate, _exact_available
    from choicelab.sim.data import Comparisons, win_counts

    opts = dict(ctx.spec.estimators.weights)
    if opts.pop("name", "voronoi") != "voronoi":
        return None
    cond = ctx.conditions[ctx.condition]
    inst = cond.instance
    if cond.weights is None or inst.X is None or inst.region is None:
        return None
    if opts.get("method", "auto") in ("auto", "exact") and _exact_available(inst.region):
        return None  # exact weights: no Monte Carlo error
    data = cond.data
    if data is None:
        X = inst.P
    elif isinstance(data, Comparisons):
        X = np.asarray(win_counts(data, inst.m), dtype=float)
    else:
        return None
    w = np.asarray(cond.weights, dtype=float)
    target = opts.get("rel_stderr")
    if target is not None:
        # precision-targeted weights: each cell's relative standard error is at most the target
        # (unless the time ran out), so diag((t w)^2) bounds their covariance from above
        cov = np.diag((float(target) * w) ** 2)
    else:
        n = int(opts.get("n_samples", 200_000))
        est = VoronoiEstimate(weights=w, stderr=np.zeros_like(w), method="monte_carlo", n_samples=n)
        cov = voronoi_weight_covariance(inst.X, est)
    return propagate_weight_error(X, ctx.output.scores, w, ctx.spec.estimators.lam, cov)


@register("weight_error", needs=("reward",), effect=False)
def weight_error(ctx):
    """Reward standard deviation due to Monte Carlo weights (item = alternative), and the expected swapped pairs."""
    if ctx.output is None or ctx.estimator != "weighted_mle":
        return
    eff = _effect(ctx)
    if eff is None:
        return
    labels = ctx.alternatives.labels
    for i, se in enumerate(eff.reward_stderr):
        yield Row(i, str(labels[i]), float(se))
    yield Row("max", "largest reward stderr from the weights", float(eff.reward_stderr.max()))
    yield Row("expected_discordant_pairs", "expected pairs swapped by weight noise", eff.expected_discordant_pairs)
    if eff.adjacent_flip_prob.size:
        top = float(eff.adjacent_flip_prob.max())
        yield Row("max_adjacent_flip", "largest swap probability of neighbours in the order", top)
