"""An image with nothing visible (every pixel fully transparent, opacity 0) is always flagged
``low_information``, and its reason says plainly that nothing is visible - in
:meth:`QualityOutput.why`, and in a scan's ``findings.json`` ``quality`` reasons, for a 1-bit PNG
whose transparency is a ``tRNS`` colour (supertux's ``invisible.png``) as for an RGBA one."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.io import decode_bytes

_NOTHING = "nothing visible, every pixel fully transparent (opacity 0"


def _transparent(rng: np.random.Generator, c: int, h: int, w: int, dtype=np.uint8) -> np.ndarray:
    top = np.iinfo(dtype).max
    img = rng.integers(0, top + 1, (c, h, w)).astype(dtype)  # whatever colour lies under alpha 0
    img[-1] = 0
    return img


def test_fully_transparent_images_are_flagged_and_say_so_among_many() -> None:
    rng = np.random.default_rng(3)
    photos = [rng.integers(0, 256, (3, 40 + i, 56), dtype=np.uint8) for i in range(60)]
    blank = [
        _transparent(rng, 4, 64, 64),
        _transparent(rng, 2, 32, 32),
        _transparent(rng, 4, 1, 1),
        _transparent(rng, 2, 5, 300),
        _transparent(rng, 4, 48, 48, np.uint16),
        np.zeros((4, 128, 96), np.uint8),
        _transparent(rng, 2, 600, 500),
    ]
    faint = _transparent(rng, 4, 64, 64)
    faint[:, 30:34, 30:34] = 255  # a white 4 x 4 dot: something is seen
    black = np.zeros((3, 50, 56), np.uint8)  # opaque and flat: low information, but visible
    images = [*photos, *blank, faint, black]
    out = QualityIssues(device="cpu").evaluate(images)
    n = len(photos)
    for i in range(n, n + len(blank)):
        assert "low_information" in out.issues(i), (i, out.why(i))
        (line,) = [r for r in out.why(i) if r.startswith("low_information:")]
        assert line.startswith(f"low_information: {_NOTHING}"), line
        assert "score 8 > threshold 7.5" in line
    for i in (n + len(blank), n + len(blank) + 1):  # visible: flagged or not, never "nothing visible"
        assert not any(_NOTHING in r for r in out.why(i)), out.why(i)
    (black_line,) = [r for r in out.why(len(images) - 1) if r.startswith("low_information:")]
    assert black_line == "low_information: score 8 > threshold 7.5 (grey entropy of what is seen 0 bits)"
    assert not any(out.flags["low_information"][:n])  # the noise photos are not


def test_findings_say_nothing_is_visible_for_a_transparent_one_bit_png(tmp_path: Path) -> None:
    from dataeval_gpu.audit import DataAudit

    rng = np.random.default_rng(4)
    buf = io.BytesIO()
    Image.new("1", (32, 32), 0).save(buf, "PNG", transparency=0)  # supertux's invisible.png
    invisible = decode_bytes(buf.getvalue()).numpy()
    images = [rng.integers(0, 256, (3, 32, 40), dtype=np.uint8) for _ in range(20)] + [invisible]
    audit = DataAudit(device="cpu")
    audit.update(images)
    report = audit.compute()
    report.save(tmp_path / "out")
    findings = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    reasons = findings["quality"]["20"]
    assert [r.split(":")[0] for r in reasons] == ["low_information"], reasons  # not dark: nothing is seen
    assert reasons[0].startswith(f"low_information: {_NOTHING}")
