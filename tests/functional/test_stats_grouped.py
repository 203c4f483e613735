"""The CPU plan finishes a batch's quality metrics together (``compute_group``): the same bits
as each stack on its own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.errors import InvalidArgumentError
from dataeval_gpu.functional import registry
from dataeval_gpu.functional.quality import QUALITY_KEYS, quality_metrics_batch, quality_metrics_stacks
from dataeval_gpu.functional.stats import image_statistics


def _stacks() -> list[torch.Tensor]:
    rng = np.random.default_rng(3)
    shapes = [(2, 3, 40, 50), (1, 1, 17, 9), (1, 3, 2, 700), (1, 3, 800, 790), (3, 1, 16, 16), (1, 3, 1, 1)]
    out = [torch.from_numpy(rng.integers(0, 256, s, dtype=np.uint8)) for s in shapes]
    out.insert(2, torch.from_numpy(rng.integers(0, 256, (2, 4, 30, 20), dtype=np.uint8)))  # alpha: per stack
    out.insert(4, torch.from_numpy(rng.random((1, 3, 20, 30)).astype(np.float32)))  # float: per stack
    grad = torch.arange(64 * 96, dtype=torch.int64).reshape(1, 1, 64, 96) % 256
    out.append(grad.to(torch.uint8).repeat(1, 3, 1, 1))  # grey stored as RGB: colour 0
    out.append(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))  # flat: ratios 0, fine 1
    return out


def test_stacks_equal_each_stack_on_its_own_bit_for_bit() -> None:
    stacks = _stacks()
    got = quality_metrics_stacks(stacks)
    want = [quality_metrics_batch(x) for x in stacks]
    compiled = [k for k, x in enumerate(stacks) if x.dtype == torch.uint8 and x.shape[1] in (1, 3)]
    only = quality_metrics_stacks([stacks[k] for k in compiled])  # every stack by the kernels
    for key in QUALITY_KEYS:
        expect = torch.cat([w[key].to(got[key].dtype) for w in want])
        assert got[key].shape == (sum(x.shape[0] for x in stacks),)
        assert got[key].numpy().tobytes() == expect.numpy().tobytes(), key
        assert only[key].numpy().tobytes() == torch.cat([want[k][key] for k in compiled]).numpy().tobytes(), key
    # hand-checked rows: the flat image, the grey gradient stored as RGB
    assert got["fine_sharpness"][-1] == 1.0 and got["norm_sharpness"][-1] == 0.0 and got["noise"][-1] == 0.0
    assert got["colourfulness"][-2] == 0.0 and got["channel_spread"][-2] == 0.0
    # 1 x 1: no noise window, no sharpness, fine_sharpness 1
    assert got["noise"][-3] == 0.0 and got["norm_sharpness"][-3] == 0.0 and got["fine_sharpness"][-3] == 1.0


def test_cpu_plan_groups_and_equals_the_stacked_plan() -> None:
    stacks = _stacks()
    images = [img for x in stacks for img in x]
    cpu, _ = image_statistics(images, metrics=list(QUALITY_KEYS), backend="cpu")
    stacked, _ = image_statistics(images, metrics=list(QUALITY_KEYS), backend="cuda")  # forced on CPU tensors
    grouped = {m.name for m in registry.metrics() if m.compute_group is not None}
    assert grouped == set(QUALITY_KEYS)
    for key in QUALITY_KEYS:
        assert cpu[key].numpy().tobytes() == stacked[key].numpy().tobytes(), key


def test_compute_group_only_for_joint_metrics() -> None:
    with pytest.raises(InvalidArgumentError, match="compute_group"):
        registry.Metric(
            "toy_g", "TOY_G", None, "", torch.float64, "derived", lambda v: v, needs=("mean",), compute_group=lambda g: g
        )
