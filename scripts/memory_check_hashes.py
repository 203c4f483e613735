#!/usr/bin/env python
"""Peak memory while streaming N small synthetic images through the hashing engine on the CPU.

Acceptance 4 of issue 11: hashing 1,000,000 streamed images with a D4 hash on the CPU must
raise peak RSS by at most 300 MB above the hash results themselves.  The images are made
batch by batch (random uint8, ``--side`` x ``--side``, 3 channels), so the pixels of the
stream never exist at once; they go through ``HashAccumulator`` (xxhash + the near hash,
streamed through the compiled CPU kernels).  Prints JSON: peak RSS before the stream and at
the end, the bytes of the results (index, xxhash, near hash, valid), the rise above them,
and the time.

    python scripts/memory_check_hashes.py --n 1000000 --hash pchash --d4
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataeval_gpu.accumulators.hashes import HashAccumulator  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--side", type=int, default=24)
    ap.add_argument("--hash", default="pchash", choices=["pchash", "dhash"])
    ap.add_argument("--d4", action="store_true")
    ap.add_argument("--limit-mb", type=float, default=300.0, help="exit 1 above this rise")
    args = ap.parse_args()
    gen = torch.Generator().manual_seed(0)
    acc = HashAccumulator(hash=args.hash, d4=args.d4)
    warm = torch.randint(0, 256, (4, 3, args.side, args.side), dtype=torch.uint8, generator=gen)
    HashAccumulator(hash=args.hash, d4=args.d4).update(warm)  # imports, numba cache load
    start = peak_rss_mb()
    t0 = time.perf_counter()
    for lo in range(0, args.n, args.batch_size):
        b = min(args.batch_size, args.n - lo)
        batch = torch.randint(0, 256, (b, 3, args.side, args.side), dtype=torch.uint8, generator=gen)
        acc.update(list(batch.unbind(0)), indices=range(lo, lo + b))
        del batch
    out = acc.compute()
    elapsed = time.perf_counter() - t0
    end = peak_rss_mb()
    result_mb = sum(t.numel() * t.element_size() for t in out.values()) / 2**20
    rise = end - start - result_mb
    print(
        json.dumps(
            {
                "n": args.n,
                "hash": acc.kind,
                "side": args.side,
                "valid": int(out["near_valid"].sum()),
                "peak_rss_start_mb": round(start, 1),
                "peak_rss_end_mb": round(end, 1),
                "results_mb": round(result_mb, 1),
                "rise_above_results_mb": round(rise, 1),
                "seconds": round(elapsed, 1),
                "images_per_s": round(args.n / elapsed),
            }
        )
    )
    return 0 if rise <= args.limit_mb else 1


if __name__ == "__main__":
    raise SystemExit(main())
