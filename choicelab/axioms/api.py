"""Checking axioms against theory: :func:`check`, :func:`verify` and :func:`replay` (contract §3).

A check function only measures (a :class:`~choicelab.axioms.base.Measurement`); this module
compares the measurement with the theory table (:func:`~choicelab.axioms.base.expected_verdict`)
and produces the :class:`~choicelab.axioms.base.Verdict`. ``agrees`` is None when theory is
silent on the cell or the measurement is inconclusive, else ``measured == expected``.
"""

from __future__ import annotations

import sys
import traceback

import numpy as np

from choicelab._validation import as_rng, as_seed
from choicelab.axioms.base import (
    INCONCLUSIVE,
    THEORY,
    Measurement,
    Verdict,
    expected_verdict,
    get_axiom,
    list_axioms,
)
from choicelab.axioms.search import cell_seed

__all__ = ["check", "verify", "replay", "theory_cells", "verdict_of"]


def _agreement(expected: str | None, measured: str) -> bool | None:
    if expected is None or measured == INCONCLUSIVE:
        return None
    return measured == expected


def verdict_of(axiom_id: str, estimator: str, meas: Measurement) -> Verdict:
    """A measurement as a :class:`Verdict`: theory's expected verdict for the cell and the agreement."""
    expected = expected_verdict(axiom_id, estimator)
    return Verdict(
        axiom=axiom_id,
        estimator=estimator,
        expected=expected if expected is not None else "",
        measured=meas.measured,
        agrees=_agreement(expected, meas.measured),
        magnitude=meas.magnitude,
        witness=meas.witness,
        detail=meas.detail,
        data=meas.data,
    )


def check(axiom_id: str, estimator: str = "mle", instance=None, rng=None, quick: bool = False) -> Verdict:
    """Measure one axiom on one estimator and compare with theory (contract §3).

    Parameters
    ----------
    axiom_id : str
        An id of the theory table, e.g. ``"A1"``, ``"P4"`` (see ``list_axioms()``).
    estimator : str
        A registry name (``choicelab.estimators.list_estimators()``).
    instance : choicelab.sim.Instance, (m, m) matrix or None
        The instance to check on; None lets the check search instances itself (random,
        planted, exhaustive and adversarial).
    rng : numpy.random.Generator, int seed or None
    quick : bool
        Small searches (seconds), as used by ``choicelab verify --quick``.

    Returns
    -------
    Verdict
        ``expected`` is ``""`` where theory is silent.

    Examples
    --------
    >>> v = check("A5", "mle", instance=[[0.5, 0.51, 0.51], [0.49, 0.5, 0.99], [0.49, 0.01, 0.5]])
    >>> v.measured, v.agrees
    ('violated', True)
    """
    from choicelab.estimators.registry import get_estimator

    axiom = get_axiom(axiom_id)
    entry = get_estimator(estimator)  # unknown names fail here, with the list of known ones
    if not isinstance(quick, (bool, np.bool_)):
        raise TypeError(f"quick must be a bool, got {quick!r}")
    from choicelab._extras import available

    if entry.extra is not None and not available(entry.extra):
        # not a failed check: the estimator cannot run in this installation
        meas = Measurement(
            "inconclusive", detail=f"needs the {entry.extra} extra: pip install 'choicelab[{entry.extra}]'"
        )
        return verdict_of(axiom_id, estimator, meas)
    meas = axiom.check(estimator, instance, as_rng(rng), bool(quick))
    if not isinstance(meas, Measurement):
        raise TypeError(f"the check of {axiom_id} returned {type(meas).__name__}, not a Measurement")
    return verdict_of(axiom_id, estimator, meas)


# Axioms measured on every registered estimator of a kind, also where theory is silent (such
# cells carry no verdict): A1 is asked of every estimator that gives rewards (contract A1, [PSZ]).
ALWAYS_MEASURED = {"A1": "reward"}


