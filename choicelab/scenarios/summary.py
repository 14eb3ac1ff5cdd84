"""Console summaries of composed experiments, generic over measures (read back from the store).

Per sweep point (never averaged across sweep values), per condition and estimator: every
measure that gives one value per fit (a top item, a Kendall tau, a verdict) as its mean over
runs, or, when its label varies between runs, the most frequent label with its count; measures
that give one value per alternative are counted, not printed (``choicelab export`` has them).
"""

from __future__ import annotations

import json

import numpy as np

from choicelab.stats import mean_interval

__all__ = ["summarise_experiment", "format_experiment_summary"]

_MAX_POINTS = 12


def summarise_experiment(store, batch: str) -> dict:
    """JSON-serialisable key results of an experiment batch."""
    frame = store.to_frame("results", batch)
    meta = next((b["params"] for b in store.batches() if b["name"] == batch), {}) or {}
    keys = [k for k in (meta.get("sweep") or {}) if k in frame.columns]
    modes = (meta.get("about") or {}).get("summaries", {})
    points = []
    if frame.empty:
        return {"kind": "experiment", "sweep_keys": keys, "points": points, "verdicts": {}}
    groups = frame.groupby(keys, sort=True, dropna=False) if keys else [((), frame)]
    for values, sub in groups:
        values = values if isinstance(values, tuple) else (values,)
        point = {k: (v.item() if hasattr(v, "item") else v) for k, v in zip(keys, values)}
        rows = []
        for (cond, est, measure), fit in sub.groupby(["condition", "estimator", "measure"], sort=False):
            items = list(dict.fromkeys(fit["item"]))
            if len(items) > 1:
                rows.append({"condition": cond, "estimator": est, "measure": measure, "items": len(items)})
                continue
            v = fit["value"].to_numpy(dtype=float)
            labels = fit["label"].astype(str).value_counts()
            finite = v[np.isfinite(v)]
            mean, lo, hi = mean_interval(finite)[:3] if finite.size else (None, None, None)
            row = {
                "condition": cond,
                "estimator": est,
                "measure": measure,
                "item": items[0],
                "mean": mean,
                "ci_low": lo if finite.size > 1 else None,
                "ci_high": hi if finite.size > 1 else None,
                "runs": int(len(v)),
            }
            if modes.get(measure) == "mode":
                row["label"] = labels.index[0]
                row["label_runs"] = int(labels.iloc[0])
            rows.append(row)
        points.append({"point": point, "rows": rows})
    verdicts = store.to_frame("verdicts", batch)
    cells: dict = {}
    for r in verdicts.itertuples():
        entry = cells.setdefault(r.estimator, {"agree": 0, "disagree": 0, "undecided": 0})
        import pandas as pd

        undecided = bool(pd.isna(r.agrees))
        entry["undecided" if undecided else "agree" if bool(r.agrees) else "disagree"] += 1
    return {"kind": "experiment", "sweep_keys": keys, "points": points, "verdicts": cells}


def format_experiment_summary(summary: dict) -> list[str]:
    """The lines ``choicelab run`` prints for an experiment batch."""
    lines = []
    points = summary.get("points", [])
    if not points:
        return ["  no run is done yet"]
    lines.append(
        "  key results (mean over runs [95% Student-t interval]"
        + (", per sweep point" if summary.get("sweep_keys") else "")
        + "):"
    )
    for p in points[:_MAX_POINTS]:
        indent = "    "
        if p["point"]:
            lines.append(
                "    "
                + ", ".join(f"{k} = {json.dumps(v) if not isinstance(v, str) else v}" for k, v in p["point"].items())
            )
            indent = "      "
        for r in p["rows"]:
            head = f"{indent}{r['condition']:<10} {r['estimator']:<20} {r['measure']:<14}"
            if "items" in r:
                lines.append(f"{head} {r['items']} items (choicelab export)")
            elif "label" in r:
                lines.append(f"{head} {r['label']} ({r['label_runs']} of {r['runs']} runs)")
            else:
                mean = "nan" if r["mean"] is None else f"{r['mean']:.6g}"
                if r.get("ci_low") is not None and r["ci_low"] != r["ci_high"]:
                    mean += f" [{r['ci_low']:.3g}, {r['ci_high']:.3g}]"
                lines.append(f"{head} {mean}")
    if len(points) > _MAX_POINTS:
        lines.append(f"    ... and {len(points) - _MAX_POINTS} more sweep points (choicelab report)")
    if summary.get("verdicts"):
        lines.append("  verdicts per estimator (agree / disagree with theory / undecided):")
        for est, c in summary["verdicts"].items():
            lines.append(f"    {est:<20} {c['agree']:>3} / {c['disagree']:>3} / {c['undecided']:>3}")
    return lines
