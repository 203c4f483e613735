"""``--against`` holds an embedding neighbour to every rule a scan of both sets holds its embedding
pairs to (``embedding_pairs_ok``), the colour and alpha ones included: two plain pictures agree
in colour (``chroma_rg`` / ``chroma_bg``), a nearly empty sprite (under ``EMPTY_SHARE`` of its frame
visible) does not pair on the embeddings alone, and two images with a transparent ground agree in
detail (``ALPHA_DETAIL_MIN``).  Each case below was an ``embedding`` copy against the index and
never a pair in a scan of the two images together.  The model embeds every image alike (cosine 1):
only the rules tell the pairs apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import scan_files
from dataeval_gpu.detectors.embedding_pairs import ALPHA_DETAIL_MIN, EMPTY_SHARE
from dataeval_gpu.index import scan_against, update_index

pytest.importorskip("pyarrow")
PIL = pytest.importorskip("PIL.Image")


class _Same(torch.nn.Module):
    """Every image embeds to one vector: every pair is at cosine 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones(x.shape[0], 4)


KW = {"embeddings": True, "embed_model": _Same(), "workers": 0, "progress": False}


def _flat(rgb: tuple[int, int, int], side: int = 48) -> np.ndarray:
    return np.full((side, side, 3), rgb, np.uint8)


def _dot(side: int, dot: int, at: int) -> np.ndarray:
    """A sprite whose only opaque pixels are a ``dot`` x ``dot`` square; the colour beneath the
    transparent ground is the dot's, so the grey thumbnail is flat (nothing for the look check)."""
    a = np.zeros((side, side, 4), np.uint8)
    a[..., :3] = (200, 60, 60)
    a[at : at + dot, at : at + dot, 3] = 255
    return a


def _half(seed: int, touch: bool = False) -> np.ndarray:
    """64 x 64: the left half transparent over a smooth hidden ramp, the right half an opaque
    random texture (``seed``): the ramp makes two of them look alike, the texture differs."""
    rng = np.random.default_rng(seed)
    a = np.zeros((64, 64, 4), np.uint8)
    a[:, :32, :3] = np.linspace(0, 180, 32).astype(np.uint8)[None, :, None]
    tex = np.asarray(PIL.fromarray(rng.integers(130, 230, (32, 16)).astype(np.uint8)).resize((32, 64), PIL.BICUBIC))
    a[:, 32:, :3] = tex[..., None]
    a[:, 32:, 3] = 255
    if touch:  # a copy with one pixel changed
        a[40, 50, :3] = a[40, 50, :3] // 2
    return a


def _save(folder: Path, name: str, arr: np.ndarray) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    PIL.fromarray(arr).save(folder / name)
    return str(folder / name)


CASES = {
    # one grey level (the channels' mean 120), two colour casts; then a copy of the first's colour
    "colour": (_flat((150, 110, 100)), _flat((100, 110, 150)), _flat((150, 110, 100), 40)),
    # 0.9 % and 0.7 % of the frame visible; the 24 px one's thumbnail is not compared with a 64 px one's
    "empty": (_dot(64, 6, 10), _dot(24, 2, 5), None),
    # two textures on one transparent ramp; then the first with one pixel changed
    "alpha": (_half(1), _half(2), _half(1, touch=True)),
}


def _embedding_pairs(groups: list[list[int]], indexed: int) -> set[tuple[int, int]]:
    """The (new image, indexed image) pairs within the scan's groups; the indexed images first."""
    return {(j, i) for g in groups for i in g if i < indexed for j in g if j >= indexed}


@pytest.mark.parametrize("case", sorted(CASES))
def test_against_keeps_the_embedding_pairs_a_scan_keeps(tmp_path: Path, case: str) -> None:
    old, new, copy = CASES[case]
    a = _save(tmp_path / "indexed", "a.png", old)
    news = [_save(tmp_path / "new", "b.png", new)]
    if copy is not None:
        news.append(_save(tmp_path / "new", "c.png", copy))
    both = scan_files([a, *news], **KW)  # the reference: a scan of the indexed and the new images
    want = _embedding_pairs(both.duplicates["embedding"], 1)
    update_index(tmp_path / "idx", [a], **KW)
    report = scan_against(tmp_path / "idx", news, **KW)
    got = {(m["image"] + 1, m["partner"]) for m in report.against["matches"] if "embedding" in m["methods"]}
    assert got == want
    # the planted pair is none (the rule), its copy is one (the rule keeps a copy)
    assert (1, 0) not in got and ((2, 0) in got) == (copy is not None)
    op = both.stats["opacity"]
    if case == "empty":  # the rule's figures, as the scan measured them
        assert op[0] == pytest.approx(36 / 64**2) and op[1] == pytest.approx(4 / 24**2) and op.max() < EMPTY_SHARE
    if case == "alpha":
        assert op[0] == op[1] == 0.5 and ALPHA_DETAIL_MIN == 0.5
