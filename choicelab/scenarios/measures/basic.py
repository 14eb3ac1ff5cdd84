"""Measures of a fit's output: scores, ranks, the top item, topic rewards, agreement, change, fit quality."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from choicelab.scenarios.measures import Row, register


def alternative_label(alts, i: int) -> str:
    """``"<label>"`` for an original, ``"<label> (clone of k)"`` for a clone of alternative k."""
    label = str(alts.labels[i])
    k = int(alts.clone_of[i])
    return label if k < 0 else f"{label} (clone of {k})"


def _origin(alts) -> np.ndarray:
    """Index of each alternative's original (itself for an original)."""
    return np.where(alts.clone_of >= 0, alts.clone_of, np.arange(alts.m))


@register("scores", needs=("fits",))
def scores(ctx):
    """The estimator's score of every alternative (rewards, or a voting rule's scores), clones included."""
    alts = ctx.alternatives
    for i, s in enumerate(np.asarray(ctx.output.scores, dtype=float)):
        yield Row(i, alternative_label(alts, i), float(s))


@register("rank", needs=("fits",))
def rank(ctx):
    """Position of every alternative in the estimator's order (1 = best; ties keep index order)."""
    alts = ctx.alternatives
    pos = np.empty(alts.m, dtype=np.int64)
    pos[np.asarray(ctx.output.order)] = np.arange(1, alts.m + 1)
    for i in range(alts.m):
        yield Row(i, alternative_label(alts, i), float(pos[i]))


@register("top_item", summary="mode", needs=("fits",))
def top_item(ctx):
    """The estimator's best alternative with clones collapsed into their original (value = its index)."""
    alts = ctx.alternatives
    top = int(_origin(alts)[int(np.asarray(ctx.output.order)[0])])
    yield Row("top", str(alts.labels[top]), float(top))


@register("topic_rewards", needs=("topics", "fits"))
def topic_rewards(ctx):
    """Mean score of each topic's original alternatives ([PSZ] case study)."""
    alts = ctx.alternatives
    labels = np.asarray([str(x) for x in alts.labels])
    originals = alts.clone_of < 0
    s = np.asarray(ctx.output.scores, dtype=float)
    for topic in ctx.world.topics:
        members = originals & (labels == topic)
        yield Row(topic, topic, float(s[members].mean()))


@register("top_topic", needs=("topics", "fits"), summary="mode")
def top_topic(ctx):
    """The topic with the highest mean score of its originals (value = its position among the topics)."""
    alts = ctx.alternatives
    labels = np.asarray([str(x) for x in alts.labels])
    originals = alts.clone_of < 0
    s = np.asarray(ctx.output.scores, dtype=float)
    topics = list(ctx.world.topics)
    means = [s[originals & (labels == t)].mean() for t in topics]
    k = int(np.argmax(means))
    yield Row("top", topics[k], float(k))


class KendallTauOptions(BaseModel):
    """Options of ``kendall_tau``: one reference estimator, or one per estimator (a table name = reference)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    reference: str | dict[str, str] = "mle"

    def reference_of(self, estimator: str) -> str | None:
        if isinstance(self.reference, str):
            return self.reference
        return self.reference.get(estimator)

    def problems(self, spec):
        names = spec.estimators.names
        refs = [self.reference] if isinstance(self.reference, str) else list(self.reference.values())
        keys = [] if isinstance(self.reference, str) else list(self.reference)
        for r in refs:
            if r not in names:
                return [("reference", r, f"must be one of estimators.names ({', '.join(names)})")]
        for k in keys:
            if k not in names:
                return [("reference", k, f"names no estimator of estimators.names ({', '.join(names)})")]
        return []


def kendall_tau_value(x, y) -> float:
    """Kendall's tau-b of two score vectors (NaN when either is constant)."""
    from scipy.stats import kendalltau

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(kendalltau(x, y).statistic)


