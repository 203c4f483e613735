"""Time and memory of the near-duplicate pair lists: ``NearDuplicates.evaluate`` (its ``combine``
step: the combined groups and every pair inside them, with the Hamming distances and cosines) and
``audit.stat_findings.near_hash_pairs`` (the audit's hash pair list), on N identical images beside
20 distinct photos, or on N random images (docs/duplicates.md, "Pair lists of identical images").

    python scripts/bench_pair_lists.py identical 1000            # one case, one process
    python scripts/bench_pair_lists.py random 20000 --steps combine,pairs
    python scripts/bench_pair_lists.py identical 5000 --steps combine_only --limit-gb 8

Each step's wall time, CPU time and the process's peak RSS after it (``ru_maxrss``) are printed as one JSON
line; ``--limit-gb`` caps the address space (a step that would need more raises MemoryError, which
is reported, instead of taking the machine's memory).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

PHOTOS = Path(__file__).resolve().parents[1] / "data_cache" / "photos"


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _cpu_s() -> float:
    """The process's CPU seconds (user + system): less moved by other jobs than the wall time."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _images(kind: str, n: int, dim: int) -> tuple[list[torch.Tensor], np.ndarray]:
    """The images and one embedding row each (identical images share theirs)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    if kind == "random":
        imgs = [torch.from_numpy(rng.integers(0, 256, (3, 32, 32), dtype=np.uint8)) for _ in range(n)]
        return imgs, rng.standard_normal((n, dim))
    files = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:21]
    photos = []
    for p in files:
        im = Image.open(p).convert("RGB")
        im.thumbnail((96, 96))
        photos.append(torch.from_numpy(np.array(im)).permute(2, 0, 1).contiguous())
    distinct = rng.standard_normal((len(photos), dim))
    imgs = photos[1:] + [photos[0]] * n
    emb = np.concatenate([distinct[1:], np.repeat(distinct[:1], n, axis=0)])
    return imgs, emb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["identical", "random"])
    ap.add_argument("n", type=int)
    ap.add_argument("--dim", type=int, default=1280, help="embedding width (efficientnet_lite0's: 1280)")
    ap.add_argument("--steps", default="evaluate,combine,pairs")
    ap.add_argument("--limit-gb", type=float, default=None)
    args = ap.parse_args()
    if args.limit_gb:
        cap = int(args.limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    from dataeval_gpu.detectors.near_duplicates import NearDuplicates

    imgs, emb = _images(args.kind, args.n, args.dim)
    row: dict = {"kind": args.kind, "n": args.n, "images": len(imgs), "dim": args.dim, "rss_start_gb": round(_rss_gb(), 2)}
    steps = args.steps.split(",")
    out = None
    try:
        if "evaluate" in steps or "combine" in steps:
            t = time.perf_counter()
            nd = NearDuplicates(embedding_threshold=0.88)
            # the groups and hashes (what combine reads), then combine alone
            hashes = nd.hasher.hashes(imgs)
            row["hashing_s"] = round(time.perf_counter() - t, 2)
            if "evaluate" in steps:
                t, c = time.perf_counter(), _cpu_s()
                out = nd.evaluate(imgs, embeddings=emb)
                row["evaluate_s"] = round(time.perf_counter() - t, 2)
                row["evaluate_cpu_s"] = round(_cpu_s() - c, 2)
                row["evaluate_rss_gb"] = round(_rss_gb(), 2)
                row["pairs"] = int(out.pairs["first"].size)
                row["groups"] = len(out.groups)
            if "combine" in steps and out is not None:
                t, c = time.perf_counter(), _cpu_s()
                again = NearDuplicates.combine(len(imgs), out.exact, out.hash, out.embedding, hashes.near, torch.as_tensor(emb))
                row["combine_s"] = round(time.perf_counter() - t, 2)
                row["combine_cpu_s"] = round(_cpu_s() - c, 2)
                row["combine_rss_gb"] = round(_rss_gb(), 2)
                row["pairs"] = int(again.pairs["first"].size)
        if "combine_only" in steps:  # the pair list alone, on the groups evaluate gives (no hashing)
            from dataeval_gpu.detectors.near_duplicates import embedding_groups

            m = len(imgs)
            copies = [list(range(m - args.n, m))] if args.kind == "identical" else []
            rng = np.random.default_rng(1)
            hashes = torch.from_numpy(rng.integers(-(2**62), 2**62, m, dtype=np.int64))
            hashes[m - args.n :] = 7 if args.kind == "identical" else hashes[m - args.n :]
            eg = embedding_groups(torch.as_tensor(emb))
            t, c = time.perf_counter(), _cpu_s()
            again = NearDuplicates.combine(m, copies, copies, eg, hashes, torch.as_tensor(emb))
            row["combine_only_s"] = round(time.perf_counter() - t, 2)
            row["combine_only_cpu_s"] = round(_cpu_s() - c, 2)
            row["combine_only_rss_gb"] = round(_rss_gb(), 2)
            row["pairs"] = int(again.pairs["first"].size)
        if "pairs" in steps:
            from dataeval_gpu.audit import DataAudit
            from dataeval_gpu.audit.stat_findings import near_hash_pairs

            audit = DataAudit(device="cpu")
            audit.update(imgs)
            index, rows, _ = audit.measured_rows()
            res = {k: torch.from_numpy(v) for k, v in rows.items()}
            row["rows_rss_gb"] = round(_rss_gb(), 2)
            t, c = time.perf_counter(), _cpu_s()
            hp = near_hash_pairs(res, rows, index, 4, windows=True)
            row["near_hash_pairs_s"] = round(time.perf_counter() - t, 2)
            row["near_hash_pairs_cpu_s"] = round(_cpu_s() - c, 2)
            row["near_hash_pairs_rss_gb"] = round(_rss_gb(), 2)
            row["hash_pairs"] = int(len(hp))
    except (MemoryError, RuntimeError) as e:  # torch's allocator raises RuntimeError
        row["error"] = f"{type(e).__name__} {str(e)[:200]}"
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
