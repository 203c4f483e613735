#!/usr/bin/env python
"""Peak memory while streaming N images of 3x512x512 through the statistics accumulator.

The images are made on the fly (crops of the bundled real photos, shifted per index) by a
Dataset, so the pixel data of the whole stream never exists at once; what must stay is the
per-image results. Prints JSON: peak RSS before/after, the size of the kept results, time.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataeval_gpu.accumulators.stats import ImageStatsAccumulator  # noqa: E402
from dataeval_gpu.datasets import sample_photos  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Crops(torch.utils.data.Dataset):
    def __init__(self, n: int, side: int = 512):
        self.n = n
        self.side = side
        self.src = [img for _, img in sample_photos() if img.shape[0] == 3 and min(img.shape[1:]) >= side]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        s = self.src[i % len(self.src)]
        _, h, w = s.shape
        y = (i * 7) % (h - self.side + 1)
        x = (i * 13) % (w - self.side + 1)
        return torch.from_numpy(np.ascontiguousarray(s[:, y : y + self.side, x : x + self.side]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--hashes", action="store_true")
    args = ap.parse_args()
    ds = Crops(args.n)
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, num_workers=0)
    acc = ImageStatsAccumulator(per_channel=True, hashes=args.hashes)
    start = rss_mb()
    t0 = time.perf_counter()
    pos = 0
    for batch in loader:
        acc.update(batch, indices=torch.arange(pos, pos + len(batch)))
        pos += len(batch)
    res = acc.compute()
    elapsed = time.perf_counter() - t0
    kept = sum(v.numel() * v.element_size() for v in res.values()) / 2**20
    peak = rss_mb()
    print(json.dumps({
        "images": pos, "pixel_data_mb": pos * 3 * 512 * 512 / 2**20, "rss_before_mb": round(start, 1),
        "peak_rss_mb": round(peak, 1), "growth_mb": round(peak - start, 1), "results_mb": round(kept, 1),
        "seconds": round(elapsed, 1), "images_per_s": round(pos / elapsed, 1),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
