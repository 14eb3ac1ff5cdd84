"""The ``choicelab list`` and ``choicelab run`` commands.

Exit status of ``run``: 0 when every run is done, 1 when some run raised (its error is in the
store; running again retries it), 2 for bad input (unknown scenario, malformed scenario or data
file, bad option), with a one-line message on stderr and no traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["list_command", "run_command"]


def _fail(message: str) -> int:
    print(f"choicelab: {message}", file=sys.stderr)
    return 2


def _registries() -> dict:
    """Every registry's entries (name and one line), for ``choicelab list``."""
    from choicelab.axioms.base import list_axioms
    from choicelab.estimators.registry import list_estimators
    from choicelab.estimators.weightings import list_weightings
    from choicelab.reports.figures import list_figures
    from choicelab.scenarios.conditions import list_conditions
    from choicelab.scenarios.measures import list_measures
    from choicelab.sim.readers import list_readers

    return {
        "estimators": [
            {"name": e.name, "kind": e.kind, "consumes": list(e.consumes), "description": e.description}
            for e in list_estimators()
        ],
        "measures": [{"name": m.name, "per": m.per, "description": m.description} for m in list_measures()],
        "conditions": [{"name": c.name, "description": c.description} for c in list_conditions()],
        "weightings": [{"name": w.name, "description": w.description} for w in list_weightings()],
        "readers": [
            {"name": r.name, "produces": r.produces, "suffixes": list(r.suffixes), "description": r.description}
            for r in list_readers()
        ],
        "figures": [
            {"name": n, "measures": list(f.measures), "description": f.description} for n, f in list_figures().items()
        ],
        "axioms": [{"id": a.id, "name": a.name} for a in list_axioms()],
    }


def list_command(args) -> int:
    """``choicelab list [--json]``: built-in scenarios and every registry (estimators, measures, ...)."""
    from choicelab.scenarios.spec import ScenarioError, list_builtin, load_scenario

    scenarios = []
    for name in list_builtin():
        try:
            sc = load_scenario(name)
            scenarios.append(
                {
                    "name": name,
                    "runs": len(sc.seeds) * _grid_size(sc),
                    "description": sc.description.strip().splitlines()[0] if sc.description.strip() else "",
                }
            )
        except ScenarioError as exc:  # a broken built-in is a bug; show it rather than hide it
            scenarios.append({"name": name, "runs": 0, "description": f"INVALID: {exc}"})
    registries = _registries()
    if getattr(args, "json", False):
        print(json.dumps({"scenarios": scenarios, **registries}, indent=2))
        return 0
    print("Scenarios (choicelab run NAME):")
    width = max((len(s["name"]) for s in scenarios), default=10)
    for s in scenarios:
        print(f"  {s['name']:<{width}} {s['runs']:>4} runs  {s['description']}")
    for section in ("estimators", "measures", "conditions", "weightings", "readers", "figures"):
        entries = registries[section]
        width = max((len(e["name"]) for e in entries), default=10)
        print(f"\n{section.capitalize()}:")
        for e in entries:
            print(f"  {e['name']:<{width}}  {e['description'][:100]}")
    print("\nAxioms (also measures, by id):")
    for a in registries["axioms"]:
        print(f"  {a['id']:<4} {a['name']}")
    return 0


def _grid_size(sc) -> int:
    n = 1
    for values in sc.sweep.values():
        n *= len(values)
    return n


