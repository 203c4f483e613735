"""Audits across spawned ``gloo`` ranks on the CPU (for tests/test_ddp_uneven.py).

Each case is a deterministic list of inputs, the share of the inputs each rank is fed (some
ranks none, some one, some fifty) and the ``DataAudit`` settings.  :func:`run_ranks` spawns
``world`` processes that join one ``gloo`` group (``file://`` rendezvous), run every asked case
in turn (each rank feeds its share through ``FeedLoop``, the scans' failure policy, then calls
the collective ``compute()``) and pickle each rank's report, or the traceback of its error, to
``out/<case>.<rank>.pkl``.  :func:`single_process` is the reference: one audit fed every input
in index order, no process group.
"""

from __future__ import annotations

import datetime
import os
import pickle
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dataeval_gpu.batching import LoadFailure

BATCH = 4


def rgb_images(seed: int, n: int, lo: int = 18, hi: int = 40) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        h, w = (int(v) for v in rng.integers(lo, hi, 2))
        base = rng.integers(0, 256, (3, 4, 4)).astype(np.float64)  # smooth pictures (a hash to match)
        img = np.kron(base, np.ones((1, h // 4 + 1, w // 4 + 1)))[:, :h, :w]
        out.append(np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8))
    return out


def _with_findings(images: list[np.ndarray]) -> list[Any]:
    """``images`` plus an exact copy, a near copy (one pixel changed), a dark and a flat image:
    duplicates, quality issues and linter outliers whose members sit on different ranks."""
    near = images[1].copy()
    near[0, 0, 0] ^= 4
    dark = (images[2] // 16).astype(np.uint8)
    flat = np.full((3, 30, 30), 128, np.uint8)
    return [*images, images[0].copy(), near, dark, flat]


def _tiny_embedder() -> torch.nn.Module:
    """(B, 3, H, W) -> (B, 48): no weights to download, the same on every rank."""
    return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten())


def _mixed() -> list[Any]:
    """Rank shares of other kinds: uint8 RGB, float32 grey (C=1), 2-D uint8, uint16 RGBA, float64."""
    rng = np.random.default_rng(7)
    return [
        *rgb_images(1, 4),
        *[rng.random((1, 16 + k, 21)).astype(np.float32) for k in range(3)],
        *[rng.integers(0, 256, (23, 17 + k), dtype=np.uint8) for k in range(2)],
        *[rng.integers(0, 65536, (4, 19, 13 + k), dtype=np.uint16) for k in range(2)],
        rng.random((3, 12, 40)),
    ]


def _broken(n: int) -> list[Any]:
    """Inputs that fail: a file that did not decode, a 4-D array (not an image), an empty image."""
    kinds = [
        LoadFailure("OSError: truncated PNG file"),
        np.zeros((2, 3, 4, 5), np.uint8),
        np.zeros((3, 0, 7), np.uint8),
    ]
    return [kinds[k % 3] for k in range(n)]


def _split(*sizes: int) -> Callable[[int], list[list[int]]]:
    """Consecutive shares of ``sizes`` inputs (one per rank; 0: a rank fed nothing)."""

    def shares(n: int) -> list[list[int]]:
        starts = np.cumsum((0, *sizes))
        if starts[-1] != n:
            raise ValueError(f"shares of {sizes} for {n} inputs")
        return [list(range(int(a), int(b))) for a, b in zip(starts[:-1], starts[1:], strict=True)]

    return shares


def _strided(n: int, world: int = 3) -> list[list[int]]:
    """A ``DistributedSampler``'s shards without shuffling: every ``world``-th input, the order
    padded to a multiple of ``world`` by repeating its first inputs (those arrive twice)."""
    order = list(range(n))
    order += order[: -n % world]
    return [order[r::world] for r in range(world)]


#: name -> (inputs, rank shares for 3 ranks, DataAudit keyword arguments)
CASES: dict[str, tuple[Callable[[], list[Any]], Callable[[int], list[list[int]]], dict[str, Any]]] = {
    "empty_rank": (lambda: rgb_images(0, 6), _split(6, 0, 0), {}),
    "empty_middle": (lambda: _with_findings(rgb_images(2, 9)), _split(7, 0, 6), {}),
    "one_vs_fifty": (lambda: _with_findings(rgb_images(3, 47)), _split(1, 50, 0), {}),
    "failed_rank": (lambda: [*rgb_images(4, 5), *_broken(6)], _split(5, 6, 0), {}),
    "all_failed": (lambda: _broken(5), _split(2, 0, 3), {}),
    "mixed_kinds": (_mixed, _split(4, 5, 3), {"channels": True}),
    "compat_findings": (lambda: _with_findings(rgb_images(5, 12)), _strided, {"preset": "dataeval-0.65"}),
    "embeddings_empty_rank": (
        lambda: _with_findings(rgb_images(6, 8)),
        _split(0, 12, 0),
        {"embeddings": True, "embed_model": "tiny"},
    ),
    "nothing_anywhere": (lambda: [], _split(0, 0, 0), {}),
}


def audit_kwargs(case: str) -> dict[str, Any]:
    kw = dict(CASES[case][2])
    if kw.get("embed_model") == "tiny":
        kw["embed_model"] = _tiny_embedder()
    return kw


def labels_of(case: str) -> list[int]:
    return [i % 3 for i in range(len(CASES[case][0]()))]


def _feed(case: str, indices: list[int]) -> Any:
    from dataeval_gpu.audit import DataAudit, FeedLoop

    items = CASES[case][0]()
    labels = labels_of(case)
    audit = DataAudit(**audit_kwargs(case))
    loop = FeedLoop(audit)
    for b0 in range(0, len(indices), BATCH):
        idx = indices[b0 : b0 + BATCH]
        loop.feed([items[i] for i in idx], idx, labels=[labels[i] for i in idx])
    return audit


def audit_of(case: str) -> Any:
    """One audit fed every input of ``case`` in index order (no process group)."""
    return _feed(case, list(range(len(CASES[case][0]()))))


def single_process(case: str) -> Any:
    """The reference report: every input of ``case`` fed to one audit, no process group."""
    return audit_of(case).compute()


def gather_checks(rank: int) -> dict[str, Any]:
    """:func:`~dataeval_gpu.accumulators.sync.gather_rows` on rows that differ by rank: 2 uint8
    rows, torchmetrics' empty float32 placeholder, 1 int64 row (joined as int64); then rows of
    3 and of 4 values (refused on every rank, no rank left waiting)."""
    from dataeval_gpu.accumulators.sync import RowSyncError, gather_rows

    local = [
        torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.uint8),
        torch.tensor([], dtype=torch.float32),
        torch.tensor([[-7, 8, 9]], dtype=torch.int64),
    ][rank]
    parts = gather_rows(local)
    out: dict[str, Any] = {"parts": [(tuple(p.shape), str(p.dtype), p.tolist()) for p in parts]}
    bad = [torch.zeros((2, 3)), torch.zeros((1, 4)), torch.tensor([])][rank]
    try:
        gather_rows(bad)
        out["refused"] = None
    except RowSyncError as exc:
        out["refused"] = str(exc)
    return out


def hash_checks(rank: int) -> dict[str, Any]:
    """``HashAccumulator.compute()`` (gathers across ranks) with rows on rank 0 only, then with
    no rows anywhere: ``{name: {key: list}}``."""
    from dataeval_gpu.accumulators.hashes import HashAccumulator

    some, none = HashAccumulator(), HashAccumulator()
    if rank == 0:
        some.update([torch.from_numpy(im) for im in rgb_images(8, 3)], indices=[2, 0, 1])
    return {
        name: {k: (str(v.dtype), v.tolist()) for k, v in acc.compute().items()}
        for name, acc in (("some", some), ("none", none))
    }


def _worker(rank: int, world: int, init: str, cases: list[str], out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=init, rank=rank, world_size=world, timeout=datetime.timedelta(seconds=60)
    )
    try:
        for case in cases:
            try:
                if case == "gather_rows":
                    result: Any = ("ok", gather_checks(rank))
                elif case == "hash_accumulator":
                    result = ("ok", hash_checks(rank))
                else:
                    shares = CASES[case][1](len(CASES[case][0]()))
                    audit = _feed(case, shares[rank] if rank < len(shares) else [])
                    result = ("ok", audit.compute())
                    if case == "embeddings_empty_rank" and rank == 0:
                        # rank 0 alone reads the rows again (as the Lightning callback saving a
                        # dataset index does): the gathered embeddings are kept, no collective
                        index, _rows, emb = audit.measured_rows()
                        result = ("ok", result[1], {"index": index.tolist(), "embeddings": emb})
            except Exception:  # noqa: BLE001 - the test shows the traceback
                result = ("error", traceback.format_exc())
            with open(os.path.join(out, f"{case}.{rank}.pkl"), "wb") as fh:
                pickle.dump(result, fh)
            dist.barrier()
    finally:
        dist.destroy_process_group()


def run_ranks(cases: list[str], out: Path, world: int = 3) -> dict[str, list[tuple[str, Any]]]:
    """Spawn ``world`` gloo ranks that run ``cases``; ``{case: [(status, report or traceback) per rank]}``
    (a case whose files are missing, e.g. after a rank aborted, reads ``("missing", "")``)."""
    import torch.multiprocessing as mp

    out.mkdir(parents=True, exist_ok=True)
    init = f"file://{out / 'rendezvous'}"
    try:
        mp.spawn(_worker, args=(world, init, cases, str(out)), nprocs=world, join=True)
    except Exception as exc:  # noqa: BLE001 - a rank died (gloo aborts on mismatched collectives)
        (out / "spawn_error.txt").write_text(repr(exc))
    results: dict[str, list[tuple[str, Any]]] = {}
    for case in cases:
        per_rank = []
        for rank in range(world):
            path = out / f"{case}.{rank}.pkl"
            per_rank.append(pickle.loads(path.read_bytes()) if path.is_file() else ("missing", ""))
        results[case] = per_rank
    return results


def spawn_ranks(worker: Callable[..., None], tmp_path: Path, world: int) -> list[Any]:
    """``worker(rank, init, out)`` on ``world`` spawned processes (``init``: a ``file://``
    rendezvous in ``tmp_path``; ``out``: ``tmp_path``), each leaving its result with
    :func:`save_rank`; the results by rank.  A rank that died left no file: reading it raises."""
    import torch.multiprocessing as mp

    try:
        mp.spawn(worker, args=(f"file://{tmp_path / 'rendezvous'}", str(tmp_path)), nprocs=world, join=True)
    except Exception:  # noqa: BLE001, S110 - a rank died: its missing file fails when read
        pass
    return [pickle.loads((tmp_path / f"{rank}.pkl").read_bytes()) for rank in range(world)]


def save_rank(out: str, rank: int, result: Any) -> None:
    """Leave ``rank``'s result where :func:`spawn_ranks` reads it."""
    with open(os.path.join(out, f"{rank}.pkl"), "wb") as fh:
        pickle.dump(result, fh)
