"""The scan's rule on top of the Linter: on a degenerate metric, an outlier must also be rare.

DataEval 0.65's modified z-score divides by the MAD, the median of ``|v − median|``; when half or
more of the images share one value (square images, 8-bit depth) the MAD is 0 and the fallback (the
mean absolute deviation) is small, so every image off that value scores high: "outlier" turns into
"differs from the mode" (594 game sprites: 258 flagged for aspect ratio, 113 for 16-bit depth).
The IQR has the same failure (Q1 = Q3).

The main job's default (:class:`~dataeval_gpu.audit.DataAudit` with ``preset="default"``) keeps a
flag on a degenerate metric (one value holding :data:`MODE_SHARE` of the images or more) only when
it is rare: at most :data:`RARE_SHARE` of the images (and at least :data:`RARE_MIN`) lie as far from
the median on the same side, or within :data:`NEIGHBOURHOOD` of that distance.  ``missing`` (NaN /
inf pixels) is exempt: any is a defect.  A metric without such a mode is left as the Linter flagged
it (a real defect hitting 10 % of a healthy collection stays flagged).  The guide API ``Linter``
and ``preset="dataeval-0.65"`` do not apply it: they keep 0.65's answers exactly.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "ALWAYS_FLAGGED",
    "MODE_SHARE",
    "NEIGHBOURHOOD",
    "RARE_MIN",
    "RARE_SHARE",
    "degenerate",
    "rare_against",
    "rare_mask",
    "rare_outliers",
]

#: the most images (as a share of the measured ones) that may lie as far out as a flagged value
RARE_SHARE = 0.05
#: ... but never fewer than this many (a pair of equal odd images stays flagged)
RARE_MIN = 2
#: a metric is degenerate when one value holds this share of the images or more
MODE_SHARE = 1 / 3
#: metrics whose every off-mode value is a defect, however common: the share of NaN / inf pixels
ALWAYS_FLAGGED = frozenset({"missing"})
#: values within this share of a flagged value's distance from the mode count as "as far out"
NEIGHBOURHOOD = 0.1


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
    issues: Mapping[int, Mapping[str, float]], stats: Mapping[str, np.ndarray]
) -> dict[int, dict[str, float]]:
    """The Linter's ``issues`` ({row position: {metric: value}}) without the flags that are not rare
    on a degenerate metric (see the module); ``stats`` the linted {metric: per-row values}.  An
    image left with no flagged metric is dropped; the order of the images and metrics is kept."""
    keep: dict[str, np.ndarray] = {}
    for name in {m for found in issues.values() for m in found} - ALWAYS_FLAGGED:
        col = stats.get(name)
        v = None if col is None else np.asarray(col, dtype=np.float64)
        if v is not None and v.ndim == 1 and degenerate(v):
            keep[name] = rare_mask(v)
    return _filtered(issues, keep)


def rare_against(
    issues: Mapping[int, Mapping[str, float]],
    stats: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
) -> dict[int, dict[str, float]]:
    """:func:`rare_outliers` for new images judged against a collection (``Linter.evaluate_against``):
    on a metric degenerate in ``reference`` ({metric: the collection's values}), a new image's flag is
    kept when few of the collection's images lie as far out as its value."""
    keep: dict[str, np.ndarray] = {}
    for name in {m for found in issues.values() for m in found} - ALWAYS_FLAGGED:
        if name in stats and name in reference and degenerate(reference[name]):
            keep[name] = rare_mask(stats[name], reference[name])
    return _filtered(issues, keep)
