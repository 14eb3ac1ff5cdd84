"""The axiom checker: every axiom and theorem of the theory table measured against theory, with witnesses.

Modules by job: ``base`` (axioms, verdicts, the theory table), ``api`` (``check``, ``verify``,
``replay``), one module per family of checks (``clones`` A1-A2, ``majority`` A3-A6, ``symmetry``
A7-A8, ``theorems`` T1 and P4-P8, ``sensitivity`` X1-X4), and the machinery they share:
``witness`` (the one witness format, its JSON and replay), ``fitting`` (every fit through the
estimator registry), ``generators`` (instances), ``brute_force`` (independent re-checks) and
``search`` (the search driver and the adversary).
"""

from choicelab._lazy import lazy_exports

_EXPORTS = {
    "Axiom": "base",
    "Verdict": "base",
    "Measurement": "base",
    "THEORY": "base",
    "list_axioms": "base",
    "expected_verdict": "base",
    "check": "api",
    "verify": "api",
    "replay": "api",
    "theory_cells": "api",
    # witness.py: the one witness format
    "WITNESS_FORMAT": "witness",
    "make_witness": "witness",
    # clones.py / majority.py (A1-A6)
    "a1_curve": "clones",
    "a1_verdict": "clones",
    "condorcet_winner": "majority",
    # sensitivity.py (X1-X4)
    "bt_chain": "sensitivity",
    "bt_sensitivity": "sensitivity",
    "sensitivity_bound": "sensitivity",
    "sensitivity_map": "sensitivity",
    "x2_thresholds": "sensitivity",
    "X2Thresholds": "sensitivity",
    "pl_first_choice": "sensitivity",
    "pl_tuple_sensitivity": "sensitivity",
    "pl_ranking_counts": "sensitivity",
    "three_option_data": "sensitivity",
    "three_option_experiment": "sensitivity",
    "ThreeOptionCurves": "sensitivity",
    "default_p_ij_grid": "sensitivity",
    "pairwise_vs_tuple_experiment": "sensitivity",
    "x3_outcome": "sensitivity",
    # theorems.py (T1, P4-P8)
    "impossibility_pair": "theorems",
    "ImpossibilityPair": "theorems",
    "borda_identity_residual": "theorems",
    "s_space_grid": "theorems",
    "SSpaceGrid": "theorems",
    "IDENTITY_TOL": "theorems",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
