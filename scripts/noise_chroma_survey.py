"""The images ``noisy``'s per-channel term (``noise_chroma``, noise14) adds to earlier measurements.

A scan made before ``noise_chroma`` existed holds every other metric the term reads; the term can
fire only where its other conditions hold (three channels, opaque, ``CHROMA_NOISE_MIN_SIDE`` px a
side, ``noise_flat >= CHROMA_NOISE_MIN_FLAT``) on an image not already ``noisy``.  Those candidates
are decoded as the scan decodes them (``io.decode_file``) and measured (``quality_metrics``), and
the ones the term flags are listed: the flags it adds, exactly, without rescanning everything.

    python scripts/noise_chroma_survey.py SCAN_DIR_OR_NPZ ... [--out added.tsv]

SCAN_DIR: a ``dataeval-gpu scan`` output folder (its ``results.csv``); NPZ: per-file metrics with a
``names`` array (``QualityIssues().metrics`` of each file, as docs/quality.md's jpegnoise13 section
measured them).  Prints per input: images, candidates, added flags; ``--out`` writes one line per
candidate: path, ``noise_chroma``, ``noise_flat``, their ratio, the term's score, flagged (0 / 1).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.detectors.quality_noise_rules import (
    CHROMA_NOISE_MIN_FLAT,
    CHROMA_NOISE_MIN_SIDE,
    chroma_noise_score,
)
from dataeval_gpu.functional.quality import quality_metrics
from dataeval_gpu.io import decode_file

KEYS = ("width", "height", "channels", "opacity", "noise_flat", "noise")


def read_metrics(src: Path) -> tuple[list[str], dict[str, np.ndarray], np.ndarray]:
    """The paths, the metrics ``KEYS`` and whether ``noisy`` flagged each image already."""
    if src.suffix == ".npz":
        d = np.load(src)
        if len(d["names"]) == 0:
            return [], {k: np.zeros(0) for k in KEYS}, np.zeros(0, bool)
        m = {k: d[k] for k in d.files if k != "names"}
        flagged = QualityIssues().evaluate(m).flags["noisy"]
        return [str(n) for n in d["names"]], {k: m[k].astype(np.float64) for k in KEYS}, np.asarray(flagged)
    with open(src / "results.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("status", "ok") in ("ok", "") and r.get("noise_flat")]
    m = {k: np.array([float(r[k]) for r in rows]) for k in KEYS}
    flagged = np.array([r.get("is_noisy_issue", "False") in ("True", "true", "1") for r in rows], bool)
    return [r["path"] for r in rows], m, flagged


def candidates(m: dict[str, np.ndarray], flagged: np.ndarray) -> np.ndarray:
    """Where the term's conditions besides ``noise_chroma`` hold on an image not yet ``noisy``."""
    side = np.minimum(m["width"], m["height"])
    ok = (m["channels"] >= 3) & (m["opacity"] >= 1.0) & (side >= CHROMA_NOISE_MIN_SIDE)
    return ok & (m["noise_flat"] >= CHROMA_NOISE_MIN_FLAT) & ~flagged


def survey(src: Path, out: list[str]) -> tuple[int, int, int]:
    paths, m, flagged = read_metrics(src)
    idx = np.flatnonzero(candidates(m, flagged))
    added = 0
    for i in idx:
        x = decode_file(paths[i])
        q = {k: v.numpy().astype(np.float64) for k, v in quality_metrics([x]).items()}
        q.update(width=np.array([x.shape[-1]], float), height=np.array([x.shape[-2]], float))
        score = float(chroma_noise_score(q)[0])
        hit = score > QualityIssues().thresholds["noisy"]
        added += hit
        ch, nf = float(q["noise_chroma"][0]), float(q["noise_flat"][0])
        out.append(f"{paths[i]}\t{ch:.3f}\t{nf:.3f}\t{ch / max(nf, 1e-9):.3f}\t{score:.3f}\t{int(hit)}")
    return len(paths), len(idx), added


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    lines: list[str] = []
    total = np.zeros(3, int)
    for src in a.inputs:
        n = survey(src, lines)
        total += n
        print(f"{src}\timages {n[0]}\tcandidates {n[1]}\tadded {n[2]}", flush=True)
    print(f"total\timages {total[0]}\tcandidates {total[1]}\tadded {total[2]}")
    if a.out:
        a.out.write_text("".join(line + "\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
