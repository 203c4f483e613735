"""An image with nothing visible (every pixel fully transparent) is no near duplicate of a black
square: its hash reads the black it is composited on (newuser11 saw freecol's empty placeholder
grouped with tuxpaint's black squares).  Two such empty images still pair with each other."""

import torch

from dataeval_gpu.detectors import NearDuplicates


def test_fully_transparent_pairs_only_with_fully_transparent():
    imgs = [
        torch.zeros(4, 32, 32, dtype=torch.uint8),  # nothing visible
        torch.zeros(1, 12, 12, dtype=torch.uint8),  # black squares at three sizes
        torch.zeros(1, 24, 24, dtype=torch.uint8),
        torch.zeros(1, 36, 36, dtype=torch.uint8),
        torch.zeros(4, 48, 48, dtype=torch.uint8),  # nothing visible, another size
    ]
    out = NearDuplicates().evaluate(imgs)
    assert sorted(sorted(g) for g in out.hash) == [[0, 4], [1, 2, 3]]
    mixed = [(int(a), int(b)) for a, b in zip(out.pairs["first"], out.pairs["second"]) if (a in (0, 4)) != (b in (0, 4))]
    assert mixed == []

