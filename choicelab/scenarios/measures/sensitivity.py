"""Measures of [XK]: the three-option experiment (X3), pairwise against K-tuples (X4), the X1 map.

These measures build their own data sets (``data.kind = "none"``): three options i, j, k of
which only (i, j) and (j, k) are trained, ``P_jk`` fixed and ``P_ij`` swept.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from choicelab.scenarios.measures import Row, register, verdict


class ThreeOptionOptions(BaseModel):
    """Options of the [XK] three-option measures."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    p_jk: float = Field(0.99, gt=0, lt=1)
    points: int = Field(9, ge=2)
    half_width: float = Field(3.0, gt=0)
    n_per_pair: int = Field(20000, ge=1)
    quick: bool = False


def _grid(opts):
    from choicelab.axioms.sensitivity import default_p_ij_grid

    return default_p_ij_grid(opts.p_jk, points=opts.points, half_width=opts.half_width)


@register("three_option", per="estimator", params=ThreeOptionOptions, needs=("data-none",))
def three_option(ctx):
    """Contract X3: the untrained pair's learned P_ik against the BT prediction, along a sweep of P_ij (item = P_ij)."""
    from choicelab.axioms import sensitivity as xs

    opts = ctx.params
    curves = xs.three_option_experiment(
        ctx.estimator,
        _grid(opts),
        opts.p_jk,
        rng=ctx.rng,
        n_per_pair=opts.n_per_pair,
        lam=ctx.spec.estimators.lam,
        quick=opts.quick,
    )
    for p, learned, closed in zip(curves.realised_p_ij, curves.learned_p_ik, curves.closed_form_p_ik):
        yield Row(f"{p:.6g}", "learned P_ik", float(learned))
        yield Row(f"closed_form:{p:.6g}", "BT prediction sigma(logit P_ij + logit P_jk)", float(closed))
    yield Row("max_error", "max |learned - predicted|", float(curves.max_error))
    yield Row("converged", "converged", float(np.all(curves.converged)))
    outcome = xs.x3_outcome(ctx.estimator, curves)[0]
    yield verdict("X3", ctx.estimator, outcome, curves.max_error, None)


@register("pairwise_vs_tuple", per="run", params=ThreeOptionOptions, needs=("data-none",))
def pairwise_vs_tuple(ctx):
    """Contract X4 (a measurement): the largest |dP/dP_ij| of chained pairwise BT against K = 3 tuples under PL."""
    from choicelab.axioms import sensitivity as xs

    opts = ctx.params
    x4 = xs.pairwise_vs_tuple_experiment(_grid(opts), opts.p_jk, n=opts.n_per_pair, lam=ctx.spec.estimators.lam)
    yield Row(
        "max_sensitivity",
        "largest |dP_ik/dP_ij|",
        float(x4["max_pairwise_sensitivity"]),
        condition="default",
        estimator="pairwise_bt",
    )
    yield Row(
        "max_sensitivity",
        "largest |dq_i|T/dP_ij|",
        float(x4["max_tuple_sensitivity"]),
        condition="default",
        estimator="tuple_pl",
    )
    yield Row("converged", "converged", float(all(x4["converged"])), condition="default", estimator="pairwise_bt")
    for p, pair, tup, closed in zip(x4["p_ij"], x4["pairwise_p_ik"], x4["tuple_q_i"], x4["closed_form_p_ik"]):
        yield Row(f"{p:.6g}", "chained pairwise P_ik", float(pair), condition="default", estimator="pairwise_bt")
        yield Row(f"{p:.6g}", "first-choice q_i|T", float(tup), condition="default", estimator="tuple_pl")
        yield Row(f"closed_form:{p:.6g}", "BT prediction", float(closed), condition="default", estimator="pairwise_bt")


class SensitivityMapOptions(BaseModel):
    """Options of ``sensitivity_map``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    points: int = Field(41, ge=2)


@register("sensitivity_map", per="run", params=SensitivityMapOptions)
def sensitivity_map(ctx):
    """Contract X1: dP_ik/dP_ij over a grid of (P_ij, P_jk) (item = "P_ij,P_jk")."""
    from choicelab.axioms.sensitivity import sensitivity_map as smap

    g = np.linspace(0.0, 1.0, ctx.params.points + 2)[1:-1]
    values = smap(g)
    for a, p_ij in enumerate(g):
        for b, p_jk in enumerate(g):
            yield Row(f"{p_ij:.6g},{p_jk:.6g}", "dP_ik/dP_ij", float(values[a, b]), condition="default", estimator="bt")
