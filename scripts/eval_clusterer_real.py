#!/usr/bin/env python
"""The Clusterer on real image embeddings: outlier shares, planted copies, a grid to look at.

    python scripts/eval_clusterer_real.py                      # Fashion-MNIST 5,000 + photos
    python scripts/eval_clusterer_real.py --fashion-n 10000    # a larger sample
    python scripts/eval_clusterer_real.py --grid /tmp/grids    # save flagged-image grids (PNG)

Data (fetched by ``scripts/fetch_fashion_mnist.sh`` and ``scripts/fetch_photos.sh``):

* Fashion-MNIST test split: the first ``--fashion-n`` images, plus planted copies of 40 of
  them: 20 exact copies and 20 resized ones (28 -> 56 px bilinear);
* the JPEGs of ``data_cache/photos`` (long side fitted to 512 px), plus 20 exact copies,
  20 copies at half size and 20 re-encoded as JPEG quality 75.

Everything is embedded with the default model (:func:`dataeval_gpu.embeddings.embed`,
EfficientNet-Lite0, 1280-d), once: the arrays are cached in ``--cache`` (default
``/tmp/clusterer_real``), since embedding runs at ~30-100 images/s on a small CPU.
Reported per set: clusters, noise, the outlier and potential-outlier shares, and the
planted copies found as duplicates (exact) or potential duplicates (resized / re-encoded).
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


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format, gzip) as a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _resize(chw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    hwc = np.moveaxis(chw, 0, -1)
    pil = Image.fromarray(hwc[..., 0] if hwc.shape[-1] == 1 else hwc)
    arr = np.asarray(pil.resize(size, Image.Resampling.BILINEAR))
    return arr[None] if arr.ndim == 2 else np.ascontiguousarray(np.moveaxis(arr, -1, 0))


def _jpeg(chw: np.ndarray, quality: int = 75) -> np.ndarray:
    from PIL import Image

    hwc = np.moveaxis(chw, 0, -1)
    pil = Image.fromarray(hwc[..., 0] if hwc.shape[-1] == 1 else hwc)
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=quality)
    arr = np.asarray(Image.open(io.BytesIO(buf.getvalue())))
    return arr[None] if arr.ndim == 2 else np.ascontiguousarray(np.moveaxis(arr, -1, 0))


def fashion_images(n: int, seed: int = 0) -> tuple[list[np.ndarray], dict[str, list[tuple[int, int]]]]:
    """The first n test images and planted copies; the copies as (source, copy) pairs."""
    x = read_idx(ROOT / "data_cache" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz")
    images = [x[i][None] for i in range(n)]
    rng = np.random.default_rng(seed)
    src = rng.choice(n, 2 * N_COPIES, replace=False)
    pairs: dict[str, list[tuple[int, int]]] = {"exact": [], "resized": []}
    for j, s in enumerate(src.tolist()):
        kind = "exact" if j < N_COPIES else "resized"
        img = images[s].copy() if kind == "exact" else _resize(images[s], (56, 56))
        pairs[kind].append((s, len(images)))
        images.append(img)
    return images, pairs


def photo_images(seed: int = 0) -> tuple[list[np.ndarray], dict[str, list[tuple[int, int]]], list[str]]:
    from dataeval_gpu.datasets import list_image_files, load_folder_photos

    root = ROOT / "data_cache" / "photos"
    images = load_folder_photos(root, max_side=512)
    names = [p.name for p in list_image_files(root)][: len(images)]
    n = len(images)
    rng = np.random.default_rng(seed)
    src = rng.choice(n, 3 * N_COPIES, replace=False)
    pairs: dict[str, list[tuple[int, int]]] = {"exact": [], "half": [], "jpeg75": []}
    for j, s in enumerate(src.tolist()):
        kind = ("exact", "half", "jpeg75")[j // N_COPIES]
        img = images[s]
        if kind == "exact":
            new = img.copy()
        elif kind == "half":
            new = _resize(img, (max(1, img.shape[2] // 2), max(1, img.shape[1] // 2)))
        else:
            new = _jpeg(img)
        pairs[kind].append((s, len(images)))
        images.append(new)
    return images, pairs, names


def cached_embeddings(name: str, images: list[np.ndarray], cache: Path) -> np.ndarray:
    f = cache / f"{name}.npy"
    if f.exists():
        emb = np.load(f)
        if len(emb) == len(images):
            return emb
    import torch

    from dataeval_gpu.embeddings import embed

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    t = time.perf_counter()
    emb = embed(images, batch_size=64)
    print(f"  embedded {len(images)} images in {time.perf_counter() - t:.0f} s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(f, emb)
    return emb


def _pair_found(groups: list[list[int]], a: int, b: int) -> bool:
    return any(a in g and b in g for g in groups)


def evaluate(name: str, emb: np.ndarray, pairs: dict[str, list[tuple[int, int]]], **kwargs) -> dict:
    t = time.perf_counter()
    out = Clusterer(emb, **kwargs).evaluate()
    secs = time.perf_counter() - t
    n = len(emb)
    res = {
        "set": name,
        "n": n,
        "seconds": round(secs, 2),
        "clusters": int(out.cluster_label.max()) + 1,
        "noise": int((out.cluster_label < 0).sum()),
        "outliers": len(out.outliers),
        "potential_outliers": len(out.potential_outliers),
        "outlier_share": round(len(out.outliers) / n, 4),
        "flagged_share": round((len(out.outliers) + len(out.potential_outliers)) / n, 4),
        "duplicate_groups": len(out.duplicates),
        "potential_duplicate_groups": len(out.potential_duplicates),
        "in_duplicate_groups": sum(len(g) for g in out.duplicates),
        "in_potential_groups": sum(len(g) for g in out.potential_duplicates),
    }
    for kind, pp in pairs.items():
        res[f"{kind}_as_duplicate"] = sum(_pair_found(out.duplicates, a, b) for a, b in pp)
        res[f"{kind}_as_potential"] = sum(_pair_found(out.potential_duplicates, a, b) for a, b in pp)
        res[f"{kind}_planted"] = len(pp)
    return res, out


def save_grid(images: list[np.ndarray], ids: list[int], path: Path, title: str, tile: int = 96) -> None:
    from PIL import Image, ImageDraw

    ids = ids[:64]
    cols = 8
    rows = max(1, (len(ids) + cols - 1) // cols)
    canvas = Image.new("RGB", (cols * tile, rows * tile + 14), "white")
    ImageDraw.Draw(canvas).text((2, 1), title, fill="black")
    for j, i in enumerate(ids):
        img = images[i]
        hwc = np.moveaxis(img, 0, -1)
        pil = Image.fromarray(hwc[..., 0] if hwc.shape[-1] == 1 else hwc).convert("RGB")
        pil.thumbnail((tile - 4, tile - 14))
        x0, y0 = (j % cols) * tile, (j // cols) * tile + 14
        canvas.paste(pil, (x0 + 2, y0 + 12))
        ImageDraw.Draw(canvas).text((x0 + 2, y0), str(i), fill="red")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fashion-n", type=int, default=5000)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/clusterer_real"))
    ap.add_argument("--grid", type=Path, default=None, help="folder for PNG grids of flagged images")
    ap.add_argument("--skip-photos", action="store_true")
    ap.add_argument("--skip-fashion", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    results = []
    sets = []
    if not args.skip_fashion:
        imgs, pairs = fashion_images(args.fashion_n)
        sets.append((f"fashion{args.fashion_n}", imgs, pairs))
    if not args.skip_photos:
        imgs, pairs, _ = photo_images()
        sets.append(("photos", imgs, pairs))
    for name, imgs, pairs in sets:
        print(f"{name}: {len(imgs)} images", flush=True)
        emb = cached_embeddings(name, imgs, args.cache)
        res, out = evaluate(name, emb, pairs)
        print(json.dumps(res), flush=True)
        results.append(res)
        if args.grid is not None:
            order = np.argsort(-out.outlier_score)
            top = [int(i) for i in order if i in set(out.outliers)][:64]
            save_grid(imgs, top, args.grid / f"{name}_outliers.png", f"{name}: outliers, highest score first")
            pot = [int(i) for i in order if i in set(out.potential_outliers)][:64]
            save_grid(imgs, pot, args.grid / f"{name}_potential.png", f"{name}: potential outliers")
            rng = np.random.default_rng(1)
            rest = np.setdiff1d(np.arange(len(imgs)), out.outliers + out.potential_outliers)
            save_grid(imgs, sorted(rng.choice(rest, 64, replace=False).tolist()), args.grid / f"{name}_random.png",
                      f"{name}: random unflagged")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
