"""The inverse-shape strip: a phone crop of a wallpaper (the central 9:16 strip of a 16:9 picture at
its full height) is found by hash, only against a whole image of the other orientation; the scan's
rows hold the same strip hashes as NearDuplicates (compiled CPU kernels and the tensor path of the
CUDA kernels, forced on the CPU, alike)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.accumulators.hash_rows import STRIP_ASPECT, hash_rows, strip_view
from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.hash_pairs import PairFigures, hash_pairs_ok, strip_partners
from dataeval_gpu.functional.hashing import near_hash_thumbs

PIL = pytest.importorskip("PIL.Image")


def test_strip_view_is_the_central_crop_of_the_inverse_shape() -> None:
    t = torch.arange(90 * 160).reshape(1, 90, 160)
    s = strip_view(t)
    # hand-checked: 90 * 90 / 160 = 50.6 -> 51 columns, (160 - 51) // 2 = 54 off the left
    assert s is not None and tuple(s.shape) == (1, 90, 51) and torch.equal(s, t[:, :, 54:105])
    tall = strip_view(t.transpose(1, 2))
    assert tall is not None and torch.equal(tall, t.transpose(1, 2)[:, 54:105, :])
    assert strip_view(torch.zeros(1, 90, 134)) is None  # 1.49: closer to square than STRIP_ASPECT
    assert strip_view(torch.zeros(1, 90, 135)) is not None and STRIP_ASPECT == 1.5
    assert strip_view(torch.zeros(1, 40, 80)) is None  # a 20 px strip: under CROP_MIN_SIDE


def test_strip_partners_other_orientation_and_shape() -> None:
    wide = np.array([[2880, 5120]] * 5)
    other = np.array([[1920, 1080], [1440, 720], [1080, 1920], [1000, 1000], [3000, 1000]])
    # 9:16 (1.78 = the strip's) and 1:2 (2.0, 1.125 x) tall: yes; wide, square, 1:3 (1.69 x): no
    assert strip_partners(wide, other).tolist() == [True, True, False, False, False]
    # a tall image's strip pairs with wide images
    assert strip_partners(np.array([[1920, 1080]]), np.array([[2160, 3840]])).tolist() == [True]


def _picture(seed: int, h: int = 180, w: int = 320) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.normal(128, 80, (3, h, w)), sigma=(0, 6, 6))
    base += rng.normal(0, 20, (3, 1, 1))
    return np.clip(128 + (base - 128) * 3, 0, 255).astype(np.uint8)


def _resize(a: np.ndarray, h: int, w: int) -> np.ndarray:
    im = PIL.fromarray(np.ascontiguousarray(a.transpose(1, 2, 0))).resize((w, h), PIL.LANCZOS)
    return np.ascontiguousarray(np.asarray(im).transpose(2, 0, 1))


def _set() -> list[torch.Tensor]:
    land = [_picture(s) for s in range(4)]
    imgs = list(land)
    # 4: the phone crop of 0 (its central 101 x 180 strip, enlarged to 9:16 at 320 x 180)
    imgs.append(_resize(land[0][:, :, 110:211], 320, 180))
    # 5: a tall crop of another picture, not of 0
    imgs.append(_resize(_picture(9)[:, :, 110:211], 320, 180))
    return [torch.from_numpy(i) for i in imgs]


def test_near_duplicates_find_the_phone_crop_by_its_strip() -> None:
    imgs = _set()
    on = NearDuplicates(embedding_threshold=None).evaluate(imgs)
    off = NearDuplicates(embedding_threshold=None, strip=False).evaluate(imgs)
    assert off.hash == []  # no whole-image or central-crop view meets the phone crop
    assert on.hash == [[0, 4]]  # the crop of 0; 5 (a crop of another picture) is not paired


def test_a_wide_image_does_not_pair_with_a_strip() -> None:
    """0's strip squeezed into a wide 180 x 320 image: its hash is the strip's (both are resized to
    one square), but a wide image is not a phone crop of a wide one, so it is not paired."""
    imgs = _set()
    wide = torch.from_numpy(_resize(imgs[0][:, :, 110:211].numpy(), 180, 320))
    h, _, _ = near_hash_thumbs([strip_view(imgs[0]), wide], "pchash_d4")
    assert bin(int(h[0]) ^ int(h[1])).count("1") <= 4
    assert NearDuplicates(embedding_threshold=None).evaluate([imgs[0], wide]).hash == []


def test_the_strip_pair_passes_the_same_verification() -> None:
    """The strip pair is held to the thumbnails as any other: a strip whose thumbnail is another
    picture's (5 bits in the hash made equal here) is dropped, with its own kept."""
    imgs = _set()
    h, ok, th = near_hash_thumbs([imgs[4], strip_view(imgs[0]), strip_view(imgs[1])], "pchash_d4")
    hw = np.array([[320, 180], [180, 320], [180, 320]], dtype=np.float64)
    thumbs = torch.stack([th, th, th], dim=1)  # views 0, 1 (unused), 2 = the strip
    thumbs[1, 2], thumbs[2, 2] = th[1], th[2]
    figs = PairFigures(thumbs=thumbs, hw=hw, strip_view=2)
    i, j = np.array([0, 0]), np.array([1, 2])
    vi, vj = np.zeros(2, dtype=np.int64), np.full(2, 2)
    got = hash_pairs_ok(figs, figs, i, vi, j, vj, np.array([4, 4]), 4)
    assert got.tolist() == [True, False]
    # without the shapes a strip view pairs with nothing
    assert not hash_pairs_ok(PairFigures(thumbs=thumbs, strip_view=2), figs, i, vi, j, vj, np.array([0, 0]), 4).any()


