"""Plackett-Luce MLE, linear-reward MLE and Kemeny: speed against baselines in the same run.

Usage: ``.venv/bin/python benchmarks/bench_pl_linear_voting.py [--quick] [--repeat R]``

Table 1, ``pl_mle`` (full rankings sampled from PL with N(0, 1) utilities, lam = 0.1, w = 1)
against
  * ``choix.opt_rankings`` (Newton-CG, tol 1e-10; choix's penalty is ``alpha ||r||^2``, whatever
    its docstring's "variance 1/alpha" suggests, so ``alpha = lam / 2`` gives the same objective
    ``-loglik + lam/2 ||r||^2``), at ``n = 200`` only (it loops over choices in Python: about
    2 minutes at m = 10, n = 2000 and 7 at m = 30, n = 2000 on the reference machine), and
  * the cvxpy reference ``pl_mle_cvxpy`` (Clarabel, 1e-12 tolerances) on the smaller sizes.
Table 2, ``linear_mle`` on sampled comparisons (10 % ties) against ``linear_mle_cvxpy``.
Table 3, ``kemeny``: enumeration of all m! rankings against the integer program (HiGHS).

Ratio = baseline time / choicelab time on the same instance (> 1: choicelab is faster);
"max |diff|" is the largest reward (or theta) difference between the two. choicelab times are
the best of ``--repeat`` runs, baselines run once. Results go to
``benchmarks/results/pl_linear_voting.md`` (not written by ``--quick``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
RESULTS = HERE / "results" / "pl_linear_voting.md"


def best_time(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def progress(*parts):
    print("...", *parts, file=sys.stderr, flush=True)


def once(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def pl_table(sizes, cvxpy_max_n, choix_max_n, repeat):
    import choix

    from choicelab.estimators.plackett_luce import pl_mle
    from choicelab.estimators.reference import pl_mle_cvxpy
    from choicelab.sim.data import Rankings

    rows = []
    for m, n in sizes:
        rng = np.random.default_rng([m, n])
        u = rng.normal(size=m)
        orders = np.argsort(-(u + rng.gumbel(size=(n, m))), axis=1)
        rk = Rankings(tuple(tuple((int(x),) for x in o) for o in orders), np.ones(n, dtype=np.int64), m)
        progress("pl", m, n)
        t_cl, fit = best_time(lambda: pl_mle(rk, lam=0.1), repeat)
        rows.append(("pl_mle", m, n, t_cl, 1.0, 0.0))
        if n <= choix_max_n:
            data = [list(map(int, o)) for o in orders]
            t_ch, r_ch = once(lambda: choix.opt_rankings(m, data, alpha=0.05, method="Newton-CG", tol=1e-10))
            rows.append(("choix.opt_rankings (Newton-CG)", m, n, t_ch, t_ch / t_cl, np.abs(r_ch - fit.rewards).max()))
        if n <= cvxpy_max_n:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t_cv, ref = once(lambda: pl_mle_cvxpy(rk, m, lam=0.1))
            rows.append(("pl_mle_cvxpy (Clarabel)", m, n, t_cv, t_cv / t_cl, np.abs(ref.rewards - fit.rewards).max()))
    return rows


def linear_table(sizes, repeat):
    from choicelab.estimators.linear import linear_mle
    from choicelab.estimators.reference import linear_mle_cvxpy
    from choicelab.sim.data import Comparisons

    rows = []
    for m, d, n in sizes:
        rng = np.random.default_rng([m, d, n])
        X = rng.normal(size=(m, d))
        theta = rng.normal(size=d) / np.sqrt(d)
        a = rng.integers(0, m, n)
        b = (a + rng.integers(1, m, n)) % m
        win = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-(X[a] - X[b]) @ theta)), a, b)
        win[rng.uniform(size=n) < 0.1] = -1
        comps = Comparisons(a, b, win, -np.ones(n, dtype=np.int64))
        progress("linear", m, d, n)
        t_cl, fit = best_time(lambda: linear_mle(X, comps, lam=0.1), repeat)
        rows.append(("linear_mle", f"m={m}, d={d}", n, t_cl, 1.0, 0.0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_cv, ref = once(lambda: linear_mle_cvxpy(X, comps, lam=0.1))
        rows.append(
            (
                "linear_mle_cvxpy (Clarabel)",
                f"m={m}, d={d}",
                n,
                t_cv,
                t_cv / t_cl,
                np.abs(ref.info["theta"] - fit.theta).max(),
            )
        )
    return rows


def kemeny_table(ms, repeat):
    from choicelab.estimators.voting import kemeny

    rows = []
    for m in ms:
        rng = np.random.default_rng(m)
        P = np.full((m, m), 0.5)
        iu = np.triu_indices(m, 1)
        P[iu] = rng.uniform(0.05, 0.95, size=iu[0].size)
        P.T[iu] = 1 - P[iu]
        t_e, enum = best_time(lambda: kemeny(P, method="enumerate"), repeat)
        t_i, ip = best_time(lambda: kemeny(P, method="milp"), repeat)
        same = enum.info["kemeny_score"] - ip.info["kemeny_score"]
        rows.append(("kemeny enumerate (baseline)", m, "", t_e, 1.0, 0.0))
        rows.append(("kemeny milp", m, "", t_i, t_e / t_i, abs(same)))
    return rows


def table(title, head, rows):
    lines = [
        f"**{title}**",
        "",
        f"| method | {head} | n | time (s) | ratio | max abs diff |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, size, n, t, ratio, diff in rows:
        lines.append(f"| {name} | {size} | {n} | {t:.4g} | {ratio:.3g}x | {diff:.1e} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny smoke run; writes no results file")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if args.quick:
        pl_sizes, cv_max, lin_sizes, k_ms, repeat = [(5, 50)], 50, [(10, 3, 100)], [5], 1
    else:
        pl_sizes, cv_max = [(10, 200), (10, 2000), (30, 2000), (30, 20000)], 200
        lin_sizes, k_ms, repeat = [(50, 10, 2000), (200, 20, 20000)], [6, 7, 8, 9], args.repeat
    parts = [
        table(
            "Plackett-Luce, full rankings, lam = 0.1 (ratio = baseline time / pl_mle time)",
            "m",
            pl_table(pl_sizes, cv_max, cv_max, repeat),
        ),
        table(
            "Linear reward, sampled comparisons, lam = 0.1 (ratio = cvxpy time / linear_mle time)",
            "size",
            linear_table(lin_sizes, repeat),
        ),
        table(
            "Kemeny on a random P (ratio = enumeration time / milp time; diff = optimal-score gap)",
            "m",
            kemeny_table(k_ms, repeat),
        ),
    ]
    cmd = "`.venv/bin/python benchmarks/bench_pl_linear_voting.py`"
    text = (
        "## estimators: Plackett-Luce, linear reward, Kemeny\n\n"
        + "\n\n".join(parts)
        + f"\n\nCommand: {cmd}, run {_dt.date.today().isoformat()} on {platform.machine()} "
        f"(Python {platform.python_version()}, numpy {np.__version__}), machine shared with other jobs; "
        f"choicelab times best of {repeat}, baselines once.\n"
    )
    print(text)
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
