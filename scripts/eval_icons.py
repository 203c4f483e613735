"""Scored quality issues on icon and sprite collections (images with alpha): flags on clean
collections (few wanted) and recall of defects planted on their icons.

    python scripts/eval_icons.py --debs /tmp/qr_debs            # every collection found
    python scripts/eval_icons.py --debs /tmp/qr_debs --sheets out/icons   # + contact sheets of the flagged

Collections (``COLLECTIONS``; each evaluated as its own dataset, every file decoded as the scan
decodes it, ``dataeval_gpu.io.decode_file``: alpha kept as a channel; SVG is not read):
the Adwaita theme of ``/usr/share/icons`` (colour icons, and every 4th symbolic icon), and
icon themes extracted with ``apt-get download PKG && dpkg-deb -x PKG.deb x_PKG`` into
``--debs``: oxygen-icon-theme (every 8th PNG, 8-256 px), gnome-icon-theme (every 6th),
tango-icon-theme (every 3rd); and gcompris-qt-data's sprites (``--sprites``: the WebP / PNG
files of the package's Qt resources, extracted into one folder).

Planted defects (``--plant``): the colour icons of 48 px and more with some transparency of
the oxygen, gnome and Adwaita sets (every 7th), each changed as below and evaluated inside its
own collection (so the relative issues compare with the clean icons): ``dark`` (colour // 8,
alpha kept: a dark icon seen on any background), ``transparent`` (alpha 0 everywhere: nothing
to see), ``flat`` (one opaque colour: a blank square), ``blur`` (Pillow GaussianBlur σ 2 of the
premultiplied RGBA), ``noise`` (Gaussian σ 25 on the colour, alpha kept), ``jpeg`` (the
colour as seen on white through JPEG quality 5, alpha kept: blocks where the icon is seen).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter

from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.io import decode_file
from dataeval_gpu.report.images import to_display_over_checker

#: name -> (root key, glob, step, names left out); root key: "icons" (/usr/share/icons), "debs"
#: (--debs), "sprites" (--sprites)
COLLECTIONS = {
    "adwaita colour": ("icons", "Adwaita/*/*/*.png", 1, ".symbolic."),
    "adwaita symbolic": ("icons", "Adwaita/*/*/*.symbolic.png", 4, None),
    "oxygen": ("debs", "x_oxygen-icon-theme/usr/share/icons/oxygen/base/*/*/*.png", 8, None),
    "gnome": ("debs", "x_gnome-icon-theme/usr/share/icons/gnome/*/*/*.png", 6, None),
    "tango": ("debs", "x_tango-icon-theme/usr/share/icons/Tango/*/*/*.png", 3, None),
    "gcompris sprites": ("sprites", "**/*.*", 1, None),
}
PLANT_IN = ("oxygen", "gnome", "adwaita colour")
PLANT_KINDS = ("dark", "transparent", "flat", "blur", "noise", "jpeg")
#: which flags count as finding each planted kind
PLANT_ISSUES = {
    "dark": ("dark",),
    "transparent": ("dark", "low_information"),
    "flat": ("low_information",),
    "blur": ("blurry",),
    "noise": ("noisy",),
    "jpeg": ("jpeg_blocking",),
}


def files_of(roots: dict[str, Path | None], key: str, pattern: str, step: int, leave_out: str | None = None) -> list[Path]:
    root = roots.get(key)
    if root is None or not root.exists():
        return []
    out = sorted(
        p
        for p in root.glob(pattern)
        if p.suffix.lower() in (".png", ".webp", ".jpg", ".jpeg") and not (leave_out and leave_out in p.name)
    )
    seen: set[Path] = set()
    uniq = [f for f in out if not (f.resolve() in seen or seen.add(f.resolve()))]  # type: ignore[func-returns-value]
    return uniq[::step]


def read(path: Path) -> np.ndarray | None:
    try:
        return decode_file(path).numpy()
    except Exception:  # noqa: BLE001 - a file the scan would report as failed
        return None


def rgba(img: np.ndarray) -> np.ndarray:
    """``(4, H, W)`` uint8 of a 1-4 channel image (alpha 255 where there is none)."""
    c = img.shape[0]
    col = img[:3] if c >= 3 else np.repeat(img[:1], 3, axis=0)
    a = img[-1:] if c in (2, 4) else np.full_like(img[:1], 255)
    return np.concatenate([col, a])


def plant(img: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    x = rgba(img)
    col, a = x[:3].astype(np.float64), x[3:].astype(np.float64)
    if kind == "dark":
        return np.concatenate([x[:3] // 8, x[3:]])
    if kind == "transparent":
        return np.concatenate([x[:3], np.zeros_like(x[3:])])
    if kind == "flat":
        c = rng.integers(0, 256, 3)
        return np.concatenate([np.broadcast_to(c[:, None, None], x[:3].shape).astype(np.uint8), np.full_like(x[3:], 255)])
    if kind == "blur":  # premultiplied, blurred, un-premultiplied (as an editor blurs a layer)
        pre = np.concatenate([col * a / 255.0, a]).round().astype(np.uint8)
        im = Image.fromarray(np.ascontiguousarray(np.moveaxis(pre, 0, -1)), "RGBA").filter(ImageFilter.GaussianBlur(2))
        b = np.moveaxis(np.asarray(im), -1, 0).astype(np.float64)
        un = np.where(b[3:] > 0, b[:3] * 255.0 / np.maximum(b[3:], 1), 0)
        return np.concatenate([un.clip(0, 255).round(), b[3:]]).astype(np.uint8)
    if kind == "noise":
        noisy = (col + rng.normal(0, 25, col.shape)).clip(0, 255).round().astype(np.uint8)
        return np.concatenate([noisy, x[3:]])
    if kind == "jpeg":
        seen = (col * a / 255.0 + 255.0 * (1 - a / 255.0)).round().astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(np.moveaxis(seen, 0, -1))).save(buf, "JPEG", quality=5)
        j = np.moveaxis(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")), -1, 0)
        return np.concatenate([j, x[3:]])
    raise ValueError(kind)


def counts(qo: Any) -> str:
    return ", ".join(f"{k} {int(v.sum())}" for k, v in qo.flags.items() if v.any()) or "none"


def sheet(imgs: list[np.ndarray], labels: list[str], path: Path, cell: int = 96, cols: int = 10) -> None:
    from PIL import ImageDraw

    rows = (len(imgs) + cols - 1) // cols
    out = Image.new("RGB", (cols * cell, rows * (cell + 24)), "white")
    draw = ImageDraw.Draw(out)
    for k, (im, lab) in enumerate(zip(imgs, labels, strict=True)):
        disp, grey = to_display_over_checker(im)
        arr = (np.clip(disp, 0, 1) * 255).round().astype(np.uint8)
        pil = Image.fromarray(arr, "L" if grey else "RGB").convert("RGB")
        scale = cell / max(pil.size)
        pil = pil.resize((max(1, round(pil.width * scale)), max(1, round(pil.height * scale))), Image.NEAREST)
        r, c = divmod(k, cols)
        out.paste(pil, (c * cell, r * (cell + 24)))
        draw.text((c * cell + 2, r * (cell + 24) + cell), lab[:30], fill="black")
        draw.text((c * cell + 2, r * (cell + 24) + cell + 11), lab[30:60], fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    out.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--icons", type=Path, default=Path("/usr/share/icons"))
    ap.add_argument("--debs", type=Path, default=None, help="folder of extracted icon-theme packages (x_PKG)")
    ap.add_argument("--sprites", type=Path, default=None, help="folder of gcompris-qt-data's sprites")
    ap.add_argument("--only", default="", help="comma-separated collection names")
    ap.add_argument("--no-plant", action="store_true")
    ap.add_argument("--sheets", type=Path, default=None, help="write contact sheets of the flagged images here")
    ap.add_argument("--json", type=Path, default=None, help="write per-collection counts here")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    roots = {"icons": args.icons, "debs": args.debs, "sprites": args.sprites}
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    rng = np.random.default_rng(0)
    report: dict[str, dict] = {}
    t0 = time.perf_counter()
    for name, (key, pattern, step, leave_out) in COLLECTIONS.items():
        if only and name not in only:
            continue
        files = files_of(roots, key, pattern, step, leave_out)
        decoded = [(f, read(f)) for f in files]
        failed = sum(im is None for _, im in decoded)
        decoded = [(f, im) for f, im in decoded if im is not None]
        if not decoded:
            print(f"{name}: no files")
            continue
        paths, imgs = [f for f, _ in decoded], [im for _, im in decoded]
        qo = QualityIssues().evaluate(imgs)
        alpha = sum(im.shape[0] in (2, 4) for im in imgs)
        fl = qo.flagged
        per = {k: int(v.sum()) for k, v in qo.flags.items()}
        print(
            f"{name}: {len(imgs)} images ({failed} not decoded, {alpha} with alpha); flagged {int(fl.sum())} = "
            f"{fl.mean():.1%}; {counts(qo)}",
            flush=True,
        )
        report[name] = {"images": len(imgs), "flagged": int(fl.sum()), "per_issue": per}
        if args.sheets is not None and fl.any():
            idx = np.nonzero(fl)[0][:200]
            labels = [f"{','.join(qo.issues(i))} {paths[i].parent.parent.name}/{paths[i].stem}" for i in idx]
            sheet([imgs[i] for i in idx], labels, args.sheets / f"{name.replace(' ', '_')}.png")
            with open(args.sheets / f"{name.replace(' ', '_')}.txt", "w") as fh:
                for i in np.nonzero(fl)[0]:
                    fh.write(f"{paths[i]} {imgs[i].shape}: {'; '.join(qo.why(i))}\n")
        if args.no_plant or name not in PLANT_IN:
            continue
        hosts = [i for i, im in enumerate(imgs) if im.shape[0] == 4 and min(im.shape[1:]) >= 48 and im[3].min() < 255][::7]
        found = {}
        for kind in PLANT_KINDS:
            planted = [plant(imgs[i], kind, rng) for i in hosts]
            q2 = QualityIssues().evaluate(imgs + planted)
            n = len(imgs)
            hit = np.zeros(len(planted), dtype=bool)
            for k in PLANT_ISSUES[kind]:
                hit |= q2.flags[k][n:]
            found[kind] = float(hit.mean())
            if args.sheets is not None and kind in ("dark", "jpeg", "blur"):
                sheet(planted[:40], [",".join(q2.issues(n + j)) for j in range(min(40, len(planted)))],
                      args.sheets / f"planted_{name.replace(' ', '_')}_{kind}.png")
        print(f"  planted on {len(hosts)} icons: recall " + ", ".join(f"{k} {v:.2f}" for k, v in found.items()), flush=True)
        report[name]["planted"] = {"hosts": len(hosts), "recall": found}
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    sys.exit(main())
