"""The search driver and the adversary of the axiom checks.

A check without a given instance searches: :func:`run_search` runs the axiom's one-instance
measurement (``Axiom.measure``) on batches of candidate instances (:class:`SearchSource`: random,
planted, exhaustive, from :mod:`choicelab.axioms.generators`) until one violates the axiom,
each candidate with its own seed, so the violating instance replays alone from its witness;
:func:`adversarial_matrix_search` then maximises a violation margin over the entries of P
(``scipy.optimize``). The jobs around the search live in their own modules:
:mod:`~choicelab.axioms.witness` (the witness format and replay), :mod:`~choicelab.axioms.fitting`
(fits through the estimator registry), :mod:`~choicelab.axioms.generators` (instances) and
:mod:`~choicelab.axioms.brute_force` (the independent re-checks). Their public names are
re-exported here, where older code imported them from.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from choicelab._validation import as_rng
from choicelab.axioms.base import HOLDS, INCONCLUSIVE, VIOLATED, Measurement
from choicelab.axioms.brute_force import (  # noqa: F401  (re-exported)
    BRUTE_ENUM_MAX_M,
    BRUTE_TOL,
    BruteForceUnavailable,
    brute_outcome,
    recheck,
)
from choicelab.axioms.fitting import (  # noqa: F401  (re-exported)
    LAM,
    REWARD_TOL,
    WEIGHTED,
    EstimatorNotApplicable,
    applicability,
    fit_outcome,
    weights_for,
)
from choicelab.axioms.generators import (  # noqa: F401  (re-exported)
    clone_instance,
    clone_matrix,
    exhaustive_matrices,
    exhaustive_profiles,
    matrix_from_upper,
    permute_instance,
    planted_condorcet_instances,
    planted_linear_majority_instances,
    profile_instance,
    random_bt_instances,
    random_profile_instances,
    small_profiles,
    tennessee_instance,
    topic_cluster_instance,
)
from choicelab.axioms.witness import (  # noqa: F401  (re-exported)
    WITNESS_FORMAT,
    as_instance,
    jsonable,
    make_witness,
    outcome_summary,
    violation,
)

__all__ = [
    # the driver and the adversary
    "cell_seed",
    "SearchSource",
    "check_given",
    "measure_once",
    "run_search",
    "pooled",
    "not_applicable",
    "adversary",
    "adversarial_matrix_search",
    # re-exported from witness, fitting, generators and brute_force
    "WITNESS_FORMAT",
    "LAM",
    "REWARD_TOL",
    "BRUTE_TOL",
    "make_witness",
    "jsonable",
    "fit_outcome",
    "brute_outcome",
    "EstimatorNotApplicable",
    "applicability",
    "BruteForceUnavailable",
    "weights_for",
    "random_bt_instances",
    "random_profile_instances",
    "profile_instance",
    "tennessee_instance",
    "planted_condorcet_instances",
    "planted_linear_majority_instances",
    "exhaustive_matrices",
    "exhaustive_profiles",
    "small_profiles",
    "clone_matrix",
    "clone_instance",
    "permute_instance",
    "topic_cluster_instance",
    "as_instance",
    "outcome_summary",
    "recheck",
    "violation",
]

_matrix_from_upper = matrix_from_upper  # older name


def cell_seed(seed: int, *keys: str) -> np.random.Generator:
    """A generator for one (axiom, estimator) cell that does not depend on which other cells run."""
    spawn = tuple(zlib.crc32(k.encode()) for k in keys)
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=spawn))


# ----------------------------------------------------------------------------- adversarial
def adversarial_matrix_search(
    margin, m: int, rng, *, mode: str = "free", restarts: int = 4, maxiter: int = 300, stop_at: float = 0.0
):
    """Maximise ``margin(P)`` over m x m preference matrices (Nelder-Mead from random starts).

    The free upper entries are ``P_ij = sigma(u_ij)``. ``mode`` keeps an axiom's premise true
    while the search runs: ``"linear"`` sets ``P_ij = 1/2 + sigma(u_ij)/2`` for all i < j (the
    majority relation is the linear order 0 > 1 > ...); ``"condorcet"`` does so for row 0 only
    (alternative 0 is a Condorcet winner). A positive margin is a violation; the search stops
    as soon as one exceeds ``stop_at``.

    Returns
    -------
    (P, value) : the best matrix found and its margin.
    """
    from scipy.optimize import minimize

    if mode not in ("free", "linear", "condorcet"):
        raise ValueError(f"mode must be 'free', 'linear' or 'condorcet', got {mode!r}")
    rng = as_rng(rng)
    k = m * (m - 1) // 2
    iu, _ = np.triu_indices(m, k=1)
    oriented = np.ones(k, dtype=bool) if mode == "linear" else (iu == 0) if mode == "condorcet" else np.zeros(k, bool)

    def to_P(u):
        p = expit(np.clip(u, -8.0, 8.0))
        return matrix_from_upper(m, np.where(oriented, 0.5 + 0.5 * p, p))

    best = (None, -np.inf)

    class _Found(Exception):
        pass

    def objective(u):
        nonlocal best
        P = to_P(u)
        value = float(margin(P))
        if not np.isfinite(value):
            value = -1e3  # premise lost or no comparison possible: a flat penalty keeps Nelder-Mead finite
        if value > best[1]:
            best = (P, value)
            if value > stop_at:
                raise _Found
        return -value

    for _ in range(int(restarts)):
        try:
            minimize(
                objective,
                rng.normal(0.0, 2.0, size=k),
                method="Nelder-Mead",
                options={"maxiter": int(maxiter), "xatol": 1e-6, "fatol": 1e-12},
            )
        except _Found:
            break
    return best


def adversary(axiom: str, estimator: str, measure, margin_of, mode: str, quick: bool):
    """The adversarial source of a search: ``run(rng) -> Measurement`` for :func:`run_search`.

    Maximises ``margin_of(P, out)`` (``out`` the estimator's fit on P, uniform weights for the
    weighted estimators) over 3 x 3 (quick) or 4 x 4 matrices with :func:`adversarial_matrix_search`;
    a positive margin is measured again by ``measure`` on that matrix with a fresh seed, so the
    finding carries an ordinary, replayable witness.
    """

    def run(rng):
        from choicelab import sim

        m = 3 if quick else 4

        def margin(P):
            out = fit_outcome(estimator, sim.Instance.from_matrix(P), rng=rng, quick=quick)
            return margin_of(P, out)

        P, value = adversarial_matrix_search(
            margin, m, rng, mode=mode, restarts=1 if quick else 6, maxiter=60 if quick else 400, stop_at=REWARD_TOL
        )
        if P is not None and value > REWARD_TOL:
            seed = int(rng.integers(2**62))
            return measure(estimator, sim.Instance.from_matrix(P), np.random.default_rng(seed), quick, seed=seed)
        return Measurement(
            HOLDS,
            magnitude=float(value),
            detail=f"{axiom}: adversarial search found no violation (best margin {value:.3g})",
        )

    return run


# ----------------------------------------------------------------------------- search driver
def check_given(measure, estimator: str, instance, rng, quick: bool, **inputs) -> Measurement:
    """Run a one-instance measurement on a given instance with a fresh seed drawn from ``rng``."""
    return measure_once(measure, estimator, as_instance(instance), rng, quick, **inputs)


def measure_once(measure, estimator: str, instance, rng, quick: bool, **inputs) -> Measurement:
    """Run a one-instance measurement once, with a fresh seed drawn from ``rng``.

    ``instance`` may be None for the measurements whose world is built from ``inputs`` alone
    (X2's grid, X3's three-option experiment).
    """
    seed = int(as_rng(rng).integers(2**62))
    return _guarded(measure, estimator, instance, seed, bool(quick), inputs)


def _guarded(measure, estimator, instance, seed, quick, inputs=None) -> Measurement:
    try:
        return measure(estimator, instance, np.random.default_rng(seed), quick, seed=seed, **(inputs or {}))
    except EstimatorNotApplicable as exc:
        return not_applicable("check", str(exc))


@dataclass(frozen=True)
class SearchSource:
    """A named batch of candidate instances (random, planted, exhaustive, ...).

    ``instances`` holds Instances, or ``(instance, inputs)`` pairs when the measurement takes
    explicit inputs besides the instance (e.g. X1's world rewards).
    """

    name: str
    instances: list


def run_search(
    axiom: str, estimator: str, sources, measure, rng, quick: bool, adversarial=None, collect=None
) -> Measurement:
    """Run ``measure(estimator, instance, rng, quick, seed=...)`` on candidates until a violation.

    Each candidate gets its own seed drawn from ``rng`` (recorded in its witness), so the
    violating instance can be replayed alone. ``adversarial``, if given, is called last as
    ``adversarial(rng) -> Measurement`` (it does its own search). Returns the first
    violation; otherwise HOLDS when every candidate held, else INCONCLUSIVE with the count of
    inconclusive candidates. ``magnitude`` is the worst per-candidate magnitude (at least 0);
    a HOLDS result carries the witness of the candidate with the largest magnitude.
    ``collect(measurement) -> dict``, if given, gathers per-instance data into
    ``data["instances"]`` (e.g. the A1 curves).
    """
    rng = as_rng(rng)
    counts = {HOLDS: 0, VIOLATED: 0, INCONCLUSIVE: 0}
    per_source, notes, worst = {}, [], 0.0
    skipped, collected = 0, []
    record = (-np.inf, None)  # (magnitude, witness) of the worst candidate that held
    for source in sources:
        n = 0
        for candidate in source.instances:
            instance, inputs = candidate if isinstance(candidate, tuple) else (candidate, {})
            seed = int(rng.integers(2**62))
            meas = _guarded(measure, estimator, instance, seed, quick, inputs)
            n += 1
            if meas.data.get("applicable") is False:
                skipped += 1  # the axiom's premise fails here (no Condorcet winner, ...)
                continue
            counts[meas.measured] += 1
            if collect is not None:
                collected.append(collect(meas))
            magnitude = float(meas.magnitude) if np.isfinite(meas.magnitude) else -np.inf
            if np.isfinite(magnitude):
                worst = max(worst, magnitude)
            if meas.measured == HOLDS and meas.witness is not None and (record[1] is None or magnitude > record[0]):
                record = (magnitude, meas.witness)
            if meas.measured == VIOLATED:
                per_source[source.name] = n
                return _found(meas, axiom, source.name, per_source, counts)
            if meas.measured == INCONCLUSIVE and len(notes) < 3:
                notes.append(meas.detail)
        per_source[source.name] = n
    if adversarial is not None:
        meas = adversarial(rng)
        counts[meas.measured] += 1
        per_source["adversarial"] = 1
        if meas.measured == VIOLATED:
            return _found(meas, axiom, "adversarial", per_source, counts)
        if meas.measured == INCONCLUSIVE and len(notes) < 3:
            notes.append(meas.detail)
    searched = ", ".join(f"{n} {name}" for name, n in per_source.items())
    data = {"searched": per_source, "outcomes": counts, "premise_failed": skipped}
    if collect is not None:
        data["instances"] = collected
    if sum(counts.values()) == 0:
        return Measurement(
            INCONCLUSIVE, data=data, detail=f"{axiom}: the premise failed on every one of {searched} instances"
        )
    if counts[INCONCLUSIVE]:
        return Measurement(
            INCONCLUSIVE,
            magnitude=worst,
            data=data,
            detail=f"{axiom}: no violation in {searched} instances, but {counts[INCONCLUSIVE]} "
            f"inconclusive (e.g. {notes[0] if notes else '?'})",
        )
    return Measurement(
        HOLDS, magnitude=worst, witness=record[1], data=data, detail=f"{axiom}: no violation in {searched} instances"
    )


def pooled(meas: Measurement, key: str, summary) -> Measurement:
    """A search result whose per-instance rows (gathered by ``run_search(collect=...)``) are pooled in ``data[key]``.

    ``summary(rows, magnitude)`` becomes the detail line of a search that held; a violation is
    returned as found (its data are those of the violating instance).
    """
    if meas.measured == VIOLATED:
        return meas
    rows = [row for rows in meas.data.get("instances", []) for row in rows]
    data = {k: v for k, v in meas.data.items() if k != "instances"} | {key: rows}
    detail = summary(rows, meas.magnitude) if meas.measured == HOLDS else meas.detail
    return Measurement(meas.measured, magnitude=meas.magnitude, witness=meas.witness, data=data, detail=detail)


def not_applicable(axiom: str, why: str) -> Measurement:
    """The axiom's premise fails on this instance (searches skip it)."""
    return Measurement(INCONCLUSIVE, detail=f"{axiom}: premise fails: {why}", data={"applicable": False})


def _found(meas: Measurement, axiom: str, source: str, per_source: dict, counts: dict) -> Measurement:
    data = dict(meas.data)
    data.update(searched=per_source, outcomes=counts, found_in=source)
    return Measurement(
        VIOLATED,
        magnitude=meas.magnitude,
        witness=meas.witness,
        data=data,
        detail=f"{meas.detail} (found by the {source} search)",
    )


# ----------------------------------------------------------------------------- older names
def register_instance_check(axiom: str, fn):
    """Set the one-instance measurement of a registered axiom (older API; now ``Axiom.measure``)."""
    import dataclasses

    from choicelab.axioms import base

    base.register(dataclasses.replace(base.get_axiom(axiom), measure=fn), replace=True)
    return fn


def __getattr__(name):
    if name == "INSTANCE_CHECKS":  # older API: axiom id -> one-instance measurement
        from choicelab.axioms.base import list_axioms

        return {a.id: a.measure for a in list_axioms() if a.measure is not None}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
