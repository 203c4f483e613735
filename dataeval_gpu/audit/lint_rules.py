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
exempt: any is a defect.

The aspect ratio (:data:`LOG_TESTED`) is tested on its log scale alone (:func:`log_tested`): a
1:2 and a 2:1 image are equally far from square, but 0.65's modified z-score of the linear ratio
puts 2:1 one unit from a median of 1 and 1:2 half a unit, so only wide images were ever flagged
(openclipart-png: 175 at 2:1 or wider kept, none of the 154 as tall; endless-sky: 19 wide from
3.3:1, none of 234 as tall).  Its flags are those far out and rare on the log scale, whether or not
0.65's linear test flagged them.  ``zero`` (:data:`OPAQUE_ONLY`) is not judged on an image with
transparent parts (``opacity`` under :data:`~dataeval_gpu.detectors.quality_rules.TRANSPARENT_BELOW`,
where the statistics hold it): the colour of a fully transparent pixel is invisible and mostly
stored as 0 in every channel, so the zero count of a sprite measures its empty area (freeorion: all
32 ``zero`` flags, gimp-help: 57 of 71, pingus: 23 of 26 were sprites, icons and formulas on
transparent).  The guide API ``Linter`` and ``preset="dataeval-0.65"`` do not apply any of this:
they keep 0.65's answers exactly.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

