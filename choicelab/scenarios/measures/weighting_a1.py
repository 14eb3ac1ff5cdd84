"""The A1 curve of a weighted estimator under each clone-robust weighting, on the same instance.

For every weighting named in the options (default: Voronoi [PSZ], radius-graph [BW], inverse
kernel density and uniform), the measure fits the run's weighted estimator on M and on
M + {x'} with x' an eps-approximate clone of each chosen alternative, weights recomputed by
that weighting on each enlarged set, and records contract A1's
Delta(eps) = max(max_{y in M} |r'(y) - r(y)|, |r'(x') - r'(x)|). Every weighting sees the same
clone directions and the same fit seed (common random numbers), so the curves differ only by the
weights: users can put the weightings side by side on their own instance.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from choicelab.scenarios.measures import Row, register


class A1ByWeightingOptions(BaseModel):
    """Options of ``a1_by_weighting``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    weightings: list[str] = Field(
        default_factory=lambda: ["voronoi", "radius_graph", "inverse_kde", "uniform"], min_length=1
    )
    # options per weighting, passed to the weighting registry (radius_graph needs its alpha)
    options: dict[str, dict] = Field(default_factory=lambda: {"radius_graph": {"alpha": 0.5}})
    eps: list[float] = Field(
        default_factory=lambda: [float(f"{10 ** (-1 - 0.5 * k):.12g}") for k in range(7)], min_length=2
    )
    indices: list[int] | None = None
    quick: bool = True


def a1_curves_by_weighting(
    estimator, instance, weightings, options=None, eps_grid=None, indices=None, rng=None, quick=True
):
    """Delta(eps) of contract A1 for ``estimator`` under each weighting (common random numbers).

    Returns {weighting: {"eps", "delta", "per_index", "slope", "outcome", "converged"}}. For each
    weighting the random draws are those of :func:`choicelab.axioms.clones.a1_curve` with the same
    ``rng`` (the fit seed first, then one clone direction per alternative), so with the Voronoi
    weighting on a 1-D or 2-D box the curve is exactly ``a1_curve``'s.
    """
    from choicelab._validation import as_rng
    from choicelab.axioms import fitting
    from choicelab.axioms.clones import A1_EPS, a1_verdict, clone_curves
    from choicelab.estimators.weightings import get_weighting

    options = options or {}
    eps_grid = np.asarray(A1_EPS if eps_grid is None else eps_grid, dtype=float)
    if instance.X is None or instance.region is None or instance.population is None:
        raise ValueError("a1_by_weighting needs positions, a region and a population")
    unknown = sorted(set(options) - set(weightings))
    if unknown:
        raise ValueError(f"a1_by_weighting: options given for weightings not in the list: {unknown}")
    seed = int(as_rng(rng).integers(2**63 - 1))
    entries = {name: get_weighting(name) for name in weightings}  # unknown names fail before any fit
    m = instance.m
    indices = list(range(m)) if indices is None else [int(k) for k in indices]
    out = {}
    for name, entry in entries.items():
        r = np.random.default_rng(seed)
        fit_seed = int(r.integers(2**63 - 1))

        def fit(inst, entry=entry, fit_seed=fit_seed, name=name):
            w = entry.compute(inst.X, inst.region, np.random.default_rng(fit_seed), **options.get(name, {}))
            return fitting.fit_outcome(estimator, inst, weights=w, rng=np.random.default_rng(fit_seed), quick=quick)

        _, per_index, _, converged = clone_curves(instance, eps_grid, indices, r, fit, who="a1_by_weighting")
        delta = np.max(np.array(list(per_index.values())), axis=0)
        outcome, slope = a1_verdict(eps_grid, delta)
        out[name] = {
            "eps": eps_grid.tolist(),
            "delta": delta.tolist(),
            "per_index": per_index,
            "slope": slope,
            "outcome": outcome,
            "converged": converged,
        }
    return out


@register(
    "a1_by_weighting",
    params=A1ByWeightingOptions,
    needs=("positions", "population", "region", "reward", "instance"),
    fits=False,
)
def a1_by_weighting(ctx):
    """Contract A1's Delta(eps) of a weighted estimator under each weighting (item = weighting:eps)."""
    from choicelab.axioms.fitting import is_weighted

    if not is_weighted(ctx.estimator):
        return
    opts = ctx.params
    inst = ctx.conditions[ctx.condition].instance
    curves = a1_curves_by_weighting(
        ctx.estimator,
        inst,
        opts.weightings,
        options=opts.options,
        eps_grid=opts.eps,
        indices=opts.indices,
        rng=ctx.rng,
        quick=opts.quick,
    )
    for name, c in curves.items():
        for e, dlt in zip(c["eps"], c["delta"]):
            yield Row(f"{name}:{e:.12g}", f"{name}, eps={e:.3g}", float(dlt))
        yield Row(f"{name}:slope", f"{name}: log-log slope", float(c["slope"]))
        yield Row(f"{name}:outcome", f"{name}: A1 {c['outcome']}", float(c["delta"][int(np.argmin(c["eps"]))]))
        yield Row(f"{name}:converged", f"{name}: converged", float(c["converged"]))
