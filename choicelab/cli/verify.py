"""``choicelab verify``: the theory table measured, as a table or as JSON lines.

Exit status: 1 when any measurement contradicts theory; otherwise 2 when a check raised an
error; otherwise 0.
"""

from __future__ import annotations

import json
import math
import sys

MARKS = {True: "ok", False: "FAIL", None: "?"}
_SHORT = {"holds": "holds", "violated": "violated", "inconclusive": "inconcl.", "": "-"}


def verdict_json(verdict) -> str:
    """One verdict as a single JSON line (:func:`choicelab._json.to_jsonable`: numpy values converted,
    NaN written as null); anything JSON cannot hold is written as its ``repr``."""
    return json.dumps(verdict.to_dict(), default=repr, allow_nan=False)


def _magnitude(v) -> str:
    return "-" if v.magnitude is None or not math.isfinite(v.magnitude) else f"{v.magnitude:.3g}"


def _witness_summary(v) -> str:
    # the table points at the witnesses of violations; "holds" rows carry theirs in the JSON output
    w = v.witness
    if not w or v.measured != "violated":
        return ""
    inst = w.get("instance") if isinstance(w, dict) else None
    m = len(inst.get("labels") or []) if isinstance(inst, dict) else None
    return f"witness: m={m}, seed={w.get('seed')}" if m else "witness attached"


def format_table(verdicts) -> str:
    """The estimator x axiom grid (theory/measured and a mark) followed by one line per cell."""
    axioms = list(dict.fromkeys(v.axiom for v in verdicts))
    estimators = list(dict.fromkeys(v.estimator for v in verdicts))
    cell = {(v.axiom, v.estimator): v for v in verdicts}
    width = max([len(e) for e in estimators] + [9])
    lines = ["theory table: each cell is theory/measured and a mark (ok agrees, FAIL contradicts, ? no verdict)", ""]
    lines.append(" " * 5 + "".join(f"{e:>{width + 2}}" for e in estimators))
    for a in axioms:
        row = f"{a:<5}"
        for e in estimators:
            v = cell.get((a, e))
            text = "" if v is None else f"{(v.expected or '-')[0].upper()}/{v.measured[0].upper()} {MARKS[v.agrees]}"
            row += f"{text:>{width + 2}}"
        lines.append(row)
    lines += ["", "(H holds, V violated, I inconclusive, - theory silent)", ""]
    lines.append(
        f"{'axiom':<6}{'estimator':<{width + 1}}{'theory':<10}{'measured':<10}{'mark':<6}{'magnitude':<11}detail"
    )
    for v in verdicts:
        detail = v.detail if len(v.detail) <= 160 else v.detail[:157] + "..."
        extra = _witness_summary(v)
        lines.append(
            f"{v.axiom:<6}{v.estimator:<{width + 1}}{_SHORT.get(v.expected, v.expected):<10}"
            f"{_SHORT[v.measured]:<10}{MARKS[v.agrees]:<6}{_magnitude(v):<11}{detail}"
            + (f" [{extra}]" if extra else "")
        )
    n_ok = sum(v.agrees is True for v in verdicts)
    n_bad = sum(v.agrees is False for v in verdicts)
    n_none = sum(v.agrees is None for v in verdicts)
    lines += ["", f"{len(verdicts)} cells: {n_ok} agree with theory, {n_bad} contradict it, {n_none} without a verdict"]
    return "\n".join(lines)


def exit_status(verdicts) -> int:
    """1 when a measurement contradicts theory; else 2 when a check raised; else 0."""
    if any(v.agrees is False for v in verdicts):
        return 1
    if any("error" in (v.data or {}) for v in verdicts):
        return 2
    return 0


