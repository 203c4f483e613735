"""Recall of near-duplicate hashing on real photos with planted variants.

    python scripts/eval_near_duplicates.py                    # all photos found, default radii
    python scripts/eval_near_duplicates.py --max-photos 200 --radii 0,4,8,10,12

For every photo (scikit-image / scikit-learn samples plus the JPEGs under ``--photos-dir``,
default ``data_cache/photos`` filled by ``scripts/fetch_photos.sh``), eight variants are
made: an exact copy, a 5-pixel crop (5 px off every side), a 10% crop (5% off every
side), a half-size resize (Pillow bicubic), a JPEG re-encode at quality 50, brightness +25
(clipped), a horizontal flip and a 90-degree rotation.  For each hash (pchash, dhash and
their D4 versions) and radius it prints

* recall per variant kind: the share of (photo, variant) pairs whose hashes are within
  the radius (radius 0 = identical hashes, DataEval 0.65's rule);
* pairs among the unmodified photos within the radius, split by content: "similar" when
  their 48x48 grey thumbnails correlate at >= 0.5 (the corpus has genuine near duplicates:
  one photo at three resolutions, tutorial frames of one scene), "false" otherwise;
* the detector check: the share of variants that ``Duplicates(radius=r)`` puts in one
  group (exact or near) with their photo, at radius 0 and at the recommended radius.

The recommended radius is the largest radius at which pchash's false pairs stay at or
below ``--max-false-per-photo`` (default 0.005) per photo.
"""

from __future__ import annotations

import argparse
import io
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dataeval_gpu.datasets import load_folder_photos, sample_photos
from dataeval_gpu.functional.hashing import (
    difference_hash,
    difference_hash_d4,
    hamming_distance,
    near_pairs,
    perceptual_hash,
    perceptual_hash_d4,
    xxhash64,
)

KINDS = ("copy", "crop5px", "crop10%", "half size", "jpeg q50", "bright+25", "hflip", "rot90")
HASHES = {
    "pchash": perceptual_hash,
    "dhash": difference_hash,
    "pchash_d4": perceptual_hash_d4,
    "dhash_d4": difference_hash_d4,
}


def to_pil(img: np.ndarray) -> Image.Image:
    hwc = np.moveaxis(img, 0, -1)
    return Image.fromarray(hwc[..., 0] if hwc.shape[-1] == 1 else hwc)


def from_pil(im: Image.Image) -> np.ndarray:
    arr = np.array(im)  # a writable copy
    return np.ascontiguousarray(arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0))


def variants(img: np.ndarray) -> list[np.ndarray]:
    _, h, w = img.shape
    dy, dx = max(1, round(0.05 * h)), max(1, round(0.05 * w))
    buf = io.BytesIO()
    to_pil(img).save(buf, format="JPEG", quality=50)
    jpeg = from_pil(Image.open(io.BytesIO(buf.getvalue())))
    half = from_pil(to_pil(img).resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.BICUBIC))
    return [
        img.copy(),
        np.ascontiguousarray(img[:, 5:-5, 5:-5]),
        np.ascontiguousarray(img[:, dy:-dy, dx:-dx]),
        half,
        jpeg,
        np.clip(img.astype(np.int16) + 25, 0, 255).astype(np.uint8),
        np.ascontiguousarray(img[:, :, ::-1]),
        np.ascontiguousarray(np.rot90(img, 1, axes=(1, 2))),
    ]


def load_photos(photos_dir: Path | None, max_photos: int, max_side: int, min_side: int) -> list[np.ndarray]:
    photos = [img for _, img in sample_photos()]
    if photos_dir is not None and photos_dir.is_dir():
        photos += load_folder_photos(photos_dir, max_side=max_side)
    out, seen = [], set()
    for img in photos:
        if min(img.shape[1:]) < min_side:
            continue
        if max(img.shape[1:]) > max_side:
            scale = max_side / max(img.shape[1:])
            size = (max(1, round(img.shape[2] * scale)), max(1, round(img.shape[1] * scale)))
            img = from_pil(to_pil(img).resize(size, Image.Resampling.BILINEAR))
        key = int(xxhash64([img])[0])
        if key in seen:  # the same file twice in the sources
            continue
        seen.add(key)
        out.append(img)
        if len(out) >= max_photos:
            break
    return out


def thumbnails(photos: list[np.ndarray]) -> np.ndarray:
    """48x48 grey thumbnails, centred and normalised: row dot products are correlations."""
    out = []
    for p in photos:
        g = np.asarray(to_pil(p).convert("L").resize((48, 48), Image.Resampling.BILINEAR), dtype=np.float64)
        g = g.ravel() - g.mean()
        out.append(g / (np.linalg.norm(g) + 1e-9))
    return np.stack(out)


