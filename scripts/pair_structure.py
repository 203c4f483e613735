"""Structure figures of near-duplicate pairs at finer scales than the hash's thumbnail (a measuring
tool: no pair rule reads them; pairs9, docs/duplicates.md "fifth pass").

    python scripts/pair_structure.py SOURCE [SOURCE ...] --json figures.json [--rules]

SOURCE is a ``dataeval-gpu scan --out`` folder (every pair inside a reported near group) or a JSON
list of pairs ``{"pa": path, "pb": path, "true": verdict, "col": collection}`` (verdicts optional).
Per pair:

* ``tol32`` / ``worst32``: the *tolerant edge agreement* on the scan's own 32 x 32 grey thumbnails
  (whole views, ``NearDuplicates().thumbnails``): each thumbnail's Sobel magnitude binarised at 0.2 x
  its 99th percentile (at least 1 level), the share of one side's edge pixels with an edge of the
  other within ``r`` = 1 px (a max filter), both ways, the smaller; the best of the 8 turns / mirrors
  of the second; ``worst``: the same per cell of a 4 x 4 grid (cells with edges on either side,
  >= 2 % of the cell), the worst cell, in the best whole turn;
* ``tol64`` / ``worst64`` (``r`` = 2 px) and ``tol128`` / ``worst128`` (``r`` = 4 px): the same on the
  hash's grey (the channel mean, alpha included) area-resized (squeezed) to 64 / 128 px from the
  decoded file (JPEGs drafted to about 512 px, images over 1,024 px reduced first);
* ``sil_iou``: the silhouettes' overlap (alpha >= 128, 64 px, best turn), ``ncomp``: each side's
  count of connected opaque parts of 4 px or more at 128 px;
* ``ratio`` (larger short side / smaller), ``aspect`` (larger width / height ratio over the smaller),
  ``opacity`` (each side's mean alpha, 1 without alpha).

``--rules`` prints, for pairs with verdicts, the false and true pairs each candidate rule of the
write-up would remove, per collection.
"""

from __future__ import annotations

import argparse
import collections
import csv
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

EDGE_FRACTION = 0.2
GRID = 4


def load_pairs(source: str) -> list[dict]:
    p = Path(source)
    if p.is_dir():
        findings = json.loads((p / "findings.json").read_text())
        config = json.loads((p / "config.json").read_text())
        root = Path(config.get("folder") or config.get("input") or "")
        with open(p / "results.csv", newline="") as f:
            rows = {int(r["index"]): r["path"] for r in csv.DictReader(f)}
        fix = lambda q: str(q if Path(q).is_absolute() else root / q)  # noqa: E731
        near = findings["duplicates"]["near"]
        return [
            {"pa": fix(rows[a]), "pb": fix(rows[b]), "col": p.name}
            for g in near
            for a, b in itertools.combinations(sorted(g), 2)
        ]
    return json.loads(p.read_text())


def d4(v: np.ndarray) -> list[np.ndarray]:
    return [np.rot90(t, r) for t in (v, v.T) for r in range(4)]


def edges(g: np.ndarray) -> np.ndarray:
    m = np.hypot(ndi.sobel(g, 1), ndi.sobel(g, 0))
    return m >= max(EDGE_FRACTION * np.percentile(m, 99), 1.0)


def agreement(ea: np.ndarray, eb: np.ndarray, r: int) -> tuple[float, float]:
    """``(whole, worst cell)``: the tolerant edge agreement of two edge maps (module docstring)."""
    size = 2 * r + 1
    ma, mb = ea & ndi.maximum_filter(eb, size=size), eb & ndi.maximum_filter(ea, size=size)
    whole = min(ma.sum() / max(ea.sum(), 1), mb.sum() / max(eb.sum(), 1))
    s = ea.shape[0] // GRID
    cells = lambda x: x.reshape(GRID, s, GRID, s).sum((1, 3)).astype(np.float64)  # noqa: E731
    na, nb, ka, kb = cells(ea), cells(eb), cells(ma), cells(mb)
    use = (na >= 0.02 * s * s) | (nb >= 0.02 * s * s)
    share = np.minimum(
        np.where(na > 0, ka / np.maximum(na, 1), 1.0), np.where(nb > 0, kb / np.maximum(nb, 1), 1.0)
    )
    return float(whole), float(share[use].min()) if use.any() else 1.0


def best_agreement(a: np.ndarray, b: np.ndarray, r: int) -> tuple[float, float]:
    ea = edges(a)
    return max((agreement(ea, edges(t), r) for t in d4(b)), key=lambda w: w[0])


