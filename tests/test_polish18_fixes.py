"""polish18's fixes from a new user's trial (2026-12-08): a quality threshold outside its score's
range, the first frame of an animated image measured without a word, Linter bounds no value can
reach in the report's table, a warning about the scan's own --out inside the scanned folder on
every later scan, and Pillow's decompression-bomb error with no way to allow the image."""

from __future__ import annotations

import csv
import html
import io
import logging
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli_run import run

COMMON = ["--no-plots", "--no-progress", "--workers", "0"]


# ----------------------------------------------------------------------- 1. threshold ranges
@pytest.mark.parametrize(
    ("given", "needle"),
    [
        ("dark=-5", "the threshold of dark must be from 0 to 1 (the range of its score), got -5"),
        ("blurry=1.5", "the threshold of blurry must be from 0 to 1 (the range of its score), got 1.5"),
        ("low_information=9", "the threshold of low_information must be from 0 to 8 (the range of its score), got 9"),
        ("noisy=-1", "the threshold of noisy must be 0 or more (the range of its score), got -1"),
        ("odd_size=-0.5", "the threshold of odd_size must be 0 or more (the range of its score), got -0.5"),
    ],
)
def test_threshold_outside_its_score_range_is_a_usage_error(
    given: str, needle: str, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--quality-threshold dark=-5`` was accepted and flagged every image ("score 0 > threshold -5")."""
    status, stdout, err = run(["scan", str(folder), "--out", str(tmp_path / "o"), "--quality-threshold", given], capsys)
    assert status == 2 and err.startswith("dataeval-gpu: error: ") and err.count("\n") == 1, err
    assert needle in err and stdout == "" and not (tmp_path / "o").exists()


def test_threshold_ranges_in_the_python_api() -> None:
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.detectors import QualityIssues

    msg = "the threshold of dark must be from 0 to 1 (the range of its score), got -5"
    with pytest.raises(ValueError, match=re.escape(msg)):
        QualityIssues(thresholds={"dark": -5})
    with pytest.raises(ValueError, match=re.escape("threshold of low_information must be from 0 to 8")):
        DataAudit(quality_thresholds={"low_information": 8.5})
    # the ends of the range are thresholds: dark=1 flags no score (at most 1), dark=0 any darker image
    assert QualityIssues(thresholds={"dark": 1.0, "light": 0.0, "noisy": 1000.0}).thresholds["dark"] == 1.0


def test_cli_and_detector_know_the_same_issues() -> None:
    from dataeval_gpu.cli_options import QUALITY_ISSUES
    from dataeval_gpu.detectors.quality_rules import DEFAULT_THRESHOLDS
    from dataeval_gpu.threshold_ranges import THRESHOLD_RANGES

    assert set(THRESHOLD_RANGES) == set(QUALITY_ISSUES) == set(DEFAULT_THRESHOLDS)
    for issue, value in DEFAULT_THRESHOLDS.items():  # every default within its range
        lo, hi = THRESHOLD_RANGES[issue]
        assert lo <= value <= hi, issue


# ----------------------------------------------------------------------- 2. frames
def _frames(n: int, size: tuple[int, int] = (24, 32)) -> list[Image.Image]:
    rng = np.random.default_rng(n)
    return [Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)) for _ in range(n)]


def _saved(fmt: str, frames: list[Image.Image]) -> bytes:
    b = io.BytesIO()
    if len(frames) == 1:
        frames[0].save(b, fmt)
    else:
        frames[0].save(b, fmt, save_all=True, append_images=frames[1:])
    return b.getvalue()


@pytest.mark.parametrize(
    ("fmt", "note"),
    [
        ("PNG", "first of 4 frames measured"),  # APNG: acTL, read by torchvision's decoder
        ("WEBP", "first of 4 frames measured"),
        ("TIFF", "first page of a multi-page TIFF measured"),
        ("GIF", "first frame of an animated GIF measured"),
    ],
)
def test_a_multi_frame_file_says_only_its_first_frame_was_measured(fmt: str, note: str) -> None:
    from dataeval_gpu.io import decode_bytes_noted

    frames = _frames(4)
    img, said = decode_bytes_noted(_saved(fmt, frames))
    assert note in said.split("; "), said
    assert tuple(img.shape[1:]) == (24, 32)
    if fmt in ("PNG", "TIFF"):  # lossless: the pixels are the first frame's
        assert np.array_equal(img[:3].permute(1, 2, 0).numpy(), np.asarray(frames[0]))
    single, said = decode_bytes_noted(_saved(fmt, frames[:1]))
    assert said == "" and tuple(single.shape[1:]) == (24, 32)


def test_gif_and_tiff_are_not_counted_frame_by_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GIF's frames are counted only by reading them all (``n_frames``, ~3x the first frame's
    decoding on a 53 MB GIF), a TIFF's pages by walking every directory (90 ms for 500 pages):
    only whether there is a second is asked."""
    from PIL import GifImagePlugin, TiffImagePlugin

    from dataeval_gpu.io import decode_bytes_noted

    def counted(self: object) -> int:
        raise AssertionError("n_frames read")

    monkeypatch.setattr(GifImagePlugin.GifImageFile, "n_frames", property(counted))
    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "n_frames", property(counted))
    assert decode_bytes_noted(_saved("GIF", _frames(3)))[1] == "first frame of an animated GIF measured"
    assert decode_bytes_noted(_saved("TIFF", _frames(3)))[1] == "first page of a multi-page TIFF measured"


