"""The report figure of the weight_error measure: bars are the per-item means, the caption the swapped pairs."""

import numpy as np
import pandas as pd
from scipy import stats

from choicelab.reports.figures import get_figure, list_figures


def _frame(rng):
    rows = []
    for run in range(5):
        for cond, scale in (("original", 0.01), ("clones", 0.03)):
            for i in range(4):
                rows.append(("weight_error", cond, "weighted_mle", str(i), f"alt {i}", scale * (i + 1) + 0.002 * rng.random(), run))
            rows.append(("weight_error", cond, "weighted_mle", "max", "largest", 9.0, run))
            rows.append(("weight_error", cond, "weighted_mle", "expected_discordant_pairs", "pairs", 0.5 + rng.random(), run))
    return pd.DataFrame(rows, columns=["measure", "condition", "estimator", "item", "label", "value", "run_id"])


def test_weight_error_figure_draws_the_means_and_states_the_swapped_pairs_with_intervals():
    assert "weight_error" in list_figures()
    frame = _frame(np.random.default_rng(0))
    fig, caption = get_figure("weight_error").fn(frame)
    assert [ax.get_title() for ax in fig.axes] == ["condition: original", "condition: clones"]
    for ax, cond in zip(fig.axes, ("original", "clones")):
        sub = frame[(frame["condition"] == cond) & frame["item"].isin(["0", "1", "2", "3"])]
        expected = sub.groupby("item")["value"].mean().reindex(["0", "1", "2", "3"]).to_numpy()
        heights = np.array([p.get_height() for p in ax.patches])
        np.testing.assert_allclose(heights, expected, rtol=1e-12)  # "max" and the pair count are not bars
        v = frame[(frame["condition"] == cond) & (frame["item"] == "expected_discordant_pairs")]["value"].to_numpy()
        lo, hi = stats.t.interval(0.95, v.size - 1, loc=v.mean(), scale=stats.sem(v))
        assert f"{cond}: {v.mean():.3g} [{lo:.3g}, {hi:.3g}]" in caption


def test_weight_error_figure_skips_frames_without_per_item_rows():
    frame = _frame(np.random.default_rng(1))
    assert get_figure("weight_error").fn(frame[~frame["item"].str.isdigit()]) is None
