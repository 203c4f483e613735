"""The short ```python snippets of README.md and docs/ (clusterer, duplicates, quality, report)
run as they are, given the names they leave to the reader: ``images`` (real photos of mixed
sizes, one planted copy), ``dataset`` (their ``(image, label)`` items), ``loader`` (a DataLoader
of ``(images, labels, indices)``),
``train`` / ``test``.  ``device="cuda"`` runs on the CPU where there is no CUDA.
(docs/usage.md, docs/distributed.md: tests/test_docs_examples.py; docs/index.md: tests/index.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = [
    (doc, k, code)
    for doc in ("README.md", "docs/clusterer.md", "docs/duplicates.md", "docs/quality.md", "docs/report.md")
    for k, code in enumerate(re.findall(r"^```python\n(.*?)^```", (ROOT / doc).read_text(), flags=re.S | re.M))
]


def test_every_snippet_is_collected() -> None:
    assert [(doc, k) for doc, k, _ in SNIPPETS] == [
        ("README.md", 0), ("README.md", 1), ("docs/clusterer.md", 0), ("docs/duplicates.md", 0),
        ("docs/quality.md", 0), ("docs/report.md", 0),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def names() -> dict:
    pytest.importorskip("skimage")
    from torch.utils.data import DataLoader

    from dataeval_gpu.batching import ragged_collate
    from dataeval_gpu.datasets import photo_collection
    from dataeval_gpu.distributed import IndexedDataset

    images = photo_collection(16, seed=0, max_side=96)
    images.append(images[3].copy())  # index 16 copies index 3
    dataset = [(im, k % 2) for k, im in enumerate(images)]  # README's torch-native snippet wraps it itself
    loader = DataLoader(IndexedDataset(dataset), batch_size=6, collate_fn=ragged_collate)
    return {"images": images, "dataset": dataset, "loader": loader, "train": images[:10], "test": images[8:]}


@pytest.mark.parametrize("doc,number,code", SNIPPETS, ids=[f"{d}:{k}" for d, k, _ in SNIPPETS])
def test_snippet_runs(doc: str, number: int, code: str, names: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if "embed(" in code:
        pytest.importorskip("torchvision")
    if not torch.cuda.is_available():
        code = code.replace('device="cuda"', 'device="cpu"')
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__", **names}
    exec(compile(code, f"{doc}:block{number}", "exec"), namespace)
    if doc == "README.md" and number == 0:
        assert namespace["dups"].exact == [[3, 16]] and len(namespace["stats"].mean) == 17
    if doc == "README.md" and number == 1:
        assert [3, 16] in namespace["report"].duplicates["exact"] and (tmp_path / "audit.json").is_file()
    if doc == "docs/duplicates.md":
        # test = images 8..16: test 0, 1 are train 8, 9; test 8 (image 16) copies train 3
        assert namespace["m"]["exact"].tolist() == [[0, 8], [1, 9], [8, 3]]
    if doc == "docs/report.md":
        assert (tmp_path / "out" / "audit" / "report.html").is_file()
