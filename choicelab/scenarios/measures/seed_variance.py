"""Seed variance of averaged fits: how much of a neural reward is initialisation noise.

A neural estimator averages S networks trained from different seeds (contract §2: results are
seed averages). For one fit, with R[s, i] the reward of seed s's network at alternative i,
centred per seed (BT identifies rewards up to a shift, so each network's offset is not
information), the **seed component** is

    sigma2_seed = mean_i  var_s R[s, i]          (unbiased variance over the S seeds)

A single network's reward carries sigma2_seed of seed noise; the S-seed average carries
sigma2_seed / S, so averaging removes (1 - 1/S) sigma2_seed. Whether what is left matters is
read against the **between-run variance** V_run of the averaged (centred) rewards, per
alternative across the runs of one sweep point, averaged over the alternatives (the report
computes it from the ``r:<i>`` rows): the share of V_run that is still seed noise is
(sigma2_seed / S) / V_run. Near 1, the runs differ mostly by initialisation and the networks
are under-trained for the data; near 0, the averaged fits track the data.
"""

from __future__ import annotations

import numpy as np

from choicelab.scenarios.measures import Row, register


def _table(frame):
    rows = [
        (
            r["condition"],
            r["estimator"],
            r["seeds"],
            f"{r['seed_sd']:.3g}",
            f"{r['removed']:.3g}",
            f"{r['remaining']:.3g}",
            f"{r['between_run']:.3g}",
            f"{r['seed_share']:.2f}",
            r["runs"],
        )
        for r in seed_variance_summary(frame)
    ]
    header = (
        "condition",
        "estimator",
        "seeds S",
        "per-seed sd",
        "removed (1 − 1/S)σ²",
        "left σ²/S",
        "between-run V",
        "seed share (σ²/S)/V",
        "runs",
    )
    caption = (
        "measure seed_variance: σ² = mean over alternatives of the variance over the S seeds of each network's "
        "reward (centred per seed); the S-seed average removes (1 − 1/S)σ² and keeps σ²/S. V = variance across "
        "runs of the averaged centred reward, mean over the original alternatives. A seed share near 1 means the "
        "runs differ mostly by initialisation: the networks are under-trained for the data."
    )
    return header, rows, caption


@register("seed_variance", needs=("fits",), effect=False, table=_table)
def seed_variance(ctx):
    """Seed noise of an averaged (neural) fit: seeds S, per-seed variance, and the centred averaged rewards."""
    per_seed = getattr(ctx.output.raw, "per_seed", None)
    if per_seed is None:  # a fit without seeds (exact solvers, voting rules) has no seed component
        return
    R = np.asarray(per_seed(), dtype=float)
    R = R - R.mean(axis=1, keepdims=True)
    S = R.shape[0]
    yield Row("seeds", "seeds", float(S))
    yield Row("seed_var", "seed_var", float(np.mean(R.var(axis=0, ddof=1))) if S > 1 else float("nan"))
    m0 = ctx.world.alternatives.m  # the originals: present in every condition, comparable across runs
    labels = ctx.alternatives.labels
    for i, v in enumerate(R.mean(axis=0)[:m0]):
        yield Row(f"r:{i}", str(labels[i]), float(v))


def seed_variance_summary(frame) -> list:
    """Per condition and estimator of one sweep point's ``seed_variance`` rows: a list of dicts with
    ``seeds`` S, ``seed_sd`` (sqrt of the mean sigma2_seed over runs), ``removed`` ((1 - 1/S)
    sigma2_seed), ``remaining`` (sigma2_seed / S), ``between_run`` (V_run) and ``seed_share``
    ((sigma2_seed / S) / V_run), following the module docstring."""
    out = []
    rows = frame[frame["measure"] == "seed_variance"]
    for (cond, est), sub in rows.groupby(["condition", "estimator"], sort=False):
        items = sub["item"].astype(str)
        seeds = sub[items == "seeds"]["value"].to_numpy(dtype=float)
        var = sub[items == "seed_var"]["value"].to_numpy(dtype=float)
        if not seeds.size or not np.isfinite(var).any():
            continue
        S = float(np.median(seeds))
        s2 = float(np.nanmean(var))
        r = sub[items.str.startswith("r:")]
        per_item = r.groupby("item")["value"].var(ddof=1)
        runs = int(r["run_id"].nunique())
        v_run = float(per_item.mean()) if runs > 1 else float("nan")
        out.append(
            {
                "condition": cond,
                "estimator": est,
                "seeds": int(S),
                "runs": runs,
                "seed_sd": float(np.sqrt(s2)),
                "removed": (1.0 - 1.0 / S) * s2,
                "remaining": s2 / S,
                "between_run": v_run,
                "seed_share": (s2 / S) / v_run if v_run > 0 else float("nan"),
            }
        )
    return out
