"""The audit's findings from the accumulated statistics and hashes: the scored quality issues
and the near-duplicate hash groups (with the checks :class:`~dataeval_gpu.detectors.NearDuplicates`
applies), keyed by dataset index."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..detectors.near_search import HashRows, NearSearch

__all__ = ["hash_rows", "near_groups", "near_hash_pairs", "quality_findings", "warn_negative"]


def quality_findings(
    stats: dict[str, np.ndarray], index: np.ndarray, thresholds: dict[str, float] | None
) -> dict[str, Any]:
    """Scores, flags and reasons of the quality issues, keyed by dataset index."""
    from ..detectors.quality import SHAPE_KEYS, QualityIssues
    from ..functional.quality import QUALITY_KEYS

    warn_negative(stats, index)

    # only what the issues read: evaluate copies it to float64 (the histogram: 2 KB an image)
    needed = {k: stats[k] for k in (*QUALITY_KEYS, *SHAPE_KEYS) if k in stats}
    out = QualityIssues(thresholds=thresholds).evaluate(needed)
    return {
        "scores": out.scores,
        "flags": out.flags,
        "thresholds": out.thresholds,
        "reference": out.reference,
        "why": {int(index[p]): out.why(p) for p in np.nonzero(out.flagged)[0].tolist()},
    }


def warn_negative(stats: dict[str, np.ndarray], index: np.ndarray) -> None:
    """Warn (:class:`~dataeval_gpu.errors.NegativeValuesWarning`) when images hold negative values
    (``depth`` 0: a negative minimum), naming how many and the first: normalised tensors fed to an
    audit "after your own transforms" gave every image a grey p99 of 1.0, dark and noisy flags on
    the wrong images and a negative brightness, silently."""
    import warnings

    from ..errors import NegativeValuesWarning

    depth = stats.get("depth")
    if depth is None:
        return
    neg = np.flatnonzero(np.asarray(depth) == 0)
    if len(neg):
        warnings.warn(
            f"{len(neg)} of {len(index)} images hold negative values (the first: image {int(index[neg[0]])}), as "
            "images normalised by a mean and a standard deviation do (transforms.Normalize): the statistics "
            "rescale them as DataEval 0.65 does, but the quality issues read grey levels in [0, 1] (floats) or "
            "0-255 (integers), so their scores say little for these images; feed the images before the "
            "normalisation, or undo it (x * std + mean)",
            NegativeValuesWarning,
            stacklevel=5,  # warn_negative <- quality_findings <- DataAudit._detect <- compute <- the caller
        )


def hash_rows(res: dict[str, Any], stats: dict[str, np.ndarray], index: np.ndarray) -> HashRows:
    """The near-duplicate hash search's rows (:class:`~dataeval_gpu.detectors.near_search.HashRows`)
    from the accumulated rows: the hashes, crops and strips, thumbnails and the pair rules' figures
    measured for every row."""
    from ..detectors.hash_pairs import plain_and_entropy
    from ..detectors.near_search import HashRows

    chroma = np.stack([stats["chroma_rg"], stats["chroma_bg"]], axis=1).astype(np.float64)
    # an image with alpha: its transparent background counted in, as the near hash reads it
    plain, entropy = plain_and_entropy(
        stats["dark_clipped"] + stats["bright_clipped"], stats["grey_entropy"], stats.get("opacity")
    )
    crops = []
    # every row's crop hashes (rows restored from an index made without them have none)
    if "pchash_crops" in res and res["pchash_crops"].shape[0] == len(index):
        ch, cv = res["pchash_crops"].cpu().reshape(len(index), -1), res["pchash_crops_valid"].cpu()
        cv = cv.reshape(len(index), -1)
        crops = [(ch[:, k], cv[:, k]) for k in range(ch.shape[1])]
    # the thumbnails that verify each pair (rows restored from an index made without them: none)
    thumbs = res.get("pchash_thumbs")
    if thumbs is not None and thumbs.shape[0] != len(index):
        thumbs = None
    # each image's inverse-shape strip (rows restored from an index made without it: none)
    strip = None
    if "pchash_strip" in res and res["pchash_strip"].shape[0] == len(index):
        st = res.get("pchash_strip_thumbs")
        st = st.cpu() if st is not None and thumbs is not None and st.shape[0] == len(index) else None
        strip = (res["pchash_strip"].cpu(), res["pchash_strip_valid"].cpu(), st)
    hw = (
        np.stack([np.asarray(stats["height"], np.float64), np.asarray(stats["width"], np.float64)], axis=1)
        if "height" in stats and "width" in stats else None
    )  # fmt: skip
    # each row's 4 x 4 cell colours (two opaque colour pictures must agree in them), when kept for every row
    cells = res.get("pchash_colour")
    return HashRows(
        res["pchash"].cpu(), res["pchash_valid"].cpu(), crops, chroma, plain, entropy,
        stats["std"].astype(np.float64) if "std" in stats else None,
        thumbs.cpu() if thumbs is not None else None,
        np.asarray(stats["opacity"], dtype=np.float64) if "opacity" in stats else None,
        np.asarray(stats["mean"], dtype=np.float64) if "mean" in stats else None,
        np.minimum(np.asarray(stats["height"], np.float64), np.asarray(stats["width"], np.float64))
        if "height" in stats and "width" in stats else None,
        strip, hw,
        # each row's mean channel spread (a grey side skips the pair rules' colour-cast rule), when measured
        np.asarray(stats["channel_spread"], dtype=np.float64) if "channel_spread" in stats else None,
        cells.cpu() if cells is not None and cells.shape[0] == len(index) else None,
    )  # fmt: skip


def near_hash_pairs(
    res: dict[str, Any], stats: dict[str, np.ndarray], index: np.ndarray, radius: int, windows: bool = False
) -> np.ndarray:
    """``(P, 2)`` dataset indices ``[i, j]`` (``i < j``, sorted): the near pairs :func:`near_groups`
    groups (before its centre rule and the exact groups), as ``hash_pairs`` keeps them.  Every pair
    is listed (``m`` identical images that pair: ``m (m - 1) / 2`` rows), but the search runs on at
    most two images of each class of identical rows, as :func:`near_groups`' does, and the pairs of
    the others are copied from theirs (``hash_search``, ``class_pairs``)."""
    from ..detectors.identical_rows import class_pairs
    from ..detectors.near_duplicates import hash_search
    from ..detectors.near_search import NearSearch

    label, kept, found = hash_search(hash_rows(res, stats, index), NearSearch(radius, windows=windows))
    pairs = class_pairs(label, kept, found)
    out = np.sort(np.asarray(index)[pairs], axis=1) if len(pairs) else pairs
    return out[np.lexsort((out[:, 1], out[:, 0]))] if len(out) else out


def near_groups(
    res: dict[str, Any],
    stats: dict[str, np.ndarray],
    index: np.ndarray,
    exact: list[list[int]],
    search: NearSearch,
    facts: dict[str, Any] | None = None,
) -> list[list[int]]:
    """Near groups as :class:`~dataeval_gpu.detectors.NearDuplicates` forms its hash groups:
    the centre rule (no chaining) on pairs within ``search.radius`` (whole images, and a whole
    image against another's central crops, ``near_crops``) whose mean colour casts
    (``chroma_rg``, ``chroma_bg``), grey entropies and pixel spreads agree and whose grey
    thumbnails (``pchash_thumbs``) verify, plain-background images only at distance 0.
    A group that lies inside one exact group is left to ``exact``.  ``search``: the settings
    (:class:`~dataeval_gpu.detectors.near_search.NearSearch`, the audit's ``near_search``: its
    ``progress``, the pair checks' bar, as the detectors' ``compute(progress=...)`` says; its
    ``windows``: the hashes are D4 pchashes, also pair window views,
    :func:`~dataeval_gpu.detectors.window_pairs.window_pairs`; ``facts``, a dict, receives its
    ``"crop_search"``: which plan the off-centre crop search ran)."""
    from ..detectors.near_duplicates import search_groups

    groups = search_groups(hash_rows(res, stats, index), search, facts)
    in_exact = {int(i): k for k, g in enumerate(exact) for i in g}
    out = []
    for g in groups:
        members = sorted(int(index[p]) for p in g)
        if len({in_exact.get(i, -1 - i) for i in members}) > 1:
            out.append(members)
    return sorted(out)
