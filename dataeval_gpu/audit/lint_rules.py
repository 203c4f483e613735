"""The scan's rule on top of the Linter: on a degenerate metric, an outlier must also be rare.

DataEval 0.65's modified z-score divides by the MAD, the median of ``|v − median|``; when half or
more of the images share one value (square images, 8-bit depth) the MAD is 0 and the fallback (the
mean absolute deviation) is small, so every image off that value scores high: "outlier" turns into
"differs from the mode" (594 game sprites: 258 flagged for aspect ratio, 113 for 16-bit depth).
The IQR has the same failure (Q1 = Q3).  On a heavy-tailed metric (image sizes, the zero-pixel share)
the MAD of the linear values is small against the tail, so the ordinary part of the tail is "out":
604 photos, 173 flagged for ``zero`` (8 % black pixel values), 75 for a width of 1280.

The main job's default (:class:`~dataeval_gpu.audit.DataAudit` with ``preset="default"``) keeps a
flag on a degenerate metric (one value holding :data:`MODE_SHARE` of the images or more) only when
it is rare: at most :data:`RARE_SHARE` of the images (and at least :data:`RARE_MIN`) lie as far from
the median on the same side, or within :data:`NEIGHBOURHOOD` of that distance.  On any other metric
a flag stays when the value is far out and rare on the metric's robust scale (:func:`robust_scale`:
the logarithm of the sizes, aspect ratio and sharpness, the arcsine square root of the shares:
``brightness`` and ``zero`` per channel): its modified z-score there is over :data:`FAR` and it is
rare there as above.  A size (:data:`GAP_SCALE`) may instead be isolated (:func:`isolated_mask`):
it and the few images beyond it (at most ``max(RARE_MIN, ISOLATED_SHARE·n)``: a handful, not a kind
of image such as a game's 68 maps of 2048 x 1024 px) lie :data:`GAP_FACTOR` times or more beyond
every other image (a 1920 x 1200 picture among sprites of 1 to 1,000 px whose next largest
has 40 % of its pixels): in a collection of very mixed sizes the spread of the log sizes is wide, so
no size is far out by the modified z-score, but one that stands apart from all the others is.  ``missing`` (the share of NaN pixels; inf is not counted, as in 0.65) is
exempt: any is a defect.  The guide API ``Linter`` and ``preset="dataeval-0.65"`` do not apply it:
they keep 0.65's answers exactly.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "ALWAYS_FLAGGED",
    "FAR",
    "GAP_FACTOR",
    "GAP_SCALE",
    "GAP_TIE",
    "ISOLATED_SHARE",
    "MODE_SHARE",
    "NEIGHBOURHOOD",
    "RARE_MIN",
    "RARE_SHARE",
    "degenerate",
    "far_mask",
    "far_threshold",
    "isolated_bounds",
    "isolated_mask",
    "rare_against",
    "rare_mask",
    "rare_outliers",
    "robust_scale",
]

#: the most images (as a share of the measured ones) that may lie as far out as a flagged value
RARE_SHARE = 0.05
#: ... but never fewer than this many (a pair of equal odd images stays flagged)
RARE_MIN = 2
#: a metric is degenerate when one value holds this share of the images or more
MODE_SHARE = 1 / 3
#: metrics whose every off-mode value is a defect, however common: the share of NaN pixels (inf not counted)
ALWAYS_FLAGGED = frozenset({"missing"})
#: values within this share of a flagged value's distance from the mode count as "as far out"
NEIGHBOURHOOD = 0.1
#: the modified z-score on the robust scale past which a value is far out (0.65's default threshold)
FAR = 3.5
#: metrics judged on the logarithm (positive, heavy-tailed: a 10x larger image is as far as a 10x smaller)
LOG_SCALE = frozenset({"width", "height", "size", "aspect_ratio", "blurriness"})
#: sizes that are also kept when isolated (:func:`isolated_mask`): beyond every other image by a factor
GAP_SCALE = frozenset({"width", "height", "size"})
#: the factor by which an isolated size lies beyond every image nearer the median (on the log scale: ln 2)
GAP_FACTOR = 2.0
#: the most images (as a share of the measured ones; at least :data:`RARE_MIN`) an isolated group may hold
ISOLATED_SHARE = 0.01
#: the rounding allowed on the log scale where a value lies exactly :data:`GAP_FACTOR` beyond the next
#: (``log(2048) - log(1024)`` may come out 1 ulp under ``log(2)``): a factor ``2·(1 - 1e-9)`` counts
GAP_TIE = 1e-9
#: shares in [0, 1] judged on the arcsine square root (``zero``: its count per pixel over the channels)
SHARE_SCALE = frozenset({"brightness", "zero"})


def degenerate(values: np.ndarray) -> bool:
    """Whether one value holds :data:`MODE_SHARE` or more of the finite ``values`` (from a half on,
    the MAD is 0; from a third on, it is the quarter-quantile of the other images' distances, so
    the modified z-score measures "differs from the mode")."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return False
    _, counts = np.unique(v, return_counts=True)
    return bool(counts.max() >= MODE_SHARE * v.size)


