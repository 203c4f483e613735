"""``--against`` judges ``dark`` as a scan does since quality7: with the brightest channel's
highlights (``bright_p99``) in the index's quality reference.  Before, the reference held only the
grey highlights, so a deep-blue picture (luma p99 ~0.1, max(R, G, B) p99 ~0.5) was ``dark`` against
an index and not in a scan of the same images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataeval_gpu.audit.files import scan_files
from dataeval_gpu.index import scan_against, update_index
from dataeval_gpu.index.quality_ref import quality_reference

pytest.importorskip("skimage")
from dataeval_gpu.datasets import sample_photos  # noqa: E402

KW = {"workers": 0, "progress": False, "device": "cpu"}


def _save(a: np.ndarray, path: Path) -> str:
    Image.fromarray(np.ascontiguousarray(np.moveaxis(a, 0, -1))).save(path)
    return str(path)


def test_a_deep_blue_picture_is_not_dark_against_the_index(tmp_path: Path) -> None:
    photos = [a for _, a in sample_photos() if a.shape[0] == 3]
    assert len(photos) >= 6
    (tmp_path / "idx_in").mkdir()
    indexed = [_save(a, tmp_path / "idx_in" / f"p{k}.png") for k, a in enumerate(photos[1:])]
    src = photos[0]
    luma = 0.299 * src[0] + 0.587 * src[1] + 0.114 * src[2]
    blue = np.zeros_like(src)
    blue[2] = np.round(luma * 0.6).astype(np.uint8)  # one saturated ink
    dim = (src // 8).astype(np.uint8)  # under-exposed: every channel dark
    (tmp_path / "new").mkdir()
    new = [_save(blue, tmp_path / "new" / "blue.png"), _save(dim, tmp_path / "new" / "dim.png")]
    union = scan_files(indexed + new, **KW)
    why = union.quality["why"]
    in_scan = {Path(union.paths[i]).name for i, reasons in why.items() if any(r.startswith("dark") for r in reasons)}
    assert in_scan == {"dim.png"}  # the scan's answer: the deep blue is not dark, the dim copy is

    update_index(tmp_path / "idx", indexed, **KW)
    got = scan_against(tmp_path / "idx", new, **KW)
    dark = {Path(got.paths[i]).name for i, q in got.against["quality"].items() if "dark" in q["issues"]}
    assert dark == in_scan
    # the reference by hand: the median of the indexed images' bright_p99
    rows = scan_files(indexed, **KW).stats
    ref = quality_reference({k: rows[k] for k in ("grey_p99", "width", "height", "channels", "channel_spread", "bright_p99")})
    assert ref["bright_p99"] == pytest.approx(float(np.median(np.asarray(rows["bright_p99"], dtype=np.float64))))
