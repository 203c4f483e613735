#!/usr/bin/env python
"""Peak memory of the main job's phases (feeding, compute, save, report) per image.

Two sources of rows:

* ``--folder DIR``: the file scan itself (``audit.scan_files`` with its worker processes, as
  the command line runs it) over the image files under ``DIR``;
* ``--synthetic N``: the rows of 256 real images (Fashion-MNIST from ``data_cache`` when it
  is there, else random 28x28 images) measured once and fed over and over up to ``N`` images
  with new dataset indices, paths, labels and random hashes (no duplicates), in the worker path's chunks of 16 numpy rows
  (:meth:`FeedLoop.feed_rows`): what the main process holds for ``N`` images, without the
  time of measuring them.

A thread samples this process's resident memory (``/proc/self/statm``) every 2 ms; each
phase's peak is printed with the rise above the memory before the first row, and that rise
divided by the number of images.  The worker processes are not counted (their memory is
freed when the scan ends).  Prints JSON.

    python scripts/memory_check_scan.py --synthetic 100000
    python scripts/memory_check_scan.py --folder /tmp/fm20k --report
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataeval_gpu.audit import DataAudit, FeedLoop, scan_files  # noqa: E402
from dataeval_gpu.io import discover  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
FASHION = Path(__file__).resolve().parents[1] / "data_cache" / "fashion-mnist" / "train-images-idx3-ubyte.gz"


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class Peak:
    """The highest resident memory seen since the last :meth:`phase` call."""

    def __init__(self) -> None:
        self.peak = rss()
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop:
            self.peak = max(self.peak, rss())
            time.sleep(0.002)

    def phase(self) -> int:
        time.sleep(0.01)
        seen, self.peak = max(self.peak, rss()), rss()
        return seen


def sample_images(n: int) -> list[torch.Tensor]:
    if FASHION.is_file():
        with gzip.open(FASHION) as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    else:
        x = np.random.default_rng(0).integers(0, 256, (n, 1, 28, 28), dtype=np.uint8)
    return [torch.from_numpy(x[i].copy()) for i in range(n)]


def sample_rows(audit: DataAudit, n: int = 256) -> dict[str, np.ndarray]:
    """The rows of ``n`` real images (measured before the memory is read: the kernels' compilation
    is not counted)."""
    return {k: v.numpy() for k, v in audit.make_accumulator("cpu").batch_rows(sample_images(n)).items()}


def feed_synthetic(audit: DataAudit, rows: dict[str, np.ndarray], n: int, chunk: int = 16) -> None:
    """``n`` images' rows through ``FeedLoop.feed_rows`` as the file scan feeds them."""
    size = len(next(iter(rows.values())))
    audit.reserve(n)  # as scan_files does with its files
    loop = FeedLoop(audit)
    rng = np.random.default_rng(0)
    for s in range(0, n, chunk):
        idx = list(range(s, min(s + chunk, n)))
        at = [i % size for i in idx]
        # a fresh numpy array per state, as unpickled from a worker; hashes drawn at random (a
        # repeated image's copies would all be duplicates of each other)
        part = {
            k: torch.from_numpy(rng.integers(-(2**63), 2**63 - 1, v[at].shape, dtype=np.int64, endpoint=True))
            if k in ("xxhash", "pchash", "pchash_crops") else torch.from_numpy(np.ascontiguousarray(v[at]))
            for k, v in rows.items()
        }
        loop.feed_rows([(idx, part)], {}, idx, [i % 10 for i in idx], [f"c{i % 10}/{i:07d}.png" for i in idx])
    audit.class_names = [f"c{k}" for k in range(10)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--folder", help="scan the image files under this folder")
    src.add_argument("--synthetic", type=int, help="feed this many images' rows")
    ap.add_argument("--report", action="store_true", help="also write report.html")
    ap.add_argument("--out", help="output folder (default: a temporary one)")
    ap.add_argument("--preset", default=None, help="DataAudit preset (default: the default settings)")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="memcheck-"))
    audit = DataAudit(device="cpu", preset=args.preset)
    files: list[str] = []
    if args.folder:
        files, labels, names = discover(args.folder)
    else:
        rows = sample_rows(audit)
    watch = Peak()
    base = rss()
    figures: dict[str, object] = {}
    t0 = time.perf_counter()
    if args.folder:
        report = scan_files(files, labels, class_names=names, audit=audit, progress=False)
        n = len(files)
        figures["feed+compute_s"] = round(time.perf_counter() - t0, 1)
        phases = {"scan+compute": watch.phase()}
    else:
        n = args.synthetic
        feed_synthetic(audit, rows, n)
        phases = {"feed": watch.phase()}
        figures["feed_s"] = round(time.perf_counter() - t0, 1)
        t1 = time.perf_counter()
        report = audit.compute()
        phases["compute"] = watch.phase()
        figures["compute_s"] = round(time.perf_counter() - t1, 1)
    del audit  # as the command line: only the report lives on
    t1 = time.perf_counter()
    report.save(out)
    phases["save"] = watch.phase()
    figures["save_s"] = round(time.perf_counter() - t1, 1)
    if args.report:
        from dataeval_gpu.report import write_report

        t1 = time.perf_counter()
        write_report(report, out)
        phases["report"] = watch.phase()
        figures["report_s"] = round(time.perf_counter() - t1, 1)
    watch.stop = True
    mb = 2**20
    print(json.dumps({
        "images": n, "source": args.folder or "synthetic", "rss_before_mb": round(base / mb, 1),
        "peak_mb": {k: round(v / mb, 1) for k, v in phases.items()},
        "rise_mb": {k: round((v - base) / mb, 1) for k, v in phases.items()},
        "bytes_per_image": {k: round((v - base) / max(n, 1)) for k, v in phases.items()},
        "peak_rss_mb": round(max(phases.values()) / mb, 1), **figures, "out": str(out),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
