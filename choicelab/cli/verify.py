"""``choicelab verify``: the theory table measured (the formatting lives in :mod:`choicelab.axioms.commands`)."""
from __future__ import annotations

__all__ = ["verify_command"]


def verify_command(args) -> int:
    """``choicelab verify [--quick] [--json] [--seed S]``."""
    from choicelab.axioms.commands import verify_command as _verify

    return _verify(args)
