"""``choicelab export``: the results (or verdicts) table of a store as CSV, JSON lines or Parquet.

Exit status: 0 on success, 2 for bad input (no such store file, a store of another schema
version, unknown batch, parquet without ``--out``) with a one-line message on stderr and no
traceback. A reader that stops early (``choicelab export ... | head``) ends the command quietly.
"""

from __future__ import annotations

import sys
from pathlib import Path

from choicelab.cli import _silence_stdout
from choicelab.scenarios.export import FORMATS, export_table

__all__ = ["export_command"]


def _fail(message: str) -> int:
    print(f"choicelab: export: {message}", file=sys.stderr)
    return 2


def export_command(args) -> int:
    """``choicelab export [--db PATH] [--batch NAME] [--table T] --format F [--out FILE]``."""
    db = Path(getattr(args, "db", None) or "choicelab.sqlite")
    table = getattr(args, "table", None) or "results"
    fmt, out, batch = args.format, getattr(args, "out", None), getattr(args, "batch", None)
    if fmt not in FORMATS:
        return _fail(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "parquet" and (out is None or str(out) == "-"):
        return _fail("parquet needs --out FILE")
    if not db.is_file():
        what = "is a folder, not a store file" if db.is_dir() else "no such store file"
        return _fail(f"--db {str(db)!r}: {what} (choicelab run writes one)")
    if db.stat().st_size == 0:
        return _fail(f"--db {str(db)!r}: the file is empty, not a choicelab store")
    if out is not None and str(out) != "-" and not Path(out).resolve().parent.is_dir():
        return _fail(f"--out {str(out)!r}: folder {str(Path(out).resolve().parent)!r} does not exist")
    try:
        import pandas  # noqa: F401

        if fmt == "parquet":
            import pyarrow  # noqa: F401
    except ImportError as exc:
        return _fail(f"needs {exc.name} (pip install pandas pyarrow)")

    from choicelab.scenarios.store import Store

    try:
        store = Store(db, readonly=True)  # an export never writes to the store
    except ValueError as exc:
        return _fail(f"--db {exc}")
    try:
        export_table(store, batch=batch, table=table, fmt=fmt, out=out)
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except ValueError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"--out {str(out)!r}: {exc.strerror or exc}")
    finally:
        store.close()
    return 0
