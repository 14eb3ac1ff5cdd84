"""The SQLite results store: documented schema, transactional writes, round trips."""
from __future__ import annotations

import io
import math
import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from choicelab.scenarios.spec import Run
from choicelab.scenarios.store import Store


def _run(run_id="r1", batch="b", seed=0, params=None):
    return Run(run_id=run_id, batch=batch, kind="selftest", params=params or {"x": 1}, seed=seed, point={"p": 2})


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "s.sqlite")
    s.record_batch("b", "selftest", "file.toml", "[scenario]\n", {"a": 1})
    yield s
    s.close()


def test_schema_as_documented(tmp_path, store):
    raw = sqlite3.connect(tmp_path / "s.sqlite")
    cols = {t: [r[1] for r in raw.execute(f"PRAGMA table_info({t})")] for t in ("batches", "runs", "results", "blobs", "meta")}
    assert cols["batches"] == ["name", "kind", "created", "updated", "source", "scenario", "params"]
    assert cols["runs"] == ["run_id", "batch", "params", "point", "seed", "status", "started", "finished", "seconds",
                            "error", "attempts", "n_results", "n_blobs"]
    assert cols["results"] == ["run_id", "estimator", "metric", "key", "value"]
    assert cols["blobs"] == ["run_id", "name", "data"]
    assert raw.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_done_run_round_trip(tmp_path, store):
    store.mark_running([_run("r1"), _run("r2", seed=1)])
    rows = [("mle", "delta", "0.1", 0.25), ("mle", "delta", "0.01", float("nan")), ("wmle", "x", "", -3.5)]
    blobs = {"curve": np.array([[1.0, 2.0], [3.0, 4.0]]), "labels": np.array(["a", "bb"]), "flag": np.int8(1)}
    store.record_done("r1", rows, blobs, seconds=1.5, started=100.0, finished=101.5)
    assert store.done_run_ids("b") == {"r1"}
    assert store.counts("b") == {"done": 1, "error": 0, "running": 1}
    got = [(r.run_id, r.batch, r.seed, r.estimator, r.metric, r.key, r.value) for r in store.results(batch="b")]
    assert got == [("r1", "b", 0, "mle", "delta", "0.01", None), ("r1", "b", 0, "mle", "delta", "0.1", 0.25),
                   ("r1", "b", 0, "wmle", "x", "", -3.5)]
    assert [r.value for r in store.results(metric="x")] == [-3.5]
    back = store.blobs("r1")
    np.testing.assert_array_equal(back["curve"], blobs["curve"])
    assert back["labels"].tolist() == ["a", "bb"] and int(back["flag"]) == 1
    run = {r["run_id"]: r for r in store.runs("b")}["r1"]
    assert (run["status"], run["seconds"], run["started"], run["finished"], run["n_results"], run["n_blobs"]) == \
        ("done", 1.5, 100.0, 101.5, 3, 3)
    assert run["params"] == {"x": 1} and run["point"] == {"p": 2}
    # the blob column is plain .npy bytes, readable without choicelab
    raw = sqlite3.connect(tmp_path / "s.sqlite")
    data = raw.execute("SELECT data FROM blobs WHERE run_id='r1' AND name='curve'").fetchone()[0]
    np.testing.assert_array_equal(np.load(io.BytesIO(data), allow_pickle=False), blobs["curve"])
    raw.close()


def test_failed_transaction_leaves_no_partial_run(store):
    store.mark_running([_run("r1")])
    duplicate = [("mle", "m", "k", 1.0), ("mle", "m", "k", 2.0)]  # violates the results primary key
    with pytest.raises(sqlite3.IntegrityError):
        store.record_done("r1", duplicate, {"a": np.zeros(2)}, seconds=0.1)
    assert store.runs("b")[0]["status"] == "running"
    assert store.results() == [] and store.blobs("r1") == {}
    assert store._db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 0


def test_error_then_retry(store):
    store.mark_running([_run("r1")])
    store.record_error("r1", "Traceback ...\nRuntimeError: boom", seconds=0.2)
    run = store.runs("b", status="error")[0]
    assert run["error"].endswith("RuntimeError: boom") and run["attempts"] == 1
    assert store.done_run_ids() == set()
    store.mark_running([_run("r1")])
    run = store.runs("b")[0]
    assert (run["status"], run["attempts"], run["error"]) == ("running", 2, None)
    store.record_done("r1", [("e", "m", "k", 1.0)], {}, seconds=0.1)
    store.mark_running([_run("r1")])  # a done run is never reset
    assert store.runs("b")[0]["status"] == "done" and store.runs("b")[0]["attempts"] == 2


def test_bad_input(tmp_path, store):
    with pytest.raises(ValueError, match="not in the store"):
        store.record_done("nope", [], {}, seconds=0.0)
    with pytest.raises(ValueError, match="status must be one of"):
        store.runs(status="finished")
    store.mark_running([_run("r1")])
    with pytest.raises(TypeError, match="numeric or unicode"):
        store.record_done("r1", [], {"obj": np.array([object()])}, seconds=0.0)
    with pytest.raises(KeyError, match="no blob 'x'"):
        store.blob("r1", "x")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database, just some text " * 100)
    with pytest.raises(ValueError, match="junk.sqlite"):
        Store(junk)
    with pytest.raises(ValueError, match="does not exist"):
        Store(tmp_path / "missing" / "s.sqlite")
    with pytest.raises(TypeError, match="path"):
        Store(3)


def test_batch_row_updates_keep_created(store):
    first = store.batches()[0]
    store.record_batch("b", "selftest", "other.toml", "[x]", {"a": 2})
    second = store.batches()[0]
    assert second["created"] == first["created"] and second["updated"] >= first["updated"]
    assert (second["source"], second["scenario"], second["params"]) == ("other.toml", "[x]", {"a": 2})


_finite_or_nan = st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=64), st.just(float("nan")))


@settings(max_examples=30, deadline=None)
@given(values=st.lists(_finite_or_nan, min_size=0, max_size=30),
       shape=st.lists(st.integers(0, 4), min_size=0, max_size=3))
def test_values_and_arrays_round_trip(tmp_path_factory, values, shape):
    store = Store(tmp_path_factory.mktemp("h") / "s.sqlite")
    store.record_batch("b", "selftest")
    store.mark_running([_run("r")])
    rows = [("e", "m", f"{k:03d}", v) for k, v in enumerate(values)]
    arr = np.arange(int(np.prod(shape)), dtype=float).reshape(shape) / 7.0
    store.record_done("r", rows, {"a": arr}, seconds=0.0)
    got = [r.value for r in store.results()]
    assert len(got) == len(values)
    for g, v in zip(got, values):
        assert (g is None) if math.isnan(v) else g == v
    back = store.blob("r", "a")
    assert back.shape == arr.shape and back.dtype == arr.dtype and np.array_equal(back, arr)
    store.close()
