"""The SQLite results store (schema 2): documented schema, transactional writes, round trips."""

from __future__ import annotations

import io
import json
import math
import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from choicelab.scenarios.spec import Run
from choicelab.scenarios.store import SCHEMA_VERSION, ResultRecord, ResultRow, Store, VerdictRow


def _run(run_id="r1", batch="b", seed=0, params=None, point=None):
    return Run(
        run_id=run_id,
        batch=batch,
        kind="selftest",
        params=params or {"x": 1},
        seed=seed,
        point={"p": 2} if point is None else point,
    )


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "s.sqlite")
    s.record_batch("b", "selftest", "file.toml", "[scenario]\n", {"a": 1})
    yield s
    s.close()


def _schema_1_store(path):
    """A store as choicelab with results-store schema 1 wrote it (WAL, one done run)."""
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE batches (name TEXT PRIMARY KEY, kind TEXT NOT NULL, created REAL NOT NULL,
            updated REAL NOT NULL, source TEXT, scenario TEXT, params TEXT);
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, batch TEXT NOT NULL, params TEXT NOT NULL,
            point TEXT NOT NULL DEFAULT '{}', seed INTEGER NOT NULL, status TEXT NOT NULL, started REAL,
            finished REAL, seconds REAL, error TEXT, attempts INTEGER NOT NULL DEFAULT 0, n_results INTEGER,
            n_blobs INTEGER);
        CREATE TABLE results (run_id TEXT NOT NULL, estimator TEXT NOT NULL, metric TEXT NOT NULL,
            key TEXT NOT NULL, value REAL, PRIMARY KEY (run_id, estimator, metric, key));
        CREATE TABLE blobs (run_id TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (run_id, name));
        INSERT INTO meta VALUES ('schema_version', '1');
        INSERT INTO batches VALUES ('b', 'selftest', 1.0, 1.0, '', '', '{}');
        INSERT INTO runs VALUES ('r1', 'b', '{}', '{}', 0, 'done', 1.0, 2.0, 1.0, NULL, 1, 1, 0);
        INSERT INTO results VALUES ('r1', 'mle', 'delta', '0.1', 0.25);
    """)
    raw.commit()
    raw.close()


def test_schema_as_documented(tmp_path, store):
    raw = sqlite3.connect(tmp_path / "s.sqlite")
    tables = ("batches", "runs", "results", "verdicts", "blobs", "meta")
    info = {t: list(raw.execute(f"PRAGMA table_info({t})")) for t in tables}
    cols = {t: [r[1] for r in rows] for t, rows in info.items()}
    assert cols["batches"] == ["name", "kind", "created", "updated", "source", "scenario", "params"]
    assert cols["runs"] == [
        "run_id",
        "batch",
        "params",
        "point",
        "seed",
        "status",
        "started",
        "finished",
        "seconds",
        "error",
        "attempts",
        "n_results",
        "n_blobs",
        "n_verdicts",
        "owner",
    ]
    assert cols["results"] == [
        "run_id",
        "condition",
        "estimator",
        "measure",
        "item",
        "label",
        "value",
        "stderr",
        "ci_low",
        "ci_high",
    ]
    assert cols["verdicts"] == [
        "run_id",
        "condition",
        "axiom",
        "estimator",
        "expected",
        "measured",
        "agrees",
        "magnitude",
        "witness",
    ]
    assert cols["blobs"] == ["run_id", "name", "data"]
    # declared types, NOT NULL flags and primary-key positions
    results = {r[1]: (r[2], r[3], r[5]) for r in info["results"]}
    assert results == {
        "run_id": ("TEXT", 1, 1),
        "condition": ("TEXT", 1, 2),
        "estimator": ("TEXT", 1, 3),
        "measure": ("TEXT", 1, 4),
        "item": ("TEXT", 1, 5),
        "label": ("TEXT", 1, 0),
        "value": ("REAL", 0, 0),
        "stderr": ("REAL", 0, 0),
        "ci_low": ("REAL", 0, 0),
        "ci_high": ("REAL", 0, 0),
    }
    assert [r[4] for r in info["results"] if r[1] == "label"] == ["''"]
    verdicts = {r[1]: (r[2], r[3], r[5]) for r in info["verdicts"]}
    assert verdicts == {
        "run_id": ("TEXT", 1, 1),
        "condition": ("TEXT", 1, 2),
        "axiom": ("TEXT", 1, 3),
        "estimator": ("TEXT", 1, 4),
        "expected": ("TEXT", 0, 0),
        "measured": ("TEXT", 0, 0),
        "agrees": ("INTEGER", 0, 0),
        "magnitude": ("REAL", 0, 0),
        "witness": ("TEXT", 0, 0),
    }
    assert raw.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("2",)
    assert SCHEMA_VERSION == "2"
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_done_run_round_trip(tmp_path, store):
    store.mark_running([_run("r1"), _run("r2", seed=1)])
    rows = [("mle", "delta", "0.1", 0.25), ("mle", "delta", "0.01", float("nan")), ("wmle", "x", "", -3.5)]
    blobs = {"curve": np.array([[1.0, 2.0], [3.0, 4.0]]), "labels": np.array(["a", "bb"]), "flag": np.int8(1)}
    store.record_done("r1", rows, blobs, seconds=1.5, started=100.0, finished=101.5)
    assert store.done_run_ids("b") == {"r1"}
    assert store.counts("b") == {"done": 1, "error": 0, "running": 1}
    # legacy (estimator, metric, key, value) tuples: condition "default", no label / stderr / interval
    got = [
        (
            r.run_id,
            r.batch,
            r.seed,
            r.condition,
            r.estimator,
            r.measure,
            r.item,
            r.label,
            r.value,
            r.stderr,
            r.ci_low,
            r.ci_high,
        )
        for r in store.results(batch="b")
    ]
    # in the order the run wrote them
    assert got == [
        ("r1", "b", 0, "default", "mle", "delta", "0.1", "", 0.25, None, None, None),
        ("r1", "b", 0, "default", "mle", "delta", "0.01", "", None, None, None, None),
        ("r1", "b", 0, "default", "wmle", "x", "", "", -3.5, None, None, None),
    ]
    # schema-1 reader names keep working
    assert [(r.estimator, r.metric, r.key, r.value) for r in store.results(batch="b")] == [
        ("mle", "delta", "0.1", 0.25),
        ("mle", "delta", "0.01", None),
        ("wmle", "x", "", -3.5),
    ]
    assert [r.value for r in store.results(metric="x")] == [-3.5]
    assert [r.value for r in store.results(measure="x", condition="default")] == [-3.5]
    assert store.results(condition="other") == []
    back = store.blobs("r1")
    np.testing.assert_array_equal(back["curve"], blobs["curve"])
    assert back["labels"].tolist() == ["a", "bb"] and int(back["flag"]) == 1
    run = {r["run_id"]: r for r in store.runs("b")}["r1"]
    assert (
        run["status"],
        run["seconds"],
        run["started"],
        run["finished"],
        run["n_results"],
        run["n_blobs"],
        run["n_verdicts"],
    ) == ("done", 1.5, 100.0, 101.5, 3, 3, 0)
    assert run["params"] == {"x": 1} and run["point"] == {"p": 2}
    # the blob column is plain .npy bytes, readable without choicelab
    raw = sqlite3.connect(tmp_path / "s.sqlite")
    data = raw.execute("SELECT data FROM blobs WHERE run_id='r1' AND name='curve'").fetchone()[0]
    np.testing.assert_array_equal(np.load(io.BytesIO(data), allow_pickle=False), blobs["curve"])
    assert raw.execute("SELECT value FROM results WHERE item='0.01'").fetchone() == (None,)  # NaN as NULL
    raw.close()


def test_typed_records_round_trip(tmp_path, store):
    store.mark_running([_run("r1")])
    rows = [
        ResultRecord("clones=3", "mle", "topic_reward", 2, "sports", 0.75, stderr=0.05, ci_low=0.65, ci_high=0.85),
        ResultRecord("clones=3", "mle", "topic_reward", 10, value=float("nan"), stderr=float("nan")),
        {
            "condition": "base",
            "estimator": "borda",
            "measure": "rank",
            "item": "a",
            "label": "Alpha",
            "value": np.float32(1.5),
            "stderr": None,
        },
        {"estimator": "wmle", "metric": "x", "key": "k", "value": 2.0},
    ]  # mapping with schema-1 names
    store.record_done("r1", rows, {}, seconds=0.1)
    got = [
        (r.condition, r.estimator, r.measure, r.item, r.label, r.value, r.stderr, r.ci_low, r.ci_high)
        for r in store.results()
    ]
    assert got == [
        ("clones=3", "mle", "topic_reward", "2", "sports", 0.75, 0.05, 0.65, 0.85),
        ("clones=3", "mle", "topic_reward", "10", "", None, None, None, None),
        ("base", "borda", "rank", "a", "Alpha", 1.5, None, None, None),
        ("default", "wmle", "x", "k", "", 2.0, None, None, None),
    ]  # in the order written
    assert store.runs("b")[0]["n_results"] == 4
    assert [r.item for r in store.results(condition="clones=3", measure="topic_reward")] == ["2", "10"]
    with pytest.raises(ValueError, match="alias"):
        store.results(metric="a", measure="b")
    row = store.results(estimator="borda")[0]
    assert isinstance(row, ResultRow) and (row.metric, row.key) == ("rank", "a")
    with pytest.raises(AttributeError):
        row.value = 3.0  # frozen


def test_verdicts_round_trip(tmp_path, store):
    store.mark_running([_run("r1"), _run("r2", seed=1)])
    verdicts = [
        {
            "axiom": "A1",
            "estimator": "mle",
            "expected": "holds",
            "measured": "violated",
            "agrees": False,
            "magnitude": np.float64(0.31),
            "witness": {"eps": np.array([0.1, 0.01]), "index": np.int64(3), "note": "clone", "bad": float("nan")},
        },
        {
            "condition": "c2",
            "axiom": "P4",
            "estimator": "mle",
            "expected": "holds",
            "measured": "inconclusive",
            "agrees": None,
            "magnitude": float("nan"),
            "witness": None,
        },
        {
            "axiom": "A1",
            "estimator": "borda",
            "expected": "violated",
            "measured": "violated",
            "agrees": np.bool_(True),
            "magnitude": None,
            "witness": [1, 2],
        },
    ]
    store.record_done("r1", [("mle", "m", "k", 1.0)], {}, seconds=0.1, verdicts=verdicts)
    got = store.verdicts(batch="b")
    assert got == [  # in the order written
        VerdictRow(
            "r1",
            "b",
            0,
            "default",
            "A1",
            "mle",
            "holds",
            "violated",
            False,
            0.31,
            {"eps": [0.1, 0.01], "index": 3, "note": "clone", "bad": None},
        ),
        VerdictRow("r1", "b", 0, "c2", "P4", "mle", "holds", "inconclusive", None, None, None),
        VerdictRow("r1", "b", 0, "default", "A1", "borda", "violated", "violated", True, None, [1, 2]),
    ]
    assert store.runs("b", status="done")[0]["n_verdicts"] == 3
    raw = sqlite3.connect(tmp_path / "s.sqlite")
    stored = dict(raw.execute("SELECT estimator, witness FROM verdicts WHERE axiom='A1'").fetchall())
    assert stored == {"mle": '{"eps":[0.1,0.01],"index":3,"note":"clone","bad":null}', "borda": "[1,2]"}
    assert raw.execute("SELECT agrees FROM verdicts WHERE axiom='P4'").fetchone() == (None,)
    raw.close()
    assert store.verdicts(run_id="r2") == []  # r2 is not done
    # an error on re-record removes them, like results and blobs
    store.record_error("r1", "boom")
    assert store.verdicts() == [] and store._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == 0


def test_duplicate_keys_are_refused_before_writing(store):
    store.mark_running([_run("r1")])
    duplicate = [
        ResultRecord("c", "mle", "m", "k", value=1.0),
        ("mle", "m", "k", 0.0),
        ResultRecord("c", "mle", "m", "k", "other label", value=2.0),
    ]
    with pytest.raises(ValueError, match=r"\('c', 'mle', 'm', 'k'\)"):
        store.record_done("r1", duplicate, {"a": np.zeros(2)}, seconds=0.1)
    twice = [{"axiom": "A1", "estimator": "mle"}, {"axiom": "A1", "estimator": "mle", "agrees": True}]
    with pytest.raises(ValueError, match=r"\('default', 'A1', 'mle'\)"):
        store.record_done("r1", [], {}, seconds=0.1, verdicts=twice)
    assert store.runs("b")[0]["status"] == "running"
    assert store.results() == [] and store.verdicts() == [] and store.blobs("r1") == {}


def test_failed_transaction_leaves_no_partial_run(tmp_path, store):
    store.mark_running([_run("r1")])
    store.record_done(
        "r1",
        [("old", "m", "k", 9.0)],
        {"old": np.ones(1)},
        seconds=0.1,
        verdicts=[{"axiom": "A1", "estimator": "old", "agrees": True}],
    )
    # the blob insert (the last statement of record_done) fails inside the transaction
    store._db.execute("CREATE TRIGGER no_blobs BEFORE INSERT ON blobs BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    with pytest.raises(sqlite3.DatabaseError, match="disk on fire"):
        store.record_done(
            "r1",
            [("mle", "m", "k", 1.0), ("mle", "m", "k2", 2.0)],
            {"a": np.zeros(2)},
            seconds=0.5,
            verdicts=[{"axiom": "A2", "estimator": "mle", "agrees": False}],
        )
    # the earlier complete run is untouched: same rows, same counts
    assert [(r.estimator, r.value) for r in store.results()] == [("old", 9.0)]
    assert [(v.axiom, v.estimator) for v in store.verdicts()] == [("A1", "old")]
    assert list(store.blobs("r1")) == ["old"]
    run = store.runs("b")[0]
    assert (run["status"], run["seconds"], run["n_results"], run["n_verdicts"], run["n_blobs"]) == (
        "done",
        0.1,
        1,
        1,
        1,
    )
    # and a fresh run that fails leaves nothing at all
    store.mark_running([_run("r2", seed=1)])
    with pytest.raises(sqlite3.DatabaseError):
        store.record_done("r2", [("mle", "m", "k", 1.0)], {"a": np.zeros(2)}, seconds=0.5)
    assert {r["run_id"]: r["status"] for r in store.runs("b")} == {"r1": "done", "r2": "running"}
    for table in ("results", "verdicts", "blobs"):
        assert store._db.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id='r2'").fetchone()[0] == 0


def test_error_then_retry(store):
    store.mark_running([_run("r1")])
    store.record_error("r1", "Traceback ...\nRuntimeError: boom", seconds=0.2)
    run = store.runs("b", status="error")[0]
    assert run["error"].endswith("RuntimeError: boom") and run["attempts"] == 1
    assert (run["n_results"], run["n_blobs"], run["n_verdicts"]) == (0, 0, 0)
    assert store.done_run_ids() == set()
    store.mark_running([_run("r1")])
    run = store.runs("b")[0]
    assert (run["status"], run["attempts"], run["error"]) == ("running", 2, None)
    store.record_done("r1", [("e", "m", "k", 1.0)], {}, seconds=0.1)
    store.mark_running([_run("r1")])  # a done run is never reset
    assert store.runs("b")[0]["status"] == "done" and store.runs("b")[0]["attempts"] == 2
    assert [r.value for r in store.results()] == [1.0]


def test_bad_input(tmp_path, store):
    with pytest.raises(ValueError, match="not in the store"):
        store.record_done("nope", [], {}, seconds=0.0)
    with pytest.raises(ValueError, match="status must be one of"):
        store.runs(status="finished")
    store.mark_running([_run("r1")])
    with pytest.raises(TypeError, match="numeric or unicode"):
        store.record_done("r1", [], {"obj": np.array([object()])}, seconds=0.0)
    with pytest.raises(ValueError, match=r"rows\[0\]: a tuple row must be \(estimator, metric, key, value\)"):
        store.record_done("r1", [("e", "m", 1.0)], {}, seconds=0.0)
    with pytest.raises(ValueError, match=r"rows\[1\]: missing 'estimator'"):
        store.record_done("r1", [("e", "m", "k", 1.0), {"measure": "m", "item": "i", "value": 1.0}], {}, seconds=0.0)
    with pytest.raises(ValueError, match=r"verdicts\[0\]: agrees must be True, False or None"):
        store.record_done("r1", [], {}, seconds=0.0, verdicts=[{"axiom": "A1", "estimator": "e", "agrees": "yes"}])
    with pytest.raises(TypeError, match=r"verdicts\[0\]: witness is not JSON-serialisable"):
        store.record_done("r1", [], {}, seconds=0.0, verdicts=[{"axiom": "A1", "estimator": "e", "witness": object()}])
    assert store.runs("b")[0]["status"] == "running"
    with pytest.raises(KeyError, match="no blob 'x'"):
        store.blob("r1", "x")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database, just some text " * 100)
    with pytest.raises(ValueError, match="junk.sqlite"):
        Store(junk)
    assert junk.read_bytes() == b"this is not a database, just some text " * 100
    with pytest.raises(ValueError, match="does not exist"):
        Store(tmp_path / "missing" / "s.sqlite")
    with pytest.raises(TypeError, match="path"):
        Store(3)


def test_old_schema_store_is_refused_unchanged(tmp_path):
    old = tmp_path / "old.sqlite"
    _schema_1_store(old)
    before, listing = old.read_bytes(), sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ValueError) as info:
        Store(old)
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        f"path: store {str(old)!r} was written with results-store schema version 1; this choicelab "
        "reads version 2 (run into a new --db file, or re-run the batches)"
    )
    assert old.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == listing
    raw = sqlite3.connect(old)
    assert [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")] == [
        "batches",
        "blobs",
        "meta",
        "results",
        "runs",
    ]
    assert raw.execute("SELECT * FROM results").fetchall() == [("r1", "mle", "delta", "0.1", 0.25)]
    raw.close()


@pytest.mark.parametrize(
    "setup, fragment",
    [
        (
            "CREATE TABLE people (name TEXT, age INTEGER); INSERT INTO people VALUES ('ada', 36);",
            "is not a choicelab store (an SQLite file with tables people and no meta table)",
        ),
        (
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('owner', 'me');",
            "is not a choicelab store (its meta table has no schema_version)",
        ),
    ],
)
def test_foreign_sqlite_file_is_refused_unchanged(tmp_path, setup, fragment):
    foreign = tmp_path / "foreign.sqlite"
    raw = sqlite3.connect(foreign)
    raw.executescript(setup)
    raw.commit()
    raw.close()
    before = foreign.read_bytes()
    with pytest.raises(ValueError) as info:
        Store(foreign)
    assert str(info.value) == f"path: {str(foreign)!r} {fragment}"
    assert foreign.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.sqlite"]
    raw = sqlite3.connect(foreign)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not switched to WAL
    raw.close()


def test_empty_file_and_reopen(tmp_path):
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    with Store(empty) as s:  # an empty file is a new store
        s.record_batch("b", "selftest")
        s.mark_running([_run("r1")])
        s.record_done("r1", [("e", "m", "k", 4.0)], {}, seconds=0.0)
    with Store(empty) as s:  # and reopening a schema-2 store keeps its data
        assert [r.value for r in s.results()] == [4.0]
    with Store(":memory:") as s:
        assert s.batches() == [] and s.to_frame().shape == (0, 11)


def test_batch_row_updates_keep_created(store):
    first = store.batches()[0]
    store.record_batch("b", "selftest", "other.toml", "[x]", {"a": 2})
    second = store.batches()[0]
    assert second["created"] == first["created"] and second["updated"] >= first["updated"]
    assert (second["source"], second["scenario"], second["params"]) == ("other.toml", "[x]", {"a": 2})


def _swept_store(tmp_path, name="s.sqlite"):
    """Batch "sw": sweep keys in file order z.n (numeric), a.sizes (lists); 4 runs, 3 done."""
    s = Store(tmp_path / name)
    s.record_batch("sw", "selftest", params={"params": {}, "sweep": {"z.n": [3, 10], "a.sizes": [[1, 2], [3]]}})
    points = [(3, [1, 2]), (10, [3]), (3, [3]), (10, [1, 2])]
    runs = [_run(f"r{i}", batch="sw", seed=i, point={"z.n": n, "a.sizes": sz}) for i, (n, sz) in enumerate(points)]
    s.mark_running(runs)
    for i in range(3):
        s.record_done(
            f"r{i}",
            [
                ResultRecord(
                    "base",
                    "mle",
                    "delta",
                    "0.1",
                    "eps",
                    0.5 + i,
                    stderr=0.01 * (i + 1),
                    ci_low=0.4 + i,
                    ci_high=0.6 + i,
                ),
                ("mle", "slope", "", 1.0 + i),
            ],
            {},
            seconds=0.1,
            verdicts=[
                {
                    "axiom": "A1",
                    "estimator": "mle",
                    "expected": "holds",
                    "measured": "holds",
                    "agrees": i != 1 or None,
                    "magnitude": 0.1 * i,
                    "witness": {"i": i},
                }
            ],
        )
    return s


def test_to_frame_results_columns_and_values(tmp_path):
    s = _swept_store(tmp_path)
    frame = s.to_frame()
    assert list(frame.columns) == [
        "run_id",
        "seed",
        "z.n",
        "a.sizes",
        "condition",
        "estimator",
        "measure",
        "item",
        "label",
        "value",
        "stderr",
        "ci_low",
        "ci_high",
    ]
    assert len(frame) == 6 and set(frame["run_id"]) == {"r0", "r1", "r2"}  # r3 is not done
    assert str(frame["z.n"].dtype) == "int64" and frame["z.n"].tolist() == [3, 3, 10, 10, 3, 3]
    assert frame["a.sizes"].tolist() == ["[1,2]", "[1,2]", "[3]", "[3]", "[3]", "[3]"]
    assert frame["seed"].tolist() == [0, 0, 1, 1, 2, 2]
    assert frame["condition"].tolist() == ["base", "default"] * 3
    assert frame["value"].tolist() == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert frame["stderr"].iloc[0::2].tolist() == pytest.approx([0.01, 0.02, 0.03])
    assert frame["stderr"].iloc[1::2].isna().all() and frame["ci_low"].iloc[1::2].isna().all()
    assert frame["ci_high"].iloc[0::2].tolist() == pytest.approx([0.6, 1.6, 2.6])
    assert all(str(frame[c].dtype) == "float64" for c in ("value", "stderr", "ci_low", "ci_high"))
    assert frame["label"].tolist() == ["eps", ""] * 3
    # the frame agrees with results() row for row
    rows = s.results(batch="sw")
    assert list(zip(frame["run_id"], frame["measure"], frame["item"])) == [(r.run_id, r.measure, r.item) for r in rows]
    assert s.to_frame(batch="sw").equals(frame)
    s.close()


def test_to_frame_verdicts(tmp_path):
    s = _swept_store(tmp_path)
    frame = s.to_frame("verdicts")
    assert list(frame.columns) == [
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
    assert frame["agrees"].tolist()[0] is True and frame["agrees"].isna().tolist() == [False, True, False]
    assert frame["magnitude"].tolist() == pytest.approx([0.0, 0.1, 0.2])
    assert [json.loads(w) for w in frame["witness"]] == [{"i": 0}, {"i": 1}, {"i": 2}]
    s.close()


def test_to_frame_several_batches_and_errors(tmp_path):
    s = _swept_store(tmp_path)
    s.record_batch("plain", "selftest", params={})
    s.mark_running([_run("q1", batch="plain", seed=7, point={})])
    s.record_done("q1", [("borda", "rank", "a", 2.0)], {}, seconds=0.0)
    frame = s.to_frame()
    assert list(frame.columns)[:5] == ["batch", "run_id", "seed", "z.n", "a.sizes"]
    assert frame["batch"].tolist() == ["sw"] * 6 + ["plain"]
    assert math.isnan(frame["z.n"].iloc[-1]) and str(frame["z.n"].dtype) == "float64"
    only = s.to_frame(batch="plain")
    assert list(only.columns) == [
        "run_id",
        "seed",
        "condition",
        "estimator",
        "measure",
        "item",
        "label",
        "value",
        "stderr",
        "ci_low",
        "ci_high",
    ]
    assert only[["run_id", "seed", "value"]].values.tolist() == [["q1", 7, 2.0]]
    with pytest.raises(ValueError, match=r"batch 'nope' is not in the store .*known batches: sw, plain"):
        s.to_frame(batch="nope")
    with pytest.raises(ValueError, match="table must be one of results, verdicts"):
        s.to_frame("blobs")
    s.close()


def test_sweep_order_without_batch_params_is_first_seen(tmp_path):
    s = Store(tmp_path / "s.sqlite")
    s.record_batch("b", "selftest")  # no params: the order comes from the runs' points
    s.mark_running([_run("r1", point={"world.m": 5, "data.design": "random"})])
    s.record_done("r1", [("e", "m", "k", 1.0)], {}, seconds=0.0)
    frame = s.to_frame()
    assert list(frame.columns)[2:4] == ["data.design", "world.m"]  # points are stored with sorted keys
    assert frame[["data.design", "world.m"]].values.tolist() == [["random", 5]]
    s.close()


_finite_or_nan = st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=64), st.just(float("nan")))


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(_finite_or_nan, min_size=0, max_size=30), shape=st.lists(st.integers(0, 4), min_size=0, max_size=3)
)
def test_values_and_arrays_round_trip(tmp_path_factory, values, shape):
    store = Store(tmp_path_factory.mktemp("h") / "s.sqlite")
    store.record_batch("b", "selftest")
    store.mark_running([_run("r")])
    rows = [
        ResultRecord("c", "e", "m", f"{k:03d}", value=v, stderr=abs(v) / 3 if k % 2 else None)
        for k, v in enumerate(values)
    ]
    arr = np.arange(int(np.prod(shape)), dtype=float).reshape(shape) / 7.0
    store.record_done("r", rows, {"a": arr}, seconds=0.0)
    got = store.results()
    assert len(got) == len(values)
    for k, (g, v) in enumerate(zip(got, values)):
        assert (g.value is None) if math.isnan(v) else g.value == v
        if k % 2 and not math.isnan(v):
            assert g.stderr == abs(v) / 3
        else:
            assert g.stderr is None
    back = store.blob("r", "a")
    assert back.shape == arr.shape and back.dtype == arr.dtype and np.array_equal(back, arr)
    store.close()
