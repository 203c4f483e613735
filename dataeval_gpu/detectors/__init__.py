"""DataEval 0.65's detectors: ``Linter``, ``Duplicates``, ``Clusterer``; beyond 0.65:
``QualityIssues`` (scored quality issues) and ``NearDuplicates`` (hashes + embeddings)."""

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
    "QualityIssues",
    "QualityOutput",
    "NearDuplicates",
    "NearDuplicatesOutput",
]


def __getattr__(name: str) -> Any:
    # Duplicates and Clusterer import their own (heavier) dependencies on first use
    if name in ("Duplicates", "DuplicatesOutput"):
        from . import duplicates

        return getattr(duplicates, name)
    if name in ("Clusterer", "ClustererOutput", "HDBSCANClusterer"):
        from . import clusterer

        return getattr(clusterer, name)
    if name == "QualityIssues":
        from . import quality

        return quality.QualityIssues
    if name == "QualityOutput":
        from . import quality_output

        return quality_output.QualityOutput
    if name == "NearDuplicates":
        from . import near_duplicates

        return near_duplicates.NearDuplicates
    if name == "NearDuplicatesOutput":
        from . import near_combined

        return near_combined.NearDuplicatesOutput
    raise AttributeError(name)
