"""The results store: one SQLite file (stdlib ``sqlite3``, WAL journal), written transactionally.

Schema (version 2)
------------------
``meta``
    ``key TEXT PRIMARY KEY, value TEXT`` -- ``schema_version`` = ``"2"``.
``batches``
    one row per scenario batch:
    ``name TEXT PRIMARY KEY`` (the scenario name), ``kind TEXT``, ``created REAL`` and
    ``updated REAL`` (Unix seconds), ``source TEXT`` (scenario file), ``scenario TEXT``
    (the TOML text as last run), ``params TEXT`` (JSON: validated params, sweep, report;
    key order as given, so ``params["sweep"]`` keeps the file order of the swept keys).
``runs``
    one row per run:
    ``run_id TEXT PRIMARY KEY`` (sha256 of expanded params and seed, see
    :mod:`choicelab.scenarios.spec`), ``batch TEXT`` (-> batches.name), ``params TEXT``
    (JSON of the fully expanded params), ``point TEXT`` (JSON of the sweep values,
    dotted key -> value), ``seed INTEGER``, ``status TEXT`` in ``done`` / ``error`` /
    ``running``, ``started REAL``, ``finished REAL`` (Unix seconds), ``seconds REAL``
    (compute time of the task), ``error TEXT`` (traceback of a failed run, else NULL),
    ``attempts INTEGER`` (how many times it was started), ``n_results INTEGER``,
    ``n_blobs INTEGER`` and ``n_verdicts INTEGER`` (how many ``results`` / ``blobs`` /
    ``verdicts`` rows a done run owns: a completeness check), ``owner TEXT`` (``host:pid``
    of the process computing a ``running`` run: ``claim`` skips runs of live owners).
``results``
    ``run_id TEXT, condition TEXT NOT NULL, estimator TEXT NOT NULL, measure TEXT NOT
    NULL, item TEXT NOT NULL, label TEXT NOT NULL DEFAULT '', value REAL, stderr REAL,
    ci_low REAL, ci_high REAL``, primary key ``(run_id, condition, estimator, measure,
    item)``. ``condition`` names the experimental condition inside a run (``"default"``
    for rows written as legacy ``(estimator, metric, key, value)`` tuples), ``measure``
    what was measured (schema 1's ``metric``), ``item`` what it was measured on
    (schema 1's ``key``: an alternative, an eps, a topic; text), ``label`` a
    human-readable name of the item (``''`` when none). ``stderr`` and the confidence
    interval ``[ci_low, ci_high]`` are NULL when not estimated. NaN is stored as NULL.
``verdicts``
    ``run_id TEXT, condition TEXT NOT NULL, axiom TEXT NOT NULL, estimator TEXT NOT
    NULL, expected TEXT, measured TEXT, agrees INTEGER, magnitude REAL, witness TEXT``,
    primary key ``(run_id, condition, axiom, estimator)``: one axiom check of one
    estimator. ``expected`` / ``measured`` are outcome words (NULL when absent),
    ``agrees`` is 1 / 0, NULL when undecided, ``magnitude`` the statistic the verdict
    rule read (NULL when none or NaN), ``witness`` compact JSON (NumPy arrays and
    scalars as lists and numbers, non-finite floats as null) or NULL.
``blobs``
    ``run_id TEXT, name TEXT, data BLOB``, primary key ``(run_id, name)``; ``data`` is
    the array in ``.npy`` format (``np.save``, ``allow_pickle=False``): numeric arrays,
    or a 0-d unicode array holding JSON text.

Opening
-------
A new (or empty) file gets the schema above. An existing file is read before anything is
written: a store whose ``meta`` names another schema version (such as a schema-1 store) is
refused with a :class:`ValueError` naming both versions, and an SQLite file that holds tables
but no ``meta`` / ``schema_version`` is refused as "not a choicelab store"; neither is modified.

Guarantees
----------
A run's results, verdicts, blobs and its ``done`` status land in one transaction (``BEGIN
IMMEDIATE`` ... ``COMMIT``), so a crash or SIGKILL at any moment leaves either the whole run or
none of it: every ``done`` run has exactly ``n_results`` results, ``n_verdicts`` verdicts and
``n_blobs`` blobs, and no other run has any. ``running`` means started and not finished (or
interrupted); it counts as not done. WAL with ``synchronous=NORMAL`` keeps committed
transactions across a process crash.
"""

