"""``choicelab export``: the results (or verdicts) table of a store as CSV, JSON lines or Parquet.

The table is :meth:`choicelab.scenarios.store.Store.to_frame`: one row per stored result (or
verdict) of a done run, with the run's seed and swept parameters as columns. Formats:

``csv``      pandas ``to_csv`` (header row, no index; missing values as empty fields).
``jsonl``    one JSON object per line, keys in column order, missing values as ``null``.
``parquet``  pyarrow; needs an output file.

The command line (``choicelab export``) is :mod:`choicelab.cli.export`.
"""

from __future__ import annotations

import json
import math
import sys

__all__ = ["FORMATS", "export_table"]

FORMATS = ("csv", "jsonl", "parquet")


def _one_batch(store, batch, table):
    """(results frame, sweep keys, report settings) of the named batch, or of the store's only one."""
    names = [b["name"] for b in store.batches()]
    if batch is None:
        if len(names) != 1:
            raise ValueError(f"--table {table} needs --batch NAME (the store holds {len(names)} batches)")
        batch = names[0]
    meta = (store.batch(batch) or {}).get("params") or {}
    if not meta and batch not in names:
        raise ValueError(f"batch {batch!r} is not in the store (known batches: {', '.join(names) or 'none'})")
    results = store.to_frame("results", batch)
    keys = [k for k in (meta.get("sweep") or {}) if k in results.columns]
    return results, keys, meta.get("report") or {}


def _effects(store, batch):
    from choicelab.scenarios.effects import effects_frame

    results, keys, settings = _one_batch(store, batch, "effects")
    return effects_frame(
        results,
        keys,
        settings.get("baseline", "original"),
        settings.get("control", "aa_control"),
        float(settings.get("equivalence_margin", 0.1)),
    )


def _summary(store, batch):
    from choicelab.scenarios.effects import summary_frame

    results, keys, _ = _one_batch(store, batch, "summary")
    return summary_frame(results, keys)


def _plain(value):
    """A frame cell as a JSON-ready Python value (NaN, NA and None as None)."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return value


def _write_jsonl(frame, stream) -> None:
    columns = [str(c) for c in frame.columns]
    series = [frame[c].tolist() for c in frame.columns]
    for values in zip(*series):
        record = dict(zip(columns, (_plain(v) for v in values)))
        stream.write(json.dumps(record, allow_nan=False, default=str) + "\n")


def export_table(store, *, batch: str | None = None, table: str = "results", fmt: str = "csv", out=None) -> int:
    """Write ``store.to_frame(table, batch)`` as ``fmt`` to ``out`` (a path) or to stdout.

    Parameters
    ----------
    store : Store
        An open results store.
    batch : str or None
        One batch, or every batch (a ``batch`` column is added when there are several).
    table : {"results", "verdicts", "effects", "summary"}
        ``effects``: the paired effects of the conditions with their intervals (``ci_low``,
        ``ci_high``), control and verdict (:func:`choicelab.scenarios.effects.effects_frame`);
        ``summary``: every value's mean over the runs of its sweep point with its 95% interval
        (:func:`choicelab.scenarios.effects.summary_frame`). Both for one batch (the given one,
        or the store's only one).
    fmt : {"csv", "jsonl", "parquet"}
    out : str or Path or None
        Output file; None (or ``"-"``) writes to stdout. Parquet needs a file.

    Returns
    -------
    int
        The number of rows written (header not counted).

    Raises
    ------
    ValueError
        Unknown format or table, unknown batch, or parquet without ``out``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    to_stdout = out is None or str(out) == "-"
    if fmt == "parquet" and to_stdout:
        raise ValueError("parquet needs --out FILE")
    if table == "effects":
        frame = _effects(store, batch)
    elif table == "summary":
        frame = _summary(store, batch)
    else:
        frame = store.to_frame(table, batch)
    if fmt == "parquet":
        frame.to_parquet(out, engine="pyarrow", index=False)
    elif fmt == "csv":
        if to_stdout:
            frame.to_csv(sys.stdout, index=False, lineterminator="\n")
            sys.stdout.flush()
        else:
            frame.to_csv(out, index=False, lineterminator="\n")
    else:
        if to_stdout:
            _write_jsonl(frame, sys.stdout)
            sys.stdout.flush()
        else:
            with open(out, "w", encoding="utf-8", newline="\n") as stream:
                _write_jsonl(frame, stream)
    return len(frame)
