"""`choicelab export` and `export_table`: CSV, JSON lines, Parquet; one-line errors with exit status 2."""

from __future__ import annotations

import io
import json
import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from choicelab.cli import main
from choicelab.scenarios.export import export_table
from choicelab.scenarios.spec import Run
from choicelab.scenarios.store import ResultRecord, Store

ROOT = Path(__file__).resolve().parents[2]


def _cli(*argv, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "choicelab", *argv], capture_output=True, text=True, env=env, timeout=300, **kw
    )


def _make_store(path, n_items=2):
    """Batch "sw" swept over z.n (numeric) and a.sizes (lists): runs r0..r2 done, r3 running."""
    s = Store(path)
    s.record_batch("sw", "selftest", params={"sweep": {"z.n": [3, 10], "a.sizes": [[1, 2], [3]]}})
    points = [(3, [1, 2]), (10, [3]), (3, [3]), (10, [1, 2])]
    s.mark_running(
        [
            Run(run_id=f"r{i}", batch="sw", kind="selftest", params={"i": i}, seed=i, point={"z.n": n, "a.sizes": sz})
            for i, (n, sz) in enumerate(points)
        ]
    )
    for i in range(3):
        rows = [
            ResultRecord(
                "base",
                "mle",
                "delta",
                k,
                f"item {k}",
                0.25 * i + k,
                stderr=0.1 if k else None,
                ci_low=0.25 * i + k - 0.2 if k else None,
                ci_high=0.25 * i + k + 0.2 if k else None,
            )
            for k in range(n_items)
        ]
        rows.append(("mle", "slope", "", float("nan") if i == 1 else -1.0 - i))
        s.record_done(
            f"r{i}",
            rows,
            {},
            seconds=0.1,
            verdicts=[
                {
                    "axiom": "A1",
                    "estimator": "mle",
                    "expected": "holds",
                    "measured": "holds" if i != 1 else "inconclusive",
                    "agrees": True if i != 1 else None,
                    "magnitude": 0.5 * i,
                    "witness": {"eps": np.array([0.1, 0.01 * i])},
                }
            ],
        )
    return s


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "s.sqlite"
    _make_store(path).close()
    return path


def _expected(db, table="results", batch=None):
    with Store(db) as s:
        return s.to_frame(table, batch)


