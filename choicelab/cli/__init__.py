"""The ``choicelab`` command: list, run, verify, report, export (all command-line glue lives here).

One module per subcommand (``run.py`` for list and run, ``verify.py``, ``report.py``,
``export.py``); the domain packages know no command line. Every subcommand imports its
machinery lazily, so that ``choicelab --help`` stays fast and imports neither torch nor cvxpy.
"""

from __future__ import annotations

import argparse
import sys


class _Parser(argparse.ArgumentParser):
    """argparse with bad input reported in one line (exit status 2), no usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="choicelab",
        description="Check numerically what social choice theory says about learning reward "
        "functions from human comparisons.",
    )
    from choicelab import __version__

    parser.add_argument("--version", action="version", version=f"choicelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p_list = sub.add_parser("list", help="built-in scenarios, estimators and axioms")
    p_list.add_argument("--json", action="store_true", help="machine-readable output")

    p_run = sub.add_parser("run", help="run scenario batches (built-in names or TOML files)")
    p_run.add_argument("scenarios", nargs="+", metavar="NAME_OR_FILE")
    p_run.add_argument("--db", default="choicelab.sqlite", help="SQLite results store (default: %(default)s)")
    p_run.add_argument("--workers", type=int, default=None, help="worker processes (default: the core count)")
    p_run.add_argument("--engine", choices=("local", "dask"), default="local")
    p_run.add_argument("--scheduler", default=None, help="Dask scheduler address (default: a LocalCluster)")
    p_run.add_argument("--seed", type=int, default=None, help="override the scenario's base seed")
    p_run.add_argument("--json", action="store_true", help="print a JSON summary, no progress bar")
    p_run.add_argument(
        "--new-batch",
        default=None,
        metavar="NAME",
        help="store the runs under this batch name instead of the scenario's",
    )
    p_run.add_argument(
        "--replace", action="store_true", help="delete the batch's earlier runs first (when its parameters changed)"
    )
    p_run.add_argument(
        "--max-runs",
        type=int,
        default=None,
        metavar="N",
        help="refuse a batch of more runs (default: the scenario's max_runs, 100000)",
    )
    p_run.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE_OR_FILE",
        help="import this module or .py file (in every worker) before running; repeatable",
    )

    p_verify = sub.add_parser("verify", help="measure the theory table; exit 1 where a measurement contradicts theory")
    p_verify.add_argument("--quick", action="store_true", help="small instances, about a minute on 2 cores")
    p_verify.add_argument("--json", action="store_true", help="one JSON object per verdict")
    p_verify.add_argument("--seed", type=int, default=0)
    p_verify.add_argument(
        "--estimator",
        default=None,
        metavar="NAME_OR_MODULE:FUNCTION",
        help="measure every applicable axiom on this estimator: a registry name, or a function "
        "module:function / file.py:function (fn(P, weights=None, lam=0.1) -> scores)",
    )
    p_verify.add_argument("--axiom", default=None, metavar="ID", help="measure this axiom only (e.g. A2)")

    p_explain = sub.add_parser("explain", help="what an axiom, estimator, measure, condition or figure is")
    p_explain.add_argument("id", metavar="ID", help="an axiom id (A1) or a registry name (weighted_mle, scores)")

    p_report = sub.add_parser("report", help="write HTML and Markdown reports from the results store")
    p_report.add_argument("--db", default="choicelab.sqlite")
    p_report.add_argument("--batch", default=None, help="batch name (default: every batch in the store)")
    p_report.add_argument("--out", default="reports", help="output folder (default: %(default)s)")

    p_export = sub.add_parser(
        "export", help="write a table of a store (results, verdicts, effects, summary) as CSV, JSON lines or Parquet"
    )
    p_export.add_argument("--db", default="choicelab.sqlite", help="SQLite results store (default: %(default)s)")
    p_export.add_argument("--batch", default=None, help="batch name (default: every batch in the store)")
    p_export.add_argument(
        "--table",
        choices=("results", "verdicts", "effects", "summary"),
        default="results",
        help="results: one row per run and value; verdicts: theory against measurement; effects: each "
        "condition's paired effect with its 95%% interval, the A/A control and the verdict; summary: every "
        "value's mean over runs with its 95%% interval (default: %(default)s)",
    )
    p_export.add_argument("--format", choices=("csv", "jsonl", "parquet"), required=True)
    p_export.add_argument(
        "--out", default=None, metavar="FILE", help="output file (default: stdout; parquet needs one)"
    )
    return parser


class _Terminated(KeyboardInterrupt):
    """SIGTERM, turned into the same orderly stop as Ctrl-C (workers ended, finished runs kept)."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush is quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    else:  # embedded in a thread (tests): signals belong to the main thread
        previous = None
    try:
        return _dispatch(parser, args)
    except _Terminated:
        print("choicelab: terminated; finished runs are kept in the store", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("choicelab: interrupted; finished runs are kept in the store", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        print(
            "choicelab: the output was closed early (broken pipe); finished runs are kept in the store", file=sys.stderr
        )
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _dispatch(parser, args) -> int:
    if args.command == "list":
        from choicelab.cli.run import list_command

        return list_command(args)
    if args.command == "run":
        from choicelab.cli.run import run_command

        return run_command(args)
    if args.command == "verify":
        from choicelab.cli.verify import verify_command

        return verify_command(args)
    if args.command == "report":
        from choicelab.cli.report import report_command

        return report_command(args)
    if args.command == "export":
        from choicelab.cli.export import export_command

        return export_command(args)
    if args.command == "explain":
        from choicelab.cli.explain import explain_command

        return explain_command(args)
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
