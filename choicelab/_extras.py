"""Optional dependencies ("extras") and the one message that names the extra to install."""

from __future__ import annotations

import importlib

__all__ = ["MissingExtra", "require", "available"]

EXTRAS = {"neural": ("torch", "the neural estimators (neural_mle, neural_weighted_mle, dpo, neural_pl)")}


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message says which extra brings it."""


def available(extra: str) -> bool:
    """Whether the extra's package can be imported (a blocked or missing import says no)."""
    module, _ = EXTRAS[extra]
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def require(extra: str):
    """Import and return the extra's package, or raise :class:`MissingExtra` with one line to act on."""
    module, what = EXTRAS[extra]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(
            f"{what} need {module}, which is not installed: pip install 'choicelab[{extra}]' "
            "(on a machine without a GPU, install torch's CPU build first, see the README)"
        ) from None
