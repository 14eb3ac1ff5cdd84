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

__all__ = ["effects_frame", "change_rates", "EFFECT_COLUMNS"]

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


def effects_frame(
    results, sweep_keys=(), baseline: str = "original", control: str | None = "aa_control", margin: float = 0.1
):
    """The effects table of a results frame (:meth:`Store.to_frame`): one row per swept point,
    condition, estimator, measure and item; ``value`` the mean paired difference, ``ci_low`` /
    ``ci_high`` its 95% interval, ``control`` the control's, ``verdict`` the rule's (module docstring)."""
    import pandas as pd

    from choicelab.stats import equivalence_verdict, mean_interval

    keys = list(sweep_keys)
    if results.empty or baseline not in set(results["condition"]):
        return pd.DataFrame(columns=keys + EFFECT_COLUMNS)
    numeric = results[results["measure"] != "top_change"]
    rows = []
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
        others = [c for c in pivot.columns if c not in (baseline, control)]
        for cond in others:
            d_all = (pivot[cond] - pivot[baseline]).dropna()
            c_all = (pivot[control] - pivot[baseline]).dropna() if control in pivot.columns else None
            for (est, measure, item), sub in d_all.groupby(level=["estimator", "measure", "item"], sort=False):
                if measure in too_many:
                    continue
                d = sub.to_numpy(dtype=float)
                mean, lo, hi, se, n = mean_interval(d)
                if c_all is not None:
                    c = c_all.xs((est, measure, item), level=["estimator", "measure", "item"])
                    paired = (sub.droplevel(["estimator", "measure", "item"]) - c).dropna().to_numpy(dtype=float)
                    cmean, clo, chi, _, _ = mean_interval(c.to_numpy(dtype=float))
                    verdict = equivalence_verdict(paired, margin)
                else:
                    cmean = clo = chi = float("nan")
                    verdict = equivalence_verdict(d, margin)
                label = labels.loc[(est, measure, item), "label"] if (est, measure, item) in labels.index else ""
                rows.append(
                    point + (cond, est, measure, item, label, mean, se, lo, hi, n, cmean, clo, chi, verdict, margin)
                )
    return pd.DataFrame(rows, columns=keys + EFFECT_COLUMNS)


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
