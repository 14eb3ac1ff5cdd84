"""Run every benchmark script in this folder, then merge benchmarks/results/*.md into RESULTS.md.

Usage: ``.venv/bin/python benchmarks/run_all.py [--quick] [--only NAME ...]``
(``make bench`` runs the full set). Each script writes its own table to
``benchmarks/results/<topic>.md``; this runner only sequences them, so that no two
benchmarks compete for the 2 cores.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def merge_results() -> Path:
    parts = sorted((HERE / "results").glob("*.md"))
    head = (
        "# Benchmark results\n\n"
        "Every figure is a ratio against a baseline measured in the same run, on the project's "
        "2-core reference machine (no GPU). Reproduce everything with `make bench` "
        "(= `.venv/bin/python benchmarks/run_all.py`), or one table with the command printed "
        "in its section. Sections are merged from `benchmarks/results/*.md`.\n\n"
        f"_Merged {_dt.date.today().isoformat()}._\n\n"
    )
    body = "\n\n".join(p.read_text().strip() for p in parts)
    out = HERE / "RESULTS.md"
    out.write_text(head + body + "\n")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="tiny smoke run of every script")
    ap.add_argument("--only", nargs="*", help="script names (bench_*.py) to run")
    ap.add_argument("--merge-only", action="store_true", help="only merge results/*.md into RESULTS.md")
    args = ap.parse_args(argv)
    failed = []
    if not args.merge_only:
        scripts = sorted(HERE.glob("bench_*.py"))
        if args.only:
            scripts = [s for s in scripts if s.stem in args.only or s.name in args.only]
        for script in scripts:
            cmd = [sys.executable, str(script)] + (["--quick"] if args.quick else [])
            print(f"== {' '.join(cmd)}", flush=True)
            if subprocess.run(cmd).returncode != 0:
                failed.append(script.name)
    if not args.quick:
        print(f"merged into {merge_results()}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
