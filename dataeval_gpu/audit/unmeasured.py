"""The per-image columns of a scan that measured no image (every input failed): the table keeps
the columns a scan with the same settings has, so a script reading ``is_dark_issue`` or ``width``
works on any scan (:meth:`~dataeval_gpu.audit.report.AuditReport.to_pandas`)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["unmeasured_rows"]


def unmeasured_rows(config: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, list[str]], dict[str, Any]]:
    """``(stats, hashes, quality)`` standing for one unmeasured row with the settings ``config``
    (:meth:`~dataeval_gpu.audit.DataAudit.config`): every statistic NaN, no hash, every quality
    issue scored NaN and not flagged - what a failed row holds in a scan that measured some."""
    from ..detectors.quality_rules import ISSUES
    from ..functional.hashing import near_kind
    from ..functional.quality import QUALITY_KEYS
    from ..functional.stats import IMAGE_KEYS

    quality_on = bool(config.get("quality"))
    stats: dict[str, np.ndarray] = {}
    for key in IMAGE_KEYS:
        if key == "histogram" or (key in QUALITY_KEYS and not quality_on):
            continue
        stats[key] = np.full((1, 5) if key == "percentiles" else (1,), np.nan)
    hashes: dict[str, list[str]] = {}
    if config.get("hashes"):
        hashes = {"xxhash": [], near_kind(config.get("hash", "pchash"), config.get("d4")): []}
    quality: dict[str, Any] = {}
    if quality_on:
        quality = {
            "scores": {k: np.full(1, np.nan) for k in ISSUES},
            "flags": {k: np.zeros(1, dtype=bool) for k in ISSUES},
            "why": {},
        }
    return stats, hashes, quality
