"""The axiom checker (SPEC §3): every axiom and theorem measured against theory, with witnesses."""
from choicelab._lazy import lazy_exports

_EXPORTS = {
    "Axiom": "base", "Verdict": "base", "THEORY": "base", "list_axioms": "base",
    "check": "api", "verify": "api",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
