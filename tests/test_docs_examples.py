"""The ```python blocks of docs/usage.md run as they are (each in a fresh namespace, in a temporary folder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

DOC = Path(__file__).resolve().parents[1] / "docs" / "usage.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)


def test_usage_has_the_three_examples() -> None:
    assert len(BLOCKS) == 3
    assert "DataAudit" in BLOCKS[0] and "DataLoader" in BLOCKS[0]
    assert "main([" in BLOCKS[1] and "distributed_scan" in BLOCKS[1]
    assert "DataEvalCallback" in BLOCKS[2]


@pytest.mark.parametrize("number", range(len(BLOCKS)), ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_usage_example_runs(number: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = BLOCKS[number]
    if "lightning" in code:
        pytest.importorskip("lightning")
    if "photo_collection" in code or 'main(["scan"' in code:
        pytest.importorskip("skimage")
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches on a shared CPU
    try:
        exec(compile(code, f"{DOC.name}:block{number}", "exec"), {"__name__": "__docs__"})
    finally:
        torch.set_num_threads(threads)


DIST_DOC = DOC.parent / "distributed.md"
DIST_BLOCKS = re.findall(r"^```python\n(.*?)^```", DIST_DOC.read_text(), flags=re.S | re.M)


@pytest.mark.parametrize("number", range(len(DIST_BLOCKS)), ids=[f"block{i}" for i in range(len(DIST_BLOCKS))])
def test_distributed_example_runs_as_one_process(number: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/distributed.md's scripts, started as one plain process (a world of one), with the
    ``my_dataset`` / ``my_transform`` they leave to the reader."""
    import numpy as np

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (3, 12 + i % 4, 12), dtype=np.uint8) for i in range(10)]
    images[9] = images[2].copy()
    namespace = {"__name__": "__docs__", "my_dataset": [(im, i % 2) for i, im in enumerate(images)], "my_transform": lambda im: im}
    monkeypatch.chdir(tmp_path)
    exec(compile(DIST_BLOCKS[number], f"{DIST_DOC.name}:block{number}", "exec"), namespace)
    report = namespace["report"]
    assert report.index.tolist() == list(range(10)) and report.duplicates["exact"] == [[2, 9]]
    assert report.labels == {i: i % 2 for i in range(10)}
