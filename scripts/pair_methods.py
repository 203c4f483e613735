"""Near pairs of a scan by method, and where two paired thumbnails disagree (a measuring tool,
nearglyph18: docs/duplicates.md, "One template, another glyph").  No pair rule reads it.

    python scripts/pair_methods.py scan FOLDER --out OUT [scan options]   # the scan, the searched rows kept
    python scripts/pair_methods.py replay OUT        # OUT/pairs_method.json: [i, j, method] per pair
    python scripts/pair_methods.py measure OUT       # OUT/pair_figures.json: the figures below per pair
    python scripts/pair_methods.py sheet OUT PNG [--where EXPR] [--sort KEY] [--count N]

``scan`` runs ``dataeval-gpu scan`` with ``search_groups``' rows and settings saved (``OUT/hash_args.pkl``);
``replay`` runs each search of ``hash_pairs`` alone on them - ``hash`` (whole images, central crops,
the strip), ``turn``, ``window`` (window views, off-centre crops, pictures in bars), ``scale`` - a pair
counted under the first that keeps it (every pair of distinct rows and of identical rows alike:
no class collapsing); rows are the scan's measured images in ``results.csv`` order.

Figures (``measure``), on the two whole 32 x 32 thumbnails, the second in the flip / rotation that
best matches the first's detail:

* ``inside`` / ``outside`` (:func:`swap_residual`): the residual after one global brightness /
  contrast change (``a x + c``, least squares, fitted again without the worst window) in the worst
  8 x 8 window and over the rest, grey levels - an emblem swapped on one template: inside large,
  outside near 0; a re-encode, resize or brightness change: both small;
* ``unexplained`` (:func:`local_unexplained`): the worst 8 x 8 window's residual after a fit of its
  own (``a x + c`` inside the window), the smaller of the two directions - a recolour of one part
  is explained there, another shape is not.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WINDOW = 8


def _detail(x: np.ndarray) -> np.ndarray:
    """``(P, S, S)`` minus its 3 x 3 box mean (edges replicated), centred (the detail check's view)."""
    s = x.shape[-1]
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
    d = x - sum(p[:, dy : dy + s, dx : dx + s] for dy in range(3) for dx in range(3)) / 9.0
    return d - d.mean(axis=(1, 2), keepdims=True)


def best_turn(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``y`` (``(P, S, S)``) in the flip / rotation whose detail correlates best with ``x``'s."""
    dx = _detail(x)
    best, out = np.full(x.shape[0], -np.inf), y.copy()
    for t in (y, np.swapaxes(y, 1, 2)):
        for r in range(4):
            v = np.rot90(t, r, axes=(1, 2))
            dv = _detail(v)
            den = np.sqrt((dx * dx).sum(axis=(1, 2)) * (dv * dv).sum(axis=(1, 2)))
            c = (dx * dv).sum(axis=(1, 2)) / np.where(den > 1e-9, den, 1.0)
            better = c > best
            best = np.where(better, c, best)
            out[better] = v[better]
    return out


def window_sums(a: np.ndarray, w: int) -> np.ndarray:
    """``(P, S - w + 1, S - w + 1)``: the sums of ``a`` over every ``w x w`` window."""
    c = np.pad(np.cumsum(np.cumsum(a, axis=1), axis=2), ((0, 0), (1, 0), (1, 0)))
    return c[:, w:, w:] - c[:, :-w, w:] - c[:, w:, :-w] + c[:, :-w, :-w]


def _fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``y - (a x + c)``, ``a``, ``c`` fitted by least squares on the pixels of ``weight`` 1."""
    n = weight.sum(axis=(1, 2), keepdims=True)
    mx, my = (
        (weight * x).sum(axis=(1, 2), keepdims=True) / n,
        (weight * y).sum(axis=(1, 2), keepdims=True) / n,
    )
    xc, yc = x - mx, y - my
    var = (weight * xc * xc).sum(axis=(1, 2))
    gain = (weight * xc * yc).sum(axis=(1, 2)) / np.where(var > 1e-9, var, 1.0)
    return yc - gain[:, None, None] * xc


def swap_residual(x: np.ndarray, y: np.ndarray, w: int = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """``(inside, outside)``, ``(P,)`` grey levels: the residual's rms in the worst ``w x w``
    window and over the rest, after one global ``a x + c`` fitted on every pixel, then again on
    the pixels outside that window."""
    x, y = np.asarray(x, np.float64), best_turn(np.asarray(x, np.float64), np.asarray(y, np.float64))
    p, s = x.shape[0], x.shape[-1]
    keep, at = np.ones_like(x), np.arange(s)
    for _ in range(2):
        e = _fit(x, y, keep) ** 2
        sums = window_sums(e, w).reshape(p, -1)
        k = sums.argmax(axis=1)
        r0, c0 = (k // (s - w + 1))[:, None], (k % (s - w + 1))[:, None]
        inside = ((at >= r0) & (at < r0 + w))[:, :, None] & ((at >= c0) & (at < c0 + w))[:, None, :]
        keep = 1.0 - inside
    return np.sqrt((e * (1.0 - keep)).sum(axis=(1, 2)) / (w * w)), np.sqrt(
        (e * keep).sum(axis=(1, 2)) / (s * s - w * w)
    )


def local_unexplained(x: np.ndarray, y: np.ndarray, w: int = WINDOW) -> np.ndarray:
    """``(P,)`` grey levels: over every ``w x w`` window, the rms residual of a least-squares
    ``a x + c`` fitted in that window alone (the smaller of ``y`` on ``x`` and ``x`` on ``y``), the
    worst window's."""
    x, y = np.asarray(x, np.float64), best_turn(np.asarray(x, np.float64), np.asarray(y, np.float64))
    n = w * w
    sx, sy = window_sums(x, w), window_sums(y, w)
    vxx = window_sums(x * x, w) - sx * sx / n
    vyy = window_sums(y * y, w) - sy * sy / n
    vxy = window_sums(x * y, w) - sx * sy / n
    ry = vyy - np.where(vxx > 1e-6, vxy * vxy / np.maximum(vxx, 1e-6), 0.0)
    rx = vxx - np.where(vyy > 1e-6, vxy * vxy / np.maximum(vyy, 1e-6), 0.0)
    r = np.maximum(np.minimum(rx, ry), 0.0).reshape(x.shape[0], -1)
    return np.sqrt(r.max(axis=1) / n)


# ---------------------------------------------------------------- scan outputs
def _load(out: Path) -> tuple[object, object, list[str]]:
    rows_in, search = pickle.loads((out / "hash_args.pkl").read_bytes())
    rows = [r for r in csv.DictReader((out / "results.csv").open()) if r["status"] == "ok" and r["width"]]
    hw = np.asarray(rows_in.hw)
    if len(rows) != hw.shape[0] or any(int(float(r["height"])) != int(h) for r, (h, _) in zip(rows, hw)):
        raise SystemExit(f"{out}: results.csv's measured rows do not match the searched rows")
    return rows_in, search, [r["path"] for r in rows]


def scan(argv: list[str]) -> int:
    import dataeval_gpu.detectors.near_duplicates as nd
    from dataeval_gpu import cli

    out = Path(argv[argv.index("--out") + 1])
    original = nd.search_groups

    def keep_rows(rows, search, facts=None):  # noqa: ANN001, ANN202
        out.mkdir(parents=True, exist_ok=True)
        (out / "hash_args.pkl").write_bytes(pickle.dumps((rows, search)))
        return original(rows, search, facts)

    nd.search_groups = keep_rows  # stat_findings imports it at call time
    return cli.main(["scan", *argv])


def replay(out: Path) -> list[list]:
    from dataeval_gpu.detectors import hash_pairs as hp
    from dataeval_gpu.detectors.scale_pairs import scale_pairs
    from dataeval_gpu.detectors.turn_pairs import turn_pairs
    from dataeval_gpu.detectors.window_pairs import window_pairs

    r, search, _ = _load(out)
    radius = search.radius
    found = {"hash": hp._one_scale_pairs(r, radius, False)}  # noqa: SLF001 (a measuring script: one search alone)
    found["turn"] = turn_pairs(r.full, r.valid, r.thumbs, r.hw, r.figures(), radius, found["hash"])
    known = np.unique(np.concatenate([found["hash"], found["turn"]]), axis=0)
    found["window"] = window_pairs(r.full, r.valid, r.thumbs, r.hw, r.figures(cells=False), radius, known)
    small = r.side is not None and (np.asarray(r.side) < hp.SMALL_SIDE).any()
    found["scale"] = (
        scale_pairs(r.full, r.valid, r.figures(cells=False), r.thumbs)
        if small
        else np.zeros((0, 2), np.int64)
    )
    rows, seen = [], set()
    for method, pairs in found.items():
        for i, j in np.asarray(pairs).tolist():
            if (i, j) not in seen:
                seen.add((i, j))
                rows.append([i, j, method])
    (out / "pairs_method.json").write_text(json.dumps(rows))
    return rows


def measure(out: Path) -> list[dict]:
    r, _, paths = _load(out)
    n = len(paths)
    thumbs = np.asarray(r.thumbs).reshape(n, -1)[:, :1024].reshape(n, 32, 32).astype(np.float64)
    opacity, hw = np.asarray(r.opacity), np.asarray(r.hw)
    pairs = json.loads((out / "pairs_method.json").read_text())
    i = np.array([p[0] for p in pairs], dtype=np.int64)
    j = np.array([p[1] for p in pairs], dtype=np.int64)
    inside, outside = swap_residual(thumbs[i], thumbs[j]) if len(pairs) else ([], [])
    unexplained = local_unexplained(thumbs[i], thumbs[j]) if len(pairs) else []
    rows = [
        {"i": int(p[0]), "j": int(p[1]), "method": p[2], "inside": float(a1), "outside": float(b1), "unexplained": float(c1),
         "opacity": [float(opacity[p[0]]), float(opacity[p[1]])], "hw": [hw[p[0]].tolist(), hw[p[1]].tolist()],
         "paths": [paths[p[0]], paths[p[1]]]}
        for p, a1, b1, c1 in zip(pairs, inside, outside, unexplained)
    ]  # fmt: skip
    (out / "pair_figures.json").write_text(json.dumps(rows))
    return rows


def sheet(out: Path, png: Path, where: str, sort: str, count: int) -> None:
    from PIL import Image, ImageDraw

    rows = [r for r in json.loads((out / "pair_figures.json").read_text()) if eval(where, {}, dict(r))]  # noqa: S307
    rows = sorted(rows, key=lambda r: -r[sort])[:count]
    size, cols = 96, 4
    cw, ch = 2 * size + 20, size + 26
    page = Image.new("RGB", (cols * cw, max(1, (len(rows) + cols - 1) // cols) * ch), (40, 40, 40))
    draw = ImageDraw.Draw(page)
    for k, r in enumerate(rows):
        x, y = (k % cols) * cw, (k // cols) * ch
        for m, path in enumerate(r["paths"]):
            im = Image.open(path).convert("RGBA")
            im.thumbnail(
                (size, size), Image.Resampling.NEAREST if max(im.size) < size else Image.Resampling.LANCZOS
            )
            ground = Image.new("RGBA", im.size, (255, 0, 255, 255))  # transparent parts on magenta
            ground.alpha_composite(im)
            page.paste(ground.convert("RGB"), (x + m * (size + 4), y))
        label = (
            f"{k}: {r['method'][:4]} in {r['inside']:.0f} out {r['outside']:.1f} un {r['unexplained']:.0f}"
        )
        draw.text((x, y + size + 1), label, fill=(255, 255, 0))
        names = "~".join(os.path.basename(p)[:16] for p in r["paths"])
        draw.text((x, y + size + 12), names, fill=(200, 200, 200))
    page.save(png)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "scan":
        return scan(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["replay", "measure", "sheet"])
    ap.add_argument("out", type=Path)
    ap.add_argument("png", type=Path, nargs="?")
    ap.add_argument("--where", default="True")
    ap.add_argument("--sort", default="inside")
    ap.add_argument("--count", type=int, default=40)
    args = ap.parse_args()
    if args.command == "replay":
        rows = replay(args.out)
        print(
            len(rows),
            "pairs:",
            {m: sum(r[2] == m for r in rows) for m in ("hash", "turn", "window", "scale")},
        )
    elif args.command == "measure":
        print(len(measure(args.out)), "pairs measured")
    else:
        sheet(args.out, args.png, args.where, args.sort, args.count)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
