"""Exact Bradley-Terry MLE on sampled comparisons (contract §2, sampled data): speed against choix.

Usage: ``.venv/bin/python benchmarks/bench_bt_sparse.py [--quick] [--cap SECONDS]``

Instances: m alternatives with latent rewards u ~ N(0, 1); n comparisons, each an unordered
pair of distinct alternatives drawn uniformly, the winner drawn from Bradley-Terry. Grid:
n in {1e5, 1e6} x m in {1e3, 1e4}.

choicelab: ``bt_mle_comparisons(comps, m, lam)`` (sparse win counts and Newton-CG), timed from
the Comparisons arrays, best of ``--repeat`` runs. Baselines, one run each in a subprocess
stopped after ``--cap`` seconds, timed from choix's input format (a list of (winner, loser)
pairs built before the clock starts):
  * lam = 0 (only where the comparison graph is strongly connected; otherwise the MLE does not
    exist and the row says so): both of choix's solvers of the unregularized MLE,
    ``choix.ilsr_pairwise(m, data, alpha=0)`` and ``choix.opt_pairwise(m, data, alpha=0)``, so
    the ratio against choix's faster one can be read off;
  * lam = 0.1: ``choix.opt_pairwise(m, data, alpha=lam/2)`` (choix penalises alpha ||r||^2,
    the contract uses lam/2 ||r||^2), the one choix solver of this objective (ilsr's alpha is a
    pseudo-count prior, a different objective), with choix's default tolerance.
A baseline is not started when it already hit the cap on a smaller instance (same m, fewer n,
or same n, fewer m). Ratio = baseline time / choicelab time at the same optimum; max |diff|
compares the two reward vectors (both centred: choix centres ilsr's output, and at lam > 0
the optimum has sum r = 0, contract P4). Results go to ``benchmarks/results/bt.md`` (section
"sparse"; not written by ``--quick``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_bt_dense import _write_section  # noqa: E402  (one results file, two sections)

LAM = 0.1


def make_comparisons(m, n, seed):
    """(a, b, winner) arrays of n BT comparisons over m alternatives."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=m)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m  # distinct from a, uniform over the others
    a_wins = rng.random(n) < 1.0 / (1.0 + np.exp(-(u[a] - u[b])))
    return a, b, np.where(a_wins, a, b)


def _worker(spec):
    import choix

    a, b, winner = make_comparisons(spec["m"], spec["n"], spec["seed"])
    loser = np.where(winner == a, b, a)
    data = list(zip(winner.tolist(), loser.tolist()))
    t0 = time.perf_counter()
    if spec["kind"] == "ilsr":
        r = choix.ilsr_pairwise(spec["m"], data, alpha=0.0, max_iter=1000)
    elif spec["kind"] == "opt":
        r = choix.opt_pairwise(spec["m"], data, alpha=spec["lam"] / 2)
    else:
        raise ValueError(spec["kind"])
    seconds = time.perf_counter() - t0
    np.save(spec["out"], r)
    return seconds


