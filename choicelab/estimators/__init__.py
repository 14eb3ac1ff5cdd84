"""Estimators (contract §2): exact and neural Bradley-Terry MLE, weights, Plackett-Luce, voting rules.

Heavy dependencies load lazily: torch only with ``neural``, cvxpy only with ``reference``.
"""

from choicelab._lazy import lazy_exports

_EXPORTS = {
    "FitResult": "results",
    "RuleResult": "results",
    # bt.py
    "bt_mle": "bt",
    "bt_mle_comparisons": "bt",
    "bt_mle_counts": "bt",
    "ConvergenceWarning": "bt",
    # reference.py (cvxpy)
    "bt_mle_cvxpy": "reference",
    "pl_mle_cvxpy": "reference",
    "linear_mle_cvxpy": "reference",
    # weights.py
    "voronoi_weights": "weights",
    "VoronoiEstimate": "weights",
    "radius_graph_weights": "weights",
    "VoronoiResolutionWarning": "weights",
    # plackett_luce.py / linear.py
    "pl_mle": "plackett_luce",
    "linear_mle": "linear",
    "LinearFit": "linear",
    # voting.py
    "borda": "voting",
    "wawr": "voting",
    "copeland": "voting",
    "schulze": "voting",
    "ranked_pairs": "voting",
    "kemeny": "voting",
    "maximal_lottery": "voting",
    "majority_graph": "voting",
    "kemeny_score": "voting",
    # neural.py (torch)
    "neural_bt": "neural",
    "neural_pl": "neural",
    "NeuralFit": "neural",
    "tabular_dpo": "neural",
    "output_reg_for_lambda": "neural",
    # registry.py
    "get_estimator": "registry",
    "list_estimators": "registry",
    "Estimator": "registry",
    "register": "registry",
    "unregister": "registry",
    "EstimatorOutput": "registry",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
