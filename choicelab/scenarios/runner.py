"""Run a batch of scenario runs on a local process pool or a Dask cluster, resuming from the store.

One code path: every run goes through :func:`execute_run` (in a worker, or inline when
``workers=1``), which calls :func:`choicelab.scenarios.tasks.run_task` and returns plain data;
only the executor differs between engines. The parent process alone writes the store, one
transaction per finished run, as runs finish; so an interrupted batch (SIGINT, SIGKILL) keeps
every finished run, leaves no partial run, and the next call skips what is done and retries
what failed or never finished.

Module-level imports stay light (no numpy): a spawned worker imports this module before its
initializer limits BLAS / OpenMP threads, and the limit only takes effect before numpy loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field

from choicelab.scenarios.spec import Run, Scenario, expand
from choicelab.scenarios.store import Store

__all__ = ["run_batch", "execute_run", "BatchSummary", "BatchConflict", "ENGINES"]

ENGINES = ("local", "dask")
_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
_MAX_WARNINGS = 20


@dataclass(frozen=True)
class BatchSummary:
    """What :func:`run_batch` did.

    Attributes
    ----------
    batch, kind : str
    total : int
        Runs in the batch.
    done : int
        Runs finished by this call.
    skipped : int
        Runs already done in the store (not re-run).
    errors : tuple of (run_id, seed, message)
        Runs that raised in this call (status ``error`` in the store), message = last line.
    seconds : float
        Wall-clock time of this call.
    store : str
        Path of the store.
    engine : str
    workers : int
        Workers actually used (1 = inline).
    warnings : tuple of str
        Distinct warnings the runs emitted ("Category: message"), at most 20.
    elsewhere : int
        Runs left alone because another live process holds them (``Store.claim``).
    """

    batch: str
    kind: str
    total: int
    done: int
    skipped: int
    errors: tuple
    seconds: float
    store: str
    engine: str
    workers: int
    warnings: tuple = field(default_factory=tuple)
    elsewhere: int = 0

    def to_dict(self) -> dict:
        return {
            "batch": self.batch,
            "kind": self.kind,
            "total": self.total,
            "done": self.done,
            "skipped": self.skipped,
            "errors": [{"run_id": r, "seed": s, "error": e} for r, s, e in self.errors],
            "seconds": self.seconds,
            "store": self.store,
            "engine": self.engine,
            "workers": self.workers,
            "warnings": list(self.warnings),
            "elsewhere": self.elsewhere,
        }


def execute_run(payload: dict) -> dict:
    """Run one task (in any process) and return plain data: status, rows, blobs, timings, error.

    Never raises for a failing task: the traceback comes back as ``error`` so the batch goes on.
    """
    started = time.time()
    t0 = time.perf_counter()
    caught = []
    try:
        from choicelab.scenarios.tasks import run_task

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if payload.get("plugins"):  # registrations made in the parent are invisible to a spawned worker
                from choicelab.scenarios.experiment import import_plugins

                import_plugins(payload["plugins"])
            out = run_task(payload["kind"], payload["params"], payload["seed"])
        result = {"status": "done", "rows": out.rows, "blobs": out.blobs, "verdicts": out.verdicts}
    except Exception:
        result = {"status": "error", "error": traceback.format_exc()}
    result.update(
        run_id=payload["run_id"],
        seed=payload["seed"],
        started=started,
        seconds=time.perf_counter() - t0,
        warnings=sorted({f"{w.category.__name__}: {w.message}" for w in caught or []}),
    )
    return result


def _init_worker(parent_pid: int | None = None) -> None:
    # One BLAS / OpenMP thread per worker so that workers do not fight over cores (effective
    # because numpy and torch are not imported yet in a fresh spawned worker).
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    # Ctrl-C is the parent's business: it stops the batch and ends the workers itself.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid is not None:
        die_with_parent(parent_pid)


def die_with_parent(parent_pid: int, interval: float = 0.5) -> None:
    """End this process soon after ``parent_pid`` dies, whatever killed it (SIGKILL included).

    A handler cannot see its parent's SIGKILL, so two mechanisms: on Linux the kernel's
    parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, sent when the parent exits), and
    everywhere a daemon thread that polls ``os.getppid()`` and exits when the process has been
    re-parented. The thread stays alive for the life of the process.
    """
    import signal
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)

    def watch():
        while True:
            time.sleep(interval)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="choicelab-parent-watch", daemon=True).start()


def _one_thread_inline() -> None:
    """Inline runs get one BLAS / torch thread, as a worker does: tiny networks slow down many-fold with more."""
    for var in _THREAD_VARS:
        os.environ.setdefault(var, "1")  # effective for libraries not loaded yet
    torch = sys.modules.get("torch")
    if torch is not None:  # already loaded: set its intra-op threads directly
        torch.set_num_threads(1)


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class BatchConflict(ValueError):
    """A batch name already holds runs of other parameters (or of seeds the new call does not cover)."""


def batch_identity(scenario, runs, seed=None) -> dict:
    """What a batch is: its per-run parameters (hashes, data files by content) and its run seeds.

    ``description``, ``[report]`` and where a plugin file lives are not part of it.
    """
    hashes = sorted({r.param_hash for r in runs})
    fingerprint = hashlib.sha256(json.dumps(hashes).encode()).hexdigest()[:32]
    return {
        "fingerprint": fingerprint,
        "run_seeds": sorted({r.seed for r in runs}),
        "seed_override": seed,
        "file_digests": dict(sorted(scenario.file_digests.items())),
    }


def _flat(prefix, value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value


def _what_changed(old: dict, new: dict, old_id: dict, new_id: dict) -> str:
    """One line: the first differences between a recorded batch and the scenario now."""
    changes = []
    a, b = {}, {}
    _flat("", {"params": old.get("params", {}), "sweep": old.get("sweep", {})}, a)
    _flat("", {"params": new.get("params", {}), "sweep": new.get("sweep", {})}, b)
    for key in list(dict.fromkeys(list(a) + list(b))):
        if key.startswith(("params.scenario.", "params.plugins.")):
            continue
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            changes.append(
                f"{key.removeprefix('params.')}: {json.dumps(a.get(key, '<absent>'))} -> "
                f"{json.dumps(b.get(key, '<absent>'))}"
            )
    old_files, new_files = old_id.get("file_digests", {}), new_id.get("file_digests", {})
    for path in sorted(set(old_files) | set(new_files)):
        if old_files.get(path) != new_files.get(path):
            changes.append(
                f"data file {path} changed content"
                if path in old_files and path in new_files
                else f"data file {path} {'added' if path in new_files else 'removed'}"
            )
    old_seeds, new_seeds = old_id.get("run_seeds", []), new_id.get("run_seeds", [])
    if not set(old_seeds) <= set(new_seeds):
        changes.append(f"seeds {_seed_text(old_seeds)} -> {_seed_text(new_seeds)} (a batch may only gain seeds)")
    if not changes:
        changes.append("the expanded per-run parameters differ")
    extra = f" (and {len(changes) - 2} more)" if len(changes) > 2 else ""
    return "; ".join(changes[:2]) + extra


def _seed_text(seeds) -> str:
    seeds = sorted(seeds)
    if seeds and seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}..{seeds[-1]}"
    return ",".join(map(str, seeds))


def run_batch(
    scenario_or_runs, store, workers=None, engine="local", scheduler=None, progress=None, *, seed=None, replace=False
) -> BatchSummary:
    """Run every run of a batch that is not done yet, writing each result as it finishes.

    Parameters
    ----------
    scenario_or_runs : Scenario or sequence of Run
        A loaded scenario (expanded with its own base seed; its batch row is recorded), or the
        runs of one batch (``spec.expand(scenario, seed_override)``).
    store : Store or str or Path
        The results store (a path is opened and closed here).
    workers : int, optional
        Worker processes; default the cores available. ``1`` with the local engine runs inline
        (no pool). Capped at the number of pending runs.
    engine : {"local", "dask"}
        ``"local"``: ``concurrent.futures.ProcessPoolExecutor`` (spawned workers, one BLAS
        thread each). ``"dask"``: ``dask.distributed`` -- the cluster at ``scheduler``, or a
        ``LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)``.
    scheduler : str, optional
        Dask scheduler address (``tcp://host:8786``); only with ``engine="dask"``.
    progress : bool, optional
        tqdm progress bar on stderr; default: only when stderr is a terminal.
    seed : int, optional
        Overrides the scenario's base seed (``choicelab run --seed``); only with a Scenario.
    replace : bool
        Delete the batch's earlier runs first (one transaction), instead of refusing a batch
        name that already holds runs of other parameters.

    Raises
    ------
    BatchConflict
        When the store already holds a batch of this name whose per-run parameters (data files
        by content) differ, or whose run seeds the new call does not all cover: a batch is its
        parameters and never mixes runs of different ones. Adding seeds is allowed; a changed
        description or ``[report]`` is not a change.

    Returns
    -------
    BatchSummary

    Notes
    -----
    Runs that raise are stored with status ``error`` and their traceback, and the batch goes
    on; calling again retries them. A KeyboardInterrupt stops the workers, keeps every run
    that had finished, and is re-raised.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    if scheduler is not None and engine != "dask":
        raise ValueError(f"scheduler={scheduler!r} needs engine='dask', got engine={engine!r}")
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    scenario = scenario_or_runs if isinstance(scenario_or_runs, Scenario) else None
    if seed is not None and scenario is None:
        raise ValueError("seed applies to a Scenario only; expand the runs with spec.expand(scenario, seed)")
    runs = expand(scenario, seed) if scenario is not None else list(scenario_or_runs)
    if not runs or not all(isinstance(r, Run) for r in runs):
        raise TypeError("scenario_or_runs must be a Scenario or a non-empty sequence of Run")
    batches = {r.batch for r in runs}
    if len(batches) != 1:
        raise ValueError(f"scenario_or_runs must hold the runs of one batch, got batches {sorted(batches)}")
    batch, kind = runs[0].batch, runs[0].kind
    owned = not isinstance(store, Store)
    store = Store(store) if owned else store
    try:
        if scenario is not None:
            meta = {
                "params": scenario.params,
                "sweep": {k: list(v) for k, v in scenario.sweep.items()},
                "report": scenario.report,
                "seeds": list(scenario.seeds),
                "base_seed": scenario.base_seed if seed is None else seed,
                "description": scenario.description,
                "about": scenario.about,
                "identity": batch_identity(scenario, runs, seed),
            }
            old = store.batch(batch)
            if old is not None and replace:
                store.delete_batch(batch)
            elif old is not None and old["params"].get("identity") is not None:
                before, now = old["params"]["identity"], meta["identity"]
                if before["fingerprint"] != now["fingerprint"] or not set(before["run_seeds"]) <= set(now["run_seeds"]):
                    raise BatchConflict(
                        f"batch {batch!r} in {store.path} was run with other parameters: "
                        f"{_what_changed(old['params'], meta, before, now)}; run it as a new batch with "
                        f"--new-batch NAME, or delete its {sum(store.counts(batch).values())} runs with --replace"
                    )
            store.record_batch(batch, kind, scenario.source, scenario.text, meta)
        elif batch not in {b["name"] for b in store.batches()}:
            store.record_batch(batch, kind)
        return _run(runs, store, batch, kind, workers, engine, scheduler, progress)
    finally:
        if owned:
            store.close()


def _run(runs, store, batch, kind, workers, engine, scheduler, progress) -> BatchSummary:
    t0 = time.perf_counter()
    unique = list({r.run_id: r for r in runs}.values())
    done_before = store.done_run_ids(batch)
    pending = store.claim([r for r in unique if r.run_id not in done_before])
    elsewhere = len(unique) - len(done_before & {r.run_id for r in unique}) - len(pending)
    n_workers = min(workers or _default_workers(), max(1, len(pending)))
    errors, seen_warnings = [], set()
    finished = 0
    if pending:
        show = sys.stderr.isatty() if progress is None else progress
        from tqdm import tqdm

        bar = tqdm(total=len(pending), desc=batch, unit="run", disable=not show, file=sys.stderr, leave=False)
        try:
            if engine == "dask":
                results = _dask_results(pending, n_workers, scheduler)
            elif n_workers == 1:
                _one_thread_inline()
                results = (execute_run(r.to_payload()) for r in pending)
            else:
                results = _pool_results(pending, n_workers)
            for res in results:
                _record(store, res)
                finished += res["status"] == "done"
                if res["status"] == "error":
                    errors.append((res["run_id"], res["seed"], _last_line(res["error"])))
                seen_warnings.update(res.get("warnings", ()))
                bar.update(1)
        finally:
            bar.close()
    return BatchSummary(
        batch=batch,
        kind=kind,
        total=len(unique),
        done=finished,
        skipped=len(unique) - len(pending),
        errors=tuple(errors),
        seconds=time.perf_counter() - t0,
        store=store.path,
        engine=engine,
        workers=n_workers if pending else 0,
        warnings=tuple(sorted(seen_warnings))[:_MAX_WARNINGS],
        elsewhere=elsewhere,
    )


def _record(store: Store, res: dict) -> None:
    if res["status"] == "done":
        store.record_done(
            res["run_id"],
            res["rows"],
            res["blobs"],
            res["seconds"],
            started=res["started"],
            verdicts=res.get("verdicts", ()),
        )
    else:
        store.record_error(res["run_id"], res["error"], res["seconds"], started=res["started"])


def _last_line(text: str) -> str:
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def _worker_main(conn, parent_pid: int) -> None:
    """A pool worker: receive one payload at a time, send back its result, until told to stop."""
    _init_worker(parent_pid)
    while True:
        try:
            payload = conn.recv()
        except (EOFError, OSError):
            return
        if payload is None:
            return
        conn.send(execute_run(payload))


class _Worker:
    """One spawned worker process and the run it holds (None when idle)."""

    def __init__(self, ctx):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, os.getpid()), daemon=True, name="choicelab-worker")
        self.proc.start()
        child.close()
        self.run = None

    def stop(self, timeout: float = 5.0) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(timeout)
        self.conn.close()


