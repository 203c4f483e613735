"""A plain store of per-image rows with the part of ``torchmetrics.Metric``'s API the audit uses.

``DataAudit`` in one process (the command line, the file scan, notebooks) keeps its rows in a
:class:`RowStore`: importing torchmetrics costs ~3 s of CPU time at start-up (it imports
torchvision's models, hence ``torch._dynamo``, ``scipy.signal`` and ``matplotlib``;
Lightning-AI/torchmetrics#3457), more than half of what the command spends outside the scan on
the 604 benchmark photos.  Under ``torch.distributed`` the audit uses the torchmetrics
accumulators (their ``sync`` gathers the ``cat`` states across ranks): see
:meth:`~dataeval_gpu.accumulators.stats.ImageStatsRows.to_metric`.

The semantics follow torchmetrics 1.x for ``cat`` states (list states of tensors): ``update``
counts the call and drops the cached result, ``compute`` caches its result and squeezes
one-element tensors to 0-d, ``reset`` empties the states, ``state_dict`` / ``load_state_dict``
hold the states marked persistent under their own names, ``merge_state`` appends another
store's rows, ``.to(device)`` moves them.

Memory (a million images' rows): each state's rows are packed into one buffer with room to
spare (for :meth:`RowStore.reserve`'s expected number of rows, else twice the rows so far),
every :data:`PACK_EVERY` updates and at ``compute`` (:meth:`RowStore.pack`); the state's first
part is then a view of that buffer.  Unlike torchmetrics, ``compute``'s result is not cloned:
a result that is the stored rows themselves (``StatsRows.compute`` on rows fed in index order)
is that view, so the rows exist once.  Treat it as read-only: changing it in place changes
the store.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from ..errors import InvalidArgumentError

__all__ = ["PACK_EVERY", "RowStore", "copy_rows", "distributed_world"]

#: a state's newest parts are concatenated into one block once there are this many
PACK_EVERY = 64


def distributed_world() -> int:
    """The number of processes of an initialised ``torch.distributed`` group (1 without one)."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return int(dist.get_world_size())


def copy_rows(dst: torch.Tensor, src: torch.Tensor) -> None:
    """``dst.copy_(src)``; between CPU tensors of one dtype a plain memory copy (numpy's).

    A part holds a few dozen images' rows (e.g. the 3 KB of grey thumbnails each): torch runs a
    copy of over 32,768 elements on its OpenMP threads, and on a busy machine (the scan's
    workers use every core) each such copy cost the main process 0.15-1.5 ms of CPU time
    (the threads' wait) instead of ~15 us: more than measuring a small image.

    Examples
    --------
    >>> dst = torch.zeros(2, 3, dtype=torch.uint8)
    >>> copy_rows(dst[1:], torch.tensor([[1, 2, 3]], dtype=torch.uint8))
    >>> dst.tolist()
    [[0, 0, 0], [1, 2, 3]]
    """
    plain = dst.device.type == "cpu" and src.device.type == "cpu" and dst.dtype == src.dtype
    if plain and dst.shape == src.shape and not src.requires_grad and dst.dtype in _NUMPY_DTYPES:
        dst.numpy()[...] = src.numpy()
    else:
        dst.copy_(src)


#: dtypes whose tensors have a numpy view (``Tensor.numpy``)
_NUMPY_DTYPES = frozenset(
    (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
     torch.float16, torch.float32, torch.float64, torch.complex64, torch.complex128)
)  # fmt: skip


def _squeeze(value: Any) -> Any:
    """torchmetrics' result convention: one-element tensors become 0-d (``dict`` values too)."""
    if isinstance(value, torch.Tensor):
        return value.squeeze() if value.numel() == 1 else value
    if isinstance(value, dict):
        return {k: _squeeze(v) for k, v in value.items()}
    return value