def theory_cells(axioms=None, estimators=None, silent: bool = False) -> list[tuple[str, str]]:
    """The (axiom, estimator) cells :func:`verify` runs, in table order.

    Theory cells of the selected axioms and estimators, plus the cells of
    :data:`ALWAYS_MEASURED`; with ``silent=True`` also every other (axiom, estimator) pair of
    the selection (estimators default to those named anywhere in the theory table).
    """
    from choicelab.estimators.registry import list_estimators

    known = [a.id for a in list_axioms()]
    if axioms is None:
        axioms = known
    else:
        axioms = list(axioms)
        for a in axioms:
            if a not in known:
                raise ValueError(f"unknown axiom {a!r}; known: {', '.join(known)}")
    if estimators is not None:
        from choicelab.estimators.registry import get_estimator

        estimators = list(estimators)
        for e in estimators:
            get_estimator(e)
    table_estimators = list(dict.fromkeys(e for _, e in THEORY))
    pool = table_estimators if estimators is None else estimators
    cells = []
    for a in axioms:
        for e in pool:
            if (a, e) in THEORY or silent:
                cells.append((a, e))
        if a in ALWAYS_MEASURED:
            for est in list_estimators():
                chosen = estimators is None or est.name in estimators
                if est.kind == ALWAYS_MEASURED[a] and chosen and (a, est.name) not in cells:
                    cells.append((a, est.name))
    return cells


def verify(
    quick: bool = False, rng=0, estimators=None, axioms=None, progress=None, silent: bool = False
) -> list[Verdict]:
    """Measure every cell of the theory table (contract §3).

    Parameters
    ----------
    quick : bool
        Small searches; the whole table then takes about a minute on two cores.
    rng : int
        Base seed. Each cell gets its own generator derived from (seed, axiom, estimator), so
        a cell's result does not depend on which other cells run.
    estimators, axioms : iterables of str, optional
        Restrict the table.
    progress : bool or None
        A tqdm progress bar on stderr; None means: when stderr is a terminal and not quick.
    silent : bool
        Also measure the cells theory is silent on (reported with ``agrees = None``).

    Returns
    -------
    list of Verdict
        In table order. A check that raises is reported as ``inconclusive`` with the error in
        ``detail`` and the traceback in ``data["error"]`` (and does not stop the table).
    """
    seed = as_seed(rng, "rng", bound=2**62)
    cells = theory_cells(axioms, estimators, silent)
    if progress is None:
        progress = (not quick) and sys.stderr.isatty()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(cells), desc="verify", unit="cell", file=sys.stderr)
    out = []
    try:
        for axiom_id, estimator in cells:
            if bar is not None:
                bar.set_postfix_str(f"{axiom_id} {estimator}")
            try:
                out.append(check(axiom_id, estimator, None, cell_seed(seed, axiom_id, estimator), quick))
            except Exception as exc:  # one broken check must not hide the rest of the table
                out.append(_error_verdict(axiom_id, estimator, exc))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return out


def _error_verdict(axiom_id: str, estimator: str, exc: Exception) -> Verdict:
    expected = expected_verdict(axiom_id, estimator)
    return Verdict(
        axiom=axiom_id,
        estimator=estimator,
        expected=expected or "",
        measured=INCONCLUSIVE,
        agrees=None,
        detail=f"ERROR {type(exc).__name__}: {exc}",
        data={"error": traceback.format_exc()},
    )


def replay(witness: dict) -> Measurement:
    """Re-run the measurement that produced ``witness``, from the witness alone.

    ``witness`` is the dict of a Verdict or Measurement (or its JSON), of any axiom: the
    instance is rebuilt with ``Instance.from_dict`` and the axiom's one-instance measurement
    runs with the recorded seed, estimator options and inputs, so the measurement (``measured``,
    ``magnitude`` and the witness it carries) is reproduced exactly. See
    :mod:`choicelab.axioms.witness` for the format.

    Raises
    ------
    ValueError
        When the dict is not a witness (``format`` must be ``"choicelab.witness/2"``, or the
        older ``"choicelab.witness/1"``) or names an unknown axiom.
    """
    from choicelab.axioms.witness import replay as _replay

    return _replay(witness)