def run_command(args) -> int:
    """``choicelab run NAME_OR_FILE... [--db PATH] [--workers N] [--engine E] [--scheduler A] [--seed S] [--json]``."""
    import os

    from choicelab.scenarios.runner import (
        _THREAD_VARS,  # noqa: F811
        ENGINES,
        run_batch,
    )
    from choicelab.scenarios.spec import ScenarioError, load_scenario
    from choicelab.scenarios.store import Store
    from choicelab.scenarios.tasks import summarise

    # Runs are single-threaded by design (parallelism comes from workers); with workers=1 they
    # run in this process, and tiny torch models slow down many-fold with more intra-op threads.
    for var in _THREAD_VARS:
        os.environ.setdefault(var, "1")
    as_json = bool(getattr(args, "json", False))
    workers, engine = getattr(args, "workers", None), getattr(args, "engine", "local")
    scheduler, seed = getattr(args, "scheduler", None), getattr(args, "seed", None)
    if workers is not None and workers < 1:
        return _fail(f"run: --workers must be >= 1, got {workers}")
    if seed is not None and not 0 <= seed < 2**63:
        return _fail(f"run: --seed must be an integer in [0, 2**63), got {seed}")
    max_runs = getattr(args, "max_runs", None)
    if max_runs is not None and max_runs < 1:
        return _fail(f"run: --max-runs must be >= 1, got {max_runs}")
    if engine not in ENGINES:
        return _fail(f"run: --engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if scheduler is not None and engine != "dask":
        return _fail("run: --scheduler needs --engine dask")
    db = Path(getattr(args, "db", "choicelab.sqlite"))
    if not db.resolve().parent.is_dir():
        return _fail(f"run: --db {str(db)!r}: folder {str(db.resolve().parent)!r} does not exist")
    plugins = list(getattr(args, "plugin", None) or [])
    try:
        scenarios = [
            load_scenario(name, plugins=plugins, max_runs=getattr(args, "max_runs", None)) for name in args.scenarios
        ]
    except ScenarioError as exc:
        return _fail(str(exc))
    except Exception as exc:  # a plugin given with --plugin failed to import
        return _fail(f"run: --plugin: cannot import a plugin: {type(exc).__name__}: {exc}")
    new_batch = getattr(args, "new_batch", None)
    if new_batch is not None:
        import dataclasses
        import re as _re

        if len(scenarios) != 1:
            return _fail("run: --new-batch names one batch; give one scenario")
        if not _re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", new_batch):
            return _fail(f"run: --new-batch {new_batch!r}: a batch name is letters, digits, '.', '_' or '-'")
        scenarios = [dataclasses.replace(scenarios[0], name=new_batch)]
    names = [sc.name for sc in scenarios]
    if len(set(names)) != len(names):
        return _fail(f"run: two scenarios share the batch name {next(n for n in names if names.count(n) > 1)!r}")
    try:
        store = Store(db)
    except ValueError as exc:
        return _fail(f"run: --db {exc}")
    reports = []
    try:
        for sc in scenarios:
            try:
                summary = run_batch(
                    sc,
                    store,
                    workers=workers,
                    engine=engine,
                    scheduler=scheduler,
                    progress=False if as_json else None,
                    seed=seed,
                    replace=bool(getattr(args, "replace", False)),
                )
            except ValueError as exc:
                return _fail(f"run: {exc}")
            key = summarise(sc.kind, store, sc.name)
            reports.append((summary, key, store.counts(sc.name)))
            if not as_json:
                _print_summary(summary, key, store.counts(sc.name))
    finally:
        store.close()
    if as_json:
        print(
            json.dumps(
                {"batches": [s.to_dict() | {"store_counts": c, "key_results": k} for s, k, c in reports]},
                indent=2,
                default=str,
            )
        )
    return 1 if any(s.errors for s, _, _ in reports) else 0


def _print_summary(summary, key: dict, counts: dict) -> None:
    s = summary
    how = "inline" if s.workers == 1 and s.engine == "local" else f"{s.engine}, {s.workers} workers"
    print(
        f"{s.batch}: {s.total} runs: {s.done} done now, {s.skipped} already done, "
        f"{len(s.errors)} errors in {s.seconds:.1f} s ({how if s.workers else 'nothing to run'})"
    )
    print(
        f"  store: {Path(s.store).resolve()}  (batch totals: {counts['done']} done, {counts['error']} error, "
        f"{counts['running']} unfinished)"
    )
    if s.elsewhere:
        print(
            f"  {s.elsewhere} runs are being computed by another choicelab run on this store; run again "
            "after it ends to pick up any it leaves unfinished"
        )
    for run_id, seed, message in s.errors[:5]:
        print(f"  error in run {run_id[:12]} (seed {seed}): {message}")
    if len(s.errors) > 5:
        print(f"  ... and {len(s.errors) - 5} more errors (see the runs table)")
    if s.warnings:
        print(f"  {len(s.warnings)} distinct warnings, e.g. {s.warnings[0][:150]}")
    from choicelab.scenarios.summary import format_experiment_summary

    for line in format_experiment_summary(key):
        print(line)
