"""The rules an embedding pair must pass besides its cosine (:func:`~dataeval_gpu.detectors.near_duplicates.embedding_groups`):
the two pictures look alike on their grey thumbnails (:func:`look_alike`), and a pair the
thumbnails cannot compare keeps its shape (:func:`shapes_differ`)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "ALPHA_DETAIL_MIN",
    "EMPTY_SHARE",
    "FLAT_LEVEL_TOLERANCE",
    "ALIGN_ASPECT",
    "ALIGN_COSINE",
    "ALIGN_MIN",
    "ASPECT_TOLERANCE",
    "LOOK_MIN",
    "LOOK_SURE",
    "SOFT_ALIGN_MIN",
    "TURNED_ALIGN_MIN",
    "SOFT_DETAIL",
    "SHAPE_FAR",
    "SOFT_LOOK_MIN",
    "TURN_MIN",
    "crop_pairs_ok",
    "embedding_pairs_ok",
    "look_alike",
    "look_scores",
    "shapes_differ",
    "shows_little",
]

#: look check of the embedding pairs: the two images' grey 32 x 32 thumbnails (whole image, or
#: whole against the other's central crop; best of the 8 flips / rotations) must correlate at
#: least this much (:func:`~dataeval_gpu.functional.hashing.thumbs.look_check`).  An embedding
#: says what a picture shows; two screenshots of one program, two tiles of one panorama or two
#: diagrams on one grid show the same things but are different pictures (docs/quality.md)
LOOK_MIN = 0.5
#: ... and a pair that looks alike only below this must be one picture turned by a few degrees:
#: its thumbnails, one turned against the other (:func:`~dataeval_gpu.functional.hashing.align.rotated_correlation`),
#: must correlate at :data:`TURN_MIN`.  Two states of one dialog, two screenshots of one program,
#: two results of one demo look 0.54-0.69 at 32 x 32 (their embeddings 0.93-0.98: the model
#: reads what they show) and stay at 0.48-0.64 turned; a photo turned by 5 degrees and cropped
#: inside its border looks 0.56-0.77 and 0.95-0.97 turned back; every other planted copy looks
#: >= 0.78 (docs/duplicates.md)
LOOK_SURE = 0.75
TURN_MIN = 0.85
#: an embedding pair the thumbnails cannot compare (a flat one, no thumbnails, an image under
#: 33 px a side against one whose thumbnail was made another way) rests on the embeddings alone, which see a picture squeezed to the model's square:
#: such a pair needs :data:`~dataeval_gpu.detectors.near_duplicates.LOCAL_CAP` when the two images'
#: shapes (long side / short side) differ by more than this factor or either is under ``MIN_SIDE``
#: (9 px) a side.  Copies, re-encodes, resizes, flips, rotations and 5-10 % crops
#: keep the shape (a crop of another shape is aligned on the thumbnails: :func:`crop_pairs_ok`);
#: three smooth gradients of 40 x 30, 33 x 33 and 10000 x 20 px (cosines 0.63-0.91) were grouped
#: by embeddings, and Stellarium's 2 x 1024 ring textures paired with its 64 x 64 pointer sprites
#: at cosine 0.951 (the cap), the model seeing a blank square in each
ASPECT_TOLERANCE = 1.25
#: ... and dropped when the shapes differ by more than this factor (a 2 x 1024 strip against a
#: square), whatever the cosine
SHAPE_FAR = 2.0
#: two soft pictures (each whole thumbnail's detail energy under :data:`SOFT_DETAIL` grey levels,
#: :func:`~dataeval_gpu.functional.hashing.thumbs.detail_energy`: a picture cut to 16 x 16 and
#: enlarged, a smooth gradient) show an embedding model little besides their softness: two
#: pixelated thumbnails of different pictures reached cosine 0.88 with a look of 0.52.  Such a pair
#: must look alike at :data:`SOFT_LOOK_MIN` (soft true pairs of the planted corpus: >= 0.94)
SOFT_DETAIL = 4.5
SOFT_LOOK_MIN = 0.8
#: the cosine that a pair the shapes tell apart needs (``near_duplicates.LOCAL_CAP``)
SHAPE_COSINE = 0.95
#: crops of another shape (:func:`crop_pairs_ok`): an embedding neighbour at this cosine or more
#: (below the threshold: a phone crop of a wallpaper shows a third of it; true pairs of Plasma's
#: wallpapers 0.55-0.96) whose shape (width / height) differs by more than :data:`ALIGN_ASPECT`
#: is a near duplicate when its whole thumbnail matches a window of the other's where it would lie
#: as a crop (:func:`~dataeval_gpu.functional.hashing.align.aligned_correlation`) at
#: :data:`ALIGN_MIN` (those true pairs 0.954-1.0, distinct wallpapers among the neighbours <= 0.87)
ALIGN_COSINE = 0.5
ALIGN_MIN = 0.95
#: 16:10 against 16:9 is 1.11x; closer shapes are the resizes the hashes and the look check judge
ALIGN_ASPECT = 1.05
#: ... and two soft pictures (:data:`SOFT_DETAIL`) must match at this: two smooth glows of
#: Stellarium's textures (a halo, the zodiacal light) aligned at 0.950; soft true crops of the
#: wallpapers (Kay's dark picture, Opal's preview) at 0.988-0.996
SOFT_ALIGN_MIN = 0.98
#: ... and a crop of the picture turned by 90 or 180 degrees or mirrored (the other seven
#: orientations of the D4 group the hashes already match: Plasma's Shell ships its 720 x 1440
#: phone picture as a crop of the landscape turned by 90 degrees, aligned at 0.999) must match at
#: this: on the neighbours of the 604 photos, the wallpapers and Stellarium's textures the other
#: orientations aligned distinct pictures at up to 0.950 (contour drawings against a trackbar
#: screenshot) where the unturned alignment had them at 0.585
TURNED_ALIGN_MIN = 0.98
#: two plain images (each whole thumbnail within 2 grey levels everywhere: a blank frame, a flat
#: colour; both at least ``hash_pairs.SMALL_SIDE`` a side, so that the thumbnails are made, not
#: blank) give the look check nothing to compare, and an embedding model sees two blank squares:
#: (172, 47, 117) and (36, 87, 70) flat were paired at cosine 0.9+.  Such a pair is kept only when
#: the two grey levels are within this many levels (a re-encode moves a flat level by under 1), as
#: a flat image's hash pair (``hash_pairs.LEVEL_TOLERANCE``) - and, where the images' mean colour
#: casts are known (``chroma``), when those agree too (``hash_pairs.CHROMA_TOLERANCE``, as a hash
#: pair's): the thumbnails are grey, so a flat (200, 100, 100) and a flat (100, 100, 200), both of
#: grey level 133, were one embedding group
FLAT_LEVEL_TOLERANCE = 2.5
#: two images with a transparent ground (``opacity`` below 1) are looked at on the grey image beneath
#: their alpha, where the ground's hidden colour against the drawing makes one large step that the
#: look check's correlation follows: Stellarium's panorama slices (a transparent sky over different
#: fields) looked 0.90 alike and its planet ground textures (a transparent sky over flat beige,
#: yellow, blue) 0.74-0.98, with a detail correlation (``thumbs.detail_check``) of 0.05-0.28.  Such
#: a pair must also agree in detail at this (a copy of a drawing keeps its detail: the hash pairs'
#: verification asks 0.8 of it)
ALPHA_DETAIL_MIN = 0.5
#: an image whose mean alpha is under this shows next to nothing to the embedding model (composited
#: on mid grey): it pairs by embedding only where the thumbnails compared it (:func:`shows_little`).
#: Icons and sprites show 10-60 % of their frame; Stellarium's ring textures 0.6-0.8 %
EMPTY_SHARE = 0.02


def embedding_pairs_ok(
    src: np.ndarray,
    dst: np.ndarray,
    cos: np.ndarray,
    thumbs: np.ndarray | torch.Tensor | None = None,
    sides: np.ndarray | None = None,
    chroma: np.ndarray | None = None,
    opacity: np.ndarray | None = None,
) -> np.ndarray:
    """``(P,)`` bool: the embedding pairs ``(src[p], dst[p])`` of cosine ``cos[p]`` that pass the
    rules besides the cosine threshold: they look alike (:func:`look_alike`, with ``thumbs``; two soft
    pictures at :data:`SOFT_LOOK_MIN`; two plain pictures at one grey level, and with ``chroma``,
    ``(N, 2)`` mean ``R - G`` / ``B - G`` on the 0-255 scale, of one colour cast:
    :data:`FLAT_LEVEL_TOLERANCE`); a pair the thumbnails did not compare is not kept when either image,
    with ``opacity`` (``(N,)`` mean alpha) and ``sides``, shows under :data:`EMPTY_SHARE` of its frame
    (the model saw a grey square: :func:`shows_little`); two images with a transparent ground
    (``opacity`` below 1) also agree in detail (:data:`ALPHA_DETAIL_MIN`); and a
    pair the thumbnails could not compare (a flat one, or two made two ways:
    :func:`~dataeval_gpu.detectors.hash_pairs.thumbs_comparable`) whose shapes differ
    (:func:`shapes_differ`, with
    ``sides``: ``(N, 2)`` heights and widths) has a cosine of at least :data:`SHAPE_COSINE`.  The one
    copy of these rules: a scan / :class:`NearDuplicates` (``embedding_groups``), ``--against``
    and ``scan --embeddings FILE.npy`` all keep exactly these pairs."""
    src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    keep = np.ones(src.size, dtype=bool)
    checked = np.zeros(src.size, dtype=bool)
    s = None if sides is None else np.asarray(sides, dtype=np.float64).reshape(-1, 2)
    if thumbs is not None and src.size:
        best, checked = look_scores(thumbs, src, dst)
        if s is not None:  # thumbnails made two ways (an enlarged small square): not compared
            from .hash_pairs import thumbs_comparable

            checked &= thumbs_comparable(s[src].min(axis=1), s[dst].min(axis=1))[0]
        keep = ~checked | (best >= LOOK_MIN)
        unsure = checked & keep & (best < LOOK_SURE)
        if s is not None:  # thumbnails of a hash square (a small image's is enlarged: 1 px moves it)
            from .hash_pairs import SMALL_SIDE

            unsure &= (s[src].min(axis=1) >= SMALL_SIDE) & (s[dst].min(axis=1) >= SMALL_SIDE)
        unsure = np.nonzero(unsure)[0]
        if unsure.size:  # alike only in part: one picture turned by a few degrees?
            keep[unsure] = _turned(thumbs, src[unsure], dst[unsure], s)
        soft = checked & _soft(thumbs, src) & _soft(thumbs, dst)
        keep &= ~soft | (best >= SOFT_LOOK_MIN)  # two soft pictures: the look must say more
        if opacity is not None:  # two drawings on transparent: the step of the hidden ground is no look
            a = np.asarray(opacity, dtype=np.float64)
            both = np.nonzero(keep & checked & (a[src] < 1.0) & (a[dst] < 1.0))[0]
            if both.size:
                keep[both] = _detail_scores(thumbs, src[both], dst[both]) >= ALPHA_DETAIL_MIN
    if thumbs is not None and s is not None and src.size:
        keep &= _flat_levels_agree(thumbs, src, dst, s, chroma)
    if s is not None and src.size:
        # nothing compared them: a copy keeps its shape (a crop of another shape is aligned on
        # the thumbnails, crop_pairs_ok), a pair of shapes apart needs SHAPE_COSINE, and one of
        # shapes far apart (SHAPE_FAR) is not a copy whatever the cosine
        odd = ~checked & shapes_differ(s, src, dst)
        keep &= ~odd | (np.asarray(cos, dtype=np.float64) >= SHAPE_COSINE - 1e-6)
        keep &= checked | ~_far_shapes(s, src, dst)
        if opacity is not None:  # nothing compared them, and one shows next to nothing
            little = shows_little(opacity)
            keep &= checked | ~(little[src] | little[dst])
    return keep


def shows_little(opacity: np.ndarray) -> np.ndarray:
    """``(N,)`` bool: the image shows under :data:`EMPTY_SHARE` of its frame (mean alpha ``opacity``).
    It is embedded composited on mid grey: the model sees a grey square, and two such images embed
    alike whatever they hold (Stellarium's 1024 x 2 ring textures of Neptune and Uranus, 0.6-0.8 %
    opaque: one embedding group)."""
    return np.asarray(opacity, dtype=np.float64) < EMPTY_SHARE


def _flat_levels_agree(
    thumbs: np.ndarray | torch.Tensor,
    src: np.ndarray,
    dst: np.ndarray,
    sides: np.ndarray,
    chroma: np.ndarray | None = None,
) -> np.ndarray:
    """``(P,)`` bool: False for a pair of two plain images (:data:`FLAT_LEVEL_TOLERANCE`) whose
    grey levels differ, or (``chroma``: ``(N, 2)``) whose colour casts differ
    (``hash_pairs.chroma_close``); True otherwise."""
    from ..functional.hashing.thumbs import THUMB_SIDE
    from .hash_pairs import SMALL_SIDE, chroma_close

    t = thumbs.cpu().numpy() if isinstance(thumbs, torch.Tensor) else np.asarray(thumbs)
    t = t.reshape(t.shape[0], -1, THUMB_SIDE * THUMB_SIDE)
    rows = np.unique(np.concatenate([src, dst]))
    whole = t[rows, 0].astype(np.int16)  # the rows in a pair only (not every image's thumbnail)
    lo, hi = whole.min(axis=1), whole.max(axis=1)
    plain = np.zeros(t.shape[0], dtype=bool)
    level = np.zeros(t.shape[0])
    plain[rows] = (hi - lo <= 2) & (sides[rows].min(axis=1) >= SMALL_SIDE)
    level[rows] = whole.mean(axis=1)
    both = plain[src] & plain[dst]
    same = np.abs(level[src] - level[dst]) <= FLAT_LEVEL_TOLERANCE
    if chroma is not None:  # the thumbnails are grey: one grey level in two hues is two pictures
        c = np.asarray(chroma, dtype=np.float64).reshape(-1, 2)
        same &= chroma_close(c[src], c[dst])
    return ~both | same


def shapes_differ(
    sides: np.ndarray, src: np.ndarray, dst: np.ndarray, tolerance: float = ASPECT_TOLERANCE
) -> np.ndarray:
    """``(P,)`` bool: the two images' shapes (long / short side, any orientation) differ by more
    than ``tolerance`` (:data:`ASPECT_TOLERANCE`), or either is under ``MIN_SIDE`` a side."""
    from ..functional.hashing import MIN_SIDE

    short, long = sides.min(axis=1), sides.max(axis=1)
    aspect = long / np.maximum(short, 1.0)
    lo, hi = np.minimum(aspect[src], aspect[dst]), np.maximum(aspect[src], aspect[dst])
    return (hi > tolerance * lo) | (short[src] < MIN_SIDE) | (short[dst] < MIN_SIDE)


def _far_shapes(sides: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``(P,)`` bool: the two images' shapes (long / short side) differ by more than :data:`SHAPE_FAR`."""
    aspect = sides.max(axis=1) / np.maximum(sides.min(axis=1), 1.0)
    return np.maximum(aspect[src], aspect[dst]) > SHAPE_FAR * np.minimum(aspect[src], aspect[dst])


