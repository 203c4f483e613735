"""One dispatch table per device for the near hashes, in the style of torchvision's kernel
registration: a device type maps to the function that hashes a list of images on that
device.

* ``"cpu"``: the compiled kernels streamed through :class:`~.cpu.CpuHasher` (without
  numba: Pillow's resize per image on the thread pool);
* ``"cuda"`` and every other device (``"default"``): the tensor path -- images grouped by
  size, each size bucket one stack: the hash's grey image (``HashSpec.grey``), the resize as float64 matmuls with
  Pillow's fixed-point matrices (exact), the hash kernel.

The tensor path is plain torch and runs on CPU tensors too: ``near_hash(images, kind,
device_type="cuda")`` forces it there, which is how the tests compare the CUDA path bit
for bit with the compiled CPU kernels on a machine without a GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ...errors import InvalidArgumentError
from ...parallel import map_images
from .cpu import CpuHasher, CpuPlan, compiled_ready
from .grey import hash_grey8, size_buckets
from .kernels import MIN_SIDE, NEAR_HASHES, HashSpec
from .resample import installed_pillow_order, lanczos_resize, symmetric_resize
from .thumbs import THUMB_SIDE, thumbnails_from_small

__all__ = ["near_hash", "near_hash_kernel", "near_hash_thumbs", "register_kernel", "registered_devices"]

NearKernel = Callable[[list[torch.Tensor], HashSpec], tuple[torch.Tensor, torch.Tensor]]

_KERNELS: dict[str, NearKernel] = {}
# the most elements one float64 stack of grey images may hold (128 MiB)
_MAX_STACK_ELEMENTS = 1 << 24


def register_kernel(device_type: str) -> Callable[[NearKernel], NearKernel]:
    """Decorator: register ``fn(images, spec) -> (hashes, valid)`` as the near-hash kernel of
    ``device_type`` (``"cpu"``, ``"cuda"``, ``"mps"``, ... or ``"default"`` for any device
    without its own).  Registering again replaces the kernel."""

    def deco(fn: NearKernel) -> NearKernel:
        _KERNELS[device_type] = fn
        return fn

    return deco


def registered_devices() -> list[str]:
    """Device types with a registered kernel."""
    return sorted(_KERNELS)


def near_hash_kernel(device_type: str) -> NearKernel:
    """The kernel registered for ``device_type`` (``"default"``'s when it has none)."""
    return _KERNELS.get(device_type, _KERNELS["default"])


def near_hash(
    images: Sequence[torch.Tensor], kind: str, device_type: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Near hash ``kind`` (a :data:`~.kernels.NEAR_HASHES` name) of ``(C, H, W)`` tensors on one
    device, through that device's kernel (``device_type`` forces another device's kernel on
    these tensors, e.g. ``"cuda"`` on CPU tensors).

    Returns:
        ``(hashes, valid)``: ``(N,)`` int64 and ``(N,)`` bool on the images' device; valid
        is False (hash 0) where ``min(H, W) < 9``.
    """
    spec = NEAR_HASHES.get(kind)
    if spec is None:
        raise InvalidArgumentError(f"unknown near hash {kind!r}; expected one of {sorted(NEAR_HASHES)}")
    images = list(images)
    dev = images[0].device if images else torch.device("cpu")
    return near_hash_kernel(device_type or dev.type)(images, spec)


def _empty(n: int, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.zeros(n, dtype=torch.int64, device=dev), torch.zeros(n, dtype=torch.bool, device=dev)


def _bucketed(
    images: list[torch.Tensor],
    spec: HashSpec,
    per_task: Callable[[int, int, int], int],
    run: Callable,
    thumbs: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Group by size, cut each bucket into tasks of ``per_task(h, w, c)`` images, hash the
    tasks with ``run(work, tasks)``, scatter the results back (and each image's thumbnail
    into ``thumbs``, ``(N, THUMB_SIDE, THUMB_SIDE)`` uint8, when given)."""
    dev = images[0].device if images else torch.device("cpu")
    out, valid = _empty(len(images), dev)
    tasks = []
    for (h, w, c, _dtype, _dev), idx in size_buckets(images, MIN_SIDE).items():
        per = per_task(h, w, c)
        tasks.extend((h, w, idx[s : s + per]) for s in range(0, len(idx), per))
    order = installed_pillow_order()

    def work(task: tuple[int, int, list[int]]) -> tuple[torch.Tensor, torch.Tensor | None]:
        h, w, part = task
        x = images[part[0]].unsqueeze(0) if len(part) == 1 else torch.stack([images[i] for i in part])
        oh, ow = spec.side(h, w)
        grey = hash_grey8(x, spec.grey)
        if spec.exact:
            small = symmetric_resize(grey, oh, ow)
        else:  # an explicit order: the matmul path; "auto" on the CPU: Pillow itself
            small = lanczos_resize(grey, oh, ow, order="auto" if run is map_images else order)
        return spec.kernel(small), (thumbnails_from_small(small) if thumbs is not None else None)

    for (_, _, part), (res, th) in zip(tasks, run(work, tasks), strict=True):
        idx_t = torch.tensor(part, dtype=torch.int64, device=dev)
        out[idx_t] = res.to(dev)
        valid[idx_t] = True
        if thumbs is not None and th is not None:
            thumbs[idx_t.to(thumbs.device)] = th.to(thumbs.device)
    return out, valid


def near_hash_thumbs(
    images: Sequence[torch.Tensor], kind: str, device_type: str | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`near_hash` plus each image's grey thumbnail (:mod:`.thumbs`), by the same kernels:
    ``(hashes, valid, thumbs)``, ``thumbs`` ``(N, THUMB_SIDE, THUMB_SIDE)`` uint8 on the images'
    device (all zero for an image without a 32 x 32 square).  ``device_type`` as in
    :func:`near_hash` (``"cuda"`` runs the tensor path on CPU tensors)."""
    spec = NEAR_HASHES.get(kind)
    if spec is None:
        raise InvalidArgumentError(f"unknown near hash {kind!r}; expected one of {sorted(NEAR_HASHES)}")
    images = list(images)
    dev = images[0].device if images else torch.device("cpu")
    if (device_type or dev.type) == "cpu" and compiled_ready():
        hasher = CpuHasher(exact=False, near=CpuPlan(spec), max_in_flight=256, thumbs=True)
        hasher.submit(images, images)
        _, near, ok = hasher.result()
        return near, ok, hasher.thumbnails()  # type: ignore[return-value]
    thumbs = torch.zeros(len(images), THUMB_SIDE, THUMB_SIDE, dtype=torch.uint8, device=dev)
    if (device_type or dev.type) == "cpu":
        near, ok = _bucketed(images, spec, lambda h, w, c: 1, map_images, thumbs)
    else:
        near, ok = _bucketed(images, spec, _stack_size, lambda work, tasks: [work(t) for t in tasks], thumbs)
    return near, ok, thumbs


def _stack_size(h: int, w: int, c: int) -> int:
    return max(1, _MAX_STACK_ELEMENTS // (h * w * max(c, 1)))


@register_kernel("default")
@register_kernel("cuda")
def tensor_near_hash(images: list[torch.Tensor], spec: HashSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """The tensor (CUDA) path on any device: one stack per size bucket (at most 128 MiB of
    float64 grey pixels), the resize as exact float64 matmuls."""

    return _bucketed(images, spec, _stack_size, lambda work, tasks: [work(t) for t in tasks])


@register_kernel("cpu")
def cpu_near_hash(images: list[torch.Tensor], spec: HashSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """The CPU path: the compiled kernels through :class:`CpuHasher`; without numba one
    image per pool task, Pillow's resize (or the matmul resize for the D4 hashes)."""
    if compiled_ready():
        hasher = CpuHasher(exact=False, near=CpuPlan(spec), max_in_flight=256)
        hasher.submit(images, images)
        _, near, ok = hasher.result()
        return near, ok  # type: ignore[return-value]
    return _bucketed(images, spec, lambda h, w, c: 1, map_images)
