"""The quality issues of new images judged against an indexed collection.

A scan's relative quality issues compare each image with its own set: ``dark`` with the set's
median highlights (``grey_p99``), ``odd_size`` / ``odd_aspect_ratio`` with its median side and
shape (and flag a size only while it is rare in the set), ``grayscale`` only while grey images
are a minority of the set.  Against an index, the new images are judged against the indexed
collection instead: six photos darkened to 12 % among normal photos are dark, and four 40 x 30
thumbnails next to 600 px photos are odd sizes, however alike the new images are among
themselves.

The index keeps what that needs in its manifest (:func:`quality_reference`, written with every
generation): the medians, the share of grey images and the collection's sides and aspect
ratios as counts per 1/:data:`OCTAVE_BINS` octave, so that the rarity rule ("fewer than
:data:`~dataeval_gpu.detectors.quality.ODD_MAX_SHARE` of the images within one octave") counts
the indexed images without reading a row.  An index written before this entry existed is read
once for those five columns instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "OCTAVE_BINS",
    "OPTIONAL_REFERENCE_COLUMNS",
    "REFERENCE_COLUMNS",
    "against_quality",
    "octave_counts",
    "quality_reference",
]

#: resolution of the stored side / aspect histograms: bins of 1/128 octave (a count within one
#: octave, over the bins whose centre lies within it, is exact but for the images within 1/128
#: octave of the window's ends)
OCTAVE_BINS = 128
#: the metrics :func:`quality_reference` reads
REFERENCE_COLUMNS = ("grey_p99", "width", "height", "channels", "channel_spread")
#: read where the rows hold them (an index written before it was measured judges ``dark`` on the grey
#: highlights alone, as a scan of such rows does): the median of the brightest channel's highlights;
#: the median peak ``bright_p9999`` (``dark``'s under-exposure; an index without it: not judged, as
#: before); ``opacity``: the grey share counts images without transparent parts only (``grey_judged``);
#: ``grey_p01``: with ``grey_p99`` the typical tonal range (``low_contrast``; an index without it: not judged)
OPTIONAL_REFERENCE_COLUMNS = ("bright_p99", "bright_p9999", "opacity", "grey_p01")


def _histogram(values: np.ndarray) -> dict[str, list[int]]:
    """``{"bins", "counts"}``: how many of ``values`` fall in each 1/OCTAVE_BINS octave of log2."""
    lv = np.log2(np.maximum(values, 1e-9))
    bins, counts = np.unique(np.floor(lv * OCTAVE_BINS).astype(np.int64), return_counts=True)
    return {"bins": bins.tolist(), "counts": counts.tolist()}


def octave_counts(histogram: Mapping[str, Any], values: np.ndarray) -> np.ndarray:
    """``(N,)`` int: how many of the histogram's images lie within one octave of each value."""
    bins = np.asarray(histogram.get("bins", []), dtype=np.int64)
    if not len(bins):
        return np.zeros(len(values), dtype=np.int64)
    cum = np.concatenate([[0], np.cumsum(np.asarray(histogram["counts"], dtype=np.int64))])
    pos = np.log2(np.maximum(np.asarray(values, dtype=np.float64), 1e-9)) * OCTAVE_BINS - 0.5
    # the bins whose centre lies within one octave of the value
    lo = np.searchsorted(bins, np.ceil(pos - OCTAVE_BINS).astype(np.int64), side="left")
    hi = np.searchsorted(bins, np.floor(pos + OCTAVE_BINS).astype(np.int64), side="right")
    return cum[hi] - cum[lo]


