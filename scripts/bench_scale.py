#!/usr/bin/env python
"""How the main job's steps grow with the number of images: time and peak memory per step.

Feeds ``N`` images' rows (``--sizes``, default 10k, 100k and 1M) as the file scan feeds them
(``scripts/memory_check_scan.py``'s synthetic rows: 256 real Fashion-MNIST images measured
once, repeated with new indices, paths and labels), then times each of
:meth:`DataAudit.compute`'s steps (statistics, linter, quality issues, duplicates), the
results' save and, with ``--report``, the HTML report.  The hashes are random except for a
planted share of near copies (``--copies``: each a copy of an earlier image's rows with 0–4
of its pchash bits flipped and its xxhash kept, so exact and radius-4 near groups exist and
the thumbnail check runs on real pairs).

Each step prints wall seconds, the process's CPU seconds and the peak resident memory
(``/proc/self/statm``, sampled every 2 ms) above the memory before the first row.  One size
per process (``--sizes`` runs each in a fresh subprocess).  ``--clusterer N`` instead times
the Clusterer (``method="hdbscan"``) on ``N`` random 64-d embeddings.

    python scripts/bench_scale.py --sizes 10000,100000,1000000
    python scripts/bench_scale.py --sizes 70000 --report --preset dataeval-0.65
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_spec = importlib.util.spec_from_file_location("memory_check_scan", ROOT / "scripts" / "memory_check_scan.py")
mcs = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(mcs)  # type: ignore[union-attr]

from dataeval_gpu import progress  # noqa: E402
from dataeval_gpu.audit import DataAudit, FeedLoop  # noqa: E402

MB = 2**20


def feed(
    audit: DataAudit, rows: dict[str, np.ndarray], n: int, copies: float, chunk: int = 16, embed_dim: int = 128
) -> None:
    """``n`` images' rows through ``FeedLoop.feed_rows``; a ``copies`` share are near copies;
    with the audit's embeddings, ``embed_dim`` random clustered ones (the copies' close to their source's)."""
    size = len(next(iter(rows.values())))
    audit.reserve(n)
    loop = FeedLoop(audit)
    rng = np.random.default_rng(0)
    words = {k: rng.integers(-(2**63), 2**63 - 1, (n, *v.shape[1:]), dtype=np.int64, endpoint=True)
             for k, v in rows.items() if k in ("xxhash", "pchash", "pchash_crops")}  # fmt: skip
    src = np.arange(n) % size
    copy = np.nonzero(rng.random(n) < copies)[0]
    copy = copy[copy > 0]
    of = (rng.random(len(copy)) * copy).astype(np.int64)  # an earlier image
    src[copy] = src[of]
    flips = rng.integers(0, 5, len(copy))  # 0..4 bits of the near hash flipped
    for k in words:  # an exact copy keeps the xxhash too, a near copy has its own
        words[k][copy if k != "xxhash" else copy[flips == 0]] = words[k][of if k != "xxhash" else of[flips == 0]]
    for b in range(4):
        hit = flips > b
        words["pchash"][copy[hit]] ^= np.int64(1) << rng.integers(0, 63, hit.sum())
    emb = None
    if audit._embed is not None:  # clustered embeddings, the copies' within a cosine of ~0.999 of their source
        centres = rng.normal(0, 1, (10, embed_dim)).astype(np.float32)
        emb = centres[np.arange(n) % 10] + rng.normal(0, 0.6, (n, embed_dim)).astype(np.float32)
        emb[copy] = emb[of] + rng.normal(0, 0.01, (len(copy), embed_dim)).astype(np.float32)
    for s in range(0, n, chunk):
        idx = list(range(s, min(s + chunk, n)))
        at = src[s : s + chunk]
        part = {k: torch.from_numpy(np.ascontiguousarray(words[k][s : s + chunk] if k in words else v[at]))
                for k, v in rows.items()}  # fmt: skip
        part = part if emb is None else (part, torch.from_numpy(emb[s : s + chunk]))
        loop.feed_rows([(idx, part)], {}, idx, [i % 10 for i in idx], [f"c{i % 10}/{i:07d}.png" for i in idx])
    audit.class_names = [f"c{k}" for k in range(10)]


