"""Named settings of :class:`~dataeval_gpu.audit.DataAudit` and the scan: the main job's best
findings (``"default"``) and DataEval 0.65's exact findings (``"dataeval-0.65"``)."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidArgumentError

__all__ = ["PRESETS", "resolve_preset"]

#: named settings: ``"default"`` (best quality: scored quality issues, D4 hashes at Hamming
#: radius 4 (pairs verified on grey thumbnails) with the hashes of each image's central 90 % / 80 % - as
#: :class:`~dataeval_gpu.detectors.NearDuplicates` - embedding near duplicates when embeddings
#: are on) and ``"dataeval-0.65"`` (DataEval 0.65's findings exactly: pchash at radius 0, no D4,
#: no crops, no quality issues, no embedding duplicates).  The radius and the crops need the
#: colour check of the quality metrics: without ``quality`` they fall back to 0 and none.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {"quality": True, "d4": True, "embedding_duplicates": True, "near_radius": 4, "near_crops": (0.9, 0.8)},
    "dataeval-0.65": {"quality": False, "d4": False, "embedding_duplicates": False, "near_radius": 0, "near_crops": ()},
}
_PRESET_ALIASES = {"0.65": "dataeval-0.65", "dataeval-0.65": "dataeval-0.65", "default": "default", None: "default"}


def resolve_preset(preset: str | None) -> str:
    """The canonical name of ``preset`` (``None`` / ``"default"``, ``"0.65"`` / ``"dataeval-0.65"``)."""
    if preset not in _PRESET_ALIASES:
        raise InvalidArgumentError(
            f"preset must be one of {sorted(k for k in _PRESET_ALIASES if k)} or None, got {preset!r}"
        )
    return _PRESET_ALIASES[preset]
