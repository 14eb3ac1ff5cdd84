"""The results store: one SQLite file (stdlib ``sqlite3``, WAL journal), written transactionally.

Schema (version 1)
------------------
``meta``     ``key TEXT PRIMARY KEY, value TEXT`` -- ``schema_version`` = ``"1"``.
``batches``  one row per scenario batch:
             ``name TEXT PRIMARY KEY`` (the scenario name), ``kind TEXT``, ``created REAL`` and
             ``updated REAL`` (Unix seconds), ``source TEXT`` (scenario file), ``scenario TEXT``
             (the TOML text as last run), ``params TEXT`` (JSON: validated params, sweep, report).
``runs``     one row per run:
             ``run_id TEXT PRIMARY KEY`` (sha256 of expanded params and seed, see
             :mod:`choicelab.scenarios.spec`), ``batch TEXT`` (-> batches.name), ``params TEXT``
             (JSON of the fully expanded params), ``point TEXT`` (JSON of the sweep values),
             ``seed INTEGER``, ``status TEXT`` in ``done`` / ``error`` / ``running``,
             ``started REAL``, ``finished REAL`` (Unix seconds), ``seconds REAL`` (compute time
             of the task), ``error TEXT`` (traceback of a failed run, else NULL), ``attempts
             INTEGER`` (how many times it was started), ``n_results INTEGER`` and ``n_blobs
             INTEGER`` (how many ``results`` / ``blobs`` rows a done run owns: a completeness check).
``results``  ``run_id TEXT, estimator TEXT, metric TEXT, key TEXT, value REAL``, primary key
             ``(run_id, estimator, metric, key)``. NaN is stored as NULL.
``blobs``    ``run_id TEXT, name TEXT, data BLOB``, primary key ``(run_id, name)``; ``data`` is
             the array in ``.npy`` format (``np.save``, ``allow_pickle=False``): numeric arrays,
             or a 0-d unicode array holding JSON text (verdicts).

Guarantees
----------
A run's results, blobs and its ``done`` status land in one transaction (``BEGIN IMMEDIATE`` ...
``COMMIT``), so a crash or SIGKILL at any moment leaves either the whole run or none of it:
every ``done`` run has exactly ``n_results`` results and ``n_blobs`` blobs, and no other run
has any. ``running`` means started and not finished (or interrupted); it counts as not done.
WAL with ``synchronous=NORMAL`` keeps committed transactions across a process crash.
"""
from __future__ import annotations

import io
import json
import math
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Store", "ResultRow", "SCHEMA_VERSION"]

SCHEMA_VERSION = "1"
STATUSES = ("done", "error", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
    source TEXT, scenario TEXT, params TEXT);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, batch TEXT NOT NULL REFERENCES batches(name), params TEXT NOT NULL,
    point TEXT NOT NULL DEFAULT '{}', seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'error', 'running')),
    started REAL, finished REAL, seconds REAL, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    n_results INTEGER, n_blobs INTEGER);
CREATE INDEX IF NOT EXISTS runs_batch ON runs (batch, status);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs(run_id), estimator TEXT NOT NULL, metric TEXT NOT NULL,
    key TEXT NOT NULL, value REAL, PRIMARY KEY (run_id, estimator, metric, key));
CREATE TABLE IF NOT EXISTS blobs (
    run_id TEXT NOT NULL REFERENCES runs(run_id), name TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (run_id, name));
"""


@dataclass(frozen=True)
class ResultRow:
    """One ``results`` row joined with its run's seed and batch."""

    run_id: str
    batch: str
    seed: int
    estimator: str
    metric: str
    key: str
    value: float | None


def _npy_bytes(array) -> bytes:
    import numpy as np

    arr = np.asarray(array)
    if arr.dtype.hasobject:
        raise TypeError(f"blob arrays must be numeric or unicode, got dtype {arr.dtype}")
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _npy_array(data: bytes):
    import numpy as np

    return np.load(io.BytesIO(data), allow_pickle=False)


