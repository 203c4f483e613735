"""Grey thumbnails that verify near-hash pairs, and their detail correlation.

The D4 perceptual hash resizes each image's grey picture to a ``32 x 32`` square before its
DCT (:func:`~.resample.symmetric_resize`; an image under 33 px a side to a smaller one).
That square, rounded to 8 bits, is kept per image as its *thumbnail* (``THUMB_SIDE ** 2`` =
1 KB): it costs no resize of its own, comes out of the same kernels on every path (compiled
CPU, tensor / CUDA), and is what the hash itself summarised in 64 bits.  An image under 33 px
a side has an 8-24 px square, enlarged to ``32 x 32`` for its thumbnail (:func:`thumbnails_from_small`);
a hash without a square (dhash's ``8 x 9``) gets an all-zero thumbnail, which verifies nothing.

:func:`detail_correlation` compares two thumbnails by their detail: each minus its ``3 x 3``
box mean (edges replicated), the Pearson correlation of the two detail images, the best over
the 8 flips / rotations of the second (the D4 hash matched any of them).  A copy, flip,
re-encode, brightness or contrast change, or a crop compared against the matching central view
keeps the detail in place (>= 0.81 on the planted corpus); two distinct dark, centred objects
whose coarse blob hashes alike do not (<= 0.78 on Stellarium's deep-sky images), while the plain
correlation of the thumbnails stays high for both (docs/quality.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch

__all__ = [
    "PAIRS_PER_STEP",
    "THUMB_SIDE",
    "ThumbViews",
    "check_rows",
    "detail_check",
    "detail_correlation",
    "detail_energy",
    "interior_detail_check",
    "local_detail_check",
    "look_check",
    "thumbnails_from_small",
]

THUMB_SIDE = 32
"""Side of the per-image grey thumbnail (the D4 pchash's resized square at full size)."""


@functools.lru_cache(maxsize=16)
def _linear_up(n: int, device: str) -> torch.Tensor:
    """``(THUMB_SIDE, n)`` float64 on ``device``: linear interpolation of ``n`` samples to
    ``THUMB_SIDE`` between pixel centres (half-pixel aligned, edges held: Pillow's BILINEAR when
    enlarging).  Cached per size and device (as the resize matrices): a copy to a GPU per batch
    waits for the GPU's queued work."""
    pos = np.clip((np.arange(THUMB_SIDE) + 0.5) * n / THUMB_SIDE - 0.5, 0.0, n - 1.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    m = np.zeros((THUMB_SIDE, n))
    np.add.at(m, (np.arange(THUMB_SIDE), lo), 1.0 - (pos - lo))
    np.add.at(m, (np.arange(THUMB_SIDE), hi), pos - lo)
    return torch.from_numpy(m).to(device)


def thumbnails_from_small(small: torch.Tensor) -> torch.Tensor:
    """``(B, h, w)`` float64 resized grey squares (0..255, on the resize's 1/65536 grid) ->
    ``(B, THUMB_SIDE, THUMB_SIDE)`` uint8 on the same device: rounded half to even and clamped
    (the LANCZOS taps over- and undershoot).  An image under 33 px a side has a smaller square
    (8, 16 or 24 px: its own pixels, barely resized), brought to ``32 x 32`` by linear
    interpolation (:func:`_linear_up`, float64 matmuls on the square's device) so that its pairs
    can be verified too; all zero where the square is not square (a dhash's ``8 x 9``)."""
    b, h, w = small.shape[0], int(small.shape[1]), int(small.shape[2])
    if (h, w) != (THUMB_SIDE, THUMB_SIDE):
        if h != w or not 0 < h < THUMB_SIDE:
            return torch.zeros(b, THUMB_SIDE, THUMB_SIDE, dtype=torch.uint8, device=small.device)
        m = _linear_up(h, str(small.device))
        small = m @ small.to(torch.float64) @ m.T
    return torch.round(small).clamp(0, 255).to(torch.uint8)


def _detail(x: np.ndarray) -> np.ndarray:
    """``(P, S, S)`` float64 minus its 3 x 3 box mean (edges replicated), centred per image."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
    s = x.shape[-1]
    box = sum(p[:, dy : dy + s, dx : dx + s] for dy in range(3) for dx in range(3)) / 9.0
    d = x - box
    return d - d.mean(axis=(1, 2), keepdims=True)


def detail_correlation(x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> np.ndarray:
    """``(P,)`` float64: for each pair of ``(P, S, S)`` thumbnails, the Pearson correlation of
    their detail images (:func:`_detail`), the largest over the 8 flips / rotations of ``y``.
    A pair where either detail image is flat (a constant or missing thumbnail) scores 1: there
    is nothing to verify (:func:`detail_check` says which pairs those are)."""
    return detail_check(x, y)[0]


#: pairs scored per step: the float64 detail images and their 8 views take ~57 KB a pair, so
#: a collection's hash pairs (millions where many images are alike) are scored in slices
#: (~120 MB at a time) instead of all at once
PAIRS_PER_STEP = 2048


def _in_steps(x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor, view) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """:func:`_best_d4` of each pair under ``view``, :data:`PAIRS_PER_STEP` pairs at a time."""
    p = int(x.shape[0])
    score, checked = np.ones(p), np.zeros(p, dtype=bool)
    for s in range(0, p, PAIRS_PER_STEP):
        part = slice(s, s + PAIRS_PER_STEP)
        score[part], checked[part] = _best_d4(x[part], y[part], view)
    return score, checked


def detail_check(
    x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """``(score, verifiable)``, ``(P,)`` float64 and bool: :func:`detail_correlation`'s score,
    and whether both detail images carry something to compare (False where either is flat: an
    all-zero missing thumbnail of an image under 33 px a side, a uniform picture; the score
    is then 1).  Scored :data:`PAIRS_PER_STEP` pairs at a time."""
    return _in_steps(x, y, _detail)


#: half-width of the window over which :func:`local_detail_check` measures the detail's energy
#: (5 x 5 pixels of the 32 x 32 thumbnail)
LOCAL_RADIUS = 2
#: grey levels added to the local rms before dividing by it: a flat region (rounding noise,
#: black space) stays near zero instead of being blown up to unit contrast
LOCAL_EPS = 1.0


def _local_detail(x: np.ndarray) -> np.ndarray:
    """``(P, S, S)`` float64: the detail image (:func:`_detail`) divided by its local rms (the
    root of the ``5 x 5`` box mean of its square, edges replicated) plus :data:`LOCAL_EPS`,
    centred per image.  Every region then counts by its area, not by its contrast."""
    d = x - _box3(x)
    w = 2 * LOCAL_RADIUS + 1
    p = np.pad(d * d, ((0, 0), (LOCAL_RADIUS, LOCAL_RADIUS), (LOCAL_RADIUS, LOCAL_RADIUS)), mode="edge")
    s = x.shape[-1]
    energy = sum(p[:, dy : dy + s, dx : dx + s] for dy in range(w) for dx in range(w)) / float(w * w)
    z = d / (np.sqrt(energy) + LOCAL_EPS)
    return z - z.mean(axis=(1, 2), keepdims=True)


def local_detail_check(
    x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """``(score, verifiable)`` like :func:`detail_check`, on the detail normalised by its local
    energy (:func:`_local_detail`): the Pearson correlation of the two, the best of the 8 flips /
    rotations of ``y``.  :func:`detail_check` weighs each pixel by its contrast, so the strongest
    edge decides it: two different planets of one render style on black space share the bright
    rim of their lit limb and score 0.83-0.92 there, while their surfaces differ.  Here a region
    counts by its area: a copy agrees everywhere it has detail (>= 0.70 on the planted corpus;
    rotations by 5 degrees and JPEG q5 copies lowest), the two planets do not (<= 0.59)."""
    return _in_steps(x, y, _local_detail)


def _centred(x: np.ndarray) -> np.ndarray:
    """``(P, S, S)`` float64 minus its mean per image (the plain Pearson correlation's view)."""
    return x - x.mean(axis=(1, 2), keepdims=True)


def detail_energy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """``(P,)`` float64: the root mean square of each thumbnail's detail (minus its 3 x 3 box mean,
    as :func:`detail_correlation` reads it), in grey levels: how much a picture shows at 32 x 32
    (a constant 0; a picture cut to 16 x 16 and enlarged 2-4, a photo's median 12).

    Example:
        >>> detail_energy(np.zeros((1, 32, 32), np.uint8)).tolist()
        [0.0]
    """
    xs = np.asarray(x.cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    return np.sqrt((_detail(xs) ** 2).mean(axis=(1, 2)))


def look_check(
    x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """``(score, verifiable)`` like :func:`detail_check`, on the thumbnails themselves: the
    Pearson correlation of the two grey thumbnails, the largest over the 8 flips / rotations
    of ``y`` (1 where either is flat: nothing to compare).  What two pictures share at 32 x 32
    - their layout of light and dark - whatever their detail: a copy, crop, re-encode,
    overlay or small rotation keeps it (>= 0.56 on the planted corpus), two different
    screenshots of one program or two tiles of one panorama need not."""
    return _in_steps(x, y, _centred)


#: grey levels of a thumbnail's plain ground (as the plain-background share counts them)
PLAIN_LEVELS = (5.5, 249.5)
#: fewest interior pixels two thumbnails must share for :func:`interior_detail_check`
MIN_INTERIOR = 16


def _interior(x: np.ndarray) -> np.ndarray:
    """``(P, S, S)`` bool: pixels with no plain-ground pixel (<= 5 or >= 250) in their 3 x 3."""
    plain = (x <= PLAIN_LEVELS[0]) | (x >= PLAIN_LEVELS[1])
    p = np.pad(plain, ((0, 0), (1, 1), (1, 1)), mode="edge")
    s = x.shape[-1]
    near = np.zeros_like(plain)
    for dy in range(3):
        for dx in range(3):
            near |= p[:, dy : dy + s, dx : dx + s]
    return ~near


def interior_detail_check(
    x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """``(score, verifiable)``, ``(P,)``: :func:`detail_correlation` on the pixels inside both
    pictures' drawings only - away (3 x 3) from their plain ground - best over the 8 flips /
    rotations of ``y``; not verifiable (score 1) where fewer than :data:`MIN_INTERIOR` such
    pixels are shared or either detail is flat there.  Two different drawings in one
    silhouette share the strong detail of its outline, which dominates :func:`detail_check`;
    inside it they differ (disc icons of two textures: 0.59-0.70, a copy or a locally edited
    one >= 0.98; docs/quality.md)."""
    xs = np.asarray(x.cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    ys = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y, dtype=np.float64)
    return _interior_score(_box_detail(xs), _interior(xs), _box_detail(ys), _interior(ys))


def _box_detail(x: np.ndarray) -> np.ndarray:
    """``(P, S, S)`` float64 minus its 3 x 3 box mean (not centred: :func:`interior_detail_check`
    centres it on the shared interior)."""
    return x - _box3(x)


def _interior_score(dx: np.ndarray, mx: np.ndarray, dy: np.ndarray, my: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`interior_detail_check` from the two sides' box detail (:func:`_box_detail`) and
    interior masks (:func:`_interior`)."""
    best = np.full(dx.shape[0], -np.inf)
    for t, mt in ((dy, my), (np.swapaxes(dy, 1, 2), np.swapaxes(my, 1, 2))):
        for r in range(4):
            v, m = np.rot90(t, r, axes=(1, 2)), mx & np.rot90(mt, r, axes=(1, 2))
            cnt = m.sum(axis=(1, 2))
            w = m / np.maximum(cnt, 1)[:, None, None]
            a = (dx - (w * dx).sum(axis=(1, 2))[:, None, None]) * m
            b = (v - (w * v).sum(axis=(1, 2))[:, None, None]) * m
            den = np.sqrt((a * a).sum(axis=(1, 2)) * (b * b).sum(axis=(1, 2)))
            ok = (cnt >= MIN_INTERIOR) & (den > 1e-9)
            best = np.where(ok, np.maximum(best, (a * b).sum(axis=(1, 2)) / np.where(ok, den, 1.0)), best)
    checked = np.isfinite(best)
    return np.where(checked, best, 1.0), checked


def _box3(x: np.ndarray) -> np.ndarray:
    """``(P, S, S)`` 3 x 3 box mean, edges replicated (the detail images' low-pass)."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
    s = x.shape[-1]
    return sum(p[:, dy : dy + s, dx : dx + s] for dy in range(3) for dx in range(3)) / 9.0


def _best_d4(
    x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor, view: Callable[[np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    xs = np.asarray(x.cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    ys = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y, dtype=np.float64)
    return _d4_score(view(xs), view(ys))  # both views commute with flips and rotations


def _d4_score(dx: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(score, checked)`` of two ``(P, S, S)`` float64 views: their correlation, best of the 8
    flips / rotations of ``dy`` (1 and unchecked where either is flat)."""
    nx = np.sqrt((dx * dx).sum(axis=(1, 2)))
    ny = np.sqrt((dy * dy).sum(axis=(1, 2)))
    best = np.full(dx.shape[0], -1.0)
    for t in (dy, np.swapaxes(dy, 1, 2)):
        for r in range(4):
            v = np.rot90(t, r, axes=(1, 2))
            best = np.maximum(best, (dx * v).sum(axis=(1, 2)))
    flat = (nx < 1e-9) | (ny < 1e-9)
    return np.where(flat, 1.0, best / np.where(flat, 1.0, nx * ny)), ~flat


# The checks of many pairs that share their images (an icon theme: 126,719 hash pairs among
# 8,813 icons): each image's view computed once, when a pair first needs it, the pairs scored in
# slices; the scores are the pair functions' bit for bit (same float64 operations, same values).
_VIEWS = {"detail": _detail, "local": _local_detail, "box": _box_detail, "interior": _interior}


class ThumbViews:
    """The views of the rows of one ``(R, S, S)`` uint8 thumbnail table (``(N, V, S, S)``:
    row ``i * V + v``), each computed on first use and kept until :meth:`drop`.  ``rows``: the
    only rows that will be asked for (the views are then stored for those alone: a float64 view
    takes 8 KB a row); None: any row."""

    def __init__(self, thumbs: np.ndarray, rows: np.ndarray | None = None) -> None:
        t = np.asarray(thumbs)
        self.table = t.reshape(-1, t.shape[-2], t.shape[-1])
        r = np.arange(self.table.shape[0]) if rows is None else np.unique(np.asarray(rows, dtype=np.int64))
        if r.size and (r[0] < 0 or r[-1] >= self.table.shape[0]):
            raise ValueError(f"rows: between 0 and {self.table.shape[0] - 1}, got {r[0]} to {r[-1]}")
        self.rows = r
        self.values: dict[str, np.ndarray] = {}
        self.done: dict[str, np.ndarray] = {}

    def get(self, kind: str, rows: np.ndarray) -> np.ndarray:
        """``(len(rows), S, S)``: view ``kind`` ("detail", "local", "box" or "interior") of ``rows``."""
        if kind not in _VIEWS:
            raise ValueError(f"kind: one of {sorted(_VIEWS)}, got {kind!r}")
        rows = np.asarray(rows, dtype=np.int64)
        slot = np.minimum(np.searchsorted(self.rows, rows), max(self.rows.size - 1, 0))
        if rows.size and not np.array_equal(self.rows[slot], rows):
            raise ValueError("rows: only the rows these views were made for")
        if kind not in self.values:
            self.values[kind] = np.empty((self.rows.size, *self.table.shape[1:]), dtype=bool if kind == "interior" else np.float64)
            self.done[kind] = np.zeros(self.rows.size, dtype=bool)
        values, done = self.values[kind], self.done[kind]
        todo = np.unique(slot[~done[slot]])
        for s in range(0, todo.size, PAIRS_PER_STEP):
            part = todo[s : s + PAIRS_PER_STEP]
            values[part] = _VIEWS[kind](self.table[self.rows[part]].astype(np.float64))
            done[part] = True
        return values[slot]

    def drop(self, *kinds: str) -> None:
        """Free the views of ``kinds``."""
        for kind in kinds:
            self.values.pop(kind, None)
            self.done.pop(kind, None)


def check_rows(
    vx: ThumbViews, rx: np.ndarray, vy: ThumbViews, ry: np.ndarray, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(score, verifiable)`` of the pairs of rows ``rx[p]`` of ``vx`` and ``ry[p]`` of ``vy``,
    as the pair functions give them for the two thumbnails: ``kind`` "detail"
    (:func:`~.thumbs.detail_check`), "local" (:func:`~.thumbs.local_detail_check`) or "interior"
    (:func:`~.thumbs.interior_detail_check`), :data:`~.thumbs.PAIRS_PER_STEP` pairs at a time."""
    if kind not in ("detail", "local", "interior"):
        raise ValueError(f"kind: 'detail', 'local' or 'interior', got {kind!r}")
    rx, ry = np.asarray(rx, dtype=np.int64), np.asarray(ry, dtype=np.int64)
    if rx.shape != ry.shape:
        raise ValueError(f"rx and ry: one row each per pair, got {rx.shape} and {ry.shape}")
    p = rx.size
    score, checked = np.ones(p), np.zeros(p, dtype=bool)
    for s in range(0, p, PAIRS_PER_STEP):
        a, b = rx[s : s + PAIRS_PER_STEP], ry[s : s + PAIRS_PER_STEP]
        if kind == "interior":
            out = _interior_score(vx.get("box", a), vx.get("interior", a), vy.get("box", b), vy.get("interior", b))
        else:
            out = _d4_score(vx.get(kind, a), vy.get(kind, b))
        score[s : s + PAIRS_PER_STEP], checked[s : s + PAIRS_PER_STEP] = out
    return score, checked
