"""Overhead of the composed-experiment runner against calling the estimators directly.

Usage: ``.venv/bin/python benchmarks/bench_experiment_overhead.py [--quick]``; writes
benchmarks/results/experiment.md.

The work is the ``clone-sweep`` built-in (8 uniform alternatives in the unit square, three
ideal-point types, exact clones of alternative 0 swept over 0, 1, 2, 4, representative data,
estimators mle, weighted_mle and borda, measures scores and top_item), and the same scenario with
m = 64 alternatives (heavier fits, the same bookkeeping). Three ways, each on the same runs:

* **direct** (the baseline): a plain Python loop calling the library functions by hand: build the
  world with ``choicelab.sim``, ``preference_matrix``, exact Voronoi weights, ``bt_mle`` twice and
  ``borda``, then the top item; no registry, no validation, no store;
* **run_task**: the runner's unit of work, ``tasks.run_task("experiment", params, seed)``
  (parameters re-validated by pydantic, conditions, estimator registry, measure registry, rows);
* **run_batch**: the whole ``run_batch`` call, inline (``workers=1``), into a fresh store (also
  run ids, the batch row, one transaction per run).

Ratios are time / direct time; ms/run of overhead = (time - direct) / runs.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from choicelab import sim  # noqa: E402
from choicelab.estimators.bt import bt_mle  # noqa: E402
from choicelab.estimators.voting import borda  # noqa: E402
from choicelab.estimators.weights import voronoi_weights  # noqa: E402
from choicelab.scenarios.runner import run_batch  # noqa: E402
from choicelab.scenarios.spec import builtin_path, expand, parse_scenario  # noqa: E402
from choicelab.scenarios.tasks import run_task  # noqa: E402

HERE = Path(__file__).resolve().parent
TYPES = (([0.25, 0.25], 0.4), ([0.75, 0.5], 0.35), ([0.4, 0.85], 0.25))


def _scenario(m: int, seeds: int):
    text = builtin_path("clone-sweep").read_text().replace("m = 8", f"m = {m}").replace("seeds = 3", f"seeds = {seeds}")
    return parse_scenario(text, builtin_path("clone-sweep"))


def direct(runs, m: int) -> float:
    """The baseline: the same numbers computed by hand (see the module docstring)."""
    region = sim.Box([0.0, 0.0], [1.0, 1.0])
    pop = sim.Population([sim.AnnotatorType(s, sim.ideal_point_reward(c)) for c, s in TYPES], beta=3.0)
    t0 = time.perf_counter()
    for run in runs:
        rng = np.random.default_rng(run.seed)
        alts = sim.uniform_alternatives(region, m, rng=rng)
        count = run.point["world.clones.count"]
        if count:
            alts = sim.add_exact_clones(alts, 0, count)
        P = pop.preference_matrix(alts.X)
        w = voronoi_weights(alts.X, region, rng=rng)
        origin = np.where(alts.clone_of >= 0, alts.clone_of, np.arange(alts.m))
        for scores in (bt_mle(P, lam=0.1).rewards, bt_mle(P, weights=w, lam=0.1).rewards, borda(P).scores):
            _ = origin[int(np.argmax(scores))]
    return time.perf_counter() - t0


def via_run_task(runs) -> float:
    t0 = time.perf_counter()
    for run in runs:
        run_task(run.kind, run.params, run.seed)
    return time.perf_counter() - t0


def via_run_batch(scenario) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = run_batch(scenario, Path(tmp) / "b.sqlite", workers=1, progress=False)
        elapsed = time.perf_counter() - t0
    assert summary.done == summary.total and not summary.errors
    return elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (does not write results)")
    args = ap.parse_args(argv)
    seeds = 2 if args.quick else 25
    rows = []
    for m in (8, 64):
        sc = _scenario(m, seeds)
        runs = expand(sc)
        via_run_task(runs[:4])  # warm imports and caches before timing anything
        direct(runs[:4], m)
        best = {"direct": np.inf, "run_task": np.inf, "run_batch": np.inf}
        for _ in range(1 if args.quick else 3):  # best of 3: the machine is shared
            best["direct"] = min(best["direct"], direct(runs, m))
            best["run_task"] = min(best["run_task"], via_run_task(runs))
            best["run_batch"] = min(best["run_batch"], via_run_batch(sc))
        base = best["direct"]
        for how in ("direct", "run_task", "run_batch"):
            rows.append(
                {
                    "m": m,
                    "runs": len(runs),
                    "how": how,
                    "seconds": best[how],
                    "ratio": best[how] / base,
                    "overhead_ms": 1e3 * (best[how] - base) / len(runs),
                }
            )
    lines = [
        "## scenarios: experiment runner overhead against direct calls",
        "",
        "The `clone-sweep` built-in (3 estimators, 2 measures, clone count swept over 0, 1, 2, 4) timed three "
        "ways on the same runs: **direct**, a hand-written loop calling `sim`, `voronoi_weights`, `bt_mle` "
        "and `borda` (the baseline); **run_task**, the runner's unit of work (pydantic re-validation, "
        "conditions, estimator and measure registries, result rows); **run_batch**, the whole inline batch "
        "into a fresh SQLite store. Best of 3; ratio = time / direct time; overhead = extra ms per run.",
        "",
        "| m | runs | how | time (s) | ratio vs direct | overhead (ms/run) |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['m']} | {r['runs']} | {r['how']} | {r['seconds']:.3f} | {r['ratio']:.2f}x | {r['overhead_ms']:.2f} |"
        )
    lines += [
        "",
        f"Command: `.venv/bin/python benchmarks/bench_experiment_overhead.py`, run "
        f"{_dt.date.today().isoformat()} on {platform.machine()} (Python {platform.python_version()}, "
        f"numpy {np.__version__}, {os.cpu_count()} cores), 1-minute load average {os.getloadavg()[0]:.1f}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        out = HERE / "results" / "experiment.md"
        out.parent.mkdir(exist_ok=True)
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
