"""Declarative scenario batches, the runner (local pool or Dask) and the SQLite results store."""

from choicelab._lazy import lazy_exports

_EXPORTS = {
    "load_scenario": "spec",
    "expand": "spec",
    "ScenarioError": "spec",
    "list_builtin": "spec",
    "run_batch": "runner",
    "Store": "store",
    "Scenario": "spec",
    "Run": "spec",
    "BatchSummary": "runner",
    "ResultRow": "store",
    "ExperimentSpec": "experiment",
    "WorldSpec": "world",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
