"""The seed_variance measure and its report summary against direct computations on known variances."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from choicelab.scenarios.measures import get_measure
from choicelab.scenarios.measures.seed_variance import seed_variance_summary


def _ctx(per_seed, m0):
    raw = SimpleNamespace(per_seed=lambda X=None: per_seed)
    alts = SimpleNamespace(labels=[f"a{i}" for i in range(per_seed.shape[1])], m=per_seed.shape[1])
    return SimpleNamespace(
        output=SimpleNamespace(raw=raw), world=SimpleNamespace(alternatives=SimpleNamespace(m=m0)), alternatives=alts
    )


def _rows(ctx):
    return {r.item: r.value for r in get_measure("seed_variance").fn(ctx)}


def test_seed_variance_of_one_fit_is_the_centred_per_seed_variance():
    R = np.random.default_rng(0).normal(size=(5, 7)) + np.arange(5)[:, None]  # seed offsets are not information
    rows = _rows(_ctx(R, m0=6))
    C = R - R.mean(axis=1, keepdims=True)
    assert rows["seeds"] == 5
    assert rows["seed_var"] == pytest.approx(np.mean(np.var(C, axis=0, ddof=1)), rel=1e-12)
    assert [k for k in rows if k.startswith("r:")] == [f"r:{i}" for i in range(6)]  # the originals only
    assert rows["r:3"] == pytest.approx(C.mean(axis=0)[3], rel=1e-12)


def test_fits_without_seeds_give_no_rows():
    ctx = SimpleNamespace(output=SimpleNamespace(raw=object()))
    assert list(get_measure("seed_variance").fn(ctx)) == []


def test_the_summary_recovers_the_seed_share_of_the_between_run_variance():
    """Runs whose true centred rewards vary with variance tau2 and S seeds of noise sigma2 each:
    V_run = tau2 (centred) + sigma2/S (centred), so the seed share is (sigma2/S)/V_run."""
    rng = np.random.default_rng(1)
    S, m, runs, tau, sigma = 4, 10, 400, 0.3, 0.5
    records = []
    for run in range(runs):
        truth = rng.normal(0.0, tau, m)
        R = truth + rng.normal(0.0, sigma, (S, m))
        for item, value in _rows(_ctx(R, m0=m)).items():
            records.append(
                {
                    "run_id": run,
                    "condition": "original",
                    "estimator": "neural_mle",
                    "measure": "seed_variance",
                    "item": item,
                    "value": value,
                }
            )
    (s,) = seed_variance_summary(pd.DataFrame(records))
    frame = pd.DataFrame(records)
    seed_var = frame[frame["item"] == "seed_var"]["value"].mean()
    assert s["seeds"] == S and s["runs"] == runs
    assert s["removed"] == pytest.approx((1 - 1 / S) * seed_var, rel=1e-12)
    assert s["remaining"] == pytest.approx(seed_var / S, rel=1e-12)
    # centring over m alternatives scales every variance by (m - 1)/m
    k = (m - 1) / m
    assert seed_var == pytest.approx(k * sigma**2, rel=0.05)
    assert s["between_run"] == pytest.approx(k * (tau**2 + sigma**2 / S), rel=0.08)
    assert s["seed_share"] == pytest.approx((sigma**2 / S) / (tau**2 + sigma**2 / S), rel=0.1)
