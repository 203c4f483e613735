"""DataEval 0.65's ``Duplicates`` detector on batched hashes.

``Duplicates().evaluate(images)`` hashes every image once (xxh3_64 of the raw bytes for
exact copies, a perceptual hash for near copies, on the images' device) and groups the
hashes:

* ``exact``: groups of images with the same xxhash;
* ``near``: groups of images whose perceptual hashes are equal (``radius=0``, exactly
  DataEval 0.65) or lie within Hamming distance ``radius`` of a group centre (see
  :func:`~dataeval_gpu.functional.hashing.radius_groups`), minus the groups that sit
  inside one exact group.

Groups are sorted lists of indices and each list of groups is sorted, as 0.65 returns
them.  ``evaluate(images, reference=other)`` reports only the groups that span both sets
(train/test leakage), each member tagged ``("images", i)`` or ``("reference", j)``.
Hashes computed elsewhere (``imagestats``, the scan accumulator) are reused through
:meth:`Duplicates.from_hashes`.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..batching import iter_batches, resolve_device
from ..errors import InvalidArgumentError
from ..functional.hashing import cross_pairs, equal_groups, hex_to_hash, near_kind, radius_groups
from ..output import OutputMetadata, set_metadata

__all__ = ["Duplicates", "DuplicatesOutput", "ImageHashes"]

Group = list[int] | list[tuple[str, int]]

@dataclass(frozen=True)
class DuplicatesOutput(OutputMetadata):
    """Duplicate groups, DataEval 0.65's ``DuplicatesOutput`` (``.meta()``: what ran, when, for how long).

    Attributes:
        exact: groups of indices of images with identical decoded pixels (xxhash of the array bytes).
        near: groups of indices of images with the same (or, with ``radius > 0``, close)
            perceptual hash that are not inside one exact group.

    In cross-set mode every member is a ``(set name, index)`` tuple instead of an index.
    """

    exact: list[Group]
    near: list[Group]

    def dict(self) -> dict[str, list[Group]]:
        """``{"exact": ..., "near": ...}`` as 0.65's ``.dict()``."""
        return {"exact": self.exact, "near": self.near}


@dataclass(frozen=True)
class ImageHashes:
    """The hashes of one image set, as packed 64-bit ``int64`` tensors.

    Attributes:
        xxhash: ``(N,)`` xxh3_64 of the raw bytes, or ``None`` when not computed.
        near: ``(N,)`` perceptual hashes (of the kind ``kind``), or ``None``.
        near_valid: ``(N,)`` bool, False where an image has no perceptual hash.
        kind: ``"pchash"``, ``"pchash_d4"``, ``"dhash"`` or ``"dhash_d4"``.
    """

    xxhash: torch.Tensor | None
    near: torch.Tensor | None
    near_valid: torch.Tensor | None
    kind: str = "pchash"

    def __len__(self) -> int:
        for t in (self.xxhash, self.near):
            if t is not None:
                return int(t.numel())
        return 0

    @classmethod
    def from_values(
        cls,
        xxhash: Any = None,
        near: Any = None,
        valid: Any = None,
        kind: str = "pchash",
    ) -> ImageHashes:
        """Build from int64 tensors / arrays or from hex strings (``imagestats`` output;
        ``""`` marks an image without a perceptual hash)."""
        xx = _as_hashes(xxhash, "xxhash")[0] if xxhash is not None else None
        nv = None
        ok = None
        if near is not None:
            nv, ok = _as_hashes(near, "pchash")
            if valid is not None:
                ok = ok & _as_bool(valid, "valid")
        if xx is not None and nv is not None and xx.numel() != nv.numel():
            raise InvalidArgumentError(
                f"xxhash and pchash must have one entry per image, got {xx.numel()} and {nv.numel()}"
            )
        return cls(xxhash=xx, near=nv, near_valid=ok, kind=kind)


def _as_bool(values: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(values.cpu() if isinstance(values, torch.Tensor) else values))
    if t.dtype != torch.bool:
        raise InvalidArgumentError(f"{name} must be booleans, got dtype {t.dtype}")
    return t.reshape(-1)


