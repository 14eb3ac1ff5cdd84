"""The axiom checker (SPEC §3): every axiom and theorem measured against theory, with witnesses."""
from choicelab._lazy import lazy_exports

_EXPORTS = {
    "Axiom": "base", "Verdict": "base", "THEORY": "base", "list_axioms": "base",
    "check": "api", "verify": "api", "replay": "api",
    # clones.py / majority.py (A1-A6)
    "a1_curve": "clones", "condorcet_winner": "majority",
    # sensitivity.py (X1-X4)
    "bt_chain": "sensitivity", "bt_sensitivity": "sensitivity", "sensitivity_bound": "sensitivity",
    "sensitivity_map": "sensitivity", "x2_thresholds": "sensitivity", "X2Thresholds": "sensitivity",
    "pl_first_choice": "sensitivity", "pl_tuple_sensitivity": "sensitivity", "pl_ranking_counts": "sensitivity",
    "three_option_data": "sensitivity", "three_option_experiment": "sensitivity",
    "ThreeOptionCurves": "sensitivity", "default_p_ij_grid": "sensitivity",
    "pairwise_vs_tuple_experiment": "sensitivity", "x3_outcome": "sensitivity",
    # theorems.py (T1, P4-P8)
    "impossibility_pair": "theorems", "ImpossibilityPair": "theorems",
    "borda_identity_residual": "theorems", "s_space_grid": "theorems", "SSpaceGrid": "theorems",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
