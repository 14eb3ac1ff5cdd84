"""Plugin dispatch overhead: an estimator called through the registry against the same function called directly.

Usage: ``.venv/bin/python benchmarks/bench_plugins.py [--quick]``; writes benchmarks/results/plugins.md.

A plugin ``fn(P) -> scores`` (Copeland scores) registered with ``@choicelab.estimators.register``
and fitted through ``get_estimator(name).fit(instance)`` (argument checks, the matrix of the
instance, the output record: order, winners) against calling ``fn(P)`` directly; and a built-in
(``borda``) through the registry against ``choicelab.estimators.voting.borda(P)``. Best of 7
repeats of a loop; ratio = registry time / direct time; overhead = the difference per call.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from choicelab import sim  # noqa: E402
from choicelab.estimators.registry import get_estimator, register, unregister  # noqa: E402
from choicelab.estimators.voting import borda  # noqa: E402

HERE = Path(__file__).resolve().parent


def copeland_scores(P):
    """Copeland score: majority wins, 1/2 per majority tie."""
    P = np.asarray(P)
    return (P > 0.5).sum(axis=1) + 0.5 * (P == 0.5).sum(axis=1)


def best_of(fn, calls: int, repeats: int = 7) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (does not write results)")
    args = ap.parse_args(argv)
    register("bench_copeland", kind="rule")(copeland_scores)
    rows = []
    try:
        for m in (8, 64, 512):
            rng = np.random.default_rng(m)
            pop = sim.Population([sim.AnnotatorType(1.0, sim.ideal_point_reward([0.5, 0.5]))])
            alts = sim.uniform_alternatives(sim.Box([0, 0], [1, 1]), m, rng=rng)
            inst = sim.Instance(alts, pop, sim.Box([0, 0], [1, 1]))
            P = np.asarray(inst.P)
            calls = 20 if args.quick else max(20, 20000 // m)
            for label, direct, via in (
                (
                    "plugin fn(P) (Copeland)",
                    lambda: copeland_scores(P),
                    lambda: get_estimator("bench_copeland").fit(inst),
                ),
                ("built-in borda", lambda: borda(P), lambda: get_estimator("borda").fit(inst)),
            ):
                assert np.allclose(direct() if label.startswith("plugin") else direct().scores, via().scores)
                t_direct, t_via = best_of(direct, calls), best_of(via, calls)
                rows.append((label, m, t_direct, t_via))
    finally:
        unregister("bench_copeland")
    lines = [
        "## estimators: plugin dispatch overhead",
        "",
        "An estimator called through the registry (`get_estimator(name).fit(instance)`: argument checks, the "
        "instance's matrix, the output record with order and winners) against the same function called "
        "directly on P. Best of 7 loops; ratio = registry / direct; overhead = extra microseconds per call.",
        "",
        "| estimator | m | direct (µs) | registry (µs) | ratio | overhead (µs/call) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, m, t_d, t_v in rows:
        lines.append(
            f"| {label} | {m} | {1e6 * t_d:.1f} | {1e6 * t_v:.1f} | {t_v / t_d:.2f}x | {1e6 * (t_v - t_d):.1f} |"
        )
    lines += [
        "",
        f"Command: `.venv/bin/python benchmarks/bench_plugins.py`, run {_dt.date.today().isoformat()} on "
        f"{platform.machine()} (Python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} "
        f"cores), 1-minute load average {os.getloadavg()[0]:.1f}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        out = HERE / "results" / "plugins.md"
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
