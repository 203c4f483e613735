"""Flag rates of the quality issues on real, unmodified collections (precision survey).

    python scripts/quality_survey.py                      # every collection, counts per issue
    python scripts/quality_survey.py --only fashion --sheets /tmp/sheets   # + contact sheets

Each collection is evaluated as its own dataset with ``QualityIssues()`` on the files as the scan
decodes them (``dataeval_gpu.io.decode_file``).  The metrics are cached per collection (keyed by
the file list and the source of the metric modules), so a change of the rules re-scores at once.
``--sheets DIR`` writes one contact sheet per collection and issue (flagged images, each labelled
with its index and score) to judge the flags by eye.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.io import decode_file

ROOT = Path(__file__).resolve().parent.parent
DEBS = Path("/tmp/qr_debs")
DEBS2 = Path("/tmp/qr_debs2")  # held-out collections (session 3): never used for tuning before
SPRITES = Path("/tmp/precision/gcompris_sprites")  # the WebP / PNG files of the package's .rcc resources
EXTS = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def files_under(*dirs: Path, every: int = 1) -> list[Path]:
    out = sorted(p for d in dirs if d.exists() for p in d.rglob("*") if p.suffix.lower() in EXTS and p.is_file())
    return out[::every]


def collections() -> dict[str, list[Path] | str]:
    return {
        "photos": files_under(ROOT / "data_cache" / "photos"),
        "fashion": "fashion",
        "wallpapers": files_under(
            DEBS / "x_plasma-workspace-wallpapers",
            DEBS / "x_lomiri-wallpapers",
            DEBS / "x_lomiri-wallpapers-16.04",
            DEBS / "x_lomiri-wallpapers-20.04",
        ),
        "oxygen": files_under(DEBS / "x_oxygen-icon-theme", every=8),
        "tango": files_under(DEBS / "x_tango-icon-theme", every=3),
        "gcompris": files_under(SPRITES),
        "stellarium": files_under(DEBS / "x_stellarium-data"),
        # held-out collections (subsampled deterministically to at most ~1,500 images)
        "wesnoth": files_under(DEBS2 / "x_wesnoth-1.16-data", every=10),
        "supertux": files_under(DEBS2 / "x_supertux-data", every=2),
        "frozenbubble": files_under(DEBS2 / "x_frozen-bubble-data", every=3),
        "hedgewars": files_under(DEBS2 / "x_hedgewars-data", every=2),
        "pingus": files_under(DEBS2 / "x_pingus-data"),
        "tuxpaint": files_under(DEBS2 / "x_tuxpaint-stamps-default"),
        "lincity": files_under(DEBS2 / "x_lincity-ng-data"),
        "wallpapers2": files_under(DEBS2 / "x_desktop-base", DEBS2 / "x_gnome-backgrounds"),
    }


def fashion(n: int = 3000) -> list[torch.Tensor]:
    path = ROOT / "data_cache" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
    raw = np.frombuffer(gzip.open(path).read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n]
    return [torch.from_numpy(x.copy())[None] for x in raw]


def load(spec: list[Path] | str) -> tuple[list[torch.Tensor], list[str]]:
    if spec == "fashion":
        imgs = fashion()
        return imgs, [f"t10k[{i}]" for i in range(len(imgs))]
    imgs, names = [], []
    for p in spec:
        try:
            imgs.append(decode_file(p))
            names.append(str(p))
        except Exception:  # noqa: BLE001 - a survey skips what it cannot decode
            continue
    return imgs, names


def source_key() -> str:
    """The source of every metric module (a changed kernel or constant measures anew)."""
    mods = sorted((ROOT / "dataeval_gpu" / "functional").glob("quality*.py"))
    return hashlib.sha256(b"".join(m.read_bytes() for m in mods)).hexdigest()[:10]


def metrics_of(name: str, spec, cache: Path) -> tuple[dict, list[str], list[torch.Tensor] | None]:
    key = hashlib.sha256(json.dumps([str(p) for p in spec] if spec != "fashion" else spec).encode()).hexdigest()[:8]
    path = cache / f"{name}_{key}_{source_key()}.pt"
    if path.exists():
        d = torch.load(path)
        return d["metrics"], d["names"], None
    imgs, names = load(spec)
    metrics = QualityIssues().metrics(imgs)
    torch.save({"metrics": metrics, "names": names}, path)
    return metrics, names, imgs


def sheet(imgs: list[torch.Tensor], idx: list[int], labels: list[str], out: Path, cell: int = 128) -> None:
    cols = 8
    rows = (len(idx) + cols - 1) // cols
    canvas = Image.new("RGB", (cols * cell, rows * (cell + 14)), (255, 0, 255))
    draw = ImageDraw.Draw(canvas)
    for n, (i, lab) in enumerate(zip(idx, labels)):
        x = imgs[i].numpy()
        if x.dtype != np.uint8:  # 16-bit files: scaled to 8 bits for the sheet
            x = (x.astype(np.float64) * 255.0 / max(float(x.max()), 1.0)).round().astype(np.uint8)
        if x.shape[0] in (2, 4):  # composite on mid grey, as the metrics see it
            a = x[-1:].astype(np.float32) / 255
            x = (x[:-1] * a + 128 * (1 - a)).astype(np.uint8)
        x = np.repeat(x[:1], 3, 0) if x.shape[0] == 1 else x[:3]
        im = Image.fromarray(np.moveaxis(x, 0, -1))
        scale = cell / max(im.size)
        size = (max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale)))
        im = im.resize(size, Image.NEAREST if scale > 1 else Image.BILINEAR)
        r, c = divmod(n, cols)
        canvas.paste(im, (c * cell, r * (cell + 14)))
        draw.text((c * cell + 2, r * (cell + 14) + cell), lab, fill=(255, 255, 255))
    canvas.save(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="collections to survey (default: all)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/quality_survey"))
    ap.add_argument("--sheets", type=Path, help="write contact sheets of the flagged images here")
    ap.add_argument("--names", action="store_true", help="print the flagged files")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name, spec in collections().items():
        if args.only and name not in args.only:
            continue
        metrics, names, imgs = metrics_of(name, spec, args.cache)
        q = QualityIssues().evaluate(metrics)
        counts = {k: int(v.sum()) for k, v in q.flags.items() if v.any()}
        summary[name] = {"images": len(names), "any": int(q.flagged.sum()), **counts}
        print(f"{name}: {len(names)} images, any {int(q.flagged.sum())}: {counts}", flush=True)
        for k, f in q.flags.items():
            idx = np.flatnonzero(f).tolist()
            if not idx:
                continue
            if args.names:
                for i in idx:
                    print(f"  {k} {q.scores[k][i]:.3f} [{i}] {names[i]}")
            if args.sheets:
                if imgs is None:
                    imgs, _ = load(spec)
                args.sheets.mkdir(parents=True, exist_ok=True)
                labels = [f"{i} {q.scores[k][i]:.2f}" for i in idx]
                sheet(imgs, idx[:160], labels[:160], args.sheets / f"{name}_{k}.png")
    json.dump(summary, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
