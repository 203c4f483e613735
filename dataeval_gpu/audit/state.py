"""Checkpoints of the accumulators through torchmetrics' public state API."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["load_metric_state", "metric_state"]


def metric_state(metric: Any) -> dict[str, Any]:
    """A torchmetrics metric's accumulated states through its public ``state_dict`` (on the CPU,
    each list state concatenated into one tensor: a compact checkpoint)."""
    metric.persistent(True)
    try:
        sd = metric.state_dict()
    finally:
        metric.persistent(False)
    out: dict[str, Any] = {}
    for key, val in sd.items():
        if isinstance(val, list):
            out[key] = [torch.cat([v.reshape(-1, *v.shape[1:]) for v in val]).cpu()] if val else []
        else:
            out[key] = val.cpu() if isinstance(val, torch.Tensor) else val
    return out


def _with_strip_rows(metric: Any, state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with all-zero (no strip, never paired by one) strip hash rows where it was saved
    before them (:data:`~dataeval_gpu.accumulators.stats.STRIP_HASH_KEYS`) and ``metric`` keeps
    them: as rows restored from an index made before them, so that the columns stay aligned."""
    from ..accumulators.stats import STRIP_HASH_KEYS
    from ..functional.hashing import THUMB_SIDE

    keys = [k for k in STRIP_HASH_KEYS if k in getattr(metric, "hash_keys", ()) and k not in state]
    rows = state.get("pchash")
    if not keys or rows is None:
        return state
    n = sum(int(t.shape[0]) for t in rows) if isinstance(rows, list) else int(rows.shape[0])
    zeros = {
        "pchash_strip": torch.zeros(n, dtype=torch.int64),
        "pchash_strip_valid": torch.zeros(n, dtype=torch.bool),
        "pchash_strip_thumbs": torch.zeros((n, THUMB_SIDE**2), dtype=torch.uint8),
    }
    return {**state, **{k: [zeros[k]] if n else [] for k in keys}}


def load_metric_state(metric: Any, state: dict[str, Any]) -> None:
    """Restore :func:`metric_state` output with the metric's ``load_state_dict`` (on its device);
    a state saved before the strip hashes gets all-zero ones (no image matched by its strip)."""
    metric.persistent(True)
    try:
        metric.load_state_dict(_with_strip_rows(metric, dict(state)))
    finally:
        metric.persistent(False)
    metric.to(metric.device)
