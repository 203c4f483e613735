"""Time the all-pairs-within-radius search on random 64-bit hashes.

    python scripts/bench_hamming.py                      # 1,000,000 hashes, radius 8
    python scripts/bench_hamming.py --n 100000 --method brute --radius 8
    python scripts/bench_hamming.py --device cuda

Prints the chosen plan, the seconds, the pairs found and the process's peak RSS.  A few
planted near copies make sure the search finds something: each of ``--planted`` hashes
gets a copy with ``radius`` random bits flipped.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from dataeval_gpu.functional.hashing import near_pairs, search_plan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--radius", type=int, default=8)
    ap.add_argument("--method", default="auto", choices=["auto", "brute", "blocks"])
    ap.add_argument("--chunk-size", type=int, default=1 << 23)
    ap.add_argument("--planted", type=int, default=100)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    rng = np.random.default_rng(args.seed)
    h = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, args.n, dtype=np.int64, endpoint=True)
    planted = min(args.planted, args.n // 2)
    for k in range(planted):
        bits = rng.choice(64, args.radius, replace=False)
        flip = np.uint64(sum(1 << int(b) for b in bits))
        h[args.n - 1 - k] = (h[k].view(np.uint64) ^ flip).view(np.int64)
    t = torch.from_numpy(h).to(args.device)

    cost, plan = search_plan(args.n, args.radius)
    print(
        f"n={args.n} radius={args.radius} method={args.method} device={args.device} threads={torch.get_num_threads()}"
    )
    print(f"auto plan: {'brute force' if plan is None else plan} (modelled cost {cost:.3g})")
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    pairs = near_pairs(t, args.radius, chunk_size=args.chunk_size, method=args.method)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    found = {(int(a), int(b)) for a, b in pairs.cpu().tolist()}
    hit = sum((k, args.n - 1 - k) in found for k in range(planted))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"seconds: {secs:.2f}")
    print(f"pairs found: {pairs.shape[0]} (planted {planted}, recovered {hit})")
    print(f"peak RSS: {peak_mib:.0f} MiB")
    if args.device.startswith("cuda"):
        print(f"peak CUDA memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
