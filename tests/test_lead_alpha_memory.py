"""Images with alpha are composited and histogrammed in blocks of rows (quality_alpha.BLOCK_PIXELS):
the same integers as the whole stack at once, and a scan's worker measuring a large RGBA image
no longer needs ~44 bytes per pixel beyond the image (a 169-Mpx drawing took a worker past 7 GB)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dataeval_gpu.functional import quality_alpha
from dataeval_gpu.functional.quality_alpha import composite_on_grey, visible_levels

ROOT = Path(__file__).resolve().parents[1]


def _stack(b: int, c: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (b, c, h, w), dtype=np.uint8)
    x[:, -1, : h // 3] = 0  # a transparent band, an opaque one, the rest partly seen
    x[:, -1, h // 3 : h // 2] = 255
    return torch.from_numpy(x)


def _levels(hist: torch.Tensor, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {"hist": hist}  # the histogram itself, to compare exactly


@pytest.mark.parametrize("shape", [(1, 4, 37, 53), (3, 2, 29, 41), (2, 4, 1, 70)])
@pytest.mark.parametrize("block", [1, 50, 1 << 20])
def test_blocks_give_the_same_integers(monkeypatch: pytest.MonkeyPatch, shape: tuple, block: int) -> None:
    x = _stack(*shape)
    xn = x.numpy().astype(np.int64)
    c, a = xn[:, :-1], xn[:, -1:]
    expected = (c * a + 128 * (255 - a) + 127) // 255  # independent numpy integer reference
    monkeypatch.setattr(quality_alpha, "BLOCK_PIXELS", block)
    np.testing.assert_array_equal(composite_on_grey(x).numpy(), expected)
    out = visible_levels(x, torch.float64, _levels)
    if shape[1] == 4:
        s = 299 * xn[:, 0] + 587 * xn[:, 1] + 114 * xn[:, 2]  # BT.601 luma in thousandths
        q = s // 1000 + (s % 1000 > 500) + ((s % 1000 == 500) & ((s // 1000) % 2 == 1))  # round, ties to even
    else:
        q = xn[:, 0]
    w = xn[:, -1]
    ref = np.stack([np.bincount(q[k].ravel(), weights=w[k].ravel(), minlength=256) for k in range(shape[0])])
    ref[ref.sum(axis=1) == 0, 0] = 1  # nothing seen: one black pixel
    np.testing.assert_array_equal(out["hist"].numpy(), ref.astype(np.int64))
    np.testing.assert_allclose(
        out["opacity"].numpy(), w.reshape(shape[0], -1).mean(axis=1) / 255.0, rtol=1e-12
    )


MEASURE = """
import resource, numpy as np, torch
from dataeval_gpu.audit.core import DataAudit
from dataeval_gpu.audit.files import warm_up
torch.set_num_threads(1)
acc = DataAudit().make_accumulator("cpu"); warm_up(acc)
img = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (4, 3000, 3000), dtype=np.uint8))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
acc.update([img])
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024 / 9e6)
"""


@pytest.mark.integration
def test_large_rgba_measured_in_little_memory() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    per_pixel = float(proc.stdout.split()[-1])
    assert per_pixel < 20.0, per_pixel  # bytes per pixel beyond the image (was ~44)