def test_the_jpeg_and_png_path_opens_the_file_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The frame count comes from the header Pillow already reads (``probe``): no extra open."""
    from dataeval_gpu.io import decode_bytes_noted

    opened = []
    real = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(1) or real(*a, **k))
    for fmt in ("JPEG", "PNG"):
        opened.clear()
        decode_bytes_noted(_saved(fmt, _frames(1)))
        assert len(opened) == 1, fmt


def test_decoder_note_of_an_animated_gif_in_results_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "images"
    d.mkdir()
    (d / "anim.gif").write_bytes(_saved("GIF", _frames(5)))
    (d / "still.png").write_bytes(_saved("PNG", _frames(1)))
    (d / "apng.png").write_bytes(_saved("PNG", _frames(12)))
    status, _, err = run(["scan", str(d), "--out", str(tmp_path / "o"), *COMMON], capsys)
    assert status == 0, err
    with open(tmp_path / "o" / "results.csv", newline="") as f:
        notes = {Path(r["path"]).name: r["decoder_note"] for r in csv.DictReader(f)}
    assert notes == {
        "anim.gif": "first frame of an animated GIF measured",
        "apng.png": "first of 12 frames measured",
        "still.png": "",
    }


# ----------------------------------------------------------------------- 3. bounds shown
def test_ranges_table_shows_none_for_a_bound_no_value_can_cross() -> None:
    from dataeval_gpu.functional.registry import valid_ranges
    from dataeval_gpu.report.linter_ranges import ranges_table

    valid = valid_ranges()
    assert valid["width"] == (1, np.inf) and valid["size"] == (1, np.inf) and valid["zeros"] == (0, 1)
    ranges = {"width": (-1426.0, 3000.0), "size": (-3.99e5, 9.0e5), "zeros": (-0.1, 1.2), "skew": (-3.0, 3.0)}
    issues = {0: {"width": 5000}, 1: {"size": 1.0e6}, 2: {"zeros": 1.5}, 3: {"skew": -4.0}}
    table = ranges_table(ranges, issues)
    assert table.loc["width", "low"] == "none" and table.loc["width", "high"] == 3000.0
    assert table.loc["size", "low"] == "none" and table.loc["size", "high"] == 9.0e5
    assert table.loc["zeros", "low"] == "none" and table.loc["zeros", "high"] == "none"
    assert (table.loc["skew", "low"], table.loc["skew", "high"]) == (-3.0, 3.0)  # unbounded: as computed
    assert table.loc["width", "flagged above"] == 1 and table.loc["skew", "flagged below"] == 1


def test_report_linter_table_has_no_negative_width(tmp_path: Path) -> None:
    """Widths 20-60 and two of 2000: median 40, MAD 10, so the Linter's low bound of width is
    40 - 3.5 * 10 / 0.6745 < 0; the table said "-11.9", now "none"."""
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.report import write_report

    rng = np.random.default_rng(2)
    images = [rng.integers(60, 200, (3, 24, w), dtype=np.uint8) for w in range(20, 61)]
    images += [rng.integers(60, 200, (3, 24, 2000), dtype=np.uint8) for _ in range(2)]
    audit = DataAudit(device="cpu", hashes=False, quality=False)
    audit.update(images)
    report = audit.compute()
    assert any("width" in m for m in report.issues.values())
    page = Path(write_report(report, tmp_path / "out")).read_text(encoding="utf-8")
    body = page.split('id="table-linter-ranges"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for r in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)[1:]:
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)]
        rows[cells[0]] = cells
    assert rows["width"][2] == "none" and float(rows["width"][3]) > 60, rows["width"]


# ----------------------------------------------------------------------- 4. --out inside
def test_own_out_inside_the_folder_is_left_out_without_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from dataeval_gpu.discovery import SCAN_OUTPUT_MARKERS, find_inputs

    data = tmp_path / "data"
    data.mkdir()
    Image.new("RGB", (8, 8)).save(data / "a.png")
    for name in ("out", "old_out"):  # this scan's --out, and another scan's output
        (data / name).mkdir()
        for m in SCAN_OUTPUT_MARKERS:
            (data / name / m).write_text("{}")
        Image.new("RGB", (8, 8)).save(data / name / "plot.png")
    with caplog.at_level(logging.WARNING):
        found = find_inputs(data, out=data / "out")
    assert [Path(f).name for f in found.files] == ["a.png"]
    warned = [r.getMessage() for r in caplog.records if "output folder of an earlier scan" in r.getMessage()]
    assert warned == [f"{data / 'old_out'}: not scanned, it is the output folder of an earlier scan"]


def test_a_second_scan_into_out_inside_the_folder_is_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """``scan data --out data/out`` twice: the second said "data/out: not scanned, it is the output
    folder of an earlier scan" (and so did every later one), of the folder it was writing to."""
    d = tmp_path / "data"
    d.mkdir()
    for k, img in enumerate(_frames(4, (16, 16))):
        img.save(d / f"im{k}.png")
    for _ in range(2):
        with caplog.at_level(logging.WARNING):
            status, _, err = run(["scan", str(d), "--out", str(d / "out"), *COMMON], capsys)
        assert status == 0, err
        said = err + "\n".join(r.getMessage() for r in caplog.records)
        assert "earlier scan" not in said, said
        caplog.clear()
    with open(d / "out" / "results.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 4  # its own output not scanned


# ----------------------------------------------------------------------- 5. pixel limit
def _png_header_only(width: int, height: int) -> bytes:
    """A grey PNG declaring ``width x height`` with one row of image data (the limit is checked
    on the header, before anything is decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1))) + chunk(b"IEND", b"")


def test_bomb_error_says_how_to_allow_the_image(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataeval_gpu.io import decode_bytes_noted
    from dataeval_gpu.pil_decode import MAX_PIXELS_ENV

    monkeypatch.delenv(MAX_PIXELS_ENV, raising=False)
    with pytest.raises(ValueError) as exc:
        decode_bytes_noted(_png_header_only(20000, 10000))
    assert str(exc.value) == (
        "image too large (decompression-bomb guard): 200,000,000 pixels, over the limit of 178,956,970; to read it, "
        "scan with --max-image-pixels 200000000 or more (0: no limit; in Python set PIL.Image.MAX_IMAGE_PIXELS)"
    )


def test_max_image_pixels_option_reaches_the_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--max-image-pixels 1000``: a 40 x 40 image (1,600 pixels) fails in the forked workers with
    the words to allow it; 0 reads it; the setting does not outlive the scan."""
    from dataeval_gpu.pil_decode import MAX_PIXELS_ENV

    d = tmp_path / "data"
    d.mkdir()
    for k, img in enumerate(_frames(3, (40, 40))):
        img.save(d / f"im{k}.png")
    common = ["--no-plots", "--no-progress", "--workers", "2", "--batch-size", "1"]
    status, _, err = run(["scan", str(d), "--out", str(tmp_path / "a"), "--max-image-pixels", "1000", *common], capsys)
    assert status == 0, err
    with open(tmp_path / "a" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["failed"] * 3
    assert "1,600 pixels, over the limit of 1,000; to read it, scan with --max-image-pixels 1600 or more" in rows[0]["error"]
    assert MAX_PIXELS_ENV not in os.environ and Image.MAX_IMAGE_PIXELS == 89478485
    status, _, err = run(["scan", str(d), "--out", str(tmp_path / "b"), "--max-image-pixels", "0", *common], capsys)
    assert status == 0, err
    with open(tmp_path / "b" / "results.csv", newline="") as f:
        assert [r["status"] for r in csv.DictReader(f)] == ["ok"] * 3
    status, _, err = run(["scan", str(d), "--out", str(tmp_path / "c"), "--max-image-pixels", "-1"], capsys)
    assert status == 2 and "--max-image-pixels" in err
