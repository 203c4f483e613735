"""Each image's quality metrics do not depend on the images measured beside it.

A scan measures its files in stacks of same-size images (a worker's chunk of 16 files, grouped
by shape; the compiled kernels' stacks of a batch finished together by
:func:`~dataeval_gpu.functional.quality.quality_metrics_stacks`).  Every metric of every image in
a random stack (random kinds, channels and order) must equal the image measured alone - on the
compiled kernels and on the torch path, with and without alpha, through
:func:`quality_metrics_batch`, :func:`quality_metrics_stacks` and the registry's statistics pass
(:func:`~dataeval_gpu.functional.stats.image_statistics`, the scan's CPU plan).

(bdep17: an icon of ukui-themes measured 23.28 in a scan and its "twin" 0.0; the two files
differ - other pixels, opacity 0.666 / 0.734 - and the value was that of the image alone at that
commit; the tile share of blockprec17 made it 0.0.  No metric depends on its stack.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.functional import quality_compiled
from dataeval_gpu.functional.quality import QUALITY_KEYS, quality_metrics_batch, quality_metrics_stacks
from dataeval_gpu.functional.stats import image_statistics

SHAPES = ((64, 64), (96, 96), (72, 136))
#: the torch path's cases take ~10 s each on a shared CPU: slow (the compiled path's stay in the default run)
PATHS = [True, pytest.param(False, marks=pytest.mark.slow)]


def _picture(rng: np.random.Generator, kind: int, c: int, h: int, w: int) -> np.ndarray:
    """One of five kinds of uint8 ``(c, h, w)`` picture; with ``c`` 2 or 4 the last channel is alpha."""
    col = c - 1 if c in (2, 4) else c
    if kind == 0:  # smooth photo with noise
        base = rng.normal(128, 50, (col, h // 4 + 1, w // 4 + 1)).repeat(4, 1).repeat(4, 2)[:, :h, :w]
        img = base + rng.normal(0, 6, (col, h, w))
    elif kind == 1:  # JPEG-like: 8-px block means, a little noise
        blocks = rng.integers(40, 220, (col, -(-h // 8), -(-w // 8))).repeat(8, 1).repeat(8, 2)[:, :h, :w]
        img = blocks + rng.normal(0, 1.5, (col, h, w))
    elif kind == 2:  # drawing: flat shapes, edges on the 8-px grid and off it
        img = np.full((col, h, w), 200.0)
        for _ in range(4):
            y, x = rng.integers(0, h - 8), rng.integers(0, w - 8)
            img[:, y : y + rng.integers(8, 40), x : x + rng.integers(8, 40)] = rng.integers(0, 255)
    elif kind == 3:  # pixel art enlarged 2x by repeating its pixels
        img = rng.integers(0, 4, (col, -(-h // 2), -(-w // 2))).repeat(2, 1).repeat(2, 2)[:, :h, :w] * 80.0
    else:  # flat
        img = np.full((col, h, w), float(rng.integers(0, 256)))
    img = np.clip(img, 0, 255).round().astype(np.uint8)
    if c not in (2, 4):
        return img
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.hypot((yy - h / 2) / (0.45 * h), (xx - w / 2) / (0.45 * w))
    alpha = np.clip((1.0 - d) * rng.uniform(3, 12), 0.0, 1.0) * 255
    if rng.random() < 0.3:  # a global alpha below 255 (nothing opaque)
        alpha = alpha * 0.7
    return np.concatenate([img, alpha.round()[None].astype(np.uint8)])


def _set(seed: int, c: int, h: int, w: int, n: int = 10) -> list[torch.Tensor]:
    rng = np.random.default_rng(seed)
    return [torch.from_numpy(_picture(rng, k % 5, c, h, w)) for k in rng.permutation(n)]


def _assert_same(got: dict[str, torch.Tensor], j: int, alone: dict[str, torch.Tensor], what: str) -> None:
    for key in QUALITY_KEYS:
        a, b = float(got[key][j]), float(alone[key][0])
        assert a == b or (np.isnan(a) and np.isnan(b)), f"{what}: {key} {a} in the stack, {b} alone"


@pytest.mark.parametrize("compiled", PATHS)
@pytest.mark.parametrize("c", [1, 2, 3, 4])
def test_stack_equals_alone(monkeypatch: pytest.MonkeyPatch, compiled: bool, c: int) -> None:
    if not compiled:
        monkeypatch.setattr(quality_compiled.ready, "state", False)
    elif not quality_compiled.ready():
        pytest.skip("compiled kernels unavailable")
    for s, (h, w) in enumerate(SHAPES):
        imgs = _set(10 * c + s, c, h, w)
        stacked = quality_metrics_batch(torch.stack(imgs))
        order = np.random.default_rng(s).permutation(len(imgs))  # the same images in another order
        shuffled = quality_metrics_batch(torch.stack([imgs[i] for i in order]))
        for j, img in enumerate(imgs):
            alone = quality_metrics_batch(img[None])
            _assert_same(stacked, j, alone, f"c={c} {h}x{w} image {j}")
            _assert_same(
                shuffled, int(np.flatnonzero(order == j)[0]), alone, f"c={c} {h}x{w} image {j} shuffled"
            )


@pytest.mark.parametrize("compiled", PATHS)
def test_mixed_stacks_and_scan_plan_equal_alone(monkeypatch: pytest.MonkeyPatch, compiled: bool) -> None:
    """Stacks of every channel count and size together (compiled stacks finished as one, the
    alpha stacks on the torch code between them), and the scan's CPU plan over a ragged batch."""
    if not compiled:
        monkeypatch.setattr(quality_compiled.ready, "state", False)
    elif not quality_compiled.ready():
        pytest.skip("compiled kernels unavailable")
    rng = np.random.default_rng(7)
    stacks = [torch.stack(_set(100 + k, c, h, w, n=int(rng.integers(1, 6)))) for k, (c, (h, w)) in
              enumerate((c, hw) for c in (3, 4, 1, 2) for hw in SHAPES)]  # fmt: skip
    rng.shuffle(stacks)
    got = quality_metrics_stacks(stacks)
    ragged = [im for x in stacks for im in x]
    order = rng.permutation(len(ragged))
    stats, _ = image_statistics([ragged[i] for i in order], metrics=list(QUALITY_KEYS), backend="cpu")
    at = 0
    for x in stacks:
        for im in x:
            alone = quality_metrics_batch(im[None])
            _assert_same(got, at, alone, f"stacks: image {at} {tuple(im.shape)}")
            _assert_same(
                stats, int(np.flatnonzero(order == at)[0]), alone, f"scan plan: image {at} {tuple(im.shape)}"
            )
            at += 1


def test_hand_checked_values_in_a_mixed_stack() -> None:
    """Values a stack cannot move: a flat grey image (blockiness 1: nothing steps), a fully
    transparent one (opacity 0, measured as one black pixel: grey_p50 0) and an opaque one
    (opacity 1), side by side with pictures."""
    rng = np.random.default_rng(3)
    flat = np.full((4, 96, 96), 77, np.uint8)
    flat[3] = 255
    clear = np.zeros((4, 96, 96), np.uint8)
    x = torch.from_numpy(np.stack([_picture(rng, 1, 4, 96, 96), flat, clear, _picture(rng, 3, 4, 96, 96)]))
    m = quality_metrics_batch(x)
    assert float(m["blockiness"][1]) == 1.0
    assert float(m["opacity"][1]) == 1.0
    assert float(m["grey_p50"][1]) == pytest.approx(77 / 255, abs=1e-7)
    assert float(m["noise"][1]) == 0.0
    assert float(m["opacity"][2]) == 0.0
    assert float(m["grey_p50"][2]) == 0.0
