"""lumaprec14: two opaque colour pictures pair as whole images only when their 4 x 4 cell colours
are one picture's under one global colour change (flags of one layout in other colours hashed as
one picture once the D4 hashes read luma); grey copies and colour changes of one photo still pair."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.optimize import minimize_scalar

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.hash_figures import COLOUR_PATTERN_MAX, PairFigures, colour_pattern_rule
from dataeval_gpu.functional.hashing import hamming_distance, perceptual_hash_d4
from dataeval_gpu.functional.hashing.colour_cells import CELL_GRID, chroma_residual, colour_cells
from dataeval_gpu.functional.hashing.colour_regions import srgb_to_lab

skimage_data = pytest.importorskip("skimage.data")


def _luma(c: tuple[float, float, float]) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _flag(c1: tuple, c2: tuple, c3: tuple, h: int = 120, w: int = 180) -> torch.Tensor:
    """A left band of ``c1``, the right two thirds ``c3`` above ``c2``, a white star on the band:
    ``c1`` and ``c3`` cover one area each, so swapping them keeps the mean colour."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 3] = c1
    a[: h // 2, w // 3 :] = c3
    a[h // 2 :, w // 3 :] = c2
    a[h // 4 - 8 : h // 4 + 8, w // 6 - 8 : w // 6 + 8] = 250
    return torch.from_numpy(a).permute(2, 0, 1).contiguous()


def _swapped_flags() -> list[torch.Tensor]:
    """A flag and its colour-swapped variant: red and teal of one luma (87.8 / 87.6) trade places,
    so the luma images - the D4 hashes' and the thumbnails' - are one picture, the colours not."""
    red, teal, white = (200, 40, 40), (28, 113, 113), (235, 235, 235)
    assert abs(_luma(red) - _luma(teal)) < 0.5
    return [_flag(red, white, teal), _flag(teal, white, red)]


def _rgb(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).numpy()


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a)).permute(2, 0, 1).contiguous()


def test_colour_cells_block_means_against_numpy() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, size=(3, 64, 64), dtype=np.uint8)  # step 1: every pixel read
    want = img.astype(np.float64).reshape(3, CELL_GRID, 16, CELL_GRID, 16).mean(axis=(2, 4))
    got = colour_cells([torch.from_numpy(img)]).numpy().reshape(3, CELL_GRID, CELL_GRID)
    assert np.abs(got - np.round(want)).max() <= 1  # float32 sums, rounded
    grey = colour_cells([torch.from_numpy(img[:1])]).numpy().reshape(3, -1)
    assert (grey[0] == grey[1]).all() and (grey[1] == grey[2]).all()
    # alpha: a transparent half's hidden colour counts for nothing
    rgba = np.zeros((4, 64, 64), np.uint8)
    rgba[0] = 200
    rgba[2, :, 32:] = 255  # blue hidden under the transparent right half
    rgba[3, :, :32] = 255
    cells = colour_cells([torch.from_numpy(rgba)]).numpy().reshape(3, CELL_GRID, CELL_GRID)
    assert cells[0, :, :2].tolist() == [[200, 200]] * 4 and cells[2, :, :2].max() == 0
    # 16-bit and float images on the 0-255 scale
    big = colour_cells(
        [
            torch.full((3, 40, 40), 65535, dtype=torch.int32),
            torch.full((3, 40, 40), 0.5),
            torch.full((3, 8, 8), 257 * 100).to(torch.uint16),
        ]
    )
    assert big[0].tolist() == [255] * 48 and big[1].tolist() == [128] * 48 and big[2].tolist() == [100] * 48


def _reference_residual(a: np.ndarray, b: np.ndarray) -> float:
    """float64 by a bounded scalar search over ``s`` (not the closed form), every turn."""
    za = (lambda lab: lab[..., 1] + 1j * lab[..., 2])(
        srgb_to_lab(a.reshape(3, 4, 4).transpose(1, 2, 0).astype(float))
    )
    zb = (lambda lab: lab[..., 1] + 1j * lab[..., 2])(
        srgb_to_lab(b.reshape(3, 4, 4).transpose(1, 2, 0).astype(float))
    )

    def left(x: np.ndarray, y: np.ndarray) -> float:
        def rms(s: float) -> float:
            t = (y - s * x).mean()
            return float(np.sqrt(np.mean(np.abs(y - s * x - t) ** 2)))

        return min(
            rms(0.0), minimize_scalar(rms, bounds=(0.0, 50.0), method="bounded", options={"xatol": 1e-9}).fun
        )

    turns = [np.rot90(v, r) for v in (zb, zb.T) for r in range(4)]
    return min(max(left(za.ravel(), t.ravel()), left(t.ravel(), za.ravel())) for t in turns)