def decoded(path: str, cache: dict) -> dict:
    if path in cache:
        return cache[path]
    with Image.open(path) as im:
        size = im.size
        if im.format == "JPEG":
            im.draft("RGB", (512, 512))
        if im.mode not in ("RGBA", "RGB", "L", "LA"):
            im = im.convert("RGBA")
        if max(im.size) > 1024:
            im = im.reduce(max(max(im.size) // 512, 1))
        a = np.asarray(im, dtype=np.float32)
        rgba = im.convert("RGBA")
    a = a[..., None] if a.ndim == 2 else a
    g = Image.fromarray(a.mean(2), mode="F")
    out = {s: np.asarray(g.resize((s, s), Image.BOX), dtype=np.float64) for s in (64, 128)}
    alpha = np.asarray(rgba, dtype=np.float64)[..., 3]
    out["opacity"] = float(alpha.mean() / 255)
    out["mask64"] = np.asarray(rgba.resize((64, 64), Image.BOX))[..., 3] >= 128
    ink = np.asarray(rgba.resize((128, 128), Image.BOX))[..., 3] >= 128
    lab, _ = ndi.label(ink)
    out["ncomp"] = int((np.bincount(lab.ravel())[1:] >= 4).sum())
    out["size"] = size
    cache[path] = out
    return out


def thumbnails(paths: list[str]) -> dict[str, np.ndarray]:
    """The scan's whole-view 32 x 32 thumbnail of each path that decodes (the scan's decoder and
    its decompression-bomb limit: Pillow's, left as it is)."""
    from dataeval_gpu.detectors import NearDuplicates
    from dataeval_gpu.io import decode_file

    nd, out = NearDuplicates(embedding_threshold=None), {}
    for p in paths:
        try:
            out[p] = nd.thumbnails([decode_file(p)]).numpy()[0, 0].astype(np.float64)
        except Exception:  # a file that does not decode: its pairs get no figures
            continue
    return out


def figures(pair: dict, fa: dict, fb: dict, ta: np.ndarray, tb: np.ndarray) -> dict:
    (wa, ha), (wb, hb) = fa["size"], fb["size"]
    out = {
        "ratio": max(min(wa, ha), min(wb, hb)) / max(min(wa, ha, wb, hb), 1),
        "aspect": max(wa / ha, wb / hb) / min(wa / ha, wb / hb),
        "opacity": [fa["opacity"], fb["opacity"]],
        "ncomp": [fa["ncomp"], fb["ncomp"]],
    }
    out["tol32"], out["worst32"] = best_agreement(ta, tb, 1)
    for s, r in ((64, 2), (128, 4)):
        out[f"tol{s}"], out[f"worst{s}"] = best_agreement(fa[s], fb[s], r)
    ious = [((fa["mask64"] & t).sum() / max((fa["mask64"] | t).sum(), 1)) for t in d4(fb["mask64"])]
    out["sil_iou"] = float(max(ious)) if (fa["mask64"].any() or fb["mask64"].any()) else 1.0
    return {**pair, **out}


def transparent_same_size(o: dict) -> bool:
    return max(o["opacity"]) < 0.999 and o["ratio"] <= 1.25 and o["aspect"] <= 1.05


def _bar(key: str, bar: float) -> Callable[[dict], bool]:
    return lambda o: transparent_same_size(o) and 0 < o[key] < bar  # 0: no edges on a side, not judged


RULES: dict[str, Callable[[dict], bool]] = {
    "tol32 < 0.85, same size, transparent": _bar("tol32", 0.85),
    "tol32 < 0.80, same size, transparent": _bar("tol32", 0.80),
    "tol64 < 0.80, same size, transparent": _bar("tol64", 0.80),
    "tol64 < 0.75, same size, transparent": _bar("tol64", 0.75),
    "tol128 < 0.75, same size, transparent": _bar("tol128", 0.75),
    "tol64 < 0.80 and worst64 < 0.2, same size, transparent": lambda o: (
        _bar("tol64", 0.8)(o) and o["worst64"] < 0.2
    ),
}


def print_rules(rows: list[dict]) -> None:
    judged = [o for o in rows if o.get("true") is not None and "error" not in o]
    print(f"{len(judged)} judged pairs: {sum(not o['true'] for o in judged)} false")
    for name, rule in RULES.items():
        gone = collections.Counter((o["true"], o.get("col", "?")) for o in judged if rule(o))
        for verdict in (False, True):
            per = {c: n for (t, c), n in sorted(gone.items()) if t == verdict}
            print(f"{name}: {'true' if verdict else 'false'} pairs removed {sum(per.values())} {per}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", nargs="+", help="scan --out folders or JSON pair lists")
    ap.add_argument("--json", required=True, help="where to write the pairs with their figures")
    ap.add_argument("--rules", action="store_true", help="tally the candidate rules on judged pairs")
    args = ap.parse_args(argv)
    pairs = [o for s in args.source for o in load_pairs(s)]
    paths = sorted({o["pa"] for o in pairs} | {o["pb"] for o in pairs})
    thumbs, cache, rows = thumbnails(paths), {}, []
    for o in pairs:
        try:
            fa, fb = decoded(o["pa"], cache), decoded(o["pb"], cache)
            rows.append(figures(o, fa, fb, thumbs[o["pa"]], thumbs[o["pb"]]))
        except Exception as exc:  # e.g. over Pillow's decompression-bomb limit
            rows.append({**o, "error": f"{type(exc).__name__}: {exc}"})
    Path(args.json).write_text(json.dumps(rows))
    print(f"{len(rows)} pairs -> {args.json} ({sum('error' in o for o in rows)} not measured)")
    if args.rules:
        print_rules(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
