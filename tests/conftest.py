"""Shared fixtures: --device option, real photos, CUDA skipping."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("DATAEVAL_GPU_PROGRESS", "0")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", action="store", default="cpu", help="device for device-parametrised tests (cpu or cuda)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def one_thread():
    """One torch intra-op thread for a module: small tensors, and the 2-core CPU may be shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> torch.device:
    dev = request.config.getoption("--device")
    if dev.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip("--device cuda given but CUDA is not available")
    return torch.device(dev)


@pytest.fixture(scope="session")
def photos() -> list[np.ndarray]:
    """~40 real photos of mixed sizes (CHW uint8, 1 and 3 channels)."""
    from dataeval_gpu.datasets import photo_collection

    return photo_collection(40, seed=7, min_side=9, max_side=320)


@pytest.fixture(scope="session")
def synthetic() -> list[np.ndarray]:
    """The synthetic cases of the parity acceptance list."""
    rng = np.random.default_rng(3)
    return [
        rng.integers(0, 256, (3, 21, 17)).astype(np.uint8),
        rng.integers(0, 65536, (3, 19, 23)).astype(np.uint16),
        rng.integers(0, 4096, (1, 30, 30)).astype(np.uint16),
        rng.random((3, 16, 20)).astype(np.float32),
        rng.random((1, 12, 12)),
        np.zeros((3, 10, 10), np.uint8),
        np.full((3, 8, 8), 77, np.uint8),
        np.full((1, 9, 9), 0.25, np.float32),
        rng.integers(0, 256, (1, 15, 14)).astype(np.uint8),
        rng.integers(0, 256, (4, 13, 12)).astype(np.uint8),
        rng.integers(0, 256, (25, 18)).astype(np.uint8),  # (H, W) input
        np.array([[[200]]], dtype=np.uint8),  # 1x1
        rng.integers(0, 256, (3, 2, 9)).astype(np.uint8),  # 2x9
        rng.integers(0, 2, (1, 11, 11)).astype(np.uint8),  # binary: depth 1
        rng.integers(-5, 200, (2, 7, 6)).astype(np.int32),
    ]


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """A folder of one 12 x 12 grey PNG (the command line's tests)."""
    from PIL import Image

    d = tmp_path / "images"
    d.mkdir()
    Image.fromarray(np.full((12, 12), 7, np.uint8)).save(d / "a.png")
    return d
