"""``scan_files``'s per-batch step for decoded files (``feed_decoded``, split out of ``scan_files``):
a file that could not be decoded is failed with its reason, the rest measured as ``update`` does;
the CUDA branch decodes the batch's JPEG bytes on the device first (here a spy, on CPU tensors)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import DataAudit, FeedLoop
from dataeval_gpu.audit.files import feed_decoded
from dataeval_gpu.io import DecodedItem


def _items() -> list[DecodedItem]:
    rng = np.random.default_rng(0)
    img = torch.from_numpy(rng.integers(0, 256, (3, 20, 24), dtype=np.uint8))
    return [
        DecodedItem(index=4, path="/d/a.png", label=1, image=img),
        DecodedItem(index=5, path="/d/b.png", label=0, image=None, error="OSError: image file is truncated"),
        DecodedItem(index=6, path="/d/c.png", label=None, image=None),
    ]


def test_feed_decoded_fails_undecodable_files_with_their_reason() -> None:
    items = _items()
    audit = DataAudit(device="cpu", preset="0.65")
    assert feed_decoded(FeedLoop(audit), items, torch.device("cpu")) == 3
    report = audit.compute()
    assert report.index.tolist() == [4]
    assert report.failed == {5: "OSError: image file is truncated", 6: "could not be decoded"}
    assert report.paths == {4: "/d/a.png", 5: "/d/b.png", 6: "/d/c.png"}
    assert report.labels == {4: 1, 5: 0}
    ref = DataAudit(device="cpu", preset="0.65")
    ref.update([items[0].image], indices=[4], labels=[1])
    expected = ref.compute().stats
    assert set(report.stats) == set(expected)
    for k, v in expected.items():
        np.testing.assert_array_equal(report.stats[k], v, err_msg=k)


def test_feed_decoded_cuda_branch_decodes_on_the_device_first(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataeval_gpu.io as io_mod

    calls = []

    def spy(batch, device) -> None:  # noqa: ANN001
        calls.append((len(batch), device.type, [it.image is None for it in batch]))

    class Loop:
        def feed(self, images, indices, labels=None, paths=None) -> int:  # noqa: ANN001
            self.got = (images, indices, labels, paths)
            return len(images)

    monkeypatch.setattr(io_mod, "gpu_decode", spy)
    loop = Loop()
    assert feed_decoded(loop, _items(), torch.device("cuda")) == 3  # type: ignore[arg-type]
    assert calls == [(3, "cuda", [False, True, True])]
    images, indices, labels, paths = loop.got
    assert indices == [4, 5, 6] and labels == [1, 0, None] and paths == ["/d/a.png", "/d/b.png", "/d/c.png"]
    assert [getattr(x, "reason", None) for x in images] == [None, "OSError: image file is truncated", "could not be decoded"]
    assert feed_decoded(loop, _items(), torch.device("cpu")) == 3 and len(calls) == 1  # CPU: no device decode
