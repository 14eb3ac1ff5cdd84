"""``choicelab explain ID``: what an axiom, estimator, measure, condition, weighting or figure is."""

from __future__ import annotations

import difflib
import json
import sys
import textwrap

__all__ = ["explain_command", "explain"]


def _options(model) -> list[str]:
    if model is None:
        return ["options: none"]
    lines = ["options:"]
    for name, field in model.model_fields.items():
        default = field.default if field.default is not None or not field.is_required() else "(required)"
        lines.append(f"  {name} = {json.dumps(default, default=str)}  ({field.annotation!s})".replace("typing.", ""))
    return lines


def explain(target: str) -> list[str] | None:
    """Lines describing ``target`` (an axiom id or a registry name), or None when nothing has that name."""
    from choicelab.axioms.base import THEORY, list_axioms
    from choicelab.estimators.registry import list_estimators
    from choicelab.estimators.weightings import list_weightings
    from choicelab.reports.figures import list_figures
    from choicelab.scenarios.conditions import list_conditions
    from choicelab.scenarios.measures import list_measures

    wrap = textwrap.TextWrapper(width=100, subsequent_indent="  ")
    for a in list_axioms():
        if a.id.lower() == target.lower():
            lines = [f"{a.id}: {a.name} (contract {a.id}; {a.citation})", ""]
            lines += wrap.wrap(" ".join(str(a.statement).split()))
            rows = sorted((e, v) for (aid, e), v in THEORY.items() if aid == a.id)
            if rows:
                lines += ["", "theory (expected verdict per estimator):"]
                lines += [f"  {e:<20} {v}" for e, v in rows]
            lines += ["", f'measure it: choicelab verify --axiom {a.id}   or   [measures] names = ["{a.id}"]']
            return lines
    for e in list_estimators():
        if e.name == target:
            lines = [
                f"estimator {e.name} ({e.kind}; consumes {', '.join(e.consumes)}; needs {e.needs}"
                + ("; weighted" if e.weighted else "")
                + (f"; extra {e.extra}" if e.extra else "")
                + ")",
                "",
            ]
            lines += wrap.wrap(e.description)
            rows = sorted((aid, v) for (aid, est), v in THEORY.items() if est == e.name)
            if rows:
                lines += ["", "theory (expected verdicts):"] + [f"  {aid:<4} {v}" for aid, v in rows]
            return lines + [""] + _options(e.params) + [f"source: {e.source}"]
    for m in list_measures():
        if m.name == target:
            return (
                [
                    f"measure {m.name} (called per {m.per}; needs {', '.join(m.needs) or 'nothing'}; "
                    f"summary {m.summary})",
                    "",
                ]
                + wrap.wrap(m.description)
                + [""]
                + _options(m.params)
                + [f"source: {m.source}"]
            )
    for c in list_conditions():
        if c.name == target:
            return [f"condition {c.name}" + (" (adds clones)" if c.clones else ""), ""] + wrap.wrap(c.description)
    for w in list_weightings():
        if w.name == target:
            return [f"weighting {w.name}", ""] + wrap.wrap(w.description) + [""] + _options(w.params)
    for name, f in list_figures().items():
        if name == target:
            return [f"figure {name} (from measures: {', '.join(f.measures) or 'blobs'})", ""] + wrap.wrap(f.description)
    return None


def explain_command(args) -> int:
    """``choicelab explain ID``."""
    target = args.id
    lines = explain(target)
    if lines is None:
        from choicelab.axioms.base import list_axioms
        from choicelab.estimators.registry import list_estimators
        from choicelab.scenarios.measures import list_measures

        names = [a.id for a in list_axioms()] + [e.name for e in list_estimators()] + [m.name for m in list_measures()]
        hint = difflib.get_close_matches(target, names, n=1)
        print(
            f"choicelab: explain: {target!r} is no axiom, estimator, measure, condition, weighting or figure"
            + (f"; did you mean {hint[0]!r}?" if hint else "; see choicelab list"),
            file=sys.stderr,
        )
        return 2
    print("\n".join(lines))
    return 0
