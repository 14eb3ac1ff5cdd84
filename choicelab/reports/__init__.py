"""Reports: self-contained HTML and Markdown built from the results store."""
from choicelab._lazy import lazy_exports

_EXPORTS = {"build_report": "build", "ReportFiles": "build"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
