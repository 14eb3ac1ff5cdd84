"""What a run computes: ``run_task(kind, params, seed) -> TaskOutput``.

There is one kind of run, ``experiment`` (:func:`choicelab.scenarios.experiment.run_experiment`);
the runner calls this module so that a worker process needs nothing but plain data (the kind,
the expanded parameters and the seed). Every run draws all its randomness from
``np.random.default_rng(seed)``, passed down, so the same params and seed give the same numbers
in any process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["TaskOutput", "run_task", "TASKS", "summarise"]


@dataclass(frozen=True)
class TaskOutput:
    """What one run produced.

    Attributes
    ----------
    rows : list
        Result rows: mappings with ``condition, estimator, measure, item, label, value`` and
        optional ``stderr, ci_low, ci_high`` (:class:`~choicelab.scenarios.store.ResultRecord`).
    blobs : dict of str -> ndarray
        Arrays reports can draw (positions, weights, preference matrices); numeric or unicode.
    verdicts : list of dict
        Theory against measurement (``condition, axiom, estimator, expected, measured, agrees,
        magnitude, witness``).
    """

    rows: list = field(default_factory=list)
    blobs: dict = field(default_factory=dict)
    verdicts: list = field(default_factory=list)


def _experiment(params, seed, out: TaskOutput) -> None:
    from choicelab.scenarios.experiment import run_experiment

    run_experiment(params, seed, out)


TASKS = {"experiment": _experiment}


def run_task(kind: str, params: dict, seed: int) -> TaskOutput:
    """Run one run of ``kind`` (``"experiment"``) with ``np.random.default_rng(seed)``."""
    try:
        fn = TASKS[kind]
    except KeyError:
        raise ValueError(f"kind must be one of {sorted(TASKS)}, got {kind!r}") from None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    out = TaskOutput()
    fn(params, int(seed), out)
    return out


def summarise(kind: str, store, batch: str) -> dict:
    """Key results of a batch, read back from the store (JSON-serialisable); see :mod:`.summary`."""
    from choicelab.scenarios.summary import summarise_experiment

    return summarise_experiment(store, batch)
