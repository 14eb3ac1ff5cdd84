"""Axioms as measures: every id of the theory table (A1-A8, T1, P4-P8, X1-X4) and the A1 curve.

An axiom measure runs :func:`choicelab.axioms.check` for the fit's estimator on the fit's
condition instance and yields its :class:`~choicelab.axioms.base.Verdict` (verdicts table, with
the witness) — theory against measurement on the scenario's own world.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from choicelab.scenarios.measures import Row, register, verdict


class AxiomOptions(BaseModel):
    """Options of an axiom measure."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    quick: bool = True
    search: bool | None = Field(
        None,
        description="let the check search instances (default: when the scenario has no data, i.e. data.kind = 'none')",
    )

    def problems(self, spec):
        if self.search is False and spec.data.kind == "none":
            return [
                (
                    "search",
                    self.search,
                    "an axiom measure without search needs the scenario's instance; "
                    "set search = true or give the scenario a world and data",
                )
            ]
        return []


def _axiom_measure(axiom_id: str):
    def measure(ctx):
        from choicelab import axioms

        search = ctx.params.search if ctx.params.search is not None else ctx.conditions[ctx.condition].instance is None
        instance = None if search else ctx.conditions[ctx.condition].instance
        try:
            yield axioms.check(
                axiom_id, estimator=ctx.estimator, instance=instance, rng=ctx.rng, quick=ctx.params.quick
            )
        except Exception as exc:  # a check that cannot run on this estimator must not hide the other cells
            message = f"{type(exc).__name__}: {exc}"
            yield Row("error", message[:300], 1.0)
            yield verdict(axiom_id, ctx.estimator, "inconclusive", float("nan"), {"error": message})

    measure.__doc__ = f"Contract {axiom_id} checked on this fit's instance (theory vs measurement, with a witness)."
    return measure


def _register_axioms() -> None:
    from choicelab.axioms.base import list_axioms

    for axiom in list_axioms():
        register(
            axiom.id,
            params=AxiomOptions,
            summary="mode",
            fits=False,
            description=f"contract {axiom.id} ({axiom.name}): theory vs measurement with a witness",
        )(_axiom_measure(axiom.id))


_register_axioms()


class A1CurveOptions(BaseModel):
    """Options of ``a1_curve``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    eps: list[float] = Field(
        default_factory=lambda: [float(f"{10 ** (-1 - 0.5 * k):.12g}") for k in range(7)], min_length=2
    )
    indices: list[int] | None = None
    quick: bool = True


@register(
    "a1_curve", params=A1CurveOptions, needs=("positions", "population", "region", "reward", "instance"), fits=False
)
def a1_curve(ctx):
    """Delta(eps) of contract A1: the largest reward move when an eps-clone joins (item = eps); slope, verdict."""
    from choicelab.axioms.clones import a1_curve as curve
    from choicelab.axioms.clones import a1_verdict

    opts = ctx.params
    inst = ctx.conditions[ctx.condition].instance
    res = curve(ctx.estimator, inst, eps_grid=opts.eps, indices=opts.indices, rng=ctx.rng, quick=opts.quick)
    eps, delta = np.asarray(res["eps"], dtype=float), np.asarray(res["delta"], dtype=float)
    for e, d in zip(eps, delta):
        yield Row(float(e), f"eps={e:.3g}", float(d))
    outcome, slope = a1_verdict(eps, delta)
    yield Row("slope", "log-log slope", float(slope))
    yield Row("converged", "converged", float(res["converged"]))
    witness = None
    if outcome == "violated":
        witness = {
            "instance": inst.to_dict(),
            "eps": eps.tolist(),
            "delta": delta.tolist(),
            "worst_index": res.get("worst_index"),
        }
    yield verdict("A1", ctx.estimator, outcome, float(delta[np.argmin(eps)]), witness)
