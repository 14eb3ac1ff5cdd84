"""choicelab: check numerically what social choice theory says about reward learning.

Subpackages (imported lazily, so ``import choicelab`` stays cheap):

``sim``        annotator populations, alternatives, comparisons, clones
``estimators`` Bradley-Terry MLE (standard and Voronoi-weighted), neural, voting rules
``axioms``     the theory table of ``the contract.md`` measured against the estimators
``scenarios``  declarative batches, runner and results store
``reports``    HTML / Markdown reports with figures
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"
__all__ = ["sim", "estimators", "axioms", "scenarios", "reports", "__version__"]


def __getattr__(name: str):
    if name in {"sim", "estimators", "axioms", "scenarios", "reports"}:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'choicelab' has no attribute {name!r}")
