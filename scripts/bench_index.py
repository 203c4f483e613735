#!/usr/bin/env python
"""Speed of the dataset index (issue 15's acceptance item 3), in one process.

Sections (all by default; pick with --only):
  search   50 new images' hashes against an index of --indexed synthetic images (100,000 by
           default): the index is written to disk once (random 64-bit xxhash and near hashes,
           minimal rows), opened memory-mapped, and ``query_index`` (exact + near matches at
           --radius, outliers against the collection) is timed --repeat times (median), with
           the hash search alone (``hash_matches``).  Five of the 50 are planted copies (one
           bit flipped) of indexed hashes: the matches found are checked.  The index and the
           query hold each image's two crop hashes and the statistics the near pairs' rules
           read (random; no thumbnails), so the query runs the scan's views and rules
           (``near_matches``: whole against whole and against the crops, both ways).
  update   adding 1 % new files to an indexed folder against a full scan: --photos photos
           (default all 604 of data_cache/photos) are copied to a temp folder, scanned
           --repeat-full times and indexed; then --repeat-update times 1 % more (re-encoded
           copies) are added and the index updated.  Reported: the in-process seconds of the
           full scan (``scan_files``), of the index build, of each update, and the ratio
           update / full scan (best / best and median / median).  Process start-up (imports,
           ~2-3 s) is not included in either: both run in this process after a warm-up.

Timings on a shared machine are noisy: the ratios are the figures to read.

    PYTHONPATH=$PWD python scripts/bench_index.py --only search
    PYTHONPATH=$PWD python scripts/bench_index.py --only update
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic_index(folder: Path, n: int, seed: int = 0) -> np.ndarray:
    """An index of ``n`` images with random hashes (written through the real writer)."""
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.index.manifest import write_manifest
    from dataeval_gpu.index.reader import audit_settings
    from dataeval_gpu.index.store import Collection, write_generation
    from dataeval_gpu.index.update import reference_figures

    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**63, (n, 2), dtype=np.int64).view(np.uint64)
    files = {
        "path": np.array([f"img{i:08d}.png" for i in range(n)], dtype=object),
        "file_size": np.full(n, 1000, np.int64),
        "mtime_ns": np.zeros(n, np.int64),
        "digest": hashes[:, 0].copy(),
        "label": np.full(n, -1, np.int64),
    }
    stats = {"brightness": rng.normal(0.5, 0.1, n), "width": rng.integers(100, 200, n).astype(np.int64)}
    stats.update(figures(rng, n))
    coll = Collection(files, np.ones(n, bool), [""] * n, stats, hashes, np.ones(n, bool))
    names = write_generation(folder, 1, coll)
    write_manifest(
        folder,
        {"generation": 1, "files": names, "settings": audit_settings(DataAudit()), "audit": {},
         "class_names": [], "count": n, "reference": reference_figures(coll)},
    )  # fmt: skip
    return hashes


def figures(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Random crop hashes (2 a row) and the statistics the near pairs' rules read."""
    return {
        "pchash_crops": rng.integers(0, 2**63, (n, 2), dtype=np.int64),
        "pchash_crops_valid": np.ones((n, 2), bool),
        "chroma_rg": np.zeros(n), "chroma_bg": np.zeros(n), "dark_clipped": np.zeros(n),
        "bright_clipped": np.zeros(n), "grey_entropy": np.full(n, 7.0), "std": np.full(n, 0.2),
    }  # fmt: skip


