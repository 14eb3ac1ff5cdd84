"""Plugins: installed packages that extend choicelab's registries through entry points.

A package declares, in its own metadata, entry points in these groups; each entry point names a
module, and importing the module registers its decorated functions::

    # pyproject.toml of a plugin package
    [project.entry-points."choicelab.estimators"]
    my_rules = "my_package.rules"          # a module with @choicelab.estimators.register(...) functions

Groups: ``choicelab.estimators``, ``choicelab.measures``, ``choicelab.weightings``,
``choicelab.readers``, ``choicelab.figures``, ``choicelab.conditions``. Each registry loads its
group the first time it is asked for its entries (:func:`load_entry_points`), in every process,
so spawned workers see the same plugins. A plugin that fails to import is reported once, as a
warning naming the plugin, and skipped; it never breaks the other registries.
"""

from __future__ import annotations

import importlib
import warnings

__all__ = ["GROUPS", "load_entry_points", "PluginWarning"]

GROUPS = (
    "choicelab.estimators",
    "choicelab.measures",
    "choicelab.weightings",
    "choicelab.readers",
    "choicelab.figures",
    "choicelab.conditions",
)
_loaded: set = set()


class PluginWarning(UserWarning):
    """A plugin's module could not be imported (it is skipped)."""


def load_entry_points(group: str) -> list[str]:
    """Import every module named by an entry point of ``group`` (once per process); returns their names."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
    if group in _loaded:
        return []
    _loaded.add(group)
    from importlib.metadata import entry_points

    names = []
    for ep in entry_points(group=group):
        try:
            importlib.import_module(ep.value.split(":")[0])
        except Exception as exc:  # a broken plugin must not break choicelab
            warnings.warn(
                f"plugin {ep.name!r} ({ep.value}, entry point group {group}) could not be imported: "
                f"{type(exc).__name__}: {exc}",
                PluginWarning,
                stacklevel=2,
            )
            continue
        names.append(ep.name)
    return names


def _reset() -> None:
    """Forget which groups were loaded (tests)."""
    _loaded.clear()