def hash_all(fn, images: list[np.ndarray], batch: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    hs, vs = [], []
    for s in range(0, len(images), batch):
        h, v = fn([torch.from_numpy(i) for i in images[s : s + batch]])
        hs.append(h)
        vs.append(v)
    return torch.cat(hs), torch.cat(vs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--photos-dir", type=Path, default=Path(__file__).resolve().parents[1] / "data_cache" / "photos"
    )
    ap.add_argument("--max-photos", type=int, default=1000)
    ap.add_argument("--max-side", type=int, default=640)
    ap.add_argument("--min-side", type=int, default=64)
    ap.add_argument("--radii", default="0,2,4,6,8,10,12,14,16")
    ap.add_argument("--max-false-per-photo", type=float, default=0.005)
    ap.add_argument(
        "--show-false", type=int, default=-1, help="list the false pchash pairs up to this radius"
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--markdown", action="store_true", help="print the tables as markdown")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    radii = [int(r) for r in args.radii.split(",")]

    t0 = time.perf_counter()
    photos = load_photos(args.photos_dir, args.max_photos, args.max_side, args.min_side)
    n = len(photos)
    var = [variants(p) for p in photos]
    print(
        f"{n} distinct photos, {n * len(KINDS)} variants ({time.perf_counter() - t0:.1f} s to load and plant)"
    )

    thumbs = thumbnails(photos)
    results: dict[str, dict] = {}
    for name, fn in HASHES.items():
        t1 = time.perf_counter()
        h0, v0 = hash_all(fn, photos)
        hv, vv = hash_all(fn, [v for vs in var for v in vs])
        hv = hv.reshape(n, len(KINDS))
        vv = vv.reshape(n, len(KINDS))
        dist = hamming_distance(hv, h0[:, None])  # (n, kinds)
        ok = vv & v0[:, None]
        false = {}
        idx = torch.nonzero(v0).reshape(-1)
        for r in radii:
            pairs = idx[near_pairs(h0[v0], r)].numpy()
            corr = np.einsum("ij,ij->i", thumbs[pairs[:, 0]], thumbs[pairs[:, 1]])
            false[r] = (int((corr >= 0.5).sum()), int((corr < 0.5).sum()))
        results[name] = {"dist": dist, "ok": ok, "false": false}
        print(f"{name}: hashed {n * (1 + len(KINDS))} images in {time.perf_counter() - t1:.1f} s")

    total_pairs = n * (n - 1) // 2
    budget = args.max_false_per_photo * n
    recommended = max((r for r in radii if results["pchash"]["false"][r][1] <= budget), default=0)
    bar = "|" if args.markdown else " "
    for name, res in results.items():
        print(f"\n{name}: recall per variant (share of pairs within the radius); pairs among the photos")
        head = ["radius", *KINDS, "similar", "false"]
        print(bar.join(f"{h:>11}" for h in head))
        if args.markdown:
            print("|".join(["---:"] * len(head)))
        for r in radii:
            within = ((res["dist"] <= r) & res["ok"]).float().sum(0) / res["ok"].float().sum(0).clamp(min=1)
            similar, false_pairs = res["false"][r]
            cells = (
                [f"{r:>11}"]
                + [f"{x:>11.2f}" for x in within.tolist()]
                + [f"{similar:>11}", f"{false_pairs:>11}"]
            )
            print(bar.join(cells))
    print(
        f"\nrecommended radius (pchash false pairs <= {args.max_false_per_photo:g} per photo = {budget:.1f}, "
        f"out of {total_pairs} pairs): {recommended}"
    )
    if args.show_false >= 0:
        h0, v0 = hash_all(perceptual_hash, photos)
        idx = torch.nonzero(v0).reshape(-1)
        pairs = idx[near_pairs(h0[v0], args.show_false)]
        for a, b in pairs.tolist():
            d = int(hamming_distance(h0[a], h0[b]))
            print(
                f"  false pchash pair at distance {d}: photo {a} {photos[a].shape} ~ photo {b} {photos[b].shape}"
            )

    from dataeval_gpu.detectors.duplicates import Duplicates

    for kind, d4 in (("pchash", False), ("pchash", True)):
        for r in sorted({0, recommended}):
            images = photos + [v for vs in var for v in vs]
            out = Duplicates(radius=r, hash=kind, d4=d4).evaluate(images)
            group_of = {}
            for g in out.exact + out.near:
                for i in g:
                    group_of.setdefault(i, set()).update(g)
            found = np.zeros(len(KINDS))
            for p in range(n):
                for k in range(len(KINDS)):
                    found[k] += (n + p * len(KINDS) + k) in group_of.get(p, set())
            print(
                f"Duplicates(radius={r}, hash={kind!r}, d4={d4}): variant grouped with its photo: "
                + ", ".join(f"{kk} {f / n:.2f}" for kk, f in zip(KINDS, found, strict=True))
            )
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
