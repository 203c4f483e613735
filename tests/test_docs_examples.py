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