def _as_hashes(values: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(int64 hashes on the CPU, bool valid) from a tensor, an integer array or hex strings."""
    if isinstance(values, torch.Tensor):
        t = values.detach().cpu().reshape(-1)
        if t.dtype == getattr(torch, "uint64", None):
            t = t.view(torch.int64)
    elif isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        t = torch.from_numpy(values.astype(np.int64, copy=False).reshape(-1).copy())
        if values.dtype == np.uint64:
            t = torch.from_numpy(values.reshape(-1).view(np.int64).copy())
    else:
        seq = list(values)
        if not all(v is None or isinstance(v, str) for v in seq):
            raise InvalidArgumentError(
                f"{name} must be int64 hashes or hex strings, got {type(values).__name__}"
            )
        return hex_to_hash(seq)
    if t.dtype != torch.int64:
        raise InvalidArgumentError(f"{name} must be int64 packed hashes, got dtype {t.dtype}")
    return t, torch.ones(t.numel(), dtype=torch.bool)


def _byte_source(raw: Any, tensor: torch.Tensor) -> Any:
    """What xxhash reads for one image: the original numpy array or tensor (its own dtype
    and byte order, as DataEval hashes ``array.ravel().tobytes()``), else the converted
    ``(C, H, W)`` tensor (PIL images and other inputs)."""
    if isinstance(raw, (np.ndarray, torch.Tensor)) and getattr(raw, "dtype", None) is not None:
        if not (isinstance(raw, np.ndarray) and raw.dtype.kind not in "biuf"):
            return raw
    return tensor


class Duplicates:
    """Find exact and near duplicate images (DataEval 0.65 ``Duplicates``).

    Args:
        find_exact: group images with identical decoded pixels (xxhash of the array bytes).
        find_near: group images with the same / close perceptual hash.
        radius: Hamming radius for near groups; 0 reproduces DataEval 0.65 exactly.
            ``docs/duplicates.md`` measures the recall of each radius on real photos.
        hash: ``"pchash"`` (DCT perceptual hash, 0.65's) or ``"dhash"`` (difference hash,
            DataEval 1.x's).
        d4: use the rotation/flip invariant version of the hash (DataEval 1.x ``*_d4``).
        batch_size: images hashed per batch.
        device: where the perceptual hashes are computed (default: where the images are).
        chunk_size: most candidate pairs held at once by the radius search.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> imgs = [rng.integers(0, 256, (3, 32, 32), dtype=np.uint8) for _ in range(4)]
        >>> imgs.append(imgs[1].copy())
        >>> Duplicates().evaluate(imgs).exact
        [[1, 4]]
    """

    def __init__(
        self,
        find_exact: bool = True,
        find_near: bool = True,
        radius: int = 0,
        hash: str = "pchash",
        d4: bool = False,
        *,
        batch_size: int = 64,
        device: str | torch.device | None = None,
        chunk_size: int = 1 << 22,
    ) -> None:
        near_kind(hash)  # raises for an unknown hash
        if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or not 0 <= radius <= 64:
            raise InvalidArgumentError(f"radius must be an integer in 0..64, got {radius!r}")
        if batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
        self.find_exact = bool(find_exact)
        self.find_near = bool(find_near)
        self.radius = int(radius)
        self.hash = near_kind(hash)
        self.d4 = bool(d4)
        self.batch_size = batch_size
        self.device = resolve_device(device) if device is not None else None
        self.chunk_size = chunk_size
        self.stats: Any = None  # 0.65 keeps the hash statistics here (see _get_duplicates)

    @property
    def kind(self) -> str:
        """Name of the near-duplicate hash: ``pchash``, ``pchash_d4``, ``dhash``, ``dhash_d4``."""
        return self.hash + ("_d4" if self.d4 else "")

    # ------------------------------------------------------------------ hashing

    def hashes(self, images: Any) -> ImageHashes:
        """Hash every image of ``images`` (anything :func:`~dataeval_gpu.batching.iter_batches`
        accepts) through the hashing engine (:class:`~dataeval_gpu.accumulators.hashes.HashAccumulator`):
        the xxhash when ``find_exact``, the near hash when ``find_near``."""
        from ..accumulators.hashes import HashAccumulator  # torchmetrics: imported when used (start-up)

        if not (self.find_exact or self.find_near):
            return ImageHashes(xxhash=None, near=None, near_valid=None, kind=self.kind)
        acc = HashAccumulator(
            xxhash=self.find_exact,
            hash=self.hash if self.find_near else None,
            d4=self.d4,
            max_in_flight=4 * self.batch_size,
        )
        for batch in iter_batches(images, self.batch_size, device=self.device, keep_raw=self.find_exact):
            if not len(batch):
                continue
            sources = (
                [_byte_source(r, t) for r, t in zip(batch.raw, batch.images, strict=True)]
                if self.find_exact
                else None
            )
            acc.update(batch.images, batch.indices, sources=sources)
        with warnings.catch_warnings():  # no images at all: torchmetrics warns compute() before update()
            warnings.filterwarnings("ignore", message=r"The ``compute`` method of metric .* before the ``update``")
            out = acc.compute()
        # (N,) each: the accumulator gives a lone image's hash as a 0-d tensor
        return ImageHashes(
            xxhash=out["xxhash"].cpu().reshape(-1) if self.find_exact else None,
            near=out["near"].cpu().reshape(-1) if self.find_near else None,
            near_valid=out["near_valid"].cpu().reshape(-1) if self.find_near else None,
            kind=self.kind,
        )

    def cross_matches(
        self, hashes: ImageHashes, reference: ImageHashes
    ) -> dict[str, torch.Tensor]:
        """Cross-set duplicates on hashes already computed: every pair of an image of
        ``hashes`` and one of ``reference`` with the same bytes (``"exact"``) or with near
        hashes within this detector's ``radius`` (``"near"``; both sets must hold the same
        kind of near hash).  This is the train/test leakage check on hash tensors (no image
        is read; :meth:`hashes` or :class:`~dataeval_gpu.accumulators.hashes.HashAccumulator`
        produce the inputs).

        Returns:
            ``{"exact": (P, 2), "near": (Q, 2)}`` int64 ``[i, j]`` pairs, ``i`` an index into
            ``hashes`` and ``j`` into ``reference``, sorted (empty when not asked for).

        Example:
            >>> import torch
            >>> a = ImageHashes(torch.tensor([1, 2]), torch.tensor([16, 64]), torch.tensor([True, True]))
            >>> b = ImageHashes(torch.tensor([2, 3]), torch.tensor([48, 1]), torch.tensor([True, True]))
            >>> m = Duplicates(radius=1).cross_matches(a, b)
            >>> m["exact"].tolist(), m["near"].tolist()
            ([[1, 0]], [[0, 0]])
        """
        if hashes.near is not None and reference.near is not None and hashes.kind != reference.kind:
            raise InvalidArgumentError(
                f"the two sets hold different near hashes: {hashes.kind!r} and {reference.kind!r}"
            )
        empty = torch.zeros((0, 2), dtype=torch.int64)
        out = {"exact": empty, "near": empty}
        if self.find_exact and hashes.xxhash is not None and reference.xxhash is not None:
            out["exact"] = cross_pairs(hashes.xxhash, reference.xxhash)
        if self.find_near and hashes.near is not None and reference.near is not None:
            out["near"] = cross_pairs(
                hashes.near,
                reference.near,
                self.radius,
                valid=hashes.near_valid,
                reference_valid=reference.near_valid,
                chunk_size=self.chunk_size,
            )
        return out

    # ------------------------------------------------------------------ grouping

    @set_metadata("dataeval_gpu.detectors", ["find_exact", "find_near", "radius", "hash"])
    def evaluate(
        self,
        images: Any,
        reference: Any = None,
        *,
        within: bool = False,
        names: tuple[str, str] = ("images", "reference"),
    ) -> DuplicatesOutput:
        """Duplicate groups of ``images``, or across ``images`` and ``reference``.

        Args:
            images: a sequence of images, a Dataset or a DataLoader.
            reference: a second set (e.g. the test split).  Then only groups that have
                members in both sets are reported (``within=True`` also keeps groups inside
                one set), every member a ``(names[0], i)`` / ``(names[1], j)`` tuple with
                ``i`` / ``j`` the index inside its own set.
            within: with ``reference``, also report groups that stay inside one set.
            names: the tags of the two sets.

        Returns:
            :class:`DuplicatesOutput`.
        """
        mine = self.hashes(images)
        ref = self.hashes(reference) if reference is not None else None
        return self._evaluate(mine, ref, within=within, names=names)

    def from_hashes(
        self,
        xxhash: Any = None,
        pchash: Any = None,
        valid: Any = None,
        *,
        near: Any = None,
        reference: ImageHashes | dict[str, Any] | None = None,
        within: bool = False,
        names: tuple[str, str] = ("images", "reference"),
    ) -> DuplicatesOutput:
        """Duplicate groups from hashes computed elsewhere (no image is read).

        Args:
            xxhash: ``(N,)`` int64 packed xxhashes, or hex strings (``imagestats``).
            pchash: ``(N,)`` int64 packed near hashes of this detector's kind, or hex
                strings (``""`` = no hash).  ``near=`` is the same argument.
            valid: optional ``(N,)`` bool: False where an image has no near hash.
            reference: the hashes of a second set (an :class:`ImageHashes` or a dict with
                the keys ``xxhash``, ``pchash``, ``valid``) for cross-set mode.
            within, names: as in :meth:`evaluate`.

        Either hash may be omitted; that kind of group is then empty.
        """
        if near is not None:
            pchash = near
        if xxhash is None and pchash is None:
            raise InvalidArgumentError(
                "from_hashes needs xxhash= or pchash= (or both); for imagestats output, compute it "
                "with the hashes: imagestats(images, ImageStat.ALL) or ImageStat.ALL_HASHES"
            )
        mine = ImageHashes.from_values(xxhash, pchash, valid, kind=self.kind)
        ref = None
        if reference is not None:
            if isinstance(reference, dict):
                ref = ImageHashes.from_values(
                    reference.get("xxhash"),
                    reference.get("pchash", reference.get("near")),
                    reference.get("valid"),
                    kind=self.kind,
                )
            elif isinstance(reference, ImageHashes):
                ref = reference
            else:
                raise InvalidArgumentError(
                    f"reference must be ImageHashes or a dict of hashes, got {type(reference).__name__}"
                )
        return self._evaluate(mine, ref, within=within, names=names)

    @set_metadata("dataeval_gpu.detectors", ["find_exact", "find_near", "radius", "hash"])
    def evaluate_hashes(
        self,
        hashes: ImageHashes,
        reference: ImageHashes | None = None,
        *,
        within: bool = False,
        names: tuple[str, str] = ("images", "reference"),
    ) -> DuplicatesOutput:
        """:meth:`evaluate` on :class:`ImageHashes` already computed (e.g. by :meth:`hashes`)."""
        return self._evaluate(hashes, reference, within=within, names=names)

    def _get_duplicates(self) -> dict[str, list[list[int]]]:
        """DataEval 0.65's private entry point: group ``self.stats`` (an object or dict
        with ``xxhash`` / ``pchash`` hex-string lists, as ``imagestats`` returns).  As in 0.65,
        the groups are those of the hashes the statistics hold (``find_exact`` / ``find_near``
        choose what :meth:`evaluate` computes, not what this groups)."""
        st = self.stats.dict() if hasattr(self.stats, "dict") else dict(self.stats or {})
        xx, ph = st.get("xxhash"), st.get("pchash")
        both = copy.copy(self)
        both.find_exact = both.find_near = True
        out = both.from_hashes(
            xxhash=xx if xx is not None and len(xx) else None,
            pchash=ph if ph is not None and len(ph) else None,
        )
        return out.dict()  # type: ignore[return-value]

    def _evaluate(
        self,
        mine: ImageHashes,
        ref: ImageHashes | None,
        *,
        within: bool,
        names: tuple[str, str],
    ) -> DuplicatesOutput:
        n_mine = len(mine)
        if ref is not None:
            xx = _cat_optional(mine.xxhash, ref.xxhash, "xxhash")
            nh = _cat_optional(mine.near, ref.near, "near")
            nv = _cat_optional(mine.near_valid, ref.near_valid, "near_valid")
        else:
            xx, nh, nv = mine.xxhash, mine.near, mine.near_valid

        exact = equal_groups(xx) if (self.find_exact and xx is not None and xx.numel()) else []
        near: list[list[int]] = []
        if self.find_near and nh is not None and nh.numel():
            near = radius_groups(nh, self.radius, valid=nv, chunk_size=self.chunk_size)
            near = _drop_inside(near, exact, int(nh.numel()))
        if ref is None:
            return DuplicatesOutput(exact=exact, near=near)

        def tag(groups: list[list[int]]) -> list[Group]:
            out = []
            for g in groups:
                spans = g[0] < n_mine <= g[-1]
                if spans or within:
                    out.append([(names[0], i) if i < n_mine else (names[1], i - n_mine) for i in g])
            return out

        return DuplicatesOutput(exact=tag(exact), near=tag(near))


def _cat_optional(a: torch.Tensor | None, b: torch.Tensor | None, name: str) -> torch.Tensor | None:
    if a is None and b is None:
        return None
    if a is None or b is None:
        raise InvalidArgumentError(f"{name} is given for only one of the two sets")
    return torch.cat([a.cpu(), b.cpu()])


def _drop_inside(near: list[list[int]], exact: list[list[int]], n: int) -> list[list[int]]:
    """0.65's rule: drop the near groups that are a subset of one exact group."""
    if not exact or not near:
        return near
    owner = np.full(n, -1, dtype=np.int64)
    for k, g in enumerate(exact):
        owner[g] = k
    kept = []
    for g in near:
        o = owner[g]
        if not (o[0] >= 0 and np.all(o == o[0])):
            kept.append(g)
    return kept
