"""Axiom and Verdict objects, the axiom registry and the theory table (contract §3).

The theory table is data: ``THEORY[(axiom_id, estimator)]`` is the verdict theory predicts.
A check function only measures; :func:`choicelab.axioms.api.check` compares the measurement
with ``THEORY`` and produces the :class:`Verdict`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields

from choicelab._json import to_jsonable

HOLDS, VIOLATED, INCONCLUSIVE = "holds", "violated", "inconclusive"
OUTCOMES = (HOLDS, VIOLATED, INCONCLUSIVE)


@dataclass(frozen=True)
class Measurement:
    """What a check measured on one estimator.

    Attributes
    ----------
    measured : {"holds", "violated", "inconclusive"}
    magnitude : float
        The size of the worst violation found, or the statistic the verdict rule used
        (e.g. Delta at the smallest epsilon for A1; a residual for P4).
    witness : dict or None
        The witness (:mod:`choicelab.axioms.witness`): a JSON-serialisable record of the
        instance, estimator options, seed and axiom details from which
        :func:`choicelab.axioms.replay` re-runs the measurement. Required when
        ``measured == "violated"``; a "holds" measurement carries the record of the instance it
        measured (the worst one, when it searched several).
    detail : str
        One line for humans: what was measured and how the verdict rule decided.
    data : dict
        Extra JSON-serialisable numbers reports may plot (e.g. the Delta(eps) curve).
    """

    measured: str
    magnitude: float = float("nan")
    witness: dict | None = None
    detail: str = ""
    data: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.measured not in OUTCOMES:
            raise ValueError(f"Measurement.measured must be one of {OUTCOMES}, got {self.measured!r}")


@dataclass(frozen=True)
class Verdict:
    """Theory against measurement for one (axiom, estimator) cell of the table."""

    axiom: str
    estimator: str
    expected: str
    measured: str
    agrees: bool | None
    magnitude: float = float("nan")
    witness: dict | None = None
    detail: str = ""
    data: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The verdict as plain JSON types (:func:`choicelab._json.to_jsonable`; NaN becomes None)."""
        return {f.name: to_jsonable(getattr(self, f.name)) for f in fields(self)}


# check(estimator, instance, rng, quick) -> Measurement; instance may be None, meaning
# "search instances yourself" (random, planted, exhaustive or adversarial).
CheckFn = Callable[..., Measurement]
# measure(estimator, instance, rng, quick, *, seed, **inputs) -> Measurement: the measurement on
# one instance, what a witness records and choicelab.axioms.replay re-runs.
MeasureFn = Callable[..., Measurement]


@dataclass(frozen=True)
class Axiom:
    """One checkable statement of the theory table.

    Attributes
    ----------
    id, name, statement, citation : str
    check : callable
        ``check(estimator, instance, rng, quick) -> Measurement``; with ``instance=None`` the
        check searches instances itself.
    needs_positions : bool
        True when the check needs alternatives in R^d, not only P.
    measure : callable or None
        ``measure(estimator, instance, rng, quick, *, seed, **inputs) -> Measurement``, the
        measurement on one instance that every witness of this axiom records; ``replay`` calls
        it with the witness's instance, seed and inputs.
    """

    id: str
    name: str
    statement: str
    citation: str
    check: CheckFn
    needs_positions: bool = False
    measure: MeasureFn | None = None


_AXIOMS: dict[str, Axiom] = {}


def register(axiom: Axiom, replace: bool = False) -> Axiom:
    """Add an axiom to the registry (called at import time by the axiom modules)."""
    if axiom.id in _AXIOMS and _AXIOMS[axiom.id] is not axiom and not replace:
        raise ValueError(f"axiom id {axiom.id!r} registered twice")
    _AXIOMS[axiom.id] = axiom
    return axiom


def _load_all() -> None:
    # the axiom modules register themselves on import
    from choicelab.axioms import clones, majority, sensitivity, symmetry, theorems  # noqa: F401


def get_axiom(axiom_id: str) -> Axiom:
    _load_all()
    try:
        return _AXIOMS[axiom_id]
    except KeyError:
        raise ValueError(f"unknown axiom {axiom_id!r}; known: {', '.join(sorted(_AXIOMS))}") from None


def list_axioms() -> list[Axiom]:
    _load_all()
    return [_AXIOMS[k] for k in sorted(_AXIOMS, key=_axiom_sort_key)]


def _axiom_sort_key(axiom_id: str):
    return ("ATPX".index(axiom_id[0]) if axiom_id[0] in "ATPX" else 9, int(axiom_id[1:]))


# ---------------------------------------------------------------------------------------
# The theory table (contract §3, column "theory"). One row per (axiom, estimator) cell that
# theory speaks about; cells theory is silent on are measured and reported without a verdict.
_H, _V = HOLDS, VIOLATED
_THEORY_ROWS: tuple[tuple[str, str, str], ...] = (
    # A1 robustness to approximate clones [PSZ]
    ("A1", "mle", _V),
    ("A1", "weighted_mle", _H),
    # the other reward estimators, by what they solve at their optimum (contract, theory table notes)
    ("A1", "neural_mle", _V),
    ("A1", "neural_weighted_mle", _H),
    ("A1", "pl_mle", _V),
    ("A1", "linear_mle", _V),
    ("A1", "dpo", _V),
    # A2 independence of exact clones
    ("A2", "mle", _V),
    ("A2", "borda", _V),
    ("A2", "copeland", _V),
    ("A2", "kemeny", _V),
    ("A2", "weighted_mle", _H),
    ("A2", "schulze", _H),
    ("A2", "ranked_pairs", _H),
    # A3 Pareto
    ("A3", "mle", _H),
    ("A3", "weighted_mle", _H),
    # A4 pairwise majority consistency [GE]
    ("A4", "mle", _V),
    ("A4", "weighted_mle", _V),
    ("A4", "copeland", _H),
    ("A4", "schulze", _H),
    ("A4", "ranked_pairs", _H),
    ("A4", "kemeny", _H),
    # A5 Condorcet consistency
    ("A5", "mle", _V),
    ("A5", "weighted_mle", _V),
    ("A5", "copeland", _H),
    ("A5", "schulze", _H),
    ("A5", "ranked_pairs", _H),
    ("A5", "kemeny", _H),
    ("A5", "maximal_lottery", _H),
    # A6 monotonicity
    ("A6", "mle", _H),
    ("A6", "weighted_mle", _H),
    # A7 anonymity, A8 neutrality
    ("A7", "mle", _H),
    ("A7", "weighted_mle", _H),
    ("A8", "mle", _H),
    ("A8", "weighted_mle", _H),
    # T1 impossibility [PSZ]: "holds" means the impossibility is exhibited
    ("T1", "mle", _H),
    # P4-P8 [SLH, PSZ]
    ("P4", "mle", _H),
    ("P5", "weighted_mle", _H),
    ("P6", "weighted_mle", _H),
    ("P7", "weighted_mle", _H),
    ("P8", "weighted_mle", _H),
    # X1-X4 [XK]
    ("X1", "mle", _H),
    ("X2", "mle", _H),
    ("X3", "mle", _H),
    ("X3", "neural_mle", _H),
    ("X3", "dpo", _H),
    ("X4", "pl_mle", _H),
)
THEORY: dict[tuple[str, str], str] = {(a, e): v for a, e, v in _THEORY_ROWS}


def expected_verdict(axiom_id: str, estimator: str) -> str | None:
    """What theory predicts for this cell, or None where the table is silent."""
    return THEORY.get((axiom_id, estimator))