def test_csv_to_stdout_matches_to_frame(db, capsys):
    assert main(["export", "--db", str(db), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert lines[0] == "run_id,seed,z.n,a.sizes,condition,estimator,measure,item,label,value,stderr,ci_low,ci_high"
    assert lines[1] == 'r0,0,3,"[1,2]",base,mle,delta,0,item 0,0.0,,,'
    assert lines[2] == 'r0,0,3,"[1,2]",base,mle,delta,1,item 1,1.0,0.1,0.8,1.2'
    assert lines[4] == "r1,1,10,[3],base,mle,delta,0,item 0,0.25,,,"
    assert len(lines) == 1 + 9
    back = pd.read_csv(io.StringIO(captured.out), keep_default_na=False, na_values=[""])
    expected = _expected(db)
    assert lines[3] == 'r0,0,3,"[1,2]",default,mle,slope,,,-1.0,,,'
    assert back["value"].isna().tolist() == [False] * 5 + [True] + [False] * 3
    np.testing.assert_allclose(back["value"].to_numpy(), expected["value"].to_numpy())
    np.testing.assert_allclose(back["ci_high"].to_numpy(), expected["ci_high"].to_numpy())
    assert back["z.n"].tolist() == [3, 3, 3, 10, 10, 10, 3, 3, 3]
    assert back["a.sizes"].tolist() == expected["a.sizes"].tolist()


def test_csv_and_jsonl_to_files(db, tmp_path, capsys):
    out_csv, out_jsonl = tmp_path / "r.csv", tmp_path / "v.jsonl"
    assert main(["export", "--db", str(db), "--format", "csv", "--out", str(out_csv)]) == 0
    assert main(["export", "--db", str(db), "--table", "verdicts", "--format", "jsonl", "--out", str(out_jsonl)]) == 0
    assert capsys.readouterr().out == ""
    frame = pd.read_csv(out_csv)
    assert list(frame.columns) == list(_expected(db).columns) and len(frame) == 9
    records = [json.loads(line) for line in out_jsonl.read_text().splitlines()]
    assert [list(r) for r in records] == [
        [
            "run_id",
            "seed",
            "z.n",
            "a.sizes",
            "condition",
            "axiom",
            "estimator",
            "expected",
            "measured",
            "agrees",
            "magnitude",
            "witness",
        ]
    ] * 3
    assert [(r["run_id"], r["seed"], r["z.n"], r["a.sizes"], r["agrees"], r["magnitude"]) for r in records] == [
        ("r0", 0, 3, "[1,2]", True, 0.0),
        ("r1", 1, 10, "[3]", None, 0.5),
        ("r2", 2, 3, "[3]", True, 1.0),
    ]
    assert [json.loads(r["witness"]) for r in records] == [
        {"eps": [0.1, 0.0]},
        {"eps": [0.1, 0.01]},
        {"eps": [0.1, 0.02]},
    ]


def test_jsonl_nan_as_null_and_row_count(db, tmp_path):
    out = tmp_path / "r.jsonl"
    with Store(db) as s:
        n = export_table(s, fmt="jsonl", out=out)
        frame = s.to_frame()
    text = out.read_text()
    assert "NaN" not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert n == len(records) == len(frame) == 9
    slope = [r for r in records if r["measure"] == "slope"]
    assert [r["value"] for r in slope] == [-1.0, None, -3.0]
    assert [r["stderr"] for r in slope] == [None, None, None]
    assert [r["item"] for r in records[:2]] == ["0", "1"] and records[1]["ci_low"] == pytest.approx(0.8)
    for rec, (_, row) in zip(records, frame.iterrows()):
        for col in frame.columns:
            want = row[col]
            if isinstance(want, float) and math.isnan(want):
                assert rec[col] is None
            else:
                assert rec[col] == (want.item() if hasattr(want, "item") else want)


def test_parquet_round_trip(db, tmp_path):
    out = tmp_path / "r.parquet"
    assert main(["export", "--db", str(db), "--format", "parquet", "--out", str(out)]) == 0
    back = pd.read_parquet(out)
    expected = _expected(db)
    assert list(back.columns) == list(expected.columns)
    assert str(back["z.n"].dtype) == "int64" and str(back["value"].dtype) == "float64"
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    out_v = tmp_path / "v.parquet"
    with Store(db) as s:
        assert export_table(s, table="verdicts", fmt="parquet", out=out_v) == 3
    verdicts = pd.read_parquet(out_v)
    assert verdicts["agrees"].isna().tolist() == [False, True, False]
    assert verdicts["agrees"].iloc[0] == True  # noqa: E712  (nullable boolean)
    pd.testing.assert_frame_equal(verdicts, _expected(db, "verdicts"), check_dtype=False)


def test_several_batches_and_batch_filter(db, capsys):
    with Store(db) as s:
        s.record_batch("other", "selftest")
        s.mark_running([Run(run_id="q", batch="other", kind="selftest", params={}, seed=9, point={})])
        s.record_done("q", [("borda", "rank", "a", 7.0)], {}, seconds=0.0)
    assert main(["export", "--db", str(db), "--format", "jsonl"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["batch"] for r in records] == ["sw"] * 9 + ["other"]
    assert records[-1]["z.n"] is None and records[-1]["value"] == 7.0
    assert main(["export", "--db", str(db), "--format", "csv", "--batch", "other"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "run_id,seed,condition,estimator,measure,item,label,value,stderr,ci_low,ci_high",
        "q,9,default,borda,rank,a,,7.0,,,",
    ]


def test_export_table_bad_input(db):
    with Store(db) as s:
        with pytest.raises(ValueError, match="parquet needs --out FILE"):
            export_table(s, fmt="parquet")
        with pytest.raises(ValueError, match="format must be one of csv, jsonl, parquet"):
            export_table(s, fmt="xlsx")
        with pytest.raises(ValueError, match="batch 'zz' is not in the store"):
            export_table(s, batch="zz")


def _old_store(path):
    raw = sqlite3.connect(path)
    raw.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '1');"
        "CREATE TABLE results (run_id TEXT, estimator TEXT, metric TEXT, key TEXT, value REAL);"
    )
    raw.commit()
    raw.close()


@pytest.mark.parametrize("case", ["missing", "batch", "parquet", "old", "empty", "out-folder"])
def test_bad_input_exits_2_with_one_line(db, tmp_path, case, capsys):
    argv = ["export", "--db", str(db), "--format", "csv"]
    if case == "missing":
        target = tmp_path / "nope.sqlite"
        argv[2] = str(target)
        fragment = f"choicelab: export: --db {str(target)!r}: no such store file"
    elif case == "batch":
        argv += ["--batch", "zz"]
        fragment = "choicelab: export: batch 'zz' is not in the store"
    elif case == "parquet":
        argv[-1] = "parquet"
        fragment = "choicelab: export: parquet needs --out FILE"
    elif case == "old":
        target = tmp_path / "old.sqlite"
        _old_store(target)
        before = target.read_bytes()
        argv[2] = str(target)
        fragment = (
            f"choicelab: export: --db path: store {str(target)!r} was written with results-store schema "
            "version 1; this choicelab reads version 2"
        )
    elif case == "empty":
        target = tmp_path / "empty.sqlite"
        target.write_bytes(b"")
        argv[2] = str(target)
        fragment = "the file is empty, not a choicelab store"
    else:
        argv += ["--out", str(tmp_path / "no" / "where.csv")]
        fragment = "does not exist"
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and fragment in lines[0] and lines[0].startswith("choicelab: export: ")
    if case == "missing":
        assert not (tmp_path / "nope.sqlite").exists()
    if case == "old":
        assert target.read_bytes() == before
    if case == "empty":
        assert target.read_bytes() == b""


def test_cli_subprocess_errors_and_help_stays_light(db, tmp_path):
    proc = _cli("export", "--db", str(tmp_path / "absent.sqlite"), "--format", "jsonl")
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"choicelab: export: --db {str(tmp_path / 'absent.sqlite')!r}: no such store file (choicelab run writes one)"
    ]
    assert not (tmp_path / "absent.sqlite").exists()
    proc = _cli("export", "--db", str(db))  # --format is required
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "--format" in proc.stderr
    proc = _cli("export", "--db", str(db), "--format", "jsonl")
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 9
    probe = (
        "import sys, contextlib, io\nfrom choicelab import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        cli.main(['export', '--help'])\n    except SystemExit:\n        pass\n"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'torch') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "[]"


def test_run_parser_has_plugin_option():
    from choicelab.cli import _build_parser

    args = _build_parser().parse_args(["run", "x.toml", "--plugin", "a.mod", "--plugin", "b.py"])
    assert args.plugin == ["a.mod", "b.py"]
    assert _build_parser().parse_args(["run", "x.toml"]).plugin == []


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_broken_pipe_is_quiet(tmp_path, fmt):
    path = tmp_path / "big.sqlite"
    _make_store(path, n_items=2000).close()  # ~6000 rows, well beyond a pipe buffer
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "choicelab", "export", "--db", str(path), "--format", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) in (0, 1)
    assert first.startswith(b"run_id" if fmt == "csv" else b'{"run_id": "r0"')
    assert err == b""
