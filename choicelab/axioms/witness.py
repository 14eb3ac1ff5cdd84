"""The one witness format of the axiom checks, its JSON encoding and replay.

A witness is a JSON-serialisable dict from which :func:`replay` re-runs a measurement on one
instance and gets the same result. Every axiom (A1-A8, T1, P4-P8, X1-X4) writes the same keys:

``format``
    :data:`WITNESS_FORMAT` (``"choicelab.witness/2"``).
``axiom``, ``estimator``
    The theory-table id and the registry name of the estimator.
``instance``
    ``Instance.to_dict()`` of the instance measured (the one instance encoding of choicelab), or
    None for the checks that build their worlds from ``inputs`` alone (X2's grid, X3's
    three-option experiment).
``seed``, ``quick``
    The measurement draws everything random (clone positions, relabellings, neural seeds,
    sampled data) from ``numpy.random.default_rng(seed)``.
``options``
    The estimator options of the check's fits: ``lam``, ``weights`` (explicit weights, or None
    when the estimator computed its own), ``data`` (sampled comparisons or rankings as lists, see
    :func:`encode_data`, or None for the representative matrix) and ``fit_options`` (further
    registry options, e.g. ``tol``).
``inputs``
    The explicit arguments of the measurement besides instance and seed, passed back by
    :func:`replay` (e.g. X1's world rewards, X3's grid); ``{}`` for most axioms.
``measured``, ``magnitude``
    The outcome and magnitude of the measurement (magnitude None when not finite); replay
    reproduces both.
``details``
    Whatever the axiom adds: the clone inserted, the relabelling, the raised pair, the
    brute-force re-check (``recheck``), the outcomes before and after.

Witnesses of format ``"choicelab.witness/1"`` (instance, seed and quick at the top level, details
beside them; A1-A8 only) are still replayed. An instance whose population has plain-callable
rewards is stored by its matrix only (``Instance.to_dict``); a measurement that needs the
population (A1, A3, A7) then reports its premise as failed on replay.
"""

from __future__ import annotations

import numpy as np

from choicelab._json import to_jsonable
from choicelab.axioms.base import HOLDS, INCONCLUSIVE, VIOLATED, Measurement
from choicelab.axioms.fitting import LAM

__all__ = [
    "WITNESS_FORMAT",
    "LEGACY_FORMATS",
    "WITNESS_KEYS",
    "make_witness",
    "jsonable",
    "encode_data",
    "decode_data",
    "outcome_summary",
    "held",
    "violation",
    "replay",
    "as_instance",
]

WITNESS_FORMAT = "choicelab.witness/2"
LEGACY_FORMATS = ("choicelab.witness/1",)
WITNESS_KEYS = (
    "format",
    "axiom",
    "estimator",
    "instance",
    "seed",
    "quick",
    "options",
    "inputs",
    "measured",
    "magnitude",
    "details",
)

jsonable = to_jsonable  # the name the axiom modules used before choicelab._json existed


# ----------------------------------------------------------------------------- data
def encode_data(data) -> dict | None:
    """Sampled data as JSON: ``{"kind": "comparisons", "a", "b", "winner", "annotator"}`` (lists) or
    ``{"kind": "rankings", "orders", "counts", "m", "unlisted_last"}``; None stays None."""
    from choicelab.sim.data import Comparisons, Rankings

    if data is None:
        return None
    if isinstance(data, Comparisons):
        return {
            "kind": "comparisons",
            "a": data.a.tolist(),
            "b": data.b.tolist(),
            "winner": data.winner.tolist(),
            "annotator": data.annotator.tolist(),
        }
    if isinstance(data, Rankings):
        return {
            "kind": "rankings",
            "orders": [[list(g) for g in order] for order in data.orders],
            "counts": data.counts.tolist(),
            "m": int(data.m),
            "unlisted_last": bool(data.unlisted_last),
        }
    raise TypeError(
        f"data must be None, a choicelab.sim.Comparisons or a choicelab.sim.Rankings, got {type(data).__name__}"
    )


def decode_data(desc):
    """Inverse of :func:`encode_data`."""
    from choicelab.sim.data import Comparisons, Rankings

    if desc is None:
        return None
    kind = desc.get("kind") if isinstance(desc, dict) else None
    if kind == "comparisons":
        return Comparisons(*(np.asarray(desc[k], dtype=np.int64) for k in ("a", "b", "winner", "annotator")))
    if kind == "rankings":
        orders = tuple(tuple(tuple(int(x) for x in g) for g in order) for order in desc["orders"])
        return Rankings(
            orders=orders,
            counts=np.asarray(desc["counts"], dtype=np.int64),
            m=int(desc["m"]),
            unlisted_last=bool(desc.get("unlisted_last", False)),
        )
    raise ValueError(f"not an encoded dataset (kind must be 'comparisons' or 'rankings'): {str(desc)[:200]}")


# ----------------------------------------------------------------------------- building witnesses
def _magnitude(value):
    return None if value is None or not np.isfinite(value) else float(value)