def bench_search(args: argparse.Namespace) -> None:
    from dataeval_gpu.index import DatasetIndex, query_index
    from dataeval_gpu.index.against import hash_matches

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        hashes = synthetic_index(Path(tmp), args.indexed)
        build = time.perf_counter() - t0
        rng = np.random.default_rng(1)
        q = rng.integers(0, 2**63, (50, 2), dtype=np.int64)
        planted = rng.choice(args.indexed, 5, replace=False)
        q[:5] = hashes[planted].view(np.int64) ^ np.int64(1 << 7)  # near copies (1 bit off)
        q[0, 0] = hashes[planted[0], 0].view(np.int64)  # one exact copy
        rows = {"xxhash": q[:, 0].copy(), "pchash": q[:, 1].copy(), "pchash_valid": np.ones(50, bool)}
        rows.update(figures(rng, 50))
        stats = {"brightness": rng.normal(0.5, 0.1, 50)}
        times, search = [], []
        for _ in range(args.repeat):
            index = DatasetIndex(tmp)  # opening is part of the query (memory maps, manifest)
            t0 = time.perf_counter()
            out = query_index(index, np.arange(50), rows, stats, radius=args.radius)
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            hash_matches(index, rows["xxhash"], rows["pchash"], rows["pchash_valid"], args.radius)
            search.append(time.perf_counter() - t0)
        found = {(m["image"], m["partner"]) for m in out["matches"]}
        ok = found == {(k, int(planted[k])) for k in range(5)}
        print(
            f"search: 50 new against {args.indexed:,} indexed (radius {args.radius}); index written in {build:.2f} s"
        )
        print(f"  hash search (exact + near): median {statistics.median(search):.3f} s of {args.repeat}")
        print(f"  whole query (+ outliers, partner paths): median {statistics.median(times):.3f} s")
        print(f"  planted copies found with the right partner and nothing else: {ok}")


def bench_update(args: argparse.Namespace) -> None:
    from PIL import Image

    from dataeval_gpu.audit import scan_files
    from dataeval_gpu.index import update_index
    from dataeval_gpu.io import discover

    src = sorted((ROOT / "data_cache" / "photos").glob("*.jpg"))[: args.photos]
    if not src:
        sys.exit("data_cache/photos is missing (scripts/fetch_photos.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "photos"
        data.mkdir()
        for p in src:
            shutil.copy(p, data / p.name)
        files, labels, names = discover(data)
        scan_files(files[:4], labels[:4], progress=False)  # warm-up: imports, compiled kernels
        full = []
        for _ in range(args.repeat_full):
            t0 = time.perf_counter()
            scan_files(files, labels, class_names=names, progress=False)
            full.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        update_index(Path(tmp) / "idx", files, labels, class_names=names, progress=False)
        build = time.perf_counter() - t0
        add = max(1, len(src) // 100)
        upd = []
        for r in range(args.repeat_update):  # each update adds 1 % new files (re-encoded copies)
            for k, p in enumerate(src[r * add : (r + 1) * add]):
                Image.open(p).convert("RGB").save(data / f"added_{r}_{k}.jpg", quality=70)
            files, labels, names = discover(data)
            t0 = time.perf_counter()
            rep = update_index(Path(tmp) / "idx", files, labels, class_names=names, progress=False)
            upd.append(time.perf_counter() - t0)
            if rep.config["index_update"]["measured"] != add:
                sys.exit(f"the update measured {rep.config['index_update']} instead of {add} files")
        print(f"update: {len(src)} photos indexed, {add} added per update ({rep.config['index_update']})")
        print(f"  full scan (scan_files, in process): best {min(full):.2f} s of {len(full)} ({_list(full)})")
        print(f"  index build (scan + rows written):  {build:.2f} s")
        print(f"  update with {add} new files:         best {min(upd):.2f} s of {len(upd)} ({_list(upd)})")
        print(
            f"  update / full scan: best/best {100 * min(upd) / min(full):.1f} %, "
            f"median/median {100 * statistics.median(upd) / statistics.median(full):.1f} %"
        )


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=["search", "update"], default=None)
    p.add_argument("--indexed", type=int, default=100_000)
    p.add_argument("--radius", type=int, default=4)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--photos", type=int, default=604)
    p.add_argument("--repeat-full", type=int, default=3, help="full scans timed (best and median)")
    p.add_argument("--repeat-update", type=int, default=5, help="updates timed, each adding 1 %% new files")
    args = p.parse_args()
    if args.only in (None, "search"):
        bench_search(args)
    if args.only in (None, "update"):
        bench_update(args)


if __name__ == "__main__":
    main()
