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


def load_metric_state(metric: Any, state: dict[str, Any]) -> None:
    """Restore :func:`metric_state` output with the metric's ``load_state_dict`` (on its device)."""
    metric.persistent(True)
    try:
        metric.load_state_dict(dict(state))
    finally:
        metric.persistent(False)
    metric.to(metric.device)