def _death_text(exitcode) -> str:
    import signal

    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


def _pool_results(pending, n_workers):
    """Yield results as runs finish on ``n_workers`` spawned processes, one run in flight per worker.

    The runner knows which run each worker holds (it hands out one at a time), so a worker that
    dies (killed, out of memory) fails its own run only: that run is recorded as an error, a new
    worker takes its place, and the batch goes on.
    """
    import multiprocessing
    from collections import deque
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context("spawn")
    queue = deque(pending)
    workers = [_Worker(ctx) for _ in range(min(n_workers, len(queue)))]
    try:
        while True:
            for w in workers:
                if w.run is None and queue:
                    w.run = queue.popleft()
                    try:
                        w.conn.send(w.run.to_payload())
                    except (OSError, ValueError):
                        pass  # the worker died while idle: the sentinel below reports it
            busy = [w for w in workers if w.run is not None]
            if not busy:
                break
            ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy]))
            for w in list(workers):
                if w.run is None or (w.conn not in ready and w.proc.sentinel not in ready):
                    continue
                result = None
                try:
                    if w.conn.poll():
                        result = w.conn.recv()
                except (EOFError, OSError):
                    result = None
                if result is not None:
                    w.run = None
                    yield result
                    continue
                if w.proc.is_alive() and w.proc.sentinel not in ready:
                    continue
                w.proc.join(1.0)
                run = w.run
                yield {
                    "run_id": run.run_id,
                    "seed": run.seed,
                    "status": "error",
                    "started": None,
                    "seconds": None,
                    "error": f"worker process died ({_death_text(w.proc.exitcode)}) while running this run",
                    "warnings": [],
                }
                w.conn.close()
                workers[workers.index(w)] = _Worker(ctx)  # a fresh worker takes its place
        for w in workers:
            w.stop()
    except BaseException:
        # KeyboardInterrupt, SIGTERM or a store failure: stop now, end our own workers, keep what is stored
        for w in workers:
            if w.proc.is_alive():
                w.proc.terminate()
        for w in workers:
            w.proc.join(5)
            if w.proc.is_alive():
                w.proc.kill()
        raise


def _dask_results(pending, n_workers, scheduler):
    """Yield results as runs finish on a Dask cluster (the given scheduler or a LocalCluster)."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ValueError("engine='dask' needs the 'distributed' package (pip install choicelab[dask])") from None
    import logging

    # distributed logs every closed comm at shutdown (dozens of lines after a Ctrl-C): errors only
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        # the LocalCluster's worker processes are this process's children: they end when it dies
        client.run(die_with_parent, os.getpid())
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ValueError(f"scheduler: cannot connect to the Dask scheduler at {scheduler!r}: {exc}") from None
    futures = {}
    try:
        futures = {
            client.submit(execute_run, r.to_payload(), key=f"choicelab-run-{r.run_id}", pure=False): r for r in pending
        }
        for fut in as_completed(list(futures)):
            run = futures[fut]
            try:
                yield fut.result()
            except Exception as exc:  # infrastructure failure (worker lost); the task itself never raises
                yield {
                    "run_id": run.run_id,
                    "seed": run.seed,
                    "status": "error",
                    "started": None,
                    "seconds": None,
                    "error": f"dask: {type(exc).__name__}: {exc}",
                    "warnings": [],
                }
    except BaseException:
        if futures:
            client.cancel(list(futures))
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
