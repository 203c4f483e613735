"""The basics every quality-issue rule module reads: a metric's values as float64 numpy
(:func:`float64`) and the opacity under which an image has transparent parts
(:data:`TRANSPARENT_BELOW`).  ``quality_rules`` re-exports both."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["TRANSPARENT_BELOW", "float64"]

#: images with alpha: an ``opacity`` (mean alpha) under this has transparent parts, seen on whatever
#: background the viewer has (``quality_rules`` says what each issue does with them)
TRANSPARENT_BELOW = 0.99


def float64(values: Any) -> np.ndarray:
    """A metric's values (tensor on any device, numpy array, sequence) as a float64 numpy array;
    a numpy array is converted without torch (an audit's report arrays are read-only views)."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy().astype(np.float64)
    return np.array(values, dtype=np.float64)
