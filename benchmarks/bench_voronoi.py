"""Monte Carlo Voronoi weights: throughput and peak memory of the nearest-neighbour backends.

Usage: ``.venv/bin/python benchmarks/bench_voronoi.py [--quick]``

Table 1 (the figure): samples per second of ``voronoi_weights(method="monte_carlo")`` (the
backend picked automatically per dimension, all cores) against two single-threaded baselines
measured in the same run on the same samples: a ``cKDTree`` query with ``workers=1`` and a
blocked float64 brute-force search (``||z||^2 - 2 z.x + ||x||^2``, argmin per block) with BLAS
limited to one thread (``OPENBLAS_NUM_THREADS=1`` in a subprocess). Points and samples are
uniform in the unit cube [0, 1]^d. Every measurement runs in its own subprocess, so its peak
memory is the growth of the process's maximum resident set during the call.

Table 2: the crossover between the library's two backends (KD-tree on all cores, blocked
float32 matrix products with float64 re-check of near-ties), which sets the rule used by
``method="auto"`` / ``"monte_carlo"`` in ``choicelab/estimators/weights.py``.

Table 3: the exact 2-D method (the one ``method="auto"`` uses for a 2-D box).

Slow baselines are stopped after ``--time-cap`` seconds (at least one chunk of 65536 samples);
their throughput is measured on the samples done. The library method always runs the full N.
Results go to ``benchmarks/results/voronoi.md`` (not written by ``--quick``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _worker(spec: dict) -> dict:
    """One measurement, run in a fresh subprocess."""
    from choicelab.estimators import weights as W
    from choicelab.sim import Box

    d, m, n, seed, cap = spec["d"], spec["m"], spec["n"], spec["seed"], spec["cap"]
    kind = spec["kind"]
    X = np.random.default_rng(seed).random((m, d))
    region = Box(np.zeros(d), np.ones(d))
    rng = np.random.default_rng(seed + 1)
    # warm up imports and code paths so that one-off costs stay out of the timing
    import scipy.spatial  # noqa: F401

    small = np.random.default_rng(99).random((10, d))
    W.voronoi_weights(small, region, method="kdtree", n_samples=1000, rng=0, warn_rel_stderr=1e9)
    W.voronoi_weights(small, region, method="brute", n_samples=1000, rng=0, warn_rel_stderr=1e9)
    if d == 2:
        W.voronoi_weights(small, region, method="exact")
    before = _maxrss_mib()
    t0 = time.perf_counter()
    done = 0
    backend = kind
    if kind == "auto":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", W.VoronoiResolutionWarning)
            est = W.voronoi_weights(X, region, method="monte_carlo", n_samples=n, rng=rng, full_output=True)
        done, backend = n, est.method
    elif kind == "exact2d":
        W.voronoi_weights(X, region, method="exact")
        done = m
    else:
        if kind == "kdtree1":
            nearest = W._kdtree_search(X, workers=1)
        elif kind == "brute1":
            nearest = _float64_brute(X)
        elif kind == "kdtree":
            nearest = W._kdtree_search(X)
        elif kind == "brute":
            nearest = W._brute_search(X, region)
        else:
            raise ValueError(f"unknown kind {kind!r}")
        counts = np.zeros(m, dtype=np.int64)
        while done < n and (done == 0 or time.perf_counter() - t0 < cap):
            b = min(W._SAMPLE_CHUNK, n - done)
            counts += np.bincount(nearest(region.sample(b, rng)), minlength=m)
            done += b
    seconds = time.perf_counter() - t0
    return {
        **spec,
        "backend": backend,
        "done": done,
        "seconds": seconds,
        "rate": done / seconds,
        "peak_mib": _maxrss_mib() - before,
        "rss_mib": _maxrss_mib(),
    }


def _float64_brute(X):
    """Plain blocked float64 search: the textbook ||z||^2 - 2 z.x + ||x||^2 argmin."""
    sq = np.einsum("ij,ij->i", X, X)
    rows = max(1, (1 << 22) // X.shape[0])

    def query(Z):
        out = np.empty(Z.shape[0], dtype=np.intp)
        for s in range(0, Z.shape[0], rows):
            zb = Z[s : s + rows]
            D = zb @ (-2.0 * X.T)
            D += sq
            D += np.einsum("ij,ij->i", zb, zb)[:, None]
            out[s : s + rows] = D.argmin(axis=1)
        return out

    return query


def _float32_agreement(d: int, m: int, n: int, seed: int = 0) -> dict:
    """How often unrepaired float32 disagrees with float64, and how often the library re-checks."""
    from choicelab.estimators import weights as W
    from choicelab.sim import Box

    X = np.random.default_rng(seed).random((m, d))
    region = Box(np.zeros(d), np.ones(d))
    Z = region.sample(n, np.random.default_rng(seed + 1))
    ref = _float64_brute(X)(Z)
    lib = W._brute_search(X, region)(Z)
    c = X.mean(axis=0)
    raw = (
        (Z - c).astype(np.float32) @ (-2 * (X - c).T).astype(np.float32)
        + np.einsum("ij,ij->i", X - c, X - c).astype(np.float32)
    ).argmin(axis=1)
    # count the rows the library sent to the float64 re-check by re-running its test
    calls = []
    orig = W._exact_nearest
    W._exact_nearest = lambda Zs, P: (calls.append(len(Zs)), orig(Zs, P))[1]
    try:
        W._brute_search(X, region)(Z)
    finally:
        W._exact_nearest = orig
    return {
        "d": d,
        "m": m,
        "n": n,
        "raw_f32_disagree": int(np.count_nonzero(raw != ref)),
        "lib_disagree": int(np.count_nonzero(lib != ref)),
        "rechecked": int(sum(calls)),
    }


def _run(spec: dict, one_thread: bool = False) -> dict:
    env = dict(os.environ, **(ONE_THREAD if one_thread else {}))
    res = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)], env=env, capture_output=True, text=True
    )
    if res.returncode != 0:
        raise RuntimeError(f"worker {spec} failed:\n{res.stderr}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    print(
        f"  {out['kind']:8s} d={out['d']:3d} m={out['m']:6d}: {out['rate']:.3g} samples/s "
        f"({out['done']} in {out['seconds']:.2f} s, +{out['peak_mib']:.0f} MiB)",
        flush=True,
    )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny smoke run; does not write results")
    ap.add_argument("--time-cap", type=float, default=20.0, help="seconds before a slow baseline stops")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return 0

    quick = args.quick
    dims = (2, 8, 32)
    sizes = (100, 1000) if quick else (1000, 10_000)
    n = 20_000 if quick else 1_000_000
    cap = 2.0 if quick else args.time_cap

    print("Table 1: throughput against single-threaded baselines", flush=True)
    rows = []
    for d in dims:
        for m in sizes:
            base = {"d": d, "m": m, "n": n, "seed": 0, "cap": cap}
            auto = _run({**base, "kind": "auto"})
            kd1 = _run({**base, "kind": "kdtree1"}, one_thread=True)
            bf1 = _run({**base, "kind": "brute1"}, one_thread=True)
            rows.append((auto, kd1, bf1))

    print("Table 2: library backends, crossover", flush=True)
    sweep_dims = (2, 8, 16) if quick else (2, 4, 6, 8, 10, 12, 16, 24, 32)
    sweep_sizes = (100, 1000) if quick else (100, 1000, 10_000)
    n_sweep = 20_000 if quick else 1 << 17
    sweep = []
    for m in sweep_sizes:
        for d in sweep_dims:
            base = {"d": d, "m": m, "n": n_sweep, "seed": 0, "cap": min(cap, 8.0)}
            sweep.append((_run({**base, "kind": "kdtree"}), _run({**base, "kind": "brute"})))

    print("Table 3: exact 2-D", flush=True)
    exact_sizes = (100, 1000) if quick else (1000, 10_000, 100_000)
    exact = [_run({"d": 2, "m": m, "n": 0, "seed": 0, "cap": 0, "kind": "exact2d"}) for m in exact_sizes]

    print("float32 agreement", flush=True)
    agree = [_float32_agreement(d, 1000, 20_000 if quick else 200_000) for d in (2, 8, 32)]

    md = _markdown(rows, sweep, exact, agree, n, n_sweep, cap, quick)
    print(md)
    if not quick:
        out = HERE / "results" / "voronoi.md"
        out.parent.mkdir(exist_ok=True)
        out.write_text(md)
        print(f"wrote {out}")
    return 0


def _markdown(rows, sweep, exact, agree, n, n_sweep, cap, quick) -> str:
    lines = [
        "## Voronoi weights: Monte Carlo nearest-neighbour backends",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_voronoi.py{' --quick' if quick else ''}` "
        f"({_dt.date.today().isoformat()}; 2 cores shared with other jobs, so absolute rates are noisy; "
        "the ratios compare runs made minutes apart on the same machine).",
        "",
        f"Points and samples uniform in [0, 1]^d; N = {n:,} samples. `auto` = "
        '`voronoi_weights(X, Box, method="monte_carlo")` (backend chosen per dimension, all cores, '
        "sampling and counting included); `kdtree x1` = cKDTree query with workers=1; "
        "`brute f64 x1` = blocked float64 `||z||^2 - 2 z.x + ||x||^2` argmin with BLAS on one thread. "
        f"Baselines slower than {cap:g} s are measured on the samples done by then. Peak = growth of the "
        "process's max resident set during the call (MiB).",
        "",
        "| d | m | auto backend | auto samples/s | auto time for N (s) | kdtree x1 samples/s | "
        "brute f64 x1 samples/s | auto / kdtree x1 | auto / brute x1 | peak MiB auto / kd / brute |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for auto, kd1, bf1 in rows:
        lines.append(
            f"| {auto['d']} | {auto['m']:,} | {auto['backend']} | {auto['rate']:.3g} | {auto['seconds']:.1f} | "
            f"{kd1['rate']:.3g} | {bf1['rate']:.3g} | {auto['rate'] / kd1['rate']:.2f} | "
            f"{auto['rate'] / bf1['rate']:.2f} | {auto['peak_mib']:.0f} / {kd1['peak_mib']:.0f} / "
            f"{bf1['peak_mib']:.0f} |"
        )
    lines += [
        "",
        f"Crossover of the library backends (all cores; N = {n_sweep:,}, or what finished in "
        f"{min(cap, 8.0):g} s): ratio = brute-force rate / KD-tree rate (> 1: brute force is faster).",
        "",
        "| m | " + " | ".join(f"d={kd['d']}" for kd, _ in sweep if kd["m"] == sweep[0][0]["m"]) + " |",
        "|---|" + "---|" * sum(1 for kd, _ in sweep if kd["m"] == sweep[0][0]["m"]),
    ]
    for m in sorted({kd["m"] for kd, _ in sweep}):
        cells = [f"{bf['rate'] / kd['rate']:.2f}" for kd, bf in sweep if kd["m"] == m]
        lines.append(f"| {m:,} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Exact 2-D cells (the `auto` choice for a 2-D box): seconds for m points.",
        "",
        "| m | seconds |",
        "|---|---|",
    ] + [f"| {e['m']:,} | {e['seconds']:.2f} |" for e in exact]
    lines += [
        "",
        "float32 safety (m = 1,000): samples whose float32 argmin (no re-check) differs from float64, "
        "samples the library re-checked in float64, and library disagreements with float64.",
        "",
        "| d | samples | raw float32 disagreements | re-checked | library disagreements |",
        "|---|---|---|---|---|",
    ] + [f"| {a['d']} | {a['n']:,} | {a['raw_f32_disagree']} | {a['rechecked']} | {a['lib_disagree']} |" for a in agree]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
