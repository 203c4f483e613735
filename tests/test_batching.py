"""Validating single images (dataeval_gpu.batching.as_image): the (H, W, C) warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import dataeval_gpu.batching as batching
from dataeval_gpu.errors import ChannelsLastWarning
from dataeval_gpu.metrics import imagestats


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "_channels_last_warned", False)  # the warning is shown once per process


def test_an_hwc_array_warns_once_and_is_measured_as_given() -> None:
    """``np.asarray(pil_image)`` is (H, W, C): it was measured, silently, as an image of 512
    channels, 3 pixels wide. It still is (as DataEval), but a warning names the image and the fix."""
    rgb = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    with pytest.warns(ChannelsLastWarning, match=r"image 1: shape \(40, 30, 3\) looks like \(H, W, C\)"):
        stats = imagestats([rgb.transpose(2, 0, 1), rgb, rgb[..., :1]]).dict()
    assert stats["channels"].tolist() == [3, 40, 40] and stats["width"].tolist() == [30, 3, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChannelsLastWarning)
        imagestats([rgb])  # once per process: not again


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((3, 40, 30), np.uint8),  # (C, H, W)
        np.zeros((13, 64, 64), np.float32),  # multispectral
        np.zeros((40, 30), np.uint8),  # (H, W)
        torch.zeros(4, 8, 3),  # RGBA, 8 x 3 pixels
        Image.new("RGB", (30, 40)),  # PIL: (H, W, C) by definition, transposed
    ],
)
def test_no_warning_for_channels_first(image: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChannelsLastWarning)
        t = batching.as_image(image, 0)
    assert t.ndim == 3


def test_a_dataset_item_that_raises_is_named() -> None:
    """``imagestats(dataset)`` stopped on a dataset item's own error (``OSError: disk``) without
    saying which item; the error keeps its type and now carries a note naming the item."""
    import sys


    class Flaky:
        def __len__(self) -> int:
            return 5

        def __getitem__(self, i: int) -> np.ndarray:
            if i == 3:
                raise OSError("disk")
            return np.full((1, 4, 4), i, dtype=np.uint8)

    with pytest.raises(OSError, match="disk") as info:
        imagestats(Flaky())
    if sys.version_info >= (3, 11):
        assert any("dataset item 3" in n for n in info.value.__notes__)


@pytest.mark.parametrize("workers", [0, 1])
def test_a_dataloader_that_cannot_stack_images_of_different_sizes_says_what_to_do(workers: int) -> None:
    """A DataLoader with torch's default collate over images of two sizes raised torch's own
    ``RuntimeError: stack expects each tensor to be equal size`` from deep inside the loader, with
    no word of ``ragged_collate``; the same data as the Dataset itself is measured."""
    from torch.utils.data import DataLoader

    from dataeval_gpu.batching import ragged_collate
    from dataeval_gpu.errors import InvalidArgumentError

    rng = np.random.default_rng(0)
    data = [torch.from_numpy(rng.integers(0, 256, (3, 8 + i % 2, 8), dtype=np.uint8)) for i in range(4)]
    with pytest.raises(InvalidArgumentError, match=r"collate_fn=dataeval_gpu\.batching\.ragged_collate.*\(stack expects"):
        imagestats(DataLoader(data, batch_size=2, num_workers=workers))
    heights = imagestats(DataLoader(data, batch_size=2, collate_fn=ragged_collate)).dict()["height"]
    assert heights.tolist() == [8, 9, 8, 9] == imagestats(data).dict()["height"].tolist()
    # images of one size with detection targets of different lengths: the targets cannot be stacked
    targets = [(torch.zeros(3, 8, 8, dtype=torch.uint8), {"labels": torch.arange(i % 3 + 1)}) for i in range(4)]
    with pytest.raises(InvalidArgumentError, match=r"per-image targets such as detection labels.*\[1\] at entry 0"):
        imagestats(DataLoader(targets, batch_size=2, num_workers=workers))
    assert imagestats(DataLoader(targets, batch_size=2, collate_fn=ragged_collate)).dict()["height"].tolist() == [8] * 4