def quality_reference(stats: Mapping[str, np.ndarray], thresholds: Mapping[str, float] | None = None) -> dict:
    """What new images' relative quality issues are judged against, from a collection's measured
    rows (``stats``: :data:`REFERENCE_COLUMNS`, one value per measured image): the medians of
    ``grey_p99``, the side ``sqrt(width · height)`` and the aspect ``width / height``, the share
    of grey images among those with three or more channels (at ``thresholds``' ``grayscale``),
    the number of images and the sides' and aspects' octave histograms.  ``{}`` without the
    metrics (a scan without the quality metrics) or without a measured image."""
    from ..detectors.quality import DEFAULT_THRESHOLDS, grey_share
    from ..detectors.quality_contrast_rules import typical_range

    if any(k not in stats for k in REFERENCE_COLUMNS) or not len(stats["width"]):
        return {}
    m = {k: np.asarray(stats[k], dtype=np.float64) for k in REFERENCE_COLUMNS}
    if "opacity" in stats:  # grey_share judges only images without transparent parts
        m["opacity"] = np.asarray(stats["opacity"], dtype=np.float64)
    side = np.sqrt(m["width"] * m["height"])
    aspect = m["width"] / np.maximum(m["height"], 1)
    p99 = m["grey_p99"][np.isfinite(m["grey_p99"])]
    grey_at = float((thresholds or {}).get("grayscale", DEFAULT_THRESHOLDS["grayscale"]))
    bright = {}
    for key in ("bright_p99", "bright_p9999"):  # the dark rule's saturated highlights, typical peak
        if key in stats:
            b = np.asarray(stats[key], dtype=np.float64)
            b = b[np.isfinite(b)]
            bright[key] = float(np.median(b)) if len(b) else float("nan")
    if "grey_p01" in stats:  # low_contrast's typical tonal range
        bright["contrast"] = typical_range({"grey_p99": m["grey_p99"], "grey_p01": stats["grey_p01"]})
    return {
        "images": int(len(side)),
        "grey_p99": float(np.median(p99)) if len(p99) else float("nan"),
        **bright,
        "side": float(np.median(side)),
        "aspect": float(np.median(aspect)),
        "grey_share": grey_share(m, grey_at),
        "side_octaves": _histogram(side),
        "aspect_octaves": _histogram(aspect),
    }


def _against_words(line: str) -> str:
    """A reason of :meth:`QualityOutput.why` with the indexed collection as its reference."""
    return line.replace("dataset median", "indexed collection's median").replace(
        "the dataset's typical", "the indexed collection's typical"
    ).replace(
        "of the dataset", "of the indexed collection"
    )


def against_quality(
    stats: Mapping[str, np.ndarray],
    image_index: np.ndarray,
    reference: Mapping[str, Any],
    thresholds: Mapping[str, float] | None = None,
    indexed: np.ndarray | None = None,
) -> dict[int, dict[str, list[str]]]:
    """``{image: {"issues": [...], "why": [...]}}``: the new images (``stats``: their quality
    metrics and shapes, rows in ``image_index``'s order) flagged for a quality issue when judged
    against the indexed collection's ``reference`` (:func:`quality_reference`): its medians and
    grey share, and for ``odd_size`` / ``odd_aspect_ratio`` rarity among the indexed images
    (fewer than ``max(2, ODD_MAX_SHARE · (N + 1))`` of them within one octave, the new image
    counted in; ``indexed``: bool per row, the images whose pixels the index already holds (an
    exact copy) count as that row, so an indexed image gets the flags its own scan gave it).  The
    non-relative issues (blurry, noisy, ...) are judged as in the scan."""
    from ..detectors.quality import ODD_MAX_SHARE, SHAPE_KEYS, QualityIssues
    from ..functional.quality import QUALITY_KEYS

    if not reference or not len(image_index):
        return {}
    needed = {k: stats[k] for k in (*QUALITY_KEYS, *SHAPE_KEYS) if k in stats}
    keys = ("grey_p99", "bright_p99", "bright_p9999", "contrast", "side", "aspect", "grey_share")
    ref = {k: float(reference[k]) for k in keys if k in reference}
    out = QualityIssues(thresholds=thresholds, reference=ref).evaluate(needed)
    w, h = out.metrics["width"], out.metrics["height"]
    n = int(reference.get("images", 0))
    new = np.ones(len(w)) if indexed is None else 1.0 - np.asarray(indexed, dtype=np.float64)
    for issue, values, key in (
        ("odd_size", np.sqrt(w * h), "side_octaves"),
        ("odd_aspect_ratio", w / np.maximum(h, 1), "aspect_octaves"),
    ):
        if issue in out.flags:
            rare = octave_counts(reference.get(key, {}), values) + new < np.maximum(2.0, ODD_MAX_SHARE * (n + new))
            out.flags[issue] = (out.scores[issue] > out.thresholds[issue]) & rare
    return {
        int(image_index[p]): {
            "issues": out.issues(p),
            "why": [_against_words(s) for s in out.why(p)],
        }
        for p in np.flatnonzero(out.flagged).tolist()
    }
