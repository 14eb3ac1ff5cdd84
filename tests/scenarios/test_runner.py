"""The batch runner: resume after SIGKILL / SIGINT, errors, determinism, local pool vs Dask, progress."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from choicelab.scenarios.runner import execute_run, run_batch
from choicelab.scenarios.spec import expand, load_scenario
from choicelab.scenarios.store import Store

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"
ROOT = Path(__file__).resolve().parents[2]
FAIL_MESSAGE = "RuntimeError: selftest: seed 3 is listed in measures.options.selftest.fail_seeds"


def _numbers(path) -> dict:
    """Every stored number, verdict and array of a store, keyed independently of row order."""
    with Store(path) as store:
        values = {(r.run_id, r.condition, r.estimator, r.measure, r.item): (r.label, r.value) for r in store.results()}
        verdicts = {(v.run_id, v.condition, v.axiom, v.estimator): (v.measured, v.magnitude) for v in store.verdicts()}
        arrays = {(run_id, name): arr for run_id in store.done_run_ids() for name, arr in store.blobs(run_id).items()}
    return {"values": values, "verdicts": verdicts, "arrays": arrays}


def _assert_same_numbers(a: dict, b: dict) -> None:
    assert a["values"] == b["values"]  # exact: same seed, same code path, one thread per worker
    assert a["verdicts"] == b["verdicts"]
    assert a["arrays"].keys() == b["arrays"].keys()
    for key in a["arrays"]:
        np.testing.assert_array_equal(a["arrays"][key], b["arrays"][key])


def test_selftest_numbers_come_from_the_run_seed(tmp_path):
    sc = load_scenario(DATA / "selftest.toml")
    summary = run_batch(sc, tmp_path / "s.sqlite", workers=1)
    assert (summary.total, summary.done, summary.skipped, len(summary.errors)) == (12, 10, 0, 2)
    assert (summary.batch, summary.kind, summary.engine, summary.workers) == ("selftest", "experiment", "local", 1)
    with Store(tmp_path / "s.sqlite") as store:
        for run in expand(sc):
            if run.seed == 3:
                continue
            rng = np.random.default_rng(run.seed)  # independent re-computation of the measure's draws
            expected = rng.random(run.params["measures"]["options"]["selftest"]["values"])
            got = {r.item: r.value for r in store.results(run_id=run.run_id) if r.measure == "selftest"}
            assert [got[str(k)] for k in range(len(expected))] == expected.tolist()
            assert set(got) == {str(k) for k in range(len(expected))} | {"checksum"}
            np.testing.assert_array_equal(store.blob(run.run_id, "draws"), rng.standard_normal(5))


def test_error_is_recorded_and_batch_continues_then_retried(tmp_path):
    sc = load_scenario(DATA / "selftest.toml")
    db = tmp_path / "s.sqlite"
    first = run_batch(sc, db, workers=2)
    assert first.done == 10 and {seed for _, seed, _ in first.errors} == {3}
    assert all(msg == FAIL_MESSAGE for _, _, msg in first.errors)
    with Store(db) as store:
        errored = store.runs("selftest", status="error")
        assert len(errored) == 2 and all("Traceback" in r["error"] for r in errored)
        assert all(r["error"].strip().endswith(FAIL_MESSAGE) for r in errored)
        assert all(r["n_results"] == 0 for r in errored) and store.results(run_id=errored[0]["run_id"]) == []
        assert store.counts("selftest") == {"done": 10, "error": 2, "running": 0}
    again = run_batch(sc, db, workers=2)
    assert (again.done, again.skipped, len(again.errors)) == (0, 10, 2)  # done runs skipped, errors retried
    assert again.workers == 2  # two pending runs, two workers
    with Store(db) as store:
        assert all(r["attempts"] == 2 for r in store.runs("selftest", status="error"))
        assert all(r["attempts"] == 1 for r in store.runs("selftest", status="done"))


def test_worker_count_is_capped_by_the_pending_runs(tmp_path):
    text = (DATA / "selftest.toml").read_text().replace("fail_seeds = [3]", "fail_seeds = []")
    from choicelab.scenarios.spec import parse_scenario

    sc = parse_scenario(text, DATA / "selftest.toml")
    db = tmp_path / "w.sqlite"
    runs = expand(sc)
    first = run_batch(runs[:10], db, workers=1)
    assert (first.done, first.workers) == (10, 1)
    rest = run_batch(sc, db, workers=8)  # 2 runs left: 2 workers, not 8
    assert (rest.total, rest.done, rest.skipped, rest.workers) == (12, 2, 10, 2)
    nothing = run_batch(sc, db, workers=8)
    assert (nothing.done, nothing.skipped, nothing.workers) == (0, 12, 0)


def test_progress_bar_only_when_asked_or_on_a_terminal(tmp_path, capsys):
    sc = load_scenario(DATA / "selftest.toml")
    run_batch(sc, tmp_path / "a.sqlite", workers=1, progress=True)
    err = capsys.readouterr().err
    # tqdm's bar on stderr, named by the batch, counting its 12 runs, cleared at the end (leave=False)
    assert "\rselftest:   0%|" in err and "0/12 [" in err and "run/s]" in err and err.endswith("\r")
    run_batch(sc, tmp_path / "b.sqlite", workers=1)  # default: stderr is not a terminal here
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match="progress must be True, False or None"):
        run_batch(sc, tmp_path / "c.sqlite", progress="yes")


def test_same_seed_same_numbers_and_pool_equals_inline(tmp_path):
    sc = load_scenario(DATA / "good_small_case_study.toml")  # exact estimators on sampled data
    run_batch(sc, tmp_path / "a.sqlite", workers=1)
    run_batch(sc, tmp_path / "b.sqlite", workers=2)
    a, b = _numbers(tmp_path / "a.sqlite"), _numbers(tmp_path / "b.sqlite")
    assert len(a["values"]) == 2 * 2 * 2 * (2 + 1) + 2 * 2  # runs x conditions x estimators x (topics + top) + changes
    _assert_same_numbers(a, b)
    run_batch(sc, tmp_path / "c.sqlite", workers=1, seed=7)
    c = _numbers(tmp_path / "c.sqlite")
    assert sorted(v for _, v in c["values"].values()) != sorted(v for _, v in a["values"].values())


def test_dask_local_cluster_gives_the_local_numbers(tmp_path):
    pytest.importorskip("distributed")  # the dask extra is part of `make test`'s install
    sc = load_scenario(DATA / "good_small_case_study.toml")
    local = run_batch(sc, tmp_path / "local.sqlite", workers=2, engine="local")
    dask = run_batch(sc, tmp_path / "dask.sqlite", workers=2, engine="dask")
    assert (local.done, dask.done, dask.engine, dask.workers) == (2, 2, "dask", 2)
    _assert_same_numbers(_numbers(tmp_path / "local.sqlite"), _numbers(tmp_path / "dask.sqlite"))


def test_dask_scheduler_address(tmp_path):
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    sc = load_scenario(DATA / "selftest.toml")
    run_batch(sc, tmp_path / "local.sqlite", workers=1)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        summary = run_batch(sc, tmp_path / "dask.sqlite", engine="dask", scheduler=cluster.scheduler_address)
    assert summary.done == 10 and {seed for _, seed, _ in summary.errors} == {3}
    assert all(msg == FAIL_MESSAGE for _, _, msg in summary.errors)
    _assert_same_numbers(_numbers(tmp_path / "local.sqlite"), _numbers(tmp_path / "dask.sqlite"))


def _start_batch(db: Path, workers: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "choicelab",
            "run",
            str(DATA / "selftest_slow.toml"),
            "--db",
            str(db),
            "--workers",
            str(workers),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def _wait_for_done(db: Path, proc, at_least: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"batch ended early: {proc.communicate()}"
        if db.exists():
            try:
                con = sqlite3.connect(db, timeout=1.0)
                n = con.execute("SELECT COUNT(*) FROM runs WHERE status='done'").fetchone()[0]
                con.close()
                if n >= at_least:
                    return
            except sqlite3.OperationalError:
                pass  # tables not created yet
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} runs finished within {timeout} s")


def _check_no_partial_runs(db: Path, values_per_run: int) -> dict:
    """Every run with results is done and complete; returns {run_id: (finished, attempts)} of done runs."""
    con = sqlite3.connect(db)
    with_results = {r[0] for r in con.execute("SELECT DISTINCT run_id FROM results")}
    with_blobs = {r[0] for r in con.execute("SELECT DISTINCT run_id FROM blobs")}
    with_verdicts = {r[0] for r in con.execute("SELECT DISTINCT run_id FROM verdicts")}
    done = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT run_id, finished, attempts, n_results, n_blobs, n_verdicts FROM runs WHERE status='done'"
        )
    }
    assert with_results <= done.keys() and with_blobs <= done.keys() and not with_verdicts
    counts = dict(con.execute("SELECT run_id, COUNT(*) FROM results GROUP BY run_id").fetchall())
    blob_counts = dict(con.execute("SELECT run_id, COUNT(*) FROM blobs GROUP BY run_id").fetchall())
    for run_id, (_, _, n_results, n_blobs, n_verdicts) in done.items():
        assert counts.get(run_id, 0) == n_results == values_per_run + 1  # values + checksum
        assert blob_counts.get(run_id, 0) == n_blobs == 1  # the draws
        assert n_verdicts == 0
    con.close()
    return {k: v[:2] for k, v in done.items()}


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_midway_keeps_finished_runs_and_resumes(tmp_path, workers):
    db = tmp_path / "kill.sqlite"
    proc = _start_batch(db, workers)
    try:
        _wait_for_done(db, proc, at_least=4)
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its pool workers (own session)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    before = _check_no_partial_runs(db, values_per_run=3)
    assert 4 <= len(before) < 40
    summary = run_batch(load_scenario(DATA / "selftest_slow.toml"), db, workers=2)
    assert summary.skipped == len(before) and summary.done == 40 - len(before) and not summary.errors
    after = _check_no_partial_runs(db, values_per_run=3)
    assert len(after) == 40
    for run_id, (finished, attempts) in before.items():  # finished runs were not run again
        assert after[run_id] == (finished, attempts)
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*), COUNT(DISTINCT run_id) FROM runs").fetchone() == (40, 40)
    assert con.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 40 * 4
    con.close()


def test_sigint_stops_cleanly_and_resumes(tmp_path):
    db = tmp_path / "int.sqlite"
    proc = _start_batch(db, workers=2)
    try:
        _wait_for_done(db, proc, at_least=3)
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "choicelab: interrupted; finished runs are kept in the store"
    assert "Traceback" not in err
    before = _check_no_partial_runs(db, values_per_run=3)
    assert 3 <= len(before) < 40
    summary = run_batch(load_scenario(DATA / "selftest_slow.toml"), db, workers=1)
    assert summary.skipped == len(before) and summary.done == 40 - len(before)
    assert len(_check_no_partial_runs(db, values_per_run=3)) == 40


def test_execute_run_returns_errors_instead_of_raising():
    runs = expand(load_scenario(DATA / "selftest.toml"))
    run = runs[3]
    assert run.seed == 3
    res = execute_run(run.to_payload())
    assert res["status"] == "error" and res["run_id"] == run.run_id and res["seed"] == 3
    assert res["error"].strip().endswith(FAIL_MESSAGE)
    ok = execute_run(runs[0].to_payload())
    assert ok["status"] == "done" and ok["verdicts"] == [] and set(ok["blobs"]) == {"draws"}
    assert [r["item"] for r in ok["rows"]] == ["0", "1", "checksum"]


def test_bad_arguments(tmp_path):
    sc = load_scenario(DATA / "selftest.toml")
    with pytest.raises(ValueError, match="engine must be one of"):
        run_batch(sc, tmp_path / "s.sqlite", engine="spark")
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        run_batch(sc, tmp_path / "s.sqlite", workers=0)
    with pytest.raises(ValueError, match="needs engine='dask'"):
        run_batch(sc, tmp_path / "s.sqlite", scheduler="tcp://localhost:1")
    runs = expand(sc) + expand(load_scenario(DATA / "good_small_case_study.toml"))
    with pytest.raises(ValueError, match="one batch"):
        run_batch(runs, tmp_path / "s.sqlite")
    with pytest.raises(TypeError, match="Scenario or a non-empty sequence"):
        run_batch([], tmp_path / "s.sqlite")
    with pytest.raises(ValueError, match="seed applies to a Scenario only"):
        run_batch(expand(sc), tmp_path / "s.sqlite", seed=3)