@pytest.mark.parametrize("compiled", [True, False])
def test_scan_rows_hold_the_strip_hashes_and_the_scan_groups_as_near_duplicates(compiled: bool, monkeypatch) -> None:
    import dataeval_gpu.functional.hashing as H
    from dataeval_gpu.audit import DataAudit

    imgs = [*_set(), torch.from_numpy(_picture(7, 180, 200))]  # 6: 10:9, no strip
    views = [strip_view(t) for t in imgs]
    at = [k for k, v in enumerate(views) if v is not None]
    assert at == [0, 1, 2, 3, 4, 5]  # 16:9 and 9:16
    # the reference: the tensor path (the CUDA kernels on the CPU) of each strip
    want_h, want_ok, want_th = near_hash_thumbs([views[k] for k in at], "pchash_d4", device_type="cuda")
    if not compiled:
        monkeypatch.setattr(H._rcpu, "AVAILABLE", False)
    rows = hash_rows(imgs, "pchash_d4", exact=False, crops=(0.9, 0.8), thumbs=True, strip=True)
    assert rows["strip_valid"].tolist() == [k in at for k in range(len(imgs))]
    assert rows["strip"][at].tolist() == want_h.tolist() and int(rows["strip"][6]) == 0
    assert torch.equal(rows["strip_thumbs"][at].reshape(-1, 32, 32), want_th)
    audit = DataAudit()
    for s in range(0, len(imgs), 3):
        audit.update(imgs[s : s + 3])
    res = audit._stats.compute()  # noqa: SLF001 - the accumulated strip rows
    assert res["pchash_strip"].tolist() == rows["strip"].tolist()
    rep = audit.compute()
    assert rep.duplicates["near"] == [[0, 4]]
    assert rep.duplicates["near"] == NearDuplicates(embedding_threshold=None).evaluate(imgs).hash


def test_a_strip_view_pairs_only_with_a_whole_view() -> None:
    """hash_pairs_ok keeps a strip view's pair only against the other image's whole view: not
    against its central crop, nor its strip (hw and thumbnails would let both through)."""
    imgs = _set()
    _, _, th = near_hash_thumbs([imgs[4], strip_view(imgs[0]), strip_view(imgs[1])], "pchash_d4")
    hw = np.array([[320, 180], [180, 320], [180, 320]], dtype=np.float64)
    thumbs = torch.stack([th, th, th], dim=1)
    thumbs[1, 2] = th[1]  # 1's strip: the phone crop's picture (as 0's whole and crop views)
    figs = PairFigures(thumbs=thumbs, hw=hw, strip_view=2)
    i, j, dist = np.array([1, 1, 0, 1]), np.array([0, 0, 1, 0]), np.array([4, 4, 4, 4])
    vi, vj = np.array([2, 2, 2, 0]), np.array([0, 1, 2, 2])
    # strip - whole: kept; strip - crop, strip - strip: dropped; whole - strip (0 is tall, 1 wide): kept
    assert hash_pairs_ok(figs, figs, i, vi, j, vj, dist, 4).tolist() == [True, False, False, True]


def test_near_duplicates_without_crops_hash_no_strips_as_the_scan() -> None:
    """NearDuplicates(crops=()) groups as DataAudit(near_crops=()), which keeps no strips (the
    0.65 preset's setting): the strip is on with the crops unless asked for."""
    from dataeval_gpu.audit import DataAudit

    imgs = _set()
    audit = DataAudit(near_crops=(), embedding_duplicates=False)
    audit.update(imgs)
    assert "pchash_strip" not in audit._stats.compute()  # noqa: SLF001 - the accumulated rows
    assert NearDuplicates(embedding_threshold=None, crops=()).strip is False
    assert audit.compute().duplicates["near"] == NearDuplicates(embedding_threshold=None, crops=()).evaluate(imgs).hash
    assert NearDuplicates(embedding_threshold=None, crops=(), strip=True).evaluate(imgs).hash == [[0, 4]]


def test_the_065_preset_keeps_no_strips() -> None:
    """preset="0.65" (DataEval 0.65's answers): no strip rows, and the phone crop is not paired,
    which the default finds by its strip."""
    from dataeval_gpu.audit import DataAudit

    imgs = _set()
    old = DataAudit(preset="0.65")
    old.update(imgs)
    assert not any(k.startswith("pchash_strip") for k in old._stats.compute())  # noqa: SLF001
    assert old.compute().duplicates["near"] == []
    new = DataAudit(embedding_duplicates=False)
    new.update(imgs)
    assert new.compute().duplicates["near"] == [[0, 4]]