def make_witness(
    axiom: str,
    estimator: str,
    instance,
    seed,
    quick: bool,
    *,
    measured: str | None = None,
    magnitude: float | None = None,
    lam: float | None = LAM,
    weights=None,
    data=None,
    fit_options: dict | None = None,
    inputs: dict | None = None,
    **details,
) -> dict:
    """A witness (module docstring) of one measurement.

    Parameters
    ----------
    axiom, estimator : str
    instance : choicelab.sim.Instance or None
    seed : int
        The seed of the measurement's generator.
    quick : bool
    measured, magnitude
        The outcome the measurement reports (filled in by :func:`held` and :func:`violation`).
    lam, weights, data, fit_options
        The estimator options (``options``).
    inputs : dict, optional
        Explicit arguments of the measurement that :func:`replay` passes back.
    **details
        Axiom-specific record.
    """
    return to_jsonable(
        {
            "format": WITNESS_FORMAT,
            "axiom": axiom,
            "estimator": estimator,
            "instance": None if instance is None else instance.to_dict(),
            "seed": None if seed is None else int(seed),
            "quick": bool(quick),
            "options": {
                "lam": lam,
                "weights": weights,
                "data": encode_data(data),
                "fit_options": dict(fit_options or {}),
            },
            "inputs": dict(inputs or {}),
            "measured": measured,
            "magnitude": _magnitude(magnitude),
            "details": details,
        }
    )


def outcome_summary(out) -> dict:
    """Scores, order and winners of an :class:`EstimatorOutput`, for witnesses."""
    return to_jsonable(
        {"scores": out.scores, "order": out.order, "winners": list(out.winners), "converged": out.converged}
    )


def held(
    axiom: str,
    estimator: str,
    instance,
    seed,
    quick: bool,
    magnitude: float,
    detail: str,
    measurement_data: dict | None = None,
    /,
    **record,
) -> Measurement:
    """A "holds" measurement on one instance, with the witness that replays it.

    ``measurement_data`` becomes ``Measurement.data``; ``record`` goes to :func:`make_witness`
    (estimator options such as ``data`` for sampled data, ``inputs``, and the axiom's details).
    """
    witness = make_witness(axiom, estimator, instance, seed, quick, measured=HOLDS, magnitude=magnitude, **record)
    return Measurement(HOLDS, magnitude=float(magnitude), witness=witness, detail=detail, data=measurement_data or {})


def violation(
    axiom: str,
    estimator: str,
    instance,
    seed,
    quick: bool,
    magnitude: float,
    detail: str,
    check: dict | None,
    data: dict | None = None,
    *,
    record: dict | None = None,
    **details,
) -> Measurement:
    """A violation the fast check found, reported as VIOLATED only when ``check`` confirmed it.

    ``check`` is the independent re-check (:func:`choicelab.axioms.brute_force.recheck`); None
    means the statement needs none (a closed form contradicted by the measurement itself).
    Otherwise an unconfirmed finding is INCONCLUSIVE, with its witness in ``data["unconfirmed"]``.
    ``record`` holds the estimator options and inputs for :func:`make_witness`.
    """
    record = dict(record or {})
    if check is not None:
        details = {"recheck": check, **details}
    confirmed = True if check is None else check.get("confirmed")
    measured = VIOLATED if confirmed is True else INCONCLUSIVE
    witness = make_witness(
        axiom, estimator, instance, seed, quick, measured=measured, magnitude=magnitude, **record, **details
    )
    if confirmed is True:
        how = "" if check is None else f"; confirmed by {check['method']} (margin {check['margin']:.3g})"
        return Measurement(
            VIOLATED, magnitude=float(magnitude), witness=witness, data=data or {}, detail=f"{detail}{how}"
        )
    why = (
        "no independent brute-force computation exists for this estimator"
        if confirmed is None
        else f"{check['method']} did not reproduce it (margin {check.get('margin')})"
    )
    return Measurement(
        INCONCLUSIVE,
        magnitude=float(magnitude),
        data={**(data or {}), "unconfirmed": witness},
        detail=f"{detail}; not reported as a violation: {why}",
    )


def as_instance(instance):
    """An Instance, or an (m, m) matrix wrapped by ``Instance.from_matrix``."""
    from choicelab.sim.instance import Instance

    if isinstance(instance, Instance):
        return instance
    if isinstance(instance, (np.ndarray, list, tuple)):
        return Instance.from_matrix(instance)
    raise TypeError(
        f"instance must be a choicelab.sim.Instance, an (m, m) matrix or None, got {type(instance).__name__}"
    )


# ----------------------------------------------------------------------------- replay
def replay(witness: dict) -> Measurement:
    """Re-run the measurement a witness records, from the witness alone.

    The instance is rebuilt with ``Instance.from_dict``, the estimator options and inputs are
    decoded, and the axiom's one-instance measurement (``Axiom.measure``) runs with
    ``numpy.random.default_rng(seed)``, so ``measured``, ``magnitude`` and the witness itself
    come out as stored.

    Raises
    ------
    ValueError
        When the dict is not a witness (``format`` must be :data:`WITNESS_FORMAT` or a legacy
        format), names an unknown axiom, or lacks the seed.
    """
    from choicelab.axioms.base import get_axiom
    from choicelab.sim.instance import Instance

    fmt = witness.get("format") if isinstance(witness, dict) else None
    if fmt != WITNESS_FORMAT and fmt not in LEGACY_FORMATS:
        raise ValueError(f"witness must be a dict with format {WITNESS_FORMAT!r}, got {str(witness)[:200]}")
    axiom = get_axiom(witness.get("axiom"))
    if axiom.measure is None:
        raise ValueError(f"axiom {axiom.id!r} has no one-instance measurement to replay")
    if witness.get("seed") is None:
        raise ValueError(f"the witness of {axiom.id} records no seed, so its measurement cannot be re-run")
    seed = int(witness["seed"])
    instance = None if witness.get("instance") is None else Instance.from_dict(witness["instance"])
    inputs = dict(witness.get("inputs") or {}) if fmt == WITNESS_FORMAT else {}
    if isinstance(inputs.get("data"), dict):
        inputs["data"] = decode_data(inputs["data"])
    return axiom.measure(
        witness["estimator"],
        instance,
        np.random.default_rng(seed),
        bool(witness.get("quick", False)),
        seed=seed,
        **inputs,
    )
