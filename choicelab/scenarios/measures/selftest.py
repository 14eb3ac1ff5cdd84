"""An infrastructure check for the runner: sleeps, burns CPU, emits seeded numbers, raises on request."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from choicelab.scenarios.measures import Row, register


class SelftestOptions(BaseModel):
    """Options of ``selftest``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sleep: float = Field(0.0, ge=0)
    work: int = Field(0, ge=0)
    fail_seeds: list[int] = []
    values: int = Field(3, ge=1)


@register("selftest", per="run", params=SelftestOptions, needs=("data-none",), effect=False)
def selftest(ctx):
    """Sleep ``sleep`` s, run ``work`` iterations of a pure-Python LCG (no BLAS), emit ``values`` seeded draws."""
    opts = ctx.params
    if opts.sleep:
        time.sleep(opts.sleep)
    acc = ctx.seed
    for _ in range(opts.work):
        acc = (6364136223846793005 * acc + 1442695040888963407) % (1 << 64)
    if ctx.seed in opts.fail_seeds:
        raise RuntimeError(f"selftest: seed {ctx.seed} is listed in measures.options.selftest.fail_seeds")
    for k in range(opts.values):
        yield Row(k, "uniform draw", float(ctx.rng.random()), condition="default", estimator="selftest")
    yield Row("checksum", "LCG state mod 1000003", float(acc % 1000003), condition="default", estimator="selftest")
    ctx.add_blob("draws", ctx.rng.standard_normal(5))
