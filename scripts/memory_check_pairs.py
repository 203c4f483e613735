#!/usr/bin/env python
"""Peak memory and time of the near-duplicate pair stage on N images' synthetic hash rows.

Builds the rows ``hash_pairs(windows=True)`` reads, as the scan keeps them (no image decoded):
random ``32 x 32`` grey thumbnails, each image's D4 pchash and its 90 % / 80 % central crops'
hashes and thumbnails made from the thumbnail (:func:`view_hashes` / :func:`view_samples`), an
inverse-shape strip (valid for the non-square images), the per-image figures (chroma, plain,
entropy, spread, opacity, level, side, heights and widths, channel spread, cell colours).  A
planted share of copies exercises every search: noisy copies (whole hashes), a copy turned by 90
degrees (turns), a 90 % corner window (window views), an 80 % off-centre crop (the crop grid) and
a 24 px copy of a larger image (scale pairs), each with its source's figures.

A thread samples the resident memory (``/proc/self/statm``) every 2 ms; with ``--phases`` the
stage's functions are wrapped and each one's peak (RSS above the rows' memory, MB) and seconds
are printed too (two threads run at once in ``window_pairs``: their peaks overlap).  Prints JSON:
the rows' MB, the peak RSS rise above them, per image, wall and CPU seconds, the pairs and their
sha256 (``--save PATH``: the pairs as ``.npy``).  ``--tracemalloc`` also reports tracemalloc's
peak (numpy's allocations; torch tensors are not traced).

    python scripts/memory_check_pairs.py --n 100000 --phases
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dataeval_gpu.detectors.hash_pairs import hash_pairs  # noqa: E402
from dataeval_gpu.detectors.scale_pairs import thumbs_at  # noqa: E402
from dataeval_gpu.functional.hashing.windows import view_hashes, view_samples  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from memory_check_scan import Peak, rss  # noqa: E402

MB = 2**20
S = 32
CROPS = ((0.9, 0.05, 0.05, 0.0), (0.8, 0.1, 0.1, 0.0))  # the scan's central 90 % / 80 % views


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def build_rows(n: int, seed: int = 0, planted: float = 0.03) -> dict:
    """The arguments of ``hash_pairs`` for ``n`` synthetic images (see the module)."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 256, (n, S, S), dtype=np.uint8)
    shapes = np.array([[256, 256], [240, 320], [320, 240], [512, 384]], dtype=np.float64)
    hw = shapes[rng.integers(0, len(shapes), n)]
    chroma = rng.normal(0, 0.02, (n, 2))
    entropy = rng.uniform(5, 7.9, n)
    colour = rng.uniform(0.05, 0.3, n)
    cells = rng.integers(0, 256, (n, 48), dtype=np.uint8)
    k = int(n * planted / 5)
    dst = rng.permutation(np.arange(n // 2, n))[: 5 * k].reshape(5, k)
    src = rng.integers(0, n // 2, (5, k))
    small = np.zeros(n, dtype=bool)
    t[dst[0]] = _u8(t[src[0]].astype(np.float64) + rng.normal(0, 3, (k, S, S)))  # noisy copies
    t[dst[1]] = np.rot90(t[src[1]], 1, axes=(1, 2))  # turned by 90 degrees
    hw[dst[1]] = hw[src[1]][:, ::-1]
    t[dst[2]] = _u8(view_samples(t[src[2]], hw[src[2]], (0.9, 0.0, 0.1, 0.0)))  # a 90 % corner window
    t[dst[3]] = _u8(view_samples(t[src[3]], hw[src[3]], (0.8, 0.13, 0.05, 0.0)))  # an 80 % off-centre crop
    hw[dst[2:4]] = hw[src[2:4]]
    sq, _ = thumbs_at(t[src[4]], 24, enlarge=False)
    t[dst[4]] = thumbs_at(t[src[4]], 24)[1].numpy()  # a 24 px copy: its square enlarged
    hw[dst[4]] = 24.0
    small[dst[4]] = True
    for a, b in zip(dst, src):
        chroma[a], entropy[a], colour[a], cells[a] = chroma[b], entropy[b], colour[b], cells[b]
    full = view_hashes(t, hw, ((1.0, 0.0, 0.0, 0.0),))[:, 0]
    full[torch.from_numpy(dst[4])] = torch.from_numpy(sq.numpy().view(np.uint64).min(axis=1).view(np.int64))
    crop_t = np.stack([_u8(view_samples(t, hw, v)) for v in CROPS], axis=1)
    crop_h = view_hashes(crop_t.reshape(n * len(CROPS), S, S), np.repeat(hw, len(CROPS), axis=0),
                         ((1.0, 0.0, 0.0, 0.0),)).reshape(n, len(CROPS))  # fmt: skip
    valid = torch.ones(n, dtype=torch.bool)
    crop_valid = torch.from_numpy(~small)
    thumbs = np.concatenate([t[:, None], crop_t], axis=1).reshape(n, -1)
    square = hw[:, 0] == hw[:, 1]
    strip = (
        torch.from_numpy(rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64, endpoint=True)),
        torch.from_numpy(~square & ~small),
        torch.from_numpy(np.where(square[:, None], 0, rng.integers(0, 256, (n, S * S), dtype=np.uint8))),
    )
    tf = t.reshape(n, -1).astype(np.float64)
    return {
        "full": full, "valid": valid,
        "crops": [(crop_h[:, c].contiguous(), crop_valid) for c in range(len(CROPS))],
        "radius": 4, "chroma": chroma, "plain": np.zeros(n), "entropy": entropy, "spread": tf.std(axis=1),
        "thumbs": torch.from_numpy(thumbs), "opacity": np.ones(n), "level": tf.mean(axis=1) / 255.0,
        "side": hw.min(axis=1), "strip": strip, "hw": hw, "colour": colour, "cells": torch.from_numpy(cells),
    }  # fmt: skip


def _nbytes(v: object) -> int:
    if isinstance(v, torch.Tensor):
        return v.numel() * v.element_size()
    if isinstance(v, np.ndarray):
        return v.nbytes
    if isinstance(v, (list, tuple)):
        return sum(_nbytes(x) for x in v)
    return 0


#: the stage's functions timed with ``--phases`` (module, name)
PHASES = (
    ("dataeval_gpu.detectors.hash_pairs", "_one_scale_pairs"),
    ("dataeval_gpu.detectors.turn_pairs", "turn_candidates"),
    ("dataeval_gpu.detectors.window_pairs", "_view_codes"),
    ("dataeval_gpu.detectors.window_pairs", "_offcentre_codes"),
    ("dataeval_gpu.detectors.window_pairs", "_content_codes"),
    ("dataeval_gpu.detectors.window_pairs", "window_pairs"),
    ("dataeval_gpu.detectors.turn_pairs", "turn_pairs"),
    ("dataeval_gpu.detectors.scale_pairs", "scale_pairs"),
    ("dataeval_gpu.functional.hashing.windows", "view_hashes"),
    ("dataeval_gpu.functional.hashing.block_search", "cross_matches"),
    ("dataeval_gpu.functional.hashing.block_search", "window_matches"),
    ("dataeval_gpu.functional.hashing.block_search", "block_join"),
    ("dataeval_gpu.functional.hashing.offcentre", "grid_hashes"),
    ("dataeval_gpu.functional.hashing.offcentre", "plain_hashes"),
    ("dataeval_gpu.functional.hashing.offcentre", "busy_share"),
    ("dataeval_gpu.detectors.hash_pairs", "hash_pairs_ok"),
)


def wrap_phases(watch: Peak, base: int, log: list) -> None:
    """Wrap :data:`PHASES` so each call logs its seconds and the peak RSS seen during it."""
    import importlib

    for mod_name, name in PHASES:
        mod = importlib.import_module(mod_name)
        real = getattr(mod, name)

        def call(*a, _real=real, _name=name, **k):  # noqa: ANN002, ANN003, ANN202
            t0, before = time.perf_counter(), rss()
            cell = [before]
            watch.marks[id(cell)] = cell
            out = _real(*a, **k)
            seen = max(cell[0], rss())
            del watch.marks[id(cell)]
            log.append({"phase": _name, "s": round(time.perf_counter() - t0, 2),
                        "peak_mb": round((seen - base) / MB), "start_mb": round((before - base) / MB)})  # fmt: skip
            return out

        for o in list(sys.modules.values()):  # the module and every one that imported the name
            if getattr(o, "__name__", "").startswith("dataeval_gpu") and getattr(o, name, None) is real:
                setattr(o, name, call)


class PhasePeak(Peak):
    """:class:`Peak` that also raises the peak of every open phase (``marks``)."""

    def __init__(self) -> None:
        self.marks: dict[int, list[int]] = {}
        super().__init__()

    def run(self) -> None:
        while not self.stop:
            now = rss()
            self.peak = max(self.peak, now)
            for cell in list(self.marks.values()):
                cell[0] = max(cell[0], now)
            time.sleep(0.002)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--phases", action="store_true", help="also each function's peak and seconds")
    ap.add_argument("--tracemalloc", action="store_true", help="also tracemalloc's peak (slower)")
    ap.add_argument("--save", help="write the pairs here (.npy)")
    ap.add_argument("--serial", action="store_true", help="window_pairs' two searches one after the other")
    args = ap.parse_args()
    hash_pairs(**build_rows(1000, args.seed + 1), windows=True, progress=False)  # imports, kernels, caches
    rows = build_rows(args.n, args.seed)
    rows_mb = sum(_nbytes(v) for v in rows.values()) / MB
    watch = PhasePeak()
    base = rss()
    log: list = []
    if args.phases:
        wrap_phases(watch, base, log)
    if args.serial:
        import concurrent.futures

        import dataeval_gpu.detectors.window_pairs as wp

        class Inline(concurrent.futures.ThreadPoolExecutor):
            def submit(self, fn, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
                f: concurrent.futures.Future = concurrent.futures.Future()
                f.set_result(fn(*a, **k))
                return f

        wp.ThreadPoolExecutor = Inline  # type: ignore[misc]
    if args.tracemalloc:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    facts: dict = {}
    pairs = hash_pairs(**rows, windows=True, facts=facts, progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    traced = tracemalloc.get_traced_memory()[1] / MB if args.tracemalloc else None
    peak = watch.phase()
    watch.stop = True
    if args.save:
        np.save(args.save, pairs)
    out = {
        "n": args.n, "rows_mb": round(rows_mb), "rss_base_mb": round(base / MB),
        "peak_rise_mb": round((peak - base) / MB), "rise_per_image_kb": round((peak - base) / args.n / 1024, 1),
        "traced_peak_mb": None if traced is None else round(traced), "s": round(wall, 1), "cpu_s": round(cpu, 1),
        "pairs": len(pairs), "sha256": hashlib.sha256(np.ascontiguousarray(pairs).tobytes()).hexdigest()[:16],
        "crop_plan": facts.get("crop_search", {}).get("plan"),
    }  # fmt: skip
    if args.phases:
        out["phases"] = log
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
