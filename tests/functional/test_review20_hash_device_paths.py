"""review20: the hash kernels' device code on CPU tensors.  startup14 gave ``pack_bits`` a numpy
path for CPU tensors, which left its torch code (what a GPU runs) reachable on no CPU tensor, as
``_above_median``'s sort already was; ``kernels._NUMPY_ON_CPU`` off runs it here, against the
Python-int / numpy-median references and the numpy path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.functional.hashing import kernels
from dataeval_gpu.functional.hashing.kernels import dct_turns_bits, pack_bits


def _packed(bits: np.ndarray) -> int:
    v = sum(1 << (63 - k) for k in range(64) if bits[k])
    return v - (1 << 64) if v >= 1 << 63 else v


@pytest.mark.parametrize("numpy_on_cpu", [True, False])
def test_pack_bits_and_medians_on_both_paths(monkeypatch: pytest.MonkeyPatch, numpy_on_cpu: bool) -> None:
    monkeypatch.setattr(kernels, "_NUMPY_ON_CPU", numpy_on_cpu)
    rng = np.random.default_rng(0)
    bits = rng.random((30, 2, 64)) < 0.5
    bits[0, 0] = True  # all ones: -1
    bits[0, 1] = np.arange(64) == 0  # the sign bit alone: -2**63
    got = pack_bits(torch.from_numpy(bits))
    assert got.tolist() == [[_packed(b) for b in row] for row in bits]
    c = rng.integers(-3, 4, (50, 8, 8)).astype(np.float64)  # ties at the median
    turns = dct_turns_bits(torch.from_numpy(c)).numpy()
    for b in range(50):
        v = c[b].reshape(-1)
        assert turns[b, 0] == _packed(v > np.median(v))
        assert kernels.dct_bits(torch.from_numpy(c[b])).item() == _packed(v > np.median(v))
