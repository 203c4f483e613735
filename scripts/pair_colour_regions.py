"""Score a scan's near-duplicate pairs by the region colour disagreement of their visible parts
and draw contact sheets of them (a measuring tool: no pair rule reads the score; pairs8).

    python scripts/pair_colour_regions.py SCAN_OUT --json pairs.json --sheet sheet.png [--top 60]

SCAN_OUT is a ``dataeval-gpu scan --out`` folder (findings.json + results.csv): every pair inside
a reported near group is scored with
:func:`~dataeval_gpu.functional.hashing.colour_regions.region_disagreement`.  ``--sheet`` draws
the ``--top`` highest-scoring pairs (and ``--sample`` more drawn at random, seed 0), each side on
mid grey, with its rank and score, to judge by eye.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from dataeval_gpu.functional.hashing.colour_regions import region_disagreement, visible_colour_figure


def scan_pairs(out: Path) -> list[tuple[str, str]]:
    findings = json.loads((out / "findings.json").read_text())
    with open(out / "results.csv", newline="") as f:
        rows = {int(r["index"]): r["path"] for r in csv.DictReader(f)}
    near = findings["duplicates"]["near"]
    return sorted({(rows[a], rows[b]) for g in near for a, b in itertools.combinations(sorted(g), 2)})


def figure(path: str, cache: dict) -> tuple[np.ndarray, np.ndarray]:
    if path not in cache:
        with Image.open(path) as im:
            a = np.asarray(im.convert("RGBA"))
        cache[path] = visible_colour_figure(a.transpose(2, 0, 1))
    return cache[path]


def sheet(pairs: list[dict], dest: str, side: int = 96, cols: int = 5) -> None:
    w = 2 * side + 16
    rows = (len(pairs) + cols - 1) // cols
    out = Image.new("RGB", (cols * w, rows * (side + 14)), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    for k, o in enumerate(pairs):
        x, y = (k % cols) * w, (k // cols) * (side + 14)
        for m, p in enumerate((o["pa"], o["pb"])):
            with Image.open(p) as im:
                im = im.convert("RGBA")
            im.thumbnail((side, side), Image.LANCZOS)
            bg = Image.new("RGBA", (side, side), (150, 150, 150, 255))
            bg.alpha_composite(im, ((side - im.width) // 2, (side - im.height) // 2))
            out.paste(bg.convert("RGB"), (x + m * (side + 2), y))
        draw.text((x, y + side), f"{o.get('rank', k)}: {o['score']:.1f}", fill=(200, 0, 0))
    out.save(dest)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scan_out", type=Path)
    ap.add_argument("--json", required=True)
    ap.add_argument("--sheet")
    ap.add_argument("--top", type=int, default=60)
    ap.add_argument("--sample", type=int, default=0)
    args = ap.parse_args()
    cache: dict = {}
    scored = []
    for a, b in scan_pairs(args.scan_out):
        fa, fb = figure(a, cache), figure(b, cache)
        scored.append({"pa": a, "pb": b, "score": region_disagreement(fa, fb),
                       "opacity": [float(fa[1].mean()), float(fb[1].mean())]})
    scored.sort(key=lambda o: -np.nan_to_num(o["score"], nan=-1.0))
    for k, o in enumerate(scored):
        o["rank"] = k
    Path(args.json).write_text(json.dumps(scored))
    if args.sheet:
        shown = scored[: args.top]
        rest = scored[args.top :]
        shown += random.Random(0).sample(rest, min(args.sample, len(rest)))
        sheet(shown, args.sheet)
    s = np.array([o["score"] for o in scored], dtype=np.float64)
    s = s[np.isfinite(s)]
    print(f"{len(scored)} pairs; scores >= 20 / 30 / 40: {(s >= 20).sum()} / {(s >= 30).sum()} / {(s >= 40).sum()}")


if __name__ == "__main__":
    main()
