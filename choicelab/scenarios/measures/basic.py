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


@register("scores")
def scores(ctx):
    """The estimator's score of every alternative (rewards, or a voting rule's scores), clones included."""
    alts = ctx.alternatives
    for i, s in enumerate(np.asarray(ctx.output.scores, dtype=float)):
        yield Row(i, alternative_label(alts, i), float(s))


@register("rank")
def rank(ctx):
    """Position of every alternative in the estimator's order (1 = best; ties keep index order)."""
    alts = ctx.alternatives
    pos = np.empty(alts.m, dtype=np.int64)
    pos[np.asarray(ctx.output.order)] = np.arange(1, alts.m + 1)
    for i in range(alts.m):
        yield Row(i, alternative_label(alts, i), float(pos[i]))


@register("top_item", summary="mode")
def top_item(ctx):
    """The estimator's best alternative with clones collapsed into their original (value = its index)."""
    alts = ctx.alternatives
    top = int(_origin(alts)[int(np.asarray(ctx.output.order)[0])])
    yield Row("top", str(alts.labels[top]), float(top))


@register("topic_rewards", needs=("topics",))
def topic_rewards(ctx):
    """Mean score of each topic's original alternatives ([PSZ] case study)."""
    alts = ctx.alternatives
    labels = np.asarray([str(x) for x in alts.labels])
    originals = alts.clone_of < 0
    s = np.asarray(ctx.output.scores, dtype=float)
    for topic in ctx.world.topics:
        members = originals & (labels == topic)
        yield Row(topic, topic, float(s[members].mean()))


@register("top_topic", needs=("topics",), summary="mode")
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
    """Options of ``kendall_tau``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    reference: str = "mle"

    def problems(self, spec):
        if self.reference not in spec.estimators.names:
            return [("reference", self.reference, f"must be one of estimators.names ({', '.join(spec.estimators.names)})")]
        return []


def kendall_tau_value(x, y) -> float:
    """Kendall's tau-b of two score vectors (NaN when either is constant)."""
    from scipy.stats import kendalltau

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(kendalltau(x, y).statistic)


@register("kendall_tau", params=KendallTauOptions)
def kendall_tau(ctx):
    """Kendall's tau between this estimator's and the ``reference`` estimator's scores on the originals."""
    ref = ctx.params.reference
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
            return [("baseline", self.baseline, f"must be one of conditions.names ({', '.join(spec.conditions.names)})")]
        return []


@register("reward_change", params=RewardChangeOptions, needs=("conditions>=2",))
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


@register("fit_quality")
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


@register("weights")
def weights(ctx):
    """The clone-robust weights a weighted estimator used (nothing for unweighted ones)."""
    w = ctx.output.weights
    if w is None:
        return
    alts = ctx.alternatives
    for i, v in enumerate(np.asarray(w, dtype=float)):
        yield Row(i, alternative_label(alts, i), float(v))
