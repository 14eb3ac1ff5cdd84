"""Reports of composed experiments, generic over measures, conditions and figures.

Everything comes from the store: the typed results and verdicts tables
(:meth:`~choicelab.scenarios.store.Store.to_frame`) and the batch's recorded descriptions of
its conditions, estimators and measures. A swept batch gets one section per sweep point;
nothing is averaged across sweep values. Within a point, a value is summarised over the seeds
(runs) as its mean with a 95% Student-t interval; a text-valued result (the label of a top item) is shown as its
most frequent value with how many runs gave it.
"""
from __future__ import annotations

import json

import numpy as np

__all__ = ["experiment_sections"]

_MAX_ROWS = 200


def experiment_sections(rep, b) -> None:
    """Add the About, Verdicts, Results-per-sweep-point sections of batch ``b`` to ``rep``."""
    from choicelab.reports import build as B

    about = b.meta.get("about") or {}
    rep.add(B._Heading(2, "What was run"))
    for note in about.get("notes", []):
        rep.add(B._Para(note))
    for section, title in (("conditions", "condition"), ("estimators", "estimator"), ("measures", "measure")):
        entries = about.get(section) or {}
        if entries:
            rep.add(B._Table((title, "what it is"), tuple((k, v) for k, v in entries.items())))
    if not b.done:
        rep.add(B._Para("No run is done yet, so there is nothing to summarise."))
        return
    results = b.store.to_frame("results", b.name)
    verdicts = b.store.to_frame("verdicts", b.name)
    sweep_keys = [k for k in (b.meta.get("sweep") or {}) if k in results.columns]
    if not verdicts.empty:
        _verdicts_section(rep, b, verdicts, sweep_keys)
    _effects_section(rep, b, results, sweep_keys, B)
    rep.add(B._Heading(2, "Results" + (" per sweep point" if sweep_keys else "")))
    if sweep_keys:
        rep.add(B._Para("Each sweep point is its own section: values are summarised over the seeds of that point "
                        "only, never across sweep values."))
    points = _points(results, sweep_keys)
    if sweep_keys:  # figures that put the swept value on an axis, drawn once for the whole batch
        _figures(rep, b, results, {}, about, B, across=True, sweep_keys=sweep_keys)
    for point, frame in points:
        if sweep_keys:
            rep.add(B._Heading(3, ", ".join(f"{k} = {json.dumps(v) if not isinstance(v, str) else v}"
                                            for k, v in point.items())))
        for measure in dict.fromkeys(frame["measure"]):
            _measure_table(rep, frame[frame["measure"] == measure], measure, about, B)
        _figures(rep, b, frame, point, about, B, sweep_keys=sweep_keys)


