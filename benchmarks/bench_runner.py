"""Batch throughput of the scenario runner (1 vs 2 workers, local pool and Dask) and the store's write rate.

Usage: ``.venv/bin/python benchmarks/bench_runner.py [--quick]``; writes benchmarks/results/runner.md.

Throughput: a batch of CPU-bound ``selftest`` runs (a pure-Python loop calibrated to about 0.6 s
per run, no BLAS), and a few real ``psz-case-study`` runs (exact and neural fits, one thread per
worker), timed inline (``workers=1``, the baseline) and on 2 workers; ratio = inline time / time.
Every timing is the whole ``run_batch`` call: pool start, runs, and writing every result.

Store: ``Store.record_done`` for many runs (one transaction each: results, a blob, the status),
against the baseline of plain ``sqlite3`` inserting the same result rows, one transaction per run.
"""

from __future__ import annotations

import os

# one BLAS / OpenMP thread in this process (the inline baseline) and in spawned workers
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from choicelab.scenarios.runner import run_batch  # noqa: E402
from choicelab.scenarios.spec import Run, builtin_path, expand, parse_scenario  # noqa: E402
from choicelab.scenarios.store import Store  # noqa: E402
from choicelab.scenarios.tasks import run_task  # noqa: E402

HERE = Path(__file__).resolve().parent
TARGET_SECONDS = 0.6


def _selftest_text(n_runs: int, work: int, values: int = 3) -> str:
    """An experiment of the ``selftest`` measure alone: no world, no data, no fits (data.kind = "none")."""
    return (
        f'[scenario]\nname = "bench-selftest"\nseeds = {n_runs}\n\n[data]\nkind = "none"\n\n'
        f'[measures]\nnames = ["selftest"]\n\n[measures.options.selftest]\nwork = {work}\nvalues = {values}\n'
    )


def _selftest_params(work: int) -> dict:
    """The expanded parameters of one selftest run (what a worker receives)."""
    return expand(parse_scenario(_selftest_text(1, work, values=1), HERE / "bench-selftest.toml"))[0].params


def calibrate_work() -> tuple[int, float]:
    """Loop iterations for about TARGET_SECONDS per run (measured here, single-threaded)."""
    run_task("experiment", _selftest_params(0), 0)  # warm-up: the first run imports the registries
    params = _selftest_params(200_000)
    t0 = time.perf_counter()
    run_task("experiment", params, 0)
    per_iter = (time.perf_counter() - t0) / 200_000
    work = int(TARGET_SECONDS / per_iter)
    params = _selftest_params(work)
    t0 = time.perf_counter()
    run_task("experiment", params, 0)
    return work, time.perf_counter() - t0


