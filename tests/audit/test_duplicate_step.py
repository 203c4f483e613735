"""The audit's duplicate step searches the hashes within the radius once: with the quality
figures (the default) only the views' search of the pair checks runs; the whole-image search of
``Duplicates`` (whose near groups were replaced by those) is not run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import dataeval_gpu.detectors.hash_pairs as hash_pairs_module
import dataeval_gpu.functional.hashing.groups as groups_module
from dataeval_gpu.audit import DataAudit


def _images() -> list[torch.Tensor]:
    rng = np.random.default_rng(5)
    out = []
    for _ in range(10):
        small = rng.integers(0, 256, (5, 6, 3)).astype(np.uint8)
        out.append(np.asarray(Image.fromarray(small).resize((96, 80), Image.BILINEAR)))
    out.append(out[0].copy())  # an exact copy
    out.append(np.clip(out[1].astype(int) + 3, 0, 255).astype(np.uint8))  # a near copy
    return [torch.from_numpy(np.ascontiguousarray(v.transpose(2, 0, 1))) for v in out]


def _searches(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """The number of hashes of each radius search, by caller."""
    seen: dict[str, list[int]] = {"duplicates": [], "pair_checks": []}
    for name, module in (("duplicates", groups_module), ("pair_checks", hash_pairs_module)):
        real = module.near_pairs

        def spy(h, *a, _real=real, _name=name, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
            seen[_name].append(int(h.numel()))
            return _real(h, *a, **k)

        monkeypatch.setattr(module, "near_pairs", spy)
    return seen


@pytest.mark.parametrize("quality", [True, False])
def test_the_duplicate_step_runs_one_radius_search(quality: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    images = _images()
    audit = DataAudit(device="cpu", quality=quality)
    audit.update(images, indices=list(range(len(images))))
    seen = _searches(monkeypatch)
    report = audit.compute()
    n = len(images)
    if quality:  # whole images and their two central crops, searched together
        assert seen == {"duplicates": [], "pair_checks": [3 * n]}
    else:
        assert seen["pair_checks"] == []  # Duplicates' own whole-image groups (0.65 semantics)
    # the exact groups, from the xxhashes as an independent grouping
    xx = audit.compute().hashes["xxhash"]
    by: dict[str, list[int]] = {}
    for i, v in enumerate(xx):
        by.setdefault(v, []).append(i)
    assert report.duplicates["exact"] == sorted(g for g in by.values() if len(g) > 1) == [[0, 10]]
    assert [1, 11] in report.duplicates["near"]
