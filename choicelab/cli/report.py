"""The ``choicelab report`` command.

Exit status: 0 when every report was written; 2 for bad input (no store at ``--db``, an
unknown ``--batch``), with a one-line message on stderr and no traceback.
"""

from __future__ import annotations

import sys

__all__ = ["report_command"]


def report_command(args) -> int:
    """``choicelab report [--db PATH] [--batch NAME] [--out DIR]``."""
    from choicelab.reports.build import build_report

    try:
        files = build_report(args.db, batch=args.batch, out=args.out)
    except ValueError as exc:
        print(f"choicelab: report: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the output folder cannot be written (permissions, full disk)
        print(f"choicelab: report: cannot write {exc.filename or args.out!r}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for f in files:
        extra = f", {len(f.witnesses)} witnesses" if f.witnesses else ""
        print(f"{f.batch}: {f.html} and {f.markdown} ({len(f.figures)} figures{extra})")
    return 0
