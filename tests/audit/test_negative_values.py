"""Images fed after ``transforms.Normalize`` (negative values) are measured, but the quality
issues read grey levels in [0, 1] or 0-255: the audit says so (``NegativeValuesWarning``, with
the count and the first image) instead of flagging the wrong images silently (every grey p99 read
1.0, a negative brightness, ``noisy`` on a normal photo)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.datasets import photo_collection
from dataeval_gpu.errors import NegativeValuesWarning

MEAN = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
STD = torch.tensor([0.229, 0.224, 0.225])[:, None, None]


def _audit(images: list[torch.Tensor], **kw) -> DataAudit:
    audit = DataAudit(**kw)
    audit.update(images, indices=list(range(10, 10 + len(images))))
    return audit


def test_normalised_images_warn_once_with_the_count_and_the_first() -> None:
    photos = [torch.from_numpy(np.array(p)) for p in photo_collection(6, seed=0, max_side=64)]
    normalised = [(p.float() / 255 - MEAN) / STD for p in photos]
    mixed = [photos[0], photos[1], normalised[2], photos[3], normalised[4], photos[5]]
    with pytest.warns(NegativeValuesWarning, match=r"^2 of 6 images hold negative values \(the first: image 12\)") as got:
        report = _audit(mixed).compute()
    assert len([w for w in got if issubclass(w.category, NegativeValuesWarning)]) == 1
    assert report.stats["depth"].tolist() == [8, 8, 0, 8, 0, 8]  # measured all the same
    assert float(report.stats["brightness"][2]) < 0  # what the warning is about
    # the images in [0, 1] or 0-255 do not warn, nor does the 0.65 preset (its definitions: no quality issues)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NegativeValuesWarning)
        _audit(photos).compute()
        _audit([p.float() / 255 for p in photos]).compute()
        _audit(normalised, preset="dataeval-0.65").compute()