def resolve_estimator(target: str) -> str:
    """The registry name of ``target``: a name, or ``module:function`` / ``file.py:function``.

    A function that is not registered yet is registered as a reward estimator on the preference
    matrix (weighted when it takes ``weights``): the registry adapts ``fn(P, weights=None,
    lam=0.1) -> (m,) scores`` to its uniform interface.
    """
    import importlib
    import inspect

    from choicelab.estimators.registry import get_estimator, list_estimators, register

    if ":" not in target:
        return get_estimator(target).name
    module_part, _, func_name = target.rpartition(":")
    if module_part.endswith(".py"):
        from choicelab.scenarios.experiment import import_plugins

        path = import_plugins([module_part])[0]
        from choicelab.scenarios import experiment

        module = sys.modules[experiment._IMPORTED[path]]
    else:
        import os

        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        module = importlib.import_module(module_part)
    fn = getattr(module, func_name)
    name = getattr(fn, "__choicelab_estimator__", None)
    if name is not None:
        return name
    name = f"{module.__name__.rsplit('.', 1)[-1]}.{func_name}"
    if name in {e.name for e in list_estimators()}:
        return name
    weighted = "weights" in inspect.signature(fn).parameters
    register(
        name,
        kind="reward",
        consumes=("matrix", "comparisons"),
        weighted=weighted,
        needs="positions" if weighted else "matrix",
    )(fn)
    return name


def applicable_axioms(name: str) -> list:
    """The axiom ids that apply to estimator ``name``: A1-A8 (A1 for reward estimators), plus the
    theorem rows (T1, P4-P8, X1-X4) the contract states for it."""
    from choicelab.axioms.base import THEORY, list_axioms
    from choicelab.estimators.registry import get_estimator

    entry = get_estimator(name)
    out = []
    for a in list_axioms():
        if a.id.startswith("A"):
            if a.id == "A1" and entry.kind != "reward":
                continue
            out.append(a.id)
        elif (a.id, name) in THEORY:
            out.append(a.id)
    return out


def verify_command(args) -> int:
    """Run ``choicelab verify`` (args: ``quick``, ``json``, ``seed``); returns the exit status."""
    from choicelab.axioms.api import verify

    as_json = bool(getattr(args, "json", False))
    quick = bool(getattr(args, "quick", False))
    seed = getattr(args, "seed", 0)
    seed = 0 if seed is None else seed
    if not 0 <= seed < 2**63:
        print(f"choicelab: verify: --seed must be an integer in [0, 2**63), got {seed}", file=sys.stderr)
        return 2
    estimators, axiom_ids, silent = None, None, False
    target = getattr(args, "estimator", None)
    if target is not None:
        try:
            name = resolve_estimator(target)
        except (ImportError, AttributeError, ValueError, TypeError, SyntaxError) as exc:
            print(f"choicelab: verify: --estimator {target!r}: {exc}", file=sys.stderr)
            return 2
        estimators, axiom_ids, silent = [name], applicable_axioms(name), True
    axiom = getattr(args, "axiom", None)
    if axiom is not None:
        from choicelab.axioms.base import list_axioms

        known = [a.id for a in list_axioms()]
        if axiom not in known:
            print(f"choicelab: verify: --axiom {axiom!r}: unknown axiom; known: {', '.join(known)}", file=sys.stderr)
            return 2
        axiom_ids, silent = [axiom], True
    from choicelab.scenarios.runner import _one_thread_inline

    _one_thread_inline()  # the checks fit tiny networks and matrices: more threads only contend
    verdicts = verify(
        quick=quick,
        rng=seed,
        progress=None if not as_json else False,
        estimators=estimators,
        axioms=axiom_ids,
        silent=silent,
    )
    if as_json:
        for v in verdicts:
            print(verdict_json(v))
    else:
        print(format_table(verdicts))
    for v in verdicts:
        if "error" in (v.data or {}):
            first = str(v.data["error"]).strip().splitlines()
            print(
                f"choicelab verify: the check of {v.axiom} on {v.estimator} raised an error: "
                f"{first[-1] if first else ''}",
                file=sys.stderr,
            )
    sys.stdout.flush()
    return exit_status(verdicts)
