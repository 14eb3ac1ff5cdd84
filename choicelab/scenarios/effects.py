"""Effects of conditions: paired differences across runs, with intervals, a control and a verdict.

For a batch whose runs have a ``baseline`` condition (default ``original``), every other
condition's effect on a numeric measure is the per-run paired difference
``D = value(condition) - value(baseline)`` of the same run (the same world, and with
``conditions.coupling = "paired"`` the same comparisons wherever possible). With a ``control``
condition (default ``aa_control``: the same world without clones, its own data) the control's
difference ``C = value(control) - value(baseline)`` is the noise floor, and the verdict is the
stated rule of :func:`choicelab.stats.equivalence_verdict` on ``D - C`` with the report's
``equivalence_margin``: "changed" when its 95% interval lies outside ±margin, "unchanged" when its
90% interval lies inside, "inconclusive" otherwise. Without a control the rule reads ``D``.
Intervals are Student-t over runs (:func:`choicelab.stats.mean_interval`).

Binary measures (``top_change``: whether the best item or topic moved) are rates: runs with a
change out of runs, with Wilson intervals; the two first estimators' change indicators on the
same runs are compared with McNemar's exact test.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "effects_frame",
    "estimator_verdicts",
    "coupling_spread",
    "change_rates",
    "summary_frame",
    "EFFECT_COLUMNS",
]

EFFECT_COLUMNS = [
    "condition",
    "estimator",
    "measure",
    "item",
    "label",
    "value",
    "stderr",
    "ci_low",
    "ci_high",
    "runs",
    "control",
    "control_low",
    "control_high",
    "verdict",
    "margin",
]
_MAX_ITEMS = 40  # measures with more items per fit (one per alternative of a large world) are left to the tables


def _differences(results, sweep_keys, baseline, control, measures, *, only=None):
    """Yield (point, condition, estimator, measure, item, label, D, C) per compared item.

    D and C are pandas Series of per-run differences (index run_id): condition − baseline and
    control − baseline (C None without a control)."""
    keys = list(sweep_keys)
    if results.empty or baseline not in set(results["condition"]):
        return
    numeric = results[results["measure"] != "top_change"]
    if measures is not None:
        numeric = numeric[numeric["measure"].isin(list(measures))]
    for point, frame in numeric.groupby(keys, sort=True, dropna=False) if keys else [((), numeric)]:
        point = point if isinstance(point, tuple) else (point,)
        pivot = frame.pivot_table(
            index=["run_id", "estimator", "measure", "item"], columns="condition", values="value", aggfunc="first"
        )
        if baseline not in pivot.columns:
            continue
        labels = frame.drop_duplicates(["estimator", "measure", "item"]).set_index(["estimator", "measure", "item"])
        items_per_fit = frame.groupby(["run_id", "condition", "estimator", "measure"])["item"].nunique()
        too_many = set(items_per_fit[items_per_fit > _MAX_ITEMS].reset_index()["measure"])
        # the control is the reference of the other conditions, not an effect of its own
        others = [c for c in pivot.columns if c not in (baseline, control)] if only is None else [only]
        others = [c for c in others if c in pivot.columns]
        for cond in others:
            d_all = (pivot[cond] - pivot[baseline]).dropna()
            c_all = (pivot[control] - pivot[baseline]).dropna() if control in pivot.columns else None
            for (est, measure, item), sub in d_all.groupby(level=["estimator", "measure", "item"], sort=False):
                if measure in too_many:
                    continue
                c = None
                if c_all is not None:
                    c = c_all.xs((est, measure, item), level=["estimator", "measure", "item"])
                label = labels.loc[(est, measure, item), "label"] if (est, measure, item) in labels.index else ""
                yield point, cond, est, measure, item, label, sub.droplevel(["estimator", "measure", "item"]), c


def effects_frame(
    results,
    sweep_keys=(),
    baseline: str = "original",
    control: str | None = "aa_control",
    margin: float = 0.1,
    measures=None,
):
    """The effects table of a results frame (:meth:`Store.to_frame`): one row per swept point,
    condition, estimator, measure and item; ``value`` the mean paired difference, ``ci_low`` /
    ``ci_high`` its 95% interval, ``control`` the control's, ``verdict`` the rule's (module
    docstring). ``measures`` limits the table to those measures (default: every numeric one)."""
    import pandas as pd

    from choicelab.stats import equivalence_verdict, mean_interval

    rows = []
    for point, cond, est, measure, item, label, d, c in _differences(results, sweep_keys, baseline, control, measures):
        mean, lo, hi, se, n = mean_interval(d.to_numpy(dtype=float))
        if c is not None:
            cmean, clo, chi, _, _ = mean_interval(c.to_numpy(dtype=float))
            verdict = equivalence_verdict((d - c).dropna().to_numpy(dtype=float), margin)
        else:
            cmean = clo = chi = float("nan")
            verdict = equivalence_verdict(d.to_numpy(dtype=float), margin)
        rows.append(point + (cond, est, measure, item, label, mean, se, lo, hi, n, cmean, clo, chi, verdict, margin))
    return pd.DataFrame(rows, columns=list(sweep_keys) + EFFECT_COLUMNS)


def estimator_verdicts(
    results,
    sweep_keys=(),
    baseline: str = "original",
    control: str | None = "aa_control",
    margin: float = 0.1,
    measures=None,
):
    """One verdict per swept point, condition, estimator and measure over all its items.

    :func:`choicelab.stats.joint_verdict` on the items' per-run D − C (D without a control):
    "changed" when some item's Bonferroni interval (1 − 0.05/k for k items) lies outside ±margin,
    "unchanged" when every item's 90% interval lies inside, "inconclusive" otherwise. The
    ``largest`` column is the item with the largest absolute mean of D − C, ``effect`` that mean;
    ``value`` / ``ci_low`` / ``ci_high`` are that item's D with its 95% interval and ``control`` /
    ``control_low`` / ``control_high`` its C (NaN without a control), as in :func:`effects_frame`.
    """
    import pandas as pd

    from choicelab.stats import joint_verdict, mean_interval

    groups: dict = {}
    for point, cond, est, measure, item, label, d, c in _differences(results, sweep_keys, baseline, control, measures):
        paired = (d - c).dropna() if c is not None else d
        groups.setdefault(point + (cond, est, measure), []).append((label or str(item), paired, d, c))
    rows = []
    for key, family in groups.items():
        means = [float(p.mean()) if p.size else 0.0 for _, p, _, _ in family]
        top = int(np.argmax(np.abs(means)))
        label, _, d, c = family[top]
        mean, lo, hi, _, n = mean_interval(d.to_numpy(dtype=float))
        cmean, clo, chi = (float("nan"),) * 3 if c is None else mean_interval(c.to_numpy(dtype=float))[:3]
        verdict = joint_verdict([p.to_numpy(dtype=float) for _, p, _, _ in family], margin)
        rows.append(key + (len(family), label, means[top], mean, lo, hi, cmean, clo, chi, n, verdict, margin))
    columns = list(sweep_keys) + [
        "condition",
        "estimator",
        "measure",
        "items",
        "largest",
        "effect",
        "value",
        "ci_low",
        "ci_high",
        "control",
        "control_low",
        "control_high",
        "runs",
        "verdict",
        "margin",
    ]
    return pd.DataFrame(rows, columns=columns)


def coupling_spread(
    results, sweep_keys=(), baseline: str = "original", control: str = "aa_control", measures=None, rng=0
):
    """The A/A control's spread under the two couplings, when the batch sweeps ``conditions.coupling``.

    For each estimator and measure: RMS of C = control − baseline over runs and items under
    ``paired`` and under ``independent`` coupling, and their ratio with a 95% bootstrap interval
    (:func:`choicelab.stats.rms_ratio_interval`; runs resampled within each design). A ratio
    below 1 means the paired design's noise floor is lower. The other ``sweep_keys`` are kept apart.
    Returns a list of dicts (empty when the batch does not sweep both couplings).
    """
    from choicelab.stats import rms_ratio_interval

    key = "conditions.coupling"
    if key not in sweep_keys or results.empty or key not in results.columns or control not in set(results["condition"]):
        return []
    if not {"paired", "independent"} <= set(results[key].dropna()):
        return []
    rest = [k for k in sweep_keys if k != key]  # other swept keys: each of their points on its own
    out = []
    per: dict = {}
    differences = _differences(results, [key] + rest, baseline, None, measures, only=control)
    for point, _, est, measure, _item, _label, d, _c in differences:
        per.setdefault((point[1:], est, measure), {}).setdefault(point[0], []).append(d)
    for (other, est, measure), by in per.items():
        if not {"paired", "independent"} <= set(by):
            continue
        x = np.column_stack([s.sort_index().to_numpy(dtype=float) for s in by["paired"]])
        y = np.column_stack([s.sort_index().to_numpy(dtype=float) for s in by["independent"]])
        ratio, lo, hi = rms_ratio_interval(x, y, rng=rng)
        out.append(
            {
                "point": dict(zip(rest, other)),
                "estimator": est,
                "measure": measure,
                "rms_paired": float(np.sqrt(np.mean(x**2))),
                "rms_independent": float(np.sqrt(np.mean(y**2))),
                "ratio": ratio,
                "ci_low": lo,
                "ci_high": hi,
                "runs": (x.shape[0], y.shape[0]),
            }
        )
    return out


def change_rates(results, sweep_keys=(), control: str | None = "aa_control"):
    """Rates of ``top_change`` per point, condition and estimator with Wilson intervals, and
    McNemar's test between the first two estimators on the same runs: a list of dicts."""
    from choicelab.stats import mcnemar, wilson_interval

    keys = list(sweep_keys)
    data = results[results["measure"] == "top_change"]
    out = []
    if data.empty:
        return out
    for point, frame in data.groupby(keys, sort=True, dropna=False) if keys else [((), data)]:
        point = point if isinstance(point, tuple) else (point,)
        for cond, sub in frame.groupby("condition", sort=False):
            per_est = {e: s.set_index("run_id")["value"] for e, s in sub.groupby("estimator", sort=False)}
            for est, v in per_est.items():
                k, n = int((v > 0.5).sum()), int(v.size)
                rate, lo, hi = wilson_interval(k, n)
                out.append(
                    {
                        "point": dict(zip(keys, point)),
                        "condition": cond,
                        "estimator": est,
                        "changed": k,
                        "runs": n,
                        "rate": rate,
                        "ci_low": lo,
                        "ci_high": hi,
                        "is_control": cond == control,
                    }
                )
            names = list(per_est)
            if len(names) >= 2:
                a, b = per_est[names[0]], per_est[names[1]].reindex(per_est[names[0]].index)
                keep = ~b.isna()
                test = mcnemar((a[keep] > 0.5).to_numpy(), (b[keep] > 0.5).to_numpy())
                out.append(
                    {
                        "point": dict(zip(keys, point)),
                        "condition": cond,
                        "mcnemar": (names[0], names[1]),
                        **test,
                        "runs": int(keep.sum()),
                        "is_control": cond == control,
                    }
                )
    return out


def summary_frame(results, sweep_keys=()):
    """Every measured value summarised over the runs of its sweep point: one row per point,
    condition, estimator, measure and item with the most frequent ``label``, ``value`` the mean
    over runs, ``stderr``, and ``ci_low`` / ``ci_high`` its 95% Student-t interval
    (:func:`choicelab.stats.mean_interval`: the runs are independent draws), ``runs`` the count."""
    import pandas as pd

    from choicelab.stats import mean_interval

    keys = list(sweep_keys)
    columns = keys + EFFECT_COLUMNS[: EFFECT_COLUMNS.index("runs") + 1]  # the effects' columns up to runs
    if results.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    group = keys + ["condition", "estimator", "measure", "item"]
    for values, sub in results.groupby(group, sort=False, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        v = sub["value"].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        mean, lo, hi, se, n = mean_interval(v) if v.size else (float("nan"),) * 4 + (0,)
        label = sub["label"].astype(str).value_counts().index[0]
        rows.append(values + (label, mean, se, lo, hi, n))
    return pd.DataFrame(rows, columns=columns)