def run_baseline(spec, cap):
    with tempfile.TemporaryDirectory() as tmp:
        spec = dict(spec, out=str(Path(tmp) / "r.npy"))
        try:
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True, timeout=cap
            )
        except subprocess.TimeoutExpired:
            return None, None
        if proc.returncode != 0:
            raise RuntimeError(f"baseline {spec['kind']} failed:\n{proc.stderr[-2000:]}")
        return float(proc.stdout.strip().splitlines()[-1]), np.load(spec["out"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny smoke run; nothing written")
    ap.add_argument("--cap", type=float, default=120.0, help="seconds before a baseline is stopped")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(_worker(json.loads(args.worker)))
        return 0

    from scipy.sparse.csgraph import connected_components

    from choicelab.estimators.bt import bt_mle_comparisons
    from choicelab.sim.data import Comparisons, win_counts

    grid = (
        [(200, 5000), (2000, 20000)] if args.quick else [(1000, 10**5), (10**4, 10**5), (1000, 10**6), (10**4, 10**6)]
    )
    load0 = os.getloadavg()[0]
    capped = {}  # (kind, lam) -> (m, n) instances where that baseline hit the cap
    rows = []
    for m, n in grid:
        seed = m + n
        a, b, winner = make_comparisons(m, n, seed)
        comps = Comparisons(a, b, winner, -np.ones(n, dtype=np.int64))
        n_comp = connected_components(win_counts(comps, m, sparse=True) > 0, directed=True, connection="strong")[0]
        fits = {}
        for kind, lam in (("ilsr", 0.0), ("opt", 0.0), ("opt", LAM)):
            if lam == 0.0 and n_comp > 1:
                rows.append(
                    (
                        m,
                        n,
                        lam,
                        None,
                        None,
                        kind,
                        "n/a",
                        None,
                        f"graph has {n_comp} strongly connected components: the unregularized MLE does not exist",
                    )
                )
                continue
            if lam not in fits:
                best, fit = float("inf"), None
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    fit = bt_mle_comparisons(comps, m, lam=lam)
                    best = min(best, time.perf_counter() - t0)
                assert fit.converged, fit.message
                fits[lam] = (best, fit)
            best, fit = fits[lam]
            smaller = [(mm, nn) for mm, nn in capped.get((kind, lam), []) if mm <= m and nn <= n]
            if smaller:
                tb, rb, note = (
                    None,
                    None,
                    f"not run: > {args.cap:.0f} s already at m={smaller[0][0]}, n={smaller[0][1]}",
                )
            else:
                tb, rb = run_baseline(dict(kind=kind, m=m, n=n, seed=seed, lam=lam), args.cap)
                note = "" if tb is not None else f"stopped at {args.cap:.0f} s"
                if tb is None:
                    capped.setdefault((kind, lam), []).append((m, n))
            diff = None if rb is None else float(np.max(np.abs(rb - fit.rewards)))
            rows.append((m, n, lam, best, fit.iterations, kind, tb, diff, note))
            print(rows[-1], flush=True)
    load1 = os.getloadavg()[0]

    def name(kind, lam):
        return f"choix {kind}_pairwise (alpha={lam / 2:g})"

    lines = [
        "## bt: exact Bradley-Terry MLE, sampled comparisons (sparse)",
        "",
        "Ratio = choix time / choicelab time at the same optimum (higher = choicelab faster). choicelab: "
        f"`bt_mle_comparisons` (sparse win counts + Newton-CG, tol 1e-10), best of {args.repeat}, timed from the "
        "comparison arrays; choix: one run in a subprocess with its default tolerances, timed from its list of "
        f"(winner, loser) pairs, stopped after {args.cap:.0f} s.",
        "",
        "| m | n | lam | choicelab (s) | Newton steps | baseline | baseline (s) | ratio | max abs diff | note |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for m, n, lam, t, it, kind, tb, d, note in rows:
        if t is None:
            lines.append(f"| {m} | {n} | {lam} | - | - | {name(kind, lam)} | - | - | - | {note} |")
            continue
        tb_s = f"{tb:.3g}" if tb is not None else (f"> {args.cap:.0f}" if "stopped" in note else "-")
        ratio = (
            f"{tb / t:.0f}x"
            if tb is not None
            else (f"> {args.cap / t:.0f}x" if "stopped" in note or "not run" in note else "-")
        )
        d_s = f"{d:.1e}" if d is not None else "-"
        lines.append(f"| {m} | {n} | {lam} | {t:.3g} | {it} | {name(kind, lam)} | {tb_s} | {ratio} | {d_s} | {note} |")
    lines += [
        "",
        f"Command: `.venv/bin/python benchmarks/bench_bt_sparse.py`, run {_dt.date.today().isoformat()} on "
        f"{platform.machine()} ({os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}); "
        f"machine shared with other jobs, 1-min load average {load0:.1f} at start, {load1:.1f} at end.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        _write_section(text, "sparse")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
