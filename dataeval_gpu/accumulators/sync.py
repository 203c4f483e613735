"""Gathering the accumulators' row states across ``torch.distributed`` ranks, whatever each rank holds.

torchmetrics' default gather (``gather_all_tensors``) exchanges each state's shape and pads every
dimension to the largest; it needs the same number of dimensions and the same dtype on every
rank.  A rank that was fed no image holds no rows: torchmetrics gives it a 1-D ``float32``
placeholder for each ``cat`` state, while the other ranks hold e.g. ``(n, 1024)`` ``uint8``
thumbnails, and the ranks' collectives no longer match (gloo aborts the process: "Received data
size doesn't match expected size"; nccl hangs or reads garbage).

:func:`gather_rows` exchanges each state's row count, dtype and row shape first, then pads the
rows only: a rank without rows takes the others' row shape and dtype, ranks whose rows have
different dtypes gather in their promoted dtype (as ``torch.cat`` of the same rows in one
process would give), and rows of different shapes (or a state one rank cannot send) raise the
same error on every rank (no hang).
:class:`RowSync` makes it the metric's ``sync`` default.

Examples
--------
Outside a process group a tensor gathers to itself:

>>> import torch
>>> [t.tolist() for t in gather_rows(torch.tensor([1, 2]))]
[[1, 2]]
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["MAX_ROW_DIMS", "RowSync", "RowSyncError", "gather_rows"]

#: the most dimensions of a state's row (after the row dimension) that :func:`gather_rows` exchanges
MAX_ROW_DIMS = 6

#: dtype codes exchanged between ranks (a rank's dtype is sent as its position here)
_DTYPES = (
    torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128,
)  # fmt: skip


class RowSyncError(RuntimeError):
    """The ranks hold rows of one state that cannot be joined (different row shapes)."""


def _meta(t: torch.Tensor) -> torch.Tensor:
    """``[rows, dtype code, row ndim, row shape padded with -1]`` of ``t`` (int64, on its device); a
    dtype outside :data:`_DTYPES` is code -1 and a row shape of more than :data:`MAX_ROW_DIMS`
    dimensions is cut: :func:`_refused` raises for them on every rank, after the exchange."""
    rows = t.shape[1:] if t.ndim else ()
    code = _DTYPES.index(t.dtype) if t.dtype in _DTYPES else -1
    head = [int(t.shape[0]) if t.ndim else 1, code, len(rows)]
    shape = [int(s) for s in rows][:MAX_ROW_DIMS]
    vals = head + shape + [-1] * (MAX_ROW_DIMS - len(shape))
    return torch.tensor(vals, dtype=torch.int64, device=t.device)


def _refused(meta: list[list[int]], local: torch.Tensor, me: int) -> str | None:
    """Why the ranks' states cannot be exchanged (the same words on every rank but for the dtype,
    which only its rank ``me`` knows), or None."""
    for r, m in enumerate(meta):
        if m[2] > MAX_ROW_DIMS:
            return f"rank {r} holds rows of {m[2]} dimensions; at most {MAX_ROW_DIMS} are gathered"
        if m[1] < 0:
            named = f" ({local.dtype})" if r == me else ""
            return f"rank {r} holds rows of a dtype that cannot be gathered{named}"
    return None


def _row_shape(m: list[int]) -> tuple[int, ...]:
    return tuple(m[3 : 3 + m[2]])


def gather_rows(result: torch.Tensor, group: Any = None) -> list[torch.Tensor]:
    """Every rank's rows of one ``cat`` state, one tensor per rank (a ``dist_sync_fn`` for torchmetrics).

    A rank with no rows (``result.shape[0] == 0``, torchmetrics' 1-D placeholder included) gets
    ``(0, *row shape)`` rows of the others' dtype; the ranks' dtypes are promoted to one; rows
    are padded to the longest rank's count along the first dimension only, gathered and cut back.
    A 0-d tensor is one row.  Rows of different shapes on two ranks, and a rank's rows of more
    than :data:`MAX_ROW_DIMS` dimensions or of a dtype outside the exchanged ones, raise
    :class:`RowSyncError` on every rank.  Outside a process group: ``[result]``.
    """
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return [result]
    group = dist.group.WORLD if group is None else group
    world = dist.get_world_size(group)
    local = result.contiguous().reshape(1) if result.ndim == 0 else result.contiguous()
    metas = [torch.empty(3 + MAX_ROW_DIMS, dtype=torch.int64, device=local.device) for _ in range(world)]
    dist.all_gather(metas, _meta(local), group=group)
    meta = [m.tolist() for m in metas]
    # checked after the exchange: a rank raising alone would leave the others in all_gather,
    # paired with its next collective (wrong rows, or a hang)
    refused = _refused(meta, local, dist.get_rank(group))
    if refused is not None:
        raise RowSyncError(refused)
    full = [m for m in meta if m[0] > 0]
    if not full:  # no rank holds a row: each keeps its empty state as it is
        return [local[:0] for _ in range(world)]
    shapes = {_row_shape(m) for m in full}
    if len(shapes) > 1:
        seen = ", ".join(f"rank {r}: {m[0]} x {_row_shape(m)}" for r, m in enumerate(meta) if m[0] > 0)
        raise RowSyncError(f"the ranks hold rows of different shapes for one state ({seen})")
    (row_shape,) = shapes
    dtype = _DTYPES[full[0][1]]
    for m in full[1:]:
        dtype = torch.promote_types(dtype, _DTYPES[m[1]])
    longest = max(m[0] for m in meta)
    padded = torch.zeros((longest, *row_shape), dtype=dtype, device=local.device)
    if local.shape[0] > 0:
        padded[: local.shape[0]] = local.to(dtype)
    gathered = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded, group=group)
    return [g[: m[0]] for g, m in zip(gathered, meta, strict=True)]


class RowSync:
    """Mixin for a ``torchmetrics.Metric`` of ``cat`` row states: ``sync`` (hence ``compute`` and
    ``sync_context``) gathers with :func:`gather_rows` unless given another ``dist_sync_fn``."""

    def sync(
        self,
        dist_sync_fn: Any = None,
        process_group: Any = None,
        should_sync: bool = True,
        distributed_available: Any = None,
    ) -> None:
        super().sync(  # type: ignore[misc]
            dist_sync_fn=dist_sync_fn or gather_rows,
            process_group=process_group,
            should_sync=should_sync,
            distributed_available=distributed_available,
        )