class RowStore:
    """Base of a row accumulator: ``cat`` states (lists of tensors), one process.

    Subclasses call :meth:`add_state` in ``__init__`` and define ``update`` and ``compute``
    (wrapped here as torchmetrics wraps them).

    Examples
    --------
    >>> import torch
    >>> class Rows(RowStore):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.add_state("x", default=[], dist_reduce_fx="cat")
    ...     def update(self, x):
    ...         self.x.append(x)
    ...     def compute(self):
    ...         return torch.cat(self.x)
    >>> a, b = Rows(), Rows()
    >>> a.update(torch.tensor([1, 2])); b.update(torch.tensor([3]))
    >>> a.merge_state(b)  # the incoming rows first, as torchmetrics does
    >>> a.compute().tolist(), a.update_count
    ([3, 1, 2], 1)
    """

    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        if kwargs:
            raise InvalidArgumentError(f"unexpected arguments {sorted(kwargs)} (torchmetrics options need the Metric)")
        self._defaults: dict[str, list] = {}
        self._persistent: dict[str, bool] = {}
        self._device = torch.device("cpu")
        self._update_count = 0
        self._computed: Any = None
        self._buffers: dict[str, torch.Tensor] = {}  # per state: the buffer its first part is a view of
        self._reserve = 0
        self._wrap()

    # ------------------------------------------------------------------ torchmetrics' wrappers
    def _wrap(self) -> None:
        update, compute = type(self).update, type(self).compute
        self.update = functools.update_wrapper(functools.partial(self._wrapped_update, update), update)
        self.compute = functools.update_wrapper(functools.partial(self._wrapped_compute, compute), compute)

    def _wrapped_update(self, update: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._computed = None
        self._update_count += 1
        update(self, *args, **kwargs)
        self._pack_newest()

    def _wrapped_compute(self, compute: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._computed is not None:
            return self._computed
        if distributed_world() > 1:
            raise RuntimeError(
                f"{type(self).__name__} holds one process's rows; under torch.distributed use its to_metric()"
            )
        # not cloned (torchmetrics clones): the result may be the packed rows themselves
        value = _squeeze(compute(self, *args, **kwargs))
        self._computed = value
        return value

    def update(self, *args: Any, **kwargs: Any) -> None:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def compute(self) -> Any:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:  # the wrapped methods are rebuilt, not pickled
        state = {k: v for k, v in self.__dict__.items() if k not in ("update", "compute", "_buffers")}
        # a packed part is a view of a larger buffer: pickle its rows only
        state.update({name: [t.clone() for t in getattr(self, name)] for name in self._defaults})
        state["_buffers"] = {}
        state["_computed"] = None  # views of the buffers: pickling them would write whole buffers
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._wrap()

    # ------------------------------------------------------------------ states
    def add_state(self, name: str, default: list, dist_reduce_fx: str = "cat", persistent: bool = False) -> None:
        """A list state (``cat``), empty after :meth:`reset`."""
        if dist_reduce_fx != "cat" or not isinstance(default, list) or default:
            raise InvalidArgumentError("RowStore keeps only 'cat' states with an empty list default")
        self._defaults[name] = []
        self._persistent[name] = persistent
        setattr(self, name, [])

    @property
    def update_count(self) -> int:
        return self._update_count

    @property
    def update_called(self) -> bool:
        return self._update_count > 0

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def metric_state(self) -> dict[str, list]:
        return {name: getattr(self, name) for name in self._defaults}

    def reserve(self, rows: int) -> None:
        """Expect about ``rows`` rows in all (e.g. the files of a scan): each state's buffer is
        then allocated once for that many (pages that are never written take no memory)."""
        self._reserve = max(0, int(rows))

    def _head(self, name: str) -> torch.Tensor | None:
        """The state's first part when it is the packed view of its buffer (else None)."""
        buf, parts = self._buffers.get(name), getattr(self, name)
        if buf is None or not parts:
            return None
        head = parts[0]
        same = head.dtype == buf.dtype and head.device == buf.device and head.shape[1:] == buf.shape[1:]
        return head if same and head.data_ptr() == buf.data_ptr() and head.shape[0] <= buf.shape[0] else None

    def _pack_newest(self) -> None:
        """Pack a state once :data:`PACK_EVERY` parts wait after its packed rows."""
        for name in self._defaults:
            waiting = len(getattr(self, name)) - (self._head(name) is not None)
            if waiting >= PACK_EVERY:
                self._pack(name, strict=False)

    def pack(self, name: str) -> torch.Tensor | None:
        """The state ``name`` as one tensor (its parts in order, as ``torch.cat`` gives them, dtype
        promotion included; ``None`` when it holds no rows), which becomes the state's only part:
        a view of the state's buffer, the new rows copied in after the packed ones."""
        return self._pack(name, strict=True)

    def _pack(self, name: str, strict: bool) -> torch.Tensor | None:
        """:meth:`pack`; not ``strict``: parts of other trailing shapes are left as they are."""
        parts = getattr(self, name)
        head = self._head(name)
        new = [p for p in (parts[1:] if head is not None else parts) if p.numel() > 0]
        if not new:
            setattr(self, name, [head] if head is not None else [])
            return head
        first = head if head is not None else new[0]
        if any(p.shape[1:] != first.shape[1:] or p.device != first.device for p in new):
            if not strict:
                return None
            block = torch.cat(([head] if head is not None else []) + new)  # raises cat's error, or promotes
            setattr(self, name, [block])
            self._buffers.pop(name, None)
            return block
        dtype = functools.reduce(torch.promote_types, (p.dtype for p in new), first.dtype)
        have = head.shape[0] if head is not None else 0
        rows = have + sum(p.shape[0] for p in new)
        buf = self._buffers.get(name) if head is not None else None
        if buf is None or buf.dtype != dtype or buf.shape[0] < rows:  # a new buffer (old rows copied once)
            capacity = self._reserve if self._reserve >= rows else 2 * rows
            fresh = torch.empty((capacity, *first.shape[1:]), dtype=dtype, device=first.device)
            if head is not None:
                fresh[:have].copy_(head)
            buf = fresh
        at = have
        for p in new:
            copy_rows(buf[at : at + p.shape[0]], p)
            at += p.shape[0]
        block = buf[:rows]
        setattr(self, name, [block])
        self._buffers[name] = buf
        return block

    def reset(self) -> None:
        self._update_count = 0
        self._computed = None
        self._buffers = {}
        for name in self._defaults:
            setattr(self, name, [])

    def to(self, device: str | torch.device) -> RowStore:
        """Move the rows (and the rows to come) to ``device``; returns ``self``."""
        dev = torch.device(device)
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        for name in self._defaults:
            setattr(self, name, [t.to(dev) for t in getattr(self, name)])
        self._device = dev
        self._buffers = {}
        self._computed = None
        return self

    def persistent(self, mode: bool = False) -> None:
        """Whether :meth:`state_dict` holds the states."""
        for name in self._persistent:
            self._persistent[name] = mode

    def state_dict(self) -> dict[str, list]:
        """The persistent states (detached copies of the lists), under their names."""
        return {name: [t.detach().clone() for t in getattr(self, name)] for name in self._defaults if self._persistent[name]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output (a state may also be one tensor: a synced state)."""
        for name in self._defaults:
            if name in state:
                val = state[name]
                setattr(self, name, list(val) if isinstance(val, list) else [val])
        self._computed = None
        self._buffers = {}

    def merge_state(self, incoming: RowStore | dict[str, Any]) -> None:
        """Append another store's rows (of the same class) or a ``{state: list or tensor}`` dict."""
        if isinstance(incoming, RowStore):
            if not isinstance(incoming, type(self)):
                raise ValueError(f"Expected incoming state to be an instance of {type(self).__name__}")
            incoming = incoming.metric_state
        elif not isinstance(incoming, dict):
            raise ValueError(f"Expected a dict or a {type(self).__name__}, got {type(incoming).__name__}")
        for name in self._defaults:
            if name not in incoming:
                raise ValueError(f"Expected state variable {name} to be present in incoming state")
            other = incoming[name]
            other = list(other) if isinstance(other, list) else [other]
            setattr(self, name, other + list(getattr(self, name)))  # torchmetrics: global + local
        self._computed = None
        self._buffers = {}
