#!/usr/bin/env python
"""pchash parity with DataEval 0.65 (needs `pip install dataeval==0.65.0`): the share of
bit-identical hashes and the Hamming distance of the others, on the real photos of
scripts/fetch_photos.sh (full size) and on 2000 crops of the bundled photos."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench import load_photos  # noqa: E402

from dataeval_gpu.datasets import photo_collection  # noqa: E402
from dataeval_gpu.functional import hashing as H  # noqa: E402


def main() -> int:
    warnings.simplefilter("ignore")
    from dataeval._internal.metrics.utils import pchash

    sets = [
        ("real photos, full size", load_photos(600, ROOT / "data_cache" / "photos")[0]),
        ("2000 crops of the bundled photos", photo_collection(2000, seed=1, min_side=9, max_side=400)),
    ]
    worst = 1.0
    for name, imgs in sets:
        ours, _ = H.perceptual_hash([torch.from_numpy(np.ascontiguousarray(a)) for a in imgs])
        got = H.hash_hex(ours, strip=True)
        ref = [pchash(a) for a in imgs]
        same = [a == b for a, b in zip(got, ref, strict=True)]
        dist = [bin(int(a, 16) ^ int(b, 16)).count("1") for a, b, s in zip(got, ref, same, strict=True) if not s]
        share = sum(same) / len(same)
        worst = min(worst, share)
        mean = f", mean Hamming distance of the rest {np.mean(dist):.2f}" if dist else ""
        print(f"{name}: {sum(same)}/{len(same)} bit-identical ({share:.2%}){mean}")
    return 0 if worst >= 0.99 else 1


if __name__ == "__main__":
    raise SystemExit(main())