from __future__ import annotations

import io
import json
import math
import os
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Store", "ResultRow", "ResultRecord", "VerdictRow", "SCHEMA_VERSION"]

SCHEMA_VERSION = "2"
STATUSES = ("done", "error", "running")
TABLES = ("results", "verdicts")
DEFAULT_CONDITION = "default"

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
    n_results INTEGER, n_blobs INTEGER, n_verdicts INTEGER, owner TEXT);
CREATE INDEX IF NOT EXISTS runs_batch ON runs (batch, status);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs(run_id), condition TEXT NOT NULL, estimator TEXT NOT NULL,
    measure TEXT NOT NULL, item TEXT NOT NULL, label TEXT NOT NULL DEFAULT '', value REAL,
    stderr REAL, ci_low REAL, ci_high REAL,
    PRIMARY KEY (run_id, condition, estimator, measure, item));
CREATE TABLE IF NOT EXISTS verdicts (
    run_id TEXT NOT NULL REFERENCES runs(run_id), condition TEXT NOT NULL, axiom TEXT NOT NULL,
    estimator TEXT NOT NULL, expected TEXT, measured TEXT, agrees INTEGER, magnitude REAL, witness TEXT,
    PRIMARY KEY (run_id, condition, axiom, estimator));
CREATE TABLE IF NOT EXISTS blobs (
    run_id TEXT NOT NULL REFERENCES runs(run_id), name TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (run_id, name));
"""


@dataclass(frozen=True)
class ResultRecord:
    """One result as a task writes it (see the ``results`` table in the module docstring).

    ``item`` and ``label`` are stored as text (``str()``); ``value``, ``stderr``, ``ci_low`` and
    ``ci_high`` as floats, NaN and None as NULL.
    """

    condition: str
    estimator: str
    measure: str
    item: object
    label: object = ""
    value: float | None = float("nan")
    stderr: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class ResultRow:
    """One ``results`` row joined with its run's seed and batch.

    ``metric`` and ``key`` are the schema-1 names of ``measure`` and ``item``.
    """

    run_id: str
    batch: str
    seed: int
    condition: str
    estimator: str
    measure: str
    item: str
    label: str
    value: float | None
    stderr: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def metric(self) -> str:
        return self.measure

    @property
    def key(self) -> str:
        return self.item


@dataclass(frozen=True)
class VerdictRow:
    """One ``verdicts`` row joined with its run's seed and batch (``witness`` decoded from JSON)."""

    run_id: str
    batch: str
    seed: int
    condition: str
    axiom: str
    estimator: str
    expected: str | None
    measured: str | None
    agrees: bool | None
    magnitude: float | None
    witness: object


_RESULT_COLUMNS = ("condition", "estimator", "measure", "item", "label", "value", "stderr", "ci_low", "ci_high")
_VERDICT_COLUMNS = ("condition", "axiom", "estimator", "expected", "measured", "agrees", "magnitude", "witness")


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
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _field(row, name, where, default=...):
    if isinstance(row, Mapping):
        if name in row:
            return row[name]
    elif hasattr(row, name):
        return getattr(row, name)
    if default is ...:
        raise ValueError(f"{where}: missing {name!r}")
    return default


