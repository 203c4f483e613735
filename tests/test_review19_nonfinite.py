"""review19: ``NearDuplicates`` and ``embedding_groups`` with an image whose embedding is not finite
(NaN / inf pixels in a float image embed so).  The kNN search refused the whole call ("x contains NaN
or infinite values ... the neighbour search needs finite values") where the scan lists such an image
as not clustered; now that row is in no group and the others are grouped as without it."""

from __future__ import annotations

import numpy as np
import torch

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.near_duplicates import embedding_groups


def test_a_non_finite_row_is_in_no_group_and_the_rest_keep_their_indices() -> None:
    rng = np.random.default_rng(4)
    e = rng.normal(size=(5, 16))
    e[3] = e[0] + rng.normal(scale=1e-3, size=16)  # cosine ~1 with row 0
    e[1] = np.nan
    e[4, 2] = np.inf
    sides = np.full((5, 2), 64.0)
    opacity = np.ones(5)
    assert embedding_groups(e, sides=sides, opacity=opacity) == [[0, 3]]
    assert embedding_groups(torch.from_numpy(e), sides=sides) == [[0, 3]]
    # the finite rows alone, in their own numbering: the same pair
    assert embedding_groups(e[[0, 2, 3]]) == [[0, 2]]


def test_near_duplicates_of_float_images_with_nan_pixels() -> None:
    g = torch.Generator().manual_seed(1)
    img = torch.rand(3, 70, 90, generator=g)
    nan = torch.where(torch.rand(3, 70, 90, generator=g) < 0.05, torch.nan, img)  # its embedding: NaN
    out = NearDuplicates().evaluate([img, nan, img.clone(), torch.rand(3, 70, 90, generator=g)])
    assert [0, 2] in out.exact
