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

Memory (a million images' rows): every :data:`PACK_EVERY` updates a state's newest parts are
concatenated into one block (the per-tensor overhead of small batches stays off the store), and
:meth:`RowStore.pack` turns a state into one tensor, copying the parts in and dropping each as
it goes.  Unlike torchmetrics, ``compute``'s result is not cloned: a result that is the stored
rows themselves (``StatsRows.compute`` on rows fed in index order) shares their memory, so the
rows exist once.  Treat it as read-only: changing it in place changes the store.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from ..errors import InvalidArgumentError

__all__ = ["PACK_EVERY", "RowStore", "distributed_world"]

#: a state's newest parts are concatenated into one block once there are this many
PACK_EVERY = 64


def distributed_world() -> int:
    """The number of processes of an initialised ``torch.distributed`` group (1 without one)."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return int(dist.get_world_size())


def _squeeze(value: Any) -> Any:
    """torchmetrics' result convention: one-element tensors become 0-d (``dict`` values too)."""
    if isinstance(value, torch.Tensor):
        return value.squeeze() if value.numel() == 1 else value
    if isinstance(value, dict):
        return {k: _squeeze(v) for k, v in value.items()}
    return value


def _pack_into(parts: list[torch.Tensor], detach: Callable[[list[torch.Tensor]], None]) -> torch.Tensor:
    """``torch.cat(parts)`` (its dtype promotion) built without holding the rows twice: the block
    is allocated first (running out of memory there changes nothing), ``detach(block_list)``
    hands it to the owner in place of the parts, then each part is copied in and dropped."""
    rest = parts[0].shape[1:]
    if len(parts) == 1 or any(p.shape[1:] != rest for p in parts):
        block = torch.cat(parts) if len(parts) > 1 else parts[0]  # a shape mismatch raises cat's error
        detach([block])
        return block
    dtype = functools.reduce(torch.promote_types, (p.dtype for p in parts))
    block = torch.empty((sum(p.shape[0] for p in parts), *rest), dtype=dtype, device=parts[0].device)
    detach([block])
    at = 0
    parts.reverse()
    while parts:
        part = parts.pop()
        block[at : at + part.shape[0]].copy_(part)
        at += part.shape[0]
        del part
    return block


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
        self._packed: dict[str, int] = {}  # per state: how many leading parts are packed blocks
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
        return {k: v for k, v in self.__dict__.items() if k not in ("update", "compute")}

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

    def _pack_newest(self) -> None:
        """Concatenate each state's newest parts into one block once there are :data:`PACK_EVERY`."""
        for name in self._defaults:
            parts = getattr(self, name)
            done = min(self._packed.get(name, 0), len(parts))
            if len(parts) - done >= PACK_EVERY:
                newest = [p for p in parts[done:] if p.numel() > 0]
                if any(p.shape[1:] != newest[0].shape[1:] for p in newest):
                    continue  # rows of other shapes: left for compute, which names the error
                setattr(self, name, parts[:done] + ([torch.cat(newest)] if newest else []))
                self._packed[name] = done + bool(newest)

    def pack(self, name: str) -> torch.Tensor | None:
        """The state ``name`` as one tensor (its parts in order; ``None`` when it holds no rows),
        which becomes the state's only part.  The parts are copied into it one at a time and
        dropped as they go: the rows exist about once, not twice, while it runs."""
        parts = [p for p in getattr(self, name) if p.numel() > 0]
        self._packed[name] = int(bool(parts))
        if not parts:
            setattr(self, name, [])
            return None
        return _pack_into(parts, lambda new: setattr(self, name, new))

    def reset(self) -> None:
        self._update_count = 0
        self._computed = None
        self._packed = {}
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
        self._packed = {}
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
        self._packed = {}

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
        self._packed = {}