@register("kendall_tau", params=KendallTauOptions, needs=("fits",), effect=False)
def kendall_tau(ctx):
    """Kendall's tau between this estimator's and the ``reference`` estimator's scores on the originals."""
    ref = ctx.params.reference_of(ctx.estimator)
    if ref is None or ref == ctx.estimator:
        return
    alts = ctx.alternatives
    keep = alts.clone_of < 0
    other = ctx.outputs[ctx.condition][ref].scores
    yield Row(ref, ref, kendall_tau_value(np.asarray(ctx.output.scores)[keep], np.asarray(other)[keep]))


class RewardChangeOptions(BaseModel):
    """Options of ``reward_change``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    baseline: str = "original"

    def problems(self, spec):
        if self.baseline not in spec.conditions.names:
            return [
                ("baseline", self.baseline, f"must be one of conditions.names ({', '.join(spec.conditions.names)})")
            ]
        return []


@register("reward_change", params=RewardChangeOptions, needs=("conditions>=2", "fits"))
def reward_change(ctx):
    """Score of each original in this condition minus its score in the ``baseline`` condition."""
    base = ctx.params.baseline
    if ctx.condition == base:
        return
    alts = ctx.alternatives
    m0 = int(np.sum(alts.clone_of < 0))
    now = np.asarray(ctx.output.scores, dtype=float)
    before = np.asarray(ctx.outputs[base][ctx.estimator].scores, dtype=float)
    for i in range(m0):
        yield Row(i, alternative_label(alts, i), float(now[i] - before[i]))


class TopChangeOptions(BaseModel):
    """Options of ``top_change``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    baseline: str = "original"
    of: str = "item"

    def problems(self, spec):
        if self.baseline not in spec.conditions.names:
            return [
                ("baseline", self.baseline, f"must be one of conditions.names ({', '.join(spec.conditions.names)})")
            ]
        if self.of not in ("item", "topic"):
            return [("of", self.of, "must be 'item' or 'topic'")]
        return []


def _top_of(ctx, condition, of):
    alts = ctx.conditions[condition].alternatives
    s = np.asarray(ctx.outputs[condition][ctx.estimator].scores, dtype=float)
    if of == "topic":
        labels = np.asarray([str(x) for x in alts.labels])
        originals = alts.clone_of < 0
        means = [s[originals & (labels == t)].mean() for t in ctx.world.topics]
        return list(ctx.world.topics)[int(np.argmax(means))]
    return int(_origin(alts)[int(np.asarray(ctx.outputs[condition][ctx.estimator].order)[0])])


@register("top_change", params=TopChangeOptions, needs=("conditions>=2", "fits"))
def top_change(ctx):
    """1 when the best item (or topic) differs from the ``baseline`` condition's, else 0 (clones collapsed)."""
    base = ctx.params.baseline
    if ctx.condition == base:
        return
    before, now = _top_of(ctx, base, ctx.params.of), _top_of(ctx, ctx.condition, ctx.params.of)
    yield Row("changed", f"{before} -> {now}", float(before != now))


@register("fit_quality", needs=("fits",), effect=False)
def fit_quality(ctx):
    """The solver's report: converged (1/0), iterations, gradient norm, final training loss."""
    out = ctx.output
    yield Row("converged", "converged", float(bool(out.converged)))
    raw = out.raw
    for attr in ("iterations", "grad_norm"):
        value = getattr(raw, attr, None)
        if value is not None and np.ndim(value) == 0:
            yield Row(attr, attr, float(value))
    loss = getattr(raw, "final_loss", None)
    if loss is not None:
        yield Row("final_loss", "final_loss", float(np.mean(loss)))


@register("weights", needs=("fits",), effect=False)
def weights(ctx):
    """The clone-robust weights a weighted estimator used (nothing for unweighted ones)."""
    w = ctx.output.weights
    if w is None:
        return
    alts = ctx.alternatives
    for i, v in enumerate(np.asarray(w, dtype=float)):
        yield Row(i, alternative_label(alts, i), float(v))
