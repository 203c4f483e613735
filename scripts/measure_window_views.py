"""Off-centre crops and small turns against the thumbnails: how far do window views reach?

The default scan pairs an image with a copy through the whole-image D4 pchash and its central
90 % / 80 % crop views, verified on the 32 x 32 grey thumbnails.  An 80 % / 70 % window at a
random place, a 10-15 degree turn cut to the picture, or a mirrored 90 % window are beyond those
views (docs/quality.md, "What the main job still misses").  This script measures a cheap candidate
step that needs no image read: each image's *window views* are sampled from its own thumbnail
(bilinear, 32 x 32), hashed (the D4 pchash kernel on the sampled square), and searched against
every other image's whole-image hash; a candidate is then verified on the thumbnails (the Pearson
correlation of the sampled window with the other image's thumbnail, plain and detail, after a
small refinement of the window's place).

    python scripts/measure_window_views.py hashes DIR CACHE.npz     # thumbnails + hashes of DIR's images
    python scripts/measure_window_views.py survey SURVEY_DIR CACHE  # recall per kind, false pairs (manifest)
    python scripts/measure_window_views.py pairs CACHE OUT.json     # verified pairs of a collection
    python scripts/measure_window_views.py sheet CACHE OUT.json PNG # contact sheet of the pairs

Every figure is written with the settings at the top (views, radius, bars); nothing here is part of
the library.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataeval_gpu.accumulators.hash_rows import hash_rows  # noqa: E402
from dataeval_gpu.functional.hashing import NEAR_HASHES, THUMB_SIDE, cross_pairs, hamming_distance  # noqa: E402
from dataeval_gpu.functional.hashing.thumbs import detail_correlation  # noqa: E402
from dataeval_gpu.functional.hashing.windows import WINDOW_VIEWS, view_samples, window_scores  # noqa: E402
from dataeval_gpu.io import decode_file  # noqa: E402

S = THUMB_SIDE
RADIUS = 4  # the default scan's radius
MIN_SIDE = 64  # both images at least this many px a side (the crop hashes need 33; a window more)


def views(kind: str | None = None) -> list[tuple[str, float, float, float, float]]:
    """``(name, scale, off_y, off_x, degrees)``: the views of a view set (``VIEWS`` in the
    environment): ``default`` - the library's :data:`WINDOW_VIEWS` (four turns, eight 90 %
    windows) -, ``grid`` - also 3 x 3 grids of 80 % and 70 % windows -, ``dense`` - also 80 % and
    70 % windows every 5 % of the side."""
    import os

    kind = kind or os.environ.get("VIEWS", "default")
    out = [(f"rot{d:+.0f}" if d else f"w{round(s * 100)}_{oy:.2f}_{ox:.2f}", s, oy, ox, d)
           for s, oy, ox, d in WINDOW_VIEWS]  # fmt: skip
    if kind == "dense90":  # 90 % windows every 2.5 % of the side
        out += [(f"w90_{oy:.3f}_{ox:.3f}", 0.9, oy, ox, 0.0) for oy in (0.025, 0.075) for ox in np.linspace(0, 0.1, 5)]
        out += [(f"w90_{oy:.3f}_{ox:.3f}", 0.9, oy, ox, 0.0) for oy in (0.0, 0.05, 0.1) for ox in (0.025, 0.075)]
    for s in (0.8, 0.7) if kind in ("grid", "dense") else ():
        n = 3 if kind == "grid" else int(round((1 - s) / 0.05)) + 1
        for oy in np.linspace(0.0, 1.0 - s, n):
            for ox in np.linspace(0.0, 1.0 - s, n):
                out.append((f"w{int(round(s * 100))}_{oy:.2f}_{ox:.2f}", s, float(oy), float(ox), 0.0))
    return out


def view_stack(thumbs: np.ndarray, hw: np.ndarray, vs: list) -> np.ndarray:
    """``(N, V, S, S)`` float64: every view of every thumbnail (the library's sampler)."""
    return np.stack([view_samples(thumbs, hw, v[1:]) for v in vs], axis=1)


def view_hashes(stack: np.ndarray) -> np.ndarray:
    """``(N, V)`` int64 D4 pchashes of the sampled views."""
    n, v = stack.shape[:2]
    return NEAR_HASHES["pchash_d4"].kernel(torch.from_numpy(stack.reshape(n * v, S, S))).numpy().reshape(n, v)


def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(axis=1, keepdims=True)
    b = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return np.where(den > 1e-9, (a * b).sum(1) / np.maximum(den, 1e-12), -1.0)


D4 = [lambda x: x, lambda x: x[..., ::-1], lambda x: x[..., ::-1, :], lambda x: x[..., ::-1, ::-1]]
D4 = D4 + [lambda x, f=f: f(np.swapaxes(x, -1, -2)) for f in D4]


def verify(thumbs: np.ndarray, hw: np.ndarray, vs: list, i: np.ndarray, v: np.ndarray, j: np.ndarray) -> dict:
    """Per candidate ``(i, view v, j)``: the library's :func:`window_scores` (plain and half-size
    detail correlation of ``j``'s thumbnail with ``i``'s view, around its place), and the full-size
    detail correlation at the view's own place (the scan's ``detail_check`` figure)."""
    plain, half, detail = np.full(len(i), -1.0), np.full(len(i), -1.0), np.full(len(i), -1.0)
    for k in np.unique(v):
        at = np.nonzero(v == k)[0]
        for s in range(0, at.size, 4096):
            q = at[s : s + 4096]
            plain[q], half[q] = window_scores(thumbs[i[q]], hw[i[q]], vs[k][1:], thumbs[j[q]])
            w = view_samples(thumbs[i[q]], hw[i[q]], vs[k][1:])
            detail[q] = detail_correlation(np.round(w).astype(np.uint8), thumbs[j[q]])
    return {"plain": plain, "detail": detail, "half": half}


def load_cache(path: str) -> dict:
    z = np.load(path, allow_pickle=True)
    return {k: z[k] for k in z.files}


def cmd_hashes(root: str, out: str) -> None:
    files = sorted(p for p in Path(root).rglob("*") if p.is_file() and not p.is_symlink() or p.is_file())
    names, hashes, valid, thumbs, hw, opacity, plain = [], [], [], [], [], [], []
    batch: list[torch.Tensor] = []
    bnames: list[str] = []

    def flush() -> None:
        if not batch:
            return
        r = hash_rows(batch, "pchash_d4", exact=False, thumbs=True)
        hashes.append(r["near"].numpy())
        valid.append(r["near_valid"].numpy())
        thumbs.append(r["thumbs"].numpy().reshape(len(batch), -1)[:, : S * S].reshape(-1, S, S))
        hw.append(np.array([t.shape[-2:] for t in batch]))
        for t in batch:  # the rule's figures, as the statistics measure them (roughly)
            a = t.numpy().astype(np.float64)
            alpha = a[-1] / 255.0 if a.shape[0] in (2, 4) else np.ones(a.shape[1:])
            grey = a[: 3 if a.shape[0] >= 3 else 1].mean(axis=0)
            opacity.append(float(alpha.mean()))
            plain.append(float((((grey <= 5) | (grey >= 250)) | (alpha < 0.5)).mean()))
        names.extend(bnames)
        batch.clear()
        bnames.clear()

    for p in files:
        if p.suffix.lower() in (".json", ".txt", ".csv", ".xml", ".svg", ".npz", ".gz", ".html", ".desktop"):
            continue
        try:
            t = decode_file(p)
        except Exception:  # noqa: BLE001
            continue
        if t.dtype != torch.uint8 or t.ndim != 3:
            continue
        batch.append(t)
        bnames.append(str(p))
        if len(batch) >= 64:
            flush()
    flush()
    np.savez(
        out, names=np.array(names), hashes=np.concatenate(hashes), valid=np.concatenate(valid),
        thumbs=np.concatenate(thumbs), hw=np.concatenate(hw), opacity=np.array(opacity), plain=np.array(plain),
    )  # fmt: skip
    print(f"{len(names)} images -> {out}")


BARS = {"plain": 0.95, "half": 0.95}


def candidates(c: dict, radius: int = RADIUS) -> tuple[np.ndarray, ...]:
    """Candidate ``(i, v, j, dist)`` and the timing of views + search (s)."""
    vs = views()
    ok = c["valid"] & (c["hw"].min(axis=1) >= MIN_SIDE)
    if "opacity" in c:  # the rule's scope: opaque pictures without a plain background
        ok &= (c["opacity"] >= 1.0) & (c["plain"] < 0.4)
    t0 = time.process_time()
    stack = view_stack(c["thumbs"], c["hw"], vs)
    vh = view_hashes(stack)  # (N, V)
    t1 = time.process_time()
    vvalid = np.repeat(ok[:, None], len(vs), axis=1)
    pr = cross_pairs(torch.from_numpy(vh.reshape(-1)), torch.from_numpy(c["hashes"]), radius,
                     torch.from_numpy(vvalid.reshape(-1)), torch.from_numpy(ok)).numpy()  # fmt: skip
    t2 = time.process_time()
    i, v, j = pr[:, 0] // len(vs), pr[:, 0] % len(vs), pr[:, 1]
    keep = i != j
    i, v, j = i[keep], v[keep], j[keep]
    d = hamming_distance(torch.from_numpy(vh[i, v]), torch.from_numpy(c["hashes"][j])).numpy()
    return i, v, j, d, (t1 - t0, t2 - t1)


def evaluate(c: dict, radius: int = RADIUS) -> dict:
    vs = views()
    i, v, j, d, (tv, ts) = candidates(c, radius)
    t0 = time.process_time()
    sc = verify(c["thumbs"], c["hw"], vs, i, v, j) if len(i) else {k: np.zeros(0) for k in ("plain", "detail", "half")}
    tver = time.process_time() - t0
    whole = hamming_distance(torch.from_numpy(c["hashes"][i]), torch.from_numpy(c["hashes"][j])).numpy()
    kept = (sc["plain"] >= BARS["plain"]) & (sc["half"] >= BARS["half"])
    n = len(c["hashes"])
    return {
        "i": i, "v": v, "j": j, "dist": d, "whole": whole, "plain": sc["plain"], "detail": sc["detail"], "half": sc["half"],
        "kept": kept, "ms_per_image": {"views": 1e3 * tv / n, "search": 1e3 * ts / n, "verify": 1e3 * tver / n},
    }  # fmt: skip


def cmd_survey(survey: str, cache: str) -> None:
    c = load_cache(cache)
    man = json.loads((Path(survey) / "manifest.json").read_text())
    by_file = {e["file"]: e for e in man["entries"]}
    ent = [by_file.get(Path(p).name, {}) for p in c["names"]]
    src = np.array([e.get("source", -2) for e in ent])
    role = [e.get("role", "") for e in ent]
    kind = [e.get("kind", "") for e in ent]
    r = evaluate(c)
    vs = views()
    photo = {int(src[k]): k for k in range(len(ent)) if role[k] == "photo"}
    pairs = {}
    for a, b, ok, dd, vi, p, dt in zip(r["i"], r["j"], r["kept"], r["dist"], r["v"], r["plain"], r["detail"], strict=True):
        key = (min(a, b), max(a, b))
        pairs.setdefault(key, []).append((bool(ok), int(dd), vs[vi][0], float(p), float(dt)))
    out = {}
    for kd in ("crop20", "crop30", "rot10", "rot15", "hflip_crop10"):
        rows = [k for k in range(len(ent)) if kind[k] == kd and role[k] == "dup"]
        found = cand = 0
        detail = []
        for k in rows:
            s = photo.get(int(src[k]))
            got = pairs.get((min(k, s), max(k, s)), []) if s is not None else []
            cand += bool(got)
            found += any(g[0] for g in got)
            detail.append((Path(c["names"][k]).name, [g for g in got][:3]))
        out[kd] = {"n": len(rows), "candidate": cand, "verified": found, "rows": detail}
    same = np.array([src[a] == src[b] and src[a] >= 0 for a, b in zip(r["i"], r["j"], strict=True)], dtype=bool)
    fk = r["kept"] & ~same
    false_pairs = sorted({(min(a, b), max(a, b)) for a, b in zip(r["i"][fk], r["j"][fk], strict=True)})
    res = {
        "kinds": {k: {x: y for x, y in v.items() if x != "rows"} for k, v in out.items()},
        "candidates": int(len(r["i"])), "verified": int(r["kept"].sum()),
        "verified_pairs_distinct_sources": [[c["names"][a], c["names"][b]] for a, b in false_pairs],
        "ms_per_image": r["ms_per_image"],
    }  # fmt: skip
    print(json.dumps(res, indent=1))
    for k, v in out.items():
        for row in v["rows"]:
            print(k, row)


def cmd_pairs(cache: str, out: str) -> None:
    c = load_cache(cache)
    r = evaluate(c)
    k = r["kept"] & (r["whole"] > RADIUS)  # whole-image pairs are the default's already
    vs = views()
    rows = {}
    for a, b, vi, p, dt, hh, dd in zip(r["i"][k], r["j"][k], r["v"][k], r["plain"][k], r["detail"][k], r["half"][k], r["dist"][k], strict=True):
        key = (min(int(a), int(b)), max(int(a), int(b)))
        if key not in rows or rows[key]["plain"] < p:
            rows[key] = {"a": c["names"][key[0]], "b": c["names"][key[1]], "view": vs[vi][0], "plain": float(p),
                         "detail": float(dt), "half": float(hh), "dist": int(dd)}  # fmt: skip
    res = {"n": int(len(c["hashes"])), "candidates": int(len(r["i"])), "ms_per_image": r["ms_per_image"],
           "pairs": list(rows.values())}  # fmt: skip
    Path(out).write_text(json.dumps(res, indent=1))
    print(json.dumps({x: y for x, y in res.items() if x != "pairs"}), len(rows), "pairs")
    near = (r["plain"] >= 0.9) & (r["whole"] > RADIUS)
    print("candidates by plain corr (>=0.9):", np.round(np.sort(r["plain"][near])[::-1][:40], 3).tolist())


def cmd_sheet(out_json: str, png: str, limit: int = 40) -> None:
    from PIL import Image, ImageDraw

    res = json.loads(Path(out_json).read_text())
    pairs = res["pairs"][:limit]
    cell = 160
    sheet = Image.new("RGB", (2 * cell + 10, max(1, len(pairs)) * (cell + 14)), "white")
    d = ImageDraw.Draw(sheet)
    for k, p in enumerate(pairs):
        for m, f in enumerate((p["a"], p["b"])):
            with Image.open(f) as im:
                im = im.convert("RGB")
                im.thumbnail((cell, cell))
                sheet.paste(im, (m * (cell + 10), k * (cell + 14) + 12))
        d.text((2, k * (cell + 14)), f"{k} {p['view']} p={p['plain']:.3f} d={p['detail']:.2f} {Path(p['a']).name[:18]}|{Path(p['b']).name[:18]}", fill="black")
    sheet.save(png)


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"hashes": cmd_hashes, "survey": cmd_survey, "pairs": cmd_pairs, "sheet": cmd_sheet}[cmd](*args)