def _result_tuple(run_id: str, row, where: str) -> tuple:
    """A results row (legacy 4-tuple, mapping or record object) as the tuple that is inserted."""
    record = isinstance(row, Mapping) or hasattr(row, "measure") or hasattr(row, "estimator")
    if not record and isinstance(row, (tuple, list)):
        if len(row) != 4:
            raise ValueError(f"{where}: a tuple row must be (estimator, metric, key, value), got {len(row)} fields")
        estimator, metric, key, value = row
        return (run_id, DEFAULT_CONDITION, str(estimator), str(metric), str(key), "", _real(value), None, None, None)
    if not record:
        raise ValueError(
            f"{where}: a row must be an (estimator, metric, key, value) tuple, a mapping or a "
            f"ResultRecord, got {type(row).__name__}"
        )
    label = _field(row, "label", where, "")
    measure = _field(row, "measure", where, None)
    measure = _field(row, "metric", where) if measure is None else measure  # schema-1 name
    item = _field(row, "item", where, None)
    item = _field(row, "key", where) if item is None else item  # schema-1 name
    return (
        run_id,
        str(_field(row, "condition", where, DEFAULT_CONDITION)),
        str(_field(row, "estimator", where)),
        str(measure),
        str(item),
        "" if label is None else str(label),
        _real(_field(row, "value", where, None)),
        _real(_field(row, "stderr", where, None)),
        _real(_field(row, "ci_low", where, None)),
        _real(_field(row, "ci_high", where, None)),
    )


def _plain_json(obj, where: str):
    """``obj`` with NumPy arrays / scalars as lists / numbers and non-finite floats as None."""
    import numpy as np

    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    elif isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _plain_json(v, where) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain_json(v, where) for v in obj]
    raise TypeError(f"{where}: witness is not JSON-serialisable ({type(obj).__name__})")


