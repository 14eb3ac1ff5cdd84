"""Axiom checker: fast fits against the brute-force re-checks, registry overhead, table runtime.

Usage: ``.venv/bin/python benchmarks/bench_axioms.py [--quick]``; writes
``benchmarks/results/axioms.md`` (not with ``--quick``, a smoke run).

Table 1: seconds per fit of each estimator through the registry (what the checks call) and
of its independent brute-force recomputation (``choicelab.axioms.search.brute_outcome``: scipy
BFGS for the Bradley-Terry MLEs, direct enumeration for the rules) on the same random
preference matrices; ratio = brute / registry (how much the fast path buys per fit), and the
largest score difference between the two. Table 2: registry overhead, ``get_estimator("mle").fit``
against ``bt_mle`` called directly. Table 3: wall time of ``verify`` for the whole table,
quick and full.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _matrix(rng, m):
    u = rng.normal(size=(3, m)) * 1.5
    alpha = rng.dirichlet(np.ones(3))
    P = sum(a * (1.0 / (1.0 + np.exp(-(r[:, None] - r[None, :])))) for a, r in zip(alpha, u))
    np.fill_diagonal(P, 0.5)
    return P


def _best_of(fn, repeat):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def fast_vs_brute(sizes, n_instances, repeat):
    from choicelab.axioms.search import brute_outcome
    from choicelab.estimators.registry import get_estimator

    rows = []
    for name in ("mle", "weighted_mle", "borda", "copeland", "schulze", "ranked_pairs", "kemeny", "maximal_lottery"):
        for m in sizes:
            rng = np.random.default_rng(m)
            mats = [_matrix(rng, m) for _ in range(n_instances)]
            weights = [rng.dirichlet(np.ones(m)) if name == "weighted_mle" else None for _ in mats]
            est = get_estimator(name)
            est.fit(mats[0], weights=weights[0]), brute_outcome(name, mats[0], weights[0])  # warm-up: imports
            t_fast = sum(_best_of(lambda P=P, w=w: est.fit(P, weights=w), repeat) for P, w in zip(mats, weights))
            t_brute = sum(_best_of(lambda P=P, w=w: brute_outcome(name, P, w), 1) for P, w in zip(mats, weights))
            diff = max(
                float(np.max(np.abs(est.fit(P, weights=w).scores - brute_outcome(name, P, w).scores)))
                for P, w in zip(mats, weights)
            )
            rows.append((name, m, t_fast / n_instances, t_brute / n_instances, t_brute / t_fast, diff))
            print(rows[-1], flush=True)
    return rows


def registry_overhead(sizes, repeat):
    from choicelab.estimators.bt import bt_mle
    from choicelab.estimators.registry import get_estimator
    from choicelab.sim.instance import Instance

    rows = []
    for m in sizes:
        P = _matrix(np.random.default_rng(100 + m), m)
        inst = Instance.from_matrix(P)
        est = get_estimator("mle")
        t_reg = _best_of(lambda: est.fit(inst), repeat)
        t_dir = _best_of(lambda: bt_mle(P), repeat)
        rows.append((m, t_dir, t_reg, t_reg / t_dir))
        print(rows[-1], flush=True)
    return rows


def verify_runtime(modes):
    from choicelab.axioms.api import theory_cells, verify

    rows = []
    for quick in modes:
        t = time.perf_counter()
        out = verify(quick=quick, rng=0, progress=False)  # the whole table, as `choicelab verify` runs it
        elapsed = time.perf_counter() - t
        assert len(out) == len(theory_cells())
        rows.append(
            (
                "quick" if quick else "full",
                len(out),
                sum(v.agrees is True for v in out),
                sum(v.agrees is False for v in out),
                sum(v.agrees is None for v in out),
                elapsed,
            )
        )
        print(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="tiny smoke run; writes nothing")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    from choicelab.scenarios.runner import _one_thread_inline

    _one_thread_inline()  # as `choicelab verify` does: tiny fits, one BLAS / torch thread
    load0 = os.getloadavg()[0]
    if args.quick:
        fast_vs_brute((3,), 1, 1)
        registry_overhead((5,), 1)
        verify_runtime((True,))
        return 0
    t1 = fast_vs_brute((3, 6, 8), 5, 3)
    t2 = registry_overhead((5, 50, 300), 20)
    t3 = verify_runtime((True, False))
    load1 = os.getloadavg()[0]
    lines = [
        "<!-- axioms -->",
        "## axioms: the checker's fast fits, brute-force re-checks and table runtime",
        "",
        "Per fit: seconds through the registry (best of 3) and for the independent brute-force "
        "re-check of `choicelab.axioms.search.brute_outcome` (one run); ratio = brute / registry "
        "(higher = the fast path is faster); max |diff| = largest score difference between the two. "
        "Random three-type BT mixtures; Eq. 2 weights Dirichlet(1); mean over 5 matrices.",
        "",
        "| estimator | m | registry (s) | brute force (s) | ratio | max abs diff |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, m, tf, tb, ratio, diff in t1:
        lines.append(f"| {name} | {m} | {tf:.3g} | {tb:.3g} | {ratio:.1f}x | {diff:.1e} |")
    lines += [
        "",
        "Registry overhead: `get_estimator('mle').fit(instance)` against `bt_mle(P)` (best of 20); "
        "ratio = registry / direct (1.0 = no overhead).",
        "",
        "| m | bt_mle (s) | registry (s) | ratio |",
        "|---:|---:|---:|---:|",
    ]
    for m, td, tr, ratio in t2:
        lines.append(f"| {m} | {td:.3g} | {tr:.3g} | {ratio:.2f} |")
    lines += [
        "",
        "`verify()` wall time for the whole table (`choicelab verify [--quick]`; one run each): the "
        "theory cells and the cells measured without a verdict (A1 on every reward estimator).",
        "",
        "| mode | cells | agree with theory | contradict it | no verdict | wall time (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode, n, agree, bad, none, el in t3:
        lines.append(f"| {mode} | {n} | {agree} | {bad} | {none} | {el:.1f} |")
    lines += [
        "",
        f"Command: `.venv/bin/python benchmarks/bench_axioms.py`, run {_dt.date.today().isoformat()} on "
        f"{platform.machine()} ({os.cpu_count()} cores, Python {platform.python_version()}, numpy "
        f"{np.__version__}); machine shared with other jobs, 1-min load average {load0:.1f} at start, "
        f"{load1:.1f} at end.",
        "<!-- /axioms -->",
        "",
    ]
    out = HERE / "results" / "axioms.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
