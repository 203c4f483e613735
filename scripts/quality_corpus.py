"""The planted corpus of scripts/eval_quality.py: real photos, near-duplicates and outliers.

    python scripts/quality_corpus.py            # build data_cache/quality_eval_v3/ (idempotent)

Sources (all offline, Debian packages unpacked with ``dpkg -x`` or bundled with Python
packages): the JPEGs of ``data_cache/photos`` (opencv-doc, mate-backgrounds,
ukui-wallpapers; ``scripts/fetch_photos.sh``), the landscape photos of ``endless-sky-data``
(``images/land``), the DARK / low-texture renders of ``naev-data`` (planets on black
space, nebula backgrounds, loading screens; alpha composited on black) and the
scikit-image / scikit-learn sample photos.  Grey pictures are stored as one grey channel,
also those their own file stores as RGB (the defect planted as ``grey_rgb``).  Every source is resized to at most 640 px on its
long side (Pillow LANCZOS) and saved as PNG; sources whose 64×64 grey thumbnails differ by
less than 3 grey levels on average (the same picture twice, at two resolutions) are kept once.

Planted near-duplicates (one variant of one source each) and outliers are saved as PNG
(JPEG variants are re-encoded then decoded, so their artefacts stay), and ``manifest.json``
lists for every file: its source id, collection, role (``photo``, ``dup``, ``outlier``) and kind.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
#: the manifest's version: a cache built by an older version is built anew (2: grey files stay one
#: channel; 3: a grey picture stored as RGB in its own file is stored as one grey channel too)
CORPUS_VERSION = 3
#: one folder per version, so that a checkout of an older version does not build over a newer one
CACHE = ROOT / "data_cache" / f"quality_eval_v{CORPUS_VERSION}"
DUP_KINDS = (
    "copy",
    "crop5px",
    "crop5%",
    "crop10%",
    "half",
    "jpeg50",
    "jpeg30",
    "bright+25",
    "contrast0.7",
    "hflip",
    "vflip",
    "rot90",
    "rot180",
    "rot5",
    "overlay",
)
OUTLIER_KINDS = (
    "constant",
    "dark",
    "overexposed",
    "blur2",
    "blur4",
    "noise",
    "saltpepper",
    "grey_rgb",
    "jpeg5",
    "thumb16",
    "tiny",
    "strip",
)
MAX_SIDE = 640


def _jpeg(im: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert(im.mode)


def _crop_frac(im: Image.Image, f: float) -> Image.Image:
    w, h = im.size
    dx, dy = round(f * w), round(f * h)
    return im.crop((dx, dy, w - dx, h - dy))


def rot_small(im: Image.Image, deg: float) -> Image.Image:
    """Rotate by ``deg`` and crop the largest centred box without the rotated-in border."""
    w, h = im.size
    r = im.rotate(deg, resample=Image.Resampling.BICUBIC, expand=False)
    a = np.deg2rad(abs(deg))
    # the axis-aligned box of the same aspect inside the rotated frame
    s = 1.0 / (np.cos(a) + max(w / h, h / w) * np.sin(a))
    cw, ch = int(w * s) - 2, int(h * s) - 2
    return r.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch))


def _overlay(im: Image.Image, seed: int) -> Image.Image:
    out = im.convert("RGB")  # a colour logo: a grey source becomes a colour image
    d = ImageDraw.Draw(out)
    w, h = out.size
    d.rectangle((w // 20, h // 20, w // 20 + w // 5, h // 20 + h // 10), fill=(230, 30, 30))
    d.text((w // 20 + 4, h // 20 + 4), f"LOGO {seed}", fill=(255, 255, 255))
    d.text((w // 3, h - h // 8), "(c) sample watermark", fill=(255, 255, 0))
    return out


def dup_variant(im: Image.Image, kind: str, seed: int) -> Image.Image:
    w, h = im.size
    a = np.asarray(im).astype(np.float32)
    ops = {
        "copy": lambda: im,
        "crop5px": lambda: im.crop((5, 5, w - 5, h - 5)),
        "crop5%": lambda: _crop_frac(im, 0.05),
        "crop10%": lambda: _crop_frac(im, 0.10),
        "half": lambda: im.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.BICUBIC),
        "jpeg50": lambda: _jpeg(im, 50),
        "jpeg30": lambda: _jpeg(im, 30),
        "bright+25": lambda: Image.fromarray(np.clip(a + 25, 0, 255).astype(np.uint8)),
        "contrast0.7": lambda: Image.fromarray(
            np.clip((a - a.mean()) * 0.7 + a.mean(), 0, 255).round().astype(np.uint8)
        ),
        "hflip": lambda: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "vflip": lambda: im.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
        "rot90": lambda: im.transpose(Image.Transpose.ROTATE_90),
        "rot180": lambda: im.transpose(Image.Transpose.ROTATE_180),
        "rot5": lambda: rot_small(im, 5.0 if seed % 2 else -5.0),
        "overlay": lambda: _overlay(im, seed),
    }
    return ops[kind]()


def outlier_variant(im: Image.Image, kind: str, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = im.size
    a = np.asarray(im)
    af = a.astype(np.float32)
    if kind == "constant":
        return Image.fromarray(np.broadcast_to(af.mean(axis=(0, 1)).round().astype(np.uint8), a.shape).copy())
    if kind == "dark":
        return Image.fromarray(a // 8)
    if kind == "overexposed":
        return Image.fromarray(np.clip(af * 2.5 + 60, 0, 255).astype(np.uint8))
    if kind in ("blur2", "blur4"):
        return im.filter(ImageFilter.GaussianBlur(2 if kind == "blur2" else 4))
    if kind == "noise":
        return Image.fromarray(np.clip(af + rng.normal(0, 25, a.shape), 0, 255).round().astype(np.uint8))
    if kind == "saltpepper":
        out = a.copy()
        u = rng.random(a.shape[:2])
        out[u < 0.025] = 0
        out[u > 0.975] = 255
        return Image.fromarray(out)
    if kind == "grey_rgb":
        return im.convert("L").convert("RGB")
    if kind == "jpeg5":
        return _jpeg(im, 5)
    if kind == "thumb16":
        return im.resize((16, 16), Image.Resampling.BILINEAR).resize((w, h), Image.Resampling.BICUBIC)
    if kind == "tiny":
        return im.resize((24, max(1, round(24 * h / w))), Image.Resampling.LANCZOS)
    if kind == "strip":
        return im.crop((0, h // 2 - max(4, h // 20), w, h // 2 + max(4, h // 20)))
    raise ValueError(kind)


def _fetch_deb(pkg: str, dest: Path) -> Path:
    if dest.exists():
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", pkg], cwd=tmp, check=True, capture_output=True)
        deb = next(Path(tmp).glob(f"{pkg}_*.deb"))
        dest.parent.mkdir(parents=True, exist_ok=True)  # dpkg -x makes dest, not its parents
        subprocess.run(["dpkg", "-x", str(deb), str(dest)], check=True)
    return dest


#: file modes stored with one grey channel: kept as one channel (mode "L"), not turned into RGB -
#: a grey picture stored as RGB is a planted defect (``grey_rgb``), so the unmodified sources must
#: not be made into one
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def load_source(p: Path) -> Image.Image:
    """A source as a clean collection stores it: colour pictures as RGB, grey ones as L (alpha
    composited on black).  A grey picture that its own file stores as RGB (``channels_equal``:
    18 opencv-doc JPEGs, 4 naev-data renders) is stored as L as well: it carries the defect
    planted as ``grey_rgb`` already, and the unmodified photos are to be clean photos."""
    with Image.open(p) as im:
        grey = im.mode in GREY_MODES or (im.mode == "P" and _palette_grey(im))
        if im.mode in ("RGBA", "LA", "P", "PA"):
            im = im.convert("RGBA")
            bg = Image.new("RGB", im.size, (0, 0, 0))
            bg.paste(im, mask=im.split()[3])
            out = bg
        elif im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            return Image.fromarray((np.asarray(im, dtype=np.float64) / 256.0).clip(0, 255).astype(np.uint8))
        else:
            out = im.convert("L" if grey else "RGB")
        if grey or channels_equal(np.asarray(out.convert("RGB"))):
            return out.convert("L")
        return out


def channels_equal(rgb: np.ndarray) -> bool:
    """A grey picture stored as RGB (a check independent of every tool): at 99 % of the pixels of
    an ``(H, W, 3)`` array the three channels are within 2 levels of each other."""
    x = rgb[..., :3].astype(np.int16)
    return float(np.mean(x.max(axis=-1) - x.min(axis=-1) <= 2)) >= 0.99


def _palette_grey(im: Image.Image) -> bool:
    pal = np.asarray(im.getpalette() or [], dtype=np.int16).reshape(-1, 3)
    return bool(pal.size) and bool(np.all(pal.max(axis=1) == pal.min(axis=1)))


def mode_like(out: Image.Image, src: Image.Image) -> Image.Image:
    """A variant of a grey (L) source stays one channel while its channels are equal."""
    if src.mode != "L" or out.mode == "L":
        return out
    a = np.asarray(out.convert("RGB"))
    return (
        out.convert("L")
        if np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 0], a[..., 2])
        else out
    )


def fit(im: Image.Image, max_side: int = MAX_SIDE) -> Image.Image:
    """``im`` with its long side at most ``max_side`` (LANCZOS)."""
    w, h = im.size
    if max(w, h) <= max_side:
        return im
    s = max_side / max(w, h)
    return im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)


def source_files(cache: Path, n_photos: int, n_land: int, n_dark: int) -> list[tuple[str, Image.Image]]:
    out: list[tuple[str, Image.Image]] = []
    photos = sorted((ROOT / "data_cache" / "photos").glob("*.jpg"))
    step = max(1, len(photos) // max(1, n_photos))
    out += [("photos", load_source(p)) for p in photos[::step][:n_photos]]
    es = _fetch_deb("endless-sky-data", cache / "debs" / "endless-sky")
    land = sorted(es.rglob("images/land/*.jpg"))
    step = max(1, len(land) // max(1, n_land))
    out += [("endless-sky", load_source(p)) for p in land[::step][:n_land]]
    nv = _fetch_deb("naev-data", cache / "debs" / "naev")
    gfx = next(nv.rglob("dat/gfx"))
    dark = sorted(gfx.glob("planet/space/*.png")) + sorted(gfx.glob("loading/*")) + sorted(gfx.glob("bkg/*"))
    dark = [p for p in dark if p.suffix.lower() in (".png", ".jpg", ".webp")]
    step = max(1, len(dark) // max(1, n_dark))
    out += [("naev-dark", load_source(p)) for p in dark[::step][:n_dark]]
    try:
        from dataeval_gpu.datasets import sample_photos

        out += [
            (
                "skimage",
                Image.fromarray(a[0])
                if a.shape[0] == 1
                else Image.fromarray(np.moveaxis(a, 0, -1)).convert("RGB"),
            )
            for _, a in sample_photos()
        ]
    except ImportError:
        pass
    return [(c, fit(im)) for c, im in out if min(im.size) >= 64]


def _thumb(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("L").resize((64, 64), Image.Resampling.BOX), dtype=np.float32)


def build(
    cache: Path = CACHE,
    n_photos: int = 220,
    n_land: int = 90,
    n_dark: int = 130,
    dup_per_kind: int = 24,
    outlier_per_kind: int = 20,
    seed: int = 0,
) -> dict:
    """Write ``cache/images/*.png`` and ``cache/manifest.json``; return the manifest."""
    man_path = cache / "manifest.json"
    if man_path.exists():
        manifest = json.loads(man_path.read_text())
        if manifest.get("version") == CORPUS_VERSION:
            return manifest
        # built by an older version of this script: build anew, and drop what was derived from it
        for stale in (
            "embeddings.npy",
            "external.json",
            *(p.name for p in cache.glob("quality_metrics_*.pt")),
        ):
            (cache / stale).unlink(missing_ok=True)
    img_dir = cache / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    sources, thumbs = [], []
    for coll, im in source_files(cache, n_photos, n_land, n_dark):
        t = _thumb(im)
        if any(np.abs(t - u).mean() < 3.0 for u in thumbs):
            continue
        thumbs.append(t)
        sources.append((coll, im))
    rng = np.random.default_rng(seed)
    entries = []

    def save(im: Image.Image, src: int, role: str, kind: str) -> None:
        name = f"{len(entries):05d}_{role}_{kind.replace('%', 'pc').replace('+', 'p')}.png"
        im.save(img_dir / name)
        entries.append(
            {"file": name, "source": src, "collection": sources[src][0], "role": role, "kind": kind}
        )

    for i, (_, im) in enumerate(sources):
        save(im, i, "photo", "photo")
    # every kind draws its sources evenly over the collections (the dark one included)
    for kinds, per, role, fn in (
        (DUP_KINDS, dup_per_kind, "dup", dup_variant),
        (OUTLIER_KINDS, outlier_per_kind, "outlier", outlier_variant),
    ):
        for k, kind in enumerate(kinds):
            for s in rng.choice(len(sources), size=per, replace=False):
                out = fn(sources[s][1], kind, int(s) * 31 + k)
                save(out if kind == "grey_rgb" else mode_like(out, sources[s][1]), int(s), role, kind)
    manifest = {"version": CORPUS_VERSION, "n_sources": len(sources), "entries": entries}
    # the byte copy: the copy variants are byte-identical files of their sources
    for e in entries:
        if e["kind"] == "copy":
            (img_dir / e["file"]).write_bytes((img_dir / entries[e["source"]]["file"]).read_bytes())
    man_path.write_text(json.dumps(manifest))
    return manifest


def digest(cache: Path = CACHE) -> str:
    return hashlib.sha1((cache / "manifest.json").read_bytes()).hexdigest()[:12]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args()
    m = build(args.cache)
    roles = {}
    for e in m["entries"]:
        roles[(e["role"], e["collection"])] = roles.get((e["role"], e["collection"]), 0) + 1
    print(m["n_sources"], "sources;", sorted(roles.items()))
