"""``--against`` finds a small image's copies at another scale as a scan of both sets does
(``scale_pairs``: an image under 33 px a side and a copy 1.5x larger or more, the larger hashed
again at the small one's square size), both ways: new small images against indexed photos, and
new photos against indexed small images.  Four of the photos below, shrunk to 24 px, were paired
with their originals by a scan of both sets and by nothing against the index (their hashes at
their own scales lie far apart)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.audit import scan_files
from dataeval_gpu.index import DatasetIndex, scan_against, update_index

pytest.importorskip("pyarrow")
PIL = pytest.importorskip("PIL.Image")

PHOTOS = Path(__file__).resolve().parent.parent / "data_cache" / "photos"
KW = {"workers": 0, "progress": False}
#: positions in the sorted photos: the four paired only at scale, one paired whole, three others
#: (chosen again for the D4 hashes on luma: 44, 51, 55 and 59 paired whole since)
AT_SCALE, WHOLE, OTHERS = [45, 173, 186, 189], [42], [100, 200, 300]


def _photos() -> list[Path]:
    files = sorted(PHOTOS.glob("*.jpg")) if PHOTOS.is_dir() else []
    if len(files) < 301:
        pytest.skip("data_cache/photos is not fetched (make test fetches it)")
    return files


def _small(src: Path, folder: Path, side: int = 24) -> str:
    """``src`` shrunk (LANCZOS) to a ``side`` px short side, as a PNG in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    im = PIL.open(src).convert("RGB")
    s = side / min(im.size)
    out = folder / f"{src.stem}_small.png"
    im.resize((max(1, round(im.size[0] * s)), max(1, round(im.size[1] * s))), PIL.LANCZOS).save(out)
    return str(out)


def _scan_pairs(indexed: list[str], new: list[str]) -> set[tuple[int, int]]:
    """(new image, indexed image) positions grouped together by a scan of both sets (its near groups)."""
    report = scan_files([*indexed, *new], **KW)
    n = len(indexed)
    return {(j - n, i) for g in report.duplicates["near"] for i in g if i < n for j in g if j >= n}


def _against(tmp: Path, indexed: list[str], new: list[str]) -> tuple[set[tuple[int, int]], dict]:
    update_index(tmp, indexed, **KW)
    report = scan_against(tmp, new, **KW)
    got = {(m["image"], m["partner"]): m for m in report.against["matches"] if "near" in m["methods"]}
    return set(got), got


def test_new_small_images_against_indexed_photos(tmp_path: Path) -> None:
    files = _photos()
    indexed = [str(files[k]) for k in (*AT_SCALE, *WHOLE, *OTHERS)]
    new = [_small(files[k], tmp_path / "new") for k in (*AT_SCALE, *WHOLE, 400, 500)]  # the last two: not indexed
    want = _scan_pairs(indexed, new)
    assert {(k, k) for k in range(5)} <= want  # the reference pairs each small copy with its photo
    got, entries = _against(tmp_path / "idx", indexed, new)
    assert got == want
    assert [entries[(k, k)]["view"] for k in range(4)] == ["scale"] * 4  # found at scale only
    assert entries[(4, 4)]["view"] == "whole" and all(entries[(k, k)]["hamming"] is None for k in range(4))
    # the index's stored hashes at the small sizes (scale-G.npy) only narrow the search: an index
    # written before them (every large enough indexed image hashed again) finds the same pairs
    index = DatasetIndex(tmp_path / "idx")
    assert index.scale is not None and index.scale.shape == (len(indexed), 3, 8) and index.scale.any(axis=(1, 2)).all()
    manifest = tmp_path / "idx" / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["files"].pop("scale")
    manifest.write_text(json.dumps(doc))
    assert DatasetIndex(tmp_path / "idx").scale is None
    again = scan_against(tmp_path / "idx", new, **KW).against["matches"]
    assert {(m["image"], m["partner"]) for m in again if "near" in m["methods"]} == want


def test_new_photos_against_indexed_small_images(tmp_path: Path) -> None:
    files = _photos()
    indexed = [_small(files[k], tmp_path / "small") for k in (*AT_SCALE[:2], 400)]
    new = [str(files[k]) for k in (*AT_SCALE[:2], AT_SCALE[2], 500)]  # the last two: no small copy indexed
    want = _scan_pairs(indexed, new)
    assert want == {(0, 0), (1, 1)}
    got, entries = _against(tmp_path / "idx", indexed, new)
    assert got == want and {entries[p]["view"] for p in got} == {"scale"}
    assert np.all([entries[p]["partner_path"].endswith("_small.png") for p in got])
    # the small images are never the larger of a pair: nothing stored for them
    assert not DatasetIndex(tmp_path / "idx").scale.any()  # type: ignore[union-attr]
