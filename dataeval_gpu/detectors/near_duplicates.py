"""Near duplicates from hashes and embeddings together, each pair saying which method found it.

Hashes (xxhash for exact copies; a perceptual hash, D4 by default, at a Hamming radius)
find byte copies, re-encodes, resizes, flips and rotations; embeddings (cosine similarity
of the default efficientnet_lite0 features, kNN by :func:`~dataeval_gpu.functional.knn.knn_graph`,
faiss where installed) find crops, re-crops, overlays and colour shifts that move a hash.
Both group with a *centre* rule so that groups do not chain: every member is within the
radius (hash) or above the similarity (embedding) of its group's centre.

The combined groups merge overlapping groups of the three methods (exact, hash,
embedding); :attr:`NearDuplicatesOutput.pairs` lists every pair inside a combined group
with the methods that put the two images in one group of their own, the Hamming distance of
their hashes and the cosine similarity of their embeddings (:mod:`.near_combined`, where
:class:`NearDuplicatesOutput` is defined; it is named here too, as what :meth:`NearDuplicates.evaluate`
returns).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..accumulators.hash_rows import centre_crop, crop_hashable, strip_hashes
from ..batching import as_image
from ..errors import InvalidArgumentError
from ..functional.hashing import near_kind
from ..functional.hashing.colour_cells import colour_cells
from ..functional.knn import knn_graph
from ..output import set_metadata
from .duplicates import Duplicates
from .embedding_pairs import (  # noqa: F401
    ALIGN_COSINE,
    ASPECT_TOLERANCE,
    LOOK_MIN,
    SHAPE_COSINE,
    crop_pairs_ok,
    embedding_pairs_ok,
    look_alike,
    shapes_differ,
)
from .hash_pairs import (  # noqa: F401  (the pair rules' figures, named here as before)
    CHROMA_TOLERANCE,
    ENTROPY_EPS,
    ENTROPY_RATIO,
    LOCAL_VERIFY_MIN,
    PLAIN_RADIUS,
    PLAIN_SHARE,
    SMALL_SIDE,
    SPREAD_EPS,
    SPREAD_RATIO,
    UNVERIFIED_RADIUS,
    VERIFY_MIN,
    PairFigures,
    hash_pairs,
    hash_pairs_ok,
    plain_and_entropy,
    search_pairs,
)
from .identical_rows import class_centre_groups, identical_classes, kept_rows
from .near_combined import NearDuplicatesOutput, centre_groups, combined_output
from .near_search import HashRows, NearSearch
from .pair_figures import (  # noqa: F401  (named here as before)
    channel_spread,
    chroma_signature,
    grey_entropy,
    pixel_mean,
    pixel_std,
    plain_share,
    with_alpha,
)

__all__ = [
    "DEFAULT_CROPS",
    "DEFAULT_EMBEDDING_THRESHOLD",
    "DEFAULT_LOCAL_MARGIN",
    "DEFAULT_RADIUS",
    "ASPECT_TOLERANCE",
    "LOOK_MIN",
    "HashRows",
    "NearSearch",
    "NearDuplicates",
    "NearDuplicatesOutput",
    "PairFigures",
    "embedding_groups",
    "grey_entropy",
    "hash_groups",
    "hash_search",
    "hash_pairs",
    "hash_pairs_ok",
    "look_alike",
    "pixel_mean",
    "pixel_std",
    "plain_share",
    "search_groups",
]

#: default Hamming radius of the D4 perceptual hash (calibrated in docs/quality.md: 4 finds more
#: crops than 2 on the corpus; the pairs of distinct framed pictures and galaxies it added in
#: Stellarium's data are dropped by the thumbnail check, :data:`VERIFY_MIN`; the D4 hash's
#: distances are even, so 3 acts as 2 and 5 as 4)
DEFAULT_RADIUS = 4
#: central fractions of each image hashed besides the whole image: a crop of 5-10 % per side
#: then meets the original's centre (the hashes of a crop and of the whole differ in scale)
DEFAULT_CROPS: tuple[float, ...] = (0.9, 0.8)
#: default cosine similarity of two near-duplicate embeddings (calibrated in docs/quality.md)
DEFAULT_EMBEDDING_THRESHOLD = 0.88
#: local rule of the embedding pairs: a pair must also be this much more similar than each
#: image's ``k``-th nearest neighbour (in a collection of look-alike pictures - planets on
#: black space, product shots - distinct images are all close, and the bar rises with them)
DEFAULT_LOCAL_MARGIN = 0.1
#: ... but a pair at least this similar is kept whatever the neighbourhood
LOCAL_CAP = SHAPE_COSINE


def embedding_groups(
    embeddings: Any,
    threshold: float = DEFAULT_EMBEDDING_THRESHOLD,
    k: int = 10,
    device: str | torch.device | None = None,
    backend: str = "auto",
    margin: float | None = DEFAULT_LOCAL_MARGIN,
    thumbs: np.ndarray | torch.Tensor | None = None,
    sides: np.ndarray | None = None,
    chroma: np.ndarray | None = None,
    opacity: np.ndarray | None = None,
) -> list[list[int]]:
    """Groups of images whose embeddings have cosine similarity ``>= threshold`` with the
    group's centre (the centre rule above, on each image's ``k`` nearest neighbours).

    ``embeddings``: ``(N, D)`` array or tensor.  Rows are L2-normalised first, so the
    Euclidean kNN of :func:`knn_graph` (faiss where installed, else torch) ranks by cosine.
    ``margin``: the local rule - a pair ``(i, j)`` is kept only when its cosine is also at
    least ``margin`` above the cosine of ``i``'s and of ``j``'s ``k``-th nearest neighbour
    (or at least :data:`LOCAL_CAP`); ``None`` (or fewer than ``k + 1`` images) turns it off.
    ``thumbs``: ``(N, V, S, S)`` grey thumbnails (:meth:`NearDuplicates.thumbnails`); a pair is
    then kept only when the two pictures also look alike (:func:`look_alike`, :data:`LOOK_MIN`);
    a pair they cannot compare is kept.  ``sides``: ``(N, 2)`` each image's height and width;
    a pair not compared on thumbnails is then held to :data:`LOCAL_CAP` where the shapes differ
    (:data:`ASPECT_TOLERANCE`) or an image is under 9 px a side.  With both, a neighbour whose
    cosine reaches :data:`ALIGN_COSINE` (the threshold and the local rule aside) is also kept when
    the two are crops of each other at another shape, matched on the thumbnails
    (:func:`crop_pairs_ok`: a phone crop of a wallpaper at any position, a 16:10 preview of 16:9).
    ``chroma``: ``(N, 2)`` mean ``R - G`` / ``B - G`` (0-255); two plain pictures must then also
    agree in colour (:func:`embedding_pairs_ok`).  ``opacity``: ``(N,)`` mean alpha; with ``sides``,
    an image that shows next to nothing pairs only where the thumbnails compared it.  A row with a
    NaN or infinite value (an image with NaN pixels embeds so) is in no group.
    """
    if not 0.0 < float(threshold) <= 1.0:
        raise InvalidArgumentError(f"threshold must be a cosine similarity in (0, 1], got {threshold!r}")
    x = torch.as_tensor(np.asarray(embeddings) if not isinstance(embeddings, torch.Tensor) else embeddings)
    if x.ndim != 2:
        raise InvalidArgumentError(f"embeddings must be (N, D), got shape {tuple(x.shape)}")
    n = x.shape[0]
    if n < 2:
        return []
    finite = torch.isfinite(x).all(dim=1)
    if not bool(finite.all()):  # an image with NaN / inf pixels embeds so: in no group, as the scan's not_clustered
        at = torch.nonzero(finite).flatten().cpu()
        pick = lambda v: None if v is None else (v[at.to(v.device)] if isinstance(v, torch.Tensor) else np.asarray(v)[at.numpy()])  # noqa: E731
        kept = embedding_groups(
            x[finite], threshold, k, device, backend, margin, pick(thumbs), pick(sides), pick(chroma), pick(opacity)
        )
        return [[int(at[i]) for i in g] for g in kept]
    x = x.to(torch.float32)
    x = x / x.norm(dim=1, keepdim=True).clamp(min=1e-12)
    dist, idx = knn_graph(x, min(k, n - 1), device=device, backend=backend)  # type: ignore[arg-type]
    cos = 1.0 - dist.to(torch.float64) ** 2 / 2.0
    keep = cos >= float(threshold) - 1e-6
    rows = torch.arange(n, device=idx.device).view(-1, 1).expand_as(idx)
    if margin is not None and cos.shape[1] >= k:
        background = cos[:, k - 1]  # each image's k-th neighbour: the look-alikes around it
        bar = torch.maximum(background.view(-1, 1), background[idx]) + float(margin)
        keep &= cos >= bar.clamp(max=LOCAL_CAP) - 1e-6
    src, dst, pair_cos = rows[keep].cpu().numpy(), idx[keep].cpu().numpy(), cos[keep].cpu().numpy()
    # a pair the thumbnails cannot compare (an image under 33 px a side, a flat one) is kept:
    # holding it to LOCAL_CAP lost 217 of 916 true pairs of Oxygen's icons at 16-32 px for 3
    # false ones (docs/quality.md) - unless the shapes tell them apart (embedding_pairs_ok)
    sides = None if sides is None else np.asarray(sides, dtype=np.float64).reshape(n, 2)
    ok = embedding_pairs_ok(src, dst, pair_cos, thumbs, sides, chroma, opacity)
    src, dst = src[ok], dst[ok]
    # and any neighbour that is a crop of another shape, aligned on the thumbnails (crop_pairs_ok:
    # below the threshold, or one the look check compared whole against whole)
    rest = (cos >= ALIGN_COSINE - 1e-6) & (idx != rows)
    c_src, c_dst, c_cos = rows[rest].cpu().numpy(), idx[rest].cpu().numpy(), cos[rest].cpu().numpy()
    crop = crop_pairs_ok(c_src, c_dst, c_cos, thumbs, sides)
    return centre_groups(n, np.concatenate([src, c_src[crop]]), np.concatenate([dst, c_dst[crop]]))


def hash_groups(
    full: torch.Tensor,
    valid: torch.Tensor,
    crops: Sequence[tuple[torch.Tensor, torch.Tensor]],
    radius: int,
    chroma: np.ndarray | None = None,
    plain: np.ndarray | None = None,
    entropy: np.ndarray | None = None,
    spread: np.ndarray | None = None,
    thumbs: np.ndarray | torch.Tensor | None = None,
    opacity: np.ndarray | None = None,
    level: np.ndarray | None = None,
    side: np.ndarray | None = None,
    strip: tuple[torch.Tensor, torch.Tensor, np.ndarray | torch.Tensor | None] | None = None,
    hw: np.ndarray | None = None,
    progress: bool | None = None,
    colour: np.ndarray | None = None,
    windows: bool = False,
    cells: np.ndarray | torch.Tensor | None = None,
    collapse: bool = True,
    facts: dict[str, Any] | None = None,
) -> list[list[int]]:
    """Centre-rule groups of images whose hashes are within ``radius``: whole image against
    whole image, and whole image against the central crops of another (``crops``: the
    ``(hashes, valid)`` of each crop fraction, row i for image i).  Crop against crop is not
    compared (two central regions say little about two whole pictures).  With ``chroma``
    (:func:`chroma_signature`), pairs whose colours disagree are dropped first.  With ``plain``
    (:func:`plain_share`), an image with at least :data:`PLAIN_SHARE` clipped pixels matches
    only at Hamming distance 0.  With ``entropy`` (:func:`grey_entropy`), pairs whose grey
    entropies differ by more than :data:`ENTROPY_RATIO` are dropped; with ``spread``
    (:func:`pixel_std`), those whose pixel standard deviations differ by more than
    :data:`SPREAD_RATIO`.  With ``thumbs`` (``(N, 1 + len(crops), S, S)`` uint8, or those rows
    flat: each image's thumbnail, then those of its crops), a pair is kept only when the two matched views'
    :func:`~dataeval_gpu.functional.hashing.thumbs.detail_correlation` reaches
    :data:`VERIFY_MIN` (and :data:`LOCAL_VERIFY_MIN`), and a pair they cannot verify (either view
    flat or without a thumbnail: a dhash) only within :data:`UNVERIFIED_RADIUS`.  With
    ``opacity`` (mean alpha, 1 opaque) two images with a transparent ground whose thumbnails
    verify are not held to the plain-background radius.  With ``entropy`` and ``level``
    (:func:`pixel_mean`) a flat image pairs only at its level; with ``side`` (each image's short
    side) a pair with an image under :data:`SMALL_SIDE` only within :data:`UNVERIFIED_RADIUS`.  With
    ``strip`` (``(hashes, valid, thumbnails)`` of each image's inverse-shape strip,
    :func:`~dataeval_gpu.accumulators.hash_rows.strip_hashes`) and ``hw`` (``(N, 2)`` heights and widths) a whole image is also
    matched against another's strip when it lies the other way
    (:func:`~dataeval_gpu.detectors.hash_pairs.strip_partners`: a phone crop of a wallpaper), with
    the same rules.  With ``colour`` (:func:`channel_spread`) a pair with a grey side skips the
    colour-cast rule.  With ``windows`` (D4 pchashes) also a copy whose D4 hash took another of its
    8 turns, judged as two whole images (:func:`~.turn_pairs.turn_pairs`), and a 90 % window at
    another place or a small turn of another image (:func:`~.window_pairs.window_pairs`).  With ``cells`` (each image's
    ``4 x 4`` cell colours, :func:`~dataeval_gpu.functional.hashing.colour_cells.colour_cells`) two whole
    opaque colour pictures pair only when those agree up to one global colour change.  The pairs are
    :func:`hash_pairs`, their rules :func:`hash_pairs_ok`;
    ``progress``: its bar over the pairs when they are many (None: on a terminal); ``facts``: a dict
    that receives what the window search did (:func:`hash_pairs`).  ``collapse``:
    images whose rows (every argument above) are identical are searched as at most two
    (:mod:`.identical_rows`: the same groups, the searches no longer quadratic in a class of
    identical images); False searches every image.  The arguments are the fields of
    :class:`~.near_search.HashRows` and :class:`~.near_search.NearSearch`: :func:`search_groups`
    takes those two objects."""
    rows = HashRows(
        full, valid, crops, chroma, plain, entropy, spread, thumbs, opacity, level, side, strip, hw, colour, cells,
    )  # fmt: skip
    return search_groups(rows, NearSearch(radius, windows=windows, collapse=collapse, progress=progress), facts)


def search_groups(rows: HashRows, search: NearSearch, facts: dict[str, Any] | None = None) -> list[list[int]]:
    """:func:`hash_groups` on the rows ``rows`` (:class:`~.near_search.HashRows`: its arguments
    but the settings) with the settings ``search`` (:class:`~.near_search.NearSearch`: ``radius``,
    ``windows``, ``collapse``, ``progress``); ``facts``: as :func:`hash_groups`'."""
    label, kept, pairs = hash_search(rows, search, facts)
    if label.size == 0 or int(label.max()) + 1 == label.size:  # no two images alike: every image searched
        return centre_groups(label.size, pairs[:, 0], pairs[:, 1])
    return class_centre_groups(label, kept, pairs)


def hash_search(
    rows: HashRows, search: NearSearch, facts: dict[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pair search of :func:`search_groups` (the same arguments) before its centre rule:
    ``(label, kept, pairs)``, each image's class of identical rows
    (:func:`~.identical_rows.identical_classes`; ``np.arange(N)`` where no two images are alike or
    ``search.collapse`` is False), the images searched (:func:`~.identical_rows.kept_rows`: at most
    two of each class) and :func:`~.hash_pairs.search_pairs`' pairs among them, ``(P, 2)`` indices
    into ``kept``.  The pairs of every image: :func:`~.identical_rows.class_pairs`; the groups:
    :func:`~.identical_rows.class_centre_groups`."""
    n = rows.full.numel()
    label = identical_classes(rows.arrays(), n) if search.collapse and n > 2 else np.arange(n)
    if label.size == 0 or int(label.max()) + 1 == n:  # no two images alike: every image searched
        return label, np.arange(n), search_pairs(rows, search, facts)
    kept = kept_rows(label)
    return label, kept, search_pairs(rows.take(kept), search, facts)


class NearDuplicates:
    """Near duplicates by D4 perceptual hash at a radius plus embedding similarity.

    Args:
        radius: Hamming radius of the perceptual hash (default :data:`DEFAULT_RADIUS`).
        hash: ``"pchash"`` or ``"dhash"``.
        d4: flip/rotation invariant hash (default True).
        embedding_threshold: cosine similarity to a group centre (default
            :data:`DEFAULT_EMBEDDING_THRESHOLD`); ``None`` turns embeddings off.
        k: neighbours per image searched for the embedding groups.
        model: embedding network (default: :func:`~dataeval_gpu.embeddings.default_model`).
        device: where hashes, embeddings and the search run.
        crops: central fractions hashed besides the whole image.
        strip: also hash each image's central crop of the inverse shape (a 16:9 picture's 9:16
            strip, images of 3:2 and longer), matched against whole images of the other
            orientation (:func:`~dataeval_gpu.accumulators.hash_rows.strip_hashes`); default: with
            ``crops``, as the scan (``DataAudit(near_crops=())`` hashes no strips either).
        local_margin: the embedding pairs' local rule (see :func:`embedding_groups`); ``None``: off.
    """

    def __init__(
        self,
        radius: int = DEFAULT_RADIUS,
        hash: str = "pchash",
        d4: bool = True,
        embedding_threshold: float | None = DEFAULT_EMBEDDING_THRESHOLD,
        k: int = 10,
        model: torch.nn.Module | None = None,
        device: str | torch.device | None = None,
        crops: Sequence[float] = DEFAULT_CROPS,
        local_margin: float | None = DEFAULT_LOCAL_MARGIN,
        strip: bool | None = None,
    ) -> None:
        self.hasher = Duplicates(radius=radius, hash=hash, d4=d4, device=device)
        self.crop_hasher = Duplicates(find_exact=False, radius=radius, hash=hash, d4=d4, device=device)
        if any(not 0.0 < float(f) < 1.0 for f in crops):
            raise InvalidArgumentError(f"crops must be central fractions in (0, 1), got {tuple(crops)!r}")
        self.crops = tuple(float(f) for f in crops)
        self.strip = bool(self.crops) if strip is None else bool(strip)
        if embedding_threshold is not None and not 0.0 < float(embedding_threshold) <= 1.0:
            raise InvalidArgumentError(
                f"embedding_threshold must be in (0, 1] or None, got {embedding_threshold!r}"
            )
        if k < 1:
            raise InvalidArgumentError(f"k must be >= 1, got {k}")
        self.embedding_threshold = embedding_threshold
        self.k = int(k)
        self.local_margin = local_margin
        self.model = model
        self.device = device

    def thumbnails(self, images: list[torch.Tensor]) -> torch.Tensor:
        """``(N, 1 + len(crops), THUMB_SIDE, THUMB_SIDE)`` uint8: the grey thumbnails of each
        image and of its central crops, as the scan keeps them (``pchash_thumbs``)."""
        from ..functional.hashing import near_hash_thumbs

        kind = near_kind(self.hasher.hash, self.hasher.d4)
        views = [images, *([centre_crop(t, f) for t in images] for f in self.crops)]
        return torch.stack([near_hash_thumbs(v, kind)[2].cpu() for v in views], dim=1)

    @property
    def search(self) -> NearSearch:
        """The hash search's settings (:class:`~.near_search.NearSearch`) from ``hasher`` as it is now
        (its radius, hash and D4 setting: one built in ``__init__`` kept an old radius set afterwards)."""
        return NearSearch.for_hash(self.hasher.radius, near_kind(self.hasher.hash, self.hasher.d4))

    @set_metadata("dataeval_gpu.detectors", ["crops", "strip", "embedding_threshold", "k", "local_margin"])
    def evaluate(self, images: Any, embeddings: Any = None) -> NearDuplicatesOutput:
        """Group ``images`` (anything :class:`Duplicates` takes).  ``embeddings``: ``(N, D)``
        precomputed features; computed with the default model when ``None`` and embeddings are on."""
        if isinstance(images, torch.Tensor) and images.ndim == 4:
            images = list(images)
        images = [as_image(im, i) for i, im in enumerate(images)]
        hashes = self.hasher.hashes(images)
        dup = self.hasher.evaluate_hashes(hashes)
        n = len(hashes)
        near = dup.near
        thumbs, chroma, opacity = None, None, None
        if hashes.near is not None and hashes.near_valid is not None:
            crops = []
            for f in self.crops:
                ch = self.crop_hasher.hashes([centre_crop(t, f) for t in images])
                ok = ch.near_valid & crop_hashable(images, f).to(ch.near_valid.device)  # CROP_MIN_SIDE
                crops.append((torch.where(ok, ch.near, 0), ok))
            seen = with_alpha(images)  # the quality figures of the images with alpha, once
            thumbs = self.thumbnails(images)
            chroma = chroma_signature(images, seen)
            opacity = np.array([float(seen[i]["opacity"]) if i in seen else 1.0 for i in range(n)])
            rows = HashRows(
                hashes.near,
                hashes.near_valid,
                crops,
                chroma,
                plain_share(images, seen),
                grey_entropy(images, seen),
                pixel_std(images),
                thumbs,
                opacity,
                pixel_mean(images),
                np.array([min(t.shape[-2:]) for t in images], dtype=np.float64),
                strip_hashes(images, near_kind(self.hasher.hash, self.hasher.d4)) if self.strip else None,
                np.array([t.shape[-2:] for t in images], dtype=np.float64).reshape(n, 2),
                colour=channel_spread(images, seen),
                cells=colour_cells(images) if thumbs is not None else None,
            )
            near = search_groups(rows, self.search)
        emb_groups: list[list[int]] = []
        emb = None
        if self.embedding_threshold is not None and n > 1:
            if embeddings is None:
                from ..embeddings import embed

                embeddings = embed(images, model=self.model, device=self.device)
            emb = torch.as_tensor(
                np.asarray(embeddings) if not isinstance(embeddings, torch.Tensor) else embeddings
            )
            if emb.shape[0] != n:
                raise InvalidArgumentError(
                    f"embeddings must have one row per image ({n}), got {emb.shape[0]}"
                )
            emb_groups = embedding_groups(
                emb,
                self.embedding_threshold,
                self.k,
                self.device,
                margin=self.local_margin,
                thumbs=thumbs,
                sides=np.array([t.shape[-2:] for t in images], dtype=np.float64).reshape(n, 2),
                chroma=chroma,
                opacity=opacity,
            )
        return self.combine(n, dup.exact, near, emb_groups, hashes.near, emb)

    @staticmethod
    def combine(
        n: int,
        exact: list[list[int]],
        near: list[list[int]],
        emb_groups: list[list[int]],
        near_hashes: torch.Tensor | None = None,
        embeddings: torch.Tensor | None = None,
    ) -> NearDuplicatesOutput:
        """Merge the method groups and describe every pair inside a merged group."""
        return combined_output(n, exact, near, emb_groups, near_hashes, embeddings)