def _real(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


class Store:
    """SQLite results store (one file, WAL mode); see the module docstring for the schema.

    Parameters
    ----------
    path : str or Path
        The database file (created with its folder's existing parent; ``":memory:"`` works too).

    Examples
    --------
    >>> with Store("choicelab.sqlite") as store:
    ...     store.done_run_ids("psz-case-study")
    set()
    """

    def __init__(self, path):
        if not isinstance(path, (str, Path)):
            raise TypeError(f"path must be a file path, got {type(path).__name__}")
        self.path = str(path)
        if self.path != ":memory:":
            parent = Path(self.path).resolve().parent
            if not parent.is_dir():
                raise ValueError(f"path: folder {str(parent)!r} of the store {self.path!r} does not exist")
        try:
            # autocommit mode: transactions are opened explicitly (BEGIN IMMEDIATE) where needed
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._transaction():
                for stmt in _SCHEMA.strip().split(";"):
                    if stmt.strip():
                        self._db.execute(stmt)
                self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                                 (SCHEMA_VERSION,))
            version = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"path: {self.path!r} is not a usable SQLite store ({exc})") from None
        if version != SCHEMA_VERSION:
            raise ValueError(f"path: store {self.path!r} has schema version {version}, expected {SCHEMA_VERSION}")

    # --- plumbing -----------------------------------------------------------------------------

    def _transaction(self):
        return _Transaction(self._db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- writing ------------------------------------------------------------------------------

    def record_batch(self, name: str, kind: str, source: str = "", scenario_text: str = "",
                     params: dict | None = None) -> None:
        """Create or update the ``batches`` row of ``name`` (``created`` is kept on update)."""
        now = time.time()
        blob = json.dumps(params or {}, sort_keys=True)
        with self._transaction():
            self._db.execute(
                "INSERT INTO batches (name, kind, created, updated, source, scenario, params) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET kind=excluded.kind, updated=excluded.updated, "
                "source=excluded.source, scenario=excluded.scenario, params=excluded.params",
                (name, kind, now, now, source, scenario_text, blob))

    def mark_running(self, runs) -> None:
        """Insert (or reset to ``running``) the rows of ``runs`` that are not done, in one transaction."""
        now = time.time()
        with self._transaction():
            for run in runs:
                self._db.execute(
                    "INSERT INTO runs (run_id, batch, params, point, seed, status, started, attempts) "
                    "VALUES (?,?,?,?,?,'running',?,1) ON CONFLICT(run_id) DO UPDATE SET status='running', "
                    "started=excluded.started, finished=NULL, seconds=NULL, error=NULL, attempts=attempts+1 "
                    "WHERE status != 'done'",
                    (run.run_id, run.batch, json.dumps(run.params, sort_keys=True),
                     json.dumps(run.point, sort_keys=True), int(run.seed), now))

    def record_done(self, run_id: str, rows, blobs: dict, seconds: float, started: float | None = None,
                    finished: float | None = None) -> None:
        """Store a finished run: its results, blobs and ``done`` status in one transaction.

        Earlier results or blobs of the run (an errored attempt cannot leave any, but a caller
        may re-record) are replaced.
        """
        finished = time.time() if finished is None else finished
        rows = [(run_id, str(e), str(mt), str(k), _real(v)) for e, mt, k, v in rows]
        packed = [(run_id, str(name), sqlite3.Binary(_npy_bytes(arr))) for name, arr in blobs.items()]
        with self._transaction():
            cur = self._db.execute(
                "UPDATE runs SET status='done', finished=?, seconds=?, error=NULL, n_results=?, n_blobs=?, "
                "started=COALESCE(?, started) WHERE run_id=?",
                (finished, float(seconds), len(rows), len(packed), started, run_id))
            if cur.rowcount != 1:
                raise ValueError(f"run_id {run_id!r} is not in the store; call mark_running first")
            self._db.execute("DELETE FROM results WHERE run_id=?", (run_id,))
            self._db.execute("DELETE FROM blobs WHERE run_id=?", (run_id,))
            self._db.executemany("INSERT INTO results (run_id, estimator, metric, key, value) VALUES (?,?,?,?,?)", rows)
            self._db.executemany("INSERT INTO blobs (run_id, name, data) VALUES (?,?,?)", packed)

    def record_error(self, run_id: str, error: str, seconds: float | None = None, started: float | None = None,
                     finished: float | None = None) -> None:
        """Mark a run as failed with its error text (no results are kept for it)."""
        finished = time.time() if finished is None else finished
        with self._transaction():
            cur = self._db.execute(
                "UPDATE runs SET status='error', error=?, finished=?, seconds=?, n_results=0, n_blobs=0, "
                "started=COALESCE(?, started) WHERE run_id=?",
                (str(error), finished, seconds, started, run_id))
            if cur.rowcount != 1:
                raise ValueError(f"run_id {run_id!r} is not in the store; call mark_running first")
            self._db.execute("DELETE FROM results WHERE run_id=?", (run_id,))
            self._db.execute("DELETE FROM blobs WHERE run_id=?", (run_id,))

    # --- reading ------------------------------------------------------------------------------

    def batches(self) -> list[dict]:
        """Every batch: name, kind, created, updated, source, scenario (TOML text), params (dict)."""
        cur = self._db.execute("SELECT name, kind, created, updated, source, scenario, params FROM batches ORDER BY created")
        return [{"name": n, "kind": k, "created": c, "updated": u, "source": s, "scenario": t,
                 "params": json.loads(p or "{}")} for n, k, c, u, s, t, p in cur]

    def done_run_ids(self, batch: str | None = None) -> set[str]:
        """Run ids with status ``done`` (of one batch, or all)."""
        if batch is None:
            cur = self._db.execute("SELECT run_id FROM runs WHERE status='done'")
        else:
            cur = self._db.execute("SELECT run_id FROM runs WHERE status='done' AND batch=?", (batch,))
        return {r[0] for r in cur}

    def runs(self, batch: str | None = None, status: str | None = None) -> list[dict]:
        """Run rows as dicts (params and point decoded), ordered by start time."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES} or None, got {status!r}")
        sql = ("SELECT run_id, batch, params, point, seed, status, started, finished, seconds, error, attempts, "
               "n_results, n_blobs FROM runs")
        where, args = [], []
        if batch is not None:
            where.append("batch=?")
            args.append(batch)
        if status is not None:
            where.append("status=?")
            args.append(status)
        if where:
            sql += " WHERE " + " AND ".join(where)
        cols = ("run_id", "batch", "params", "point", "seed", "status", "started", "finished", "seconds", "error",
                "attempts", "n_results", "n_blobs")
        out = []
        for row in self._db.execute(sql + " ORDER BY started, run_id", args):
            d = dict(zip(cols, row))
            d["params"], d["point"] = json.loads(d["params"]), json.loads(d["point"])
            out.append(d)
        return out

    def results(self, batch: str | None = None, run_id: str | None = None, estimator: str | None = None,
                metric: str | None = None) -> list[ResultRow]:
        """Result rows of done runs, filtered; ordered by run, estimator, metric, key."""
        sql = ("SELECT r.run_id, u.batch, u.seed, r.estimator, r.metric, r.key, r.value FROM results r "
               "JOIN runs u ON u.run_id = r.run_id WHERE u.status = 'done'")
        args = []
        for col, val in (("u.batch", batch), ("r.run_id", run_id), ("r.estimator", estimator), ("r.metric", metric)):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(val)
        sql += " ORDER BY u.seed, r.run_id, r.estimator, r.metric, r.key"
        return [ResultRow(*row) for row in self._db.execute(sql, args)]

    def blob(self, run_id: str, name: str):
        """One stored array; KeyError when absent."""
        row = self._db.execute("SELECT data FROM blobs WHERE run_id=? AND name=?", (run_id, name)).fetchone()
        if row is None:
            raise KeyError(f"no blob {name!r} for run {run_id!r}")
        return _npy_array(row[0])

    def blobs(self, run_id: str) -> dict:
        """Every array of a run, by name."""
        cur = self._db.execute("SELECT name, data FROM blobs WHERE run_id=? ORDER BY name", (run_id,))
        return {name: _npy_array(data) for name, data in cur}

    def counts(self, batch: str | None = None) -> dict:
        """Number of runs per status (of one batch, or all)."""
        if batch is None:
            cur = self._db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status")
        else:
            cur = self._db.execute("SELECT status, COUNT(*) FROM runs WHERE batch=? GROUP BY status", (batch,))
        out = {s: 0 for s in STATUSES}
        out.update(dict(cur.fetchall()))
        return out


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` when the block raises."""

    def __init__(self, db):
        self._db = db

    def __enter__(self):
        self._db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
        return False
