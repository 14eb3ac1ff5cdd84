"""Your own data: which alternatives sit in dense clusters, and what collapsing them moves.

The typical spacing is ``s = (vol(S) / m)^(1/d)``, the side of a cell if the m points were
spread evenly over the region S. Alternative i sits in a dense cluster when ``m w_i <
dense_weight_ratio`` (its Voronoi weight is far below 1/m) or its nearest-neighbour distance is
below ``dense_nn_ratio * s``. The collapse test joins alternatives within ``collapse_radius``
(default ``dense_nn_ratio * s``) into groups (connected components of the radius graph), keeps
each group's lowest index and removes the others with every comparison they took part in: the
data as if the near-duplicates had never been shown. A standard MLE whose ranking moves while
the weighted MLE's does not is the clone effect of [PSZ].
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from choicelab.scenarios.measures import Row, register
from choicelab.scenarios.measures.basic import kendall_tau_value


class DiagnosticOptions(BaseModel):
    """Options of ``clone_diagnostic`` and ``collapse_test``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dense_weight_ratio: float = Field(0.25, gt=0, le=1)
    dense_nn_ratio: float = Field(0.25, gt=0, le=1)
    collapse_radius: float | None = Field(None, gt=0)


def _diagnose(ctx):
    """Region, weights, spacing, nearest-neighbour distances, dense flags and the collapse groups."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    from choicelab.scenarios.experiment import _bounding_box, compute_weights

    cond = ctx.conditions[ctx.condition or ctx.spec.conditions.names[0]]
    X = np.asarray(cond.alternatives.X, dtype=float)
    m, d = X.shape
    region = ctx.world.region if ctx.world.region is not None else _bounding_box(X)
    w = cond.weights if cond.weights is not None else compute_weights(ctx.spec, X, region, ctx.rng)
    spacing = float((region.volume / m) ** (1.0 / d))
    tree = cKDTree(X)
    nn = tree.query(X, k=2)[0][:, 1]
    opts = ctx.params
    dense = (m * w < opts.dense_weight_ratio) | (nn < opts.dense_nn_ratio * spacing)
    radius = opts.collapse_radius if opts.collapse_radius is not None else opts.dense_nn_ratio * spacing
    pairs = np.array(sorted(tree.query_pairs(radius)), dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m))
    n_groups, group = connected_components(graph, directed=False)
    keep = np.sort([np.flatnonzero(group == g).min() for g in range(n_groups)])
    return {
        "cond": cond,
        "X": X,
        "m": m,
        "region": region,
        "w": w,
        "spacing": spacing,
        "nn": nn,
        "dense": dense,
        "radius": radius,
        "keep": keep,
        "n_groups": n_groups,
    }


def _collapsed_comparisons(comps, keep, m):
    from choicelab import sim

    new_index = np.full(m, -1, dtype=np.int64)
    new_index[keep] = np.arange(keep.size)
    kept = (new_index[comps.a] >= 0) & (new_index[comps.b] >= 0)
    winner = np.where(comps.winner == -1, -1, new_index[np.maximum(comps.winner, 0)])
    return sim.Comparisons(new_index[comps.a[kept]], new_index[comps.b[kept]], winner[kept], comps.annotator[kept])


@register("clone_diagnostic", per="run", params=DiagnosticOptions, needs=("positions", "fits"))
def clone_diagnostic(ctx):
    """Dense clusters in the data (module docstring): counts, spacing, and m * w_i of each flagged alternative."""
    g = _diagnose(ctx)
    cond = g["cond"]
    labels = [str(x) for x in cond.alternatives.labels]
    n_comparisons = getattr(cond.data, "n", None)
    rows = [
        ("m", g["m"]),
        ("n_comparisons", n_comparisons),
        ("dense_count", int(g["dense"].sum())),
        ("typical_spacing", g["spacing"]),
        ("median_nn", float(np.median(g["nn"]))),
        ("collapse_radius", g["radius"]),
        ("collapsed_m", g["n_groups"]),
    ]
    comps = _as_comparisons(cond.data)
    if comps is not None:
        rows.append(("collapsed_comparisons", _collapsed_comparisons(comps, g["keep"], g["m"]).n))
    for item, value in rows:
        if value is not None:
            yield Row(item, item, float(value), condition=cond.name, estimator="data")
    for i in np.flatnonzero(g["dense"]):
        yield Row(f"dense:{i}", labels[i], float(g["m"] * g["w"][i]), condition=cond.name, estimator="data")
    ctx.add_blob("diagnostic.weight_ratio", g["m"] * g["w"])
    ctx.add_blob("diagnostic.nn_distance", g["nn"])
    ctx.add_blob("diagnostic.dense", g["dense"].astype(np.int8))
    ctx.add_blob("diagnostic.keep", g["keep"])


def _as_comparisons(data):
    from choicelab.sim.data import Comparisons, Rankings

    if isinstance(data, Rankings):
        return data.to_comparisons()
    return data if isinstance(data, Comparisons) else None


@register("collapse_test", params=DiagnosticOptions, needs=("positions", "fits"))
def collapse_test(ctx):
    """Refit without the near-duplicates (module docstring): Kendall tau on the kept alternatives, new top item."""
    from choicelab import sim
    from choicelab.estimators.registry import get_estimator
    from choicelab.scenarios.experiment import _instance, compute_weights

    g = _diagnose(ctx)
    comps = _as_comparisons(g["cond"].data)
    if comps is None or g["n_groups"] < 2:
        return
    keep = g["keep"]
    collapsed = _collapsed_comparisons(comps, keep, g["m"])
    if collapsed.n == 0:
        return
    alts = g["cond"].alternatives
    kept = sim.Alternatives(g["X"][keep], labels=np.asarray(alts.labels)[keep])
    entry = get_estimator(ctx.estimator)
    wc = None
    if entry.weighted:
        wc = compute_weights(ctx.spec, kept.X, g["region"], ctx.rng) if g["n_groups"] < g["m"] else g["w"]
    opts = ctx.spec.estimators.options.get(ctx.estimator, {})
    if entry.params is not None:
        opts = entry.params.model_validate(opts).model_dump(exclude_none=True)
    inst = _instance(kept, ctx.world.population, g["region"], collapsed)
    out = entry.fit(
        inst,
        data=collapsed,
        weights=wc,
        lam=ctx.spec.estimators.lam,
        rng=ctx.rng,
        quick=ctx.spec.estimators.quick,
        **opts,
    )
    r = np.asarray(ctx.output.scores, dtype=float)
    yield Row("kendall_tau", "Kendall tau on the kept alternatives", kendall_tau_value(r[keep], out.scores))
    top = int(keep[int(np.asarray(out.order)[0])])
    yield Row("top_collapsed", str(alts.labels[top]), float(top))
