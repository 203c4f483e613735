"""The range of each quality issue's score, which a threshold given for it must lie in.

A threshold outside its score's range flags every image or none, with a reason that makes no
sense (``--quality-threshold dark=-5``: "dark: score 0.1 > threshold -5" on every image).
No imports: the command line checks a threshold before torch is imported, and
``QualityIssues`` checks the same ranges with the same words.
"""

from __future__ import annotations

import math

__all__ = ["THRESHOLD_RANGES", "threshold_range_error"]

#: {issue: (lowest, highest)} threshold: the range of the issue's score (docs/quality.md's table):
#: shares and relative scores 0-1 (``1 - ratio``: 1 at most, under 0 only for an image better than
#: the reference, which no threshold is meant to flag), ``low_information`` 8 bits less the grey
#: entropy, ``noisy`` a sigma in grey levels, the blocking ratio and the log2 distances 0 or more
THRESHOLD_RANGES: dict[str, tuple[float, float]] = {
    "dark": (0.0, 1.0),
    "light": (0.0, 1.0),
    "low_contrast": (0.0, 1.0),
    "blurry": (0.0, 1.0),
    "noisy": (0.0, math.inf),
    "grayscale": (0.0, 1.0),
    "low_information": (0.0, 8.0),
    "jpeg_blocking": (0.0, math.inf),
    "odd_size": (0.0, math.inf),
    "odd_aspect_ratio": (0.0, math.inf),
}


def _number(x: float) -> str:
    return f"{x:g}"


def threshold_range_error(issue: str, value: float) -> str | None:
    """Why ``value`` is no threshold for ``issue`` (one line naming the issue, the value and the
    valid range), or None when it is one (or the issue is unknown: checked elsewhere)."""
    bounds = THRESHOLD_RANGES.get(issue)
    if bounds is None:
        return None
    low, high = bounds
    if low <= value <= high:
        return None
    valid = f"from {_number(low)} to {_number(high)}" if math.isfinite(high) else f"{_number(low)} or more"
    return f"the threshold of {issue} must be {valid} (the range of its score), got {_number(value)}"