def test_chroma_residual_against_reference_and_hand_cases() -> None:
    rng = np.random.default_rng(7)
    a = rng.integers(0, 256, size=(6, 48)).astype(np.uint8)
    b = rng.integers(0, 256, size=(6, 48)).astype(np.uint8)
    got = chroma_residual(a, b)
    want = np.array([_reference_residual(x, y) for x, y in zip(a, b)])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    # hand cases: a figure against itself turned, and against a grey one (s = 0 leaves all of it)
    flag = np.zeros((3, 4, 4), np.uint8)
    flag[0, :, :2] = 200
    flag[2, :, 2:] = 200
    assert chroma_residual(flag.reshape(1, -1), np.rot90(flag, 1, axes=(1, 2)).reshape(1, -1))[0] < 1e-9
    grey = np.full((1, 48), 128, np.uint8)
    lab = srgb_to_lab(flag.reshape(3, 16).T.astype(float))
    z = lab[:, 1] + 1j * lab[:, 2]
    spread = float(np.sqrt(np.mean(np.abs(z - z.mean()) ** 2)))
    np.testing.assert_allclose(chroma_residual(flag.reshape(1, -1), grey)[0], spread, rtol=1e-9)


def test_colour_swapped_flag_is_not_paired_but_hashes_alike() -> None:
    ims = _swapped_flags()
    h = perceptual_hash_d4(ims)[0]
    assert int(hamming_distance(h[:1], h[1:])[0]) <= 2  # one luma picture: a candidate pair
    left = chroma_residual(colour_cells(ims[:1]).numpy(), colour_cells(ims[1:]).numpy())[0]
    assert left > 2 * COLOUR_PATTERN_MAX  # 30.1
    assert NearDuplicates(embedding_threshold=None).evaluate(ims).hash == []
    audit = DataAudit()
    audit.update(ims)
    assert audit.compute().duplicates["near"] == []


def test_photo_pairs_with_its_grey_copy_and_colour_changes() -> None:
    src = skimage_data.astronaut()[::2, ::2]
    grey = np.asarray(Image.fromarray(src).convert("L").convert("RGB"))
    cast = np.clip(src.astype(int) + np.array([18, 0, -12]), 0, 255).astype(np.uint8)
    y = np.asarray(Image.fromarray(src).convert("L"), dtype=float)[..., None]
    sat = np.clip(np.round(y + 1.3 * (src - y)), 0, 255).astype(np.uint8)
    ims = [_tensor(x) for x in (src, grey, cast, sat)]
    cells = colour_cells(ims).numpy()
    left = chroma_residual(np.repeat(cells[:1], 2, axis=0), cells[2:])
    assert (left < COLOUR_PATTERN_MAX / 2).all(), left  # a cast and more saturation: one global change
    groups = NearDuplicates(embedding_threshold=None).evaluate(ims).hash
    assert groups == [[0, 1, 2, 3]]
    audit = DataAudit()
    audit.update(ims)
    assert audit.compute().duplicates["near"] == [[0, 1, 2, 3]]


def test_colour_pattern_rule_judges_only_opaque_colour_pairs() -> None:
    flags = colour_cells(_swapped_flags()).numpy()
    cells = np.concatenate([flags, flags[1:]])  # image 2: image 1's colours
    i, j = np.array([0, 0, 1]), np.array([1, 2, 2])

    def rule(**kw: object) -> list[bool]:
        base = {"cells": cells, "opacity": np.ones(3), "colour": np.full(3, 0.3), "level": np.full(3, 0.5)}
        return colour_pattern_rule(*(PairFigures(**{**base, **kw}),) * 2, i, j).tolist()  # type: ignore[arg-type]

    assert rule() == [False, False, True]
    assert rule(opacity=np.array([0.9, 1.0, 1.0])) == [True, True, True]  # a drawing on transparent
    assert rule(colour=np.array([0.01, 0.3, 0.3])) == [True, True, True]  # a grey side
    assert rule(cells=None) == [True, True, True]  # rows without the cells (an index, 0.65)


def test_a_checkpoint_without_the_cell_colours_is_refused() -> None:
    """A checkpoint saved before the cell colours were kept (thumbnails, no ``pchash_colour``) is
    not resumed: its rows would skip the colour rule that the new rows meet; one with them is."""
    from dataeval_gpu.audit import CheckpointMismatchError

    audit = DataAudit(device="cpu")
    audit.update(_swapped_flags())
    st = audit.state()
    assert st["stats"]["pchash_colour"][0].shape == (2, 48)
    again = DataAudit(device="cpu")
    again.load_state(st)
    assert again.compute().duplicates["near"] == []
    del st["stats"]["pchash_colour"]
    with pytest.raises(CheckpointMismatchError, match="cell colours"):
        DataAudit(device="cpu").load_state(st)


def test_against_an_index_holds_the_swapped_flag_to_the_colour_rule(tmp_path) -> None:
    """``--against``: the index stores each row's cell colours (``pchash_colour``); a new image
    whose luma is an indexed flag's but whose colours are swapped is not a near match, the flag two
    levels brighter is."""
    from dataeval_gpu.index import DatasetIndex, against_index, save_index

    flag, swapped = _swapped_flags()
    audit = DataAudit(device="cpu")
    audit.update([flag])
    save_index(audit, tmp_path / "idx")
    index = DatasetIndex(tmp_path / "idx")
    assert (
        np.asarray(index.take("pchash_colour", np.array([0]))).reshape(-1).tolist()
        == colour_cells([flag])[0].tolist()
    )
    brighter = (flag.to(torch.int16) + 2).clamp(0, 255).to(torch.uint8)
    new = DataAudit(device="cpu")
    new.update([swapped, brighter])
    found = against_index(new, index)
    near = sorted(int(m["image"]) for m in found.against["matches"] if "near" in " ".join(m["methods"]))
    assert near == [1]
