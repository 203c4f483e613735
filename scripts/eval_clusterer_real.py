#!/usr/bin/env python
"""The Clusterer on real image embeddings: outlier shares, planted copies, grids to look at.

    python scripts/eval_clusterer_real.py                       # Fashion-MNIST 5,000 + photos
    python scripts/eval_clusterer_real.py --fashion-n 20000     # a larger sample
    python scripts/eval_clusterer_real.py --grid /tmp/grids     # PNG grids of the flagged images
    python scripts/eval_clusterer_real.py --metric euclidean    # compare a Clusterer setting

Data (``scripts/fetch_fashion_mnist.sh`` and ``scripts/fetch_photos.sh`` fetch it):

* **Fashion-MNIST**: the first ``--fashion-n`` images of test + train (test first), plus
  planted copies of 40 of them — 20 exact, 20 resized (28 -> 56 px, bilinear) — and
  atypical images: 10 real photos (from the photos folder), one blank grey image and one
  of uniform noise;
* **photos**: the JPEGs of ``data_cache/photos`` (long side fitted to 512 px), plus copies of
  80 of them — 20 exact, 20 at 3/4 size, 20 at half size, 20 re-encoded as JPEG quality 75 —
  and atypical images: 5 Fashion-MNIST items, one blank grey image, one of uniform noise.

Everything is embedded with the default model (:func:`dataeval_gpu.embeddings.embed`,
EfficientNet-Lite0, 1280-d) and cached in ``--cache`` (default ``/tmp/clusterer_real``):
Fashion-MNIST in blocks of 5,000 images, so a larger ``--fashion-n`` embeds only the new
blocks (embedding runs at ~30-100 images/s on a small CPU).

Reported per set: clusters, noise, the outlier and outlier + potential shares among the
original images, the atypical plants flagged, the planted copies found as duplicates
(exact) or potential duplicates, and how many original images sit in potential-duplicate
groups.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dataeval_gpu.detectors.clusterer import Clusterer  # noqa: E402

N_COPIES = 20
BLOCK = 5000


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format, gzip) as a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _pil(chw: np.ndarray):
    from PIL import Image

    hwc = np.moveaxis(chw, 0, -1)
    return Image.fromarray(hwc[..., 0] if hwc.shape[-1] == 1 else hwc)


def _chw(img) -> np.ndarray:
    arr = np.asarray(img)
    return arr[None] if arr.ndim == 2 else np.ascontiguousarray(np.moveaxis(arr, -1, 0))


def resize(chw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    return _chw(_pil(chw).resize(size, Image.Resampling.BILINEAR))


def jpeg(chw: np.ndarray, quality: int = 75) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    _pil(chw).save(buf, format="JPEG", quality=quality)
    return _chw(Image.open(io.BytesIO(buf.getvalue())))


def fashion_pool() -> np.ndarray:
    """Fashion-MNIST test then train images, (70000, 28, 28) uint8."""
    root = ROOT / "data_cache" / "fashion-mnist"
    return np.concatenate(
        [read_idx(root / "t10k-images-idx3-ubyte.gz"), read_idx(root / "train-images-idx3-ubyte.gz")]
    )


def load_photos() -> list[np.ndarray]:
    from dataeval_gpu.datasets import load_folder_photos

    root = ROOT / "data_cache" / "photos"
    return load_folder_photos(root, max_side=512) if root.is_dir() else []


def blank_and_noise(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.full((3, 64, 64), 128, np.uint8), rng.integers(0, 256, (3, 64, 64), dtype=np.uint8)]


def _embed(images: list[np.ndarray]) -> np.ndarray:
    import torch

    from dataeval_gpu.embeddings import embed

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    t = time.perf_counter()
    emb = embed(images, batch_size=64)
    print(f"  embedded {len(images)} images in {time.perf_counter() - t:.0f} s", flush=True)
    return emb


def cached(path: Path, images: list[np.ndarray]) -> np.ndarray:
    if path.exists():
        emb = np.load(path)
        if len(emb) == len(images):
            return emb
    emb = _embed(images)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, emb)
    return emb


def fashion_set(n: int, cache: Path, photos: list[np.ndarray], seed: int = 0) -> dict:
    pool = fashion_pool()
    if not 1 <= n <= len(pool):
        raise SystemExit(f"--fashion-n must be in [1, {len(pool)}]")
    images = [pool[i][None] for i in range(n)]
    parts = []
    for b in range(0, n, BLOCK):
        stop = min(b + BLOCK, n)
        parts.append(cached(cache / f"fashion_{b}_{stop}.npy", images[b:stop]))
    rng = np.random.default_rng(seed)
    src = rng.choice(n, 2 * N_COPIES, replace=False).tolist()
    pairs: dict[str, list[tuple[int, int]]] = {"exact": [], "resized": []}
    extra: list[np.ndarray] = []
    for j, s in enumerate(src):
        kind = "exact" if j < N_COPIES else "resized"
        pairs[kind].append((s, n + len(extra)))
        extra.append(images[s].copy() if kind == "exact" else resize(images[s], (56, 56)))
    pick = rng.choice(len(photos), min(10, len(photos)), replace=False).tolist() if photos else []
    atypical = list(range(n + len(extra), n + len(extra) + len(pick) + 2))
    extra += [photos[i] for i in pick] + blank_and_noise(seed)
    parts.append(cached(cache / f"fashion{n}_planted_{len(extra)}.npy", extra))
    return {
        "name": f"fashion{n}",
        "images": images + extra,
        "emb": np.concatenate(parts),
        "n": n,
        "pairs": pairs,
        "atypical": atypical,
    }


def photo_set(cache: Path, photos: list[np.ndarray], seed: int = 0) -> dict:
    n = len(photos)
    rng = np.random.default_rng(seed)
    src = rng.choice(n, 4 * N_COPIES, replace=False).tolist()
    kinds = ("exact", "resized_3/4", "half", "jpeg75")
    pairs: dict[str, list[tuple[int, int]]] = {k: [] for k in kinds}
    extra: list[np.ndarray] = []
    for j, s in enumerate(src):
        kind = kinds[j // N_COPIES]
        img = photos[s]
        _, h, w = img.shape
        if kind == "exact":
            new = img.copy()
        elif kind == "resized_3/4":
            new = resize(img, (max(1, w * 3 // 4), max(1, h * 3 // 4)))
        elif kind == "half":
            new = resize(img, (max(1, w // 2), max(1, h // 2)))
        else:
            new = jpeg(img)
        pairs[kind].append((s, n + len(extra)))
        extra.append(new)
    pool = (
        fashion_pool()
        if (ROOT / "data_cache" / "fashion-mnist").is_dir()
        else np.zeros((0, 28, 28), np.uint8)
    )
    items = (
        [pool[i][None] for i in rng.choice(len(pool), min(5, len(pool)), replace=False)] if len(pool) else []
    )
    atypical = list(range(n + len(extra), n + len(extra) + len(items) + 2))
    extra += items + blank_and_noise(seed + 1)
    emb = np.concatenate(
        [cached(cache / f"photos_{n}.npy", photos), cached(cache / f"photos_planted_{len(extra)}.npy", extra)]
    )
    return {
        "name": f"photos{n}",
        "images": photos + extra,
        "emb": emb,
        "n": n,
        "pairs": pairs,
        "atypical": atypical,
    }


def _pair_found(groups: list[list[int]], a: int, b: int) -> bool:
    return any(a in g and b in g for g in groups)


def evaluate(s: dict, **kwargs) -> tuple[dict, object]:
    emb, n = s["emb"], s["n"]
    t = time.perf_counter()
    out = Clusterer(emb, **kwargs).evaluate()
    secs = time.perf_counter() - t
    labels = out.cluster_label
    outl = [i for i in out.outliers if i < n]
    pot = [i for i in out.potential_outliers if i < n]
    in_near = {i for g in out.potential_duplicates for i in g if i < n}
    planted_copies = {b for pp in s["pairs"].values() for _, b in pp}
    res = {
        "set": s["name"],
        "n_original": n,
        "n_total": len(emb),
        "method": out.method,
        "metric": out.metric if out.method == "hdbscan" else "euclidean",
        "seconds": round(secs, 2),
        "clusters": int(labels.max()) + 1 if labels is not None else None,
        "noise": int((labels < 0).sum()) if labels is not None else None,
        "outliers": len(outl),
        "potential_outliers": len(pot),
        "outlier_share": round(len(outl) / n, 4),
        "flagged_share": round((len(outl) + len(pot)) / n, 4),
        "atypical_outliers": f"{sum(i in set(out.outliers) for i in s['atypical'])}/{len(s['atypical'])}",
        "atypical_flagged": f"{sum(i in set(out.outliers) | set(out.potential_outliers) for i in s['atypical'])}"
        f"/{len(s['atypical'])}",
        "duplicate_groups": len(out.duplicates),
        "duplicate_groups_without_plants": sum(not (set(g) & planted_copies) for g in out.duplicates),
        "potential_duplicate_groups": len(out.potential_duplicates),
        "originals_in_potential_groups": len(in_near),
    }
    for kind, pp in s["pairs"].items():
        dup = sum(_pair_found(out.duplicates, a, b) for a, b in pp)
        near = sum(_pair_found(out.potential_duplicates, a, b) for a, b in pp)
        res[f"copies_{kind}"] = f"{dup} dup + {near} potential / {len(pp)}"
    return res, out


def save_grid(images: list[np.ndarray], ids: list[int], path: Path, title: str, tile: int = 96) -> None:
    """Up to 64 images in an 8-column grid, each labelled with its index."""
    from PIL import Image, ImageDraw

    ids = ids[:64]
    cols = 8
    rows = max(1, (len(ids) + cols - 1) // cols)
    canvas = Image.new("RGB", (cols * tile, rows * tile + 14), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((2, 1), title, fill="black")
    for j, i in enumerate(ids):
        pil = _pil(images[i]).convert("RGB")
        pil.thumbnail((tile - 4, tile - 14))
        x0, y0 = (j % cols) * tile, (j // cols) * tile + 14
        canvas.paste(pil, (x0 + 2, y0 + 12))
        draw.text((x0 + 2, y0), str(i), fill="red")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)


def grids(s: dict, out, folder: Path) -> None:
    order = np.argsort(-np.maximum(out.outlier_score, out.sparsity_score))
    flagged_out, flagged_pot = set(out.outliers), set(out.potential_outliers)
    name, images = s["name"], s["images"]
    save_grid(
        images,
        [int(i) for i in order if i in flagged_out],
        folder / f"{name}_outliers.png",
        f"{name}: outliers, highest score first",
    )
    save_grid(
        images,
        [int(i) for i in order if i in flagged_pot],
        folder / f"{name}_potential.png",
        f"{name}: potential outliers, highest score first",
    )
    rest = np.setdiff1d(np.arange(s["n"]), out.outliers + out.potential_outliers)
    pick = np.random.default_rng(1).choice(rest, min(64, rest.size), replace=False)
    save_grid(images, sorted(pick.tolist()), folder / f"{name}_random.png", f"{name}: random unflagged")
    pairs = [i for g in out.potential_duplicates[:32] for i in g[:2]]
    save_grid(
        images, pairs, folder / f"{name}_potential_duplicates.png", f"{name}: potential duplicate groups"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fashion-n", type=int, default=5000)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/clusterer_real"))
    ap.add_argument("--grid", type=Path, default=None, help="folder for PNG grids of flagged images")
    ap.add_argument("--metric", default="auto", help="kNN Clusterer metric (auto, cosine, euclidean)")
    ap.add_argument(
        "--method",
        default="both",
        choices=["exact", "hdbscan", "both"],
        help="which Clusterer to run (both: side by side)",
    )
    ap.add_argument("--skip-photos", action="store_true")
    ap.add_argument("--skip-fashion", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    photos = load_photos()
    sets = []
    if not args.skip_fashion:
        sets.append(fashion_set(args.fashion_n, args.cache, photos))
    if not args.skip_photos and photos:
        sets.append(photo_set(args.cache, photos))
    results = []
    methods = ["exact", "hdbscan"] if args.method == "both" else [args.method]
    for s in sets:
        for method in methods:
            kwargs = {"metric": args.metric} if method == "hdbscan" else {}
            res, out = evaluate(s, method=method, **kwargs)
            print(json.dumps(res), flush=True)
            results.append(res)
            if args.grid is not None:
                grids(s, out, args.grid / method)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
