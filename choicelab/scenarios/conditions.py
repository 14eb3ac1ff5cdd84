"""Conditions: named transformations of a run's world, compared within one run.

A condition turns the built :class:`~choicelab.scenarios.world.World` into the alternatives it
is fitted on. Every condition of a run starts from the same world (same draw of the
alternatives and the population), so two conditions differ only by what the transformation
changes. How their data share random numbers is ``conditions.coupling`` (see
:mod:`choicelab.scenarios.experiment`).

Built-in conditions
-------------------
``default``
    the world as declared: ``world.clones`` applied when present.
``original``
    the world without its clones.
``clones``
    the world with ``world.clones`` applied (the same as ``default``).
``aa_control``
    the world without clones again, with its own data: an A/A control whose
    difference from ``original`` is pure sampling noise.

A new condition is one decorated function::

    @register("two_clones")
    def two_clones(world, rng):
        return world.with_clones(rng, count=2)

Every condition must keep the world's originals at indices ``0..m-1`` (clones are appended),
so that measures can compare alternatives across conditions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Condition", "register", "get_condition", "list_conditions"]


@dataclass(frozen=True)
class Condition:
    """A registry entry: ``build(world, rng) -> Alternatives``; ``clones`` says whether it adds any."""

    name: str
    build: Callable
    description: str
    clones: bool


_CONDITIONS: dict[str, Condition] = {}


def register(name: str, *, clones: bool = False, description: str | None = None, replace: bool = False):
    """Decorator adding a condition ``fn(world, rng) -> Alternatives`` under ``name``."""

    def decorator(fn):
        if name in _CONDITIONS and not replace:
            raise ValueError(f"register: a condition called {name!r} is already registered")
        doc = description or (fn.__doc__ or "").strip().split("\n")[0]
        _CONDITIONS[name] = Condition(name=name, build=fn, description=doc, clones=clones)
        return fn

    return decorator


def _plugins() -> None:
    from choicelab.plugins import load_entry_points

    load_entry_points("choicelab.conditions")


def get_condition(name: str) -> Condition:
    _plugins()
    try:
        return _CONDITIONS[name]
    except KeyError:
        raise ValueError(f"unknown condition {name!r}; known: {', '.join(_CONDITIONS)}") from None


def list_conditions() -> list[Condition]:
    _plugins()
    return list(_CONDITIONS.values())


@register("default", clones=True)
def _default(world, rng):
    """The world as declared (its clones, if any, included)."""
    return world.with_clones(rng)


@register("original")
def _original(world, rng):
    """The world without its clones."""
    return world.alternatives


@register("clones", clones=True)
def _clones(world, rng):
    """The world with its clones (world.clones) added."""
    return world.with_clones(rng)


@register("aa_control")
def _aa_control(world, rng):
    """The world without clones and with its own data: an A/A control for 'original'."""
    return world.alternatives
