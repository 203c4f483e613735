"""The guide's plots: metric histograms, per-channel histograms and image grids.

Every function builds a :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state, no
window: rendering uses Agg), saves it when ``path`` is given and returns it.  Images are
fetched lazily through ``get_image(index) -> (C, H, W) array`` (see :func:`image_getter`),
so a grid over a million-image dataset reads only the images shown, each once.

Images are shown at their true intensity (uint8 over 0–255, other types scaled by DataEval's
bit-depth rule), never stretched per image: a dark image looks dark.

This module gathers the plot functions, which live in :mod:`.histograms` (with the plotted
metrics and their units: ``GUIDE_METRICS``, ``_UNITS``), :mod:`.grids` (image grids, label
bars), :mod:`.images` (thumbnails, display scaling) and :mod:`.layout` (figure layout).
"""

from __future__ import annotations

from .grids import (
    class_samples_grid,
    duplicates_grid,
    flagged_metric_grid,
    image_grid,
    label_counts_plot,
    outliers_grid,
)
from .histograms import (
    GUIDE_CHANNEL_METRICS,
    GUIDE_METRICS,
    channel_histograms,
    group_channel_stats,
    metric_histograms,
)
from .images import image_getter, load_thumbnail, sample_indices, to_display

__all__ = [
    "GUIDE_METRICS",
    "GUIDE_CHANNEL_METRICS",
    "image_getter",
    "load_thumbnail",
    "to_display",
    "sample_indices",
    "metric_histograms",
    "channel_histograms",
    "group_channel_stats",
    "image_grid",
    "class_samples_grid",
    "flagged_metric_grid",
    "duplicates_grid",
    "outliers_grid",
    "label_counts_plot",
]
