"""Near hashes on the CPU: the compiled kernels (:mod:`.compiled`) and the streaming hasher.

:class:`CpuHasher` queues one task per image on the shared thread pool (xxhash of its bytes,
then the compiled grey + resize kernel, which releases the GIL), so batches overlap and no
batch waits for its slowest image; with a pool of one thread (torch at one thread, as in a
scan's worker process) it runs each task inline instead (the caller would only wait for it).  It keeps only the 8-byte results: finished tasks are
drained in submission order as new ones are queued (at most ``max_in_flight`` pending), and
their small resized images wait in a per-size buffer of at most ``flush_size`` images
before the hash kernel turns them into 64-bit hashes.  Memory is ``O(N x 17 B)`` plus a
bounded window of images in flight.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np
import torch

from ...errors import ImageShapeError
from ...parallel import executor, single_intra_op_thread, worker_count
from . import compiled as rcpu
from .exact import xxhash_of
from .grey import grey8, hash_grey8
from .kernels import MIN_SIDE, NEAR_HASHES, HashSpec
from .resample import grid_round, pillow_resize, vertical_first
from .thumbs import THUMB_SIDE, thumbnails_from_small

__all__ = ["CpuHasher", "CpuPlan", "compiled_ready", "cpu_near_plan"]


def compiled_ready() -> bool:
    """True when the compiled CPU kernels run here (numba importable and compiling)."""
    return rcpu.ready()


Run = Callable[[np.ndarray, bool, "rcpu.Box | None"], "np.ndarray | None"]


def _parent_box(image: torch.Tensor) -> tuple[np.ndarray, rcpu.Box | None]:
    """A uint8 ``(C, H, W)`` image as the kernels read it: a contiguous one as itself (box None),
    a strided view of rows of a contiguous buffer (a central crop) as that buffer, C-contiguous
    ``(N, S_c / S_h, S_h)`` from the storage's start, and the crop's box ``(c0, y0, x0, C, H, W)``
    in it: read in place (copying a crop first cost ~15-60 % of hashing it) and one compiled
    layout per kernel.  Other strides: the image (the kernel wrapper copies it)."""
    if image.is_contiguous():
        return image.numpy(), None
    c, h, w = image.shape
    s_c, s_h, s_w = image.stride()
    if s_w != 1 or s_h < w or s_c % s_h or s_c < s_h * h:  # not whole rows of a contiguous buffer
        return image.numpy(), None
    c0, rest = divmod(image.storage_offset(), s_c)
    y0, x0 = divmod(rest, s_h)
    n = image.untyped_storage().nbytes() // s_c  # uint8: one byte per element
    if x0 + w > s_h or y0 + h > s_c // s_h or c0 + c > n:
        return image.numpy(), None
    parent = image.as_strided((n, s_c // s_h, s_h), (s_c, s_h, 1), 0)
    return parent.numpy(), (int(c0), int(y0), int(x0), int(c), int(h), int(w))


def _compiled_small(image: torch.Tensor, run: Run, grey: str = "mean") -> np.ndarray:
    """One compiled resize of a CPU ``(C, H, W)`` image: 8-bit images of bit depth 8 go to
    ``run(pixels, need_depth8=True, box)`` in one pass (grey fused into it; a crop read in place,
    :func:`_parent_box`); every other image (other dtypes, > 16 channels, dark images 0.65
    rescales) through :func:`~.grey.hash_grey8` (``grey``: the hash's) first."""
    if image.dtype == torch.uint8 and image.shape[0] <= 16:
        pixels, box = _parent_box(image)
        small = run(pixels, True, box)
        if small is not None:
            return small
    one = hash_grey8(image[None], grey).to(torch.uint8).contiguous().numpy()  # (1, H, W), 0..255
    return run(one, False, None)


def small_grey_cpu(image: torch.Tensor, out_h: int, out_w: int) -> np.ndarray:
    """The ``(out_h, out_w)`` uint8 image 0.65 hashes (grey, then Pillow's LANCZOS, byte for
    byte) for one CPU image."""
    _, h, w = image.shape
    if out_h >= h or out_w >= w:  # Pillow skips a pass whose size does not change
        return pillow_resize(grey8(image[None]), out_h, out_w)[0].to(torch.uint8).numpy()
    vfirst = vertical_first(h, w, out_h, out_w, "auto")
    return _compiled_small(image, lambda x, d8, box: rcpu.grey_lanczos_u8(x, out_h, out_w, vfirst, d8, box))


def small_exact_cpu(image: torch.Tensor, out_h: int, out_w: int, grey: str = "luma") -> np.ndarray:
    """``symmetric_resize``'s input to the D4 hashes for one CPU image, unscaled: the exact
    int64 ``M_v @ grey @ M_h^T`` (see ``compiled.grey_lanczos_exact``) of the ``grey``
    (the D4 hashes': ``"luma"``, :func:`~.grey.luma8`; ``"mean"``: 0.65's channel mean)."""
    luma = grey == "luma"
    return _compiled_small(
        image, lambda x, d8, box: rcpu.grey_lanczos_exact(x, out_h, out_w, d8, box, luma and d8), grey
    )


class CpuPlan:
    """How :class:`CpuHasher` makes one near hash on the CPU (a :class:`HashSpec` plus its
    compiled per-image step)."""

    def __init__(self, spec: HashSpec) -> None:
        self.spec = spec
        self.side = spec.side
        self.kernel = spec.kernel
        self.exact = spec.exact
        self.grey = spec.grey

    def small(self, image: torch.Tensor, out_h: int, out_w: int) -> np.ndarray:
        """The compiled per-image step (runs on a pool thread, releases the GIL)."""
        if self.exact:
            return small_exact_cpu(image, out_h, out_w, self.grey)
        if self.grey != "mean":
            raise NotImplementedError("the plain (Pillow 8-bit) resize reads 0.65's channel mean only")
        return small_grey_cpu(image, out_h, out_w)

    def finish(self, stack: np.ndarray) -> torch.Tensor:
        """Hashes of a stack of equal-sized small images."""
        return self.kernel(self.squares(stack))

    def squares(self, stack: np.ndarray) -> torch.Tensor:
        """The float64 resized squares the kernel reads (0..255 scale) of a stack of small images."""
        t = torch.from_numpy(stack).to(torch.float64)  # |values| < 2**53: exact
        return grid_round(t) if self.exact else t


def cpu_near_plan(hash: str, d4: bool = False) -> CpuPlan | None:
    """The :class:`CpuPlan` of a near hash (``"pchash"`` / ``"dhash"``, D4 or not, or a
    table name such as ``"dhash_d4"``), or None when the compiled kernels are not available
    (no numba)."""
    if not compiled_ready():
        return None
    name = hash if hash.endswith("_d4") else hash + ("_d4" if d4 else "")
    spec = NEAR_HASHES.get(name)
    return CpuPlan(spec) if spec is not None else None


class CpuHasher:
    """Hashes CPU images on the shared thread pool, streaming, keeping only the hashes.

    Args:
        exact: compute the xxhash of each image's bytes.
        near: the near hash (:func:`cpu_near_plan`), or None.
        max_in_flight: most images queued at once (bounds the memory held by pending work).
        flush_size: most finished small images buffered per output size before the hash
            kernel runs on them.
        thumbs: also keep each image's grey thumbnail (:mod:`.thumbs`: the hash's resized
            square rounded to 8 bits, 1 KB), read after :meth:`result` with :meth:`thumbnails`.
    """

    def __init__(
        self,
        exact: bool,
        near: CpuPlan | None,
        max_in_flight: int = 256,
        flush_size: int = 256,
        thumbs: bool = False,
    ) -> None:
        self.exact = exact
        self.near = near
        self.thumbs = bool(thumbs) and near is not None
        self._thumbs: dict[int, np.ndarray] = {}
        self._thumb_result: torch.Tensor | None = None
        self.max_in_flight = max(1, max_in_flight)
        self.flush_size = max(1, flush_size)
        # the pool size only; the shared pool is fetched at each submission, since asking for
        # another size elsewhere shuts the previous pool down (it would take no more work)
        self._workers = worker_count()
        self._pending: deque[Future] = deque()
        self._xx = array("q")
        self._near = array("q")
        self._valid = bytearray()
        self._buffers: dict[tuple[int, int], tuple[list[int], list[np.ndarray]]] = {}

    def __len__(self) -> int:
        return len(self._valid)

    def submit(self, sources: Sequence[Any], images: Sequence[torch.Tensor], start: int | None = None) -> None:
        """Queue images (``(C, H, W)`` CPU tensors) and the objects whose bytes xxhash reads.
        ``start`` is the dataset index of the first image (used in error messages)."""
        base = len(self) if start is None else start
        for k, img in enumerate(images):
            size = None
            if self.near is not None:
                if img.ndim != 3:
                    raise ImageShapeError(f"image {base + k}: expected (C, H, W), got shape {tuple(img.shape)}")
                c, h, w = img.shape
                if min(h, w) >= MIN_SIDE and c > 0:
                    size = self.near.side(int(h), int(w))
            pos = len(self._valid)
            self._xx.append(0)
            self._near.append(0)
            self._valid.append(0)
            src = sources[k] if self.exact else None
            if self._workers == 1:  # one thread (a scan worker): inline, no hand-off to a pool thread
                self._done(self._one(pos, src, img, size))
                continue
            self._pending.append(executor(self._workers).submit(self._one, pos, src, img, size))
            while len(self._pending) > self.max_in_flight:
                self._drain_one()

    def _one(self, pos: int, source: Any, image: torch.Tensor, size: tuple[int, int] | None) -> tuple:
        xx = xxhash_of(source) if source is not None else 0
        small = self.near.small(image, size[0], size[1]) if size is not None and self.near else None
        return pos, xx, size, small

    def _drain_one(self) -> None:
        self._done(self._pending.popleft().result())

    def _done(self, task: tuple) -> None:
        pos, xx, size, small = task
        self._xx[pos] = xx
        if small is None:
            return
        idx, smalls = self._buffers.setdefault(size, ([], []))
        idx.append(pos)
        smalls.append(small)
        if len(idx) >= self.flush_size:
            self._flush(size)

    def _flush(self, size: tuple[int, int]) -> None:
        idx, smalls = self._buffers.pop(size)
        # one intra-op thread for these small tensor ops while the pool threads run the
        # compiled kernels (oversubscribed OpenMP threads made them ~4x slower); the caller's
        # exact thread count is restored
        with single_intra_op_thread():
            squares = self.near.squares(np.stack(smalls))  # type: ignore[union-attr]
            hashes = self.near.kernel(squares).tolist()  # type: ignore[union-attr]
            thumbs = thumbnails_from_small(squares).numpy() if self.thumbs else None
        for k, (pos, v) in enumerate(zip(idx, hashes, strict=True)):
            self._near[pos] = v
            self._valid[pos] = 1
            if thumbs is not None:
                self._thumbs[pos] = thumbs[k]

    def result(self) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """``(xxhash, near, near_valid)`` as ``(N,)`` CPU tensors (None for what was not
        asked) of everything submitted so far; the hasher is then empty again."""
        while self._pending:
            self._drain_one()
        for size in list(self._buffers):
            self._flush(size)
        n = len(self._valid)
        xx = torch.from_numpy(np.frombuffer(self._xx, dtype=np.int64, count=n).copy()) if self.exact else None
        near = valid = None
        if self.near is not None:
            near = torch.from_numpy(np.frombuffer(self._near, dtype=np.int64, count=n).copy())
            valid = torch.from_numpy(np.frombuffer(self._valid, dtype=np.uint8, count=n).astype(bool))
        if self.thumbs:
            out = np.zeros((n, THUMB_SIDE, THUMB_SIDE), dtype=np.uint8)
            for pos, t in self._thumbs.items():
                out[pos] = t
            self._thumb_result = torch.from_numpy(out)
        self._xx, self._near, self._valid, self._thumbs = array("q"), array("q"), bytearray(), {}
        return xx, near, valid

    def thumbnails(self) -> torch.Tensor:
        """``(N, THUMB_SIDE, THUMB_SIDE)`` uint8 thumbnails of what the last :meth:`result`
        returned (all zero for an image without a 32 x 32 square); needs ``thumbs=True``."""
        if self._thumb_result is None:
            raise RuntimeError("no thumbnails: create the hasher with thumbs=True and call result() first")
        return self._thumb_result
