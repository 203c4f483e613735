#!/usr/bin/env python
"""Speed of the quality additions against DataEval 0.65, in one process, on the same photos.

    python scripts/quality_bench.py                 # 600 photos of data_cache/photos, CPU
    python scripts/quality_bench.py --n 200 --ref-limit 100 --device cuda

Rows (images/s; ratio ours / DataEval 0.65):
  imagestats      DataEval 0.65 ``imagestats(ALL)`` against ours ``imagestats(ALL)`` and
                  ``imagestats(ALL | ALL_QUALITY)`` (the 0.65 metrics plus the 17 quality metrics)
  scan            ``dataeval-gpu scan`` with every default on (quality issues, D4 hashes; the
                  command's wall time less its HTML report, ``--no-plots``) against DataEval 0.65's
                  PIL decode + imagestats(ALL) + Linter + Duplicates on the same files
  embeddings      embedding time (default model) per image, and the embedding duplicate search
                  (:func:`~dataeval_gpu.detectors.near_duplicates.embedding_groups`) on N rows:
                  the search's share of the embedding time of the same N images

Timings on a shared machine are noisy: the ratios are measured in one process, back to back.
Uses scripts/bench.py's photo loader, warm-up rule and DataEval 0.65 end-to-end reference.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench import load_photos, ref_end_to_end, timed  # noqa: E402

from dataeval_gpu.flags import ImageStat  # noqa: E402
from dataeval_gpu.metrics import imagestats  # noqa: E402


def bench_stats(imgs: list[np.ndarray], ref_n: int, device: str) -> dict:
    from dataeval.flags import ImageStat as RS
    from dataeval.metrics import imagestats as ref_imagestats

    tens = [torch.from_numpy(i).to(device) for i in imgs]
    _, t_all = timed(imagestats, tens, ImageStat.ALL)
    _, t_q = timed(imagestats, tens, ImageStat.ALL | ImageStat.ALL_QUALITY)
    _, t_ref = timed(ref_imagestats, imgs[:ref_n], RS.ALL)
    n = len(imgs)
    ref_ips = ref_n / t_ref
    return {
        "ref_img_s": ref_ips,
        "ours_all_img_s": n / t_all,
        "ours_all_quality_img_s": n / t_q,
        "ratio_all": (n / t_all) / ref_ips,
        "ratio_all_quality": (n / t_q) / ref_ips,
        "quality_cost_x": t_q / t_all,
    }


def bench_scan(files: list[Path], ref_n: int, device: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "dataeval_gpu.cli", "scan", str(files[0].parent), "--out", tmp,
               "--device", device, "--limit", str(len(files)), "--no-progress", "--quiet",
               "--checkpoint-every", "0", "--no-plots"]  # fmt: skip
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        cfg = json.loads((Path(tmp) / "config.json").read_text())
    assert cfg["quality"] and cfg["d4"], cfg
    ref_files = files[:ref_n]
    ref_end_to_end(ref_files[:4])  # warm-up
    t_ref = ref_end_to_end(ref_files)
    ours_ips, ref_ips = len(files) / wall, len(ref_files) / t_ref
    return {"scan_img_s": ours_ips, "ref_img_s": ref_ips, "ratio": ours_ips / ref_ips}


def bench_embeddings(imgs: list[np.ndarray], device: str, n_embed: int) -> dict:
    from dataeval_gpu.detectors.near_duplicates import embedding_groups
    from dataeval_gpu.embeddings import embed

    sub = imgs[:n_embed]
    embed(sub[:4], device=device)  # warm-up: weights, kernels
    t0 = time.perf_counter()
    emb = np.asarray(embed(sub, device=device))
    t_embed = time.perf_counter() - t0
    per_image = t_embed / len(sub)
    # the search on as many rows as photos: the embeddings repeated with a little noise
    n = len(imgs)
    rng = np.random.default_rng(0)
    rows = emb[np.arange(n) % len(emb)] + 0.05 * rng.standard_normal((n, emb.shape[1])).astype(np.float32)
    embedding_groups(rows[:16], device=device)
    t0 = time.perf_counter()
    embedding_groups(rows, device=device)
    t_search = time.perf_counter() - t0
    return {
        "embed_s_per_image": per_image,
        "search_s": t_search,
        "rows": n,
        "search_share_of_embedding": t_search / (per_image * n),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--ref-limit", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--photos", default=str(ROOT / "data_cache" / "photos"))
    ap.add_argument("--only", default="stats,scan,embeddings")
    ap.add_argument("--embed-n", type=int, default=64, help="images embedded to time the model")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    imgs, files = load_photos(args.n, Path(args.photos))
    ref_n = min(args.ref_limit or len(imgs), len(imgs))
    only = set(args.only.split(","))
    res: dict = {"n": len(imgs), "ref_n": ref_n, "device": args.device, "threads": torch.get_num_threads()}
    if "stats" in only:
        r = res["stats"] = bench_stats(imgs, ref_n, args.device)
        print(
            f"imagestats: DataEval 0.65 ALL {r['ref_img_s']:.1f} img/s; ours ALL {r['ours_all_img_s']:.1f} "
            f"({r['ratio_all']:.1f}x); ours ALL + ALL_QUALITY {r['ours_all_quality_img_s']:.1f} "
            f"({r['ratio_all_quality']:.1f}x; the quality metrics cost {r['quality_cost_x']:.2f}x ALL)",
            flush=True,
        )
    if "scan" in only and files:
        r = res["scan"] = bench_scan(files, ref_n, args.device)
        print(
            f"scan (defaults: quality + D4, no plots) {r['scan_img_s']:.1f} img/s incl. start-up; DataEval 0.65 "
            f"decode + stats + Linter + Duplicates {r['ref_img_s']:.1f} img/s: {r['ratio']:.1f}x",
            flush=True,
        )
    if "embeddings" in only:
        r = res["embeddings"] = bench_embeddings(imgs, args.device, args.embed_n)
        print(
            f"embeddings: {1000 * r['embed_s_per_image']:.1f} ms/image; duplicate search on {r['rows']} rows "
            f"{r['search_s']:.3f} s = {100 * r['search_share_of_embedding']:.2f} % of embedding them",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