def _agrees(value, where: str) -> int | None:
    """True / False (also NumPy bools, 1 / 0, 1.0 / 0.0) -> 1 / 0; None or NaN -> None."""
    import numpy as np

    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return int(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if math.isnan(float(value)):
            return None
        if float(value) in (0.0, 1.0):
            return int(float(value))
    raise ValueError(f"{where}: agrees must be True, False or None, got {value!r}")


def _optional_text(value) -> str | None:
    return None if value is None else str(value)


def _verdict_tuple(run_id: str, verdict, where: str) -> tuple:
    if not isinstance(verdict, Mapping) and not hasattr(verdict, "axiom"):
        raise ValueError(f"{where}: a verdict must be a mapping, got {type(verdict).__name__}")
    witness = _field(verdict, "witness", where, None)
    witness = (
        None if witness is None else json.dumps(_plain_json(witness, where), separators=(",", ":"), allow_nan=False)
    )
    return (
        run_id,
        str(_field(verdict, "condition", where, DEFAULT_CONDITION)),
        str(_field(verdict, "axiom", where)),
        str(_field(verdict, "estimator", where)),
        _optional_text(_field(verdict, "expected", where, None)),
        _optional_text(_field(verdict, "measured", where, None)),
        _agrees(_field(verdict, "agrees", where, None), where),
        _real(_field(verdict, "magnitude", where, None)),
        witness,
    )


def _first_duplicate(rows, width: int):
    seen = set()
    for row in rows:
        pk = row[1 : 1 + width]
        if pk in seen:
            return pk
        seen.add(pk)
    return None


class Store:
    """SQLite results store (one file, WAL mode); see the module docstring for the schema.

    Parameters
    ----------
    path : str or Path
        The database file (created with its folder's existing parent; ``":memory:"`` works too).

    Raises
    ------
    ValueError
        The folder does not exist, the file is not SQLite, is an SQLite file of something else,
        or is a store of another schema version (one line naming both versions). Such files are
        left as they are.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     store.done_run_ids("psz-case-study")
    set()
    """

    def __init__(self, path, readonly: bool = False):
        if not isinstance(path, (str, Path)):
            raise TypeError(f"path must be a file path, got {type(path).__name__}")
        self.path = str(path)
        self.readonly = bool(readonly)
        if self.path != ":memory:":
            parent = Path(self.path).resolve().parent
            if not parent.is_dir():
                raise ValueError(f"path: folder {str(parent)!r} of the store {self.path!r} does not exist")
        self._db = None
        if self.readonly:
            self._open_readonly()
            return
        try:
            # autocommit mode: transactions are opened explicitly (BEGIN IMMEDIATE) where needed
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            # read what is there before writing anything (journal_mode=WAL rewrites the header)
            problem, ready = self._check_existing()
            if problem is None:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("PRAGMA foreign_keys=ON")
            if problem is None and not ready:  # a new file: the schema and its version in one transaction
                with self._transaction():
                    for stmt in _SCHEMA.strip().split(";"):
                        if stmt.strip():
                            self._db.execute(stmt)
                    self._db.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
                    )
                version = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
                if version != SCHEMA_VERSION:  # another process initialised it concurrently
                    problem = self._version_message(version)
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise ValueError(self._damage_message(exc)) from None
        if problem is not None:
            self._close_quietly()
            raise ValueError(problem)

    def _open_readonly(self) -> None:
        """Open without ever writing: ``mode=ro``, or ``immutable=1`` when the WAL side files cannot be made."""
        from urllib.parse import quote

        path = Path(self.path)
        if not path.is_file():
            raise ValueError(f"path: no store file at {self.path!r}")
        uri = "file:" + quote(str(path.resolve()))
        problem = None
        for flags in ("?mode=ro", "?mode=ro&immutable=1"):
            try:
                self._db = sqlite3.connect(uri + flags, uri=True, isolation_level=None, timeout=30.0)
                problem, ready = self._check_existing()
                if problem is None and not ready:
                    problem = f"path: {self.path!r} is not a choicelab store (it holds no table)"
                break
            except sqlite3.OperationalError as exc:  # e.g. no write access to the folder for -wal / -shm
                self._close_quietly()
                self._db = None
                last = exc
            except sqlite3.DatabaseError as exc:
                self._close_quietly()
                raise ValueError(self._damage_message(exc)) from None
        else:
            raise ValueError(f"path: cannot open the store {self.path!r} read-only ({last})")
        if problem is not None:
            self._close_quietly()
            raise ValueError(problem)

    def _damage_message(self, exc) -> str:
        """One line for an unreadable file: not SQLite, or a damaged store (with integrity_check's first finding)."""
        text = str(exc)
        if "malformed" in text or "corrupt" in text:
            finding = ""
            try:
                con = sqlite3.connect(f"file:{Path(self.path).resolve()}?mode=ro", uri=True)
                rows = con.execute("PRAGMA integrity_check(3)").fetchall()
                con.close()
                finding = "; ".join(r[0] for r in rows if r and r[0] != "ok")[:200]
            except sqlite3.DatabaseError as exc2:
                finding = str(exc2)
            return (
                f"path: the store {self.path!r} is damaged (SQLite: {text}; integrity_check: "
                f"{finding or 'no detail'}); restore it from a copy or run into a new --db file"
            )
        return f"path: {self.path!r} is not a usable SQLite store ({text})"

    def _version_message(self, version) -> str:
        return (
            f"path: store {self.path!r} was written with results-store schema version {version}; this "
            f"choicelab reads version {SCHEMA_VERSION} (run into a new --db file, or re-run the batches)"
        )

    def _check_existing(self) -> tuple[str | None, bool]:
        """(refusal message or None, whether the file already is a store of this schema version).

        A ``meta`` row with the version is written in the transaction that creates every table,
        so its presence means the whole schema is there.
        """
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" in tables:
            try:
                row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            except sqlite3.DatabaseError:
                row = None
            if row is None:
                return f"path: {self.path!r} is not a choicelab store (its meta table has no schema_version)", False
            if str(row[0]) != SCHEMA_VERSION:
                return self._version_message(row[0]), False
            return None, True
        if tables:
            shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            return (
                f"path: {self.path!r} is not a choicelab store (an SQLite file with tables {shown} and no meta table)"
            ), False
        return None, False

    # --- plumbing -----------------------------------------------------------------------------

    def _transaction(self):
        return _Transaction(self._db)

    def _close_quietly(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- writing ------------------------------------------------------------------------------

    def record_batch(
        self, name: str, kind: str, source: str = "", scenario_text: str = "", params: dict | None = None
    ) -> None:
        """Create or update the ``batches`` row of ``name`` (``created`` is kept on update).

        ``params`` is stored as JSON in its own key order (the sweep order is read back from it).
        """
        now = time.time()
        blob = json.dumps(params or {})
        with self._transaction():
            self._db.execute(
                "INSERT INTO batches (name, kind, created, updated, source, scenario, params) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET kind=excluded.kind, updated=excluded.updated, "
                "source=excluded.source, scenario=excluded.scenario, params=excluded.params",
                (name, kind, now, now, source, scenario_text, blob),
            )

    def mark_running(self, runs) -> None:
        """Insert (or reset to ``running``) the rows of ``runs`` that are not done, owned by this process
        (:meth:`claim`, keeping nothing of its answer)."""
        self.claim(runs)

    def claim(self, runs, owner: str | None = None) -> list:
        """Mark ``runs`` as ``running`` by ``owner`` and return those this call claimed, in one transaction.

        A run is claimed unless it is done, or is running under another owner that is still
        alive (a process on this host; owners look like ``host:pid``). So two ``choicelab run``
        processes on one store wait for each other's writes (SQLite's busy timeout) and never
        compute the same run twice; a run left ``running`` by a dead process is claimed again.
        """
        import socket

        owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        now = time.time()
        claimed = []
        with self._transaction():
            for run in runs:
                row = self._db.execute("SELECT status, owner FROM runs WHERE run_id=?", (run.run_id,)).fetchone()
                if row is not None and (
                    row[0] == "done" or (row[0] == "running" and row[1] not in (None, owner) and _owner_alive(row[1]))
                ):
                    continue
                self._db.execute(
                    "INSERT INTO runs (run_id, batch, params, point, seed, status, started, attempts, owner) "
                    "VALUES (?,?,?,?,?,'running',?,1,?) ON CONFLICT(run_id) DO UPDATE SET status='running', "
                    "started=excluded.started, finished=NULL, seconds=NULL, error=NULL, attempts=attempts+1, "
                    "owner=excluded.owner WHERE status != 'done'",
                    (
                        run.run_id,
                        run.batch,
                        json.dumps(run.params, sort_keys=True),
                        json.dumps(run.point, sort_keys=True),
                        int(run.seed),
                        now,
                        owner,
                    ),
                )
                claimed.append(run)
        return claimed

    def record_done(
        self,
        run_id: str,
        rows,
        blobs: dict,
        seconds: float,
        started: float | None = None,
        finished: float | None = None,
        verdicts=(),
    ) -> None:
        """Store a finished run: its results, verdicts, blobs and ``done`` status in one transaction.

        Parameters
        ----------
        rows : iterable
            Each a legacy ``(estimator, metric, key, value)`` tuple (condition ``"default"``, no
            label, stderr or interval), or a mapping / object (such as :class:`ResultRecord`)
            with ``condition, estimator, measure, item, label, value`` and optionally
            ``stderr, ci_low, ci_high``.
        blobs : dict
            Name -> numeric or unicode array.
        verdicts : iterable of mapping
            Keys ``condition`` (default ``"default"``), ``axiom, estimator, expected, measured,
            agrees`` (bool or None), ``magnitude`` (float or None), ``witness`` (JSON-serialisable,
            NumPy arrays and scalars allowed, or None).

        Raises
        ------
        ValueError
            Unknown ``run_id``, a malformed row or verdict, or two rows (verdicts) of the run with
            the same ``(condition, estimator, measure, item)`` (``(condition, axiom,
            estimator)``); nothing is written then.

        Earlier results, verdicts or blobs of the run (an errored attempt cannot leave any, but
        a caller may re-record) are replaced.
        """
        finished = time.time() if finished is None else finished
        rows = [_result_tuple(run_id, row, f"rows[{i}]") for i, row in enumerate(rows)]
        dup = _first_duplicate(rows, 4)
        if dup is not None:
            raise ValueError(
                f"rows: run {run_id!r} has two results with (condition, estimator, measure, item) = {dup!r}"
            )
        verdicts = [_verdict_tuple(run_id, v, f"verdicts[{i}]") for i, v in enumerate(verdicts)]
        dup = _first_duplicate(verdicts, 3)
        if dup is not None:
            raise ValueError(f"verdicts: run {run_id!r} has two verdicts with (condition, axiom, estimator) = {dup!r}")
        packed = [(run_id, str(name), sqlite3.Binary(_npy_bytes(arr))) for name, arr in blobs.items()]
        with self._transaction():
            cur = self._db.execute(
                "UPDATE runs SET status='done', finished=?, seconds=?, error=NULL, n_results=?, n_blobs=?, "
                "n_verdicts=?, started=COALESCE(?, started) WHERE run_id=?",
                (finished, float(seconds), len(rows), len(packed), len(verdicts), started, run_id),
            )
            if cur.rowcount != 1:
                raise ValueError(f"run_id {run_id!r} is not in the store; call mark_running first")
            for table in ("results", "verdicts", "blobs"):
                self._db.execute(f"DELETE FROM {table} WHERE run_id=?", (run_id,))
            self._db.executemany(
                "INSERT INTO results (run_id, condition, estimator, measure, item, label, value, stderr, ci_low, "
                "ci_high) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            self._db.executemany(
                "INSERT INTO verdicts (run_id, condition, axiom, estimator, expected, measured, agrees, magnitude, "
                "witness) VALUES (?,?,?,?,?,?,?,?,?)",
                verdicts,
            )
            self._db.executemany("INSERT INTO blobs (run_id, name, data) VALUES (?,?,?)", packed)

    def record_error(
        self,
        run_id: str,
        error: str,
        seconds: float | None = None,
        started: float | None = None,
        finished: float | None = None,
    ) -> None:
        """Mark a run as failed with its error text (no results, verdicts or blobs are kept for it)."""
        finished = time.time() if finished is None else finished
        with self._transaction():
            cur = self._db.execute(
                "UPDATE runs SET status='error', error=?, finished=?, seconds=?, n_results=0, n_blobs=0, "
                "n_verdicts=0, started=COALESCE(?, started) WHERE run_id=?",
                (str(error), finished, seconds, started, run_id),
            )
            if cur.rowcount != 1:
                raise ValueError(f"run_id {run_id!r} is not in the store; call mark_running first")
            for table in ("results", "verdicts", "blobs"):
                self._db.execute(f"DELETE FROM {table} WHERE run_id=?", (run_id,))

    # --- reading ------------------------------------------------------------------------------

    def batches(self) -> list[dict]:
        """Every batch: name, kind, created, updated, source, scenario (TOML text), params (dict)."""
        cur = self._db.execute(
            "SELECT name, kind, created, updated, source, scenario, params FROM batches ORDER BY created, name"
        )
        return [
            {
                "name": n,
                "kind": k,
                "created": c,
                "updated": u,
                "source": s,
                "scenario": t,
                "params": json.loads(p or "{}"),
            }
            for n, k, c, u, s, t, p in cur
        ]

    def batch(self, name: str) -> dict | None:
        """The batch row of ``name`` (as :meth:`batches` gives it), or None."""
        return next((b for b in self.batches() if b["name"] == name), None)

    def delete_batch(self, name: str) -> int:
        """Delete a batch with its runs, results, verdicts and blobs in one transaction; returns the runs deleted."""
        with self._transaction():
            ids = [r[0] for r in self._db.execute("SELECT run_id FROM runs WHERE batch=?", (name,))]
            for table in ("results", "verdicts", "blobs"):
                self._db.execute(
                    f"DELETE FROM {table} WHERE run_id IN (SELECT run_id FROM runs WHERE batch=?)", (name,)
                )
            self._db.execute("DELETE FROM runs WHERE batch=?", (name,))
            self._db.execute("DELETE FROM batches WHERE name=?", (name,))
        return len(ids)

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
        sql = (
            "SELECT run_id, batch, params, point, seed, status, started, finished, seconds, error, attempts, "
            "n_results, n_blobs, n_verdicts FROM runs"
        )
        where, args = [], []
        if batch is not None:
            where.append("batch=?")
            args.append(batch)
        if status is not None:
            where.append("status=?")
            args.append(status)
        if where:
            sql += " WHERE " + " AND ".join(where)
        cols = (
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
        )
        out = []
        for row in self._db.execute(sql + " ORDER BY started, run_id", args):
            d = dict(zip(cols, row))
            d["params"], d["point"] = json.loads(d["params"]), json.loads(d["point"])
            out.append(d)
        return out

    def results(
        self,
        batch: str | None = None,
        run_id: str | None = None,
        estimator: str | None = None,
        metric: str | None = None,
        measure: str | None = None,
        condition: str | None = None,
    ) -> list[ResultRow]:
        """Result rows of done runs, filtered (``metric`` is an alias of ``measure``).

        Ordered as the runs were expanded (sweep point, then seed) and, within a run, as it wrote them.
        """
        if metric is not None and measure is not None and metric != measure:
            raise ValueError(f"metric is an alias of measure; got metric={metric!r} and measure={measure!r}")
        measure = measure if measure is not None else metric
        sql = (
            "SELECT r.run_id, u.batch, u.seed, r.condition, r.estimator, r.measure, r.item, r.label, r.value, "
            "r.stderr, r.ci_low, r.ci_high FROM results r JOIN runs u ON u.run_id = r.run_id "
            "WHERE u.status = 'done'"
        )
        args = []
        for col, val in (
            ("u.batch", batch),
            ("r.run_id", run_id),
            ("r.estimator", estimator),
            ("r.measure", measure),
            ("r.condition", condition),
        ):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(val)
        sql += " ORDER BY u.rowid, r.rowid"
        return [ResultRow(*row) for row in self._db.execute(sql, args)]

    def verdicts(self, batch: str | None = None, run_id: str | None = None) -> list[VerdictRow]:
        """Verdict rows of done runs (``witness`` decoded), in the order the runs were expanded and wrote them."""
        sql = (
            "SELECT v.run_id, u.batch, u.seed, v.condition, v.axiom, v.estimator, v.expected, v.measured, "
            "v.agrees, v.magnitude, v.witness FROM verdicts v JOIN runs u ON u.run_id = v.run_id "
            "WHERE u.status = 'done'"
        )
        args = []
        for col, val in (("u.batch", batch), ("v.run_id", run_id)):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(val)
        sql += " ORDER BY u.rowid, v.rowid"
        out = []
        for row in self._db.execute(sql, args):
            *head, agrees, magnitude, witness = row
            out.append(
                VerdictRow(
                    *head,
                    None if agrees is None else bool(agrees),
                    magnitude,
                    None if witness is None else json.loads(witness),
                )
            )
        return out

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

    def to_frame(self, table: str = "results", batch: str | None = None):
        """The results (or verdicts) of done runs as a pandas DataFrame, one row per stored row.

        Columns, in order: ``batch`` (only when ``batch`` is None and the store holds more than
        one batch), ``run_id, seed``, one column per swept dotted key (the run's sweep value:
        numbers stay numeric, lists and dicts become compact JSON text; keys in the order of the
        batch's ``params["sweep"]``, else first seen), then for ``"results"`` ``condition,
        estimator, measure, item, label, value, stderr, ci_low, ci_high`` (NaN where missing)
        and for ``"verdicts"`` ``condition, axiom, estimator, expected, measured, agrees``
        (nullable boolean) ``, magnitude, witness`` (JSON text). Rows are ordered as
        :meth:`results` / :meth:`verdicts` order them (batch first when several).

        Raises
        ------
        ValueError
            ``table`` is not ``"results"`` or ``"verdicts"``, or ``batch`` is not in the store.
        """
        import pandas as pd

        if table not in TABLES:
            raise ValueError(f"table must be one of {', '.join(TABLES)}, got {table!r}")
        known = self.batches()
        names = [b["name"] for b in known]
        if batch is not None and batch not in names:
            raise ValueError(
                f"batch {batch!r} is not in the store {self.path!r} (known batches: {', '.join(names) or 'none'})"
            )
        chosen = known if batch is None else [b for b in known if b["name"] == batch]
        with_batch = batch is None and len(known) > 1
        order = {b["name"]: i for i, b in enumerate(chosen)}

        # runs and their sweep points
        sql = "SELECT run_id, batch, seed, point FROM runs WHERE status = 'done'"
        args = []
        if batch is not None:
            sql += " AND batch = ?"
            args.append(batch)
        points, first_seen = {}, {}
        for run_id, run_batch, _seed, point in self._db.execute(sql + " ORDER BY seed, run_id", args):
            point = json.loads(point or "{}")
            points[run_id] = point
            for key in point:
                first_seen.setdefault(run_batch, {}).setdefault(key, None)
        swept = {}
        for b in chosen:
            sweep = b["params"].get("sweep") if isinstance(b["params"], dict) else None
            keys = list(sweep) if isinstance(sweep, dict) else []
            keys += [k for k in first_seen.get(b["name"], {}) if k not in keys]
            for key in keys:
                swept.setdefault(key, None)
        swept = list(swept)

        if table == "results":
            tail = list(_RESULT_COLUMNS)
            sql = (
                "SELECT u.batch, r.run_id, u.seed, r.condition, r.estimator, r.measure, r.item, r.label, r.value, "
                "r.stderr, r.ci_low, r.ci_high FROM results r JOIN runs u ON u.run_id = r.run_id "
                "WHERE u.status = 'done'"
            )
            order_by = " ORDER BY u.rowid, r.rowid"
        else:
            tail = list(_VERDICT_COLUMNS)
            sql = (
                "SELECT u.batch, v.run_id, u.seed, v.condition, v.axiom, v.estimator, v.expected, v.measured, "
                "v.agrees, v.magnitude, v.witness FROM verdicts v JOIN runs u ON u.run_id = v.run_id "
                "WHERE u.status = 'done'"
            )
            order_by = " ORDER BY u.rowid, v.rowid"
        if batch is not None:
            sql += " AND u.batch = ?"
        fetched = self._db.execute(sql + order_by, args).fetchall()
        fetched.sort(key=lambda r: order.get(r[0], len(order)))  # stable: keeps the SQL order inside a batch

        fixed = ["run_id", "seed"]
        names_taken = set(fixed) | set(tail) | {"batch"}
        swept_cols = [f"sweep.{k}" if k in names_taken else k for k in swept]
        data = {"batch": [r[0] for r in fetched], "run_id": [r[1] for r in fetched], "seed": [r[2] for r in fetched]}
        for key, col in zip(swept, swept_cols):
            data[col] = _sweep_column([points.get(r[1], {}).get(key) for r in fetched])
        for j, col in enumerate(tail):
            data[col] = [r[3 + j] for r in fetched]

        frame = pd.DataFrame({c: data[c] for c in (["batch"] if with_batch else []) + fixed + swept_cols + tail})
        frame["seed"] = frame["seed"].astype("int64")
        floats = ("value", "stderr", "ci_low", "ci_high") if table == "results" else ("magnitude",)
        for col in floats:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
        if table == "verdicts":
            frame["agrees"] = pd.array([None if a is None else bool(a) for a in data["agrees"]], dtype="boolean")
        return frame


def _sweep_column(values: list) -> list:
    """Sweep values of one key: numbers stay numbers; lists, dicts (and mixed columns) become JSON text."""
    present = [v for v in values if v is not None]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    if numeric:
        return [float("nan") if v is None else v for v in values] if len(present) < len(values) else values
    if all(isinstance(v, bool) for v in present) or all(isinstance(v, str) for v in present):
        return values
    return [None if v is None else v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in values]


def _owner_alive(owner: str) -> bool:
    """Whether the process named by ``host:pid`` is alive (another host's process is taken as alive)."""
    import socket

    host, _, pid = str(owner).rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
