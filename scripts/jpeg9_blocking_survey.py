"""Measure ``blockiness`` (the ``jpeg_blocking`` score) and its pattern figures on image files.

Used for jpeg9's pattern weight (docs/quality.md, "blockiness"): run it with PYTHONPATH on two
trees (before / after) over the same folders and compare the flags (> 2.4).  Every ``--step``-th
image file of each folder (sorted paths) is decoded as the scan does (``io.decode_file``) and
measured alone with ``quality_metrics``; one CSV row per file: folder, path, blockiness, the
border segments' step share and pattern share of the central window (``block_figures``; empty
with the before tree, which lacks it).

    PYTHONPATH=$PWD python scripts/jpeg9_blocking_survey.py DIR [DIR ...] --out new.csv [--step 4]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

import torch

from dataeval_gpu.io import decode_file

ENDINGS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def _figures(x: torch.Tensor) -> tuple[str, str]:
    """The window's ``(share, pattern)`` as text, or empty where this tree has no ``block_figures``."""
    try:
        from dataeval_gpu.functional.quality import _window_box  # noqa: PLC0415 - a measuring script
        from dataeval_gpu.functional.quality_torch import block_figures  # noqa: PLC0415
    except ImportError:
        return "", ""
    from dataeval_gpu.functional.pixels import grey_image, scale01  # noqa: PLC0415
    from dataeval_gpu.functional.quality_alpha import composite_on_grey  # noqa: PLC0415

    if x.shape[1] in (2, 4):
        x = composite_on_grey(x)
    g = grey_image(scale01(x).to(torch.float32)) * 255.0
    dy, dx, wh, ww = _window_box(*g.shape[-2:])
    fig = block_figures(g[..., dy : dy + wh, dx : dx + ww])
    return ("", "") if fig is None else (f"{float(fig[0][0]):.4f}", f"{float(fig[1][0]):.4f}")


def main() -> None:
    from dataeval_gpu.functional.quality import quality_metrics  # noqa: PLC0415

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--step", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(1)
    with open(args.out, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["folder", "path", "blockiness", "share", "pattern"])
        for d in args.dirs:
            files = sorted(
                os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs if f.lower().endswith(ENDINGS)
            )[:: args.step]
            for p in files:
                try:
                    x = decode_file(p)[None]
                    b = float(quality_metrics(x)["blockiness"][0])
                except Exception as e:  # noqa: BLE001 - a survey: note the file and go on
                    print(f"{p}: {e}", file=sys.stderr)
                    continue
                out.writerow([d, p, f"{b:.4f}", *_figures(x)])


if __name__ == "__main__":
    main()