def _points(frame, keys):
    if not keys:
        return [({}, frame)]
    out = []
    for values, sub in frame.groupby(keys, sort=True, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        out.append((dict(zip(keys, [v.item() if hasattr(v, "item") else v for v in values])), sub))
    return out


def _measure_table(rep, frame, measure, about, B) -> None:
    desc = (about.get("measures") or {}).get(measure, "")
    custom = _custom_table(measure)
    if custom is not None:
        header, rows, caption = custom(frame)
        if rows:
            rep.add(B._Table(tuple(header), tuple(tuple(r) for r in rows[:_MAX_ROWS]), caption=caption))
            return
    if (about.get("summaries") or {}).get(measure) == "mode":
        _mode_table(rep, frame, measure, desc, B)
        return
    from choicelab.reports.figures import item_sort_key
    from choicelab.stats import mean_interval

    estimators = list(dict.fromkeys(frame["estimator"]))
    cells: dict = {}
    labels: dict = {}
    for (cond, item, est), sub in frame.groupby(["condition", "item", "estimator"], sort=False):
        v = sub["value"].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        mean, lo, hi, _, n = mean_interval(v) if v.size else (float("nan"),) * 4 + (0,)
        same = n < 2 or lo == hi  # one run, or every run gave the same value: no interval to show
        cells[(cond, item, est)] = B._fmt(mean) + ("" if same else f" [{B._fmt(lo, 3)}, {B._fmt(hi, 3)}]")
        counts = sub["label"].astype(str).value_counts()
        labels.setdefault((cond, item), counts.index[0] if len(counts) == 1 else " / ".join(counts.index[:3]))
    keys = sorted(labels, key=lambda k: (list(dict.fromkeys(frame["condition"])).index(k[0]), item_sort_key(k[1])))
    rows = [(cond, item, labels[(cond, item)]) + tuple(cells.get((cond, item, e), "–") for e in estimators)
            for cond, item in keys]
    runs = int(frame.groupby(["condition", "item", "estimator"])["value"].size().max())
    caption = f"measure {measure}: {desc} " if desc else f"measure {measure}: "
    caption += f"Mean over {runs} runs with its 95% Student-t interval (the runs are independent draws)."
    if len(rows) > _MAX_ROWS:
        caption += f" First {_MAX_ROWS} of {len(rows)} rows; `choicelab export` gives them all."
    rep.add(B._Table(("condition", "item", "label") + tuple(estimators), tuple(rows[:_MAX_ROWS]), caption=caption))


def _custom_table(measure):
    """The measure's own report table (``register(..., table=)``), or None (also for a plugin not loaded)."""
    from choicelab.scenarios.measures import get_measure

    try:
        return get_measure(measure).table
    except ValueError:
        return None


def _mode_table(rep, frame, measure, desc, B) -> None:
    """A categorical measure: the most frequent label per fit, with how many runs gave it."""
    rows = []
    for (cond, est, item), sub in frame.groupby(["condition", "estimator", "item"], sort=False):
        counts = sub["label"].astype(str).value_counts()
        others = ", ".join(f"{k} ({c})" for k, c in counts.iloc[1:5].items())
        rows.append((cond, est, item, counts.index[0], f"{counts.iloc[0]} of {len(sub)}", others or "–"))
    rep.add(B._Table(("condition", "estimator", "item", "most frequent", "runs", "others (runs)"),
                     tuple(rows[:_MAX_ROWS]), caption=f"measure {measure}: {desc}".strip()))


class _FigureContext:
    """What a figure may read besides the results frame: blobs, the swept keys, the descriptions."""

    def __init__(self, b, sweep_keys, about):
        self._b, self.sweep_keys, self.about = b, list(sweep_keys), about

    def blob(self, run_id, name):
        return self._b.blob(run_id, name)


def _figures(rep, b, frame, point, about, B, across=False, sweep_keys=()) -> None:
    from choicelab.reports import figures as F

    declared = list(b.figures)
    registry = F.list_figures()
    present = set(frame["measure"])
    names = declared or [n for n, e in registry.items() if e.measures and set(e.measures) <= present]
    names = [n for n in names if n not in registry or registry[n].across_sweep == across]
    suffix = "" if not point else "-" + "-".join(f"{v}" for v in point.values())
    ctx = _FigureContext(b, sweep_keys, about)
    for name in names:
        entry = registry.get(name)
        if entry is None:
            if not across:
                rep.add(B._Para(f"Figure {name}: not in the figure registry of this installation (a plugin not "
                                "loaded?)."))
            continue
        sub = frame[frame["measure"].isin(entry.measures)] if entry.measures else frame
        try:
            made = entry.fn(sub, ctx) if entry.wants_ctx else entry.fn(sub)
        except Exception as exc:  # one failing figure must not cost the report
            rep.add(B._Para(f"Figure {name} could not be drawn: {type(exc).__name__}: {exc}"))
            continue
        if made is None:
            continue
        fig, caption = made if isinstance(made, tuple) else (made, entry.description)
        key = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{name}{suffix}")
        rep.add(B._Figure(key, entry.description or name, F.to_png(fig), caption))


def _verdicts_section(rep, b, verdicts, sweep_keys) -> None:
    import json as _json

    from choicelab.reports import build as B

    rep.add(B._Heading(2, "Theory against measurement"))
    rows = []
    group = sweep_keys + ["condition", "axiom", "estimator"]
    for values, sub in verdicts.groupby(group, sort=False, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        measured = list(sub["measured"])
        combined = "violated" if "violated" in measured else ("holds" if measured and all(
            m == "holds" for m in measured) else "inconclusive")
        expected = next((e for e in sub["expected"] if e), "")
        agrees = None if not expected or combined == "inconclusive" else combined == expected
        link = ""
        bad = sub[(sub["measured"] == "violated") & sub["witness"].notna()]
        if not bad.empty:  # the first counterexample, as a file beside the report
            cond, axiom, est = values[-3], values[-2], values[-1]
            name = f"witnesses/{B._file_part(axiom)}-{B._file_part(est)}-{B._file_part(cond)}-{len(rep.witnesses)}.json"
            witness = bad["witness"].iloc[0]
            rep.witnesses[name] = _json.dumps({"axiom": axiom, "estimator": est, "condition": cond,
                                               "run_id": bad["run_id"].iloc[0], "seed": int(bad["seed"].iloc[0]),
                                               "witness": _json.loads(witness)}, indent=1)
            link = B._Link("witness", name)
        rows.append(tuple(values) + (expected or "–", f"{combined} ({measured.count(combined)} of {len(measured)} runs)",
                                     B._MARK[agrees], link))
    header = tuple(sweep_keys) + ("condition", "axiom", "estimator", "theory", "measured", "agreement", "witness")
    rep.add(B._Table(header, tuple(rows[:_MAX_ROWS]),
                     caption="A violation in any run is a counterexample; its witness (the instance and what the "
                             "check added) is the linked file, and every witness is in the verdicts table "
                             "(choicelab export --table verdicts). 'holds' means no run found one."))


def _effects_section(rep, b, results, sweep_keys, B) -> None:
    """Effects of the conditions against the baseline, with intervals, the A/A control and the stated verdict."""
    from choicelab.scenarios.effects import change_rates, coupling_spread, effects_frame, estimator_verdicts

    about = b.meta.get("about") or {}
    settings = b.meta.get("report") or {}
    baseline, control = settings.get("baseline", "original"), settings.get("control", "aa_control")
    margin = float(settings.get("equivalence_margin", 0.1))
    findings = about.get("effects")  # measures whose differences are findings (None: an older batch, all)
    effects = effects_frame(results, sweep_keys, baseline, control, margin, measures=findings)
    overall = estimator_verdicts(results, sweep_keys, baseline, control, margin, measures=findings)
    rates = change_rates(results, sweep_keys, control)
    if effects.empty and not rates:
        return
    has_control = control in set(results["condition"])
    rep.add(B._Heading(2, "Effects of the conditions"))
    rep.add(B._Para(
        f"Each effect is the per-run paired difference D = value(condition) − value({baseline}) of the same run, "
        "averaged over runs with a 95% Student-t interval. "
        + (f"The control is the A/A condition {control!r} (the same world with its own data): its difference "
           f"C from {baseline!r} is the noise floor. " if has_control else "This batch has no A/A control. ")
        + f"Verdict rule, margin δ = {margin:g} (report.equivalence_margin): on "
        + ("D − C" if has_control else "D")
        + ", 'changed' when its 95% interval lies outside ±δ, 'unchanged' when its 90% interval lies inside ±δ "
          "(two one-sided tests), 'inconclusive' otherwise. Per estimator, over the k items of a measure: "
          "'changed' when some item's 1 − 0.05/k interval lies outside ±δ (Bonferroni), 'unchanged' when every "
          "item's 90% interval lies inside ±δ (intersection–union), 'inconclusive' otherwise."))

    def point_of(row):
        return tuple(_show(row[k]) for k in sweep_keys)

    if not overall.empty:
        records = overall.to_dict("records")
        rows = [point_of(r) + (r["condition"], r["estimator"], r["measure"], r["largest"],
                               f"{B._fmt(r['value'])} [{B._fmt(r['ci_low'], 3)}, {B._fmt(r['ci_high'], 3)}]",
                               "–" if not has_control else
                               f"{B._fmt(r['control'])} [{B._fmt(r['control_low'], 3)}, {B._fmt(r['control_high'], 3)}]",
                               r["verdict"], r["runs"])
                for r in records]
        forest = [dict(r, label=" · ".join([*(str(_show(r[k])) for k in sweep_keys), r["condition"], r["estimator"],
                                             f"{r['measure']} {r['largest']}"]))
                  for r in records]
        if forest:
            from choicelab.reports.figures import effects_forest, to_png

            rep.add(B._Figure("effects", "Effects with their 95% intervals against the A/A control",
                              to_png(effects_forest(forest[:40], margin)),
                              "Per estimator and measure, the item with the largest |D − C|: the effect D (dot) and "
                              "the A/A control C (square) with 95% intervals; the grey band is ±δ. The verdict on "
                              "the right follows the rule above."))
        rep.add(B._Table(tuple(sweep_keys) + ("condition", "estimator", "measure", "largest effect on",
                                              "effect [95% CI]", "control [95% CI]", "verdict", "runs"),
                         tuple(rows[:_MAX_ROWS]),
                         caption=("One verdict per estimator and measure, over all its items (rule above); the "
                                  "effect and control shown are those of the item with the largest |D − C|. "
                                  + B._truncated(len(rows))).strip()))
    rows = []
    for r in effects.to_dict("records"):
        rows.append(point_of(r) + (r["condition"], r["estimator"], r["measure"], r["label"] or r["item"],
                                   f"{B._fmt(r['value'])} [{B._fmt(r['ci_low'], 3)}, {B._fmt(r['ci_high'], 3)}]",
                                   "–" if not has_control else f"{B._fmt(r['control'])} [{B._fmt(r['control_low'], 3)}, "
                                                               f"{B._fmt(r['control_high'], 3)}]",
                                   r["verdict"], r["runs"]))
    if rows:
        rep.add(B._Table(tuple(sweep_keys) + ("condition", "estimator", "measure", "item", "effect [95% CI]",
                                              "control [95% CI]", "verdict", "runs"),
                         tuple(rows[:_MAX_ROWS]), caption=("Every item. " + B._truncated(len(rows))).strip()))
    spread = coupling_spread(results, sweep_keys, baseline, control, measures=findings) if has_control else []
    if spread:
        rep.add(B._Table(
            ("estimator", "measure", "A/A RMS, paired", "A/A RMS, independent", "ratio [95% bootstrap CI]", "runs"),
            tuple((s["estimator"], s["measure"], B._fmt(s["rms_paired"], 3), B._fmt(s["rms_independent"], 3),
                   f"{s['ratio']:.2f} [{s['ci_low']:.2f}, {s['ci_high']:.2f}]", f"{s['runs'][0]} + {s['runs'][1]}")
                  for s in spread),
            caption="The noise floor of the two designs: root-mean-square of the A/A difference C over runs and "
                    "items under paired and independent coupling (conditions.coupling), and their ratio with a "
                    "percentile-bootstrap interval over runs. Below 1: pairing removes that share of the noise."))
    rate_rows, tests = [], []
    for r in rates:
        point = tuple(_show(r["point"].get(k, "")) for k in sweep_keys)
        if "mcnemar" in r:
            a, c = r["mcnemar"]
            where = ", ".join(f"{k} = {v}" for k, v in zip(sweep_keys, point))
            tests.append(f"{where + ': ' if where else ''}{r['condition']}: {a} changed alone in {r['a_only']} runs, "
                         f"{c} alone in {r['b_only']} (McNemar exact p = {r['pvalue']:.3g}, {r['runs']} paired runs).")
            continue
        rate_rows.append(point + (r["condition"] + (" (control)" if r["is_control"] else ""), r["estimator"],
                                  f"{r['changed']} of {r['runs']}",
                                  f"{r['rate']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"))
    if rate_rows:
        rep.add(B._Table(tuple(sweep_keys) + ("condition", "estimator", "runs with a change", "rate [95% Wilson CI]"),
                         tuple(rate_rows),
                         caption="How often the best item or topic moved from the baseline's (measure top_change). "
                                 + " ".join(tests)))


def _show(value):
    return value.item() if hasattr(value, "item") else value