__all__ = [
    "ALWAYS_FLAGGED",
    "LOG_TESTED",
    "OPAQUE_ONLY",
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
    "log_tested",
    "opaque_only",
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
#: metrics tested on the log scale alone (:func:`log_tested`), not only among 0.65's linear flags:
#: a W x H image and its H x W turn are equally far out
LOG_TESTED = frozenset({"aspect_ratio"})
#: metrics not judged on images with transparent parts (:func:`opaque_only`): their zero values
#: are mostly the invisible colour of the transparent pixels
OPAQUE_ONLY = frozenset({"zero"})


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


def log_tested(
    name: str, values: np.ndarray, reference: np.ndarray | None = None, far: float = FAR
) -> np.ndarray:
    """Per value of ``name`` (in :data:`LOG_TESTED`), whether the default preset flags it: far out
    (:func:`far_mask` at ``far``) and rare (:func:`rare_mask`) on the log scale
    (:func:`robust_scale`), against ``reference`` (default ``values`` themselves), degenerate or
    not.  A value <= 0 or non-finite is flagged (nothing to compare it with)."""
    t = robust_scale(name, values)
    t_ref = None if reference is None else robust_scale(name, reference)
    if t is None:  # not a log-scale metric
        raise ValueError(f"{name!r} is not judged on the log scale")
    return far_mask(t, t_ref, far) & rare_mask(t, t_ref)


def opaque_only(stats: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """Per image of ``stats``, whether it may keep a flag of an :data:`OPAQUE_ONLY` metric: its
    ``opacity`` (the mean alpha, 1 for an image without alpha) is at least
    :data:`~dataeval_gpu.detectors.quality_rules.TRANSPARENT_BELOW`; None without ``opacity`` (the
    quality metrics not measured: every image may)."""
    from ..detectors.quality_rules import TRANSPARENT_BELOW

    op = stats.get("opacity")
    if op is None:
        return None
    with np.errstate(invalid="ignore"):
        return ~(np.asarray(op, dtype=np.float64) < TRANSPARENT_BELOW)


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
    issues: Mapping[int, Mapping[str, float]],
    keep: Mapping[str, np.ndarray],
    tested: Mapping[str, np.ndarray] | None = None,
    stats: Mapping[str, np.ndarray] | None = None,
) -> dict[int, dict[str, float]]:
    """``issues`` without the flags ``keep`` drops; the :data:`LOG_TESTED` metrics' flags are
    ``tested``'s (their values from ``stats``, rounded as the Linter rounds them), the metrics of
    an image in the order of ``stats``."""
    out: dict[int, dict[str, float]] = {}
    for pos, found in issues.items():
        kept = {m: x for m, x in found.items() if m not in (tested or {}) and (m not in keep or keep[m][pos])}
        if kept:
            out[pos] = kept
    for name, mask in (tested or {}).items():
        values = np.asarray(stats[name], dtype=np.float64)
        for pos in np.flatnonzero(mask).tolist():
            out.setdefault(pos, {})[name] = float(np.round(values[pos], 2))
    if not tested:
        return out
    order = {m: k for k, m in enumerate(stats)}
    return {p: dict(sorted(out[p].items(), key=lambda kv: order.get(kv[0], len(order)))) for p in sorted(out)}


def _spread(v: np.ndarray) -> bool:
    """Whether the finite values of ``v`` differ (the Linter lints no metric without spread)."""
    v = v[np.isfinite(v)]
    return bool(v.size) and bool(v.max() > v.min())


def _opaque_kept(name: str, keep: np.ndarray | None, n: int, stats: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """``keep`` (None: all) narrowed to the images :func:`opaque_only` allows for ``name``."""
    seen = opaque_only(stats) if name in OPAQUE_ONLY else None
    if seen is None or seen.shape != (n,):
        return keep
    return seen if keep is None else keep & seen


def rare_outliers(
    issues: Mapping[int, Mapping[str, float]],
    stats: Mapping[str, np.ndarray],
    far: float = FAR,
    linted: Collection[str] | None = None,
) -> dict[int, dict[str, float]]:
    """The Linter's ``issues`` ({row position: {metric: value}}) without the flags that are not rare
    on a degenerate metric, nor far out and rare on its robust scale on any other (see the module);
    ``stats`` the linted {metric: per-row values} (with ``channels``: ``zero`` is judged per
    channel; with ``opacity``: ``zero`` is not judged on images with transparent parts).  The
    :data:`LOG_TESTED` metrics of ``linted`` (the metrics the Linter judged; default: every one in
    ``stats``) take their flags from :func:`log_tested` instead.  An image left with no flagged
    metric is dropped; the images are in order, an image's metrics in the order of ``stats``.
    ``far``: the modified z-score on the robust scale past which a value is far out
    (:func:`far_threshold` of the Linter's settings: a user's lower ``outlier_threshold`` kept)."""
    keep: dict[str, np.ndarray] = {}
    tested: dict[str, np.ndarray] = {}
    for name in LOG_TESTED & set(stats if linted is None else linted):
        v = np.asarray(stats[name], dtype=np.float64) if name in stats else None
        if v is not None and v.ndim == 1 and _spread(v):  # the Linter lints a metric with spread only
            tested[name] = log_tested(name, v, far=far)
    for name in {m for found in issues.values() for m in found} - ALWAYS_FLAGGED - set(tested):
        col = stats.get(name)
        v = None if col is None else np.asarray(col, dtype=np.float64)
        if v is not None and v.ndim == 1:
            k = _opaque_kept(name, _keep(name, v, stats, stats, far), len(v), stats)
            if k is not None:
                keep[name] = k
    return _filtered(issues, keep, tested, stats)


def rare_against(
    issues: Mapping[int, Mapping[str, float]],
    stats: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    far: float = FAR,
) -> dict[int, dict[str, float]]:
    """:func:`rare_outliers` for new images judged against a collection (``Linter.evaluate_against``):
    ``reference`` ({metric: the collection's values}) gives the median, the spread and the images
    counted as as far out.  ``zero`` is judged on its robust scale only when both hold ``channels``
    (else on a degenerate reference only, as before), and not on the new images with transparent
    parts when ``stats`` holds their ``opacity``.  A :data:`LOG_TESTED` metric in both takes its
    flags from :func:`log_tested` against the reference."""
    keep: dict[str, np.ndarray] = {}
    tested: dict[str, np.ndarray] = {}
    for name in LOG_TESTED & set(stats) & set(reference):
        v, ref = np.asarray(stats[name], dtype=np.float64), np.asarray(reference[name], dtype=np.float64)
        if v.ndim == 1 and ref.ndim == 1 and _spread(ref):
            tested[name] = log_tested(name, v, ref, far)
    for name in {m for found in issues.values() for m in found} - ALWAYS_FLAGGED - set(tested):
        if name in stats and name in reference:
            v = np.asarray(stats[name], dtype=np.float64)
            k = _opaque_kept(name, _keep(name, v, stats, reference, far), len(v), stats)
            if k is not None:
                keep[name] = k
    return _filtered(issues, keep, tested, stats)
