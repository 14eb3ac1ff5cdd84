"""A test plugin: a new estimator in one file, registered by the decorator alone."""

import numpy as np

from choicelab.estimators import register


@register("test_margin_sum", kind="rule", consumes=("matrix", "comparisons"))
def margin_sum(P):
    """Sum of majority margins: s_i = sum_j (P_ij - 1/2)."""
    P = np.asarray(P, dtype=float)
    return (P - 0.5).sum(axis=1)
