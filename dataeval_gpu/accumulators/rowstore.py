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
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from ..errors import InvalidArgumentError

__all__ = ["RowStore", "distributed_world"]


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

    def _wrapped_compute(self, compute: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._computed is not None:
            return self._computed
        if distributed_world() > 1:
            raise RuntimeError(
                f"{type(self).__name__} holds one process's rows; under torch.distributed use its to_metric()"
            )
        value = _squeeze(compute(self, *args, **kwargs))
        if isinstance(value, dict):
            value = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in value.items()}
        elif isinstance(value, torch.Tensor):
            value = value.clone()
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

    def reset(self) -> None:
        self._update_count = 0
        self._computed = None
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