class Timeline:
    """Wall / CPU seconds and peak RSS of each named step (``progress.Steps`` calls mark them)."""

    def __init__(self, watch: mcs.Peak, base: int) -> None:
        self.watch, self.base = watch, base
        self.rows: list[dict] = []
        self.name: str | None = None

    def mark(self, name: str | None) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        if self.name is not None:
            peak = self.watch.phase()
            self.rows.append({"step": self.name, "s": round(now - self.t, 2), "cpu_s": round(cpu - self.c, 2),
                              "peak_mb": round(peak / MB), "rise_mb": round((peak - self.base) / MB)})  # fmt: skip
            print(json.dumps(self.rows[-1]), file=sys.stderr, flush=True)  # as it goes: a run stopped early still says
        self.name, self.t, self.c = name, now, cpu


def one_size(n: int, args: argparse.Namespace) -> dict:
    extra = {"embeddings": True, "embed_model": torch.nn.Identity()} if args.embed_dim else {}
    audit = DataAudit(device="cpu", preset=args.preset, **extra)
    rows = mcs.sample_rows(audit)
    watch = mcs.Peak()
    base = mcs.rss()
    tl = Timeline(watch, base)
    real_call = progress.Steps.__call__

    def call(self, name):  # noqa: ANN001, ANN202
        tl.mark(name)
        return real_call(self, name)

    progress.Steps.__call__ = call
    tl.mark("feed")
    feed(audit, rows, n, args.copies, chunk=args.chunk, embed_dim=args.embed_dim or 128)
    tl.mark("compute")
    report = audit.compute()
    del audit
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-scale-"))
    if args.formats:
        tl.mark("save")
        report.save(out, formats=args.formats.split(","))
    if args.report:
        from dataeval_gpu.report import write_report

        tl.mark("report")
        write_report(report, out)
    tl.mark(None)
    watch.stop = True
    dup = report.duplicates
    return {
        "images": n, "preset": args.preset or "default", "rss_before_mb": round(base / MB),
        "exact_groups": len(dup.get("exact", [])), "near_groups": len(dup.get("near", [])),
        "largest_near_group": max(map(len, dup.get("near", [[]])), default=0),
        "embedding_groups": len(dup.get("embedding", [])), "cluster_outliers": len((report.clusters or {}).get("outliers", [])),
        "steps": tl.rows, "peak_rise_per_image_b": round((max(r["peak_mb"] for r in tl.rows) * MB - base) / n),
        "out": str(out),
    }  # fmt: skip


def clusterer(n: int, dim: int = 64) -> dict:
    from dataeval_gpu.detectors import Clusterer

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (10, dim)).astype(np.float32)
    x = centres[rng.integers(0, 10, n)] + rng.normal(0, 1, (n, dim)).astype(np.float32)
    watch = mcs.Peak()
    base = mcs.rss()
    t, c = time.perf_counter(), time.process_time()
    out = Clusterer(x, method="hdbscan").evaluate()
    peak = watch.phase()
    return {"clusterer_points": n, "dim": dim, "s": round(time.perf_counter() - t, 1),
            "cpu_s": round(time.process_time() - c, 1), "peak_mb": round(peak / MB),
            "rise_mb": round((peak - base) / MB), "outliers": len(out.outliers)}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000", help="comma list of image counts")
    ap.add_argument("--preset", default=None, help="DataAudit preset (default: the default settings)")
    ap.add_argument("--copies", type=float, default=0.02, help="share of planted near copies (default 0.02)")
    ap.add_argument("--formats", default="csv,json", help="results files (default csv,json; '': no save)")
    ap.add_argument("--chunk", type=int, default=16, help="rows per feed_rows part (default 16, as the file scan)")
    ap.add_argument("--report", action="store_true", help="also write report.html")
    ap.add_argument("--out", help="output folder (one size only; default: a temporary one)")
    ap.add_argument("--clusterer", type=int, help="time the Clusterer on this many random 64-d embeddings instead")
    ap.add_argument("--embed-dim", type=int, default=0, help="also embeddings of this size (Clusterer, embedding duplicates)")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one size, in this process
    args = ap.parse_args()
    if args.clusterer:
        print(json.dumps(clusterer(args.clusterer)))
        return 0
    if args.one:
        print(json.dumps(one_size(args.one, args)))
        return 0
    for n in (int(s) for s in args.sizes.split(",")):
        extra = [f"--preset={args.preset}"] * bool(args.preset) + ["--report"] * args.report
        extra += [f"--out={args.out}"] * bool(args.out) + [f"--embed-dim={args.embed_dim}"] * bool(args.embed_dim)
        cmd = [sys.executable, __file__, f"--one={n}", f"--copies={args.copies}", f"--formats={args.formats}",
               f"--chunk={args.chunk}", *extra]  # fmt: skip
        subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
