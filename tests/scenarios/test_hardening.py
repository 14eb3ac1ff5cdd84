"""Regression tests of the hardening campaign: nothing mixed silently, no orphan, no traceback.

Each test reproduces one failure found by the campaign (the number in its name is the item of
that issue) and checks the fix.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from choicelab.cli import main

SMALL = """
[scenario]
name = "small"
description = "a small batch"
seeds = 2

[world.region]
type = "box"
lo = [0.0, 0.0]
hi = [1.0, 1.0]

[world.alternatives]
generator = "uniform"
m = 5

[[world.population.types]]
share = 1.0
reward = "ideal_point"
center = [0.5, 0.5]

[estimators]
names = ["mle"]

[measures]
names = ["scores"]
"""


def _run(capsys, *argv):
    capsys.readouterr()
    rc = main(list(argv))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def _one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --- 1. a batch is its parameters ----------------------------------------------------------------


def test_1_rerunning_a_batch_with_other_parameters_is_refused_and_says_what_changed(tmp_path, capsys):
    path, db = tmp_path / "s.toml", tmp_path / "s.sqlite"
    path.write_text(SMALL)
    assert _run(capsys, "run", str(path), "--db", str(db), "--workers", "1")[0] == 0
    path.write_text(SMALL.replace("m = 5", "m = 6"))
    rc, _, err = _run(capsys, "run", str(path), "--db", str(db), "--workers", "1")
    line = _one_line(err)
    assert rc == 2 and "world.alternatives.m: 5 -> 6" in line and "--new-batch" in line and "--replace" in line
    # the seed override is a change too (the new seeds do not cover the old ones)
    path.write_text(SMALL)
    rc, _, err = _run(capsys, "run", str(path), "--db", str(db), "--workers", "1", "--seed", "7")
    assert rc == 2 and "seeds 0,1 -> 7,8" in _one_line(err)
    # nothing was mixed: the store still holds the two original runs only
    from choicelab.scenarios.store import Store

    with Store(db) as store:
        assert sorted(r["seed"] for r in store.runs("small")) == [0, 1]


def test_1_more_seeds_a_new_description_or_report_are_the_same_batch(tmp_path, capsys):
    path, db = tmp_path / "s.toml", tmp_path / "s.sqlite"
    path.write_text(SMALL)
    assert _run(capsys, "run", str(path), "--db", str(db), "--workers", "1")[0] == 0
    path.write_text(
        SMALL.replace("seeds = 2", "seeds = 3").replace("a small batch", "renamed")
        + '\n[report]\nfigures = ["scores_by_item"]\n'
    )
    rc, out, _ = _run(capsys, "run", str(path), "--db", str(db), "--workers", "1")
    assert rc == 0 and "1 done now, 2 already done" in out


def test_1_replace_and_new_batch(tmp_path, capsys):
    path, db = tmp_path / "s.toml", tmp_path / "s.sqlite"
    path.write_text(SMALL)
    assert _run(capsys, "run", str(path), "--db", str(db), "--workers", "1")[0] == 0
    path.write_text(SMALL.replace("m = 5", "m = 7"))
    assert _run(capsys, "run", str(path), "--db", str(db), "--workers", "1", "--new-batch", "small-m7")[0] == 0
    assert _run(capsys, "run", str(path), "--db", str(db), "--workers", "1", "--replace")[0] == 0
    from choicelab.scenarios.store import Store

    with Store(db) as store:
        sizes = {
            b: {
                len(store.to_frame("results", b).query("run_id == @r"))
                for r in store.to_frame("results", b)["run_id"].unique()
            }
            for b in ("small", "small-m7")
        }
    assert sizes == {"small": {7}, "small-m7": {7}}  # both batches hold only m = 7 runs now


def test_1_a_changed_data_file_is_a_changed_batch(tmp_path, capsys):
    emb = tmp_path / "emb.csv"
    emb.write_text("label,x,y\na,0.1,0.1\nb,0.9,0.2\nc,0.5,0.8\n")
    comps = tmp_path / "c.csv"
    comps.write_text("a,b,winner\n0,1,0\n1,2,2\n0,2,0\n1,0,0\n")
    path, db = tmp_path / "f.toml", tmp_path / "f.sqlite"
    path.write_text(
        textwrap.dedent("""
        [scenario]
        name = "files"
        [world.alternatives]
        generator = "file"
        path = "emb.csv"
        [data]
        kind = "files"
        comparisons = "c.csv"
        [estimators]
        names = ["mle"]
    """)
    )
    assert _run(capsys, "run", str(path), "--db", str(db), "--workers", "1")[0] == 0
    comps.write_text("a,b,winner\n0,1,1\n1,2,2\n0,2,0\n1,0,0\n")
    rc, _, err = _run(capsys, "run", str(path), "--db", str(db), "--workers", "1")
    assert rc == 2 and f"data file {comps.resolve()} changed content" in _one_line(err)


# --- 2 and 3. workers ----------------------------------------------------------------------------

SLOW = """
[scenario]
name = "slow"
seeds = 6
[data]
kind = "none"
[measures]
names = ["selftest"]
[measures.options.selftest]
sleep = {sleep}
"""


def _descendants(pid: int) -> set:
    """Every process whose parent chain reaches ``pid`` (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    out, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - out
        out |= frontier
    return out


def _alive(pids) -> set:
    alive = set()
    for p in pids:
        try:
            state = (Path("/proc") / str(p) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(p)
    return alive


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_2_no_process_of_a_batch_outlives_choicelab_run(tmp_path, sig):
    path = tmp_path / "slow.toml"
    path.write_text(SLOW.format(sleep=60.0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "choicelab", "run", str(path), "--db", str(tmp_path / "s.sqlite"), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    kids: set = set()
    while time.time() < deadline and len(kids) < 2:
        time.sleep(0.3)
        kids = _descendants(proc.pid)
    assert len(kids) >= 2, "the workers never started"
    time.sleep(1.0)
    kids = _descendants(proc.pid)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    time.sleep(5.0)
    assert _alive(kids) == set()
    if sig == signal.SIGTERM:
        assert proc.returncode == 143 and "Traceback" not in err.decode()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_2_no_dask_worker_outlives_choicelab_run(tmp_path):
    pytest.importorskip("distributed")
    path = tmp_path / "slow.toml"
    path.write_text(SLOW.format(sleep=60.0))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "choicelab",
            "run",
            str(path),
            "--db",
            str(tmp_path / "d.sqlite"),
            "--workers",
            "2",
            "--engine",
            "dask",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 90
    kids: set = set()
    while time.time() < deadline and len([p for p in kids if "spawn_main" in _cmdline(p)]) < 2:
        time.sleep(0.5)
        kids = _descendants(proc.pid)
    assert len([p for p in kids if "spawn_main" in _cmdline(p)]) >= 2, "the Dask workers never started"
    time.sleep(3.0)  # the workers' parent watch is installed once the client is up
    kids = _descendants(proc.pid)
    proc.kill()
    proc.communicate(timeout=30)
    time.sleep(5.0)
    assert _alive(kids) == set()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_3_a_dead_worker_fails_its_own_run_only(tmp_path):
    path = tmp_path / "mid.toml"
    path.write_text(SLOW.format(sleep=1.5))
    db = tmp_path / "m.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "choicelab", "run", str(path), "--db", str(db), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    victim = None
    while time.time() < deadline and victim is None:
        time.sleep(0.2)
        workers = [p for p in _descendants(proc.pid) if "spawn_main" in _cmdline(p)]
        if len(workers) >= 2:
            time.sleep(1.0)  # both workers hold a run now
            victim = workers[0]
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1
    from choicelab.scenarios.store import Store

    with Store(db) as store:
        counts = store.counts("slow")
        errors = [r["error"] for r in store.runs("slow", status="error")]
    assert counts == {"done": 5, "error": 1, "running": 0}
    assert "worker process died (killed by signal SIGKILL)" in errors[0]


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# --- 4, 5, 6. reports ----------------------------------------------------------------------------


def test_4_5_6_hostile_labels_fences_and_the_seed_override_in_reports(tmp_path, capsys):
    text = SMALL.replace(
        'description = "a small batch"', 'description = """\n````\n<img src=x onerror=alert(1)>\n````\n"""'
    )
    text = text.replace(
        'generator = "uniform"\nm = 5',
        'generator = "points"\nX = [[0.1, 0.2], [0.8, 0.3], [0.4, 0.9]]\nlabels = ["$\\\\foo$", "a`b", "``` x"]',
    )
    path, db = tmp_path / "h.toml", tmp_path / "h.sqlite"
    path.write_text(text + '\n[report]\nfigures = ["scores_by_item"]\n')
    assert _run(capsys, "run", str(path), "--db", str(db), "--workers", "1", "--seed", "7")[0] == 0
    rc, out, err = _run(capsys, "report", "--db", str(db), "--out", str(tmp_path / "rep"))
    assert rc == 0, err
    folder = tmp_path / "rep" / "small"
    assert (folder / "fig-scores_by_item.png").stat().st_size > 1000  # the $\foo$ label did not kill the figure
    md = (folder / "report.md").read_text()
    # every fenced block is closed by a fence longer than any backtick run inside it
    lines = md.splitlines()
    k = 0
    while k < len(lines):
        if lines[k].startswith("```"):
            fence = lines[k].rstrip("abcdefghijklmnopqrstuvwxyz")
            end = next(j for j in range(k + 1, len(lines)) if lines[j] == fence)
            inner = "\n".join(lines[k + 1 : end])
            assert "<img src=x" in inner or "```" not in inner
            assert all(not ln.startswith(fence) for ln in lines[k + 1 : end])
            k = end
        k += 1
    assert "<img" not in md.replace("&lt;img", "").split("```")[0]  # the description paragraph is escaped
    assert "&lt;img src=x onerror=alert(1)&gt;" in (folder / "index.html").read_text()
    assert "--seed 7" in md and "base seed 7" in md


def test_7_reports_and_exports_never_write_to_the_store(tmp_path, capsys):
    path, db = tmp_path / "s.toml", tmp_path / "s.sqlite"
    path.write_text(SMALL)
    assert _run(capsys, "run", str(path), "--db", str(db), "--workers", "1")[0] == 0
    before = (db.read_bytes(), db.stat().st_mtime_ns)
    assert _run(capsys, "report", "--db", str(db), "--out", str(tmp_path / "r"))[0] == 0
    assert _run(capsys, "export", "--db", str(db), "--format", "csv")[0] == 0
    assert (db.read_bytes(), db.stat().st_mtime_ns) == before
    foreign = tmp_path / "other.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE people (name TEXT)")
    con.commit()
    con.close()
    raw = foreign.read_bytes()
    rc, _, err = _run(capsys, "report", "--db", str(foreign), "--out", str(tmp_path / "r2"))
    assert rc == 2 and "is not a choicelab store" in _one_line(err) and foreign.read_bytes() == raw


def test_7_a_damaged_store_is_named_in_one_line(tmp_path, capsys):
    path, db = tmp_path / "s.toml", tmp_path / "s.sqlite"
    path.write_text(SMALL)
    assert _run(capsys, "run", str(path), "--db", str(db), "--workers", "1")[0] == 0
    data = bytearray(db.read_bytes())
    page = 4096
    data[page : page * 3] = b"\xff" * (page * 2)  # overwrite two pages after the header
    db.write_bytes(bytes(data))
    for argv in (
        ["report", "--db", str(db), "--out", str(tmp_path / "r")],
        ["export", "--db", str(db), "--format", "csv"],
    ):
        rc, _, err = _run(capsys, *argv)
        line = _one_line(err)
        assert rc == 2 and ("damaged" in line or "not a usable" in line or "not a choicelab store" in line), line


def test_7_two_processes_never_compute_the_same_run(tmp_path):
    from choicelab.scenarios.spec import expand, parse_scenario
    from choicelab.scenarios.store import Store

    sc = parse_scenario(SLOW.format(sleep=0.0), tmp_path / "x.toml")
    runs = expand(sc)
    with Store(tmp_path / "c.sqlite") as a, Store(tmp_path / "c.sqlite") as b:
        a.record_batch("slow", "experiment")
        first = a.claim(runs[:4], owner=f"{os.uname().nodename}:{os.getpid()}")
        second = b.claim(runs, owner="elsewhere-host:1")  # another live owner: only the unclaimed ones
        assert [r.run_id for r in first] == [r.run_id for r in runs[:4]]
        assert [r.run_id for r in second] == [r.run_id for r in runs[4:]]
        # a run left running by a dead process of this host is claimed again
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        c = Store(tmp_path / "c.sqlite")
        c.claim(runs[4:5], owner=f"{os.uname().nodename}:{int(dead.stdout)}")  # not claimable: live other owner
        with sqlite3.connect(tmp_path / "c.sqlite") as raw:
            raw.execute(
                "UPDATE runs SET owner=? WHERE run_id=?", (f"{os.uname().nodename}:{int(dead.stdout)}", runs[5].run_id)
            )
        again = a.claim(runs[5:6], owner="third:2")
        c.close()
    assert [r.run_id for r in again] == [runs[5].run_id]


# --- 9. one line, never a traceback --------------------------------------------------------------


def test_9_seeds_beyond_2_63_are_input_errors(tmp_path, capsys):
    path = tmp_path / "s.toml"
    for body, key in (
        (SMALL.replace("seeds = 2", "seeds = 2\nbase_seed = 9223372036854775807"), "scenario.base_seed"),
        (SMALL.replace("seeds = 2", "seeds = [1, 9223372036854775808]"), "scenario.seeds"),
    ):
        path.write_text(body)
        rc, _, err = _run(capsys, "run", str(path), "--db", str(tmp_path / "x.sqlite"))
        assert rc == 2 and key in _one_line(err)
    path.write_text(SMALL)
    rc, _, err = _run(capsys, "run", str(path), "--db", str(tmp_path / "x.sqlite"), "--seed", str(2**63))
    assert rc == 2 and "--seed" in _one_line(err)


def test_9_a_byte_order_mark_is_accepted(tmp_path, capsys):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + SMALL.encode())
    assert _run(capsys, "run", str(path), "--db", str(tmp_path / "b.sqlite"), "--workers", "1")[0] == 0


def test_9_broken_pipe_is_one_line(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SMALL)
    proc = subprocess.run(
        f"{sys.executable} -m choicelab run {path} --db {tmp_path / 'p.sqlite'} --workers 1 | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.startswith("small:")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) <= 1


def test_9_report_onto_a_file_is_one_line(tmp_path, capsys):
    path, db = tmp_path / "s.toml", tmp_path / "s.sqlite"
    path.write_text(SMALL)
    assert _run(capsys, "run", str(path), "--db", str(db), "--workers", "1")[0] == 0
    (tmp_path / "taken").write_text("x")
    rc, _, err = _run(capsys, "report", "--db", str(db), "--out", str(tmp_path / "taken"))
    assert rc == 2 and "is a file, not a folder" in _one_line(err)


# --- 10. unbounded work is named before it starts ------------------------------------------------


def test_10_a_huge_sweep_is_refused_at_once_with_its_size(tmp_path, capsys):
    path = tmp_path / "s.toml"
    values = list(range(1000))
    path.write_text(
        SMALL + f'\n[sweep]\n"world.alternatives.m" = {values}\n"estimators.lam" = {[0.1 + k for k in range(1000)]}\n'
    )
    t0 = time.perf_counter()
    rc, _, err = _run(capsys, "run", str(path), "--db", str(tmp_path / "x.sqlite"))
    assert rc == 2 and time.perf_counter() - t0 < 10
    assert "1000000 sweep points x 2 seeds = 2000000 runs, more than max_runs = 100000" in _one_line(err)
    path.write_text(SMALL + '\n[sweep]\n"world.alternatives.m" = [3, 4, 5]\n')
    rc, _, err = _run(capsys, "run", str(path), "--db", str(tmp_path / "x.sqlite"), "--max-runs", "4")
    assert rc == 2 and "= 6 runs, more than max_runs = 4" in _one_line(err)


def test_10_memory_and_world_build_problems_are_caught_at_load(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(SMALL + '\n[sweep]\n"world.alternatives.m" = [5, 10000000]\n')
    rc, _, err = _run(capsys, "run", str(path), "--db", str(tmp_path / "x.sqlite"))
    line = _one_line(err)
    assert rc == 2 and "sweep.world.alternatives.m = 10000000" in line and "GiB" in line
    path.write_text(SMALL.replace("center = [0.5, 0.5]", "center = [0.5, 0.5, 0.5]"))
    rc, _, err = _run(capsys, "run", str(path), "--db", str(tmp_path / "x.sqlite"))
    assert rc == 2 and "world.population.types.0.center" in _one_line(err)
    assert not (tmp_path / "x.sqlite").exists()  # refused at load: no store was opened


# --- every CLI error path: one line, no traceback ------------------------------------------------


@pytest.mark.parametrize(
    "argv, rc",
    [
        (["run", "no-such-scenario"], 2),
        (["run", "clone-sweep", "--workers", "0"], 2),
        (["run", "clone-sweep", "--seed", "-1"], 2),
        (["run", "clone-sweep", "--engine", "spark"], 2),
        (["run", "clone-sweep", "--scheduler", "tcp://x:1"], 2),
        (["run", "clone-sweep", "--db", "/no/such/folder/x.sqlite"], 2),
        (["run", "clone-sweep", "--plugin", "no_such_module_xyz"], 2),
        (["run", "clone-sweep", "--new-batch", "bad name!"], 2),
        (["run", "clone-sweep", "--max-runs", "0"], 2),
        (["report", "--db", "/no/such.sqlite"], 2),
        (["export", "--db", "/no/such.sqlite", "--format", "csv"], 2),
        (["export", "--format", "xml"], 2),
        (["verify", "--quick", "--seed", "-1"], 2),
        (["verify", "--quick", "--axiom", "A99"], 2),
        (["explain", "no-such-thing"], 2),
        (["frobnicate"], 2),
    ],
)
def test_every_cli_error_path_is_one_line(tmp_path, monkeypatch, capsys, argv, rc):
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    try:
        got = main(argv)
    except SystemExit as exc:  # argparse errors exit from inside parse_args
        got = exc.code
    err = capsys.readouterr().err
    assert got == rc
    assert "Traceback" not in err and len([ln for ln in err.splitlines() if ln.strip()]) == 1, err


def test_weights_sum_to_one_on_the_recorded_worlds():
    """A sanity anchor for the weighted runs above: the voronoi weighting sums to 1 to rounding."""
    from choicelab import sim
    from choicelab.estimators.weightings import get_weighting

    X = np.random.default_rng(0).random((30, 2))
    w = get_weighting("voronoi").compute(X, sim.Box([0, 0], [1, 1]), np.random.default_rng(0))
    assert abs(w.sum() - 1.0) < 1e-12 and np.all(w >= 0)
