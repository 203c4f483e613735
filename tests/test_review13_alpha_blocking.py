"""review13: with transparent pixels, blockiness's spread factor counts the border segments within
the opaque part only (the flat transparent part diluted the share: a JPEG at quality 5 with a third
of it opaque scored 1.9 and was not flagged)."""

from __future__ import annotations

import numpy as np
import torch

from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.functional.quality_torch import block_spread

from .test_quality5_blocking import _jpeg, ref_block_share


def _with_alpha(img: np.ndarray, opaque_cols: int) -> np.ndarray:
    a = np.zeros((1, *img.shape[1:]), np.uint8)
    a[:, :, :opaque_cols] = 255
    return np.concatenate([img, a])


def test_a_partly_transparent_jpeg_is_as_blocky_as_its_opaque_part() -> None:
    img = _jpeg(5, side=256)
    q = QualityIssues()
    whole = float(q.metrics([torch.from_numpy(img)])["blockiness"][0])
    for cols in (80, 40):
        m = q.metrics([torch.from_numpy(_with_alpha(img, cols))])
        assert float(m["blockiness"][0]) > 0.5 * whole, cols  # before: 1.86 (80 cols), 0.37 (40) of 12.1
        assert bool(q.evaluate(m).flags["jpeg_blocking"][0])


def test_masked_share_against_the_reference() -> None:
    g = _jpeg(8, seed=1, side=136)[1].astype(np.float32)
    t = torch.from_numpy(g)[None, None]
    every = torch.ones_like(t, dtype=torch.bool)
    assert float(block_spread(t, every)[0]) == ref_block_share(g.astype(np.float64))
    assert torch.isnan(block_spread(t, torch.zeros_like(every))[0])  # no opaque segment: no share
    # opaque rows 0..71 (and a hole): only the segments whose 3 lines' pixel pairs are all opaque
    part = every.clone()
    part[..., 72:, :] = False
    part[..., 20:23, 30:50] = False
    got = float(block_spread(t, part)[0])
    want = ref_masked_share(g.astype(np.float64), part[0, 0].numpy())
    assert got == want and 0.0 < want < 1.0


def ref_masked_share(g: np.ndarray, op: np.ndarray) -> float | None:
    """float64 loops: per direction (a side of 64 px or more), per row (column) of 8-px blocks, the
    border steps ``j`` whose lines ``j - 1, j, j + 1`` (``j - 1`` again at the last) have 8 opaque
    pixel pairs; the share of them stepping more than 4 over the larger neighbour."""
    hits = total = 0
    for a, o in ((g, op), (g.T, op.T)):
        rows, cols = a.shape
        if cols < 64 or rows < 8:
            continue
        st = np.abs(np.diff(a, axis=1))
        pr = o[:, 1:] & o[:, :-1]
        for r in range(rows // 8):
            seg, ok = st[8 * r : 8 * r + 8].sum(axis=0), pr[8 * r : 8 * r + 8].all(axis=0)
            for j in range(7, cols - 1, 8):
                nb = j - 1 if j + 1 >= cols - 1 else j + 1
                if not (ok[j] and ok[j - 1] and ok[nb]):
                    continue
                total += 1
                hits += int(seg[j] - max(seg[j - 1], seg[nb]) > 4.0)
    return hits / total if total else None
