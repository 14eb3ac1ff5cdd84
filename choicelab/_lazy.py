"""Lazy re-exports: a subpackage names its public API without importing heavy modules."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, exports: dict[str, str]):
    """Return ``(__getattr__, __dir__)`` that import ``exports[name]`` (a submodule) on first use."""

    def __getattr__(name: str):
        try:
            module_name = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f"{package}.{module_name}"), name)
        importlib.import_module(package).__dict__[name] = value
        return value

    def __dir__():
        return sorted(exports)

    return __getattr__, __dir__
