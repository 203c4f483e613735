"""DataEval 0.65's detectors: ``Linter``, ``Duplicates``, ``Clusterer``."""

from __future__ import annotations

from typing import Any

from .linter import Linter, LinterOutput

__all__ = [
    "Linter",
    "LinterOutput",
    "Duplicates",
    "DuplicatesOutput",
    "Clusterer",
    "ClustererOutput",
    "HDBSCANClusterer",
]


def __getattr__(name: str) -> Any:
    # Duplicates and Clusterer import their own (heavier) dependencies on first use
    if name in ("Duplicates", "DuplicatesOutput"):
        from . import duplicates

        return getattr(duplicates, name)
    if name in ("Clusterer", "ClustererOutput", "HDBSCANClusterer"):
        from . import clusterer

        return getattr(clusterer, name)
    raise AttributeError(name)