def time_batch(scenario, workers: int, engine: str = "local") -> tuple[float, float]:
    """(wall time of run_batch, concurrency = sum of the runs' own wall times / that time)."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = run_batch(scenario, Path(tmp) / "bench.sqlite", workers=workers, engine=engine, progress=False)
        elapsed = time.perf_counter() - t0
        with Store(Path(tmp) / "bench.sqlite") as store:
            busy = sum(r["seconds"] for r in store.runs(status="done"))
    if summary.errors:
        raise RuntimeError(f"benchmark runs failed: {summary.errors[:2]}")
    return elapsed, busy / elapsed


_HALF_BATCH = (
    "import sys\n"
    "from pathlib import Path\n"
    "from choicelab.scenarios.spec import expand, parse_scenario\n"
    "from choicelab.scenarios.tasks import run_task\n"
    "sc = parse_scenario(Path(sys.argv[1]).read_text(), Path(sys.argv[2]))\n"
    "for run in expand(sc)[int(sys.argv[3])::2]:\n"
    "    run_task(run.kind, run.params, run.seed)\n"
)


def two_plain_processes(text: str, source: Path) -> float:
    """The machine's ceiling for any 2-worker runner: two bare Python processes, each computing
    every other run of the batch with ``run_task`` (no pool, no store), started together."""
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.toml"
        path.write_text(text)
        t0 = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", _HALF_BATCH, str(path), str(source), str(k)]) for k in (0, 1)]
        if any(p.wait() != 0 for p in procs):
            raise RuntimeError("a plain benchmark process failed")
        return time.perf_counter() - t0


def throughput(quick: bool) -> list[dict]:
    rows = []
    work, per_run = calibrate_work()
    n = 4 if quick else 32
    sc = parse_scenario(_selftest_text(n, work), HERE / "bench-selftest.toml")
    base, conc = time_batch(sc, 1)
    rows.append(
        {
            "batch": f"selftest CPU loop ({per_run:.2f} s/run)",
            "runs": n,
            "engine": "inline",
            "workers": 1,
            "seconds": base,
            "ratio": 1.0,
            "concurrency": conc,
        }
    )
    for engine in ("local", "dask"):
        t, conc = time_batch(sc, 2, engine)
        rows.append(
            {
                "batch": f"selftest CPU loop ({per_run:.2f} s/run)",
                "runs": n,
                "engine": engine,
                "workers": 2,
                "seconds": t,
                "ratio": base / t,
                "concurrency": conc,
            }
        )
    if not quick:
        n_psz = 10  # enough runs that pool start-up and uneven run lengths do not dominate
        text = re.sub(r"(?m)^seeds = 20$", f"seeds = {n_psz}", builtin_path("psz-case-study").read_text(), count=1)
        sc = parse_scenario(text, builtin_path("psz-case-study"))
        base, conc = time_batch(sc, 1)
        label = f"psz-case-study ({n_psz} runs)"
        rows.append(
            {
                "batch": label,
                "runs": n_psz,
                "engine": "inline",
                "workers": 1,
                "seconds": base,
                "ratio": 1.0,
                "concurrency": conc,
            }
        )
        for engine in ("local", "dask"):
            t, conc = time_batch(sc, 2, engine)
            rows.append(
                {
                    "batch": label,
                    "runs": n_psz,
                    "engine": engine,
                    "workers": 2,
                    "seconds": t,
                    "ratio": base / t,
                    "concurrency": conc,
                }
            )
        t = two_plain_processes(text, builtin_path("psz-case-study"))
        rows.append(
            {
                "batch": label,
                "runs": n_psz,
                "engine": "2 plain processes (ceiling)",
                "workers": 2,
                "seconds": t,
                "ratio": base / t,
                "concurrency": float("nan"),
            }
        )
    return rows


def store_rate(quick: bool) -> list[dict]:
    n_runs, n_rows = (200, 20) if quick else (2000, 50)
    rng = np.random.default_rng(0)
    values = rng.standard_normal((n_runs, n_rows))
    blob = rng.standard_normal(64)
    runs = [
        Run(run_id=f"run{k:06d}", batch="bench", kind="experiment", params={"k": k}, seed=k, point={})
        for k in range(n_runs)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store.sqlite")
        store.record_batch("bench", "experiment")
        store.mark_running(runs)
        t0 = time.perf_counter()
        for k, run in enumerate(runs):
            # rows as a run returns them (TaskOutput.rows: one mapping per measured value)
            rows = [
                {
                    "condition": "default",
                    "estimator": "est",
                    "measure": "metric",
                    "item": f"{j}",
                    "label": "",
                    "value": float(values[k, j]),
                }
                for j in range(n_rows)
            ]
            store.record_done(run.run_id, rows, {"curve": blob}, seconds=0.0)
        ours = time.perf_counter() - t0
        store.close()
        # baseline: plain sqlite3, same WAL settings and results table (schema 2), one transaction per run
        con = sqlite3.connect(Path(tmp) / "raw.sqlite", isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute(
            "CREATE TABLE results (run_id TEXT NOT NULL, condition TEXT NOT NULL, estimator TEXT NOT NULL, "
            "measure TEXT NOT NULL, item TEXT NOT NULL, label TEXT NOT NULL DEFAULT '', value REAL, "
            "stderr REAL, ci_low REAL, ci_high REAL, PRIMARY KEY (run_id, condition, estimator, measure, item))"
        )
        t0 = time.perf_counter()
        for k, run in enumerate(runs):
            con.execute("BEGIN")
            con.executemany(
                "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (run.run_id, "default", "est", "metric", f"{j}", "", float(values[k, j]), None, None, None)
                    for j in range(n_rows)
                ],
            )
            con.execute("COMMIT")
        raw = time.perf_counter() - t0
        con.close()
    return [
        {
            "method": "plain sqlite3 (results rows only)",
            "runs": n_runs,
            "rows_per_run": n_rows,
            "seconds": raw,
            "runs_per_s": n_runs / raw,
            "rows_per_s": n_runs * n_rows / raw,
            "ratio": 1.0,
        },
        {
            "method": "Store.record_done (rows + blob + status)",
            "runs": n_runs,
            "rows_per_run": n_rows,
            "seconds": ours,
            "runs_per_s": n_runs / ours,
            "rows_per_s": n_runs * n_rows / ours,
            "ratio": ours / raw,
        },
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (does not write results)")
    args = ap.parse_args(argv)
    load_before = os.getloadavg()[0]
    tp = throughput(args.quick)
    st = store_rate(args.quick)
    load_after = os.getloadavg()[0]
    lines = [
        "## scenarios: runner throughput and store write rate",
        "",
        "Batch throughput of `run_batch`: inline (`workers=1`, the baseline) against 2 workers "
        "(local spawned process pool, and a Dask `LocalCluster` with 2 single-threaded worker "
        "processes); one BLAS/OpenMP thread per worker. Times are whole `run_batch` calls "
        "(pool or cluster start-up, runs, and every result written to the store); "
        "ratio = inline time / time (goal >= 1.8 on 2 workers). Concurrency = sum of the runs' "
        "own wall times / batch wall time: how many runs were in flight on average (2 means both "
        "workers busy throughout, whatever the machine's load). The last row is the machine's own "
        "ceiling for the real batch: two bare Python processes computing every other run, no runner "
        "and no store; when it is below 2x, two runs slow each other down on this machine (shared "
        "caches and memory bandwidth of the two vCPUs), and no runner can do better.",
        "",
        "| batch | runs | engine | workers | time (s) | speed-up vs inline | concurrency |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in tp:
        lines.append(
            f"| {r['batch']} | {r['runs']} | {r['engine']} | {r['workers']} | {r['seconds']:.2f} | "
            f"{r['ratio']:.2f}x | {'–' if np.isnan(r['concurrency']) else format(r['concurrency'], '.2f')} |"
        )
    lines += [
        "",
        "Store write rate: one transaction per run (results rows, one 64-float blob, the `done` "
        "status), against plain `sqlite3` inserting the same result rows, one transaction per run "
        "(ratio = time / plain time, higher = slower).",
        "",
        "| method | runs | rows/run | time (s) | runs/s | result rows/s | ratio vs plain |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in st:
        lines.append(
            f"| {r['method']} | {r['runs']} | {r['rows_per_run']} | {r['seconds']:.3f} | "
            f"{r['runs_per_s']:.0f} | {r['rows_per_s']:.0f} | {r['ratio']:.2f}x |"
        )
    lines += [
        "",
        f"Command: `.venv/bin/python benchmarks/bench_runner.py`, run {_dt.date.today().isoformat()} on "
        f"{platform.machine()} (Python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} cores), machine shared with other jobs: 1-minute load average "
        f"{load_before:.1f} before and {load_after:.1f} after. A 2-worker speed-up needs two idle "
        f"cores; with a load above the core count the workers only get a share of them.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        out = HERE / "results" / "runner.md"
        out.parent.mkdir(exist_ok=True)
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
