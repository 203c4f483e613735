"""Audit a dataset with several processes / GPUs / machines under ``torchrun``.

    torchrun --nproc_per_node=N scripts/torchrun_scan.py PATH --out DIR
    torchrun --nproc_per_node=N scripts/torchrun_scan.py --synthetic 1000 --out DIR
    torchrun --nproc_per_node=N scripts/torchrun_scan.py --photos 200 --out DIR

PATH is a folder, an ImageFolder-style class tree (labels from the folder names) or a text
file of image paths; ``--synthetic N`` makes N deterministic random images of mixed sizes,
channel counts and dtypes with planted exact and near duplicates; ``--photos N`` takes N real
photos of mixed sizes from the bundled sources (scikit-image, scikit-learn).

Every rank reads its ``DistributedSampler`` shard (``gloo`` on the CPU, ``nccl`` on GPUs, one
GPU per rank), the accumulated rows are gathered across ranks, and rank 0 writes the report
to ``--out`` (``results.csv``, ``results.json``, ``findings.json``, ``summary.json``,
``config.json``, ``report.html`` and its plots unless ``--no-plots``; ``report.pkl`` with
``--pickle``) and prints the summary.  Without
``torchrun`` it runs as one process.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dataeval_gpu.cli_args import add_audit_options, audit_kwargs, int_at_least
from dataeval_gpu.cli_options import CommandLineError, check_option_conflicts


def synthetic_images(n: int, seed: int = 0) -> list[tuple[np.ndarray, int]]:
    """``n`` (image, label) pairs: random CHW images of mixed sizes, 1 or 3 channels, uint8 or
    float32, with every 10th image an exact copy and every 10th (offset 5) a near copy
    (one pixel changed) of an earlier one."""
    rng = np.random.default_rng(seed)
    out: list[tuple[np.ndarray, int]] = []
    for i in range(n):
        if i >= 10 and i % 10 == 0:
            src, lab = out[int(rng.integers(0, i - 1))]
            out.append((src.copy(), lab))
            continue
        if i >= 10 and i % 10 == 5:
            src, lab = out[int(rng.integers(0, i - 1))]
            near = src.copy()
            near.flat[0] = near.flat[0] // 2
            out.append((near, lab))
            continue
        c = 1 if rng.random() < 0.25 else 3
        h, w = int(rng.integers(12, 80)), int(rng.integers(12, 80))
        base = rng.integers(0, 256, (c, 1, 1)) + np.linspace(0, 60, w)[None, None, :]
        img = np.clip(base + rng.normal(0, 20, (c, h, w)), 0, 255)
        if rng.random() < 0.2:
            out.append(((img / 255.0).astype(np.float32), int(rng.integers(0, 3))))
        else:
            out.append((img.astype(np.uint8), int(rng.integers(0, 3))))
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("path", nargs="?", help="folder, ImageFolder class tree, or text file of paths")
    src.add_argument("--synthetic", type=int_at_least(1), metavar="N", help="N synthetic images with planted duplicates")
    src.add_argument("--photos", type=int_at_least(1), metavar="N", help="N real photos from the bundled sources")
    p.add_argument("--out", required=True, help="output directory (written by rank 0)")
    p.add_argument("--device", default=None, help="default: cuda:LOCAL_RANK when CUDA is available, else cpu")
    p.add_argument("--backend", default=None, help="default: nccl with CUDA, gloo without")
    p.add_argument("--batch-size", type=int_at_least(1), default=64)
    p.add_argument("--workers", type=int_at_least(0), default=2, help="DataLoader workers per rank")
    p.add_argument("--shuffle", action="store_true", help="shuffle the shards (seeded by --seed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int_at_least(1), default=None, help="only the first N items")
    p.add_argument("--no-hashes", action="store_true", help="skip hashes and duplicate search")
    add_audit_options(p)  # the audit settings of `dataeval-gpu scan`, with its defaults: the same findings
    p.add_argument("--formats", default="csv,json", help="comma list of csv, parquet, json")
    p.add_argument(
        "--pickle", action="store_true", help="also write report.pkl (the AuditReport, for Python)"
    )
    p.add_argument("--no-plots", action="store_true", help="results files only: no report.html and plots")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.path is not None and not Path(args.path).exists():  # said once per rank, before the group forms
        parser.error(f"no such folder or file list: {args.path}")
    try:  # the command's check: --quality-threshold with the quality issues off, --no-hashes with --radius, ...
        check_option_conflicts(args)
    except CommandLineError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import torch.distributed as dist

    from dataeval_gpu.distributed import distributed_scan, init_from_env

    info = init_from_env(args.backend, device=args.device)
    paths: list[str] | None = None
    found: Any = None  # what find_inputs found (a folder or file list)
    class_names: list[str] = []
    skipped = ""
    data: Any
    if args.synthetic is not None:
        data = synthetic_images(args.synthetic, seed=args.seed)
        source = f"synthetic ({args.synthetic} images)"
    elif args.photos is not None:
        from dataeval_gpu.datasets import photo_collection

        data = photo_collection(args.photos, seed=args.seed, max_side=512)
        source = f"bundled photos ({args.photos} images)"
    else:
        from dataeval_gpu.cli_args import SKIPPED
        from dataeval_gpu.discovery import find_inputs, write_skipped
        from dataeval_gpu.io import ImageFiles

        # as the command finds them: an earlier scan's output in the folder left out, the
        # files that are not images skipped and listed (by rank 0)
        found = find_inputs(args.path, out=args.out)
        files, labels, class_names = found.files, found.labels, found.class_names
        # listed by rank 0 and said in the last lines, as the command says it
        skipped = write_skipped(found, Path(args.out) / SKIPPED, warn=False) if info.is_main else ""
        if not files and info.is_main:
            logging.getLogger("dataeval_gpu").warning("%s: no files to scan (docs/inputs.md)", args.path)
        # the command's reader: a file that cannot be read or decoded is a failed row with its label
        data, paths, source = ImageFiles(files, labels), files, str(args.path)
    if args.limit is not None:
        data = torch.utils.data.Subset(data, range(min(args.limit, len(data))))
        paths = paths[: args.limit] if paths is not None else None
    t0 = time.perf_counter()
    report = distributed_scan(
        data,
        batch_size=args.batch_size,
        shuffle=args.shuffle,
        seed=args.seed,
        num_workers=args.workers,
        device=info.device,
        paths=paths,
        class_names=class_names,
        all_ranks=False,
        progress=False if args.no_progress else None,
        **audit_kwargs(args),  # the command's settings from the same options: the same findings
    )
    elapsed = time.perf_counter() - t0
    if report is not None:  # rank 0
        if found is not None:  # a list's relative path: where it was looked for (as the command says)
            found.name_missing(paths, report.failed)
        out = Path(args.out)
        report.config.update(
            {
                "command": "torchrun_scan",
                "dataset": source,
                "batch_size": args.batch_size,
                "workers_per_rank": args.workers,
                "elapsed_s": round(elapsed, 3),
                "images_per_s": round(report.total / max(elapsed, 1e-9), 2),
            }
        )
        if skipped:  # as the command's config.json
            report.config["skipped_not_images"] = f"{skipped}, listed in {SKIPPED}"
        if found is not None and found.metadata:  # .txt, .json, ... beside the images: counted
            report.config["metadata_not_scanned"] = found.metadata_summary()
        if paths is not None:  # the files scanned, as the command records them (the report's --limit line)
            report.config["files"] = len(paths)
        if found is not None and len(found.files) > report.total:  # --limit: how many more were found
            report.config["inputs_found"] = len(found.files)
        formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
        if args.no_plots:
            written = report.save(out, formats=formats)
        else:  # as the command: results files and report.html (grids from the files' paths)
            from dataeval_gpu.cli_results import save_and_report

            written = save_and_report(report, out, formats, None, False if args.no_progress else None)
        if args.pickle:
            with open(out / "report.pkl", "wb") as f:
                pickle.dump(report, f)
            written["pickle"] = str(out / "report.pkl")
        print(report.summary())
        from dataeval_gpu.cli_results import left_out_lines

        for line in left_out_lines(skipped, report.config.get("metadata_not_scanned"), out):
            print(line)  # every file of the folder accounted for, as the command's last lines
        if report.config.get("inputs_found"):
            found_n = report.config["inputs_found"]
            print(f"\nnot scanned: {found_n - report.total} more inputs past --limit {report.total} ({found_n} found)")
        noted = report.config.get("decoder_warnings")
        if noted:  # libpng's "iCCP: ...", caught per file on every rank, as the command says it
            print(f"\ndecoder warnings: {noted}; the images were read, each one's warnings in results.csv's decoder_note")
        print(
            f"\n{report.total} images in {elapsed:.2f} s on {info.world_size} rank(s) ({info.backend or 'single process'}, "
            f"{info.device} on rank 0); results in {out}/ ({', '.join(sorted(Path(v).name for v in written.values()))})"
        )
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
