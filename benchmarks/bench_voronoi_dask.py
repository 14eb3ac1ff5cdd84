"""Voronoi weights for a million points: the sample chunks on a Dask cluster against the local path.

Usage: ``.venv/bin/python benchmarks/bench_voronoi_dask.py [--quick]``

m = 10^6 random points in [0, 1]^d; N uniform samples counted (a) locally with all cores (the
baseline, ``engine="local"``) and (b) on a ``distributed.LocalCluster`` with one single-threaded
worker process per core (``engine="dask"``), which ships the points once and rebuilds each
chunk's samples on the worker by advancing a copy of the generator. The two must give identical
weights for the same seed (checked here, and in tests/estimators/test_weights.py on a smaller
set); the table reports both times and their ratio. On one 2-core machine the cluster cannot be
faster than the local path, which already uses both cores: the row measures what the cluster
path costs (shipping, scheduling, per-worker trees), the price of scaling out to a real cluster
where the workers are other machines.

Results go to ``benchmarks/results/voronoi_dask.md`` (not written by ``--quick``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def run(m, d, n, seed=3):
    from distributed import Client, LocalCluster

    from choicelab.estimators.weights import voronoi_weights
    from choicelab.sim import Box

    X = np.random.default_rng(seed).random((m, d))
    box = Box(np.zeros(d), np.ones(d))
    rows = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a million cells are far from resolved by N samples: that is the point
        t = time.perf_counter()
        local = voronoi_weights(X, box, method="kdtree", n_samples=n, rng=7, full_output=True)
        rows["local"] = time.perf_counter() - t
        cluster = LocalCluster(
            n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        client = Client(cluster)
        try:
            t = time.perf_counter()
            dask = voronoi_weights(
                X, box, method="kdtree", n_samples=n, rng=7, full_output=True, engine="dask", scheduler=client
            )
            rows["dask"] = time.perf_counter() - t
        finally:
            client.close()
            cluster.close()
    identical = bool(np.array_equal(local.weights, dask.weights))
    if not identical:
        raise SystemExit("the Dask path's weights differ from the local path's: a bug")
    hit = int(np.count_nonzero(local.weights > 0))
    return {"m": m, "d": d, "n": n, "local": rows["local"], "dask": rows["dask"], "identical": identical, "hit": hit}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    cases = [(1_000_000, 4, 1 << 22), (1_000_000, 8, 1 << 21)] if not args.quick else [(20_000, 8, 1 << 17)]
    rows = []
    for m, d, n in cases:
        print(f"m = {m:,}, d = {d}, N = {n:,}", flush=True)
        rows.append(run(m, d, n))
    cmd = f".venv/bin/python benchmarks/bench_voronoi_dask.py{' --quick' if args.quick else ''}"
    lines = [
        "## voronoi_dask: a million points, sample chunks on a Dask cluster against the local path",
        "",
        f"Command: `{cmd}` ({_dt.date.today().isoformat()}; {os.cpu_count()} cores, 1-min load average "
        f"{os.getloadavg()[0]:.1f} at the end). Baseline = `voronoi_weights(X, box, method='kdtree', n_samples=N, "
        "rng=7)` on all local cores; Dask = the same call with `engine='dask'` on a `LocalCluster` of one "
        "single-threaded worker process per core (points shipped once, each chunk's samples rebuilt on its "
        "worker by advancing the generator). `identical` = the two weight vectors are equal bit for bit; "
        "`cells hit` = cells with at least one sample. On one machine the cluster only adds costs (the local "
        "path already uses every core); the ratio is the overhead a real multi-machine cluster has to beat.",
        "",
        "| m | d | N | local s | Dask s | Dask / local | identical | cells hit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['m']:,} | {r['d']} | {r['n']:,} | {r['local']:.1f} | {r['dask']:.1f} | "
            f"{r['dask'] / r['local']:.2f} | {'yes' if r['identical'] else 'no'} | {r['hit']:,} |"
        )
    md = "\n".join(lines) + "\n"
    print(md)
    if not args.quick:
        out = HERE / "results" / "voronoi_dask.md"
        out.write_text(md)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