def _detail_scores(thumbs: np.ndarray | torch.Tensor, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``(P,)`` float64: the detail correlation of the two whole thumbnails (best of the 8 flips /
    rotations, ``thumbs.detail_check``; 1 where either is flat: nothing to tell)."""
    from ..functional.hashing.thumbs import THUMB_SIDE, detail_check

    t = thumbs.cpu().numpy() if isinstance(thumbs, torch.Tensor) else np.asarray(thumbs)
    t = t.reshape(t.shape[0], -1, THUMB_SIDE, THUMB_SIDE)[:, 0]
    score, ok = detail_check(t[first].astype(np.float64), t[second].astype(np.float64))
    return np.where(ok, score, 1.0)


def _soft(thumbs: np.ndarray | torch.Tensor, rows: np.ndarray) -> np.ndarray:
    """``(P,)`` bool: the whole thumbnail of image ``rows[p]`` is soft (:data:`SOFT_DETAIL`)."""
    from ..functional.hashing.thumbs import THUMB_SIDE, detail_energy

    t = thumbs.cpu().numpy() if isinstance(thumbs, torch.Tensor) else np.asarray(thumbs)
    return detail_energy(t.reshape(t.shape[0], -1, THUMB_SIDE, THUMB_SIDE)[rows, 0]) < SOFT_DETAIL


def _turned(thumbs: np.ndarray | torch.Tensor, first: np.ndarray, second: np.ndarray, sides: np.ndarray | None) -> np.ndarray:
    """``(P,)`` bool: the whole thumbnails of each pair match with one turned by a few degrees
    (:func:`~dataeval_gpu.functional.hashing.align.rotated_correlation`) at :data:`TURN_MIN`.  The
    turn is placed by the images' heights and widths (``sides``); without them the thumbnails are
    taken as square pictures (a turned copy still scores 0.88 and more on the planted corpus)."""
    from ..functional.hashing.align import rotated_correlation
    from ..functional.hashing.thumbs import THUMB_SIDE

    t = thumbs.cpu().numpy() if isinstance(thumbs, torch.Tensor) else np.asarray(thumbs)
    t = t.reshape(t.shape[0], -1, THUMB_SIDE, THUMB_SIDE)[:, 0]
    hw = np.ones((t.shape[0], 2)) if sides is None else sides
    score, checked = rotated_correlation(t[first], hw[first], t[second], hw[second])
    return checked & (score >= TURN_MIN)


def look_scores(
    thumbs: np.ndarray | torch.Tensor, first: np.ndarray, second: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(best, checked)``, ``(P,)`` float64 and bool: the best
    :func:`~dataeval_gpu.functional.hashing.thumbs.look_check` of whole against whole and of a whole
    image against the other's central crop (``thumbs`` as :func:`look_alike` reads them; -inf where
    nothing was compared), and whether any view pair could be compared."""
    from ..functional.hashing.thumbs import THUMB_SIDE, look_check

    t = thumbs.cpu().numpy() if isinstance(thumbs, torch.Tensor) else np.asarray(thumbs)
    t = t.reshape(t.shape[0], -1, THUMB_SIDE, THUMB_SIDE)
    a, b = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
    best = np.full(a.size, -np.inf)
    checked = np.zeros(a.size, dtype=bool)
    views = [(0, 0), *((0, v) for v in range(1, t.shape[1])), *((v, 0) for v in range(1, t.shape[1]))]
    for vi, vj in views:
        score, ok = look_check(t[a, vi], t[b, vj])
        best = np.where(ok, np.maximum(best, score), best)
        checked |= ok
    return best, checked


def look_alike(
    thumbs: np.ndarray | torch.Tensor, first: np.ndarray, second: np.ndarray, minimum: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(alike, checked)``, ``(P,)`` bool: which pairs ``(first[p], second[p])`` look alike at
    thumbnail size, and which could be compared at all.

    ``thumbs``: ``(N, V, S, S)`` uint8 (or those rows flat), each image's grey thumbnail and
    those of its central crops (:meth:`NearDuplicates.thumbnails`, the scan's ``pchash_thumbs``).
    A pair passes when :func:`~dataeval_gpu.functional.hashing.thumbs.look_check` of whole
    against whole, or of a whole image against the other's central crop, reaches
    :data:`LOOK_MIN` (or ``minimum``); ``checked`` is False where no view pair can be compared (a flat or
    missing thumbnail; ``alike`` is then True)."""
    best, checked = look_scores(thumbs, first, second)
    return ~checked | (best >= (LOOK_MIN if minimum is None else minimum)), checked


def crop_pairs_ok(
    src: np.ndarray,
    dst: np.ndarray,
    cos: np.ndarray,
    thumbs: np.ndarray | torch.Tensor | None,
    sides: np.ndarray | None,
) -> np.ndarray:
    """``(P,)`` bool: the embedding neighbours ``(src[p], dst[p])`` (cosine ``cos[p]``, any, below
    the threshold included) that are crops of each other at another shape: cosine at least
    :data:`ALIGN_COSINE`, shapes (width / height, ``sides``: ``(N, 2)`` heights and widths)
    differing by more than :data:`ALIGN_ASPECT`, both at least ``SMALL_SIDE`` px a side (a 32 x 32
    hash square behind the thumbnail), and one whole thumbnail (view 0 of ``thumbs``) matching a
    window of the other's at :data:`ALIGN_MIN` (two soft pictures: :data:`SOFT_ALIGN_MIN`)
    (:func:`~dataeval_gpu.functional.hashing.align.aligned_correlation`: a phone crop at any
    position, a 16:10 preview of a 16:9 picture), or in another orientation of the D4 group
    (turned by 90 / 180 degrees, mirrored) at :data:`TURNED_ALIGN_MIN`.  All False without thumbnails or sides."""
    from ..functional.hashing.align import aligned_correlation
    from ..functional.hashing.thumbs import THUMB_SIDE
    from .hash_pairs import SMALL_SIDE

    src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    keep = np.zeros(src.size, dtype=bool)
    if thumbs is None or sides is None or not src.size:
        return keep
    s = np.asarray(sides, dtype=np.float64).reshape(-1, 2)
    shape = s[:, 1] / np.maximum(s[:, 0], 1.0)
    ratio = np.maximum(shape[src], shape[dst]) / np.maximum(np.minimum(shape[src], shape[dst]), 1e-12)
    big = (s.min(axis=1)[src] >= SMALL_SIDE) & (s.min(axis=1)[dst] >= SMALL_SIDE)
    at = np.nonzero((np.asarray(cos, dtype=np.float64) >= ALIGN_COSINE - 1e-6) & (ratio > ALIGN_ASPECT) & big)[0]
    if at.size:
        t = thumbs.cpu().numpy() if isinstance(thumbs, torch.Tensor) else np.asarray(thumbs)
        t = t.reshape(t.shape[0], -1, THUMB_SIDE, THUMB_SIDE)[:, 0]
        # each unordered pair once (a kNN list holds most both ways; the score is symmetric)
        lo, hi = np.minimum(src[at], dst[at]), np.maximum(src[at], dst[at])
        code, inverse = np.unique(lo * s.shape[0] + hi, return_inverse=True)
        a, b = code // s.shape[0], code % s.shape[0]
        score, checked = aligned_correlation(t[a], s[a], t[b], s[b])
        bar = np.where(_soft(thumbs, a) & _soft(thumbs, b), SOFT_ALIGN_MIN, ALIGN_MIN)
        ok = checked & (score >= bar)
        rest = np.nonzero(~ok)[0]
        if rest.size:  # a crop of the picture turned by 90 / 180 degrees or mirrored
            ok[rest] = _turned_crop(t[a[rest]], s[a[rest]], t[b[rest]], s[b[rest]]) >= TURNED_ALIGN_MIN
        keep[at] = ok[inverse.reshape(-1)]
    return keep


def _turned_crop(x: np.ndarray, hw_x: np.ndarray, y: np.ndarray, hw_y: np.ndarray) -> np.ndarray:
    """``(P,)`` float64: the best :func:`~dataeval_gpu.functional.hashing.align.aligned_correlation`
    of the thumbnails ``x`` (``(P, S, S)``, images of heights and widths ``hw_x``) in the seven
    other orientations of the D4 group (turned by 90, 180 or 270 degrees, those three
    mirrored; the picture mirrored) against ``y`` (-inf where nothing was compared).  A thumbnail squeezes its image to
    the square, so the image turned by 90 degrees has the thumbnail turned and its sides swapped."""
    from ..functional.hashing.align import aligned_correlation

    best = np.full(len(x), -np.inf)
    for k in range(4):
        for mirror in (False, True):
            if k == 0 and not mirror:
                continue
            v = np.rot90(x, k, axes=(1, 2))
            v = np.ascontiguousarray(v[:, :, ::-1] if mirror else v)
            score, _ = aligned_correlation(v, hw_x if k % 2 == 0 else hw_x[:, ::-1], y, hw_y)
            best = np.maximum(best, score)
    return best
