"""Measures: what an experiment records about its fits, one registry entry per measure.

A measure is one decorated function ``fn(ctx) -> Iterable[Row]``::

    from choicelab.scenarios import measures

    @measures.register("winner_margin", per="fit")
    def winner_margin(ctx):
        s = np.sort(ctx.output.scores)
        yield measures.Row("margin", "", float(s[-1] - s[-2]))

``per="fit"`` functions are called once per (condition, estimator) of a run, with ``ctx.output``
the estimator's :class:`~choicelab.estimators.registry.EstimatorOutput` (None when the scenario
has ``data.kind = "none"``); ``per="estimator"`` once per estimator (for measures that build
their own data sets, e.g. the three-option experiment); ``per="run"`` once per run, naming the
``condition`` and ``estimator`` of each row themselves.
Either can read everything the run computed (:class:`MeasureContext`). A measure may also
yield :class:`~choicelab.axioms.base.Verdict` objects: they land in the verdicts table, with a
results row (measure = the axiom id, item ``measured``) beside each.

Every row becomes one line of the typed results table: ``run_id, seed, <swept keys>,
condition, estimator, measure, item, label, value, stderr, ci_low, ci_high``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Row", "Measure", "MeasureContext", "register", "unregister", "get_measure", "list_measures", "verdict"]

PER = ("fit", "estimator", "run")


@dataclass(frozen=True)
class Row:
    """One measured value.

    Attributes
    ----------
    item : str or int or float
        What the value is about: an alternative index, a topic, an epsilon, ``"top"``; stored as text.
    label : str
        Human-readable name of the item (an alternative's label, ``"food (clone of 3)"``).
    value : float
    stderr : float, optional
    condition, estimator : str, optional
        Only for ``per="run"`` measures (a fit's rows inherit its condition and estimator).
    ci_low, ci_high : float, optional
        An interval, when the measure computes one.
    """

    item: object
    label: str
    value: float
    stderr: float | None = None
    condition: str | None = None
    estimator: str | None = None
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class Measure:
    """A registry entry (see :func:`register`)."""

    name: str
    fn: Callable = field(repr=False)
    per: str
    needs: tuple
    params: object
    description: str
    source: str
    summary: str = "mean"
    effect: bool = True
    table: Callable | None = field(default=None, repr=False)


@dataclass
class MeasureContext:
    """What a measure sees.

    Attributes
    ----------
    spec : ExperimentSpec
        The run's validated parameters.
    seed : int
    rng : numpy.random.Generator
        A generator of the measure's own, seeded from the run seed, the measure's name and the
        fit's condition and estimator (so measures never shift each other's draws).
    world : World
        Region, alternatives without clones, population, topic centres.
    conditions : dict
        Condition name -> :class:`~choicelab.scenarios.experiment.ConditionData`
        (``alternatives``, ``instance``, ``data``, ``weights``).
    outputs : dict
        Condition name -> estimator name -> EstimatorOutput.
    params : pydantic model or None
        The measure's options (``[measures.options.NAME]``).
    condition, estimator : str or None
        The fit this call is about (``per="fit"``).
    output : EstimatorOutput or None
    """

    spec: object
    seed: int
    rng: object
    world: object
    conditions: dict
    outputs: dict
    params: object = None
    condition: str | None = None
    estimator: str | None = None
    output: object = None
    blobs: dict | None = None

    def add_blob(self, name: str, array) -> None:
        """Store an array beside the run (reports can draw from it); numeric or unicode dtype."""
        import numpy as np

        self.blobs[name] = np.asarray(array)

    @property
    def alternatives(self):
        """The alternatives of this fit's condition."""
        return self.conditions[self.condition].alternatives

    @property
    def data(self):
        return self.conditions[self.condition].data


def verdict(axiom_id: str, estimator: str, measured: str, magnitude: float, witness=None, detail: str = ""):
    """A measure's verdict on an axiom: the outcome, with theory's expectation and the agreement attached
    by the axioms' own rule (:func:`choicelab.axioms.api.verdict_of`)."""
    from choicelab.axioms.api import verdict_of
    from choicelab.axioms.base import Measurement

    return verdict_of(axiom_id, estimator, Measurement(measured, float(magnitude), witness, detail))


_MEASURES: dict[str, Measure] = {}
_BUILTIN_MODULES = (
    "basic",
    "axiom_checks",
    "identities",
    "sensitivity",
    "diagnostics",
    "selftest",
    "seed_variance",
    "weighting_a1",
    "weight_error",
)
_loaded = False


def register(
    name: str,
    *,
    per: str = "fit",
    needs=(),
    params=None,
    description: str | None = None,
    summary: str = "mean",
    fits: bool | None = None,
    effect: bool = True,
    table: Callable | None = None,
    replace: bool = False,
):
    """Decorator adding a measure ``fn(ctx) -> Iterable[Row]`` under ``name``.

    Parameters
    ----------
    name : str
    per : {"fit", "estimator", "run"}
        Called per (condition, estimator), per estimator, or once per run.
    needs : tuple of str
        What the run must provide: ``"positions"``, ``"population"``, ``"topics"``, ``"region"``,
        ``"conditions>=2"``, ``"reward"`` (reward estimators only), ``"fits"`` (the runner's
        fits, so not ``data.kind = "none"``), ``"data-none"`` (only with ``data.kind = "none"``);
        checked when a scenario loads.
    params : pydantic model class, optional
        The measure's options; unknown keys are rejected at load.
    fits : bool, optional
        Whether the measure reads the runner's fits (``ctx.output``); default True for
        ``per="fit"`` measures. A measure that refits by itself (an A1 curve, an axiom check)
        passes False, so the runner skips fits nobody reads.
    summary : {"mean", "mode"}
        How reports and console summaries condense the runs of one item: the mean (with its
        standard error) of the values, or the most frequent label (a categorical result such
        as the top item, whose value is an index).
    effect : bool
        Whether a difference of this measure between conditions is a finding: the report's
        "Effects of the conditions" compares it against the baseline with an interval, the A/A
        control and a verdict. Diagnostics (fit quality, agreement with a reference fit, the
        weights themselves) pass False. Categorical (``summary="mode"``) measures never are.
    table : callable, optional
        ``table(frame) -> (header, rows, caption)`` on one sweep point's rows of this measure:
        the report shows it instead of the generic table (mean and 95% interval over runs) (for measures
        whose rows are ingredients of a summary, such as ``seed_variance``).
    """
    if summary not in ("mean", "mode"):
        raise ValueError(f"register({name!r}): summary must be 'mean' or 'mode', got {summary!r}")
    if per not in PER:
        raise ValueError(f"register({name!r}): per must be one of {PER}, got {per!r}")
    needs = (needs,) if isinstance(needs, str) else tuple(needs)
    if (per == "fit" if fits is None else fits) and "fits" not in needs:
        needs = needs + ("fits",)

    def decorator(fn):
        if name in _MEASURES and not replace:
            raise ValueError(
                f"register: a measure called {name!r} is already registered "
                f"(by {_MEASURES[name].source}); pick another name or pass replace=True"
            )
        doc = description or (fn.__doc__ or "").strip().split("\n")[0]
        _MEASURES[name] = Measure(
            name=name,
            fn=fn,
            per=per,
            needs=needs,
            params=params,
            description=doc,
            source=getattr(fn, "__module__", None) or "plugin",
            summary=summary,
            effect=bool(effect) and summary != "mode",
            table=table,
        )
        return fn

    return decorator


def unregister(name: str) -> None:
    _MEASURES.pop(name, None)


def _load_builtin() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for mod in _BUILTIN_MODULES:
            importlib.import_module(f"{__name__}.{mod}")
        from choicelab.plugins import load_entry_points

        load_entry_points("choicelab.measures")


def get_measure(name: str) -> Measure:
    """The registry entry ``name``; ValueError listing the known ones otherwise."""
    _load_builtin()
    try:
        return _MEASURES[name]
    except KeyError:
        raise ValueError(f"unknown measure {name!r}; known: {', '.join(_MEASURES)}") from None


def list_measures() -> list[Measure]:
    _load_builtin()
    return list(_MEASURES.values())