def rare_mask(values: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Per value, whether few images of ``reference`` (default ``values`` themselves) lie as far
    from its median on the value's side: at most ``max(RARE_MIN, RARE_SHARE·n)`` of them ``w`` with
    ``|w − median| ≥ (1 − NEIGHBOURHOOD)·|v − median|`` (within the values, the value itself counts).
    A value on the median is never rare; a non-finite one always (nothing to compare it with)."""
    v = np.asarray(values, dtype=np.float64)
    ref = v if reference is None else np.asarray(reference, dtype=np.float64)
    ref = ref[np.isfinite(ref)]
    rare = ~np.isfinite(v)
    if ref.size == 0:
        return np.ones(v.shape, dtype=bool)
    med = np.median(ref)
    limit = max(RARE_MIN, RARE_SHARE * ref.size)
    for sign in (1.0, -1.0):  # above, then below the median
        side = np.sort(sign * (ref - med))
        with np.errstate(invalid="ignore"):
            dist = sign * (v - med)
            # how many reference values on this side are at least (1 - NEIGHBOURHOOD)·dist out
            count = side.size - np.searchsorted(
                side, np.nan_to_num((1.0 - NEIGHBOURHOOD) * dist), side="left"
            )
            rare |= (dist > 0) & (count <= limit)
    return rare


def robust_scale(name: str, values: np.ndarray, channels: np.ndarray | None = None) -> np.ndarray | None:
    """``values`` of the metric ``name`` on the scale its outliers are judged on (float64): the
    natural logarithm for :data:`LOG_SCALE` (a value <= 0 is NaN: :func:`rare_outliers` judges its
    rarity on the linear values, among the images as far out), ``arcsin(sqrt(share))`` for
    :data:`SHARE_SCALE` (the share clipped to [0, 1]; ``zero``, 0.65's zero pixel values per pixel
    over every channel, divided by the image's ``channels`` first: None without them), the values
    themselves for any other metric."""
    v = np.asarray(values, dtype=np.float64)
    if name in LOG_SCALE:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), np.nan)
    if name in SHARE_SCALE:
        if name == "zero":
            if channels is None:
                return None
            v = v / np.maximum(np.asarray(channels, dtype=np.float64), 1.0)
        return np.arcsin(np.sqrt(np.clip(v, 0.0, 1.0)))  # NaN stays NaN
    return v


def far_mask(values: np.ndarray, reference: np.ndarray | None = None, far: float = FAR) -> np.ndarray:
    """Per value, whether its modified z-score against ``reference`` (default ``values``
    themselves; its finite values) is over ``far`` (default :data:`FAR`): ``0.6745·|v − median| / MAD``, the MAD
    replaced by the mean absolute deviation where it is 0 (as 0.65 does); a non-finite value is
    far (nothing to compare it with), and so is any value off the median of a constant reference."""
    v = np.asarray(values, dtype=np.float64)
    ref = v if reference is None else np.asarray(reference, dtype=np.float64)
    ref = ref[np.isfinite(ref)]
    if ref.size == 0:
        return np.ones(v.shape, dtype=bool)
    med = np.median(ref)
    dev = np.abs(ref - med)
    mad = np.median(dev) or np.mean(dev)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = 0.6745 * np.abs(v - med) / mad if mad else np.where(v == med, 0.0, np.inf)
    return ~np.isfinite(v) | (score > far)


def isolated_bounds(reference: np.ndarray, gap: float = float(np.log(GAP_FACTOR))) -> tuple[float, float]:
    """``(low, high)`` on ``reference``'s scale (its finite values; the log sizes): a value beyond
    them is isolated (:func:`isolated_mask`).  On each side of the median, the images sorted by
    their distance from it, ``d[0] >= d[1] >= ...``: where a group of the ``m`` furthest (``m`` at
    most ``max(RARE_MIN, ISOLATED_SHARE·n)``, the largest such) lies ``gap`` or more beyond the next,
    ``d[m-1] - d[m] >= gap``, the bound is ``gap`` beyond the next one, ``d[m] + gap``; without such a
    group, ``gap`` beyond the furthest, ``d[0] + gap`` (nothing of the collection lies beyond).  Within
    the collection the flags are those of the group either way; a new image judged against it
    (``--against``) is isolated only ``gap`` beyond every image of the collection nearer the median,
    as in a scan of both (not merely beyond the next one: a far image in the collection does not
    lower the bar for the others).  Exactly ``gap`` counts (:data:`GAP_TIE`: a factor 2 in whole
    pixels is not lost to rounding).  ``(-inf, inf)`` without values."""
    ref = np.asarray(reference, dtype=np.float64)
    ref = ref[np.isfinite(ref)]
    if ref.size == 0:
        return -np.inf, np.inf
    med = float(np.median(ref))
    limit = int(np.floor(max(RARE_MIN, ISOLATED_SHARE * ref.size)))
    reach = []
    for sign in (1.0, -1.0):  # above, then below the median
        d = np.sort(sign * (ref - med))[::-1]
        d = d[d >= 0]  # the images on the median count as the nearest (distance 0)
        steps = np.flatnonzero(-np.diff(d[: limit + 1]) >= gap - GAP_TIE / 2)  # d[j] - d[j + 1], j < limit
        nxt = float(d[steps[-1] + 1]) if steps.size else (float(d[0]) if d.size else 0.0)
        reach.append(nxt + gap - GAP_TIE)  # the group's values lie GAP_TIE / 2 or more beyond it
    return med - reach[1], med + reach[0]


def isolated_mask(values: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Per value (on the log scale: :func:`robust_scale`), whether it lies outside
    :func:`isolated_bounds` of ``reference`` (default ``values`` themselves): within a collection,
    whether it belongs to a group of at most ``max(RARE_MIN, ISOLATED_SHARE·n)`` images that lie :data:`GAP_FACTOR`
    times or more beyond every other image on their side of the median.  A non-finite value is not
    (the rule's other parts judge it)."""
    v = np.asarray(values, dtype=np.float64)
    low, high = isolated_bounds(v if reference is None else reference)
    with np.errstate(invalid="ignore"):
        return np.isfinite(v) & ((v < low) | (v > high))


def far_threshold(method: str, threshold: float | None) -> float:
    """The robust scale's "far" for the Linter's settings: the user's ``threshold`` of the
    modified z-score (``outlier_method="modzscore"``), else :data:`FAR` (0.65's default; a z-score
    or IQR threshold is on another scale; ``threshold`` 0 or None: the default, as the Linter reads it)."""
    return float(threshold) if method == "modzscore" and threshold else FAR


def _keep(
    name: str,
    values: np.ndarray,
    stats: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    far: float = FAR,
) -> np.ndarray | None:
    """The flags of ``name`` to keep (see the module); None: all.  ``reference`` the collection
    judged against (``stats`` itself within a collection); ``far`` the robust scale's threshold."""
    ref = np.asarray(reference[name], dtype=np.float64)
    if degenerate(ref):
        return rare_mask(values, None if reference is stats else ref)
    t = robust_scale(name, values, stats.get("channels"))
    t_ref = t if reference is stats else robust_scale(name, ref, reference.get("channels"))
    if t is None or t_ref is None:
        return None
    within = reference is stats
    out = far_mask(t, far=far) if within else far_mask(t, t_ref, far)
    if name in GAP_SCALE:  # or isolated: beyond every other image by a factor (mixed sizes)
        out |= isolated_mask(t) if within else isolated_mask(t, t_ref)
    keep = out & (rare_mask(t) if within else rare_mask(t, t_ref))  # and rare (one pass: sorts the values)
    off = np.isfinite(values) & ~np.isfinite(t)  # 0 on the log scale (a flat image's blurriness):
    if off.any():  # infinitely far, rare as the linear values are (the other flat images counted)
        keep[off] = rare_mask(values[off], values if reference is stats else ref)
    return keep


def _filtered(
    issues: Mapping[int, Mapping[str, float]], keep: Mapping[str, np.ndarray]
) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    for pos, found in issues.items():
        kept = {m: x for m, x in found.items() if m not in keep or keep[m][pos]}
        if kept:
            out[pos] = kept
    return out


def rare_outliers(
    issues: Mapping[int, Mapping[str, float]], stats: Mapping[str, np.ndarray], far: float = FAR
) -> dict[int, dict[str, float]]:
    """The Linter's ``issues`` ({row position: {metric: value}}) without the flags that are not rare
    on a degenerate metric, nor far out and rare on its robust scale on any other (see the module);
    ``stats`` the linted {metric: per-row values} (with ``channels``: ``zero`` is judged per
    channel).  An image left with no flagged metric is dropped; the order of the images and metrics
    is kept.  ``far``: the modified z-score on the robust scale past which a value is far out
    (:func:`far_threshold` of the Linter's settings: a user's lower ``outlier_threshold`` kept)."""
    keep: dict[str, np.ndarray] = {}
    for name in {m for found in issues.values() for m in found} - ALWAYS_FLAGGED:
        col = stats.get(name)
        v = None if col is None else np.asarray(col, dtype=np.float64)
        if v is not None and v.ndim == 1:
            k = _keep(name, v, stats, stats, far)
            if k is not None:
                keep[name] = k
    return _filtered(issues, keep)


def rare_against(
    issues: Mapping[int, Mapping[str, float]],
    stats: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    far: float = FAR,
) -> dict[int, dict[str, float]]:
    """:func:`rare_outliers` for new images judged against a collection (``Linter.evaluate_against``):
    ``reference`` ({metric: the collection's values}) gives the median, the spread and the images
    counted as as far out.  ``zero`` is judged on its robust scale only when both hold ``channels``
    (else on a degenerate reference only, as before)."""
    keep: dict[str, np.ndarray] = {}
    for name in {m for found in issues.values() for m in found} - ALWAYS_FLAGGED:
        if name in stats and name in reference:
            k = _keep(name, np.asarray(stats[name], dtype=np.float64), stats, reference, far)
            if k is not None:
                keep[name] = k
    return _filtered(issues, keep)
