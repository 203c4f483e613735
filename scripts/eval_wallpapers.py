"""Near duplicates of real aspect-ratio variants: wallpapers shipped at several sizes and shapes.

    python scripts/eval_wallpapers.py --root /tmp/qr_debs              # hash pairs, the defaults
    python scripts/eval_wallpapers.py --root /tmp/qr_debs --list-missed
    python scripts/eval_wallpapers.py --false-only DIR [DIR ...]        # pairs in collections of distinct pictures

Ground truth by package structure, not by any tool: the files of Debian's
``plasma-workspace-wallpapers`` and ``lomiri-wallpapers*`` (extracted with ``dpkg-deb -x PKG.deb
x_PKG`` under ``--root``; each file once, symlinks resolved).  One Plasma theme's ``images/``
(every size and shape: 16:9, 16:10, 4:3, 5:4, portrait phone crops) and its ``screenshot`` are
one picture, its ``images_dark/`` another; a Lomiri file is its own picture, except
``lomiri-default-background``, a link to ``warty-final-ubuntu``.  A theme's light and dark
pictures are *variants* (recoloured), counted neither as found nor as false.

Pairs are those of :class:`~dataeval_gpu.detectors.NearDuplicates`'s hash groups (exact and
perceptual hash views, every pair rule; ``--embeddings`` adds the embedding groups, slow on a
CPU), counted inside the combined groups.  Each true pair is classed by the two shapes: ``same``
(aspects within 1.03x: resizes), ``aspect`` (both landscape, different aspect: 16:9 / 16:10 / 4:3
/ 5:4) or ``turned`` (portrait against landscape: phone crops).  ``--false-only`` runs the same
detector over other folders (distinct pictures: every pair is listed for a look).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.io import decode_file

SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def wallpaper_files(root: Path) -> tuple[list[Path], list[str]]:
    """The files and their picture ids (``theme:light`` / ``theme:dark`` / ``lomiri:name``)."""
    files: list[Path] = []
    ids: list[str] = []
    seen: set[Path] = set()
    for p in sorted((root / "x_plasma-workspace-wallpapers").rglob("*")):
        if p.suffix.lower() not in SUFFIXES or p.resolve() in seen or not p.is_file():
            continue
        seen.add(p.resolve())
        parts = p.relative_to(root / "x_plasma-workspace-wallpapers/usr/share/wallpapers").parts
        theme, kind = parts[0], parts[2] if len(parts) > 3 else "screenshot"
        files.append(p)
        ids.append(f"{theme}:{'dark' if kind == 'images_dark' else 'light'}")
    for p in sorted(root.glob("x_lomiri-wallpapers*/usr/share/backgrounds/*")):
        if p.suffix.lower() not in SUFFIXES or p.resolve() in seen or not p.is_file():
            continue
        seen.add(p.resolve())
        name = p.stem
        files.append(p)
        ids.append("lomiri:warty" if name in ("warty-final-ubuntu", "lomiri-default-background") else f"lomiri:{name}")
    return files, ids


def shape_class(a: tuple[int, int], b: tuple[int, int]) -> str:
    if (a[0] > a[1]) != (b[0] > b[1]) and a[0] != a[1] and b[0] != b[1]:
        return "turned"
    ra, rb = max(a) / min(a), max(b) / min(b)
    return "same" if max(ra, rb) <= 1.03 * min(ra, rb) else "aspect"


def pair_set(out) -> set[tuple[int, int]]:  # noqa: ANN001
    return {(int(a), int(b)) for a, b in zip(out.pairs["first"], out.pairs["second"], strict=True)}


def run(images: list[torch.Tensor], detector: NearDuplicates, embeddings: np.ndarray | None) -> tuple:
    t0 = time.process_time()
    out = detector.evaluate(images, embeddings=embeddings)
    return out, time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path("/tmp/qr_debs"))
    ap.add_argument("--list-missed", action="store_true")
    ap.add_argument("--embeddings", action="store_true", help="add the embedding groups (default model)")
    ap.add_argument("--embeddings-cache", type=Path, help="a .npy of the embeddings: read if there, else written")
    ap.add_argument("--false-only", type=Path, nargs="*", help="folders of distinct pictures: list every pair")
    args = ap.parse_args()
    det = NearDuplicates(embedding_threshold=0.88 if args.embeddings else None)
    if args.false_only:
        for folder in args.false_only:
            files = sorted(f for f in folder.rglob("*") if f.suffix.lower() in SUFFIXES and f.is_file())
            images = []
            for f in files:
                try:
                    images.append(decode_file(f))
                except Exception:  # noqa: BLE001  (an undecodable file is left out, said below)
                    print(f"  not decoded: {f}")
            out, cpu = run(images, det, None)
            pairs = sorted(pair_set(out))
            print(f"{folder}: {len(images)} images, {len(out.hash)} hash groups, {len(pairs)} pairs ({cpu:.1f} s CPU)")
            for a, b in pairs:
                print(f"  {files[a].relative_to(folder)}  ~  {files[b].relative_to(folder)}")
        return
    files, ids = wallpaper_files(args.root)
    images = [decode_file(f) for f in files]
    hw = [tuple(int(s) for s in t.shape[-2:]) for t in images]
    truth = {}
    for a in range(len(files)):
        for b in range(a + 1, len(files)):
            ta, tb = ids[a].split(":"), ids[b].split(":")
            if ids[a] == ids[b]:
                truth[(a, b)] = shape_class(hw[a], hw[b])
            elif ta[0] == tb[0] and ta[0] != "lomiri":
                truth[(a, b)] = "variant"
    emb = None
    if args.embeddings and args.embeddings_cache is not None and args.embeddings_cache.exists():
        emb = np.load(args.embeddings_cache)
    elif args.embeddings:
        from dataeval_gpu.embeddings import embed

        emb = np.asarray(embed(images))
        if args.embeddings_cache is not None:
            np.save(args.embeddings_cache, emb)
    out, cpu = run(images, det, emb)
    found = pair_set(out)
    kinds = ("same", "aspect", "turned")
    total = {k: sum(v == k for v in truth.values()) for k in kinds}
    hit = {k: sum(v == k for p, v in truth.items() if p in found) for k in kinds}
    false = sorted(p for p in found if p not in truth)
    variants = sum(truth.get(p) == "variant" for p in found)
    n_true = sum(total.values())
    print(f"{len(files)} files, {len(set(ids))} pictures; detector {cpu:.1f} s CPU")
    print(
        f"true pairs found {sum(hit.values())} / {n_true}: "
        + ", ".join(f"{k} {hit[k]}/{total[k]}" for k in kinds)
        + f"; false {len(false)}; light/dark variant pairs {variants}"
    )
    name = lambda i: f"{ids[i]} {'/'.join(files[i].parts[-2:])} {hw[i][1]}x{hw[i][0]}"  # noqa: E731
    for a, b in false:
        print(f"  FALSE {name(a)}  ~  {name(b)}")
    if args.list_missed:
        for (a, b), k in sorted(truth.items()):
            if k != "variant" and (a, b) not in found:
                print(f"  missed [{k}] {name(a)}  ~  {name(b)}")


if __name__ == "__main__":
    main()
